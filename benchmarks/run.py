"""Speed of scratchconv against tf.keras and PyTorch on the tutorial model: ``python -m benchmarks``.

How it measures, and why:

- **One process per framework and configuration.** Each (task, image size, batch size) gets a
  fresh worker process per framework, so the peak resident memory read there
  (``ru_maxrss``) is that framework's alone, for that configuration.
- **Warm-up excluded, and reported.** The first call of each timed API (numba's JIT or cache
  load, TF's tracing) is timed separately as "first call"; then a few untimed steps settle
  the caches before any repeat is timed.
- **Interleaved repeats.** Repeat r of every (framework, API) runs before repeat r + 1 of any
  of them (A B C A B C ...), so a slow patch on this shared machine hits all alike. Figures
  are medians with min-max over the repeats; a ratio to tf.keras is the ratio of the medians
  of the same run, and its range comes from pairing repeat r with repeat r.
- **Each timed call right after an untimed one of its own** (A' A B' B C' C ...), as in a
  user's loop, which calls the same API again and again: a call that follows another
  framework's, or another API's, can pay for what that left behind. TF's compiled forward at
  batch 32 did: ``python -m benchmarks.choices --only settle --repeats 11`` (2-core Xeon,
  2026-12-02 13:40) timed it at 5.13 ms a batch right after keras ``predict`` and 4.63 right
  after itself, which took scratchconv's ratio from 1.44x to 1.32x; at batch 256 and in
  training the two ways differed by 1% or less. Each framework is compared at its steady state.
- **Same work.** Same float32 data (random, fixed seed), same model, same batch sizes; whole
  epochs through ``fit`` for scratchconv and keras, and a bare train-step loop for all
  (scratchconv ``train_on_batch``, a keras ``tf.function`` GradientTape step, a torch step).
- **TensorFlow at its best is the reference.** Training is compared with a compiled
  ``tf.function`` GradientTape step, inference with a compiled ``tf.function`` of
  ``model(x, training=False)`` (``x TF compiled``); keras's own ``fit`` and ``predict`` are
  slower and erratic (keras ``fit`` swung between 786 and 1,500 samples/s in one morning), so
  they are secondary rows, compared API to API (``x keras same API``).
- **Against the machine.** Each row's throughput is also given in GFLOP/s, counted for direct
  convolution (:func:`benchmarks.models.direct_flops`), and as a fraction of the machine's
  peak *measured in the same run*: a 2048x2048 float32 matrix product through numpy's BLAS,
  timed at the start and at the end of the run in a process of its own with every core
  (:func:`measure_peak`).
- **Threads.** Every framework gets every core: numba, OpenMP/BLAS, TF's intra- and inter-op
  pools and torch's pool are all set to the core count.

The readable NumPy backend runs the same steps, fewer of them and fewer repeats.
"""
import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:
    # Run as a script (python benchmarks/run.py): make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import models  # noqa: E402
from benchmarks.startup import (REPO, ProcessFailed, in_fresh_processes, log,  # noqa: E402
                                measure as measure_startup)
from scratchconv import atomic  # noqa: E402
from scratchconv.atomic import write_atomically  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent / "README.md"
TOP_README = Path(__file__).resolve().parent.parent / "README.md"
BASE_AREA = 50 * 50

# (framework, api) pairs in table order, with a label for people.
SERIES = {
    ("scratchconv", "fit"): "scratchconv fit",
    ("scratchconv", "step"): "scratchconv train_on_batch",
    ("scratchconv", "predict"): "scratchconv predict",
    ("scratchconv-numpy", "step"): "scratchconv (NumPy backend) train_on_batch",
    ("keras", "fit"): "tf.keras fit",
    ("keras", "step"): "tf.keras tf.function step",
    ("keras", "predict"): "tf.keras predict",
    ("keras", "forward"): "tf.keras tf.function forward",
    ("torch", "step"): "PyTorch step",
    ("torch", "predict"): "PyTorch forward (inference_mode)",
}
TASK_APIS = {"train": ("fit", "step"), "predict": ("predict", "forward")}
# TensorFlow at its best: what every row of a task is compared with first.
REFERENCE = {"train": ("keras", "step"), "predict": ("keras", "forward")}
# The readable backend is slow by design; it trains in fewer steps and is never asked to predict.
NUMPY_APIS = {"train": ("step",), "predict": ()}
PIP_NAMES = {"keras": "tensorflow", "torch": "torch"}

FULL = dict(batch_sizes=(1, 8, 32, 128), predict_batch_sizes=(32, 256), image_sizes=(50, 100),
            repeats=5, numpy_repeats=3, train_samples=1024, predict_samples=1024, max_steps=256,
            numpy_divisor=16, numpy_image_sizes=(50,), kernel_repeats=5, peak_repeats=5)
