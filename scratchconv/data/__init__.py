"""Rune data and image folders: the 24 labels, a handwriting generator, a loader for any labelled
image folder, augmentation, split.

The tutorial's recipe with this package::

    from scratchconv import data
    x, y, names = data.load_image_folder(data.default_data_dir())        # (n, 50, 50, 3) in [0, 1]
    x, y = data.augment_rotations(x, y)                                  # + rotations of ±10°, ±20°
    x_train, x_test, y_train, y_test = data.split(x, data.to_categorical(y))
"""
from .augment import affine_transform, augment, augment_rotations
from .fingerprint import fingerprint, fingerprints, seen_before
from .generator import WriterStyle, draw_rune, make_dataset, writer_style
from .loader import (IMAGE_EXTENSIONS, default_data_dir, labelled_files, load_image,
                     load_image_folder, preprocessing, shipped_data_dirs)
from .runes import NUM_CLASSES, RUNE_NAMES, RUNES, label_index, label_table
from .sheet import contact_sheet
from .split import split, to_categorical

__all__ = [
    "RUNES", "RUNE_NAMES", "NUM_CLASSES", "label_table", "label_index",
    "WriterStyle", "writer_style", "draw_rune", "make_dataset",
    "IMAGE_EXTENSIONS", "default_data_dir", "shipped_data_dirs", "labelled_files", "load_image",
    "load_image_folder",
    "affine_transform", "augment_rotations", "augment",
    "split", "to_categorical", "contact_sheet", "fingerprint", "fingerprints", "seen_before",
    "preprocessing",
]
