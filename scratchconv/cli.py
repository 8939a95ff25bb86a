"""The ``scratchconv`` command.

    scratchconv train [--data DIR] [--epochs 5] [--batch-size 32] [--augment/--no-augment]
                      [--test-size 0.33] [--seed 111] [--out DIR [--overwrite]] [--backend numba|numpy]
                      [--image-size 50]
    scratchconv evaluate MODEL DIR [--out PNG] [--overwrite]
    scratchconv predict MODEL IMAGE...
    scratchconv gradcheck [MODEL] [--max-entries N|all] [--seed S]
    scratchconv visualize MODEL IMAGE [--out PNG] [--overwrite]
    scratchconv make-data --out DIR [--per-class N] [--seed S] [--overwrite]
    scratchconv summary MODEL
    scratchconv compare-keras [--out DIR] [--overwrite] [ARGS...]
    scratchconv serve [MODEL] [--host 127.0.0.1] [--port 8000]

A mistake in what the user asked for (a missing path, a file that is not a model or not an image,
a folder without images) is printed as one line, ``scratchconv: error: <what and where>``, with exit
status 1; ``--debug`` shows the traceback instead. Usage errors exit with 2, as argparse does.
"""
import argparse
import contextlib
import datetime
import importlib.util
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

from scratchconv.atomic import write_text
from scratchconv.backend import BACKENDS, get_backend, set_backend

PROG = "scratchconv"
MODEL_FILE = "model.npz"
INTERRUPTED = 130  # the shell's exit status for a process stopped by Ctrl-C (128 + SIGINT)


class UserError(Exception):
    """A mistake in the user's request; reported as one line, without a traceback."""


# Exceptions that mean "the input was wrong", not "scratchconv has a bug". The engine and the data
# package raise ValueError (bad shapes, bad values) and OSError (missing or unreadable files, and
# PIL's UnidentifiedImageError for a file that is not an image).
USER_ERRORS = (UserError, ValueError, OSError)


# ---------------------------------------------------------------------------------------------
# Argument types: each rejects a bad value with one sentence, which argparse turns into a usage
# error (exit status 2).

def bounded(convert, accept, expected):
    """An argparse type: ``convert`` the text, then keep it if ``accept(value)``, else say what
    was ``expected``."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


positive_int = bounded(int, lambda v: v >= 1, "a whole number of at least 1")
non_negative_int = bounded(int, lambda v: v >= 0, "a whole number of at least 0")
port_number = bounded(int, lambda v: 0 <= v <= 65535, "a port number from 0 to 65535")
fraction = bounded(float, lambda v: 0 < v < 1, "a fraction between 0 and 1")
entries_or_all = bounded(lambda text: "all" if text == "all" else int(text),
                         lambda v: v == "all" or v >= 1, "a whole number of at least 1, or all")


# ---------------------------------------------------------------------------------------------
# Paths, files and the shipped data.

def existing_file(path, what):
    """``path`` as a Path, or a UserError saying that the ``what`` is missing."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{what} {path} does not exist")
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder, not a file")
    return path


def existing_dir(path, what):
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{what} {path} is not a folder" if path.exists()
                        else f"{what} {path} does not exist")
    return path


def shipped_data_dir():
    """The folder of rune images that comes with scratchconv (``data.default_data_dir``)."""
    from scratchconv import data

    try:
        return data.default_data_dir()
    except FileNotFoundError as err:
        raise UserError(f"{err}; pass --data DIR") from err


def new_run_dir():
    """A new, empty ``runs/<timestamp>/``, created here; a second run in the same second gets a
    ``-2``, ``-3``... suffix. ``mkdir`` without ``exist_ok`` claims the name, so two runs started
    together never share a folder."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    Path("runs").mkdir(exist_ok=True)
    for n in itertools.count(1):
        path = Path("runs") / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def inside(path, folder):
    """Whether ``path`` is ``folder`` or lies inside it (symlinks resolved)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def check_out_folder(out, data_folder, overwrite):
    """Refuse a train --out that would mix with the data or replace a previous run's files."""
    if inside(out, data_folder):
        raise UserError(f"--out {out} is inside the data folder {data_folder}, where the next "
                        "train would read the run's pictures as images: choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UserError(f"--out {out} already holds files (a previous run?): pass --overwrite to "
                        "replace them, or choose another folder")


