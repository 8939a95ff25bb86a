"""The 24 runes as pen strokes: staves and branches, the way a person draws them.

A glyph is a list of strokes; a stroke is a polyline the pen draws without lifting, a list of
points ``(x, y, softness)`` in glyph units: ``y`` runs down from 0 (top of the stave) to 1 (its
foot), ``x`` to the right, in the same unit. ``softness`` says how much a writer who rounds
corners rounds this one: 1 for bows and arches (ᚦ's bow, the top of ᚢ), a little for the sharp
corners of branches.

Several runes have more than one **form** that people write and printers print: ᚺ with one
crossbar or two, ᛋ in three strokes or as a zig-zag, ᛜ as a small or a full-height diamond, and
so on. ``FORMS[index]`` lists them, each as ``(name, glyph function)``, the first being the form
of the Unicode code chart's reference glyph; a writer keeps one form of each rune
(``WriterStyle.forms``). ``data/README.md`` says where each form comes from. Within a form the
proportions still vary (where a branch starts, how deep a bow is, how long an arm).

Each glyph function takes the writer's proportions and a random generator for the small
choices a writer makes afresh each time:

``w``
    the width unit (a branch's horizontal reach), about 0.55;
``s``
    the slope of diagonal branches, rise per unit of run, about 0.7;
``l``
    the branch length factor, about 1;
``r``
    how round the writer draws, 0 to 1: a bow (ᚦ ᚱ ᛒ) of a round hand is a D, of a sharp one
    a triangle;
``p``
    the pen's width in glyph units (a stave is 1 long), so that strokes a writer keeps apart
    (ᛃ's two halves) stay apart in ink whatever the pen.
"""

import numpy as np

HARD = 0.15
SOFT = 1.0
# The least reach, in pen widths, of a branch that must show beside the stroke it leaves (ᛉ's
# arms beside the stave, ᛋ's downstrokes and zig-zag turns beside each other): the ink of ᛉ's
# arms stands 2.7 (Junicode), 2.9 (Noto Sans Runic) and 5.8 (FreeMono) of their pen widths out of
# the stave's, and the sowilos U+16CB and U+16CA (zig-zag) are 5.1 to 6.8 and 3.4 to 10 pen
# widths wide in the same typefaces (their ink, reach + p).
LEGIBLE_REACH = 2.5
# The least distance, in pen widths, between the centre lines of the two staves of ᛖ, ᛗ and ᛞ:
# their inks then leave four pen widths between them, room for the V or X drawn there with an
# open gap of one and a half pen widths on either side of it at its narrowest (where the V turns,
# where the X crosses). In typefaces the inks of the staves stand 3.7 to 4.6 (Noto Sans Runic),
# 4.0 to 5.0 (Junicode) and 7.4 to 7.6 (FreeMono) of their stroke widths apart, and 2.6 to 3.1 in
# Junicode's bold, the heaviest of them. Narrower, a wide pen fills the space between the staves
# and ᛖ, ᛗ and ᛞ become the same blot.
LEGIBLE_SPAN = 5.0


def _pt(x, y, softness=HARD):
    return (float(x), float(y), softness)


def _stave(x=0.0, top=0.0, foot=1.0):
    return [_pt(x, top), _pt(x, foot)]


def _bow(top, foot, reach, fullness):
    """A bow on the right of the stave from ``top`` to ``foot``: a stroke of four points.

    Its two outer points sit at ``reach``, ``fullness`` (0.15 to 1) of the half-height apart
    around the middle: nearly one point (a triangle, the carved form) at 0.15, a box at 1, which
    the writer's corner rounding turns into a D.
    """
    middle, half = (top + foot) / 2, (foot - top) / 2 * max(fullness, 0.15) * 0.8
    return [_pt(0, top), _pt(reach, middle - half, SOFT), _pt(reach, middle + half, SOFT), _pt(0, foot)]


def _angle(tip_x, tip_y, open_x, half, curved=False, steps=7):
    """An angle (``<`` if ``open_x > tip_x``, else ``>``) with its tip at ``(tip_x, tip_y)``.

    ``curved`` bends it into a hook, ``(`` or ``)``: the quadratic Bézier from one end to the
    other through the tip (its control point ``2 tip - (p + q) / 2``), whatever the writer's
    habit of rounding corners.
    """
    p, tip, q = np.array([open_x, tip_y - half]), np.array([tip_x, tip_y]), np.array([open_x, tip_y + half])
    if not curved:
        return [_pt(*p), _pt(*tip), _pt(*q)]
    control = 2 * tip - (p + q) / 2
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return [_pt(*xy, 0.0) for xy in (1 - t) ** 2 * p + 2 * t * (1 - t) * control + t ** 2 * q]


