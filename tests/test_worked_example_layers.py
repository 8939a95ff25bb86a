"""The worked example of docs/layers.md (average pooling, dropout, batch normalization), read
from the page and recomputed by the engine, on both backends where a kernel is involved."""
from pathlib import Path

import numpy as np
import pytest
from doc_examples import doc_values

from scratchconv import backend, layers

DOC = Path(__file__).resolve().parents[1] / "docs" / "layers.md"


@pytest.fixture(scope="module")
def ex():
    return doc_values(DOC)


def column(a):
    """A (4, 1) column of the page as a batch of four samples of one feature."""
    return a.reshape(-1, 1)


def test_the_page_holds_every_number_of_the_example(ex):
    assert set(ex) == {"x_avg", "count", "y_avg", "dy_avg", "dx_avg",
                       "x_drop", "mask", "y_drop", "dy_drop", "dx_drop",
                       "x_bn", "gamma", "beta", "y_bn", "moving_mean", "moving_variance", "dy_bn", "dgamma",
                       "dbeta", "dx_bn"}


@pytest.mark.parametrize("name", backend.BACKENDS)
def test_average_pooling_matches_the_page(ex, name):
    k = backend.kernels(name)
    pads = ((0, 1), (0, 1))
    x = ex["x_avg"].reshape(1, 3, 3, 1)
    np.testing.assert_array_equal(backend.kernels("numpy").avgpool2d_counts((3, 3), (2, 2), (2, 2), pads),
                                  ex["count"])
    np.testing.assert_array_equal(k.avgpool2d_forward(x, (2, 2), (2, 2), pads)[0, :, :, 0], ex["y_avg"])
    dx = k.avgpool2d_backward(ex["dy_avg"].reshape(1, 2, 2, 1), x.shape, (2, 2), (2, 2), pads)
    np.testing.assert_array_equal(dx[0, :, :, 0], ex["dx_avg"])


def test_average_pooling_layer_reproduces_the_example(ex):
    layer = layers.AveragePooling2D(2, padding="same", dtype="float64")
    y = layer.forward(ex["x_avg"].reshape(1, 3, 3, 1))
    assert layer.pads == ((0, 1), (0, 1))
    np.testing.assert_array_equal(y[0, :, :, 0], ex["y_avg"])
    np.testing.assert_array_equal(layer.backward(ex["dy_avg"].reshape(1, 2, 2, 1))[0, :, :, 0], ex["dx_avg"])


def test_dropout_layer_reproduces_the_example(ex):
    layer = layers.Dropout(0.5, seed=10, dtype="float64")
    y = layer.forward(ex["x_drop"], training=True)
    np.testing.assert_array_equal(y != 0, ex["mask"] != 0)
    np.testing.assert_array_equal(y, ex["y_drop"])
    np.testing.assert_array_equal(layer.backward(ex["dy_drop"]), ex["dx_drop"])


def test_batch_normalization_layer_reproduces_the_example(ex):
    layer = layers.BatchNormalization(epsilon=0.5, momentum=0.5, dtype="float64")
    layer.build((1,))
    layer.params["gamma"][:] = ex["gamma"]
    layer.params["beta"][:] = ex["beta"]
    y = layer.forward(ex["x_bn"], training=True)
    np.testing.assert_array_equal(y, ex["y_bn"])
    np.testing.assert_array_equal(layer.state["moving_mean"], [ex["moving_mean"]])
    np.testing.assert_array_equal(layer.state["moving_variance"], [ex["moving_variance"]])
    dx = layer.backward(ex["dy_bn"])
    np.testing.assert_array_equal(dx, ex["dx_bn"])
    np.testing.assert_array_equal(layer.grads["gamma"], [ex["dgamma"]])
    np.testing.assert_array_equal(layer.grads["beta"], [ex["dbeta"]])
    assert dx.sum() == 0


@pytest.mark.parametrize("module, name", [
    ("scratchconv.kernels.numpy_kernels", "avgpool2d_forward"),
    ("scratchconv.kernels.numpy_kernels", "avgpool2d_backward"),
    ("scratchconv.kernels.numpy_kernels", "avgpool2d_counts"),
    ("scratchconv.layers.dropout", "Dropout.forward"),
    ("scratchconv.layers.dropout", "Dropout.backward"),
    ("scratchconv.layers.dropout", "Dropout.hold_randomness"),
    ("scratchconv.layers.normalization", "BatchNormalization.forward"),
    ("scratchconv.layers.normalization", "BatchNormalization.backward"),
])
def test_every_function_the_page_points_to_exists(module, name):
    import functools
    import importlib

    text = DOC.read_text(encoding="utf-8")
    assert name in text and module.replace(".", "/") in text
    assert callable(functools.reduce(getattr, name.split("."), importlib.import_module(module)))
