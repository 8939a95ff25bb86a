"""Odd environments, each in a fresh process: a bad SCRATCHCONV_BACKEND, no writable folder for
numba's cache, damaged cache files, an ASCII-only output. Each degrades with at most one line
of explanation, never a traceback."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import scratchconv
from scratchconv import data

REPO = Path(__file__).resolve().parent.parent


def run(args, env=None, **kwargs):
    """A scratchconv (or python) process with this checkout first on the path."""
    environment = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run(args, env=environment, capture_output=True, text=True, timeout=600,
                          **kwargs)


def command(*args, env=None):
    return run([sys.executable, "-m", "scratchconv.cli", *args], env=env)


def python(code, env=None):
    return run([sys.executable, "-c", textwrap.dedent(code)], env=env)


@pytest.mark.parametrize("args", [["--help"], ["summary", "model.npz"], ["train", "--help"]])
def test_a_bad_backend_variable_is_one_line_for_every_command(args):
    done = command(*args, env={"SCRATCHCONV_BACKEND": "cuda"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("scratchconv: error: the environment variable SCRATCHCONV_BACKEND='cuda' "
                           "names no backend: set it to one of numba, numpy, or unset it\n")


def test_a_bad_backend_variable_fails_where_a_backend_is_needed_not_at_import():
    done = python("""
        import scratchconv
        try:
            scratchconv.backend.kernels()
        except ValueError as err:
            print(err)
    """, env={"SCRATCHCONV_BACKEND": "cuda"})
    assert done.returncode == 0, done.stderr
    assert "SCRATCHCONV_BACKEND='cuda' names no backend" in done.stdout


# What numba's locators do when the package folder and the home folder are read-only (which a
# test running as root cannot make them): they find nowhere to write.
NO_WRITABLE_FOLDER = """
    from numba.core import caching
    for cls in (caching.InTreeCacheLocator, caching.UserWideCacheLocator):
        cls.from_function = classmethod(lambda cls, *args: None)
"""
RUN_A_KERNEL = """
    import numpy as np
    from scratchconv.kernels import numba_kernels
    print(numba_kernels.relu_backward(np.ones(3), np.array([1.0, -1.0, 2.0])))
"""


def test_read_only_package_and_home_fall_back_to_a_temporary_cache_folder(tmp_path):
    done = python(NO_WRITABLE_FOLDER + RUN_A_KERNEL, env={"TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1. 0. 1.]"
    note = [line for line in done.stderr.splitlines() if line.startswith("scratchconv: note:")]
    assert len(note) == 1 and "numba's cache of the compiled kernels is kept in" in note[0]
    assert list(tmp_path.glob("scratchconv-numba-cache-*/**/numba_kernels.*.nbi"))


def test_with_no_writable_folder_at_all_the_kernels_run_uncached(tmp_path):
    done = python(NO_WRITABLE_FOLDER + """
        caching.UserProvidedCacheLocator.from_function = classmethod(lambda cls, *args: None)
    """ + RUN_A_KERNEL, env={"TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1. 0. 1.]"
    assert "the kernels are compiled in every process" in done.stderr


@pytest.mark.parametrize("damaged", ["nb?", "nbi", "nbc"])
def test_damaged_cache_files_are_compiled_again_and_rewritten(tmp_path, damaged):
    # The files are checked when numba reads them (an index, then a data file), so damage in
    # either is found; the kernel's files are written anew, and the next process reads them.
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_DEBUG_CACHE": "1"}
    first = python(RUN_A_KERNEL, env=env)
    assert first.returncode == 0, first.stderr
    files = list(tmp_path.rglob(f"numba_kernels.*.{damaged}"))
    assert files
    for path in files:
        path.write_bytes(os.urandom(64))
    second = python(RUN_A_KERNEL, env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines()[-1] == "[1. 0. 1.]"
    assert "data saved" in second.stdout
    third = python(RUN_A_KERNEL, env=env)
    assert third.returncode == 0, third.stderr
    assert "data loaded" in third.stdout and "data saved" not in third.stdout


RUN_A_CONVOLUTION = """
    import numpy as np
    from scratchconv.kernels import numba_kernels
    x = np.ones((1, 4, 4, 2), np.float32)
    w = np.ones((3, 3, 2, 1), np.float32)
    print(numba_kernels.conv2d_forward(x, w, None, (1, 1), ((0, 0), (0, 0))).ravel())
