"""The bookkeeping of benchmarks/realism.py (the training itself is measured, not tested)."""
import numpy as np
import pytest

from benchmarks import realism


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
