"""Bad input gets one plain sentence saying what and where. One test per message."""
import numpy as np
import pytest

from scratchconv import Sequential, layers, set_seed
from scratchconv.layers import Conv2D, Dense, Flatten, MaxPooling2D
from scratchconv.optimizers import SGD


def model(loss="categorical_crossentropy", optimizer="adam"):
    m = Sequential([Conv2D(2, 3, activation="relu", input_shape=(5, 5, 1), name="conv"), Flatten(),
                    Dense(3, activation="softmax", name="out")])
    m.compile(optimizer, loss, metrics=["accuracy"])
    return m


X = np.random.default_rng(0).standard_normal((6, 5, 5, 1)).astype(np.float32)
Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
LABELS = np.array([0, 1, 2, 0, 1, 2])


# ----- shapes --------------------------------------------------------------------------------

def test_a_wrong_input_shape_names_the_layer_and_both_shapes():
    layer = Conv2D(2, 3, input_shape=(50, 50, 3), name="c1")
    layer.build((50, 50, 3))
    with pytest.raises(ValueError, match=r"^Conv2D layer 'c1' expected input of shape \(None, 50, 50, 3\), "
                                         r"got \(2, 28, 28, 1\)$"):
        layer.forward(np.zeros((2, 28, 28, 1)))


# Every layer with a backward, on images (N, 4, 4, 2) or on flat input (N, 6).
BACKWARD_LAYERS = {
    "conv relu": (lambda: Conv2D(2, 3, activation="relu"), (4, 4, 2)),
    "conv tanh": (lambda: Conv2D(2, 3, activation="tanh"), (4, 4, 2)),
    "max pooling": (lambda: MaxPooling2D(2), (4, 4, 2)),
    "average pooling": (lambda: layers.AveragePooling2D(2), (4, 4, 2)),
    "global average": (layers.GlobalAveragePooling2D, (4, 4, 2)),
    "global max": (layers.GlobalMaxPooling2D, (4, 4, 2)),
    "flatten": (Flatten, (4, 4, 2)),
    "relu": (layers.ReLU, (4, 4, 2)),
    "softmax": (layers.Softmax, (6,)),
    "activation": (lambda: layers.Activation("sigmoid"), (6,)),
    "batch normalization": (layers.BatchNormalization, (4, 4, 2)),
    "dropout": (lambda: layers.Dropout(0.5), (4, 4, 2)),
    "dense": (lambda: Dense(3, activation="relu"), (6,)),
}


@pytest.mark.parametrize("name", BACKWARD_LAYERS)
def test_a_backward_given_another_batch_than_its_forward_names_both_shapes(name, on_backend):
    # A numba kernel given another batch than its cache's would write past its arrays.
    make, sample = BACKWARD_LAYERS[name]
    layer = make()
    with pytest.raises(RuntimeError, match="has run no forward yet"):
        layer.backward(np.ones((3,) + sample, np.float32))
    y = layer.forward(np.random.default_rng(0).standard_normal((3,) + sample).astype(np.float32),
                      training=True)
    wrong = (5,) + y.shape[1:]
    with pytest.raises(ValueError, match=rf"^{type(layer).__name__} layer '{layer.name}': backward takes "
                                         rf"dL/dy of the shape of the last forward's output, "
                                         rf"\({', '.join(map(str, y.shape))}\), got \(5, "):
        layer.backward(np.ones(wrong, np.float32))
    assert layer.backward(np.ones(y.shape, np.float32)).shape == (3,) + sample


