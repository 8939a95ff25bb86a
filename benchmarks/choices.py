"""The engine's measured choices, timed: ``python -m benchmarks.choices [--repeats R] [--json PATH]``.

Each section times the alternatives one choice of the engine decides between, with the timing
helpers of :mod:`benchmarks.kernels` (interleaved repeats, warm-up excluded, medians), and
prints a small table; the comments and docs that quote these figures cite this command.

- ``parallel``: ``numba_kernels.PARALLEL_MIN_ENTRIES``. Adam's ``apply_gradients`` timed inside
  real batch-1 ``train_on_batch`` steps of the tutorial model (``ScratchconvRunner.profile_steps``,
  wall clock, every core), with every elementwise kernel on all threads (threshold 0), every one
  on the calling thread, and the threshold as it is; the whole step's time beside it.
- ``winograd-training``: ``numba_kernels.WINOGRAD_MIN_CHANNELS_TRAINING``. The fused training
  forward (convolution, bias, ReLU, 2x2 max pooling with argmax) and the fused backward,
  24x24xC_in -> 32, batch 32, float32, by im2col and by Winograd's F(2x2, 3x3); one thread,
  CPU time.
- ``im2col-bands``: ``numba_kernels.IM2COL_BAND_PIXELS``. The inference forward of the
  tutorial's conv1 (50x50x3 -> 64, bias, ReLU, 2x2 max pooling, batch 32) by im2col in bands
  of 2, 4, 8 and 16 output rows; one thread, CPU time.
- ``fused-pool``: the fused convolution and max pooling of training (``conv2d_maxpool_forward``)
  against the convolution (with ReLU) and then the pooling (``conv2d_forward``,
  ``maxpool2d_forward``), the tutorial's conv1 at batch 32; one thread, CPU time.
- ``filter-transform``: ``winograd.filter_transform`` (two ``tensordot`` over all filters)
  against a stack of C_in*C_out tiny products ``G @ g @ G.T``, the tutorial's conv2 kernel
  (3x3x64x32); one thread, CPU time.
- ``dense-outer``: Dense's one-sample kernel gradient (``layers/core.py``), the tutorial's
  3872 -> 128 layer: ``np.outer(x[0], dz[0])`` against BLAS's ``x.T @ dz``; one thread, CPU
  time.
- ``finite-check``: ``checks.CHECK_CHUNK_BYTES``. ``check_finite`` (predict's and fit's test
  that x holds no nan or inf, which also gives predict its extremes) of 1,024 images of 50x50x3,
  float32, read in chunks of 64 KiB, 256 KiB, 1 MiB and 4 MiB and as one chunk (the whole
  array's minimum, then its maximum); each call on another of six copies, so that its images
  are not in cache; one thread, wall clock.
- ``dense-columns``: ``numba_kernels.DENSE_FORWARD_MIN_MACS``, ``DENSE_GRADIENT_MIN_MACS`` and
  ``DENSE_GRADIENT_ROWS``. The
  tutorial's Dense products (3872 -> 128, float32) at batch 1, 8, 16, 32, 64, 128 and 256: the
  forward as one BLAS call on the calling thread (``x @ w``) against the output's columns in
  blocks of ``DENSE_BLOCK``, the blocks on every core (``_product_columns``); the kernel's
  gradient as one call (``x.T @ dz``) against its rows in blocks of 256, 1024 and 1936, on every
  core (``_gradient_rows``); and ``predict`` of the tutorial model at batch 32 and 256 with
  every Dense product as one call and with every forward product in blocks; wall clock, and the
  machine's peak (a 2048x2048 float32 product on every core) before and after, since the
  second core is sometimes the host's.
- ``winner-index``: ``numpy_kernels.winner_index_dtype``. ``train_on_batch`` steps of the
  tutorial model at batch 32 and 128 (``--steps`` steps a repeat, cycling through the batches
  of 1,024 images) with max pooling's winners as int32 (the choice) and as int64, each on its own model
  (the same seeded weights) so that its buffers keep one dtype; wall clock, every core.
- ``predict-passes``: ``training.PREDICT_CHUNK``. ``predict`` of the tutorial model at batch 256
  (1,024 samples), run as two ConvPoolSteps (not as the one pair step it runs as, which takes
  one pass), its convolutional steps in passes of 16, 32, 64 and 256 samples (256: every
  step in one pass over the batch; otherwise the dense steps in one pass, see
  ``Training.predict``); on every core by the wall clock, and on one thread by CPU time.
- ``conv-pairs``: ``steps.for_inference``. ``predict`` of the tutorial model at batch 32 and 256
  (1,024 samples), its two convolution + pooling steps as one ConvPoolPairStep (each sample
  through both on one thread) and as the two steps; on every core by the wall clock.
- ``subnormal``: ``numpy_kernels.flush_subnormals``. The tutorial model trained for ``--steps``
  batch-1 steps with Adam's flush turned off (as before it was added); then the share of the
  dense kernel's m below float32's smallest normal number, and Adam's update of that kernel
  from that state without the flush, and from that state flushed (as training with the flush
  keeps it) with the flush (fresh copies each repeat); one thread, CPU time.

- ``threads``: the three settings of ``threads.configure`` (numba's threading layer, OpenMP's
  spin before sleeping, one BLAS thread), each against its alternative. A setting holds for a
  whole process, so every figure is a fresh process: the median ms of ``--steps``
  ``train_on_batch`` steps of the tutorial model after three untimed ones, at batch 32 alone,
  at batch 32 with two such processes at once (as when two trainings share the cores), and at
  batch 1 alone; ``--processes`` rounds, the settings interleaved within each; wall clock,
  every core.
- ``vector-width``: ``simd.WIDE_VECTORS``, numba's loops compiled for 512-bit vectors (on an
  AVX-512 CPU) against LLVM's default 256-bit ones. Also a whole-process setting: in fresh
  processes, the median ms of ``predict`` at batch 32 and 256 (``--repeats``) and of batch-32
  ``train_on_batch`` steps (``--steps``) of the tutorial model after untimed ones;
  ``--processes`` rounds, the two widths interleaved within each; wall clock, every core.

- ``settle``: ``benchmarks.run``'s untimed call before each timed one. The benchmark's jobs
  for predict at batch 32 and 256 (scratchconv ``predict``, keras ``predict``, TF's compiled
  forward) and training at batch 32 (``fit`` and bare steps of both), each in its own worker
  processes as ``python -m benchmarks`` runs them: every call timed right after the call before
  it in the job's order, and right after an untimed call of its own, the two ways alternating
  within each repeat; ms a batch, medians, and TF's compiled reference over scratchconv's.

``--only SECTION[,SECTION]`` runs some; ``--tiny`` is a smoke run (a few steps, two repeats:
its figures mean nothing).
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import models
from benchmarks.kernels import _write_json, one_thread, time_interleaved
from benchmarks.run import worker_env
from benchmarks.startup import in_fresh_processes
from scratchconv import backend
from scratchconv.kernels import numpy_kernels

SECTIONS = ("parallel", "winograd-training", "im2col-bands", "fused-pool", "filter-transform",
            "dense-outer", "finite-check", "dense-columns", "winner-index", "predict-passes", "conv-pairs", "subnormal", "threads", "vector-width", "settle")
BAND_ROWS = (2, 4, 8, 16)
CHECK_CHUNKS = (1 << 16, 1 << 18, 1 << 20, 1 << 22)
SETTLE_JOBS = (("predict", 32), ("predict", 256), ("train", 32))
PREDICT_PASSES = (16, 32, 64, 256)
TRAINING_CHANNELS = (8, 16, 32, 64)
DENSE_BATCHES = (1, 8, 16, 32, 64, 128, 256)
DENSE_GRADIENT_ROWS = (256, 1024, 1936)


def _median_ms(seconds):
    return statistics.median(seconds) * 1e3


def parallel(repeats, steps):
    """Adam's apply_gradients and the whole step (ms, medians over repeats of ``steps``
    batch-1 train_on_batch steps) with PARALLEL_MIN_ENTRIES at 0, at no limit and as it is."""
    k = backend.kernels("numba")
    saved = k.PARALLEL_MIN_ENTRIES
    variants = {"all on all threads": 0, "all on one thread": sys.maxsize,
                f"threshold ({saved:,} entries)": saved}
    runner = models.ScratchconvRunner(50, os.cpu_count() or 1)
    runner.prepare(*models.make_data(32, 50), batch_size=1)
    found = {name: {"optimizer_ms": [], "step_ms": []} for name in variants}
    try:
        for entries in variants.values():  # each variant's kernels compiled or loaded, untimed
            k.PARALLEL_MIN_ENTRIES = entries
            runner.train_steps(2)
        for _ in range(repeats):
            for name, entries in variants.items():
                k.PARALLEL_MIN_ENTRIES = entries
                profile = runner.profile_steps(steps)
                found[name]["optimizer_ms"].append(profile["optimizer_ms"])
                found[name]["step_ms"].append(profile["total_ms"])
    finally:
        k.PARALLEL_MIN_ENTRIES = saved
    return {"threads": os.cpu_count() or 1, "steps": steps,
            "rows": [{"variant": name, "apply_gradients_ms": statistics.median(f["optimizer_ms"]),
                      "step_ms": statistics.median(f["step_ms"])} for name, f in found.items()]}


def winograd_training(repeats):
    """ms (median CPU time, one thread) of the fused training forward and backward by im2col
    and by Winograd, for 24x24xC_in -> 32 at batch 32; the method is forced through
    WINOGRAD_MIN_CHANNELS_TRAINING (1: Winograd, no limit: im2col)."""
    k = backend.kernels("numba")
    saved = k.WINOGRAD_MIN_CHANNELS_TRAINING
    least = {"im2col": sys.maxsize, "winograd": 1}
    rng = np.random.default_rng(7)
    no_pad, pool = ((0, 0), (0, 0)), ((2, 2), (2, 2), ((0, 0), (0, 0)))
    calls = {}
    for c_in in TRAINING_CHANNELS:
        x = rng.random((32, 24, 24, c_in), dtype=np.float32)
        w = rng.standard_normal((3, 3, c_in, 32), dtype=np.float32) * 0.1
        b = rng.standard_normal(32, dtype=np.float32)
        y, argmax = k.conv2d_maxpool_forward(x, w, b, (1, 1), no_pad, True, *pool)
        dy = rng.standard_normal(y.shape, dtype=np.float32)
        for method in least:
            ws_f, ws_b = {}, {}
            calls[(c_in, "forward", method)] = lambda x=x, w=w, b=b, ws=ws_f: (
                k.conv2d_maxpool_forward(x, w, b, (1, 1), no_pad, True, *pool, workspace=ws))
            calls[(c_in, "backward", method)] = lambda x=x, w=w, y=y, a=argmax, dy=dy, ws=ws_b: (
                k.conv2d_maxpool_backward(dy, y, a, x, w, (1, 1), no_pad, True, workspace=ws))
    try:
        with one_thread():
            times = time_interleaved(calls, repeats, time.process_time, warmups=1,
                                     before=lambda key: setattr(
                                         k, "WINOGRAD_MIN_CHANNELS_TRAINING", least[key[2]]))
    finally:
        k.WINOGRAD_MIN_CHANNELS_TRAINING = saved
    return {"threshold": saved, "rows": [
        {"c_in": c_in, "op": op, **{m: _median_ms(times[(c_in, op, m)]) for m in least}}
        for c_in in TRAINING_CHANNELS for op in ("forward", "backward")]}


def im2col_bands(repeats):
    """ms (median CPU time, one thread) of conv1's pooled im2col inference forward at batch 32
    with bands of BAND_ROWS output rows, set through IM2COL_BAND_PIXELS (rows x 48 pixels)."""
    k = backend.kernels("numba")
    saved_pixels, saved_method = k.IM2COL_BAND_PIXELS, k.inference_method
    rng = np.random.default_rng(7)
    x = rng.random((32, 50, 50, 3), dtype=np.float32)
    w = rng.standard_normal((3, 3, 3, 64), dtype=np.float32) * 0.1
    b = rng.standard_normal(64, dtype=np.float32)
    no_pad, pool = ((0, 0), (0, 0)), ((2, 2), (2, 2), ((0, 0), (0, 0)))
    calls = {rows: lambda ws={}: k.conv2d_maxpool_forward(x, w, b, (1, 1), no_pad, True, *pool,
                                                          workspace=ws, training=False)
             for rows in BAND_ROWS}
    k.inference_method = lambda w_shape, strides: k.IM2COL
    try:
        with one_thread():
            times = time_interleaved(calls, repeats, time.process_time, warmups=1,
                                     before=lambda rows: setattr(k, "IM2COL_BAND_PIXELS", rows * 48))
    finally:
        k.IM2COL_BAND_PIXELS, k.inference_method = saved_pixels, saved_method
    return {"pixels": saved_pixels, "rows": [{"band_rows": rows, "ms": _median_ms(times[rows])}
                                             for rows in BAND_ROWS]}


def fused_pool(repeats):
    """ms (median CPU time, one thread) of conv + ReLU + 2x2 max pooling with argmax at batch
    32, fused and as two kernels, for the tutorial's conv1."""
    k = backend.kernels("numba")
    rng = np.random.default_rng(7)
    no_pad, pool = ((0, 0), (0, 0)), ((2, 2), (2, 2), ((0, 0), (0, 0)))
    calls = {}
    # conv1 only: both ways compute it by im2col (conv2's fused training forward is Winograd's).
    for name, shape, c_out in (("conv1", (50, 50, 3), 64),):
        x = rng.random((32, *shape), dtype=np.float32)
        w = rng.standard_normal((3, 3, shape[2], c_out), dtype=np.float32) * 0.1
        b = rng.standard_normal(c_out, dtype=np.float32)
        calls[(name, "fused")] = lambda x=x, w=w, b=b, ws={}: k.conv2d_maxpool_forward(
            x, w, b, (1, 1), no_pad, True, *pool, workspace=ws)
        calls[(name, "conv, then pool")] = lambda x=x, w=w, b=b: k.maxpool2d_forward(
            k.conv2d_forward(x, w, b, (1, 1), no_pad, relu=True), *pool)
    with one_thread():
        times = time_interleaved(calls, repeats, time.process_time)
    return {"rows": [{"layer": name, "variant": variant, "ms": _median_ms(t)}
                     for (name, variant), t in times.items()]}


