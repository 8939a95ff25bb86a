"""Activation functions, the ReLU, Softmax and Activation layers, and the base of the layers
that take an ``activation=`` (Conv2D, Dense).

Each backward is written through the *output* ``y`` where the derivative is a function of it,
so a layer keeps ``y`` and nothing more; only gelu's derivative needs the input ``z`` too
(:data:`NEEDS_Z`). Keras 3's formulas and defaults, for ``z`` of any shape:

- relu:       ``y = max(z, 0)``,                     ``dz = dy * (y > 0)``
- softmax:    ``y_k = exp(z_k) / sum_j exp(z_j)`` over the last axis,
              ``dz = y * (dy - sum_k dy_k y_k)``  (the Jacobian ``diag(y) - y y^T`` applied to dy)
- linear:     ``y = z``,                             ``dz = dy``
- sigmoid:    ``y = 1 / (1 + exp(-z))``,             ``dz = dy * y (1 - y)``
- tanh:       ``y = tanh(z)``,                       ``dz = dy * (1 - y^2)``
- leaky_relu: ``y = z`` if ``z > 0`` else ``0.2 z``  (keras.activations.leaky_relu's default
              negative_slope=0.2, rounded to float32 as TensorFlow does),
              ``dz = dy * (1 if y > 0 else 0.2)``
- elu:        ``y = z`` if ``z > 0`` else ``exp(z) - 1`` (alpha = 1),
              ``dz = dy * (1 if y > 0 else y + 1)``  (``d/dz (exp(z) - 1) = exp(z) = y + 1``)
- gelu:       ``y = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2`` (Keras's default approximate=False,
              the exact erf form), ``dz = dy * (Phi(z) + z phi(z))`` with
              ``phi(z) = exp(-z^2 / 2) / sqrt(2 pi)``. As TensorFlow computes it:
              ``Phi(z) = erfc(-c z) / 2`` with ``c = 1 / sqrt 2`` rounded to float32
              (``tf.cast`` of a Python float goes through float32), so
              ``phi(z) = c exp(-c^2 z^2) / sqrt(pi)``.
"""
import math

import numpy as np

from .. import backend
from .base import Layer

ACTIVATIONS = ("relu", "softmax", "linear", "sigmoid", "tanh", "leaky_relu", "elu", "gelu")
NEEDS_Z = ("gelu",)  # the activations whose backward needs the input z besides the output y
KINKED = ("relu", "leaky_relu")  # not differentiable at z = 0, where y changes sign
# keras.activations.leaky_relu(x, negative_slope=0.2). TensorFlow's LeakyRelu op keeps its slope
# as a float32 attribute, so in float64 Keras multiplies by 0.2 rounded to float32
# (0.20000000298023224): so do we, or float64 outputs would differ by 1.5e-8 relative.
LEAKY_RELU_SLOPE = float(np.float32(0.2))
# 1 / sqrt(2) in tf.nn.gelu, which writes tf.cast(0.7071067811865476, dtype): that rounds it to
# float32 first (0.7071067690849304), 1.7e-8 relative, which float64 outputs show.
GELU_C = float(np.float32(1 / math.sqrt(2)))


def check_activation(activation, owner):
    """``activation`` as one of ACTIVATIONS (None means "linear"), or a ValueError."""
    name = "linear" if activation is None else activation
    if name not in ACTIVATIONS:
        raise ValueError(f"{owner}: activation must be one of {', '.join(map(repr, ACTIVATIONS))} "
                         f"or None, got {activation!r}")
    return name


def relu(z):
    return np.maximum(z, 0)


def softmax(z):
    """Softmax over the last axis; subtracting the row maximum keeps exp from overflowing."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def sigmoid(z):
    """``1 / (1 + exp(-z))``, written with ``e = exp(-|z|)`` so that exp never overflows:
    ``1 / (1 + e)`` for ``z >= 0``, ``e / (1 + e)`` below."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1, e) / (1 + e)


def elu(z):
    """``z`` above 0, ``exp(z) - 1`` (by expm1, exact near 0) at or below."""
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


def _erfc(x):
    """scipy's erfc, imported at gelu's first use: ``import scipy.special`` takes 0.18 s of CPU
    time after numpy and numba (0.05 s once scipy.linalg, which the numba backend's BLAS needs,
    is in), which every ``import scratchconv`` paid for the one activation that needs it."""
    from scipy.special import erfc

    return erfc(x)


def gelu(z):
    """The exact GELU, ``z Phi(z)`` with the normal CDF ``Phi(z) = (1 + erf(z / sqrt 2)) / 2``,
    written ``erfc(-c z) / 2`` as TensorFlow does (accurate for very negative z too)."""
    return 0.5 * z * _erfc(-GELU_C * z)


def apply(activation, z):
    """y = activation(z); ``z`` may be overwritten (relu works in place)."""
    if activation == "relu":
        return np.maximum(z, 0, out=z)
    if activation == "softmax":
        return softmax(z)
    if activation == "sigmoid":
        return sigmoid(z)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "leaky_relu":
        return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)
    if activation == "elu":
        return elu(z)
    if activation == "gelu":
        return gelu(z)
    return z


