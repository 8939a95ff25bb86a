"""The `scratchconv` command as a user runs it, in a separate process: the console script is
installed, an error reaches the user as one line with no traceback, and Ctrl-C (a real SIGINT)
during training keeps the last completed epoch."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scratchconv import data, load_model

SCRIPT = Path(sys.executable).with_name("scratchconv")


def run(*argv, **kwargs):
    return subprocess.run([sys.executable, "-m", "scratchconv.cli", *argv], capture_output=True,
                          text=True, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def runes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runes")
    data.make_dataset(folder, per_class=3, seed=8, overwrite=True)
    return folder


def test_console_script_is_installed_and_answers_help():
    result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: scratchconv")


def test_a_user_error_is_one_line_without_traceback(tmp_path):
    result = run("predict", str(tmp_path / "missing.npz"), "rune.png")
    assert result.returncode == 1
    assert result.stderr == f"scratchconv: error: model file {tmp_path / 'missing.npz'} does not exist\n"


def test_sigint_during_training_saves_the_last_completed_epoch(runes, tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "scratchconv.cli", "train", "--data", str(runes), "--epochs", "500",
         "--no-augment", "--image-size", "20", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (out / "history.json").exists() and time.monotonic() < deadline \
            and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert f"is saved in {out / 'model.npz'}" in err
    epochs = int(err.split("the model after epoch ")[1].split()[0])
    assert epochs >= 1
    assert len(json.loads((out / "history.json").read_text())["loss"]) == epochs
    assert load_model(out / "model.npz").count_params() > 0
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]
