"""Handwritten runes, drawn the way a person draws them with a pen.

A sample is made in three steps:

1. **Writer.** A :class:`WriterStyle` holds what stays the same across one person's sheet: slant,
   pen (a 1 px hairline to a bold marker a sixth of the frame wide, antialiased or hard-edged as
   a paint program draws), how large (a third of the frame up to touching its edges) and where in
   the frame they write, which form of each rune they use (:data:`glyphs.FORMS`), the proportions
   of their runes (width, branch slope and length), how much they round corners, how shaky and
   how soft their line is, and the paper or scan behind it (clean black, or slightly uneven).
2. **Gesture.** The rune's strokes (:mod:`scratchconv.data.glyphs`) are drawn once more with the
   variation of a single act of writing: every vertex jitters, each stroke over- or undershoots
   where it meets another, long strokes bow slightly, corners are rounded by the writer's habit,
   the hand trembles along the stroke and the whole rune is scaled, turned and moved a little.
3. **Ink.** The strokes are rasterised: with antialiasing a pixel's ink is the part of it the
   pen covers, ``clip(r + 1/2 - d, 0, 1)`` for a pen of radius ``r`` at distance ``d`` from the
   pixel centre; hard-edged, a pixel is ink when its centre is under the pen, ``d <= r``. The
   strokes combine by maximum (ink on ink stays ink); the writer's blur softens the line, and the
   ink lies on the paper: ``ink * c + paper * (1 - c)`` for coverage ``c``. White on black,
   8 bits, like the tutorial's images.

Everything random comes from a seeded ``numpy.random.Generator``, so a seed gives the same
images bit for bit.
"""
import dataclasses
import math
from pathlib import Path

import numpy as np
from numba import njit
from PIL import Image
from scipy import ndimage

from .files import save_png
from .glyphs import FORMS
from .runes import NUM_CLASSES, RUNES

IMAGE_SIZE = 50
# The extremes of a writer's habits, in pixels of the 50x50 frame or fractions of it: a 1 px
# hairline to a bold marker a sixth of the frame wide; runes a third of the frame high up to
# touching its edges.
PEN_RANGE = (1.0, IMAGE_SIZE / 6)
HEIGHT_RANGE = (1 / 3, 1.0)
# The blur (Gaussian sigma, px) of the writers who blur their line, before widest_blur's cap,
# and the brightness of an uneven background (its brightest parts, a fraction of white).
BLUR_RANGE = (0.6, 1.4)
PAPER_RANGE = (0.04, 0.16)


def widest_pen(height):
    """The widest pen a writer of runes ``height`` high uses: a quarter of the rune's height."""
    return 0.25 * height * IMAGE_SIZE


def widest_blur(pen):
    """The strongest blur (Gaussian sigma, px) of a line ``pen`` px wide that still shows it.

    A 1 px line blurred by sigma 0.6 keeps about half its brightness; a wider one takes more.
    """
    return 0.3 + 0.3 * pen


