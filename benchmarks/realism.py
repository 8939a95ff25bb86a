"""Realism of the shipped runes: does a model trained only on them read runes people drew?

    python -m benchmarks.realism [--seeds 0 1 2] [--epochs 10] [--engine scratchconv|keras]
    python -m benchmarks.realism --stress [--seeds 0 1 2] [--epochs 5]

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

``--stress`` also reads freshly generated runes that each push one of a writer's habits to its
extreme (:data:`FACTORS`: runes touching the frame, a third of it, a 1 px hairline, a bold marker,
hard edges, blur, an uneven background) and every form of the runes that have several
(``glyphs.FORMS``), drawn with seeds the shipped set does not use (:func:`stress_sets`), with
the same trainings; it trains the tutorial's 5 epochs by default, and the real drawings are read
when they are there (a note at the start says when they are not). Its table goes to the
``<!-- stress -->`` block of the README.
"""
import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

if not __package__:
    # Run as a script (python benchmarks/realism.py): make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from PIL import Image  # noqa: E402

from scratchconv import data  # noqa: E402
from scratchconv.atomic import write_text  # noqa: E402
from scratchconv.data import generator  # noqa: E402
from scratchconv.data.glyphs import FORMS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
REAL_DIR = REPO.parent / "shared" / "omniglot-futhorc"
RESULTS = REPO / "data" / "realism.json"

# One habit pushed to the end of the range writers draw (generator.WriterStyle.random) for every
# writer of a set: name -> writer -> writer.
FACTORS = {
    "full frame (runes touch its edges)": lambda style: dataclasses.replace(style, height=1.0),
    "a third of the frame": lambda style: dataclasses.replace(
        style, height=generator.HEIGHT_RANGE[0], pen=min(style.pen, generator.widest_pen(generator.HEIGHT_RANGE[0]))),
    "1 px hairline": lambda style: dataclasses.replace(
        style, pen=generator.PEN_RANGE[0], softness=min(style.softness, generator.widest_blur(generator.PEN_RANGE[0]))),
    "bold marker (a sixth of the frame)": lambda style: dataclasses.replace(
        style, pen=generator.PEN_RANGE[1], height=max(style.height, 0.75)),
    "hard-edged (no antialiasing, no blur)": lambda style: dataclasses.replace(
        style, antialias=False, softness=0.0),
    "blurred (the strongest blur writers draw)": lambda style: dataclasses.replace(
        style, antialias=True, softness=min(generator.BLUR_RANGE[1], generator.widest_blur(style.pen))),
    "uneven background": lambda style: dataclasses.replace(style, paper=generator.PAPER_RANGE[1]),
}
# Stress sets are drawn from seeds STRESS_SEED and up (the shipped set is seed 0).
STRESS_SEED = 100
# Writers per form's set. One image of a set of n is 100/n points of its figure, and the figure's
# sampling error at 90% is sqrt(0.9 x 0.1 / n): 4.7 points with 40 writers (two trainings moved a
# form's figure on the same 40 images by about 5 points), 2.1 points with 200. The first 40
# writers of a set are the same at any size (writer k of set i is writer_style(seed + i, k)), so a
# larger set draws more writers of the same kind, no easier ones. Drawing it costs about 20 s of
# CPU (3.5 s with 40), reading it little, next to the 20-odd minutes of a training.
PER_FORM = 200


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
    """Train the recipe once per seed; read the test split, the real drawings (when they are at
    ``args.real``) and, with ``args.stress``, the stress sets (:func:`stress_sets`)."""
    x_train, x_test, y_train, y_test = prepare(args.data)
    real = Path(args.real).is_dir()
    if real:
        x_real, y_real, _ = data.load_image_folder(args.real)
    sets = stress_sets(args.per_rune, args.per_form) if args.stress else []
    runs = []
    for seed in args.seeds:
        start = time.perf_counter()
        predict = train(args.engine, seed, x_train, y_train, args.epochs, args.batch_size, args.backend)
        run = {"seed": seed, "test_accuracy": float(np.mean(predict(x_test).argmax(1) == y_test.argmax(1)))}
        if real:
            predicted = predict(x_real).argmax(1)
            run.update(real_accuracy=float(np.mean(predicted == y_real)), per_rune=per_rune(predicted, y_real))
        if sets:
            run["sets"] = {}
            for _, name, x, y in sets:
                predicted = predict(x).argmax(1)
                wrong = predicted[predicted != y]
                run["sets"][name] = {"accuracy": float(np.mean(predicted == y)), "n": int(len(y)),
                                     "confused_with": data.RUNES[np.bincount(wrong).argmax()] if len(wrong) else None}
        run["seconds"] = round(time.perf_counter() - start, 1)
        runs.append(run)
        print(f"seed {seed}: " + ", ".join(
            [f"test split {run['test_accuracy']:.3f}"] + ([f"real drawings {run['real_accuracy']:.3f}"] if real else [])
            + [f"{name} {a['accuracy']:.3f}" for name, a in run.get("sets", {}).items()]) + f" ({run['seconds']} s)",
            flush=True)
    import scratchconv

    results = {
        "engine": args.engine,
        "backend": scratchconv.get_backend() if args.engine == "scratchconv" else None,
        "data": str(Path(args.data).resolve().relative_to(REPO)) if Path(args.data).resolve()
        .is_relative_to(REPO) else str(args.data),
        "train_images": int(len(x_train)),
        "test_images": int(len(x_test)),
        "loader": {"color_mode": "rgb", "resample": "bilinear", "invert": "auto"},
        "epochs": args.epochs,
        "batch_size": args.batch_size,
    }
    if real:
        results.update(real_images=int(len(x_real)), real_runes=int(len(np.unique(y_real))))
    if sets:
        results.update(stress_seed=STRESS_SEED, groups={name: group for group, name, _, _ in sets})
    results["runs"] = runs
    if real:
        results["summary"] = summarise(runs)
    return results


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
    return {**setting, "runs": runs, **({"summary": summarise(runs)} if "real_accuracy" in runs[0] else {})}


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


