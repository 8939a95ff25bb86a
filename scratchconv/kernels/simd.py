"""How wide the vectors are that numba compiles the fast kernels' loops to.

LLVM, which numba compiles with, vectorises loops to 256-bit registers (8 float32) even on a CPU
with AVX-512's 512-bit registers (16 float32), unless told otherwise: on the first AVX-512
CPUs (Skylake-SP) code full of 512-bit instructions lowered the clock enough to lose more than
it gained, so LLVM marks those CPUs "prefer-256-bit". The BLAS products (OpenBLAS's kernels)
use the full width either way; numba's own loops (the direct convolution, Winograd's
transforms, the pooling) ran at half of it. :func:`configure`, called once when
:mod:`scratchconv.kernels.numba_kernels` is imported, drops that preference where the CPU has
AVX-512, so they use 512-bit registers too.

On the 2-core Xeon (Emerald Rapids) the benchmarks run on, ``predict`` of the tutorial model
took about 15% less time this way, a training step about the same (``python -m
benchmarks.choices --only vector-width``; figures beside :data:`WIDE_VECTORS`).

It changes no result: the loops numba vectorises are elementwise or keep their order of
summation (no fastmath reassociation), so each number is computed by the same operations in
either width; a test checks a training step's bits both ways.

It takes effect only if numba has compiled nothing yet in the process (its code generator,
made on first use, keeps the target it was made with), and not when the user chose the CPU
features (``NUMBA_CPU_FEATURES``). numba keys its cache by the features, so kernels cached for
the other width are compiled again once.
"""
import os

from numba.core import codegen, config
from numba.core.registry import cpu_target

# Whether numba's loops may use 512-bit registers where the CPU has them (see above).
# ``python -m benchmarks.choices --only vector-width --processes 3 --repeats 15 --steps 15``
# (2-core Xeon, Emerald Rapids, 2026-12-02, load average 5.9 from other work, two threads,
# medians, 512-bit / 256-bit): predict at batch 32 12.6 / 14.8 ms, at batch 256 105.6 / 121.4
# ms, a batch-32 training step 56.0 / 56.8 ms.
WIDE_VECTORS = True


def configure():
    """Let numba compile 512-bit vector loops on an AVX-512 CPU if :data:`WIDE_VECTORS`;
    returns whether its code generator compiles them. Does nothing once numba's code generator
    exists, or when ``NUMBA_CPU_FEATURES`` is set."""
    if "_toplevel_target_context" in vars(cpu_target) or "NUMBA_CPU_FEATURES" in os.environ:
        return _wide()
    features = codegen.get_host_cpu_features()
    if WIDE_VECTORS and "+avx512f" in features.split(","):
        config.CPU_FEATURES = features + ",-prefer-256-bit"
        try:
            cpu_target.target_context  # noqa: B018  (makes the code generator now, with them)
        finally:
            # numba rereads its settings from the environment at each compilation; the code
            # generator keeps the features it was made with.
            config.CPU_FEATURES = None
    return _wide()


def _wide():
    """Whether numba's code generator compiles for 512-bit vectors."""
    if "_toplevel_target_context" not in vars(cpu_target):
        return False
    return "-prefer-256-bit" in cpu_target.target_context.codegen()._tm_features.split(",")
