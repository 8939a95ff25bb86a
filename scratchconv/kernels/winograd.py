"""Winograd's F(2x2, 3x3): a 3x3, stride-1 convolution with 16 multiplications per 2x2 outputs
instead of 36 (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).

Readable NumPy, beside ``numpy_kernels``'s direct convolution and tested equal to it
(``docs/winograd.md`` derives the matrices and works one tile by hand); the numba backend runs
the same steps compiled, forward and backward (``numba_kernels._winograd_sample`` and
``_winograd_backward``), where ``numba_kernels.uses_winograd`` says it pays. The output is cut into
2x2 tiles; each tile needs a 4x4 tile ``d`` of the padded input (tiles overlap by two pixels).
For one input channel and one 3x3 filter ``g``::

    U = G g G^T          (4x4: the filter, transformed once)
    V = B^T d B          (4x4: the input tile, transformed)
    M = U * V            (elementwise: the 16 multiplications)
    Y = A^T M A          (2x2: the output tile)

With channels, the elementwise product summed over the input channels is, for each of the 16
positions ``(a, b)`` of the 4x4 tile, one matrix product ``V[a, b] @ U[a, b]`` of shape
``(tiles, C_in) @ (C_in, C_out)``: the work of the convolution, 16/36 of direct's.

The gradients are the same steps transposed (each step is linear in the tile and in the filter):
with ``dM = A dY A^T`` for a tile's output gradient ``dY``,

    dU = sum over tiles and samples of V * dM,   dg = G^T dU G          (weight gradient)
    dV = sum over output channels of U * dM,     dd = B dV B^T          (input gradient)

and ``dd`` is added back onto the overlapping input tiles, as ``col2im`` adds a column matrix
back onto the image.

Shapes as in :mod:`scratchconv.kernels.numpy_kernels`: x (N, H, W, C_in), w (3, 3, C_in, C_out),
y and dy (N, H_out, W_out, C_out), ``pads`` ((top, bottom), (left, right)); stride 1 only.
"""
import numpy as np

from .padding import padded_output_size

# The transforms of F(2, 3), written out; F(2x2, 3x3) nests them along both axes.
B_T = np.array([[1, 0, -1, 0],
                [0, 1, 1, 0],
                [0, -1, 1, 0],
                [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0],
              [1 / 2, 1 / 2, 1 / 2],
              [1 / 2, -1 / 2, 1 / 2],
              [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0],
                [0, 1, -1, -1]], dtype=np.float64)


def applies(kernel_size, strides):
    """Whether F(2x2, 3x3) computes this convolution: a 3x3 kernel at stride 1."""
    return tuple(kernel_size) == (3, 3) and tuple(strides) == (1, 1)


def filter_transform(w, dtype):
    """U = G g G^T for every filter g = w[:, :, c, o], computed in float64 and then rounded to
    ``dtype``: w (3, 3, C_in, C_out) -> U (4, 4, C_in, C_out).

    Each of the two products with G is one ``tensordot`` over a filter axis for all filters at
    once: for the tutorial's conv2, which a training step pays every time the weights change,
    0.17 / 0.19 ms against 0.50 / 0.60 ms for a stack of C_in*C_out tiny matrix products
    ``G @ g @ G.T`` (``python -m benchmarks.choices --only filter-transform``, one thread, CPU
    time, two runs, 2-core Xeon, 2026-12-01, load average 10.7).
    """
    g_gt = np.tensordot(np.asarray(w, dtype=np.float64), G, axes=(1, 1))  # g G^T: (3, C_in, C_out, 4)
    return np.tensordot(G, g_gt, axes=(1, 0)).transpose(0, 3, 1, 2).astype(dtype)


