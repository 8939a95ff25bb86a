"""The fast backend: the same functions as :mod:`scratchconv.kernels.numpy_kernels`, compiled.

Same signatures, same semantics, same shapes (NHWC, kernels ``(KH, KW, C_in, C_out)``); the
tests hold the two backends equal. The convolution takes the same steps as the readable
backend's "convolution as one matrix product" (``numpy_kernels.im2col``, ``col2im`` and the
products built on them; ``docs/convolution.md`` derives them), with one difference: the steps
run **one sample at a time**, each sample on one of numba's threads, so that the sample's
column matrix stays in cache. Measured on the tutorial model's second convolution, forward,
batch 32, one core: direct numba loops about 7 GFLOP/s, im2col + one product over the whole
batch 66 GFLOP/s (its 36 MB column matrix does not fit in cache), im2col + one product per
sample 100 GFLOP/s (a 1.1 MB column matrix, in L2). ``python -m benchmarks.kernels`` times them.

With ``col = im2col(x[n])`` of shape ``(H_out*W_out, KH*KW*C_in)`` and the kernel as a matrix
``w2 = w.reshape(KH*KW*C_in, C_out)``, for every sample n:

- forward (``_conv_sample``): ``y[n] = col @ w2 (+ bias, then max(., 0))``;
- backward (``_conv_backward``), in named steps while the sample's gradient is in cache:

  1. ``_relu_mask``: ``dz = dy[n] * (y[n] > 0)`` (or ``_unpool``, when a max pooling follows:
     ``dz = route(dy[n] * (y[n] > 0))``, see ``conv2d_maxpool_backward``; without ReLU or
     pooling ``dz = dy[n]``);
  2. ``_bias_sum``: ``db_n = sum over pixels of dz``, in float64;
  3. ``_weight_gradient``: ``dw_n = col^T @ dz``;
  4. ``_input_gradient``: ``dx[n] = col2im(dz @ w2^T)``;

  and the per-sample ``dw_n`` and ``db_n`` are added in sample order afterwards. When a max
  pooling follows and no dx is asked for (a first layer), steps 1-3 are one,
  ``_winner_gradients``: dw_n and db_n from the pooling's gradient and winners, the four
  outputs of each 2x2 block at a time, without dz, the column matrix or the product.
- a convolution followed by max pooling (``conv2d_maxpool_forward``, ``_conv_maxpool``): each
  sample's convolution is pooled while it is in cache, so it is never written to memory. When
  the pooling's windows are the convolution's 2x2 output blocks (2x2, stride 2, the tutorial's),
  each block is pooled as it is computed: by im2col in bands of output rows
  (``_im2col_pooled_sample``), by Winograd's F(2x2, 3x3) (``_winograd_sample``) or directly
  (``_direct_sample``: no column matrix, the nine taps of each input channel as one sum in a
  loop over the output channels; ``_blocked_sample`` where the output channels fill blocks of
  4 vectors: each pooling window's sums held in vector registers, :mod:`.vectors`); other
  poolings run on a per-thread buffer holding the sample's convolution. In training the
  winners are kept too (the argmax the backward needs); at inference (``training=False``) not,
  and a 3x3 stride-1 convolution runs by Winograd or, with the fewest input channels, directly
  (``inference_method``; ``docs/winograd.md``, "In the fast backend"), while training runs
  im2col, or Winograd from ``WINOGRAD_MIN_CHANNELS_TRAINING`` input channels; both run
  ``_blocked_sample`` where it applies.
- two convolutions, each followed by max pooling, at inference (``conv2d_maxpool_pair_forward``,
  ``_conv_maxpool_pair``): each thread takes a sample through the first pair
  (``_conv_maxpool_sample``, as above) into a scratch buffer of its own and from there through
  the second, so the first pooled output stays in the thread's cache, and the threads start and
  wait for each other once for both. The same per-sample steps as two calls, the same bits.
- in training, a 3x3 stride-1 convolution with at least ``WINOGRAD_MIN_CHANNELS_TRAINING``
  input channels (``uses_winograd``) runs by Winograd's F(2x2, 3x3) too: the fused forward by
  ``_winograd_sample`` (pooled with its argmax as above), the backward by
  ``_winograd_backward`` (dM = A dY A^T of each tile; ``dU_n[a] = V[a]^T @ dM[a]`` and
  ``dV[a] = dM[a] @ U[a]^T`` for the 16 tile positions, BLAS products; dx from dV, and
  dw = G^T dU G once the dU_n are summed in sample order). The same steps as the readable
  :mod:`scratchconv.kernels.winograd`, 2.25 times fewer multiplications.

Threads and determinism: each sample is written by exactly one thread, each thread has its own
scratch buffers (``cols``, ``dzs``), and within a sample the order of every sum is fixed, so
results are bit-for-bit the same run to run whatever the thread count. The threads take the
samples one at a time from a shared counter (``_next_sample``), not in fixed shares, so that on a
busy machine a thread that is held back leaves its samples to the others instead of every
thread waiting for it. A batch of one sample, and elementwise work on small arrays, run on the
calling thread without a parallel region (``_deal``, ``_on_all_threads``): waking the other threads would
cost more than the work. The products are single-threaded BLAS calls (numba's ``np.dot``); how
numba's threads and the BLAS's share the cores (and why) is :mod:`scratchconv.kernels.threads`,
whose policy importing this module applies.

One compile per kind of call: numba compiles a function once for each tuple of argument
types it is called with, and the callees it compiles into it with it, so two call sites that
pass the same values as different types pay the compile twice (the fused forward's
``_conv_maxpool_sample``, with every method compiled inside it, takes tens of seconds). Two
such differences hide in plain code: a constant argument (``f(x, 0)``) is typed
``Literal[int](0)``, a type of its own, so the call sites pass ``np.int64(0)`` instead (an
omitted default argument is a type of its own too, so there are none); and numba types a
``prange`` loop twice, first as a plain range (its index int64), then as a parallel loop (its
index uint64), compiling what the loop calls with its index for both, so the parallel kernels
pass ``np.int64(t)`` to their thread shares (an int64, as ``_deal``'s thread 0 on the calling
thread). What does make a second version on purpose is None against
an array (``argmax`` at inference and in training): numba prunes the branches that test it.
``tests/test_kernels.py`` checks the signatures after a model's steps at batch 1 and 2.
"""
from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.core.extending import intrinsic

from . import numba_cache, simd, threads, vectors, winograd
from .numpy_kernels import winner_index_dtype
from .padding import padded_output_size

threads.configure()
# Whether numba compiles 512-bit vector code here (``simd``): the register-blocked convolution
# (``_blocked_sample``) runs only then; on narrower vectors its 16 sums would not fit the registers.
WIDE = simd.configure()
# Whether the kernels are cached between processes (False only when no folder is writable).
CACHE = numba_cache.prepare(__file__)


def _take(workspace, name, shape, dtype):
    """An uninitialised array: ``workspace[name]`` again when it has this shape and dtype, else
    a new one, kept there for the next call; without a workspace (None), always a new one.

    A layer keeps a workspace for its kernels so that training steps of one batch size reuse
    the same buffers instead of allocating them per step (arrays above glibc's 32 MB mmap
    threshold, such as conv1's argmax at batch 256, otherwise come back as fresh pages).
    """
    if workspace is None:
        return np.empty(shape, dtype)
    a = workspace.get(name)
    if a is None or a.shape != tuple(shape) or a.dtype != dtype:
        a = workspace[name] = np.empty(shape, dtype)
    return a


Geometry = namedtuple("Geometry", "c kh kw sh sw top left w_out")
Geometry.__doc__ = """Where a convolution's windows lie: ``c`` input channels, a ``kh`` x ``kw``
kernel, strides ``sh``, ``sw``, ``top`` and ``left`` padding, ``w_out`` output columns."""


# ----- the steps, for one sample b ------------------------------------------------------------

@njit(cache=CACHE, inline="always")
def _copy_pixel(x, b, hi, wi, dst):
    """dst = x_pad[b, hi, wi, :], the C = len(dst) channels of one pixel of sample b, zeros
    where (hi, wi) lies in the padding (``x`` seen as (N, H, W*C)). im2col's windows and
    Winograd's tiles are both made of such pixels."""
    c = dst.shape[0]
    if 0 <= hi < x.shape[1] and 0 <= wi < x.shape[2] // c:
        src = x[b, hi, wi * c:(wi + 1) * c]
        for k in range(c):
            dst[k] = src[k]
    else:
        for k in range(c):
            dst[k] = 0.0


