"""The two kernel backends agree, and the readable one agrees with the definition.

numba == numpy to 1e-12 relative in float64 and 1e-5 in float32 (max |a - b| / max |b|) over
grids of shapes, strides, paddings and kernel sizes; pooling's argmax must match exactly. In the
readable backend, the convolution as one matrix product (im2col) equals the loop over kernel
offsets to 1e-12 in float64 over the same grid.
"""
import itertools

import numba
import numpy as np
import pytest

from scratchconv import backend
from scratchconv.kernels import numpy_kernels
from scratchconv.kernels.padding import output_size_2d, pads_2d

BACKENDS = ("numpy", "numba")
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def rel_err(a, b):
    """max |a - b| / max |b| (0 when both are 0)."""
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a).max())


def random(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# (input shape, kernel (kh, kw, c_in, c_out)): odd sizes, batch 1, one input channel, 1x1,
# 3x3, 5x5 and a non-square 3x2 kernel.
CONV_SHAPES = [
    ((2, 7, 9, 3), (3, 3, 3, 4)),
    ((1, 7, 9, 1), (1, 1, 1, 5)),
    ((2, 9, 7, 2), (5, 5, 2, 3)),
    ((3, 8, 6, 4), (3, 2, 4, 2)),
]
STRIDES = [(1, 1), (2, 2), (2, 1)]
PADDINGS = ["valid", "same"]
CONV_GRID = list(itertools.product(CONV_SHAPES, STRIDES, PADDINGS, [np.float64, np.float32]))


def assert_same_bits_on_one_thread(run):
    """run() (a tuple of arrays) on all of numba's threads and then on one gives the same bits."""
    all_threads = run()
    saved = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one_thread = run()
    finally:
        numba.set_num_threads(saved)
    for got, want in zip(one_thread, all_threads):
        np.testing.assert_array_equal(got, want)


def conv_case(shapes, strides, padding, dtype):
    (x_shape, w_shape) = shapes
    pads = pads_2d(x_shape[1:3], w_shape[:2], strides, padding)
    h_out, w_out = output_size_2d(x_shape[1:3], w_shape[:2], strides, padding)
    x = random(x_shape, dtype, 1)
    w = random(w_shape, dtype, 2)
    b = random(w_shape[3], dtype, 3)
    dy = random((x_shape[0], h_out, w_out, w_shape[3]), dtype, 4)
    return x, w, b, dy, pads


@pytest.mark.parametrize("shapes, strides, padding, dtype", CONV_GRID)
def test_conv2d_forward_numba_matches_numpy(shapes, strides, padding, dtype):
    x, w, b, _, pads = conv_case(shapes, strides, padding, dtype)
    want = backend.kernels("numpy").conv2d_forward(x, w, b, strides, pads)
    got = backend.kernels("numba").conv2d_forward(x, w, b, strides, pads)
    assert got.dtype == dtype and got.shape == want.shape
    assert rel_err(got, want) < TOLERANCE[dtype]


@pytest.mark.parametrize("shapes, strides, padding, dtype", CONV_GRID)
def test_conv2d_backward_input_numba_matches_numpy(shapes, strides, padding, dtype):
    x, w, _, dy, pads = conv_case(shapes, strides, padding, dtype)
    want = backend.kernels("numpy").conv2d_backward_input(dy, w, x.shape, strides, pads)
    got = backend.kernels("numba").conv2d_backward_input(dy, w, x.shape, strides, pads)
    assert got.dtype == dtype and got.shape == x.shape
    assert rel_err(got, want) < TOLERANCE[dtype]


@pytest.mark.parametrize("shapes, strides, padding, dtype", CONV_GRID)
def test_conv2d_backward_weights_numba_matches_numpy(shapes, strides, padding, dtype):
    x, w, _, dy, pads = conv_case(shapes, strides, padding, dtype)
    want = backend.kernels("numpy").conv2d_backward_weights(dy, x, w.shape, strides, pads)
    got = backend.kernels("numba").conv2d_backward_weights(dy, x, w.shape, strides, pads)
    assert got.dtype == dtype and got.shape == w.shape
    assert rel_err(got, want) < TOLERANCE[dtype]


@pytest.mark.parametrize("shapes, strides, padding, dtype", CONV_GRID)
@pytest.mark.parametrize("fused_relu", [False, True])
def test_conv2d_backward_numba_matches_numpy(shapes, strides, padding, dtype, fused_relu):
    x, w, b, dy, pads = conv_case(shapes, strides, padding, dtype)
    # About half of relu_y is 0: the mask matters.
    relu_y = backend.kernels("numpy").conv2d_forward(x, w, b, strides, pads, relu=True) if fused_relu else None
    want = backend.kernels("numpy").conv2d_backward(dy, x, w, strides, pads, relu_y=relu_y)
    got = backend.kernels("numba").conv2d_backward(dy, x, w, strides, pads, relu_y=relu_y)
    for g, wnt, shape in zip(got, want, (w.shape, b.shape, x.shape)):
        assert g.dtype == dtype and g.shape == shape
        assert rel_err(g, wnt) < TOLERANCE[dtype]


# ----- the readable backend's two rungs: by kernel offsets, and as one matrix product ----------

FLOAT64_GRID = list(itertools.product(CONV_SHAPES, STRIDES, PADDINGS))


@pytest.mark.parametrize("shapes, strides, padding", FLOAT64_GRID)
def test_conv2d_forward_as_one_product_equals_the_loop_over_offsets(shapes, strides, padding):
    x, w, b, _, pads = conv_case(shapes, strides, padding, np.float64)
    numpy = backend.kernels("numpy")
    want = numpy.conv2d_forward_by_offsets(x, w, b, strides, pads)
    got = numpy.conv2d_forward(x, w, b, strides, pads)
    assert got.shape == want.shape and rel_err(got, want) < 1e-12


@pytest.mark.parametrize("shapes, strides, padding", FLOAT64_GRID)
def test_conv2d_backward_input_as_product_and_col2im_equals_the_loop_over_offsets(shapes, strides, padding):
    x, w, _, dy, pads = conv_case(shapes, strides, padding, np.float64)
    numpy = backend.kernels("numpy")
    want = numpy.conv2d_backward_input_by_offsets(dy, w, x.shape, strides, pads)
    got = numpy.conv2d_backward_input(dy, w, x.shape, strides, pads)
    assert got.shape == x.shape and rel_err(got, want) < 1e-12


@pytest.mark.parametrize("shapes, strides, padding", FLOAT64_GRID)
def test_conv2d_backward_weights_as_one_product_equals_the_loop_over_offsets(shapes, strides, padding):
    x, w, _, dy, pads = conv_case(shapes, strides, padding, np.float64)
    numpy = backend.kernels("numpy")
    want = numpy.conv2d_backward_weights_by_offsets(dy, x, w.shape, strides, pads)
    got = numpy.conv2d_backward_weights(dy, x, w.shape, strides, pads)
    assert got.shape == w.shape and rel_err(got, want) < 1e-12


def test_im2col_rows_are_receptive_fields_in_p_q_c_order():
    x = np.arange(2 * 4 * 5 * 2, dtype=np.float64).reshape(2, 4, 5, 2)
    pads = ((1, 0), (0, 1))
    col = backend.kernels("numpy").im2col(x, (2, 3), (2, 1), pads)
    x_pad = np.pad(x, ((0, 0), (1, 0), (0, 1), (0, 0)))
    h_out, w_out = (4 + 1 - 2) // 2 + 1, (5 + 1 - 3) // 1 + 1
    assert col.shape == (2 * h_out * w_out, 2 * 3 * 2)
    for n, i, j in itertools.product(range(2), range(h_out), range(w_out)):
        window = x_pad[n, 2 * i:2 * i + 2, j:j + 3, :]
        np.testing.assert_array_equal(col[(n * h_out + i) * w_out + j], window.reshape(-1))


@pytest.mark.parametrize("shapes, strides, padding", FLOAT64_GRID)
def test_col2im_is_the_transpose_of_im2col(shapes, strides, padding):
    # <im2col(x), c> == <x, col2im(c)> for random x and c: col2im is im2col's adjoint.
    x, w, _, _, pads = conv_case(shapes, strides, padding, np.float64)
    numpy = backend.kernels("numpy")
    col = numpy.im2col(x, w.shape[:2], strides, pads)
    c = random(col.shape, np.float64, 9)
    back = numpy.col2im(c, x.shape, w.shape[:2], strides, pads)
    assert back.shape == x.shape
    assert abs(np.sum(col * c) - np.sum(x * back)) < 1e-12 * np.sum(np.abs(col * c))


@pytest.mark.parametrize("name", BACKENDS)
def test_conv2d_backward_is_the_three_gradients_of_the_masked_dy(name):
    k = backend.kernels(name)
    x, w, b, dy, pads = conv_case(CONV_SHAPES[0], (1, 1), "same", np.float64)
    y = k.conv2d_forward(x, w, b, (1, 1), pads, relu=True)
    dw, db, dx = k.conv2d_backward(dy, x, w, (1, 1), pads, relu_y=y)
    dz = dy * (y > 0)
    assert rel_err(dw, k.conv2d_backward_weights(dz, x, w.shape, (1, 1), pads)) < 1e-14
    assert rel_err(db, dz.sum(axis=(0, 1, 2))) < 1e-14
    assert rel_err(dx, k.conv2d_backward_input(dz, w, x.shape, (1, 1), pads)) < 1e-14
    dw_only, no_db, no_dx = k.conv2d_backward(dy, x, w, (1, 1), pads, need_db=False, need_dx=False)
    assert no_db is None and no_dx is None
    assert rel_err(dw_only, k.conv2d_backward_weights(dy, x, w.shape, (1, 1), pads)) < 1e-14


@pytest.mark.parametrize("name", BACKENDS)
def test_conv2d_backward_mask_gives_nan_for_an_infinite_gradient_on_a_dead_unit(name):
    # dz = dy * (y > 0) multiplies: inf * 0 is NaN, as in every framework.
    k = backend.kernels(name)
    x, w, b, dy, pads = conv_case(CONV_SHAPES[0], (1, 1), "valid", np.float32)
    y = k.conv2d_forward(x, w, b, (1, 1), pads, relu=True)
    dead = np.argwhere(y == 0)[0]
    dy[tuple(dead)] = np.inf
    with np.errstate(invalid="ignore"):
        dw, db, _ = k.conv2d_backward(dy, x, w, (1, 1), pads, relu_y=y)
    assert np.isnan(db[dead[3]]) and np.isnan(dw[..., dead[3]]).any()
    assert np.isfinite(np.delete(db, dead[3])).all()


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_forward_relu_fusion_is_relu_of_plain_output(name, with_bias):
    x, w, b, _, pads = conv_case(CONV_SHAPES[0], (1, 1), "same", np.float64)
    b = b if with_bias else None
    k = backend.kernels(name)
    plain = k.conv2d_forward(x, w, b, (1, 1), pads)
    fused = k.conv2d_forward(x, w, b, (1, 1), pads, relu=True)
    assert (plain < 0).any()
    np.testing.assert_array_equal(fused, np.maximum(plain, 0))


def brute_force_conv(x, w, b, strides, pads):
    """The definition, one output number at a time."""
    (top, bottom), (left, right) = pads
    x_pad = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw, _, c_out = w.shape
    h_out = (x_pad.shape[1] - kh) // strides[0] + 1
    w_out = (x_pad.shape[2] - kw) // strides[1] + 1
    y = np.empty((x.shape[0], h_out, w_out, c_out))
    for n, i, j, o in itertools.product(*map(range, y.shape)):
        h0, w0 = i * strides[0], j * strides[1]
        y[n, i, j, o] = b[o] + np.sum(x_pad[n, h0:h0 + kh, w0:w0 + kw, :] * w[:, :, :, o])
    return y


def brute_force_pool(x, pool_size, strides, pads):
    """Max and first-argmax of each window, scanning pixels row by row."""
    (top, bottom), (left, right) = pads
    n_, h, wd, c = x.shape
    h_out = (h + top + bottom - pool_size[0]) // strides[0] + 1
    w_out = (wd + left + right - pool_size[1]) // strides[1] + 1
    y = np.full((n_, h_out, w_out, c), -np.inf)
    argmax = np.zeros(y.shape, dtype=np.int64)
    for n, i, j, ch in itertools.product(*map(range, y.shape)):
        for p, q in itertools.product(range(pool_size[0]), range(pool_size[1])):
            r, s = i * strides[0] + p - top, j * strides[1] + q - left
            if 0 <= r < h and 0 <= s < wd and x[n, r, s, ch] > y[n, i, j, ch]:
                y[n, i, j, ch], argmax[n, i, j, ch] = x[n, r, s, ch], r * wd + s
    return y, argmax


# Every convolution: both backends' and the readable backend's definition by offsets.
CONVOLUTIONS = [(name, "") for name in BACKENDS] + [("numpy", "_by_offsets")]


@pytest.mark.parametrize("name, suffix", CONVOLUTIONS)
def test_conv2d_forward_matches_brute_force_definition(name, suffix):
    x, w, b, _, pads = conv_case(((2, 6, 7, 2), (3, 2, 2, 3)), (2, 1), "same", np.float64)
    got = getattr(backend.kernels(name), "conv2d_forward" + suffix)(x, w, b, (2, 1), pads)
    assert rel_err(got, brute_force_conv(x, w, b, (2, 1), pads)) < 1e-12


@pytest.mark.parametrize("name, suffix", CONVOLUTIONS)
def test_conv2d_backward_matches_brute_force_derivative(name, suffix):
    # The forward is linear in x and in w, so <dy, conv(x, w)> has gradients dx and dw that the
    # brute-force forward gives exactly through one-hot probes.
    x, w, b, dy, pads = conv_case(((1, 5, 4, 2), (3, 3, 2, 2)), (2, 1), "same", np.float64)
    k = backend.kernels(name)
    zero = np.zeros_like(b)
    dx = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1.0
        dx[idx] = np.sum(dy * brute_force_conv(e, w, zero, (2, 1), pads))
    dw = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = 1.0
        dw[idx] = np.sum(dy * brute_force_conv(x, e, zero, (2, 1), pads))
    backward_input = getattr(k, "conv2d_backward_input" + suffix)
    backward_weights = getattr(k, "conv2d_backward_weights" + suffix)
    assert rel_err(backward_input(dy, w, x.shape, (2, 1), pads), dx) < 1e-12
    assert rel_err(backward_weights(dy, x, w.shape, (2, 1), pads), dw) < 1e-12


# (input shape, pool size, strides, padding): stride equal to, below and above the pool size.
POOL_GRID = list(itertools.product(
    [(2, 7, 9, 3), (1, 8, 8, 1)],
    [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 2), (1, 1)), ((3, 3), (1, 2)), ((2, 3), (3, 2))],
    PADDINGS,
    [np.float64, np.float32],
))


