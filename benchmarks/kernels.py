"""Per-kernel micro-benchmarks: ``python -m benchmarks.kernels [--repeats R] [--json PATH]``.

Times each kernel of the tutorial model's two convolutions and two poolings, at batch 32 in
float32, on the numba backend, the readable NumPy backend and TensorFlow (``tf.nn.conv2d``,
its two gradient ops, ``tf.nn.max_pool2d`` and ``MaxPoolGrad``, each in a ``tf.function``),
when TensorFlow is importable.

- **Interleaved repeats**: repeat r of every (kernel, backend) runs before repeat r + 1 of any,
  so a slow patch on a shared machine hits all alike. Reported: median and min-max in ms.
- **Warm-up excluded**: each call runs twice untimed first (numba's compilation or cache
  load, TF's tracing).
- **GFLOP/s** for the convolutions: each of forward, backward-input and backward-weights is
  ``2 * N * H_out * W_out * KH * KW * C_in * C_out`` multiply-adds counted as two FLOPs.
  Pooling does comparisons, not FLOPs, so only its time is reported.
- **One core** (``--one-core``): numba, BLAS and TensorFlow each limited to one thread, and
  the clock is the process's CPU time. On a shared, busy machine wall-clock times of
  multi-threaded code are mostly waiting; this mode still compares the kernels' own work.
- **Peak**: ``cores x GHz x FLOP/cycle/core``, with the clock from ``/proc/cpuinfo`` (the
  nominal one; boost clocks can exceed it) and FLOP/cycle from the vector ISA: two FMA units
  x lanes x 2 FLOPs, i.e. 64 float32 with AVX-512 (32 on AMD Zen 4, whose 256-bit units run
  a 512-bit FMA in two halves), 32 with AVX2+FMA, 16 otherwise.
"""
import argparse
import json
import os
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from scratchconv import backend
from scratchconv.atomic import write_text
from scratchconv.kernels import vectors
from scratchconv.kernels.padding import output_size_2d, pads_2d

BATCH = 32
DTYPE = np.float32

# name -> (input shape without the batch, window (kh, kw), c_out or None for pooling)
LAYERS = {
    "conv1": ((50, 50, 3), (3, 3), 64),
    "pool1": ((48, 48, 64), (2, 2), None),
    "conv2": ((24, 24, 64), (3, 3), 32),
    "pool2": ((22, 22, 32), (2, 2), None),
}
CONV_OPS = ("forward", "backward_input", "backward_weights")
POOL_OPS = ("forward", "backward")