QUICK = dict(batch_sizes=(32,), predict_batch_sizes=(32,), image_sizes=(50,),
             repeats=3, numpy_repeats=2, train_samples=512, predict_samples=512, max_steps=64,
             numpy_divisor=16, numpy_image_sizes=(50,), kernel_repeats=2, peak_repeats=3)


# --------------------------------------------------------------------------------------------
# The worker: one framework, one image size, in its own process.

def _current_rss_mb():
    """Resident memory now, in MiB (Linux's /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb():
    """Peak resident memory of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _time_call(runner, api, steps):
    """Seconds taken by one timed call: ``steps`` train steps, one fit epoch or one predict."""
    start = time.perf_counter()
    if api == "step":
        runner.train_steps(steps)
    elif api == "fit":
        runner.fit_epoch()
    elif api == "forward":
        runner.forward_all()
    else:
        runner.predict_all()
    return time.perf_counter() - start


def worker(framework, image_size, threads):
    """Serve timing requests, one JSON object per line on stdin, answers on stdout.

    Requests: ``{"op": "prepare", "samples": n, "batch": b}``, ``{"op": "time", "api": a,
    "steps": s}`` (answer: ``seconds``), ``{"op": "profile", "steps": s}`` (scratchconv only;
    answer: its per-layer profile), ``{"op": "finish"}`` (answer: ``peak_rss_mb``).
    The first answer, unasked, reports the build: ``build_s``, ``params``, ``rss_mb``.
    """
    # Keep the protocol channel clean of anything a framework prints.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def answer(message):
        protocol.write(json.dumps(message) + "\n")

    start = time.perf_counter()
    try:
        runner = models.FRAMEWORKS[framework](image_size, threads)
    except Exception as error:
        answer({"error": f"{type(error).__name__}: {error}"})
        return
    answer({"build_s": time.perf_counter() - start, "params": models.count_params(runner),
            "apis": list(runner.apis), "rss_mb": _current_rss_mb()})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "prepare":
                x, y = models.make_data(request["samples"], image_size)
                runner.prepare(x, y, request["batch"])
                answer({})
            elif request["op"] == "time":
                answer({"seconds": _time_call(runner, request["api"], request["steps"])})
            elif request["op"] == "profile":
                answer(runner.profile_steps(request["steps"]))
            else:
                answer({"peak_rss_mb": _peak_rss_mb()})
                return
        except Exception as error:
            answer({"error": f"{type(error).__name__}: {error}"})


class WorkerError(RuntimeError):
    """A worker answered with an error, or died."""


