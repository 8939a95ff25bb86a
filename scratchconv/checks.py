"""Checks of user data shared by the training loop and the losses."""
import numpy as np


def check_finite(a, name, where):
    """A ValueError naming the first sample of ``a`` (n, ...) with a nan or inf, if any."""
    finite = np.isfinite(a.reshape(len(a), -1)).all(axis=1)
    if not finite.all():
        raise ValueError(f"{where}: {name} contains non-finite values (nan or inf), first in sample "
                         f"{int(np.argmin(finite))}")
