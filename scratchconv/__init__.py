"""scratchconv: a convolutional neural network engine written from scratch."""
from .backend import get_backend, set_backend

__version__ = "0.1.0"
