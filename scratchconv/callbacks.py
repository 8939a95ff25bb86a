"""Callbacks: code that ``fit`` runs at fixed points of training, as in Keras.

    model.fit(x, y, epochs=50, validation_split=0.2, callbacks=[
        callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
        callbacks.ModelCheckpoint("runes-{epoch:02d}.npz", save_best_only=True),
    ])

``fit`` calls, in this order: ``on_train_begin``; for every epoch ``on_epoch_begin``, then for
every step ``on_train_batch_begin`` and ``on_train_batch_end`` (with the epoch's running mean
loss and metrics), then ``on_epoch_end`` (with the epoch's loss, metrics and validation
results); at last ``on_train_end``. ``epoch`` and ``batch`` count from 0. As in Keras, the
callbacks of an epoch's end share one ``logs`` dict, and ``History`` and the progress bar read
it after them, so a value a callback adds (the learning rate, by LearningRateScheduler and
ReduceLROnPlateau) is recorded and printed too. A callback stops training by setting
``self.model.stop_training = True``; ``fit`` finishes the epoch in progress and returns.
"""
import csv
import inspect
import math
import os
import warnings

import numpy as np

from .checks import check_number, is_int, is_number


class Callback:
    """The base class: every hook does nothing. ``self.model`` is the model being trained."""

    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class LambdaCallback(Callback):
    """A callback from plain functions, e.g.
    ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))``.

    Each argument is a function taking the hook's arguments (``logs`` alone for
    ``on_train_begin`` and ``on_train_end``; ``epoch`` or ``batch``, then ``logs``, otherwise).
    """

    def __init__(self, on_train_begin=None, on_train_end=None, on_epoch_begin=None,
                 on_epoch_end=None, on_train_batch_begin=None, on_train_batch_end=None):
        hooks = {"on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_batch_begin": on_train_batch_begin, "on_train_batch_end": on_train_batch_end}
        for name, function in hooks.items():
            if function is not None:
                if not callable(function):
                    raise ValueError(f"LambdaCallback: {name} must be a function, got {function!r}")
                setattr(self, name, function)


class _Monitor(Callback):
    """What EarlyStopping, ModelCheckpoint and ReduceLROnPlateau share: watching one logged value
    for improvement.

    mode "min" wants the value to fall, "max" to rise; "auto" is "max" for accuracies and "min"
    for everything else (losses), as in Keras.
    """

    def __init__(self, monitor, mode, min_delta=0.0):
        if not is_number(min_delta) or not np.isfinite(min_delta):
            raise ValueError(f"{type(self).__name__}: min_delta must be a number, got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if mode == "min" else -math.inf

    def _improved(self, current):
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def _current(self, logs):
        """The monitored value, or None (with a warning naming what is there) when not logged."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__} watches {self.monitor!r}, which fit does not log; "
                          f"it logs {', '.join(sorted(logs or {})) or 'nothing'}", stacklevel=3)
        return value


class EarlyStopping(_Monitor):
    """Stop training when ``monitor`` has stopped improving, as Keras's ``EarlyStopping``.

    An epoch improves on the best so far when its value is better by more than ``min_delta``;
    after ``patience`` epochs in a row without improvement, training stops. With
    ``restore_best_weights`` the model then gets back the weights of its best epoch (when
    training runs to the end without stopping, the last weights are kept, as in Keras).
    ``stopped_epoch`` is the epoch (from 0) after which training stopped, or 0.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 restore_best_weights=False):
        super().__init__(monitor, mode, min_delta)
        self.patience = _count(patience, "patience", "EarlyStopping")
        self.verbose = verbose
        self.restore_best_weights = bool(restore_best_weights)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if current is None:
            return
        self.wait += 1
        if self._improved(current):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)
            if self.verbose:
                restored = (f"; restored the weights of epoch {self.best_epoch + 1}"
                            if self.restore_best_weights and self.best_weights is not None else "")
                print(f"Epoch {epoch + 1}: early stopping{restored}")