def pool_case(x_shape, window, padding, dtype):
    pool_size, strides = window
    pads = pads_2d(x_shape[1:3], pool_size, strides, padding)
    x = random(x_shape, dtype, 5)
    return x, pool_size, strides, pads


@pytest.mark.parametrize("x_shape, window, padding, dtype", POOL_GRID)
def test_maxpool2d_forward_numba_matches_numpy_exactly(x_shape, window, padding, dtype):
    x, pool_size, strides, pads = pool_case(x_shape, window, padding, dtype)
    y0, a0 = backend.kernels("numpy").maxpool2d_forward(x, pool_size, strides, pads)
    y1, a1 = backend.kernels("numba").maxpool2d_forward(x, pool_size, strides, pads)
    assert y1.dtype == dtype and a1.dtype == a0.dtype == np.int32
    np.testing.assert_array_equal(y1, y0)
    np.testing.assert_array_equal(a1, a0)


def test_winner_indices_are_int32_unless_the_plane_has_more_pixels_than_int32_numbers():
    assert numpy_kernels.winner_index_dtype(2**31 - 1) is np.int32
    assert numpy_kernels.winner_index_dtype(2**31) is np.int64


@pytest.mark.parametrize("x_shape, window, padding, dtype", POOL_GRID)
def test_maxpool2d_backward_numba_matches_numpy(x_shape, window, padding, dtype):
    x, pool_size, strides, pads = pool_case(x_shape, window, padding, dtype)
    y, argmax = backend.kernels("numpy").maxpool2d_forward(x, pool_size, strides, pads)
    dy = random(y.shape, dtype, 6)
    want = backend.kernels("numpy").maxpool2d_backward(dy, argmax, x.shape)
    got = backend.kernels("numba").maxpool2d_backward(dy, argmax, x.shape)
    assert got.dtype == dtype
    assert rel_err(got, want) < TOLERANCE[dtype]


