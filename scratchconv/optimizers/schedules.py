"""Learning-rate schedules, Keras 3's ``keras.optimizers.schedules``: a learning rate that
depends on the step. Any optimizer takes one as its ``learning_rate``:

    lr = schedules.ExponentialDecay(0.01, decay_steps=1000, decay_rate=0.9)
    model.compile(optimizer=optimizers.Adam(learning_rate=lr), loss="categorical_crossentropy")

The optimizer calls ``schedule(step)`` before each update, ``step`` being the number of
updates done so far (0 for the first), and uses the value in its parameters' dtype.
Schedules compute in float64. (Keras computes in the dtype of ``initial_learning_rate``:
float32 for a Python float, float64 for a NumPy float64, the case the agreement tests use.)
"""
import math

from ..checks import check_number
from .config import class_config, from_class_config

# class name -> schedule class, filled by LearningRateSchedule.__init_subclass__
SCHEDULE_CLASSES = {}


class LearningRateSchedule:
    """A learning rate as a function of the step: ``schedule(step) -> float``. A subclass
    defines ``__call__`` and ``get_config`` (its constructor's arguments)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        SCHEDULE_CLASSES[cls.__name__] = cls

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase`` the
    exponent is ``floor(step / decay_steps)``, so the rate drops every ``decay_steps`` steps."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        self.initial_learning_rate = check_number(initial_learning_rate, "initial_learning_rate", "ExponentialDecay")
        self.decay_steps = check_number(decay_steps, "decay_steps", "ExponentialDecay", positive=True)
        self.decay_rate = check_number(decay_rate, "decay_rate", "ExponentialDecay")
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i - 1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary.

    boundaries : increasing list of n numbers;  values : list of n + 1 learning rates
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        cls = "PiecewiseConstantDecay"
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)) \
                or len(values) != len(boundaries) + 1:
            raise ValueError(f"{cls}: values must be a list one longer than boundaries, got boundaries="
                             f"{boundaries!r} and values={values!r}")
        self.boundaries = [check_number(b, f"boundaries[{i}]", cls) for i, b in enumerate(boundaries)]
        if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"{cls}: boundaries must increase, got {list(boundaries)!r}")
        self.values = [check_number(v, f"values[{i}]", cls) for i, v in enumerate(values)]
        self.name = name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov and Hutter's SGDR without restarts), with an optional linear
    warmup, as Keras 3's ``CosineDecay``.

    Without ``warmup_target``, with ``s = min(step, decay_steps)``:

        lr = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)

    With ``warmup_target``: for ``step < warmup_steps`` the rate rises linearly,
    ``(warmup_target - initial_learning_rate) * step / warmup_steps + initial_learning_rate``;
    after that it decays as above from ``warmup_target``, over ``step - warmup_steps``.
    ``alpha`` is the final rate as a fraction of the rate decayed from.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        cls = "CosineDecay"
        self.initial_learning_rate = check_number(initial_learning_rate, "initial_learning_rate", cls)
        self.decay_steps = check_number(decay_steps, "decay_steps", cls, positive=True)
        self.alpha = check_number(alpha, "alpha", cls)
        self.name = name
        self.warmup_target = None if warmup_target is None else check_number(warmup_target, "warmup_target", cls)
        self.warmup_steps = check_number(warmup_steps, "warmup_steps", cls)
        if self.warmup_target is not None and self.warmup_steps == 0:
            raise ValueError(f"{cls}: warmup_target={warmup_target!r} needs warmup_steps > 0, got "
                             f"warmup_steps={warmup_steps!r}")

    def _decay(self, step, decay_from):
        cosine = 0.5 * (1.0 + math.cos(math.pi * (step / self.decay_steps)))
        return decay_from * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


def serialize(schedule):
    """``{"class_name", "config"}`` of a schedule, the inverse of :func:`deserialize`."""
    return class_config(schedule)


def deserialize(config):
    """A schedule from :func:`serialize`'s ``{"class_name", "config"}``."""
    return from_class_config(SCHEDULE_CLASSES, config, "a learning-rate schedule")


__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay",
           "serialize", "deserialize"]
