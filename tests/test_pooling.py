"""AveragePooling2D, GlobalAveragePooling2D and GlobalMaxPooling2D: the average-pooling kernels
(readable NumPy and numba held equal over a grid, and against the definition), the layers'
gradients by the one finite-difference engine, Keras's options, errors and configs."""
import itertools
import json

import numpy as np
import pytest

from scratchconv import backend, gradcheck
from scratchconv.kernels.padding import pads_2d
from scratchconv.layers import AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D

# (input shape, pool size, strides, padding): stride equal to, below and above the pool size.
GRID = list(itertools.product(
    [(2, 7, 9, 3), (1, 8, 8, 1), (3, 5, 4, 2)],
    [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 2), (1, 1)), ((3, 3), (1, 2)), ((2, 3), (3, 2))],
    ["valid", "same"],
    [np.float64, np.float32],
))
TOLERANCE = {np.float64: 1e-13, np.float32: 1e-6}


def case(x_shape, window, padding, dtype, seed=0):
    pool_size, strides = window
    x = np.random.default_rng(seed).standard_normal(x_shape).astype(dtype)
    return x, pool_size, strides, pads_2d(x_shape[1:3], pool_size, strides, padding)


def brute_force_average(x, pool_size, strides, pads):
    """The mean of the input pixels (never the padding) of each window, one output at a time."""
    (top, bottom), (left, right) = pads
    n, h, w, c = x.shape
    h_out = (h + top + bottom - pool_size[0]) // strides[0] + 1
    w_out = (w + left + right - pool_size[1]) // strides[1] + 1
    y = np.zeros((n, h_out, w_out, c))
    for i, j in itertools.product(range(h_out), range(w_out)):
        r0, s0 = i * strides[0] - top, j * strides[1] - left
        window = x[:, max(r0, 0):r0 + pool_size[0], max(s0, 0):s0 + pool_size[1], :]
        y[:, i, j, :] = window.mean(axis=(1, 2))
    return y


@pytest.mark.parametrize("x_shape, window, padding, dtype", GRID)
def test_avgpool2d_forward_numba_matches_numpy(x_shape, window, padding, dtype):
    x, pool_size, strides, pads = case(x_shape, window, padding, dtype)
    want = backend.kernels("numpy").avgpool2d_forward(x, pool_size, strides, pads)
    got = backend.kernels("numba").avgpool2d_forward(x, pool_size, strides, pads)
    assert got.dtype == want.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("x_shape, window, padding, dtype", GRID)
def test_avgpool2d_backward_numba_matches_numpy(x_shape, window, padding, dtype):
    x, pool_size, strides, pads = case(x_shape, window, padding, dtype)
    y = backend.kernels("numpy").avgpool2d_forward(x, pool_size, strides, pads)
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    want = backend.kernels("numpy").avgpool2d_backward(dy, x.shape, pool_size, strides, pads)
    got = backend.kernels("numba").avgpool2d_backward(dy, x.shape, pool_size, strides, pads)
    assert got.dtype == want.dtype == dtype and got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("name", backend.BACKENDS)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_avgpool2d_forward_is_the_mean_over_the_real_pixels(name, padding):
    x, pool_size, strides, pads = case((2, 7, 6, 2), ((3, 3), (2, 2)), padding, np.float64)
    got = backend.kernels(name).avgpool2d_forward(x, pool_size, strides, pads)
    np.testing.assert_allclose(got, brute_force_average(x, pool_size, strides, pads), rtol=1e-14)


@pytest.mark.parametrize("name", backend.BACKENDS)
def test_avgpool2d_backward_is_the_transpose_of_the_forward(name):
    """The forward is linear, so <dy, forward(e_k)> is dx[k] for every one-hot input e_k."""
    x, pool_size, strides, pads = case((1, 5, 4, 2), ((3, 2), (2, 1)), "same", np.float64)
    k = backend.kernels(name)
    dy = np.random.default_rng(2).standard_normal(k.avgpool2d_forward(x, pool_size, strides, pads).shape)
    want = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1.0
        want[idx] = np.sum(dy * brute_force_average(e, pool_size, strides, pads))
    np.testing.assert_allclose(k.avgpool2d_backward(dy, x.shape, pool_size, strides, pads), want, rtol=1e-13)


def test_a_same_corner_window_averages_only_its_real_pixels():
    """A 2x2 window at the bottom-right of a 3x3 image covers one pixel and three padding cells."""
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    y = AveragePooling2D(2, padding="same", dtype="float64").forward(x)
    np.testing.assert_array_equal(y[0, :, :, 0], [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]])


