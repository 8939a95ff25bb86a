"""Read a folder of rune images into arrays the tutorial model takes.

Two layouts are read:

- the tutorial's: image files directly in the folder, the label being the file name before the
  first ``_``, either the rune or its name: ``ᚠ_03.png``, ``fehu_03.png``;
- one folder per class, named by the rune or its name: ``ᚠ/anything.png``, ``fehu/scan.jpg``.

Every image, whatever its mode (1, L, P, RGB, RGBA, I;16, ...) and size, becomes an array of
floats in [0, 1], resized to ``image_size`` x ``image_size`` and, unless told otherwise, turned
to the tutorial's polarity (light ink on a dark background): an image whose median brightness is
above one half (the background is most of a rune image) is dark ink on light paper and is
inverted, ``x -> 1 - x``.
"""
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .runes import RUNE_NAMES, RUNES, label_index

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                    ".ppm", ".pgm", ".pbm")

RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}

COLOR_MODES = {"rgb": 3, "grayscale": 1}


# The shipped images in a checkout or an editable install: <repo>/data/runes.
CHECKOUT_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "runes"


def shipped_data_dirs():
    """Where the shipped rune images can be, in the order :func:`default_data_dir` looks.

    A checkout (or an editable install) has them at ``<repo>/data/runes``; a regular
    ``pip install`` copies them to ``<prefix>/share/scratchconv/runes`` (see
    ``[tool.setuptools.data-files]`` in pyproject.toml), where ``<prefix>`` is the environment's
    ``sys.prefix``, or the user base for ``pip install --user``.
    """
    import site
    import sys

    return [CHECKOUT_DATA_DIR] + [Path(base) / "share" / "scratchconv" / "runes"
                                  for base in (sys.prefix, site.getuserbase())]


def default_data_dir():
    """The folder of the shipped rune images, wherever scratchconv is installed.

    The first of :func:`shipped_data_dirs` that holds PNG images; FileNotFoundError listing the
    places looked in when none does.
    """
    candidates = shipped_data_dirs()
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.png")):
            return folder
    raise FileNotFoundError("the shipped rune images were not found (looked in "
                            + ", ".join(str(c) for c in candidates) + ")")


def load_image_folder(path, image_size=50, color_mode="rgb", invert="auto", resample="bilinear",
                      strict=False):
    """Load labelled rune images from a folder (tutorial layout or one folder per class).

    Parameters
    ----------
    path : str or Path
        The folder.
    image_size : int
        Side of the square the images are resized to (the tutorial's 50).
    color_mode : {"rgb", "grayscale"}
        Three channels (gray images repeated) as the tutorial model takes, or one.
    invert : {"auto", True, False}
        "auto" inverts dark-on-light images (median brightness above 0.5) to the tutorial's
        light-on-dark polarity; True inverts every image; False none.
    resample : {"bilinear", "box", "bicubic", "lanczos", "hamming", "nearest"}
        Pillow's resampling filter. Except "nearest", Pillow widens the filter when shrinking, so
        thin strokes of large scans are averaged rather than dropped.
    strict : bool
        If False, a file that cannot be read as an image is reported with ``warnings.warn`` and
        skipped; if True it fails the load with ``ValueError``.

    Returns
    -------
    x : ndarray of shape (n, image_size, image_size, 3 or 1), float32 in [0, 1]
    y : ndarray of shape (n,), int64
        Labels in ``RUNES`` order.
    class_names : list of str
        ``list(RUNES)``: ``class_names[y[i]]`` is the rune of image ``i``.

    Notes
    -----
    Files come in label order, and within a label in natural order of their names (``_2`` before
    ``_10``), so a folder always loads the same way. Hidden files and files without an image
    extension (``IMAGE_EXTENSIONS``) are ignored; subfolders of class folders are not searched.
    Transparent pixels are filled with the colour opposite to the ink (white behind dark
    strokes, black behind light ones) before anything else. Non-square images are stretched to
    the square, as keras's ``load_img(target_size=...)`` does.
    """
    _check_options(image_size, color_mode, invert, resample)
    files = _labelled_files(Path(path))
    images, labels = [], []
    for label, file in files:
        try:
            array = _read(file, image_size, color_mode, invert, resample)
        except ValueError as error:
            if strict:
                raise
            warnings.warn(f"{error}; skipped", stacklevel=2)
            continue
        images.append(array)
        labels.append(label)
    if not images:
        raise ValueError(f"{path} has image files but none of them could be read")
    missing = sorted(set(range(len(RUNES))) - set(labels))
    if missing:
        names = ", ".join(f"{RUNES[i]} {RUNE_NAMES[i]}" for i in missing)
        warnings.warn(f"{path} has no images of {len(missing)} of the {len(RUNES)} runes: {names}",
                      stacklevel=2)
    return np.stack(images).astype(np.float32), np.array(labels, dtype=np.int64), list(RUNES)