def cpu_peak():
    """Theoretical float32 peak of this machine, with the way it was computed."""
    cores = os.cpu_count() or 1
    mhz, flags, info = None, set(), {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "cpu MHz" and mhz is None:
                mhz = float(value)
            elif key == "flags" and not flags:
                flags = set(value.split())
            elif key in ("vendor_id", "cpu family"):
                info.setdefault(key, value.strip())
    except OSError:
        pass
    if "avx512f" in flags and info == {"vendor_id": "AuthenticAMD", "cpu family": "25"}:
        # Zen 4 runs a 512-bit FMA as two halves on its two 256-bit units.
        per_cycle, isa = 32, "AVX-512 on AMD Zen 4 (2 FMA units x 8 float32 lanes x 2 FLOPs)"
    elif "avx512f" in flags:
        per_cycle, isa = 64, "AVX-512 (2 FMA units x 16 float32 lanes x 2 FLOPs)"
    elif "avx2" in flags and "fma" in flags:
        per_cycle, isa = 32, "AVX2+FMA (2 FMA units x 8 float32 lanes x 2 FLOPs)"
    else:
        per_cycle, isa = 16, "SSE (2 units x 4 float32 lanes x 2 FLOPs)"
    if mhz is None:
        return {"gflops": None, "how": "clock unknown (no /proc/cpuinfo)"}
    gflops = cores * mhz / 1000 * per_cycle
    how = (f"{cores} cores x {mhz / 1000:.2f} GHz (cpu MHz in /proc/cpuinfo) x {per_cycle} "
           f"FLOP/cycle/core from {isa} = {gflops:.0f} GFLOP/s")
    return {"gflops": gflops, "how": how}


def conv_flops(x_shape, window, c_out):
    """FLOPs of one of the three convolution kernels (all three do the same products)."""
    h_out, w_out = output_size_2d(x_shape[1:3], window, (1, 1), "valid")
    return 2 * x_shape[0] * h_out * w_out * window[0] * window[1] * x_shape[3] * c_out


def _scratchconv_calls(name, layer, data):
    """{op: zero-argument callable} for one layer on scratchconv backend ``name``."""
    k = backend.kernels(name)
    _, window, c_out = layer
    x, w, b, dy, argmax = data
    pads = pads_2d(x.shape[1:3], window, (1, 1) if c_out else window, "valid")
    if c_out:
        return {
            "forward": lambda: k.conv2d_forward(x, w, b, (1, 1), pads, relu=True),
            "backward_input": lambda: k.conv2d_backward_input(dy, w, x.shape, (1, 1), pads),
            "backward_weights": lambda: k.conv2d_backward_weights(dy, x, w.shape, (1, 1), pads),
        }
    return {
        "forward": lambda: k.maxpool2d_forward(x, window, window, pads),
        "backward": lambda: k.maxpool2d_backward(dy, argmax, x.shape),
    }


def _tf_calls(tf, layer, data):
    """The same kernels as TensorFlow ops, each in a tf.function; results forced to NumPy."""
    _, window, c_out = layer
    x, w, b, dy = (tf.constant(a) for a in data[:4])
    if c_out:
        fwd = tf.function(lambda: tf.nn.relu(tf.nn.bias_add(
            tf.nn.conv2d(x, w, 1, "VALID"), b)))
        bwd_in = tf.function(lambda: tf.raw_ops.Conv2DBackpropInput(
            input_sizes=tf.shape(x), filter=w, out_backprop=dy, strides=[1, 1, 1, 1],
            padding="VALID"))
        bwd_w = tf.function(lambda: tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=tf.shape(w), out_backprop=dy, strides=[1, 1, 1, 1],
            padding="VALID"))
        return {"forward": lambda: fwd().numpy(), "backward_input": lambda: bwd_in().numpy(),
                "backward_weights": lambda: bwd_w().numpy()}
    ksize = [1, *window, 1]
    y = tf.nn.max_pool2d(x, window, window, "VALID")
    fwd = tf.function(lambda: tf.nn.max_pool2d(x, window, window, "VALID"))
    bwd = tf.function(lambda: tf.raw_ops.MaxPoolGrad(
        orig_input=x, orig_output=y, grad=dy, ksize=ksize, strides=ksize, padding="VALID"))
    return {"forward": lambda: fwd().numpy(), "backward": lambda: bwd().numpy()}


def _layer_data(layer, rng):
    """Random float32 operands of one layer at batch 32: (x, w, b, dy, argmax)."""
    in_shape, window, c_out = layer
    x = rng.standard_normal((BATCH, *in_shape), dtype=np.float32)
    if c_out:
        w = rng.standard_normal((*window, in_shape[2], c_out), dtype=np.float32) * 0.1
        b = rng.standard_normal(c_out, dtype=np.float32)
        h_out, w_out = output_size_2d(in_shape[:2], window, (1, 1), "valid")
        dy = rng.standard_normal((BATCH, h_out, w_out, c_out), dtype=np.float32)
        return x, w, b, dy, None
    pads = pads_2d(in_shape[:2], window, window, "valid")
    y, argmax = backend.kernels("numba").maxpool2d_forward(x, window, window, pads)
    return x, np.zeros(1, np.float32), np.zeros(1, np.float32), np.ones_like(y), argmax


def _import_tf(one_core):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError:
        return None
    if one_core:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


def _thread_info():
    import numba
    info = {"numba_threads": numba.get_num_threads()}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [f"{d['internal_api']} {d.get('architecture') or ''} "
                        f"({d['num_threads']} threads)" for d in threadpool_info()
                        if d["user_api"] == "blas"]
    except ImportError:
        info["blas"] = ["unknown (threadpoolctl not installed)"]
    try:
        info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:
        info["numba_threading_layer"] = "not yet chosen"
    return info


@contextmanager
def one_thread():
    """numba and BLAS limited to one thread for the duration (numba's count restored after)."""
    import numba
    from threadpoolctl import threadpool_limits
    saved = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        numba.set_num_threads(saved)


def time_interleaved(calls, repeats, clock=time.perf_counter, warmups=2, before=None):
    """Time every call of ``calls`` ({key: zero-argument callable}) in interleaved repeats:
    repeat r of every call runs before repeat r + 1 of any, so a slow patch on a shared machine
    hits all alike. Each call first runs ``warmups`` times untimed (numba's compilation or
    cache load, TF's tracing, workspaces filled).

    ``repeats`` is a count, or a function of the key giving its count; ``clock`` is
    ``time.perf_counter`` (wall) or ``time.process_time`` (CPU time); ``before(key)``, if
    given, runs before each call, untimed (to select a method, or to restore state the call
    changes). Returns {key: [seconds, ...]}.
    """
    count = repeats if callable(repeats) else (lambda key: repeats)
    prepare = before or (lambda key: None)
    for key, fn in calls.items():
        for _ in range(warmups):
            prepare(key)
            fn()
    times = {key: [] for key in calls}
    for r in range(max(map(count, calls), default=0)):
        for key, fn in calls.items():
            if r < count(key):
                prepare(key)
                start = clock()
                fn()
                times[key].append(clock() - start)
    return times


