"""The handwriting generator and the rune label table."""
import numpy as np
import pytest
from PIL import Image

from scratchconv import data
from scratchconv.data.generator import WriterStyle, draw_rune, make_dataset, writer_style
from scratchconv.data.glyphs import FORMS, LEGIBLE_REACH, LEGIBLE_SPAN


def test_runes_are_the_tutorial_order_and_code_points():
    assert "".join(data.RUNES) == "ᚠᚢᚦᚫᚱᚲᚷᚹᚺᚾᛁᛃᛇᛈᛉᛋᛏᛒᛖᛗᛚᛜᛞᛟ"
    assert data.RUNES[3] == "\u16ab" and data.RUNES[21] == "\u16dc"
    assert data.RUNE_NAMES[:4] == ("fehu", "uruz", "thurisaz", "ansuz")
    assert data.RUNE_NAMES[-3:] == ("ingwaz", "dagaz", "othala")


def test_label_table_rows_are_index_rune_name_code_point():
    table = data.label_table()
    assert len(table) == 24
    assert table[0] == (0, "ᚠ", "fehu", "U+16A0")
    assert table[21] == (21, "ᛜ", "ingwaz", "U+16DC")


@pytest.mark.parametrize("label, index", [("ᚠ", 0), ("fehu", 0), ("Othala", 23), ("ᛜ", 21)])
def test_label_index_takes_rune_or_name(label, index):
    assert data.label_index(label) == index


def test_unknown_label_names_its_source_and_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown rune label 'feoh' \(from x/feoh_1.png\).*ᚠ/fehu"):
        data.label_index("feoh", where="x/feoh_1.png")


@pytest.mark.parametrize("index", range(24))
def test_draw_rune_is_a_50x50_uint8_white_on_black_image(index):
    image = draw_rune(index, index)
    assert image.shape == (50, 50) and image.dtype == np.uint8
    # A dark background (black, or a slightly uneven sheet), some ink (a blurred 1 px hairline
    # keeps about half of its brightness).
    assert np.median(image) < 0.2 * 255 and image.max() > 80


@pytest.mark.parametrize("index, form", [(i, f) for i, forms in enumerate(FORMS) for f in range(len(forms))])
def test_every_form_of_every_rune_stays_in_a_clean_frame(index, form):
    # A writer of runes six tenths of the frame high, on a clean background: no ink at the
    # frame's edge (larger runes may touch it).
    forms = (0,) * 24
    style = WriterStyle(height=0.6, forms=forms[:index] + (form,) + forms[index + 1:])
    image = draw_rune(index, 7, style)
    assert np.median(image) == 0 and image.max() > 150
    assert max(image[0].max(), image[-1].max(), image[:, 0].max(), image[:, -1].max()) < 16


def test_runes_of_full_height_touch_the_frame_but_are_not_cut():
    image = draw_rune(10, 0, WriterStyle(height=1.0, slant=0.0, softness=0.0, pen=4.0))
    # The stave's two ends reach the outermost rows with the tips of the round pen, not with
    # its full width as a stave cut by the frame would.
    for row in (image[0], image[-1]):
        assert row.max() > 80 and (row > 250).sum() == 0
    assert (image[25] > 250).sum() >= 3


def test_hard_edged_ink_is_all_or_nothing_and_antialiased_ink_is_graded():
    hard = draw_rune(6, 0, WriterStyle(antialias=False, softness=0.0))
    smooth = draw_rune(6, 0, WriterStyle(antialias=True, softness=0.0))
    assert set(np.unique(hard)) == {0, 255}
    assert len(np.unique(smooth)) > 10


def test_an_uneven_background_stays_dark_and_is_not_flat():
    image = draw_rune(10, 0, WriterStyle(paper=0.16))
    background = image[:, :10]
    assert 0 < np.median(background) < 0.2 * 255 and background.std() > 2


def test_the_full_height_diamond_of_ingwaz_is_taller_than_the_small_one():
    def height(form):
        image = draw_rune(21, 0, WriterStyle(forms=(0,) * 21 + (form, 0, 0)))
        return np.ptp(np.flatnonzero(image.max(axis=1) > 127))
    assert height(1) > 1.5 * height(0)


def _points(stroke):
    p = np.array(stroke)[:, :2]
    return np.concatenate([a + np.linspace(0, 1, 50)[:, None] * (b - a) for a, b in zip(p[:-1], p[1:])])