def gradient(activation, dy, y, z=None, out=None):
    """dz = dL/dz from dy = dL/dy, the activation's output y and (for gelu only) its input z.

    For relu, ``dz = dy * (y > 0)``, by the backend's ``relu_backward`` (for the first
    convolution this is the largest array of a training step, worth a parallel pass), written
    into ``out`` (a buffer of dy's shape and dtype) when given.
    """
    if activation == "relu":
        return backend.kernels().relu_backward(dy, y, out=out)
    if activation == "softmax":
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
    if activation == "sigmoid":
        return dy * y * (1 - y)
    if activation == "tanh":
        return dy * (1 - y * y)
    if activation == "leaky_relu":
        return dy * np.where(y > 0, 1, LEAKY_RELU_SLOPE).astype(dy.dtype, copy=False)
    if activation == "elu":
        return dy * np.where(y > 0, 1, y + 1)
    if activation == "gelu":
        return dy * (0.5 * _erfc(-GELU_C * z) + z * (GELU_C / math.sqrt(math.pi)) * np.exp(-(GELU_C * z) ** 2))
    return dy


def kinks(activation, y):
    """Which side of its kink each output is on, ``y > 0``, for an activation in KINKED; else
    None (see :meth:`Layer.kink_pattern`)."""
    return y > 0 if activation in KINKED else None


class ReLU(Layer):
    """Rectified linear unit, elementwise: ``y = max(x, 0)``, ``dx = dy * (y > 0)``.

    x, y : ndarray of any shape (n, ...)
    """

    _default_name = "re_lu"

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        x = self._check_input(x)
        self._y = relu(x)
        return self._y

    def backward(self, dy, need_dx=True):
        dy = self._check_gradient(dy)
        return gradient("relu", dy, self._y) if need_dx else None

    def kink_pattern(self, x, y):
        return kinks("relu", y)


class Softmax(Layer):
    """Softmax over the last axis: ``y = exp(x) / sum(exp(x))``, ``dx = y * (dy - sum(dy * y))``.

    x, y : ndarray of shape (n, ..., k)

    Its input is kept as ``logits`` so that a model ending here can compute a cross-entropy
    loss from the logits (stable) instead of from the probabilities.
    """

    _default_name = "softmax"

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        x = self._check_input(x)
        self.logits = x
        self._y = softmax(x)
        return self._y

    def backward(self, dy, need_dx=True):
        dy = self._check_gradient(dy)
        return gradient("softmax", dy, self._y) if need_dx else None

    def backward_from_logits(self, dz, need_dx=True):
        """Backward when dz = dL/dlogits is already known: the logits are this layer's input."""
        dz = self._check_gradient(dz)
        return dz if need_dx else None


class Activated(Layer):
    """Base of the layers with an ``activation=`` (Conv2D, Dense): ``z`` = the layer's linear
    part, ``y = activation(z)``. Subclasses compute z in ``forward`` and pass it to
    :meth:`_activate`, and implement ``backward_from_logits(dz, need_dx)`` (the linear part's
    backward); the activation's own backward is shared here."""

    _dz = None  # dL/dz buffer, made by the first backward
    _z = None  # the input of a gelu, kept by _activate

    def _activate(self, z, already_applied=False):
        """y = activation(z), keeping what backward needs: y, and z itself before a softmax or a
        sigmoid (a cross-entropy is taken from its logits) or a gelu (whose derivative needs z).
        ``already_applied``: the kernel fused the activation (Conv2D's relu)."""
        if self.activation in ("softmax", "sigmoid"):  # the losses that read logits (scratchconv.losses)
            self.logits = z
        self._z = z if self.activation in NEEDS_Z else None
        self._y = z if already_applied else apply(self.activation, z)
        return self._y

    def backward(self, dy, need_dx=True):
        dy = self._check_gradient(dy)
        # dz only lives until backward_from_logits has turned it into gradients, so one buffer
        # serves every step (a fresh array per step costs page faults as well as the pass).
        if self._dz is None or self._dz.shape != dy.shape:
            self._dz = np.empty(dy.shape, dtype=self.dtype)
        dz = gradient(self.activation, dy, self._y, z=self._z, out=self._dz)
        return self.backward_from_logits(dz, need_dx)

    def kink_pattern(self, x, y):
        return kinks(self.activation, y)


class Activation(Activated):
    """An activation function as a layer, Keras's ``Activation(activation)``.

    Parameters
    ----------
    activation : one of :data:`ACTIVATIONS` or None ("linear")

    x, y : ndarray of any shape (n, ...) (softmax: over the last axis)

    ``y = activation(x)``; backward ``dx = dy * activation'(x)``, by :func:`gradient` (the
    formulas are in this module's docstring).
    """

    _default_name = "activation"

    def __init__(self, activation, input_shape=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape)
        self.activation = check_activation(activation, self.describe())

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        x = self._check_input(x)
        # A copy: relu works in place, and x may be what the layer before keeps for its backward.
        return self._activate(x.copy())

    def backward_from_logits(self, dz, need_dx=True):
        """The linear part is the identity: dL/dx = dz."""
        dz = self._check_gradient(dz)
        return dz if need_dx else None

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}
