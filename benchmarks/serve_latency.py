"""How long the ``scratchconv serve`` page waits for the model: one drawing's round trip.

    python -m benchmarks.serve_latency [--repeats 50] [--out FILE.json]

Starts ``scratchconv serve`` in its own process on a free loopback port, serving the tutorial
model (519,096 parameters, its initial weights: the time does not depend on their values), and
sends it what the page sends while you draw: a 280x280 PNG of a rune, POSTed to
``/api/layers``, which answers with the predictions, the 50x50 input and every layer's feature
maps (about 1.1 MB of JSON for this model). A round trip is the request, the server's work
(decoding and preparing the PNG as ``data.load_image`` does, the forward pass layer by layer,
encoding the arrays) and reading and parsing the whole answer, over one kept-alive connection,
as a browser does. Also timed, in this process: the server's own work without HTTP, step by
step. Prints the median, minimum and maximum of ``--repeats`` round trips after 5 unmeasured
ones. The goal: a median below 50 ms on 2 cores, so that the page follows the pen.
"""
import argparse
import http.client
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from scratchconv.atomic import write_text

GOAL_MS = 50
WARMUP = 5


def drawing_png():
    """A shipped rune scaled to the page's 280x280 pad, as the PNG the page would send."""
    from scratchconv import data

    with Image.open(data.default_data_dir() / "ᚱ_07.png") as image:
        pad = image.convert("L").resize((280, 280), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    pad.save(buffer, format="PNG")
    return buffer.getvalue()


def summary(seconds):
    ms = [1000 * s for s in seconds]
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms)}


def server_work(model, png, repeats):
    """The server's steps for one request, timed without HTTP: {step: summary}."""
    from scratchconv.serve import explain
    from scratchconv.serve.app import encode

    names = explain.class_names(model)
    steps = {"prepare": [], "forward": [], "encode": [], "json": []}
    for i in range(WARMUP + repeats):
        t0 = time.perf_counter()
        x = explain.prepare(model, png)
        t1 = time.perf_counter()
        outputs = explain.layer_outputs(model, x)
        t2 = time.perf_counter()
        answer = {"predictions": explain.ranked(names, outputs[-1]), "input": encode(x),
                  "layers": [encode(a) for a in outputs]}
        t3 = time.perf_counter()
        json.dumps(answer)
        t4 = time.perf_counter()
        if i >= WARMUP:
            for step, dt in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                steps[step].append(dt)
    return {step: summary(times) for step, times in steps.items()}


def round_trips(model_path, png, repeats):
    """Times of ``repeats`` POSTs to /api/layers of a ``scratchconv serve`` process, and the
    size of one answer."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    server = subprocess.Popen([sys.executable, "-m", "scratchconv.cli", "serve", str(model_path),
                               "--port", "0"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = server.stdout.readline()
        if " at http://" not in line:
            raise RuntimeError(f"scratchconv serve did not start: {line!r}")
        host, port = line.split(" at http://")[1].split("/")[0].rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        times, size = [], 0
        for i in range(WARMUP + repeats):
            t0 = time.perf_counter()
            connection.request("POST", "/api/layers", body=png,
                               headers={"Content-Type": "image/png"})
            response = connection.getresponse()
            body = response.read()
            json.loads(body)
            dt = time.perf_counter() - t0
            if response.status != 200:
                raise RuntimeError(f"/api/layers answered {response.status}: {body[:200]!r}")
            if i >= WARMUP:
                times.append(dt)
            size = len(body)
        connection.close()
        return times, size
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve_latency",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50, help="default: %(default)s")
    parser.add_argument("--out", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    import scratchconv

    scratchconv.set_seed(0)
    model = scratchconv.tutorial_model()
    png = drawing_png()
    with tempfile.TemporaryDirectory() as folder:
        model_path = Path(folder) / "tutorial.npz"
        model.save(model_path, include_optimizer=False)
        times, size = round_trips(model_path, png, args.repeats)
    steps = server_work(model, png, args.repeats)
    trip = summary(times)
    results = {
        "round_trip": trip, "answer_bytes": size, "server_steps": steps,
        "repeats": args.repeats, "goal_ms": GOAL_MS, "met": trip["median_ms"] < GOAL_MS,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "numpy": np.__version__,
                    # other processes' load, which the times include (1, 5, 15 minutes)
                    "load_average": [round(v, 2) for v in os.getloadavg()]},
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(f"POST /api/layers round trip, tutorial model, {args.repeats} repeats: median "
          f"{trip['median_ms']:.1f} ms (min {trip['min_ms']:.1f}, max {trip['max_ms']:.1f}); "
          f"answer {size / 1e6:.2f} MB; goal < {GOAL_MS} ms: {'met' if results['met'] else 'NOT met'} "
          f"(load average {results['machine']['load_average'][0]:.1f} on {os.cpu_count()} cores)")
    print("the server's steps, in this process (median ms): " + ", ".join(
        f"{step} {s['median_ms']:.1f}" for step, s in steps.items()))
    if args.out:
        write_text(args.out, json.dumps(results, indent=2) + "\n", what="the results")
    return 0


if __name__ == "__main__":
    sys.exit(main())