class ModelCheckpoint(_Monitor):
    """Save the model (``model.save``, optimizer state included) at the end of every epoch.

    ``filepath`` may hold ``{epoch}`` (counted from 1) and any logged value, formatted as by
    ``str.format``: ``"runes-{epoch:02d}-{val_loss:.2f}.npz"``. With ``save_best_only`` a file is
    written only when ``monitor`` improved on the best so far. Every save is atomic, so a file
    at ``filepath`` is always a whole model.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, mode="auto"):
        super().__init__(monitor, mode)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = self._current(logs)
            if current is None or not self._improved(current):
                return
            self.best = current
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(f"ModelCheckpoint: cannot fill in the file name {self.filepath!r} "
                             f"({type(err).__name__}: {err}); it may use {{epoch}} and "
                             f"{', '.join('{' + k + '}' for k in logs)}") from None
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the model to {path}")


def _count(value, what, cls):
    """A non-negative int, or a ValueError naming it."""
    if not is_int(value) or value < 0:
        raise ValueError(f"{cls}: {what} must be a non-negative int, got {value!r}")
    return int(value)


def _log_learning_rate(model, logs):
    """Keras's LearningRateScheduler and ReduceLROnPlateau add the learning rate to the epoch's logs."""
    if logs is not None:
        logs["learning_rate"] = float(model.optimizer.learning_rate)


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule``, Keras's
    ``LearningRateScheduler``.

    schedule : function ``(epoch, lr) -> new lr`` (epoch counted from 0, lr the current rate),
        or ``(epoch) -> new lr``; it must return a non-negative number.
    verbose : 0 (silent) or 1 (prints "Epoch 3: LearningRateScheduler setting learning rate
        to 0.001.")

    The epoch's logs (and so ``History``) get the rate as "learning_rate". An optimizer made
    with a schedule from :mod:`scratchconv.optimizers.schedules` refuses a number, as in Keras.
    """

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise ValueError(f"LearningRateScheduler: schedule must be a function (epoch, lr) -> lr, got "
                             f"{schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        try:
            parameters = inspect.signature(schedule).parameters.values()
            positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            self._takes_lr = len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)
        except (TypeError, ValueError):  # a builtin without a signature: Keras's new API
            self._takes_lr = True

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = self.schedule(epoch, float(optimizer.learning_rate)) if self._takes_lr else self.schedule(epoch)
        if not is_number(lr) or not np.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler: the schedule must return a non-negative number, but for "
                             f"epoch {epoch} it returned {lr!r}")
        optimizer.learning_rate = float(lr)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        _log_learning_rate(self.model, logs)


class ReduceLROnPlateau(_Monitor):
    """Reduce the learning rate when ``monitor`` has stopped improving, Keras's
    ``ReduceLROnPlateau``.

    An epoch improves when its value beats the best so far by more than ``min_delta``. After
    ``patience`` epochs in a row without improvement the rate becomes
    ``max(lr * factor, min_lr)`` (if it is above min_lr), then ``cooldown`` epochs pass before
    waiting starts again. ``mode``: "min", "max" or "auto" (as EarlyStopping). The epoch's logs
    get the rate as "learning_rate" (before the reduction, as Keras logs it).
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        if not is_number(factor) or not 0 <= factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1) (the rate is multiplied by it), "
                             f"got {factor!r}")
        self.factor = float(factor)
        self.patience = _count(patience, "patience", "ReduceLROnPlateau")
        self.cooldown = _count(cooldown, "cooldown", "ReduceLROnPlateau")
        self.min_lr = check_number(min_lr, "min_lr", "ReduceLROnPlateau")
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        _log_learning_rate(self.model, logs)
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                optimizer = self.model.optimizer
                old_lr = float(optimizer.learning_rate)
                # Keras compares with min_lr rounded to float32, its learning rate's usual dtype.
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file, Keras's ``CSVLogger``.

    filename : str or os.PathLike
    separator : the field delimiter (default ",")
    append : add to an existing file (its header kept) instead of starting a new one

    The columns are "epoch" (from 0) and the logged values in sorted order, with a val_ column
    for each when there is no validation data, as Keras writes them ("NA" where a value is
    missing). Each row is written and flushed at the end of its epoch (the file is opened for
    that row and closed again), so after a crash the file holds every finished epoch.
    """

    def __init__(self, filename, separator=",", append=False):
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be one character, got {separator!r}")
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)

    def on_train_begin(self, logs=None):
        self.keys = None
        try:
            if self.append and os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as f:
                    self._write_header = not f.readline()
            else:
                open(self.filename, "w", encoding="utf-8").close()
                self._write_header = True
        except OSError as err:
            raise OSError(f"CSVLogger: cannot write the log file {self.filename}: {err.strerror or err}") from err

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        with open(self.filename, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["epoch"] + self.keys, delimiter=self.separator)
            if self._write_header:
                writer.writeheader()
                self._write_header = False
            writer.writerow({"epoch": epoch, **{key: logs.get(key, "NA") for key in self.keys}})


def callback_list(callbacks, model):
    """``callbacks`` checked and bound to ``model``: a list of Callback objects."""
    callbacks = list(callbacks or [])
    for c in callbacks:
        if not isinstance(c, Callback):
            raise ValueError(f"fit: callbacks must be scratchconv.callbacks.Callback objects, got {c!r}")
        c.set_model(model)
    return callbacks
