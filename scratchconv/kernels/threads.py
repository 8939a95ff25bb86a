"""How the fast kernels share the cores: numba's threads, the BLAS's threads, OpenMP's waiting.

The numba kernels deal the samples of a batch to numba's threads (``prange``), and each thread
calls the BLAS for its own products. :func:`configure`, called once when
:mod:`scratchconv.kernels.numba_kernels` is imported, sets three things for the whole process;
each was measured to pay on 2 cores (a batch-32 training step of the tutorial model):

1. **numba's threading layer.** Unless the user chose one (``NUMBA_THREADING_LAYER`` or
   ``NUMBA_THREADING_LAYER_PRIORITY``), OpenMP is preferred, then workqueue, then TBB.
   Measured: workqueue 24-40 ms (median 38), OpenMP 21-24 ms.
2. **How long idle OpenMP threads spin.** Unless the user set ``GOMP_SPINCOUNT`` or
   ``OMP_WAIT_POLICY``, GNU OpenMP's idle threads spin for 10,000 rounds (instead of 300,000)
   before they sleep. Alone the two counts give the same 21-24 ms; with two training processes
   sharing the cores, the default spinning made every step 150 ms, the short spin 47 ms
   (workqueue 42 ms).
3. **One BLAS thread.** Every BLAS library loaded so far (scipy's, which numba's ``np.dot``
   calls, included) is limited to one thread, for good: BLAS threads on top of numba's threads
   oversubscribe the cores (10 to 100 times slower), and between two kernels an idle BLAS worker
   keeps spinning on a core numba's threads need (a batch-1 training step took 12 to 28 ms
   instead of 3 with two BLAS threads). ``threadpoolctl.threadpool_limits`` undoes it;
   the kernels then run inside :func:`one_blas_thread`, which lowers it again while they run.

1 and 2 take effect only if no numba-parallel code has run yet in the process (and 2 only if
GNU OpenMP is not loaded yet). GNU OpenMP does not survive ``fork()``: a process that forks
after training must start its children with ``multiprocessing``'s "spawn" or "forkserver".

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
