"""BatchNormalization: normalise each channel by its batch statistics in training, by moving
averages of them at inference."""
import numpy as np

from ..checks import is_int, is_number
from ..initializers import check as check_initializer
from ..random import generator
from .base import Layer, shape_str


class BatchNormalization(Layer):
    """Batch normalisation, Keras's ``BatchNormalization``.

    Parameters
    ----------
    axis : int
        The feature axis, normalised per entry (-1: the channels of NHWC images, the features
        after a Dense); the statistics are taken over all the other axes.
    momentum : float in [0, 1]
        Of the moving averages: ``moving = moving * momentum + batch * (1 - momentum)``.
    epsilon : float > 0
        Added to the variance before the square root.
    center, scale : bool
        Whether to learn the offset ``beta`` and the scale ``gamma``.
    beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer : str
        Keras's defaults "zeros", "ones", "zeros", "ones".

    Weights, in Keras's order: ``gamma`` (if scale), ``beta`` (if center), trainable; then
    ``moving_mean`` and ``moving_variance``, non-trainable (``state``). Each has shape (c,),
    c the size of ``axis``.

    Shapes
    ------
    x, y : ndarray of shape (n, h, w, c) after a Conv2D, (n, c) after a Dense (any rank)

    Notes
    -----
    With the sums over the m = n h w entries of a channel (all axes but ``axis``):

    Training forward (``training=True``): batch statistics, the variance biased as Keras's
    ``tf.nn.moments``: ``mu = (1/m) sum x``, ``var = (1/m) sum (x - mu)^2``; then, in
    ``tf.nn.batch_normalization``'s order, ``inv = 1 / sqrt(var + epsilon)``,
    ``x_hat = (x - mu) inv`` and ``y = gamma x_hat + beta`` (computed as
    ``x (gamma inv) + (beta - mu gamma inv)``). The moving statistics are updated as Keras
    does: ``moving_mean = moving_mean momentum + mu (1 - momentum)``, likewise the variance
    with ``var`` (biased).

    Inference forward (``training=False``, or a frozen layer: ``trainable = False``, as in
    Keras): the same with ``moving_mean``, ``moving_variance``
    in place of ``mu``, ``var``, which are then constants.

    Backward (see docs/layers.md for the derivation), from dy:
    ``dbeta = sum dy``, ``dgamma = sum dy x_hat``; after a training forward ``mu`` and ``var``
    depend on every x of the channel, which gives
    ``dx = (gamma inv / m) (m dy - sum dy - x_hat sum(dy x_hat))``;
    after an inference forward ``dx = gamma inv dy``.
    """

    _default_name = "batch_normalization"

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", input_shape=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape)
        if not is_int(axis):
            raise ValueError(f"{self.describe()}: axis must be an int (the feature axis, -1 for channels "
                             f"last), got {axis!r}")
        self.axis = int(axis)
        if not is_number(momentum) or not 0 <= momentum <= 1:
            raise ValueError(f"{self.describe()}: momentum must be a number in [0, 1], got {momentum!r}")
        if not is_number(epsilon) or not epsilon > 0:
            raise ValueError(f"{self.describe()}: epsilon must be a positive number, got {epsilon!r}")
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        for option, value in (("center", center), ("scale", scale)):
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{self.describe()}: {option} must be True or False, got {value!r}")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = check_initializer(beta_initializer)
        self.gamma_initializer = check_initializer(gamma_initializer)
        self.moving_mean_initializer = check_initializer(moving_mean_initializer)
        self.moving_variance_initializer = check_initializer(moving_variance_initializer)

    def compute_output_shape(self, input_shape):
        self._feature_axis(input_shape)
        return tuple(input_shape)

    def _feature_axis(self, input_shape):
        """``axis`` as an index into the batch shape (n,) + input_shape, or a ValueError."""
        rank = len(input_shape) + 1
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ValueError(f"{self.describe()}: axis {self.axis} is not a feature axis of input "
                             f"{shape_str((None,) + tuple(input_shape))} (the batch axis 0 cannot be normalised)")
        return axis

    def build(self, input_shape):
        axis = self._feature_axis(input_shape)
        super().build(input_shape)
        rank = len(self.input_shape) + 1
        self._reduce = tuple(a for a in range(rank) if a != axis)
        c = self.input_shape[axis - 1]
        self._broadcast = tuple(c if a == axis else 1 for a in range(rank))
        rng = generator()
        if self.scale:
            self._add_param("gamma", (c,), self.gamma_initializer, rng)
        if self.center:
            self._add_param("beta", (c,), self.beta_initializer, rng)
        self._add_state("moving_mean", (c,), self.moving_mean_initializer)
        self._add_state("moving_variance", (c,), self.moving_variance_initializer)

    def _per_channel(self, v):
        """A (c,) vector shaped to broadcast along the feature axis."""
        return v.reshape(self._broadcast)

    def forward(self, x, training=False):
        x = self._check_input(x)
        training = training and self.trainable  # a frozen BatchNormalization runs in inference mode, as Keras's
        if training:
            mean = x.mean(axis=self._reduce, keepdims=True)
            var = np.square(x - mean).mean(axis=self._reduce, keepdims=True)
            for name, batch in (("moving_mean", mean), ("moving_variance", var)):
                moving = self.state[name]
                moving[...] = moving * self.momentum + batch.reshape(-1) * (1.0 - self.momentum)
        else:
            mean = self._per_channel(self.state["moving_mean"])
            var = self._per_channel(self.state["moving_variance"])
        inv = 1 / np.sqrt(var + self.epsilon)
        gamma_inv = inv * self._per_channel(self.params["gamma"]) if self.scale else inv
        offset = self._per_channel(self.params["beta"]) - mean * gamma_inv if self.center else -mean * gamma_inv
        # What backward needs: the normalised input, 1 / sqrt(var + epsilon), and the mode.
        self._x_hat, self._inv, self._training = (x - mean) * inv, inv, training
        return x * gamma_inv + offset

    def backward(self, dy, need_dx=True):
        dy = self._check_gradient(dy)
        x_hat = self._x_hat
        if self.center:
            self.grads["beta"] = dy.sum(axis=self._reduce)
        if self.scale:
            self.grads["gamma"] = (dy * x_hat).sum(axis=self._reduce)
        if not need_dx:
            return None
        gamma_inv = self._inv * self._per_channel(self.params["gamma"]) if self.scale else self._inv
        if not self._training:
            return dy * gamma_inv
        m = x_hat.size // x_hat.shape[self.axis]
        sum_dy = dy.sum(axis=self._reduce, keepdims=True)
        sum_dy_x_hat = (dy * x_hat).sum(axis=self._reduce, keepdims=True)
        return (gamma_inv / m) * (m * dy - sum_dy - x_hat * sum_dy_x_hat)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "beta_initializer": self.beta_initializer,
                "gamma_initializer": self.gamma_initializer,
                "moving_mean_initializer": self.moving_mean_initializer,
                "moving_variance_initializer": self.moving_variance_initializer}