def test_the_two_halves_of_jera_stand_apart_in_ink():
    # Joined, the two angles (or hooks) of ᛃ draw ᛋ's zig-zag (or, with a marker, a blob): in
    # every form their inks keep at least a tenth of the width unit between them, whatever the
    # writer's proportions and pen (p, in glyph units: up to a quarter of the stave).
    rng = np.random.default_rng(0)
    for _, glyph in FORMS[data.RUNES.index("ᛃ")]:
        for _ in range(100):
            w, reach, pen = 0.55 * rng.uniform(0.69, 1.4), rng.uniform(0.75, 1.25), rng.uniform(0.02, 0.25)
            upper_left, lower_right = (_points(stroke) for stroke in glyph(w, 0.7, reach, 0.5, pen, rng))
            gap = np.sqrt(((upper_left[:, None] - lower_right[None]) ** 2).sum(-1)).min()
            assert gap - pen > 0.1 * w


def test_algiz_arms_and_sowilo_reach_a_few_pen_widths():
    # ᛉ's arms out of its stave, and ᛋ's downstrokes or zig-zag turns out of each other, reach at
    # least LEGIBLE_REACH pen widths in every form, whatever the writer's proportions and pen (p,
    # in glyph units: up to a quarter of the stave); with a wide pen a few pixels of arm drew ᛁ.
    rng = np.random.default_rng(0)
    glyphs = [*FORMS[data.RUNES.index("ᛉ")], *FORMS[data.RUNES.index("ᛋ")]]
    for name, glyph in glyphs:
        for _ in range(200):
            w, reach, pen = 0.55 * rng.uniform(0.69, 1.4), rng.uniform(0.75, 1.25), rng.uniform(0.02, 0.25)
            xs = np.concatenate([np.array(stroke)[:, 0] for stroke in glyph(w, 0.7, reach, 0.5, pen, rng)])
            assert xs.max() - max(xs.min(), 0.0) >= LEGIBLE_REACH * pen - 1e-12, name


def test_mannaz_keeps_legs_below_its_x_and_dagaz_does_not():
    # What tells ᛗ from ᛞ: ᛗ's X meets its staves at the middle or a little below (typefaces: at
    # 0.47-0.65 of the height), leaving legs below it; ᛞ's X runs into the feet. In every form
    # of ᛗ the X's arms end at most at 0.72 of the staves (0.85 drew ᛞ), and higher with a pen
    # so wide that the legs would be shorter than LEGIBLE_REACH pen widths; so does ᛖ's V.
    rng = np.random.default_rng(0)
    for rune, middle in (("ᛗ", slice(2, None)), ("ᛖ", slice(0, 1))):
        for name, glyph in FORMS[data.RUNES.index(rune)]:
            for _ in range(200):
                pen = rng.uniform(0.02, 0.25)
                strokes = glyph(0.55 * rng.uniform(0.69, 1.4), 0.7, 1.0, 0.5, pen, rng)
                if rune == "ᛗ":
                    low = max(np.array(arm)[:, 1].max() for arm in strokes[middle])
                    assert low <= 0.72, name
                else:
                    low = np.array(strokes[0])[2, 1]  # the V's turn, between the staves
                assert 1.0 - low >= LEGIBLE_REACH * pen - 1e-12, (rune, name)
    _, dagaz = FORMS[data.RUNES.index("ᛞ")][0]
    assert min(np.array(arm)[:, 1].max() for arm in dagaz(0.55, 0.7, 1.0, 0.5, 0.05, rng)[2:]) == 1.0


def test_thurisaz_shows_its_stave_above_and_below_the_thorn():
    # In every form of ᚦ the stave stands out at least a pen width beyond the thorn at both ends,
    # whatever the writer's proportions and pen (p, in glyph units: up to a quarter of the stave);
    # a thorn covering its stave was read as ᛒ.
    rng = np.random.default_rng(0)
    for name, glyph in FORMS[data.RUNES.index("ᚦ")]:
        for _ in range(200):
            pen = rng.uniform(0.02, 0.25)
            _, thorn = glyph(0.55 * rng.uniform(0.69, 1.4), 0.7, rng.uniform(0.75, 1.25), 0.5, pen, rng)
            assert thorn[0][1] >= pen and thorn[-1][1] <= 1.0 - pen + 1e-12, name


