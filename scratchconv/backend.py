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
ENVIRONMENT_VARIABLE = "SCRATCHCONV_BACKEND"
_MODULES = {
    "numba": "scratchconv.kernels.numba_kernels",
    "numpy": "scratchconv.kernels.numpy_kernels",
}


def _check(name):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return name


# None until the first get_backend(): the environment's choice is read then, not at import, so
# that a bad SCRATCHCONV_BACKEND is one clear error where a backend is needed (the command line
# reports it in one line) instead of a traceback out of "import scratchconv".
_current = None


def backend_from_environment():
    """The backend SCRATCHCONV_BACKEND names ("numba" when unset or empty), or a ValueError
    naming the variable and the valid values."""
    value = os.environ.get(ENVIRONMENT_VARIABLE, "")
    name = value.strip().lower() or "numba"
    if name not in BACKENDS:
        raise ValueError(f"the environment variable {ENVIRONMENT_VARIABLE}={value!r} names no "
                         f"backend: set it to one of {', '.join(BACKENDS)}, or unset it")
    return name


def set_backend(name):
    """Choose the kernels used from now on: ``"numba"`` (fast) or ``"numpy"`` (readable)."""
    global _current
    _current = _check(str(name).strip().lower())


def get_backend():
    """The name of the backend in use."""
    global _current
    if _current is None:
        _current = backend_from_environment()
    return _current


def kernels(name=None):
    """The kernel module of backend ``name`` (default: the one in use)."""
    return importlib.import_module(_MODULES[_check(name or get_backend())])
