"""Pictures for the command line: the confusion matrix, the training curves, and a model's filters
and feature maps.

Figures are drawn with matplotlib's object-oriented API (``matplotlib.figure.Figure``), so no
window is opened and the caller's pyplot state is left alone. Every PNG is written through
:func:`scratchconv.atomic.write_atomically`, so an existing picture is never left half-overwritten.
"""
import functools
import math
from pathlib import Path

import numpy as np
from matplotlib import font_manager, ft2font
from matplotlib.figure import Figure

from .atomic import write_atomically

RUNIC_BLOCK = range(0x16A0, 0x1700)
# The PNG "Software" text chunk of every picture scratchconv draws: the mark that lets the
# commands replace their own pictures, and nothing else, without --overwrite.
SOFTWARE = "scratchconv"


@functools.lru_cache(maxsize=1)
def runic_font():
    """A font known to matplotlib that draws the Runic block (U+16A0-16FF), or None.

    Few systems have one (Noto Sans Runic, Junicode, Segoe UI Historic); without it the rune
    characters would be drawn as empty boxes, so the pictures use the rune names instead.
    matplotlib's own "Last Resort" font maps every character to a placeholder box, so it does
    not count.
    """
    for entry in font_manager.fontManager.ttflist:
        if "last resort" in entry.name.lower():
            continue
        try:
            charmap = ft2font.FT2Font(entry.fname).get_charmap()
        except (OSError, RuntimeError, ValueError):
            continue
        if all(ord(ch) in charmap for ch in "ᚠᚢᚦᚫᚱᛟ"):
            return font_manager.FontProperties(fname=entry.fname)
    return None


def axis_labels(glyphs, names):
    """The labels to draw: the rune characters when a runic font exists, else their names."""
    return list(glyphs) if runic_font() is not None else list(names)


def save_figure(fig, path, dpi=100):
    """Write ``fig`` as a PNG at ``path`` (:func:`scratchconv.atomic.write_atomically`) and
    return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=dpi,
                                                        metadata={"Software": SOFTWARE}),
                            what="the picture")


def tick_style(labels):
    """How to draw class labels along an x axis: single characters (runes) upright, words
    turned a quarter so that they do not overlap; the runic font for labels with runes in them
    (it may lack Latin letters)."""
    runic = any(ord(ch) in RUNIC_BLOCK for label in labels for ch in label)
    return {"rotation": 0 if all(len(label) <= 2 for label in labels) else 90,
            "fontproperties": runic_font() if runic else None}


def drawn_by_scratchconv(path):
    """Whether ``path`` is a PNG that :func:`save_figure` wrote (its "Software" text chunk),
    which the commands may replace without asking."""
    from PIL import Image

    path = Path(path)
    if not path.is_file() or path.is_symlink():
        return False
    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.info.get("Software") == SOFTWARE
    except (OSError, ValueError, SyntaxError):
        return False


def confusion_matrix_figure(cm, labels, title="Confusion matrix"):
    """A heat map of ``cm`` (int array of shape (k, k), true classes down, predictions across)
    with every count written in its cell; ``labels`` (k str) go on both axes."""
    cm = np.asarray(cm)
    k = len(labels)
    size = max(5.0, 0.32 * k + 2.5)
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    image = ax.imshow(cm, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), labels, **tick_style(labels))
    ax.set_yticks(range(k), labels, fontproperties=tick_style(labels)["fontproperties"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = cm.max() / 2 if cm.size else 0
    for (t, p), count in np.ndenumerate(cm):
        if count:
            ax.text(p, t, str(count), ha="center", va="center", fontsize=7,
                    color="white" if count > threshold else "black")
    fig.tight_layout()
    return fig


def history_figure(history):
    """Loss and accuracy per epoch, training and validation side by side.

    ``history`` maps metric names (Keras's: ``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy``) to one value per epoch; a name that is missing is simply not drawn.
    """
    fig = Figure(figsize=(10, 4))
    for i, metric in enumerate(("loss", "accuracy")):
        ax = fig.add_subplot(1, 2, i + 1)
        for key, label in ((metric, "train"), ("val_" + metric, "test")):
            values = history.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    return fig


def _normalise(a):
    """Scale ``a`` to [0, 1] by its own minimum and maximum (a constant array becomes 0)."""
    a = np.asarray(a, dtype=np.float64)
    span = a.max() - a.min()
    return (a - a.min()) / span if span > 0 else np.zeros_like(a)


def mosaic(tiles, gap_value=np.nan):
    """Lay ``tiles`` (array of shape (k, h, w) or (k, h, w, 3)) out on a near-square grid, one
    pixel apart; the gaps hold ``gap_value`` (NaN draws as the background colour)."""
    k, h, w = tiles.shape[:3]
    cols = math.ceil(math.sqrt(k))
    rows = math.ceil(k / cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1, *tiles.shape[3:]), gap_value)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = tile
    return out


def _vector_as_image(v):
    """A 1-D activation of length L as a strip about twice as wide as high, NaN-padded."""
    cols = math.ceil(math.sqrt(2 * v.size))
    out = np.full(math.ceil(v.size / cols) * cols, np.nan)
    out[:v.size] = v
    return out.reshape(-1, cols)


def network_figure(image, kernel, activations, class_labels, title=None):
    """The first layer's filters and every layer's feature maps for one image, in one figure.

    Parameters
    ----------
    image : array of shape (h, w, c), values in [0, 1]
        The input as the model sees it.
    kernel : array of shape (kh, kw, c_in, c_out)
        The first convolution's kernel; each of the ``c_out`` filters is drawn as a small RGB
        picture when ``c_in == 3`` (else the mean over its input channels), scaled by its own
        range so its pattern is visible.
    activations : list of (layer name, array)
        Each layer's output for the image, without the batch axis: (h, w, c) maps are drawn as a
        mosaic of the c channels on one shared scale (a dark tile is a channel that did not fire);
        1-D outputs as a strip of values; an output with one value per class as a bar chart.
    class_labels : list of str
        The class names for the bar chart.
    title : str or None
        A line above everything (the command puts the image's name and the prediction there).
    """
    panels = [("input", image), (f"first-layer filters ({kernel.shape[-1]})", kernel)]
    panels += activations
    cols = 3
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(5 * cols, 4.6 * rows))
    cmap = "viridis"
    for i, (name, a) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        a = np.asarray(a)
        if i == 0:
            ax.imshow(a if a.shape[-1] == 3 else a[..., 0], cmap="gray", vmin=0, vmax=1)
        elif i == 1:
            filters = a if a.shape[2] == 3 else a.mean(axis=2, keepdims=True)
            tiles = np.stack([_normalise(filters[..., o]) for o in range(a.shape[-1])])
            if tiles.shape[-1] == 1:
                ax.imshow(mosaic(tiles[..., 0]), cmap="gray")
            else:
                ax.imshow(mosaic(tiles, gap_value=1.0))
        elif a.ndim == 3:
            name = f"{name} {a.shape[0]}x{a.shape[1]}, {a.shape[2]} maps"
            ax.imshow(mosaic(np.moveaxis(_normalise(a), -1, 0)), cmap=cmap)
        elif a.size == len(class_labels):
            ax.bar(range(a.size), a, color="tab:blue")
            ax.set_xticks(range(a.size), class_labels, fontsize=7, **tick_style(class_labels))
            ax.set_ylim(0, 1)
            ax.set_title(f"{name}: class probabilities")
            continue
        else:
            name = f"{name} ({a.size} values)"
            ax.imshow(_vector_as_image(_normalise(a.ravel())), cmap=cmap)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