def fehu(w, s, l, r, p, rng, steep=1.0):
    # Two parallel branches rising to the right, the upper one ending at the top of the stave;
    # many hands start them flat and curve them up (the middle point sits below the chord).
    reach = w * l
    slope = s * steep
    start = reach * slope + rng.uniform(-0.03, 0.06)
    lower = start + rng.uniform(0.26, 0.36)
    curve = rng.uniform(0.15, 0.6)
    return [_stave(),
            [_pt(0, start), _pt(0.6 * reach, start - curve * reach * slope, SOFT),
             _pt(reach, start - reach * slope)],
            [_pt(0, lower), _pt(0.5 * reach, lower - curve * 0.85 * reach * slope, SOFT),
             _pt(0.85 * reach, lower - 0.85 * reach * slope)]]


def fehu_steep(w, s, l, r, p, rng):
    # The branches at 50-65 degrees, shorter in reach, as in carved inscriptions.
    return fehu(0.75 * w, s, l, r, p, rng, steep=rng.uniform(1.6, 2.2))


def uruz(w, s, l, r, p, rng):
    # Stave, then an arch over to a shorter right leg.
    shoulder = rng.uniform(0.12, 0.35) * s
    return [[_pt(0, 1), _pt(0, 0, SOFT), _pt(1.05 * w, shoulder, SOFT),
             _pt(1.05 * w, 1 - rng.uniform(0.0, 0.12))]]


def uruz_slanted(w, s, l, r, p, rng):
    # Narrow, the second stave slanting from the top of the first down and out to the right,
    # close to a Λ with one upright leg.
    top = rng.uniform(0.1, 0.3) * w
    return [[_pt(0, 1), _pt(0, 0, 0.4), _pt(top, rng.uniform(0.0, 0.06), 0.4),
             _pt(w * rng.uniform(0.75, 1.05), 1 - rng.uniform(0.0, 0.15))]]


def thurisaz(w, s, l, r, p, rng, top=(0.16, 0.3), height=(0.42, 0.6), size=(0.9, 1.15)):
    # A bow (the thorn) on the right of the stave, by default around or a little above its
    # middle, always leaving some stave above it (where ᚹ's flag starts at the very top) and
    # below it: at least a pen width at either end (the stave's ink stands out 1.1 (Noto Sans
    # Runic), 1.6 (Junicode's bold), 2.4 (Junicode) and 4.4 (FreeMono) of its stroke widths above
    # and below the thorn's), or a wide pen draws a bow that covers its stave, a D read as ᛒ.
    top = max(rng.uniform(*top), p)
    foot = min(top + rng.uniform(*height), 0.95, 1.0 - p)
    reach = w * l * rng.uniform(*size)
    # Real hands draw this bow rounder than their other corners (D- or P-like).
    return [_stave(), _bow(top, foot, reach, rng.uniform(r, 1.0))]


def thurisaz_large(w, s, l, r, p, rng):
    # A large thorn filling most of the stave.
    return thurisaz(w, s, l, r, p, rng, top=(0.1, 0.2), height=(0.65, 0.8), size=(1.1, 1.4))


def thurisaz_low(w, s, l, r, p, rng):
    # The thorn in the lower half of the stave.
    return thurisaz(w, s, l, r, p, rng, top=(0.35, 0.48), height=(0.4, 0.5), size=(0.85, 1.1))


def ansuz(w, s, l, r, p, rng):
    # Two parallel branches slanting down to the right, the upper one from the top of the stave.
    reach = 0.75 * w * l
    lower = rng.uniform(0.26, 0.38)
    return [_stave(),
            [_pt(0, 0), _pt(reach, reach * s)],
            [_pt(0, lower), _pt(0.9 * reach, lower + 0.9 * reach * s)]]


def raidho(w, s, l, r, p, rng):
    # A bow at the top right (like ᚦ at the top), then a leg down to the right.
    waist = rng.uniform(0.4, 0.55)
    return [_stave(),
            _bow(0, waist, 0.95 * w, 0.5 * r)[:-1] + [_pt(0.05 * w, waist), _pt(0.95 * w, rng.uniform(0.85, 1.0))]]


