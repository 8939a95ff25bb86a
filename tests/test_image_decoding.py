"""Images decoded right (EXIF orientation, float and 32-bit integer TIFFs) and absurd sizes refused
before anything is allocated (image_size, decompression bombs)."""
import numpy as np
import pytest
from PIL import Image

from scratchconv import cli, data
from scratchconv.data import loader


def ramp(h=8, w=12):
    """A gray ramp, dark at the left and light at the right, brighter towards the bottom."""
    return (np.linspace(0, 1, w)[None, :] * 0.7 + np.linspace(0, 1, h)[:, None] * 0.3)


def load(path, **options):
    return data.load_image(path, image_size=8, color_mode="grayscale", invert=False,
                           resample="nearest", **options)[..., 0]


def test_exif_orientation_is_honoured(tmp_path):
    """Orientation 6: the stored pixels must be turned 90 degrees clockwise to be upright."""
    upright = (ramp(8, 8) * 255).astype(np.uint8)
    stored = np.rot90(upright, k=1)  # what a phone held on its side stores
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "photo.png", exif=exif)
    Image.fromarray(upright).save(tmp_path / "upright.png")
    np.testing.assert_array_equal(load(tmp_path / "photo.png"), load(tmp_path / "upright.png"))


def test_a_float_tiff_in_0_1_keeps_its_values(tmp_path):
    values = ramp().astype(np.float32)
    Image.fromarray(values).save(tmp_path / "f.tif")
    with Image.open(tmp_path / "f.tif") as image:
        assert image.mode == "F"
    got = data.load_image(tmp_path / "f.tif", image_size=12, color_mode="grayscale",
                          invert=False)[..., 0]
    assert abs(got.mean() - values.mean()) < 0.02 and got.max() > 0.9 and got.min() < 0.1


def test_a_float_tiff_with_nan_loads_finite(tmp_path):
    values = ramp().astype(np.float32)
    values[0, 0], values[1, 1] = np.nan, np.inf
    Image.fromarray(values).save(tmp_path / "f.tif")
    assert np.isfinite(load(tmp_path / "f.tif")).all()


@pytest.mark.parametrize("dtype, white", [(np.int32, 2**31 - 1), (np.uint16, 65535)])
def test_integer_tiffs_are_scaled_by_their_sample_size(tmp_path, dtype, white):
    values = ramp()
    Image.fromarray((values * white).astype(dtype)).save(tmp_path / "i.tif")
    got = data.load_image(tmp_path / "i.tif", image_size=12, color_mode="grayscale",
                          invert=False)[..., 0]
    assert abs(got.mean() - values.mean()) < 0.02 and got.max() > 0.9 and got.min() < 0.1


@pytest.mark.parametrize("size", [5000, 10**5])
def test_load_image_folder_refuses_a_huge_image_size_before_reading(tmp_path, size):
    with pytest.raises(ValueError, match=f"image_size {size} is more than the 1024 scratchconv "
                                         "allows .*raise scratchconv.data.loader.MAX_IMAGE_SIZE"):
        data.load_image_folder(tmp_path / "not even read", image_size=size)


def test_the_image_size_limit_can_be_raised(tmp_path, monkeypatch):
    Image.fromarray((ramp() * 255).astype(np.uint8)).save(tmp_path / "a.png")
    monkeypatch.setattr(loader, "MAX_IMAGE_SIZE", 4)
    with pytest.raises(ValueError, match="image_size 8 is more than the 4"):
        load(tmp_path / "a.png")
    monkeypatch.setattr(loader, "MAX_IMAGE_SIZE", 8)
    assert load(tmp_path / "a.png").shape == (8, 8)


def test_train_refuses_image_size_100000_in_one_line(tmp_path, capsys):
    data.make_dataset(tmp_path / "d", per_class=2, seed=1)
    assert cli.main(["train", "--data", str(tmp_path / "d"), "--image-size", "100000",
                     "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("scratchconv: error: --image-size: image_size 100000 is more than the "
                          "1024 scratchconv allows") and "\n" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("factor", [1.5, 3])
def test_a_decompression_bomb_is_refused_as_one(tmp_path, monkeypatch, factor):
    """Past Pillow's MAX_IMAGE_PIXELS (a warning in Pillow) and past twice that (its error)."""
    Image.fromarray((ramp(10, 10) * 255).astype(np.uint8)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", int(100 / factor))
    with pytest.raises(ValueError, match=r"bomb.png is refused as a possible decompression bomb: "
                                         r".*raise PIL.Image.MAX_IMAGE_PIXELS"):
        load(tmp_path / "bomb.png")