def check_picture_out(out, overwrite, inputs, data_folder=None):
    """Refuse an --out picture that would replace one of the command's ``inputs`` (what, path)
    or something that is not a picture scratchconv drew (unless ``overwrite``), or that lies in
    the ``data_folder`` being read."""
    from scratchconv import plots

    if data_folder is not None and inside(out, data_folder):
        raise UserError(f"--out {out} is inside the data folder {data_folder}, where the next "
                        "train or evaluate would read it as an image: choose a file outside it")
    if not os.path.lexists(out):
        return
    for what, path in inputs:
        if Path(path).exists() and os.path.samefile(out, path):
            raise UserError(f"--out {out} is the {what} this command reads: choose another file")
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name ending in .png")
    if not overwrite and not plots.drawn_by_scratchconv(out):
        raise UserError(f"--out {out} exists and is not a picture scratchconv drew: pass "
                        "--overwrite to replace it, or choose another file name")


def read_model(path):
    """The model saved at ``path``. A damaged or foreign file raises the loader's
    ModelFileError (a ValueError), which names the file and the fault."""
    from scratchconv import load_model

    return load_model(existing_file(path, "model file"))


def one_line(err):
    """An exception's message on one line."""
    text = " ".join(str(err).split())
    return text or type(err).__name__


# ---------------------------------------------------------------------------------------------
# Data and results.

def class_labels(class_names):
    """(characters, names) to show for ``class_names``: for the runes their characters and
    names (``ᚠ``, ``fehu``), for any other classes their names twice."""
    from scratchconv import data

    if list(class_names) == list(data.RUNES):
        return list(data.RUNES), list(data.RUNE_NAMES)
    return list(class_names), list(class_names)


def long_label(class_names, i):
    """Class ``i`` as predict prints it: ``ᚠ fehu`` for a rune (``fehu`` where the output cannot
    show runes), else its name."""
    from scratchconv import report

    glyphs, names = class_labels(class_names)
    shown = report.printable_labels(glyphs, names, sys.stdout.encoding)
    return shown[i] if shown[i] == names[i] else f"{glyphs[i]} {names[i]}"


def model_preprocessing(model):
    """How ``model``'s images are prepared (its model file says; older files get the loader's
    defaults for their input shape), or a UserError when the loader cannot make its inputs."""
    if model.preprocessing is None:
        raise UserError(f"the model expects {'x'.join(map(str, model.input_shape))} inputs; "
                        "scratchconv's image loader makes square grayscale (1 channel) or RGB "
                        "(3 channel) images")
    return model.preprocessing


def load_folder(folder, preprocessing, class_names=None):
    """(x, y, class_names, files) of every image in ``folder``, prepared by ``preprocessing``:
    x of shape (n, size, size, c) in [0, 1], y the class indices, files all the image files
    found. The loader's errors (no such folder, no images, a label not among ``class_names``)
    name the folder or the file."""
    from scratchconv import data

    folder = existing_dir(folder, "data folder")
    files, _, _ = data.labelled_files(folder, class_names)
    x, y, class_names = data.load_image_folder(folder, class_names=class_names, **preprocessing)
    return x, y, class_names, files


def load_one_image(path, model):
    """One image file prepared exactly as the model's training images were (resized, scaled to
    [0, 1], polarity): an array of shape (1, h, w, c) for ``model``."""
    from scratchconv import data

    path = existing_file(path, "image")
    if path.suffix.lower() not in data.IMAGE_EXTENSIONS:
        raise UserError(f"{path} is not an image file (expected one of "
                        f"{' '.join(data.IMAGE_EXTENSIONS)})")
    try:
        return data.load_image(path, **model_preprocessing(model))[None]
    except ValueError as err:
        raise UserError(f"{path} is not a readable image") from err


