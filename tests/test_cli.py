"""The `scratchconv` command, run in-process through `main(argv)` on a tiny generated data set.

The model is trained on 20x20 images (`--image-size 20`) to keep these tests quick; the tutorial's
50x50 run is exercised by the subprocess tests in test_cli_process.py.
"""
import json
import re
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from scratchconv import backend, cli, data
from scratchconv.data import loader

SIZE = "20"


@pytest.fixture(autouse=True)
def keep_backend():
    """`main` sets the backend for the process; put it back after each test."""
    name = backend.get_backend()
    yield
    backend.set_backend(name)


@pytest.fixture(scope="session")
def runes(tmp_path_factory):
    """Three generated images of each of the 24 runes."""
    folder = tmp_path_factory.mktemp("runes")
    data.make_dataset(folder, per_class=3, seed=5, overwrite=True)
    return folder


@pytest.fixture(scope="session")
def trained(runes, tmp_path_factory):
    """The output folder of one `train` run (2 epochs, no rotations) and what it printed."""
    out = tmp_path_factory.mktemp("run")
    status, printed = run_capturing(["train", "--data", str(runes), "--epochs", "2",
                                     "--no-augment", "--image-size", SIZE, "--out", str(out)])
    assert status == 0
    return out, printed


def run_capturing(argv):
    """(exit status, stdout) of `main(argv)`, without pytest's capsys (usable in fixtures)."""
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = cli.main(argv)
    return status, buffer.getvalue()