def load_image(path, image_size=50, color_mode="rgb", invert="auto", resample="bilinear"):
    """One image file prepared exactly as :func:`load_image_folder` prepares each of its images.

    The parameters are those of :func:`load_image_folder`. Returns an ndarray of shape
    (image_size, image_size, 3 or 1), float32 in [0, 1]; ``x[None]`` is a batch of one for
    ``model.predict``. Raises FileNotFoundError when there is no file at ``path`` and ValueError
    naming the file and the reason when it cannot be read as an image.
    """
    _check_options(image_size, color_mode, invert, resample)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    return _read(path, image_size, color_mode, invert, resample).astype(np.float32)


def _check_options(image_size, color_mode, invert, resample):
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode must be 'rgb' or 'grayscale', got {color_mode!r}")
    if resample not in RESAMPLE:
        raise ValueError(f"resample must be one of {', '.join(RESAMPLE)}, got {resample!r}")
    if invert not in ("auto", True, False):
        raise ValueError(f"invert must be 'auto', True or False, got {invert!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")


def _read(file, image_size, color_mode, invert, resample):
    """The image at ``file`` as floats (image_size, image_size, c), light strokes on dark;
    ValueError naming the file when it is not a readable image."""
    try:
        with Image.open(file) as image:
            image.load()
            array = _to_array(image, color_mode)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"{file} is not a readable image ({error})") from error
    array = _resize(array, image_size, RESAMPLE[resample])
    if invert is True or (invert == "auto" and np.median(array.mean(axis=-1)) > 0.5):
        array = 1.0 - array
    return array


def _natural_key(name):
    # "ᚠ_2" before "ᚠ_10": digit runs compare as numbers.
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", name)]


def _visible(folder):
    return sorted((entry for entry in folder.iterdir() if not entry.name.startswith(".")),
                  key=lambda entry: _natural_key(entry.name))


def _is_image_file(entry):
    return entry.is_file() and entry.suffix.lower() in IMAGE_EXTENSIONS


def _labelled_files(folder):
    """``(label, file)`` pairs of ``folder`` in load order, in whichever layout it uses."""
    if not folder.exists():
        raise FileNotFoundError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    entries = _visible(folder)
    if not entries:
        raise ValueError(f"{folder} is empty: expected rune images or one folder per rune")
    top_files = [entry for entry in entries if _is_image_file(entry)]
    class_dirs = [entry for entry in entries
                  if entry.is_dir() and any(_is_image_file(f) for f in entry.iterdir())]
    if top_files and class_dirs:
        raise ValueError(f"{folder} holds both image files and class folders "
                         f"({class_dirs[0].name}/): keep one layout")
    if top_files:
        pairs = [(label_index(file.name.split("_")[0].rsplit(".", 1)[0], where=file), file)
                 for file in top_files]
    elif class_dirs:
        pairs = [(label_index(sub.name, where=sub), file)
                 for sub in class_dirs for file in _visible(sub) if _is_image_file(file)]
    else:
        extensions = " ".join(IMAGE_EXTENSIONS)
        raise ValueError(f"{folder} has no image files ({extensions}) and no class folders with any")
    # Stable: within a label, the natural order of the names found above.
    return sorted(pairs, key=lambda pair: pair[0])


def _to_array(image, color_mode):
    """The image as floats in [0, 1]: ndarray of shape (h, w, 3) for "rgb", (h, w, 1) for "grayscale"."""
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16-bit gray: Pillow's own conversion to 8 bits would clip instead of scaling.
        gray = np.asarray(image, dtype=np.float64) / 65535.0
        array = np.clip(gray, 0.0, 1.0)[..., None]
    elif "A" in image.mode or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0
        colour, alpha = rgba[..., :3], rgba[..., 3:]
        opaque = alpha[..., 0] > 0.5
        # Fill what is transparent with the colour opposite to the ink the image does have.
        ink = colour[opaque].mean() if opaque.any() else 0.0
        array = colour * alpha + (1.0 if ink < 0.5 else 0.0) * (1.0 - alpha)
    else:
        array = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    if color_mode == "grayscale" and array.shape[-1] == 3:
        # ITU-R 601-2 luma, Pillow's "L" conversion.
        array = (array @ np.array([0.299, 0.587, 0.114]))[..., None]
    elif color_mode == "rgb" and array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return array


def _resize(array, size, resample):
    """Resize each channel of ``array`` (h, w, c) to (size, size, c) in float precision."""
    if array.shape[:2] == (size, size):
        return array
    channels = [np.asarray(Image.fromarray(array[..., k].astype(np.float32)).resize((size, size), resample))
                for k in range(array.shape[-1])]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0)