def show_results(model, x, y, png_path, title):
    """Print accuracy, the per-class report and the confusion table, and draw the matrix to
    ``png_path``. ``y`` holds class indices of ``model.class_names``."""
    from scratchconv import plots, report

    glyphs, names = class_labels(model.class_names)
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == y))
    cm = report.confusion_matrix(y, predicted, len(glyphs))
    labels = report.printable_labels(glyphs, names, sys.stdout.encoding)
    print(f"\n{title}: accuracy {accuracy:.4f} ({int(np.sum(predicted == y))} of {len(y)} "
          "images right)\n")
    print(report.classification_report(y, predicted, labels))
    print("Confusion matrix (rows: true class, columns: predicted class)")
    print(report.confusion_table(cm, labels))
    plots.save_figure(plots.confusion_matrix_figure(
        cm, plots.axis_labels(glyphs, names), title=f"{title}: accuracy {accuracy:.3f}"),
        png_path)
    print(f"\nconfusion matrix picture: {png_path}")


# ---------------------------------------------------------------------------------------------
# The commands. Each takes the parsed arguments and returns the exit status.

@contextlib.contextmanager
def interrupt_deferred():
    """Hold back Ctrl-C while the block runs, then deliver it as KeyboardInterrupt.

    Around the saving of an epoch, so that the model file and the history on disk always
    describe the same epoch. Python delivers signals to the main thread only; elsewhere (where
    Ctrl-C does not arrive anyway) the block just runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    # A Ctrl-C the process was told to ignore (SIG_IGN, as under nohup) stays ignored.
    if received and previous is not signal.SIG_IGN:
        raise KeyboardInterrupt


def save_each_epoch(model_path, history_path, history):
    """A fit callback that, after every epoch, appends the epoch's logs to ``history`` and
    writes the model and the history, both at once or (Ctrl-C held back) not at all."""
    from scratchconv.callbacks import Callback

    class SaveEachEpoch(Callback):
        def on_epoch_end(self, epoch, logs=None):
            with interrupt_deferred():
                for key, value in logs.items():
                    history.setdefault(key, []).append(value)
                self.model.save(model_path)
                write_text(history_path, json.dumps(history, indent=2) + "\n", what="the history")

    return SaveEachEpoch()


def cmd_train(args):
    import scratchconv
    from scratchconv import data, plots

    scratchconv.set_seed(args.seed)
    folder = existing_dir(args.data, "data folder") if args.data else shipped_data_dir()
    if args.out:
        check_out_folder(Path(args.out), folder, args.overwrite)
    try:
        preprocessing = data.preprocessing(args.image_size, "rgb")
    except ValueError as err:
        raise UserError(f"--image-size: {one_line(err)}") from err
    x, y, class_names, files = load_folder(folder, preprocessing)
    if len(class_names) < 2:
        raise UserError(f"{folder} holds one class ({class_names[0]!r}); a classifier needs at "
                        "least two: one folder per class, or files named <class>_<n>.png")
    try:
        model = scratchconv.tutorial_model(input_shape=(args.image_size, args.image_size, 3),
                                           num_classes=len(class_names))
    except ValueError as err:
        raise UserError(f"--image-size {args.image_size} is too small for the tutorial model: "
                        f"{one_line(err)}") from err
    model.class_names, model.preprocessing = class_names, preprocessing
    model.training_files = data.fingerprints(files)
    n_images = len(x)
    if args.augment:
        x, y = data.augment_rotations(x, y)
    try:
        x_train, x_test, t_train, t_test = data.split(
            x, data.to_categorical(y, len(class_names)), test_size=args.test_size,
            random_state=args.seed)
    except ValueError as err:
        # scikit-learn's stratified split needs every class in both parts.
        raise UserError(f"cannot split the {len(x)} images of {folder} with --test-size "
                        f"{args.test_size}: {one_line(err)}") from err
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
    else:
        out = new_run_dir()
    print(f"{n_images} images of {len(class_names)} classes from {folder}"
          + (f", {len(x)} with the rotations" if args.augment else "")
          + f": {len(x_train)} to train on, {len(x_test)} to test on "
          f"(backend {args.backend}, seed {args.seed})")

    model_path, history_path = out / MODEL_FILE, out / "history.json"
    history = {}
    try:
        # The model and the history are on disk after every completed epoch: Ctrl-C then loses
        # at most the epoch in progress.
        model.fit(x_train, t_train, epochs=args.epochs, batch_size=args.batch_size,
                  validation_data=(x_test, t_test), verbose=1,
                  callbacks=[save_each_epoch(model_path, history_path, history)])
    except KeyboardInterrupt:
        done = len(history.get("loss", []))
        if done == 0:
            print(f"\n{PROG}: interrupted before the first epoch finished; nothing was saved",
                  file=sys.stderr)
        else:
            plots.save_figure(plots.history_figure(history), out / "training_curves.png")
            print(f"\n{PROG}: interrupted; the model after epoch {done} of {args.epochs} is saved "
                  f"in {model_path} (history in {history_path})", file=sys.stderr)
        return INTERRUPTED

    curves = plots.save_figure(plots.history_figure(history), out / "training_curves.png")
    show_results(model, x_test, t_test.argmax(axis=1), out / "confusion_matrix.png", "Test set")
    print(f"model: {model_path}\nhistory: {history_path}\ntraining curves: {curves}")
    return 0


def cmd_evaluate(args):
    from scratchconv import data

    out = Path(args.out)
    check_picture_out(out, args.overwrite, [("model file", args.model)], data_folder=args.dir)
    model = read_model(args.model)
    x, y, _, files = load_folder(args.dir, model_preprocessing(model), model.class_names)
    if model.training_files:
        seen = data.seen_before(files, model.training_files)
        if seen:
            warnings.warn(f"{len(seen)} of the {len(files)} images in {args.dir} are among the "
                          f"{len(model.training_files)} images the model was trained from, so this "
                          "accuracy is not measured on new images")
    show_results(model, x, y, out, str(args.dir))
    return 0


def cmd_predict(args):
    from scratchconv import report

    model = read_model(args.model)
    images = np.concatenate([load_one_image(path, model) for path in args.images])
    for path, probs in zip(args.images, model.predict(images, verbose=0)):
        guesses = ", ".join(f"{long_label(model.class_names, i)} {p:.1%}"
                            for i, p in report.top_k(probs, 3))
        print(f"{path}: {guesses}")
    return 0


def cmd_gradcheck(args):
    import scratchconv

    from scratchconv.gradcheck import FULL_MODEL_ENTRIES

    if args.max_entries is not None and not args.model:
        raise UserError("--max-entries applies to a given MODEL; the full check chooses its own "
                        "entries")
    target = read_model(args.model) if args.model else None
    if args.max_entries is None:
        # A full-size model has hundreds of thousands of weights: a sample of each tensor by
        # default, so that the check ends in minutes.
        args.max_entries = FULL_MODEL_ENTRIES
    elif args.max_entries == "all":
        args.max_entries = None
    # The table is printed row by row as each tensor is checked (the full suite takes minutes).
    report = scratchconv.gradcheck(target, seed=args.seed, max_entries=args.max_entries)
    failed = [result.name for result in report if not result.passed]
    print("FAIL: " + ", ".join(failed) if failed else "PASS")
    return 1 if failed else 0


def cmd_visualize(args):
    from scratchconv import plots

    check_picture_out(Path(args.out), args.overwrite,
                      [("model file", args.model), ("image", args.image)])
    model = read_model(args.model)
    image = load_one_image(args.image, model)
    first_conv = next((layer for layer in model.layers if "kernel" in layer.params
                       and layer.params["kernel"].ndim == 4), None)
    if first_conv is None:
        raise UserError(f"the model {args.model} has no convolution layer to show filters of")
    activations, a = [], image
    for layer in model.layers:
        a = layer.forward(a)
        activations.append((layer.name, a[0]))
    from scratchconv import data

    glyphs, names = class_labels(model.class_names)
    best = int(np.argmax(a[0]))
    guess = names[best]
    shown = str(args.image)
    if plots.runic_font() is None:
        # File names like ᚠ_01.png: without a runic font, spell the runes out.
        for glyph, name in zip(data.RUNES, data.RUNE_NAMES):
            shown = shown.replace(glyph, name)
    title = f"{shown}: the model's best guess is {guess} ({a[0][best]:.1%})"
    fig = plots.network_figure(image[0], first_conv.params["kernel"], activations,
                               plots.axis_labels(glyphs, names), title=title)
    print(f"filters and feature maps: {plots.save_figure(fig, Path(args.out))}")
    return 0


def cmd_make_data(args):
    from scratchconv import data

    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise UserError(f"--out {out} is not empty: choose an empty folder, or pass --overwrite to "
                        "replace files of the same names")
    # A fresh seed unless one is given, so that the default never redraws the shipped images;
    # printed, so that the set can be drawn again.
    seed = secrets.randbelow(2**31 - 1) + 1 if args.seed is None else args.seed
    data.make_dataset(out, per_class=args.per_class, seed=seed, overwrite=args.overwrite)
    images = "image" if args.per_class == 1 else "images"
    print(f"wrote {args.per_class} {images} of each of the {len(data.RUNES)} runes to {out} "
          f"(seed {seed}; --seed {seed} draws them again)")
    return 0


def cmd_summary(args):
    read_model(args.model).summary()
    return 0


def repo_root():
    """The checkout this module runs from, or None when scratchconv is installed from a wheel."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "reference" / "tutorial.py").is_file() else None


