"""SGD and Adam with Keras 3's update rules, defaults and arithmetic order.

Both update parameters in place. The state (momentum, Adam's moments) is kept per parameter
array; since layers never replace their parameter arrays (``set_weights`` and loading copy
into them), the state stays attached across ``set_weights``. The arithmetic happens in the
parameter's dtype, in Keras's order, so float32 runs match TensorFlow closely.
"""
import numpy as np

from . import backend


def _check_rate(value, what, cls, upper=None):
    """A non-negative float (and below ``upper`` when given), or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value) or value < 0 or (upper is not None and value >= upper):
        bound = f"in [0, {upper})" if upper is not None else "a non-negative number"
        raise ValueError(f"{cls}: {what} must be {bound}, got {value!r}")
    return float(value)


class Optimizer:
    """Shared bookkeeping: per-parameter state and the step counter ``iterations``.

    ``slot_names`` names the state arrays each parameter gets (Adam: ``("m", "v")``); they are
    made on a parameter's first update, zero and shaped like it. ``get_state`` / ``set_state``
    read and restore them with ``iterations``, so a saved model resumes training exactly.
    """

    slot_names = ()

    def __init__(self):
        self.iterations = 0
        self._state = {}

    def _slots(self, param):
        """The state arrays of ``param``, made zero on first use."""
        key = id(param)
        if key not in self._state:
            # Holding the parameter itself keeps its id from being reused by another array.
            self._state[key] = (param, [np.zeros_like(param) for _ in self.slot_names])
        return self._state[key][1]

    def apply_gradients(self, grads_and_params):
        """One step: update every parameter in place from its gradient.

        grads_and_params : iterable of (grad, param) pairs of equal shapes (Keras's order).
        """
        self.iterations += 1
        for grad, param in grads_and_params:
            self._update(grad, param)

    def get_state(self, params):
        """``(iterations, slots)``: ``slots[i]`` is a dict slot name -> copy of the state array of
        ``params[i]``, or None for a parameter this optimizer has not updated yet."""
        slots = []
        for param in params:
            entry = self._state.get(id(param))
            slots.append(None if entry is None else
                         {name: a.copy() for name, a in zip(self.slot_names, entry[1])})
        return self.iterations, slots

    def set_state(self, params, iterations, slots):
        """Restore what :meth:`get_state` returned, for the same parameters in the same order.

        Raises ValueError when the slots do not fit the parameters (count, names or shapes).
        """
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"iterations must be a non-negative int, got {iterations!r}")
        if len(slots) != len(params):
            raise ValueError(f"the state has slots for {len(slots)} parameters, but there are {len(params)}")
        for i, (param, named) in enumerate(zip(params, slots)):
            if named is not None and set(named) != set(self.slot_names):
                raise ValueError(f"{type(self).__name__} keeps the state {list(self.slot_names)} per "
                                 f"parameter, but parameter {i} has {sorted(named)}")
            for name, a in (named or {}).items():
                if np.shape(a) != param.shape:
                    raise ValueError(f"the {name!r} state of parameter {i} has shape {np.shape(a)}, "
                                     f"but the parameter has {param.shape}")
        self._state = {}
        for param, named in zip(params, slots):
            if named is not None:
                for target, name in zip(self._slots(param), self.slot_names):
                    target[...] = named[name]
        self.iterations = int(iterations)

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SGD(Optimizer):
    """Stochastic gradient descent, Keras 3's ``SGD``.

    Without momentum ``w -= lr g``. With momentum, ``m = momentum m - lr g``, then
    ``w += momentum m - lr g`` (Nesterov) or ``w += m``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__()
        self.learning_rate = _check_rate(learning_rate, "learning_rate", "SGD")
        self.momentum = _check_rate(momentum, "momentum", "SGD", upper=1)
        self.nesterov = bool(nesterov)

    @property
    def slot_names(self):
        return ("momentum",) if self.momentum else ()

    def _update(self, grad, param):
        dt = param.dtype.type
        lr_g = grad * dt(self.learning_rate)
        if self.momentum == 0:
            param -= lr_g
            return
        (m,) = self._slots(param)
        momentum = dt(np.float32(self.momentum))  # tf.keras casts it through float32 too
        m *= momentum
        m -= lr_g
        if self.nesterov:
            step = m * momentum
            step -= lr_g
            param += step
        else:
            param += m

    def get_config(self):
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam, Keras 3's rule (no epsilon-hat correction inside the square root):

        t += 1
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        m += (g - m) * (1 - beta_1)
        v += (g^2 - v) * (1 - beta_2)
        w -= (m * alpha) / (sqrt(v) + epsilon)
    """

    slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__()
        self.learning_rate = _check_rate(learning_rate, "learning_rate", "Adam")
        self.beta_1 = _check_rate(beta_1, "beta_1", "Adam", upper=1)
        self.beta_2 = _check_rate(beta_2, "beta_2", "Adam", upper=1)
        self.epsilon = _check_rate(epsilon, "epsilon", "Adam")

    def _update(self, grad, param):
        dt = param.dtype.type
        m, v = self._slots(param)
        alpha = dt(self.learning_rate) * np.sqrt(dt(1) - self._power(self.beta_2, dt)) \
            / (dt(1) - self._power(self.beta_1, dt))
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
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
_BY_CLASS_NAME = {cls.__name__: cls for cls in OPTIMIZERS.values()}


def get(optimizer):
    """An optimizer from a name ("sgd", "adam"), an Optimizer object (returned as is), or a
    ``{"class_name", "config"}`` dict as in a saved model's compile config."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    if isinstance(optimizer, dict) and optimizer.get("class_name") in _BY_CLASS_NAME:
        return _BY_CLASS_NAME[optimizer["class_name"]].from_config(optimizer.get("config", {}))
    raise ValueError(f'optimizer must be "sgd", "adam", an SGD or Adam object, or a '
                     f'{{"class_name", "config"}} dict, got {optimizer!r}')


def serialize(optimizer):
    """``{"class_name", "config"}`` for an optimizer, the inverse of :func:`get`."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
