"""The one atomic writer (scratchconv/atomic.py) and the writers that go through it: no planted
symlink is written through, a replaced file keeps its permission bits, a failure leaves the old
file and no temporary."""
import ast
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import scratchconv
from scratchconv import atomic, cli, plots
from scratchconv.data import files

REPO = Path(__file__).resolve().parent.parent


def small_model():
    scratchconv.set_seed(0)
    model = scratchconv.Sequential([scratchconv.layers.Flatten(input_shape=(2, 2, 1)),
                                    scratchconv.layers.Dense(2)])
    model.build()
    return model


# Every writer of the package, as (name, function writing its kind of file at a path).
WRITERS = {
    "write_atomically": lambda path: atomic.write_atomically(path, lambda f: f.write(b"data")),
    "write_text": lambda path: atomic.write_text(path, "text"),
    "save_model": lambda path: small_model().save(path),
    "plots.save_figure": lambda path: plots.save_figure(plots.history_figure({"loss": [1.0]}), path),
    "data.save_png": lambda path: files.save_png(Image.new("L", (4, 4)), path),
}


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
@pytest.mark.parametrize("writer", WRITERS)
def test_a_replaced_file_keeps_its_permission_bits(tmp_path, writer):
    path = tmp_path / "out"
    path.write_bytes(b"old")
    path.chmod(0o600)
    WRITERS[writer](path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() != b"old"


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
@pytest.mark.parametrize("writer", WRITERS)
def test_a_new_file_gets_the_usual_permissions(tmp_path, writer):
    umask = os.umask(0o027)
    try:
        WRITERS[writer](tmp_path / "out")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o640


@pytest.mark.parametrize("writer", WRITERS)
def test_a_symlink_planted_at_any_predictable_temporary_name_is_not_followed(tmp_path, writer):
    """The names the old writers used (``.<name>.<pid>.tmp`` and friends) all point at a victim
    file; the write must leave the victim alone and replace only the target."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    path = tmp_path / "out.png"
    for name in (f".{path.name}.{os.getpid()}.tmp", f"{path.name}.tmp", f".{path.name}.tmp",
                 f"{path.stem}.tmp{path.suffix}"):
        (tmp_path / name).symlink_to(victim)
    WRITERS[writer](path)
    assert victim.read_bytes() == b"precious"
    assert path.is_file() and not path.is_symlink()


def test_a_symlink_at_the_random_temporary_name_itself_is_refused(tmp_path, monkeypatch):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: "guessed")
    (tmp_path / ".out.guessed.tmp").symlink_to(victim)
    with pytest.raises(OSError, match="cannot write the file .*out: File exists"):
        atomic.write_text(tmp_path / "out", "text")
    assert victim.read_bytes() == b"precious" and not (tmp_path / "out").exists()


def test_a_symlink_at_the_target_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / "out").symlink_to(victim)
    atomic.write_text(tmp_path / "out", "new")
    assert victim.read_bytes() == b"precious"
    assert not (tmp_path / "out").is_symlink() and (tmp_path / "out").read_text() == "new"


def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match=f"cannot write the results {path}: No space left on device"):
        atomic.write_atomically(path, half_then_fail, what="the results")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["out"]


def test_history_json_goes_through_the_atomic_writer(tmp_path):
    """The train command's per-epoch history (cli.save_each_epoch) is written whole."""
    model = small_model()
    model.compile("sgd", "categorical_crossentropy")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / f".history.json.{os.getpid()}.tmp").symlink_to(victim)
    history = {}
    callback = cli.save_each_epoch(tmp_path / "model.npz", tmp_path / "history.json", history)
    callback.set_model(model)
    callback.on_epoch_end(0, {"loss": 1.0})
    assert victim.read_bytes() == b"precious"
    assert (tmp_path / "history.json").read_text() == '{\n  "loss": [\n    1.0\n  ]\n}\n'


def test_nothing_but_the_atomic_writer_renames_files_into_place():
    """One writer for the package, the benchmarks and the reference: os.replace / os.rename /
    Path.replace appear in scratchconv/atomic.py only."""
    offenders = []
    for folder in ("scratchconv", "benchmarks", "reference"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.name == "atomic.py" and path.parent.name == "scratchconv":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in ("replace", "rename"):
                    if isinstance(node.value, ast.Name) and node.value.id == "os":
                        offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
                if (isinstance(node, ast.Attribute) and node.attr == "mkstemp"):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


def test_the_model_file_written_is_the_same_as_before(tmp_path):
    """The atomic writer changes nothing in the bytes: the file still loads."""
    model = small_model()
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(scratchconv.load_model(tmp_path / "m.npz").get_weights()[0],
                                  model.get_weights()[0])
