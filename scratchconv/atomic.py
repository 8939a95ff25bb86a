"""The one way scratchconv writes a file: whole or not at all, and never through someone else's.

:func:`write_atomically` writes to a new temporary file in the target's folder and renames it over
the target, so a reader sees the old file or the new one, never half of one, and an interrupted or
failed write leaves the old file as it was. The temporary file is created exclusively (``O_EXCL``,
which also refuses a symlink, even a dangling one) under a random name: a symlink or file planted
in the folder is never written through. The data is flushed to disk (``fsync``) before the rename.
A replaced file keeps its permission bits (a private ``0600`` model stays private); a new file
gets the usual ``0666`` less the umask, as with a plain ``open``.

Every writer in the package (model files, history, pictures, generated images, benchmark and
reference results) goes through it.
"""
import contextlib
import os
import secrets
import stat
from pathlib import Path

# O_NOFOLLOW / O_BINARY exist only on some systems; O_EXCL alone already refuses a symlink.
_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
          | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))


def write_atomically(path, write, what="the file"):
    """Call ``write(f)`` with a new binary file ``f`` beside ``path``, fsync it and rename it to
    ``path``; return ``path`` as a Path.

    path : str or os.PathLike; its folder must exist
    write : a function of one argument, a binary file object open for writing (``np.savez``,
        ``Figure.savefig(f, format="png")``, ``Image.save(f, format="PNG")`` and ``f.write`` all
        take one)
    what : how the message of a failure names the file, e.g. ``"the model file"``

    Raises OSError("cannot write <what> <path>: <reason>") when the file cannot be written; the
    temporary file is then removed and a file already at ``path`` is left untouched. Anything
    ``write`` raises (including KeyboardInterrupt) is passed on after the same clean-up.
    """
    path = Path(path)
    folder = path.absolute().parent
    if not folder.is_dir():
        raise OSError(f"cannot write {what} {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise OSError(f"cannot write {what} {path}: it is a folder")
    try:
        # lstat: a symlink at ``path`` is replaced by the new file, never written through, and
        # its meaningless 0777 is not copied.
        old = os.lstat(path)
        mode = stat.S_IMODE(old.st_mode) if stat.S_ISREG(old.st_mode) else None
    except FileNotFoundError:
        mode = None
    tmp = folder / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(tmp, _FLAGS, 0o666)  # the umask applies, as to any new file
    except OSError as err:
        raise OSError(f"cannot write {what} {path}: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise OSError(f"cannot write {what} {path}: {err.strerror or err}") from err
        raise
    _sync_folder(folder)
    return path


def write_text(path, text, what="the file"):
    """:func:`write_atomically` for a text, encoded as UTF-8."""
    return write_atomically(path, lambda f: f.write(text.encode("utf-8")), what=what)


def _sync_folder(folder):
    """fsync the folder, so the rename itself survives a crash (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