class Worker:
    """The parent's handle on one worker process."""

    def __init__(self, framework, image_size, threads, env):
        self.framework = framework
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.run", "--worker", framework,
             "--image-sizes", str(image_size), "--threads", str(threads)],
            cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            text=True, bufsize=1)
        self.info = self._read()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.stderr.seek(0)
            tail = self.stderr.read().strip().splitlines()[-5:]
            raise WorkerError(f"{self.framework} worker exited with code "
                              f"{self.process.returncode}: {' | '.join(tail)}")
        message = json.loads(line)
        if "error" in message:
            raise WorkerError(f"{self.framework}: {message['error']}")
        return message

    def ask(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        return self._read()

    def close(self):
        """Finish the worker and return its peak resident memory in MiB."""
        peak = self.ask(op="finish")["peak_rss_mb"]
        self.process.wait()
        self.stderr.close()
        return peak

    def kill(self):
        self.process.kill()
        self.process.wait()
        self.stderr.close()


# --------------------------------------------------------------------------------------------
# The parent: plan, run interleaved, summarise.

def worker_env(threads):
    """The workers' environment: every thread pool at ``threads``, TF's log quiet."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
        env[name] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def plan_job(task, image_size, batch, frameworks, settings):
    """What one job times: a list of (framework, api, steps, repeats) and the samples to load.

    Training loads ``train_samples`` images at 50x50 (fewer for larger images, the same pixel
    count), at most ``max_steps`` batches; a fit epoch goes through all of them and the step
    loop takes as many steps. The NumPy backend takes ``numpy_divisor`` times fewer steps,
    and only at the image sizes in ``numpy_image_sizes`` (it is there for the numba-against-
    NumPy ratio; at 100x100 it would take most of the run).
    """
    base = settings["train_samples"] if task == "train" else settings["predict_samples"]
    scaled = max(1, round(base * BASE_AREA / image_size**2))
    steps = max(1, min(settings["max_steps"], scaled // batch))
    samples = steps * batch if task == "train" else max(scaled, batch)
    plan = []
    for framework in frameworks:
        if framework == "scratchconv-numpy" and image_size not in settings["numpy_image_sizes"]:
            continue
        apis = NUMPY_APIS[task] if framework == "scratchconv-numpy" else TASK_APIS[task]
        for api in apis:
            if (framework, api) not in SERIES:
                continue
            if framework == "scratchconv-numpy":
                plan.append((framework, api, max(1, steps // settings["numpy_divisor"]),
                             settings["numpy_repeats"]))
            else:
                plan.append((framework, api, steps, settings["repeats"]))
    return samples, plan


def _warm_up(worker, task, image_size, batch, samples, plan, notes):
    """Start-of-job calls of one worker: time each API's first call, settle, describe the row.

    Returns {(framework, api): measurement dict with an empty ``seconds`` list}; an API whose
    first call fails is left out with a note.
    """
    entries = {}
    for framework, api, steps, _ in plan:
        if framework != worker.framework or api not in worker.info["apis"]:
            continue
        try:
            first = worker.ask(op="time", api=api, steps=1)["seconds"]
            if api == "step":
                worker.ask(op="time", api=api, steps=min(steps, 2))
        except WorkerError as error:
            notes.append(f"{task} {image_size}px batch {batch}, {api}: skipped, {error}")
            log(f"  {error}")
            continue
        entries[framework, api] = dict(
            task=task, image=image_size, batch=batch, framework=framework, api=api,
            steps=steps if api == "step" else -(-samples // batch),
            samples=steps * batch if api == "step" else samples,
            first_call_s=first, build_s=worker.info["build_s"], params=worker.info["params"],
            import_rss_mb=worker.info["rss_mb"], seconds=[])
    return entries


def timed_call(worker, api, steps, settle=True):
    """Seconds of one timed call of ``api`` in ``worker``, right after an untimed one of its own
    when ``settle`` (the benchmark's rule: see the module's docstring)."""
    if settle:
        worker.ask(op="time", api=api, steps=steps)
    return worker.ask(op="time", api=api, steps=steps)["seconds"]


def run_job(task, image_size, batch, frameworks, settings, threads, notes):
    """Time one configuration for every framework, repeats interleaved; return measurement dicts."""
    samples, plan = plan_job(task, image_size, batch, frameworks, settings)
    env = worker_env(threads)
    workers, measured = {}, {}
    try:
        for framework in dict.fromkeys(f for f, _, _, _ in plan):
            log(f"  {framework}: starting")
            try:
                worker = Worker(framework, image_size, threads, env)
                workers[framework] = worker
                worker.ask(op="prepare", samples=samples, batch=batch)
            except WorkerError as error:
                notes.append(f"{task} {image_size}px batch {batch}: skipped {error}")
                log(f"  {error}")
                continue
            measured.update(_warm_up(worker, task, image_size, batch, samples, plan, notes))
        for r in range(max((repeats for _, _, _, repeats in plan), default=0)):
            log(f"  repeat {r + 1}")
            for framework, api, steps, repeats in plan:
                if (framework, api) not in measured or r >= repeats:
                    continue
                try:
                    seconds = timed_call(workers[framework], api, steps)
                except WorkerError as error:
                    notes.append(f"{task} {image_size}px batch {batch}, {api}: dropped, {error}")
                    del measured[framework, api]
                    continue
                measured[framework, api]["seconds"].append(seconds)
        if ("scratchconv", "step") in measured:
            # After the timed repeats, so that the timers' small overhead touches none of them.
            step = measured["scratchconv", "step"]
            step["profile"] = workers["scratchconv"].ask(op="profile",
                                                         steps=min(step["steps"], 16))
        for framework in list(workers):
            peak = workers.pop(framework).close()
            for (f, _), m in measured.items():
                if f == framework:
                    m["peak_rss_mb"] = peak
    finally:
        for worker in workers.values():
            worker.kill()
    return list(measured.values())


def _spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _ratio(row, ref):
    """Throughput of ``row`` over ``ref``'s: the ratio of the medians, and min and max pairing
    repeat r with repeat r; None without a reference or for the reference itself."""
    if ref is None or ref is row:
        return None
    paired = [(row["samples"] / a) / (ref["samples"] / b)
              for a, b in zip(row["seconds"], ref["seconds"])]
    return {"median": row["samples_per_s"]["median"] / ref["samples_per_s"]["median"],
            "min": min(paired), "max": max(paired)}


def summarise(measurements, peak=None):
    """Add throughput, ms/step, GFLOP/s and the ratios to TensorFlow to each measurement.

    ``samples_per_s`` and ``ms_per_step`` are {median, min, max} over the repeats.
    ``ratio_to_tf`` compares throughput with TensorFlow at its best in the same configuration
    (``REFERENCE``: the compiled step for training, the compiled forward for inference);
    ``ratio_to_keras`` with keras's same API (torch and scratchconv steps with keras's
    tf.function step, fit with fit, predict with predict). Each is a ratio of the medians, with
    min and max pairing repeat r with repeat r, and None where the reference was not measured.
    ``gflops`` is the median throughput times :func:`models.direct_flops`, and
    ``peak_fraction`` that over ``peak["gflops"]`` (None without a peak).
    """
    rows = []
    for m in measurements:
        row = dict(m)
        row["samples_per_s"] = _spread([m["samples"] / s for s in m["seconds"]])
        row["ms_per_step"] = _spread([1000 * s / m["steps"] for s in m["seconds"]])
        row["gflops"] = (row["samples_per_s"]["median"]
                         * models.direct_flops(m["image"])[m["task"]] / 1e9)
        row["peak_fraction"] = (row["gflops"] / peak["gflops"] if peak and peak.get("gflops")
                                else None)
        rows.append(row)
    keras = {(r["task"], r["image"], r["batch"], r["api"]): r
             for r in rows if r["framework"] == "keras"}
    for row in rows:
        config = (row["task"], row["image"], row["batch"])
        row["ratio_to_tf"] = _ratio(row, keras.get((*config, REFERENCE[row["task"]][1])))
        row["ratio_to_keras"] = (None if row["framework"] == "keras"
                                 else _ratio(row, keras.get((*config, row["api"]))))
    return rows


def _find(rows, framework, api, task, image, batch):
    for row in rows:
        if (row["framework"], row["api"], row["task"], row["image"], row["batch"]) == \
                (framework, api, task, image, batch):
            return row
    return None


def evaluate_targets(rows, startup):
    """The issue's targets, each with what was measured and whether it is met (None: not measured)."""
    targets = []

    def add(name, goal, value, met, detail):
        targets.append({"target": name, "goal": goal, "measured": value, "met": met,
                        "detail": detail})

    def ratio(framework, api, task, image, batch, ref_framework="keras", ref_api=None):
        a = _find(rows, framework, api, task, image, batch)
        b = _find(rows, ref_framework, ref_api or api, task, image, batch)
        if a is None or b is None:
            return None
        return a["samples_per_s"]["median"] / b["samples_per_s"]["median"]

    for batch in (32, 128):
        r = ratio("scratchconv", "step", "train", 50, batch)
        add(f"training step, batch {batch}, 50x50", ">= 1.2x TF's compiled step", r,
            None if r is None else r >= 1.2,
            "train_on_batch against a tf.function GradientTape step, samples/s ratio of the "
            "medians")
    for batch in (32, 256):
        r = ratio("scratchconv", "predict", "predict", 50, batch, ref_api="forward")
        add(f"inference, batch {batch}, 50x50", ">= 1.5x TF's compiled forward", r,
            None if r is None else r >= 1.5,
            "predict against a tf.function of model(x, training=False), samples/s ratio of "
            "the medians")
    r = ratio("scratchconv", "step", "train", 50, 1)
    add("one training step at batch 1, 50x50", "faster than TF's compiled step", r,
        None if r is None else r > 1, "train_on_batch against a tf.function step, ratio of "
        "the medians")
    ours = _find(rows, "scratchconv", "step", "train", 50, 32)
    theirs = _find(rows, "keras", "step", "train", 50, 32)
    if ours is None or theirs is None:
        add("peak memory of a training process, batch 32, 50x50", "below tf.keras", None, None,
            "not measured")
    else:
        add("peak memory of a training process, batch 32, 50x50", "below tf.keras",
            ours["peak_rss_mb"] / theirs["peak_rss_mb"],
            ours["peak_rss_mb"] < theirs["peak_rss_mb"],
            f"peak RSS {ours['peak_rss_mb']:.0f} MiB against {theirs['peak_rss_mb']:.0f} MiB "
            f"(ratio shown)")
    warm = (startup or {}).get("scratchconv", {}).get("second_s")
    add("second process (numba cache warm): import to first finished step", "<= 1 s", warm,
        None if warm is None else warm <= 1.0, "seconds, fresh process, batch 32, 50x50")
    return targets


