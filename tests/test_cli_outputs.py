"""Nothing a user has is replaced without being asked: train's --out folder, the run folders,
evaluate's and visualize's --out pictures, and the data folder they read."""
import datetime
import os

import pytest

import scratchconv
from scratchconv import cli, data, plots

SIZE = 12

# These tests check what is written where; the readable kernels avoid the numba build.
pytestmark = pytest.mark.usefixtures("numpy_backend")


@pytest.fixture(scope="module")
def runes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runes")
    data.make_dataset(folder, per_class=2, seed=2, overwrite=True)
    return folder


@pytest.fixture
def model_file(tmp_path):
    scratchconv.set_seed(0)
    path = tmp_path / "model.npz"
    scratchconv.tutorial_model(input_shape=(SIZE, SIZE, 3)).save(path)
    return path


def error(capsys):
    return capsys.readouterr().err.strip()


def train(runes, out, *extra):
    return cli.main(["--debug", "train", "--data", str(runes), "--epochs", "1", "--no-augment",
                     "--image-size", str(SIZE), "--test-size", "0.5", "--backend", "numpy",
                     "--out", str(out), *extra])


# ---- train ------------------------------------------------------------------------------------

def test_train_refuses_an_out_folder_holding_a_previous_run(runes, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.npz").write_bytes(b"the previous run's model")
    with pytest.raises(cli.UserError, match=f"--out {run} already holds files .*pass --overwrite"):
        train(runes, run)
    assert (run / "model.npz").read_bytes() == b"the previous run's model"


def test_train_with_overwrite_replaces_the_previous_run(runes, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.npz").write_bytes(b"the previous run's model")
    assert train(runes, run, "--overwrite") == 0
    scratchconv.load_model(run / "model.npz")


@pytest.mark.parametrize("where", [".", "sub/run"])
def test_train_refuses_an_out_inside_the_data_folder(runes, where):
    with pytest.raises(cli.UserError, match="is inside the data folder"):
        train(runes, runes / where)
    assert not (runes / "sub").exists()


def test_two_runs_in_the_same_second_get_two_new_folders(tmp_path, monkeypatch):
    """new_run_dir claims its folder (mkdir without exist_ok): two runs started together, which
    both see the name free, can never share it."""
    monkeypatch.chdir(tmp_path)

    class Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(cli.datetime, "datetime", Frozen)
    first, second = cli.new_run_dir(), cli.new_run_dir()
    assert first != second
    assert first.is_dir() and second.is_dir()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["20260102-030405",
                                                                    "20260102-030405-2"]


# ---- evaluate and visualize -------------------------------------------------------------------

def evaluate(model_file, runes, out, *extra):
    return cli.main(["--debug", "evaluate", str(model_file), str(runes), "--out", str(out),
                     "--backend", "numpy", *extra])


def visualize(model_file, image, out, *extra):
    return cli.main(["--debug", "visualize", str(model_file), str(image), "--out", str(out),
                     "--backend", "numpy", *extra])


@pytest.mark.parametrize("extra", [[], ["--overwrite"]])
def test_evaluate_never_draws_over_the_model(model_file, runes, extra):
    before = model_file.read_bytes()
    with pytest.raises(cli.UserError, match=f"--out {model_file} is the model file this command reads"):
        evaluate(model_file, runes, model_file, *extra)
    assert model_file.read_bytes() == before


@pytest.mark.parametrize("extra", [[], ["--overwrite"]])
def test_visualize_never_draws_over_its_image_or_the_model(model_file, runes, tmp_path, extra):
    image = tmp_path / "ᚠ.png"
    image.write_bytes((runes / "ᚠ_01.png").read_bytes())
    with pytest.raises(cli.UserError, match="is the image this command reads"):
        visualize(model_file, image, image, *extra)
    with pytest.raises(cli.UserError, match="is the model file this command reads"):
        visualize(model_file, image, model_file, *extra)
    assert image.read_bytes() == (runes / "ᚠ_01.png").read_bytes()


def test_evaluate_refuses_to_replace_a_file_it_did_not_draw(model_file, runes, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_bytes(b"my notes")
    with pytest.raises(cli.UserError, match=f"--out {notes} exists and is not a picture "
                                            "scratchconv drew: pass --overwrite"):
        evaluate(model_file, runes, notes)
    assert notes.read_bytes() == b"my notes"
    assert evaluate(model_file, runes, notes, "--overwrite") == 0
    assert plots.drawn_by_scratchconv(notes)


def test_evaluate_and_visualize_replace_their_own_pictures(model_file, runes, tmp_path):
    png = tmp_path / "cm.png"
    assert evaluate(model_file, runes, png) == 0
    first = os.stat(png).st_mtime_ns
    assert evaluate(model_file, runes, png) == 0
    maps = tmp_path / "maps.png"
    assert visualize(model_file, runes / "ᚠ_01.png", maps) == 0
    assert visualize(model_file, runes / "ᚠ_01.png", maps) == 0
    assert plots.drawn_by_scratchconv(png) and os.stat(png).st_mtime_ns >= first


def test_evaluate_refuses_an_out_inside_the_data_folder(model_file, runes):
    with pytest.raises(cli.UserError, match="is inside the data folder"):
        evaluate(model_file, runes, runes / "confusion.png")
    assert not (runes / "confusion.png").exists()


def test_a_picture_from_elsewhere_is_not_taken_for_ours(runes, tmp_path):
    assert not plots.drawn_by_scratchconv(runes / "ᚠ_01.png")  # a PNG, not one save_figure drew
    assert not plots.drawn_by_scratchconv(tmp_path / "missing.png")
