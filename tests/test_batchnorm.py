"""BatchNormalization: batch statistics and the moving averages in training, the moving
statistics at inference, gradients by the one finite-difference engine (training mode) and the
inference backward, Keras's weights, options, errors and configs."""
import json

import numpy as np
import pytest

import scratchconv
from scratchconv import Sequential, gradcheck
from scratchconv.layers import BatchNormalization, Conv2D, Dense, Flatten

RNG = np.random.default_rng(0)
X = RNG.normal(3.0, 2.0, (8, 5, 4, 3))


def test_training_forward_normalises_each_channel_by_the_batch_statistics():
    layer = BatchNormalization(epsilon=1e-3, dtype="float64")
    y = layer.forward(X, training=True)
    mean, var = X.mean(axis=(0, 1, 2)), X.var(axis=(0, 1, 2))  # biased variance, as Keras
    np.testing.assert_allclose(y, (X - mean) / np.sqrt(var + 1e-3), rtol=1e-12, atol=1e-12)


def test_training_updates_the_moving_statistics_as_keras_does():
    layer = BatchNormalization(momentum=0.9, dtype="float64")
    layer.forward(X, training=True)
    mean, var = X.mean(axis=(0, 1, 2)), X.var(axis=(0, 1, 2))
    np.testing.assert_allclose(layer.state["moving_mean"], 0 * 0.9 + mean * (1 - 0.9), rtol=1e-14)
    np.testing.assert_allclose(layer.state["moving_variance"], 1 * 0.9 + var * (1 - 0.9), rtol=1e-14)


def test_inference_uses_the_moving_statistics_and_changes_nothing():
    layer = BatchNormalization(dtype="float64", input_shape=(5, 4, 3))
    layer.build((5, 4, 3))
    gamma, beta, mm, mv = RNG.uniform(0.5, 2, (4, 3))
    layer.set_weights([gamma, beta, mm, mv])
    y = layer.forward(X)
    np.testing.assert_allclose(y, gamma * (X - mm) / np.sqrt(mv + 1e-3) + beta, rtol=1e-12)
    np.testing.assert_array_equal(layer.state["moving_mean"], mm)


def test_weights_are_keras_names_and_order():
    layer = BatchNormalization()
    layer.build((6, 6, 4))
    assert [(name, w.shape, trainable) for name, w, trainable in layer.named_weights()] == [
        ("gamma", (4,), True), ("beta", (4,), True), ("moving_mean", (4,), False), ("moving_variance", (4,), False)]
    assert list(layer.params) == ["gamma", "beta"] and layer.count_params() == 16
    assert [w.tolist() for w in layer.get_weights()] == [[1] * 4, [0] * 4, [0] * 4, [1] * 4]


@pytest.mark.parametrize("center, scale, params", [(False, True, ["gamma"]), (True, False, ["beta"]),
                                                   (False, False, [])])
def test_center_and_scale_choose_the_trainable_weights(center, scale, params):
    layer = BatchNormalization(center=center, scale=scale)
    layer.build((5,))
    assert list(layer.params) == params and list(layer.state) == ["moving_mean", "moving_variance"]


@pytest.mark.parametrize("kwargs, shape", [
    (dict(), (4, 3, 2)), (dict(), (5,)), (dict(axis=1), (4, 3, 2)), (dict(axis=-2, momentum=0.5), (4, 3, 2)),
    (dict(center=False), (4, 3, 2)), (dict(scale=False), (4, 3, 2)), (dict(epsilon=0.1), (5,))])
def test_training_gradients_pass_gradcheck(kwargs, shape):
    report = gradcheck(BatchNormalization(input_shape=shape, **kwargs), verbose=False)
    assert report.passed, str(report)


def test_inference_backward_is_the_derivative_of_the_inference_forward():
    layer = BatchNormalization(dtype="float64", input_shape=(3,))
    layer.build((3,))
    layer.set_weights(RNG.uniform(0.5, 2, (4, 3)))
    x = RNG.standard_normal((4, 3))
    dy = RNG.standard_normal((4, 3))
    layer.forward(x)
    dx = layer.backward(dy)
    h = 1e-6
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        numeric[i] = ((layer.forward(x + e) - layer.forward(x - e)) * dy).sum() / (2 * h)
    np.testing.assert_allclose(dx, numeric, rtol=1e-8)


@pytest.mark.parametrize("first", [lambda: Conv2D(3, 3, input_shape=(6, 6, 2)),
                                   lambda: Flatten(input_shape=(6, 6, 2))], ids=["after Conv2D", "after Dense"])
def test_a_model_with_batch_normalization_passes_gradcheck_and_trains(first):
    scratchconv.set_seed(0)
    model = Sequential([first(), BatchNormalization(), Flatten(), Dense(4), BatchNormalization(),
                        Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    assert gradcheck(model, verbose=False).passed
    x, y = RNG.standard_normal((6, 6, 6, 2)), np.eye(3)[RNG.integers(0, 3, 6)]
    before = [w.copy() for w in model.get_weights()]
    losses = [model.train_on_batch(x, y) for _ in range(5)]
    assert losses[-1] < losses[0]
    bn = model.layers[1]
    assert not np.array_equal(bn.state["moving_mean"], before[2])  # updated by training
    assert model.count_params() == sum(w.size for w in model.get_weights())


@pytest.mark.parametrize("kwargs, message", [
    (dict(axis=[1, 2]), r"axis must be an int \(the feature axis, -1 for channels last\), got \[1, 2\]"),
    (dict(momentum=1.5), r"momentum must be a number in \[0, 1\], got 1.5"),
    (dict(epsilon=0), "epsilon must be a positive number, got 0"),
    (dict(center="no"), "center must be True or False, got 'no'"),
    (dict(scale=None), "scale must be True or False, got None"),
    (dict(gamma_initializer="twos"), "twos"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchNormalization(**kwargs)


@pytest.mark.parametrize("axis", [0, 4, -5])
def test_an_axis_outside_the_features_is_named(axis):
    with pytest.raises(ValueError, match=rf"axis {axis} is not a feature axis of input \(None, 5, 4, 3\)"):
        BatchNormalization(axis=axis).forward(X)


def test_config_round_trips():
    layer = BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False, gamma_initializer="zeros",
                               moving_variance_initializer="zeros", name="bn")
    config = json.loads(json.dumps(layer.get_config()))
    assert BatchNormalization.from_config(config).get_config() == layer.get_config()
    assert {"axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
            "moving_mean_initializer", "moving_variance_initializer"} <= set(config)


@pytest.mark.parametrize("file_name", ["m.npz", "m.keras"])
def test_save_and_load_keep_the_moving_statistics(tmp_path, file_name):
    model = Sequential([Dense(3, input_shape=(4,)), BatchNormalization(), Dense(2, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    model.train_on_batch(RNG.standard_normal((5, 4)), np.eye(2)[[0, 1, 0, 1, 1]])
    model.save(tmp_path / file_name)
    loaded = scratchconv.load_model(tmp_path / file_name)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = RNG.standard_normal((3, 4))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
