"""The fast backend: the same functions as :mod:`scratchconv.kernels.numpy_kernels`, compiled.

Same signatures, same semantics, same shapes (NHWC, kernels ``(KH, KW, C_in, C_out)``); the
tests hold the two backends equal. Only the way the arithmetic is arranged differs.

Convolution is lowered to one matrix product (Chainer's ``im2col_cpu``, measured faster here
than direct numba loops, see ``benchmarks/kernels.py``):

- ``im2col``: every output pixel ``(n, i, j)`` becomes one row of a matrix ``col`` of shape
  ``(N * H_out * W_out, KH * KW * C_in)`` holding its receptive field in ``(p, q, c)`` order,
  zeros where the window hangs over the padding. Then ``y = col @ w.reshape(-1, C_out)``.
- backward weights: ``dw = col^T @ dy.reshape(-1, C_out)``.
- backward input: ``dcol = dy.reshape(-1, C_out) @ w.reshape(-1, C_out)^T``, then ``col2im``
  adds every row of ``dcol`` back onto the input pixels it was copied from.

The copies (im2col, col2im, bias + ReLU, pooling) are numba loops run in parallel over the
batch: each sample is written by exactly one thread, and within a sample the order of every
sum is fixed, so results are bit-for-bit the same run to run whatever the thread count. The
matrix products are NumPy's (OpenBLAS), which splits the output, not the sums, among its
threads, so they are deterministic too.

Scratch buffers: the ``col``/``dcol`` matrices are large (12 MB for the tutorial model's first
convolution at batch 32) and are needed only inside one call, so each thread keeps one per
(role, shape, dtype) and reuses it on the next call with the same shapes. Arrays returned to
the caller are always fresh; they never alias a scratch buffer.
"""
import threading

import numpy as np
from numba import njit, prange

_MAX_SCRATCH = 8
_scratch = threading.local()


def _buffer(role, shape, dtype):
    """A reusable uninitialised array of this shape and dtype, private to the calling thread.

    At most ``_MAX_SCRATCH`` are kept; when a new shape would exceed that, the cache starts
    over (a model has a handful of convolution shapes, so in training this never happens).
    """
    cache = getattr(_scratch, "buffers", None)
    if cache is None:
        cache = _scratch.buffers = {}
    key = (role, tuple(shape), np.dtype(dtype).str)
    buf = cache.get(key)
    if buf is None:
        if len(cache) >= _MAX_SCRATCH:
            cache.clear()
        buf = cache[key] = np.empty(shape, dtype=dtype)
    return buf


def _out_size(n, k, s, before, after):
    """Output length along one axis of the padded input: floor((n + pads - k) / s) + 1."""
    return (n + before + after - k) // s + 1


@njit(parallel=True, cache=True)
def _im2col(x, kh, kw, sh, sw, top, left, h_out, w_out, col):
    """col[(n*H_out + i)*W_out + j, (p*KW + q)*C + c] = x_pad[n, s_h*i + p, s_w*j + q, c]."""
    n, h, wd, c = x.shape
    for b in prange(n):
        for i in range(h_out):
            for j in range(w_out):
                r = (b * h_out + i) * w_out + j
                for p in range(kh):
                    hi = i * sh + p - top
                    for q in range(kw):
                        wi = j * sw + q - left
                        k0 = (p * kw + q) * c
                        if 0 <= hi < h and 0 <= wi < wd:
                            for cc in range(c):
                                col[r, k0 + cc] = x[b, hi, wi, cc]
                        else:
                            for cc in range(c):
                                col[r, k0 + cc] = 0.0