def write_readme(results, readme, block="realism"):
    """Replace the block between ``<!-- realism -->`` and ``<!-- /realism -->`` of ``readme``
    with :func:`markdown` of ``results`` (``block="stress"``: ``<!-- stress -->`` ... with
    :func:`stress_markdown`)."""
    render = {"realism": markdown, "stress": stress_markdown}[block]
    text = Path(readme).read_text(encoding="utf-8")
    start, end = f"<!-- {block} -->\n", f"<!-- /{block} -->"
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no {start.strip()} ... {end} block to fill")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    write_text(readme, head + start + render(results) + "\n" + end + tail)


def stress_sets(per_rune=10, per_form=PER_FORM, seed=STRESS_SEED):
    """The stress sets: a list of ``(group, name, x, y)``, x as ``load_image_folder`` reads it.

    One set per factor of :data:`FACTORS` (``per_rune`` writers, each drawing every rune once,
    their habit pushed by the factor), then one per form of each rune that has several
    (``per_form`` writers, each drawing that rune once in that form, their other habits as
    drawn). Writer ``k`` of set ``i`` is ``writer_style(seed + i, k)``, the sample drawn as
    ``make_dataset`` draws it; the images go through a PNG file and ``load_image_folder``, as
    any image a user brings.
    """
    jobs = [("factor", name, habit, range(data.NUM_CLASSES), per_rune) for name, habit in FACTORS.items()]
    for rune, forms in enumerate(FORMS):
        if len(forms) > 1:
            for form, (name, _) in enumerate(forms):
                def habit(style, rune=rune, form=form):
                    return dataclasses.replace(
                        style, forms=style.forms[:rune] + (form,) + style.forms[rune + 1:])
                jobs.append(("form", f"{data.RUNES[rune]} {data.RUNE_NAMES[rune]}: {name}", habit, [rune], per_form))
    sets = []
    for i, (group, name, habit, runes, writers) in enumerate(jobs):
        with tempfile.TemporaryDirectory() as folder:
            for k in range(writers):
                style = habit(generator.writer_style(seed + i, k))
                for index in runes:
                    image = generator.draw_rune(index, np.random.default_rng((seed + i, 1, k, index)), style)
                    Image.fromarray(image).save(Path(folder) / f"{data.RUNES[index]}_{k + 1:02d}.png")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a form's set holds one rune only
                x, y, _ = data.load_image_folder(folder)
        sets.append((group, name, x, y))
    return sets


