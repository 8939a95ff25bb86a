"""Accuracy, with Keras's meaning of "accuracy" under each loss.

With a categorical loss: ``argmax(y_true) == argmax(y_pred)``; with the sparse loss:
``y_true == argmax(y_pred)``. Both return the per-sample hits (0 or 1), which fit averages
over the epoch weighting every sample equally.
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


def accuracy(y_true, y_pred, sparse):
    """Per-sample hits: y_true (n, k) one-hot, or (n,) / (n, 1) labels when ``sparse``; y_pred (n, k)."""
    predicted = np.argmax(y_pred, axis=-1)
    y = np.asarray(y_true)
    truth = y.reshape(len(y)) if sparse else np.argmax(y, axis=-1)
    return (truth == predicted).astype(np.float64)
