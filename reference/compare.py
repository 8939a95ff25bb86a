"""Comparing our arrays with tf.keras's, with messages that say where they differ."""
import numpy as np


def describe(a):
    """A one-line summary of an array: shape, dtype, range and mean."""
    a = np.asarray(a)
    if a.size == 0:
        return f"shape {a.shape} {a.dtype} (empty)"
    return f"shape {a.shape} {a.dtype} min {a.min():.6g} max {a.max():.6g} mean {a.mean():.6g}"


def relative_error(ours, theirs, floor):
    """Elementwise |ours - theirs| / max(|ours|, |theirs|, floor) in float64.

    ``floor`` keeps entries that are zero in exact arithmetic (a dead ReLU's gradient, say)
    from turning rounding noise into a large ratio; it is the scale below which a difference
    counts as absolute.
    """
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(theirs, dtype=np.float64)
    return np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)


def assert_close(ours, theirs, what, atol=None, rtol=None, floor=None):
    """Check max |ours - theirs| <= atol, or max relative error <= rtol (with
    :func:`relative_error`'s ``floor``), and return that maximum.

    On failure the AssertionError names ``what``, summarises both arrays, and gives the index of
    the worst entry and both values there. A NaN or infinity on either side counts as a failure.
    """
    a = np.asarray(ours)
    b = np.asarray(theirs)
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shapes differ, ours {a.shape}, keras {b.shape}")
    if a.size == 0:
        return 0.0
    if rtol is not None:
        err, bound, kind = relative_error(a, b, floor), rtol, "relative"
    else:
        err, bound, kind = np.abs(a.astype(np.float64) - b.astype(np.float64)), atol, "absolute"
    err = np.where(np.isnan(err), np.inf, err)
    worst = np.unravel_index(np.argmax(err), err.shape)
    if err[worst] <= bound:
        return float(err[worst])
    raise AssertionError(
        f"{what}: max {kind} difference {err[worst]:.3g} > {bound:.3g} at index "
        f"{tuple(int(i) for i in worst)} (ours {a[worst]!r}, keras {b[worst]!r})\n"
        f"  ours:  {describe(a)}\n  keras: {describe(b)}")