def run(repeats=15, json_path=None, numpy_repeats=3, one_core=False):
    """Time every kernel on every backend and return (and optionally save) the results.

    Parameters
    ----------
    repeats : int
        Timed repeats per (kernel, backend) for numba and TensorFlow, interleaved.
    json_path : str or Path, optional
        Where to write the results as JSON (atomically: a temp file renamed into place).
    numpy_repeats : int
        Timed repeats for the readable NumPy backend, which is much slower.
    one_core : bool
        Limit every library to one thread and time with the process's CPU time.

    Returns
    -------
    dict with ``peak``, ``threads``, ``rows`` (one per kernel and backend: median, min and max
    in ms, GFLOP/s at the median, ratio to TensorFlow's median) and ``notes``.
    """
    backend.kernels("numba")  # imported first: it picks numba's threading layer before any launch
    rng = np.random.default_rng(111)
    tf = _import_tf(one_core)
    if one_core:
        import numba
        from threadpoolctl import threadpool_limits
        numba.set_num_threads(1)
        threadpool_limits(1)
    clock = time.process_time if one_core else time.perf_counter
    notes = [] if tf else ["tensorflow is not importable: no TensorFlow column"]
    if "avx512f" in Path("/proc/cpuinfo").read_text() and any(
            "Haswell" in lib for lib in _thread_info()["blas"]):
        notes.append("OpenBLAS runs its Haswell (AVX2) kernels on this AVX-512 CPU; "
                     "OPENBLAS_CORETYPE=SkylakeX in the environment selects its AVX-512 ones")
    calls, flops = {}, {}
    for lname, layer in LAYERS.items():
        data = _layer_data(layer, rng)
        per_backend = {name: _scratchconv_calls(name, layer, data) for name in ("numba", "numpy")}
        if tf:
            per_backend["tf"] = _tf_calls(tf, layer, data)
        for bname, ops in per_backend.items():
            for op, fn in ops.items():
                calls[(lname, op, bname)] = fn
        if layer[2]:
            flops[lname] = conv_flops((BATCH, *layer[0]), layer[1], layer[2])

    times = time_interleaved(calls, lambda key: numpy_repeats if key[2] == "numpy" else repeats,
                             clock)

    rows = []
    for (lname, op, bname), ts in times.items():
        med = statistics.median(ts)
        row = {"layer": lname, "op": op, "backend": bname, "median_ms": med * 1e3,
               "min_ms": min(ts) * 1e3, "max_ms": max(ts) * 1e3, "repeats": len(ts),
               "gflops": flops[lname] / med / 1e9 if lname in flops else None}
        tf_ts = times.get((lname, op, "tf"))
        row["vs_tf"] = statistics.median(tf_ts) / med if tf_ts else None
        rows.append(row)
    peak = cpu_peak()
    if one_core and peak["gflops"]:
        peak = {"gflops": peak["gflops"] / (os.cpu_count() or 1),
                "how": peak["how"] + ", one core's share"}
    result = {"batch": BATCH, "dtype": "float32", "one_core": one_core, "peak": peak,
              "threads": _thread_info(),
              "rows": rows, "notes": notes}
    if json_path is not None:
        _write_json(Path(json_path), result)
    return result