def kaunan(w, s, l, r, p, rng, half=(0.22, 0.34), middle=(0.4, 0.55), reach=(0.7, 0.9)):
    # A "<" standing by default in the middle of the height.
    half = rng.uniform(*half)
    return [_angle(0, rng.uniform(*middle), w * l * rng.uniform(*reach), half)]


def kaunan_small(w, s, l, r, p, rng):
    # A small, narrow "<", half the height of a stave (drawn alone, it is placed in the frame as
    # any rune; how small it comes out is the writer's size times its half height).
    return kaunan(w, s, l, r, p, rng, half=(0.14, 0.24), middle=(0.5, 0.5), reach=(0.4, 0.7))


def kaunan_tall(w, s, l, r, p, rng):
    # A "<" over the whole height, open or narrow.
    return kaunan(w, s, l, r, p, rng, half=(0.42, 0.5), middle=(0.5, 0.5), reach=(0.5, 1.2))


def gebo(w, s, l, r, p, rng):
    # An X over the full height.
    width = w * rng.uniform(1.0, 1.6)
    return [[_pt(0, 0), _pt(width, 1)], [_pt(width, 0), _pt(0, 1)]]


def wunjo(w, s, l, r, p, rng):
    # A pointed flag at the top of the stave.
    foot = rng.uniform(0.38, 0.55)
    return [_stave(),
            [_pt(0, 0), _pt(0.9 * w * l, foot * rng.uniform(0.35, 0.55), 0.4), _pt(0, foot)]]


def hagalaz(w, s, l, r, p, rng, bars=1):
    # Two staves joined by one bar falling to the right (or two parallel bars).
    width = w * rng.uniform(0.9, 1.2)
    if bars == 1:
        return [_stave(), _stave(width),
                [_pt(0, rng.uniform(0.25, 0.42)), _pt(width, rng.uniform(0.55, 0.75))]]
    upper, drop, gap = rng.uniform(0.18, 0.3), rng.uniform(0.15, 0.3), rng.uniform(0.2, 0.3)
    return [_stave(), _stave(width), [_pt(0, upper), _pt(width, upper + drop)],
            [_pt(0, upper + gap), _pt(width, upper + gap + drop)]]


def hagalaz_two_bars(w, s, l, r, p, rng):
    return hagalaz(w, s, l, r, p, rng, bars=2)


def naudiz(w, s, l, r, p, rng):
    # A short bar through the stave, falling to the right, from nearly level to steep.
    reach = 0.45 * w * l * rng.uniform(0.8, 1.3)
    middle, drop = rng.uniform(0.38, 0.55), rng.uniform(0.06, 0.22)
    return [_stave(), [_pt(-reach, middle - drop), _pt(reach, middle + drop)]]


def isa(w, s, l, r, p, rng):
    # A lone stave.
    return [_stave()]


def jera(w, s, l, r, p, rng, curved=False, mirrored=False):
    # Two angles: "<" at the upper left and ">" at the lower right, overlapping in height
    # (mirrored: the "<" lower, the ">" higher).
    depth = 0.55 * w * l
    upper = rng.uniform(0.0, 0.08)
    lower = rng.uniform(0.4, 0.48)
    left, right = (lower, upper) if mirrored else (upper, lower)
    # The halves stand apart, as in the reference glyph: the ">" starts to the right of the
    # "<"'s open end, so that their facing arms do not run together into ᛋ's zig-zag (which
    # they did when the ">" started inside the "<"'s mouth); hooks a little further still.
    # The gap is between the inks, as the eye sees it: a wider pen moves the halves apart by
    # one and a half of its widths (the facing ends meet at a slant, so their distance grows by
    # less than the shift); with a marker, the earlier gap of the centre lines closed into a blob.
    shift = (0.65 * w if curved else depth + rng.uniform(0.1, 0.25) * w) + 1.5 * p
    return [_angle(0, left + 0.27, depth, 0.27, curved),
            _angle(shift + depth, right + 0.27, shift, 0.27, curved)]


def jera_hooks(w, s, l, r, p, rng):
    # The two halves drawn as hooks, each bent round in the middle: "(" over ")".
    return jera(w, s, l, r, p, rng, curved=True)


def jera_mirrored(w, s, l, r, p, rng):
    return jera(w, s, l, r, p, rng, mirrored=True)