def cmd_compare_keras(args):
    if importlib.util.find_spec("tensorflow") is None:
        raise UserError("compare-keras needs tensorflow: pip install -e '.[reference]'")
    root = repo_root()
    if root is None:
        raise UserError("compare-keras runs reference/tutorial.py, which lives in the scratchconv "
                        "repository, not in the installed package: run it from a checkout")
    if args.out:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UserError(f"--out {out} is a file, not a folder")
        out.mkdir(parents=True, exist_ok=True)
    else:
        out = new_run_dir()
    results = (out / "tutorial.json").resolve()
    if results.exists() and not args.overwrite:
        raise UserError(f"--out {out} already holds tutorial.json: pass --overwrite to replace it, "
                        "or choose another folder")
    # The reference runs from the checkout (it is not installed), so the results path is
    # absolute: --out means the folder as seen from where the command was given.
    command = [sys.executable, "-m", "reference.tutorial", "--out", str(results), *args.passed_on]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    print(f"results: {results}")
    return subprocess.call(command, cwd=root, env=env)


def cmd_serve(args):
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"serve needs {' and '.join(missing)}: pip install 'scratchconv[web]' "
                        "(in a checkout: pip install -e '.[web]')")
    from scratchconv import load_model
    from scratchconv.serve import server

    model = read_model(args.model) if args.model else load_model(server.DEFAULT_MODEL)
    server.serve(model, args.host, args.port)
    return 0