def test_a_fused_step_given_another_batch_names_both_shapes(on_backend):
    m = Sequential([Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1)), MaxPooling2D(2), Flatten(),
                    Dense(3)])
    m._forward(np.zeros((4, 6, 6, 1), np.float32), training=True)
    step = m.steps[0]
    with pytest.raises(ValueError, match=r"backward takes dL/dy of the shape of the last forward's output, "
                                         r"\(4, 2, 2, 2\), got \(9, 2, 2, 2\)$"):
        step.backward(np.ones((9, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"^Dense layer .*\(4, 3\), got \(9, 3\)$"):
        m.backward(np.ones((9, 3), np.float32))


def test_fit_with_a_wrong_input_shape_names_the_first_layer():
    with pytest.raises(ValueError, match=r"fit: Conv2D layer 'conv' expected input of shape \(None, 5, 5, 1\), "
                                         r"got x of shape \(6, 4, 4, 1\)"):
        model().fit(np.zeros((6, 4, 4, 1)), Y, verbose=0)


def test_predict_with_a_wrong_input_shape_names_the_first_layer():
    with pytest.raises(ValueError, match=r"predict: Conv2D layer 'conv' expected input of shape"):
        model().predict(np.zeros((2, 5, 5)), verbose=0)


def test_dense_on_images_asks_for_a_flatten():
    with pytest.raises(ValueError, match=r"Dense layer 'd' takes 2-D input \(None, features\), got input of "
                                         r"shape \(None, 5, 5, 2\); put a Flatten layer before it"):
        Sequential([Conv2D(2, 1, input_shape=(5, 5, 1)), Dense(3, name="d")])


def test_conv2d_on_flat_input_says_it_takes_images():
    with pytest.raises(ValueError, match=r"Conv2D layer 'c' takes images of shape \(None, height, width, "
                                         r"channels\), got input of shape \(None, 10\)"):
        Conv2D(2, 3, name="c").forward(np.zeros((1, 10)))


def test_a_kernel_bigger_than_the_input_is_refused():
    with pytest.raises(ValueError, match=r"Conv2D layer 'c': a \(5, 5\) kernel does not fit an input of shape "
                                         r"\(None, 3, 3, 1\) with padding 'valid'"):
        Conv2D(1, 5, input_shape=(3, 3, 1), name="c").build((3, 3, 1))


def test_a_pool_bigger_than_the_input_is_refused():
    with pytest.raises(ValueError, match=r"MaxPooling2D layer 'p': a \(4, 4\) pool does not fit"):
        MaxPooling2D(4, name="p").forward(np.zeros((1, 3, 3, 1)))


# ----- layer arguments -----------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: Conv2D(0, 3, name="c"), "Conv2D layer 'c': filters must be a positive int, got 0"),
    (lambda: Conv2D(2, (3, 3, 3), name="c"),
     r"Conv2D layer 'c': kernel_size must be a positive int or a pair of positive ints, got \(3, 3, 3\)"),
    (lambda: Conv2D(2, 3, strides=0, name="c"), "Conv2D layer 'c': strides must be a positive int"),
    (lambda: Conv2D(2, 3, padding="full"), 'padding must be "valid" or "same", got \'full\''),
    (lambda: Conv2D(2, 3, activation="swishy", name="c"),
     "Conv2D layer 'c': activation must be one of 'relu', 'softmax', .* or None, got 'swishy'"),
    (lambda: Dense(-1, name="d"), "Dense layer 'd': units must be a positive int, got -1"),
    (lambda: Dense(3, kernel_initializer="orthogonal"), "unknown initializer 'orthogonal': choose one of"),
    (lambda: MaxPooling2D((2, 0), name="p"), "MaxPooling2D layer 'p': pool_size must be"),
    (lambda: Dense(3, dtype="float16"), 'dtype must be "float32" or "float64", got \'float16\''),
    (lambda: Dense(3, input_shape=(0,), name="d"), "Dense layer 'd': input_shape must be a tuple of positive ints"),
])
def test_bad_layer_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ----- model structure -----------------------------------------------------------------------

def test_adding_something_that_is_not_a_layer_is_refused():
    with pytest.raises(TypeError, match="Sequential.add takes a layer"):
        Sequential(["dense"])


def test_two_layers_with_one_name_are_refused():
    with pytest.raises(ValueError, match="the model already has a layer named 'x'"):
        Sequential([Dense(2, name="x"), Dense(2, name="x")])


def test_building_without_an_input_shape_says_how_to_give_one():
    with pytest.raises(ValueError, match="does not know its input shape: start it with an Input, give the first layer input_shape="):
        Sequential([Dense(2)]).build()


def test_a_bad_model_dtype_is_named():
    with pytest.raises(ValueError, match='dtype must be "float32" or "float64", got \'int8\''):
        Sequential(dtype="int8")


def test_set_weights_with_too_few_arrays_says_how_many():
    with pytest.raises(ValueError, match=r"has 4 weight arrays, set_weights got 3"):
        model().set_weights(model().get_weights()[:3])


def test_set_weights_with_a_wrong_shape_names_the_layer_and_weight():
    weights = model().get_weights()
    weights[2] = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"Dense layer 'out': weight 'kernel' has shape \(18, 3\), "
                                         r"set_weights got shape \(5, 3\)"):
        model().set_weights(weights)


def test_set_weights_before_build_says_to_build():
    with pytest.raises(ValueError, match="is not built yet"):
        Sequential([Dense(2)]).set_weights([])


def test_set_seed_refuses_a_negative_seed():
    with pytest.raises(ValueError, match="the seed must be a non-negative integer, got -1"):
        set_seed(-1)


# ----- fit's data checks ---------------------------------------------------------------------

def test_fit_before_compile_says_to_compile():
    m = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(RuntimeError, match=r"fit needs a compiled model: call model.compile"):
        m.fit(np.zeros((2, 3)), np.eye(2))


def test_fit_with_mismatched_lengths_gives_both():
    with pytest.raises(ValueError, match="fit: x has 6 samples but y has 5; they must match"):
        model().fit(X, Y[:5], verbose=0)


def test_fit_with_a_label_out_of_range_names_it_and_the_range():
    labels = LABELS.copy()
    labels[4] = 7
    with pytest.raises(ValueError, match="fit: label 7 at index 4 is out of range: the model has 3 outputs, "
                                         "so labels must be integers from 0 to 2"):
        model("sparse_categorical_crossentropy").fit(X, labels, verbose=0)