def eihwaz(w, s, l, r, p, rng):
    # Hooks at both ends of the stave: down to the right at the top, up to the left at the foot.
    reach = 0.6 * w * l
    drop = reach * s * rng.uniform(0.6, 1.2)
    return [[_pt(reach, drop), _pt(0, 0, 0.4), _pt(0, 1, 0.4), _pt(-reach, 1 - drop)]]


def perthro(w, s, l, r, p, rng):
    # Cups at both ends of the stave, opening to the right.
    reach = w * l
    depth = rng.uniform(0.15, 0.25)
    return [[_pt(reach, 0.02), _pt(0.55 * reach, depth), _pt(0, 0), _pt(0, 1),
             _pt(0.55 * reach, 1 - depth), _pt(reach, 0.98)]]


def algiz(w, s, l, r, p, rng, fork=(0.3, 0.5), arms=(1.0, 1.0)):
    # Two branches rising from the stave to the upper left and upper right.
    fork = rng.uniform(*fork)
    # Arms a few pen widths long at least, or a small rune drawn with a wide pen shows a stave
    # with a knot (read as ᛁ).
    reach = max(0.8 * w * l * rng.uniform(*arms), LEGIBLE_REACH * p)
    rise = min(fork - 0.02, reach * s * 1.3)
    return [_stave(), [_pt(-reach, fork - rise), _pt(0, fork)], [_pt(reach, fork - rise), _pt(0, fork)]]


def algiz_short(w, s, l, r, p, rng):
    # Short arms near the top of the stave.
    return algiz(w, s, l, r, p, rng, fork=(0.2, 0.35), arms=(0.35, 0.55))


def sowilo(w, s, l, r, p, rng):
    # Short stroke down, a diagonal back up to the right, a long stroke down to the foot; the
    # two downstrokes a few pen widths apart, as for the zig-zag (U+16CB's ink is 5.1 to 6.8 of
    # its stroke widths wide in the typefaces), or a wide pen runs them into one blot.
    reach = max(0.7 * w * l, LEGIBLE_REACH * p)
    knee = rng.uniform(0.45, 0.62)
    shoulder = rng.uniform(0.15, 0.32)
    return [[_pt(0, rng.uniform(0.0, 0.1)), _pt(0, knee), _pt(reach, shoulder)],
            [_pt(reach, shoulder - rng.uniform(0.0, 0.15)), _pt(reach, 1)]]


def sowilo_zigzag(w, s, l, r, p, rng):
    # A zig-zag of three or four strokes down the height, like a lightning bolt.
    # Wide enough for the turns to show in ink: a narrow zig-zag of a wide pen is a wavy stave
    # (read as ᛁ, ᚠ or ᚲ).
    reach = max(0.6 * w * l * rng.uniform(0.8, 1.2), LEGIBLE_REACH * p)
    turns = rng.integers(3, 5)
    ys = np.linspace(0.0, 1.0, turns + 1) + np.r_[0, rng.uniform(-0.05, 0.05, turns - 1), 0]
    return [[_pt(reach * ((i + 1) % 2), y) for i, y in enumerate(ys)]]


def tiwaz(w, s, l, r, p, rng):
    # An arrow head on top of the stave.
    reach = 0.75 * w * l
    drop = reach * s * rng.uniform(0.7, 1.5)
    return [_stave(), [_pt(-reach, drop), _pt(0, 0), _pt(reach, drop)]]


def berkano(w, s, l, r, p, rng):
    # Two bows on the right of the stave, one above the other.
    waist = rng.uniform(0.42, 0.52)
    return [_stave(), _bow(0, waist, 0.75 * w, r)[:-1] + _bow(waist, 1, 0.85 * w, r)]


def _two_staves(w, p, rng, spread):
    """The distance between the staves of ᛖ, ᛗ or ᛞ: ``w`` times the writer's ``spread`` this
    time, but at least ``LEGIBLE_SPAN`` pen widths, so that the ink between them stays open."""
    return max(w * rng.uniform(*spread), LEGIBLE_SPAN * p)


def _legs(low, p):
    """How far down the staves of ᛖ or ᛗ its V or X may reach from ``low`` (the form's choice):
    it leaves legs of at least ``LEGIBLE_REACH`` pen widths below it, as a branch must show
    beside the stroke it leaves (in typefaces the legs' ink is 3.4 (Junicode's bold) to 15.5
    (FreeMono) of their stroke widths long); shorter, a wide pen draws ᛗ as ᛞ, whose X runs into
    the staves' feet, and ᛖ as a blot."""
    return min(low, 1.0 - LEGIBLE_REACH * p)


