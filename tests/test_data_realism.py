"""The bookkeeping of benchmarks/realism.py (the training itself is measured, not tested)."""
import json

import numpy as np
import pytest

from benchmarks import realism
from scratchconv.data import generator
from scratchconv.data.glyphs import FORMS


def test_per_rune_accuracy_and_most_frequent_mistake():
    y = np.array([0, 0, 0, 2, 2])
    predicted = np.array([0, 5, 5, 2, 2])
    out = realism.per_rune(predicted, y)
    assert list(out) == ["ᚠ", "ᚦ"]
    assert out["ᚠ"] == {"name": "fehu", "n": 3, "accuracy": 1 / 3, "confused_with": "ᚲ"}
    assert out["ᚦ"]["accuracy"] == 1.0 and out["ᚦ"]["confused_with"] is None


def test_summary_gives_mean_and_range_over_seeds():
    runs = [{"test_accuracy": a, "real_accuracy": b, "per_rune": {"ᚠ": {"accuracy": c}}}
            for a, b, c in [(0.9, 0.8, 1.0), (0.8, 1.0, 0.5)]]
    summary = realism.summarise(runs)
    assert np.isclose(summary["real_accuracy"]["mean"], 0.9)
    assert summary["real_accuracy"]["min"] == 0.8 and summary["real_accuracy"]["max"] == 1.0
    assert summary["per_rune"] == {"ᚠ": 0.75}


def _results():
    runs = [{"seed": 0, "test_accuracy": 0.9, "real_accuracy": 0.95,
             "per_rune": {"ᚠ": {"name": "fehu", "n": 10, "accuracy": 0.9, "confused_with": "ᚹ"}}}]
    return {"engine": "scratchconv", "backend": "numpy", "epochs": 10, "train_images": 6,
            "test_images": 3, "real_images": 10, "real_runes": 1, "runs": runs,
            "summary": realism.summarise(runs)}


def test_markdown_states_engine_figures_and_per_rune_rows():
    text = realism.markdown(_results())
    assert "scratchconv (numpy backend), 10 epochs, training seeds 0" in text
    assert "**real drawings: 95.0% (range 95.0% to 95.0%)**" in text
    assert "| ᚠ | fehu | 90% | ᚹ |" in text


def test_write_readme_replaces_only_the_realism_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- realism -->\nold\n<!-- /realism -->\nafter\n", encoding="utf-8")
    realism.write_readme(_results(), readme)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("before\n<!-- realism -->\nMeasured with") and text.endswith("<!-- /realism -->\nafter\n")
    assert "old" not in text


def test_write_readme_needs_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no block\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has no <!-- realism --> ... <!-- /realism --> block to fill"):
        realism.write_readme(_results(), readme)


def test_combine_merges_seeds_run_apart():
    first, second = _results(), _results()
    second["runs"] = [{**second["runs"][0], "seed": 1, "real_accuracy": 0.85}]
    combined = realism.combine([second, first])
    assert [run["seed"] for run in combined["runs"]] == [0, 1]
    assert np.isclose(combined["summary"]["real_accuracy"]["mean"], 0.9)


def test_combine_refuses_different_settings_or_repeated_seeds():
    other = {**_results(), "epochs": 5}
    with pytest.raises(ValueError, match="cannot combine runs of different settings"):
        realism.combine([_results(), other])
    with pytest.raises(ValueError, match=r"cannot combine runs that repeat a seed: \[0, 0\]"):
        realism.combine([_results(), _results()])


def test_stress_sets_push_one_habit_each_and_draw_every_form(tmp_path):
    sets = realism.stress_sets(per_rune=1, per_form=2)
    factors = [(name, x, y) for group, name, x, y in sets if group == "factor"]
    forms = [(name, x, y) for group, name, x, y in sets if group == "form"]
    assert [name for name, _, _ in factors] == list(realism.FACTORS)
    for name, x, y in factors:
        assert x.shape == (24, 50, 50, 3) and x.dtype == np.float32 and list(y) == list(range(24))
    multi = [(rune, len(f)) for rune, f in enumerate(FORMS) if len(f) > 1]
    assert len(forms) == sum(count for _, count in multi)
    assert forms[0][0] == "ᚠ fehu: branches rising" and all(len(y) == 2 for _, _, y in forms)
    # The full-frame set's ink reaches the edge of the frame; the hard-edged set has no grays.
    full = dict((name, x) for name, x, _ in factors)["full frame (runes touch its edges)"]
    assert (full[:, [0, -1]].max(axis=(1, 2, 3)) > 0.5).mean() > 0.5
    hard = dict((name, x) for name, x, _ in factors)["hard-edged (no antialiasing, no blur)"]
    paper_free = [image for image in hard if np.median(image) == 0]
    assert all(len(np.unique(np.round(image * 255))) <= 3 for image in paper_free[:5])


