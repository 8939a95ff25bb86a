"""The 24 runes as pen strokes: staves and branches, the way a person draws them.

A glyph is a list of strokes; a stroke is a polyline the pen draws without lifting, a list of
points ``(x, y, softness)`` in glyph units: ``y`` runs down from 0 (top of the stave) to 1 (its
foot), ``x`` to the right, in the same unit. ``softness`` says how much a writer who rounds
corners rounds this one: 1 for bows and arches (ᚦ's bow, the top of ᚢ), a little for the sharp
corners of branches.

The shapes follow the standard Elder Futhark forms; where a rune has several, the ones real
writers use (the Anglo-Saxon Futhorc drawings of Omniglot share them for 20 of the 24 runes):
ᛋ is the three-stroke sowilo of U+16CB (short stroke, diagonal, long stroke), ᛜ the small
closed diamond of U+16DC.

Each glyph function takes the writer's proportions and a random generator for the small
choices a writer makes afresh each time (where a branch starts, how deep a bow is):

``w``
    the width unit (a branch's horizontal reach), about 0.55;
``s``
    the slope of diagonal branches, rise per unit of run, about 0.7;
``l``
    the branch length factor, about 1;
``r``
    how round the writer draws, 0 to 1: a bow (ᚦ ᚱ ᛒ) of a round hand is a D, of a sharp one
    a triangle.
"""

HARD = 0.15
SOFT = 1.0


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


def fehu(w, s, l, r, rng):
    # Two parallel branches rising to the right, the upper one ending at the top of the stave;
    # many hands start them flat and curve them up (the middle point sits below the chord).
    reach = w * l
    start = reach * s + rng.uniform(-0.03, 0.06)
    lower = start + rng.uniform(0.26, 0.36)
    curve = rng.uniform(0.15, 0.6)
    return [_stave(),
            [_pt(0, start), _pt(0.6 * reach, start - curve * reach * s, SOFT),
             _pt(reach, start - reach * s)],
            [_pt(0, lower), _pt(0.5 * reach, lower - curve * 0.85 * reach * s, SOFT),
             _pt(0.85 * reach, lower - 0.85 * reach * s)]]


def uruz(w, s, l, r, rng):
    # Stave, then an arch over to a shorter right leg.
    shoulder = rng.uniform(0.12, 0.35) * s
    return [[_pt(0, 1), _pt(0, 0, SOFT), _pt(1.05 * w, shoulder, SOFT),
             _pt(1.05 * w, 1 - rng.uniform(0.0, 0.12))]]


def thurisaz(w, s, l, r, rng):
    # A large bow (the thorn) on the right of the stave, around or a little above its middle,
    # always leaving some stave above it (where ᚹ's flag starts at the very top).
    top = rng.uniform(0.16, 0.3)
    foot = top + rng.uniform(0.42, 0.6)
    reach = w * l * rng.uniform(0.9, 1.15)
    # Real hands draw this bow rounder than their other corners (D- or P-like).
    return [_stave(), _bow(top, foot, reach, rng.uniform(r, 1.0))]


def ansuz(w, s, l, r, rng):
    # Two parallel branches slanting down to the right, the upper one from the top of the stave.
    reach = 0.75 * w * l
    lower = rng.uniform(0.26, 0.38)
    return [_stave(),
            [_pt(0, 0), _pt(reach, reach * s)],
            [_pt(0, lower), _pt(0.9 * reach, lower + 0.9 * reach * s)]]


def raidho(w, s, l, r, rng):
    # A bow at the top right (like ᚦ at the top), then a leg down to the right.
    waist = rng.uniform(0.4, 0.55)
    return [_stave(),
            _bow(0, waist, 0.95 * w, 0.5 * r)[:-1] + [_pt(0.05 * w, waist), _pt(0.95 * w, rng.uniform(0.85, 1.0))]]


def kaunan(w, s, l, r, rng):
    # A "<" standing in the middle of the height.
    half = rng.uniform(0.22, 0.34)
    middle = 0.5 + rng.uniform(-0.1, 0.05)
    reach = 0.8 * w * l
    return [[_pt(reach, middle - half), _pt(0, middle), _pt(reach, middle + half)]]


def gebo(w, s, l, r, rng):
    # An X over the full height.
    width = w * rng.uniform(1.1, 1.5)
    return [[_pt(0, 0), _pt(width, 1)], [_pt(width, 0), _pt(0, 1)]]


def wunjo(w, s, l, r, rng):
    # A pointed flag at the top of the stave.
    foot = rng.uniform(0.38, 0.55)
    return [_stave(),
            [_pt(0, 0), _pt(0.9 * w * l, foot * rng.uniform(0.35, 0.55), 0.4), _pt(0, foot)]]


def hagalaz(w, s, l, r, rng):
    # Two staves joined by one bar falling to the right.
    width = w * rng.uniform(0.9, 1.2)
    return [_stave(), _stave(width),
            [_pt(0, rng.uniform(0.25, 0.42)), _pt(width, rng.uniform(0.55, 0.75))]]


def naudiz(w, s, l, r, rng):
    # A short bar through the stave, falling to the right.
    reach = 0.45 * w * l
    return [_stave(), [_pt(-reach, rng.uniform(0.28, 0.42)), _pt(reach, rng.uniform(0.52, 0.68))]]