@dataclasses.dataclass(frozen=True)
class WriterStyle:
    """One writer's hand: what stays the same across all the runes of one sheet.

    Attributes
    ----------
    slant : float
        Lean of the staves in degrees, positive to the right.
    pen : float
        Stroke width in pixels of the 50x50 frame.
    antialias : bool
        True for a smooth line, False for a hard-edged one (every pixel all ink or none).
    height : float
        Height of a full rune (stave) as a fraction of the frame; at 1 (or for a wide rune,
        earlier) the pen's edge touches the frame.
    aspect : float
        Width of the runes relative to the standard proportions.
    slope : float
        Rise per run of diagonal branches.
    reach : float
        Length of branches relative to the standard proportions.
    roundness : float
        0 draws corners sharp, 1 turns bows and arches round.
    tremor : float
        Amplitude in pixels of the hand's low-frequency shake along a stroke.
    bend : float
        Standard deviation of the bow of long strokes, as a fraction of their length.
    softness : float
        Gaussian blur of the line in pixels (the pen bleeding, a soft scan).
    ink : float
        Brightness of the ink, 1 is full white.
    paper : float
        Brightness of the background: 0 is clean black; above 0 the paper (or scan) is uneven,
        a slow shading from ``paper / 2`` to ``paper`` with grain of a quarter of ``paper``.
    offset : tuple of float
        Where the writer puts runes in the frame, ``(dx, dy)`` as fractions of its size from the
        centre.
    forms : tuple of int
        The form of each rune this writer uses, an index into ``glyphs.FORMS[rune]`` per rune in
        label order (all the reference glyphs' forms by default).
    """

    slant: float = 0.0
    pen: float = 2.5
    antialias: bool = True
    height: float = 0.72
    aspect: float = 1.0
    slope: float = 0.7
    reach: float = 1.0
    roundness: float = 0.3
    tremor: float = 0.2
    bend: float = 0.02
    softness: float = 0.3
    ink: float = 1.0
    paper: float = 0.0
    offset: tuple = (0.0, 0.0)
    forms: tuple = (0,) * NUM_CLASSES

    @classmethod
    def random(cls, rng):
        """A random writer, covering thin and thick pens, small and large, neat and loose hands.

        Heights and pen widths are spread evenly on a log scale over ``HEIGHT_RANGE`` and
        ``PEN_RANGE`` (as many runes a third to half of the frame high as two thirds to all of
        it; as many hairlines as markers), the pen no wider than :func:`widest_pen` (nobody writes
        small with a marker). A third of the writers draw hard-edged, as a paint program does
        (and then without blur); a quarter of the others blur their line (a soft scan, a
        bleeding pen) by ``BLUR_RANGE``, no more than :func:`widest_blur`; a third write on an
        uneven background of ``PAPER_RANGE``.

        rng : numpy.random.Generator or int seed
        """
        rng = np.random.default_rng(rng)
        height = float(np.exp(rng.uniform(*np.log(HEIGHT_RANGE))))
        pen = min(float(np.exp(rng.uniform(*np.log(PEN_RANGE)))), widest_pen(height))
        antialias = bool(rng.random() >= 1 / 3)
        blurred = antialias and rng.random() < 0.25
        softness = rng.uniform(*BLUR_RANGE) if blurred else rng.uniform(0.0, 0.5) if antialias else 0.0
        softness = float(min(softness, widest_blur(pen)))
        return cls(
            slant=float(np.clip(rng.normal(0.0, 6.0), -15.0, 15.0)),
            pen=pen,
            antialias=antialias,
            height=height,
            aspect=float(rng.uniform(0.75, 1.3)),
            slope=float(rng.uniform(0.45, 1.0)),
            reach=float(rng.uniform(0.75, 1.25)),
            roundness=float(rng.uniform(0.0, 1.0)),
            tremor=float(rng.uniform(0.0, 0.5)),
            bend=float(rng.uniform(0.01, 0.05)),
            softness=softness,
            ink=float(rng.uniform(0.8, 1.0)),
            paper=float(rng.uniform(*PAPER_RANGE) if rng.random() < 1 / 3 else 0.0),
            offset=(float(rng.uniform(-0.1, 0.1)), float(rng.uniform(-0.1, 0.1))),
            forms=tuple(int(rng.integers(len(forms))) for forms in FORMS),
        )


def draw_rune(index, rng, style=None, size=IMAGE_SIZE):
    """Draw rune ``index`` once, by hand.

    Parameters
    ----------
    index : int
        Class index in ``RUNES`` order, 0..23.
    rng : numpy.random.Generator or int seed
        Source of the per-sample variation (and of the writer, if ``style`` is None).
    style : WriterStyle, optional
        The writer; a random one (:meth:`WriterStyle.random`) if None.
    size : int
        Side of the square image in pixels.

    Returns
    -------
    ndarray of shape (size, size), uint8
        White ink (255) on black (0).
    """
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
            or not 0 <= index < NUM_CLASSES:
        raise ValueError(f"rune index must be an integer from 0 to {NUM_CLASSES - 1}, got {index!r}")
    rng = np.random.default_rng(rng)
    if style is None:
        style = WriterStyle.random(rng)
    strokes = _gesture(index, style, rng)
    strokes, widths = _place(strokes, style, rng, size)
    image = _rasterise(strokes, widths, size, style.antialias)
    if style.softness > 0:
        image = ndimage.gaussian_filter(image, style.softness)
    image = image * style.ink + (1 - image) * _paper(style.paper, rng, size)
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def _paper(level, rng, size):
    """The background under the ink, (size, size) in [0, 1]: 0, or an uneven sheet of ``level``.

    A slow shading (uniform noise blurred over a fifth of the frame, stretched to ``level / 2``
    .. ``level``) plus independent grain of standard deviation ``level / 4``.
    """
    if level <= 0:
        return 0.0
    shade = ndimage.gaussian_filter(rng.random((size, size)), size / 5)
    shade = (shade - shade.min()) / max(shade.max() - shade.min(), 1e-12)
    return level * (0.5 + 0.5 * shade) + rng.normal(0.0, level / 4, size=(size, size))


