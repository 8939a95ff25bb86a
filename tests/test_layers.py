"""Layers: the shared contract, gradients by central differences, Keras's shapes and conventions."""
import numpy as np
import pytest
from engine_checks import layer_gradient_errors

import scratchconv
from scratchconv import Sequential, initializers
from scratchconv.layers import (LAYER_CLASSES, Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense,
                                Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D, ReLU,
                                Softmax)
from scratchconv.layers import get as get_layer_class

# One instance of every layer with an input it takes: (factory, sample shape).
EVERY_LAYER = {
    "Conv2D": (lambda dt: Conv2D(4, (3, 2), strides=(2, 1), padding="same", dtype=dt), (7, 6, 3)),
    "MaxPooling2D": (lambda dt: MaxPooling2D((3, 2), strides=(2, 1), padding="same", dtype=dt), (7, 6, 3)),
    "Flatten": (lambda dt: Flatten(dtype=dt), (4, 3, 2)),
    "Dense": (lambda dt: Dense(5, activation="relu", dtype=dt), (6,)),
    "ReLU": (lambda dt: ReLU(dtype=dt), (4, 3)),
    "Softmax": (lambda dt: Softmax(dtype=dt), (6,)),
    "Activation": (lambda dt: Activation("gelu", dtype=dt), (4, 3)),
    "AveragePooling2D": (lambda dt: AveragePooling2D((3, 2), strides=(2, 1), padding="same", dtype=dt), (7, 6, 3)),
    "GlobalAveragePooling2D": (lambda dt: GlobalAveragePooling2D(dtype=dt), (4, 3, 2)),
    "GlobalMaxPooling2D": (lambda dt: GlobalMaxPooling2D(keepdims=True, dtype=dt), (4, 3, 2)),
    "Dropout": (lambda dt: Dropout(0.5, seed=0, dtype=dt), (4, 3, 2)),
    "BatchNormalization": (lambda dt: BatchNormalization(dtype=dt), (4, 3, 2)),
}


@pytest.mark.parametrize("class_name", sorted(EVERY_LAYER))
def test_every_layer_keeps_the_contract(class_name, on_backend):
    factory, shape = EVERY_LAYER[class_name]
    layer = factory("float32")
    x = np.random.default_rng(0).standard_normal((2,) + shape).astype(np.float32)
    y = layer.forward(x, training=True)
    assert y.shape == (2,) + layer.compute_output_shape(shape)
    assert y.dtype == np.float32
    dx = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert layer.grads.keys() == layer.params.keys()
    assert all(layer.grads[k].shape == p.shape for k, p in layer.params.items())
    assert layer.backward(np.ones_like(y), need_dx=False) is None


@pytest.mark.parametrize("class_name", sorted(EVERY_LAYER))
def test_weight_shapes_are_what_build_makes_without_making_them(class_name):
    """How a model file is checked before anything is allocated (scratchconv.saving)."""
    factory, shape = EVERY_LAYER[class_name]
    layer = factory("float32")
    planned = layer.weight_shapes(shape)
    assert not layer.built and layer.params == {} and layer.state == {}
    layer.build(shape)
    assert planned == [(name, p.shape, trainable) for name, p, trainable in layer.named_weights()]


def test_every_layer_class_is_registered():
    assert set(LAYER_CLASSES) == set(EVERY_LAYER)
    assert get_layer_class("Dense") is Dense


def test_unknown_layer_class_is_named():
    with pytest.raises(ValueError, match="unknown layer class 'Conv3D'"):
        get_layer_class("Conv3D")


# ----- gradients, float64, central differences ---------------------------------------------

CONV_GRID = [
    # (input shape, filters, kernel, strides, padding)
    ((5, 5, 2), 3, (3, 3), (1, 1), "valid"),
    ((5, 5, 2), 3, (3, 3), (1, 1), "same"),
    ((7, 6, 2), 2, (3, 2), (2, 1), "same"),
    ((7, 6, 2), 2, (2, 3), (2, 3), "valid"),
    ((6, 6, 1), 2, (4, 4), (2, 2), "same"),
    ((4, 5, 3), 2, (1, 1), (1, 1), "valid"),
]