def numba_over_numpy(rows):
    """The numba backend's training throughput over the readable backend's, batch 32, 50x50
    (stated, not a target: the readable backend runs BLAS products too), or None."""
    ours = _find(rows, "scratchconv", "step", "train", 50, 32)
    numpy = _find(rows, "scratchconv-numpy", "step", "train", 50, 32)
    if ours is None or numpy is None:
        return None
    return ours["samples_per_s"]["median"] / numpy["samples_per_s"]["median"]


# --------------------------------------------------------------------------------------------
# The machine's practical peak: a large float32 matrix product, in the same run.

PEAK_SIZE = 2048
PEAK_SCRIPT = """
import json, time
import numpy as np
a = np.random.default_rng(0).random(({n}, {n}), dtype=np.float32)
b = a.T.copy()
a @ b  # BLAS's threads and pages warmed up
times = []
for _ in range({repeats}):
    start = time.perf_counter()
    a @ b
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def measure_peak(threads, repeats, notes):
    """GFLOP/s of ``repeats`` products of two 2048x2048 float32 matrices (2 * 2048^3 FLOPs
    each) through numpy's BLAS with ``threads`` threads, in a fresh process: a list, or [] with
    a note. The run calls it at its start and at its end, and reports their median as the peak.
    """
    try:
        times, = in_fresh_processes(PEAK_SCRIPT.format(n=PEAK_SIZE, repeats=repeats),
                                    worker_env(threads), "peak measurement")
    except ProcessFailed as failure:
        notes.append(str(failure))
        return []
    return [2 * PEAK_SIZE ** 3 / s / 1e9 for s in times]


def summarise_peak(gflops):
    """{"gflops": median, "min", "max", "how"} of the peak measurements, or None."""
    if not gflops:
        return None
    return {"gflops": statistics.median(gflops), "min": min(gflops), "max": max(gflops),
            "how": f"{PEAK_SIZE}x{PEAK_SIZE} float32 matrix product through numpy's BLAS, "
                   f"median of {len(gflops)} at the start and the end of the run"}


# --------------------------------------------------------------------------------------------
# Per-kernel micro-benchmarks, by benchmarks/kernels.py.

def run_kernels(repeats, out, threads, notes):
    """Run ``benchmarks.kernels`` in its own process: (its JSON, its printed table), or (None, None)
    if it failed (said in ``notes``). It exposes ``run(repeats=..., json_path=...)`` and
    ``format_table(result)``.
    """
    path = out / "kernels.json"
    try:
        table, = in_fresh_processes(
            "import json; from benchmarks.kernels import run, format_table; "
            f"print(json.dumps(format_table(run(repeats={repeats}, json_path={str(path)!r}))))",
            worker_env(threads), "per-kernel micro-benchmarks")
    except ProcessFailed as failure:
        notes.append(str(failure))
        return None, None
    return json.loads(path.read_text()), table.strip()


# --------------------------------------------------------------------------------------------
# Reporting.

def machine_info(threads):
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu in ("", platform.machine()):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = line
    except OSError:
        pass
    versions = {}
    for package, distributions in (("numpy", ["numpy"]), ("numba", ["numba"]),
                                   ("tensorflow", ["tensorflow", "tensorflow-cpu"]),
                                   ("keras", ["keras"]), ("torch", ["torch"])):
        versions[package] = None
        for distribution in distributions:
            try:
                versions[package] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip() or None
        # Say so when the engine or the harness differ from that commit.
        timed_code = ["scratchconv", "benchmarks/run.py", "benchmarks/models.py",
                      "benchmarks/kernels.py"]
        if commit and subprocess.run(["git", "status", "--porcelain", "--", *timed_code],
                                     cwd=REPO, capture_output=True, text=True).stdout.strip():
            commit += " plus uncommitted changes"
    except OSError:
        commit = None
    return {"cpu": cpu, "avx512": " avx512f" in flags, "cores": os.cpu_count(),
            "threads": threads, "python": platform.python_version(), "versions": versions,
            "git_commit": commit,
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")}


def _fmt(x, digits=0):
    return "-" if x is None else f"{x:,.{digits}f}"


def _ratio_text(ratio):
    return "-" if ratio is None else f"{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})"


def format_table(rows):
    """The results as a Markdown table, one line per (configuration, framework, API)."""
    lines = ["| task | image | batch | framework / API | samples/s median (min-max) | ms/step "
             "| x TF compiled (min-max) | x keras same API | GFLOP/s | % of peak "
             "| first call s | peak RSS MiB |",
             "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    order = list(SERIES)
    for row in sorted(rows, key=lambda r: (r["task"] != "train", r["image"], r["batch"],
                                           order.index((r["framework"], r["api"])))):
        sps = row["samples_per_s"]
        is_reference = (row["framework"], row["api"]) == REFERENCE[row["task"]]
        to_tf = "1 (reference)" if is_reference else _ratio_text(row["ratio_to_tf"])
        share = row.get("peak_fraction")
        lines.append(
            f"| {row['task']} | {row['image']} | {row['batch']} "
            f"| {SERIES[row['framework'], row['api']]} "
            f"| {_fmt(sps['median'])} ({_fmt(sps['min'])}-{_fmt(sps['max'])}) "
            f"| {_fmt(row['ms_per_step']['median'], 2)} | {to_tf} "
            f"| {_ratio_text(row['ratio_to_keras'])} | {_fmt(row.get('gflops'))} "
            f"| {'-' if share is None else f'{100 * share:.0f}%'} "
            f"| {_fmt(row['first_call_s'], 2)} | {_fmt(row.get('peak_rss_mb'))} |")
    return "\n".join(lines)


def format_targets(targets, startup, numba_ratio=None):
    lines = ["| target | goal | measured | met |", "| --- | --- | ---: | --- |"]
    for t in targets:
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {t['goal']} | {_fmt(t['measured'], 2)} | {met} |")
    if numba_ratio is not None:
        lines += ["", f"The numba backend trains {numba_ratio:.1f}x as fast as the readable NumPy "
                      "backend (batch 32, 50x50; stated, not a target: both run BLAS products)."]
    if startup:
        lines += ["", "| start-up: import to first finished step, batch 32, 50x50 "
                  "| first process s | second process s |", "| --- | ---: | ---: |"]
        for framework, s in startup.items():
            cache = "; numba cache empty, then warm" if framework == "scratchconv" else ""
            lines.append(f"| {framework}{cache} | {s['first_s']:.2f} | {s['second_s']:.2f} |")
        counts = {len(s["warm_s"]) for s in startup.values() if "warm_s" in s}
        if counts:
            lines += ["", f"The second process: the median of {'/'.join(map(str, sorted(counts)))} "
                          "warm processes run one after the other (python -m benchmarks.startup)."]
    return "\n".join(lines)


def format_profile(rows):
    """Where scratchconv's training step spends its time, per layer, for each profiled configuration."""
    profiled = [r for r in rows if r.get("profile")]
    if not profiled:
        return ""
    profiled.sort(key=lambda r: (r["image"], r["batch"]))
    head = " | ".join(f"{r['image']}px b{r['batch']} fwd / bwd" for r in profiled)
    lines = [f"| scratchconv train_on_batch, ms per step | {head} |",
             "| --- |" + " ---: |" * len(profiled)]
    for i, layer in enumerate(profiled[0]["profile"]["layers"]):
        cells = " | ".join(f"{r['profile']['layers'][i]['forward_ms']:.2f} / "
                           f"{r['profile']['layers'][i]['backward_ms']:.2f}" for r in profiled)
        lines.append(f"| {layer['name']} | {cells} |")
    for key, label in (("optimizer_ms", "Adam update"), ("other_ms", "rest (loss, casts, checks)"),
                       ("total_ms", "whole step")):
        lines.append(f"| {label} | " + " | ".join(f"{r['profile'][key]:.2f}" for r in profiled)
                     + " |")
    return "\n".join(lines)


