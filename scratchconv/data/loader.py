"""Read a folder of labelled images (runes, or any classes) into arrays a model takes.

Two layouts are read:

- one folder per class, as ``keras.utils.image_dataset_from_directory`` reads:
  ``cat/anything.png``, ``dog/scan.jpg``;
- the tutorial's flat layout: image files directly in the folder, the class being the file name
  before the first ``_``: ``cat_03.png``, ``ᚠ_03.png``.

When every label is a rune, by character or by name (``ᚠ``, ``fehu``), the classes are the 24
runes in the tutorial's order, whichever of them the folder holds; otherwise they are the labels
found, sorted, or the ``class_names=`` given.

Every image, whatever its mode (1, L, P, RGB, RGBA, I;16, 32-bit I, float F, ...) and size, is
turned upright by its EXIF orientation and becomes an array of floats in [0, 1], resized to
``image_size`` x ``image_size`` and, unless told otherwise, turned to the tutorial's polarity
(light ink on a dark background): an image whose median brightness is above one half (the
background is most of a drawing) is dark ink on light paper and is inverted, ``x -> 1 - x``.
"""
import io
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .runes import RUNE_NAMES, RUNES, is_rune_label, label_index

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

# The largest image_size accepted: checked before anything is allocated, since a folder of n
# images takes n x image_size^2 x 3 x 4 bytes (1024: 12 MB an image). Raise it
# (scratchconv.data.loader.MAX_IMAGE_SIZE = ...) for larger images.
MAX_IMAGE_SIZE = 1024


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
                      strict=False, class_names=None, validation_split=None, subset=None, seed=None):
    """Load labelled images from a folder, one subfolder per class or the tutorial's flat layout.

    Parameters
    ----------
    path : str or Path
        The folder: ``<class>/<anything>.png`` (one subfolder per class, as
        ``keras.utils.image_dataset_from_directory`` reads) or ``<class>_<n>.png`` (the
        tutorial's flat layout, the class being the file name before the first ``_``).
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
    class_names : list of str, optional
        The classes and their order (label ``i`` is ``class_names[i]``); every label found must
        be one of them. By default: when every label is a rune (character or name, any case),
        the 24 runes in the tutorial's order; otherwise the labels found, sorted.
    validation_split : float in (0, 1), optional
        Hold out this fraction of the files, chosen at random with ``seed`` before any is read
        (Keras's rule: the files are shuffled and the last ``int(validation_split * n)`` are
        the validation files). Needs ``subset`` and ``seed``.
    subset : {"training", "validation", "both"}
        Which part to return with ``validation_split``.
    seed : int
        Seed of the validation split: the same seed holds out the same files.

    Returns
    -------
    x : ndarray of shape (n, image_size, image_size, 3 or 1), float32 in [0, 1]
    y : ndarray of shape (n,), int64
        Class indices: ``class_names[y[i]]`` is the class of image ``i``.
    class_names : list of str
        ``list(RUNES)`` for runes. With ``subset="both"`` the return is
        ``((x_train, y_train), (x_val, y_val), class_names)``.

    Notes
    -----
    Files come in class order, and within a class in natural order of their names (``_2``
    before ``_10``), so a folder always loads the same way (each part of a split too). Hidden
    files and files without an image extension (``IMAGE_EXTENSIONS``) are ignored; subfolders
    of class folders are not searched. Transparent pixels are filled with the colour opposite to
    the ink (white behind dark strokes, black behind light ones) before anything else.
    Non-square images are stretched to the square, as keras's ``load_img(target_size=...)`` does.
    """
    _check_options(image_size, color_mode, invert, resample)
    _check_split(validation_split, subset, seed)
    path = Path(path)
    files, labels, class_names = labelled_files(path, class_names)
    _warn_missing_classes(path, labels, class_names)
    if validation_split is None:
        return (*_read_all(path, files, labels, image_size, color_mode, invert, resample, strict),
                class_names)
    training, validation = _split_indices(len(files), validation_split, seed)
    parts = [_read_all(path, [files[i] for i in part], [labels[i] for i in part], image_size,
                       color_mode, invert, resample, strict)
             for part in (training, validation)]
    if subset == "both":
        return parts[0], parts[1], class_names
    return (*parts[0 if subset == "training" else 1], class_names)


def labelled_files(path, class_names=None):
    """``(files, labels, class_names)`` of the folder ``path`` in load order, without reading
    any image: ``labels[i]`` is the class index of ``files[i]`` in ``class_names``.

    The rules are those of :func:`load_image_folder`; ValueError naming the file or folder
    whose label does not fit.
    """
    pairs = _labelled_files(Path(path))
    if class_names is None:
        class_names = _inferred_class_names(Path(path), pairs)
    else:
        class_names = _checked_class_names(class_names)
    index = {_canonical(name): i for i, name in enumerate(class_names)}
    labelled = []
    for label, file in pairs:
        i = index.get(_canonical(label))
        if i is None:
            raise ValueError(f"{file} has the label {label!r}, which is not one of the class names "
                             f"{', '.join(class_names)}")
        labelled.append((i, file))
    # Stable: within a class, the natural order of the names found.
    labelled.sort(key=lambda pair: pair[0])
    return [file for _, file in labelled], [i for i, _ in labelled], list(class_names)


