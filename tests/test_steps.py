"""The steps a model runs (scratchconv.steps): which layers fuse, and who keeps which cache."""
import numpy as np
import pytest

from scratchconv import Sequential
from scratchconv.layers import Conv2D, Dense, Flatten, MaxPooling2D
from scratchconv.steps import ConvPoolPairStep, ConvPoolStep, LayerStep, for_inference, plan


def data(n, shape=(7, 6, 2), classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n,) + shape), np.eye(classes)[rng.integers(0, classes, n)]


def two_pair_model(conv_activation="relu"):
    model = Sequential([Conv2D(3, 3, strides=(2, 1), padding="same", activation=conv_activation,
                               input_shape=(7, 6, 2)),
                        MaxPooling2D((2, 2), strides=(1, 2), padding="same"),
                        Conv2D(4, 2, activation="relu"), MaxPooling2D(2), Flatten(),
                        Dense(4, activation="softmax")], dtype="float64")
    model.compile("sgd", "categorical_crossentropy")
    return model


def test_each_conv_followed_by_its_pooling_is_one_step_and_every_other_layer_its_own():
    model = two_pair_model()
    layers = model.layers
    assert [type(step) for step in model.steps] == [ConvPoolStep, ConvPoolStep, LayerStep, LayerStep]
    assert [step.layers for step in model.steps] == [tuple(layers[0:2]), tuple(layers[2:4]),
                                                     (layers[4],), (layers[5],)]
    assert [step.name for step in model.steps] == [f"{layers[0].name} + {layers[1].name}",
                                                   f"{layers[2].name} + {layers[3].name}",
                                                   layers[4].name, layers[5].name]


def test_inference_runs_each_two_conv_pool_steps_in_a_row_as_one_pass():
    model = two_pair_model()
    steps = model.inference_steps
    assert [type(step) for step in steps] == [ConvPoolPairStep, LayerStep, LayerStep]
    assert steps[0].layers == tuple(model.layers[0:4]) and steps[1:] == model.steps[2:]
    assert steps[0].name == f"{model.steps[0].name} + {model.steps[1].name}"
    assert model.inference_steps is steps
    three = plan([Conv2D(2, 3, input_shape=(9, 9, 1)), MaxPooling2D(1), Conv2D(2, 1), MaxPooling2D(1),
                  Conv2D(2, 1), MaxPooling2D(1)])
    assert [type(step) for step in for_inference(three)] == [ConvPoolPairStep, ConvPoolStep]


def test_conv_pool_steps_of_two_dtypes_stay_two_steps_at_inference():
    model = Sequential([Conv2D(2, 3, activation="relu", input_shape=(8, 8, 1)), MaxPooling2D(),
                        Conv2D(2, 1, dtype="float64"), MaxPooling2D(dtype="float64")])
    assert [type(step) for step in model.inference_steps] == [ConvPoolStep, ConvPoolStep]
    with pytest.raises(ValueError, match="two ConvPoolSteps of the same dtype"):
        ConvPoolPairStep(*model.steps)


def test_predict_through_the_pair_gives_the_two_steps_numbers(on_backend):
    model = two_pair_model()
    x, _ = data(5)
    want = model._forward(x, training=False, steps=model.steps)
    np.testing.assert_array_equal(model.predict(x, verbose=0), want)


def test_a_pair_step_in_training_runs_its_two_steps_and_back():
    model = two_pair_model()
    x, _ = data(4)
    first, second = model.steps[:2]
    want = second.forward(first.forward(x, training=True), training=True).copy()
    dy = np.random.default_rng(3).standard_normal(want.shape)
    dx_want = first.backward(second.backward(dy))
    pair = model.inference_steps[0]
    np.testing.assert_array_equal(pair.forward(x, training=True), want)
    np.testing.assert_array_equal(pair.backward(dy), dx_want)


def test_the_steps_are_planned_again_when_the_layers_change():
    model = Sequential([Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1))])
    first = model.steps
    assert model.steps is first
    model.add(MaxPooling2D())
    assert [type(step) for step in model.steps] == [ConvPoolStep]


