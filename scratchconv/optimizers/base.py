"""What every optimizer shares: the learning rate (a number or a schedule), decoupled weight
decay, the step counter and per-parameter state.

One step (:meth:`Optimizer.apply_gradients`), in Keras 3's order:

    lr = learning_rate                  (a schedule is evaluated at ``iterations``, the steps done)
    iterations += 1
    for each parameter w with gradient g:
        w -= w * weight_decay * lr      (only when weight_decay is set; before the update)
        the optimizer's own update of w from g with lr

The state (momentum, Adam's moments, ...) is kept per parameter array; since layers never
replace their parameter arrays (``set_weights`` and loading copy into them), the state stays
attached across ``set_weights``. The arithmetic happens in the parameter's dtype, in Keras's
order, so float32 runs match TensorFlow closely.
"""
import numpy as np

from ..checks import check_number
from . import schedules

# class name -> optimizer class, filled by Optimizer.__init_subclass__
OPTIMIZER_CLASSES = {}


def keras_cast(value, dt):
    """A Python hyperparameter as tf.keras's ``ops.cast(value, dtype)`` makes it: through a
    float32 constant first, so 0.9 becomes 0.8999999761581421 even for float64 weights."""
    return dt(np.float32(value))


class Optimizer:
    """Shared bookkeeping: learning rate, weight decay, per-parameter state and the step
    counter ``iterations``.

    ``slot_names`` names the state arrays each parameter gets (Adam: ``("m", "v")``); they are
    made on a parameter's first update, zero and shaped like it. ``get_state`` / ``set_state``
    read and restore them with ``iterations``, so a saved model resumes training exactly.
    A subclass defines ``_update(grad, param, lr)`` and ``get_config``, and is registered by
    its class name for :func:`scratchconv.optimizers.get`.
    """

    slot_names = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        OPTIMIZER_CLASSES[cls.__name__] = cls

    def __init__(self, learning_rate, weight_decay=None):
        self.iterations = 0
        self._state = {}
        self._learning_rate = self._checked_learning_rate(learning_rate)
        self.weight_decay = None if weight_decay is None else \
            check_number(weight_decay, "weight_decay", type(self).__name__)

    def _checked_learning_rate(self, value):
        if isinstance(value, dict):
            value = schedules.deserialize(value)
        if isinstance(value, schedules.LearningRateSchedule):
            return value
        try:
            return check_number(value, "learning_rate", type(self).__name__)
        except ValueError:
            raise ValueError(f"{type(self).__name__}: learning_rate must be a non-negative number or a "
                             f"schedule from scratchconv.optimizers.schedules, got {value!r}") from None

    @property
    def learning_rate(self):
        """The learning rate of the next step: the number given, or the schedule's value at
        ``iterations`` (as Keras's ``optimizer.learning_rate``)."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return self._learning_rate(self.iterations)
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        """Set a new rate (what LearningRateScheduler and ReduceLROnPlateau do); as in Keras, an
        optimizer made with a schedule takes only another schedule."""
        value = self._checked_learning_rate(value)
        if isinstance(self._learning_rate, schedules.LearningRateSchedule) \
                and not isinstance(value, schedules.LearningRateSchedule):
            raise TypeError(f"{type(self).__name__} was made with the learning-rate schedule "
                            f"{type(self._learning_rate).__name__}, so its learning_rate cannot be set to "
                            f"the number {value!r}; give it a schedule or make the optimizer with a number")
        self._learning_rate = value

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
        lr = self.learning_rate
        self.iterations += 1
        for grad, param in grads_and_params:
            dt = param.dtype.type
            if self.weight_decay is not None:
                # Keras: variable - variable * wd * lr, wd cast through float32 (tf.cast).
                param -= param * keras_cast(self.weight_decay, dt) * dt(lr)
            self._update(grad, param, dt(lr))

    def _update(self, grad, param, lr):
        """Update ``param`` in place from ``grad`` at learning rate ``lr`` (in param's dtype)."""
        raise NotImplementedError

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
                if not np.isfinite(a).all():
                    raise ValueError(f"the {name!r} state of parameter {i} holds non-finite values "
                                     f"(nan or inf)")
        self._state = {}
        for param, named in zip(params, slots):
            if named is not None:
                for target, name in zip(self._slots(param), self.slot_names):
                    target[...] = named[name]
        self.iterations = int(iterations)

    def get_config(self):
        """The constructor's arguments; a schedule as its ``{"class_name", "config"}``."""
        lr = self._learning_rate
        return {"learning_rate": schedules.serialize(lr) if isinstance(lr, schedules.LearningRateSchedule) else lr,
                "weight_decay": self.weight_decay}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
