"""Flatten and Dense."""
import math

import numpy as np

from .. import backend
from ..checks import is_int
from ..initializers import check as check_initializer
from ..random import generator
from .activations import Activated, check_activation
from .base import Layer, shape_str


class Flatten(Layer):
    """Flatten each sample in NHWC (channels-last, row-major) order, exactly as Keras does,
    so Dense weights transfer between the two unchanged.

    x : ndarray of shape (n, d1, d2, ...);  y : ndarray of shape (n, d1 * d2 * ...)

    ``y = x.reshape(n, -1)``; backward ``dx = dy.reshape(x.shape)``.
    """

    _default_name = "flatten"

    def compute_output_shape(self, input_shape):
        return (math.prod(int(d) for d in input_shape),)  # exact for any size, unlike np.prod

    def forward(self, x, training=False):
        x = self._check_input(x)
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, need_dx=True):
        dy = self._check_gradient(dy)
        return dy.reshape((len(dy),) + self.input_shape) if need_dx else None


class Dense(Activated):
    """Fully connected layer, Keras's ``Dense`` on 2-D input.

    Parameters
    ----------
    units : int
        Output features ``n_out``.
    activation : one of :data:`scratchconv.layers.activations.ACTIVATIONS` or None
    use_bias : bool
    kernel_initializer, bias_initializer : str

    Shapes
    ------
    x : ndarray of shape (n, n_in);  kernel : (n_in, n_out);  bias : (n_out,)
    y : ndarray of shape (n, n_out)

    Notes
    -----
    ``z = x kernel + bias``, ``y = activation(z)``. Backward, with ``dz = dy * activation'(z)``:
    ``dkernel = x^T dz``, ``dbias = sum_n dz[n]``, ``dx = dz kernel^T``.
    Inputs of rank above 2 are refused (put a Flatten before the Dense).
    """

    _default_name = "dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape)
        if not is_int(units) or units <= 0:
            raise ValueError(f"{self.describe()}: units must be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = check_activation(activation, self.describe())
        self.use_bias = bool(use_bias)
        self.kernel_initializer = check_initializer(kernel_initializer)
        self.bias_initializer = check_initializer(bias_initializer)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"{self.describe()} takes 2-D input (None, features), got input of shape "
                             f"{shape_str((None,) + tuple(input_shape))}; put a Flatten layer before it")
        return (self.units,)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)
        rng = generator()
        self._add_param("kernel", (self.input_shape[0], self.units), self.kernel_initializer, rng)
        if self.use_bias:
            self._add_param("bias", (self.units,), self.bias_initializer, rng)

    def forward(self, x, training=False):
        x = self._check_input(x)
        z = backend.kernels().dense_forward(x, self.params["kernel"])
        if self.use_bias:
            z += self.params["bias"]
        self._x = x
        return self._activate(z)

    def backward_from_logits(self, dz, need_dx=True):
        """Backward from dz = dL/dz, the gradient before the activation."""
        dz, x = self._check_gradient(dz), self._x
        # One sample's dkernel is the outer product of x and dz, one multiplication per entry;
        # BLAS's gemm takes about three times as long for it (the tutorial's 3872x128 kernel,
        # float32, one thread: 0.33 / 0.30 against 0.94 / 0.94 ms of CPU time in two runs of
        # python -m benchmarks.choices --only dense-outer, 2-core Xeon, 2026-12-01, load 5.6 /
        # 4.9). Same values; a zero product of opposite signs is -0.0 here, 0.0 from gemm.
        self.grads["kernel"] = (np.outer(x[0], dz[0]) if len(x) == 1
                                else backend.kernels().dense_weight_gradient(x, dz))
        if self.use_bias:
            self.grads["bias"] = dz.sum(axis=0)
        return dz @ self.params["kernel"].T if need_dx else None

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}