@pytest.mark.parametrize("name", BACKENDS)
def test_maxpool2d_forward_matches_brute_force_definition(name):
    x, pool_size, strides, pads = pool_case((2, 7, 9, 3), ((3, 3), (2, 2)), "same", np.float64)
    y, argmax = backend.kernels(name).maxpool2d_forward(x, pool_size, strides, pads)
    want_y, want_argmax = brute_force_pool(x, pool_size, strides, pads)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(argmax, want_argmax)


@pytest.mark.parametrize("name", BACKENDS)
def test_maxpool2d_ties_go_to_first_pixel_in_row_major_window_order(name):
    # Every window of a constant image is a tie: the winner is its top-left pixel. In the
    # second image only the bottom row of each 2x2 window ties, so its left pixel wins.
    x = np.zeros((2, 4, 4, 1))
    x[1, 1::2, :, 0] = 1.0
    y, argmax = backend.kernels(name).maxpool2d_forward(x, (2, 2), (2, 2), ((0, 0), (0, 0)))
    np.testing.assert_array_equal(argmax[0, :, :, 0], [[0, 2], [8, 10]])
    np.testing.assert_array_equal(argmax[1, :, :, 0], [[4, 6], [12, 14]])
    np.testing.assert_array_equal(y[1], np.ones((2, 2, 1)))


@pytest.mark.parametrize("name", BACKENDS)
def test_maxpool2d_same_padding_never_picks_the_padding(name):
    x = np.full((1, 3, 3, 1), -5.0)
    y, argmax = backend.kernels(name).maxpool2d_forward(x, (2, 2), (2, 2), ((0, 1), (0, 1)))
    np.testing.assert_array_equal(y[0, :, :, 0], np.full((2, 2), -5.0))
    np.testing.assert_array_equal(argmax[0, :, :, 0], [[0, 2], [6, 8]])


@pytest.mark.parametrize("name", BACKENDS)
def test_maxpool2d_backward_adds_gradients_of_overlapping_windows(name):
    # A single bright pixel in the middle wins all four overlapping 2x2 windows (stride 1).
    x = np.zeros((1, 3, 3, 1))
    x[0, 1, 1, 0] = 1.0
    k = backend.kernels(name)
    y, argmax = k.maxpool2d_forward(x, (2, 2), (1, 1), ((0, 0), (0, 0)))
    dy = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
    dx = k.maxpool2d_backward(dy, argmax, x.shape)
    expected = np.zeros_like(x)
    expected[0, 1, 1, 0] = 10.0
    np.testing.assert_array_equal(dx, expected)


def test_numba_kernels_are_bit_for_bit_deterministic():
    k = backend.kernels("numba")
    x, w, b, dy, pads = conv_case(((4, 12, 11, 5), (3, 3, 5, 6)), (1, 1), "same", np.float32)
    runs = [(k.conv2d_forward(x, w, b, (1, 1), pads, relu=True),
             k.conv2d_backward_input(dy, w, x.shape, (1, 1), pads),
             k.conv2d_backward_weights(dy, x, w.shape, (1, 1), pads),
             *k.conv2d_backward(dy, x, w, (1, 1), pads, relu_y=np.maximum(dy, 0)),
             *k.maxpool2d_forward(x, (3, 3), (1, 1), pads),
             k.maxpool2d_backward(dy[..., :5], k.maxpool2d_forward(x, (3, 3), (1, 1), pads)[1],
                                  x.shape))
            for _ in range(2)]
    for first, second in zip(*runs):
        np.testing.assert_array_equal(first, second)


def test_numba_outputs_do_not_alias_scratch_buffers():
    # A second call with the same shapes reuses the scratch buffers; the first results must
    # be left untouched.
    k = backend.kernels("numba")
    x, w, b, dy, pads = conv_case(CONV_SHAPES[0], (1, 1), "valid", np.float64)
    y = k.conv2d_forward(x, w, b, (1, 1), pads)
    dx = k.conv2d_backward_input(dy, w, x.shape, (1, 1), pads)
    kept_y, kept_dx = y.copy(), dx.copy()
    k.conv2d_forward(-x, w, b, (1, 1), pads)
    k.conv2d_backward_input(-dy, w, x.shape, (1, 1), pads)
    np.testing.assert_array_equal(y, kept_y)
    np.testing.assert_array_equal(dx, kept_dx)


def test_numba_kernels_accept_non_contiguous_inputs():
    k = backend.kernels("numba")
    x, w, b, dy, pads = conv_case(CONV_SHAPES[0], (1, 1), "same", np.float64)
    x_view = np.asfortranarray(x)
    want = backend.kernels("numpy").conv2d_forward(x, w, b, (1, 1), pads)
    assert rel_err(k.conv2d_forward(x_view, w, b, (1, 1), pads), want) < 1e-12


def test_numba_kernels_give_the_same_bits_with_one_thread_and_with_all():
    k = backend.kernels("numba")
    x, w, b, dy, pads = conv_case(((5, 10, 9, 4), (3, 3, 4, 6)), (1, 1), "same", np.float32)
    # Winograd: the inference forward, pooled in its tiles and pooled from the convolution, and
    # the training forward and backward; the direct inference forward (4 channels in), likewise.
    xw, ww, bw, _, pads_w = conv_case(((5, 10, 9, 32), (3, 3, 32, 6)), (1, 1), "same", np.float32)

    def run():
        # Training by Winograd (32 input channels): the fused forward and its backward.
        yw, argmax = k.conv2d_maxpool_forward(xw, ww, bw, (1, 1), pads_w, True, (2, 2), (2, 2), ((0, 0), (0, 1)))
        return (k.conv2d_forward(x, w, b, (1, 1), pads, relu=True),
                k.conv2d_backward_input(dy, w, x.shape, (1, 1), pads),
                k.conv2d_backward_weights(dy, x, w.shape, (1, 1), pads),
                *k.conv2d_backward(dy, x, w, (1, 1), pads, relu_y=np.maximum(dy, 0)),
                *(k.conv2d_maxpool_forward(a, f, bias, (1, 1), p, True, pool, (2, 2), ((0, 0), (0, 1)),
                                           training=False)[0]
                  for pool in ((2, 2), (3, 3)) for a, f, bias, p in ((xw, ww, bw, pads_w), (x, w, b, pads))),
                yw, argmax, *k.conv2d_maxpool_backward(-yw, yw, argmax, xw, ww, (1, 1), pads_w, True))

    assert_same_bits_on_one_thread(run)


