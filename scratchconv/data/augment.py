"""Augmentation: the tutorial's rotations, and random shifts, zooms and shears.

Every transform is keras's ``apply_affine_transform`` (keras.src.legacy.preprocessing.image)
reproduced in plain SciPy: the same matrix, the same centre, the same interpolation (bilinear,
``order=1``) and fill (``"nearest"``: pixels from outside the image repeat the edge), so the
results agree with keras to float rounding.
"""
import numbers

import numpy as np
from scipy import ndimage

TUTORIAL_ANGLES = (10, -10, 20, -20)


def affine_transform(image, theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0,
                     fill_mode="nearest", cval=0.0, order=1):
    """Transform one image exactly as keras's ``apply_affine_transform`` does for an HWC image.

    Parameters
    ----------
    image : ndarray of shape (h, w, c)
    theta : float
        Rotation in degrees; positive turns the picture counter-clockwise as displayed.
    tx, ty : float
        Shift in pixels along the columns (x) and the rows (y): the picture moves by -tx, -ty.
    shear : float
        Shear angle in degrees.
    zx, zy : float
        Zoom along the columns (x) and the rows (y); below 1 magnifies, above 1 shrinks.

    Returns
    -------
    ndarray of shape (h, w, c), the dtype of ``image``.

    Notes
    -----
    The matrix maps an output pixel to the input point it samples (scipy's convention):
    ``M = R(theta) T(tx, ty) S(shear) Z(zx, zy)`` in keras's (x, y) coordinates with
    ``R = [[cos, -sin], [sin, cos]]``, ``S = [[1, -sin(shear)], [0, cos(shear)]]``; it is moved to
    turn about the centre ``(h / 2 - 0.5, w / 2 - 0.5)``, ``M' = C M C^-1``; then its two axes are
    swapped (``P M' P``) into the array's (row, column) order. Like keras, the centre pairs the
    height with x, which is the true centre only for square images.
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"affine_transform expects one image of shape (h, w, c), got shape {image.shape}")
    h, w = image.shape[:2]
    theta, shear = np.deg2rad(theta), np.deg2rad(shear)
    matrix = (np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
              @ np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
              @ np.array([[1, -np.sin(shear), 0], [0, np.cos(shear), 0], [0, 0, 1]])
              @ np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]]))
    o_x, o_y = h / 2 - 0.5, w / 2 - 0.5
    matrix = (np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]]) @ matrix
              @ np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]]))
    matrix = matrix[[1, 0, 2]][:, [1, 0, 2]]
    channels = [ndimage.affine_transform(image[..., k], matrix[:2, :2], matrix[:2, 2],
                                         order=order, mode=fill_mode, cval=cval)
                for k in range(image.shape[-1])]
    return np.stack(channels, axis=-1)


def _check_batch(x, y):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be a batch of images of shape (n, h, w, c), got shape {x.shape}")
    if len(x) == 0:
        raise ValueError("x holds no images (shape (0, h, w, c)), so there is nothing to augment")
    if y is not None and len(y) != len(x):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels")
    return x


def augment_rotations(x, y, angles=TUTORIAL_ANGLES):
    """The tutorial's augmentation: the images plus one rotated copy of each per angle.

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c)
    y : ndarray of shape (n,) or (n, k)
        Labels (indices or one-hot), repeated with their images.
    angles : sequence of float
        Rotations in degrees (keras's ``theta``, positive is counter-clockwise); the tutorial's
        ±10° and ±20° by default.

    Returns
    -------
    x_aug : ndarray of shape ((1 + len(angles)) n, h, w, c)
        The originals first, then all images turned by the first angle, and so on.
    y_aug : ndarray of shape ((1 + len(angles)) n,) or ((1 + len(angles)) n, k)
    """
    x = _check_batch(x, y)
    for angle in angles:
        if not isinstance(angle, numbers.Real):
            raise ValueError(f"rotation angles must be numbers of degrees, got {angle!r}")
    turned = [np.stack([affine_transform(image, theta=angle) for image in x]) for angle in angles]
    return np.concatenate([x, *turned]), np.concatenate([np.asarray(y)] * (1 + len(angles)))


def augment(x, y, copies=1, rotation=0.0, shift=0.0, zoom=0.0, shear=0.0, seed=0):
    """Random augmentation like keras's ``ImageDataGenerator``: the images plus random copies.

    Each copy of each image gets its own transform, drawn as keras draws them:
    rotation ``theta ~ U(-rotation, rotation)`` degrees, shift ``tx ~ U(-shift, shift) w`` and
    ``ty ~ U(-shift, shift) h`` pixels, shear ``~ U(-shear, shear)`` degrees, zoom ``zx, zy ~
    U(1 - zoom, 1 + zoom)`` independently; then :func:`affine_transform`.

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c)
    y : ndarray of shape (n,) or (n, k), or None
    copies : int
        Transformed copies per image.
    seed : int or numpy.random.Generator
        The same seed gives the same copies.

    Returns
    -------
    x_aug : ndarray of shape ((1 + copies) n, h, w, c)
        The originals, then the first copy of every image, and so on.
    y_aug : the labels repeated the same way (None if ``y`` is None).
    """
    x = _check_batch(x, y)
    if isinstance(copies, bool) or not isinstance(copies, numbers.Integral) or copies < 0:
        raise ValueError(f"copies must be a non-negative integer, got {copies!r}")
    for name, value in (("rotation", rotation), ("shift", shift), ("zoom", zoom), ("shear", shear)):
        if not isinstance(value, numbers.Real) or value < 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    if zoom >= 1:
        raise ValueError(f"zoom must be below 1 (it draws zooms from 1 - zoom to 1 + zoom), got {zoom!r}")
    rng = np.random.default_rng(seed)
    h, w = x.shape[1:3]
    out = [x]
    for _ in range(copies):
        out.append(np.stack([
            affine_transform(image,
                             theta=rng.uniform(-rotation, rotation),
                             tx=rng.uniform(-shift, shift) * w,
                             ty=rng.uniform(-shift, shift) * h,
                             shear=rng.uniform(-shear, shear),
                             zx=rng.uniform(1 - zoom, 1 + zoom),
                             zy=rng.uniform(1 - zoom, 1 + zoom))
            for image in x]))
    y_aug = None if y is None else np.concatenate([np.asarray(y)] * (1 + copies))
    return np.concatenate(out), y_aug
