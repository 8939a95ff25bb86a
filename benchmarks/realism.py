"""Realism of the shipped runes: does a model trained only on them read runes people drew?

    python -m benchmarks.realism [--seeds 0 1 2] [--epochs 10] [--engine scratchconv|keras]

For each training seed: the tutorial recipe on ``data/runes`` alone (load as RGB, the rotations
of ±10° and ±20°, one-hot labels, ``split`` with test_size=0.33 and random_state=111, the
tutorial model with Adam, batch size 32), then

- the accuracy on the held-out split of our own images (rotated copies of an image can fall on
  both sides of the split, as in the tutorial, so this figure is optimistic);
- the accuracy on the real drawings: the Omniglot Anglo-Saxon Futhorc runes that share a shape
  with one of ours (``../shared/omniglot-futhorc``, 20 runes x 10 drawers, never trained on),
  loaded with ``load_image_folder`` and its defaults (bilinear resampling, automatic inversion
  of their black-on-white to our white-on-black), overall and per rune.

The engine is scratchconv (the product); ``--engine keras`` trains the same model (its tf.keras
twin, from the same initial weights) with tf.keras instead, for comparison. The results go to
``data/realism.json`` and the figures of ``data/README.md`` come from it.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

if not __package__:
    # Run as a script (python benchmarks/realism.py): make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from scratchconv import data  # noqa: E402
from scratchconv.atomic import write_text  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
REAL_DIR = REPO.parent / "shared" / "omniglot-futhorc"
RESULTS = REPO / "data" / "realism.json"


def prepare(data_dir):
    """The tutorial's data recipe on ``data_dir``: (x_train, x_test, y_train, y_test), one-hot y."""
    x, y, _ = data.load_image_folder(data_dir)
    x, y = data.augment_rotations(x, y)
    return data.split(x, data.to_categorical(y, data.NUM_CLASSES))


def train(engine, seed, x_train, y_train, epochs, batch_size, backend=None):
    """The tutorial model trained with ``engine`` from seed ``seed``: a function x -> probabilities."""
    import scratchconv

    scratchconv.set_seed(seed)
    if backend is not None:
        scratchconv.set_backend(backend)
    model = scratchconv.tutorial_model()
    if engine == "keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras

        from reference.twin import to_keras

        keras.utils.set_random_seed(seed)
        model = to_keras(model)
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=2)
    return lambda x: model.predict(x, batch_size=256, verbose=0)


def per_rune(predicted, y):
    """Accuracy and most frequent mistake for each rune present in ``y``: a dict keyed by rune."""
    out = {}
    for label in np.unique(y):
        mine = predicted[y == label]
        wrong = mine[mine != label]
        out[data.RUNES[label]] = {
            "name": data.RUNE_NAMES[label],
            "n": int(len(mine)),
            "accuracy": float(np.mean(mine == label)),
            "confused_with": data.RUNES[np.bincount(wrong).argmax()] if len(wrong) else None,
        }
    return out


def measure(args):
    x_train, x_test, y_train, y_test = prepare(args.data)
    x_real, y_real, _ = data.load_image_folder(args.real)
    runs = []
    for seed in args.seeds:
        start = time.perf_counter()
        predict = train(args.engine, seed, x_train, y_train, args.epochs, args.batch_size, args.backend)
        test_accuracy = float(np.mean(predict(x_test).argmax(1) == y_test.argmax(1)))
        predicted = predict(x_real).argmax(1)
        runs.append({
            "seed": seed,
            "test_accuracy": test_accuracy,
            "real_accuracy": float(np.mean(predicted == y_real)),
            "per_rune": per_rune(predicted, y_real),
            "seconds": round(time.perf_counter() - start, 1),
        })
        print(f"seed {seed}: test split {test_accuracy:.3f}, real drawings "
              f"{runs[-1]['real_accuracy']:.3f} ({runs[-1]['seconds']} s)", flush=True)
    import scratchconv

    return {
        "engine": args.engine,
        "backend": scratchconv.get_backend() if args.engine == "scratchconv" else None,
        "data": str(Path(args.data).resolve().relative_to(REPO)) if Path(args.data).resolve()
        .is_relative_to(REPO) else str(args.data),
        "train_images": int(len(x_train)),
        "test_images": int(len(x_test)),
        "real_images": int(len(x_real)),
        "real_runes": int(len(np.unique(y_real))),
        "loader": {"color_mode": "rgb", "resample": "bilinear", "invert": "auto"},
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "runs": runs,
        "summary": summarise(runs),
    }


def summarise(runs):
    """Mean, min and max over the seeds of each accuracy, and the mean per-rune accuracy."""
    summary = {}
    for key in ("test_accuracy", "real_accuracy"):
        values = [run[key] for run in runs]
        summary[key] = {"mean": float(np.mean(values)), "min": min(values), "max": max(values)}
    runes = runs[0]["per_rune"]
    summary["per_rune"] = {rune: float(np.mean([run["per_rune"][rune]["accuracy"] for run in runs]))
                           for rune in runes}
    return summary