def filter_transform(repeats):
    """ms (median CPU time, one thread) of U = G g G^T for conv2's 3x3x64x32 kernel, as
    winograd.filter_transform does it and as a stack of tiny matrix products."""
    from scratchconv.kernels import winograd
    w = np.random.default_rng(7).standard_normal((3, 3, 64, 32), dtype=np.float32)
    g = winograd.G

    def stacked():
        filters = np.moveaxis(np.asarray(w, dtype=np.float64), (0, 1), (2, 3))  # (C_in, C_out, 3, 3)
        return np.moveaxis(g @ filters @ g.T, (2, 3), (0, 1)).astype(np.float32)

    assert np.allclose(stacked(), winograd.filter_transform(w, np.float32), atol=1e-5)
    calls = {"two tensordots (filter_transform)": lambda: winograd.filter_transform(w, np.float32),
             "stack of G @ g @ G.T": stacked}
    with one_thread():
        times = time_interleaved(calls, repeats, time.process_time)
    return {"rows": [{"variant": name, "ms": _median_ms(t)} for name, t in times.items()]}


def dense_outer(repeats):
    """ms (median CPU time, one thread) of one sample's 3872x128 kernel gradient as np.outer
    and as BLAS's x.T @ dz."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 3872), dtype=np.float32)
    dz = rng.standard_normal((1, 128), dtype=np.float32)
    calls = {"np.outer": lambda: np.outer(x[0], dz[0]), "x.T @ dz (gemm)": lambda: x.T @ dz}
    with one_thread():
        times = time_interleaved(calls, repeats, time.process_time)
    return {"rows": [{"variant": name, "ms": _median_ms(t)} for name, t in times.items()]}


def finite_check(repeats):
    """ms (median wall clock, one thread) of check_finite on 1,024 images of 50x50x3, float32,
    with each of CHECK_CHUNKS as ``checks.CHECK_CHUNK_BYTES`` and with the whole array as one
    chunk. Each call reads the next of six copies (180 MB in all), so that it reads from memory,
    as predict and fit do with a user's data."""
    from scratchconv import checks
    copies = [models.make_data(1024, 50, seed=seed)[0] for seed in range(6)]
    turn = iter(range(sys.maxsize))
    variants = {f"chunks of {size >> 10} KiB": size for size in CHECK_CHUNKS}
    variants["one chunk (the whole array)"] = sys.maxsize
    saved = checks.CHECK_CHUNK_BYTES

    def set_chunk(key):
        checks.CHECK_CHUNK_BYTES = variants[key]

    calls = {key: lambda: checks.check_finite(copies[next(turn) % len(copies)], "x", "finite-check")
             for key in variants}
    try:
        with one_thread():
            times = time_interleaved(calls, repeats, before=set_chunk)
    finally:
        checks.CHECK_CHUNK_BYTES = saved
    return {"chunk_bytes": saved,
            "rows": [{"variant": name, "ms": _median_ms(t)} for name, t in times.items()]}