def isa(w, s, l, r, rng):
    # A lone stave.
    return [_stave()]


def jera(w, s, l, r, rng):
    # Two angles: "<" at the upper left and ">" at the lower right, overlapping in height.
    depth = 0.55 * w * l
    upper = rng.uniform(0.0, 0.08)
    lower = rng.uniform(0.4, 0.48)
    return [[_pt(depth, upper), _pt(0, upper + 0.27), _pt(depth, upper + 0.54)],
            [_pt(0.45 * w, lower), _pt(0.45 * w + depth, lower + 0.27), _pt(0.45 * w, lower + 0.54)]]


def eihwaz(w, s, l, r, rng):
    # Hooks at both ends of the stave: down to the right at the top, up to the left at the foot.
    reach = 0.6 * w * l
    drop = reach * s * rng.uniform(0.6, 1.2)
    return [[_pt(reach, drop), _pt(0, 0, 0.4), _pt(0, 1, 0.4), _pt(-reach, 1 - drop)]]


def perthro(w, s, l, r, rng):
    # Cups at both ends of the stave, opening to the right.
    reach = w * l
    depth = rng.uniform(0.15, 0.25)
    return [[_pt(reach, 0.02), _pt(0.55 * reach, depth), _pt(0, 0), _pt(0, 1),
             _pt(0.55 * reach, 1 - depth), _pt(reach, 0.98)]]


def algiz(w, s, l, r, rng):
    # Two branches rising from the stave to the upper left and upper right.
    fork = rng.uniform(0.3, 0.5)
    reach = 0.8 * w * l
    rise = min(fork - 0.02, reach * s * 1.3)
    return [_stave(), [_pt(-reach, fork - rise), _pt(0, fork)], [_pt(reach, fork - rise), _pt(0, fork)]]


def sowilo(w, s, l, r, rng):
    # Short stroke down, a diagonal back up to the right, a long stroke down to the foot.
    reach = 0.7 * w * l
    knee = rng.uniform(0.45, 0.62)
    shoulder = rng.uniform(0.15, 0.32)
    return [[_pt(0, rng.uniform(0.0, 0.1)), _pt(0, knee), _pt(reach, shoulder)],
            [_pt(reach, shoulder - rng.uniform(0.0, 0.15)), _pt(reach, 1)]]


def tiwaz(w, s, l, r, rng):
    # An arrow head on top of the stave.
    reach = 0.75 * w * l
    drop = reach * s * rng.uniform(0.8, 1.3)
    return [_stave(), [_pt(-reach, drop), _pt(0, 0), _pt(reach, drop)]]


def berkano(w, s, l, r, rng):
    # Two bows on the right of the stave, one above the other.
    waist = rng.uniform(0.42, 0.52)
    return [_stave(), _bow(0, waist, 0.75 * w, r)[:-1] + _bow(waist, 1, 0.85 * w, r)]


def ehwaz(w, s, l, r, rng):
    # Two staves joined at the top by a V, like an M.
    width = w * rng.uniform(1.0, 1.3)
    return [[_pt(0, 1), _pt(0, 0), _pt(width / 2, rng.uniform(0.22, 0.5)), _pt(width, 0),
             _pt(width, 1)]]


def mannaz(w, s, l, r, rng):
    # Two staves with an X between their upper halves.
    width = w * rng.uniform(1.0, 1.3)
    cross = rng.uniform(0.4, 0.65)
    return [_stave(), _stave(width), [_pt(0, 0), _pt(width, cross)], [_pt(width, 0), _pt(0, cross)]]


def laguz(w, s, l, r, rng):
    # One branch falling to the right from the top of the stave.
    reach = 0.65 * w * l
    return [[_pt(reach, reach * s * rng.uniform(0.9, 1.4)), _pt(0, 0, 0.4), _pt(0, 1)]]


def ingwaz(w, s, l, r, rng):
    # A small closed diamond in the middle of the height.
    half = rng.uniform(0.2, 0.3)
    reach = half * rng.uniform(0.7, 1.0)
    return [[_pt(0, 0.5 - half), _pt(reach, 0.5), _pt(0, 0.5 + half), _pt(-reach, 0.5),
             _pt(0, 0.5 - half)]]


def dagaz(w, s, l, r, rng):
    # Two staves joined by an X over the full height: a bow tie.
    width = w * rng.uniform(0.9, 1.5)
    return [_stave(), _stave(width), [_pt(0, 0), _pt(width, 1)], [_pt(width, 0), _pt(0, 1)]]


def othala(w, s, l, r, rng):
    # A diamond whose lower sides cross and run on as two legs.
    width = w * rng.uniform(1.1, 1.4)
    side = rng.uniform(0.25, 0.38)
    return [[_pt(width / 2, 0), _pt(width, side), _pt(0, 1)],
            [_pt(width / 2, 0), _pt(0, side), _pt(width, 1)]]


# In label order (runes.RUNES).
GLYPHS = (fehu, uruz, thurisaz, ansuz, raidho, kaunan, gebo, wunjo, hagalaz, naudiz, isa, jera,
          eihwaz, perthro, algiz, sowilo, tiwaz, berkano, ehwaz, mannaz, laguz, ingwaz, dagaz, othala)