def report(results):
    s = results["summary"]
    backend = f" ({results['backend']} backend)" if results["backend"] else ""
    lines = [f"engine {results['engine']}{backend}, {results['epochs']} epochs, {len(results['runs'])} seeds",
             f"test split of our images: mean {s['test_accuracy']['mean']:.3f} "
             f"(range {s['test_accuracy']['min']:.3f}-{s['test_accuracy']['max']:.3f})",
             f"real drawings ({results['real_images']} of {results['real_runes']} runes): mean "
             f"{s['real_accuracy']['mean']:.3f} (range {s['real_accuracy']['min']:.3f}-"
             f"{s['real_accuracy']['max']:.3f})",
             "per rune (mean over seeds): " + "  ".join(
                 f"{rune} {accuracy:.2f}" for rune, accuracy in s["per_rune"].items())]
    return "\n".join(lines)


def combine(parts):
    """One result from several runs of the same measurement with different seeds (run side by side).

    Each training seed is independent and deterministic, so running seeds in separate processes
    and combining gives the same figures as one run over all of them. Raises ``ValueError`` if
    the parts differ in anything but their seeds.
    """
    setting = {key: value for key, value in parts[0].items() if key not in ("runs", "summary")}
    for part in parts[1:]:
        other = {key: value for key, value in part.items() if key not in ("runs", "summary")}
        if other != setting:
            raise ValueError(f"cannot combine runs of different settings: {setting} and {other}")
    runs = sorted((run for part in parts for run in part["runs"]), key=lambda run: run["seed"])
    seeds = [run["seed"] for run in runs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"cannot combine runs that repeat a seed: {seeds}")
    return {**setting, "runs": runs, "summary": summarise(runs)}


def markdown(results):
    """The results as the Markdown block of data/README.md: the figures, then a per-rune table."""
    s = results["summary"]
    engine = results["engine"] + (f" ({results['backend']} backend)" if results["backend"] else "")

    def span(key):
        return f"{s[key]['mean']:.1%} (range {s[key]['min']:.1%} to {s[key]['max']:.1%})"

    seeds = ", ".join(str(run["seed"]) for run in results["runs"])
    lines = [f"Measured with {engine}, {results['epochs']} epochs, training seeds {seeds} "
             f"({results['train_images']} training and {results['test_images']} test images):",
             "",
             f"- **real drawings: {span('real_accuracy')}** of {results['real_images']} drawings "
             f"of {results['real_runes']} runes;",
             f"- test split of our own images: {span('test_accuracy')}.",
             "",
             "| rune | name | accuracy on its 10 drawings (mean over seeds) | mistaken for (per seed) |",
             "| --- | --- | --- | --- |"]
    for rune, accuracy in s["per_rune"].items():
        name = results["runs"][0]["per_rune"][rune]["name"]
        mistakes = " ".join(run["per_rune"][rune]["confused_with"] or "–" for run in results["runs"])
        lines.append(f"| {rune} | {name} | {accuracy:.0%} | {mistakes} |")
    return "\n".join(lines)


def write_readme(results, readme):
    """Replace the block between ``<!-- realism -->`` and ``<!-- /realism -->`` of ``readme``."""
    text = Path(readme).read_text(encoding="utf-8")
    start, end = "<!-- realism -->\n", "<!-- /realism -->"
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no {start.strip()} ... {end} block to fill")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    write_text(readme, head + start + markdown(results) + "\n" + end + tail)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.realism", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(data.default_data_dir()), help="training images (default: %(default)s)")
    parser.add_argument("--real", default=str(REAL_DIR), help="real drawings (default: %(default)s)")
    parser.add_argument("--engine", choices=("scratchconv", "keras"), default="scratchconv")
    parser.add_argument("--backend", choices=("numba", "numpy"), default=None,
                        help="scratchconv's kernels (default: its default, SCRATCHCONV_BACKEND or numba)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=str(RESULTS), help="JSON results (default: %(default)s)")
    parser.add_argument("--readme", default=None, metavar="PATH",
                        help="also write the figures into this README's realism block (data/README.md)")
    parser.add_argument("--combine", nargs="+", default=None, metavar="JSON",
                        help="measure nothing: combine the results of runs with other seeds")
    args = parser.parse_args(argv)
    if args.combine:
        results = combine([json.loads(Path(path).read_text(encoding="utf-8")) for path in args.combine])
    elif not Path(args.real).is_dir():
        parser.error(f"the real drawings are not at {args.real}: pass --real DIR")
    else:
        results = measure(args)
    print(report(results))
    write_text(args.out, json.dumps(results, indent=1, ensure_ascii=False) + "\n", what="the results")
    if args.readme:
        write_readme(results, args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