"""


def test_a_second_process_reads_the_kernels_from_the_cache_instead_of_compiling_them(tmp_path):
    # The convolution kernels take the Geometry tuple, a class of the kernels' module: the
    # damaged-file check runs before that class exists and once took its cache files for damaged,
    # deleting them, so every process compiled the kernels again (20 s to a first training step).
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_DEBUG_CACHE": "1"}
    first = python(RUN_A_CONVOLUTION, env=env)
    assert first.returncode == 0, first.stderr
    assert "data saved" in first.stdout + first.stderr
    second = python(RUN_A_CONVOLUTION, env=env)
    assert second.returncode == 0, second.stderr
    assert "data saved" not in second.stdout + second.stderr
    assert second.stdout.strip().splitlines()[-1] == "[18. 18. 18. 18.]"


def test_kernels_read_from_the_cache_leave_numba_able_to_compile_a_users_function(tmp_path):
    # A cached kernel loads without numba's compiler being set up (numba.np.arraymath is one of
    # the modules that set-up imports); a function compiled afterwards sets it up as usual.
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    assert python(RUN_A_CONVOLUTION, env=env).returncode == 0
    done = python(RUN_A_CONVOLUTION + """
    import sys
    print("numba.np.arraymath" in sys.modules)
    import numba

    @numba.njit
    def users(a, b):
        return np.dot(a, b).sum() + np.median(a)

    print(users(np.eye(2), np.ones((2, 2))))
    """, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[18.", "18.", "18.", "18.]", "False", "4.5"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A data set and a model file for the ASCII checks."""
    folder = tmp_path_factory.mktemp("ascii")
    data.make_dataset(folder / "runes", per_class=2, seed=3)
    previous = scratchconv.get_backend()
    scratchconv.set_backend("numpy")
    scratchconv.set_seed(0)
    model = scratchconv.tutorial_model(input_shape=(12, 12, 3))
    model.save(folder / "model.npz")
    scratchconv.set_backend(previous)
    return folder


ASCII = {"PYTHONIOENCODING": "ascii", "SCRATCHCONV_BACKEND": "numpy"}


def test_train_on_an_ascii_output_draws_an_ascii_bar(small_run):
    done = command("train", "--data", str(small_run / "runes"), "--epochs", "1", "--image-size",
                   "12", "--no-augment", "--test-size", "0.5", "--out", str(small_run / "run"),
                   env=ASCII)
    assert done.returncode == 0, done.stderr
    assert "Epoch 1/1" in done.stdout and "=" * 20 in done.stdout and "model: " in done.stdout


@pytest.mark.parametrize("what", ["predict", "summary", "evaluate"])
def test_ascii_output_degrades_and_never_fails(small_run, what):
    model = str(small_run / "model.npz")
    image = str(small_run / "runes" / "ᚠ_01.png")
    args = {"predict": ["predict", model, image], "summary": ["summary", model],
            "evaluate": ["evaluate", model, str(small_run / "runes"), "--out",
                         str(small_run / "cm.png")]}[what]
    done = command(*args, env=ASCII)
    assert done.returncode == 0, done.stderr
    done.stdout.encode("ascii")
    if what == "predict":
        guesses = done.stdout.split(": ", 1)[1]
        assert any(name in guesses for name in data.RUNE_NAMES)
        assert np.all([ch.isascii() for ch in done.stdout])