def stress_markdown(results):
    """The stress results as the Markdown block of data/README.md: one table row per set, the
    real drawings (when they were read) first."""
    engine = results["engine"] + (f" ({results['backend']} backend)" if results["backend"] else "")
    runs = results["runs"]
    seeds = ", ".join(str(run["seed"]) for run in runs)
    lines = [f"Measured with {engine}, the tutorial's recipe ({results['epochs']} epochs, batch size "
             f"{results['batch_size']}, {results['train_images']} training images), training seeds {seeds}; "
             f"sets drawn with seeds {results['stress_seed']} and up:",
             "",
             "| set | images | accuracy (mean over seeds) | lowest seed | mistaken most for (per seed) |",
             "| --- | ---: | ---: | ---: | --- |"]

    def row(label, n, values, mistakes):
        lines.append(f"| {label} | {n} | {np.mean(values):.1%} | {min(values):.1%} | {mistakes} |")

    if "real_accuracy" in runs[0]:
        row("**real drawings** (Omniglot)", results["real_images"], [run["real_accuracy"] for run in runs],
            "by rune in the realism table")
    for name in results["groups"]:
        row(name, runs[0]["sets"][name]["n"], [run["sets"][name]["accuracy"] for run in runs],
            " ".join(run["sets"][name]["confused_with"] or "–" for run in runs))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.realism", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(data.default_data_dir()), help="training images (default: %(default)s)")
    parser.add_argument("--real", default=str(REAL_DIR), help="real drawings (default: %(default)s)")
    parser.add_argument("--engine", choices=("scratchconv", "keras"), default="scratchconv")
    parser.add_argument("--backend", choices=("numba", "numpy"), default=None,
                        help="scratchconv's kernels (default: its default, SCRATCHCONV_BACKEND or numba)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: 10, with --stress the tutorial's 5)")
    parser.add_argument("--stress", action="store_true",
                        help="also read the stress sets (extreme habits, every rune form); the real "
                             "drawings are then optional")
    parser.add_argument("--per-rune", type=int, default=10,
                        help="with --stress: writers per factor's set, each drawing every rune (default: %(default)s)")
    parser.add_argument("--per-form", type=int, default=PER_FORM,
                        help="with --stress: writers per rune form's set (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=str(RESULTS), help="JSON results (default: %(default)s)")
    parser.add_argument("--readme", default=None, metavar="PATH",
                        help="also write the figures into this README's realism block (data/README.md)")
    parser.add_argument("--combine", nargs="+", default=None, metavar="JSON",
                        help="measure nothing: combine the results of runs with other seeds")
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 5 if args.stress else 10
    if args.combine:
        results = combine([json.loads(Path(path).read_text(encoding="utf-8")) for path in args.combine])
    elif not args.stress and not Path(args.real).is_dir():
        parser.error(f"the real drawings are not at {args.real}: pass --real DIR")
    else:
        if not Path(args.real).is_dir():
            # Said at the start: a --stress run takes tens of minutes, and without this line its
            # table just comes out without the real drawings' row.
            print(f"note: no real drawings at {args.real}: reading the stress sets only (--real DIR "
                  "reads them too)", file=sys.stderr, flush=True)
        results = measure(args)
    if "summary" in results:
        print(report(results))
    if "groups" in results:
        print(stress_markdown(results))
    write_text(args.out, json.dumps(results, indent=1, ensure_ascii=False) + "\n", what="the results")
    if args.readme:
        for block, present in (("realism", "summary" in results), ("stress", "groups" in results)):
            if present:
                write_readme(results, args.readme, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
