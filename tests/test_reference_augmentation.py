"""Agreement with tf.keras in augmentation (issue 4, 2e): scratchconv's rotations against keras's
``apply_affine_transform`` (the same angle, fill mode "nearest"), pixel for pixel.

Keras 3 keeps ``apply_affine_transform`` only in ``keras.src.legacy.preprocessing.image`` (the
public ``keras.preprocessing.image`` no longer exports it); it is what the tutorial's
``ImageDataGenerator(rotation_range=...)`` and ``tf.keras.preprocessing.image`` called. Both
sides interpolate with SciPy's ``affine_transform`` from the same matrix, so the bound 1e-5 on
images in [0, 1] leaves room only for float rounding (measured: 0, identical bits).
"""
import numpy as np
import pytest

from scratchconv import data

ATOL = 1e-5

# Keras's legacy module calls the deprecated scipy.ndimage.interpolation namespace.
pytestmark = pytest.mark.filterwarnings("ignore:Please import `affine_transform`:DeprecationWarning")


@pytest.fixture(scope="module")
def keras_affine(tf):
    from keras.src.legacy.preprocessing.image import apply_affine_transform
    return apply_affine_transform


def keras_rotate(keras_affine, image, theta):
    return keras_affine(image, theta=theta, row_axis=0, col_axis=1, channel_axis=2, fill_mode="nearest")


@pytest.mark.parametrize("shape", [(50, 50, 3), (9, 7, 3), (12, 17, 1)])
@pytest.mark.parametrize("theta", [10, -10, 20, -20, 45, 90, 3.5])
def test_rotation_matches_keras_apply_affine_transform(keras_affine, shape, theta):
    from reference.compare import assert_close
    image = np.random.default_rng(0).uniform(0, 1, shape).astype(np.float32)
    ours = data.affine_transform(image, theta=theta)
    assert ours.dtype == np.float32
    assert_close(ours, keras_rotate(keras_affine, image, theta), f"rotation by {theta} of a {shape} image", atol=ATOL)


def test_augment_rotations_appends_keras_rotations_in_angle_order(keras_affine):
    from reference.compare import assert_close
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (3, 50, 50, 3)).astype(np.float32)
    y = np.arange(3)
    x_aug, y_aug = data.augment_rotations(x, y)
    expected = np.concatenate([x] + [np.stack([keras_rotate(keras_affine, image, theta) for image in x])
                                     for theta in (10, -10, 20, -20)])
    assert_close(x_aug, expected, "the tutorial's augmented batch", atol=ATOL)
    np.testing.assert_array_equal(y_aug, np.tile(y, 5))


def test_shift_zoom_and_shear_match_keras_apply_affine_transform(keras_affine):
    from reference.compare import assert_close
    image = np.random.default_rng(2).uniform(0, 1, (20, 16, 3)).astype(np.float32)
    params = {"theta": 7, "tx": 1.5, "ty": -2.0, "shear": 12, "zx": 0.9, "zy": 1.1}
    assert_close(data.affine_transform(image, **params),
                 keras_affine(image, row_axis=0, col_axis=1, channel_axis=2, fill_mode="nearest", **params),
                 "rotation, shift, shear and zoom together", atol=ATOL)
