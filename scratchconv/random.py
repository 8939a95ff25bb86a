"""Seeding: one generator behind everything random in scratchconv.

Weight initialisation and the shuffling in ``fit`` draw from :func:`generator`.
:func:`set_seed` replaces it with a freshly seeded one (and seeds Python's ``random`` and
NumPy's legacy global generator too, as ``keras.utils.set_random_seed`` does), so the same
seed gives the same initial weights, the same batch order and therefore bit-identical
training, in one process or in two.
"""
import random as _py_random

import numpy as np

_generator = np.random.default_rng()


def set_seed(seed):
    """Make everything random repeat: initial weights, shuffling, and NumPy/Python's own.

    seed : int >= 0
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"the seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    _generator = np.random.default_rng(seed)
    _py_random.seed(seed)
    np.random.seed(seed % 2**32)


def generator():
    """The generator that weight initialisation and shuffling draw from."""
    return _generator