def error_line(capsys):
    """The single line that an error wrote to stderr (and nothing on stdout's error path)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("scratchconv: error: "), err
    return lines[0][len("scratchconv: error: "):]


# ---- train -----------------------------------------------------------------------------------

def test_train_writes_model_history_and_pictures(trained):
    out, _ = trained
    assert sorted(p.name for p in out.iterdir()) == ["confusion_matrix.png", "history.json",
                                                      "model.npz", "training_curves.png"]
    history = json.loads((out / "history.json").read_text())
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in history.values())


def test_train_prints_keras_progress_accuracy_report_and_rune_table(trained):
    _, printed = trained
    assert "Epoch 1/2" in printed and "Epoch 2/2" in printed and "Epoch 1/1" not in printed
    assert "Test set: accuracy" in printed
    assert "precision" in printed and "recall" in printed
    header = next(line for line in printed.splitlines() if line.startswith("true\\pred"))
    assert header.split()[1:] == list(data.RUNES)


def test_train_reports_the_accuracy_of_the_saved_model(trained):
    out, printed = trained
    history = json.loads((out / "history.json").read_text())
    line = next(line for line in printed.splitlines() if line.startswith("Test set: accuracy"))
    assert float(line.split()[3]) == pytest.approx(history["val_accuracy"][-1], abs=1e-4)


def test_train_is_deterministic_for_a_seed(runes, tmp_path):
    histories = []
    for name in ("a", "b"):
        run_capturing(["train", "--data", str(runes), "--epochs", "1", "--no-augment",
                       "--image-size", SIZE, "--out", str(tmp_path / name), "--seed", "3"])
        histories.append((tmp_path / name / "history.json").read_text())
    assert histories[0] == histories[1]


def test_train_with_rotations_trains_on_five_times_the_images(runes, tmp_path):
    _, printed = run_capturing(["train", "--data", str(runes), "--epochs", "1", "--image-size",
                                SIZE, "--out", str(tmp_path)])
    assert "72 images of 24 classes from" in printed and "360 with the rotations" in printed
    assert "241 to train on, 119 to test on" in printed


def test_train_defaults_to_a_timestamped_run_folder(runes, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_capturing(["train", "--data", str(runes), "--epochs", "1", "--no-augment",
                   "--image-size", SIZE])
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "model.npz").is_file()


def test_new_run_dir_does_not_reuse_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = cli.new_run_dir()
    assert first.is_dir()
    assert cli.new_run_dir() != first


def interrupt_in_epoch(monkeypatch, n):
    """Make Ctrl-C arrive as epoch n (from 1) of fit begins."""
    from scratchconv import training

    real_run = training._run

    def run(callbacks, hook, *args):
        if hook == "on_epoch_begin" and args[0] == n - 1:
            raise KeyboardInterrupt
        real_run(callbacks, hook, *args)

    monkeypatch.setattr(training, "_run", run)


def test_ctrl_c_keeps_the_last_completed_epoch_and_says_where(runes, tmp_path, monkeypatch,
                                                              capsys):
    interrupt_in_epoch(monkeypatch, 2)
    status = cli.main(["train", "--data", str(runes), "--epochs", "3", "--no-augment",
                       "--image-size", SIZE, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 130
    assert f"the model after epoch 1 of 3 is saved in {tmp_path / 'model.npz'}" in err
    assert len(json.loads((tmp_path / "history.json").read_text())["loss"]) == 1
    assert (tmp_path / "training_curves.png").is_file()


def test_ctrl_c_before_the_first_epoch_says_nothing_was_saved(runes, tmp_path, monkeypatch,
                                                              capsys):
    interrupt_in_epoch(monkeypatch, 1)
    status = cli.main(["train", "--data", str(runes), "--epochs", "3", "--no-augment",
                       "--image-size", SIZE, "--out", str(tmp_path)])
    assert status == 130
    assert "nothing was saved" in capsys.readouterr().err
    assert not (tmp_path / "model.npz").exists()


def test_train_prints_one_header_per_epoch_of_one_run(runes, tmp_path, capsys):
    assert cli.main(["train", "--data", str(runes), "--epochs", "2", "--no-augment",
                     "--image-size", SIZE, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1
    assert len(json.loads((tmp_path / "history.json").read_text())["loss"]) == 2


# ---- the shipped data ------------------------------------------------------------------------

def test_shipped_data_dir_finds_the_installed_copy(tmp_path, monkeypatch):
    installed = tmp_path / "share" / "scratchconv" / "runes"
    installed.mkdir(parents=True)
    Image.new("L", (50, 50)).save(installed / "ᚠ_1.png")
    monkeypatch.setattr(loader, "CHECKOUT_DATA_DIR", tmp_path / "no-checkout")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert cli.shipped_data_dir() == installed == data.default_data_dir()


def test_shipped_data_dir_missing_says_to_pass_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(loader, "CHECKOUT_DATA_DIR", tmp_path / "no-checkout")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr("site.getuserbase", lambda: str(tmp_path))
    assert cli.main(["train", "--epochs", "1"]) == 1
    message = error_line(capsys)
    assert message.startswith("the shipped rune images were not found")
    assert message.endswith("pass --data DIR")


# ---- evaluate, predict, visualize, summary, make-data ----------------------------------------

def test_evaluate_prints_accuracy_report_and_table_and_draws_the_matrix(trained, runes, tmp_path,
                                                                        capsys):
    out, _ = trained
    png = tmp_path / "cm.png"
    assert cli.main(["evaluate", str(out / "model.npz"), str(runes), "--out", str(png)]) == 0
    printed = capsys.readouterr().out
    assert f"{runes}: accuracy" in printed and "(" in printed and "of 72 images right" in printed
    assert "precision" in printed and "true\\pred" in printed
    with Image.open(png) as im:
        assert im.format == "PNG"


def test_predict_prints_the_top_three_runes_per_image(trained, runes, capsys):
    out, _ = trained
    images = [runes / "ᚠ_01.png", runes / "ᛟ_02.png"]
    assert cli.main(["predict", str(out / "model.npz"), *map(str, images)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(": ")[0] for line in lines] == [str(p) for p in images]
    for line in lines:
        guesses = line.split(": ", 1)[1].split(", ")
        assert len(guesses) == 3
        probs = [float(g.split()[2].rstrip("%")) for g in guesses]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 100.05
        assert all(g.split()[0] in data.RUNES for g in guesses)


def test_predict_matches_the_model_on_the_loaded_folder(trained, runes, capsys):
    from scratchconv import load_model

    out, _ = trained
    model = load_model(out / "model.npz")
    x, y, _ = data.load_image_folder(runes, image_size=int(SIZE))
    best = model.predict(x[:1], verbose=0)[0].argmax()
    cli.main(["predict", str(out / "model.npz"), str(runes / "ᚠ_01.png")])
    assert capsys.readouterr().out.split(": ", 1)[1].startswith(data.RUNES[best] + " ")


def test_visualize_draws_filters_and_feature_maps(trained, runes, tmp_path, capsys):
    out, _ = trained
    png = tmp_path / "maps.png"
    assert cli.main(["visualize", str(out / "model.npz"), str(runes / "ᚠ_01.png"),
                     "--out", str(png)]) == 0
    assert str(png) in capsys.readouterr().out
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 1000


def test_summary_prints_the_layers_and_parameter_count(trained, capsys):
    out, _ = trained
    assert cli.main(["summary", str(out / "model.npz")]) == 0
    printed = capsys.readouterr().out
    # Layer names depend on how many models this process made before (conv2d, conv2d_1, ...).
    assert "(Conv2D)" in printed and "(MaxPooling2D)" in printed and "Total params:" in printed


def test_make_data_writes_every_rune(tmp_path, capsys):
    assert cli.main(["make-data", "--out", str(tmp_path / "d"), "--per-class", "1",
                     "--seed", "2"]) == 0
    assert sorted(p.name.split("_")[0] for p in (tmp_path / "d").iterdir()) == sorted(data.RUNES)
    assert "wrote 1 image of each of the 24 runes" in capsys.readouterr().out


def test_make_data_by_default_draws_new_images_and_prints_the_seed(tmp_path, capsys):
    assert cli.main(["make-data", "--out", str(tmp_path / "d"), "--per-class", "1"]) == 0
    printed = capsys.readouterr().out
    seed = int(printed.split("(seed ")[1].split(";")[0])
    shipped = data.default_data_dir()
    assert (tmp_path / "d" / "ᚠ_01.png").read_bytes() != (shipped / "ᚠ_01.png").read_bytes()
    assert cli.main(["make-data", "--out", str(tmp_path / "again"), "--per-class", "1",
                     "--seed", str(seed)]) == 0
    assert (tmp_path / "d" / "ᚠ_01.png").read_bytes() == (tmp_path / "again" / "ᚠ_01.png").read_bytes()


def test_make_data_overwrite_allows_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    assert cli.main(["make-data", "--out", str(tmp_path), "--per-class", "1", "--overwrite"]) == 0
    assert len(list(tmp_path.glob("*.png"))) == 24


def test_backend_option_chooses_the_kernels(trained, runes):
    out, _ = trained
    assert cli.main(["predict", "--backend", "numpy", str(out / "model.npz"),
                     str(runes / "ᚠ_01.png")]) == 0
    assert backend.get_backend() == "numpy"


# ---- compare-keras ---------------------------------------------------------------------------

def test_compare_keras_without_tensorflow_says_how_to_install_it(monkeypatch, capsys):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    assert cli.main(["compare-keras"]) == 1
    assert error_line(capsys) == "compare-keras needs tensorflow: pip install -e '.[reference]'"


def test_compare_keras_outside_a_checkout_says_so(monkeypatch, capsys):
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name, *a: object())
    monkeypatch.setattr(cli, "repo_root", lambda: None)
    assert cli.main(["compare-keras"]) == 1
    assert "not in the installed package: run it from a checkout" in error_line(capsys)


def test_compare_keras_runs_the_reference_tutorial_with_its_arguments(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name, *a: object())
    monkeypatch.setattr(cli, "repo_root", lambda: tmp_path)
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, **kw: calls.append((cmd, kw)) or 7)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare-keras", "--epochs", "1"]) == 7
    (command, options), = calls
    (run,) = (tmp_path / "runs").iterdir()
    assert command == [sys.executable, "-m", "reference.tutorial", "--out",
                       str((run / "tutorial.json").resolve()), "--epochs", "1"]
    assert options["cwd"] == tmp_path


def test_compare_keras_out_is_the_folder_seen_from_where_it_was_given(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name, *a: object())
    monkeypatch.setattr(cli, "repo_root", lambda: tmp_path / "checkout")
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare-keras", "--out", "mine"]) == 0
    assert calls[0][3:5] == ["--out", str(tmp_path / "mine" / "tutorial.json")]
    (tmp_path / "mine" / "tutorial.json").write_text("{}")
    assert cli.main(["compare-keras", "--out", "mine"]) == 1
    assert "already holds tutorial.json: pass --overwrite" in error_line(capsys)


# ---- serve -----------------------------------------------------------------------------------
# The server itself is tested in test_serve_api.py and test_serve_browser.py.

def test_serve_without_the_web_extra_says_what_to_install(monkeypatch, capsys):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("starlette", "uvicorn") else real(name, *a))
    assert cli.main(["serve"]) == 1
    assert error_line(capsys) == ("serve needs starlette and uvicorn: pip install 'scratchconv[web]' "
                                  "(in a checkout: pip install -e '.[web]')")


def test_serve_serves_the_given_model_on_the_given_address(trained, monkeypatch):
    pytest.importorskip("uvicorn")
    from scratchconv.serve import server

    calls = []
    monkeypatch.setattr(server, "serve", lambda model, host, port: calls.append((model, host, port)))
    out, _ = trained
    assert cli.main(["serve", str(out / "model.npz"), "--host", "0.0.0.0", "--port", "0"]) == 0
    (model, host, port), = calls
    assert (model.input_shape, host, port) == ((20, 20, 3), "0.0.0.0", 0)


def test_serve_on_an_address_in_use_says_so(monkeypatch, capsys):
    pytest.importorskip("uvicorn")
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--port", str(port)]) == 1
    assert error_line(capsys).startswith(f"cannot listen on 127.0.0.1:{port}: ")


# ---- user errors: one line, exit status 1 ----------------------------------------------------

@pytest.fixture(scope="session")
def not_a_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "model.npz"
    path.write_text("not a model")
    return path


def test_missing_data_folder(capsys):
    assert cli.main(["train", "--data", "no/such/folder"]) == 1
    assert error_line(capsys) == "data folder no/such/folder does not exist"


def test_data_folder_without_runes(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no images here")
    assert cli.main(["train", "--data", str(tmp_path), "--image-size", SIZE]) == 1
    assert str(tmp_path) in error_line(capsys)


def test_empty_data_folder(trained, tmp_path, capsys):
    out, _ = trained
    assert cli.main(["evaluate", str(out / "model.npz"), str(tmp_path)]) == 1
    assert error_line(capsys) == f"{tmp_path} is empty: expected <class>_<n> images or one folder per class"


def test_data_path_that_is_a_file(trained, capsys):
    out, _ = trained
    model = str(out / "model.npz")
    assert cli.main(["evaluate", model, model]) == 1
    assert error_line(capsys) == f"data folder {model} is not a folder"


def test_image_size_too_small_for_the_tutorial_model(runes, capsys):
    assert cli.main(["train", "--data", str(runes), "--image-size", "5"]) == 1
    assert error_line(capsys).startswith("--image-size 5 is too small for the tutorial model: ")


def test_too_few_images_to_split(tmp_path, capsys):
    data.make_dataset(tmp_path, per_class=1, seed=1)
    assert cli.main(["train", "--data", str(tmp_path), "--no-augment", "--image-size", SIZE]) == 1
    assert error_line(capsys).startswith(f"cannot split the 24 images of {tmp_path} with "
                                         "--test-size 0.33: ")


def test_model_whose_inputs_the_loader_cannot_make(tmp_path, capsys):
    from scratchconv import Sequential, layers

    model = Sequential([layers.Flatten(input_shape=(20, 30, 3)), layers.Dense(24)])
    model.save(tmp_path / "wide.npz")
    Image.new("L", (30, 20)).save(tmp_path / "x.png")
    assert cli.main(["predict", str(tmp_path / "wide.npz"), str(tmp_path / "x.png")]) == 1
    assert error_line(capsys) == ("the model expects 20x30x3 inputs; scratchconv's image loader "
                                  "makes square grayscale (1 channel) or RGB (3 channel) images")


def test_missing_model_file(runes, capsys):
    assert cli.main(["evaluate", "no-model.npz", str(runes)]) == 1
    assert error_line(capsys) == "model file no-model.npz does not exist"


def test_unreadable_model_file(not_a_model, runes, capsys):
    assert cli.main(["evaluate", str(not_a_model), str(runes)]) == 1
    assert error_line(capsys).startswith(f"cannot load the model file {not_a_model}")


def test_model_path_that_is_a_folder(tmp_path, capsys):
    assert cli.main(["summary", str(tmp_path)]) == 1
    assert error_line(capsys) == f"model file {tmp_path} is a folder, not a file"


def test_missing_image(trained, capsys):
    out, _ = trained
    assert cli.main(["predict", str(out / "model.npz"), "no-image.png"]) == 1
    assert error_line(capsys) == "image no-image.png does not exist"


def test_image_that_is_not_an_image(trained, tmp_path, capsys):
    out, _ = trained
    fake = tmp_path / "photo.png"
    fake.write_text("this is text")
    assert cli.main(["visualize", str(out / "model.npz"), str(fake)]) == 1
    assert error_line(capsys) == f"{fake} is not a readable image"


def test_image_without_an_image_extension(trained, tmp_path, capsys):
    out, _ = trained
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    assert cli.main(["predict", str(out / "model.npz"), str(notes)]) == 1
    assert error_line(capsys).startswith(f"{notes} is not an image file (expected one of .png")


def test_make_data_into_a_non_empty_folder_names_the_flag(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    assert cli.main(["make-data", "--out", str(tmp_path)]) == 1
    assert error_line(capsys) == (f"--out {tmp_path} is not empty: choose an empty folder, or pass "
                                  "--overwrite to replace files of the same names")


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(cli.UserError, match="does not exist"):
        cli.main(["--debug", "summary", "no-model.npz"])
    with pytest.raises(cli.UserError, match="does not exist"):
        cli.main(["summary", "no-model.npz", "--debug"])


def test_a_warning_is_one_line_too(tmp_path, trained, capsys):
    out, _ = trained
    data.make_dataset(tmp_path / "new", per_class=1, seed=77)
    (tmp_path / "one").mkdir()
    shutil.copy(tmp_path / "new" / "ᚠ_01.png", tmp_path / "one" / "ᚠ_01.png")
    assert cli.main(["evaluate", str(out / "model.npz"), str(tmp_path / "one"), "--out",
                     str(tmp_path / "cm.png")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("scratchconv: warning: ")
    assert "has no images of 23 of the 24 runes" in err[0]


# ---- usage errors: argparse's message, exit status 2 -----------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["train", "--epochs", "0"], "argument --epochs: expected a whole number of at least 1, got '0'"),
    (["train", "--batch-size", "x"], "argument --batch-size: expected a whole number of at least 1"),
    (["train", "--test-size", "1.5"], "argument --test-size: expected a fraction between 0 and 1"),
    (["train", "--seed", "-1"], "argument --seed: expected a whole number of at least 0"),
    (["train", "--backend", "cuda"], "argument --backend: invalid choice: 'cuda'"),
    (["make-data"], "the following arguments are required: --out"),
    (["predict", "model.npz"], "the following arguments are required: IMAGE"),
    ([], "the following arguments are required: COMMAND"),
    (["summary", "model.npz", "--bogus"], "unrecognized arguments: --bogus"),
    (["serve", "--port", "65536"], "argument --port: expected a port number from 0 to 65535"),
])
def test_usage_errors_exit_with_2_and_say_what_is_wrong(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "gradcheck", "visualize",
                                     "make-data", "summary", "compare-keras", "serve"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: scratchconv {command}")


def test_history_values_are_finite_numbers(trained):
    out, _ = trained
    history = json.loads((out / "history.json").read_text())
    assert np.isfinite([v for values in history.values() for v in values]).all()


def test_interrupt_deferred_delivers_ctrl_c_after_the_block():
    import os
    import signal

    finished = []
    with pytest.raises(KeyboardInterrupt):
        with cli.interrupt_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_train_equals_the_readmes_fit_call(trained, runes):
    """The command saves each epoch through a fit callback; it must train exactly as the
    README's `model.fit(epochs=2)` does."""
    import scratchconv

    out, _ = trained
    scratchconv.set_seed(111)
    model = scratchconv.tutorial_model(input_shape=(int(SIZE), int(SIZE), 3))
    x, y, _ = data.load_image_folder(runes, image_size=int(SIZE))
    x_train, x_test, t_train, t_test = data.split(x, data.to_categorical(y, 24))
    history = model.fit(x_train, t_train, epochs=2, batch_size=32,
                        validation_data=(x_test, t_test), verbose=0).history
    assert history == json.loads((out / "history.json").read_text())
    saved = scratchconv.load_model(out / "model.npz").get_weights()
    for ours, theirs in zip(model.get_weights(), saved):
        np.testing.assert_array_equal(ours, theirs)