def _warn_missing_classes(folder, labels, class_names):
    missing = sorted(set(range(len(class_names))) - set(labels))
    if not missing:
        return
    if class_names == list(RUNES):
        names, kind = ", ".join(f"{RUNES[i]} {RUNE_NAMES[i]}" for i in missing), "runes"
    else:
        names, kind = ", ".join(class_names[i] for i in missing), "classes"
    warnings.warn(f"{folder} has no images of {len(missing)} of the {len(class_names)} {kind}: "
                  f"{names}", stacklevel=3)


def _canonical(label):
    """A label as classes are matched: a rune by its character (so ``fehu``, ``FEHU`` and ``ᚠ``
    are one class), anything else as written."""
    return RUNES[label_index(label)] if is_rune_label(label) else label


def _inferred_class_names(folder, pairs):
    """The runes when every label is one; else the labels found, sorted (Keras's order)."""
    runes = [(label, file) for label, file in pairs if is_rune_label(label)]
    if len(runes) == len(pairs):
        return list(RUNES)
    if runes:
        other = next((label, file) for label, file in pairs if not is_rune_label(label))
        raise ValueError(f"{folder} mixes rune labels ({runes[0][0]!r} from {runes[0][1]}) with "
                         f"others ({other[0]!r} from {other[1]}): rename one of them, or give "
                         f"class_names= to say which classes there are")
    return sorted({label for label, _ in pairs})


def _checked_class_names(class_names):
    if isinstance(class_names, str) or not all(isinstance(n, str) and n for n in class_names):
        raise ValueError(f"class_names must be a list of non-empty strings, got {class_names!r}")
    class_names = list(class_names)
    canonical = [_canonical(name) for name in class_names]
    if len(set(canonical)) != len(canonical):
        raise ValueError(f"class_names names a class twice: {class_names}")
    return class_names


def _check_split(validation_split, subset, seed):
    if validation_split is None:
        if subset is not None:
            raise ValueError(f"subset={subset!r} needs validation_split=")
        return
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
            or not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be a fraction between 0 and 1, got {validation_split!r}")
    if subset not in ("training", "validation", "both"):
        raise ValueError(f"with validation_split, subset must be 'training', 'validation' or 'both', "
                         f"got {subset!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"with validation_split, give seed= (an integer) so that the training and "
                         f"the validation part never share a file, got {seed!r}")


def _split_indices(n, validation_split, seed):
    """(training, validation) indices of ``n`` files, each part in load order."""
    order = np.random.default_rng(seed).permutation(n)
    held_out = int(validation_split * n)
    if held_out == 0 or held_out == n:
        raise ValueError(f"validation_split={validation_split} of {n} files leaves "
                         f"{'no validation' if held_out == 0 else 'no training'} file")
    return sorted(order[:n - held_out].tolist()), sorted(order[n - held_out:].tolist())


def _read_all(folder, files, labels, image_size, color_mode, invert, resample, strict):
    """(x, y) of ``files``; an unreadable file is skipped with a warning, or fails if ``strict``."""
    images, kept = [], []
    for label, file in zip(labels, files):
        try:
            array = _read(file, image_size, color_mode, invert, resample)
        except ValueError as error:
            if strict:
                raise
            warnings.warn(f"{error}; skipped", stacklevel=3)
            continue
        images.append(array)
        kept.append(label)
    if not images:
        raise ValueError(f"{folder} has image files but none of them could be read")
    return np.stack(images).astype(np.float32), np.array(kept, dtype=np.int64)


def preprocessing(image_size=50, color_mode="rgb", invert="auto", resample="bilinear"):
    """How images are prepared for a model, as a dict a model file keeps
    (``model.preprocessing``): ``load_image(path, **preprocessing(...))`` prepares one image the
    way the model's training images were. The parameters are those of :func:`load_image_folder`
    and are checked the same way."""
    _check_options(image_size, color_mode, invert, resample)
    return {"image_size": int(image_size), "color_mode": color_mode, "invert": invert,
            "resample": resample}


def load_image(path, image_size=50, color_mode="rgb", invert="auto", resample="bilinear",
               max_pixels=None):
    """One image prepared exactly as :func:`load_image_folder` prepares each of its images.

    ``path`` is a file's path, or the bytes of an image file (PNG, JPEG, ...: what a web page
    uploads); the other parameters are those of :func:`load_image_folder`. ``max_pixels``, if
    given, refuses an image of more pixels (width x height) before decoding it, so that a small
    file declaring a huge image cannot take the memory.

    Returns an ndarray of shape (image_size, image_size, 3 or 1), float32 in [0, 1]; ``x[None]``
    is a batch of one for ``model.predict``. Raises FileNotFoundError when there is no file at
    ``path`` and ValueError naming the file (or "the image data") and the reason when it cannot
    be read as an image or is too large.
    """
    _check_options(image_size, color_mode, invert, resample)
    if isinstance(path, (bytes, bytearray, memoryview)):
        source, name = io.BytesIO(path), "the image data"
    else:
        source = name = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"no such image file: {path}")
    return _read(source, image_size, color_mode, invert, resample, name=name,
                 max_pixels=max_pixels).astype(np.float32)


