"""The training loop of a model (Keras's ``compile`` / ``fit`` workflow), which
:class:`scratchconv.Sequential` inherits: compile, fit, evaluate, predict, and the data checks.

It uses the model's stack of layers only through ``layers``, ``dtype``, ``name``,
``output_shape``, ``_cast`` (x as an array of the model's dtype, the model built for it),
``_forward(x, training)`` / ``_backward(d, need_dx, from_logits)`` (the model's steps, see
:mod:`scratchconv.steps`) and ``_params_and_grads()``.

The low-level API (used by the tests, the tf.keras twin and the benchmarks):

- ``train_on_batch(x, y, sample_weight=None, class_weight=None) -> loss``: one forward,
  backward and optimizer step
- ``loss_and_gradients(x, y) -> (loss, grads, dx)``, ``grads`` in ``trainable_weights`` order

When the last layer ends in the activation the loss reads logits from (a softmax for the
categorical cross-entropies, a sigmoid for the binary one), the loss and its gradient come
from that activation's logits (see :mod:`scratchconv.losses`), as tf.keras does.

Sample weights (``sample_weight``, or ``class_weight`` turned into them) scale each sample's
loss; a batch's loss is ``sum_n w_n loss_n / N`` (Keras's "sum over batch size"). The
accuracy is not weighted, as Keras's ``metrics`` are not.
"""
import math
import numbers
import warnings

import numpy as np

from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .checks import check_finite, is_int, is_number
from .layers import Flatten, Softmax
from .layers.base import shape_str
from .progress import ProgressBar
from .random import generator
from .steps import ConvPoolPairStep

# Non-negative image inputs reaching above this look like unscaled 0-255 pixels: scaled images
# are at most 1 (standardised ones, which can exceed it, have negative values too).
UNSCALED = 1.5


# Samples per pass of predict's convolutional steps (see ``Training._predict_batch``), when a
# step among them writes its whole output for the pass (a ConvPoolPairStep writes only its
# second pooled output, and runs in one pass). ``python -m benchmarks.choices --only
# predict-passes --repeats 9`` (2-core Xeon, 2026-12-02, load average 6.5 from other work; ms
# per 256 samples at batch 256 of the tutorial model then run as two ConvPoolSteps, two threads
# by the wall clock / one thread by CPU time): passes of 16: 43.6 / 75.9, of 32: 43.3 / 79.1, of
# 64: 44.9 / 76.3, every step in one pass of 256: 46.2 / 72.8. On one thread a single pass does
# as well, on two cores small passes do.
PREDICT_CHUNK = 32


class History:
    """What ``fit`` returns: ``history`` maps "loss", "accuracy", "val_loss", "val_accuracy"
    to one value per epoch; ``epoch`` lists the epoch indices."""

    def __init__(self, model, params):
        self.model = model
        self.params = params
        self.epoch = []
        self.history = {}

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


