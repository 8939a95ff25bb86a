"""Three classes of drawn shapes (circle, square, triangle), for the tests of "your own images":
dark outlines of random size and place on white paper, like a scan, in one folder per class."""
import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


def draw_shape(shape, rng, size=40):
    """One PIL image of ``shape``: a dark outline (random centre, size and stroke) on white."""
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    r = rng.uniform(0.22, 0.38) * size
    cx, cy = rng.uniform(r + 2, size - r - 2, 2)
    width = int(rng.integers(2, 4))
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=0, width=width)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], outline=0, width=width)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], outline=0, width=width)
    return image


def make_shapes(folder, per_class=40, seed=0):
    """Write ``folder/<shape>/<n>.png`` for each shape and return the folder."""
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        (folder / shape).mkdir(parents=True, exist_ok=True)
        for n in range(1, per_class + 1):
            draw_shape(shape, rng).save(folder / shape / f"{n}.png")
    return folder