@pytest.mark.parametrize("c_in", [4, 32])  # im2col, and Winograd in training
def test_a_single_sample_on_the_calling_thread_gives_the_bits_of_a_batch(c_in):
    # One sample runs without a parallel region; twice the same sample runs on all threads,
    # and gives the same outputs per sample and exactly twice the parameter gradients.
    k = backend.kernels("numba")
    x, w, b, _, pads = conv_case(((1, 10, 9, c_in), (3, 3, c_in, 6)), (1, 1), "same", np.float32)
    pool = ((2, 2), (2, 2), ((0, 0), (0, 1)))

    def run(xs):
        y, argmax = k.conv2d_maxpool_forward(xs, w, b, (1, 1), pads, True, *pool)
        dw, db, dx = k.conv2d_maxpool_backward(-y, y, argmax, xs, w, (1, 1), pads, True)
        return k.conv2d_forward(xs, w, b, (1, 1), pads, relu=True), y, argmax, dx, dw, db

    one, two = run(x), run(np.concatenate([x, x]))
    for got, want in zip(one[:4], two[:4]):
        np.testing.assert_array_equal(np.concatenate([got, got]), want)
    for got, want in zip(one[4:], two[4:]):
        np.testing.assert_array_equal(2 * got, want)


@pytest.mark.parametrize("name", BACKENDS)
def test_conv2d_kernels_on_an_empty_batch_give_empty_outputs_and_zero_weight_gradient(name):
    k = backend.kernels(name)
    x = np.zeros((0, 5, 5, 2))
    w = random((3, 3, 2, 4), np.float64, 7)
    pads = ((0, 0), (0, 0))
    y = k.conv2d_forward(x, w, None, (1, 1), pads)
    assert y.shape == (0, 3, 3, 4)
    assert k.conv2d_backward_input(y, w, x.shape, (1, 1), pads).shape == x.shape
    np.testing.assert_array_equal(k.conv2d_backward_weights(y, x, w.shape, (1, 1), pads),
                                  np.zeros(w.shape))


