"""The walkthrough's figures hold: both `scratchconv train` commands of README.md's tutorial
section are rerun, and each final test accuracy must lie within the bound the README states of
the bold figure in its table.

The README is the one place the figures live: this test reads them (and the bound) from it, so
re-measuring the walkthrough (new data, a new engine) means updating the README alone. On an idle
2-core machine the two runs take about 6 s and 21 s.
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


def stated_figures():
    """((command, final test accuracy) for the two runs, bound) as the README states them."""
    commands = re.findall(r"^(scratchconv train [^#\n]*?)\s*(?:#.*)?$", SECTION, re.M)
    last_row = next(line for line in SECTION.splitlines() if line.startswith("| 5 |"))
    accuracies = [float(a) for a in re.findall(r"\*\*(\d\.\d+)\*\*", last_row)]
    bound = float(re.search(r"more than ±(\d\.\d+) from the bold figures", SECTION).group(1))
    assert len(commands) == len(accuracies) == 2, (commands, accuracies)
    return list(zip(commands, accuracies)), bound


@pytest.mark.parametrize("run", [0, 1], ids=["images alone", "with rotations"])
def test_the_walkthrough_accuracy_is_within_the_stated_bound(run, tmp_path, monkeypatch):
    (command, stated), bound = stated_figures()[0][run], stated_figures()[1]
    monkeypatch.chdir(tmp_path)
    assert cli.main(shlex.split(command)[1:]) == 0, command
    out = Path(shlex.split(command)[shlex.split(command).index("--out") + 1])
    measured = json.loads((out / "history.json").read_text())["val_accuracy"][-1]
    assert abs(measured - stated) <= bound, (
        f"`{command}` now gives a test accuracy of {measured:.4f}; README.md states {stated:.4f} "
        f"± {bound}: re-measure the walkthrough and update its figures")
