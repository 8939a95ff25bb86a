"""How the fast kernels share the cores: numba's threads, the BLAS's threads, OpenMP's waiting.

The numba kernels deal the samples of a batch to numba's threads (``prange``), and each thread
calls the BLAS for its own products. :func:`configure`, called once when
:mod:`scratchconv.kernels.numba_kernels` is imported, sets three things for the whole process;
each was measured on 2 cores by ``python -m benchmarks.choices --only threads`` (fresh
processes, ``train_on_batch`` steps of the tutorial model on two threads, medians of 3
processes of 30 steps; 2-core Xeon, 2026-12-02, load average 3 from the section's own
processes):

1. **numba's threading layer.** Unless the user chose one (``NUMBA_THREADING_LAYER`` or
   ``NUMBA_THREADING_LAYER_PRIORITY``), OpenMP is preferred, then workqueue, then TBB.
   Measured: a batch-32 step 22.3 ms with OpenMP, 28.5 ms with workqueue; batch 1 3.2 / 3.8
   ms (with two trainings sharing the cores, even: 48.5 / 46.6 ms).
2. **How long idle OpenMP threads spin.** Unless the user set ``GOMP_SPINCOUNT`` or
   ``OMP_WAIT_POLICY``, GNU OpenMP's idle threads spin for 10,000 rounds (instead of 300,000)
   before they sleep. Alone the counts make no difference (batch 32: 22.3 ms, 22.5 with GNU's
   default; batch 1: 3.2 / 3.0); with two trainings sharing the cores, a thread spinning long
   holds a core the other process needs: a batch-32 step took 48.5 ms against 75.2 with GNU's
   default (46.3 with no spin at all, which alone took 24.4 ms).
3. **One BLAS thread.** Every BLAS library loaded so far (scipy's, which numba's ``np.dot``
   calls, included) is limited to one thread, for good: BLAS threads on top of numba's threads
   oversubscribe the cores, and between two kernels an idle BLAS worker keeps spinning on a
   core numba's threads need. With two BLAS threads (and the kernels' guard below removed) a
   batch-32 step took 64.7 ms against 22.3, 466 against 48.5 with two trainings at once, and
   a batch-1 step 8.0 against 3.2 ms. ``threadpoolctl.threadpool_limits`` undoes it; the
   kernels then run inside :func:`one_blas_thread`, which lowers it again while they run.

1 and 2 take effect only if no numba thread has started yet in the process (a parallel kernel
or ``numba.set_num_threads`` starts them; 2 only if GNU OpenMP is not loaded yet either), so
a program that sets numba's thread count imports the kernels first
(``scratchconv.backend.kernels("numba")``). GNU OpenMP does not survive ``fork()``: a process
that forks after training must start its children with ``multiprocessing``'s "spawn" or
"forkserver".

Determinism does not depend on any of this: each sample is computed by one thread in a fixed
order, so the results are the same bits whatever the thread count (a test checks it).
"""
import contextlib
import os

import numba

_blas = None  # threadpoolctl's handle on the BLAS libraries, once configure() has run


def configure():
    """Apply the policy above, once per process (later calls do nothing)."""
    global _blas
    if _blas is not None:
        return
    if not {"NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY"} & set(os.environ):
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
    if not {"GOMP_SPINCOUNT", "OMP_WAIT_POLICY"} & set(os.environ):
        os.environ["GOMP_SPINCOUNT"] = "10000"
    # Load the BLAS that numba's np.dot calls now, so that the limit below reaches it too.
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import ThreadpoolController

    _blas = ThreadpoolController().select(user_api="blas")
    _blas.limit(limits=1)


def one_blas_thread():
    """Context manager: every BLAS library single-threaded inside, as before on exit.

    A guard around each kernel, in case the user raised the BLAS thread count again; when every
    BLAS already runs one thread (the usual case) it costs a microsecond instead of twenty.
    """
    configure()
    if all(lib.num_threads == 1 for lib in _blas.lib_controllers):
        return contextlib.nullcontext()
    return _blas.limit(limits=1)


def count():
    """How many threads a kernel deals its samples to: numba's current thread count."""
    return numba.get_num_threads()
