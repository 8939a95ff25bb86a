"""Writing files so that a reader never sees half of one."""
import os
import tempfile
from pathlib import Path


def save_png(image, path):
    """Save the PIL ``image`` as an optimized PNG at ``path``, atomically.

    It is written to a hidden temporary file in the same folder and renamed over ``path``: an
    interrupted write leaves the old file (or none), never a half-written one.
    """
    path = Path(path)
    # mkstemp makes the file private (0600); give it the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png.tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            image.save(file, format="PNG", optimize=True)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    return path
