"""RMSprop, Keras 3's rule."""
import numpy as np

from ..checks import check_number
from ..kernels.numpy_kernels import flush_subnormals
from .base import Optimizer


class RMSprop(Optimizer):
    """RMSprop, Keras 3's ``RMSprop``: divide the gradient by the root of a running mean of its
    square (Hinton's lecture 6e). Per parameter, with ``rho`` the decay of the running means:

        v = rho * v + (1 - rho) * g^2                     (slot "velocity")
        centered:  a = rho * a + (1 - rho) * g            (slot "average_gradient")
                   d = v - a^2 + epsilon                  (the variance of g)
        else:      d = v + epsilon
        step = lr * g / sqrt(d)
        momentum > 0:  m = momentum * m + step;  w -= m   (slot "momentum")
        else:          w -= step

    epsilon is added *inside* the square root, as Keras does (Adam adds it outside). With
    ``weight_decay``, ``w -= w weight_decay lr`` first (see :mod:`scratchconv.optimizers.base`).
    The slots are flushed to zero below the smallest normal number, as TensorFlow's CPU kernels
    do (:func:`scratchconv.kernels.numpy_kernels.flush_subnormals` says why).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.rho = check_number(rho, "rho", "RMSprop", upper=1)
        self.momentum = check_number(momentum, "momentum", "RMSprop", upper=1)
        self.epsilon = check_number(epsilon, "epsilon", "RMSprop")
        if not isinstance(centered, (bool, np.bool_)):
            raise ValueError(f"RMSprop: centered must be True or False, got {centered!r}")
        self.centered = bool(centered)

    @property
    def slot_names(self):
        return ("velocity",) + (("momentum",) if self.momentum > 0 else ()) \
            + (("average_gradient",) if self.centered else ())

    def _update(self, grad, param, lr):
        # Keras's Python-float constants meet the tensors in ops.multiply/add, which convert
        # them straight to the parameter's dtype (no float32 detour here, unlike ops.cast).
        dt = param.dtype.type
        slots = dict(zip(self.slot_names, self._slots(param)))
        rho, one_minus_rho = dt(self.rho), dt(1 - self.rho)
        v = slots["velocity"]
        v *= rho
        v += one_minus_rho * np.square(grad)
        flush_subnormals(v)
        if self.centered:
            a = slots["average_gradient"]
            a *= rho
            a += one_minus_rho * grad
            flush_subnormals(a)
            denominator = v - np.square(a)
            denominator += dt(self.epsilon)
        else:
            denominator = v + dt(self.epsilon)
        step = (lr * grad) / np.sqrt(denominator)
        if self.momentum > 0:
            m = slots["momentum"]
            m *= dt(self.momentum)
            m += step
            flush_subnormals(m)
            param -= m
        else:
            param -= step

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
