"""The tutorial, side by side: tf.keras and scratchconv trained from the same initial weights.

    python -m reference.tutorial [--out reference/results/tutorial.json] [--epochs 5] [--data DIR]
                                 [--dtype float32|float64] [--variants original rotated] [--seed 0]

The recipe is the tf.keras tutorial's: 50x50 RGB rune images, the 0.33 test
split with random_state=111 (``scratchconv.data.split``, stratified by class as
``scratchconv train`` splits), batch 32, Adam, categorical cross-entropy; run twice, first on
the images alone, then with their rotated copies (±10°, ±20°, nearest fill) added before the
split, as the tutorial does.

To make the two runs comparable step by step, both frameworks start from the same weights
(scratchconv's seeded initialisation, copied into the keras model) and see the same batches:
each epoch's shuffle is drawn once, from a seeded NumPy generator, and both are fed the shuffled
arrays with ``shuffle=False``. Differences in the table therefore come only from floating-point
arithmetic (sums in a different order), not from different draws.

It prints each epoch's training loss and accuracy for both frameworks (and the relative
difference of the two losses), then the test loss and accuracy of both and both confusion
matrices, and writes everything to a JSON file. ``--dtype float64`` runs both frameworks in
float64, which shows how much of the float32 difference is rounding (Adam amplifies it: see
docs/agreement.md).
"""
import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np

import scratchconv
from scratchconv import data as sc_data
from scratchconv import report
from scratchconv.atomic import write_text

from .twin import keras_floatx

VARIANTS = ("original", "rotated")
FRAMEWORK_NAMES = {"scratchconv": "scratchconv", "keras": "tf.keras"}
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "tutorial.json"


