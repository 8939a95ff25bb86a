"""Winograd's F(2x2, 3x3) (scratchconv/kernels/winograd.py) equals direct convolution, and the
worked tile of docs/winograd.md is what the code computes.

Direct convolution is the readable backend's definition by kernel offsets; float64 to 1e-12
(max |a - b| / max |b|) over a grid of shapes (odd and even output sizes, one tile, one channel)
and paddings ("valid", "same", and uneven).
"""
import itertools
from pathlib import Path

import numpy as np
import pytest
from doc_examples import doc_values

from scratchconv import backend
from scratchconv.kernels import numpy_kernels, winograd
from scratchconv.kernels.padding import pads_2d

DOC = Path(__file__).resolve().parents[1] / "docs" / "winograd.md"


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def random(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# (input shape, c_out): output sizes odd and even, a single tile (3x3 input, "valid"), one channel.
SHAPES = [((2, 7, 9, 3), 4), ((1, 6, 6, 2), 3), ((3, 5, 8, 1), 2), ((1, 3, 3, 1), 1),
          ((2, 10, 4, 5), 6)]
PADS = ["valid", "same", ((0, 1), (2, 0))]
GRID = list(itertools.product(SHAPES, PADS))


def case(shape, padding, dtype=np.float64):
    x_shape, c_out = shape
    pads = padding if isinstance(padding, tuple) else pads_2d(x_shape[1:3], (3, 3), (1, 1), padding)
    x = random(x_shape, dtype, 1)
    w = random((3, 3, x_shape[3], c_out), dtype, 2)
    b = random(c_out, dtype, 3)
    y = numpy_kernels.conv2d_forward_by_offsets(x, w, b, (1, 1), pads)
    dy = random(y.shape, dtype, 4)
    return x, w, b, pads, y, dy


@pytest.mark.parametrize("shape, padding", GRID)
@pytest.mark.parametrize("relu", [False, True])
def test_winograd_forward_equals_direct_convolution(shape, padding, relu):
    x, w, b, pads, y, _ = case(shape, padding)
    got = winograd.conv2d_forward(x, w, b, pads, relu=relu)
    want = np.maximum(y, 0) if relu else y
    assert got.shape == want.shape and got.dtype == np.float64
    assert rel_err(got, want) < 1e-12


@pytest.mark.parametrize("shape, padding", GRID)
def test_winograd_input_gradient_equals_direct_convolution(shape, padding):
    x, w, _, pads, _, dy = case(shape, padding)
    want = numpy_kernels.conv2d_backward_input_by_offsets(dy, w, x.shape, (1, 1), pads)
    got = winograd.conv2d_backward_input(dy, w, x.shape, pads)
    assert got.shape == x.shape and rel_err(got, want) < 1e-12


@pytest.mark.parametrize("shape, padding", GRID)
def test_winograd_weight_gradient_equals_direct_convolution(shape, padding):
    x, w, _, pads, _, dy = case(shape, padding)
    want = numpy_kernels.conv2d_backward_weights_by_offsets(dy, x, w.shape, (1, 1), pads)
    got = winograd.conv2d_backward_weights(dy, x, pads)
    assert got.shape == w.shape and rel_err(got, want) < 1e-12


def test_winograd_applies_to_3x3_stride_1_only():
    assert winograd.applies((3, 3), (1, 1))
    assert not winograd.applies((3, 3), (2, 2))
    assert not winograd.applies((5, 5), (1, 1))
    assert not winograd.applies((3, 2), (1, 1))


def test_the_transforms_give_f23_in_one_dimension():
    # y = A^T [(G g) * (B^T d)] is the 3-tap correlation's two outputs, for any d and g.
    d, g = random(4, np.float64, 5), random(3, np.float64, 6)
    got = winograd.A_T @ ((winograd.G @ g) * (winograd.B_T @ d))
    np.testing.assert_allclose(got, [d[:3] @ g, d[1:] @ g], rtol=1e-14)


def test_float32_error_against_float64_stays_inside_the_agreement_bounds():
    """The figures of docs/winograd.md's "Rounding" table (printed with -s): the tutorial model's
    second convolution, float32 Winograd against float64 direct convolution."""
    x = np.random.default_rng(0).random((8, 24, 24, 64))
    w = random((3, 3, 64, 32), np.float64, 1) * 0.06
    pads = ((0, 0), (0, 0))
    y = numpy_kernels.conv2d_forward_by_offsets(x, w, None, (1, 1), pads)
    dy = random(y.shape, np.float64, 2)
    f32 = {name: a.astype(np.float32) for name, a in (("x", x), ("w", w), ("dy", dy))}
    errors = {
        "forward": rel_err(winograd.conv2d_forward(f32["x"], f32["w"], None, pads), y),
        "input gradient": rel_err(winograd.conv2d_backward_input(f32["dy"], f32["w"], x.shape, pads),
                                  numpy_kernels.conv2d_backward_input_by_offsets(dy, w, x.shape, (1, 1), pads)),
        "weight gradient": rel_err(winograd.conv2d_backward_weights(f32["dy"], f32["x"], pads),
                                   numpy_kernels.conv2d_backward_weights_by_offsets(dy, x, w.shape, (1, 1), pads)),
    }
    direct = {  # the readable backend's float32 direct convolution, for comparison
        "forward": rel_err(numpy_kernels.conv2d_forward(f32["x"], f32["w"], None, (1, 1), pads), y),
        "input gradient": rel_err(numpy_kernels.conv2d_backward_input(f32["dy"], f32["w"], x.shape, (1, 1), pads),
                                  numpy_kernels.conv2d_backward_input_by_offsets(dy, w, x.shape, (1, 1), pads)),
        "weight gradient": rel_err(numpy_kernels.conv2d_backward_weights(f32["dy"], f32["x"], w.shape, (1, 1), pads),
                                   numpy_kernels.conv2d_backward_weights_by_offsets(dy, x, w.shape, (1, 1), pads)),
    }
    # The fast backend's compiled Winograd (the forward fused with a 2x2 max pooling).
    numba = backend.kernels("numba")
    pool = ((2, 2), (2, 2), pads)
    compiled = {
        "forward": rel_err(numba.conv2d_maxpool_forward(f32["x"], f32["w"], None, (1, 1), pads, False, *pool)[0],
                           numpy_kernels.maxpool2d_forward(y, *pool)[0]),
        "input gradient": rel_err(numba.conv2d_backward_input(f32["dy"], f32["w"], x.shape, (1, 1), pads),
                                  numpy_kernels.conv2d_backward_input_by_offsets(dy, w, x.shape, (1, 1), pads)),
        "weight gradient": rel_err(numba.conv2d_backward_weights(f32["dy"], f32["x"], w.shape, (1, 1), pads),
                                   numpy_kernels.conv2d_backward_weights_by_offsets(dy, x, w.shape, (1, 1), pads)),
    }
    print("\nfloat32 error, Winograd readable / compiled (direct): " + ", ".join(
        f"{name} {errors[name]:.1e} / {compiled[name]:.1e} ({direct[name]:.1e})" for name in errors))
    # docs/agreement.md: 1e-5 of the largest entry for outputs, 1e-4 for gradients; the
    # backends' equality tests use 1e-5 for everything.
    assert max(errors.values()) < 1e-5 and max(compiled.values()) < 1e-5


# ----- the worked tile of docs/winograd.md -----------------------------------------------------

def test_the_worked_tile_of_the_page_is_what_the_transforms_give():
    ex = doc_values(DOC, "winograd-example")
    assert set(ex) == {"d", "g", "U", "V", "M", "Y"}
    np.testing.assert_array_equal(winograd.G @ ex["g"] @ winograd.G.T, ex["U"])
    np.testing.assert_array_equal(winograd.B_T @ ex["d"] @ winograd.B_T.T, ex["V"])
    np.testing.assert_array_equal(ex["U"] * ex["V"], ex["M"])
    np.testing.assert_array_equal(winograd.A_T @ ex["M"] @ winograd.A_T.T, ex["Y"])
    # ... and the kernels on the same numbers, against direct convolution.
    x, w = ex["d"].reshape(1, 4, 4, 1), ex["g"].reshape(3, 3, 1, 1)
    y = winograd.conv2d_forward(x, w, None, ((0, 0), (0, 0)))
    np.testing.assert_array_equal(y[0, :, :, 0], ex["Y"])
    direct = numpy_kernels.conv2d_forward_by_offsets(x, w, None, (1, 1), ((0, 0), (0, 0)))
    np.testing.assert_array_equal(direct[0, :, :, 0], ex["Y"])