def test_visualize_titles_the_picture_with_the_best_guess(trained, runes, tmp_path, monkeypatch):
    from scratchconv import plots

    titles = []
    real = plots.network_figure
    monkeypatch.setattr(plots, "network_figure",
                        lambda *a, title=None: titles.append(title) or real(*a, title=title))
    out, _ = trained
    cli.main(["visualize", str(out / "model.npz"), str(runes / "ᚠ_01.png"),
              "--out", str(tmp_path / "v.png")])
    (title,) = titles
    image = str(runes / "ᚠ_01.png")
    assert title.startswith(f"{image if plots.runic_font() else image.replace('ᚠ', 'fehu')}: "
                            "the model's best guess is ")
    assert title.split("is ")[1].split()[0] in data.RUNE_NAMES


# ---- gradcheck -------------------------------------------------------------------------------

def test_gradcheck_of_a_saved_model_prints_the_table_and_pass(trained, capsys):
    out, _ = trained
    assert cli.main(["gradcheck", str(out / "model.npz"), "--max-entries", "2"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:2] == ["tensor", "shape"] and "max rel error" in printed[0]
    kernels = [line for line in printed if re.match(r"\S+: \S+\.kernel ", line)]
    assert len(kernels) == 4 and all(line.endswith("pass") for line in kernels)
    assert printed[-1] == "PASS"


def test_gradcheck_without_a_model_runs_the_layer_suite(monkeypatch, capsys):
    import importlib
    import itertools

    module = importlib.import_module("scratchconv.gradcheck")
    real = module.default_suite
    # The whole suite takes minutes; its first two tensors show the command runs it.
    monkeypatch.setattr(module, "default_suite",
                        lambda eps, seed: itertools.islice(real(eps, seed), 2))
    assert cli.main(["gradcheck"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len([line for line in printed if line.endswith(" pass")]) == 2
    assert printed[-1] == "PASS"


def test_gradcheck_failure_names_the_tensors_and_exits_1(monkeypatch, capsys):
    import importlib

    module = importlib.import_module("scratchconv.gradcheck")
    bad = module.GradcheckResult("Conv2D: kernel", (3, 3, 1, 1), 9, 0, 0.5)
    good = module.GradcheckResult("Conv2D: bias", (1,), 1, 0, 1e-9)
    monkeypatch.setattr("scratchconv.gradcheck",
                        lambda *a, **k: module.GradcheckReport([good, bad]))
    assert cli.main(["gradcheck"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "FAIL: Conv2D: kernel"


def test_gradcheck_max_entries_needs_a_model(capsys):
    assert cli.main(["gradcheck", "--max-entries", "3"]) == 1
    assert error_line(capsys).startswith("--max-entries applies to a given MODEL")


# ---- your own images: any classes -------------------------------------------------------------

@pytest.fixture(scope="session")
def shapes(tmp_path_factory):
    from shapes import make_shapes
    return make_shapes(tmp_path_factory.mktemp("shapes"), per_class=40, seed=0)


@pytest.fixture(scope="session")
def trained_on_shapes(shapes, tmp_path_factory):
    out = tmp_path_factory.mktemp("shapes-run")
    status, printed = run_capturing(["train", "--data", str(shapes), "--epochs", "10",
                                     "--image-size", "24", "--out", str(out)])
    assert status == 0
    return out, printed


def test_train_on_shapes_has_one_output_per_class_and_reports_them(trained_on_shapes, shapes):
    from scratchconv import load_model
    out, printed = trained_on_shapes
    assert "120 images of 3 classes from" in printed
    header = next(line for line in printed.splitlines() if line.startswith("true\\pred"))
    assert header.split()[1:] == ["circle", "square", "triangle"]
    model = load_model(out / "model.npz")
    assert model.output_shape == (3,) and model.class_names == ["circle", "square", "triangle"]
    assert model.preprocessing == data.preprocessing(24, "rgb")
    files, _, _ = data.labelled_files(shapes)
    assert model.training_files == data.fingerprints(files) and len(files) == 120


def test_predict_prints_the_class_names_of_the_model_file(trained_on_shapes, tmp_path, capsys):
    import numpy as np
    from shapes import SHAPES, draw_shape
    out, _ = trained_on_shapes
    rng = np.random.default_rng(99)
    new = []
    for shape in SHAPES:
        draw_shape(shape, rng).save(tmp_path / f"new-{shape}.png")
        new.append(tmp_path / f"new-{shape}.png")
    assert cli.main(["predict", str(out / "model.npz"), *map(str, new)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    for shape, line in zip(SHAPES, lines):
        guesses = line.split(": ", 1)[1].split(", ")
        assert [g.split()[0] for g in guesses] and all(g.split()[0] in SHAPES for g in guesses)
        assert guesses[0].split()[0] == shape, line


def test_evaluate_warns_about_the_images_the_model_was_trained_from(trained_on_shapes, shapes,
                                                                   tmp_path, capsys):
    from scratchconv import load_model
    out, _ = trained_on_shapes
    assert cli.main(["evaluate", str(out / "model.npz"), str(shapes), "--out",
                     str(tmp_path / "cm.png")]) == 0
    captured = capsys.readouterr()
    distinct = len(load_model(out / "model.npz").training_files)
    assert ("120 of the 120 images in " f"{shapes} are among the {distinct} images the model was "
            "trained from") in captured.err
    assert "of 120 images right" in captured.out


def test_evaluate_on_new_images_does_not_warn(trained_on_shapes, tmp_path, capsys):
    from shapes import make_shapes
    out, _ = trained_on_shapes
    fresh = make_shapes(tmp_path / "fresh", per_class=3, seed=7)
    assert cli.main(["evaluate", str(out / "model.npz"), str(fresh), "--out",
                     str(tmp_path / "cm.png")]) == 0
    assert "trained from" not in capsys.readouterr().err


def test_visualize_names_the_guess_by_class_name(trained_on_shapes, shapes, tmp_path, capsys):
    out, _ = trained_on_shapes
    assert cli.main(["visualize", str(out / "model.npz"), str(shapes / "circle" / "1.png"),
                     "--out", str(tmp_path / "maps.png")]) == 0


def test_a_folder_of_one_class_cannot_train(tmp_path, capsys):
    from shapes import make_shapes
    make_shapes(tmp_path, per_class=2)
    for other in ("square", "triangle"):
        shutil.rmtree(tmp_path / other)
    assert cli.main(["train", "--data", str(tmp_path), "--image-size", SIZE]) == 1
    assert error_line(capsys) == (f"{tmp_path} holds one class ('circle'); a classifier needs at "
                                  "least two: one folder per class, or files named <class>_<n>.png")


def test_train_help_describes_both_layouts(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "one subfolder per class" in text and "<class>_<n>.png" in text


def test_predict_reads_a_keras_file_with_its_class_names(trained_on_shapes, shapes, tmp_path, capsys):
    from scratchconv import load_model
    out, _ = trained_on_shapes
    load_model(out / "model.npz").save(tmp_path / "model.keras")
    assert cli.main(["predict", str(tmp_path / "model.keras"), str(shapes / "square" / "1.png")]) == 0
    guesses = capsys.readouterr().out.split(": ", 1)[1].split(", ")
    assert sorted(g.split()[0] for g in guesses) == ["circle", "square", "triangle"]
