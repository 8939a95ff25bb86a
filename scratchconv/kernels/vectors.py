"""512-bit vectors for the numba kernels: values that stay in the CPU's vector registers.

numba compiles loops over arrays and lets LLVM vectorise the innermost one, but it has no
vector type of its own: every value a loop carries from one iteration to the next is a scalar
or lives in memory. A convolution with few input channels (an image's 1-3) then loads and
stores its output channels' sums again and again, well below the core's multiply-add rate
(``python -m benchmarks.kernels --winograd`` times both of ``numba_kernels``' direct kernels).
The usual remedy (register blocking, as oneDNN's and the BLAS's kernels do) keeps the sums of a
few output pixels in registers for the whole window and only loads the weights and the inputs;
that needs a type for "16 float32 in one register".

:class:`VectorType` is that type (``Vector[dtype]``): LLVM's own vector of ``lanes(dtype)``
numbers of one dtype (16 float32 or 8 float64, 512 bits), which LLVM keeps in a register (a zmm
register on AVX-512; on other CPUs it splits the operations into narrower ones). The functions
below, numba intrinsics, are the only operations on it; each is one LLVM instruction (a few for
``store_winners``, a pooling's winners), so what a kernel writes is what the CPU runs
(n = lanes(w.dtype))::

    acc = vectors.fill(w, 0)                                        # n zeros, w's dtype
    acc = vectors.fma(vectors.fill(w, x), vectors.load(w, i), acc)  # acc + x * w[i:i + n]
    vectors.store(y, j, acc)                                        # y[j:j + n] = acc

``load`` and ``store`` index an array's entries in memory order (the array must be
C-contiguous) and do not check bounds: the caller keeps ``i + n`` inside the array.
The arithmetic follows the scalar code's rules entry by entry: ``fma`` rounds once (as
numba's ``fastmath={"contract"}`` lets a scalar ``a * b + c`` do), ``relu`` keeps a NaN as
``max(., 0)`` does, ``better`` never lets a NaN win (``_pool_window``'s maximum), and
``store_winners`` picks a window's winner as ``_window_argmax`` does.
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

# The bytes of one vector: one AVX-512 register.
BYTES = 64


def lanes(dtype):
    """How many numbers of ``dtype`` (float32 or float64) one vector holds: 16 or 8."""
    return BYTES // np.dtype(dtype).itemsize


class VectorType(types.Type):
    """numba's type of a vector of ``count`` numbers of the float type ``dtype``."""

    def __init__(self, dtype):
        self.dtype, self.count = dtype, lanes(str(dtype))
        super().__init__(name=f"Vector({dtype} x {self.count})")


@register_model(VectorType)
class _VectorModel(models.PrimitiveModel):
    """A vector is LLVM's ``<count x float>`` (or double): a value, held in a register."""

    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(),
                                                     fe_type.count))


_FLOATS = (types.float32, types.float64)
Vector = {dtype: VectorType(dtype) for dtype in _FLOATS}


def _array(a):
    """a's Vector type, if a is a C-contiguous float32 or float64 array (else None: numba then
    reports that the intrinsic takes no such argument)."""
    if isinstance(a, types.Array) and a.layout == "C" and a.dtype in _FLOATS:
        return Vector[a.dtype]
    return None


def _address(context, builder, array_type, array, index_type, index, lanes_type):
    """The address of entry ``index`` of the array, as a pointer to ``lanes_type`` (an LLVM
    vector type: the lanes read or written from there)."""
    data = context.make_array(array_type)(context, builder, array).data
    entry = builder.gep(data, [context.cast(builder, index, index_type, types.intp)])
    return builder.bitcast(entry, lanes_type.as_pointer())


@intrinsic
def load(typingctx, a, i):
    """The vector a[i], a[i + 1], .., a[i + n - 1] (a's entries in memory order, n lanes)."""
    vector = _array(a)
    if vector is None or not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        address = _address(context, builder, a, args[0], i, args[1],
                           context.get_value_type(vector))
        return builder.load(address, align=np.dtype(str(a.dtype)).itemsize)
    return vector(a, i), codegen


@intrinsic
def store(typingctx, a, i, v):
    """a[i], .., a[i + n - 1] = v."""
    vector = _array(a)
    if vector is None or not isinstance(i, types.Integer) or v != vector:
        return None

    def codegen(context, builder, signature, args):
        address = _address(context, builder, a, args[0], i, args[1],
                           context.get_value_type(vector))
        builder.store(args[2], address, align=np.dtype(str(a.dtype)).itemsize)
        return context.get_dummy_value()
    return types.void(a, i, v), codegen


