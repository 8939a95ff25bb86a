"""The readable backend: convolution, max and average pooling in plain NumPy.

Every function here follows its equation term by term, so a student can read it beside
``docs/convolution.md``. Convolution is written twice, as two rungs of one ladder:

- **by kernel offsets** (``conv2d_forward_by_offsets`` and its two gradients): the definition.
  The only loop is over the kernel offsets ``(p, q)``; for one offset the work is a single
  strided view of the input and one matrix product over channels.
- **as one matrix product** (``im2col``, ``col2im``, and ``conv2d_forward``,
  ``conv2d_backward_input``, ``conv2d_backward_weights`` built on them): the same sums,
  gathered into a "column" matrix so that each of the three is one product. This is what the
  backend runs (one large product keeps BLAS busy; nine thin ones, as conv1's three input
  channels give, do not), and what :mod:`scratchconv.kernels.numba_kernels` does too, one
  sample at a time. The tests hold the two rungs equal, and the numba backend equal to both.

Shapes (NHWC throughout):

- ``x``  : (N, H, W, C_in)            input
- ``w``  : (KH, KW, C_in, C_out)      kernel, Keras's layout
- ``b``  : (C_out,) or None           bias
- ``y``  : (N, H_out, W_out, C_out)   output; ``dy`` has the same shape
- ``pads``: ((top, bottom), (left, right)), from :mod:`scratchconv.kernels.padding`

Two elementwise steps of training live here too, because the fast backend runs them in
parallel: ReLU's backward and Adam's update; and the Dense layer's two products that the
fast backend splits among its threads.
"""
import numpy as np

from .padding import padded_output_size


