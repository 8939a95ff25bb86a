"""Sequential: a stack of layers, trained with Keras's ``compile`` / ``fit`` workflow.

The low-level API (used by the tests, the tf.keras twin and the benchmarks):

- ``forward(x, training=False) -> y`` and ``backward(dy, need_dx=True) -> dx``
- ``train_on_batch(x, y) -> loss``: one forward, backward and optimizer step
- ``loss_and_gradients(x, y) -> (loss, grads, dx)``, ``grads`` in ``get_weights()`` order

When the last layer ends in a softmax and the loss is a cross-entropy, the loss and its
gradient come from the softmax's logits (see :mod:`scratchconv.losses`), as tf.keras does.
"""
import math
import sys

import numpy as np

from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from . import steps as steps_module
from .layers import Layer, Softmax
from .layers import get as get_layer_class
from .layers.base import check_dtype, shape_str, unique_name
from .progress import ProgressBar
from .random import generator


PREDICT_CHUNK = 32  # samples per forward pass in predict


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


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer or None
        Also added one at a time with :meth:`add`.
    name : str or None
    dtype : "float32" (default) or "float64"
        Layers created without a dtype take the model's; inputs are cast to it, so with
        "float64" parameters, activations and gradients are float64 end to end.
    """

    def __init__(self, layers=None, name=None, dtype="float32"):
        self.name = unique_name("sequential") if name is None else str(name)
        self.dtype = check_dtype(dtype)
        self.layers = []
        self.optimizer = None
        self.stop_training = False
        self.loss = None
        self.metrics = []
        self._steps, self._steps_of = [], ()  # self.steps, and the layers it was planned for
        self._ran = []  # the steps the last forward ran, which backward runs back
        for layer in layers or []:
            self.add(layer)

    # ----- structure -------------------------------------------------------------------------

    def add(self, layer):
        """Append a layer; it takes the model's dtype unless it was given its own."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add takes a layer (Conv2D, Dense, ...), got {layer!r}")
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError(f"the model already has a layer named {layer.name!r}; layer names must be unique")
        if layer._given_dtype is None and not layer.built:
            layer.dtype = self.dtype
        self.layers.append(layer)
        index = len(self.layers) - 1
        # As in Keras, a first layer given input_shape= builds the model right away.
        if (index == 0 and layer._given_input_shape is not None) or self.built_up_to(index):
            try:
                self._build_from(index)
            except ValueError:
                self.layers.pop()  # a layer that does not fit is not kept
                raise

    @property
    def built(self):
        """True once every layer has its parameters."""
        return bool(self.layers) and all(layer.built for layer in self.layers)

    def built_up_to(self, index):
        """True when the layers before ``index`` are built (so layer ``index`` can be)."""
        return index > 0 and all(layer.built for layer in self.layers[:index])

    @property
    def input_shape(self):
        """Shape of one input sample (no batch axis), once built; else None."""
        return self.layers[0].input_shape if self.built else None

    @property
    def output_shape(self):
        """Shape of one output sample (no batch axis), once built; else None."""
        last = self.layers[-1] if self.layers else None
        return last.compute_output_shape(last.input_shape) if self.built else None

    def _build_from(self, index):
        """Build layers ``index`` onwards, each from the output shape of the one before."""
        if index > 0:
            shape = self.layers[index - 1].compute_output_shape(self.layers[index - 1].input_shape)
        else:
            shape = self.layers[0].input_shape or self.layers[0]._given_input_shape
        for layer in self.layers[index:]:
            if not layer.built:
                layer.build(shape)
            elif layer.input_shape != tuple(shape):
                raise ValueError(f"{layer.describe()} was built for input {shape_str((None,) + layer.input_shape)} "
                                 f"but the layer before it gives {shape_str((None,) + tuple(shape))}")
            shape = layer.compute_output_shape(shape)

    def build(self, input_shape=None):
        """Create every layer's parameters.

        input_shape : tuple or None
            Keras's batch shape, e.g. ``(None, 50, 50, 3)``; None uses the first layer's
            ``input_shape=``.
        """
        if not self.layers:
            raise ValueError(f"model {self.name!r} has no layers to build")
        if input_shape is None:
            sample = self.layers[0]._given_input_shape or self.layers[0].input_shape
            if sample is None:
                raise ValueError(f"model {self.name!r} does not know its input shape: give the first "
                                 f"layer input_shape=, or call build((None, height, width, channels))")
        else:
            sample = tuple(input_shape)[1:]
        first = self.layers[0]
        if not first.built:
            first.build(sample)
        elif first.input_shape != tuple(sample):
            raise ValueError(f"{first.describe()} was built for input {shape_str((None,) + first.input_shape)}, "
                             f"not {shape_str((None,) + tuple(sample))}")
        self._build_from(1)

    def _ensure_built(self, x):
        if not self.built:
            if not self.layers:
                raise ValueError(f"model {self.name!r} has no layers")
            self.build((None,) + x.shape[1:] if self.layers[0]._given_input_shape is None else None)

    # ----- forward and backward --------------------------------------------------------------

    def _cast(self, x, what="x"):
        """``x`` as an array of the model's dtype, with the model built for it."""
        try:
            x = np.asarray(x, dtype=self.dtype)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{what} must be an array of numbers, got {type(x).__name__}: {err}") from None
        self._ensure_built(x)
        return x

    @property
    def steps(self):
        """The steps the model's own passes run (:mod:`scratchconv.steps`): each Conv2D directly
        followed by a MaxPooling2D it fuses with as one ConvPoolStep, every other layer as a
        LayerStep. Planned again whenever the layers change."""
        if self._steps_of != tuple(self.layers):
            self._steps, self._steps_of = steps_module.plan(self.layers), tuple(self.layers)
        return self._steps

    def forward(self, x, training=False):
        """The model's output for a batch, layer by layer (each layer keeps what its own
        ``backward`` needs).

        x : ndarray of shape (n,) + input_shape  ->  ndarray of shape (n,) + output_shape
        """
        return self._forward(x, training, steps_module.layer_by_layer(self.layers))

    def _forward(self, x, training, steps=None):
        """Run ``steps`` (default :attr:`steps`, fused: the model's own passes fit,
        train_on_batch, evaluate, predict, loss_and_gradients) from first to last; they are
        kept for ``_backward``."""
        x = self._cast(x)
        self._ran = self.steps if steps is None else steps
        for step in self._ran:
            x = step.forward(x, training=training)
        return x

    def __call__(self, x, training=False):
        """``model(x)`` is ``model.forward(x)``, as in Keras."""
        return self.forward(x, training=training)

    def _backward(self, d, need_dx, from_logits):
        """Run the backward of the steps the last forward ran, from the last to the first.

        ``d`` is dL/d(output), or dL/d(logits) of the final softmax when ``from_logits``; the
        first step skips its input gradient unless ``need_dx``.
        """
        if not self._ran:
            raise RuntimeError(f"model {self.name!r} has run no forward yet, so it has nothing to run backward from")
        last = len(self._ran) - 1
        for i in range(last, -1, -1):
            step = self._ran[i]
            keep_dx = need_dx or i > 0
            d = step.backward_from_logits(d, keep_dx) if from_logits and i == last else step.backward(d, keep_dx)
        return d

    def backward(self, dy, need_dx=True):
        """dL/dx from dy = dL/d(output) of the last ``forward``; fills every layer's grads.

        dy : ndarray of shape (n,) + output_shape  ->  ndarray of shape (n,) + input_shape
        (None when ``need_dx`` is False: the first layer then skips its input gradient).
        """
        return self._backward(np.asarray(dy, dtype=self.dtype), need_dx, from_logits=False)

    def _from_logits(self):
        """True when the loss is taken from the logits of a final softmax (as tf.keras does)."""
        last = self.layers[-1]
        return isinstance(last, Softmax) or getattr(last, "activation", None) == "softmax"

    def _forward_backward(self, x, y, need_dx):
        """Forward, loss and backward for one batch: (loss, y_pred, dx)."""
        y_pred = self._forward(x, training=True)
        if self._from_logits():
            loss, dz = self.loss.from_logits(y, self.layers[-1].logits, y_pred)
            dx = self._backward(dz, need_dx, from_logits=True)
        else:
            loss = self.loss(y, y_pred)
            dx = self._backward(self.loss.gradient(y, y_pred), need_dx, from_logits=False)
        return float(loss), y_pred, dx

    def _loss_of(self, y, y_pred):
        """Mean loss of a batch whose forward just ran (from the logits when the model ends in a softmax)."""
        if self._from_logits():
            return float(self.loss.loss_from_logits(y, self.layers[-1].logits))
        return float(self.loss(y, y_pred))

    def _params_and_grads(self):
        """(param, grad) pairs in get_weights() order."""
        return [(layer.params[k], layer.grads[k]) for layer in self.layers for k in layer.params]

    def _require_compiled(self, what):
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"{what} needs a compiled model: call model.compile(optimizer=..., loss=...) first")

    def loss_and_gradients(self, x, y):
        """Loss of a batch and its gradients, without updating anything.

        Returns ``(loss, grads, dx)``: the mean loss (float), the gradients in
        ``get_weights()`` order, and dL/dx of shape (n,) + input_shape.
        """
        self._require_compiled("loss_and_gradients")
        loss, _, dx = self._forward_backward(x, y, need_dx=True)
        return loss, [g for _, g in self._params_and_grads()], dx

    def train_on_batch(self, x, y):
        """One training step on a batch: forward, backward, optimizer update. Returns the loss."""
        self._require_compiled("train_on_batch")
        loss, _, _ = self._forward_backward(x, y, need_dx=False)
        self.optimizer.apply_gradients((g, p) for p, g in self._params_and_grads())
        return loss

    # ----- compile ---------------------------------------------------------------------------

    def compile(self, optimizer, loss, metrics=None):
        """Choose the optimizer ("sgd", "adam", an object or a config dict), the loss
        ("categorical_crossentropy" or "sparse_categorical_crossentropy") and the metrics
        (["accuracy"] or None)."""
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        self.metrics = metrics_module.check(metrics)

    def get_compile_config(self):
        """None if not compiled, else ``{"optimizer": {"class_name", "config"}, "loss", "metrics"}``,
        which ``compile(**config)`` accepts."""
        if self.optimizer is None:
            return None
        return {"optimizer": optimizers_module.serialize(self.optimizer), "loss": self.loss.name,
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

    @staticmethod
    def _check_finite(a, name, where):
        finite = np.isfinite(a.reshape(len(a), -1)).all(axis=1)
        if not finite.all():
            raise ValueError(f"{where}: {name} contains non-finite values (nan or inf), first in sample "
                             f"{int(np.argmin(finite))}")

    def _check_y(self, y, n, where):
        """y as the loss expects it: one-hot rows (n, k) in the model's dtype, or int64 labels (n,)."""
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: y must be an array of numbers, got {type(y).__name__}: {err}") from None
        if len(y) != n:
            raise ValueError(f"{where}: x has {n} samples but y has {len(y)}; they must match")
        if len(self.output_shape) != 1:
            raise ValueError(f"{where}: {self.loss.name} needs model outputs of shape (None, classes), but model "
                             f"{self.name!r} outputs {shape_str((None,) + self.output_shape)}; end it with "
                             f"Flatten and Dense")
        k = self.output_shape[0]
        if self.loss.sparse:
            if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
                raise ValueError(f"{where}: sparse_categorical_crossentropy needs integer labels of shape "
                                 f"(n,) or (n, 1), got y of shape {y.shape}")
            labels = y.reshape(n)
            self._check_finite(labels, "y", where)
            bad = (labels != np.round(labels)) | (labels < 0) | (labels >= k)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"{where}: label {labels[i]:g} at index {i} is out of range: the model has "
                                 f"{k} outputs, so labels must be integers from 0 to {k - 1}")
            return labels.astype(np.int64)
        if y.shape != (n, k):
            raise ValueError(f"{where}: categorical_crossentropy needs one-hot y of shape ({n}, {k}), got y of "
                             f"shape {y.shape} (for integer labels use sparse_categorical_crossentropy)")
        self._check_finite(y, "y", where)
        bad = ((y < 0) | (y > 1)).any(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{where}: y must hold one-hot rows with values in [0, 1]; row {i} has values "
                             f"from {y[i].min():g} to {y[i].max():g}")
        return y.astype(self.dtype)

    def _check_data(self, x, y, where):
        x = self._check_x(x, where)
        self._check_finite(x, "x", where)
        return x, self._check_y(y, len(x), where)

    def _batch_metrics(self, y, y_pred):
        """Per-batch sums of each metric's per-sample values."""
        return {m: float(metrics_module.accuracy(y, y_pred, self.loss.sparse).sum()) for m in self.metrics}

    def fit(self, x, y, epochs=1, batch_size=32, shuffle=True, validation_split=0.0,
            validation_data=None, verbose=1, callbacks=None):
        """Train for ``epochs`` passes over (x, y); returns a :class:`History`.

        x : ndarray of shape (n,) + input_shape
        y : one-hot ndarray of shape (n, k), or integer labels (n,) with the sparse loss
        validation_split : float in [0, 1)
            Hold out the *last* fraction of x, y (before shuffling), as Keras does.
        validation_data : (x_val, y_val) or None
            Overrides ``validation_split``.
        verbose : 0 (silent), 1 (progress bar) or 2 (one line per epoch)
        callbacks : list of :class:`scratchconv.callbacks.Callback`, run at the points that
            module describes; one that sets ``model.stop_training`` ends training after the
            epoch in progress

        Each epoch visits the samples in a fresh permutation from the seeded generator (when
        ``shuffle``); the last batch may be smaller. The epoch's loss and metrics are means over
        its samples. A non-finite loss stops training with a FloatingPointError naming the epoch
        and step; the weights are then those after the last finite step.
        """
        self._require_compiled("fit")
        epochs = _positive_int(epochs, "epochs")
        batch_size = _positive_int(batch_size, "batch_size")
        verbose = _verbosity(verbose)
        x, y = self._check_data(x, y, "fit")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a pair (x_val, y_val)")
            x_val, y_val = self._check_data(*validation_data, "fit: validation_data")
        elif validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
            split_at = math.floor(len(x) * (1 - validation_split))
            if split_at in (0, len(x)):
                raise ValueError(f"fit: {len(x)} samples are too few to hold out validation_split="
                                 f"{validation_split} of them and keep some for training")
            x, x_val, y, y_val = x[:split_at], x[split_at:], y[:split_at], y[split_at:]
        else:
            x_val = y_val = None
        callbacks = callbacks_module.callback_list(callbacks, self)
        n = len(x)
        steps = math.ceil(n / batch_size)
        history = History(self, {"epochs": epochs, "steps": steps, "verbose": verbose})
        self.stop_training = False
        _run(callbacks, "on_train_begin", {})
        for epoch in range(epochs):
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            _run(callbacks, "on_epoch_begin", epoch, {})
            order = generator().permutation(n) if shuffle else np.arange(n)
            bar = ProgressBar(steps, verbose)
            sums, seen = dict.fromkeys(self.metrics + ["loss"], 0.0), 0
            for step in range(steps):
                _run(callbacks, "on_train_batch_begin", step, {})
                batch = order[step * batch_size:(step + 1) * batch_size]
                x_batch, y_batch = x[batch], y[batch]
                # Overflow shows up as a non-finite loss or gradient, checked just below with a
                # message naming the step, so NumPy's own warnings would only add noise.
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    loss, y_pred, _ = self._forward_backward(x_batch, y_batch, need_dx=False)
                pairs = self._params_and_grads()
                if not np.isfinite(loss) or not all(np.isfinite(g).all() for _, g in pairs):
                    what = f"loss became {loss}" if not np.isfinite(loss) else "the gradients became non-finite"
                    raise FloatingPointError(f"{what} at epoch {epoch + 1}, step {step + 1}; training stopped "
                                             f"and the weights are those after the last finite step")
                self.optimizer.apply_gradients((g, p) for p, g in pairs)
                seen += len(batch)
                sums["loss"] += loss * len(batch)
                for m, total in self._batch_metrics(y_batch, y_pred).items():
                    sums[m] += total
                running = {k: v / seen for k, v in sums.items()}
                bar.update(step + 1, running)
                _run(callbacks, "on_train_batch_end", step, running)
            logs = {k: v / seen for k, v in sums.items()}
            if x_val is not None:
                val = self._evaluate_arrays(x_val, y_val, batch_size, verbose=0)
                logs.update({f"val_{k}": v for k, v in val.items()})
            bar.finish(logs)
            history.append(epoch, logs)
            _run(callbacks, "on_epoch_end", epoch, dict(logs))
            if self.stop_training:
                break
        _run(callbacks, "on_train_end", dict(logs))
        return history

    def _evaluate_arrays(self, x, y, batch_size, verbose):
        """Sample-weighted mean loss and metrics over checked arrays: {"accuracy": ..., "loss": ...}."""
        steps = math.ceil(len(x) / batch_size)
        bar = ProgressBar(steps, verbose)
        sums = dict.fromkeys(self.metrics + ["loss"], 0.0)
        for step in range(steps):
            x_batch, y_batch = x[step * batch_size:(step + 1) * batch_size], y[step * batch_size:(step + 1) * batch_size]
            y_pred = self._forward(x_batch, training=False)
            sums["loss"] += self._loss_of(y_batch, y_pred) * len(x_batch)
            for m, total in self._batch_metrics(y_batch, y_pred).items():
                sums[m] += total
            bar.update(step + 1, {k: v / ((step * batch_size) + len(x_batch)) for k, v in sums.items()})
        logs = {k: v / len(x) for k, v in sums.items()}
        bar.finish(logs)
        return logs

    def evaluate(self, x, y, batch_size=32, verbose=1):
        """Mean loss over (x, y) — and the metrics: returns ``loss`` without metrics, else
        ``[loss, accuracy]`` (Keras's order)."""
        self._require_compiled("evaluate")
        x, y = self._check_data(x, y, "evaluate")
        logs = self._evaluate_arrays(x, y, _positive_int(batch_size, "batch_size"), _verbosity(verbose))
        return logs["loss"] if not self.metrics else [logs["loss"]] + [logs[m] for m in self.metrics]

    def predict(self, x, batch_size=32, verbose=1):
        """The model's outputs for x, ``batch_size`` samples per progress step.

        x : ndarray of shape (n,) + input_shape  ->  ndarray of shape (n,) + output_shape

        Each step's forward passes take at most ``PREDICT_CHUNK`` samples: larger passes only
        push the activations out of cache (measured with the tutorial model on 2 cores: 4,900
        samples/s in passes of 32, 3,200 in passes of 64 to 256).
        """
        x = self._check_x(x, "predict")
        batch_size = _positive_int(batch_size, "batch_size")
        steps = math.ceil(len(x) / batch_size)
        bar = ProgressBar(steps, _verbosity(verbose))
        out = np.empty((len(x),) + self.output_shape, dtype=self.dtype)
        for step in range(steps):
            end = min((step + 1) * batch_size, len(x))
            for start in range(step * batch_size, end, PREDICT_CHUNK):
                rows = slice(start, min(start + PREDICT_CHUNK, end))
                out[rows] = self._forward(x[rows], training=False)
            bar.update(step + 1, {})
        bar.finish({})
        return out

    # ----- summary ---------------------------------------------------------------------------

    def summary(self, print_fn=None):
        """Print a Keras-style table of layers, output shapes and parameter counts."""
        print_fn = print_fn or (lambda line: print(line, file=sys.stdout))
        widths = (33, 24, 15)
        rows = []
        for layer in self.layers:
            shape = (shape_str((None,) + layer.compute_output_shape(layer.input_shape))
                     if layer.built else "?")
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, params))

        def rule(left, fill, mid, right):
            return left + mid.join(fill * w for w in widths) + right

        def row(cells, sep):
            (a, b, c), (wa, wb, wc) = cells, widths
            return f"{sep} {a:<{wa - 2}} {sep} {b:<{wb - 2}} {sep} {c:>{wc - 2}} {sep}"

        print_fn(f'Model: "{self.name}"')
        print_fn(rule("┏", "━", "┳", "┓"))
        print_fn(row(("Layer (type)", "Output Shape", "Param #"), "┃"))
        print_fn(rule("┡", "━", "╇", "┩"))
        for i, cells in enumerate(rows):
            print_fn(row(cells, "│"))
            if i < len(rows) - 1:
                print_fn(rule("├", "─", "┼", "┤"))
        print_fn(rule("└", "─", "┴", "┘"))
        total = self.count_params()
        size = _readable_size(total * np.dtype(self.dtype).itemsize)
        print_fn(f" Total params: {total:,} ({size})")
        print_fn(f" Trainable params: {total:,} ({size})")
        print_fn(f" Non-trainable params: 0 ({_readable_size(0)})")

    # ----- weights and config ----------------------------------------------------------------

    def get_weights(self):
        """Copies of all parameters, layer by layer, kernel before bias (Keras's order)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Copy ``weights`` (get_weights() order and shapes) into the parameters, in place."""
        if not self.built:
            raise ValueError(f"model {self.name!r} is not built yet, so it has no weights to set: "
                             f"build it (or give the first layer input_shape=) first")
        weights = list(weights)
        expected = sum(len(layer.named_weights()) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"model {self.name!r} has {expected} weight arrays, set_weights got {len(weights)}")
        start = 0
        for layer in self.layers:
            count = len(layer.named_weights())
            layer.set_weights(weights[start:start + count])
            start += count

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def get_config(self):
        """``{"name", "dtype", "layers": [{"class_name", "config"}, ...]}`` plus ``"input_shape"``
        (one sample) once built, so that :meth:`from_config` can build the copy."""
        config = {"name": self.name, "dtype": self.dtype,
                  "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                             for layer in self.layers]}
        if self.built:
            config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        """A new model from :meth:`get_config`'s output (built when it has ``"input_shape"``)."""
        model = cls([get_layer_class(entry["class_name"]).from_config(entry["config"])
                     for entry in config["layers"]], name=config.get("name"), dtype=config.get("dtype", "float32"))
        if config.get("input_shape") is not None:
            model.build((None,) + tuple(config["input_shape"]))
        return model

    def save(self, path, include_optimizer=True):
        """Write the model (config, weights, compile settings and, unless ``include_optimizer``
        is False, the optimizer's state) to one file; see :mod:`scratchconv.saving`."""
        from .saving import save_model
        save_model(self, path, include_optimizer=include_optimizer)


def _run(callbacks, hook, *args):
    """Call ``hook`` (e.g. "on_epoch_end") of every callback, in the order given."""
    for c in callbacks:
        getattr(c, hook)(*args)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _verbosity(verbose):
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), got {verbose!r}")
    return int(verbose)


def _readable_size(n_bytes):
    """Bytes as Keras prints them: "1.98 MB", "0.00 B" (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