def dense_columns(repeats):
    """ms (medians, wall clock, every core) of the tutorial's 3872x128 Dense product at each of
    DENSE_BATCHES, as one call on the calling thread and in column blocks on every core; of
    predict of the tutorial model at batch 32 and 256 (1,024 samples, ms per batch) with every
    Dense forward product in blocks (no threshold) and as one call; and the peak in
    GFLOP/s (best of 5 2048x2048 float32 products, every core) before and after."""
    from threadpoolctl import threadpool_limits
    k = backend.kernels("numba")
    rng = np.random.default_rng(7)
    w = rng.standard_normal((3872, 128), dtype=np.float32)
    big = rng.standard_normal((2048, 2048), dtype=np.float32)

    def peak():
        with threadpool_limits(os.cpu_count() or 1):
            best = min(time_interleaved({0: lambda: big @ big}, 5)[0])
        return 2 * 2048 ** 3 / best / 1e9

    products = {}
    for batch in DENSE_BATCHES:
        x = rng.standard_normal((batch, 3872), dtype=np.float32)
        dz = rng.standard_normal((batch, 128), dtype=np.float32)
        out, dw = np.empty((batch, 128), np.float32), np.empty((3872, 128), np.float32)
        products[batch, "one call"] = lambda x=x: x @ w
        products[batch, "blocks"] = lambda x=x, out=out: k._product_columns(x, w, out, k.DENSE_BLOCK)
        products[batch, "gradient one call"] = lambda x=x, dz=dz: x.T @ dz
        for rows in DENSE_GRADIENT_ROWS:
            products[batch, rows] = lambda x=x, dz=dz, dw=dw, rows=rows: k._gradient_rows(x, dz, dw, rows)
    model = models.ScratchconvRunner(50, os.cpu_count() or 1).model
    images, _ = models.make_data(1024, 50)
    predicts = {(batch, variant): (lambda batch=batch: model.predict(images, batch_size=batch, verbose=0))
                for batch in (32, 256) for variant in ("one call", "blocks")}
    saved = k.DENSE_FORWARD_MIN_MACS

    def set_variant(key):
        k.DENSE_FORWARD_MIN_MACS = 0 if key[1] == "blocks" else np.inf

    before = peak()
    try:
        product_times = time_interleaved(products, repeats)
        predict_times = time_interleaved(predicts, repeats, before=set_variant)
    finally:
        k.DENSE_FORWARD_MIN_MACS = saved
    return {"threads": k.threads.count(), "block": k.DENSE_BLOCK, "peak_before": before,
            "peak_after": peak(),
            "rows": [{"batch": batch, "one_call_ms": _median_ms(product_times[batch, "one call"]),
                      "blocks_ms": _median_ms(product_times[batch, "blocks"])}
                     for batch in DENSE_BATCHES],
            "gradient_rows": [{"batch": batch, "one_call_ms": _median_ms(product_times[batch, "gradient one call"]),
                               **{f"rows_{rows}_ms": _median_ms(product_times[batch, rows])
                                  for rows in DENSE_GRADIENT_ROWS}} for batch in DENSE_BATCHES],
            "predict": [{"batch": batch,
                         "one_call_ms": _median_ms(predict_times[batch, "one call"]) * batch / 1024,
                         "blocks_ms": _median_ms(predict_times[batch, "blocks"]) * batch / 1024}
                        for batch in (32, 256)]}