def _gesture(index, style, rng):
    """The rune's strokes as drawn this time, in glyph units: a list of arrays of shape (n, 2)."""
    w = 0.55 * style.aspect * rng.uniform(0.92, 1.08)
    s = style.slope * rng.uniform(0.9, 1.1)
    l = style.reach * rng.uniform(0.92, 1.08)
    # The pen in glyph units: a stave (1 unit) is drawn about height x the frame's pixels long.
    p = style.pen / (style.height * IMAGE_SIZE)
    strokes = []
    _, glyph = FORMS[index][style.forms[index]]
    for stroke in glyph(w, s, l, style.roundness, p, rng):
        points = np.array(stroke, dtype=np.float64)
        xy = points[:, :2] + rng.normal(0.0, 0.022, size=(len(points), 2))
        xy = _overshoot(xy, rng.uniform(-0.04, 0.07, size=2))
        xy = _round_corners(xy, style.roundness * points[:, 2])
        strokes.append(_bend(xy, style.bend, rng))
    return strokes


def _overshoot(xy, amounts):
    """Move both ends of the polyline ``xy`` (n, 2) along its end directions: > 0 past, < 0 short."""
    xy = xy.copy()
    for end, inner, amount in ((0, 1, amounts[0]), (-1, -2, amounts[1])):
        direction = xy[end] - xy[inner]
        length = np.hypot(*direction)
        if length > 1e-9:
            # Never shorten a segment by more than half of it.
            xy[end] += direction / length * max(amount, -0.5 * length)
    return xy


def _round_corners(xy, roundness, steps=8):
    """Replace each inner vertex ``v`` of ``xy`` (n, 2) by a quadratic Bézier arc.

    The arc runs from ``p`` to ``q``, at distance ``d`` from the vertex along its two segments
    ``a`` and ``b``: ``d = k * share * min(|a|, |b|)`` with ``k`` the vertex's ``roundness``, where
    share is 0.9 of a segment that ends the stroke and 0.5 of one shared with another corner, so
    neighbouring arcs never overlap. Its control point ``c = v + k (v - (p + q) / 2)`` moves out
    from the vertex as the roundness grows: at small ``k`` the arc hugs both segments (a blunted
    corner); at ``k = 1`` it passes through the vertex itself (``B(1/2) = (p + q) / 4 + c / 2 = v``),
    so a fully rounded bow keeps its reach, as the D-shaped bows of real hands do.
    """
    out = [xy[0]]
    last = len(xy) - 1
    for i in range(1, last):
        corner, before, after = xy[i], xy[i - 1], xy[i + 1]
        share_before = 0.9 if i - 1 == 0 else 0.5
        share_after = 0.9 if i + 1 == last else 0.5
        len_before = np.hypot(*(before - corner))
        len_after = np.hypot(*(after - corner))
        d = roundness[i] * min(share_before * len_before, share_after * len_after)
        if d < 1e-3:
            out.append(corner)
            continue
        start = corner + (before - corner) * d / len_before
        end = corner + (after - corner) * d / len_after
        control = corner + roundness[i] * (corner - (start + end) / 2)
        t = np.linspace(0.0, 1.0, steps)[:, None]
        out.extend((1 - t) ** 2 * start + 2 * t * (1 - t) * control + t ** 2 * end)
    out.append(xy[-1])
    return np.array(out)


