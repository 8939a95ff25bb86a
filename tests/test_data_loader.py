"""load_image_folder: both layouts, every image mode, polarity, order, and each bad input's message."""
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchconv import data

REAL = Path(__file__).resolve().parents[2] / "shared" / "omniglot-futhorc"


def _stroke(size=30, ink=255, paper=0):
    """A vertical bar (like ᛁ) of ink on paper: ndarray of shape (size, size), uint8."""
    image = np.full((size, size), paper, dtype=np.uint8)
    image[4:-4, size // 2 - 2:size // 2 + 2] = ink
    return image


def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(path)


def _all_runes(folder, by="rune"):
    names = data.RUNES if by == "rune" else data.RUNE_NAMES
    for name in names:
        _save(folder / f"{name}_01.png", _stroke())


def test_tutorial_layout_by_rune_character(tmp_path):
    _all_runes(tmp_path)
    x, y, names = data.load_image_folder(tmp_path)
    assert x.shape == (24, 50, 50, 3) and x.dtype == np.float32
    assert list(y) == list(range(24)) and names == list(data.RUNES)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_tutorial_layout_by_rune_name(tmp_path):
    _all_runes(tmp_path, by="name")
    _, y, _ = data.load_image_folder(tmp_path)
    assert list(y) == list(range(24))


def test_folder_per_class_layout_by_rune_and_by_name(tmp_path):
    for i, rune in enumerate(data.RUNES):
        folder = rune if i % 2 else data.RUNE_NAMES[i]
        _save(tmp_path / folder / "scan.png", _stroke())
    _, y, _ = data.load_image_folder(tmp_path)
    assert list(y) == list(range(24))


def test_file_order_is_label_then_natural_name(tmp_path):
    _all_runes(tmp_path)
    for n in (10, 2):
        _save(tmp_path / f"ᚠ_{n}.png", _stroke(ink=n))
    x, y, _ = data.load_image_folder(tmp_path, invert=False, color_mode="grayscale")
    assert list(y[:4]) == [0, 0, 0, 1]
    # ᚠ_01 (ink 255), ᚠ_2 (ink 2), ᚠ_10 (ink 10): the bar's brightness tells them apart.
    assert np.allclose(x[:3, 25, 25, 0] * 255, [255, 2, 10], atol=0.5)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "1", "I;16"])
def test_every_image_mode_loads_as_the_same_picture(tmp_path, mode):
    array = _stroke(size=50)
    if mode == "I;16":
        Image.fromarray(array.astype(np.uint16) * 257).save(tmp_path / "isa_1.png")
    else:
        _save(tmp_path / "isa_1.png", array, mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, _, _ = data.load_image_folder(tmp_path, color_mode="grayscale")
    assert np.allclose(x[0, ..., 0], array / 255.0, atol=1e-6)


def test_transparent_background_behind_dark_ink_counts_as_paper(tmp_path):
    rgba = np.zeros((50, 50, 4), dtype=np.uint8)
    rgba[..., 3] = (_stroke(size=50) > 0) * 255   # opaque black bar, transparent elsewhere
    _save(tmp_path / "isa_1.png", rgba)
    with pytest.warns(UserWarning):
        x, _, _ = data.load_image_folder(tmp_path, color_mode="grayscale")
    assert np.allclose(x[0, ..., 0], _stroke(size=50) / 255.0)


def test_dark_on_light_is_inverted_and_the_option_turns_it_off(tmp_path):
    _save(tmp_path / "isa_1.png", _stroke(size=50, ink=0, paper=255))
    with pytest.warns(UserWarning):
        auto, _, _ = data.load_image_folder(tmp_path)
    with pytest.warns(UserWarning):
        kept, _, _ = data.load_image_folder(tmp_path, invert=False)
    assert np.allclose(auto[0, ..., 0], _stroke(size=50) / 255.0)
    assert np.allclose(kept[0, ..., 0], 1.0 - _stroke(size=50) / 255.0)


def test_any_size_is_resized_and_grayscale_has_one_channel(tmp_path):
    _save(tmp_path / "isa_1.png", _stroke(size=105))
    with pytest.warns(UserWarning):
        x, _, _ = data.load_image_folder(tmp_path, image_size=28, color_mode="grayscale")
    assert x.shape == (1, 28, 28, 1)


def test_rgb_repeats_gray_in_three_channels(tmp_path):
    _all_runes(tmp_path)
    x, _, _ = data.load_image_folder(tmp_path)
    assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 0], x[..., 2])