def _filled(builder, value, vector_type):
    """A vector (of numbers or of integers) with ``value`` in every lane."""
    one = builder.insert_element(ir.Constant(vector_type, ir.Undefined), value,
                                 ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, ir.Constant(vector_type, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), vector_type.count),
                                              [0] * vector_type.count))


@intrinsic
def fill(typingctx, like, x):
    """The vector with the number x, converted to the dtype of ``like`` (an array or a vector),
    in every lane."""
    vector = like if isinstance(like, VectorType) else _array(like)
    if vector is None or not isinstance(x, (types.Float, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[1], x, vector.dtype)
        return _filled(builder, value, context.get_value_type(vector))
    return vector(like, x), codegen


def _binary(instruction, doc):
    """An intrinsic ``f(u, v)`` of two vectors of one type, one LLVM instruction."""
    @intrinsic
    def operation(typingctx, u, v):
        if not isinstance(u, VectorType) or u != v:
            return None

        def codegen(context, builder, signature, args):
            return instruction(builder, *args)
        return u(u, v), codegen
    operation.__doc__ = doc
    return operation


add = _binary(lambda builder, u, v: builder.fadd(u, v), "u + v, lane by lane.")
better = _binary(lambda builder, best, val: builder.select(builder.fcmp_ordered(">", val, best),
                                                           val, best),
                 "better(best, val): val where val > best, else best, lane by lane: a NaN val "
                 "never wins, so a maximum that starts at -inf skips NaNs (``_pool_window``).")


@intrinsic
def fma(typingctx, u, v, w):
    """u * v + w, lane by lane, rounded once (LLVM's ``fma``: one instruction on a CPU with FMA)."""
    if not isinstance(u, VectorType) or not u == v == w:
        return None

    def codegen(context, builder, signature, args):
        vector_type = context.get_value_type(u)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vector_type, [vector_type] * 3),
            f"llvm.fma.v{u.count}f{np.dtype(str(u.dtype)).itemsize * 8}")
        return builder.call(function, args)
    return u(u, v, w), codegen


@intrinsic
def relu(typingctx, u):
    """max(u, 0) lane by lane, a NaN kept (u < 0 is False for it), as ``_activate`` does."""
    if not isinstance(u, VectorType):
        return None

    def codegen(context, builder, signature, args):
        zero = ir.Constant(context.get_value_type(u), [0.0] * u.count)
        return builder.select(builder.fcmp_ordered("<", args[0], zero), zero, args[0])
    return u(u), codegen


@intrinsic
def store_winners(typingctx, a, i, first, w_out, best, z00, z01, z10, z11):
    """a[i], .., a[i + n - 1] = where each lane's maximum ``best`` of a 2x2 pooling window came
    from, as ``numba_kernels._window_argmax`` gives it for a window wholly inside the output:
    the flat index of the first of z00, z01, z10, z11 (row-major) equal to best, ``first`` being
    z00's and ``w_out`` the row length; 0 where best is -inf (no value beat the start, -inf).
    a : a C-contiguous int32 or int64 array (the winners' dtype)."""
    if not (isinstance(a, types.Array) and a.layout == "C" and a.dtype in (types.int32, types.int64)
            and all(isinstance(n, types.Integer) for n in (i, first, w_out))
            and isinstance(best, VectorType) and best == z00 == z01 == z10 == z11):
        return None

    def codegen(context, builder, signature, args):
        index_type = context.get_value_type(a.dtype)
        lanes_type = ir.VectorType(index_type, best.count)
        base = context.cast(builder, args[2], first, a.dtype)
        row = context.cast(builder, args[3], w_out, a.dtype)
        one = ir.Constant(index_type, 1)
        z, top = args[5:9], args[4]
        offsets = (base, builder.add(base, one), builder.add(base, row),
                   builder.add(builder.add(base, row), one))
        winner = _filled(builder, offsets[3], lanes_type)
        for k in (2, 1, 0):  # the first equal value wins: test from the last back to the first
            equal = builder.fcmp_ordered("==", z[k], top)
            winner = builder.select(equal, _filled(builder, offsets[k], lanes_type), winner)
        lowest = ir.Constant(context.get_value_type(best), [float("-inf")] * best.count)
        winner = builder.select(builder.fcmp_ordered(">", top, lowest), winner,
                                ir.Constant(lanes_type, [0] * best.count))
        address = _address(context, builder, a, args[0], i, args[1], lanes_type)
        builder.store(winner, address, align=np.dtype(str(a.dtype)).itemsize)
        return context.get_dummy_value()
    return types.void(a, i, first, w_out, best, z00, z01, z10, z11), codegen
