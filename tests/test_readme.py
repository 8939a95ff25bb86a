"""The README's fresh-machine commands (the test command is the one CI runs, the main command
trains with the `scratchconv` entry point, and there are exactly those two), and the commands of
its "Your own images" section, run as written. "From and to Keras" is run in
test_reference_keras_files.py (it needs a file tf.keras wrote), the walkthrough's figures in
test_readme_figures.py."""
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def block_after(marker):
    """The lines of the fenced code block that starts right after ``<!-- marker -->``."""
    match = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)```", README, re.S)
    assert match, f"README.md has no ```bash block right after <!-- {marker} -->"
    return match.group(1).splitlines()


def fresh_machine_section():
    return README.split("## On a fresh machine", 1)[1].split("\n## ", 1)[0]


def test_readme_test_command_is_what_ci_runs():
    # Run .ci/run's own extraction line, so a change on either side is caught.
    extract = next(line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                   if line.startswith("cmd="))
    ci_command = subprocess.run(["bash", "-c", f'{extract}; printf %s "$cmd"'], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
    assert block_after("test-command") == [ci_command]
    assert "pytest" in ci_command


def test_readme_main_command_installs_and_trains_with_the_entry_point():
    (command,) = block_after("main-command")
    assert "pip install" in command
    assert command.endswith("scratchconv train")


def test_readme_fresh_machine_section_holds_exactly_the_two_commands():
    assert fresh_machine_section().count("```bash") == 2


# ---- the sections' commands, run as written ---------------------------------------------------

def code_after(marker, language):
    """The text of the fenced ``language`` block right after ``<!-- marker -->``."""
    match = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)```", README, re.S)
    assert match, f"README.md has no ```{language} block right after <!-- {marker} -->"
    return match.group(1)


@pytest.fixture
def shapes_here(tmp_path, monkeypatch):
    """A working folder holding shapes/ (40 of each class), more-shapes/ and new-circle.png."""
    from shapes import draw_shape, make_shapes
    make_shapes(tmp_path / "shapes", per_class=40, seed=0)
    make_shapes(tmp_path / "more-shapes", per_class=4, seed=1)
    draw_shape("circle", np.random.default_rng(5)).save(tmp_path / "new-circle.png")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_own_images_commands_train_and_name_the_class(shapes_here, capsys):
    from scratchconv import cli
    commands = [line for line in code_after("own-images-commands", "bash").splitlines()
                if line and not line.startswith("#")]
    assert [c.split()[1] for c in commands] == ["train", "predict", "evaluate"]
    for command in commands:
        assert cli.main(shlex.split(command)[1:]) == 0, command
        printed = capsys.readouterr().out
        if command.split()[1] == "predict":
            assert printed.startswith("new-circle.png: circle "), printed
    stated = next(line for line in code_after("own-images-commands", "bash").splitlines()
                  if line.startswith("# new-circle.png:"))
    assert stated.startswith("# new-circle.png: circle ")


def test_readme_own_images_python_runs_and_saves_the_class_names(shapes_here, capsys):
    import scratchconv
    exec(code_after("own-images-python", "python"), {})
    assert "['circle', 'square', 'triangle']" in capsys.readouterr().out
    model = scratchconv.load_model(shapes_here / "shapes.npz")
    assert model.class_names == ["circle", "square", "triangle"]
    assert model.preprocessing["image_size"] == 32
