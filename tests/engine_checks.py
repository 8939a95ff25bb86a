"""Helpers shared by the engine's tests: the backends to run on, and central differences."""
import numpy as np
import pytest

from scratchconv import backend
from scratchconv.layers import Layer
from scratchconv.random import generator


def available_backends():
    """Each backend as a pytest param; the numba one is skipped only while its module does not exist."""
    params = []
    for name in backend.BACKENDS:
        try:
            backend.kernels(name)
            marks = ()
        except ModuleNotFoundError as err:
            if err.name != backend._MODULES[name]:
                raise
            marks = pytest.mark.skip(reason=f"{backend._MODULES[name]} is not written yet")
        params.append(pytest.param(name, marks=marks))
    return params


@pytest.fixture(params=available_backends())
def on_backend(request):
    """Run the test with the given backend switched on, and restore the previous one after."""
    previous = backend.get_backend()
    backend.set_backend(request.param)
    yield request.param
    backend.set_backend(previous)


def numeric_gradient(f, a, h=1e-6):
    """Central differences of the scalar f() with respect to every entry of ``a`` (changed in place
    and restored): (f(a + h e_i) - f(a - h e_i)) / 2h."""
    grad = np.zeros_like(a, dtype=np.float64)
    flat, out = a.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = f()
        flat[i] = keep - h
        down = f()
        flat[i] = keep
        out[i] = (up - down) / (2 * h)
    return grad


def relative_error(analytic, numeric):
    """max |a - n| / max(max |a| + max |n|, 1e-30): one number per tensor, insensitive to the
    entries that are (near) zero in both."""
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    scale = max(np.abs(analytic).max() + np.abs(numeric).max(), 1e-30)
    return float(np.abs(analytic - numeric).max() / scale)


def layer_gradient_errors(layer, x, rng):
    """Relative errors of a layer's backward (input and every parameter) against central
    differences of L = sum(forward(x) * dy), with a random upstream gradient dy."""
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    analytic = {"x": dx, **{name: g.copy() for name, g in layer.grads.items()}}

    def loss():
        return float((layer.forward(x) * dy).sum())

    numeric = {"x": numeric_gradient(loss, x)}
    for name, p in layer.params.items():
        numeric[name] = numeric_gradient(loss, p)
    return {name: relative_error(analytic[name], numeric[name]) for name in analytic}


def model_gradient_errors(model, x, y, samples=None, seed=0):
    """Relative errors of ``model.loss_and_gradients`` against central differences of its loss,
    for every parameter tensor and the input. With ``samples``, only that many randomly chosen
    entries of each tensor are compared (for big models)."""
    rng = np.random.default_rng(seed)
    _, grads, dx = model.loss_and_gradients(x, y)
    params = [layer.params[k] for layer in model.layers for k in layer.params]

    def loss():
        result = model.evaluate(x, y, batch_size=len(x), verbose=0)
        return result[0] if model.metrics else result

    errors = {}
    for name, tensor, analytic in [(f"w{i}", p, g) for i, (p, g) in enumerate(zip(params, grads))] + [("x", x, dx)]:
        flat = tensor.reshape(-1)
        picked = np.arange(flat.size) if samples is None else rng.choice(flat.size, min(samples, flat.size),
                                                                          replace=False)
        numeric = np.empty(len(picked))
        for j, i in enumerate(picked):
            keep = flat[i]
            flat[i] = keep + 1e-6
            up = loss()
            flat[i] = keep - 1e-6
            down = loss()
            flat[i] = keep
            numeric[j] = (up - down) / 2e-6
        errors[name] = relative_error(analytic.reshape(-1)[picked], numeric)
    return errors


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