@pytest.mark.parametrize("activation", ["linear", "relu", "softmax"])
@pytest.mark.parametrize("shape, filters, kernel, strides, padding", CONV_GRID)
def test_conv2d_gradients_match_central_differences(shape, filters, kernel, strides, padding, activation,
                                                    on_backend):
    rng = np.random.default_rng(1)
    layer = Conv2D(filters, kernel, strides=strides, padding=padding, activation=activation,
                   input_shape=shape, dtype="float64")
    layer.build(shape)
    layer.params["bias"][:] = rng.standard_normal(filters)
    errors = layer_gradient_errors(layer, rng.standard_normal((2,) + shape), rng)
    assert max(errors.values()) <= 1e-7, errors


POOL_GRID = [
    # (input shape, pool, strides, padding)
    ((4, 4, 2), (2, 2), None, "valid"),
    ((5, 5, 2), (2, 2), None, "valid"),
    ((5, 5, 2), (2, 2), None, "same"),
    ((6, 7, 1), (3, 3), (2, 2), "same"),
    ((6, 7, 1), (3, 2), (1, 2), "valid"),
    ((5, 6, 2), (2, 3), (3, 1), "same"),
]


@pytest.mark.parametrize("shape, pool, strides, padding", POOL_GRID)
def test_maxpool_gradients_match_central_differences(shape, pool, strides, padding, on_backend):
    rng = np.random.default_rng(2)
    # A permutation keeps every value distinct and at least 1 apart, so no window has a tie
    # and a step of 1e-6 never changes a winner.
    x = rng.permutation(2 * int(np.prod(shape))).reshape((2,) + shape).astype(np.float64)
    errors = layer_gradient_errors(MaxPooling2D(pool, strides, padding, dtype="float64"), x, rng)
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("activation", ["linear", "relu", "softmax"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_gradients_match_central_differences(activation, use_bias):
    rng = np.random.default_rng(3)
    layer = Dense(4, activation=activation, use_bias=use_bias, dtype="float64")
    errors = layer_gradient_errors(layer, rng.standard_normal((3, 5)), rng)
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("layer", [Flatten, ReLU, Softmax], ids=lambda c: c.__name__)
def test_parameterless_layer_gradients_match_central_differences(layer):
    rng = np.random.default_rng(4)
    errors = layer_gradient_errors(layer(dtype="float64"), rng.standard_normal((2, 3, 4)), rng)
    assert max(errors.values()) <= 1e-7, errors


def test_a_wrong_backward_fails_the_gradient_check():
    """Negative control: the check above can fail. A Dense whose kernel gradient is scaled
    by 1.001 must show up."""
    rng = np.random.default_rng(5)

    class WrongDense(Dense):
        def backward_from_logits(self, dz, need_dx=True):
            dx = super().backward_from_logits(dz, need_dx)
            self.grads["kernel"] *= 1.001
            return dx

    errors = layer_gradient_errors(WrongDense(3, dtype="float64"), rng.standard_normal((2, 4)), rng)
    assert errors["kernel"] > 1e-4


def test_layer_backward_overwrites_the_gradients():
    layer = Dense(2, dtype="float64")
    x = np.ones((1, 3))
    layer.forward(x)
    layer.backward(np.ones((1, 2)))
    first = layer.grads["kernel"].copy()
    layer.forward(x)
    layer.backward(np.ones((1, 2)))
    np.testing.assert_array_equal(layer.grads["kernel"], first)


# ----- Keras's shapes and conventions ------------------------------------------------------

@pytest.mark.parametrize("hw, pool, strides, padding, expected", [
    ((5, 5), (2, 2), None, "valid", (2, 2)),
    ((5, 5), (2, 2), None, "same", (3, 3)),
    ((7, 4), (3, 3), (2, 2), "valid", (3, 1)),
    ((7, 4), (3, 3), (2, 2), "same", (4, 2)),
    ((48, 48), (2, 2), None, "valid", (24, 24)),
    ((22, 22), (2, 2), None, "valid", (11, 11)),
])
def test_maxpool_output_size_is_keras(hw, pool, strides, padding, expected, on_backend):
    layer = MaxPooling2D(pool, strides, padding)
    y = layer.forward(np.zeros((1,) + hw + (2,), np.float32))
    assert y.shape[1:3] == expected == layer.compute_output_shape(hw + (2,))[:2]


@pytest.mark.parametrize("hw, kernel, strides, padding, expected", [
    ((50, 50), (3, 3), (1, 1), "valid", (48, 48)),
    ((7, 7), (3, 3), (2, 2), "same", (4, 4)),
    ((7, 6), (3, 2), (2, 3), "valid", (3, 2)),
    ((5, 5), (4, 4), (1, 1), "same", (5, 5)),
])
def test_conv2d_output_size_is_keras(hw, kernel, strides, padding, expected, on_backend):
    layer = Conv2D(2, kernel, strides=strides, padding=padding)
    y = layer.forward(np.zeros((1,) + hw + (3,), np.float32))
    assert y.shape[1:3] == expected


def test_maxpool_tie_sends_the_gradient_to_the_first_maximum(on_backend):
    """All four pixels of the window equal: the top-left one (first in row-major order) wins."""
    layer = MaxPooling2D((2, 2))
    layer.forward(np.full((1, 2, 2, 1), 3.0, np.float32))
    dx = layer.backward(np.full((1, 1, 1, 1), 5.0, np.float32))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[5.0, 0.0], [0.0, 0.0]])


