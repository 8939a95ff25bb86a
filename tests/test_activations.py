"""Activations (Keras 3's formulas and defaults) wherever an ``activation=`` is taken, and the
Activation layer: values, gradients by the one finite-difference engine, errors, configs."""
import json
import math

import numpy as np
import pytest

from scratchconv import Sequential, gradcheck
from scratchconv.layers import Activation, Conv2D, Dense, Flatten, MaxPooling2D
from scratchconv.layers.activations import ACTIVATIONS, apply

Z = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 2.0])


def _by_element(f):
    return np.array([f(float(z)) for z in Z])


@pytest.mark.parametrize("name, expected", [
    ("sigmoid", _by_element(lambda z: 1 / (1 + math.exp(-z)))),
    ("tanh", _by_element(math.tanh)),
    # keras's negative_slope=0.2, which TensorFlow's op holds as a float32
    ("leaky_relu", _by_element(lambda z: z if z > 0 else float(np.float32(0.2)) * z)),
    ("elu", _by_element(lambda z: z if z > 0 else math.exp(z) - 1)),  # alpha=1
    # approximate=False; TensorFlow's 1/sqrt(2) is a float32
    ("gelu", _by_element(lambda z: 0.5 * z * (1 + math.erf(z * float(np.float32(1 / math.sqrt(2))))))),
    ("relu", np.maximum(Z, 0)),
    ("linear", Z),
])
def test_activation_values_follow_keras_formulas(name, expected):
    np.testing.assert_allclose(apply(name, Z.copy()), expected, rtol=1e-15, atol=1e-16)


def test_sigmoid_does_not_overflow_far_from_zero():
    with np.errstate(over="raise", invalid="raise"):
        y = apply("sigmoid", np.array([-800.0, 800.0]))
    np.testing.assert_array_equal(y, [0.0, 1.0])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_layer_gradients_pass_gradcheck(name):
    report = gradcheck(Activation(name, input_shape=(4, 3, 2)), verbose=False)
    assert report.passed, str(report)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_dense_gradients_pass_gradcheck_with_every_activation(name):
    assert gradcheck(Dense(3, activation=name, input_shape=(5,)), verbose=False).passed


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_conv2d_gradients_pass_gradcheck_with_every_activation(name, on_backend):
    layer = Conv2D(2, 3, strides=2, padding="same", activation=name, input_shape=(5, 6, 2))
    assert gradcheck(layer, verbose=False).passed


@pytest.mark.parametrize("name", ["tanh", "gelu", "sigmoid"])
def test_conv2d_with_a_non_relu_activation_before_max_pooling_trains(name, on_backend):
    """The model's own steps (loss_and_gradients, train_on_batch) run such a pair correctly."""
    model = Sequential([Conv2D(3, 3, activation=name, input_shape=(7, 7, 2)), MaxPooling2D(2),
                        Conv2D(2, 2, activation=name), Flatten(), Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    assert gradcheck(model, verbose=False).passed
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 7, 7, 2)), np.eye(3)[[0, 1, 2, 0]]
    losses = [model.train_on_batch(x, y) for _ in range(5)]
    assert losses[-1] < losses[0]


def test_activation_layer_leaves_its_input_alone():
    x = np.array([[-1.0, 2.0]])
    Activation("relu").forward(x)
    np.testing.assert_array_equal(x, [[-1.0, 2.0]])


def test_activation_softmax_gives_the_loss_its_logits():
    model = Sequential([Dense(3, input_shape=(4,)), Activation("softmax")], dtype="float64")
    model.compile("sgd", "categorical_crossentropy")
    assert gradcheck(model, verbose=False).passed


@pytest.mark.parametrize("make", [lambda a: Activation(a), lambda a: Dense(2, activation=a),
                                  lambda a: Conv2D(2, 3, activation=a)], ids=["Activation", "Dense", "Conv2D"])
def test_an_unknown_activation_is_named_with_the_choices(make):
    with pytest.raises(ValueError, match=r"activation must be one of 'relu', .*'gelu' or None, got 'swish'"):
        make("swish")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_layer_config_round_trips(name):
    layer = Activation(name, name="act")
    config = json.loads(json.dumps(layer.get_config()))
    assert config["activation"] == name
    assert Activation.from_config(config).get_config() == layer.get_config()


@pytest.mark.parametrize("name, fused", [("relu", True), ("linear", True), ("tanh", False), ("gelu", False)])
def test_only_relu_or_linear_conv2d_fuses_with_the_max_pooling_after_it(name, fused):
    from scratchconv import steps
    plan = steps.plan([Conv2D(2, 3, activation=name), MaxPooling2D(2)])
    assert [type(step).__name__ for step in plan] == (["ConvPoolStep"] if fused else ["LayerStep", "LayerStep"])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_float32_stays_float32_through_every_activation(name):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for layer in (Activation(name), Dense(3, activation=name)):
        y = layer.forward(x)
        assert y.dtype == layer.backward(np.ones_like(y)).dtype == np.float32