def keras_tutorial_model(input_shape=(50, 50, 3), num_classes=24):
    """The tutorial's model, written in tf.keras exactly as scratchconv.tutorial_model builds it, compiled.

    Conv2D(64, 3x3, relu) -> MaxPooling2D(2x2) -> Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2)
    -> Flatten -> Dense(128, relu) -> Dense(num_classes, softmax); 519,096 parameters on
    50x50x3 images with 24 classes.
    """
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Conv2D(64, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _epoch(model, x, y, batch_size):
    """One epoch of ``fit`` on arrays already in the epoch's order: (loss, accuracy, seconds)."""
    start = time.perf_counter()
    history = model.fit(x, y, epochs=1, batch_size=batch_size, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    return float(history.history["loss"][0]), float(history.history["accuracy"][0]), seconds


def _test_results(model, x_test, y_test, batch_size):
    """Test loss, accuracy, predicted classes and probabilities of a trained model."""
    probs = np.asarray(model.predict(x_test, batch_size=batch_size, verbose=0))
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0)
    return float(loss), float(accuracy), probs.argmax(axis=1), probs


def side_by_side(x_train, y_train, x_test, y_test, epochs=5, batch_size=32, seed=0, dtype="float32"):
    """Train the tutorial model in both frameworks from the same weights on the same batches.

    Parameters
    ----------
    x_train, x_test : ndarray of shape (n, 50, 50, 3), float32
    y_train, y_test : ndarray of shape (n, 24), one-hot
    epochs, batch_size : int
    seed : int
        Seeds scratchconv's initial weights and the per-epoch shuffles.
    dtype : "float32" (the tutorial's) or "float64"
        In float64 both frameworks compute in float64 end to end; their remaining differences
        are then float64 rounding, which shows how much of the float32 difference is rounding.

    Returns
    -------
    dict
        ``epochs``: one ``{"epoch", "scratchconv": {"loss", "accuracy", "seconds"}, "keras": ...}``
        per epoch; ``test``: per framework ``{"loss", "accuracy", "confusion_matrix"}``;
        ``max_abs_probability_difference`` on the test set and ``prediction_agreement``, the
        fraction of test images both frameworks put in the same class.
    """
    x_train, y_train, x_test, y_test = (a.astype(dtype) for a in (x_train, y_train, x_test, y_test))
    scratchconv.set_seed(seed)
    ours = scratchconv.tutorial_model(input_shape=x_train.shape[1:], num_classes=y_train.shape[1], dtype=dtype)
    # Keras layers and their compiled loss take the floatx in force when they are made, and
    # fit/predict/evaluate cast NumPy inputs to it: all of keras's side runs under ``dtype``.
    with keras_floatx(dtype):
        theirs = keras_tutorial_model(input_shape=x_train.shape[1:], num_classes=y_train.shape[1])
        theirs.set_weights(ours.get_weights())
        shuffles = np.random.default_rng(seed)
        epochs_log = []
        for epoch in range(1, epochs + 1):
            order = shuffles.permutation(len(x_train))
            x_epoch, y_epoch = x_train[order], y_train[order]
            row = {"epoch": epoch}
            for name, model in (("scratchconv", ours), ("keras", theirs)):
                loss, accuracy, seconds = _epoch(model, x_epoch, y_epoch, batch_size)
                row[name] = {"loss": loss, "accuracy": accuracy, "seconds": seconds}
            epochs_log.append(row)
            print(_epoch_line(row), flush=True)
        test, probs = {}, {}
        for name, model in (("scratchconv", ours), ("keras", theirs)):
            loss, accuracy, predicted, probs[name] = _test_results(model, x_test, y_test, batch_size)
            cm = report.confusion_matrix(y_test.argmax(axis=1), predicted, y_test.shape[1])
            test[name] = {"loss": loss, "accuracy": accuracy, "confusion_matrix": cm.tolist()}
    return {
        "epochs": epochs_log,
        "test": test,
        "max_abs_probability_difference": float(np.abs(probs["scratchconv"] - probs["keras"]).max()),
        "prediction_agreement": float(np.mean(probs["scratchconv"].argmax(1) == probs["keras"].argmax(1))),
    }


def _epoch_line(row):
    ours, theirs = row["scratchconv"], row["keras"]
    return (f"{row['epoch']:>5}  {ours['loss']:>9.4f} {ours['accuracy']:>9.4f} {ours['seconds']:>7.1f}s"
            f"   {theirs['loss']:>9.4f} {theirs['accuracy']:>9.4f} {theirs['seconds']:>7.1f}s"
            f"   {abs(ours['loss'] - theirs['loss']) / abs(theirs['loss']):>13.2e}")


def _print_variant_header(name, n_train, n_test):
    print(f"\n== {name}: {n_train} training images, {n_test} test images ==")
    print(f"{'':>5}  {'scratchconv':^29}   {'tf.keras':^29}")
    print(f"{'epoch':>5}  {'loss':>9} {'accuracy':>9} {'time':>8}   {'loss':>9} {'accuracy':>9} {'time':>8}"
          f"   {'loss rel.diff':>13}")


def _print_test(result):
    for name in ("scratchconv", "keras"):
        t = result["test"][name]
        print(f"test {name:<12} loss {t['loss']:.4f}  accuracy {t['accuracy']:.4f}")
    print(f"test probabilities: max |scratchconv - keras| = {result['max_abs_probability_difference']:.3g}; "
          f"same predicted class for {100 * result['prediction_agreement']:.1f}% of test images")
    for name in ("scratchconv", "keras"):
        print(f"\nconfusion matrix, {name}:")
        print(report.confusion_table(result["test"][name]["confusion_matrix"], sc_data.RUNES))


def markdown(results):
    """The side-by-side results as Markdown tables (per variant: the epochs, then the test
    results), as docs/agreement.md shows them."""
    lines = []
    for name, variant in results["variants"].items():
        lines += [f"**{name}** ({variant['train_images']} training, {variant['test_images']} test images, "
                  f"{results['dtype']})", "",
                  "| epoch | scratchconv loss | tf.keras loss | loss rel. diff | scratchconv accuracy "
                  "| tf.keras accuracy |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in variant["epochs"]:
            ours, theirs = row["scratchconv"], row["keras"]
            lines.append(f"| {row['epoch']} | {ours['loss']:.4f} | {theirs['loss']:.4f} | "
                         f"{abs(ours['loss'] - theirs['loss']) / abs(theirs['loss']):.1e} | "
                         f"{ours['accuracy']:.4f} | {theirs['accuracy']:.4f} |")
        ours, theirs = variant["test"]["scratchconv"], variant["test"]["keras"]
        lines += [f"| test | {ours['loss']:.4f} | {theirs['loss']:.4f} | "
                  f"{abs(ours['loss'] - theirs['loss']) / abs(theirs['loss']):.1e} | "
                  f"{ours['accuracy']:.4f} | {theirs['accuracy']:.4f} |", "",
                  f"Test set: the two frameworks predict the same class for "
                  f"{100 * variant['prediction_agreement']:.1f}% of the images; largest difference "
                  f"of a probability {variant['max_abs_probability_difference']:.2g}.", ""]
        for framework in ("scratchconv", "keras"):
            table = report.confusion_table(variant["test"][framework]["confusion_matrix"], sc_data.RUNES)
            lines += [f"<details><summary>confusion matrix, {name}, {FRAMEWORK_NAMES[framework]} "
                      f"(rows: true rune, columns: predicted)</summary>", "", "```", table, "```", "",
                      "</details>", ""]
    return "\n".join(lines)


def _write_json(path, payload):
    """Write ``payload`` to ``path`` atomically, so an existing results file is never left
    half-written (its folder created if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n", what="the results")


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m reference.tutorial",
        description="Train the tutorial model in scratchconv and tf.keras side by side, from the same "
                    "initial weights on the same batches, without and then with the rotated copies.")
    parser.add_argument("--data", default=str(sc_data.default_data_dir()),
                        help="folder of rune images (default: data/runes)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON file for the results "
                        "(default: reference/results/tutorial.json)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="initial weights and per-epoch shuffles")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="without the rotated copies (original), with them (rotated), or both (default)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="float32 is the tutorial's; float64 shows what is left without float32 rounding")
    args = parser.parse_args(argv)
    for what in ("epochs", "batch_size"):
        if getattr(args, what) < 1:
            parser.error(f"--{what.replace('_', '-')} must be at least 1, got {getattr(args, what)}")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    if not Path(args.data).is_dir():
        parser.error(f"--data {args.data} is not a folder of rune images (make it with: scratchconv make-data)")
    return args


def main(argv=None):
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    x, labels, _ = sc_data.load_image_folder(args.data)
    y = sc_data.to_categorical(labels, sc_data.NUM_CLASSES)
    variants = {name: (x, y) if name == "original" else sc_data.augment_rotations(x, y)
                for name in VARIANTS if name in args.variants}
    results = {
        "command": "python -m reference.tutorial " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": str(args.data), "images": len(x), "epochs": args.epochs, "batch_size": args.batch_size,
        "seed": args.seed, "dtype": args.dtype, "backend": scratchconv.get_backend(), "git_commit": _git_commit(),
        "versions": {"scratchconv": scratchconv.__version__, "keras": keras.__version__,
                     "tensorflow": _tensorflow_version(), "numpy": np.__version__,
                     "python": platform.python_version()},
        "variants": {},
    }
    for name, (xv, yv) in variants.items():
        x_train, x_test, y_train, y_test = sc_data.split(xv, yv)
        _print_variant_header(name, len(x_train), len(x_test))
        result = side_by_side(x_train, y_train, x_test, y_test, args.epochs, args.batch_size, args.seed,
                              args.dtype)
        _print_test(result)
        results["variants"][name] = {"train_images": len(x_train), "test_images": len(x_test), **result}
    _write_json(args.out, results)
    print("\n" + markdown(results))
    print(f"wrote {args.out}")


def _git_commit():
    """The commit of the repository this runs from, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def _tensorflow_version():
    import tensorflow
    return tensorflow.__version__


if __name__ == "__main__":
    main()