def _check_options(image_size, color_mode, invert, resample):
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode must be 'rgb' or 'grayscale', got {color_mode!r}")
    if resample not in RESAMPLE:
        raise ValueError(f"resample must be one of {', '.join(RESAMPLE)}, got {resample!r}")
    if invert not in ("auto", True, False):
        raise ValueError(f"invert must be 'auto', True or False, got {invert!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    if image_size > MAX_IMAGE_SIZE:
        raise ValueError(f"image_size {image_size} is more than the {MAX_IMAGE_SIZE} scratchconv "
                         f"allows (each image would take {image_size ** 2 * 12:,} bytes); raise "
                         f"scratchconv.data.loader.MAX_IMAGE_SIZE for larger images")


def _read(file, image_size, color_mode, invert, resample, name=None, max_pixels=None):
    """The image at ``file`` (a path or a binary file object) as floats (image_size,
    image_size, c), light strokes on dark; ValueError naming it (``name``, default ``file``)
    when it is not a readable image or has more than ``max_pixels`` pixels."""
    name = file if name is None else name
    try:
        # Pillow warns about an image of more than Image.MAX_IMAGE_PIXELS pixels and refuses
        # one of twice that; both are refused here, before decoding, as the bombs they may be.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
        with image:
            width, height = image.size
            too_large = max_pixels is not None and width * height > max_pixels
            if not too_large:
                image.load()
                # A phone's photo is stored as the sensor saw it, with its turn in EXIF.
                ImageOps.exif_transpose(image, in_place=True)
                array = _to_array(image, color_mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ValueError(f"{name} is refused as a possible decompression bomb: {error} (raise "
                         f"PIL.Image.MAX_IMAGE_PIXELS to read larger images)") from error
    except (OSError, ValueError, SyntaxError) as error:
        # Pillow names a file object by its repr (<_io.BytesIO object at 0x...>): leave it out.
        reason = str(error).replace(f" {file!r}", "")
        raise ValueError(f"{name} is not a readable image ({reason})") from error
    if too_large:
        raise ValueError(f"{name} is an image of {width}x{height} pixels, more than the "
                         f"{max_pixels:,} allowed")
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
    """``(label text, file)`` pairs of ``folder`` in natural name order, in whichever layout
    it uses."""
    if not folder.exists():
        raise FileNotFoundError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    entries = _visible(folder)
    if not entries:
        raise ValueError(f"{folder} is empty: expected <class>_<n> images or one folder per class")
    top_files = [entry for entry in entries if _is_image_file(entry)]
    class_dirs = [entry for entry in entries
                  if entry.is_dir() and any(_is_image_file(f) for f in entry.iterdir())]
    if top_files and class_dirs:
        raise ValueError(f"{folder} holds both image files and class folders "
                         f"({class_dirs[0].name}/): keep one layout")
    if top_files:
        return [(_flat_label(file), file) for file in top_files]
    if class_dirs:
        return [(sub.name, file) for sub in class_dirs for file in _visible(sub) if _is_image_file(file)]
    extensions = " ".join(IMAGE_EXTENSIONS)
    raise ValueError(f"{folder} has no image files ({extensions}) and no class folders with any")


def _flat_label(file):
    """The class of a file in the flat layout: its name before the first ``_`` (``cat_03.png``
    is a cat), or its whole name without the extension when it has no ``_``."""
    return file.name.split("_")[0].rsplit(".", 1)[0]


def _integer_white(image):
    """The value of white in a mode "I" or "I;16" image: 2^31 - 1 or 2^32 - 1 for a TIFF of
    32-bit signed or unsigned samples, else 65535 (16 bits, what PNG and most TIFFs hold)."""
    tags = getattr(image, "tag_v2", None)
    if image.mode == "I" and tags is not None and 32 in tuple(np.atleast_1d(tags.get(258, ()))):
        signed = 2 in tuple(np.atleast_1d(tags.get(339, ())))
        return float(2**31 - 1 if signed else 2**32 - 1)
    return 65535.0


def _to_array(image, color_mode):
    """The image as floats in [0, 1]: ndarray of shape (h, w, 3) for "rgb", (h, w, 1) for "grayscale"."""
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16- and 32-bit gray: Pillow's own conversion to 8 bits would clip instead of scaling.
        gray = np.asarray(image, dtype=np.float64) / _integer_white(image)
        array = np.clip(gray, 0.0, 1.0)[..., None]
    elif image.mode == "F":
        # Float gray: in [0, 1] as it is (what scientific TIFFs hold), else on the 0-255 scale.
        gray = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        if gray.size and gray.max() > 1.0:
            gray = gray / 255.0
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