# ---------------------------------------------------------------------------------------------
# The parser.

def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG, description="A convolutional neural network engine written from scratch: "
        "train, inspect and check the rune classifier of the tf.keras tutorial, or one for your "
        "own images.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    # The same flag after the subcommand; SUPPRESS keeps it from resetting the value given before.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error instead of one line")
    # Commands that run the model choose the kernels.
    kernels = argparse.ArgumentParser(add_help=False)
    kernels.add_argument("--backend", choices=BACKENDS, default=get_backend(),
                         help="numba (fast) or numpy (readable) kernels (default: %(default)s; "
                         "$SCRATCHCONV_BACKEND sets it)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, func, help_text, runs_model=False):
        parents = [debug, kernels] if runs_model else [debug]
        sub = commands.add_parser(name, parents=parents, help=help_text, description=help_text)
        sub.set_defaults(func=func)
        return sub

    train = command("train", cmd_train, "Train the tutorial model on a folder of labelled images "
                    "(the shipped runes, or any classes of your own) and report its test accuracy, "
                    "per-class precision and recall, and confusions. The model gets one output "
                    "per class found; the model file keeps the class names.", runs_model=True)
    train.add_argument("--data", metavar="DIR",
                       help="folder of images in one of two layouts: one subfolder per class "
                       "(DIR/cat/1.png, DIR/dog/a.jpg; classes sorted by name), or files named "
                       "<class>_<n>.png directly in DIR (DIR/cat_1.png). Runes, by character or "
                       "name (ᚠ_3.png, fehu_3.png), keep the tutorial's order. Default: the runes "
                       "shipped with scratchconv")
    train.add_argument("--image-size", type=positive_int, default=50, metavar="PIXELS",
                       help="images are resized to PIXELS x PIXELS (default: %(default)s, the "
                       "tutorial's; at least 10 for the tutorial model's layers)")
    train.add_argument("--epochs", type=positive_int, default=5, help="default: %(default)s")
    train.add_argument("--batch-size", type=positive_int, default=32, help="default: %(default)s")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                       help="add the tutorial's rotated copies (+-10 and +-20 degrees) of every "
                       "image before splitting (default: on)")
    train.add_argument("--test-size", type=fraction, default=0.33,
                       help="fraction of the images held out for testing (default: %(default)s)")
    train.add_argument("--seed", type=non_negative_int, default=111,
                       help="seed of the weights, the shuffling and the split "
                       "(default: %(default)s)")
    train.add_argument("--out", metavar="DIR",
                       help="where to write the model, history and pictures "
                       "(default: a new runs/<timestamp>/); a folder that holds files is refused "
                       "without --overwrite")
    train.add_argument("--overwrite", action="store_true",
                       help="write into an --out folder that already holds files, replacing the "
                       "model, history and pictures of the run there")

    evaluate = command("evaluate", cmd_evaluate, "Accuracy, per-class report and confusion "
                       "matrix of a saved model on a folder of labelled images (warns when they "
                       "are images the model was trained from).", runs_model=True)
    evaluate.add_argument("model", metavar="MODEL", help="a model file written by train")
    evaluate.add_argument("dir", metavar="DIR", help="folder of images of the model's classes, "
                          "in either layout train reads")
    evaluate.add_argument("--out", metavar="PNG", default="confusion_matrix.png",
                          help="where to draw the confusion matrix (default: %(default)s); "
                          "replaces only a picture scratchconv drew, unless --overwrite")
    evaluate.add_argument("--overwrite", action="store_true",
                          help="let --out replace any file (never the model or the data)")

    predict = command("predict", cmd_predict, "The three most probable classes for each image, "
                      "by the names the model file keeps.",
                      runs_model=True)
    predict.add_argument("model", metavar="MODEL", help="a model file written by train")
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="image files")

    gradcheck = command("gradcheck", cmd_gradcheck, "Check every layer's gradients, and the "
                        "tutorial model's, against central finite differences in float64: a "
                        "table of max relative errors and a PASS/FAIL line (exit status 1 on "
                        "FAIL). Takes under a minute (12 s of processor time measured).", runs_model=True)
    gradcheck.add_argument("model", metavar="MODEL", nargs="?",
                           help="check this saved model instead (on a float64 copy, random "
                           "inputs and labels)")
    gradcheck.add_argument("--max-entries", type=entries_or_all, default=None, metavar="N|all",
                           help="with MODEL: check N random entries of each tensor, or all of "
                           "them (default: 20)")
    gradcheck.add_argument("--seed", type=non_negative_int, default=0,
                           help="seed of the inputs, labels and checked entries "
                           "(default: %(default)s)")

    visualize = command("visualize", cmd_visualize, "Draw the first layer's filters and every "
                        "layer's feature maps for one image.", runs_model=True)
    visualize.add_argument("model", metavar="MODEL", help="a model file written by train")
    visualize.add_argument("image", metavar="IMAGE", help="an image file")
    visualize.add_argument("--out", metavar="PNG", default="feature_maps.png",
                           help="default: %(default)s; replaces only a picture scratchconv drew, "
                           "unless --overwrite")
    visualize.add_argument("--overwrite", action="store_true",
                           help="let --out replace any file (never the model or the image)")

    make_data = command("make-data", cmd_make_data, "Draw a fresh set of handwritten-looking runes "
                        "with the generator.")
    make_data.add_argument("--out", metavar="DIR", required=True, help="folder to write into")
    make_data.add_argument("--per-class", type=positive_int, default=297, metavar="N",
                           help="images per rune, one per writer (default: %(default)s, as data/runes)")
    make_data.add_argument("--seed", type=non_negative_int, default=None, metavar="S",
                           help="the writers' seed (default: a new random one, printed; the "
                           "shipped data/runes were drawn with the seed data/README.md names)")
    make_data.add_argument("--overwrite", action="store_true",
                           help="write into a folder that is not empty, replacing files of the "
                           "same names")

    summary = command("summary", cmd_summary, "Print a saved model's layers, output shapes and "
                      "parameter counts.")
    summary.add_argument("model", metavar="MODEL", help="a model file written by train")

    compare = command("compare-keras", cmd_compare_keras, "Run the tutorial side by side in "
                      "scratchconv and tf.keras (reference/tutorial.py; needs tensorflow and a "
                      "checkout of the repository).")
    compare.usage = f"{PROG} compare-keras [-h] [--debug] [--out DIR] [--overwrite] [ARGS...]"
    compare.add_argument("--out", metavar="DIR", help="folder for the results, tutorial.json "
                         "(default: runs/<timestamp>/)")
    compare.add_argument("--overwrite", action="store_true",
                         help="replace a tutorial.json already in --out")
    compare.epilog = ("Any other arguments are passed on to python -m reference.tutorial "
                      "(see its --help there).")

    serve = command("serve", cmd_serve, "Serve a page on which you draw a rune and watch the "
                    "model think: its predictions, every layer's feature maps, and the "
                    "arithmetic of any pixel you click.", runs_model=True)
    serve.add_argument("model", metavar="MODEL", nargs="?",
                       help="a model file (default: a small model trained on the shipped runes "
                       "that comes with scratchconv)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: %(default)s, this machine only)")
    serve.add_argument("--port", type=port_number, default=8000,
                       help="default: %(default)s; 0 picks a free port")
    return parser


def show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (a skipped unreadable image, a rune with no images) as one line on stderr, like
    errors, rather than Python's file-and-line format."""
    print(f"{PROG}: warning: {one_line(message)}", file=sys.stderr)


def main(argv=None):
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    # An output that cannot show a character (an ASCII-only terminal, PYTHONIOENCODING=ascii)
    # gets an escape for it instead of a UnicodeEncodeError; runes are spelled out and the
    # progress bar drawn in ASCII where that is known beforehand.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    try:
        get_backend()  # a bad SCRATCHCONV_BACKEND is one line, before anything else
    except ValueError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    parser = build_parser()
    # compare-keras passes the arguments it does not know on to reference.tutorial; for every
    # other command they are a usage error, as with parse_args.
    args, passed_on = parser.parse_known_args(argv)
    if passed_on and args.command != "compare-keras":
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")
    args.passed_on = passed_on
    if "backend" in args:
        set_backend(args.backend)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            return args.func(args)
    except BrokenPipeError:
        # The reader went away (``scratchconv summary m.npz | head``): stop quietly, and point
        # stdout at /dev/null so Python's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except USER_ERRORS as err:
        if args.debug:
            raise
        print(f"{PROG}: error: {one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
