"""Writing files so that a reader never sees half of one."""
from ..atomic import write_atomically


def save_png(image, path):
    """Save the PIL ``image`` as an optimized PNG at ``path``, atomically
    (:func:`scratchconv.atomic.write_atomically`): an interrupted write leaves the old file (or
    none), never a half-written one. Returns the Path written.
    """
    return write_atomically(path, lambda f: image.save(f, format="PNG", optimize=True),
                            what="the image")