def test_numba_kernel_restores_a_blas_thread_count_the_user_raised():
    from threadpoolctl import threadpool_info, threadpool_limits

    k = backend.kernels("numba")
    x, w, b, _, pads = conv_case(CONV_SHAPES[0], (1, 1), "same", np.float32)
    want = k.conv2d_forward(x, w, b, (1, 1), pads)
    with threadpool_limits(2, user_api="blas"):
        got = k.conv2d_forward(x, w, b, (1, 1), pads)
        assert all(lib["num_threads"] == 2 for lib in threadpool_info()
                   if lib["user_api"] == "blas")
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("rows", [3, "parallel"])  # on one thread, and on all
def test_per_sample_parts_are_summed_in_sample_order(rows):
    k = backend.kernels("numba")
    rows = 3 if rows == 3 else k.PARALLEL_MIN_ENTRIES // 40 + 1
    parts = random((5, rows, 8), np.float32, 1)
    out = np.empty(parts.shape[1:], np.float32)
    k._sum_over_samples(parts, out)
    want = np.zeros_like(out)
    for part in parts:  # parts[0] + parts[1] + ..., rounded after each addition
        want += part
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("large", [False, True])  # on one thread, and on all
def test_relu_backward_numba_matches_numpy_bit_for_bit(dtype, large):
    shape = (3, 5, 4, 7) if not large else (backend.kernels("numba").PARALLEL_MIN_ENTRIES // 140 + 1, 5, 4, 7)
    y = np.maximum(random(shape, dtype, 1), 0)
    y[0, 0, 0, :3] = 0.0
    dy = random(y.shape, dtype, 2)
    dy[0, 0, 0, 0], dy[0, 0, 0, 1], dy[1, 0, 0, 0] = np.inf, -1.0, np.nan
    with np.errstate(invalid="ignore"):  # inf * 0
        want = backend.kernels("numpy").relu_backward(dy, y)
        expected = np.where(y > 0, dy, dy * 0)
    got = backend.kernels("numba").relu_backward(dy, y, out=np.empty_like(dy))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))  # -0.0 where dy < 0 is masked
    assert np.isnan(got[0, 0, 0, 0])  # inf * 0, as in every framework
    np.testing.assert_array_equal(want, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size", [30, "parallel"])  # on one thread, and on all
def test_adam_update_numba_matches_numpy_bit_for_bit(dtype, size):
    shape = (6, 5) if size == 30 else (backend.kernels("numba").PARALLEL_MIN_ENTRIES + 3,)
    states = {}
    for name in BACKENDS:
        param, m = random(shape, dtype, 3), random(shape, dtype, 4)
        v = np.abs(random(shape, dtype, 5))
        # Entries whose moments decay below the smallest normal number under zero gradients
        # (flushed to zero) and whose gradient is itself subnormal.
        tiny = np.finfo(dtype).tiny
        m.reshape(-1)[-4:], v.reshape(-1)[-4:] = tiny * 1.05, tiny * 1.0005
        for step in range(3):
            grad = random(shape, dtype, 10 + step)
            grad.reshape(-1)[-4:] = 0, tiny / 4, -tiny / 4, 0
            backend.kernels(name).adam_update(param, grad, m, v, dtype(1e-3), dtype(0.1),
                                              dtype(0.001), dtype(1e-7))
        states[name] = (param, m, v)
        for state in (m, v):
            assert not np.any((state != 0) & (np.abs(state) < tiny))
    for got, want in zip(states["numba"], states["numpy"]):
        assert got.dtype == want.dtype == dtype
        np.testing.assert_array_equal(got, want)


# ----- the Dense layer's products -----------------------------------------------------------------

# (N, D_in, D_out): the tutorial's 3872 -> 128 at batch 1 (one call), 8, 32 and 256 (the
# gradient in blocks from 8 on, the forward at 256), 2.5 column blocks and 1.5 row blocks, a single column block, a single row block.
DENSE_SHAPES = [(1, 3872, 128), (8, 3872, 128), (32, 3872, 128), (256, 3872, 128), (300, 1500, 160),
                (600, 600, 64), (20000, 200, 10)]


@pytest.mark.parametrize("shape", DENSE_SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_products_numba_match_numpy_bit_for_bit(shape, dtype):
    # The blocks' gemm calls give the bits of the one product (DENSE_BLOCK's comment).
    n, d_in, d_out = shape
    x, w, dz = random((n, d_in), dtype, 1), random((d_in, d_out), dtype, 2), random((n, d_out), dtype, 3)
    fast, readable = backend.kernels("numba"), backend.kernels("numpy")
    z, dw = fast.dense_forward(x, w), fast.dense_weight_gradient(x, dz)
    assert z.dtype == dw.dtype == dtype and z.shape == (n, d_out) and dw.shape == (d_in, d_out)
    np.testing.assert_array_equal(z, readable.dense_forward(x, w))
    np.testing.assert_array_equal(dw, readable.dense_weight_gradient(x, dz))


@pytest.mark.parametrize("n", [8, 16, 32, 64, 128, 256])
def test_dense_blocks_give_the_bits_of_one_product(n):
    # Below the threshold too, so that moving it keeps the bits.
    k = backend.kernels("numba")
    x, w, dz = random((n, 3872), np.float32, 3), random((3872, 128), np.float32, 4), random((n, 128), np.float32, 5)
    z, dw = np.empty((n, 128), np.float32), np.empty((3872, 128), np.float32)
    k._product_columns(x, w, z, k.DENSE_BLOCK)
    k._gradient_rows(x, dz, dw, k.DENSE_GRADIENT_ROWS)
    np.testing.assert_array_equal(z, x @ w)
    np.testing.assert_array_equal(dw, x.T @ dz)


def test_dense_products_give_the_same_bits_with_one_thread_and_with_all():
    k = backend.kernels("numba")
    x, w, dz = random((256, 600), np.float32, 5), random((600, 200), np.float32, 6), random((256, 200), np.float32, 7)
    assert x.size * w.shape[1] >= max(k.DENSE_FORWARD_MIN_MACS, k.DENSE_GRADIENT_MIN_MACS)  # in blocks

    def run():
        return k.dense_forward(x, w), k.dense_weight_gradient(x, dz)

    assert_same_bits_on_one_thread(run)


# ----- a convolution fused with the max pooling after it ---------------------------------------

# (conv geometry, pool geometry): plain 2x2 windows, overlapping "same" windows after a strided
# "same" convolution, and a pool that leaves a row and a column of the convolution unused.
FUSED_CASES = [
    ((CONV_SHAPES[0], (1, 1), "valid"), ((2, 2), (2, 2), "valid")),
    ((CONV_SHAPES[2], (2, 2), "same"), ((3, 3), (1, 1), "same")),
    ((CONV_SHAPES[3], (1, 1), "valid"), ((2, 2), (2, 2), "valid")),
    ((CONV_SHAPES[0], (2, 1), "same"), ((2, 2), (2, 2), "same")),  # windows past the edge
]


def fused_case(conv, pool, dtype, relu):
    x, w, b, _, pads = conv_case(*conv, dtype)
    z = backend.kernels("numpy").conv2d_forward(x, w, b, conv[1], pads, relu)
    pool_pads = pads_2d(z.shape[1:3], pool[0], pool[1], pool[2])
    return x, w, b, pads, z, (pool[0], pool[1], pool_pads)


@pytest.mark.parametrize("conv, pool", FUSED_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("relu", [True, False])
def test_conv2d_maxpool_forward_is_the_pooling_of_the_convolution_on_both_backends(conv, pool, dtype, relu):
    x, w, b, pads, _, pool_args = fused_case(conv, pool, dtype, relu)
    for name in BACKENDS:
        k = backend.kernels(name)
        y, argmax = k.conv2d_maxpool_forward(x, w, b, conv[1], pads, relu, *pool_args)
        want_y, want_argmax = k.maxpool2d_forward(k.conv2d_forward(x, w, b, conv[1], pads, relu), *pool_args)
        # The same arithmetic in the same order on each backend: the same bits.
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(argmax, want_argmax)
        assert y.dtype == dtype and argmax.dtype == want_argmax.dtype == np.int32


@pytest.mark.parametrize("conv, pool", FUSED_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("relu", [True, False])
def test_conv2d_maxpool_backward_is_the_unfused_backward_and_numba_matches_numpy(conv, pool, dtype, relu):
    x, w, b, pads, z, pool_args = fused_case(conv, pool, dtype, relu)
    y, argmax = backend.kernels("numpy").maxpool2d_forward(z, *pool_args)
    dy = random(y.shape, dtype, 5)
    # The layers one by one: route through the pooling, then the convolution's backward with
    # the mask taken from the convolution's own output.
    numpy = backend.kernels("numpy")
    dz = numpy.maxpool2d_backward(dy, argmax, z.shape)
    want = numpy.conv2d_backward(dz, x, w, conv[1], pads, relu_y=z if relu else None)
    for name in BACKENDS:
        got = backend.kernels(name).conv2d_maxpool_backward(dy, y, argmax, x, w, conv[1], pads, relu)
        for g, wnt in zip(got, want):
            assert g.dtype == dtype and g.shape == wnt.shape
            assert rel_err(g, wnt) < TOLERANCE[dtype]
    # Without dx (a first layer), numba takes dw and db from the pooling's winners.
    dw, no_db, no_dx = backend.kernels("numba").conv2d_maxpool_backward(
        dy, y, argmax, x, w, conv[1], pads, relu, need_db=False, need_dx=False)
    assert no_db is None and no_dx is None and rel_err(dw, want[0]) < TOLERANCE[dtype]
    dw, db, no_dx = backend.kernels("numba").conv2d_maxpool_backward(
        dy, y, argmax, x, w, conv[1], pads, relu, need_dx=False)
    assert no_dx is None and rel_err(dw, want[0]) < TOLERANCE[dtype]
    assert rel_err(db, want[1]) < TOLERANCE[dtype]


def test_numba_kernels_reuse_a_workspace_of_the_same_shape_and_return_fresh_gradients():
    k = backend.kernels("numba")
    conv, pool = FUSED_CASES[0]
    x, w, b, pads, _, pool_args = fused_case(conv, pool, np.float32, True)
    workspace = {}
    y, argmax = k.conv2d_maxpool_forward(x, w, b, conv[1], pads, True, *pool_args, workspace=workspace)
    want_y, want_argmax = k.conv2d_maxpool_forward(x, w, b, conv[1], pads, True, *pool_args)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(argmax, want_argmax)
    dy = random(y.shape, np.float32, 5)
    grads = k.conv2d_maxpool_backward(dy, y, argmax, x, w, conv[1], pads, True, workspace=workspace)
    for got, want in zip(grads, k.conv2d_maxpool_backward(dy, y, argmax, x, w, conv[1], pads, True)):
        np.testing.assert_array_equal(got, want)
    kept = [g.copy() for g in grads]
    # The next call of the same shape reuses the outputs and scratch; gradients are new arrays.
    y2, _ = k.conv2d_maxpool_forward(-x, w, b, conv[1], pads, True, *pool_args, workspace=workspace)
    assert y2 is y
    grads2 = k.conv2d_maxpool_backward(-dy, y2, argmax, -x, w, conv[1], pads, True, workspace=workspace)
    assert all(g2 is not g for g, g2 in zip(grads, grads2))
    for g, was in zip(grads, kept):
        np.testing.assert_array_equal(g, was)
    # Another batch size gets buffers of its own size.
    y3, _ = k.conv2d_maxpool_forward(x[:1], w, b, conv[1], pads, True, *pool_args, workspace=workspace)
    assert y3.shape[0] == 1 and workspace["y"] is y3


# ----- the inference forward (training=False): no argmax, Winograd in the fast backend ---------

# (input shape, c_out, padding): the tutorial's two convolutions (conv1 directly, conv2 by
# Winograd), odd output sizes for each method, and im2col's bands (4 to 7 input channels):
# 35 rows of 20 pixels in bands of 18 rows (the last odd), 28 rows of 28 in bands of 12.
WINOGRAD_CASES = [((3, 24, 24, 64), 32, "valid"), ((2, 9, 7, 32), 5, "same"),
                  ((2, 8, 11, 40), 7, "same")]
INFERENCE_CASES = WINOGRAD_CASES + [((2, 50, 50, 3), 64, "valid"), ((2, 9, 8, 3), 5, "same"),
                                    ((1, 8, 11, 5), 4, "same"), ((1, 35, 20, 4), 3, "same"),
                                    ((2, 30, 30, 6), 8, "valid"), ((2, 9, 8, 1), 5, "same")]
# (pool size, strides, padding): 2x2 windows at stride 2 are Winograd's output tiles, pooled in
# place (odd output sizes leave a last window half outside with "same", dropped with "valid");
# the others pool a convolution written out.
INFERENCE_POOLS = [((2, 2), (2, 2), "valid"), ((2, 2), (2, 2), "same"), ((3, 3), (2, 2), "same"),
                   ((2, 2), (1, 1), "valid")]


def inference_case(x_shape, c_out, padding, pool, dtype, window=(3, 3), strides=(1, 1)):
    x = random(x_shape, dtype, 1)
    w = random(window + (x_shape[3], c_out), dtype, 2) * dtype(0.1)
    b = random(c_out, dtype, 3)
    pads = pads_2d(x_shape[1:3], window, strides, padding)
    conv_hw = output_size_2d(x_shape[1:3], window, strides, padding)
    pool_args = (pool[0], pool[1], pads_2d(conv_hw, pool[0], pool[1], pool[2]))
    return x, w, b, pads, pool_args


@pytest.mark.parametrize("x_shape, c_out, padding", INFERENCE_CASES)
@pytest.mark.parametrize("pool", INFERENCE_POOLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("relu", [True, False])
def test_numba_inference_by_each_method_matches_the_readable_fused_forward(x_shape, c_out, padding, pool, dtype,
                                                                          relu):
    numba_kernels = backend.kernels("numba")
    x, w, b, pads, pool_args = inference_case(x_shape, c_out, padding, pool, dtype)
    method = numba_kernels.inference_method(w.shape, (1, 1))
    c_in = x_shape[3]
    assert method == (numba_kernels.WINOGRAD if c_in >= numba_kernels.WINOGRAD_MIN_CHANNELS
                      else numba_kernels.DIRECT if c_in <= numba_kernels.DIRECT_MAX_CHANNELS
                      else numba_kernels.IM2COL)
    want, _ = backend.kernels("numpy").conv2d_maxpool_forward(x, w, b, (1, 1), pads, relu, *pool_args)
    y, argmax = numba_kernels.conv2d_maxpool_forward(x, w, b, (1, 1), pads, relu, *pool_args, training=False)
    assert argmax is None
    assert y.dtype == dtype and y.shape == want.shape and rel_err(y, want) < TOLERANCE[dtype]


# The direct convolution with its sums in vector registers (BLOCKED, _blocked_sample): every
# pooling window inside the output (odd sizes drop their last row and column), whole blocks of
# 4 vectors of output channels (64 float32, 32 float64), one to three input channels, padding.
BLOCKED_CASES = [((2, 12, 14, 3), 64, "valid", np.float32), ((1, 11, 9, 1), 128, "same", np.float32),
                 ((2, 9, 10, 2), 32, "valid", np.float64)]


def fused_method(k, x, w, b, pads, relu, pool_args, training=False):
    """The method _fused_setup chooses for this convolution and pooling."""
    _, flags, _ = k._fused_setup(x.shape, x.dtype, w, b, (1, 1), pads, relu, *pool_args, None, training)
    return flags[2]


@pytest.mark.parametrize("x_shape, c_out, padding, dtype", BLOCKED_CASES)
@pytest.mark.parametrize("relu, with_bias", [(True, True), (False, False)])
def test_the_blocked_direct_kernel_matches_the_readable_fused_forward(x_shape, c_out, padding, dtype, relu,
                                                                      with_bias, monkeypatch):
    k = backend.kernels("numba")
    # Chosen only where numba compiles 512-bit vectors; elsewhere LLVM splits them, same numbers.
    monkeypatch.setattr(k, "WIDE", True)
    x, w, b, pads, pool_args = inference_case(x_shape, c_out, padding, INFERENCE_POOLS[0], dtype)
    b = b if with_bias else None
    assert fused_method(k, x, w, b, pads, relu, pool_args) == k.BLOCKED
    want, _ = backend.kernels("numpy").conv2d_maxpool_forward(x, w, b, (1, 1), pads, relu, *pool_args)
    y, argmax = k.conv2d_maxpool_forward(x, w, b, (1, 1), pads, relu, *pool_args, training=False)
    assert argmax is None and y.dtype == dtype and y.shape == want.shape
    assert rel_err(y, want) < TOLERANCE[dtype]


def test_the_direct_kernel_keeps_its_sums_in_registers_where_its_output_fills_the_blocks(monkeypatch):
    k = backend.kernels("numba")
    monkeypatch.setattr(k, "WIDE", True)

    def method(x_shape, c_out, pool, dtype=np.float32, training=False):
        x, w, b, pads, pool_args = inference_case(x_shape, c_out, "valid", pool, dtype)
        return fused_method(k, x, w, b, pads, True, pool_args, training)

    two = INFERENCE_POOLS[0]
    assert method((1, 10, 10, 3), 64, two) == method((1, 10, 10, 3), 32, two, np.float64) == k.BLOCKED
    assert method((1, 11, 11, 3), 128, two) == k.BLOCKED  # "valid" leaves the odd row and column out
    assert method((1, 10, 10, 3), 48, two) == k.DIRECT  # not a whole block of 64 float32
    assert method((1, 11, 10, 3), 64, INFERENCE_POOLS[1]) == k.DIRECT  # "same": a half window
    assert method((1, 10, 10, 3), 64, INFERENCE_POOLS[2]) == k.DIRECT  # 3x3 windows, not 2x2 blocks
    assert method((1, 10, 10, 3), 64, two, training=True) == k.BLOCKED  # with the winners
    assert method((1, 10, 10, 8), 64, two, training=True) == k.IM2COL  # not a direct convolution
    monkeypatch.setattr(k, "WIDE", False)
    assert method((1, 10, 10, 3), 64, two) == k.DIRECT
    assert method((1, 10, 10, 3), 64, two, training=True) == k.IM2COL


def test_the_blocked_kernel_pools_ties_nans_and_infinities_as_the_direct_one(monkeypatch):
    # Both take each window's maximum of (sum + bias, then max(., 0)) from -inf on: ties give
    # the same value, a NaN never wins (a window of NaNs is -inf), an infinity does.
    k = backend.kernels("numba")
    x = random((2, 12, 12, 3), np.float32, 21)
    x[0, :6, :6] = 0.0
    x[1, 2:8, 2:8, 1] = np.nan
    x[1, 9, 9, 0] = np.inf
    w, b = random((3, 3, 3, 64), np.float32, 22), random(64, np.float32, 23)
    args = ((1, 1), ((0, 0), (0, 0)), True, (2, 2), (2, 2), ((0, 0), (0, 0)))
    y = {}
    for wide, method in ((True, k.BLOCKED), (False, k.DIRECT)):
        monkeypatch.setattr(k, "WIDE", wide)
        assert fused_method(k, x, w, b, *args[1:3], args[3:]) == method
        y[method] = k.conv2d_maxpool_forward(x, w, b, *args, training=False)[0]
    assert np.isneginf(y[k.BLOCKED]).any() and np.isposinf(y[k.BLOCKED]).any()
    np.testing.assert_allclose(y[k.BLOCKED], y[k.DIRECT], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype, c_out", [(np.float32, 64), (np.float64, 32)])
def test_the_blocked_training_forward_keeps_the_winners_im2col_keeps(dtype, c_out, monkeypatch):
    # In training the blocked kernel also writes each window's winner (vectors.store_winners) as
    # the im2col forward does (_window_argmax): ties to the first in the window (the zero corner),
    # a NaN never wins (a window of NaNs is -inf with index 0), odd sizes' last row left out.
    k = backend.kernels("numba")
    x = random((2, 13, 10, 3), dtype, 31)
    x[0, :6, :6] = 0.0
    x[1, 2:8, 2:8, 1] = np.nan
    w, b = random((3, 3, 3, c_out), dtype, 32), random(c_out, dtype, 33)
    pads, pool_args = ((0, 0), (0, 0)), ((2, 2), (2, 2), ((0, 0), (0, 0)))
    out = {}
    for wide, method in ((True, k.BLOCKED), (False, k.IM2COL)):
        monkeypatch.setattr(k, "WIDE", wide)
        assert fused_method(k, x, w, b, pads, True, pool_args, training=True) == method
        out[method] = k.conv2d_maxpool_forward(x, w, b, (1, 1), pads, True, *pool_args)
    (y, argmax), (want_y, want_argmax) = out[k.BLOCKED], out[k.IM2COL]
    assert y.shape == (2, 5, 4, c_out) and np.isneginf(y).any() and (argmax[0, 0, 0] == 0).all()
    np.testing.assert_allclose(y, want_y, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    assert argmax.dtype == want_argmax.dtype
    np.testing.assert_array_equal(argmax, want_argmax)


# (input shape, first c_out, second c_out, padding, pool): the second convolution's input
# channels (the first's c_out) reach the direct kernel (3), im2col (5) and Winograd (8, 16).
PAIR_CASES = [((3, 20, 20, 3), 8, 4, "valid", INFERENCE_POOLS[0]),
              ((1, 13, 11, 2), 3, 5, "same", INFERENCE_POOLS[1]),
              ((4, 17, 15, 8), 16, 3, "same", INFERENCE_POOLS[2]),
              ((2, 14, 12, 3), 5, 2, "valid", INFERENCE_POOLS[3])]


@pytest.mark.parametrize("x_shape, c_mid, c_out, padding, pool", PAIR_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_conv_pool_pairs_at_once_are_the_two_fused_forwards(x_shape, c_mid, c_out, padding, pool, dtype):
    # The fast backend runs each sample through both pairs on one thread: the same per-sample
    # steps as its two calls, so the same bits; the readable backend is the two calls.
    x, w1, b1, pads1, pool1 = inference_case(x_shape, c_mid, padding, pool, dtype)
    mid_shape = (x_shape[0],) + tuple(pool1_hw for pool1_hw in output_size_2d(
        output_size_2d(x_shape[1:3], (3, 3), (1, 1), padding), pool[0], pool[1], pool[2])) + (c_mid,)
    _, w2, b2, pads2, pool2 = inference_case(mid_shape, c_out, padding, pool, dtype)
    first, second = (w1, b1, (1, 1), pads1, True) + pool1, (w2, None, (1, 1), pads2, False) + pool2
    for name in BACKENDS:
        k = backend.kernels(name)
        h, _ = k.conv2d_maxpool_forward(x, *first, training=False)
        want, _ = k.conv2d_maxpool_forward(h, *second, training=False)
        for workspace in ({}, None):
            y = k.conv2d_maxpool_pair_forward(x, first, second, workspace=workspace)
            assert y.dtype == dtype
            np.testing.assert_array_equal(y, want)
    readable = backend.kernels("numpy").conv2d_maxpool_pair_forward(x, first, second)
    assert rel_err(y, readable) < TOLERANCE[dtype]


@pytest.mark.parametrize("window, strides", [((5, 5), (1, 1)), ((3, 3), (2, 2)), ((3, 2), (1, 1))])
def test_the_inference_forward_is_the_training_one_without_its_argmax_on_both_backends(window, strides):
    # Other kernels than 3x3 at stride 1 run im2col at inference in the fast backend: the
    # training forward's numbers bit for bit.
    x, w, b, pads, pool_args = inference_case((2, 11, 10, 3), 4, "same", INFERENCE_POOLS[2], np.float32,
                                              window, strides)
    for name in BACKENDS:
        k = backend.kernels(name)
        want, _ = k.conv2d_maxpool_forward(x, w, b, strides, pads, True, *pool_args)
        y, argmax = k.conv2d_maxpool_forward(x, w, b, strides, pads, True, *pool_args, training=False)
        assert argmax is None
        if name == "numba":
            assert k.inference_method(w.shape, strides) == k.IM2COL
        np.testing.assert_array_equal(y, want)


def test_winograds_transformed_filters_are_kept_until_the_kernel_changes():
    k = backend.kernels("numba")
    x, w, b, pads, pool_args = inference_case((2, 8, 8, 32), 4, "valid", INFERENCE_POOLS[0], np.float32)
    workspace = {}
    first = k.conv2d_maxpool_forward(x, w, b, (1, 1), pads, True, *pool_args, workspace=workspace,
                                     training=False)[0].copy()
    w *= 2  # in place, as set_weights and the optimizers change a kernel
    second = k.conv2d_maxpool_forward(x, w, b, (1, 1), pads, True, *pool_args, workspace=workspace,
                                      training=False)[0]
    want = k.conv2d_maxpool_forward(x, w, b, (1, 1), pads, True, *pool_args, training=False)[0]
    np.testing.assert_array_equal(second, want)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("x_shape, c_out", [((8, 24, 24, 64), 32), ((8, 50, 50, 3), 64)], ids=["conv2", "conv1"])
def test_the_fast_inference_forwards_float32_error_stays_inside_the_agreement_bounds(x_shape, c_out):
    """docs/winograd.md's figures (printed with -s): the tutorial model's convolutions and
    poolings (8 samples, Glorot-scale weights), the fast backend's float32 inference forward
    (conv2 by Winograd, conv1 directly, each pooled in its 2x2 blocks) and training forward
    (the same, pooled with the argmax; conv1 by im2col where numba compiles no 512-bit vectors)
    against float64."""
    x = np.random.default_rng(0).random(x_shape)
    w = random((3, 3, x_shape[3], c_out), np.float64, 1) * 0.06
    b = random(c_out, np.float64, 2) * 0.1
    args = ((1, 1), ((0, 0), (0, 0)), True, (2, 2), (2, 2), ((0, 0), (0, 0)))
    want, _ = backend.kernels("numpy").conv2d_maxpool_forward(x, w, b, *args)
    k = backend.kernels("numba")
    f32 = [a.astype(np.float32) for a in (x, w, b)]
    errors = {mode: rel_err(k.conv2d_maxpool_forward(*f32, *args, training=training)[0], want)
              for mode, training in (("inference", False), ("training", True))}
    print(f"\n{x_shape[1:]} -> {c_out}: float32 error of the fused forward, inference "
          f"{errors['inference']:.1e}, training {errors['training']:.1e}")
    assert max(errors.values()) < 1e-5  # docs/agreement.md: 1e-5 of the largest output


def test_winograd_runs_where_it_pays():
    k = backend.kernels("numba")
    for training, least in ((False, k.WINOGRAD_MIN_CHANNELS), (True, k.WINOGRAD_MIN_CHANNELS_TRAINING)):
        wide, narrow = (3, 3, least, 8), (3, 3, least - 1, 64)
        assert k.uses_winograd(wide, (1, 1), training)
        assert not k.uses_winograd(narrow, (1, 1), training)
        assert not k.uses_winograd(wide, (2, 2), training)
        assert not k.uses_winograd((5, 5) + wide[2:], (1, 1), training)


def test_the_inference_method_is_winograd_where_it_pays_direct_for_the_fewest_channels_else_im2col():
    k = backend.kernels("numba")
    wide, narrow = (3, 3, k.WINOGRAD_MIN_CHANNELS, 8), (3, 3, k.WINOGRAD_MIN_CHANNELS - 1, 64)
    fewest = (3, 3, k.DIRECT_MAX_CHANNELS, 64)
    assert k.DIRECT_MAX_CHANNELS < k.WINOGRAD_MIN_CHANNELS - 1
    assert k.inference_method(wide, (1, 1)) == k.WINOGRAD
    assert k.inference_method(narrow, (1, 1)) == k.IM2COL
    assert k.inference_method(fewest, (1, 1)) == k.DIRECT
    assert k.inference_method(fewest[:2] + (k.DIRECT_MAX_CHANNELS + 1, 64), (1, 1)) == k.IM2COL
    assert k.inference_method(wide, (2, 2)) == k.IM2COL
    assert k.inference_method((5, 5) + wide[2:], (1, 1)) == k.IM2COL


@pytest.mark.parametrize("c_in", [8, 32])  # im2col in training, and Winograd
def test_numba_training_forward_pools_the_convolution_with_its_argmax(c_in):
    k = backend.kernels("numba")
    x, w, b = random((2, 10, 10, c_in), np.float32, 1), random((3, 3, c_in, 4), np.float32, 2), None
    pads, pool = ((0, 0), (0, 0)), ((2, 2), (2, 2), ((0, 0), (0, 0)))
    y, argmax = k.conv2d_maxpool_forward(x, w, b, (1, 1), pads, True, *pool)
    if k.uses_winograd(w.shape, (1, 1), training=True):
        # Winograd's outputs, pooled as the inference forward pools them in its tiles: the same
        # bits, and the winners those of the same outputs pooled by the unfused pooling.
        want_y = k.conv2d_maxpool_forward(x, w, b, (1, 1), pads, True, *pool, training=False)[0]
        np.testing.assert_array_equal(y, want_y)
        z = backend.kernels("numpy").conv2d_forward(x, w, b, (1, 1), pads, relu=True)
        assert rel_err(y, k.maxpool2d_forward(z, *pool)[0]) < TOLERANCE[np.float32]
        flat = np.take_along_axis(z.reshape(2, -1, 4), argmax.reshape(2, -1, 4), axis=1)
        assert rel_err(flat.reshape(y.shape), y) < TOLERANCE[np.float32]
    else:
        # im2col: the same bits as the unfused convolution then pooling.
        want_y, want_argmax = k.maxpool2d_forward(k.conv2d_forward(x, w, b, (1, 1), pads, relu=True), *pool)
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(argmax, want_argmax)


@pytest.mark.parametrize("x_shape, c_out, padding", WINOGRAD_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("relu", [True, False])
def test_numba_winograd_training_forward_and_backward_match_the_readable_ones(x_shape, c_out, padding, dtype, relu):
    numba, numpy = backend.kernels("numba"), backend.kernels("numpy")
    x, w, b, pads, pool = inference_case(x_shape, c_out, padding, INFERENCE_POOLS[1], dtype)
    assert numba.uses_winograd(w.shape, (1, 1), training=True)
    # The fused forward, with its argmax.
    y, argmax = numpy.conv2d_maxpool_forward(x, w, b, (1, 1), pads, relu, *pool)
    got_y, got_argmax = numba.conv2d_maxpool_forward(x, w, b, (1, 1), pads, relu, *pool)
    assert got_y.dtype == dtype and rel_err(got_y, y) < TOLERANCE[dtype]
    np.testing.assert_array_equal(got_argmax, argmax)  # no near-ties in random data
    # The fused backward, from the pooling's gradient.
    dy = random(y.shape, dtype, 5)
    want = numpy.conv2d_maxpool_backward(dy, y, argmax, x, w, (1, 1), pads, relu)
    workspace = {}
    for _ in range(2):  # the second call reuses the workspace's buffers
        got = numba.conv2d_maxpool_backward(dy, y, argmax, x, w, (1, 1), pads, relu, workspace=workspace)
        for g, wnt in zip(got, want):
            assert g.dtype == dtype and g.shape == wnt.shape
            assert rel_err(g, wnt) < TOLERANCE[dtype]
    dw, no_db, no_dx = numba.conv2d_maxpool_backward(dy, y, argmax, x, w, (1, 1), pads, relu,
                                                     need_db=False, need_dx=False)
    assert no_db is None and no_dx is None and rel_err(dw, want[0]) < TOLERANCE[dtype]
    # The unfused backward and the two gradients alone, from the convolution's gradient.
    z = numpy.conv2d_forward(x, w, b, (1, 1), pads, relu)
    dz = random(z.shape, dtype, 6)
    want = numpy.conv2d_backward(dz, x, w, (1, 1), pads, relu_y=z if relu else None)
    got = numba.conv2d_backward(dz, x, w, (1, 1), pads, relu_y=z if relu else None)
    for g, wnt in zip(got, want):
        assert rel_err(g, wnt) < TOLERANCE[dtype]
    assert rel_err(numba.conv2d_backward_input(dz, w, x.shape, (1, 1), pads),
                   numpy.conv2d_backward_input(dz, w, x.shape, (1, 1), pads)) < TOLERANCE[dtype]
    assert rel_err(numba.conv2d_backward_weights(dz, x, w.shape, (1, 1), pads),
                   numpy.conv2d_backward_weights(dz, x, w.shape, (1, 1), pads)) < TOLERANCE[dtype]


@pytest.mark.parametrize("c_in", [3, 32])  # im2col, and Winograd in training
@pytest.mark.parametrize("relu", [True, False])
def test_the_training_forward_pools_2x2_blocks_as_computed_with_the_winners_the_pooling_keeps(c_in, relu):
    # The fused training forward pools a 2x2, stride-2 pooling's windows (the convolution's 2x2
    # blocks) as it computes them; its output and argmax are those of max pooling the same
    # convolution's output (a 1x1 "pooling" returns it unpooled, by the same method, its NaNs
    # as -inf): ties to the first in the window (the zero corner), a NaN never wins (a window of
    # NaNs is -inf with index 0), an odd-sized output's last row and column left out.
    k = backend.kernels("numba")
    x = random((3, 9, 10, c_in), np.float32, 11)
    x[0, :5, :5] = 0.0
    x[1, 4, 4, 0] = np.nan
    w = random((3, 3, c_in, 8), np.float32, 12)
    b = random((8,), np.float32, 13)
    none = ((0, 0), (0, 0))
    assert k.uses_winograd(w.shape, (1, 1), training=True) == (c_in >= 32)
    z, _ = k.conv2d_maxpool_forward(x, w, b, (1, 1), none, relu, (1, 1), (1, 1), none)
    want_y, want_argmax = k.maxpool2d_forward(z, (2, 2), (2, 2), none)
    y, argmax = k.conv2d_maxpool_forward(x, w, b, (1, 1), none, relu, (2, 2), (2, 2), none)
    assert y.shape == (3, 3, 4, 8) and np.isneginf(z).any() and np.isneginf(y).any()
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(argmax, want_argmax)


def test_each_fused_kernel_is_compiled_once_per_kind_of_call():
    # numba compiles a function (and all it compiles into it) once per tuple of argument types,
    # so a call site passing the same values as another type pays the whole compile again
    # (tens of seconds for _conv_maxpool_sample, every method inside it). Three such types
    # hide in plain code: a constant argument (Literal[int]), an omitted default (omitted) and
    # a prange index passed on as it is (uint64, as numba types it in the parallel loop; int64
    # where it types the loop as a range and on the calling thread). After a model of the
    # tutorial's layer kinds predicts and trains at batch 1 (on the calling thread) and 2 (a
    # parallel region), no kernel has one: neither among the versions this process compiled or
    # loaded, nor among those numba's cache holds for this source (the versions other
    # processes compiled, which this one loads without compiling what they call).
    from numba import types
    from numba.core.dispatcher import Dispatcher

    from scratchconv import Sequential, layers
    from scratchconv.kernels import numba_kernels

    previous = backend.get_backend()
    backend.set_backend("numba")
    try:
        # conv1 directly at inference and by im2col in training, conv2 by Winograd in both.
        model = Sequential([layers.Conv2D(32, (3, 3), activation="relu", input_shape=(10, 10, 3)),
                            layers.MaxPooling2D((2, 2)),
                            layers.Conv2D(8, (3, 3), activation="relu"),
                            layers.MaxPooling2D((2, 2)), layers.Flatten(), layers.Dense(4)])
        model.compile(optimizer="adam", loss="mse")
        for n in (1, 2):
            x = random((n, 10, 10, 3), np.float32, n)
            model.predict(x, verbose=0)
            model.train_on_batch(x, random((n, 4), np.float32, n))
    finally:
        backend.set_backend(previous)
    kernels = {name: k for name, k in vars(numba_kernels).items() if isinstance(k, Dispatcher)}
    assert {"_conv_maxpool_sample", "_conv_maxpool_pair_thread", "_winograd_backward_thread",
            "_conv_backward_thread"} <= set(kernels)
    bad = []
    for name, kernel in sorted(kernels.items()):
        cached = kernel._cache._cache_file._load_index() if numba_kernels.CACHE else {}
        for sig in set(kernel.signatures) | {key[0] for key in cached}:
            for i, arg in enumerate(sig):
                if isinstance(arg, (types.Literal, types.Omitted)) or arg == types.uint64:
                    bad.append(f"{name} argument {i}: {arg}")
    assert not bad, "compiled for an argument type of its own: " + "; ".join(bad)