def test_maxpool_tie_in_a_later_row_loses_to_the_earlier_row(on_backend):
    layer = MaxPooling2D((2, 2))
    layer.forward(np.array([0, 1, 1, 0], np.float32).reshape(1, 2, 2, 1))
    dx = layer.backward(np.ones((1, 1, 1, 1), np.float32))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0.0, 1.0], [0.0, 0.0]])


def test_overlapping_pool_windows_add_their_gradients(on_backend):
    layer = MaxPooling2D((2, 2), strides=(1, 1))
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 1, 1, 0] = 9.0  # the centre wins all four windows
    layer.forward(x)
    dx = layer.backward(np.ones((1, 2, 2, 1), np.float32))
    assert dx[0, 1, 1, 0] == 4.0 and dx.sum() == 4.0


def test_flatten_is_channels_last_row_major():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    y = Flatten().forward(x)
    np.testing.assert_array_equal(y[1], x[1].ravel())
    assert y[0, 1] == x[0, 0, 0, 1]  # the channel index runs fastest


def test_conv2d_kernel_and_bias_have_keras_shapes():
    layer = Conv2D(64, (3, 3))
    layer.build((50, 50, 3))
    assert [w.shape for w in layer.get_weights()] == [(3, 3, 3, 64), (64,)]


def test_dense_kernel_is_inputs_by_units():
    layer = Dense(128)
    layer.build((3872,))
    assert [w.shape for w in layer.get_weights()] == [(3872, 128), (128,)]


def test_glorot_uniform_stays_within_its_limit_and_biases_start_at_zero():
    layer = Conv2D(64, (3, 3))
    layer.build((50, 50, 3))
    limit = np.sqrt(6 / (3 * 3 * 3 + 3 * 3 * 64))
    kernel = layer.params["kernel"]
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.95 * limit
    assert not layer.params["bias"].any()


@pytest.mark.parametrize("name, std", [("glorot_normal", np.sqrt(2 / (400 + 300))),
                                       ("he_normal", np.sqrt(2 / 400))])
def test_truncated_normal_initializers_have_the_stated_deviation(name, std):
    w = initializers.get(name)((400, 300), "float64", np.random.default_rng(0))
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978
    assert abs(w.std() / std - 1) < 0.02


def test_he_uniform_uses_the_fan_in():
    w = initializers.get("he_uniform")((400, 300), "float64", np.random.default_rng(0))
    limit = np.sqrt(6 / 400)
    assert limit * 0.99 < np.abs(w).max() <= limit


