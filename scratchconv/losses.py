"""Cross-entropy losses with Keras's semantics.

On probabilities (the standalone functions, and a model whose output is not a softmax):

- ``categorical_crossentropy(y_true, y_pred)``: ``y_pred`` is first renormalised to sum to 1
  along the last axis, clipped to ``[1e-7, 1 - 1e-7]``, then ``loss_n = -sum_k y_true[n, k] log(y_pred[n, k])``.
- ``sparse_categorical_crossentropy(y_true, y_pred)``: integer labels; ``y_pred`` is clipped to
  ``[1e-7, 1 - 1e-7]`` and passed through log-softmax (what Keras's TF backend does), so
  ``loss_n = -log(c[n, y_n]) + log(sum_k c[n, k])`` with ``c`` the clipped probabilities.

Both return one loss per sample; the model averages them over the batch (Keras's
"sum over batch size" reduction).

From logits (a model ending in a softmax, as Keras 3 on TensorFlow does): with ``z`` the logits
before the softmax and ``p = softmax(z)``, ``loss_n = logsumexp(z[n]) - sum_k y[n, k] z[n, k]`` —
no clipping — and the gradient of the batch mean to the logits is ``(p - y) / N``, finite for
any logits.
"""
import numpy as np

EPSILON = 1e-7
LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy")


def _clip_mask(p):
    """Where clipping to [EPSILON, 1 - EPSILON] leaves p alone (the clip's gradient is 1 there)."""
    return (p >= EPSILON) & (p <= 1 - EPSILON)


def _labels(y_true):
    """Integer labels of shape (n,), from (n,) or (n, 1)."""
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return y.astype(np.int64)


def categorical_crossentropy(y_true, y_pred):
    """Per-sample cross-entropy of one-hot (or soft) targets and probabilities.

    y_true, y_pred : ndarray of shape (n, k)  ->  ndarray of shape (n,)
    """
    y_pred = np.asarray(y_pred)
    q = y_pred / y_pred.sum(axis=-1, keepdims=True)
    return -(np.asarray(y_true, dtype=y_pred.dtype) * np.log(np.clip(q, EPSILON, 1 - EPSILON))).sum(axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred):
    """Per-sample cross-entropy of integer labels and probabilities.

    y_true : ndarray of shape (n,) or (n, 1);  y_pred : ndarray of shape (n, k)  ->  ndarray of shape (n,)
    """
    c = np.clip(np.asarray(y_pred), EPSILON, 1 - EPSILON)
    y = _labels(y_true)
    return np.log(c.sum(axis=-1)) - np.log(c[np.arange(len(y)), y])


def one_hot(y_true, k, dtype):
    """Integer labels (n,) or (n, 1) as one-hot rows (n, k)."""
    y = _labels(y_true)
    out = np.zeros((len(y), k), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


class Loss:
    """A cross-entropy loss by name: its batch mean, and gradients from probabilities or logits."""

    def __init__(self, name):
        if name not in LOSSES:
            raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}")
        self.name = name
        self.sparse = name == "sparse_categorical_crossentropy"

    def _targets(self, y_true, k, dtype):
        """The targets as (n, k) rows in ``dtype``."""
        return one_hot(y_true, k, dtype) if self.sparse else np.asarray(y_true, dtype=dtype)

    def __call__(self, y_true, y_pred):
        """Mean loss over the batch, from probabilities y_pred of shape (n, k)."""
        per_sample = (sparse_categorical_crossentropy if self.sparse else categorical_crossentropy)(y_true, y_pred)
        return per_sample.mean(dtype=np.asarray(y_pred).dtype)

    def gradient(self, y_true, y_pred):
        """d(mean loss)/d(y_pred), through the renormalisation and the clip, of shape (n, k).

        Categorical: with ``q = p / s``, ``s = sum_k p_k``, ``g = -y / q`` where q is unclipped
        (0 where the clip is active), ``dL/dp_j = (g_j - sum_k g_k q_k) / s``.
        Sparse: with ``c = clip(p)``, ``S = sum_k c_k``, ``dL/dp_k = [k unclipped] (1 / S - [k = y] / c_y)``.
        """
        p = np.asarray(y_pred)
        n, k = p.shape
        t = self._targets(y_true, k, p.dtype)
        if self.sparse:
            c = np.clip(p, EPSILON, 1 - EPSILON)
            g = 1 / c.sum(axis=-1, keepdims=True) - t / c
        else:
            s = p.sum(axis=-1, keepdims=True)
            q = p / s
            g = np.where(_clip_mask(q), -t / np.clip(q, EPSILON, 1 - EPSILON), 0)
            g = (g - (g * q).sum(axis=-1, keepdims=True)) / s
            return g.astype(p.dtype, copy=False) / n
        return (g * _clip_mask(p)).astype(p.dtype, copy=False) / n

    def loss_from_logits(self, y_true, logits):
        """Mean loss of ``softmax(logits)``, computed as ``logsumexp(z) - sum_k y_k z_k``.

        logits : ndarray of shape (n, k)  ->  float
        """
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        t = self._targets(y_true, logits.shape[1], logits.dtype)
        return -(t * log_probs).sum(axis=-1).mean(dtype=logits.dtype)

    def from_logits(self, y_true, logits, probs):
        """Mean loss and its gradient to the logits, ``(p - y) / n``, for ``probs = softmax(logits)``.

        logits, probs : ndarray of shape (n, k)  ->  (float, ndarray of shape (n, k))
        """
        dz = probs - self._targets(y_true, logits.shape[1], logits.dtype)
        dz /= logits.shape[0]
        return self.loss_from_logits(y_true, logits), dz


def get(loss):
    """A :class:`Loss` from its name (or a Loss, returned as is)."""
    return loss if isinstance(loss, Loss) else Loss(loss)