def winner_index(repeats, steps):
    """ms a step (medians, wall clock, every core) of train_on_batch of the tutorial model at
    batch 32 and 128 with the max pooling's winners as int32 and as int64: the dtype
    ``numba_kernels.winner_index_dtype`` gives is set before each timed repeat, each dtype
    training a model of its own (the same seeded weights), so that no buffer changes dtype."""
    from scratchconv.kernels import numba_kernels
    from scratchconv.random import set_seed
    chosen = numba_kernels.winner_index_dtype
    x, y = models.make_data(1024, 50)
    runners = {}
    for dtype in (np.int32, np.int64):
        set_seed(7)
        runners[dtype] = models.ScratchconvRunner(50, os.cpu_count() or 1)
    calls = {}
    for batch in (32, 128):
        for dtype, runner in runners.items():
            batches = [(x[i:i + batch], y[i:i + batch]) for i in range(0, len(x), batch)]

            def train(model=runner.model, batches=batches):
                for i in range(steps):
                    model.train_on_batch(*batches[i % len(batches)])
            calls[batch, dtype] = train

    def set_dtype(key):
        numba_kernels.winner_index_dtype = lambda plane, dtype=key[1]: dtype

    try:
        times = time_interleaved(calls, repeats, before=set_dtype)
    finally:
        numba_kernels.winner_index_dtype = chosen
    return {"steps": steps,
            "rows": [{"batch": batch, "int32_ms": _median_ms(times[batch, np.int32]) / steps,
                      "int64_ms": _median_ms(times[batch, np.int64]) / steps}
                     for batch in (32, 128)]}


