"""A regular (non-editable) ``pip install .`` in a fresh virtual environment finds the shipped rune
images through the Python API, as the command line does.

To take seconds rather than minutes, the new environment borrows the running interpreter's
installed packages (numpy, numba, pillow, setuptools, pip, ...) through a ``.pth`` file, and pip
installs scratchconv alone (``--no-deps --no-build-isolation``) from a copy of the checkout, so
the build leaves nothing in the repository. A ``.pth`` line only appends its folder to sys.path:
an editable scratchconv in the running environment is not seen by the new one.
"""
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

READ_RUNES = """
import scratchconv
from scratchconv import data
folder = data.default_data_dir()
x, y, names = data.load_image_folder(folder)
print(scratchconv.__file__)
print(folder)
print(len(x), len(names))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv with scratchconv pip-installed from a copy of the checkout, venv)."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "scratchconv", source / "scratchconv",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data" / "runes", source / "data" / "runes")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    site_packages = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site_packages) / "borrowed.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    result = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                             "--no-index", "--disable-pip-version-check", "--quiet", str(source)],
                            capture_output=True, text=True, timeout=300, env=clean_env(), cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    return python, env_dir


def clean_env():
    """The environment without PYTHONPATH, which would put the checkout on sys.path."""
    import os
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def test_pip_install_reads_the_shipped_runes_through_the_python_api(installed, tmp_path):
    python, env_dir = installed
    result = subprocess.run([python, "-c", READ_RUNES], capture_output=True, text=True,
                            timeout=300, env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    module, folder, counts = result.stdout.splitlines()[-3:]
    assert Path(module).is_relative_to(env_dir), "scratchconv came from the checkout, not the install"
    assert Path(folder) == env_dir / "share" / "scratchconv" / "runes"
    shipped = sorted(p.name for p in (ROOT / "data" / "runes").glob("*.png"))
    assert counts == f"{len(shipped)} 24"


SERVE_FILES = """
from pathlib import Path
import scratchconv
serve = Path(scratchconv.__file__).parent / "serve"
for name in ("static/index.html", "static/app.js", "static/pad.js", "static/arrays.js",
             "static/style.css", "default_model.npz"):
    print((serve / name).stat().st_size > 0, serve / name)
"""


def test_pip_install_ships_the_serve_page_and_its_default_model(installed, tmp_path):
    # Package data: scratchconv serve needs them after any install.
    python, env_dir = installed
    result = subprocess.run([python, "-c", SERVE_FILES], capture_output=True, text=True,
                            timeout=300, env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 6 and all(line.startswith(f"True {env_dir}") for line in lines), lines