def _save_figure(fig, path):
    """Write a figure atomically, so an old PNG is never left half-written."""
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"),
                     what="the picture")


def plot_throughput(rows, path):
    """Bars of samples/s (min-max whiskers) per framework/API x batch size.

    One row of panels per task (train, predict), one column per image size.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in rows}, key=lambda task: task != "train")
    images = sorted({r["image"] for r in rows})
    fig, axes = plt.subplots(len(tasks), len(images), figsize=(7 * len(images), 4.5 * len(tasks)),
                             squeeze=False)
    for ax, (task, image) in zip(axes.flat, [(t, i) for t in tasks for i in images]):
        panel = [r for r in rows if (r["task"], r["image"]) == (task, image)]
        batches = sorted({r["batch"] for r in panel})
        series = [s for s in SERIES if any((r["framework"], r["api"]) == s for r in panel)]
        width = 0.8 / len(series)
        for k, s in enumerate(series):
            xs, ys, lo, hi = [], [], [], []
            for i, batch in enumerate(batches):
                row = _find(panel, *s, task, image, batch)
                if row is not None:
                    sps = row["samples_per_s"]
                    xs.append(i + (k - (len(series) - 1) / 2) * width)
                    ys.append(sps["median"])
                    lo.append(sps["median"] - sps["min"])
                    hi.append(sps["max"] - sps["median"])
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=SERIES[s])
        ax.set_xticks(range(len(batches)), [str(b) for b in batches])
        ax.set_xlabel("batch size")
        ax.set_ylabel("samples/s (median, min-max)")
        ax.set_yscale("log")
        ax.set_title(f"{task}, {image}x{image}x3")
        ax.legend(fontsize=7)
    fig.suptitle("Tutorial model throughput (higher is better)")
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def plot_scaling(rows, path):
    """Training cost against batch size and against image area, log-log, with a linear guide."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in rows if r["task"] == "train" and r["api"] == "step"]
    fig, (by_batch, by_area) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = [s for s in SERIES if s[1] == "step" and any(
        (r["framework"], r["api"]) == s for r in train)]
    styles = ["-", "--", ":", "-."]
    for color, s in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], series):
        mine = [r for r in train if (r["framework"], r["api"]) == s]
        for k, image in enumerate(sorted({r["image"] for r in mine})):
            pts = sorted((r["batch"], r["ms_per_step"]["median"]) for r in mine if r["image"] == image)
            by_batch.plot(*zip(*pts), styles[k % 4], marker="o", color=color,
                          label=f"{SERIES[s]}, {image}x{image}")
        for k, batch in enumerate(sorted({r["batch"] for r in mine})):
            pts = sorted((r["image"] ** 2, r["ms_per_step"]["median"]) for r in mine
                         if r["batch"] == batch)
            if len(pts) < 2:
                continue  # a single image size shows no growth
            by_area.plot(*zip(*pts), styles[k % 4], marker="o", color=color,
                         label=f"{SERIES[s]}, batch {batch}")
    for ax, xlabel in ((by_batch, "batch size"), (by_area, "image area (pixels)")):
        ax.set_xlabel(xlabel)
        lines = ax.get_lines()
        if not lines:
            ax.text(0.5, 0.5, "measured at one size only: no growth to show",
                    ha="center", transform=ax.transAxes)
            continue
        # Proportional growth through the lowest first point: the "linear" reference.
        x0 = min(min(line.get_xdata()) for line in lines)
        x1 = max(max(line.get_xdata()) for line in lines)
        y0 = min(line.get_ydata()[0] for line in lines)
        ax.plot([x0, x1], [y0, y0 * x1 / x0], color="grey", linewidth=3, alpha=0.35,
                label="linear (cost proportional)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel("ms per training step (median)")
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    by_batch.set_title("cost against batch size")
    by_area.set_title("cost against image area")
    fig.suptitle("Training step cost scaling (log-log)")
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def write_json(data, path):
    atomic.write_text(path, json.dumps(data, indent=1))


def _measured_where(results):
    """The sentence that says when, where, with what and by which command a run was measured."""
    machine, versions = results["machine"], results["machine"]["versions"]
    installed = ", ".join(f"{name} {version}" for name, version in versions.items() if version)
    return (f"Measured {machine['date_utc']} UTC on {machine['cpu']} "
            f"({machine['cores']} cores{', AVX-512' if machine['avx512'] else ''}), "
            f"{machine['threads']} threads per framework; Python {machine['python']}, {installed}; "
            f"scratchconv at commit {machine['git_commit']}. Command:")


def _peak_text(results):
    peak = results.get("peak")
    return (("The machine's peak was not measured. " if peak is None else
             f"The machine's peak, measured in this run: {peak['gflops']:.0f} GFLOP/s "
             f"({peak['min']:.0f}-{peak['max']:.0f}; {peak['how']}). ")
            + "GFLOP/s count the operations of direct convolution, so an algorithm that needs "
            "fewer (Winograd) can pass 100%.")


def format_report(results):
    """The whole report in Markdown: where and how it ran, the table, targets, profile, notes."""
    parts = [
        _measured_where(results),
        f"```bash\n{results['command']}\n```",
        _peak_text(results),
        format_table(results["rows"]),
        format_targets(results["targets"], results["startup"], results.get("numba_over_numpy")),
    ]
    profile = format_profile(results["rows"])
    if profile:
        parts.append(profile)
    if results["kernels_table"]:
        parts.append("Per-kernel micro-benchmarks (`benchmarks/kernels.py`, batch 32, float32; "
                     "`results/kernels.json`):")
        parts.append(f"```text\n{results['kernels_table']}\n```")
    if results["notes"]:
        parts.append("\n".join(f"- {note}" for note in results["notes"]))
    return "\n\n".join(parts)


def format_summary(results):
    """The top-level README's excerpt of a run: the tutorial's own rows (50x50, training at
    batch 32, inference at 32 and 256) and the targets, so that page never holds figures
    copied by hand."""
    rows = [r for r in results["rows"] if r["image"] == 50
            and (r["batch"] == 32 if r["task"] == "train" else r["batch"] in (32, 256))]
    return "\n\n".join([
        _measured_where(results).replace("Command:", "Every batch size and image size, the "
                                         "per-layer and per-kernel times are in "
                                         "[benchmarks/README.md](benchmarks/README.md). Command:"),
        f"```bash\n{results['command']}\n```",
        _peak_text(results),
        format_table(rows),
        format_targets(results["targets"], results["startup"], results.get("numba_over_numpy")),
    ])


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"
SUMMARY_START, SUMMARY_END = "<!-- speed:start -->", "<!-- speed:end -->"


def update_readme(report, path, start=README_START, end=README_END):
    """Replace the block between the markers ``start`` and ``end`` of ``path`` with ``report``."""
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no {start} ... {end} block to fill")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    atomic.write_text(path, f"{head}{start}\n{report}\n{end}{tail}")


# --------------------------------------------------------------------------------------------
# Command line.

def _positive_ints(text):
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, "
                                         f"got {text!r}")
    return values


