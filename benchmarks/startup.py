"""Start-up: fresh processes timed from import to the first finished training step (the tutorial
model, batch 32, 50x50): ``python -m benchmarks.startup [--warm N] [--cache DIR]``.

For each framework the first process runs with an empty numba cache (cold: scratchconv compiles
every kernel its first step needs), then ``--warm`` processes with the cache the first one wrote
(warm: what a user's second run sees), one after the other; the warm figure is their median.
One warm process alone is no measurement on a shared machine: eight of the same code took 1.26
to 1.71 s at load 6. ``python -m benchmarks`` runs this with the default ``--warm``.

The processes write Python's bytecode cache (``__pycache__``) even where the environment
sets ``PYTHONDONTWRITEBYTECODE``: a user's second run reads it.

``--cache DIR`` keeps numba's cache in DIR instead of a new temporary folder: once a call has
filled it, a next call's first process is warm too, so only warm processes are timed (a quick,
repeatable check of the warm start while changing the code; the cache follows the source file's
path and time stamp, so an edited kernel module compiles again once).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

if not __package__:
    # Run as a script (python benchmarks/startup.py): make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import models  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
WARM = 5  # warm processes per framework

SCRIPT = """
import json, time
start = time.perf_counter()
from benchmarks import models
runner = models.FRAMEWORKS[{framework!r}](50, {threads})
x, y = models.make_data(32, 50)
runner.prepare(x, y, 32)
runner.train_steps(1)
print(json.dumps(time.perf_counter() - start))
"""


def measure(frameworks, env, notes, warm=WARM, cache=None):
    """``{framework: {"first_s", "second_s", "warm_s"}}``: the first process's seconds, the
    median of the ``warm`` next ones and their list; a framework whose process failed is left
    out, with a note. ``env`` is the processes' environment (threads, paths); numba's cache is
    ``cache``, or a new temporary folder (the first process then compiles).
    """
    results = {}
    with tempfile.TemporaryDirectory() as temporary:
        env = dict(env, NUMBA_CACHE_DIR=str(cache or temporary))
        # Python's bytecode cache on, as a user's second run has it (pip compiles an installed
        # package, a first import writes the rest): with PYTHONDONTWRITEBYTECODE set, as some
        # sandboxes do, every process compiled scratchconv's sources again (0.09 s of CPU time).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        threads = env.get("NUMBA_NUM_THREADS", os.cpu_count())
        for framework in frameworks:
            if framework == "scratchconv-numpy":
                continue
            times = []
            for attempt in range(1 + warm):
                log(f"  {framework}: {'first' if attempt == 0 else 'warm'} process")
                try:
                    times += in_fresh_processes(SCRIPT.format(framework=framework, threads=threads),
                                                env, f"start-up of {framework}")
                except ProcessFailed as failure:
                    notes.append(str(failure))
                    break
            if len(times) == 1 + warm and warm > 0:
                results[framework] = {"first_s": times[0], "second_s": statistics.median(times[1:]),
                                      "warm_s": times[1:]}
    return results


class ProcessFailed(RuntimeError):
    """A fresh process of the benchmarks failed; the message says which, its exit code and the
    last lines of its error output."""


def in_fresh_processes(script, env, what, count=1):
    """Run ``script`` (``python -c``, in the repository, with the environment ``env``) in
    ``count`` fresh Python processes at once; returns the last line each one printed, read as
    JSON. One failing raises :class:`ProcessFailed`, ``what`` naming it. Every benchmark that
    needs a process of its own (a start-up, a setting that holds for a whole process, peak
    memory that must be one framework's alone) runs through here."""
    processes = [subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(count)]
    outputs = [process.communicate() for process in processes]
    for process, (_, err) in zip(processes, outputs):
        if process.returncode != 0:
            tail = " | ".join(err.strip().splitlines()[-3:])
            raise ProcessFailed(f"{what} failed (exit code {process.returncode}): {tail}")
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


def log(message):
    """Progress goes to stderr, so that stdout holds only the results (here and in
    :mod:`benchmarks.run`, which takes this and REPO from here)."""
    print(message, file=sys.stderr, flush=True)


def main(argv=None):
    from benchmarks import run  # which imports this module

    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", type=run._frameworks, default=("scratchconv",),
                        help=f"comma-separated, from {','.join(models.FRAMEWORKS)} "
                             "(default scratchconv)")
    parser.add_argument("--warm", type=int, default=WARM,
                        help=f"warm processes after the first (default {WARM})")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for every framework (default: the core count)")
    parser.add_argument("--cache", type=Path,
                        help="numba's cache folder, kept (default: a new temporary one)")
    args = parser.parse_args(argv)
    for name in ("warm", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    notes = []
    results = measure(args.frameworks, run.worker_env(args.threads), notes, args.warm, args.cache)
    for framework, r in results.items():
        warm = ", ".join(f"{s:.2f}" for s in r["warm_s"])
        print(f"{framework}: first process {r['first_s']:.2f} s, warm median {r['second_s']:.2f} s "
              f"({warm}); load average {os.getloadavg()[0]:.2f}")
    for note in notes:
        print(f"note: {note}")
    return 1 if notes else 0


if __name__ == "__main__":
    sys.exit(main())
