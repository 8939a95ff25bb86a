"""The NaN promise: fit keeps the weights of the last finite step, whatever overflows; non-finite
weights, optimizer state and inputs are refused where they enter, with one sentence."""
import numpy as np
import pytest

import scratchconv
from scratchconv import checks, layers, optimizers


pytestmark = pytest.mark.usefixtures("numpy_backend")


def small_model(optimizer="adam"):
    scratchconv.set_seed(4)
    model = scratchconv.Sequential([layers.Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1)),
                                    layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer, "categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n=8):
    rng = np.random.default_rng(0)
    return rng.random((n, 6, 6, 1)).astype("float32"), np.eye(3, dtype="float32")[rng.integers(0, 3, n)]


@pytest.mark.parametrize("optimizer", [
    optimizers.SGD(learning_rate=1e300),
    optimizers.Adam(learning_rate=1e40),
    optimizers.Adam(epsilon=0.0),
], ids=["sgd-1e300", "adam-1e40", "adam-epsilon-0"])
def test_fit_keeps_the_weights_of_the_last_finite_step(optimizer):
    model = small_model(optimizer)
    x, y = data()
    snapshots = []

    class Keep(scratchconv.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            snapshots.append(self.model.get_weights())

    with pytest.raises(FloatingPointError, match="training stopped and the weights are those after "
                                                 "the last finite step"):
        model.fit(x, y, epochs=3, batch_size=2, verbose=0, callbacks=[Keep()])
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    # The failing step is the last one begun: the weights are those from before it.
    for w, before in zip(weights, snapshots[-1]):
        np.testing.assert_array_equal(w, before)
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_fit_restores_the_optimizer_state_of_the_last_finite_step():
    model = small_model(optimizers.Adam(epsilon=0.0))
    x, y = data()
    states = []

    class Keep(scratchconv.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            states.append(self.model.optimizer.get_state(self.model.trainable_weights))

    with pytest.raises(FloatingPointError):
        model.fit(x, y, epochs=3, batch_size=2, verbose=0, callbacks=[Keep()])
    iterations, slots = model.optimizer.get_state(model.trainable_weights)
    assert iterations == states[-1][0]
    for now, before in zip(slots, states[-1][1]):
        assert (now is None) == (before is None)
        for name in now or {}:
            np.testing.assert_array_equal(now[name], before[name])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_set_weights_refuses_non_finite_values_naming_the_tensor_and_changes_nothing(value):
    model = small_model()
    before = model.get_weights()
    bad = model.get_weights()
    bad[2][0, 0] = value
    with pytest.raises(ValueError, match=r"Dense layer 'dense.*': weight 'kernel' given to set_weights "
                                         r"holds non-finite values \(nan or inf\)"):
        model.set_weights([w * 2 for w in bad])
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    with pytest.raises(ValueError, match="weight 'kernel' given to set_weights holds non-finite"):
        model.layers[2].set_weights(bad[2:])


def test_optimizer_set_state_refuses_non_finite_state():
    model = small_model()
    model.train_on_batch(*data())
    params = model.trainable_weights
    iterations, slots = model.optimizer.get_state(params)
    slots[0]["v"][0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"the 'v' state of parameter 0 holds non-finite values"):
        model.optimizer.set_state(params, iterations, slots)


def test_predict_says_which_sample_is_not_finite():
    model = small_model()
    x, _ = data()
    x[5, 2, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"predict: x contains non-finite values \(nan or inf\), "
                                         r"first in sample 5"):
        model.predict(x, verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_in_chunks_names_the_first_bad_sample_and_gives_the_extremes(monkeypatch, bad):
    """check_finite reads x a few samples at a time (CHECK_CHUNK_BYTES): the extremes are the
    whole array's, and a bad value in a later chunk is reported by its sample in x."""
    monkeypatch.setattr(checks, "CHECK_CHUNK_BYTES", 3 * 4 * 4 * 4)  # three 4x4x1 float32 samples
    x = np.random.default_rng(0).standard_normal((10, 4, 4, 1)).astype(np.float32)
    assert checks.check_finite(x, "x", "here") == (x.min(), x.max())
    x[7, 1, 2, 0] = bad
    x[8, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"here: x contains non-finite values \(nan or inf\), "
                                         r"first in sample 7"):
        checks.check_finite(x, "x", "here")


@pytest.mark.parametrize("method", ["train_on_batch", "loss_and_gradients"])
def test_one_batch_refuses_nan_input_and_leaves_the_weights(method):
    model = small_model()
    x, y = data()
    x[1, 0, 0, 0] = np.nan
    before = model.get_weights()
    with pytest.raises(ValueError, match=rf"{method}: x contains non-finite values \(nan or inf\), "
                                         r"first in sample 1"):
        getattr(model, method)(x, y)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


@pytest.mark.parametrize("method", ["fit", "train_on_batch", "loss_and_gradients"])
@pytest.mark.parametrize("y, message", [
    (np.zeros((8, 5)), r"categorical_crossentropy needs one-hot y of shape \(8, 3\), got y of shape \(8, 5\)"),
    (np.zeros((7, 3)), "x has 8 samples but y has 7; they must match"),
    (np.full((8, 3), 2.0), r"y must hold one-hot rows with values in \[0, 1\]"),
], ids=["width", "count", "values"])
def test_a_wrong_y_gets_the_same_sentence_everywhere(method, y, message):
    model = small_model()
    x, _ = data()
    call = getattr(model, method)
    with pytest.raises(ValueError, match=f"{method}: {message}"):
        call(x, y, verbose=0) if method == "fit" else call(x, y)