def ehwaz(w, s, l, r, p, rng, depth=(0.22, 0.5)):
    # Two staves joined at the top by a V, like an M.
    width = _two_staves(w, p, rng, (0.9, 1.4))
    return [[_pt(0, 1), _pt(0, 0), _pt(width / 2, _legs(rng.uniform(*depth), p)), _pt(width, 0),
             _pt(width, 1)]]


def ehwaz_deep(w, s, l, r, p, rng):
    # The V reaching the middle of the staves or below.
    return ehwaz(w, s, l, r, p, rng, depth=(0.5, 0.7))


def mannaz(w, s, l, r, p, rng, cross=(0.4, 0.65)):
    # Two staves with an X between their upper halves.
    width = _two_staves(w, p, rng, (0.9, 1.4))
    cross = _legs(rng.uniform(*cross), p)
    return [_stave(), _stave(width), [_pt(0, 0), _pt(width, cross)], [_pt(width, 0), _pt(0, cross)]]


def mannaz_low(w, s, l, r, p, rng):
    # The X reaching down past the middle of the staves, as in Noto Sans Runic (0.65 of their
    # height), but no lower than 0.72: a ᛗ keeps legs below its X, where ᛞ's X runs into the
    # staves' feet; an X to 0.85 (the earlier range) is drawn like ᛞ.
    return mannaz(w, s, l, r, p, rng, cross=(0.6, 0.72))


def laguz(w, s, l, r, p, rng):
    # One branch falling to the right from the top of the stave.
    reach = 0.65 * w * l * rng.uniform(0.8, 1.2)
    return [[_pt(reach, reach * s * rng.uniform(0.9, 1.4)), _pt(0, 0, 0.4), _pt(0, 1)]]


def ingwaz(w, s, l, r, p, rng, half=(0.2, 0.3)):
    # A closed diamond in the middle of the height, by default small.
    half = rng.uniform(*half)
    reach = half * rng.uniform(0.7, 1.0)
    return [[_pt(0, 0.5 - half), _pt(reach, 0.5), _pt(0, 0.5 + half), _pt(-reach, 0.5),
             _pt(0, 0.5 - half)]]


def ingwaz_full(w, s, l, r, p, rng):
    # The diamond over the whole height.
    return ingwaz(w, s, l, r, p, rng, half=(0.5, 0.5))


def dagaz(w, s, l, r, p, rng):
    # Two staves joined by an X over the full height: a bow tie.
    width = _two_staves(w, p, rng, (0.9, 1.5))
    return [_stave(), _stave(width), [_pt(0, 0), _pt(width, 1)], [_pt(width, 0), _pt(0, 1)]]


def othala(w, s, l, r, p, rng):
    # A diamond whose lower sides cross and run on as two legs.
    width = w * rng.uniform(1.1, 1.4)
    side = rng.uniform(0.25, 0.38)
    return [[_pt(width / 2, 0), _pt(width, side), _pt(0, 1)],
            [_pt(width / 2, 0), _pt(0, side), _pt(width, 1)]]


# In label order (runes.RUNES): each rune's forms, the reference glyph's first.
FORMS = (
    (("branches rising", fehu), ("steep branches", fehu_steep)),
    (("arch", uruz), ("slanted second stave", uruz_slanted)),
    (("thorn in the middle", thurisaz), ("large thorn", thurisaz_large), ("low thorn", thurisaz_low)),
    (("", ansuz),),
    (("", raidho),),
    (("angle in the middle", kaunan), ("small angle", kaunan_small),
     ("full-height angle", kaunan_tall)),
    (("", gebo),),
    (("", wunjo),),
    (("one bar", hagalaz), ("two bars", hagalaz_two_bars)),
    (("", naudiz),),
    (("", isa),),
    (("two angles", jera), ("two hooks", jera_hooks), ("left angle lower", jera_mirrored)),
    (("", eihwaz),),
    (("", perthro),),
    (("long arms", algiz), ("short arms", algiz_short)),
    (("three strokes", sowilo), ("zig-zag", sowilo_zigzag)),
    (("", tiwaz),),
    (("", berkano),),
    (("V to the middle", ehwaz), ("deep V", ehwaz_deep)),
    (("X in the upper half", mannaz), ("X past the middle", mannaz_low)),
    (("", laguz),),
    (("small diamond", ingwaz), ("full-height diamond", ingwaz_full)),
    (("", dagaz),),
    (("", othala),),
)
