"""python -m reference.tutorial: the side-by-side run of the tutorial in scratchconv and tf.keras,
here on a tiny generated rune set (3 images per rune) for one epoch."""
import json
import os
import stat

import numpy as np
import pytest

from scratchconv import data


@pytest.fixture(scope="module")
def tutorial(tf):
    import reference.tutorial
    return reference.tutorial


@pytest.fixture(scope="module")
def runes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runes")
    data.make_dataset(folder, per_class=3, seed=0)
    return folder


@pytest.fixture(scope="module")
def results_file(tutorial, runes, tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "tutorial.json"
    tutorial.main(["--data", str(runes), "--out", str(out), "--epochs", "1"])
    return out


@pytest.fixture(scope="module")
def results(results_file):
    return json.loads(results_file.read_text(encoding="utf-8"))


def test_both_variants_are_run_with_the_tutorial_split(results):
    assert list(results["variants"]) == ["original", "rotated"]
    original, rotated = results["variants"]["original"], results["variants"]["rotated"]
    assert results["images"] == 72
    assert original["train_images"] + original["test_images"] == 72
    assert rotated["train_images"] + rotated["test_images"] == 5 * 72
    assert original["test_images"] == round(0.33 * 72 + 0.5)


@pytest.mark.parametrize("variant", ["original", "rotated"])
def test_first_epoch_loss_is_the_same_in_both_frameworks(results, variant):
    """Same initial weights, same batches: the first epoch's mean loss agrees to float32 rounding
    (1e-4 relative, the training bound of test_reference_training.py)."""
    (epoch,) = results["variants"][variant]["epochs"]
    ours, theirs = epoch["scratchconv"]["loss"], epoch["keras"]["loss"]
    assert abs(ours - theirs) <= 1e-4 * abs(theirs), (ours, theirs)


@pytest.mark.parametrize("framework", ["scratchconv", "keras"])
def test_confusion_matrix_holds_every_test_image_and_the_test_accuracy(results, framework):
    variant = results["variants"]["rotated"]
    test = variant["test"][framework]
    cm = np.array(test["confusion_matrix"])
    assert cm.shape == (24, 24)
    assert cm.sum() == variant["test_images"]
    assert np.trace(cm) / cm.sum() == pytest.approx(test["accuracy"], abs=1e-6)


def test_results_record_the_command_and_versions(results):
    assert results["command"].startswith("python -m reference.tutorial --data ")
    assert set(results["versions"]) == {"scratchconv", "keras", "tensorflow", "numpy", "python"}


def test_results_file_has_the_usual_permissions_and_no_temporary_left(results_file):
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(results_file.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in results_file.parent.iterdir()] == ["tutorial.json"]


def test_a_missing_data_folder_is_refused_with_one_sentence(tutorial, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        tutorial.main(["--data", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "nowhere is not a folder of rune images (make it with: scratchconv make-data)" in capsys.readouterr().err


def test_epochs_below_one_are_refused(tutorial, runes, capsys):
    with pytest.raises(SystemExit):
        tutorial.main(["--data", str(runes), "--epochs", "0"])
    assert "--epochs must be at least 1, got 0" in capsys.readouterr().err


def test_markdown_has_a_row_per_epoch_and_both_confusion_matrices_per_variant(tutorial, results):
    text = tutorial.markdown(results)
    for variant in ("original", "rotated"):
        assert f"**{variant}** (" in text
        for framework in ("scratchconv", "tf.keras"):
            assert f"confusion matrix, {variant}, {framework}" in text
    rows = [line for line in text.splitlines() if line.startswith("| 1 |") or line.startswith("| test |")]
    assert len(rows) == 4
