"""The contract every layer keeps (see docs/architecture.md, "Layers").

A layer holds four things side by side: ``params``, its trainable weights (name -> array,
Keras's names ``"kernel"`` and ``"bias"``), ``grads`` (same names, same shapes, filled by
``backward``), ``state``, its non-trainable weights (BatchNormalization's moving statistics:
updated by a training forward, never by the optimizer), and a cache of exactly what
``backward`` needs (which a fused step may release: :meth:`Layer.release_cache`). Weights are made in :meth:`Layer.build` on first use, so only the first
layer of a model needs ``input_shape=``. They are updated in place and never replaced, so an
optimizer's state stays attached to them.

Everything that lists, counts, saves or converts weights goes through one declaration,
:meth:`Layer.named_weights`: the trainable weights in creation order, then the non-trainable
ones, which is Keras 3's order (BatchNormalization: gamma, beta, moving_mean,
moving_variance). Only ``params`` reach the optimizer, and only while the layer is
``trainable``: as in Keras, ``layer.trainable = False`` freezes it, its params then count as
non-trainable weights (same order) and the optimizer leaves them alone.

Every subclass that sets its own ``_default_name`` is registered under its class name in
:data:`LAYER_CLASSES` (so a model file or a config can name it): a new layer is one module.
"""
import contextlib
import copy
import itertools

import numpy as np

from ..checks import is_int
from ..kernels.padding import output_size_2d

DTYPES = ("float32", "float64")

# class name -> layer class, filled by Layer.__init_subclass__
LAYER_CLASSES = {}

# Keras numbers automatic names per kind: dense, dense_1, dense_2, ...
_name_counters = {}


def unique_name(base):
    """``base``, then ``base_1``, ``base_2``, ... on later calls (Keras's automatic names)."""
    count = _name_counters.setdefault(base, itertools.count())
    n = next(count)
    return base if n == 0 else f"{base}_{n}"


def check_dtype(dtype):
    """Return the canonical name of a float dtype we support, or raise a ValueError."""
    name = np.dtype(dtype).name if dtype is not None else None
    if name not in DTYPES:
        raise ValueError(f'dtype must be "float32" or "float64", got {dtype!r}')
    return name


