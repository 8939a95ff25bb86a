"""Where numba keeps the compiled kernels between processes, in whatever environment.

numba caches a ``cache=True`` function beside its source (``__pycache__``) or, when that folder is
not writable, in the user's cache folder (``~/.cache/numba``); when neither is (a read-only
install and a read-only HOME), decorating the function fails ("no locator available") and with
it ``import``. A damaged cache file (a full disk, an interrupted write) makes the call that
reads it fail with an unpickling error. Two functions avoid both:

- :func:`prepare`, before the kernels are defined: with no writable place, a private folder
  under the system's temporary folder is used (``NUMBA_CACHE_DIR``), or, if none is writable
  either, the kernels are compiled in every process; either way one line on stderr says so;
- :func:`load_cached`, after they are defined: a kernel whose cache files do not read back
  deletes them and is compiled again. The files are checked when numba reads them, not all of
  them at import: a first training step of the tutorial model reads 8 of the module's 27 cached
  kernels (16 of 58 files, 1.2 of 3.4 MB); reading all of them at each import took 15 ms of CPU
  time, and more as a cache collects signatures (float64, other array layouts).

The same function makes loading from the cache cheaper. Before numba reads a cached function it
sets up its whole compiler: it imports and registers the implementation of everything it can
compile (NumPy's functions, typed lists and dicts, random generators, ...). Cached machine code
needs none of that, only numba's runtime (NRT, whose allocation functions it calls), so a kernel
read from the cache starts the runtime alone; a kernel that is not in the cache is compiled, and
numba's compiler sets itself up first, as always (as it does for a user's own functions).
Measured by ``python -m benchmarks.startup --cache DIR --warm 3``, four calls each alternating
with the code before (16 warm processes each, 2-core Xeon, 2026-12-02, load average 6.2): a
fresh process's import to its first training step took a median of 0.66 s, against 0.80 s.
"""
import glob
import os
import sys
import tempfile

from numba.core import caching, config
from numba.core.dispatcher import Dispatcher
from numba.core.runtime import rtsys


def prepare(module_file):
    """Make caching work for the kernels defined in ``module_file``; return whether to cache
    (the ``cache=`` of their decorators)."""
    locator = _locator(module_file)
    if locator is None and not config.CACHE_LOCATOR_CLASSES:
        folder = os.path.join(tempfile.gettempdir(), f"scratchconv-numba-cache-{_user()}")
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            config.CACHE_DIR = folder
            locator = _locator(module_file)
        except OSError:
            locator = None
        if locator is None:
            _note("no writable folder for numba's cache (the package folder, the home folder "
                  "and the temporary folder are read-only), so the kernels are compiled in every "
                  "process; set NUMBA_CACHE_DIR to a writable folder to cache them")
            return False
        _note(f"the package folder and the home folder are read-only, so numba's cache of the "
              f"compiled kernels is kept in {folder} (set NUMBA_CACHE_DIR to choose another)")
    return True


def load_cached(namespace):
    """Give every cached numba kernel among the values of ``namespace`` (a module's ``globals()``)
    a cache that loads without setting up numba's compiler and, when its files do not read back,
    deletes them and lets numba compile again (see above)."""
    for kernel in list(namespace.values()):
        if isinstance(kernel, Dispatcher) and isinstance(kernel._cache, caching.FunctionCache):
            kernel._cache = _KernelCache(kernel.py_func)


class _KernelCache(caching.FunctionCache):
    """numba's cache of one function, read with numba's runtime started but not its compiler set
    up, deleting the function's cache files (its index and data files) when reading them fails
    in any way, so that numba compiles and saves them anew."""

    def load_overload(self, sig, target_context):
        # numba's own load_overload calls target_context.refresh() here, whose first call sets
        # up the compiler and, as its first step, starts the runtime (rtsys.initialize).
        rtsys.initialize(target_context)
        try:
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)
        except Exception:  # noqa: BLE001  (a damaged file fails in any way unpickling can)
            index = self._cache_file._index_path
            for path in [index] + glob.glob(glob.escape(index[:-len(".nbi")]) + ".*.nbc"):
                try:
                    os.remove(path)
                except OSError:
                    pass
            return None


def _probe():
    """A function of this module's kind for numba's locators to place (never compiled)."""


def _locator(module_file):
    """numba's cache locator for functions of ``module_file``, or None when it has none."""
    for cls in caching.CacheImpl._locator_classes:
        locator = cls.from_function(_probe, module_file)
        if locator is not None:
            return locator
    return None


def _user():
    return os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")


def _note(text):
    print(f"scratchconv: note: {text}", file=sys.stderr)