@njit(parallel=True, cache=True)
def _col2im(dcol, kh, kw, sh, sw, top, left, h_out, w_out, dx):
    """dx[n, s_h*i + p - top, s_w*j + q - left, c] += dcol[(n*H_out + i)*W_out + j, (p*KW + q)*C + c].

    Rows that fall on the padding are dropped. ``dx`` must hold zeros on entry. One thread
    owns each sample, and within it the sums run in (i, j, p, q) order.
    """
    n, h, wd, c = dx.shape
    for b in prange(n):
        for i in range(h_out):
            for j in range(w_out):
                r = (b * h_out + i) * w_out + j
                for p in range(kh):
                    hi = i * sh + p - top
                    if hi < 0 or hi >= h:
                        continue
                    for q in range(kw):
                        wi = j * sw + q - left
                        if wi < 0 or wi >= wd:
                            continue
                        k0 = (p * kw + q) * c
                        for cc in range(c):
                            dx[b, hi, wi, cc] += dcol[r, k0 + cc]


@njit(parallel=True, cache=True)
def _bias_relu(y, b, add_bias, relu):
    """In place on y of shape (rows, C_out): y += b (if add_bias), then max(y, 0) (if relu)."""
    rows, c_out = y.shape
    for r in prange(rows):
        for o in range(c_out):
            v = y[r, o]
            if add_bias:
                v += b[o]
            if relu and v < 0.0:  # a NaN stays NaN, as with np.maximum
                v = 0.0
            y[r, o] = v


def _conv_geometry(x_shape, w_shape, strides, pads):
    """(h_out, w_out) and the column matrix's shape for this convolution."""
    n, h, wd, _ = x_shape
    kh, kw, c_in, _ = w_shape
    (top, bottom), (left, right) = pads
    h_out = _out_size(h, kh, strides[0], top, bottom)
    w_out = _out_size(wd, kw, strides[1], left, right)
    return h_out, w_out, (n * h_out * w_out, kh * kw * c_in)


def _columns(x, w_shape, strides, pads, h_out, w_out, col_shape):
    """The im2col matrix of x, in a scratch buffer (or x itself for a plain 1x1 convolution)."""
    kh, kw = w_shape[:2]
    (top, bottom), (left, right) = pads
    if kh == kw == 1 and tuple(strides) == (1, 1) and top == bottom == left == right == 0:
        return x.reshape(col_shape)
    col = _buffer("col", col_shape, x.dtype)
    _im2col(x, kh, kw, strides[0], strides[1], top, left, h_out, w_out, col)
    return col