def _bend(xy, bend, rng, min_length=0.2, pieces=8):
    """Bow every long segment of ``xy`` (n, 2) sideways by a sine arch of random height.

    A segment of length L is displaced along its normal by ``h sin(pi t)``, ``h ~ N(0, bend L)``.
    """
    out = [xy[:1]]
    for a, b in zip(xy[:-1], xy[1:]):
        length = np.hypot(*(b - a))
        if length < min_length:
            out.append(b[None])
            continue
        t = np.linspace(0.0, 1.0, pieces + 1)[1:, None]
        normal = np.array([-(b - a)[1], (b - a)[0]]) / length
        height = rng.normal(0.0, bend * length)
        out.append(a + t * (b - a) + height * np.sin(np.pi * t) * normal)
    return np.concatenate(out)


def _place(strokes, style, rng, size):
    """Slant, turn, scale and move the strokes into the frame; add the tremor and the pen's width.

    Returns the strokes in pixel coordinates ``(x, y)`` (pixel centres at ``i + 0.5``) and, for
    each, the pen width at each of its points.
    """
    slant = math.tan(math.radians(style.slant + rng.normal(0.0, 2.0)))
    angle = math.radians(rng.normal(0.0, 3.0))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    # Slant shears x by the height above the foot; then the small rotation about the middle.
    placed = []
    for xy in strokes:
        sheared = np.column_stack([xy[:, 0] + (1.0 - xy[:, 1]) * slant, xy[:, 1]])
        placed.append((sheared - 0.5) @ rotation.T)
    pen = style.pen * rng.uniform(0.85, 1.15)
    low = np.min([p.min(0) for p in placed], axis=0)
    high = np.max([p.max(0) for p in placed], axis=0)
    # Room for half the pen at its widest and the tremor: the largest runes touch the frame,
    # none is cut by it.
    margin = 0.56 * pen + style.tremor
    extent = max(high - low).max()
    scale = style.height * size * rng.uniform(0.9, 1.1)
    # A small glyph (ᛜ's small diamond) still spans at least a third of the frame.
    scale = max(scale, HEIGHT_RANGE[0] * size / extent)
    scale = min(scale, (size - 2 * margin) / extent)
    centre = (low + high) / 2
    half = (high - low) * scale / 2
    target = size / 2 + (np.asarray(style.offset) + rng.normal(0.0, 0.04, size=2)) * size
    target = np.clip(target, margin + half, size - margin - half)
    pixels, widths = [], []
    for xy in placed:
        xy = _tremble(_densify((xy - centre) * scale + target), style.tremor, rng)
        pixels.append(xy)
        # Pressure: the width swells and thins slowly along the stroke.
        phase = rng.uniform(0, 2 * np.pi)
        widths.append(pen * (1 + 0.12 * np.sin(np.linspace(0, np.pi, len(xy)) + phase)))
    return pixels, widths


def _densify(xy, spacing=1.0):
    """Resample the polyline ``xy`` (n, 2) with points at most ``spacing`` pixels apart."""
    out = [xy[:1]]
    for a, b in zip(xy[:-1], xy[1:]):
        pieces = max(1, int(np.ceil(np.hypot(*(b - a)) / spacing)))
        t = np.linspace(0.0, 1.0, pieces + 1)[1:, None]
        out.append(a + t * (b - a))
    return np.concatenate(out)


