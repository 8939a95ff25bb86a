"""Losses with Keras 3's semantics: the two cross-entropies of a softmax, the binary
cross-entropy, and the mean squared error.

Per sample, on probabilities (the standalone functions, and a model whose output is not the
activation the loss takes logits from):

- ``categorical_crossentropy(y_true, y_pred)``: ``y_pred`` is first renormalised to sum to 1
  along the last axis, clipped to ``[1e-7, 1 - 1e-7]``, then ``loss_n = -sum_k y_true[n, k] log(y_pred[n, k])``.
- ``sparse_categorical_crossentropy(y_true, y_pred)``: integer labels; ``y_pred`` is clipped to
  ``[1e-7, 1 - 1e-7]`` and passed through log-softmax (what Keras's TF backend does), so
  ``loss_n = -log(c[n, y_n]) + log(sum_k c[n, k])`` with ``c`` the clipped probabilities.
- ``binary_crossentropy(y_true, y_pred)``: each of the k outputs a probability of its own;
  with ``c = clip(y_pred, 1e-7, 1 - 1e-7)``,
  ``loss_n = mean_k -(y[n, k] log c[n, k] + (1 - y[n, k]) log(1 - c[n, k]))``.
- ``mean_squared_error(y_true, y_pred)`` (alias ``mse``): ``loss_n = mean_k (y[n, k] - y_pred[n, k])^2``.

The batch's loss is Keras's "sum over batch size" reduction: ``sum_n w_n loss_n / N`` with
per-sample weights ``w`` (``sample_weight``, ``class_weight``; all 1 without them), so the
plain case is the mean.

From logits, as Keras 3 on TensorFlow does when the model ends in the matching activation
(it reads the activation's input): the categorical losses after a softmax, with ``z`` the
logits and ``p = softmax(z)``, ``loss_n = logsumexp(z[n]) - sum_k y[n, k] z[n, k]`` and gradient
``(p - y) w_n / N``; the binary cross-entropy after a sigmoid, TensorFlow's
``sigmoid_cross_entropy_with_logits``, ``l = max(z, 0) - z y + log(1 + exp(-|z|))`` per output
with gradient ``(sigmoid(z) - y) w_n / (k N)``. No clipping on that path, and the gradient is
finite for any logits. With ``from_logits=True`` (Keras's option of the cross-entropies, e.g.
``losses.SparseCategoricalCrossentropy(from_logits=True)``) the model's output itself is taken
as the logits, whatever its last activation, as Keras does.
"""
import numpy as np

from .checks import check_finite
from .layers.activations import sigmoid, softmax

EPSILON = 1e-7


def _clip_mask(p):
    """Where clipping to [EPSILON, 1 - EPSILON] leaves p alone (the clip's gradient is 1 there)."""
    return (p >= EPSILON) & (p <= 1 - EPSILON)


def _labels(y_true):
    """Integer labels of shape (n,), from (n,) or (n, 1)."""
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return y.astype(np.int64)


def _rows(y_true, y_pred):
    """y_true as rows like y_pred (n, k) in its dtype: (n,) targets become (n, 1), as Keras
    expands a target one rank short."""
    y = np.asarray(y_true, dtype=y_pred.dtype)
    return y.reshape(y_pred.shape) if y.ndim == y_pred.ndim - 1 else y


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


def binary_crossentropy(y_true, y_pred):
    """Per-sample binary cross-entropy of targets in [0, 1] and probabilities, averaged over the
    k outputs (TensorFlow's order: ``-(y log c + (1 - y) log(1 - c))``, c clipped).

    y_true : ndarray of shape (n, k), or (n,) when k = 1;  y_pred : (n, k)  ->  ndarray of shape (n,)
    """
    y_pred = np.asarray(y_pred)
    y = _rows(y_true, y_pred)
    c = np.clip(y_pred, EPSILON, 1 - EPSILON)
    bce = y * np.log(c)
    bce += (1 - y) * np.log(1 - c)
    return (-bce).mean(axis=-1)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean of the squared differences over the k outputs.

    y_true : ndarray of shape (n, k), or (n,) when k = 1;  y_pred : (n, k)  ->  ndarray of shape (n,)
    """
    y_pred = np.asarray(y_pred)
    return np.square(_rows(y_true, y_pred) - y_pred).mean(axis=-1)


mse = mean_squared_error


def one_hot(y_true, k, dtype):
    """Integer labels (n,) or (n, 1) as one-hot rows (n, k)."""
    y = _labels(y_true)
    out = np.zeros((len(y), k), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def _reduce(per_sample, sample_weight):
    """Keras's "sum over batch size": sum_n w_n l_n / N (the mean without weights)."""
    if sample_weight is None:
        return per_sample.mean(dtype=per_sample.dtype)
    return (per_sample * sample_weight).sum(dtype=per_sample.dtype) / len(per_sample)