def test_two_staved_runes_keep_their_staves_a_few_pen_widths_apart():
    # ᛖ's V, and ᛗ's and ᛞ's X, are drawn between two staves: in every form the staves stand at
    # least LEGIBLE_SPAN pen widths apart, whatever the writer's proportions and pen (p, in glyph
    # units: up to a quarter of the stave); narrower, a wide pen drew all three as one blot.
    rng = np.random.default_rng(0)
    for rune in "ᛖᛗᛞ":
        for name, glyph in FORMS[data.RUNES.index(rune)]:
            for _ in range(200):
                pen = rng.uniform(0.02, 0.25)
                strokes = glyph(0.55 * rng.uniform(0.69, 1.4), 0.7, 1.0, 0.5, pen, rng)
                xs = np.concatenate([np.array(stroke)[:, 0] for stroke in strokes])
                assert xs.min() == 0.0 and xs.max() >= LEGIBLE_SPAN * pen - 1e-12, (rune, name)


def test_random_writers_cover_every_habit_and_form():
    styles = [writer_style(0, k) for k in range(300)]
    pens = [style.pen for style in styles]
    heights = [style.height for style in styles]
    assert min(pens) < 1.1 and max(pens) > 7.5
    assert min(heights) < 0.36 and max(heights) > 0.97
    assert {style.antialias for style in styles} == {True, False}
    assert max(style.softness for style in styles) > 1.0 and max(style.paper for style in styles) > 0.1
    for rune, forms in enumerate(FORMS):
        assert {style.forms[rune] for style in styles} == set(range(len(forms)))
    # No marker on small runes: a pen at most a quarter of the rune's height.
    assert all(style.pen <= 0.25 * style.height * 50 + 1e-9 for style in styles)


def test_draw_rune_is_deterministic_for_a_seed():
    assert np.array_equal(draw_rune(5, 123), draw_rune(5, 123))
    assert not np.array_equal(draw_rune(5, 123), draw_rune(5, 124))


def test_a_writer_style_keeps_the_pen_width():
    thin, thick = WriterStyle(pen=1.3, softness=0.0), WriterStyle(pen=4.5, softness=0.0)
    ink_thin = (draw_rune(10, 0, thin) > 127).sum()
    ink_thick = (draw_rune(10, 0, thick) > 127).sum()
    assert ink_thick > 2 * ink_thin


@pytest.mark.parametrize("index", [-1, 24, 2.0, True])
def test_draw_rune_rejects_a_bad_index(index):
    with pytest.raises(ValueError, match="rune index must be an integer from 0 to 23"):
        draw_rune(index, 0)


def test_writer_style_depends_only_on_seed_and_writer():
    assert writer_style(7, 3) == writer_style(7, 3)
    assert writer_style(7, 3) != writer_style(7, 4)


def test_make_dataset_writes_tutorial_names_in_label_order(tmp_path):
    paths = make_dataset(tmp_path / "runes", per_class=2, seed=0)
    assert [p.name for p in paths[:3]] == ["ᚠ_01.png", "ᚠ_02.png", "ᚢ_01.png"]
    assert paths[-1].name == "ᛟ_02.png"
    assert len(paths) == 48 and sorted(p.name for p in (tmp_path / "runes").iterdir()) == \
        sorted(p.name for p in paths)
    with Image.open(paths[0]) as image:
        assert image.mode == "L" and image.size == (50, 50)


def test_make_dataset_is_byte_for_byte_deterministic(tmp_path):
    first = make_dataset(tmp_path / "a", per_class=1, seed=3)
    second = make_dataset(tmp_path / "b", per_class=1, seed=3)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_make_dataset_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="is not empty: choose an empty folder or pass overwrite=True"):
        make_dataset(tmp_path, per_class=1)


def test_make_dataset_overwrite_keeps_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    make_dataset(tmp_path, per_class=1, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("per_class, seed, message", [
    (0, 0, "per_class must be a positive integer"),
    (2.5, 0, "per_class must be a positive integer"),
    (1, -1, "seed must be a non-negative integer"),
])
def test_make_dataset_rejects_bad_arguments(tmp_path, per_class, seed, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(tmp_path, per_class=per_class, seed=seed)


def test_make_dataset_refuses_a_file_as_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        make_dataset(tmp_path / "f", per_class=1)


def test_make_dataset_files_get_the_usual_permissions(tmp_path):
    import os
    umask = os.umask(0)
    os.umask(umask)
    path = make_dataset(tmp_path, per_class=1)[0]
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_shipped_images_are_what_the_documented_command_draws(tmp_path):
    # data/README.md: make_dataset("data/runes", per_class=45, seed=0). Writer k's images depend
    # only on (seed, k), so the first writer alone must reproduce every <rune>_01.png.
    shipped = data.default_data_dir()
    for path in make_dataset(tmp_path, per_class=1, seed=0):
        assert path.read_bytes() == (shipped / path.name).read_bytes(), path.name
