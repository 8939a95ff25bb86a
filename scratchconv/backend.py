"""Which implementation of the kernels runs: the readable NumPy one or the numba one.

Both modules, :mod:`scratchconv.kernels.numpy_kernels` and
:mod:`scratchconv.kernels.numba_kernels`, export the same functions with the same signatures
(see :mod:`scratchconv.kernels`); the tests hold them equal. ``numba`` is the default; the
environment variable ``SCRATCHCONV_BACKEND`` sets the default for a process and
:func:`set_backend` changes it at run time.
"""
import importlib
import os

BACKENDS = ("numba", "numpy")
_MODULES = {
    "numba": "scratchconv.kernels.numba_kernels",
    "numpy": "scratchconv.kernels.numpy_kernels",
}


def _check(name):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return name


_current = _check(os.environ.get("SCRATCHCONV_BACKEND", "numba").strip().lower() or "numba")


def set_backend(name):
    """Choose the kernels used from now on: ``"numba"`` (fast) or ``"numpy"`` (readable)."""
    global _current
    _current = _check(str(name).strip().lower())


def get_backend():
    """The name of the backend in use."""
    return _current


def kernels(name=None):
    """The kernel module of backend ``name`` (default: the one in use)."""
    return importlib.import_module(_MODULES[_check(name or _current)])
