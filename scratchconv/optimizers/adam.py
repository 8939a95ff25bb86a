"""Adam and AdamW, Keras 3's rules."""
import numpy as np

from .. import backend
from ..checks import check_number
from .base import Optimizer


class Adam(Optimizer):
    """Adam, Keras 3's rule (no epsilon-hat correction inside the square root):

        t += 1
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        m += (g - m) * (1 - beta_1)
        v += (g^2 - v) * (1 - beta_2)
        w -= (m * alpha) / (sqrt(v) + epsilon)

    m and v are flushed to zero below the smallest normal number, as TensorFlow's CPU kernels do
    (:func:`scratchconv.kernels.numpy_kernels.flush_subnormals` says why). With
    ``weight_decay``, ``w -= w weight_decay lr`` first (see :mod:`scratchconv.optimizers.base`).
    """

    slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        name = type(self).__name__
        self.beta_1 = check_number(beta_1, "beta_1", name, upper=1)
        self.beta_2 = check_number(beta_2, "beta_2", name, upper=1)
        self.epsilon = check_number(epsilon, "epsilon", name)

    def _update(self, grad, param, lr):
        dt = param.dtype.type
        m, v = self._slots(param)
        alpha = lr * np.sqrt(dt(1) - self._power(self.beta_2, dt)) / (dt(1) - self._power(self.beta_1, dt))
        # The arithmetic is the backend's (numpy_kernels.adam_update reads like the equations).
        backend.kernels().adam_update(param, grad, m, v, alpha, dt(1 - self.beta_1),
                                      dt(1 - self.beta_2), dt(self.epsilon))

    def _power(self, beta, dt):
        """beta^t as tf.keras computes it: its ``ops.cast(beta, dtype)`` goes through a float32
        constant, so beta is rounded to float32 first, even for float64 weights. The power is
        then taken in double and rounded to the parameter's dtype: the correctly rounded power,
        which TensorFlow's pow gives in nearly all steps (float32's own powf is further off)."""
        return dt(np.float64(np.float32(beta)) ** self.iterations)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay, Keras 3's ``AdamW``: Adam's update above, after

        w -= w * weight_decay * lr

    (Loshchilov and Hutter's decoupled decay: the decay does not pass through the moments).
    The same as ``Adam(weight_decay=...)``, with the decay on by default (0.004, as in Keras).
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a non-negative number (AdamW is Adam with weight "
                             "decay; for none use Adam), got None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay)
