"""Sequential: a stack of layers, trained with Keras's ``compile`` / ``fit`` workflow.

The low-level API (used by the tests, the tf.keras twin and the benchmarks):

- ``forward(x, training=False) -> y`` and ``backward(dy, need_dx=True) -> dx``
- ``train_on_batch(x, y) -> loss``: one forward, backward and optimizer step
- ``loss_and_gradients(x, y) -> (loss, grads, dx)``, ``grads`` in ``get_weights()`` order

When the last layer ends in a softmax and the loss is a cross-entropy, the loss and its
gradient come from the softmax's logits (see :mod:`scratchconv.losses`), as tf.keras does.
"""
import numpy as np

from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .layers import Layer, Softmax
from .layers import get as get_layer_class
from .layers.base import check_dtype, shape_str, unique_name


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
        self.loss = None
        self.metrics = []
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
        if self.built_up_to(len(self.layers) - 1):
            self._build_from(len(self.layers) - 1)

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
        return self._output_shapes()[-1] if self.built else None

    def _output_shapes(self):
        return [layer.compute_output_shape(layer.input_shape) for layer in self.layers]

    def _build_from(self, index):
        """Build layers ``index`` onwards, each from the output shape of the one before."""
        shape = (self.layers[index - 1].compute_output_shape(self.layers[index - 1].input_shape)
                 if index > 0 else self.layers[0].input_shape)
        for layer in self.layers[index:]:
            if not layer.built:
                layer.build(shape)
            elif layer.input_shape != tuple(shape):
                raise ValueError(f"{layer._describe()} was built for input {shape_str((None,) + layer.input_shape)} "
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
            raise ValueError(f"{first._describe()} was built for input {shape_str((None,) + first.input_shape)}, "
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

    def forward(self, x, training=False):
        """The model's output for a batch.

        x : ndarray of shape (n,) + input_shape  ->  ndarray of shape (n,) + output_shape
        """
        x = self._cast(x)
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def _backward(self, d, need_dx, from_logits):
        """Run the layers' backward passes from the last to the first.

        ``d`` is dL/d(output), or dL/d(logits) when ``from_logits``; the first layer skips
        its input gradient unless ``need_dx``.
        """
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            want_dx = need_dx or i > 0
            if i == last and from_logits:
                d = self.layers[i].backward_from_logits(d, want_dx)
            else:
                d = self.layers[i].backward(d, want_dx)
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
        y_pred = self.forward(x, training=True)
        if self._from_logits():
            loss, dz = self.loss.from_logits(y, self.layers[-1].logits, y_pred)
            dx = self._backward(dz, need_dx, from_logits=True)
        else:
            loss = self.loss(y, y_pred)
            dx = self._backward(self.loss.gradient(y, y_pred), need_dx, from_logits=False)
        return float(loss), y_pred, dx

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
        expected = sum(len(layer.params) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"model {self.name!r} has {expected} weight arrays, set_weights got {len(weights)}")
        start = 0
        for layer in self.layers:
            layer.set_weights(weights[start:start + len(layer.params)])
            start += len(layer.params)

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

    def save(self, path):
        """Write the model (config, weights, compile settings) to one file; see
        :mod:`scratchconv.saving` for the format."""
        from .saving import save_model
        save_model(self, path)
