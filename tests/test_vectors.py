"""The 512-bit vectors of the fast kernels (scratchconv.kernels.vectors): each operation does
lane by lane what the scalar code does, and only C-contiguous float arrays are read or written."""
import numpy as np
import pytest
from numba import errors, njit

from scratchconv.kernels import numba_kernels  # noqa: F401  (numba's settings first: simd.configure)
from scratchconv.kernels import vectors


@njit
def _each_operation(a, b, c, out):
    n = vectors.BYTES // a.itemsize
    u, v, w = vectors.load(a, 0), vectors.load(b, 0), vectors.load(c, 0)
    vectors.store(out, 0, vectors.fma(u, v, w))
    vectors.store(out, n, vectors.add(u, v))
    vectors.store(out, 2 * n, vectors.relu(u))
    vectors.store(out, 3 * n, vectors.better(v, u))
    vectors.store(out, 4 * n, vectors.fill(a, 2.5))
    vectors.store(out, 5 * n, vectors.fill(u, c[1]))
    vectors.store(out, 6 * n + 1, vectors.load(a, 1))  # at any entry, not only whole vectors


@njit
def _copy(a, out):
    vectors.store(out, 0, vectors.load(a, 0))


@pytest.mark.parametrize("dtype, tiny", [(np.float32, 2.0 ** -13), (np.float64, 2.0 ** -30)])
def test_each_operation_works_lane_by_lane_as_the_scalar_code_does(dtype, tiny):
    n = vectors.lanes(dtype)
    assert n * np.dtype(dtype).itemsize == vectors.BYTES
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(n + 1).astype(dtype) for _ in range(3))
    a[1:5] = [np.nan, -0.0, -1.0, np.inf]
    b[5:7] = np.nan
    # Lane 0: (1 + t)^2 - (1 + 2t) is t^2 exactly, which a product rounded before the sum loses.
    a[0] = b[0] = 1 + tiny
    c[0] = -(1 + 2 * tiny)
    out = np.full(7 * n + 1, 7.0, dtype)
    _each_operation(a, b, c, out)
    fma, added, relu, better, filled, from_lane, shifted = (out[k * n:(k + 1) * n] for k in range(7))
    assert dtype(a[0] * b[0] + c[0]) == 0 and fma[0] == dtype(tiny) ** 2
    exact = a[1:n].astype(np.longdouble) * b[1:n] + c[1:n]
    np.testing.assert_allclose(fma[1:], exact.astype(dtype), rtol=np.finfo(dtype).eps, equal_nan=True)
    np.testing.assert_array_equal(added, a[:n] + b[:n])
    np.testing.assert_array_equal(relu, np.where(a[:n] < 0, dtype(0), a[:n]))  # NaN and -0.0 kept
    assert np.isnan(relu[1]) and np.signbit(relu[2])
    np.testing.assert_array_equal(better, np.where(a[:n] > b[:n], a[:n], b[:n]))  # a NaN never wins
    np.testing.assert_array_equal(filled, np.full(n, 2.5, dtype))
    np.testing.assert_array_equal(from_lane, np.full(n, c[1], dtype))
    np.testing.assert_array_equal(out[6 * n:], np.concatenate([[7.0], a[1:n + 1]]).astype(dtype))
    assert shifted.dtype == dtype


@pytest.mark.parametrize("a", [np.zeros(64, np.float32)[::2], np.zeros(16, np.int32),
                               np.zeros((16, 2), np.float64, order="F")],
                         ids=["strided", "integers", "fortran-order"])
def test_only_c_contiguous_float_arrays_are_read(a):
    with pytest.raises(errors.TypingError):
        _copy(a, np.zeros(16, np.float32))


@njit
def _winners(z, out, first, w_out):
    n = vectors.BYTES // z.itemsize
    z00, z01 = vectors.load(z, 0), vectors.load(z, n)
    z10, z11 = vectors.load(z, 2 * n), vectors.load(z, 3 * n)
    best = vectors.better(vectors.better(vectors.better(vectors.better(
        vectors.fill(z, -np.inf), z00), z01), z10), z11)
    vectors.store_winners(out, 0, first, w_out, best, z00, z01, z10, z11)


@pytest.mark.parametrize("dtype, index_dtype", [(np.float32, np.int32), (np.float64, np.int64)])
def test_a_windows_winner_is_the_first_of_its_maximum_and_never_a_nan(dtype, index_dtype):
    n = vectors.lanes(dtype)
    # Lanes: a clear winner in each corner, a tie (the first wins), NaNs beside a number, all
    # NaN (-inf wins nothing: index 0), all -inf (the same), an infinity.
    cases = [(4, 1, 2, 3), (1, 4, 2, 3), (1, 2, 4, 3), (1, 2, 3, 4), (5, 5, 5, 5), (0, 7, 7, 0),
             (np.nan, 2, np.nan, 1), (np.nan,) * 4, (-np.inf,) * 4, (1, np.inf, 2, 3)]
    want = [0, 1, 10, 11, 0, 1, 1, -100, -100, 1]  # offsets from z00's index; -100: index 0
    lanes = [cases[k % len(cases)] for k in range(n)]
    z = np.array([[lane[corner] for lane in lanes] for corner in range(4)], dtype).ravel()
    out = np.full(n, -1, index_dtype)
    _winners(z, out, 100, 10)
    np.testing.assert_array_equal(out, [100 + want[k % len(cases)] for k in range(n)])
