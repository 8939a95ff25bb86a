"""Dropout: its statistics (fraction kept, scaling, identity at inference), determinism, the mask
held fixed for the gradient check, noise_shape, Keras's options, errors and configs."""
import json

import numpy as np
import pytest

import scratchconv
from scratchconv import Sequential, gradcheck
from scratchconv.layers import Dense, Dropout

X = np.ones((200, 50, 10))


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_training_keeps_about_one_minus_rate_of_the_units_scaled_by_its_inverse(rate):
    y = Dropout(rate, seed=0, dtype="float64").forward(X, training=True)
    kept = y != 0
    # 100,000 Bernoulli draws: the fraction kept is within 5 standard deviations of 1 - rate.
    assert abs(kept.mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / X.size)
    np.testing.assert_allclose(y[kept], 1 / (1 - rate), rtol=1e-15)
    assert abs(y.mean() - 1) < 5 * np.sqrt(rate / (1 - rate) / X.size)  # E[y] = x


def test_inference_is_the_identity():
    x = np.random.default_rng(0).standard_normal((4, 6))
    layer = Dropout(0.5, dtype="float64")
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_rate_zero_is_the_identity_in_training():
    x = np.random.default_rng(0).standard_normal((4, 6))
    np.testing.assert_array_equal(Dropout(0, dtype="float64").forward(x, training=True), x)


def test_backward_uses_the_mask_and_scale_of_the_forward():
    layer = Dropout(0.4, seed=3, dtype="float64")
    y = layer.forward(X, training=True)
    dy = np.random.default_rng(1).standard_normal(X.shape)
    np.testing.assert_array_equal(layer.backward(dy), dy * y)  # y = 1 * m / (1 - rate)


def test_set_seed_repeats_the_masks():
    def masks():
        scratchconv.set_seed(7)
        layer = Dropout(0.5)
        return [layer.forward(X, training=True) for _ in range(2)]
    first, second = masks(), masks()
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])  # a new mask every step


def test_a_seeded_layer_has_its_own_repeatable_masks():
    a, b = Dropout(0.5, seed=11), Dropout(0.5, seed=11)
    scratchconv.set_seed(0)
    ya = a.forward(X, training=True)
    scratchconv.set_seed(1)
    np.testing.assert_array_equal(b.forward(X, training=True), ya)


def test_noise_shape_drops_whole_channels():
    x = np.ones((3, 4, 5, 6))
    y = Dropout(0.5, noise_shape=(None, 1, 1, None), seed=0).forward(x, training=True)
    assert (y == y[:, :1, :1, :]).all()  # one decision per sample and channel
    assert 0 < (y == 0).mean() < 1


def test_hold_randomness_reuses_the_last_mask():
    layer = Dropout(0.5, seed=0)
    first = layer.forward(X, training=True)
    with layer.hold_randomness():
        np.testing.assert_array_equal(layer.forward(X, training=True), first)
    assert not np.array_equal(layer.forward(X, training=True), first)


@pytest.mark.parametrize("noise_shape", [None, (None, 1, None)])
def test_gradients_pass_gradcheck_with_the_mask_held(noise_shape):
    report = gradcheck(Dropout(0.5, noise_shape=noise_shape, seed=0, input_shape=(4, 3)), verbose=False)
    assert report.passed, str(report)


def test_a_model_with_dropout_passes_gradcheck():
    model = Sequential([Dense(6, activation="tanh", input_shape=(5,)), Dropout(0.5),
                        Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    assert gradcheck(model, verbose=False).passed


@pytest.mark.parametrize("kwargs, message", [
    (dict(rate=1), r"rate must be a number in \[0, 1\) \(the fraction of units dropped\), got 1"),
    (dict(rate=-0.1), r"rate must be a number in \[0, 1\).*got -0.1"),
    (dict(rate="0.5"), r"rate must be a number in \[0, 1\).*got '0.5'"),
    (dict(rate=0.5, noise_shape=(None, 0)), r"noise_shape must be a tuple of positive ints or None .*got \(None, 0\)"),
    (dict(rate=0.5, noise_shape=3), "noise_shape must be a tuple"),
    (dict(rate=0.5, seed=-1), "seed must be a non-negative int or None, got -1"),
    (dict(rate=0.5, seed=1.5), "seed must be a non-negative int or None, got 1.5"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Dropout(**kwargs)


@pytest.mark.parametrize("noise_shape, message", [
    ((None, 1), r"noise_shape \(None, 1\) has 2 axes but the input \(None, 4, 3\) has 3"),
    ((None, 2, 1), r"noise_shape \(None, 2, 1\) does not broadcast to the input \(None, 4, 3\)"),
])
def test_a_noise_shape_that_does_not_fit_the_input_is_named(noise_shape, message):
    with pytest.raises(ValueError, match=message):
        Dropout(0.5, noise_shape=noise_shape).forward(np.ones((2, 4, 3)), training=True)


def test_config_round_trips():
    layer = Dropout(0.25, noise_shape=(None, 1, 1, None), seed=5, name="d")
    config = json.loads(json.dumps(layer.get_config()))
    assert config["rate"] == 0.25 and config["noise_shape"] == [None, 1, 1, None] and config["seed"] == 5
    assert Dropout.from_config(config).get_config() == layer.get_config()
