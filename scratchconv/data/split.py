"""Train/test split with the tutorial's defaults, and one-hot labels."""
import numbers

import numpy as np
from sklearn.model_selection import train_test_split

TEST_SIZE = 0.33
RANDOM_STATE = 111


def split(x, y, test_size=TEST_SIZE, random_state=RANDOM_STATE, stratify=True):
    """Split images and labels into train and test sets: scikit-learn's ``train_test_split``.

    Parameters
    ----------
    x : ndarray of shape (n, ...)
    y : ndarray of shape (n,) of class indices, or (n, k) one-hot
    test_size : float
        Fraction of the samples in the test set (the tutorial's 0.33).
    random_state : int
        Seed of the shuffle (the tutorial's 111).
    stratify : bool
        Keep each class's share the same in both sets (classes are the argmax of one-hot ``y``).

    Returns
    -------
    x_train, x_test, y_train, y_test
    """
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)} labels")
    classes = y.argmax(axis=1) if y.ndim == 2 else y
    return train_test_split(x, y, test_size=test_size, random_state=random_state,
                            stratify=classes if stratify else None)


def to_categorical(y, num_classes=None):
    """One-hot encode class indices, like keras's ``to_categorical``.

    Parameters
    ----------
    y : array of int of shape (n,)
    num_classes : int, optional
        Number of classes; ``max(y) + 1`` if None.

    Returns
    -------
    ndarray of shape (n, num_classes), float32, with ``out[i, y[i]] = 1``.
    """
    y = np.asarray(y)
    if y.ndim != 1 or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"to_categorical expects a 1-D array of integer labels, got dtype {y.dtype} "
                         f"and shape {y.shape}")
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical expects labels >= 0, got {y.min()}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
            or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if y.size and y.max() >= num_classes:
        raise ValueError(f"label {y.max()} does not fit in num_classes={num_classes}")
    out = np.zeros((len(y), num_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out
