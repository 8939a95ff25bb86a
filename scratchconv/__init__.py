"""scratchconv: a convolutional neural network engine written from scratch.

    from scratchconv import Sequential, layers
"""
from . import initializers, layers, losses, metrics, optimizers
from .backend import get_backend, set_backend
from .model import History, Sequential
from .random import set_seed
from .tutorial import tutorial_model

__version__ = "0.1.0"


def _optional(module, name):
    """Import ``name`` from sibling ``module``, tolerating only the module's absence
    (it is written in parallel); any error inside it still shows."""
    import importlib
    try:
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{module}":
            raise
        return None


load_model = _optional("saving", "load_model")
gradcheck = _optional("gradcheck", "gradcheck")
