"""Property-based fuzzing (hypothesis) of what reads user files: load_model, load_image and
load_image_folder get random bytes, truncated and mutated model files and random small images of
every Pillow mode. Each call must give a valid result or one of the documented exceptions with a
one-line message, never anything else, within a time and memory bound.

The example counts keep each test to a few seconds; more with HYPOTHESIS_PROFILE=long.
"""
import functools
import io
import os
import tempfile
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import scratchconv
from scratchconv import data, layers
from scratchconv.errors import ModelFileError

settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
FUZZ = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Pillow warns about damaged metadata it skips; the images are still judged by their result.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# Generous for a loaded 2-core machine (a call takes milliseconds); a hang or a read of a huge
# declared size would take far longer.
SECONDS = 10.0
MEGABYTES = 64


def bounded(call):
    """call()'s result or its exception, asserting it took under SECONDS and MEGABYTES of
    Python allocations."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = call()
    except Exception as err:  # noqa: BLE001  (the caller checks which)
        result = err
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - start < SECONDS
    assert peak < MEGABYTES * 2**20, f"peak {peak / 2**20:.0f} MB"
    return result


def one_sentence(err, *kinds):
    assert isinstance(err, kinds), f"{type(err).__name__}: {err}"
    text = str(err)
    assert text and "\n" not in text


@functools.lru_cache(maxsize=1)
def model_bytes():
    """A small compiled model with optimizer state, as the bytes of its file."""
    previous = scratchconv.get_backend()
    scratchconv.set_backend("numpy")
    scratchconv.set_seed(0)
    model = scratchconv.Sequential([layers.Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1)),
                                    layers.MaxPooling2D(), layers.Flatten(),
                                    layers.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    model.train_on_batch(np.random.default_rng(0).random((4, 6, 6, 1)), np.eye(3)[[0, 1, 2, 0]])
    scratchconv.set_backend(previous)
    with tempfile.TemporaryDirectory() as folder:
        model.save(os.path.join(folder, "model.npz"))
        with open(os.path.join(folder, "model.npz"), "rb") as f:
            return f.read()


def check_load_model(path):
    result = bounded(lambda: scratchconv.load_model(path))
    if isinstance(result, Exception):
        one_sentence(result, ModelFileError)
        assert str(result).startswith("cannot load the ") and f"model file {path}: " in str(result)
    else:
        assert all(np.isfinite(w).all() for w in result.get_weights())


@FUZZ
@given(content=st.binary(max_size=4096))
def test_random_bytes_as_a_model_file(tmp_path, content):
    path = tmp_path / "random.npz"
    path.write_bytes(content)
    check_load_model(path)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=10**6))
def test_a_truncated_model_file(tmp_path, cut):
    content = model_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(content[:cut % len(content)])
    check_load_model(path)


@FUZZ
@given(changes=st.lists(st.tuples(st.integers(min_value=0, max_value=10**6),
                                  st.integers(min_value=0, max_value=255)),
                        min_size=1, max_size=8))
def test_a_mutated_model_file(tmp_path, changes):
    content = bytearray(model_bytes())
    for where, value in changes:
        content[where % len(content)] = value
    path = tmp_path / "mutated.npz"
    path.write_bytes(bytes(content))
    check_load_model(path)


# ---- images -------------------------------------------------------------------------------------

MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "PA", "CMYK", "YCbCr", "I", "I;16", "F", "HSV", "LAB"]
FORMATS = {"PNG": ".png", "TIFF": ".tif", "BMP": ".bmp", "GIF": ".gif", "JPEG": ".jpg",
           "WEBP": ".webp", "PPM": ".ppm"}


@st.composite
def image_files(draw):
    """(bytes, extension) of a small image of any mode, in any format that takes it, or of
    those bytes damaged."""
    mode = draw(st.sampled_from(MODES))
    w, h = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if mode == "F":
        pixels = rng.choice([rng.random((h, w)), rng.normal(0, 1e3, (h, w)),
                             np.full((h, w), np.nan)]).astype(np.float32)
        image = Image.fromarray(pixels, mode="F")
    elif mode == "I":
        image = Image.fromarray(rng.integers(-2**31, 2**31 - 1, (h, w), dtype=np.int32), mode="I")
    else:
        bands = len(Image.new(mode, (1, 1)).getbands()) if mode != "I;16" else 2
        image = Image.frombytes(mode, (w, h), rng.integers(0, 256, w * h * bands * 4, dtype=np.uint8).tobytes())
        if mode in ("P", "PA"):
            image.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (OSError, ValueError, KeyError):
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
        fmt = "PNG"
    content = bytearray(buffer.getvalue())
    if draw(st.booleans()):
        for where, value in draw(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                          max_size=4)):
            content[where % len(content)] = value
        content = content[:int(draw(st.floats(0, 1)) * len(content))]
    return bytes(content), FORMATS[fmt]


def check_image(result, size, channels):
    if isinstance(result, FileNotFoundError):
        raise AssertionError(f"the file exists: {result}")
    if isinstance(result, Exception):
        one_sentence(result, ValueError)
        return
    assert result.shape == (size, size, channels) and result.dtype == np.float32
    assert np.isfinite(result).all() and result.min() >= 0 and result.max() <= 1


@FUZZ
@given(image=image_files(), size=st.integers(1, 16), color_mode=st.sampled_from(["rgb", "grayscale"]))
def test_load_image_takes_any_small_image(tmp_path, image, size, color_mode):
    content, extension = image
    path = tmp_path / f"image{extension}"
    path.write_bytes(content)
    result = bounded(lambda: data.load_image(path, image_size=size, color_mode=color_mode))
    check_image(result, size, 3 if color_mode == "rgb" else 1)


@FUZZ
@given(images=st.lists(image_files(), min_size=1, max_size=4), size=st.integers(1, 12))
def test_load_image_folder_takes_any_small_images(tmp_path_factory, images, size):
    folder = tmp_path_factory.mktemp("images")
    for i, (content, extension) in enumerate(images):
        (folder / f"{'ab'[i % 2]}_{i}{extension}").write_bytes(content)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped files are warned about, which is fine here
        result = bounded(lambda: data.load_image_folder(folder, image_size=size,
                                                        color_mode="grayscale"))
    if isinstance(result, Exception):
        one_sentence(result, ValueError)
        return
    x, y, class_names = result
    assert x.shape[1:] == (size, size, 1) and len(x) == len(y) <= len(images)
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    assert set(class_names) <= {"a", "b"}
