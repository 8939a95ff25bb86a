"""Conv2D: 2-D convolution (cross-correlation) over NHWC images."""
import numpy as np

from .. import backend
from ..checks import is_int
from ..kernels.padding import check_padding, pads_2d
from ..initializers import check as check_initializer
from ..random import generator
from .activations import Activated, check_activation
from .base import to_pair, window_output_hw


class Conv2D(Activated):
    """2-D convolution, Keras's ``Conv2D`` with ``data_format="channels_last"``.

    Parameters
    ----------
    filters : int
        Number of output channels ``c_out``.
    kernel_size : int or (int, int)
        ``(kh, kw)``.
    strides : int or (int, int)
        ``(s_h, s_w)``.
    padding : "valid" or "same"
        Keras's rule (see :mod:`scratchconv.kernels.padding`).
    activation : one of :data:`scratchconv.layers.activations.ACTIVATIONS` or None
        "relu" is fused into the convolution kernel; the others run on its output.
    use_bias : bool
    kernel_initializer, bias_initializer : str
        Names from :mod:`scratchconv.initializers`.

    Shapes
    ------
    x : ndarray of shape (n, h, w, c_in)
    kernel : ndarray of shape (kh, kw, c_in, c_out); bias : ndarray of shape (c_out,)
    y : ndarray of shape (n, h_out, w_out, c_out)

    Once built, ``pads`` is ``((top, bottom), (left, right))``, the zero padding the kernels add.

    Notes
    -----
    Forward: ``z[n, i, j, o] = b[o] + sum_{p, q, c} x_pad[n, s_h i + p, s_w j + q, c] kernel[p, q, c, o]``,
    ``y = activation(z)``. ``"valid"``: ``h_out = floor((h - kh) / s_h) + 1``; ``"same"``:
    ``h_out = ceil(h / s_h)`` (likewise for w).

    Backward, with ``dz = dy * activation'(z)`` (for relu ``dy * (y > 0)``):
    ``dkernel[p, q, c, o] = sum_{n, i, j} x_pad[n, s_h i + p, s_w j + q, c] dz[n, i, j, o]``,
    ``dbias[o] = sum_{n, i, j} dz[n, i, j, o]``, and ``dx`` scatters ``dz[n, i, j, :] kernel[p, q]^T``
    back to every input pixel that entered ``z[n, i, j]`` (padding cut away).
    """

    _default_name = "conv2d"

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape)
        if not is_int(filters) or filters <= 0:
            raise ValueError(f"{self.describe()}: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = to_pair(kernel_size, "kernel_size", self.describe())
        self.strides = to_pair(strides, "strides", self.describe())
        self.padding = check_padding(padding)
        self.activation = check_activation(activation, self.describe())
        self.use_bias = bool(use_bias)
        self.kernel_initializer = check_initializer(kernel_initializer)
        self.bias_initializer = check_initializer(bias_initializer)

    def compute_output_shape(self, input_shape):
        return window_output_hw(self, input_shape, self.kernel_size, "kernel") + (self.filters,)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)
        self.pads = pads_2d(self.input_shape[:2], self.kernel_size, self.strides, self.padding)
        self._workspace = {}  # the kernels' buffers, reused from one step to the next
        rng = generator()
        self._add_param("kernel", self.kernel_size + (self.input_shape[2], self.filters),
                        self.kernel_initializer, rng)
        if self.use_bias:
            self._add_param("bias", (self.filters,), self.bias_initializer, rng)

    def forward(self, x, training=False):
        x = self._check_input(x)
        fused_relu = self.activation == "relu"
        z = backend.kernels().conv2d_forward(x, self.params["kernel"], self.params.get("bias"),
                                             self.strides, self.pads, relu=fused_relu)
        self._x = x
        return self._activate(z, already_applied=fused_relu)

    def release_cache(self, why):
        super().release_cache(why)
        self._x = self._y = None

    def backward(self, dy, need_dx=True):
        if self.activation != "relu":
            return super().backward(dy, need_dx)
        # The fused ReLU's mask is applied inside the backward kernel.
        return self._backward(dy, need_dx, relu=True)

    def backward_from_logits(self, dz, need_dx=True):
        """Backward from dz = dL/dz, the gradient before the activation."""
        return self._backward(dz, need_dx, relu=False)

    def _backward(self, dy, need_dx, relu):
        dy = self._check_gradient(dy)
        dw, db, dx = backend.kernels().conv2d_backward(dy, self._x, self.params["kernel"],
                                                       self.strides, self.pads,
                                                       relu_y=self._y if relu else None,
                                                       need_db=self.use_bias, need_dx=need_dx,
                                                       workspace=self._workspace)
        self._set_grads(dw, db)
        return dx

    def _set_grads(self, dw, db):
        self.grads["kernel"] = dw
        if self.use_bias:
            self.grads["bias"] = db

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}
