"""fit's callbacks: the order of the hooks, stopping early, checkpoints, and what is refused."""
import numpy as np
import pytest

import scratchconv
from scratchconv import callbacks, layers


pytestmark = pytest.mark.usefixtures("numpy_backend")


def small_model(learning_rate=0.05):
    scratchconv.set_seed(5)
    model = scratchconv.Sequential([layers.Dense(8, activation="relu", input_shape=(6,)),
                                    layers.Dense(3, activation="softmax")])
    model.compile(optimizer=scratchconv.optimizers.SGD(learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def data(n=20):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 6)).astype("float32")
    return x, np.eye(3, dtype="float32")[rng.integers(0, 3, n)]


class Recorder(callbacks.Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", sorted(logs)))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, sorted(logs)))


def test_hooks_run_in_keras_order_with_the_logs_history_records():
    model, recorder = small_model(), Recorder()
    x, y = data()
    history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.2, verbose=0,
                        callbacks=[recorder])
    assert recorder.model is model
    names = [c[0] if c[0] in ("train_begin", "train_end") else c[:2] for c in recorder.calls]
    per_epoch = lambda e: [("epoch_begin", e), ("batch_begin", 0), ("batch_end", 0), ("batch_begin", 1),
                           ("batch_end", 1), ("epoch_end", e)]
    assert names == ["train_begin"] + per_epoch(0) + per_epoch(1) + ["train_end"]
    ends = [c for c in recorder.calls if c[0] == "epoch_end"]
    for epoch, (_, _, logs) in enumerate(ends):
        assert logs == {k: v[epoch] for k, v in history.history.items()}
    assert recorder.calls[3] == ("batch_end", 0, ["accuracy", "loss"])


def test_callbacks_do_not_change_training():
    x, y = data()
    plain = small_model()  # seeds the generator that the shuffling draws from
    plain.fit(x, y, epochs=3, batch_size=8, verbose=0)
    watched = small_model()
    watched.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[Recorder()])
    for a, b in zip(plain.get_weights(), watched.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_lambda_callback_calls_the_given_functions():
    seen = []
    x, y = data()
    small_model().fit(x, y, epochs=3, verbose=0, callbacks=[
        callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, round(logs["loss"], 6))))])
    assert [e for e, _ in seen] == [0, 1, 2]


def test_a_callback_can_stop_training_after_the_epoch():
    class StopAfterFirst(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    x, y = data()
    history = small_model().fit(x, y, epochs=5, verbose=0, callbacks=[StopAfterFirst()])
    assert history.epoch == [0]


def test_early_stopping_waits_patience_epochs_then_restores_the_best_weights():
    x, y = data()
    # A learning rate this large makes the validation loss rise after the first epochs.
    model = small_model(learning_rate=5.0)
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    kept = []
    record = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: kept.append(model.get_weights()))
    history = model.fit(x, y, epochs=30, batch_size=4, validation_split=0.25, verbose=0,
                        callbacks=[record, stop])
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert stop.best_epoch == best and stop.best == losses[best]
    assert len(losses) == best + 3 < 30 and stop.stopped_epoch == best + 2
    for a, b in zip(model.get_weights(), kept[best]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_on_accuracy_wants_it_to_rise():
    assert callbacks.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert callbacks.EarlyStopping(monitor="loss").mode == "min"


def test_early_stopping_on_a_value_fit_does_not_log_warns_and_trains_on():
    x, y = data()
    with pytest.warns(UserWarning, match=r"EarlyStopping watches 'val_loss', which fit does not log; "
                                         r"it logs accuracy, loss"):
        history = small_model().fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.EarlyStopping()])
    assert history.epoch == [0, 1]


def test_model_checkpoint_saves_every_epoch_under_a_formatted_name(tmp_path):
    x, y = data()
    model = small_model()
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.25,
              callbacks=[callbacks.ModelCheckpoint(tmp_path / "m-{epoch:02d}-{loss:.3f}.npz")])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n[:4] for n in names] == ["m-01", "m-02", "m-03"]
    last = scratchconv.load_model(tmp_path / names[-1])
    for a, b in zip(last.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_best_only_keeps_the_best_epoch(tmp_path):
    x, y = data()
    model = small_model(learning_rate=5.0)
    kept = []
    record = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: kept.append(model.get_weights()))
    history = model.fit(x, y, epochs=8, batch_size=4, validation_split=0.25, verbose=0,
                        callbacks=[record, callbacks.ModelCheckpoint(tmp_path / "best.npz", save_best_only=True)])
    best = int(np.argmin(history.history["val_loss"]))
    for a, b in zip(scratchconv.load_model(tmp_path / "best.npz").get_weights(), kept[best]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_with_an_unknown_name_field_says_what_it_may_use(tmp_path):
    x, y = data()
    with pytest.raises(ValueError, match=r"ModelCheckpoint: cannot fill in the file name .*\{val_acc\}.*"
                                         r"it may use \{epoch\} and \{accuracy\}, \{loss\}"):
        small_model().fit(x, y, verbose=0,
                          callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "m-{val_acc}.npz"))])


@pytest.mark.parametrize("make, message", [
    (lambda: callbacks.EarlyStopping(patience=-1), "EarlyStopping: patience must be a non-negative int"),
    (lambda: callbacks.EarlyStopping(mode="up"), "EarlyStopping: mode must be 'auto', 'min' or 'max'"),
    (lambda: callbacks.LambdaCallback(on_epoch_end=3), "LambdaCallback: on_epoch_end must be a function"),
])
def test_bad_callback_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_fit_refuses_what_is_not_a_callback():
    x, y = data()
    with pytest.raises(ValueError, match="fit: callbacks must be scratchconv.callbacks.Callback objects"):
        small_model().fit(x, y, verbose=0, callbacks=[print])