@pytest.mark.parametrize("conv_activation", ["relu", None])
def test_the_fused_steps_get_the_layer_by_layer_loss_and_gradients(on_backend, conv_activation):
    model = two_pair_model(conv_activation)
    x, y = data(5)
    loss, grads, dx = model.loss_and_gradients(x, y)
    # The public forward and backward run layer by layer, each layer with its own cache.
    y_pred = model.forward(x)
    dx_layers = model.backward(model.loss.gradient(y, y_pred))
    grads_layers = [layer.grads[k] for layer in model.layers for k in layer.params]
    assert loss == pytest.approx(float(model.loss(y, y_pred)), rel=1e-12)
    np.testing.assert_allclose(dx, dx_layers, rtol=1e-10, atol=1e-14)
    for got, want in zip(grads, grads_layers):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(model.predict(x, verbose=0), y_pred, rtol=1e-12)


def test_a_conv_with_softmax_another_dtype_or_no_pooling_after_it_is_not_fused():
    assert not ConvPoolStep.fuses(Conv2D(2, 3, activation="softmax"), MaxPooling2D())
    assert not ConvPoolStep.fuses(Conv2D(2, 3), Flatten())
    assert not ConvPoolStep.fuses(Conv2D(2, 3), MaxPooling2D(dtype="float64"))
    assert ConvPoolStep.fuses(Conv2D(2, 3), MaxPooling2D())
    assert [type(step) for step in plan([MaxPooling2D(), Conv2D(2, 3)])] == [LayerStep, LayerStep]
    with pytest.raises(ValueError, match="cannot run as one step.*Conv2D with activation relu or linear"):
        ConvPoolStep(Conv2D(2, 3, activation="softmax"), MaxPooling2D())


@pytest.mark.parametrize("index, other", [(0, 1), (1, 0)])
def test_after_a_fused_step_a_layers_own_backward_refuses_instead_of_using_an_earlier_batch(index, other):
    model = two_pair_model()
    x, y = data(3)
    model.forward(data(3, seed=1)[0])  # layer by layer: each layer caches this other batch
    model.train_on_batch(x, y)  # fused: the pair's step keeps this batch's cache
    layer, dy = model.layers[index], np.ones((3,) + model.layers[index].compute_output_shape(
        model.layers[index].input_shape))
    with pytest.raises(RuntimeError, match=f"{layer.name}.*fused with .*{model.layers[other].name}.*"
                                           f"forward again"):
        layer.backward(dy)
    model.forward(x)  # layer by layer again: every layer's own backward works
    assert layer.backward(dy).shape == (3,) + layer.input_shape


def test_model_backward_after_a_fused_forward_runs_the_fused_steps_back():
    model = two_pair_model()
    x, _ = data(4)
    dy = np.random.default_rng(2).standard_normal((4, 4))
    model._forward(x, training=True)  # the fused steps, as fit runs them
    dx_fused = model.backward(dy)
    grads_fused = [g.copy() for layer in model.layers for g in layer.grads.values()]
    model.forward(x)
    np.testing.assert_allclose(dx_fused, model.backward(dy), rtol=1e-10, atol=1e-14)
    for got, want in zip(grads_fused, (g for layer in model.layers for g in layer.grads.values())):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_a_backward_before_any_forward_says_so():
    model = two_pair_model()
    with pytest.raises(RuntimeError, match="no forward yet"):
        model.backward(np.ones((2, 4)))
    with pytest.raises(RuntimeError, match="has not run forward yet"):
        model.steps[0].backward(np.ones((2, 4, 3, 3)))


def test_a_backward_after_an_inference_forward_says_it_needs_a_training_one(on_backend):
    # predict's fused steps pool without recording the winners, which only a backward needs.
    model = two_pair_model()
    x, _ = data(4)
    model.predict(x, verbose=0)
    with pytest.raises(RuntimeError, match="training=False.*run forward with training=True"):
        model.backward(np.ones((4, 4)))
    model._forward(x, training=True)
    assert model.backward(np.ones((4, 4))).shape == x.shape