@njit(cache=CACHE)
def _im2col(x, b, g, col, first_row):
    """col[(i - first_row)*W_out + j, (p*KW + q)*C + c] = x_pad[b, s_h*i + p, s_w*j + q, c] for
    sample b, for the output rows i from ``first_row`` on that col's rows hold (all from
    ``np.int64(0)``: see "One compile per kind of call" in the module's docstring).

    ``x`` is the input seen as (N, H, W*C), ``g`` the Geometry; col holds whole output rows.
    For one kernel row p the KW*C entries come from KW consecutive pixels of one input row,
    contiguous in NHWC, so a window that lies inside the image is copied in one run; a window
    over the padding goes pixel by pixel. The loops go by output row and kernel row, so that
    the input row is found once per W_out windows, not once per window as a single loop over
    col's rows would.
    (Slices name the runs: indexing them from 0 lets the copy loops vectorise.)
    """
    c, kh, kw, sh, sw, top, left, w_out = g
    _, h, row_len = x.shape
    wd = row_len // c
    run = kw * c
    for i in range(first_row, first_row + col.shape[0] // w_out):
        r0 = (i - first_row) * w_out
        for p in range(kh):
            hi = i * sh + p - top
            k0 = p * run
            src = x[b, min(max(hi, 0), h - 1)]  # the input row (any row when hi is padding)
            for j in range(w_out):
                w0 = j * sw - left
                if 0 <= hi < h and w0 >= 0 and w0 + kw <= wd:
                    window, dst = src[w0 * c:w0 * c + run], col[r0 + j, k0:k0 + run]
                    for k in range(run):
                        dst[k] = window[k]
                    continue
                for q in range(kw):
                    _copy_pixel(x, b, hi, w0 + q, col[r0 + j, k0 + q * c:k0 + (q + 1) * c])


@njit(cache=CACHE)
def _col2im(dcol, b, g, dx):
    """dx[b, s_h*i + p - top, s_w*j + q - left, c] += dcol[i*W_out + j, (p*KW + q)*C + c].

    The transpose of ``_im2col``. ``dx`` is the input gradient seen as (N, H, W*C). Entries that
    fall on the padding are dropped. Every dx entry receives its terms in (i, j, p, q) order,
    whether its window row is added in one run (window inside the image) or pixel by pixel.
    """
    c, kh, kw, sh, sw, top, left, w_out = g
    _, h, row_len = dx.shape
    wd = row_len // c
    run = kw * c
    for r in range(dcol.shape[0]):
        i, j = r // w_out, r % w_out
        w0 = j * sw - left
        inside = w0 >= 0 and w0 + kw <= wd
        for p in range(kh):
            hi = i * sh + p - top
            if hi < 0 or hi >= h:
                continue
            k0 = p * run
            if inside:
                src = dcol[r, k0:k0 + run]
                dst = dx[b, hi, w0 * c:w0 * c + run]
                for k in range(run):
                    dst[k] += src[k]
                continue
            for q in range(kw):
                wi = w0 + q
                if 0 <= wi < wd:
                    src = dcol[r, k0 + q * c:k0 + (q + 1) * c]
                    dst = dx[b, hi, wi * c:(wi + 1) * c]
                    for cc in range(c):
                        dst[cc] += src[cc]


# 0 and -inf as float32 scalars, for the kernels' elementwise steps: with a Python float (numba's
# float64) in a float32 kernel, the values took float64's type and every step of the inference
# forward's pooling converted to float64 and back (the same values, at half the vector width).
# In a float64 kernel these constants widen to float64 exactly.
_ZERO, _MINUS_INF = np.float32(0.0), np.float32(-np.inf)


@njit(cache=CACHE, inline="always")
def _activate(z, bias, add_bias, relu):
    """z (+ bias, then max(., 0)): one output of a convolution; a NaN stays NaN, as with
    np.maximum. The constants are float32 (``_ZERO``), so a float32 z stays float32."""
    if add_bias:
        z = z + bias
    if relu and z < _ZERO:
        z = _ZERO
    return z


@njit(cache=CACHE)
def _conv_sample(x, b, w2, bias, g, col, yb, add_bias, relu):
    """yb = im2col(x[b]) @ w2 (+ bias, then max(., 0)): one sample's convolution.

    x : (N, H, W*C_in); w2 : (KH*KW*C_in, C_out); col : (H_out*W_out, KH*KW*C_in) scratch;
    yb : (H_out*W_out, C_out).
    """
    _im2col(x, b, g, col, np.int64(0))
    np.dot(col, w2, yb)
    if add_bias or relu:
        for r in range(yb.shape[0]):
            for o in range(yb.shape[1]):
                yb[r, o] = _activate(yb[r, o], bias[o], add_bias, relu)


@njit(cache=CACHE, inline="always")
def _minus(x, y, out):
    """out = x - y, entry by entry (one loop with one store stream, which vectorises)."""
    for i in range(out.shape[0]):
        out[i] = x[i] - y[i]


@njit(cache=CACHE, inline="always")
def _plus(x, y, out):
    """out = x + y, entry by entry."""
    for i in range(out.shape[0]):
        out[i] = x[i] + y[i]


@njit(cache=CACHE)
def _winograd_row(row, tiles_w, c, e):
    """d B along one image row for every tile of a tile row: e[q, tj*C + k] = (d0 - d2,
    d1 + d2, d2 - d1, d1 - d3)[q] of channel k of the pixels d0..d3 = 2tj .. 2tj + 3 (B^T's
    rows applied to the row's 4 pixels). row : ((2*tw + 2)*C,); e : (4, tw*C)."""
    for tj in range(tiles_w):
        x = row[2 * tj * c:(2 * tj + 4) * c]
        d0, d1, d2, d3 = x[:c], x[c:2 * c], x[2 * c:3 * c], x[3 * c:]
        o = tj * c
        _minus(d0, d2, e[0, o:o + c])
        _plus(d1, d2, e[1, o:o + c])
        _minus(d2, d1, e[2, o:o + c])
        _minus(d1, d3, e[3, o:o + c])


@njit(cache=CACHE)
def _winograd_input(xp, ti0, ti1, tiles_w, e, v):
    """V = B^T d B of the tiles in tile rows ti0 .. ti1 - 1, for every input channel.

    xp : (2*th + 2, (2*tw + 2)*C_in), the padded sample (``_padded_sample``), one image row per
    line; e : (4, 4, tw*C_in) scratch; v : (16, T, C_in), tile t = (ti - ti0)*tiles_w + tj, the
    position (a, b) of the 4x4 tile as a*4 + b. First d B along each image row the tile row
    covers (``_winograd_row``, into e[row % 4], so the two rows a tile row shares with the next
    are transformed once), then B^T down the columns, for the whole tile row at once: each
    v[a*4 + b] row is then one loop over tw*C_in contiguous numbers with two loads and one
    store, which vectorises (per tile, eight loops of 4 loads and 4 stores over C_in numbers
    cost twice the time, in their set-up and the checks that the arrays do not overlap).
    """
    c = xp.shape[1] // (2 * tiles_w + 2)
    n = tiles_w * c
    vf = v.reshape((16, v.shape[1] * c))
    for ti in range(ti0, ti1):
        for r in range(2 * ti if ti == ti0 else 2 * ti + 2, 2 * ti + 4):
            _winograd_row(xp[r], tiles_w, c, e[r % 4])
        e0, e1, e2, e3 = e[2 * ti % 4], e[(2 * ti + 1) % 4], e[(2 * ti + 2) % 4], e[(2 * ti + 3) % 4]
        o = (ti - ti0) * n
        # B^T (d B): the rows (1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1).
        for q in range(4):
            _minus(e0[q], e2[q], vf[q, o:o + n])
            _plus(e1[q], e2[q], vf[4 + q, o:o + n])
            _minus(e2[q], e1[q], vf[8 + q, o:o + n])
            _minus(e1[q], e3[q], vf[12 + q, o:o + n])


@njit(cache=CACHE, inline="always")
def _winograd_output(m, t, o):
    """Y = A^T M A, the 2x2 outputs (y00, y01, y10, y11) of tile t for output channel o, from
    m : (16, T, C_out). A^T's rows are (1, 1, 1, 0) and (0, 1, -1, -1): first down the
    columns, then along the two rows."""
    r00 = m[0, t, o] + m[4, t, o] + m[8, t, o]
    r01 = m[1, t, o] + m[5, t, o] + m[9, t, o]
    r02 = m[2, t, o] + m[6, t, o] + m[10, t, o]
    r03 = m[3, t, o] + m[7, t, o] + m[11, t, o]
    r10 = m[4, t, o] - m[8, t, o] - m[12, t, o]
    r11 = m[5, t, o] - m[9, t, o] - m[13, t, o]
    r12 = m[6, t, o] - m[10, t, o] - m[14, t, o]
    r13 = m[7, t, o] - m[11, t, o] - m[15, t, o]
    return r00 + r01 + r02, r01 - r02 - r03, r10 + r11 + r12, r11 - r12 - r13


@njit(cache=CACHE, inline="always")
def _pool_full_window(z00, z01, z10, z11, bias, add_bias, relu):
    """``_pool_window`` of a window wholly inside the output."""
    best = _MINUS_INF
    for val in (z00, z01, z10, z11):
        val = _activate(val, bias, add_bias, relu)
        best = val if val > best else best
    return best


@njit(cache=CACHE, inline="always")
def _pool_window(z00, z01, z10, z11, rows, cols, bias, add_bias, relu):
    """The max pooling of one 2x2 window of a convolution's outputs z (before bias and ReLU),
    of which the first ``rows`` rows and ``cols`` columns lie inside the output (a window at
    the bottom or right edge of an odd-sized output may hold one row or column): the maximum
    of ``_activate`` of each, in row-major order, a later value winning only if strictly
    greater, as in ``_maxpool_sample`` (so a NaN never wins, and the order of the unfused
    layers, ReLU then pooling, is kept)."""
    best = _activate(z00, bias, add_bias, relu)
    best = best if best > _MINUS_INF else _MINUS_INF  # a NaN never wins: the maximum starts at -inf
    if cols > 1:
        val = _activate(z01, bias, add_bias, relu)
        best = val if val > best else best
    if rows > 1:
        val = _activate(z10, bias, add_bias, relu)
        best = val if val > best else best
        if cols > 1:
            val = _activate(z11, bias, add_bias, relu)
            best = val if val > best else best
    return best


@njit(cache=CACHE, inline="always")
def _window_argmax(z00, z01, z10, z11, rows, cols, i, j, w_out, bias, add_bias, relu):
    """Where the maximum of ``_pool_window`` comes from, as ``_maxpool_sample`` keeps it: the
    flat index (i + p) * W_out + j + q of the window's first value (in row-major order) equal to
    it, (i, j) being the window's top-left output; 0 when no value beats -inf. That first equal
    value is the one that wins: a later value wins only if strictly greater. Written as
    selects, without branches, so that a loop over output channels vectorises (a loop of its
    own: the pooling's loops stay as at inference)."""
    best = _pool_window(z00, z01, z10, z11, rows, cols, bias, add_bias, relu)
    k = 3 if rows > 1 and cols > 1 else -1
    k = 2 if rows > 1 and _activate(z10, bias, add_bias, relu) == best else k
    k = 1 if cols > 1 and _activate(z01, bias, add_bias, relu) == best else k
    k = 0 if _activate(z00, bias, add_bias, relu) == best else k
    k = k if best > _MINUS_INF else -1
    return 0 if k < 0 else (i + k // 2) * w_out + j + k % 2


@njit(cache=CACHE)
def _padded_sample(x, b, g, xp):
    """Sample b of x with ``g.top`` rows and ``g.left`` columns of zeros before it and zeros
    after it up to xp's size: xp, filled, or x[b] itself when x[b] has that size already (no
    padding: the tutorial's convolutions), which saves the copy.

    x : (N, H, W*C); xp : (H_pad, W_pad*C). Winograd's tiles and the direct convolution's
    windows are then read without a test for the padding.
    """
    if g.top == 0 and g.left == 0 and x.shape[1] == xp.shape[0] and x.shape[2] == xp.shape[1]:
        return x[b]
    xp[:] = 0.0
    row_len, left = x.shape[2], g.left * g.c
    for hi in range(x.shape[1]):
        src = x[b, hi]
        dst = xp[g.top + hi, left:left + row_len]
        for k in range(row_len):
            dst[k] = src[k]
    return xp


@njit(cache=CACHE)
def _winograd_sample(x, b, u, bias, g, h_out, band_rows, xp, e, v, m, yb, argmax, add_bias,
                     relu, pool_tiles):
    """The 3x3, stride-1 convolution of x[b] (+ bias, then max(., 0)) by Winograd's
    F(2x2, 3x3), and with ``pool_tiles`` its 2x2, stride-2 max pooling: each 2x2 output tile
    is one pooling window, so the tile's maximum is taken while its outputs are in registers.
    :mod:`scratchconv.kernels.winograd` is the readable version of these steps,
    ``docs/winograd.md`` the math.

    x : (N, H, W*C_in); u : (16, C_in, C_out), the transformed filters U = G g G^T with the
    tile position (a, b) as a*4 + b first; xp : scratch for the padded sample,
    (2*th + 2, (2*tw + 2)*C_in) for th x tw tiles (``_padded_sample``). The tiles go ``band_rows`` tile rows at a
    time through the scratch e (``_winograd_input``), v : (16, band_rows*tw, C_in) and
    m : (16, band_rows*tw, C_out), so that v and m stay in cache. Output: with ``pool_tiles``
    yb is the pooled sample (Hp, Wp, C_out), Hp <= th and Wp <= tw, each window the maximum of
    its tile's outputs inside the H_out x W_out convolution, each with its bias and ReLU (the
    order of the unfused layers, so a NaN behaves as there); else yb is the convolution
    (H_out, W_out, C_out). With ``pool_tiles`` and an ``argmax`` (N, Hp, Wp, C_out), not None,
    argmax[b] receives each window's winner as ``_maxpool_sample`` gives it
    (``_window_argmax``); None compiles a version without it (numba prunes the branch).
    """
    c_out, w_out = m.shape[2], g.w_out
    tiles_h, tiles_w = xp.shape[0] // 2 - 1, xp.shape[1] // (2 * g.c) - 1
    xp = _padded_sample(x, b, g, xp)
    for ti0 in range(0, tiles_h, band_rows):
        ti1 = min(ti0 + band_rows, tiles_h)
        n_tiles = (ti1 - ti0) * tiles_w
        _winograd_input(xp, ti0, ti1, tiles_w, e, v)
        # The 16 products, (T, C_in) @ (C_in, C_out): all the multiplications by the filters.
        for a in range(16):
            np.dot(v[a, :n_tiles], u[a], m[a, :n_tiles])
        for t in range(n_tiles):
            ti, tj = ti0 + t // tiles_w, t % tiles_w
            i, j = 2 * ti, 2 * tj
            if pool_tiles:
                if ti < yb.shape[0] and tj < yb.shape[1]:
                    rows, cols = min(2, h_out - i), min(2, w_out - j)
                    out = yb[ti, tj]
                    if argmax is not None:  # the winners in a loop of their own (_window_argmax)
                        winners = argmax[b, ti, tj]
                        for o in range(c_out):
                            y00, y01, y10, y11 = _winograd_output(m, t, o)
                            winners[o] = _window_argmax(y00, y01, y10, y11, rows, cols, i, j,
                                                        w_out, bias[o], add_bias, relu)
                    if rows == 2 and cols == 2:  # the common case: a loop without tests
                        for o in range(c_out):
                            y00, y01, y10, y11 = _winograd_output(m, t, o)
                            out[o] = _pool_full_window(y00, y01, y10, y11, bias[o], add_bias, relu)
                        continue
                    for o in range(c_out):
                        y00, y01, y10, y11 = _winograd_output(m, t, o)
                        out[o] = _pool_window(y00, y01, y10, y11, rows, cols, bias[o], add_bias,
                                              relu)
                continue
            for o in range(c_out):
                tile = _winograd_output(m, t, o)
                for k in range(4):
                    if i + k // 2 < h_out and j + k % 2 < w_out:
                        yb[i + k // 2, j + k % 2, o] = _activate(tile[k], bias[o], add_bias,
                                                                 relu)


@njit(cache=CACHE, fastmath={"contract"})
def _direct_rows(xp, wt, r0, acc):
    """acc[k, j, o] = sum over p, q, c of xp[r0 + k + p, j + q, c] * w[p, q, c, o], k = 0, 1: two
    rows of the 3x3, stride-1 convolution of a padded sample, without the bias.

    xp : (H_pad, W_pad*C_in), the padded sample (``_padded_sample``), with rows r0 .. r0 + 3;
    wt : (9, C_in, C_out), the kernel with the tap p*3 + q first; acc : (2, W_out, C_out).
    For each input channel c and output pixel, the nine taps are written out as one sum, so the
    loop over the output channels o (contiguous in wt and acc) vectorises with each
    accumulator loaded and stored once per nine multiply-adds (once per eighteen weights' use:
    the two rows share them). Multiply-adds may be fused (``contract``), which rounds once.
    """
    c = wt.shape[1]
    acc[:] = 0.0
    for cc in range(c):
        w0, w1, w2, w3, w4, w5, w6, w7, w8 = (wt[0, cc], wt[1, cc], wt[2, cc], wt[3, cc], wt[4, cc],
                                              wt[5, cc], wt[6, cc], wt[7, cc], wt[8, cc])
        for j in range(acc.shape[1]):
            # Channel cc of the 4x3 input pixels the two outputs (r0, j), (r0 + 1, j) read.
            k0, k1, k2 = j * c + cc, (j + 1) * c + cc, (j + 2) * c + cc
            x00, x01, x02 = xp[r0, k0], xp[r0, k1], xp[r0, k2]
            x10, x11, x12 = xp[r0 + 1, k0], xp[r0 + 1, k1], xp[r0 + 1, k2]
            x20, x21, x22 = xp[r0 + 2, k0], xp[r0 + 2, k1], xp[r0 + 2, k2]
            x30, x31, x32 = xp[r0 + 3, k0], xp[r0 + 3, k1], xp[r0 + 3, k2]
            a0, a1 = acc[0, j], acc[1, j]
            for o in range(acc.shape[2]):
                # Both sums before either store: a store to acc might (for all numba knows)
                # change wt, so a sum after it would load the nine weights again.
                s0 = (x00 * w0[o] + x01 * w1[o] + x02 * w2[o] + x10 * w3[o] + x11 * w4[o]
                      + x12 * w5[o] + x20 * w6[o] + x21 * w7[o] + x22 * w8[o])
                s1 = (x10 * w0[o] + x11 * w1[o] + x12 * w2[o] + x20 * w3[o] + x21 * w4[o]
                      + x22 * w5[o] + x30 * w6[o] + x31 * w7[o] + x32 * w8[o])
                a0[o] += s0
                a1[o] += s1


@njit(cache=CACHE)
def _pool_row_pair(conv, k, i, h_out, bias, yb, argmax, b, add_bias, relu):
    """The 2x2, stride-2 max pooling of the convolution's output rows i and i + 1 (the row
    pair starting at row k of ``conv``, its rows of outputs before bias and ReLU), into the
    pooled row i // 2 of yb: each window's maximum of ``_activate`` (``_pool_window``), and
    unless ``argmax`` is None its winner into the same row of argmax[b] (``_window_argmax``).

    conv : (rows, W_out, C_out); yb : (Hp, Wp, C_out); argmax : (N, Hp, Wp, C_out) or None.
    Row i + 1, and the right column of the last window, may lie past the output (odd H_out or
    W_out); they are then left out.
    """
    rows, w_out = min(2, h_out - i), conv.shape[1]
    # At inference (no winners) the windows wholly inside the output first: their loop reads
    # fixed rows and columns, without the general loop's per-window sizes and tests.
    full = w_out // 2 if rows == 2 and argmax is None else 0
    for j in range(full):
        out = yb[i // 2, j]
        z00, z01 = conv[k, 2 * j], conv[k, 2 * j + 1]
        z10, z11 = conv[k + 1, 2 * j], conv[k + 1, 2 * j + 1]
        for o in range(out.shape[0]):
            out[o] = _pool_full_window(z00[o], z01[o], z10[o], z11[o], bias[o], add_bias, relu)
    for j in range(full, yb.shape[1]):
        out, z0, z1 = yb[i // 2, j], conv[k, 2 * j], conv[k + rows - 1, 2 * j]
        cols = min(2, w_out - 2 * j)
        # The right column and lower row (the same again when the window lacks it; unused).
        z01, z11 = conv[k, 2 * j + cols - 1], conv[k + rows - 1, 2 * j + cols - 1]
        if argmax is not None:
            winners = argmax[b, i // 2, j]
            for o in range(out.shape[0]):
                winners[o] = _window_argmax(z0[o], z01[o], z1[o], z11[o], rows, cols, i, 2 * j,
                                            w_out, bias[o], add_bias, relu)
        if rows == 2 and cols == 2:  # the common case: a loop without tests
            for o in range(out.shape[0]):
                out[o] = _pool_full_window(z0[o], z01[o], z1[o], z11[o], bias[o], add_bias, relu)
            continue
        for o in range(out.shape[0]):
            out[o] = _pool_window(z0[o], z01[o], z1[o], z11[o], rows, cols, bias[o], add_bias,
                                  relu)


@njit(cache=CACHE)
def _im2col_pooled_sample(x, b, w2, bias, g, h_out, col, band, yb, argmax, add_bias, relu):
    """The convolution of x[b] (+ bias, then max(., 0)) by im2col and one product, a band of
    whole output rows at a time, and its 2x2, stride-2 max pooling taken from each band while
    it is in cache (``_pool_row_pair``): the column matrix and the convolution's output of a
    band stay in cache, and the convolution's output of the sample is never written.

    x : (N, H, W*C_in); w2 : (KH*KW*C_in, C_out); col : (R*W_out, KH*KW*C_in) and
    band : (R*W_out, C_out) scratch for R output rows, R even; yb : the pooled sample
    (Hp, Wp, C_out), argmax[b] its winners (unless argmax is None; ``_pool_row_pair``).
    """
    w_out, c_out = g.w_out, w2.shape[1]
    band_rows = band.shape[0] // w_out
    for i0 in range(0, min(h_out, 2 * yb.shape[0]), band_rows):
        rows = min(band_rows, h_out - i0)
        n = rows * w_out
        _im2col(x, b, g, col[:n], i0)
        np.dot(col[:n], w2, band[:n])
        conv = band[:n].reshape((rows, w_out, c_out))
        for k in range(0, min(rows, 2 * yb.shape[0] - i0), 2):
            _pool_row_pair(conv, k, i0 + k, h_out, bias, yb, argmax, b, add_bias, relu)


@njit(cache=CACHE)
def _direct_sample(x, b, wt, bias, g, h_out, xp, acc, yb, argmax, add_bias, relu, pool_tiles):
    """The 3x3, stride-1 convolution of x[b] (+ bias, then max(., 0)) computed directly, two
    output rows at a time (``_direct_rows``), and with ``pool_tiles`` its 2x2, stride-2 max
    pooling of those two rows while they are in cache (``_pool_window``).

    x : (N, H, W*C_in); wt : (9, C_in, C_out); xp : scratch for the padded sample
    (``_padded_sample``), (2*th + 2, W_pad*C_in)
    for th = ceil(H_out / 2) row pairs; acc : (2, W_out, C_out) scratch. Output as in
    ``_winograd_sample``: the pooled sample (Hp, Wp, C_out) with ``pool_tiles``, else the
    convolution (H_out, W_out, C_out); argmax as there.
    """
    w_out = g.w_out
    xp = _padded_sample(x, b, g, xp)
    for i in range(0, h_out, 2):
        rows = min(2, h_out - i)
        if pool_tiles and i // 2 >= yb.shape[0]:
            break
        _direct_rows(xp, wt, i, acc)
        if pool_tiles:
            _pool_row_pair(acc, np.int64(0), i, h_out, bias, yb, argmax, b, add_bias, relu)
            continue
        for k in range(rows):
            for j in range(w_out):
                for o in range(acc.shape[2]):
                    yb[i + k, j, o] = _activate(acc[k, j, o], bias[o], add_bias, relu)


@njit(cache=CACHE, inline="always")
def _multiply_add4(x, w0, w1, w2, w3, sums):
    """sums + x * (w0, w1, w2, w3): one input number times the weights of four vectors of output
    channels, added to one output pixel's four vectors of sums (``vectors.fma``: rounded once)."""
    xs = vectors.fill(w0, x)
    return (vectors.fma(xs, w0, sums[0]), vectors.fma(xs, w1, sums[1]),
            vectors.fma(xs, w2, sums[2]), vectors.fma(xs, w3, sums[3]))


@njit(cache=CACHE, inline="always")
def _activate_vector(z, bias, add_bias, relu):
    """``_activate`` of a vector of outputs, lane by lane: z (+ bias, then max(., 0))."""
    if add_bias:
        z = vectors.add(z, bias)
    if relu:
        z = vectors.relu(z)
    return z


@njit(cache=CACHE)
def _blocked_sample(x, b, w2, bias, g, xp, yb, argmax, add_bias, relu):
    """The 3x3, stride-1 convolution of x[b] (+ bias, then max(., 0)) and its 2x2, stride-2 max
    pooling, computed directly with each pooling window's sums in vector registers
    (:mod:`scratchconv.kernels.vectors`).

    For each window and each block of 4 vectors of output channels (64 float32 or 32 float64
    channels), the window's 4 pixels' 16 vectors of sums stay in registers while the 9*C_in taps
    go by: a tap loads 4 vectors of weights and 4 input numbers and makes 16 multiply-adds. Only
    then are the sums activated and pooled as ``_pool_full_window`` does, lane by lane, and
    stored, once; unless ``argmax`` is None, each window's winner goes to argmax[b] too, as
    ``_window_argmax`` gives it (``vectors.store_winners``). ``_direct_rows``, which numba
    vectorises over the output channels alone, loads and stores its sums at every input channel.

    x : (N, H, W*C_in); w2 : (9*C_in, C_out), the kernel with the tap (p*3 + q)*C_in + c first;
    xp : scratch for the padded sample (``_padded_sample``); yb : the pooled sample
    (Hp, Wp, C_out), every window wholly inside the convolution's output, C_out a multiple of
    4 vectors (``_uses_blocks``); argmax : (N, Hp, Wp, C_out) or None. The sums add the taps in
    w2's order, each rounded once.
    """
    c, c_out = g.c, w2.shape[1]
    n = vectors.BYTES // w2.itemsize  # the numbers in a vector
    xp = _padded_sample(x, b, g, xp)
    zero, lowest = vectors.fill(w2, 0), vectors.fill(w2, _MINUS_INF)
    row_taps = 3 * c  # one kernel row's taps: 3 pixels of C_in channels, contiguous in xp's rows
    for i in range(yb.shape[0]):
        for j in range(yb.shape[1]):
            left = 2 * j * c  # the window's first pixel in xp's rows
            for o in range(0, c_out, 4 * n):
                s00 = s01 = s10 = s11 = (zero, zero, zero, zero)  # the window's 4 pixels
                for p in range(3):
                    upper, lower = xp[2 * i + p], xp[2 * i + 1 + p]
                    for m in range(row_taps):
                        k = (p * row_taps + m) * c_out + o
                        w0, w1 = vectors.load(w2, k), vectors.load(w2, k + n)
                        w2_, w3 = vectors.load(w2, k + 2 * n), vectors.load(w2, k + 3 * n)
                        s00 = _multiply_add4(upper[left + m], w0, w1, w2_, w3, s00)
                        s01 = _multiply_add4(upper[left + c + m], w0, w1, w2_, w3, s01)
                        s10 = _multiply_add4(lower[left + m], w0, w1, w2_, w3, s10)
                        s11 = _multiply_add4(lower[left + c + m], w0, w1, w2_, w3, s11)
                out = (i * yb.shape[1] + j) * c_out + o
                first = 2 * i * g.w_out + 2 * j  # the window's first output in the output plane
                for v in range(4):
                    bias_v = vectors.load(bias, o + v * n)
                    z00 = _activate_vector(s00[v], bias_v, add_bias, relu)
                    z01 = _activate_vector(s01[v], bias_v, add_bias, relu)
                    z10 = _activate_vector(s10[v], bias_v, add_bias, relu)
                    z11 = _activate_vector(s11[v], bias_v, add_bias, relu)
                    best = vectors.better(vectors.better(vectors.better(
                        vectors.better(lowest, z00), z01), z10), z11)
                    vectors.store(yb, out + v * n, best)
                    if argmax is not None:
                        vectors.store_winners(argmax[b], out + v * n, first, g.w_out, best,
                                              z00, z01, z10, z11)


@njit(cache=CACHE)
def _winograd_tile_gradient(dz, tiles_w, h_out, dm):
    """dm[a*4 + b', t, :] = (A dY A^T)[a, b'] for dY the 2x2 tile t of dz (zeros past H_out,
    W_out): the gradient of the 16 products M of ``_winograd_sample``.

    dz : (H_out*W_out, C_out), one sample's output gradient; dm : (16, T, C_out). A = A_T^T
    has the columns (1, 1, 1, 0) and (0, 1, -1, -1), so a row (y0, y1) of dY becomes
    (y0, y0 + y1, y0 - y1, -y1), and so do the columns of A dY.
    """
    w_out = dz.shape[0] // h_out
    zero = np.zeros(1, dz.dtype)[0]
    for t in range(dm.shape[1]):
        i, j = 2 * (t // tiles_w), 2 * (t % tiles_w)
        down, right = i + 1 < h_out, j + 1 < w_out
        r = i * w_out + j
        for o in range(dz.shape[1]):
            y00 = dz[r, o]
            y01 = dz[r + 1, o] if right else zero
            y10 = dz[r + w_out, o] if down else zero
            y11 = dz[r + w_out + 1, o] if down and right else zero
            # A dY: the rows (y0j, y0j + y1j, y0j - y1j, -y1j) for the columns j = 0, 1; then
            # each row along A^T the same way.
            _winograd_a_row(y00, y01, dm, 0, t, o)
            _winograd_a_row(y00 + y10, y01 + y11, dm, 4, t, o)
            _winograd_a_row(y00 - y10, y01 - y11, dm, 8, t, o)
            _winograd_a_row(-y10, -y11, dm, 12, t, o)


@njit(cache=CACHE, inline="always")
def _winograd_a_row(z0, z1, dm, a, t, o):
    """dm[a:a + 4, t, o] = (z0, z0 + z1, z0 - z1, -z1): a row (z0, z1) times A^T."""
    dm[a, t, o] = z0
    dm[a + 1, t, o] = z0 + z1
    dm[a + 2, t, o] = z0 - z1
    dm[a + 3, t, o] = -z1


@njit(cache=CACHE)
def _winograd_untile(dv, b, g, tiles_w, dd, dx):
    """dx[b] = the sum over tiles of dd = B dV B^T, each added onto the 4x4 input tile it came
    from (padding dropped): the transpose of ``_padded_sample`` and ``_winograd_input``.

    dv : (16, T, C_in), dV of every tile; dd : (4, 4, C_in) scratch (or longer: only the first
    C_in of its last axis are used); dx : (N, H, W*C_in).
    B = B_T^T: a column (v0, v1, v2, v3) becomes (v0, v1 - v2 + v3, v2 + v1 - v0, -v3).
    Every dx entry receives its terms in tile order.
    """
    c, top, left = g.c, g.top, g.left
    _, h, row_len = dx.shape
    wd = row_len // c
    dx[b] = 0.0
    for t in range(dv.shape[1]):
        ti, tj = t // tiles_w, t % tiles_w
        # B dV, down each column, into dd; then (B dV) B^T along each row, in place.
        for q in range(4):
            for k in range(c):
                v0, v1, v2, v3 = dv[q, t, k], dv[4 + q, t, k], dv[8 + q, t, k], dv[12 + q, t, k]
                dd[0, q, k], dd[1, q, k], dd[2, q, k], dd[3, q, k] = (v0, v1 - v2 + v3,
                                                                      v2 + v1 - v0, -v3)
        for p in range(4):
            for k in range(c):
                v0, v1, v2, v3 = dd[p, 0, k], dd[p, 1, k], dd[p, 2, k], dd[p, 3, k]
                dd[p, 0, k], dd[p, 1, k], dd[p, 2, k], dd[p, 3, k] = (v0, v1 - v2 + v3,
                                                                      v2 + v1 - v0, -v3)
        for p in range(4):
            hi = 2 * ti + p - top
            if hi < 0 or hi >= h:
                continue
            for q in range(4):
                wi = 2 * tj + q - left
                if 0 <= wi < wd:
                    dst = dx[b, hi, wi * c:(wi + 1) * c]
                    src = dd[p, q]
                    for k in range(c):
                        dst[k] += src[k]


@njit(cache=CACHE)
def _relu_mask(dy, y, dz):
    """dz = dy * (y > 0), the fused ReLU's backward through its output y.

    dy * 0 rather than 0, as in ``relu_backward``: -0.0 for a negative dy, NaN for an infinite
    one. dy, y, dz : (H_out*W_out, C_out).
    """
    for r in range(dz.shape[0]):
        for o in range(dz.shape[1]):
            v = dy[r, o]
            dz[r, o] = v if y[r, o] > 0 else v * 0


@njit(cache=CACHE)
def _unpool(dy, y, argmax, relu, dz):
    """dz = maxpool_backward(dy * (y > 0), argmax) (without ReLU: of dy): the gradient of a
    convolution's output when a max pooling follows it.

    dy, y, argmax : the pooling's gradient, output and winners, (Hp*Wp, C_out); dz : the
    convolution's output gradient, (H_out*W_out, C_out). At a window's winner the convolution's
    output equals the pooled one, so the ReLU's mask can be read from y; elsewhere dz is 0.
    """
    dz[:] = 0.0
    for r in range(dy.shape[0]):
        for o in range(dz.shape[1]):
            v = dy[r, o]
            if relu and not y[r, o] > 0:
                v = v * 0
            dz[argmax[r, o], o] += v


@njit(cache=CACHE)
def _output_gradient(dy, relu_y, argmax, b, relu, pooled, dz):
    """Step 1 for sample b: the gradient of the convolution's output, ``_unpool``-ed or
    ``_relu_mask``-ed into the scratch dz and returned, or dy[b] itself when neither applies."""
    if pooled:
        _unpool(dy[b], relu_y[b], argmax[b], relu, dz)
        return dz
    if relu:
        _relu_mask(dy[b], relu_y[b], dz)
        return dz
    return dy[b]


@njit(cache=CACHE)
def _bias_sum(dz, db):
    """db[o] = sum over pixels r of dz[r, o], in r order, in float64 (db's dtype)."""
    db[:] = 0.0
    for r in range(dz.shape[0]):
        for o in range(dz.shape[1]):
            db[o] += dz[r, o]


@njit(cache=CACHE)
def _weight_gradient(x, b, dz, g, col, dw):
    """dw = im2col(x[b])^T @ dz, sample b's share of the kernel's gradient (KH*KW*C_in, C_out)."""
    _im2col(x, b, g, col, np.int64(0))
    np.dot(col.T, dz, dw)


@njit(cache=CACHE, inline="always")
def _block_output(i, j, h_out, w_out):
    """Output (i, j) of a 2x2 block as (flat index i*W_out + j, or -1 past the output's edge,
    which no winner has; and the offsets of its window in the padded sample, the nearest
    output's when past the edge, so that reading it stays inside)."""
    flat = i * w_out + j if i < h_out and j < w_out else -1
    return flat, min(i, h_out - 1), min(j, w_out - 1)


@njit(cache=CACHE, fastmath={"contract"})
def _winner_gradients(dy, y, argmax, relu, xp, g, h_out, w_pooled, dw, db, need_db):
    """Sample b's kernel and bias gradients when a max pooling follows the convolution, from
    the pooling's gradient, without the convolution's (``_unpool``) or a column matrix.

    Only a window's winner has a gradient: with v = dy[r, o] (times 0 where not y[r, o] > 0,
    with ReLU) and the winner p = argmax[r, o] = i*W_out + j,
    ``dw[:, o] += v * im2col(x[b])[p]`` (the window's KH runs of KW*C_in inputs, read from
    the padded sample xp) and ``db[o] += v`` in float64, window by window. A 2x2, stride-2
    pooling's window r = (pi, pj) has its winners among the four outputs of the block at
    (2*pi, 2*pj): the window's v are split by winner into dz[m] (v where the winner is the
    block's m-th output in row-major order, else 0), and
    ``dw[k, :] += c0 * dz[0] + c1 * dz[1] + c2 * dz[2] + c3 * dz[3]``, c_m the m-th output's
    column entry k, read from the padded sample: a loop over the output channels that
    vectorises, with neither the column matrix nor the convolution's gradient built (the
    same multiplications as ``col^T @ dz``, in a loop that runs faster than BLAS's product on
    a first layer's few columns). A winner outside the block (other poolings) is added on its
    own.

    dy, y, argmax : (Hp*Wp, C_out), Wp = ``w_pooled``; xp : (H_pad, W_pad*C_in),
    ``_padded_sample``; dw : (KH*KW*C_in, C_out); db : (C_out,) float64, filled only if
    ``need_db``. The sums run in arrays of the thread's own, copied to dw and db at the end:
    summed in place, the samples' parts next to each other in memory (two threads' samples)
    shared cache lines that each window's update moved between the cores, and two threads
    took as long as one.
    """
    c, kh, kw, sh, sw, _, _, w_out = g
    run = kw * c
    c_out = dy.shape[1]
    dz = np.empty((4, c_out), dy.dtype)
    dw_out, db_out = dw, db
    dw = np.zeros(dw_out.shape, dw_out.dtype)
    db = np.zeros(c_out, np.float64)
    for r in range(dy.shape[0]):
        v_row, y_row, a_row = dy[r], y[r], argmax[r]
        i0, j0 = 2 * (r // w_pooled), 2 * (r % w_pooled)
        p0, i_0, j_0 = _block_output(i0, j0, h_out, w_out)
        p1, i_1, j_1 = _block_output(i0, j0 + 1, h_out, w_out)
        p2, i_2, j_2 = _block_output(i0 + 1, j0, h_out, w_out)
        p3, i_3, j_3 = _block_output(i0 + 1, j0 + 1, h_out, w_out)
        misses = 0
        for o in range(c_out):
            v = v_row[o]
            if relu and not y_row[o] > 0:
                v = v * _ZERO
            if need_db:
                db[o] += v
            a = a_row[o]
            dz[0, o] = v if a == p0 else _ZERO
            dz[1, o] = v if a == p1 else _ZERO
            dz[2, o] = v if a == p2 else _ZERO
            dz[3, o] = v if a == p3 else _ZERO
            misses += 0 if a == p0 or a == p1 or a == p2 or a == p3 else 1
        dz0, dz1, dz2, dz3 = dz[0], dz[1], dz[2], dz[3]
        for q in range(kh):
            x0 = xp[i_0 * sh + q, j_0 * sw * c:j_0 * sw * c + run]
            x1 = xp[i_1 * sh + q, j_1 * sw * c:j_1 * sw * c + run]
            x2 = xp[i_2 * sh + q, j_2 * sw * c:j_2 * sw * c + run]
            x3 = xp[i_3 * sh + q, j_3 * sw * c:j_3 * sw * c + run]
            for e in range(run):
                c0, c1, c2, c3 = x0[e], x1[e], x2[e], x3[e]
                dw_k = dw[q * run + e]
                for o in range(c_out):
                    dw_k[o] = dw_k[o] + c0 * dz0[o] + c1 * dz1[o] + c2 * dz2[o] + c3 * dz3[o]
        if misses:
            for o in range(c_out):
                a = a_row[o]
                if a == p0 or a == p1 or a == p2 or a == p3:
                    continue
                v = v_row[o]
                if relu and not y_row[o] > 0:
                    v = v * _ZERO
                i, j = a // w_out, a % w_out
                for q in range(kh):
                    for e in range(run):
                        dw[q * run + e, o] += v * xp[i * sh + q, j * sw * c + e]
    dw_out[:] = dw
    if need_db:
        db_out[:] = db


@njit(cache=CACHE)
def _input_gradient(dz, w2t, b, g, dcol, dx):
    """dx[b] = col2im(dz @ w2^T), sample b's input gradient; dcol is scratch of col's shape."""
    dx[b] = 0.0
    np.dot(dz, w2t, dcol)
    _col2im(dcol, b, g, dx)


# ----- the steps over a batch, samples dealt to threads ---------------------------------------

@intrinsic
def _next_sample(typingctx, counter):
    """The next sample for a thread to take: counter[0], incremented in the same atomic step
    (counter: a one-entry int64 array the wrapper sets to 0). Each thread takes samples until
    they run out, so a thread that the machine holds back leaves its samples to the others
    instead of every thread waiting for it at the end of the kernel; which thread computes a
    sample does not change its bits."""
    def codegen(context, builder, signature, args):
        entry = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.atomic_rmw("add", entry, context.get_constant(types.int64, 1), "monotonic")
    return types.int64(counter), codegen


@njit(parallel=True, cache=CACHE)
def _conv_forward(counter, x, w2, bias, g, cols, y, add_bias, relu):
    """y[n] = im2col(x[n]) @ w2 (+ bias, then max(., 0)) for every sample n.

    x : (N, H, W*C_in); w2 : (KH*KW*C_in, C_out); y : (N, H_out*W_out, C_out);
    cols : (T, H_out*W_out, KH*KW*C_in), one scratch matrix per thread t; the threads take
    the samples one at a time from ``counter`` (``_next_sample``).
    """
    for t in prange(cols.shape[0]):
        # np.int64(t): numba types the loop first as a range (t int64), then as a parallel
        # loop (t uint64), compiling the thread share for both; _deal passes an int64 too.
        _conv_forward_thread(np.int64(t), counter, x, w2, bias, g, cols, y, add_bias, relu)


@njit(cache=CACHE)
def _conv_forward_thread(t, counter, x, w2, bias, g, cols, y, add_bias, relu):
    """Thread t's share of ``_conv_forward``: the samples it takes from ``counter``."""
    b = _next_sample(counter)
    while b < x.shape[0]:
        _conv_sample(x, b, w2, bias, g, cols[t], y[b], add_bias, relu)
        b = _next_sample(counter)


# How ``_conv_maxpool`` computes the convolution (in training: IM2COL or WINOGRAD, by
# ``uses_winograd``; at inference: ``inference_method``); and in both BLOCKED, the direct
# convolution with its sums in vector registers, where ``inference_method`` says DIRECT and its
# output fits the blocks (``_uses_blocks``).
IM2COL, WINOGRAD, DIRECT, BLOCKED = 0, 1, 2, 3


@njit(parallel=True, cache=CACHE)
def _conv_maxpool(counter, x, w2, bias, g, h_out, pool, cols, ys, wf, band_rows, xps, es, vs, ms,
                  add_bias, relu, method, pool_tiles, y, argmax):
    """The forward of a convolution and its max pooling, each sample's convolution pooled while
    it is in cache (``_conv_maxpool_sample``): the convolution's output is never written to
    memory. In training ``argmax`` receives where each maximum came from, as
    ``_maxpool_sample`` gives it; at inference it is None (only a backward needs it), which
    compiles a version without it.

    x : (N, H, W*C_in); w2 .. ms and add_bias .. pool_tiles: the convolution and pooling as
    ``_fused_setup`` gives them (``conv`` and ``flags``, one by one: numba's parallel loop does
    not take tuples holding arrays); y, argmax : the pooled output (N, Hp, Wp, C_out) and its
    winners, or None. The threads take the samples one at a time from ``counter``
    (``_next_sample``).
    """
    for t in prange(ys.shape[0]):  # np.int64(t): as in _conv_forward
        _conv_maxpool_thread(np.int64(t), counter, x, w2, bias, g, h_out, pool, cols, ys, wf,
                             band_rows, xps, es, vs, ms, add_bias, relu, method, pool_tiles, y,
                             argmax)


@njit(cache=CACHE)
def _conv_maxpool_thread(t, counter, x, w2, bias, g, h_out, pool, cols, ys, wf, band_rows, xps,
                         es, vs, ms, add_bias, relu, method, pool_tiles, y, argmax):
    """Thread t's share of ``_conv_maxpool``: the samples it takes from ``counter``."""
    conv = (w2, bias, g, h_out, pool, cols, ys, wf, band_rows, xps, es, vs, ms)
    flags = (add_bias, relu, method, pool_tiles)
    b = _next_sample(counter)
    while b < x.shape[0]:
        _conv_maxpool_sample(t, x, b, conv, flags, y[b], argmax)
        b = _next_sample(counter)


@njit(cache=CACHE)
def _conv_maxpool_sample(t, x, b, conv, flags, yb, argmax):
    """Sample b's convolution and max pooling on thread t, into yb (Hp, Wp, C_out), and unless
    ``argmax`` is None its winners into argmax[b].

    conv : (w2, bias, g, h_out, pool, cols, ys, wf, band_rows, xps, es, vs, ms) and
    flags : (add_bias, relu, method, pool_tiles), as ``_fused_setup`` makes them;
    pool : (ph, pw, sh, sw, top, left) of the pooling. ``method`` WINOGRAD: the convolution is
    ``_winograd_sample`` (wf = U, band_rows and the per-thread scratch xps, es, vs, ms as it
    takes them); DIRECT: ``_direct_sample`` (wf = the kernel as (9, C_in, C_out), xps, and ms
    as its (T, 2, W_out, C_out) scratch); both with ``pool_tiles`` (a 2x2, stride-2 pooling
    whose windows are their 2x2 output blocks) also pool, into yb. BLOCKED (only with
    ``pool_tiles``): ``_blocked_sample``, from w2 and the padded sample xps.
    IM2COL with ``pool_tiles``: ``_im2col_pooled_sample``, by im2col and one product a band of
    output rows at a time (cols and ys the per-thread scratch of a band), pooled from the band.
    Otherwise the convolution goes to the per-thread buffer ys[t] (IM2COL: by im2col and one
    product) and is pooled from there (``_maxpool_sample``). Arrays a path does not use are
    placeholders (ys of shape (T, 0, C_out) when Winograd or the direct kernel pools).
    """
    w2, bias, g, h_out, pool, cols, ys, wf, band_rows, xps, es, vs, ms = conv
    add_bias, relu, method, pool_tiles = flags
    ph, pw, psh, psw, ptop, pleft = pool
    buf = ys[t]
    z = buf.reshape((buf.shape[0] // g.w_out, g.w_out, buf.shape[1]))  # (H_out, W_out, C_out)
    out = yb if pool_tiles else z
    if method == WINOGRAD:
        _winograd_sample(x, b, wf, bias, g, h_out, band_rows, xps[t], es[t], vs[t], ms[t], out,
                         argmax, add_bias, relu, pool_tiles)
    elif method == DIRECT:
        _direct_sample(x, b, wf, bias, g, h_out, xps[t], ms[t], out, argmax, add_bias, relu,
                       pool_tiles)
    elif method == BLOCKED:  # only with pool_tiles
        _blocked_sample(x, b, w2, bias, g, xps[t], out, argmax, add_bias, relu)
    elif pool_tiles:
        _im2col_pooled_sample(x, b, w2, bias, g, h_out, cols[t], buf, out, argmax, add_bias,
                              relu)
    else:
        _conv_sample(x, b, w2, bias, g, cols[t], buf, add_bias, relu)
    if not pool_tiles:
        if argmax is None:  # a plain test of the argument, which numba prunes
            _maxpool_sample(z, ph, pw, psh, psw, ptop, pleft, yb, None)
        else:
            _maxpool_sample(z, ph, pw, psh, psw, ptop, pleft, yb, argmax[b])


@njit(parallel=True, cache=CACHE)
def _conv_maxpool_pair(counter, x, w2, bias, g, h_out, pool, cols, ys, wf, band_rows, xps, es, vs,
                       ms, add_bias, relu, method, pool_tiles, between, w2_, bias_, g_, h_out_,
                       pool_, cols_, ys_, wf_, band_rows_, xps_, es_, vs_, ms_, add_bias_, relu_,
                       method_, pool_tiles_, y):
    """Two convolutions, each with its max pooling, at inference, sample by sample: each thread
    runs a sample through the first pair into its own ``between[t]`` (the first pooled output,
    (Hp, Wp*C), which stays in the thread's cache) and from there through the second into
    y[b]. The first pooled output of the batch is never written to memory, and the threads
    start and wait for each other once for both pairs.

    x : (N, H, W*C_in); w2 .. pool_tiles the first pair as ``_conv_maxpool`` takes it,
    w2_ .. pool_tiles_ the second; between : (T, Hp, Wp*C) scratch; y : the second pooled
    output (N, Hp2, Wp2, C_out2).
    """
    for t in prange(between.shape[0]):  # np.int64(t): as in _conv_forward
        _conv_maxpool_pair_thread(np.int64(t), counter, x, w2, bias, g, h_out, pool, cols, ys,
                                  wf, band_rows, xps, es, vs, ms, add_bias, relu, method,
                                  pool_tiles, between, w2_, bias_, g_, h_out_, pool_, cols_, ys_,
                                  wf_, band_rows_, xps_, es_, vs_, ms_, add_bias_, relu_, method_,
                                  pool_tiles_, y)


@njit(cache=CACHE)
def _conv_maxpool_pair_thread(t, counter, x, w2, bias, g, h_out, pool, cols, ys, wf, band_rows,
                              xps, es, vs, ms, add_bias, relu, method, pool_tiles, between, w2_,
                              bias_, g_, h_out_, pool_, cols_, ys_, wf_, band_rows_, xps_, es_,
                              vs_, ms_, add_bias_, relu_, method_, pool_tiles_, y):
    """Thread t's share of ``_conv_maxpool_pair``: the samples it takes from ``counter``."""
    first = (w2, bias, g, h_out, pool, cols, ys, wf, band_rows, xps, es, vs, ms)
    second = (w2_, bias_, g_, h_out_, pool_, cols_, ys_, wf_, band_rows_, xps_, es_, vs_, ms_)
    first_flags, second_flags = (add_bias, relu, method, pool_tiles), (add_bias_, relu_, method_,
                                                                       pool_tiles_)
    rows = between[t:t + 1]  # the first pooled output as the second's input, one sample
    c = w2.shape[1]
    h = between[t].reshape((between.shape[1], between.shape[2] // c, c))  # the same, as (Hp, Wp, C)
    b = _next_sample(counter)
    while b < x.shape[0]:
        _conv_maxpool_sample(t, x, b, first, first_flags, h, None)
        _conv_maxpool_sample(t, rows, np.int64(0), second, second_flags, y[b], None)
        b = _next_sample(counter)


@njit(parallel=True, cache=CACHE)
def _conv_backward(counter, dy, relu_y, argmax, x, w2t, g, h_out, w_pooled, cols, dzs, xps,
                   db_parts, dw_parts, dx, *, relu, pooled, need_db, need_dw, need_dx, winners):
    """The whole backward of a convolution, the steps 1-4 of the module's docstring for each
    sample n while its dz is in cache: dz[n] (``_relu_mask`` or ``_unpool``),
    ``db_parts[n]`` (``_bias_sum``), ``dw_parts[n]`` (``_weight_gradient``), ``dx[n]``
    (``_input_gradient``), each only if asked for; the caller sums the parts over n.

    dy, relu_y : (N, H_out*W_out, C_out), or (N, Hp*Wp, C_out) with argmax when ``pooled``
    (the following max pooling's gradient, output and winners); x : (N, H, W*C_in);
    w2t : (C_out, KH*KW*C_in); db_parts : (N, C_out) float64; dw_parts : (N, KH*KW*C_in, C_out);
    dx : (N, H, W*C_in). Scratch, one per thread t (which takes the samples one at a time
    from ``counter``, ``_next_sample``): cols (T, H_out*W_out, KH*KW*C_in), the column matrix
    and then dx's columns; dzs
    (T, H_out*W_out, C_out), the masked gradient. Arrays not asked for are not touched (the
    caller passes placeholders). With ``winners`` (``pooled``, dw asked for and dx not), dw and
    db come from ``_winner_gradients`` instead, with h_out (the convolution's H_out), w_pooled (Wp) and its
    scratch xps (T, H_pad, W_pad*C_in), the padded sample (``_padded_shape``).
    """
    for t in prange(cols.shape[0]):  # np.int64(t): as in _conv_forward
        _conv_backward_thread(np.int64(t), counter, dy, relu_y, argmax, x, w2t, g, h_out,
                              w_pooled, cols, dzs, xps, db_parts, dw_parts, dx, relu, pooled,
                              need_db, need_dw, need_dx, winners)


@njit(cache=CACHE)
def _conv_backward_thread(t, counter, dy, relu_y, argmax, x, w2t, g, h_out, w_pooled, cols, dzs,
                          xps, db_parts, dw_parts, dx, relu, pooled, need_db, need_dw,
                          need_dx, winners):
    """Thread t's share of ``_conv_backward``: the samples it takes from ``counter``."""
    col = cols[t]
    b = _next_sample(counter)
    while b < dy.shape[0]:
        if winners:
            _winner_gradients(dy[b], relu_y[b], argmax[b], relu, _padded_sample(x, b, g, xps[t]),
                              g, h_out, w_pooled, dw_parts[b], db_parts[b], need_db)
        else:
            dz = _output_gradient(dy, relu_y, argmax, b, relu, pooled, dzs[t])
            if need_db:
                _bias_sum(dz, db_parts[b])
            if need_dw:
                _weight_gradient(x, b, dz, g, col, dw_parts[b])
            if need_dx:
                _input_gradient(dz, w2t, b, g, col, dx)
        b = _next_sample(counter)


@njit(parallel=True, cache=CACHE)
def _winograd_backward(counter, dy, relu_y, argmax, x, ut, g, h_out, tiles_w, dzs, dms, xps, es,
                       vs, db_parts, du_parts, dx, *, relu, pooled, need_db, need_dw, need_dx):
    """The backward of a 3x3, stride-1 convolution by Winograd's F(2x2, 3x3), for each sample
    n while its gradient is in cache (:mod:`scratchconv.kernels.winograd` is the readable
    version, ``docs/winograd.md`` the math): dz[n] and ``db_parts[n]`` as in
    ``_conv_backward``; dM = A dY A^T of every tile (``_winograd_tile_gradient``); then

    - ``du_parts[n, a] = V[a]^T @ dM[a]`` for the 16 tile positions a, V = B^T d B of the
      sample's input tiles (``_padded_sample``, ``_winograd_input``): the caller sums the parts
      over n and turns dU into dw = G^T dU G;
    - ``dV[a] = dM[a] @ U[a]^T``, and dx[n] = the tiles dd = B dV B^T added back
      (``_winograd_untile``).

    x : (N, H, W*C_in); ut : (16, C_out, C_in), U[a]^T; du_parts : (N, 16, C_in, C_out);
    dx : (N, H, W*C_in); dy, relu_y, argmax, db_parts and ``counter`` as in
    ``_conv_backward``. Scratch, one per thread: dzs (T, H_out*W_out, C_out), dms
    (T, 16, tiles, C_out), xps the padded sample (T, 2*th + 2, (2*tw + 2)*C_in), es
    (T, 4, 4, tw*C_in), vs (T, 16, tiles, C_in), which holds V for dw and then dV for dx.
    """
    for t in prange(dms.shape[0]):  # np.int64(t): as in _conv_forward
        _winograd_backward_thread(np.int64(t), counter, dy, relu_y, argmax, x, ut, g, h_out,
                                  tiles_w, dzs, dms, xps, es, vs, db_parts, du_parts, dx, relu,
                                  pooled, need_db, need_dw, need_dx)


@njit(cache=CACHE)
def _winograd_backward_thread(t, counter, dy, relu_y, argmax, x, ut, g, h_out, tiles_w, dzs, dms,
                              xps, es, vs, db_parts, du_parts, dx, relu, pooled, need_db,
                              need_dw, need_dx):
    """Thread t's share of ``_winograd_backward``: the samples it takes from ``counter``."""
    dm, v = dms[t], vs[t]
    b = _next_sample(counter)
    while b < dy.shape[0]:
        dz = _output_gradient(dy, relu_y, argmax, b, relu, pooled, dzs[t])
        if need_db:
            _bias_sum(dz, db_parts[b])
        _winograd_tile_gradient(dz, tiles_w, h_out, dm)
        if need_dw:
            xp = _padded_sample(x, b, g, xps[t])
            _winograd_input(xp, np.int64(0), xps.shape[1] // 2 - 1, tiles_w, es[t], v)
            for a in range(16):
                np.dot(v[a].T, dm[a], du_parts[b, a])
        if need_dx:
            for a in range(16):
                np.dot(dm[a], ut[a], v[a])
            _winograd_untile(v, b, g, tiles_w, es[t], dx)
        b = _next_sample(counter)


@njit(cache=CACHE, inline="always")
def _sum_row(parts, out, r):
    """out[r] = parts[0, r] + parts[1, r] + ... in that order."""
    for o in range(out.shape[1]):
        out[r, o] = 0.0
    for b in range(parts.shape[0]):
        for o in range(out.shape[1]):
            out[r, o] += parts[b, r, o]


@njit(cache=CACHE)
def _sum_rows(parts, out):
    for r in range(out.shape[0]):
        _sum_row(parts, out, r)


@njit(parallel=True, cache=CACHE)
def _sum_rows_parallel(parts, out):
    for r in prange(out.shape[0]):
        _sum_row(parts, out, r)


def _sum_over_samples(parts, out):
    """out = parts[0] + parts[1] + ... in that order, for every entry; parts : (N, R, C),
    out : (R, C). Rows on all threads when parts is large (:func:`_on_all_threads`)."""
    (_sum_rows_parallel if _on_all_threads(parts.size) else _sum_rows)(parts, out)


# ----- the public functions: shapes in, compiled steps, shapes out ----------------------------

# Elementwise work (Adam's update, ReLU's backward, the sums of per-sample parts) runs on all
# threads from this many entries on, on the calling thread below: waking the other threads costs
# more than a small array's work, and a training step has many small arrays (biases, small
# kernels, the dense layers' activations). ``python -m benchmarks.choices --only parallel``
# times apply_gradients and the whole step inside batch-1 train_on_batch steps (2-core Xeon,
# 2026-12-01, three runs starting at load average 5.6, 4.9 and 1.8, ms, all elementwise
# work on all threads / all on one / this threshold): apply_gradients 5.84 / 3.10 / 2.83,
# 0.67 / 2.22 / 0.81, 1.27 / 2.45 / 1.71; the whole step 13.88 / 8.71 / 7.56, 4.74 / 6.12 /
# 4.72, 8.40 / 6.72 / 6.34. With the second core free, Adam alone gains from it, but the
# whole step was fastest (or even) with the threshold in every run.
PARALLEL_MIN_ENTRIES = 1 << 17


def _deal(kernel, thread_share, n, *args, **flags):
    """``kernel(counter, *args, **flags)``, whose threads take the n samples one at a time
    from the counter (``_next_sample``), or, for a single sample, its
    ``thread_share(0, counter, *args, **flags)`` on the calling thread: one thread would do
    all the work anyway, and the parallel region would only wake the others (a batch-1 step
    runs five such regions). The results are the same bits either way."""
    counter = np.zeros(1, np.int64)
    if n > 1:
        kernel(counter, *args, **flags)
    else:
        thread_share(0, counter, *args, **flags)


def _on_all_threads(entries):
    """Whether elementwise work over this many entries runs on all threads (the results are
    the same bits either way: each entry is computed by one thread in a fixed order)."""
    return entries >= PARALLEL_MIN_ENTRIES


def _rows(a):
    """A view of the contiguous NHWC array a as (N, H, W*C): one image row per line."""
    n, h, w, c = a.shape
    return a.reshape(n, h, w * c)


def _pixels(dy):
    """A view of the contiguous NHWC array dy as (N, H*W, C): one pixel per line."""
    n, h, w, c = dy.shape
    return dy.reshape(n, h * w, c)


def _geometry(x_shape, w_shape, strides, pads):
    """The Geometry of a convolution, its output's H_out, and the scratch matrices' shape
    ``(T, H_out*W_out, KH*KW*C_in)`` with T = numba's current thread count."""
    _, h, wd, _ = x_shape
    kh, kw, c_in, _ = w_shape
    (top, bottom), (left, right) = pads
    sh, sw = strides
    h_out = padded_output_size(h, kh, sh, top, bottom)
    w_out = padded_output_size(wd, kw, sw, left, right)
    cols_shape = (threads.count(), h_out * w_out, kh * kw * c_in)
    return Geometry(c_in, kh, kw, sh, sw, top, left, w_out), h_out, cols_shape


def _forward_arguments(x, w, b, strides, pads):
    """What ``conv2d_forward`` passes on: x contiguous, the kernel as a (KH*KW*C_in, C_out)
    matrix, then as ``_kernel_arguments``."""
    x = np.ascontiguousarray(x)
    w, bias, g, h_out, cols_shape = _kernel_arguments(x.shape, x.dtype, w, b, strides, pads)
    return x, w.reshape(-1, w.shape[3]), bias, g, h_out, cols_shape


def _kernel_arguments(x_shape, dtype, w, b, strides, pads):
    """The kernel w contiguous in ``dtype``, the bias (zeros when None), the Geometry, H_out
    and the scratch matrices' shape, for a convolution of an input of ``x_shape``."""
    w = np.ascontiguousarray(w, dtype=dtype)
    c_out = w.shape[3]
    g, h_out, cols_shape = _geometry(x_shape, w.shape, strides, pads)
    bias = np.zeros(c_out, dtype) if b is None else np.ascontiguousarray(b, dtype=dtype)
    return w, bias, g, h_out, cols_shape


def conv2d_forward(x, w, b, strides, pads, relu=False):
    """Cross-correlation, optionally with fused ReLU; see ``numpy_kernels.conv2d_forward``.

    x : ndarray of shape (n, h, w, c_in); w : (kh, kw, c_in, c_out); b : (c_out,) or None.
    Returns y : ndarray of shape (n, h_out, w_out, c_out), ``x``'s dtype.
    """
    x, w2, bias, g, h_out, cols_shape = _forward_arguments(x, w, b, strides, pads)
    y = np.empty((x.shape[0], cols_shape[1], w2.shape[1]), dtype=x.dtype)
    cols = np.empty(cols_shape, dtype=x.dtype)
    with threads.one_blas_thread():
        _deal(_conv_forward, _conv_forward_thread, x.shape[0], _rows(x), w2, bias, g, cols, y,
              add_bias=b is not None, relu=bool(relu))
    return y.reshape(x.shape[0], h_out, g.w_out, w2.shape[1])


# Winograd pays from this many input channels on (3x3, stride 1, inference only). Measured by
# ``python -m benchmarks.kernels --winograd --repeats 30`` (2-core Xeon, load average 8 from
# other work at idle priority, held off by the timing lock; batch 32, one thread, CPU time, fused
# forward with 2x2 pooling, medians, im2col in bands / direct / Winograd ms): 24x24xC_in -> 32,
# C_in 1: 0.74 / 0.39 / 0.86, 2: 0.74 / 0.52 / 0.96, 3: 0.83 / 0.75 / 1.03, 8: 1.24 / 1.52 /
# 1.15, 16: 2.22 / 3.07 / 1.51, 32: 4.34 / 5.66 / 2.16, 64: 8.46 / 11.17 / 3.99; 50x50x3 -> 64
# (the tutorial's conv1): 5.18 / 5.08 / 6.91 (docs/winograd.md). With numba's loops at 512 bits
# (``simd``; 2026-12-02, load average 9, --repeats 30): C_in 1: 0.92 / 0.44 / 1.15, 2: 0.97 /
# 0.61 / 1.19, 3: 1.13 / 0.80 / 1.23, 8: 1.56 / 1.77 / 1.39, 16: 2.68 / 3.21 / 1.84, 32: 5.07 /
# 6.14 / 2.49, 64: 8.54 / 12.74 / 4.51; conv1: 6.00 / 4.85 / 8.02: the same choices (a
# busier machine than the first run's, so compare within a shape, not across runs).
WINOGRAD_MIN_CHANNELS = 8
# At inference a 3x3 stride-1 convolution with at most this many input channels runs directly
# (``_direct_sample``, or ``_blocked_sample`` where ``_uses_blocks``); from
# DIRECT_MAX_CHANNELS + 1 up to WINOGRAD_MIN_CHANNELS - 1, by im2col (in bands, pooled as
# computed, when a 2x2 pooling follows), faster than directly at 8 channels and about even at 3.
# Same measurements.
DIRECT_MAX_CHANNELS = 3
# In training (the fused forward that keeps the argmax for the backward, and every backward)
# Winograd runs from this many input channels on. With fewer, the backward's tile transforms
# (of dY, of the input for dw, of dV for dx) weigh more against the products they shrink; on the
# tutorial's conv2 (64 channels) python -m benchmarks.kernels --one-core (2-core Xeon, loaded,
# one thread) timed the input gradient at 0.76x TensorFlow's kernel with im2col and 1.02x with
# Winograd, the weight gradient at 0.52x and 0.97x (docs/winograd.md). ``python -m
# benchmarks.choices --only winograd-training`` (24x24xC_in -> 32, batch 32, one thread, CPU
# time; 2-core Xeon, 2026-12-01, three runs at load average 1.8-5.9) timed the fused training
# forward + backward by im2col / Winograd at 7.9 / 7.9, 10.0 / 10.4 and 10.0 / 10.7 ms with 16
# input channels (the forward slower by Winograd, the backward even), 14.3 / 10.1, 16.2 / 12.7
# and 17.0 / 12.6 ms with 32.
WINOGRAD_MIN_CHANNELS_TRAINING = 32
# Winograd's tiles go through its scratch in bands of about this many tiles (whole tile rows),
# so that a band's transformed tiles and products stay in cache.
WINOGRAD_BAND_TILES = 256
# The inference forward's im2col, when it pools 2x2 windows, goes through its column matrix in
# bands of about this many output pixels (whole row pairs), so that a band's column matrix and
# output stay in cache. For the tutorial's conv1 shape (48 pixels a row, 27 + 64 numbers a
# pixel) ``python -m benchmarks.choices --only im2col-bands`` (batch 32, one thread, CPU time;
# 2-core Xeon, 2026-12-01, two runs at load average 4.9 and 5.1) timed bands of 2, 4, 8 and 16
# rows at 5.29, 4.81, 5.10 and 5.94 ms, and at 6.57, 6.17, 5.92 and 6.53 ms.
IM2COL_BAND_PIXELS = 384


def uses_winograd(w_shape, strides, training):
    """Whether Winograd's F(2x2, 3x3) computes this convolution: a 3x3 stride-1 kernel with at
    least WINOGRAD_MIN_CHANNELS input channels at inference (``conv2d_maxpool_forward`` with
    ``training=False``), WINOGRAD_MIN_CHANNELS_TRAINING in training (the fused forward that
    keeps the argmax, and every backward). With fewer, transforming the tiles costs more than
    the multiplications it saves."""
    least = WINOGRAD_MIN_CHANNELS_TRAINING if training else WINOGRAD_MIN_CHANNELS
    return winograd.applies(w_shape[:2], strides) and w_shape[2] >= least


def inference_method(w_shape, strides):
    """How ``conv2d_maxpool_forward(..., training=False)`` computes this convolution: a 3x3,
    stride-1 kernel by Winograd's F(2x2, 3x3) (WINOGRAD) where :func:`uses_winograd` says so at
    inference, directly (DIRECT: ``_direct_sample``, or ``_blocked_sample`` where the fused
    forward's ``_uses_blocks`` says so) with at most DIRECT_MAX_CHANNELS input channels; any
    other by im2col (IM2COL, in bands pooled as computed when the pooling is 2x2 at stride 2:
    ``_im2col_pooled_sample``)."""
    if not winograd.applies(w_shape[:2], strides):
        return IM2COL
    if uses_winograd(w_shape, strides, training=False):
        return WINOGRAD
    return DIRECT if w_shape[2] <= DIRECT_MAX_CHANNELS else IM2COL


# A 2x2, stride-2 max pooling with no padding before, as (ph, pw, sh, sw, top, left): its windows
# are the convolution's 2x2 output blocks, which the fused forward pools as it computes them.
_BLOCKS = (2, 2, 2, 2, 0, 0)


def conv2d_maxpool_forward(x, w, b, strides, pads, relu, pool_size, pool_strides, pool_pads,
                           workspace=None, training=True):
    """A convolution followed by max pooling; see ``numpy_kernels.conv2d_maxpool_forward``.

    Returns the pooled ``y`` and its ``argmax``, of shape (n, hp, wp, c_out); with
    ``training=False`` argmax is None (only a backward needs it). With a ``workspace`` (a dict
    the caller keeps), ``y``, ``argmax`` and the scratch buffers are kept there and reused by
    the next call of the same shape, which overwrites them.
    """
    x = np.ascontiguousarray(x)
    conv, flags, pooled_shape = _fused_setup(x.shape, x.dtype, w, b, strides, pads, relu,
                                             pool_size, pool_strides, pool_pads, workspace,
                                             training)
    y = _take(workspace, "y", pooled_shape, x.dtype)
    g, h_out = conv[2], conv[3]  # the winners index the convolution's output plane
    argmax = (_take(workspace, "argmax", pooled_shape, winner_index_dtype(h_out * g.w_out))
              if training else None)
    with threads.one_blas_thread():
        _deal(_conv_maxpool, _conv_maxpool_thread, x.shape[0], _rows(x), *conv, *flags, y,
              argmax)
    return y, argmax


def conv2d_maxpool_pair_forward(x, first, second, workspace=None):
    """Two convolutions, each followed by its max pooling, at inference; see
    ``numpy_kernels.conv2d_maxpool_pair_forward``.

    first, second : the arguments ``(w, b, strides, pads, relu, pool_size, pool_strides,
    pool_pads)`` of ``conv2d_maxpool_forward`` for each pair. Returns the second pooled output,
    the same bits as the two calls one after the other (the same per-sample steps, in
    ``_conv_maxpool_pair``), which keep the first pooled output of a sample in its thread's
    cache instead of writing the whole batch's. Scratch and ``y`` are kept in ``workspace``
    as in ``conv2d_maxpool_forward``.
    """
    x = np.ascontiguousarray(x)
    if workspace is None:
        workspace = {}
    conv1, flags1, shape1 = _fused_setup(x.shape, x.dtype, *first,
                                         workspace.setdefault("first", {}), False)
    conv2, flags2, shape2 = _fused_setup(shape1, x.dtype, *second,
                                         workspace.setdefault("second", {}), False)
    between = _take(workspace, "between", (threads.count(), shape1[1], shape1[2] * shape1[3]),
                    x.dtype)
    y = _take(workspace, "y", shape2, x.dtype)
    with threads.one_blas_thread():
        _deal(_conv_maxpool_pair, _conv_maxpool_pair_thread, x.shape[0], _rows(x), *conv1, *flags1,
              between, *conv2, *flags2, y)
    return y


def _fused_setup(x_shape, dtype, w, b, strides, pads, relu, pool_size, pool_strides, pool_pads,
                 workspace, training):
    """What the fused kernels take for a convolution of x (``x_shape``, ``dtype``) and the max
    pooling after it: ``(conv, flags, pooled_shape)`` with conv and flags as
    ``_conv_maxpool_sample`` takes them, the scratch kept in the workspace.

    The method: in training Winograd (``uses_winograd``) or im2col, at inference
    ``inference_method``; in both BLOCKED where ``inference_method`` says DIRECT and
    ``_uses_blocks`` (Winograd and direct convolution give the same numbers as im2col up to
    rounding: float32, a few 1e-7 of the largest output, docs/winograd.md). The pooling is
    fused into the 2x2 output blocks when its windows are those blocks (2x2, stride 2, no
    padding before); im2col then goes in bands of ``IM2COL_BAND_PIXELS`` output pixels, each
    band pooled while in cache.
    """
    w, bias, g, h_out, cols_shape = _kernel_arguments(x_shape, dtype, w, b, strides, pads)
    c_out = w.shape[3]
    (ph, pw), (psh, psw) = pool_size, pool_strides
    (ptop, pbottom), (pleft, pright) = pool_pads
    pooled_shape = (x_shape[0], padded_output_size(h_out, ph, psh, ptop, pbottom),
                    padded_output_size(g.w_out, pw, psw, pleft, pright), c_out)
    pool = (ph, pw, psh, psw, ptop, pleft)  # as the fused kernels take it
    if training:
        method = WINOGRAD if uses_winograd(w.shape, strides, training=True) else IM2COL
    else:
        method = inference_method(w.shape, strides)
    n_threads = cols_shape[0]
    pool_tiles = pool == _BLOCKS
    if (inference_method(w.shape, strides) == DIRECT
            and _uses_blocks(dtype, c_out, pool_tiles, pooled_shape, h_out, g.w_out)):
        method = BLOCKED  # in training too (for im2col), with the winners
    if method == IM2COL and pool_tiles:
        # Whole row pairs, so that each pooling window lies in one band; at most the output.
        band_rows = min(max(1, IM2COL_BAND_PIXELS // (2 * g.w_out)), -(-h_out // 2)) * 2
        band_pixels = band_rows * g.w_out
        cols = _take(workspace, "band_cols", (n_threads, band_pixels, cols_shape[2]), dtype)
        ys = _take(workspace, "band_ys", (n_threads, band_pixels, c_out), dtype)
    elif pool_tiles:  # placeholders: Winograd and the direct kernel pool in place
        cols, ys = np.empty((n_threads, 0, 0), dtype), np.empty((n_threads, 0, c_out), dtype)
    else:
        ys = _take(workspace, "ys", cols_shape[:2] + (c_out,), dtype)
        cols = (_take(workspace, "cols", cols_shape, dtype) if method == IM2COL
                else np.empty((n_threads, 0, 0), dtype))  # placeholder: no im2col
    wf, band_rows, xps, es, vs, ms = _winograd_scratch(w, g, h_out, c_out, dtype, n_threads,
                                                       workspace, method == WINOGRAD)
    if method == DIRECT:
        wf = np.ascontiguousarray(w.reshape(9, g.c, c_out))
        ms = _take(workspace, "direct_rows", (n_threads, 2, g.w_out, c_out), dtype)
    if method in (DIRECT, BLOCKED):
        xps = _padded_buffer(g, h_out, n_threads, workspace, dtype)
    conv = (w.reshape(-1, c_out), bias, g, h_out, pool, cols, ys, wf, band_rows, xps, es, vs, ms)
    return conv, (b is not None, bool(relu), method, pool_tiles), pooled_shape


def _uses_blocks(dtype, c_out, pool_tiles, pooled_shape, h_out, w_out):
    """Whether a direct convolution (``inference_method`` DIRECT) runs as BLOCKED
    (``_blocked_sample``), at inference and in training alike: on 512-bit vectors (``WIDE``),
    pooled in its 2x2 blocks, every pooling window wholly inside the output (no "same" pooling's
    half windows), and a whole number of blocks of 4 vectors of output channels (64 float32,
    32 float64). Otherwise ``_direct_sample`` computes it at inference, im2col in training."""
    return (WIDE and pool_tiles and c_out % (4 * vectors.lanes(dtype)) == 0
            and 2 * pooled_shape[1] <= h_out and 2 * pooled_shape[2] <= w_out)


def _winograd_scratch(w, g, h_out, c_out, dtype, n_threads, workspace, use_winograd):
    """What ``_winograd_sample`` takes besides the sample: ``(u, band_rows, xps, es, vs, ms)``,
    the transformed filters and per-thread scratch kept in the workspace; placeholders when
    ``use_winograd`` is False."""
    if not use_winograd:
        empty = np.empty((n_threads, 0, 0, 0), dtype)
        return np.empty((0, 0, 0), dtype), 1, np.empty((n_threads, 0, 0), dtype), empty, empty, empty
    tiles_h, tiles_w = -(-h_out // 2), -(-g.w_out // 2)
    band_tiles = max(1, min(tiles_h, WINOGRAD_BAND_TILES // tiles_w)) * tiles_w
    return (_filter_transform(w, dtype, workspace), band_tiles // tiles_w,
            _padded_buffer(g, h_out, n_threads, workspace, dtype),
            _take(workspace, "winograd_e", (n_threads, 4, 4, tiles_w * g.c), dtype),
            _take(workspace, "winograd_v", (n_threads, 16, band_tiles, g.c), dtype),
            _take(workspace, "winograd_m", (n_threads, 16, band_tiles, c_out), dtype))


def _padded_buffer(g, h_out, n_threads, workspace, dtype):
    """Per-thread scratch for ``_padded_sample``, (T, 2*th + 2, (2*tw + 2)*C_in): the sample
    padded to whole 2x2 blocks of th x tw outputs, as Winograd and the direct kernel read it."""
    tiles_h, tiles_w = -(-h_out // 2), -(-g.w_out // 2)
    return _take(workspace, "winograd_x", (n_threads, 2 * tiles_h + 2, (2 * tiles_w + 2) * g.c),
                 dtype)


def _padded_shape(x_shape, g, h_out, n_threads):
    """The shape of per-thread scratch for ``_padded_sample`` that holds every window of the
    convolution (H_out rows of outputs), (T, H_pad, W_pad*C_in): the sample after its top and
    left padding, and the bottom and right padding its last windows reach into."""
    h_pad = max(g.top + x_shape[1], (h_out - 1) * g.sh + g.kh)
    w_pad = max(g.left + x_shape[2], (g.w_out - 1) * g.sw + g.kw)
    return n_threads, h_pad, w_pad * g.c


def _filter_transform(w, dtype, workspace):
    """U = G g G^T of every filter (``winograd.filter_transform``) as (16, C_in, C_out), kept in
    the workspace with the kernel it came from: predict's passes, and a training step's backward
    after its forward, reuse it until the kernel changes."""
    kept = workspace.get("winograd_u") if workspace is not None else None
    if (kept is not None and kept[1].dtype == dtype and kept[0].shape == w.shape
            and np.array_equal(kept[0], w)):
        return kept[1]
    kh, kw, c_in, c_out = w.shape
    u = np.ascontiguousarray(winograd.filter_transform(w, dtype).reshape(16, c_in, c_out))
    if workspace is not None:
        workspace["winograd_u"] = (np.array(w), u)
    return u


def conv2d_backward(dy, x, w, strides, pads, relu_y=None, need_db=True, need_dx=True,
                    workspace=None):
    """The whole backward of a convolution; see ``numpy_kernels.conv2d_backward``.

    dy : ndarray of shape (n, h_out, w_out, c_out); x : (n, h, w, c_in);
    w : (kh, kw, c_in, c_out); relu_y : the fused ReLU's output, dy's shape, or None.
    Returns ``(dw, db, dx)`` in dy's dtype, new arrays; db is None unless ``need_db``, dx None
    unless ``need_dx``. With a ``workspace`` (a dict the caller keeps) the scratch buffers are
    kept there for the next call.
    """
    return _backward(dy, x.shape, w.shape, strides, pads, x=x, w=w, relu_y=relu_y,
                     need_db=need_db, need_dw=True, need_dx=need_dx, workspace=workspace)


def conv2d_maxpool_backward(dy, y, argmax, x, w, strides, pads, relu, need_db=True,
                            need_dx=True, workspace=None):
    """The backward of a convolution followed by max pooling, from the pooling's gradient;
    see ``numpy_kernels.conv2d_maxpool_backward``. Returns ``(dw, db, dx)``, new arrays;
    ``workspace`` as in ``conv2d_backward``."""
    return _backward(dy, x.shape, w.shape, strides, pads, x=x, w=w,
                     relu_y=y if relu else None, argmax=argmax, need_db=need_db, need_dw=True,
                     need_dx=need_dx, workspace=workspace)


def conv2d_backward_input(dy, w, x_shape, strides, pads):
    """Gradient with respect to the input; see ``numpy_kernels.conv2d_backward_input``.

    dy : ndarray of shape (n, h_out, w_out, c_out); w : (kh, kw, c_in, c_out).
    Returns dx : ndarray of shape ``x_shape``, ``dy``'s dtype.
    """
    return _backward(dy, x_shape, w.shape, strides, pads, w=w, need_dx=True)[2]


def conv2d_backward_weights(dy, x, w_shape, strides, pads):
    """Gradient with respect to the kernel; see ``numpy_kernels.conv2d_backward_weights``.

    dy : ndarray of shape (n, h_out, w_out, c_out); x : (n, h, w, c_in).
    Returns dw : ndarray of shape ``w_shape`` = (kh, kw, c_in, c_out), ``dy``'s dtype.
    """
    return _backward(dy, x.shape, w_shape, strides, pads, x=x, need_dw=True)[0]


def _backward(dy, x_shape, w_shape, strides, pads, *, x=None, w=None, relu_y=None, argmax=None,
              need_db=False, need_dw=False, need_dx=False, workspace=None):
    """The wrappers' shared body: ``(dw, db, dx)`` by one call of ``_conv_backward`` (or
    ``_winograd_backward`` where :func:`uses_winograd` says so in training), each None
    unless asked for. ``x`` is needed for dw, ``w`` for dx; with ``relu_y`` the fused ReLU's
    mask is applied, and with ``argmax`` dy and relu_y are the following max pooling's."""
    dy = np.ascontiguousarray(dy)
    n, dtype, c_out = dy.shape[0], dy.dtype, w_shape[3]
    g, _, cols_shape = _geometry(x_shape, w_shape, strides, pads)
    placeholder = np.empty((cols_shape[0], 0, 0), dtype)  # for arrays not needed
    x_rows = _rows(np.ascontiguousarray(x, dtype=dtype)) if need_dw else placeholder
    relu = relu_y is not None
    y_pixels = _pixels(np.ascontiguousarray(relu_y, dtype=dtype)) if relu else _pixels(dy)
    pooled = argmax is not None
    # Without a pooling, an int32 placeholder: the type pooled calls pass (one compilation).
    argmax = (_pixels(np.ascontiguousarray(argmax)) if pooled else np.empty((0, 0, 0), np.int32))
    db_parts = _take(workspace, "db_parts", (n, c_out) if need_db else (0, 0), np.float64)
    dx = np.empty(tuple(x_shape) if need_dx else (0, 0, 0, 0), dtype)
    # With a pooling and without dx (a first layer), im2col's path takes dw and db from the
    # pooling's winners (_winner_gradients), neither dz nor the column matrix built.
    by_winograd = uses_winograd(w_shape, strides, training=True)
    winners = pooled and need_dw and not need_dx and not by_winograd
    h_out = cols_shape[1] // g.w_out
    dzs = (_take(workspace, "dzs", cols_shape[:2] + (c_out,), dtype) if (relu or pooled)
           and not winners else placeholder)
    dx_rows = _rows(dx) if need_dx else placeholder
    flags = dict(relu=relu, pooled=pooled, need_db=need_db, need_dw=need_dw, need_dx=need_dx)
    dw = db = None
    if by_winograd:
        tiles_h, tiles_w = -(-h_out // 2), -(-g.w_out // 2)
        c_in, n_threads, tiles = w_shape[2], cols_shape[0], tiles_h * tiles_w
        # U^T; U is the training forward's, kept in the workspace, when the kernel is unchanged.
        ut = (np.ascontiguousarray(_filter_transform(w, dtype, workspace).transpose(0, 2, 1))
              if need_dx else np.empty((0, 0, 0), dtype))
        du_parts = _take(workspace, "winograd_du", (n, 16, c_in, c_out) if need_dw
                         else (0, 0, 0, 0), dtype)
        dms = _take(workspace, "winograd_dm", (n_threads, 16, tiles, c_out), dtype)
        xps = _take(workspace, "winograd_x", (n_threads, 2 * tiles_h + 2, (2 * tiles_w + 2) * c_in)
                    if need_dw else (n_threads, 0, 0), dtype)
        es = _take(workspace, "winograd_e", (n_threads, 4, 4, tiles_w * c_in), dtype)
        vs = _take(workspace, "winograd_dv", (n_threads, 16, tiles, c_in), dtype)
        with threads.one_blas_thread():
            _deal(_winograd_backward, _winograd_backward_thread, n, _pixels(dy), y_pixels, argmax,
                  x_rows, ut, g, h_out, tiles_w, dzs, dms, xps, es, vs, db_parts, du_parts,
                  dx_rows, **flags)
        if need_dw:
            d_u = np.empty((16 * c_in, c_out), dtype)
            _sum_over_samples(du_parts.reshape(n, 16 * c_in, c_out), d_u)
            dw = winograd.filter_gradient(d_u.reshape(4, 4, c_in, c_out))
    else:
        w2t = (np.ascontiguousarray(np.asarray(w, dtype=dtype).reshape(-1, c_out).T) if need_dx
               else np.empty((0, 0), dtype))
        dw_parts = _take(workspace, "dw_parts", (n, cols_shape[2], c_out) if need_dw
                         else (0, 0, 0), dtype)
        # With dx, dz is built anyway and the product stays (BLAS; the winners' loop does as
        # many multiplications, measured only on the tutorial's first layer).
        cols = placeholder if winners else _take(workspace, "cols", cols_shape, dtype)
        xps = (_take(workspace, "padded_x", _padded_shape(x_shape, g, h_out, cols_shape[0]),
                     dtype) if winners else placeholder)
        with threads.one_blas_thread():
            _deal(_conv_backward, _conv_backward_thread, n, _pixels(dy), y_pixels, argmax, x_rows,
                  w2t, g, h_out, dy.shape[2], cols, dzs, xps, db_parts, dw_parts, dx_rows,
                  winners=winners, **flags)
        if need_dw:
            dw = np.empty((cols_shape[2], c_out), dtype)
            _sum_over_samples(dw_parts, dw)
            dw = dw.reshape(tuple(w_shape))
    if need_db:
        db = db_parts.sum(axis=0).astype(dtype)
    return dw, db, dx if need_dx else None


@njit(cache=CACHE)
def _maxpool_sample(x, ph, pw, sh, sw, top, left, y, argmax):
    """One sample, one pass per window: the running maximum and, unless ``argmax`` is None,
    where it came from (the inference forward needs no argmax; None compiles a version without
    it, numba prunes the branches).

    x : (H, W, C); y, argmax : (H_out, W_out, C). A later value replaces the maximum only if
    strictly greater, so on a tie the first pixel in row-major window order wins; padding
    cells are skipped, which is the same as -inf.
    """
    h, wd, c = x.shape
    h_out, w_out = y.shape[0], y.shape[1]
    for i in range(h_out):
        for j in range(w_out):
            for cc in range(c):
                y[i, j, cc] = -np.inf
                if argmax is not None:
                    argmax[i, j, cc] = 0
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
                        v = x[hi, wi, cc]
                        if v > y[i, j, cc]:
                            y[i, j, cc] = v
                            if argmax is not None:
                                argmax[i, j, cc] = flat


@njit(parallel=True, cache=CACHE)
def _maxpool_forward(x, ph, pw, sh, sw, top, left, y, argmax):
    """Max pooling of every sample, one thread per sample."""
    for b in prange(x.shape[0]):
        _maxpool_sample(x[b], ph, pw, sh, sw, top, left, y[b], argmax[b])


@njit(parallel=True, cache=CACHE)
def _maxpool_backward(dy, argmax, dx):
    """dx[n, argmax[n, i, j, c], c] += dy[n, i, j, c]; one thread per sample, (i, j) order.

    dx : (N, H*W, C), zeroed here by the thread that fills each sample.
    """
    n, h_out, w_out, c = dy.shape
    for b in prange(n):
        dx[b] = 0.0
        for i in range(h_out):
            for j in range(w_out):
                for cc in range(c):
                    dx[b, argmax[b, i, j, cc], cc] += dy[b, i, j, cc]


def maxpool2d_forward(x, pool_size, strides, pads):
    """Max pooling with the winners' flat indices; see ``numpy_kernels.maxpool2d_forward``.

    x : ndarray of shape (n, h, w, c). Returns y : (n, h_out, w_out, c) in x's dtype and
    argmax : of the same shape, the index ``h * W + w`` in the unpadded input plane, of
    ``winner_index_dtype(h * W)``.
    """
    x = np.ascontiguousarray(x)
    (ph, pw), (sh, sw) = pool_size, strides
    (top, bottom), (left, right) = pads
    n, h, wd, c = x.shape
    h_out = padded_output_size(h, ph, sh, top, bottom)
    w_out = padded_output_size(wd, pw, sw, left, right)
    y = np.empty((n, h_out, w_out, c), dtype=x.dtype)
    argmax = np.empty((n, h_out, w_out, c), dtype=winner_index_dtype(h * wd))
    _maxpool_forward(x, ph, pw, sh, sw, top, left, y, argmax)
    return y, argmax


def maxpool2d_backward(dy, argmax, x_shape):
    """Route each output gradient to its window's winner; see ``numpy_kernels.maxpool2d_backward``.

    dy : ndarray of shape (n, h_out, w_out, c); argmax : the forward's, of the same shape.
    Returns dx : ndarray of shape ``x_shape``; overlapping windows add.
    """
    dy = np.ascontiguousarray(dy)
    argmax = np.ascontiguousarray(argmax)
    n, h, wd, c = x_shape
    dx = np.empty((n, h * wd, c), dtype=dy.dtype)
    _maxpool_backward(dy, argmax, dx)
    return dx.reshape(tuple(x_shape))


@njit(cache=CACHE, inline="always")
def _relu_entry(dy, y, out, i):
    # dy * 0 rather than 0, to give what the readable dy * False gives: -0.0 for a negative dy,
    # NaN for an infinite one.
    out[i] = dy[i] if y[i] > 0 else dy[i] * 0


@njit(cache=CACHE)
def _relu_backward(dy, y, out):
    for i in range(dy.size):
        _relu_entry(dy, y, out, i)


@njit(parallel=True, cache=CACHE)
def _relu_backward_parallel(dy, y, out):
    for i in prange(dy.size):
        _relu_entry(dy, y, out, i)


def relu_backward(dy, y, out=None):
    """ReLU's backward ``dz = dy * (y > 0)``; see ``numpy_kernels.relu_backward``."""
    dy = np.ascontiguousarray(dy)
    y = np.ascontiguousarray(y, dtype=dy.dtype)
    if out is None:
        out = np.empty_like(dy)
    backward = _relu_backward_parallel if _on_all_threads(dy.size) else _relu_backward
    backward(dy.reshape(-1), y.reshape(-1), out.reshape(-1))
    return out


@njit(cache=CACHE, inline="always")
def _adam_entry(param, grad, m, v, i, alpha, c1, c2, epsilon, tiny):
    """Adam's update of entry i (numpy_kernels.adam_update's lines, m and v below ``tiny``, the
    smallest normal number, flushed to zero as numpy_kernels.flush_subnormals does)."""
    g = grad[i]
    m[i] += (g - m[i]) * c1
    if abs(m[i]) < tiny:
        m[i] = 0
    v[i] += (g * g - v[i]) * c2
    if abs(v[i]) < tiny:
        v[i] = 0
    param[i] -= (m[i] * alpha) / (np.sqrt(v[i]) + epsilon)


@njit(cache=CACHE)
def _adam_update(param, grad, m, v, alpha, c1, c2, epsilon, tiny):
    for i in range(param.size):
        _adam_entry(param, grad, m, v, i, alpha, c1, c2, epsilon, tiny)


@njit(parallel=True, cache=CACHE)
def _adam_update_parallel(param, grad, m, v, alpha, c1, c2, epsilon, tiny):
    for i in prange(param.size):
        _adam_entry(param, grad, m, v, i, alpha, c1, c2, epsilon, tiny)


def adam_update(param, grad, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    """One in-place Adam step, one pass over memory; see ``numpy_kernels.adam_update``.

    The same operations in the same order on the same dtype as the readable version (no fused
    multiply-add: numba leaves fastmath off), so the two agree bit for bit, on one thread or
    on all (:func:`_on_all_threads`).
    """
    grad = np.ascontiguousarray(grad, dtype=param.dtype)
    update = _adam_update_parallel if _on_all_threads(param.size) else _adam_update
    update(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1),
           alpha, one_minus_beta_1, one_minus_beta_2, epsilon, np.finfo(param.dtype).tiny)


@njit(cache=CACHE)
def _covered(i, s, before, k, n):
    """How many of the k cells of window i (stride s, ``before`` cells of padding) lie in 0..n-1,
    and the first of them: (first, count)."""
    start = i * s - before
    first = max(start, 0)
    return first, min(start + k, n) - first


@njit(parallel=True, cache=CACHE)
def _avgpool_forward(x, ph, pw, sh, sw, top, left, y):
    """y[b, i, j, :] = mean of x[b] over the pixels window (i, j) covers; one thread per sample."""
    n, h, wd, c = x.shape
    h_out, w_out = y.shape[1], y.shape[2]
    for b in prange(n):
        for i in range(h_out):
            h0, rows = _covered(i, sh, top, ph, h)
            for j in range(w_out):
                w0, cols = _covered(j, sw, left, pw, wd)
                for cc in range(c):
                    y[b, i, j, cc] = 0.0
                for hi in range(h0, h0 + rows):
                    for wi in range(w0, w0 + cols):
                        for cc in range(c):
                            y[b, i, j, cc] += x[b, hi, wi, cc]
                count = rows * cols
                for cc in range(c):
                    y[b, i, j, cc] /= count


@njit(parallel=True, cache=CACHE)
def _avgpool_backward(dy, ph, pw, sh, sw, top, left, dx):
    """dx[b, h, w, :] += dy[b, i, j, :] / count[i, j] over the windows covering (h, w); one
    thread per sample (zeroing its own dx), windows in (i, j) order."""
    n, h, wd, c = dx.shape
    h_out, w_out = dy.shape[1], dy.shape[2]
    for b in prange(n):
        dx[b] = 0.0
        for i in range(h_out):
            h0, rows = _covered(i, sh, top, ph, h)
            for j in range(w_out):
                w0, cols = _covered(j, sw, left, pw, wd)
                count = rows * cols
                for hi in range(h0, h0 + rows):
                    for wi in range(w0, w0 + cols):
                        for cc in range(c):
                            dx[b, hi, wi, cc] += dy[b, i, j, cc] / count


def avgpool2d_forward(x, pool_size, strides, pads):
    """Average pooling over the pixels each window covers; see ``numpy_kernels.avgpool2d_forward``.

    x : ndarray of shape (n, h, w, c)  ->  y : (n, h_out, w_out, c) in x's dtype.
    """
    x = np.ascontiguousarray(x)
    (ph, pw), (sh, sw) = pool_size, strides
    (top, bottom), (left, right) = pads
    n, h, wd, c = x.shape
    y = np.empty((n, padded_output_size(h, ph, sh, top, bottom), padded_output_size(wd, pw, sw, left, right), c),
                 dtype=x.dtype)
    _avgpool_forward(x, ph, pw, sh, sw, top, left, y)
    return y


def avgpool2d_backward(dy, x_shape, pool_size, strides, pads):
    """Each window's gradient shared among its pixels; see ``numpy_kernels.avgpool2d_backward``.

    dy : ndarray of shape (n, h_out, w_out, c)  ->  dx : ndarray of shape ``x_shape``.
    """
    dy = np.ascontiguousarray(dy)
    (ph, pw), (sh, sw) = pool_size, strides
    (top, _), (left, _) = pads
    dx = np.empty(tuple(x_shape), dtype=dy.dtype)
    _avgpool_backward(dy, ph, pw, sh, sw, top, left, dx)
    return dx


# ----- the Dense layer's products: blocks of the output dealt to threads ------------------------

_NO_TRANSPOSE, _TRANSPOSE = ord("n"), ord("t")


@intrinsic
def _gemm(typingctx, trans_a, trans_b, m, n, k, a, a_first, lda, b, b_first, ldb, c, c_first, ldc):
    """BLAS's ``C = op(A) op(B)`` (column-major; op: the matrix or, for ``_TRANSPOSE``, its
    transpose; C is m x n, the sum over k), one single-threaded gemm call through numba's own
    wrapper of scipy's ``sgemm``/``dgemm`` (the one its ``np.dot`` calls). A, B and C start
    ``a_first``, ``b_first``, ``c_first`` entries into the arrays a, b, c (C-contiguous, of one
    dtype), their columns ``lda``, ``ldb``, ``ldc`` entries apart: so a block of a matrix is
    passed in place, where ``np.dot`` would copy it. A row-major array is its transpose to BLAS.
    """
    def codegen(context, builder, signature, args):
        dtype = signature.args[5].dtype
        char, size, void_p = ir.IntType(8), cgutils.intp_t, ir.IntType(8).as_pointer()

        def arg(i, ll_type):
            return context.cast(builder, args[i], signature.args[i], types.intp) if ll_type is size \
                else builder.trunc(context.cast(builder, args[i], signature.args[i], types.intp), char)

        def matrix(i):  # array i's data pointer, advanced by the entry count after it
            data = context.make_array(signature.args[i])(context, builder, args[i]).data
            return builder.bitcast(builder.gep(data, [arg(i + 1, size)]), void_p)

        def scalar(value):
            return builder.bitcast(cgutils.alloca_once_value(builder, context.get_constant(dtype, value)), void_p)

        fnty = ir.FunctionType(ir.IntType(32), [char, char, char, size, size, size, void_p, void_p,
                                                size, void_p, size, void_p, void_p, size])
        gemm = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        kind = ir.Constant(char, ord("s" if dtype == types.float32 else "d"))
        result = builder.call(gemm, (kind, arg(0, char), arg(1, char), arg(2, size), arg(3, size),
                                     arg(4, size), scalar(1.0), matrix(5), arg(7, size), matrix(8),
                                     arg(10, size), scalar(0.0), matrix(11), arg(13, size)))
        with builder.if_then(cgutils.is_not_null(builder, result), likely=False):
            # numba_xxgemm fails only when scipy's BLAS cannot be loaded; np.dot aborts then too.
            context.get_python_api(builder).fatal_error("BLAS gemm wrapper returned an error")
    return types.void(trans_a, trans_b, m, n, k, a, a_first, lda, b, b_first, ldb, c, c_first,
                      ldc), codegen


@njit(parallel=True, cache=CACHE)
def _product_columns(x, w, out, block):
    """``out = x @ w``, out's columns in blocks of ``block``, one gemm call per block, the blocks
    dealt to numba's threads. x : (N, D_in), w : (D_in, D_out), out : (N, D_out).

    To BLAS the row-major ``out = x w`` is ``out^T = w^T x^T``: a block of out's columns is
    C, starting ``first`` entries in, from the same block of w's columns as A, and all of x.
    """
    n, d_in = x.shape
    d_out = w.shape[1]
    for i in prange((d_out + block - 1) // block):
        first = np.int64(i) * block
        _gemm(_NO_TRANSPOSE, _NO_TRANSPOSE, min(block, d_out - first), n, d_in, w, first, d_out,
              x, np.int64(0), d_in, out, first, d_out)


@njit(parallel=True, cache=CACHE)
def _gradient_rows(x, dz, out, block):
    """``out = x.T @ dz``, out's rows in blocks of ``block``, one gemm call per block, the
    blocks dealt to numba's threads. x : (N, D_in), dz : (N, D_out), out : (D_in, D_out).

    To BLAS ``out = x^T dz`` is ``out^T = dz^T x``: a block of out's rows is C (contiguous,
    starting ``first * D_out`` entries in), from all of dz as A and the same block of x's
    columns as B (which BLAS reads as its transpose: ``_TRANSPOSE``).
    """
    n, d_in = x.shape
    d_out = dz.shape[1]
    for i in prange((d_in + block - 1) // block):
        first = np.int64(i) * block
        _gemm(_NO_TRANSPOSE, _TRANSPOSE, d_out, min(block, d_in - first), n, dz, np.int64(0),
              d_out, x, first, d_in, out, first * d_out, d_out)


# The forward's output columns in blocks of this width: the tutorial's Dense(128) makes two, one
# per core of a 2-core machine. A fixed width (not the thread count) so that each output entry
# comes from the same gemm call whatever the thread count: the same bits. And the same bits as
# one call on the whole product (x @ w), checked for the tutorial's 3872 -> 128 at batch 8 to 256
# (test_kernels); blocks of 32 did not give one product's bits at batch 8.
DENSE_BLOCK = 64

# The weight gradient's output rows (the kernel's inputs) in blocks of this many, fixed for the
# same reason; checked likewise (the same bits as x.T @ dz). Rows, not columns: a block of
# columns would be a gemm over all of x each, while a block of rows reads its own columns of x.
# Each gemm call has a cost of its own, so the blocks are large: ``python -m benchmarks.choices
# --only dense-columns`` (as below, 2026-12-02 09:18, load 0.9, peak 222 / 213 GFLOP/s; ms, one
# call / rows in blocks of 256 / 1024 / 1936): batch 8 0.292 / 0.339 / 0.134 / 0.130, 32 0.438
# / 0.479 / 0.322 / 0.316, 128 1.387 / 1.414 / 1.010 / 1.201, 256 2.736 / 2.030 / 1.818 / 2.010.
# 1024 rather than 1936: as fast, and a layer of fewer inputs is split too.
DENSE_GRADIENT_ROWS = 1024

# The blocks go to the threads from this many multiply-adds (N * D_in * D_out) on, the forward's and
# the gradient's; below, the product is one call on the calling thread. ``python -m
# benchmarks.choices --only dense-columns``, the tutorial's 3872 -> 128, float32, 2-core Xeon (ms,
# one call / blocks on 2 threads). The forward alone, 2026-12-02 13:29, two runs (load 0.9, peak 358
# and 344-352 GFLOP/s): batch 8 0.213 / 0.229, 0.227 / 0.232; 16 0.224 / 0.246, 0.246 / 0.245; 32
# 0.340 / 0.307, 0.355 / 0.311; 64 0.524 / 0.429, 0.538 / 0.415; 128 0.939 / 0.672, 0.962 / 0.681;
# 256 1.740 / 1.124, 1.795 / 1.126. In predict of the tutorial model the batch-32 blocks gain more,
# as the weights come from beyond the cache the convolutions just filled: 3.796 / 3.677 and 3.701 /
# 3.585 ms a batch (medians of 21 interleaved repeats). So the forward's blocks from batch 17 of it
# on (8.4 million multiply-adds; batch 16 is 7.9 million). The gradient in rows of 1024 (2026-12-02
# 09:18, two runs): batch 8 0.292 / 0.134, 0.208 / 0.107; 32 0.438 / 0.322, 0.381 / 0.233: from
# batch 8 (4 million). Batch 1 takes np.outer (Dense.backward_from_logits), and the forward's one
# row gives other bits in blocks (OpenBLAS takes another path for one row).
DENSE_FORWARD_MIN_MACS = 1 << 23
DENSE_GRADIENT_MIN_MACS = 1 << 21


def _in_blocks(x, other, extent, block, min_macs):
    """Whether the product of x (N, D_in) and other (its second axis D_out) runs in blocks of
    ``block`` of an output axis of ``extent``: from ``min_macs`` multiply-adds on, with more
    than one block, both float32 or both float64 (else as the one call x @ w does)."""
    return (x.size * other.shape[1] >= min_macs and extent > block
            and x.dtype in (np.float32, np.float64) and other.dtype == x.dtype)


def dense_forward(x, w):
    """``x @ w``, the Dense layer's product; see ``numpy_kernels.dense_forward``.

    x : (N, D_in); w : (D_in, D_out). When ``_in_blocks``, the output's columns in blocks of
    ``DENSE_BLOCK``, the blocks dealt to numba's threads (``_product_columns``); else one call.
    """
    if not _in_blocks(x, w, w.shape[1], DENSE_BLOCK, DENSE_FORWARD_MIN_MACS):
        return x @ w
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    out = np.empty((x.shape[0], w.shape[1]), x.dtype)
    with threads.one_blas_thread():
        _product_columns(x, w, out, DENSE_BLOCK)
    return out


def dense_weight_gradient(x, dz):
    """``x.T @ dz``, the Dense layer's kernel gradient; see ``numpy_kernels.dense_weight_gradient``.

    x : (N, D_in); dz : (N, D_out). When ``_in_blocks``, the output's rows in blocks of
    ``DENSE_GRADIENT_ROWS``, the blocks dealt to numba's threads (``_gradient_rows``); else one
    call.
    """
    if not _in_blocks(x, dz, x.shape[1], DENSE_GRADIENT_ROWS, DENSE_GRADIENT_MIN_MACS):
        return x.T @ dz
    x, dz = np.ascontiguousarray(x), np.ascontiguousarray(dz)
    out = np.empty((x.shape[1], dz.shape[1]), x.dtype)
    with threads.one_blas_thread():
        _gradient_rows(x, dz, out, DENSE_GRADIENT_ROWS)
    return out


# Last, once every kernel is defined: their caches load without setting up numba's compiler, and
# a kernel whose cache files are damaged compiles again.
numba_cache.load_cached(globals())
