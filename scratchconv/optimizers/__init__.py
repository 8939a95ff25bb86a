"""Optimizers with Keras 3's update rules, defaults and arithmetic order: SGD, Adam, AdamW,
RMSprop, and learning-rate schedules (:mod:`scratchconv.optimizers.schedules`).

One step of any of them is described in :mod:`scratchconv.optimizers.base`; each class's
docstring gives its own update. ``get`` makes one from a name, an object or a config.
"""
from . import schedules
from .adam import Adam, AdamW
from .base import OPTIMIZER_CLASSES, Optimizer
from .config import class_config, from_class_config
from .rmsprop import RMSprop
from .sgd import SGD


def get(optimizer):
    """An optimizer from a name ("sgd", "adam", "adamw", "rmsprop", any case), an Optimizer
    object (returned as is), or a ``{"class_name", "config"}`` dict as in a saved model."""
    by_name = {name.lower(): cls for name, cls in OPTIMIZER_CLASSES.items()}
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in by_name:
        return by_name[optimizer.lower()]()
    if isinstance(optimizer, dict) and optimizer.get("class_name") in OPTIMIZER_CLASSES:
        return deserialize(optimizer)
    names = ", ".join(f'"{name}"' for name in by_name)
    raise ValueError(f"optimizer must be one of {names}, an Optimizer object, or a "
                     f'{{"class_name", "config"}} dict, got {optimizer!r}')


def serialize(optimizer):
    """``{"class_name", "config"}`` for an optimizer, the inverse of :func:`deserialize`."""
    return class_config(optimizer)


def deserialize(config):
    """An optimizer from :func:`serialize`'s ``{"class_name", "config"}`` (fresh state)."""
    return from_class_config(OPTIMIZER_CLASSES, config, "an optimizer config")


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "schedules", "get", "serialize", "deserialize"]
