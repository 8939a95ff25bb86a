"""Stochastic gradient descent, Keras 3's ``SGD``."""
from ..checks import check_number
from ..kernels.numpy_kernels import flush_subnormals
from .base import Optimizer, keras_cast


class SGD(Optimizer):
    """Stochastic gradient descent, Keras 3's ``SGD``.

    Without momentum ``w -= lr g``. With momentum, ``m = momentum m - lr g``, then
    ``w += momentum m - lr g`` (Nesterov) or ``w += m``. With ``weight_decay``,
    ``w -= w weight_decay lr`` first (see :mod:`scratchconv.optimizers.base`). The momentum is
    flushed to zero below the smallest normal number, as TensorFlow's CPU kernels do
    (:func:`scratchconv.kernels.numpy_kernels.flush_subnormals` says why).
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.momentum = check_number(momentum, "momentum", "SGD", upper=1)
        self.nesterov = bool(nesterov)

    @property
    def slot_names(self):
        return ("momentum",) if self.momentum else ()

    def _update(self, grad, param, lr):
        lr_g = grad * lr
        if self.momentum == 0:
            param -= lr_g
            return
        (m,) = self._slots(param)
        momentum = keras_cast(self.momentum, param.dtype.type)
        m *= momentum
        m -= lr_g
        flush_subnormals(m)
        if self.nesterov:
            step = m * momentum
            step -= lr_g
            param += step
        else:
            param += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