class Training:
    """compile / fit / evaluate / predict / train_on_batch / loss_and_gradients for a model
    that runs its layers as steps (see the module docstring for what it needs of the model)."""

    def __init__(self):
        self.optimizer = None
        self.stop_training = False
        self.loss = None
        self.metrics = []
        self._warned_unscaled = False

    # ----- one batch -------------------------------------------------------------------------

    def _from_logits(self):
        """True when the loss reads the logits of the model's final activation (a softmax for
        the categorical cross-entropies, a sigmoid for the binary one), as tf.keras does."""
        last = self.layers[-1]
        final = "softmax" if isinstance(last, Softmax) else getattr(last, "activation", None)
        return self.loss.logits_of is not None and final == self.loss.logits_of

    def _forward_backward(self, x, y, need_dx, sample_weight=None):
        """Forward, loss and backward for one batch: (loss, y_pred, dx)."""
        y_pred = self._forward(x, training=True)
        if self.loss.logits_given:  # from_logits=True: the output itself is the logits
            loss, d = self.loss.from_logits(y, y_pred, None, sample_weight)
            dx = self._backward(d, need_dx, from_logits=False)
        elif self._from_logits():
            loss, dz = self.loss.from_logits(y, self.layers[-1].logits, y_pred, sample_weight)
            dx = self._backward(dz, need_dx, from_logits=True)
        else:
            loss = self.loss(y, y_pred, sample_weight)
            dx = self._backward(self.loss.gradient(y, y_pred, sample_weight), need_dx, from_logits=False)
        return float(loss), y_pred, dx

    def _loss_of(self, y, y_pred, sample_weight=None):
        """The loss of a batch whose forward just ran (from the logits when the loss reads them)."""
        if self.loss.logits_given:
            return float(self.loss.loss_from_logits(y, y_pred, sample_weight))
        if self._from_logits():
            return float(self.loss.loss_from_logits(y, self.layers[-1].logits, sample_weight))
        return float(self.loss(y, y_pred, sample_weight))

    def _require_compiled(self, what):
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"{what} needs a compiled model: call model.compile(optimizer=..., loss=...) first")

    def loss_and_gradients(self, x, y):
        """Loss of a batch and its gradients, without updating anything.

        Returns ``(loss, grads, dx)``: the mean loss (float), the gradients of
        ``model.trainable_weights``, in that order (``get_weights()`` order for a model without
        non-trainable weights), and dL/dx of shape (n,) + input_shape.
        """
        self._require_compiled("loss_and_gradients")
        x, y = self._check_data(x, y, "loss_and_gradients")
        loss, _, dx = self._forward_backward(x, y, need_dx=True)
        return loss, [g for _, g in self._params_and_grads()], dx

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None):
        """One training step on a batch: forward, backward, optimizer update. Returns the loss.

        x and y are checked as ``fit`` checks them (shapes, labels, finite values), so a NaN
        in the input is refused instead of turning every weight into NaN.
        sample_weight : ndarray (n,) or None;  class_weight : dict class -> weight or None
            (see :meth:`fit`).
        """
        self._require_compiled("train_on_batch")
        x, y = self._check_data(x, y, "train_on_batch")
        sample_weight = self._check_weights(sample_weight, class_weight, y, "train_on_batch")
        loss, _, _ = self._forward_backward(x, y, need_dx=False, sample_weight=sample_weight)
        self.optimizer.apply_gradients((g, p) for p, g in self._params_and_grads())
        return loss

    # ----- compile ---------------------------------------------------------------------------

    def compile(self, optimizer, loss, metrics=None):
        """Choose the optimizer ("sgd", "adam", "adamw", "rmsprop", an object or a config dict),
        the loss ("categorical_crossentropy", "sparse_categorical_crossentropy",
        "binary_crossentropy", "mean_squared_error" / "mse", or a losses.Loss object such as
        ``losses.SparseCategoricalCrossentropy(from_logits=True)``) and the metrics (["accuracy"]
        or None)."""
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        self.metrics = metrics_module.check(metrics)
        if self.loss.logits_given and self.layers and self._from_logits():
            # Keras warns the same way and, like scratchconv, applies the activation twice.
            warnings.warn(f"{self.loss.name} was given from_logits=True, but model {self.name!r} ends in a "
                          f"{self.loss.logits_of}, so its outputs are not logits; leave the last "
                          f"activation out, or from_logits at False", stacklevel=2)

    def get_compile_config(self):
        """None if not compiled, else ``{"optimizer": {"class_name", "config"}, "loss", "metrics"}``,
        which ``compile(**config)`` accepts."""
        if self.optimizer is None:
            return None
        return {"optimizer": optimizers_module.serialize(self.optimizer), "loss": losses_module.serialize(self.loss),
                "metrics": list(self.metrics)}

    # ----- fit, evaluate, predict -----------------------------------------------------------

    def _check_x(self, x, where):
        """x cast to the model's dtype, non-empty, finite, and of the shape the first layer takes."""
        x = self._cast(x, f"{where}: x")
        first = self.layers[0]
        if x.ndim == 0 or x.shape[1:] != first.input_shape:
            raise ValueError(f"{where}: {first.describe()} expected input of shape "
                             f"{shape_str((None,) + first.input_shape)}, got x of shape {shape_str(x.shape)}")
        if len(x) == 0:
            raise ValueError(f"{where}: x holds no samples")
        return x

    def _warn_if_unscaled(self, x, where, extremes=None):
        """Warn, once per model, when images x (n, h, w, c) are non-negative and reach above
        UNSCALED: pixels of 0-255 that were not divided by 255 (the loader's images are in
        [0, 1]), which train and predict without an error, but badly. ``extremes``: x's
        (min, max) when the caller has them (``check_finite``'s), else they are read from x."""
        if self._warned_unscaled or x.ndim != 4:
            return
        top = float(x.max() if extremes is None else extremes[1])
        if top > UNSCALED and float(x.min() if extremes is None else extremes[0]) >= 0:
            self._warned_unscaled = True
            warnings.warn(f"{where}: the images in x reach {top:g}, as pixels of 0-255 do: scale "
                          f"them to [0, 1] (x / 255) as the model's training images were "
                          f"(this warning is given once per model)", stacklevel=3)

    def _check_y(self, y, n, where):
        """y as the loss expects it (each loss checks its own targets, see
        ``Loss.check_targets``): rows (n, k) in the model's dtype, or int64 labels (n,)."""
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: y must be an array of numbers, got {type(y).__name__}: {err}") from None
        if y.ndim == 0 or len(y) != n:
            raise ValueError(f"{where}: x has {n} samples but y has {len(y) if y.ndim else 'none (a scalar)'}; "
                             f"they must match")
        if len(self.output_shape) != 1:
            raise ValueError(f"{where}: {self.loss.name} needs model outputs of shape (None, classes), but model "
                             f"{self.name!r} outputs {shape_str((None,) + self.output_shape)}; end it with "
                             f"Flatten and Dense")
        return self.loss.check_targets(y, self.output_shape[0], self.dtype, where)

    def _check_weights(self, sample_weight, class_weight, y, where):
        """The per-sample weights (n,) in the model's dtype, or None without either argument.

        ``class_weight`` gives a sample of class c the weight ``class_weight[c]`` (1 for a class
        not listed), as Keras 3 does; the class of a sample is its label, the argmax of its
        one-hot row, or its rounded target when the model has one output.
        """
        if sample_weight is not None and class_weight is not None:
            raise ValueError(f"{where}: give sample_weight or class_weight, not both (Keras refuses both too)")
        if sample_weight is not None:
            try:
                w = np.asarray(sample_weight, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{where}: sample_weight must be an array of numbers, got "
                                 f"{type(sample_weight).__name__}: {err}") from None
            if w.shape not in ((len(y),), (len(y), 1)):
                raise ValueError(f"{where}: sample_weight must hold one weight per sample, shape ({len(y)},), "
                                 f"got shape {w.shape}")
            w = w.reshape(len(y))
            bad = ~np.isfinite(w) | (w < 0)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"{where}: sample weights must be finite and non-negative; sample {i} has "
                                 f"{w[i]:g}")
            return w.astype(self.dtype)
        if class_weight is None:
            return None
        k = self.output_shape[-1]
        classes = range(max(k, 2))  # one output: classes 0 and 1
        if not isinstance(class_weight, dict):
            raise ValueError(f"{where}: class_weight must be a dict class -> weight, got "
                             f"{type(class_weight).__name__}")
        for c, weight in class_weight.items():
            if not is_int(c) or c not in classes:
                raise ValueError(f"{where}: class_weight's keys must be classes, integers from 0 to "
                                 f"{classes[-1]}, got {c!r}")
            if not is_number(weight) or not np.isfinite(weight) or weight < 0:
                raise ValueError(f"{where}: class_weight[{c}] must be a finite non-negative number, got {weight!r}")
        labels = y if y.ndim == 1 else y[:, 0] if y.shape[1] == 1 else np.argmax(y, axis=-1)
        labels = np.round(labels).astype(np.int64)
        return np.array([class_weight.get(int(c), 1.0) for c in labels], dtype=self.dtype)

    def _check_data(self, x, y, where):
        x = self._check_x(x, where)
        check_finite(x, "x", where)
        return x, self._check_y(y, len(x), where)

    def fit(self, x, y, epochs=1, batch_size=32, shuffle=True, validation_split=0.0,
            validation_data=None, verbose=1, callbacks=None, class_weight=None, sample_weight=None,
            initial_epoch=0):
        """Train for ``epochs`` passes over (x, y); returns a :class:`History`.

        x : ndarray of shape (n,) + input_shape
        y : the targets the loss takes (``Loss.check_targets``): one-hot rows (n, k), integer
            labels (n,) with the sparse loss, targets (n, k) or (n,) for one output with
            binary_crossentropy and mean_squared_error
        validation_split : float in [0, 1)
            Hold out the *last* fraction of x, y (and sample_weight) before shuffling, as Keras does.
        validation_data : (x_val, y_val), (x_val, y_val, sample_weight_val) or None
            Overrides ``validation_split``.
        verbose : 0 (silent), 1 (progress bar) or 2 (one line per epoch)
        callbacks : list of :class:`scratchconv.callbacks.Callback`, run at the points that
            module describes; one that sets ``model.stop_training`` ends training after the
            epoch in progress
        class_weight : dict class -> weight, or None
            Each training sample's loss is scaled by the weight of its class (1 for a class
            not listed), as Keras 3 does; not the validation data's.
        sample_weight : ndarray of shape (n,), or None
            Each sample's loss is scaled by its weight (not with ``class_weight``). A batch's
            loss is ``sum(w * loss) / batch size``; the accuracy stays unweighted, as Keras's
            ``metrics`` do.
        initial_epoch : int
            The epoch to start at (to resume a run): epochs ``initial_epoch`` to ``epochs - 1``
            run, printed as "Epoch initial_epoch + 1/epochs" and recorded in ``History.epoch``
            under their own numbers, as in Keras.

        Each epoch visits the samples in a fresh permutation from the seeded generator (when
        ``shuffle``); the last batch may be smaller. The epoch's loss and metrics are means over
        its samples. A non-finite loss, gradient or updated weight stops training with a
        FloatingPointError naming the epoch and step; the weights (and the optimizer's state)
        are then those after the last finite step.
        """
        self._require_compiled("fit")
        epochs = _positive_int(epochs, "epochs")
        batch_size = _positive_int(batch_size, "batch_size")
        verbose = _verbosity(verbose)
        if not is_int(initial_epoch) or initial_epoch < 0:
            raise ValueError(f"fit: initial_epoch must be a non-negative int, got {initial_epoch!r}")
        if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real):
            raise TypeError(f"fit: validation_split must be a number in [0, 1), got "
                            f"{validation_split!r} (a {type(validation_split).__name__})")
        x, y = self._check_data(x, y, "fit")
        self._warn_if_unscaled(x, "fit")
        weights = self._check_weights(sample_weight, class_weight, y, "fit")
        val_weights = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be a pair (x_val, y_val) or a triple "
                                 "(x_val, y_val, sample_weight_val)")
            x_val, y_val = self._check_data(*validation_data[:2], "fit: validation_data")
            if len(validation_data) == 3:
                val_weights = self._check_weights(validation_data[2], None, y_val, "fit: validation_data")
        elif validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
            split_at = math.floor(len(x) * (1 - validation_split))
            if split_at in (0, len(x)):
                raise ValueError(f"fit: {len(x)} samples are too few to hold out validation_split="
                                 f"{validation_split} of them and keep some for training")
            x, x_val, y, y_val = x[:split_at], x[split_at:], y[:split_at], y[split_at:]
            if weights is not None:
                # class_weight weighs the training samples only, as in Keras
                weights, val_weights = weights[:split_at], None if class_weight is not None else weights[split_at:]
        else:
            x_val = y_val = None
        callbacks = callbacks_module.callback_list(callbacks, self)
        n = len(x)
        steps = math.ceil(n / batch_size)
        history = History(self, {"epochs": epochs, "steps": steps, "verbose": verbose})
        self.stop_training = False
        logs = {}
        _run(callbacks, "on_train_begin", {})
        for epoch in range(int(initial_epoch), epochs):
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            _run(callbacks, "on_epoch_begin", epoch, {})
            order = generator().permutation(n) if shuffle else np.arange(n)
            bar = ProgressBar(steps, verbose)
            means = _Means(self.metrics)
            for step in range(steps):
                _run(callbacks, "on_train_batch_begin", step, {})
                batch = order[step * batch_size:(step + 1) * batch_size]
                x_batch, y_batch = x[batch], y[batch]
                w_batch = None if weights is None else weights[batch]
                # Overflow shows up as a non-finite loss or gradient, checked just below with a
                # message naming the step, so NumPy's own warnings would only add noise.
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    loss, y_pred, _ = self._forward_backward(x_batch, y_batch, need_dx=False,
                                                             sample_weight=w_batch)
                pairs = self._params_and_grads()
                if not np.isfinite(loss) or not all(np.isfinite(g).all() for _, g in pairs):
                    what = f"loss became {loss}" if not np.isfinite(loss) else "the gradients became non-finite"
                    raise FloatingPointError(f"{what} at epoch {epoch + 1}, step {step + 1}; training stopped "
                                             f"and the weights are those after the last finite step")
                last_finite = (self.get_weights(), self.optimizer.get_state([p for p, _ in pairs]))
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    self.optimizer.apply_gradients((g, p) for p, g in pairs)
                if not all(np.isfinite(p).all() for p, _ in pairs):
                    # A step too large for the float range (a huge learning rate, Adam with
                    # epsilon=0 on a zero gradient): undo it, weights and optimizer state.
                    self.set_weights(last_finite[0])
                    self.optimizer.set_state([p for p, _ in pairs], *last_finite[1])
                    raise FloatingPointError(
                        f"the weights became non-finite in the optimizer's update at epoch "
                        f"{epoch + 1}, step {step + 1} (is the learning rate too large, or Adam's "
                        f"epsilon 0?); training stopped and the weights are those after the last "
                        f"finite step")
                means.add(loss, y_batch, y_pred)
                running = means.result()
                bar.update(step + 1, running)
                _run(callbacks, "on_train_batch_end", step, running)
            logs = means.result()
            if x_val is not None:
                val = self._evaluate_arrays(x_val, y_val, val_weights, batch_size, verbose=0)
                logs.update({f"val_{k}": v for k, v in val.items()})
            _run(callbacks, "on_epoch_end", epoch, logs)  # they may add to logs, as in Keras
            bar.finish(logs)
            history.append(epoch, logs)
            if self.stop_training:
                break
        _run(callbacks, "on_train_end", dict(logs))
        return history

    def _evaluate_arrays(self, x, y, weights, batch_size, verbose):
        """Loss and metrics over checked arrays, as ``fit`` averages them: {"accuracy": ..., "loss": ...}."""
        steps = math.ceil(len(x) / batch_size)
        bar = ProgressBar(steps, verbose)
        means = _Means(self.metrics)
        for step in range(steps):
            rows = slice(step * batch_size, (step + 1) * batch_size)
            y_pred = self._forward(x[rows], training=False)
            w_batch = None if weights is None else weights[rows]
            means.add(self._loss_of(y[rows], y_pred, w_batch), y[rows], y_pred)
            bar.update(step + 1, means.result())
        logs = means.result()
        bar.finish(logs)
        return logs

    def evaluate(self, x, y, batch_size=32, verbose=1, sample_weight=None):
        """The loss over (x, y) — and the metrics: returns ``loss`` without metrics, else
        ``[loss, accuracy]`` (Keras's order). ``sample_weight`` (n,) weighs each sample's loss
        as in :meth:`fit`."""
        self._require_compiled("evaluate")
        x, y = self._check_data(x, y, "evaluate")
        weights = self._check_weights(sample_weight, None, y, "evaluate")
        logs = self._evaluate_arrays(x, y, weights, _positive_int(batch_size, "batch_size"), _verbosity(verbose))
        return logs["loss"] if not self.metrics else [logs["loss"]] + [logs[m] for m in self.metrics]

    def predict(self, x, batch_size=32, verbose=1):
        """The model's outputs for x, ``batch_size`` samples per progress step.

        x : ndarray of shape (n,) + input_shape  ->  ndarray of shape (n,) + output_shape

        Each step's batch goes through the steps before the first one that takes flat input
        (the convolutions, whose activations are large per sample) in passes of at most
        ``PREDICT_CHUNK`` samples, so that a pass's activations stay in cache, and through the
        rest (the dense layers, whose kernels are large) in one pass, so that each kernel is
        read once per batch, not once per pass; convolutions that run as ConvPoolPairSteps keep
        each sample's activations in its thread's cache themselves, and run in one pass over
        the batch (:meth:`_predict_batch`).
        """
        x = self._check_x(x, "predict")
        self._warn_if_unscaled(x, "predict", check_finite(x, "x", "predict"))
        batch_size = _positive_int(batch_size, "batch_size")
        steps = math.ceil(len(x) / batch_size)
        bar = ProgressBar(steps, _verbosity(verbose))
        out = np.empty((len(x),) + self.output_shape, dtype=self.dtype)
        for step in range(steps):
            rows = slice(step * batch_size, min((step + 1) * batch_size, len(x)))
            out[rows] = self._predict_batch(x[rows])
            bar.update(step + 1, {})
        bar.finish({})
        return out

    def _predict_batch(self, x):
        """predict's outputs for one batch x (n,) + input_shape: one pass of every step when n
        is at most PREDICT_CHUNK, or when the steps before the first that takes flat input write
        no large activations (``_in_one_pass``); else
        those steps in passes of at most PREDICT_CHUNK samples, their outputs gathered, then
        the remaining steps in one pass over all n. ``python -m benchmarks.choices --only
        predict-passes`` times it against other pass sizes."""
        steps = self.inference_steps
        flat = next((i for i, step in enumerate(steps) if len(step.layers[0].input_shape) == 1),
                    len(steps))
        if len(x) <= PREDICT_CHUNK or all(map(_in_one_pass, steps[:flat])):
            return self._forward(x, training=False)
        head = None
        for start in range(0, len(x), PREDICT_CHUNK):
            part = self._forward(x[start:start + PREDICT_CHUNK], training=False, steps=steps[:flat])
            if head is None:
                head = np.empty((len(x),) + part.shape[1:], dtype=part.dtype)
            head[start:start + len(part)] = part  # a copy: a step's output is overwritten by its next pass
        y = self._forward(head, training=False, steps=steps[flat:]) if flat < len(steps) else head
        # A backward would run each step back from what its last pass kept: the dense steps
        # from all n samples, the others from the last pass's few (a numba kernel given both
        # would write past its arrays). It says why it cannot instead (Sequential._backward).
        self._ran = None
        return y


