"""Augmentation (rotations as keras does them, random shift/zoom/shear) and the split helpers."""
import numpy as np
import pytest

from scratchconv import data


def _ramp(size=5):
    """An image whose value is its column index: ndarray of shape (size, size, 1)."""
    return np.tile(np.arange(size, dtype=np.float64), (size, 1))[..., None]


@pytest.mark.parametrize("theta", [10, -10, 20, -20, 33])
def test_rotation_of_a_ramp_matches_the_hand_computed_bilinear_result(theta):
    # Output pixel (r, c) samples the input at column 2 + cos t (c - 2) - sin t (r - 2) (about the
    # centre (2, 2)); bilinear interpolation of a linear ramp is exact, and "nearest" fill clamps
    # the column to the image, 0..4.
    t = np.deg2rad(theta)
    r, c = np.mgrid[0:5, 0:5]
    expected = np.clip(2 + np.cos(t) * (c - 2) - np.sin(t) * (r - 2), 0, 4)
    assert np.allclose(data.affine_transform(_ramp(), theta=theta)[..., 0], expected, atol=1e-12)


def test_rotation_by_90_degrees_is_a_quarter_turn_counter_clockwise():
    image = np.random.default_rng(0).random((6, 6, 2))
    assert np.allclose(data.affine_transform(image, theta=90), np.rot90(image, 1, axes=(0, 1)))


def test_shift_moves_the_picture_by_minus_tx_columns_and_minus_ty_rows():
    image = np.zeros((9, 9, 1))
    image[4, 4] = 1.0
    moved = data.affine_transform(image, tx=2, ty=-3)
    assert np.argwhere(moved[..., 0] == 1.0).tolist() == [[7, 2]]


def test_augment_rotations_returns_originals_then_one_copy_per_angle():
    x = np.random.default_rng(0).random((3, 8, 8, 3)).astype(np.float32)
    y = np.array([0, 5, 7])
    x_aug, y_aug = data.augment_rotations(x, y)
    assert x_aug.shape == (15, 8, 8, 3) and x_aug.dtype == np.float32
    assert np.array_equal(x_aug[:3], x) and list(y_aug) == [0, 5, 7] * 5
    assert np.allclose(x_aug[3:6], [data.affine_transform(image, theta=10) for image in x])
    assert np.allclose(x_aug[12:], [data.affine_transform(image, theta=-20) for image in x])


def test_augment_rotations_repeats_one_hot_labels():
    x = np.zeros((2, 4, 4, 1))
    _, y_aug = data.augment_rotations(x, data.to_categorical([1, 2], 3), angles=(5,))
    assert y_aug.shape == (4, 3) and list(y_aug.argmax(1)) == [1, 2, 1, 2]


@pytest.mark.parametrize("x, y, message", [
    (np.zeros((4, 4, 1)), [0], r"x must be a batch of images of shape \(n, h, w, c\), got shape \(4, 4, 1\)"),
    (np.zeros((2, 4, 4, 1)), [0], "x has 2 images but y has 1 labels"),
])
def test_augment_rotations_rejects_bad_batches(x, y, message):
    with pytest.raises(ValueError, match=message):
        data.augment_rotations(x, y)


def test_augment_rotations_rejects_an_angle_that_is_not_a_number():
    with pytest.raises(ValueError, match="rotation angles must be numbers of degrees, got '10'"):
        data.augment_rotations(np.zeros((1, 4, 4, 1)), [0], angles=("10",))


def test_affine_transform_rejects_a_batch():
    with pytest.raises(ValueError, match=r"expects one image of shape \(h, w, c\)"):
        data.affine_transform(np.zeros((2, 4, 4, 1)))


def test_augment_is_deterministic_for_a_seed_and_varies_with_it():
    x = np.random.default_rng(1).random((4, 10, 10, 1))
    kwargs = dict(copies=2, rotation=15, shift=0.1, zoom=0.1, shear=10)
    a, _ = data.augment(x, None, seed=3, **kwargs)
    b, _ = data.augment(x, None, seed=3, **kwargs)
    c, _ = data.augment(x, None, seed=4, **kwargs)
    assert a.shape == (12, 10, 10, 1) and np.array_equal(a, b) and not np.array_equal(a, c)


def test_augment_with_no_ranges_copies_the_images():
    x = np.random.default_rng(2).random((3, 6, 6, 2))
    x_aug, y_aug = data.augment(x, np.arange(3), copies=2)
    assert np.allclose(x_aug, np.concatenate([x, x, x])) and list(y_aug) == [0, 1, 2] * 3


@pytest.mark.parametrize("option, message", [
    ({"copies": -1}, "copies must be a non-negative integer"),
    ({"shift": -0.1}, "shift must be a non-negative number"),
    ({"zoom": 1.0}, "zoom must be below 1"),
    ({"shear": "a"}, "shear must be a non-negative number"),
])
def test_augment_rejects_bad_options(option, message):
    with pytest.raises(ValueError, match=message):
        data.augment(np.zeros((1, 4, 4, 1)), None, **option)


def test_split_is_stratified_with_the_tutorial_defaults():
    y = np.repeat(np.arange(24), 15)
    x = np.arange(len(y))
    x_train, x_test, y_train, y_test = data.split(x, data.to_categorical(y))
    assert len(x_test) == int(np.ceil(0.33 * len(y)))
    test_counts = np.bincount(y_test.argmax(1), minlength=24)
    assert test_counts.max() - test_counts.min() <= 1
    assert sorted(np.concatenate([x_train, x_test])) == list(x)


def test_split_is_the_same_for_the_same_random_state():
    x, y = np.arange(48), np.repeat(np.arange(4), 12)
    assert np.array_equal(data.split(x, y)[1], data.split(x, y)[1])
    assert not np.array_equal(data.split(x, y)[1], data.split(x, y, random_state=0)[1])


def test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="x has 3 samples but y has 2 labels"):
        data.split(np.zeros(3), [0, 1])


def test_to_categorical_one_hot_rows():
    out = data.to_categorical([2, 0], num_classes=4)
    assert out.dtype == np.float32 and out.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    assert data.to_categorical([1, 3]).shape == (2, 4)


@pytest.mark.parametrize("y, num_classes, message", [
    ([0.5, 1.0], None, "expects a 1-D array of integer labels"),
    ([[0, 1]], None, "expects a 1-D array of integer labels"),
    ([-1, 0], None, "expects labels >= 0, got -1"),
    ([0, 5], 3, "label 5 does not fit in num_classes=3"),
    ([0], 0, "num_classes must be a positive integer"),
])
def test_to_categorical_rejects_bad_labels(y, num_classes, message):
    with pytest.raises(ValueError, match=message):
        data.to_categorical(y, num_classes)
