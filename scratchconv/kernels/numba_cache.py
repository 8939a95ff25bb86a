"""Where numba keeps the compiled kernels between processes, in whatever environment.

numba caches a ``cache=True`` function beside its source (``__pycache__``) or, when that folder is
not writable, in the user's cache folder (``~/.cache/numba``); when neither is (a read-only
install and a read-only HOME), decorating the function fails ("no locator available") and with
it ``import``. A damaged cache file (a full disk, an interrupted write) makes the first call fail
with an unpickling error. :func:`prepare` runs before the kernels are defined and avoids both:

- no writable place: a private folder under the system's temporary folder is used
  (``NUMBA_CACHE_DIR``), or, if none is writable either, the kernels are compiled in every
  process; either way one line on stderr says so;
- cache files of the module that do not read back are deleted, so numba compiles again.
"""
import glob
import os
import pickle
import sys
import tempfile

from numba.core import caching, config


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
    if locator is not None:
        _remove_damaged(locator.get_cache_path(), os.path.splitext(os.path.basename(module_file))[0])
    return True


def _probe():
    """A function of this module's kind for numba's locators to place (never compiled)."""


def _locator(module_file):
    """numba's cache locator for functions of ``module_file``, or None when it has none."""
    for cls in caching.CacheImpl._locator_classes:
        locator = cls.from_function(_probe, module_file)
        if locator is not None:
            return locator
    return None


def _remove_damaged(folder, module_name):
    """Delete the module's cache files in ``folder`` that do not unpickle (an index with its
    data files), so that numba compiles those functions again instead of failing."""
    for index in glob.glob(os.path.join(glob.escape(folder), f"{glob.escape(module_name)}.*.nbi")):
        stem = index[:-len(".nbi")]
        files = [index] + glob.glob(glob.escape(stem) + ".*.nbc")
        if not all(_readable(path, index=(path == index)) for path in files):
            for path in files:
                try:
                    os.remove(path)
                except OSError:
                    pass


def _readable(path, index):
    """Whether a cache file unpickles as numba reads it (an index: a version, then its data)."""
    try:
        with open(path, "rb") as f:
            if index:
                pickle.load(f)
            pickle.loads(f.read())
    except (AttributeError, ImportError):
        # The file names a class of the kernels' module (the Geometry tuple in a signature),
        # which is defined after this check runs: not damage, and numba will read it.
        return True
    except Exception:  # noqa: BLE001  (any other failure means numba would fail too)
        return False
    return True


def _user():
    return os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")


def _note(text):
    print(f"scratchconv: note: {text}", file=sys.stderr)
