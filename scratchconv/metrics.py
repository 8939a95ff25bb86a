"""Accuracy, with Keras 3's meaning of "accuracy", which it picks from the shapes of the
targets and outputs (``keras.src.trainers.compile_utils.get_metric``), whatever the loss:

- one output per sample (k = 1): binary accuracy, ``y_true == (y_pred > 0.5)``;
- integer labels (the sparse loss's y, shape (n,)): ``y_true == argmax(y_pred)``;
- otherwise (one-hot or other rows (n, k)): ``argmax(y_true) == argmax(y_pred)``.

So binary_crossentropy on one sigmoid output gets binary accuracy, and on k > 1 outputs
(multi-label) the categorical one, as in Keras 3. :func:`accuracy` returns the per-sample
hits (0 or 1); ``fit`` and ``evaluate`` average them over the samples, unweighted, as
Keras does for ``metrics`` (sample weights reach only its ``weighted_metrics``).
"""
import numpy as np

METRICS = ("accuracy",)


def check(metrics):
    """The metric names as a list, or a ValueError naming the unknown one."""
    metrics = [] if metrics is None else [metrics] if isinstance(metrics, str) else list(metrics)
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}: the metrics available are {', '.join(METRICS)}")
    return metrics


def accuracy(y_true, y_pred):
    """Per-sample hits (n,) of y_pred (n, k) against y_true: (n,) labels, or (n, k) rows."""
    y = np.asarray(y_true)
    if y_pred.shape[-1] == 1:
        return (y.reshape(len(y)) == (y_pred[:, 0] > 0.5)).astype(np.float64)
    truth = y if y.ndim == 1 else np.argmax(y, axis=-1)
    return (truth == np.argmax(y_pred, axis=-1)).astype(np.float64)
