"""The README's fresh-machine commands: the test command is the one CI runs, the main command
trains with the `scratchconv` entry point, and there are exactly those two."""
import re
import subprocess
from pathlib import Path

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