def test_conv2d_relu_is_fused_into_the_kernel(on_backend, monkeypatch):
    from scratchconv import backend
    calls = []
    k = backend.kernels()
    original = k.conv2d_forward
    monkeypatch.setattr(k, "conv2d_forward", lambda *a, **kw: calls.append(kw) or original(*a, **kw))
    y = Conv2D(2, 3, activation="relu").forward(np.random.default_rng(0).standard_normal((1, 4, 4, 1)))
    assert calls == [{"relu": True}] and (y >= 0).all()


# ----- dtype ---------------------------------------------------------------------------------

def test_float64_model_is_float64_end_to_end(on_backend):
    model = Sequential([Conv2D(2, 3, activation="relu", input_shape=(5, 5, 1)), MaxPooling2D(),
                        Flatten(), Dense(3, activation="softmax")], dtype="float64")
    model.compile("sgd", "categorical_crossentropy")
    loss, grads, dx = model.loss_and_gradients(np.ones((2, 5, 5, 1), np.float32), np.eye(3)[:2])
    assert all(w.dtype == np.float64 for w in model.get_weights())
    assert all(g.dtype == np.float64 for g in grads) and dx.dtype == np.float64
    assert model.forward(np.ones((1, 5, 5, 1), np.float32)).dtype == np.float64


def test_a_layer_dtype_overrides_the_models():
    model = Sequential([Dense(2, input_shape=(3,), dtype="float64"), Dense(2)], dtype="float32")
    model.build()
    assert [layer.dtype for layer in model.layers] == ["float64", "float32"]


def test_layers_default_to_float32():
    y = Dense(2).forward(np.ones((1, 3)))
    assert y.dtype == np.float32


# ----- configs -------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", [
    Conv2D(3, (3, 2), strides=2, padding="same", activation="relu", use_bias=False,
           kernel_initializer="he_normal", input_shape=(9, 9, 2), name="c", dtype="float64"),
    MaxPooling2D((3, 3), strides=(2, 1), padding="same", name="p"),
    Flatten(name="f"), Dense(7, activation="softmax", name="d"), ReLU(name="r"), Softmax(name="s"),
], ids=lambda layer: type(layer).__name__)
def test_layer_config_round_trips(layer):
    config = layer.get_config()
    import json
    copy = type(layer).from_config(json.loads(json.dumps(config)))
    assert copy.get_config() == config and copy.name == layer.name


def test_automatic_names_count_like_keras():
    first, second = Dense(1), Dense(1)
    base = first.name.split("_")[0]
    assert base == "dense"
    assert second.name != first.name and second.name.startswith("dense_")


def every_layer_model():
    """A model with one of each layer class (and an Input), every weight non-trivial."""
    model = Sequential([
        scratchconv.Input((9, 8, 2)), Conv2D(4, 3, padding="same", activation="gelu"), BatchNormalization(momentum=0.9),
        Activation("elu"), MaxPooling2D(2, padding="same"), AveragePooling2D(2, strides=1, padding="same"),
        ReLU(), Dropout(0.3, seed=1), GlobalMaxPooling2D(keepdims=True), Flatten(), Dense(5, activation="sigmoid"),
        Dense(6), BatchNormalization(center=False), Dropout(0.0), Dense(3), Softmax()], dtype="float64")
    model.compile("adam", "categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.standard_normal((4, 9, 8, 2)), np.eye(3)[[0, 1, 2, 0]])
    return model


def test_every_layer_class_is_in_the_every_layer_model():
    assert {type(layer).__name__ for layer in every_layer_model().layers} | {"GlobalAveragePooling2D"} \
        == set(LAYER_CLASSES)


@pytest.mark.parametrize("file_name", ["m.npz", "m.keras"])
def test_a_model_of_every_layer_survives_save_and_load(tmp_path, file_name):
    model = every_layer_model()
    model.save(tmp_path / file_name)
    loaded = scratchconv.load_model(tmp_path / file_name)
    def configs(m):  # a Keras file carries the input shape on its first layer, not in an Input
        return [{k: v for k, v in layer.get_config().items() if k != "input_shape"} for layer in m.layers]
    assert configs(loaded) == configs(model) and loaded.input_shape == model.input_shape
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(1).standard_normal((3, 9, 8, 2))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
