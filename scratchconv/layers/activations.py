"""Activation functions and the ReLU and Softmax layers.

Both backward passes are written through the *output* ``y``, not the input, so a layer that
fuses its activation (Conv2D with ``relu=True`` in the kernel) needs no extra cache:

- ReLU:    ``y = max(z, 0)``,                 ``dz = dy * (y > 0)``
- Softmax: ``y_k = exp(z_k) / sum_j exp(z_j)`` over the last axis,
           ``dz = y * (dy - sum_k dy_k y_k)``  (the Jacobian ``diag(y) - y y^T`` applied to dy)
- linear:  ``y = z``,                          ``dz = dy``
"""
import numpy as np

from .. import backend
from .base import Layer

ACTIVATIONS = ("relu", "softmax", "linear")


def check_activation(activation, owner):
    """``activation`` as one of ACTIVATIONS (None means "linear"), or a ValueError."""
    name = "linear" if activation is None else activation
    if name not in ACTIVATIONS:
        raise ValueError(f'{owner}: activation must be "relu", "softmax", "linear" or None, '
                         f"got {activation!r}")
    return name


def relu(z):
    return np.maximum(z, 0)


def softmax(z):
    """Softmax over the last axis; subtracting the row maximum keeps exp from overflowing."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def apply(activation, z):
    """y = activation(z); ``z`` may be overwritten (relu works in place)."""
    if activation == "relu":
        return np.maximum(z, 0, out=z)
    if activation == "softmax":
        return softmax(z)
    return z


def gradient(activation, dy, y, out=None):
    """dz = dL/dz from dy = dL/dy and the activation's output y.

    For relu, ``dz = dy * (y > 0)``, by the backend's ``relu_backward`` (for the first
    convolution this is the largest array of a training step, worth a parallel pass), written
    into ``out`` (a buffer of dy's shape and dtype) when given.
    """
    if activation == "relu":
        return backend.kernels().relu_backward(dy, y, out=out)
    if activation == "softmax":
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
    return dy


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
        return gradient("relu", dy, self._y) if need_dx else None


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
        return gradient("softmax", dy, self._y) if need_dx else None

    def backward_from_logits(self, dz, need_dx=True):
        """Backward when dz = dL/dlogits is already known: the logits are this layer's input."""
        return dz if need_dx else None


class Activated(Layer):
    """Base of the layers with an ``activation=`` (Conv2D, Dense): ``z`` = the layer's linear
    part, ``y = activation(z)``. Subclasses compute z in ``forward`` and pass it to
    :meth:`_activate`, and implement ``backward_from_logits(dz, need_dx)`` (the linear part's
    backward); the activation's own backward is shared here."""

    _dz = None  # dL/dz buffer, made by the first backward

    def _activate(self, z, already_applied=False):
        """y = activation(z), keeping what backward needs: y, and z itself before a softmax.
        ``already_applied``: the kernel fused the activation (Conv2D's relu)."""
        if self.activation == "softmax":
            self.logits = z
        self._y = z if already_applied else apply(self.activation, z)
        return self._y

    def backward(self, dy, need_dx=True):
        dy = np.asarray(dy, dtype=self.dtype)
        # dz only lives until backward_from_logits has turned it into gradients, so one buffer
        # serves every step (a fresh array per step costs page faults as well as the pass).
        if self._dz is None or self._dz.shape != dy.shape:
            self._dz = np.empty(dy.shape, dtype=self.dtype)
        return self.backward_from_logits(gradient(self.activation, dy, self._y, out=self._dz), need_dx)
