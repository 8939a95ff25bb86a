"""fit's class_weight, sample_weight and initial_epoch, train_on_batch's and evaluate's
weights, and "accuracy" under each loss: Keras 3's meaning, and one sentence per bad value."""
import numpy as np
import pytest

import scratchconv
from scratchconv import Sequential, optimizers
from scratchconv.layers import Dense, Flatten


def model(units=3, activation="softmax", loss="categorical_crossentropy", dtype="float64"):
    scratchconv.set_seed(0)
    m = Sequential([Flatten(input_shape=(2, 2, 1)), Dense(units, activation=activation)], dtype=dtype)
    m.compile(optimizers.SGD(0.1), loss, metrics=["accuracy"])
    return m


def data(n=10, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2, 2, 1)), np.eye(k)[rng.integers(0, k, n)]


def test_sample_weights_of_one_change_nothing():
    x, y = data()
    a, b = model(), model()
    ha = a.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    hb = b.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False, sample_weight=np.ones(len(x)))
    assert ha.history == hb.history
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_class_weight_equals_the_sample_weights_of_each_samples_class():
    x, y = data()
    class_weight = {0: 2.0, 2: 0.5}
    a, b = model(), model()
    ha = a.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False, class_weight=class_weight)
    hb = b.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False,
               sample_weight=np.array([class_weight.get(c, 1.0) for c in y.argmax(axis=1)]))
    assert ha.history == hb.history
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_a_zero_weight_sample_does_not_train():
    x, y = data(n=4)
    a, b = model(), model()
    a.train_on_batch(x[:3], y[:3])
    b.train_on_batch(x, y, sample_weight=[4 / 3, 4 / 3, 4 / 3, 0])  # sum(w l) / 4 = mean of the 3
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-12)


def test_evaluate_weighs_the_loss_not_the_accuracy():
    x, y = data(n=8)
    m = model()
    w = np.arange(8.0)
    loss, acc = m.evaluate(x, y, sample_weight=w, verbose=0)
    p = m.predict(x, verbose=0)
    per_sample = scratchconv.losses.categorical_crossentropy(y, p)
    hits = (p.argmax(1) == y.argmax(1))
    assert loss == pytest.approx((w * per_sample).sum() / 8, rel=1e-12)
    assert acc == pytest.approx(hits.mean(), rel=1e-12)


def test_initial_epoch_counts_epochs_from_it_as_keras_prints_and_records_them(capsys):
    x, y = data()
    history = model().fit(x, y, epochs=4, initial_epoch=2, verbose=2)
    assert history.epoch == [2, 3] and len(history.history["loss"]) == 2
    out = capsys.readouterr().out
    assert "Epoch 3/4" in out and "Epoch 4/4" in out and "Epoch 1/4" not in out


def test_initial_epoch_at_epochs_trains_nothing_as_in_keras():
    x, y = data()
    m = model()
    before = m.get_weights()
    assert m.fit(x, y, epochs=2, initial_epoch=2, verbose=0).epoch == []
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_validation_split_splits_the_sample_weights_too():
    x, y = data(n=8)
    w = np.r_[np.ones(6), 0.0, 2.0]
    history = model().fit(x, y, epochs=1, verbose=0, validation_split=0.25, sample_weight=w)
    m = model()
    m.fit(x[:6], y[:6], epochs=1, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(m.evaluate(x[6:], y[6:], sample_weight=w[6:],
                                                                      verbose=0)[0], rel=1e-12)


def test_validation_data_may_carry_sample_weights():
    x, y = data(n=8)
    w = np.arange(4.0)
    history = model().fit(x[:4], y[:4], epochs=1, verbose=0, validation_data=(x[4:], y[4:], w))
    m = model()
    m.fit(x[:4], y[:4], epochs=1, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(m.evaluate(x[4:], y[4:], sample_weight=w,
                                                                      verbose=0)[0], rel=1e-12)


def test_accuracy_of_one_sigmoid_output_is_binary_accuracy():
    x = np.random.default_rng(1).standard_normal((6, 2, 2, 1))
    y = np.array([0, 1, 1, 0, 1, 0])
    m = model(units=1, activation="sigmoid", loss="binary_crossentropy")
    _, acc = m.evaluate(x, y, verbose=0)
    assert acc == pytest.approx(((m.predict(x, verbose=0)[:, 0] > 0.5) == y).mean())


def test_accuracy_of_several_binary_outputs_is_categorical_as_in_keras_3():
    """Keras 3 picks the accuracy by shapes: k > 1 outputs and rows of targets -> argmax match."""
    x, y = data(n=6)
    m = model(activation="sigmoid", loss="binary_crossentropy")
    _, acc = m.evaluate(x, y, verbose=0)
    assert acc == pytest.approx((m.predict(x, verbose=0).argmax(1) == y.argmax(1)).mean())


def test_mse_trains_a_regression():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 2, 2, 1))
    y = x.reshape(32, 4) @ np.array([1.0, -2.0, 0.5, 0.0])
    m = model(units=1, activation=None, loss="mse")
    history = m.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.01 * history.history["loss"][0]