def _per_batch(g, sample_weight):
    """Per-sample gradient rows g (n, k), in place, made the gradient of the reduced loss:
    each row times w_n / N."""
    if sample_weight is None:
        g /= len(g)
    else:
        g *= (sample_weight / len(g)).astype(g.dtype, copy=False)[:, None]
    return g


LOSS_CLASSES = {}  # Keras's function name -> Loss class, filled by Loss.__init_subclass__


class Loss:
    """A loss by Keras's name: its batch value and gradients, from probabilities or logits.

    A subclass sets ``name`` (Keras's function name), ``logits_of`` (the final activation it
    reads logits from, or None), ``per_sample(y, y_pred)`` and ``per_sample_gradient(y, y_pred)``,
    and checks its targets in ``check_targets``. ``sample_weight`` is None or an array (n,).

    from_logits : the model's output is the logits (Keras's ``from_logits=True``), for the losses
        with ``logits_of``; kept as ``logits_given``
    """

    name = None
    aliases = ()
    logits_of = None
    sparse = False

    def __init__(self, from_logits=False):
        if not isinstance(from_logits, (bool, np.bool_)):
            raise ValueError(f"{type(self).__name__}: from_logits must be True or False, got {from_logits!r}")
        if from_logits and self.logits_of is None:
            raise ValueError(f"{type(self).__name__} takes no from_logits: it compares outputs, not logits")
        self.logits_given = bool(from_logits)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:  # a concrete loss, not a shared base
            for key in (cls.name,) + cls.aliases:
                LOSS_CLASSES[key] = cls

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The batch's loss from probabilities y_pred of shape (n, k)."""
        return _reduce(self.per_sample(y_true, np.asarray(y_pred)), sample_weight)

    def gradient(self, y_true, y_pred, sample_weight=None):
        """d(batch loss)/d(y_pred), of shape (n, k)."""
        p = np.asarray(y_pred)
        return _per_batch(self.per_sample_gradient(y_true, p).astype(p.dtype, copy=False), sample_weight)

    def check_targets(self, y, k, dtype, where):
        """y (a float64 array with one entry per sample) as this loss expects it for a model
        with k outputs, or a ValueError saying what was expected."""
        raise NotImplementedError

    def _check_rows(self, y, k, dtype, where):
        """Targets (n, k), or (n,) when k = 1, finite."""
        if not (y.shape[1:] == (k,) or (k == 1 and y.ndim == 1)):
            single = " or (n,)" if k == 1 else ""
            raise ValueError(f"{where}: {self.name} needs y of shape (n, {k}){single} for a model with {k} "
                             f"outputs, got y of shape {y.shape}")
        check_finite(y, "y", where)
        return y.reshape(len(y), k).astype(dtype)


class _SoftmaxCrossentropy(Loss):
    """What the two categorical cross-entropies share: logits from a final softmax."""

    logits_of = "softmax"

    def _targets(self, y_true, k, dtype):
        """The targets as (n, k) rows in ``dtype``."""
        return one_hot(y_true, k, dtype) if self.sparse else np.asarray(y_true, dtype=dtype)

    def loss_from_logits(self, y_true, logits, sample_weight=None):
        """The batch's loss of ``softmax(logits)``, from ``logsumexp(z) - sum_k y_k z_k``.

        logits : ndarray of shape (n, k)  ->  float
        """
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        t = self._targets(y_true, logits.shape[1], logits.dtype)
        return _reduce(-(t * log_probs).sum(axis=-1), sample_weight)

    def from_logits(self, y_true, logits, probs=None, sample_weight=None):
        """The batch's loss and its gradient to the logits, ``(p - y) w_n / n``, for
        ``probs = softmax(logits)`` (computed when not given).

        logits, probs : ndarray of shape (n, k)  ->  (float, ndarray of shape (n, k))
        """
        probs = softmax(logits) if probs is None else probs
        dz = probs - self._targets(y_true, logits.shape[1], logits.dtype)
        return self.loss_from_logits(y_true, logits, sample_weight), _per_batch(dz, sample_weight)


