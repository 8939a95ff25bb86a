"""The 24 Elder Futhark runes of the tutorial: their order, characters, names and labels.

The order is the tutorial's class order (the order of its label table): label ``i`` is ``RUNES[i]``. Index 3 is
ᚫ (U+16AB) and index 21 is ᛜ (U+16DC), the code points the tutorial used for ansuz and ingwaz.
"""

RUNES = tuple("ᚠᚢᚦᚫᚱᚲᚷᚹᚺᚾᛁᛃᛇᛈᛉᛋᛏᛒᛖᛗᛚᛜᛞᛟ")

RUNE_NAMES = (
    "fehu", "uruz", "thurisaz", "ansuz", "raidho", "kaunan", "gebo", "wunjo",
    "hagalaz", "naudiz", "isa", "jera", "eihwaz", "perthro", "algiz", "sowilo",
    "tiwaz", "berkano", "ehwaz", "mannaz", "laguz", "ingwaz", "dagaz", "othala",
)

NUM_CLASSES = len(RUNES)

# Both spellings of a label lead to its index; names are matched without regard to case.
_INDEX = {**{rune: i for i, rune in enumerate(RUNES)},
          **{name: i for i, name in enumerate(RUNE_NAMES)}}


def label_table():
    """The label table: one ``(index, rune, name, code point)`` row per class, in label order.

    The code point is written the Unicode way, e.g. ``"U+16A0"``.
    """
    return [(i, rune, name, f"U+{ord(rune):04X}")
            for i, (rune, name) in enumerate(zip(RUNES, RUNE_NAMES))]


def is_rune_label(label):
    """Whether ``label`` is a rune character or a rune name (any case)."""
    return label in _INDEX or str(label).lower() in _INDEX


def label_index(label, where=None):
    """The class index of ``label``, a rune character (``"ᚠ"``) or its name (``"fehu"``, any case).

    ``where`` names the file or folder the label came from, for the error message.
    Raises ``ValueError`` naming it and listing the known labels if the label is unknown.
    """
    index = _INDEX.get(label, _INDEX.get(str(label).lower()))
    if index is None:
        source = f" (from {where})" if where is not None else ""
        known = " ".join(f"{rune}/{name}" for rune, name in zip(RUNES, RUNE_NAMES))
        raise ValueError(f"unknown rune label {label!r}{source}: the known labels are {known}")
    return index