def _frameworks(text):
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in models.FRAMEWORKS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown framework {', '.join(unknown) or repr(text)}: choose from "
            f"{', '.join(models.FRAMEWORKS)}")
    return names


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time scratchconv against tf.keras and PyTorch on the tutorial model.")
    parser.add_argument("--quick", action="store_true",
                        help="batch 32 and 50x50 only, fewer steps and repeats (for development)")
    parser.add_argument("--frameworks", type=_frameworks, default=tuple(models.FRAMEWORKS),
                        help=f"comma-separated, from {','.join(models.FRAMEWORKS)} (default: all "
                             "that are installed)")
    parser.add_argument("--batch-sizes", type=_positive_ints,
                        help="training batch sizes (default 1,8,32,128; quick: 32)")
    parser.add_argument("--predict-batch-sizes", type=_positive_ints,
                        help="inference batch sizes (default 32,256; quick: 32)")
    parser.add_argument("--image-sizes", type=_positive_ints,
                        help="image sides in pixels, at least 14 (default 50,100; quick: 50)")
    parser.add_argument("--repeats", type=int, help="timed repeats per measurement (default 5)")
    parser.add_argument("--train-samples", type=int,
                        help="samples per training repeat at 50x50, fewer for larger images "
                             "(default 1024; quick: 512)")
    parser.add_argument("--predict-samples", type=int,
                        help="samples per inference repeat at 50x50, fewer for larger images "
                             "(default 1024; quick: 512)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for every framework (default: the core count)")
    parser.add_argument("--out", type=Path, help="output folder (default benchmarks/results, "
                                                 "quick: benchmarks/results/quick)")
    parser.add_argument("--skip-startup", action="store_true",
                        help="skip the fresh-process start-up measurement")
    parser.add_argument("--skip-kernels", action="store_true",
                        help="skip the per-kernel micro-benchmarks")
    parser.add_argument("--update-readme", action="store_true",
                        help="write the report into benchmarks/README.md and its excerpt into README.md (for the full run)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("repeats", "train_samples", "predict_samples", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.image_sizes and min(args.image_sizes) < 14:
        parser.error(f"--image-sizes must be at least 14 pixels (the model shrinks an image "
                     f"to (s - 2) // 2 - 2 then halves it), got {min(args.image_sizes)}")
    return args


def settings_from(args):
    """The run's settings: the mode's defaults, overridden by the options given."""
    settings = dict(QUICK if args.quick else FULL)
    for key in ("batch_sizes", "predict_batch_sizes", "image_sizes", "repeats",
                "train_samples", "predict_samples"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    settings["numpy_repeats"] = min(settings["numpy_repeats"], settings["repeats"])
    return settings


def available(frameworks, notes):
    """The frameworks whose packages are installed; a note for each one that is not."""
    kept = []
    for framework in frameworks:
        package = PIP_NAMES.get(framework)
        if package and importlib.util.find_spec(package) is None:
            notes.append(f"{framework} skipped: {package} is not installed "
                         f"(pip install {package})")
        else:
            kept.append(framework)
    return tuple(kept)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        worker(args.worker, args.image_sizes[0], args.threads)
        return 0
    settings = settings_from(args)
    out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"python -m benchmarks: cannot use {out} as the output folder: {error.strerror}",
              file=sys.stderr)
        return 2
    notes = []
    frameworks = available(args.frameworks, notes)
    started = time.perf_counter()
    log("the machine's peak: a large float32 matrix product")
    peak_gflops = measure_peak(args.threads, settings["peak_repeats"], notes)

    measurements = []
    jobs = [("train", image, batch) for image in settings["image_sizes"]
            for batch in settings["batch_sizes"]]
    jobs += [("predict", image, batch) for image in settings["image_sizes"]
             for batch in settings["predict_batch_sizes"]]
    for task, image, batch in jobs:
        log(f"{task}, {image}x{image}, batch {batch}")
        measurements += run_job(task, image, batch, frameworks, settings, args.threads, notes)
    log("the machine's peak, again")
    peak = summarise_peak(peak_gflops + measure_peak(args.threads, settings["peak_repeats"],
                                                     notes))
    rows = summarise(measurements, peak)

    startup = {}
    if not args.skip_startup:
        log("start-up: import to first finished step, in fresh processes")
        startup = measure_startup(frameworks, worker_env(args.threads), notes)
    kernels = kernels_table = None
    if not args.skip_kernels:
        log("per-kernel micro-benchmarks (benchmarks/kernels.py)")
        kernels, kernels_table = run_kernels(settings["kernel_repeats"], out, args.threads, notes)

    targets = evaluate_targets(rows, startup)
    command = "python -m benchmarks" + (" " + " ".join(argv if argv is not None
                                                        else sys.argv[1:])).rstrip()
    results = {"command": command, "machine": machine_info(args.threads),
               "settings": {k: list(v) if isinstance(v, tuple) else v
                            for k, v in settings.items()},
               "frameworks": list(frameworks), "peak": peak, "rows": rows, "targets": targets,
               "numba_over_numpy": numba_over_numpy(rows),
               "startup": startup, "kernels": kernels, "kernels_table": kernels_table,
               "notes": notes,
               "wall_s": time.perf_counter() - started}
    write_json(results, out / "results.json")
    if rows:
        plot_throughput(rows, out / "throughput.png")
        plot_scaling(rows, out / "scaling.png")

    report = format_report(results)
    atomic.write_text(out / "results.md", report + "\n")
    if args.update_readme:
        update_readme(report, README)
        update_readme(format_summary(results), TOP_README, SUMMARY_START, SUMMARY_END)
    print(report)
    print(f"\nwrote results.json, results.md and the plots to {out} ({results['wall_s']:.0f} s)"
          + (f"; updated {README} and {TOP_README}" if args.update_readme else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
