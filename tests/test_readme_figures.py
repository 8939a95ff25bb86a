"""The walkthrough's figures hold: README.md's tutorial commands are rerun, and each test
accuracy must lie within the bound the README states of the figure in its table: the first
command (the images alone) in full, its epoch 5; the second (with the rotations, five times the
images) shortened to its first epoch, which trains exactly as the first of the five.

The README is the one place the figures live: this test reads them, and the bound, from it, so
re-measuring the walkthrough (new data, a new engine) means updating the README alone.
"""
import json
import re
import shlex
from pathlib import Path

import pytest

from scratchconv import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## The tutorial, step by step", 1)[1].split("\n## ", 1)[0]

# (index of the command in the section, epochs to run (None: as written), table row, column of
# that run's test accuracy in the table)
RUNS = {"images alone": (0, None, 5, 3), "with rotations, first epoch": (1, 1, 1, 6)}


def table_row(epoch):
    """The cells of the walkthrough table's row for ``epoch``."""
    line = next(line for line in SECTION.splitlines() if line.startswith(f"| {epoch} |"))
    return [cell.strip().strip("*") for cell in line.strip("|").split("|")]


def stated(run):
    """(command, stated test accuracy, bound) of one run, as the README states them."""
    index, epochs, row, column = RUNS[run]
    commands = re.findall(r"^(scratchconv train [^#\n]*?)\s*(?:#.*)?$", SECTION, re.M)
    assert len(commands) == 2, commands
    command = commands[index] + (f" --epochs {epochs}" if epochs else "")
    bound = float(re.search(r"more than ±(\d\.\d+) from the table's", SECTION).group(1))
    return command, float(table_row(row)[column]), bound


@pytest.mark.parametrize("run", list(RUNS))
def test_the_walkthrough_accuracy_is_within_the_stated_bound(run, tmp_path, monkeypatch):
    command, figure, bound = stated(run)
    monkeypatch.chdir(tmp_path)
    assert cli.main(shlex.split(command)[1:]) == 0, command
    argv = shlex.split(command)
    measured = json.loads((Path(argv[argv.index("--out") + 1]) / "history.json").read_text())["val_accuracy"][-1]
    assert abs(measured - figure) <= bound, (
        f"`{command}` now gives a test accuracy of {measured:.4f}; README.md states {figure:.4f} "
        f"± {bound}: re-measure the walkthrough and update its figures")