def conv2d_forward(x, w, b, strides, pads, relu=False):
    """Cross-correlation, optionally with fused ReLU; see ``numpy_kernels.conv2d_forward``.

    x : ndarray of shape (n, h, w, c_in); w : (kh, kw, c_in, c_out); b : (c_out,) or None.
    Returns y : ndarray of shape (n, h_out, w_out, c_out), ``x``'s dtype.
    """
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=x.dtype)
    c_out = w.shape[3]
    h_out, w_out, col_shape = _conv_geometry(x.shape, w.shape, strides, pads)
    col = _columns(x, w.shape, strides, pads, h_out, w_out, col_shape)
    y = np.empty((x.shape[0], h_out, w_out, c_out), dtype=x.dtype)
    y_rows = y.reshape(-1, c_out)
    np.matmul(col, w.reshape(-1, c_out), out=y_rows)
    if b is not None or relu:
        bias = np.zeros(c_out, x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
        _bias_relu(y_rows, bias, b is not None, bool(relu))
    return y


def conv2d_backward_input(dy, w, x_shape, strides, pads):
    """Gradient with respect to the input; see ``numpy_kernels.conv2d_backward_input``.

    dy : ndarray of shape (n, h_out, w_out, c_out); w : (kh, kw, c_in, c_out).
    Returns dx : ndarray of shape ``x_shape``, ``dy``'s dtype.
    """
    dy = np.ascontiguousarray(dy)
    w = np.ascontiguousarray(w, dtype=dy.dtype)
    kh, kw, _, c_out = w.shape
    (top, _), (left, _) = pads
    h_out, w_out, col_shape = _conv_geometry(x_shape, w.shape, strides, pads)
    dcol = _buffer("dcol", col_shape, dy.dtype)
    np.matmul(dy.reshape(-1, c_out), w.reshape(-1, c_out).T, out=dcol)
    dx = np.zeros(tuple(x_shape), dtype=dy.dtype)
    _col2im(dcol, kh, kw, strides[0], strides[1], top, left, h_out, w_out, dx)
    return dx


def conv2d_backward_weights(dy, x, w_shape, strides, pads):
    """Gradient with respect to the kernel; see ``numpy_kernels.conv2d_backward_weights``.

    dy : ndarray of shape (n, h_out, w_out, c_out); x : (n, h, w, c_in).
    Returns dw : ndarray of shape ``w_shape`` = (kh, kw, c_in, c_out), ``dy``'s dtype.
    """
    dy = np.ascontiguousarray(dy)
    x = np.ascontiguousarray(x, dtype=dy.dtype)
    c_out = w_shape[3]
    h_out, w_out, col_shape = _conv_geometry(x.shape, w_shape, strides, pads)
    col = _columns(x, w_shape, strides, pads, h_out, w_out, col_shape)
    return (col.T @ dy.reshape(-1, c_out)).reshape(w_shape)


@njit(parallel=True, cache=True)
def _maxpool_forward(x, ph, pw, sh, sw, top, left, y, argmax):
    """One pass per window: the running maximum and where it came from.

    A later value replaces the maximum only if strictly greater, so on a tie the first pixel
    in row-major window order wins; padding cells are skipped, which is the same as -inf.
    """
    n, h, wd, c = x.shape
    h_out, w_out = y.shape[1], y.shape[2]
    for b in prange(n):
        for i in range(h_out):
            for j in range(w_out):
                for cc in range(c):
                    y[b, i, j, cc] = -np.inf
                    argmax[b, i, j, cc] = 0
                for p in range(ph):
                    hi = i * sh + p - top
                    if hi < 0 or hi >= h:
                        continue
                    for q in range(pw):
                        wi = j * sw + q - left
                        if wi < 0 or wi >= wd:
                            continue
                        flat = hi * wd + wi
                        for cc in range(c):
                            v = x[b, hi, wi, cc]
                            if v > y[b, i, j, cc]:
                                y[b, i, j, cc] = v
                                argmax[b, i, j, cc] = flat


@njit(parallel=True, cache=True)
def _maxpool_backward(dy, argmax, dx):
    """dx[n, argmax[n, i, j, c], c] += dy[n, i, j, c]; one thread per sample, (i, j) order."""
    n, h_out, w_out, c = dy.shape
    for b in prange(n):
        for i in range(h_out):
            for j in range(w_out):
                for cc in range(c):
                    dx[b, argmax[b, i, j, cc], cc] += dy[b, i, j, cc]


def maxpool2d_forward(x, pool_size, strides, pads):
    """Max pooling with the winners' flat indices; see ``numpy_kernels.maxpool2d_forward``.

    x : ndarray of shape (n, h, w, c). Returns y : (n, h_out, w_out, c) in x's dtype and
    argmax : int64 of the same shape, the index ``h * W + w`` in the unpadded input plane.
    """
    x = np.ascontiguousarray(x)
    (ph, pw), (sh, sw) = pool_size, strides
    (top, bottom), (left, right) = pads
    n, h, wd, c = x.shape
    h_out = _out_size(h, ph, sh, top, bottom)
    w_out = _out_size(wd, pw, sw, left, right)
    y = np.empty((n, h_out, w_out, c), dtype=x.dtype)
    argmax = np.empty((n, h_out, w_out, c), dtype=np.int64)
    _maxpool_forward(x, ph, pw, sh, sw, top, left, y, argmax)
    return y, argmax


def maxpool2d_backward(dy, argmax, x_shape):
    """Route each output gradient to its window's winner; see ``numpy_kernels.maxpool2d_backward``.

    dy : ndarray of shape (n, h_out, w_out, c); argmax : int64 of the same shape.
    Returns dx : ndarray of shape ``x_shape``; overlapping windows add.
    """
    dy = np.ascontiguousarray(dy)
    argmax = np.ascontiguousarray(argmax, dtype=np.int64)
    n, h, wd, c = x_shape
    dx = np.zeros((n, h * wd, c), dtype=dy.dtype)
    _maxpool_backward(dy, argmax, dx)
    return dx.reshape(tuple(x_shape))
