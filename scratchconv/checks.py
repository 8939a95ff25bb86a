"""Checks of user values shared across scratchconv: the training loop, the losses, the layers'
and callbacks' options."""
import numpy as np


def is_int(value):
    """True for a Python or NumPy integer; a bool, an int to Python, is never taken for a count."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_finite(a, name, where):
    """A ValueError naming the first sample of ``a`` (n, ...) with a nan or inf, if any."""
    finite = np.isfinite(a.reshape(len(a), -1)).all(axis=1)
    if not finite.all():
        raise ValueError(f"{where}: {name} contains non-finite values (nan or inf), first in sample "
                         f"{int(np.argmin(finite))}")
