"""Sequential: a stack of layers — its structure, build, steps, forward and backward,
weights, config, summary and save. The training loop (compile, fit, evaluate, predict,
train_on_batch, loss_and_gradients) is :class:`scratchconv.training.Training`, which
Sequential inherits.

The low-level API (used by the tests, the tf.keras twin and the benchmarks):
``forward(x, training=False) -> y`` and ``backward(dy, need_dx=True) -> dx``, layer by layer.
"""
import sys

import numpy as np

from .checks import is_int
from . import steps as steps_module
from .layers import Input, Layer
from .layers import get as get_layer_class
from .layers.base import check_dtype, shape_str, unique_name
from .training import Training


class Sequential(Training):
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer or None
        Also added one at a time with :meth:`add`. The first entry may be an
        :class:`~scratchconv.layers.Input` (``Input((28, 28, 1))``), which sets the input shape
        and is not one of ``layers``, as in Keras.
    name : str or None
    dtype : "float32" (default) or "float64"
        Layers created without a dtype take the model's; inputs are cast to it, so with
        "float64" parameters, activations and gradients are float64 end to end.

    Attributes
    ----------
    class_names : list of str or None
        The name of each output class (``class_names[i]`` for output ``i``), kept in the model
        file; :func:`scratchconv.load_model` fills it for files that have none.
    preprocessing : dict or None
        How the model's images were prepared (``scratchconv.data.preprocessing``), kept in the
        model file, so that a new image is prepared the same way.
    training_files : list of str or None
        Fingerprints of the image files the model was trained from
        (``scratchconv.data.fingerprints``), kept in the model file.
    """

    def __init__(self, layers=None, name=None, dtype="float32"):
        self.name = unique_name("sequential") if name is None else str(name)
        self.dtype = check_dtype(dtype)
        self.layers = []
        self._input = None  # the Input given as the first entry, if any
        super().__init__()
        self._steps, self._steps_of = [], ()  # self.steps, and the layers it was planned for
        self._inference_steps, self._inference_of = [], None  # and for inference, from self.steps
        self._ran = []  # the steps the last forward ran, which backward runs back
        self.class_names = None
        self.preprocessing = None
        self.training_files = None
        for layer in layers or []:
            self.add(layer)

    # ----- structure -------------------------------------------------------------------------

    def add(self, layer):
        """Append a layer; it takes the model's dtype unless it was given its own. An
        :class:`~scratchconv.layers.Input` is taken as the input shape, before any layer."""
        if isinstance(layer, Input):
            if self.layers or self._input is not None:
                raise ValueError(f"an Input must be the first entry of model {self.name!r}, before its layers "
                                 f"(it already has {self._input or self.layers[0].describe()})")
            self._input = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add takes a layer (Conv2D, Dense, ...) or an Input, got {layer!r}")
        if not self.layers and self._input is not None and layer._given_input_shape not in (None, self._input.shape):
            raise ValueError(f"{layer.describe()} was given input_shape={layer._given_input_shape}, but the "
                             f"model's Input has shape {self._input.shape}")
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError(f"the model already has a layer named {layer.name!r}; layer names must be unique")
        if layer._given_dtype is None and not layer.built:
            layer.dtype = self.dtype
        self.layers.append(layer)
        self._ran = []  # the last forward's steps end before this layer
        index = len(self.layers) - 1
        # As in Keras, a first layer given input_shape= (or after an Input) builds the model right away.
        if (index == 0 and self._declared_input_shape() is not None) or self.built_up_to(index):
            try:
                self._build_from(index)
            except ValueError:
                self.layers.pop()  # a layer that does not fit is not kept
                raise

    def _declared_input_shape(self):
        """The sample shape the Input or the first layer's ``input_shape=`` gave, or None."""
        if self._input is not None:
            return self._input.shape
        return self.layers[0]._given_input_shape if self.layers else None

    def pop(self):
        """Remove the last layer and return it, as Keras's ``Sequential.pop``."""
        if not self.layers:
            raise TypeError(f"model {self.name!r} has no layers to pop")
        self._ran = []  # the last forward's steps may include the layer
        return self.layers.pop()

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or the one at ``index`` (negative counts from the end),
        as Keras's ``get_layer``: give exactly one of the two."""
        if (name is None) == (index is None):
            raise ValueError(f"get_layer takes a layer name or an index, not both or neither "
                             f"(got name={name!r}, index={index!r})")
        if index is not None:
            n = len(self.layers)
            if not is_int(index) or not -n <= index < n:
                raise ValueError(f"get_layer: model {self.name!r} has {n} layers, so index must be an int "
                                 f"from {-n} to {n - 1}, got {index!r}")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"get_layer: model {self.name!r} has no layer named {name!r}; its layers are "
                         f"{', '.join(repr(layer.name) for layer in self.layers) or 'none'}")

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
            shape = self.layers[0].input_shape or self._declared_input_shape()
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
            sample = self._declared_input_shape() or self.layers[0].input_shape
            if sample is None:
                raise ValueError(f"model {self.name!r} does not know its input shape: start it with an Input, "
                                 f"give the first layer input_shape=, or call build((None, height, width, channels))")
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
            self.build((None,) + x.shape[1:] if self._declared_input_shape() is None else None)

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

    @property
    def inference_steps(self):
        """The steps the model's inference passes (predict, evaluate) run: :attr:`steps`, with
        each two ConvPoolSteps in a row as one ConvPoolPairStep (``steps.for_inference``)."""
        steps = self.steps
        if self._inference_of is not steps:
            self._inference_steps, self._inference_of = steps_module.for_inference(steps), steps
        return self._inference_steps

    def forward(self, x, training=False):
        """The model's output for a batch, layer by layer (each layer keeps what its own
        ``backward`` needs).

        x : ndarray of shape (n,) + input_shape  ->  ndarray of shape (n,) + output_shape
        """
        return self._forward(x, training, steps_module.layer_by_layer(self.layers))

    def _forward(self, x, training, steps=None):
        """Run ``steps`` from first to last; they are kept for ``_backward``. By default the
        model's own fused steps: :attr:`steps` in training (fit, train_on_batch,
        loss_and_gradients), :attr:`inference_steps` otherwise (evaluate, predict)."""
        x = self._cast(x)
        if steps is None:
            steps = self.steps if training else self.inference_steps
        self._ran = steps
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
        if self._ran is None:  # set by Training._predict_batch
            raise RuntimeError(f"model {self.name!r} last ran predict on a batch in passes (training=False), "
                               f"whose layers keep the inputs of different passes; run forward with "
                               f"training=True before backward")
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
        After ``predict`` or ``evaluate`` it raises a RuntimeError if a Conv2D and its
        MaxPooling2D ran fused: at inference that step keeps no record of the pooling's winners
        (:class:`~scratchconv.steps.ConvPoolStep`); and after ``predict`` ran a batch in passes
        (``Training.predict``), before any step runs back.

        dy : ndarray of shape (n,) + output_shape  ->  ndarray of shape (n,) + input_shape
        (None when ``need_dx`` is False: the first layer then skips its input gradient).
        """
        return self._backward(np.asarray(dy, dtype=self.dtype), need_dx, from_logits=False)

    def _params_and_grads(self):
        """(param, grad) pairs of the trainable weights (the params of every layer not frozen),
        layer by layer: what the optimizer gets."""
        return [(layer.params[k], layer.grads[k]) for layer in self.layers if layer.trainable for k in layer.params]

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
        trainable, non_trainable = self.trainable_weights, self.non_trainable_weights
        for label, weights in (("Total", trainable + non_trainable), ("Trainable", trainable),
                               ("Non-trainable", non_trainable)):
            count, size = sum(w.size for w in weights), sum(w.nbytes for w in weights)
            print_fn(f" {label} params: {count:,} ({_readable_size(size)})")

    # ----- weights and config ----------------------------------------------------------------

    @property
    def trainable_weights(self):
        """The weights the optimizer updates (the ``params`` of every layer not frozen), layer by layer."""
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        """The weights it never updates (every layer's ``state``, and a frozen layer's ``params``),
        layer by layer."""
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_weights(self):
        """Copies of all weights in Keras 3's order: layer by layer, and within a layer its
        trainable weights (kernel, then bias), then its non-trainable ones."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Copy ``weights`` (get_weights() order and shapes) into the weights, in place."""
        if not self.built:
            raise ValueError(f"model {self.name!r} is not built yet, so it has no weights to set: "
                             f"build it (or give the first layer input_shape=) first")
        weights = list(weights)
        expected = sum(len(layer.named_weights()) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"model {self.name!r} has {expected} weight arrays, set_weights got {len(weights)}")
        # Every layer's part is checked before any is copied, so a refused call changes nothing.
        parts, start = [], 0
        for layer in self.layers:
            count = len(layer.named_weights())
            parts.append(layer.check_weights(weights[start:start + count]))
            start += count
        for layer, part in zip(self.layers, parts):
            layer.set_weights(part)

    def count_params(self):
        """Entries of all weights, trainable and non-trainable, as Keras counts them."""
        return sum(layer.count_params() for layer in self.layers)

    def get_config(self):
        """``{"name", "dtype", "layers": [{"class_name", "config"}, ...]}`` plus ``"input_shape"``
        (one sample) once built, so that :meth:`from_config` can build the copy."""
        config = {"name": self.name, "dtype": self.dtype,
                  "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                             for layer in self.layers]}
        if self.built:
            config["input_shape"] = list(self.input_shape)
        if self._input is not None:
            config["input"] = self._input.get_config()
        return config

    @classmethod
    def from_config(cls, config):
        """A new model from :meth:`get_config`'s output (built when it has ``"input_shape"``)."""
        entries = [] if config.get("input") is None else [Input.from_config(config["input"])]
        model = cls(entries + [get_layer_class(entry["class_name"]).from_config(entry["config"])
                               for entry in config["layers"]],
                    name=config.get("name"), dtype=config.get("dtype", "float32"))
        if config.get("input_shape") is not None:
            model.build((None,) + tuple(config["input_shape"]))
        return model

    def save(self, path, include_optimizer=True):
        """Write the model (config, weights, compile settings and, unless ``include_optimizer``
        is False, the optimizer's state) to one file; see :mod:`scratchconv.saving`."""
        from .saving import save_model
        save_model(self, path, include_optimizer=include_optimizer)

    def save_weights(self, path):
        """Write the weights alone (trainable and not, ``get_weights()`` order) to ``path``:
        scratchconv's weights file, or Keras 3's for a name ending in ``.weights.h5``; see
        :func:`scratchconv.saving.save_weights`."""
        from .saving import save_weights
        save_weights(self, path)

    def load_weights(self, path):
        """Copy the weights of a weights file (or of a model file) at ``path`` into this built
        model, matched by order; see :func:`scratchconv.saving.load_weights`."""
        from .saving import load_weights
        load_weights(self, path)


def _readable_size(n_bytes):
    """Bytes as Keras prints them: "1.98 MB", "0.00 B" (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
