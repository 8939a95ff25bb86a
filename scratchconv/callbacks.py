"""Callbacks: code that ``fit`` runs at fixed points of training, as in Keras.

    model.fit(x, y, epochs=50, validation_split=0.2, callbacks=[
        callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
        callbacks.ModelCheckpoint("runes-{epoch:02d}.npz", save_best_only=True),
    ])

``fit`` calls, in this order: ``on_train_begin``; for every epoch ``on_epoch_begin``, then for
every step ``on_train_batch_begin`` and ``on_train_batch_end`` (with the epoch's running mean
loss and metrics), then ``on_epoch_end`` (with the epoch's loss, metrics and validation
results, the values ``History`` records); at last ``on_train_end``. ``epoch`` and ``batch``
count from 0. A callback stops training by setting ``self.model.stop_training = True``; ``fit``
finishes the epoch in progress and returns.
"""
import math
import os
import warnings


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
    """What EarlyStopping and ModelCheckpoint share: watching one logged value for improvement.

    mode "min" wants the value to fall, "max" to rise; "auto" is "max" for accuracies and "min"
    for everything else (losses), as in Keras.
    """

    def __init__(self, monitor, mode, min_delta=0.0):
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
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be a non-negative int, got {patience!r}")
        self.patience = patience
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


def callback_list(callbacks, model):
    """``callbacks`` checked and bound to ``model``: a list of Callback objects."""
    callbacks = list(callbacks or [])
    for c in callbacks:
        if not isinstance(c, Callback):
            raise ValueError(f"fit: callbacks must be scratchconv.callbacks.Callback objects, got {c!r}")
        c.set_model(model)
    return callbacks