def _tremble(xy, tremor, rng):
    """Shake the polyline ``xy`` (n, 2) along its normal: two slow sines of random phase."""
    if tremor <= 0 or len(xy) < 3:
        return xy
    step = np.diff(xy, axis=0)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(step[:, 0], step[:, 1]))])
    tangent = np.gradient(xy, axis=0)
    tangent /= np.maximum(np.hypot(tangent[:, 0], tangent[:, 1]), 1e-9)[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    wave = sum(np.sin(2 * np.pi * arc / rng.uniform(12, 30) + rng.uniform(0, 2 * np.pi))
               for _ in range(2)) / 2
    return xy + tremor * wave[:, None] * normal


def _rasterise(strokes, widths, size, antialias=True):
    """The ink of the polylines: ndarray of shape (size, size), float in [0, 1].

    For each pixel centre p and segment [a, b] the distance is ``|p - (a + t (b - a))|`` with
    ``t = clip((p - a).(b - a) / |b - a|^2, 0, 1)``; antialiased, the coverage is
    ``clip(r + 1/2 - d, 0, 1)`` with ``r`` half the pen width there, hard-edged it is 1 where
    ``d <= r`` and 0 elsewhere; a pixel takes the largest coverage of any segment.
    """
    a = np.concatenate([xy[:-1] for xy in strokes])
    b = np.concatenate([xy[1:] for xy in strokes])
    radius = np.concatenate([(w[:-1] + w[1:]) / 4 for w in widths])
    return _coverage(a, b, radius, size, antialias)


@njit(cache=True)
def _coverage(a, b, radius, size, antialias):
    """:func:`_rasterise`'s loop: segments ``a[s] -> b[s]`` (n, 2) with pen radii ``radius`` (n,).

    Only the pixels a segment can reach (within ``r + 1/2`` of it) are visited.
    """
    out = np.zeros((size, size))
    for s in range(a.shape[0]):
        ax, ay, bx, by, r = a[s, 0], a[s, 1], b[s, 0], b[s, 1], radius[s]
        abx, aby = bx - ax, by - ay
        length2 = max(abx * abx + aby * aby, 1e-12)
        reach = r + 0.5
        x0, x1 = max(int(np.floor(min(ax, bx) - reach)), 0), min(int(np.ceil(max(ax, bx) + reach)), size)
        y0, y1 = max(int(np.floor(min(ay, by) - reach)), 0), min(int(np.ceil(max(ay, by) + reach)), size)
        for i in range(y0, y1):
            py = i + 0.5
            for j in range(x0, x1):
                px = j + 0.5
                t = min(max(((px - ax) * abx + (py - ay) * aby) / length2, 0.0), 1.0)
                dx, dy = px - (ax + t * abx), py - (ay + t * aby)
                d = np.sqrt(dx * dx + dy * dy)
                if antialias:
                    ink = min(max(r + 0.5 - d, 0.0), 1.0)
                else:
                    ink = 1.0 if d <= r else 0.0
                out[i, j] = max(out[i, j], ink)
    return out


def writer_style(seed, writer):
    """The style of writer number ``writer`` of the data set made with ``seed``."""
    return WriterStyle.random(np.random.default_rng((seed, 0, writer)))


def make_dataset(out_dir, per_class, seed=0, overwrite=False):
    """Write a data set of handwritten runes in the tutorial's layout.

    Writer ``k`` (one "sheet") draws every rune once, as ``<rune>_<NN>.png`` with ``NN = k + 1``
    written with at least two digits (``ᚠ_01.png``, ``ᚠ_99.png``, ``ᚠ_100.png``), so that a set
    with more writers keeps the names of the first ones. Each file is written to a temporary name
    in ``out_dir`` and renamed, so an interrupted run never leaves a half-written image.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into; created if missing. An existing folder must be empty unless
        ``overwrite`` is True, which replaces files of the same names and keeps the others.
    per_class : int
        Images per rune (writers), at least 1.
    seed : int
        Seed of the whole set: the same seed writes the same files byte for byte.

    Returns
    -------
    list of Path
        The written files, rune by rune in label order, writer by writer.
    """
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer, got {per_class!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise ValueError(f"{out_dir} is not empty: choose an empty folder or pass overwrite=True")
    out_dir.mkdir(parents=True, exist_ok=True)
    styles = [writer_style(seed, k) for k in range(per_class)]
    paths = []
    for index, rune in enumerate(RUNES):
        for k, style in enumerate(styles):
            image = draw_rune(index, np.random.default_rng((seed, 1, k, index)), style)
            path = out_dir / f"{rune}_{k + 1:02d}.png"
            save_png(Image.fromarray(image), path)
            paths.append(path)
    return paths