def _tiling(x_shape, pads):
    """(H_out, W_out) of the 3x3 convolution and the number of 2x2 output tiles (th, tw)."""
    (top, bottom), (left, right) = pads
    h_out = padded_output_size(x_shape[1], 3, 1, top, bottom)
    w_out = padded_output_size(x_shape[2], 3, 1, left, right)
    return (h_out, w_out), (-(-h_out // 2), -(-w_out // 2))


def _tiles(x, pads):
    """The 4x4 input tiles: d[n, ti, tj, c, :, :] = x_pad[n, 2ti:2ti + 4, 2tj:2tj + 4, c].

    x_pad is x with ``pads`` and, at the bottom and right, the zeros that complete the last
    tiles when H_out or W_out is odd. Returns d of shape (N, th, tw, C_in, 4, 4).
    """
    (top, bottom), (left, right) = pads
    _, (th, tw) = _tiling(x.shape, pads)
    extra_h = 2 * th + 2 - (x.shape[1] + top + bottom)
    extra_w = 2 * tw + 2 - (x.shape[2] + left + right)
    x_pad = np.pad(x, ((0, 0), (top, bottom + extra_h), (left, right + extra_w), (0, 0)))
    d = np.empty((x.shape[0], th, tw, x.shape[3], 4, 4), dtype=x.dtype)
    for p in range(4):
        for q in range(4):
            d[..., p, q] = x_pad[:, p:p + 2 * th - 1:2, q:q + 2 * tw - 1:2, :]
    return d


def _untile(dd, x_shape, pads):
    """The transpose of ``_tiles``: add every 4x4 tile gradient back onto the pixels it was
    copied from (neighbouring tiles share two rows or columns), then cut the padding away."""
    (top, bottom), (left, right) = pads
    n, th, tw, c = dd.shape[:4]
    dx_pad = np.zeros((n, 2 * th + 2, 2 * tw + 2, c), dtype=dd.dtype)
    for p in range(4):
        for q in range(4):
            dx_pad[:, p:p + 2 * th - 1:2, q:q + 2 * tw - 1:2, :] += dd[..., p, q]
    return dx_pad[:, top:top + x_shape[1], left:left + x_shape[2], :]


def _products(left, right):
    """out[..., a, b] = left[..., a, b] @ right[..., a, b] over the middle axes: for each of the
    16 tile positions (a, b) one matrix product, (T, K) @ (K, O) -> (T, O)."""
    out = np.empty(left.shape[:-3] + (right.shape[-3],) + (4, 4), dtype=left.dtype)
    for a in range(4):
        for b in range(4):
            out[..., a, b] = left[..., a, b] @ right[..., a, b]
    return out


def conv2d_forward(x, w, b, pads, relu=False):
    """The 3x3, stride-1 convolution of ``numpy_kernels.conv2d_forward`` by F(2x2, 3x3).

    x : (N, H, W, C_in); w : (3, 3, C_in, C_out); b : (C_out,) or None. Returns y :
    (N, H_out, W_out, C_out) in x's dtype (the transforms are applied in that dtype).
    """
    (h_out, w_out), (th, tw) = _tiling(x.shape, pads)
    dtype = x.dtype
    u = np.moveaxis(filter_transform(w, dtype), (0, 1), (2, 3))        # (C_in, C_out, 4, 4)
    v = B_T.astype(dtype) @ _tiles(x, pads) @ B_T.T.astype(dtype)     # (N, th, tw, C_in, 4, 4)
    # The 16 products: (N*th*tw, C_in) @ (C_in, C_out) at each tile position.
    m = _products(v.reshape(-1, v.shape[3], 4, 4), u)                # (N*th*tw, C_out, 4, 4)
    y_tiles = A_T.astype(dtype) @ m @ A_T.T.astype(dtype)             # (N*th*tw, C_out, 2, 2)
    y = y_tiles.reshape(x.shape[0], th, tw, -1, 2, 2).transpose(0, 1, 4, 2, 5, 3)
    y = y.reshape(x.shape[0], 2 * th, 2 * tw, -1)[:, :h_out, :w_out, :]
    if b is not None:
        y = y + b
    if relu:
        y = np.maximum(y, 0)
    return np.ascontiguousarray(y, dtype=dtype)


def _tile_gradient(dy, th, tw):
    """dM = A dY A^T for every 2x2 output tile of dy (zeros past H_out, W_out):
    (N*th*tw, C_out, 4, 4)."""
    n, h_out, w_out, c_out = dy.shape
    dy_full = np.zeros((n, 2 * th, 2 * tw, c_out), dtype=dy.dtype)
    dy_full[:, :h_out, :w_out, :] = dy
    d_y = dy_full.reshape(n, th, 2, tw, 2, c_out).transpose(0, 1, 3, 5, 2, 4)
    a_t = A_T.astype(dy.dtype)
    return (a_t.T @ d_y @ a_t).reshape(n * th * tw, c_out, 4, 4)


def conv2d_backward_input(dy, w, x_shape, pads):
    """The input gradient of ``conv2d_forward``: dV = sum_o U * dM, dd = B dV B^T, added back
    onto the overlapping input tiles. Equal to ``numpy_kernels.conv2d_backward_input``.

    dy : (N, H_out, W_out, C_out); w : (3, 3, C_in, C_out). Returns dx of shape ``x_shape``.
    """
    _, (th, tw) = _tiling(x_shape, pads)
    dtype = dy.dtype
    u = np.moveaxis(filter_transform(w, dtype), (0, 1), (2, 3))        # (C_in, C_out, 4, 4)
    d_m = _tile_gradient(dy, th, tw)                                  # (T, C_out, 4, 4)
    d_v = _products(d_m, np.swapaxes(u, 0, 1))                        # (T, C_in, 4, 4)
    b_t = B_T.astype(dtype)
    dd = (b_t.T @ d_v @ b_t).reshape(x_shape[0], th, tw, -1, 4, 4)
    return _untile(dd, x_shape, pads)


def conv2d_backward_weights(dy, x, pads):
    """The kernel gradient of ``conv2d_forward``: dU = sum over tiles of V * dM, dw = G^T dU G.
    Equal to ``numpy_kernels.conv2d_backward_weights``.

    dy : (N, H_out, W_out, C_out); x : (N, H, W, C_in). Returns dw : (3, 3, C_in, C_out).
    """
    _, (th, tw) = _tiling(x.shape, pads)
    dtype = dy.dtype
    v = B_T.astype(dtype) @ _tiles(x.astype(dtype, copy=False), pads) @ B_T.T.astype(dtype)
    v = v.reshape(-1, v.shape[3], 4, 4)                               # (T, C_in, 4, 4)
    d_m = _tile_gradient(dy, th, tw)                                  # (T, C_out, 4, 4)
    d_u = _products(np.swapaxes(v, 0, 1), d_m)                        # (C_in, C_out, 4, 4)
    return filter_gradient(np.moveaxis(d_u, (2, 3), (0, 1)))


def filter_gradient(d_u):
    """dg = G^T dU G for every filter, the transpose of :func:`filter_transform`, in dU's
    dtype: dU (4, 4, C_in, C_out) -> dw (3, 3, C_in, C_out)."""
    g = G.astype(d_u.dtype)
    gt_du = np.tensordot(g, d_u, axes=(0, 0))                         # G^T dU: (3, 4, C_in, C_out)
    return np.tensordot(gt_du, g, axes=(1, 0)).transpose(0, 3, 1, 2)