class CategoricalCrossentropy(_SoftmaxCrossentropy):
    """Keras's ``categorical_crossentropy``: one-hot (or soft) targets (n, k)."""

    name = "categorical_crossentropy"

    def per_sample(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred)

    def per_sample_gradient(self, y_true, p):
        """With ``q = p / s``, ``s = sum_k p_k``, ``g = -y / q`` where q is unclipped (0 where
        the clip is active): ``dl/dp_j = (g_j - sum_k g_k q_k) / s``."""
        t = np.asarray(y_true, dtype=p.dtype)
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        g = np.where(_clip_mask(q), -t / np.clip(q, EPSILON, 1 - EPSILON), 0)
        return (g - (g * q).sum(axis=-1, keepdims=True)) / s

    def check_targets(self, y, k, dtype, where):
        if y.shape[1:] != (k,):
            raise ValueError(f"{where}: categorical_crossentropy needs one-hot y of shape ({len(y)}, {k}), got y "
                             f"of shape {y.shape} (for integer labels use sparse_categorical_crossentropy)")
        check_finite(y, "y", where)
        bad = ((y < 0) | (y > 1)).any(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{where}: y must hold one-hot rows with values in [0, 1]; row {i} has values "
                             f"from {y[i].min():g} to {y[i].max():g}")
        return y.astype(dtype)


class SparseCategoricalCrossentropy(_SoftmaxCrossentropy):
    """Keras's ``sparse_categorical_crossentropy``: integer labels (n,) or (n, 1)."""

    name = "sparse_categorical_crossentropy"
    sparse = True

    def per_sample(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred)

    def per_sample_gradient(self, y_true, p):
        """With ``c = clip(p)``, ``S = sum_k c_k``: ``dl/dp_k = [k unclipped] (1 / S - [k = y] / c_y)``."""
        c = np.clip(p, EPSILON, 1 - EPSILON)
        g = 1 / c.sum(axis=-1, keepdims=True) - one_hot(y_true, p.shape[1], p.dtype) / c
        return g * _clip_mask(p)

    def check_targets(self, y, k, dtype, where):
        if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            raise ValueError(f"{where}: sparse_categorical_crossentropy needs integer labels of shape "
                             f"(n,) or (n, 1), got y of shape {y.shape}")
        labels = y.reshape(len(y))
        check_finite(labels, "y", where)
        bad = (labels != np.round(labels)) | (labels < 0) | (labels >= k)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{where}: label {labels[i]:g} at index {i} is out of range: the model has "
                             f"{k} outputs, so labels must be integers from 0 to {k - 1}")
        return labels.astype(np.int64)