@pytest.mark.parametrize("layer", [
    AveragePooling2D(), AveragePooling2D(3, strides=2), AveragePooling2D((2, 3), strides=(1, 2), padding="same"),
    GlobalAveragePooling2D(), GlobalAveragePooling2D(keepdims=True), GlobalMaxPooling2D(),
    GlobalMaxPooling2D(keepdims=True)], ids=lambda layer: f"{type(layer).__name__} {layer.get_config()}")
def test_pooling_gradients_pass_gradcheck(layer, on_backend):
    report = gradcheck(layer, np.random.default_rng(3).standard_normal((2, 7, 6, 3)), verbose=False)
    assert report.passed, str(report)


def test_avgpool_defaults_are_keras():
    layer = AveragePooling2D()
    assert (layer.pool_size, layer.strides, layer.padding) == ((2, 2), (2, 2), "valid")
    assert layer.name.startswith("average_pooling2d")
    assert GlobalAveragePooling2D().name.startswith("global_average_pooling2d")
    assert GlobalMaxPooling2D().name.startswith("global_max_pooling2d")


@pytest.mark.parametrize("cls", [GlobalAveragePooling2D, GlobalMaxPooling2D])
@pytest.mark.parametrize("keepdims, shape", [(False, (2, 3)), (True, (2, 1, 1, 3))])
def test_global_pooling_output_shapes(cls, keepdims, shape):
    layer = cls(keepdims=keepdims)
    assert layer.forward(np.ones((2, 4, 5, 3))).shape == shape
    assert layer.compute_output_shape((4, 5, 3)) == shape[1:]


def test_global_average_and_max_values():
    x = np.random.default_rng(4).standard_normal((2, 4, 5, 3))
    np.testing.assert_allclose(GlobalAveragePooling2D(dtype="float64").forward(x), x.mean(axis=(1, 2)), rtol=1e-15)
    np.testing.assert_array_equal(GlobalMaxPooling2D(dtype="float64").forward(x), x.max(axis=(1, 2)))


def test_global_max_ties_share_the_gradient_as_tensorflow_does():
    layer = GlobalMaxPooling2D(dtype="float64")
    layer.forward(np.array([5.0, 1.0, 5.0, 2.0]).reshape(1, 2, 2, 1))
    dx = layer.backward(np.array([[6.0]]))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[3.0, 0.0], [3.0, 0.0]])


def test_global_max_kink_pattern_is_the_winners():
    x = np.array([1.0, 4.0, 2.0, 3.0]).reshape(1, 2, 2, 1)
    layer = GlobalMaxPooling2D()
    assert layer.kink_pattern(x, layer.forward(x)).reshape(-1).tolist() == [False, True, False, False]


@pytest.mark.parametrize("make, message", [
    (lambda: AveragePooling2D(0), "pool_size must be a positive int or a pair of positive ints, got 0"),
    (lambda: AveragePooling2D(2, strides=(1, 0)), r"strides must be a positive int .* got \(1, 0\)"),
    (lambda: AveragePooling2D(2, padding="full"), 'padding must be "valid" or "same", got \'full\''),
    (lambda: GlobalAveragePooling2D(keepdims="yes"), "keepdims must be True or False, got 'yes'"),
    (lambda: GlobalMaxPooling2D(keepdims=1), "keepdims must be True or False, got 1"),
])
def test_bad_pooling_options_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("layer", [AveragePooling2D(), GlobalAveragePooling2D(), GlobalMaxPooling2D()],
                         ids=lambda layer: type(layer).__name__)
def test_pooling_layers_refuse_input_that_is_not_an_image(layer):
    with pytest.raises(ValueError, match=r"takes images of shape \(None, height, width, channels\), got input "
                                         r"of shape \(None, 6\)"):
        layer.forward(np.ones((2, 6)))


def test_average_pool_too_large_for_its_input_is_named():
    with pytest.raises(ValueError, match=r"a \(5, 5\) pool does not fit an input of shape \(None, 4, 4, 1\)"):
        AveragePooling2D(5).forward(np.ones((1, 4, 4, 1)))


@pytest.mark.parametrize("layer", [
    AveragePooling2D((3, 2), strides=(1, 2), padding="same", name="a", input_shape=(6, 6, 1), dtype="float64"),
    GlobalAveragePooling2D(keepdims=True, name="g"), GlobalMaxPooling2D(name="m")],
    ids=lambda layer: type(layer).__name__)
def test_pooling_config_round_trips(layer):
    config = json.loads(json.dumps(layer.get_config()))
    assert type(layer).from_config(config).get_config() == layer.get_config()