def test_non_images_and_hidden_files_are_ignored(tmp_path):
    _all_runes(tmp_path)
    (tmp_path / "README.md").write_text("not a rune")
    (tmp_path / ".ᚠ_9.png.tmp").write_bytes(b"half")
    x, _, _ = data.load_image_folder(tmp_path)
    assert len(x) == 24


def test_unreadable_image_is_reported_with_its_path_and_skipped(tmp_path):
    _all_runes(tmp_path)
    (tmp_path / "ᚠ_02.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match=r"ᚠ_02\.png is not a readable image \(.*\); skipped"):
        x, _, _ = data.load_image_folder(tmp_path)
    assert len(x) == 24


def test_unreadable_image_fails_a_strict_load(tmp_path):
    _all_runes(tmp_path)
    (tmp_path / "ᚠ_02.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"ᚠ_02\.png is not a readable image"):
        data.load_image_folder(tmp_path, strict=True)


def test_a_misspelled_rune_among_runes_is_an_error_naming_both(tmp_path):
    _all_runes(tmp_path)
    _save(tmp_path / "feoh_01.png", _stroke())
    with pytest.raises(ValueError, match=r"mixes rune labels \('ᚠ' from .*ᚠ_01\.png\) with others "
                                         r"\('feoh' from .*feoh_01\.png\).*class_names="):
        data.load_image_folder(tmp_path)


def _shapes(folder, layout, per_class=2):
    """per_class images of each of cat, dog, bird (a bar of a different brightness each)."""
    for k, name in enumerate(("cat", "dog", "bird")):
        for n in range(1, per_class + 1):
            path = folder / name / f"{n}.png" if layout == "folders" else folder / f"{name}_{n}.png"
            _save(path, _stroke(ink=100 + 50 * k))


@pytest.mark.parametrize("layout", ["folders", "flat"])
def test_any_classes_are_read_in_sorted_order_with_their_names(tmp_path, layout):
    _shapes(tmp_path, layout)
    x, y, names = data.load_image_folder(tmp_path, invert=False, color_mode="grayscale")
    assert names == ["bird", "cat", "dog"]
    assert list(y) == [0, 0, 1, 1, 2, 2]
    # bird's bar was drawn with ink 200, cat's with 100, dog's with 150.
    assert np.allclose(x[::2, 25, 25, 0] * 255, [200, 100, 150], atol=0.5)


def test_class_names_set_the_order(tmp_path):
    _shapes(tmp_path, "folders")
    _, y, names = data.load_image_folder(tmp_path, class_names=["dog", "cat", "bird"])
    assert names == ["dog", "cat", "bird"] and list(y) == [0, 0, 1, 1, 2, 2]


def test_a_label_outside_the_class_names_is_an_error_naming_the_file(tmp_path):
    _shapes(tmp_path, "flat")
    with pytest.raises(ValueError, match=r"bird_1\.png has the label 'bird', which is not one of the "
                                         r"class names cat, dog"):
        data.load_image_folder(tmp_path, class_names=["cat", "dog"])


def test_a_class_name_without_images_is_a_warning(tmp_path):
    _shapes(tmp_path, "flat")
    with pytest.warns(UserWarning, match="has no images of 1 of the 4 classes: fish"):
        _, y, names = data.load_image_folder(tmp_path, class_names=["bird", "cat", "dog", "fish"])
    assert names[3] == "fish" and 3 not in y


def test_runes_by_name_in_any_case_are_the_runes(tmp_path):
    _save(tmp_path / "FEHU_1.png", _stroke())
    _save(tmp_path / "ᚢ_1.png", _stroke())
    with pytest.warns(UserWarning, match="22 of the 24 runes"):
        _, y, names = data.load_image_folder(tmp_path)
    assert names == list(data.RUNES) and list(y) == [0, 1]


def test_validation_split_holds_out_the_same_files_for_the_same_seed(tmp_path):
    _shapes(tmp_path, "folders", per_class=10)
    (x_train, y_train), (x_val, y_val), names = data.load_image_folder(
        tmp_path, validation_split=0.2, subset="both", seed=3)
    assert len(x_train) == 24 and len(x_val) == 6 and names == ["bird", "cat", "dog"]
    x_val_again, y_val_again, _ = data.load_image_folder(tmp_path, validation_split=0.2,
                                                          subset="validation", seed=3)
    assert np.array_equal(x_val, x_val_again) and np.array_equal(y_val, y_val_again)
    x_train_again, _, _ = data.load_image_folder(tmp_path, validation_split=0.2,
                                                 subset="training", seed=3)
    assert np.array_equal(x_train, x_train_again)
    files, labels, _ = data.labelled_files(tmp_path)
    assert len(files) == 30 and labels == sorted(labels)


@pytest.mark.parametrize("options, message", [
    ({"validation_split": 0.2, "seed": 1}, "subset must be 'training', 'validation' or 'both'"),
    ({"validation_split": 0.2, "subset": "training"}, "give seed="),
    ({"validation_split": 1.5, "subset": "training", "seed": 1}, "validation_split must be a fraction"),
    ({"subset": "training"}, "needs validation_split="),
    ({"validation_split": 0.01, "subset": "training", "seed": 1}, "leaves no validation file"),
    ({"class_names": "cat"}, "class_names must be a list of non-empty strings"),
    ({"class_names": ["cat", "cat"]}, "names a class twice"),
])
def test_bad_split_and_class_options_are_named(tmp_path, options, message):
    _shapes(tmp_path, "folders")
    with pytest.raises(ValueError, match=message):
        data.load_image_folder(tmp_path, **options)


def test_missing_classes_are_a_warning_naming_them(tmp_path):
    _save(tmp_path / "ᚠ_01.png", _stroke())
    with pytest.warns(UserWarning, match=r"has no images of 23 of the 24 runes: ᚢ uruz, ᚦ thurisaz"):
        data.load_image_folder(tmp_path)


def test_missing_folder_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder: .*nowhere"):
        data.load_image_folder(tmp_path / "nowhere")


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="is empty: expected <class>_<n> images or one folder per class"):
        data.load_image_folder(tmp_path)


def test_folder_without_images_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"has no image files \(\.png .*\) and no class folders"):
        data.load_image_folder(tmp_path)


