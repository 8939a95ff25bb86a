"""Checks of user values shared across scratchconv: the training loop, the losses, the layers'
and callbacks' options."""
import numpy as np


def is_int(value):
    """True for a Python or NumPy integer; a bool, an int to Python, is never taken for a count."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value):
    """True for a Python or NumPy real number, int or float; a bool is not taken for one."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_number(value, what, owner, upper=None, positive=False):
    """``value`` as a float if it is a finite number >= 0 (> 0 if ``positive``, below ``upper``
    if given); else a ValueError naming ``owner`` and ``what``, saying what was expected."""
    if not is_number(value) or not np.isfinite(value) or value < 0 or (positive and value == 0) \
            or (upper is not None and value >= upper):
        bound = (f"in [0, {upper})" if upper is not None else "a positive number" if positive
                 else "a non-negative number")
        raise ValueError(f"{owner}: {what} must be {bound}, got {value!r}")
    return float(value)


# check_finite reads a in chunks of whole samples of about this many bytes, each chunk's
# maximum right after its minimum, so that the second read comes from the core's own cache
# (see check_finite for the figures).
CHECK_CHUNK_BYTES = 1 << 18


def check_finite(a, name, where):
    """A ValueError naming the first sample of ``a`` (n, ...) with a nan or inf, if any; else
    a's smallest and largest values, ``(lo, hi)`` (None when a is empty), for callers that
    need them too.

    The test reads each chunk of a (``CHECK_CHUNK_BYTES``) twice, for its minimum and its
    maximum: a NaN makes both NaN and an infinity is one of them, so two finite extremes mean
    every value is finite. Only a chunk that fails is searched sample by sample for the first
    culprit. ``np.isfinite(a)`` would first write a boolean array of a's size; the two extremes
    of the whole array would read all of it twice from beyond the cache.
    ``python -m benchmarks.choices --only finite-check`` (1,024 images of 50x50x3, float32,
    read from the 2-core Xeon's L3; one thread, 2026-12-02, two runs, ms): chunks of 64 KiB
    3.98 / 3.97, 256 KiB 2.79 / 2.82, 1 MiB 2.98 / 3.00, 4 MiB 3.49 / 3.52, the whole array
    3.68 / 3.61. Below 256 KiB each chunk's own calls weigh more.
    """
    if a.size == 0:
        return None
    a = np.atleast_1d(a)
    step = max(1, CHECK_CHUNK_BYTES // max(1, a[:1].nbytes))
    lo = hi = None
    for first in range(0, len(a), step):
        chunk = a[first:first + step]
        chunk_lo, chunk_hi = chunk.min(), chunk.max()
        if not (np.isfinite(chunk_lo) and np.isfinite(chunk_hi)):
            finite = np.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1)
            raise ValueError(f"{where}: {name} contains non-finite values (nan or inf), first in "
                             f"sample {first + int(np.argmin(finite))}")
        lo = chunk_lo if lo is None else min(lo, chunk_lo)
        hi = chunk_hi if hi is None else max(hi, chunk_hi)
    return lo, hi
