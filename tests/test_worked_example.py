"""The worked example of docs/convolution.md, read from the page and recomputed by the engine.

The numbers are parsed out of the page's ```text worked-example blocks, so the page cannot drift
away from what the code computes.
"""
from pathlib import Path

import numpy as np
import pytest
from doc_examples import doc_values

from scratchconv import backend, layers

DOC = Path(__file__).resolve().parents[1] / "docs" / "convolution.md"
VALID = ((0, 0), (0, 0))


@pytest.fixture(scope="module")
def ex():
    return doc_values(DOC)


def as_nhwc(a):
    return a.reshape(1, *a.shape, 1)


def test_the_page_holds_every_number_of_the_example(ex):
    assert set(ex) == {"x", "w", "b", "y", "dy", "dx", "dw", "db", "col", "dcol",
                       "pool", "argmax", "dy_pool", "dx_pool"}


@pytest.mark.parametrize("name", backend.BACKENDS)
def test_conv_forward_matches_the_page(ex, name):
    k = backend.kernels(name)
    y = k.conv2d_forward(as_nhwc(ex["x"]), ex["w"].reshape(2, 2, 1, 1), ex["b"].reshape(1),
                         (1, 1), VALID)
    np.testing.assert_array_equal(y[0, :, :, 0], ex["y"])


@pytest.mark.parametrize("name", backend.BACKENDS)
def test_conv_gradient_to_the_input_matches_the_page(ex, name):
    k = backend.kernels(name)
    dx = k.conv2d_backward_input(as_nhwc(ex["dy"]), ex["w"].reshape(2, 2, 1, 1), (1, 4, 4, 1),
                                 (1, 1), VALID)
    np.testing.assert_array_equal(dx[0, :, :, 0], ex["dx"])


@pytest.mark.parametrize("name", backend.BACKENDS)
def test_conv_gradient_to_the_weights_matches_the_page(ex, name):
    k = backend.kernels(name)
    dw = k.conv2d_backward_weights(as_nhwc(ex["dy"]), as_nhwc(ex["x"]), (2, 2, 1, 1), (1, 1), VALID)
    np.testing.assert_array_equal(dw[:, :, 0, 0], ex["dw"])


def test_convolution_as_one_matrix_product_matches_the_page(ex):
    numpy = backend.kernels("numpy")
    col = numpy.im2col(as_nhwc(ex["x"]), (2, 2), (1, 1), VALID)
    w2 = ex["w"].reshape(4, 1)
    np.testing.assert_array_equal(col, ex["col"])
    np.testing.assert_array_equal((col @ w2 + ex["b"]).reshape(3, 3), ex["y"])
    np.testing.assert_array_equal((col.T @ ex["dy"].reshape(9, 1)).reshape(2, 2), ex["dw"])
    dcol = ex["dy"].reshape(9, 1) @ w2.T
    np.testing.assert_array_equal(dcol, ex["dcol"])
    dx = numpy.col2im(dcol, (1, 4, 4, 1), (2, 2), (1, 1), VALID)
    np.testing.assert_array_equal(dx[0, :, :, 0], ex["dx"])


@pytest.mark.parametrize("name", backend.BACKENDS)
def test_maxpool_forward_and_routing_match_the_page(ex, name):
    k = backend.kernels(name)
    y, argmax = k.maxpool2d_forward(as_nhwc(ex["x"]), (2, 2), (2, 2), VALID)
    dx = k.maxpool2d_backward(as_nhwc(ex["dy_pool"]), argmax, (1, 4, 4, 1))
    np.testing.assert_array_equal(y[0, :, :, 0], ex["pool"])
    np.testing.assert_array_equal(argmax[0, :, :, 0], ex["argmax"])
    np.testing.assert_array_equal(dx[0, :, :, 0], ex["dx_pool"])


def test_conv2d_layer_reproduces_the_whole_example(ex):
    layer = layers.Conv2D(1, (2, 2), input_shape=(4, 4, 1), dtype="float64")
    layer.build((4, 4, 1))
    layer.set_weights([ex["w"].reshape(2, 2, 1, 1), ex["b"].reshape(1)])
    y = layer.forward(as_nhwc(ex["x"]))
    dx = layer.backward(as_nhwc(ex["dy"]))
    np.testing.assert_array_equal(y[0, :, :, 0], ex["y"])
    np.testing.assert_array_equal(dx[0, :, :, 0], ex["dx"])
    np.testing.assert_array_equal(layer.grads["kernel"][:, :, 0, 0], ex["dw"])
    np.testing.assert_array_equal(layer.grads["bias"], ex["db"].reshape(1))


def test_maxpooling2d_layer_reproduces_the_pooling_example(ex):
    layer = layers.MaxPooling2D((2, 2), dtype="float64")
    layer.build((4, 4, 1))
    y = layer.forward(as_nhwc(ex["x"]))
    dx = layer.backward(as_nhwc(ex["dy_pool"]))
    np.testing.assert_array_equal(y[0, :, :, 0], ex["pool"])
    np.testing.assert_array_equal(dx[0, :, :, 0], ex["dx_pool"])


@pytest.mark.parametrize("module, name", [
    ("scratchconv.kernels.padding", "output_size_1d"),
    ("scratchconv.kernels.padding", "pads_1d"),
    ("scratchconv.kernels.numpy_kernels", "conv2d_forward_by_offsets"),
    ("scratchconv.kernels.numpy_kernels", "conv2d_backward_input_by_offsets"),
    ("scratchconv.kernels.numpy_kernels", "conv2d_backward_weights_by_offsets"),
    ("scratchconv.kernels.numpy_kernels", "im2col"),
    ("scratchconv.kernels.numpy_kernels", "col2im"),
    ("scratchconv.kernels.numpy_kernels", "conv2d_forward"),
    ("scratchconv.kernels.numpy_kernels", "conv2d_backward_input"),
    ("scratchconv.kernels.numpy_kernels", "conv2d_backward_weights"),
    ("scratchconv.kernels.numpy_kernels", "maxpool2d_forward"),
    ("scratchconv.kernels.numpy_kernels", "maxpool2d_backward"),
    ("scratchconv.layers.activations", "relu"),
    ("scratchconv.layers.activations", "gradient"),
    ("scratchconv.layers.activations", "softmax"),
    ("scratchconv.losses", "categorical_crossentropy"),
    ("scratchconv.losses", "CategoricalCrossentropy.from_logits"),
    ("scratchconv.training", "Training._forward_backward"),
    ("scratchconv.layers.core", "Dense.backward_from_logits"),
    ("scratchconv.optimizers", "Adam._update"),
])
def test_every_function_the_page_points_to_exists(module, name):
    import functools
    import importlib

    assert name in DOC.read_text(encoding="utf-8")
    assert callable(functools.reduce(getattr, name.split("."), importlib.import_module(module)))
