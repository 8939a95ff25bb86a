"""scratchconv: a convolutional neural network engine written from scratch.

    from scratchconv import Sequential, layers
"""
from . import callbacks, initializers, layers, losses, metrics, optimizers
from .backend import get_backend, set_backend
from .gradcheck import gradcheck
from .layers import Input
from .model import Sequential
from .random import set_seed
from .saving import load_model
from .training import History
from .tutorial import tutorial_model

__version__ = "0.1.0"

__all__ = ["Sequential", "Input", "History", "callbacks", "layers", "losses", "optimizers", "metrics", "initializers",
           "load_model", "gradcheck", "set_seed", "set_backend", "get_backend", "tutorial_model"]