def predict_passes(repeats):
    """ms per 256 samples (medians) of predict at batch 256 with PREDICT_CHUNK at each of
    PREDICT_PASSES: on every core (wall clock) and on one thread (CPU time). The tutorial
    model's inference steps are its two ConvPoolSteps here, as for a model whose convolutions
    do not pair (a ConvPoolPairStep runs in one pass whatever PREDICT_CHUNK is)."""
    from scratchconv import training
    saved = training.PREDICT_CHUNK
    runner = models.ScratchconvRunner(50, os.cpu_count() or 1)
    model = runner.model
    model._inference_steps, model._inference_of = model.steps, model.steps
    x, _ = models.make_data(1024, 50)
    calls = {chunk: (lambda: model.predict(x, batch_size=256, verbose=0)) for chunk in PREDICT_PASSES}

    def set_chunk(chunk):
        training.PREDICT_CHUNK = chunk

    try:
        every_core = time_interleaved(calls, repeats, before=set_chunk)
        with one_thread():
            one_core = time_interleaved(calls, repeats, time.process_time, before=set_chunk)
    finally:
        training.PREDICT_CHUNK = saved
        model._inference_of = None  # planned again at the next pass
    return {"threads": os.cpu_count() or 1, "chunk": saved, "rows": [
        {"pass_samples": chunk, "every_core_ms": _median_ms(every_core[chunk]) / 4,
         "one_thread_ms": _median_ms(one_core[chunk]) / 4} for chunk in PREDICT_PASSES]}