def test_stress_factors_stay_inside_the_habits_writers_draw():
    # A stress set measures the end of a habit's range, never a style outside what the shipped
    # set's writers draw (WriterStyle.random): its pen, blur, size and paper.
    for name, habit in realism.FACTORS.items():
        for k in range(200):
            style = habit(generator.writer_style(realism.STRESS_SEED, k))
            assert generator.HEIGHT_RANGE[0] <= style.height <= generator.HEIGHT_RANGE[1], name
            assert generator.PEN_RANGE[0] <= style.pen <= generator.widest_pen(style.height) + 1e-9, name
            assert style.pen <= generator.PEN_RANGE[1] + 1e-9, name
            assert style.softness <= min(generator.BLUR_RANGE[1], generator.widest_blur(style.pen)) + 1e-9, name
            assert style.antialias or style.softness == 0, name
            assert style.paper <= generator.PAPER_RANGE[1], name


def _stress_results(real=True):
    runs = [{"seed": seed, "test_accuracy": 0.9,
             "sets": {"bold": {"accuracy": a, "n": 24, "confused_with": "ᚦ" if a < 1 else None}}}
            for seed, a in [(0, 0.75), (1, 1.0)]]
    if real:
        for run in runs:
            run.update(real_accuracy=0.95, per_rune={
                "ᚠ": {"name": "fehu", "n": 10, "accuracy": 0.9, "confused_with": "ᚫ"},
                "ᚢ": {"name": "uruz", "n": 10, "accuracy": 1.0, "confused_with": None}})
    return {"engine": "scratchconv", "backend": "numba", "epochs": 5, "batch_size": 32,
            "train_images": 6, "stress_seed": 100, "groups": {"bold": "factor"}, "runs": runs,
            **({"real_images": 20, "real_runes": 2} if real else {})}


def test_stress_markdown_has_a_row_per_set_with_mean_and_lowest_seed():
    text = realism.stress_markdown(_stress_results())
    assert "the tutorial's recipe (5 epochs, batch size 32, 6 training images), training seeds 0, 1" in text
    assert "| bold | 24 | 87.5% | 75.0% | ᚦ – |" in text
    assert "| **real drawings** (Omniglot) | 20 | 95.0% | 95.0% | by rune in the realism table |" in text
    assert "real drawings" not in realism.stress_markdown(_stress_results(real=False))


def test_combine_merges_stress_runs_with_or_without_real_drawings():
    for real in (True, False):
        first, second = _stress_results(real), _stress_results(real)
        first["runs"], second["runs"] = first["runs"][:1], second["runs"][1:]
        combined = realism.combine([second, first])
        assert [run["seed"] for run in combined["runs"]] == [0, 1]
        assert ("summary" in combined) == real


def test_write_readme_fills_the_stress_block_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- realism -->\nkeep\n<!-- /realism -->\n<!-- stress -->\nstale\n<!-- /stress -->\n",
                      encoding="utf-8")
    realism.write_readme(_stress_results(), readme, "stress")
    text = readme.read_text(encoding="utf-8")
    assert "keep" in text and "stale" not in text and "| bold | 24 |" in text


def test_stress_command_runs_end_to_end_on_tiny_sets(tmp_path, capsys):
    # The plumbing only: 24 images, one epoch, one writer per set, no real drawings.
    from scratchconv import data
    data.make_dataset(tmp_path / "runes", per_class=1, seed=0)
    out, readme = tmp_path / "results.json", tmp_path / "README.md"
    readme.write_text("<!-- stress -->\n<!-- /stress -->\n", encoding="utf-8")
    assert realism.main(["--stress", "--data", str(tmp_path / "runes"), "--real", str(tmp_path / "none"),
                         "--seeds", "0", "--epochs", "1", "--per-rune", "1", "--per-form", "1",
                         "--out", str(out), "--readme", str(readme)]) == 0
    assert f"no real drawings at {tmp_path / 'none'}" in capsys.readouterr().err
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["epochs"] == 1 and [run["seed"] for run in results["runs"]] == [0]
    assert set(results["runs"][0]["sets"]) == set(results["groups"])
    assert "summary" not in results and "real_accuracy" not in results["runs"][0]
    assert "| full frame (runes touch its edges) | 24 |" in readme.read_text(encoding="utf-8")