def _in_one_pass(step):
    """Whether predict runs a step before the dense ones over the whole batch at once: a
    ConvPoolPairStep keeps each sample's activations in its thread's scratch and writes only
    its small output (``python -m benchmarks.choices --only conv-pairs``), and a Flatten
    writes nothing (a view)."""
    return isinstance(step, ConvPoolPairStep) or isinstance(step.layers[0], Flatten)


class _Means:
    """The running loss and metrics of an epoch (or an evaluation), as Keras's trackers keep
    them: the loss (already weighted by the sample weights) averaged over batches weighted by
    their sizes; each metric averaged over the samples, unweighted (Keras weighs only its
    ``weighted_metrics``, which scratchconv does not have)."""

    def __init__(self, metrics):
        self.sums = dict.fromkeys(metrics, 0.0)
        self.loss = 0.0
        self.samples = 0

    def add(self, loss, y, y_pred):
        """One batch: its loss, targets and outputs."""
        self.loss += loss * len(y_pred)
        self.samples += len(y_pred)
        for m in self.sums:
            self.sums[m] += float(metrics_module.accuracy(y, y_pred).sum())

    def result(self):
        return {**{m: total / self.samples for m, total in self.sums.items()}, "loss": self.loss / self.samples}


def _run(callbacks, hook, *args):
    """Call ``hook`` (e.g. "on_epoch_end") of every callback, in the order given."""
    for c in callbacks:
        getattr(c, hook)(*args)


def _positive_int(value, name):
    if not is_int(value) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _verbosity(verbose):
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), got {verbose!r}")
    return int(verbose)