class BinaryCrossentropy(Loss):
    """Keras's ``binary_crossentropy``: targets in [0, 1], (n, k) or (n,) for one output; from
    the logits of a final sigmoid (see the module docstring)."""

    name = "binary_crossentropy"
    logits_of = "sigmoid"

    def per_sample(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred)

    def per_sample_gradient(self, y_true, p):
        """``dl/dp = [p unclipped] ((1 - y) / (1 - c) - y / c) / k``."""
        y = _rows(y_true, p)
        c = np.clip(p, EPSILON, 1 - EPSILON)
        return ((1 - y) / (1 - c) - y / c) * _clip_mask(p) / p.shape[1]

    def loss_from_logits(self, y_true, logits, sample_weight=None):
        """The batch's loss of ``sigmoid(logits)``, TensorFlow's stable formula.

        logits : ndarray of shape (n, k)  ->  float
        """
        y = _rows(y_true, logits)
        per_output = np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
        return _reduce(per_output.mean(axis=-1), sample_weight)

    def from_logits(self, y_true, logits, probs=None, sample_weight=None):
        """The batch's loss and its gradient to the logits, ``(sigmoid(z) - y) w_n / (k n)``,
        for ``probs = sigmoid(logits)`` (computed when not given).

        logits, probs : ndarray of shape (n, k)  ->  (float, ndarray of shape (n, k))
        """
        probs = sigmoid(logits) if probs is None else probs
        dz = probs - _rows(y_true, logits)
        dz /= logits.shape[1]
        return self.loss_from_logits(y_true, logits, sample_weight), _per_batch(dz, sample_weight)

    def check_targets(self, y, k, dtype, where):
        y = self._check_rows(y, k, dtype, where)
        bad = ((y < 0) | (y > 1)).any(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{where}: binary_crossentropy needs targets in [0, 1] (probabilities, usually 0 "
                             f"or 1); row {i} has values from {y[i].min():g} to {y[i].max():g}")
        return y


class MeanSquaredError(Loss):
    """Keras's ``mean_squared_error`` (alias ``mse``): any finite targets, (n, k) or (n,) for
    one output."""

    name = "mean_squared_error"
    aliases = ("mse",)

    def per_sample(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)

    def per_sample_gradient(self, y_true, p):
        """``dl/dp = 2 (p - y) / k``."""
        return 2 * (p - _rows(y_true, p)) / p.shape[1]

    def check_targets(self, y, k, dtype, where):
        return self._check_rows(y, k, dtype, where)


# Keras's loss options other than from_logits (the Loss's own option) at the values scratchconv
# computes; any other value is refused. Keras 2's files say reduction "auto" (or None): in Keras 2
# that meant this same mean over the batch.
KERAS_DEFAULTS = {"label_smoothing": 0.0, "reduction": "sum_over_batch_size", "axis": -1,
                  "dtype": None, "ignore_class": None}
_ALSO_NEUTRAL = {"reduction": ("auto", None)}


def keras_settings_refused(config):
    """The settings of a Keras loss config (``{"label_smoothing": 0.1, ...}``) that scratchconv does
    not compute, as a dict (empty if it computes them all); the one check behind :func:`get` and
    ``keras_config.loss_from_keras``. ``name`` is a label, and ``from_logits`` is the Loss's own
    option (checked by it), not refused here. A config that is not a dict is refused whole."""
    if not isinstance(config, dict):
        return {"config": config}
    return {key: value for key, value in config.items() if key not in ("name", "from_logits") and not (
        key in KERAS_DEFAULTS and (value == KERAS_DEFAULTS[key] or value in _ALSO_NEUTRAL.get(key, ())))}


LOSSES = tuple(cls.name for cls in (CategoricalCrossentropy, SparseCategoricalCrossentropy,
                                    BinaryCrossentropy, MeanSquaredError))
_BY_CLASS_NAME = {cls.__name__: cls for cls in LOSS_CLASSES.values()}


def get(loss):
    """A :class:`Loss` from Keras's name ("binary_crossentropy", "mse", ...), one of this
    module's functions (``losses.mse``), a Loss (returned as is), or a ``{"class_name", "config"}``
    dict such as ``{"class_name": "MeanSquaredError"}``."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in LOSS_CLASSES:
        return LOSS_CLASSES[loss]()
    if callable(loss) and getattr(loss, "__module__", None) == __name__ and loss.__name__ in LOSS_CLASSES:
        return LOSS_CLASSES[loss.__name__]()  # this module's function, as Keras takes keras.losses.mse
    if isinstance(loss, dict) and loss.get("class_name") in _BY_CLASS_NAME:
        cls = _BY_CLASS_NAME[loss["class_name"]]
        config = loss.get("config") or {}
        if keras_settings_refused(config):
            raise ValueError(f"the {loss['class_name']} config {config!r} has settings scratchconv does not "
                             f"have; it takes from_logits and otherwise {KERAS_DEFAULTS}")
        return cls(**{key: value for key, value in config.items() if key == "from_logits" and value})
    raise ValueError(f"unknown loss {loss!r}: choose one of {', '.join(LOSS_CLASSES)}, a Loss object such as "
                     f"losses.BinaryCrossentropy(), or a {{\"class_name\", \"config\"}} dict")


def serialize(loss):
    """The loss as a compile config keeps it: its name, or ``{"class_name", "config":
    {"from_logits": true}}`` for one that takes logits; :func:`get` reads both."""
    if not loss.logits_given:
        return loss.name
    return {"class_name": type(loss).__name__, "config": {"from_logits": True}}
