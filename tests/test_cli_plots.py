"""The pictures: each figure is drawn from synthetic arrays and written as a real PNG."""
import numpy as np
import pytest
from PIL import Image

from scratchconv import plots

LABELS = [f"rune{i}" for i in range(24)]


def png_size(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_confusion_matrix_figure_is_written_as_a_png(tmp_path):
    cm = np.diag(np.arange(1, 25))
    path = plots.save_figure(plots.confusion_matrix_figure(cm, LABELS), tmp_path / "cm.png")
    assert png_size(path)[0] > 400


def test_history_figure_draws_whatever_metrics_are_there(tmp_path):
    fig = plots.history_figure({"loss": [2.0, 1.0], "accuracy": [0.3, 0.6]})
    plots.save_figure(fig, tmp_path / "curves.png")
    loss_axes, accuracy_axes = fig.axes
    assert [line.get_label() for line in loss_axes.lines] == ["train"]
    np.testing.assert_array_equal(accuracy_axes.lines[0].get_ydata(), [0.3, 0.6])


def test_network_figure_has_a_panel_per_layer_plus_input_and_filters(tmp_path):
    rng = np.random.default_rng(0)
    activations = [("conv", rng.random((8, 8, 4))), ("flatten", rng.random(256)),
                   ("dense", rng.dirichlet(np.ones(24)))]
    fig = plots.network_figure(rng.random((10, 10, 3)), rng.normal(size=(3, 3, 3, 4)),
                               activations, LABELS)
    plots.save_figure(fig, tmp_path / "net.png")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["input", "first-layer filters (4)", "conv 8x8, 4 maps",
                      "flatten (256 values)", "dense: class probabilities"]


def test_mosaic_tiles_maps_on_a_square_grid_with_one_pixel_gaps():
    tiles = np.arange(5 * 2 * 2, dtype=float).reshape(5, 2, 2)
    out = plots.mosaic(tiles)
    assert out.shape == (5, 8)  # 3 columns and 2 rows of 2x2 tiles
    np.testing.assert_array_equal(out[3:5, 3:5], tiles[4])
    assert np.isnan(out[2]).all() and np.isnan(out[3:, 6:]).all()


def test_save_figure_replaces_an_existing_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "cm.png"
    target.write_bytes(b"old")
    plots.save_figure(plots.history_figure({"loss": [1.0]}), target)
    assert png_size(target) and [p.name for p in tmp_path.iterdir()] == ["cm.png"]


def test_save_figure_keeps_the_old_file_when_drawing_fails(tmp_path, monkeypatch):
    target = tmp_path / "cm.png"
    target.write_bytes(b"old")
    fig = plots.history_figure({"loss": [1.0]})
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        plots.save_figure(fig, target)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["cm.png"]


def test_axis_labels_use_names_without_a_runic_font(monkeypatch):
    monkeypatch.setattr(plots, "runic_font", lambda: None)
    assert plots.axis_labels(["ᚠ"], ["fehu"]) == ["fehu"]


def test_network_figure_puts_the_title_above_everything():
    rng = np.random.default_rng(1)
    fig = plots.network_figure(rng.random((6, 6, 1)), rng.normal(size=(3, 3, 1, 2)),
                               [("dense", rng.dirichlet(np.ones(24)))], LABELS, title="x.png")
    assert fig._suptitle.get_text() == "x.png"


@pytest.mark.parametrize("labels, rotation", [(list("ᚠᚢᚦ"), 0), (["fehu", "uruz", "thurisaz"], 90),
                                              (["a", "b"], 0)])
def test_rune_labels_stand_upright_and_words_turn(labels, rotation):
    cm = np.eye(len(labels), dtype=int)
    fig = plots.confusion_matrix_figure(cm, labels)
    ticks = fig.axes[0].get_xticklabels()
    assert [t.get_text() for t in ticks] == labels
    assert {t.get_rotation() for t in ticks} == {rotation}


def test_words_are_not_drawn_in_the_runic_font():
    assert plots.tick_style(["cat", "dog"])["fontproperties"] is None