def test_fit_with_a_negative_label_names_it():
    with pytest.raises(ValueError, match="fit: label -1 at index 0 is out of range"):
        model("sparse_categorical_crossentropy").fit(X, -np.ones(6), verbose=0)


def test_fit_with_a_fractional_label_names_it():
    with pytest.raises(ValueError, match="fit: label 0.5 at index 0 is out of range"):
        model("sparse_categorical_crossentropy").fit(X, np.full(6, 0.5), verbose=0)


def test_categorical_loss_with_integer_labels_suggests_the_sparse_loss():
    with pytest.raises(ValueError, match=r"fit: categorical_crossentropy needs one-hot y of shape \(6, 3\), got y "
                                         r"of shape \(6,\) \(for integer labels use sparse_categorical_crossentropy\)"):
        model().fit(X, LABELS, verbose=0)


def test_one_hot_values_outside_0_1_are_named():
    y = Y.copy()
    y[3, 1] = 4.0
    with pytest.raises(ValueError, match=r"fit: y must hold one-hot rows with values in \[0, 1\]; row 3 has values "
                                         r"from 0 to 4"):
        model().fit(X, y, verbose=0)


def test_non_finite_x_names_the_first_bad_sample():
    x = X.copy()
    x[3, 2, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"fit: x contains non-finite values \(nan or inf\), first in sample 3"):
        model().fit(x, Y, verbose=0)


def test_non_finite_y_names_the_first_bad_sample():
    y = Y.copy()
    y[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"fit: y contains non-finite values \(nan or inf\), first in sample 2"):
        model().fit(X, y, verbose=0)


def test_non_numeric_x_is_named():
    with pytest.raises(ValueError, match="fit: x must be an array of numbers, got list"):
        model().fit([["a"]], Y, verbose=0)


def test_bad_validation_data_is_checked_like_the_training_data():
    with pytest.raises(ValueError, match="fit: validation_data: x has 6 samples but y has 2"):
        model().fit(X, Y, validation_data=(X, Y[:2]), verbose=0)


def test_validation_data_must_be_a_pair():
    with pytest.raises(ValueError, match=r"fit: validation_data must be a pair \(x_val, y_val\)"):
        model().fit(X, Y, validation_data=X, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs must be a positive int, got 0"),
    ({"batch_size": 2.5}, "batch_size must be a positive int, got 2.5"),
    ({"verbose": 3}, "verbose must be 0 .* got 3"),
    ({"validation_split": 1.0}, r"fit: validation_split must be in \[0, 1\), got 1.0"),
    ({"validation_split": 0.95}, "fit: 6 samples are too few to hold out validation_split=0.95"),
])
def test_bad_fit_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        model().fit(X, Y, **{"verbose": 0, **kwargs})


# ----- non-finite loss during fit ------------------------------------------------------------

def test_a_nan_loss_stops_fit_naming_epoch_and_step_and_keeps_the_last_finite_weights():
    """The loss turns nan on the 5th step (epoch 2, step 2 of 3): the weights are those after 4 steps."""
    set_seed(0)
    m = model()
    set_seed(0)
    twin = model()
    calls = []
    original = m.loss.from_logits

    def from_logits(*args):
        calls.append(1)
        loss, dz = original(*args)
        return (np.float32(np.nan) if len(calls) == 5 else loss), dz

    m.loss.from_logits = from_logits
    with pytest.raises(FloatingPointError, match="^loss became nan at epoch 2, step 2; training stopped and the "
                                                 "weights are those after the last finite step$"):
        m.fit(X, Y, epochs=3, batch_size=2, shuffle=False, verbose=0)
    for rows in (slice(0, 2), slice(2, 4), slice(4, 6), slice(0, 2)):
        twin.train_on_batch(X[rows], Y[rows])
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), twin.get_weights()))


def test_a_diverging_fit_stops_with_finite_weights():
    set_seed(0)
    m = model(optimizer=SGD(learning_rate=1e30))
    with pytest.raises(FloatingPointError, match=r"at epoch \d+, step \d+; training stopped"):
        m.fit(X * 100, Y, epochs=50, batch_size=2, verbose=0)
    assert all(np.isfinite(w).all() for w in m.get_weights())


def test_a_layer_that_does_not_fit_is_not_added():
    m = Sequential([Conv2D(2, 1, input_shape=(5, 5, 1))])
    with pytest.raises(ValueError, match="put a Flatten layer before it"):
        m.add(Dense(3))
    assert len(m.layers) == 1 and m.built


def test_a_model_with_image_outputs_cannot_take_a_cross_entropy():
    m = Sequential([Conv2D(3, 1, activation="softmax", input_shape=(4, 4, 1))], name="m")
    m.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"fit: categorical_crossentropy needs model outputs of shape "
                                         r"\(None, classes\), but model 'm' outputs \(None, 4, 4, 3\); "
                                         r"end it with Flatten and Dense"):
        m.fit(np.zeros((2, 4, 4, 1)), np.eye(3)[:2], verbose=0)