def test_folder_whose_images_are_all_unreadable_is_an_error(tmp_path):
    (tmp_path / "ᚠ_01.png").write_bytes(b"junk")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="none of them could be read"):
        data.load_image_folder(tmp_path)


def test_a_file_instead_of_a_folder_is_an_error(tmp_path):
    (tmp_path / "ᚠ_01.png").write_bytes(b"junk")
    with pytest.raises(ValueError, match="ᚠ_01.png is not a folder"):
        data.load_image_folder(tmp_path / "ᚠ_01.png")


def test_mixed_layouts_are_an_error(tmp_path):
    _save(tmp_path / "ᚠ_01.png", _stroke())
    _save(tmp_path / "ᚢ" / "1.png", _stroke())
    with pytest.raises(ValueError, match=r"holds both image files and class folders \(ᚢ/\)"):
        data.load_image_folder(tmp_path)


@pytest.mark.parametrize("option, message", [
    ({"color_mode": "cmyk"}, "color_mode must be 'rgb' or 'grayscale'"),
    ({"resample": "cubic"}, "resample must be one of nearest, box, bilinear"),
    ({"invert": "yes"}, "invert must be 'auto', True or False"),
    ({"image_size": 0}, "image_size must be a positive integer"),
])
def test_bad_options_are_named(tmp_path, option, message):
    with pytest.raises(ValueError, match=message):
        data.load_image_folder(tmp_path, **option)