def settle(repeats, samples):
    """ms a batch (medians) of each (framework, API) of the benchmark's SETTLE_JOBS on
    ``samples`` images, timed right after the previous call of the job's plan ("after the
    plan's previous call", as the benchmark ran before) and right after an untimed call of its
    own ("after its own"), alternating within each repeat; wall clock, every core. Each job has
    a scratchconv and a keras worker of its own, as in ``benchmarks.run.run_job``."""
    from benchmarks import run as bench
    threads = os.cpu_count() or 1
    env = bench.worker_env(threads)
    settings = dict(bench.FULL, train_samples=samples, predict_samples=samples)
    rows = []
    for task, batch in SETTLE_JOBS:
        n, plan = bench.plan_job(task, 50, batch, ("scratchconv", "keras"), settings)
        workers = {}
        try:
            for framework in ("scratchconv", "keras"):
                workers[framework] = bench.Worker(framework, 50, threads, env)
                workers[framework].ask(op="prepare", samples=n, batch=batch)
            calls = [(framework, api, steps) for framework, api, steps, _ in plan]
            for framework, api, steps in calls:  # compiled, traced, settled
                for _ in range(2):
                    workers[framework].ask(op="time", api=api, steps=steps)
            times = {}
            for _ in range(repeats):
                for way in ("after the plan's previous call", "after its own"):
                    for framework, api, steps in calls:
                        seconds = bench.timed_call(workers[framework], api, steps,
                                                   settle=way == "after its own")
                        batches = steps if api == "step" else -(-n // batch)
                        times.setdefault((way, framework, api), []).append(seconds / batches)
        finally:
            for worker in workers.values():
                worker.kill()
        reference = bench.REFERENCE[task]
        for way in ("after the plan's previous call", "after its own"):
            ours = "step" if task == "train" else "predict"
            rows += [{"task": task, "batch": batch, "way": way, "series": f"{framework} {api}",
                      "ms": _median_ms(times[way, framework, api])}
                     for framework, api, _ in calls]
            rows.append({"task": task, "batch": batch, "way": way,
                         "series": f"{' '.join(reference)} / scratchconv {ours}",
                         "ms": statistics.median(times[(way, *reference)])
                         / statistics.median(times[way, "scratchconv", ours])})
    return {"samples": samples, "rows": rows}


def conv_pairs(repeats):
    """ms per batch (medians, wall clock, every core) of predict at batch 32 and 256 with the
    model's inference steps as ``steps.for_inference`` makes them (the two convolution +
    pooling steps as one ConvPoolPairStep) and as the training steps (two ConvPoolSteps)."""
    from scratchconv import steps as steps_module
    runner = models.ScratchconvRunner(50, os.cpu_count() or 1)
    model = runner.model
    x, _ = models.make_data(1024, 50)
    # Each variant's steps made once, so that each keeps its workspace between calls.
    plans = {"one pair step": steps_module.for_inference(model.steps), "two steps": model.steps}
    calls = {(batch, variant): (lambda batch=batch: model.predict(x, batch_size=batch, verbose=0))
             for batch in (32, 256) for variant in plans}

    def set_variant(key):
        model._inference_steps, model._inference_of = plans[key[1]], model.steps

    try:
        times = time_interleaved(calls, repeats, before=set_variant)
    finally:
        model._inference_of = None  # planned again at the next pass
    return {"threads": os.cpu_count() or 1, "rows": [
        {"batch": batch, "variant": variant, "ms": _median_ms(t) * batch / 1024}
        for (batch, variant), t in times.items()]}


def subnormal(repeats, steps):
    """Train ``steps`` batch-1 steps with Adam's flush off, then: the share of the dense
    kernel's m (and v) that is subnormal, and ms (median CPU time, one thread) of Adam's update
    of that kernel from that state without the flush, and from it flushed with the flush."""
    k = backend.kernels("numba")
    saved = k.adam_update

    def unflushed(param, grad, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
        # adam_update with its flush threshold at 0: the update as it was before the flush.
        k._adam_update(param.reshape(-1), np.ascontiguousarray(grad, param.dtype).reshape(-1),
                       m.reshape(-1), v.reshape(-1), alpha, one_minus_beta_1, one_minus_beta_2,
                       epsilon, param.dtype.type(0))

    runner = models.ScratchconvRunner(50, os.cpu_count() or 1)
    runner.prepare(*models.make_data(steps, 50), batch_size=1)
    k.adam_update = unflushed
    try:
        runner.train_steps(steps)
    finally:
        k.adam_update = saved
    model, optimizer = runner.model, runner.model.optimizer
    dense = next(layer for layer in model.layers if layer.params.get("kernel", np.empty(0)).shape
                 == (3872, 128))
    kernel, grad = dense.params["kernel"], dense.grads["kernel"]
    m, v = optimizer._slots(kernel)
    tiny = np.finfo(np.float32).tiny
    # Without the flush the update starts from the state as trained; with it, from the same
    # state flushed, as training with the flush keeps it.
    flushed = {"m": m.copy(), "v": v.copy()}
    for a in flushed.values():
        numpy_kernels.flush_subnormals(a)
    states = {"no flush (before)": (m, v, np.float32(0)), "flush (now)": (*flushed.values(), tiny)}
    work = {name: a.copy() for name, a in (("param", kernel), ("m", m), ("v", v))}
    dt = np.float32
    constants = (dt(1e-3), dt(1) - dt(optimizer.beta_1), dt(1) - dt(optimizer.beta_2),
                 dt(optimizer.epsilon))
    flat = {name: a.reshape(-1) for name, a in work.items()}
    g = np.ascontiguousarray(grad, dt).reshape(-1)
    calls = {name: (lambda t=t: k._adam_update(flat["param"], g, flat["m"], flat["v"],
                                               *constants, t)) for name, (_, _, t) in states.items()}

    def restore(key):
        m0, v0, _ = states[key]
        work["param"][...], work["m"][...], work["v"][...] = kernel, m0, v0

    with one_thread():
        times = time_interleaved(calls, repeats, time.process_time, before=restore)
    subnormal_share = {name: float(np.mean((a != 0) & (np.abs(a) < tiny)))
                       for name, a in (("m", m), ("v", v))}
    return {"steps": steps, "entries": int(kernel.size), "subnormal_share": subnormal_share,
            "rows": [{"variant": name, "ms": _median_ms(t)} for name, t in times.items()]}


# threads.configure's settings and their alternatives: (the process's environment, BLAS threads).
THREAD_SETTINGS = {"as configured": ({}, 1),
                   "workqueue threading layer": ({"NUMBA_THREADING_LAYER": "workqueue"}, 1),
                   "no OpenMP spin": ({"GOMP_SPINCOUNT": "0"}, 1),
                   "GNU OpenMP's default spin": ({"GOMP_SPINCOUNT": "300000"}, 1),
                   "two BLAS threads": ({}, 2)}
# scenario: (batch size, processes training at once)
THREAD_SCENARIOS = {"batch 32": (32, 1), "batch 32, two processes": (32, 2), "batch 1": (1, 1)}
THREADS_SCRIPT = """
import contextlib, json, statistics, time
import numba
from threadpoolctl import threadpool_limits
from benchmarks import models
from scratchconv.kernels import threads
runner = models.ScratchconvRunner(50, {threads})
runner.prepare(*models.make_data(32, 50), batch_size={batch})
if {blas} != 1:  # configure()'s limit raised, and the kernels' guard that lowers it again gone
    threadpool_limits({blas}, user_api="blas")
    threads.one_blas_thread = contextlib.nullcontext
runner.train_steps(3)
times = []
for _ in range({steps}):
    start = time.perf_counter()
    runner.train_steps(1)
    times.append(time.perf_counter() - start)
print(json.dumps({{"ms": 1e3 * statistics.median(times), "layer": numba.threading_layer()}}))
"""


def thread_settings(rounds, steps, scenarios=tuple(THREAD_SCENARIOS)):
    """ms a step (medians over fresh processes, each the median of its ``steps`` steps) of the
    tutorial model under each of THREAD_SETTINGS, in each of ``scenarios``."""
    threads = os.cpu_count() or 1
    base = worker_env(threads)
    for name in ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY", "GOMP_SPINCOUNT",
                 "OMP_WAIT_POLICY"):  # "as configured" is configure()'s choice, not the user's
        base.pop(name, None)
    found = {(setting, scenario): [] for scenario in scenarios for setting in THREAD_SETTINGS}
    layers = {}
    for _ in range(rounds):
        for scenario in scenarios:
            batch, at_once = THREAD_SCENARIOS[scenario]
            for setting, (env, blas) in THREAD_SETTINGS.items():
                script = THREADS_SCRIPT.format(threads=threads, batch=batch, blas=blas, steps=steps)
                for answer in in_fresh_processes(script, {**base, **env},
                                                 f"the threads section ({setting}, {scenario})",
                                                 at_once):
                    found[(setting, scenario)].append(answer["ms"])
                    layers[setting] = answer["layer"]
    return {"threads": threads, "steps": steps, "rounds": rounds, "rows": [
        {"setting": setting, "layer": layers[setting], "scenario": scenario,
         "ms": statistics.median(found[(setting, scenario)])}
        for scenario in scenarios for setting in THREAD_SETTINGS]}


VECTOR_SCRIPT = """
import json, statistics, time
import numpy as np
from scratchconv.kernels import simd
simd.WIDE_VECTORS = {wide}
from benchmarks import models
from scratchconv.kernels import numba_kernels
runner = models.ScratchconvRunner(50, {threads})
x, y = models.make_data(256, 50)
runner.prepare(x, y, batch_size=32)
model = runner.model


def median_ms(call, repeats):
    call()
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


print(json.dumps({{"wide": simd.configure(),
                  "predict 32": median_ms(lambda: model.predict(x[:32], batch_size=32, verbose=0),
                                          {repeats}),
                  "predict 256": median_ms(lambda: model.predict(x, batch_size=256, verbose=0),
                                           {repeats}),
                  "train step 32": median_ms(lambda: runner.train_steps(1), {steps})}}))
"""


def vector_width(rounds, repeats, steps):
    """ms (medians over fresh processes, each the median of its repeats) of predict at batch 32
    and 256 and of a batch-32 training step, with numba's loops compiled for 512-bit vectors
    and for 256-bit ones (simd.WIDE_VECTORS)."""
    threads = os.cpu_count() or 1
    env = worker_env(threads)
    env.pop("NUMBA_CPU_FEATURES", None)
    found, wide_seen = {}, {}
    for _ in range(rounds):
        for wide in (True, False):
            script = VECTOR_SCRIPT.format(wide=wide, threads=threads, repeats=repeats, steps=steps)
            answer, = in_fresh_processes(script, env,
                                         f"the vector-width section (WIDE_VECTORS={wide})")
            wide_seen[wide] = answer.pop("wide")
            for task, ms in answer.items():
                found.setdefault((task, wide), []).append(ms)
    return {"threads": threads, "rounds": rounds, "repeats": repeats, "steps": steps, "rows": [
        {"task": task, "width": "512-bit" if wide_seen[wide] else "256-bit",
         "ms": statistics.median(times)} for (task, wide), times in found.items()]}


def run(sections=SECTIONS, repeats=15, steps=30, subnormal_steps=800, json_path=None,
        processes=3, thread_scenarios=tuple(THREAD_SCENARIOS), settle_samples=1024):
    """Run the named sections; returns {section: its result} (and writes it as JSON)."""
    backend.kernels("numba")  # imported first: it picks numba's threading layer before any launch
    runs = {"parallel": lambda: parallel(repeats, steps),
            "winograd-training": lambda: winograd_training(repeats),
            "im2col-bands": lambda: im2col_bands(repeats),
            "fused-pool": lambda: fused_pool(repeats),
            "filter-transform": lambda: filter_transform(repeats),
            "dense-outer": lambda: dense_outer(repeats),
            "finite-check": lambda: finite_check(repeats),
            "dense-columns": lambda: dense_columns(repeats),
            "winner-index": lambda: winner_index(repeats, steps),
            "predict-passes": lambda: predict_passes(repeats),
            "conv-pairs": lambda: conv_pairs(repeats),
            "subnormal": lambda: subnormal(repeats, subnormal_steps),
            "threads": lambda: thread_settings(processes, steps, thread_scenarios),
            "vector-width": lambda: vector_width(processes, repeats, steps),
            "settle": lambda: settle(repeats, settle_samples)}
    result = {name: runs[name]() for name in sections}
    if json_path is not None:
        _write_json(Path(json_path), result)
    return result


def _table(rows, *columns):
    """``rows`` as aligned lines under a header: ``columns`` are (key, heading, format spec);
    each heading takes its spec's alignment and width."""
    head = " ".join(format(heading, spec[0] + spec[1:].split(".")[0].rstrip("f"))
                    for _, heading, spec in columns)
    return ["  " + head] + ["  " + " ".join(format(row[key], spec) for key, _, spec in columns)
                            for row in rows]


def format_report(result):
    """The results as small plain-text tables, one per section."""
    lines = []
    variant, ms = ("variant", "variant", "<36"), ("ms", "ms", ">8.3f")
    if "parallel" in result:
        r = result["parallel"]
        lines += [f"parallel: PARALLEL_MIN_ENTRIES; batch-1 train_on_batch steps of the tutorial "
                  f"model, {r['threads']} threads, wall clock, medians of repeats of {r['steps']} "
                  "steps (ms a step)"]
        lines += _table(r["rows"], variant, ("apply_gradients_ms", "apply_gradients", ">15.2f"),
                        ("step_ms", "whole step", ">10.2f"))
    if "winograd-training" in result:
        r = result["winograd-training"]
        lines += [f"winograd-training: WINOGRAD_MIN_CHANNELS_TRAINING (now {r['threshold']}); fused "
                  "conv + ReLU + 2x2 max pool, 24x24xC_in -> 32, batch 32, one thread, CPU time, "
                  "median ms"]
        lines += _table(r["rows"], ("c_in", "C_in", ">4"), ("op", "op", "<9"),
                        ("im2col", "im2col", ">8.2f"), ("winograd", "winograd", ">8.2f"))
    if "im2col-bands" in result:
        lines += [f"im2col-bands: IM2COL_BAND_PIXELS (now {result['im2col-bands']['pixels']}); conv1's "
                  "inference forward (50x50x3 -> 64, ReLU, 2x2 max pool) by im2col, batch 32, "
                  "one thread, CPU time, median ms"]
        lines += _table(result["im2col-bands"]["rows"], ("band_rows", "rows a band", ">11"), ms)
    if "fused-pool" in result:
        lines += ["fused-pool: conv + ReLU + 2x2 max pool with argmax (training), batch 32, one "
                  "thread, CPU time, median ms"]
        lines += _table(result["fused-pool"]["rows"], ("layer", "layer", "<6"), variant, ms)
    if "filter-transform" in result:
        lines += ["filter-transform: Winograd's U = G g G^T for conv2's 3x3x64x32 kernel, one "
                  "thread, CPU time, median ms"]
        lines += _table(result["filter-transform"]["rows"], variant, ms)
    if "dense-outer" in result:
        lines += ["dense-outer: one sample's 3872x128 Dense kernel gradient, float32, one thread, "
                  "CPU time, median ms"]
        lines += _table(result["dense-outer"]["rows"], variant, ms)
    if "predict-passes" in result:
        r = result["predict-passes"]
        lines += [f"predict-passes: PREDICT_CHUNK (now {r['chunk']}); predict of the tutorial model "
                  "as two ConvPoolSteps at batch 256, the convolutional steps in passes of this many samples, median ms "
                  f"per 256 samples on {r['threads']} threads (wall clock) and on one (CPU time)"]
        lines += _table(r["rows"], ("pass_samples", "pass", ">4"),
                        ("every_core_ms", f"{r['threads']} threads", ">10.2f"),
                        ("one_thread_ms", "one thread", ">10.2f"))
    if "finite-check" in result:
        lines += [f"finite-check: CHECK_CHUNK_BYTES (now {result['finite-check']['chunk_bytes']:,}); "
                  "check_finite of 1,024 images of 50x50x3, float32, not in cache, one thread, "
                  "wall clock, median ms"]
        lines += _table(result["finite-check"]["rows"], variant, ms)
    if "dense-columns" in result:
        r = result["dense-columns"]
        columns = (("batch", "batch", ">5"), ("one_call_ms", "one call", ">8.3f"),
                   ("blocks_ms", "blocks", ">8.3f"))
        lines += [f"dense-columns: DENSE_FORWARD_MIN_MACS, DENSE_GRADIENT_MIN_MACS; the 3872 -> 128 Dense product, float32, "
                  f"one call against column blocks of {r['block']} on {r['threads']} threads, wall "
                  f"clock, median ms (peak {r['peak_before']:.0f} GFLOP/s before, "
                  f"{r['peak_after']:.0f} after)"]
        lines += _table(r["rows"], *columns)
        lines += ["  the kernel's gradient x.T @ dz (3872 x 128): one call against its rows in blocks of "
                  + ", ".join(map(str, DENSE_GRADIENT_ROWS)) + " on every thread, median ms"]
        lines += _table(r["gradient_rows"], columns[0], columns[1],
                        *((f"rows_{rows}_ms", f"{rows} rows", ">9.3f") for rows in DENSE_GRADIENT_ROWS))
        lines += ["  predict of the tutorial model, every Dense forward product as one call against "
                  "every one in blocks, median ms a batch"]
        lines += _table(r["predict"], *columns)
    if "winner-index" in result:
        r = result["winner-index"]
        lines += ["winner-index: numpy_kernels.winner_index_dtype; train_on_batch of the tutorial "
                  f"model, max pooling's winners as int32 and as int64, wall clock, medians of "
                  f"repeats of {r['steps']} steps (ms a step)"]
        lines += _table(r["rows"], ("batch", "batch", ">5"), ("int32_ms", "int32", ">8.2f"),
                        ("int64_ms", "int64", ">8.2f"))
    if "conv-pairs" in result:
        r = result["conv-pairs"]
        lines += [f"conv-pairs: steps.for_inference; predict of the tutorial model, its two "
                  f"convolution + pooling steps as one pair step or as two, {r['threads']} threads, "
                  "wall clock, median ms per batch"]
        lines += _table(r["rows"], ("batch", "batch", ">5"), ("variant", "steps", "<14"),
                        ("ms", "ms", ">8.2f"))
    if "settle" in result:
        lines += [f"settle: benchmarks.run's untimed call before each timed one; the benchmark's "
                  f"jobs on {result['settle']['samples']:,} images, every core, wall clock, "
                  "median ms a batch (the ratio rows: TF's reference over scratchconv)"]
        lines += _table(result["settle"]["rows"], ("task", "task", "<7"), ("batch", "batch", ">5"),
                        ("way", "timed", "<30"), ("series", "series", "<36"), ("ms", "ms", ">8.2f"))
    if "subnormal" in result:
        r = result["subnormal"]
        share = r["subnormal_share"]
        lines += [f"subnormal: after {r['steps']} batch-1 steps with the flush off, "
                  f"{100 * share['m']:.0f}% of the dense kernel's m and {100 * share['v']:.0f}% "
                  f"of its v are subnormal; Adam's update of its {r['entries']:,} entries from "
                  "that state, one thread, CPU time, median ms"]
        lines += _table(r["rows"], variant, ms)
    if "threads" in result:
        r = result["threads"]
        lines += [f"threads: threads.configure's settings; train_on_batch steps of the tutorial "
                  f"model, {r['threads']} threads, wall clock, each process the median of "
                  f"{r['steps']} steps, median ms over {r['rounds']} fresh processes"]
        lines += _table(r["rows"], ("scenario", "scenario", "<24"), ("setting", "setting", "<26"),
                        ("layer", "layer", "<9"), ("ms", "ms", ">8.2f"))
    if "vector-width" in result:
        r = result["vector-width"]
        lines += [f"vector-width: simd.WIDE_VECTORS; the tutorial model, {r['threads']} threads, "
                  f"wall clock, each process the median of {r['repeats']} predicts and "
                  f"{r['steps']} steps, median ms over {r['rounds']} fresh processes"]
        lines += _table(r["rows"], ("task", "task", "<14"), ("width", "numba's vectors", "<15"),
                        ("ms", "ms", ">8.2f"))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.choices",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections (default all: {', '.join(SECTIONS)})")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved timed repeats")
    parser.add_argument("--steps", type=int, default=30,
                        help="steps a repeat of the parallel (batch 1) and winner-index sections times")
    parser.add_argument("--subnormal-steps", type=int, default=800,
                        help="batch-1 steps trained with the flush off before the subnormal section")
    parser.add_argument("--processes", type=int, default=3,
                        help="fresh processes per setting and scenario in the threads and "
                             "vector-width sections")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--tiny", action="store_true",
                        help="a smoke run: 2 repeats, 2 steps (the figures mean nothing)")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"--only expects sections from {', '.join(SECTIONS)}; got {', '.join(unknown)}")
    scenarios, settle_samples = tuple(THREAD_SCENARIOS), 1024
    if args.tiny:  # the threads section then starts one process per setting
        args.repeats, args.steps, args.subnormal_steps, args.processes = 2, 2, 2, 1
        scenarios, settle_samples = ("batch 1",), 64
    print(format_report(run(sections, args.repeats, args.steps, args.subnormal_steps, args.json,
                            args.processes, scenarios, settle_samples)))


if __name__ == "__main__":
    main()