def shape_str(shape):
    """A shape with the batch axis written as None, as Keras prints it: (None, 50, 50, 3)."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _positive_int(value):
    return is_int(value) and value > 0


def window_output_hw(layer, input_shape, window, what):
    """(H_out, W_out) of a sliding ``window`` (a conv kernel or a pool) over images of
    ``input_shape`` (h, w, c), with ``layer.strides`` and ``layer.padding``; a ValueError naming
    the layer when the input is not an image or the window does not fit."""
    if len(input_shape) != 3:
        raise ValueError(f"{layer.describe()} takes images of shape (None, height, width, channels), "
                         f"got input of shape {shape_str((None,) + tuple(input_shape))}")
    h_out, w_out = output_size_2d(input_shape[:2], window, layer.strides, layer.padding)
    if h_out <= 0 or w_out <= 0:
        raise ValueError(f"{layer.describe()}: a {window} {what} does not fit an input of shape "
                         f"{shape_str((None,) + tuple(input_shape))} with padding {layer.padding!r}")
    return h_out, w_out


def to_pair(value, what, owner):
    """An int or a pair of positive ints as a tuple (a, b), or a ValueError naming ``what``."""
    pair = (value, value) if _positive_int(value) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(_positive_int(v) for v in pair):
        raise ValueError(f"{owner}: {what} must be a positive int or a pair of positive ints, got {value!r}")
    return (int(pair[0]), int(pair[1]))


class Layer:
    """Base class: the shared bookkeeping of every layer.

    Subclasses set ``_default_name`` and implement ``build`` (calling ``super().build``),
    ``compute_output_shape``, ``forward``, ``backward`` and ``get_config``.

    Parameters
    ----------
    name : str or None
        Keras-style automatic name (``conv2d``, ``conv2d_1``, ...) when None.
    dtype : "float32", "float64" or None
        None takes the model's dtype (float32 for a layer used on its own).
    input_shape : tuple of int or None
        Shape of one sample (no batch axis); only the first layer of a model needs it.

    ``trainable`` (an attribute, True at first, as Keras's): False freezes the layer.
    """

    _default_name = "layer"
    _released = None  # why the cache does not hold the last forward (see release_cache); None when it does
    _y_shape = None  # the output shape of the last forward, batch axis included; None before any

    def __init_subclass__(cls, **kwargs):
        """Register every concrete layer (one that names its own ``_default_name``)."""
        super().__init_subclass__(**kwargs)
        if "_default_name" in cls.__dict__:
            LAYER_CLASSES[cls.__name__] = cls

    def __init__(self, name=None, dtype=None, input_shape=None):
        self.name = unique_name(self._default_name) if name is None else str(name)
        self._given_dtype = None if dtype is None else check_dtype(dtype)
        self.dtype = self._given_dtype or "float32"
        self._given_input_shape = None
        if input_shape is not None:
            shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
            if not shape or not all(_positive_int(d) for d in shape):
                raise ValueError(f"{self.describe()}: input_shape must be a tuple of positive ints "
                                 f"(one sample, without the batch axis), got {input_shape!r}")
            self._given_input_shape = tuple(int(d) for d in shape)
        self.params = {}
        self.grads = {}
        self.state = {}
        self.trainable = True
        self.input_shape = None
        self.built = False

    def describe(self):
        """"Conv2D layer 'conv2d'": how messages name the layer."""
        return f"{type(self).__name__} layer {self.name!r}"

    def build(self, input_shape):
        """Check ``input_shape`` (one sample, no batch axis) and make the parameters."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self.built = True

    def _add_param(self, name, shape, initializer, rng):
        """Create parameter ``name`` and its zero gradient."""
        from ..initializers import get
        self.params[name] = get(initializer)(shape, self.dtype, rng)
        self.grads[name] = np.zeros(shape, dtype=self.dtype)

    def _add_state(self, name, shape, initializer):
        """Create non-trainable weight ``name`` (e.g. a moving mean): saved, counted and
        converted like a parameter, never given to the optimizer."""
        from ..initializers import get
        self.state[name] = get(initializer)(shape, self.dtype, None)

    def weight_shapes(self, input_shape):
        """``(name, shape, trainable)`` of every weight ``build(input_shape)`` would make, in
        :meth:`named_weights` order, without making any.

        ``build`` runs on a shallow copy of the layer whose ``_add_param`` / ``_add_state`` only
        note the shapes, so every layer (a new one included) answers from its own ``build``:
        this is how a model file's config is checked against its arrays before anything is
        allocated. Raises what ``build`` raises for an input that does not fit.
        """
        shadow = copy.copy(self)
        shadow.params, shadow.grads, shadow.state = {}, {}, {}
        trainable, fixed = [], []
        shadow._add_param = lambda name, shape, initializer, rng: trainable.append(
            (name, tuple(int(d) for d in shape), True))
        shadow._add_state = lambda name, shape, initializer: fixed.append(
            (name, tuple(int(d) for d in shape), False))
        shadow.build(tuple(input_shape))
        return trainable + fixed

    @property
    def trainable(self):
        """Whether the optimizer updates ``params`` (Keras's ``layer.trainable``)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)

    def named_weights(self):
        """``(name, array, trainable)`` for every weight, in Keras 3's order: ``params`` in
        creation order (trainable unless the layer is frozen), then ``state``."""
        return ([(name, p, self.trainable) for name, p in self.params.items()]
                + [(name, s, False) for name, s in self.state.items()])

    @property
    def trainable_weights(self):
        return [w for _, w, trainable in self.named_weights() if trainable]

    @property
    def non_trainable_weights(self):
        return [w for _, w, trainable in self.named_weights() if not trainable]

    def _check_input(self, x):
        """Build on first use, cast to the layer's dtype and check the sample shape."""
        x = np.asarray(x)
        if not self.built:
            self.build(x.shape[1:])
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"{self.describe()} expected input of shape "
                             f"{shape_str((None,) + self.input_shape)}, got {shape_str(x.shape)}")
        self._released = None  # this forward fills the cache again
        self._y_shape = (len(x),) + tuple(self.compute_output_shape(self.input_shape))
        return x.astype(self.dtype, copy=False)

    def release_cache(self, why):
        """Forget what the last forward kept for ``backward``: a step ran this layer inside a
        fused kernel (:mod:`scratchconv.steps`) and keeps that itself. Until the next forward,
        ``backward`` raises a RuntimeError saying ``why``. Layers that can be fused drop their
        cached arrays here too."""
        self._released = why

    def _check_gradient(self, dy):
        """What every ``backward`` does first with ``dy`` = dL/dy (or dL/dz, of the same shape):
        check that the cache holds the last forward (no fused step released it) and that ``dy``
        has that forward's output shape, the batch included: a kernel given another shape would
        read and write past its arrays. Returns ``dy`` in the layer's dtype."""
        if self._released is not None:
            raise RuntimeError(f"{self.describe()}: {self._released}")
        if self._y_shape is None:
            raise RuntimeError(f"{self.describe()} has run no forward yet, so it has nothing to run "
                               f"backward from")
        dy = np.asarray(dy)
        if dy.shape != self._y_shape:
            raise ValueError(f"{self.describe()}: backward takes dL/dy of the shape of the last "
                             f"forward's output, {shape_str(self._y_shape)}, got {shape_str(dy.shape)}")
        return dy.astype(self.dtype, copy=False)

    def compute_output_shape(self, input_shape):
        """Output shape of one sample (no batch axis) for ``input_shape``."""
        raise NotImplementedError

    def forward(self, x, training=False):
        """y = f(x); caches what ``backward`` needs."""
        raise NotImplementedError

    def __call__(self, x, training=False):
        """``layer(x)`` is ``layer.forward(x)``, as in Keras."""
        return self.forward(x, training=training)

    def backward(self, dy, need_dx=True):
        """dx = dL/dx from dy = dL/dy; fills ``grads``. Returns None when ``need_dx`` is False."""
        raise NotImplementedError

    def kink_pattern(self, x, y):
        """The discrete choices the forward ``x -> y`` made, as an array (ReLU on/off, the
        max-pool winners), or None for a layer that is smooth everywhere (the default).

        The gradient check (:mod:`scratchconv.gradcheck`) compares them at ``t - h``, ``t``
        and ``t + h`` and skips an entry whose step changes them: a central difference across
        a kink is wrong, not the backward. A layer with a kink overrides this.
        """
        return None

    def hold_randomness(self):
        """A context within which a training forward repeats the random draw of the last one
        (Dropout's mask), so that the gradient check differentiates one fixed function. A layer
        without randomness has nothing to hold (the default); one with randomness overrides it.
        """
        return contextlib.nullcontext(self)

    def get_config(self):
        """The constructor arguments, JSON-serialisable."""
        config = {"name": self.name, "dtype": self._given_dtype}
        if self._given_input_shape is not None:
            config["input_shape"] = list(self._given_input_shape)
        if not self.trainable:
            config["trainable"] = False  # written only for a frozen layer
        return config

    @classmethod
    def from_config(cls, config):
        """A new, unbuilt layer from :meth:`get_config`'s output (frozen if it was)."""
        config = dict(config)
        trainable = config.pop("trainable", True)
        layer = cls(**config)
        layer.trainable = trainable
        return layer

    def get_weights(self):
        """Copies of the weights in Keras's order (:meth:`named_weights`)."""
        return [p.copy() for _, p, _ in self.named_weights()]

    def set_weights(self, weights):
        """Copy ``weights`` (Keras's order and shapes) into the weights, in place; nothing is
        copied unless all of them fit (:meth:`check_weights`)."""
        for (_, p, _), w in zip(self.named_weights(), self.check_weights(weights)):
            p[...] = w

    def check_weights(self, weights):
        """``weights`` as arrays, or a ValueError naming the first that does not fit: the
        count, each shape, and finite values (a NaN or infinite weight would make every output
        NaN, so it is refused where it enters)."""
        weights = [np.asarray(w) for w in weights]
        named = self.named_weights()
        if len(weights) != len(named):
            raise ValueError(f"{self.describe()} has {len(named)} weight arrays, "
                             f"set_weights got {len(weights)}")
        for (name, p, _), w in zip(named, weights):
            if w.shape != p.shape:
                raise ValueError(f"{self.describe()}: weight {name!r} has shape {p.shape}, "
                                 f"set_weights got shape {w.shape}")
            if w.dtype.kind not in "biuf":
                raise ValueError(f"{self.describe()}: weight {name!r} must be numbers, set_weights "
                                 f"got dtype {w.dtype}")
            if not np.isfinite(w).all():
                raise ValueError(f"{self.describe()}: weight {name!r} given to set_weights holds "
                                 f"non-finite values (nan or inf)")
        return weights

    def count_params(self):
        """Trainable and non-trainable weights together, as Keras counts them."""
        return int(sum(p.size for _, p, _ in self.named_weights()))

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"