@pytest.mark.parametrize("kwargs, message", [
    ({"sample_weight": np.ones(3)}, r"fit: sample_weight must hold one weight per sample, shape \(10,\), got shape \(3,\)"),
    ({"sample_weight": np.r_[np.ones(9), -1]}, "fit: sample weights must be finite and non-negative; sample 9 has -1"),
    ({"sample_weight": np.ones(10), "class_weight": {0: 1.0}}, "fit: give sample_weight or class_weight, not both"),
    ({"class_weight": [1, 2, 3]}, "fit: class_weight must be a dict class -> weight, got list"),
    ({"class_weight": {3: 1.0}}, "fit: class_weight's keys must be classes, integers from 0 to 2, got 3"),
    ({"class_weight": {"cat": 1.0}}, "fit: class_weight's keys must be classes, .* got 'cat'"),
    ({"class_weight": {0: np.nan}}, r"fit: class_weight\[0\] must be a finite non-negative number, got nan"),
    ({"initial_epoch": -1}, "fit: initial_epoch must be a non-negative int, got -1"),
    ({"initial_epoch": 1.5}, "fit: initial_epoch must be a non-negative int, got 1.5"),
])
def test_bad_weights_and_initial_epoch_are_named(kwargs, message):
    x, y = data()
    with pytest.raises(ValueError, match=message):
        model().fit(x, y, verbose=0, **kwargs)


def test_train_on_batch_checks_its_weights():
    x, y = data(n=4)
    with pytest.raises(ValueError, match=r"train_on_batch: sample_weight must hold one weight per sample"):
        model().train_on_batch(x, y, sample_weight=np.ones(5))


def test_from_logits_on_a_linear_output_equals_the_loss_of_its_softmax():
    """SparseCategoricalCrossentropy(from_logits=True) on Dense(k) trains as the sparse loss on
    Dense(k, softmax) (the same logits), and evaluates to the same loss."""
    x, y = data()
    labels = y.argmax(1)
    a = model(activation=None, loss=scratchconv.losses.SparseCategoricalCrossentropy(from_logits=True))
    b = model(activation="softmax", loss="sparse_categorical_crossentropy")
    ha = a.fit(x, labels, epochs=2, batch_size=4, shuffle=False, verbose=0)
    hb = b.fit(x, labels, epochs=2, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-12)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-10, atol=1e-14)


def test_from_logits_after_a_softmax_warns_as_keras_does():
    with pytest.warns(UserWarning, match="from_logits=True, but model .* ends in a softmax"):
        model(activation="softmax", loss=scratchconv.losses.CategoricalCrossentropy(from_logits=True))


def test_a_from_logits_loss_is_saved_and_loaded_with_the_model(tmp_path):
    m = model(activation=None, loss=scratchconv.losses.BinaryCrossentropy(from_logits=True))
    m.save(tmp_path / "m.npz")
    loaded = scratchconv.load_model(tmp_path / "m.npz")
    assert loaded.loss.logits_given and type(loaded.loss) is scratchconv.losses.BinaryCrossentropy
