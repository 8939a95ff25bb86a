"""Helpers shared by the engine's tests: gradient errors by the one finite-difference engine
(:mod:`scratchconv.gradcheck`), and a test-only layer with non-trainable state. The backend
fixtures are in conftest.py."""
import numpy as np

from scratchconv.gradcheck import check_layer, check_model
from scratchconv.layers import Layer
from scratchconv.random import generator


def _errors(results, key):
    """{key(result): its max relative error}, infinite for a tensor of which no entry could
    be checked (every step crossed a kink), so that it never passes unseen."""
    return {key(r): r.max_rel_error if r.n_checked else float("inf") for r in results}


def layer_gradient_errors(layer, x, rng):
    """{"input" or weight name: max relative error} of a float64 layer's backward at ``x``
    against central differences of a random projection of its output (every entry; entries
    whose step crosses a kink the layer declares are skipped)."""
    return _errors(check_layer(layer, x, rng=rng), key=lambda r: r.name.rsplit(": ", 1)[1])


def model_gradient_errors(model, x, y, samples=None, seed=0):
    """{tensor: max relative error} of a float64, compiled model's ``loss_and_gradients``
    against central differences of its loss, for every weight tensor and the input; with
    ``samples``, that many random entries of each tensor."""
    return _errors(check_model(model, x, y, max_entries=samples, rng=np.random.default_rng(seed)),
                   key=lambda r: r.name)


class MovingMean(Layer):
    """A test-only layer with both kinds of weight, as BatchNormalization has them:
    ``y = x * scale`` (``scale``, one per feature: trainable), and a training forward moves
    ``moving_mean`` (non-trainable) towards the batch mean, ``m <- 0.9 m + 0.1 mean(x)``.

    x, y : ndarray of shape (n, ..., features). Not registered (no ``_default_name`` of its
    own): a test that saves it adds it to ``LAYER_CLASSES`` itself.
    """

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def build(self, input_shape):
        super().build(input_shape)
        self._add_param("scale", self.input_shape[-1:], "ones", generator())
        self._add_state("moving_mean", self.input_shape[-1:], "zeros")

    def forward(self, x, training=False):
        self._x = self._check_input(x)
        if training:
            mean = self._x.reshape(-1, self._x.shape[-1]).mean(axis=0)
            self.state["moving_mean"][...] = 0.9 * self.state["moving_mean"] + 0.1 * mean
        return self._x * self.params["scale"]

    def backward(self, dy, need_dx=True):
        self.grads["scale"] = (dy * self._x).reshape(-1, dy.shape[-1]).sum(axis=0)
        return dy * self.params["scale"] if need_dx else None