@pytest.mark.parametrize("option, message", [
    ({"color_mode": "cmyk"}, "color_mode must be 'rgb' or 'grayscale'"),
    ({"image_size": 0}, "image_size must be a positive integer"),
])
def test_bad_options_of_one_image_are_named(tmp_path, option, message):
    _save(tmp_path / "a.png", _stroke())
    with pytest.raises(ValueError, match=message):
        data.load_image(tmp_path / "a.png", **option)


def test_one_image_loads_as_it_would_in_a_folder(tmp_path):
    _save(tmp_path / "scan.png", _stroke(size=105, ink=0, paper=255), mode="RGBA")
    one = data.load_image(tmp_path / "scan.png", image_size=28, color_mode="grayscale")
    _save(tmp_path / "folder" / "isa_1.png", _stroke(size=105, ink=0, paper=255), mode="RGBA")
    with pytest.warns(UserWarning):
        x, _, _ = data.load_image_folder(tmp_path / "folder", image_size=28, color_mode="grayscale")
    assert one.dtype == np.float32 and one.shape == (28, 28, 1)
    np.testing.assert_array_equal(one, x[0])


def test_one_unreadable_image_names_the_file(tmp_path):
    (tmp_path / "ᚠ_02.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"ᚠ_02\.png is not a readable image \("):
        data.load_image(tmp_path / "ᚠ_02.png")


def test_one_missing_image_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such image file: .*nothing\.png"):
        data.load_image(tmp_path / "nothing.png")


def test_shipped_data_set_is_the_tutorial_layout():
    x, y, _ = data.load_image_folder(data.default_data_dir())
    counts = np.bincount(y, minlength=24)
    assert x.shape[1:] == (50, 50, 3) and counts.min() == counts.max() >= 18


@pytest.mark.skipif(not REAL.is_dir(), reason="the real drawings (../shared/omniglot-futhorc) are absent")
def test_real_drawings_load_as_light_ink_on_dark():
    with pytest.warns(UserWarning, match="no images of 4 of the 24 runes"):
        x, y, _ = data.load_image_folder(REAL)
    assert x.shape == (200, 50, 50, 3) and len(np.unique(y)) == 20
    assert np.median(x) < 0.1


def test_image_bytes_load_as_the_file_does(tmp_path):
    # A web page uploads the file's bytes; they are prepared exactly as the file is.
    path = tmp_path / "rune.png"
    Image.fromarray((np.arange(40 * 30).reshape(40, 30) % 251).astype(np.uint8)).save(path)
    for options in ({}, {"image_size": 20, "color_mode": "grayscale"}):
        np.testing.assert_array_equal(data.load_image(path.read_bytes(), **options),
                                      data.load_image(path, **options))


def test_image_bytes_that_are_not_an_image_say_so_without_a_file_object():
    with pytest.raises(ValueError) as caught:
        data.load_image(b"not an image")
    assert str(caught.value) == "the image data is not a readable image (cannot identify image file)"


def test_max_pixels_refuses_a_larger_image_before_decoding_it(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (300, 200)).save(path)
    assert data.load_image(path, max_pixels=60_000).shape == (50, 50, 3)
    with pytest.raises(ValueError, match=r"big.png is an image of 300x200 pixels, more than the "
                                         r"59,999 allowed"):
        data.load_image(path, max_pixels=59_999)
