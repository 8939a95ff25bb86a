"""A contact sheet: a few images of every rune in one PNG, to look at a data set at a glance."""
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .files import save_png
from .loader import load_image_folder
from .runes import RUNE_NAMES


def contact_sheet(folder, path, per_rune=10, label_width=90, gap=2):
    """Write a grid of the first ``per_rune`` images of each rune in ``folder`` to ``path`` (PNG).

    One row per rune present, in label order, headed by its index and name (a runic font is
    rarely installed, so the rune itself is not printed). Images are shown as loaded by
    :func:`load_image_folder` (grayscale, 50x50, light ink on dark), with a ``gap`` of gray
    between them. The file is written to a temporary name and renamed.

    Returns the ``Path`` written.
    """
    if isinstance(per_rune, bool) or not isinstance(per_rune, (int, np.integer)) or per_rune < 1:
        raise ValueError(f"per_rune must be a positive integer, got {per_rune!r}")
    x, y, _ = load_image_folder(folder, color_mode="grayscale")
    labels = np.unique(y)
    size = x.shape[1]
    step = size + gap
    sheet = Image.new("L", (label_width + per_rune * step, len(labels) * step), 96)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for row, label in enumerate(labels):
        draw.text((4, row * step + size // 2 - 8), f"{label:2d} {RUNE_NAMES[label]}", fill=255, font=font)
        for column, image in enumerate(x[y == label][:per_rune]):
            pixels = Image.fromarray(np.round(image[..., 0] * 255).astype(np.uint8))
            sheet.paste(pixels, (label_width + column * step, row * step))
    return save_png(sheet, path)