def _write_json(path, data):
    """Write JSON at ``path`` atomically (its folder created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(data, indent=2), what="the results")


def format_table(result):
    """The results as a plain-text table, one line per (layer, kernel, backend)."""
    peak = result["peak"]["gflops"]
    lines = [f"Kernels at batch {result['batch']}, {result['dtype']}",
             f"peak: {result['peak']['how']}",
             f"threads: {result['threads']}",
             "clock: CPU time, one thread everywhere" if result["one_core"] else "clock: wall",
             f"{'layer':<6} {'op':<17} {'backend':<6} {'median ms':>10} {'min-max ms':>17} "
             f"{'GFLOP/s':>8} {'% peak':>7} {'speed vs tf':>11}"]
    for row in result["rows"]:
        gf, vs_tf = row["gflops"], row["vs_tf"]
        gflops = f"{gf:.1f}" if gf else "-"
        share = f"{100 * gf / peak:.0f}%" if gf and peak else "-"
        ratio = f"{vs_tf:.2f}x" if vs_tf else "-"
        spread = f"{row['min_ms']:.3f}-{row['max_ms']:.3f}"
        lines.append(f"{row['layer']:<6} {row['op']:<17} {row['backend']:<6} "
                     f"{row['median_ms']:>10.3f} {spread:>17} {gflops:>8} {share:>7} {ratio:>11}")
    lines += result["notes"]
    return "\n".join(lines)


# (input shape without the batch, c_out) of the inference forwards ``--winograd`` times: 24x24 to
# 32 channels from 3 to 64 input channels, and the tutorial model's conv1.
WINOGRAD_SHAPES = [((24, 24, c), 32) for c in (1, 2, 3, 8, 16, 32, 64)] + [((50, 50, 3), 64)]


INFERENCE_METHODS = ("IM2COL", "DIRECT", "BLOCKED", "WINOGRAD")


def winograd_choice(repeats=30):
    """Which method pays at inference: the numba backend's fused inference forward
    (``conv2d_maxpool_forward(..., training=False)``: 3x3 valid convolution, bias, ReLU, 2x2
    max pooling) at batch 32, float32, by im2col, directly (``_direct_sample``), directly with
    the sums in vector registers (``_blocked_sample``: only where the output channels fill its
    blocks of 64, and numba compiles 512-bit vectors) and by Winograd's F(2x2, 3x3), one
    thread, CPU time, interleaved repeats. Returns rows (shape, c_out, {method: median ms});
    the method is forced by replacing ``numba_kernels.inference_method`` for the call, and
    ``numba_kernels.WIDE`` (False for DIRECT, which would otherwise run as BLOCKED where that
    applies)."""
    k = backend.kernels("numba")
    saved_choice, saved_wide = k.inference_method, k.WIDE
    rng = np.random.default_rng(7)
    pool = ((2, 2), (2, 2), ((0, 0), (0, 0)))
    calls = {}
    for shape, c_out in WINOGRAD_SHAPES:
        x = rng.random((BATCH, *shape), dtype=np.float32)
        w = rng.standard_normal((3, 3, shape[2], c_out), dtype=np.float32) * 0.1
        b = rng.standard_normal(c_out, dtype=np.float32)
        for method in INFERENCE_METHODS:
            blocks = saved_wide and c_out % (4 * vectors.lanes(np.float32)) == 0
            if method == "BLOCKED" and not blocks:
                continue
            workspace = {}
            calls[(shape, c_out, method)] = lambda x=x, w=w, b=b, ws=workspace: (
                k.conv2d_maxpool_forward(x, w, b, (1, 1), ((0, 0), (0, 0)), True, *pool,
                                         workspace=ws, training=False))

    def choose(key):
        # BLOCKED is DIRECT where 512-bit vectors are on; DIRECT alone, with them off.
        blocked = key[2] == "BLOCKED"
        k.WIDE = blocked
        chosen = k.DIRECT if blocked else getattr(k, key[2])
        k.inference_method = lambda w_shape, strides: chosen

    try:
        with one_thread():
            times = time_interleaved(calls, repeats, time.process_time, warmups=1, before=choose)
    finally:
        k.inference_method, k.WIDE = saved_choice, saved_wide
    return [(shape, c_out, {m: statistics.median(times[(shape, c_out, m)]) * 1e3
                            for m in INFERENCE_METHODS if (shape, c_out, m) in times})
            for shape, c_out in WINOGRAD_SHAPES]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernels",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats (numba and tf)")
    parser.add_argument("--numpy-repeats", type=int, default=3,
                        help="timed repeats (NumPy backend)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--one-core", action="store_true",
                        help="one thread everywhere, timed by CPU time (for a busy machine)")
    parser.add_argument("--winograd", action="store_true",
                        help="instead: the inference forward by im2col, directly, directly in "
                             "registers and by Winograd, "
                             "by input channels (one thread, CPU time; the figures of "
                             "WINOGRAD_MIN_CHANNELS and DIRECT_MAX_CHANNELS)")
    args = parser.parse_args(argv)
    if args.winograd:
        print("Inference forward (3x3 conv + bias + ReLU + 2x2 max pool), batch 32, float32, "
              "one thread, CPU time, median ms: " + " / ".join(m.lower() for m in INFERENCE_METHODS))
        for shape, c_out, ms in winograd_choice(args.repeats):
            print(f"{'x'.join(map(str, shape)):>9} -> {c_out:<3} "
                  + " / ".join(f"{ms[m]:.2f}" if m in ms else "-" for m in INFERENCE_METHODS))
        return
    print(format_table(run(args.repeats, args.json, args.numpy_repeats, args.one_core)))


if __name__ == "__main__":
    main()