def _pad(x, pads, value=0.0):
    """Pad the two spatial axes of an NHWC array."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _window(x_pad, p, q, out_hw, strides):
    """The strided view x_pad[:, p + s_h*i, q + s_w*j, :] for i < H_out, j < W_out."""
    (h_out, w_out), (sh, sw) = out_hw, strides
    return x_pad[:, p:p + sh * (h_out - 1) + 1:sh, q:q + sw * (w_out - 1) + 1:sw, :]


def _output_hw(x_shape, kernel_hw, strides, pads):
    """(H_out, W_out) of a window of size kernel_hw sliding over the padded input."""
    (top, bottom), (left, right) = pads
    return (padded_output_size(x_shape[1], kernel_hw[0], strides[0], top, bottom),
            padded_output_size(x_shape[2], kernel_hw[1], strides[1], left, right))


# ----- convolution by kernel offsets: the definition ------------------------------------------

def conv2d_forward_by_offsets(x, w, b, strides, pads):
    """Cross-correlation, as in every deep-learning library:

        y[n, i, j, o] = b[o] + sum_{p, q, c} x_pad[n, s_h*i + p, s_w*j + q, c] * w[p, q, c, o]

    summed one kernel offset (p, q) at a time.
    """
    kh, kw, _, c_out = w.shape
    x_pad = _pad(x, pads)
    out_hw = _output_hw(x.shape, (kh, kw), strides, pads)
    y = np.zeros((x.shape[0], *out_hw, c_out), dtype=x.dtype)
    for p in range(kh):
        for q in range(kw):
            # (N, H_out, W_out, C_in) @ (C_in, C_out): the sum over c for this offset.
            y += _window(x_pad, p, q, out_hw, strides) @ w[p, q]
    if b is not None:
        y += b
    return y


def conv2d_backward_input_by_offsets(dy, w, x_shape, strides, pads):
    """Gradient of the loss with respect to the input.

    Each x_pad[n, s_h*i + p, s_w*j + q, c] took part in y[n, i, j, :] through w[p, q, c, :],
    so it collects

        dx_pad[n, s_h*i + p, s_w*j + q, c] += sum_o dy[n, i, j, o] * w[p, q, c, o]

    (for stride 1 this is a full correlation of dy with the flipped kernel); the padding
    is then cut away.
    """
    kh, kw = w.shape[:2]
    (top, bottom), (left, right) = pads
    n, h, wd, c_in = x_shape
    dx_pad = np.zeros((n, h + top + bottom, wd + left + right, c_in), dtype=dy.dtype)
    out_hw = dy.shape[1:3]
    for p in range(kh):
        for q in range(kw):
            _window(dx_pad, p, q, out_hw, strides)[...] += dy @ w[p, q].T
    return dx_pad[:, top:top + h, left:left + wd, :]


def conv2d_backward_weights_by_offsets(dy, x, w_shape, strides, pads):
    """Gradient of the loss with respect to the kernel:

        dw[p, q, c, o] = sum_{n, i, j} x_pad[n, s_h*i + p, s_w*j + q, c] * dy[n, i, j, o]

    The bias gradient is simply ``db[o] = sum_{n, i, j} dy[n, i, j, o]``.
    """
    kh, kw, c_in, c_out = w_shape
    x_pad = _pad(x, pads)
    out_hw = dy.shape[1:3]
    dw = np.empty(w_shape, dtype=dy.dtype)
    dy_rows = dy.reshape(-1, c_out)
    for p in range(kh):
        for q in range(kw):
            x_rows = _window(x_pad, p, q, out_hw, strides).reshape(-1, c_in)
            dw[p, q] = x_rows.T @ dy_rows
    return dw


# ----- convolution as one matrix product -------------------------------------------------------

def im2col(x, kernel_hw, strides, pads):
    """The column matrix of a convolution: every output pixel's receptive field as one row.

        col[(n, i, j), (p, q, c)] = x_pad[n, s_h*i + p, s_w*j + q, c]

    x : (N, H, W, C_in)  ->  col : (N*H_out*W_out, KH*KW*C_in), rows in (n, i, j) order and
    columns in (p, q, c) order, the order of ``w.reshape(KH*KW*C_in, C_out)``'s rows. Like
    Chainer's ``im2col_cpu`` it loops only over the KH*KW offsets, copying one strided view of
    ``x_pad`` per offset; each input pixel is copied once for every window that contains it.
    """
    kh, kw = kernel_hw
    n, c_in = x.shape[0], x.shape[3]
    x_pad = _pad(x, pads)
    out_hw = _output_hw(x.shape, kernel_hw, strides, pads)
    col = np.empty((n, *out_hw, kh, kw, c_in), dtype=x.dtype)
    for p in range(kh):
        for q in range(kw):
            col[:, :, :, p, q, :] = _window(x_pad, p, q, out_hw, strides)
    return col.reshape(n * out_hw[0] * out_hw[1], kh * kw * c_in)


def col2im(col, x_shape, kernel_hw, strides, pads):
    """The transpose of ``im2col``: add every entry of ``col`` back onto the input pixel it was
    copied from, so that ``sum(im2col(x) * col) == sum(x * col2im(col))`` for every x.

        dx_pad[n, s_h*i + p, s_w*j + q, c] += col[(n, i, j), (p, q, c)]

    col : (N*H_out*W_out, KH*KW*C_in)  ->  dx : ``x_shape`` = (N, H, W, C_in), the padding cut
    away. The same loop over offsets as ``im2col``, with ``+=`` where it copies: a pixel shared
    by several windows collects one term from each.
    """
    kh, kw = kernel_hw
    (top, bottom), (left, right) = pads
    n, h, wd, c_in = x_shape
    out_hw = _output_hw(x_shape, kernel_hw, strides, pads)
    col = col.reshape(n, *out_hw, kh, kw, c_in)
    dx_pad = np.zeros((n, h + top + bottom, wd + left + right, c_in), dtype=col.dtype)
    for p in range(kh):
        for q in range(kw):
            _window(dx_pad, p, q, out_hw, strides)[...] += col[:, :, :, p, q, :]
    return dx_pad[:, top:top + h, left:left + wd, :]


def conv2d_forward(x, w, b, strides, pads, relu=False):
    """The convolution of ``conv2d_forward_by_offsets`` as one matrix product:

        y = im2col(x) @ w.reshape(KH*KW*C_in, C_out) + b

    Row (n, i, j) of ``im2col(x)`` times column o of the reshaped kernel is exactly the sum over
    (p, q, c) of the definition. With ``relu=True`` the result is ``max(y, 0)`` (the fused
    Conv2D + ReLU). Returns y : (N, H_out, W_out, C_out) in x's dtype.
    """
    kh, kw, _, c_out = w.shape
    out_hw = _output_hw(x.shape, (kh, kw), strides, pads)
    y = im2col(x, (kh, kw), strides, pads) @ w.reshape(-1, c_out).astype(x.dtype, copy=False)
    y = y.reshape(x.shape[0], *out_hw, c_out)
    if b is not None:
        y += b
    if relu:
        np.maximum(y, 0, out=y)
    return y


def conv2d_backward_input(dy, w, x_shape, strides, pads):
    """Gradient with respect to the input, as one product and a ``col2im``:

        dcol = dy.reshape(N*H_out*W_out, C_out) @ w.reshape(KH*KW*C_in, C_out)^T
        dx   = col2im(dcol)

    ``dcol`` is the gradient of the column matrix (y = col @ w2 gives dcol = dy @ w2^T), and
    since im2col is a linear copy, its transpose col2im carries that gradient to the input.
    Equal to ``conv2d_backward_input_by_offsets``.
    """
    kh, kw, _, c_out = w.shape
    dcol = dy.reshape(-1, c_out) @ w.reshape(-1, c_out).T.astype(dy.dtype, copy=False)
    return col2im(dcol, x_shape, (kh, kw), strides, pads)


def conv2d_backward_weights(dy, x, w_shape, strides, pads):
    """Gradient with respect to the kernel, as one product:

        dw = im2col(x)^T @ dy.reshape(N*H_out*W_out, C_out),   reshaped to (KH, KW, C_in, C_out)

    Entry ((p, q, c), o) of the product is sum_{n, i, j} x_pad[n, s_h*i + p, s_w*j + q, c] *
    dy[n, i, j, o], the definition. Equal to ``conv2d_backward_weights_by_offsets``.
    """
    c_out = w_shape[3]
    col = im2col(x.astype(dy.dtype, copy=False), w_shape[:2], strides, pads)
    return (col.T @ dy.reshape(-1, c_out)).reshape(w_shape)


def conv2d_backward(dy, x, w, strides, pads, relu_y=None, need_db=True, need_dx=True,
                    workspace=None):
    """The whole backward of a Conv2D layer, from dy = dL/dy to ``(dw, db, dx)``:

        dz = dy * (relu_y > 0)   when the layer's ReLU is fused (``relu_y`` = its output),
             dy                  otherwise
        dw = conv2d_backward_weights(dz),  db[o] = sum_{n, i, j} dz[n, i, j, o],
        dx = conv2d_backward_input(dz)

    ``db`` is None unless ``need_db``, ``dx`` None unless ``need_dx`` (a model's first layer
    needs no input gradient). The fast backend does all of it in one pass per sample, and keeps
    its scratch buffers in ``workspace`` (a dict the caller keeps); this version allocates what
    it needs and ignores it.
    """
    dz = dy if relu_y is None else relu_backward(dy, relu_y)
    dw = conv2d_backward_weights(dz, x, w.shape, strides, pads)
    # db summed in float64: a float32 running sum over N*H*W terms would lose digits.
    db = dz.sum(axis=(0, 1, 2), dtype=np.float64).astype(dz.dtype) if need_db else None
    dx = conv2d_backward_input(dz, w, x.shape, strides, pads) if need_dx else None
    return dw, db, dx


def conv2d_maxpool_forward(x, w, b, strides, pads, relu, pool_size, pool_strides, pool_pads,
                           workspace=None, training=True):
    """A convolution followed by max pooling, the pair a model fuses in its own steps:

        y, argmax = maxpool2d_forward(conv2d_forward(x, w, b, strides, pads, relu), ...)

    The fast backend pools each sample's convolution while it is in cache and never stores the
    convolution's output; only the pooled ``y`` and ``argmax`` are returned (and, given a
    ``workspace``, kept there and overwritten by its next call; ignored here). With
    ``training=False`` (inference: no backward follows) ``argmax`` is None. The fast backend
    may compute the convolution by Winograd's F(2x2, 3x3) (:mod:`scratchconv.kernels.winograd`;
    at inference, and in training with enough input channels), which rounds differently; this
    one always runs ``conv2d_forward``.
    """
    z = conv2d_forward(x, w, b, strides, pads, relu)
    y, argmax = maxpool2d_forward(z, pool_size, pool_strides, pool_pads)
    return y, argmax if training else None


def conv2d_maxpool_pair_forward(x, first, second, workspace=None):
    """Two convolutions, each followed by its max pooling, at inference (no backward follows):

        h, _ = conv2d_maxpool_forward(x, *first, training=False)
        y, _ = conv2d_maxpool_forward(h, *second, training=False)

    first, second : the arguments ``(w, b, strides, pads, relu, pool_size, pool_strides,
    pool_pads)`` of each pair. Returns y. The fast backend runs each sample through both pairs
    on one thread, so that h is never written for the whole batch (the same bits as its two
    calls); ``workspace`` as in ``conv2d_maxpool_forward`` (ignored here).
    """
    h, _ = conv2d_maxpool_forward(x, *first, training=False)
    y, _ = conv2d_maxpool_forward(h, *second, training=False)
    return y


def conv2d_maxpool_backward(dy, y, argmax, x, w, strides, pads, relu, need_db=True,
                            need_dx=True, workspace=None):
    """The backward of that pair from ``dy``, the gradient of the pooled output ``y``.

    The pooling routes each ``dy`` to its window's winner, and the ReLU's mask
    ``[conv output > 0]`` only matters there, where the convolution's output *is* ``y``. So
    the convolution's output is not needed:

        dz = maxpool2d_backward(dy * (y > 0), argmax, conv_shape)     (without ReLU: dy)
        (dw, db, dx) = conv2d_backward(dz, x, w, ...)
    """
    kh, kw, _, c_out = w.shape
    (top, bottom), (left, right) = pads
    conv_shape = (x.shape[0], padded_output_size(x.shape[1], kh, strides[0], top, bottom),
                  padded_output_size(x.shape[2], kw, strides[1], left, right), c_out)
    dz = maxpool2d_backward(relu_backward(dy, y) if relu else dy, argmax, conv_shape)
    return conv2d_backward(dz, x, w, strides, pads, need_db=need_db, need_dx=need_dx)


def winner_index_dtype(plane):
    """The integer dtype of a max pooling's ``argmax`` over an input plane of ``plane`` (H * W)
    pixels: int32, unless the plane has more pixels than int32 can number (then int64).

    Half the bytes of int64: the fused training forward writes one index per pooled output and
    the backward reads it back (the tutorial's first pooling, 64 channels of 24x24 at batch 32:
    4.7 MB each way instead of 9.4). ``python -m benchmarks.choices --only winner-index
    --repeats 11`` (a training step of the tutorial model, numba backend, two threads, ms, int32 /
    int64; 2-core Xeon, 2026-12-02 13:02 and 13:03, load average 1.6): batch 32 12.28 / 12.41 and
    12.43 / 13.04, batch 128 42.80 / 44.09 and 44.05 / 45.83. The same bits either way.
    """
    return np.int32 if plane <= np.iinfo(np.int32).max else np.int64


def maxpool2d_forward(x, pool_size, strides, pads):
    """Max pooling, returning the output and where each maximum came from.

        y[n, i, j, c] = max_{p, q} x_pad[n, s_h*i + p, s_w*j + q, c]

    Padding cells hold -inf, so they are never chosen. ``argmax[n, i, j, c]`` is the flat
    index ``h * W + w`` of the winning pixel in the *unpadded* input plane, an integer of
    ``winner_index_dtype(H * W)``.

    Ties: the window is scanned row by row, left to right, and the first maximum wins
    (a later equal value does not replace it). The whole gradient of ``y[n, i, j, c]``
    goes to that one pixel.
    """
    (ph, pw), (sh, sw) = pool_size, strides
    (top, _), (left, _) = pads
    n, h, wd, c = x.shape
    x_pad = _pad(x, pads, value=-np.inf)
    h_out = (x_pad.shape[1] - ph) // sh + 1
    w_out = (x_pad.shape[2] - pw) // sw + 1
    y = np.full((n, h_out, w_out, c), -np.inf, dtype=x.dtype)
    argmax = np.zeros((n, h_out, w_out, c), dtype=np.int64)
    # Row and column (in the unpadded input) of the window's top-left corner.
    rows = np.arange(h_out)[None, :, None, None] * sh - top
    cols = np.arange(w_out)[None, None, :, None] * sw - left
    for p in range(ph):
        for q in range(pw):
            v = _window(x_pad, p, q, (h_out, w_out), (sh, sw))
            better = v > y  # strict: on a tie the earlier pixel stays
            y = np.where(better, v, y)
            argmax = np.where(better, (rows + p) * wd + (cols + q), argmax)
    return y, argmax.astype(winner_index_dtype(h * wd))


def maxpool2d_backward(dy, argmax, x_shape):
    """Route each output gradient to the input pixel that won its window:

        dx[n, h, w, c] = sum of dy[n, i, j, c] over the windows (i, j) whose max was x[n, h, w, c]

    Overlapping windows (stride < pool size) can pick the same pixel; their gradients add.
    """
    n, h, wd, c = x_shape
    dx = np.zeros((n, h * wd, c), dtype=dy.dtype)
    nn = np.arange(n)[:, None, None, None]
    cc = np.arange(c)[None, None, None, :]
    np.add.at(dx, (np.broadcast_to(nn, dy.shape), argmax, np.broadcast_to(cc, dy.shape)), dy)
    return dx.reshape(x_shape)


def dense_forward(x, w):
    """The Dense layer's product ``z = x @ w``: ``z[n, o] = sum_i x[n, i] w[i, o]``.

    x : ndarray of shape (n, d_in); w : (d_in, d_out), of x's dtype; z : (n, d_out).
    """
    return x @ w


def dense_weight_gradient(x, dz):
    """The Dense layer's kernel gradient ``dw = x.T @ dz``: ``dw[i, o] = sum_n x[n, i] dz[n, o]``.

    x : ndarray of shape (n, d_in); dz : (n, d_out), of x's dtype; dw : (d_in, d_out).
    """
    return x.T @ dz


def relu_backward(dy, y, out=None):
    """ReLU's backward through its output ``y = max(z, 0)``: ``dz = dy * (y > 0)``.

    dy, y : ndarrays of one shape and dtype; out : a buffer of that shape and dtype, or None.
    The mask is a multiplication by 1 or 0 (not a selection), so ``dy = inf`` where ``y = 0``
    gives NaN, as it does in every framework.
    """
    return np.multiply(dy, y > 0, out=out)


def adam_update(param, grad, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    """One Adam step for one parameter, in place, in Keras 3's order of operations:

        m     += (g - m) * (1 - beta_1)
        v     += (g^2 - v) * (1 - beta_2)
        param -= (m * alpha) / (sqrt(v) + epsilon)

    with ``alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`` computed by the optimizer. The
    scalars come in the parameter's dtype, so float32 parameters are updated in float32
    arithmetic, as tf.keras does. m and v are flushed to zero where they fall below the smallest
    normal number (:func:`flush_subnormals`).
    """
    m += (grad - m) * one_minus_beta_1
    flush_subnormals(m)
    v += (np.square(grad) - v) * one_minus_beta_2
    flush_subnormals(v)
    param -= (m * alpha) / (np.sqrt(v) + epsilon)


def flush_subnormals(a):
    """Set the entries of ``a`` smaller in magnitude than its dtype's smallest normal number
    (``np.finfo(a.dtype).tiny``, 1.2e-38 in float32) to zero, in place.

    An optimizer's state decays geometrically where the gradient stays zero (a dead ReLU's
    weights: Adam's m by 0.9 a step) and, with no flush, reaches the subnormal range and stays
    there (m - 0.1 m rounds back to m). Arithmetic on subnormals is many times slower on x86
    (a microcode assist per operation): ``python -m benchmarks.choices --only subnormal`` trains
    the tutorial model for 800 batch-1 steps with the flush off, after which 42-49% of its dense
    kernel's m was subnormal, and Adam's update of that kernel took 40.1 / 36.5 ms on one thread
    against 1.9 / 4.7 ms from the same state flushed (two runs, 2-core Xeon, 2026-12-01, load
    average 5.6 / 4.9). TensorFlow runs its CPU kernels with subnormals flushed to zero, so
    flushing the state moves nothing it would keep: such an entry's weight update is below
    float32's resolution of any weight.
    """
    a[np.abs(a) < np.finfo(a.dtype).tiny] = 0


def avgpool2d_counts(hw, pool_size, strides, pads):
    """How many input pixels (not padding) window ``(i, j)`` covers: count : (H_out, W_out).

    Keras (TensorFlow's avg_pool) divides each window's sum by this count, so with "same"
    padding a window hanging over the edge averages its real pixels only.
    """
    ones = _pad(np.ones((1,) + tuple(hw) + (1,)), pads)
    (ph, pw), (sh, sw) = pool_size, strides
    h_out = (ones.shape[1] - ph) // sh + 1
    w_out = (ones.shape[2] - pw) // sw + 1
    return sum(_window(ones, p, q, (h_out, w_out), strides)[0, :, :, 0] for p in range(ph) for q in range(pw))


def avgpool2d_forward(x, pool_size, strides, pads):
    """Average pooling over the input pixels each window covers:

        y[n, i, j, c] = sum_{p, q} x_pad[n, s_h*i + p, s_w*j + q, c] / count[i, j]

    with zero padding and ``count`` from :func:`avgpool2d_counts` (padding is not counted);
    ``docs/layers.md`` derives the backward and works an example.
    """
    (ph, pw), (sh, sw) = pool_size, strides
    x_pad = _pad(x, pads)
    h_out = (x_pad.shape[1] - ph) // sh + 1
    w_out = (x_pad.shape[2] - pw) // sw + 1
    y = np.zeros((x.shape[0], h_out, w_out, x.shape[3]), dtype=x.dtype)
    for p in range(ph):
        for q in range(pw):
            y += _window(x_pad, p, q, (h_out, w_out), strides)
    return y / avgpool2d_counts(x.shape[1:3], pool_size, strides, pads)[None, :, :, None].astype(x.dtype)


def avgpool2d_backward(dy, x_shape, pool_size, strides, pads):
    """Each window shares its gradient equally among the pixels it averaged:

        dx[n, h, w, c] = sum over the windows (i, j) that cover (h, w) of dy[n, i, j, c] / count[i, j]

    written as the forward's loop over offsets with ``+=`` into the padded input gradient,
    whose padding is then cut away.
    """
    (ph, pw), ((top, bottom), (left, right)) = pool_size, pads
    n, h, wd, c = x_shape
    share = dy / avgpool2d_counts((h, wd), pool_size, strides, pads)[None, :, :, None].astype(dy.dtype)
    dx_pad = np.zeros((n, h + top + bottom, wd + left + right, c), dtype=dy.dtype)
    for p in range(ph):
        for q in range(pw):
            _window(dx_pad, p, q, dy.shape[1:3], strides)[...] += share
    return dx_pad[:, top:top + h, left:left + wd, :]
