"""fit's callbacks: the order of the hooks, stopping early, checkpoints, learning-rate
callbacks, the CSV log, and what is refused."""
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
    (lambda: callbacks.LearningRateScheduler(0.1), "LearningRateScheduler: schedule must be a function"),
    (lambda: callbacks.ReduceLROnPlateau(factor=1.0), r"ReduceLROnPlateau: factor must be in \[0, 1\)"),
    (lambda: callbacks.ReduceLROnPlateau(cooldown=-2), "ReduceLROnPlateau: cooldown must be a non-negative int"),
    (lambda: callbacks.ReduceLROnPlateau(min_lr=-1), "ReduceLROnPlateau: min_lr must be a non-negative number"),
    (lambda: callbacks.ReduceLROnPlateau(min_delta="a"), "ReduceLROnPlateau: min_delta must be a number"),
    (lambda: callbacks.CSVLogger("log.csv", separator=", "), "CSVLogger: separator must be one character"),
])
def test_bad_callback_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_fit_refuses_what_is_not_a_callback():
    x, y = data()
    with pytest.raises(ValueError, match="fit: callbacks must be scratchconv.callbacks.Callback objects"):
        small_model().fit(x, y, verbose=0, callbacks=[print])


# ----- learning rate --------------------------------------------------------------------------

def test_learning_rate_scheduler_sets_the_rate_each_epoch_and_logs_it(capsys):
    model = small_model(0.05)
    x, y = data()
    seen = []
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[
        callbacks.LearningRateScheduler(lambda epoch, lr: seen.append(lr) or lr / 2, verbose=1)])
    assert seen == [0.05, 0.025, 0.0125]
    assert history.history["learning_rate"] == [0.025, 0.0125, 0.00625]
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.0125." in capsys.readouterr().out


def test_learning_rate_scheduler_takes_a_function_of_the_epoch_alone():
    model = small_model()
    x, y = data()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.1 * (epoch + 1))])
    assert model.optimizer.learning_rate == 0.2


def test_learning_rate_scheduler_refuses_a_schedule_that_returns_no_rate():
    x, y = data()
    with pytest.raises(ValueError, match="the schedule must return a non-negative number, but for epoch 0 it "
                                         "returned None"):
        small_model().fit(x, y, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: None)])


def test_learning_rate_callbacks_refuse_an_optimizer_made_with_a_schedule_as_keras_does():
    model = small_model()
    model.compile(optimizer=scratchconv.optimizers.SGD(scratchconv.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)),
                  loss="categorical_crossentropy")
    x, y = data()
    with pytest.raises(TypeError, match="SGD was made with the learning-rate schedule ExponentialDecay"):
        model.fit(x, y, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: lr)])


class Feed(callbacks.Callback):
    """Puts the given values into the logs as "val_loss", one per epoch (before the callbacks after it)."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_reduce_lr_on_plateau_waits_patience_epochs_reduces_then_cools_down(capsys):
    model = small_model(1.0)
    x, y = data()
    values = [1.0, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.4]
    reduce = callbacks.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.2, verbose=1)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[Feed(values), reduce])
    # Keras's count: no improvement from epoch 2 (from 0) on, so wait reaches 2 at epoch 3 and the
    # rate halves; epoch 4 ends the cooldown and waits again (1), epoch 5 reduces, ... down to
    # min_lr. Each epoch logs the rate it trained with, before its own reduction.
    assert history.history["learning_rate"] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]
    assert model.optimizer.learning_rate == 0.2
    assert "Epoch 4: ReduceLROnPlateau reducing learning rate to 0.5." in capsys.readouterr().out


def test_reduce_lr_on_plateau_counts_only_improvements_beyond_min_delta():
    model = small_model(1.0)
    x, y = data()
    model.fit(x, y, epochs=3, verbose=0, callbacks=[
        Feed([1.0, 0.99995, 0.9999]), callbacks.ReduceLROnPlateau(factor=0.5, patience=2)])
    assert model.optimizer.learning_rate == 0.5


# ----- CSVLogger -----------------------------------------------------------------------------

def test_csv_logger_writes_one_row_per_epoch_as_keras_does(tmp_path):
    path = tmp_path / "log.csv"
    model = small_model()
    x, y = data()
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.2, callbacks=[callbacks.CSVLogger(path)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert len(lines) == 4 and lines[2].startswith("1,")
    assert float(lines[3].split(",")[2]) == history.history["loss"][2]


def test_csv_logger_without_validation_has_na_val_columns_and_appends_without_a_second_header(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data()
    small_model().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path, separator=";")])
    small_model().fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.CSVLogger(path, separator=";", append=True)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch;accuracy;loss;val_accuracy;val_loss"
    assert [line.split(";")[0] for line in lines[1:]] == ["0", "0", "1"] and lines[1].endswith(";NA;NA")


def test_csv_logger_starts_a_new_file_unless_appending(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("old\n")
    x, y = data()
    small_model().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path)])
    assert "old" not in path.read_text()


def test_csv_logger_into_a_missing_folder_says_so(tmp_path):
    x, y = data()
    with pytest.raises(OSError, match="CSVLogger: cannot write the log file .*missing"):
        small_model().fit(x, y, verbose=0, callbacks=[callbacks.CSVLogger(tmp_path / "missing" / "log.csv")])
