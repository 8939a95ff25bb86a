"""Absurd model files fail fast and small: the config is checked before anything is allocated,
only the entries the format names are read, each after its declared size; non-regular files are
refused at once. Each failure is one ModelFileError sentence."""
import json
import os
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import scratchconv
from scratchconv import layers, saving
from scratchconv.errors import ModelFileError


@pytest.fixture
def good(tmp_path):
    scratchconv.set_seed(1)
    model = scratchconv.Sequential([layers.Conv2D(2, 3, input_shape=(6, 6, 1)), layers.Flatten(),
                                    layers.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    path = tmp_path / "good.npz"
    model.save(path)
    return path


def entries_of(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def with_config(good, out, change):
    entries = entries_of(good)
    config = json.loads(str(entries["config"]))
    change(config)
    entries["config"] = np.array(json.dumps(config))
    np.savez(out, **entries)
    return out


def load_small_and_fast(path, seconds=5, megabytes=64):
    """load_model(path)'s ModelFileError message, asserting it came within ``seconds`` and
    ``megabytes`` of Python allocations."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFileError) as info:
            scratchconv.load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < seconds
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.0f} MB"
    message = str(info.value)
    assert message.startswith(f"cannot load the model file {path}: ") and "\n" not in message
    return message


def test_a_dense_of_a_trillion_units_is_refused_before_allocating(good, tmp_path):
    bad = with_config(good, tmp_path / "bad.npz",
                      lambda c: c["model"]["layers"][2]["config"].__setitem__("units", 10**12))
    message = load_small_and_fast(bad)
    assert "its model config makes 33,000,000,000,020 parameters up to Dense layer" in message
    assert "scratchconv.saving.MAX_PARAMETERS" in message


def test_a_huge_input_is_refused_before_allocating(good, tmp_path):
    def huge(config):
        config["model"]["input_shape"] = [10**6, 10**6, 1]
        config["model"]["layers"][0]["config"]["input_shape"] = [10**6, 10**6, 1]
    message = load_small_and_fast(with_config(good, tmp_path / "bad.npz", huge))
    assert "holds 1,000,000,000,000 values per sample" in message


def test_the_parameter_limit_can_be_raised(good, tmp_path, monkeypatch):
    monkeypatch.setattr(saving, "MAX_PARAMETERS", 10)
    assert "more than the 10 scratchconv loads" in load_small_and_fast(good)
    monkeypatch.setattr(saving, "MAX_PARAMETERS", 10**6)
    scratchconv.load_model(good)


def test_json_nested_a_hundred_thousand_deep_is_one_sentence(good, tmp_path):
    entries = entries_of(good)
    entries["config"] = np.array("[" * 100_000 + "]" * 100_000)
    np.savez(tmp_path / "deep.npz", **entries)
    assert "nested too deeply" in load_small_and_fast(tmp_path / "deep.npz")


@pytest.mark.parametrize("where", ["top", "model"])
def test_unknown_config_keys_are_refused(good, tmp_path, where):
    def add(config):
        (config if where == "top" else config["model"])["surprise"] = 1
    assert "has keys this version of the format does not have ('surprise')" in \
        load_small_and_fast(with_config(good, tmp_path / "bad.npz", add))


def deflate_bomb(good, out, name, megabytes=96):
    """``good`` plus an entry ``name`` of ``megabytes`` of zeros, deflated to almost nothing."""
    out.write_bytes(good.read_bytes())
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(name, "w", force_zip64=True) as f:
            chunk = bytes(2**20)
            for _ in range(megabytes):
                f.write(chunk)
    return out


def test_an_entry_the_format_does_not_name_is_never_read(good, tmp_path):
    bomb = deflate_bomb(good, tmp_path / "bomb.npz", "junk")
    assert bomb.stat().st_size < 2 * 2**20
    tracemalloc.start()
    try:
        scratchconv.load_model(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20


def test_a_weight_entry_declaring_more_than_its_header_is_refused_unread(good, tmp_path):
    """A w0 whose zip entry declares 96 MB while its .npy header describes 18 values."""
    entries = entries_of(good)
    out = tmp_path / "bad.npz"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in entries.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, array)
                if name == "w0":
                    for _ in range(96):
                        f.write(bytes(2**20))
    message = load_small_and_fast(out)
    assert "reading entry 'w0' failed, so the file is damaged (the archive declares" in message


def test_a_config_entry_declaring_an_absurd_size_is_refused_unread(good, tmp_path, monkeypatch):
    monkeypatch.setattr(saving, "MAX_CONFIG_BYTES", 1000)
    assert "its 'config' entry declares" in load_small_and_fast(good)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    errors = []
    reader = threading.Thread(target=lambda: errors.append(_error_of(fifo)), daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "load_model hung on a FIFO"
    assert "it is not a regular file (a pipe, a device or a socket)" in errors[0]


def _error_of(path):
    try:
        scratchconv.load_model(path)
    except ModelFileError as err:
        return str(err)
    return "loaded"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_is_refused_at_once():
    assert "it is not a regular file" in load_small_and_fast("/dev/zero", seconds=2)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_non_finite_weight_is_refused_naming_it(good, tmp_path, value):
    entries = entries_of(good)
    entries["w2"] = entries["w2"].copy()
    entries["w2"][3, 1] = value
    np.savez(tmp_path / "nan.npz", **entries)
    assert "weight w2 (layer 'dense" in load_small_and_fast(tmp_path / "nan.npz")
    assert "holds NaN or infinite values" in load_small_and_fast(tmp_path / "nan.npz")


def test_a_non_finite_optimizer_state_is_refused_naming_it(tmp_path):
    scratchconv.set_seed(1)
    model = scratchconv.Sequential([layers.Flatten(input_shape=(2, 2, 1)), layers.Dense(2)])
    model.compile("adam", "categorical_crossentropy")
    model.train_on_batch(np.ones((2, 2, 2, 1)), np.eye(2))
    model.save(tmp_path / "m.npz")
    entries = entries_of(tmp_path / "m.npz")
    entries["s1"] = np.full_like(entries["s1"], np.inf)
    np.savez(tmp_path / "inf.npz", **entries)
    assert "optimizer state s1 (v of w0) holds NaN or infinite values" in \
        load_small_and_fast(tmp_path / "inf.npz")


def test_a_npy_header_that_does_not_parse_is_one_sentence(good, tmp_path):
    """Found by the fuzzing: numpy's parse of a damaged header raised tokenize.TokenError (in
    an entry longer than zipfile's first read, so before its CRC is checked: the config)."""
    content = good.read_bytes()
    where = content.index(b"{'descr': '<U")
    damaged = content[:where] + b"{(" + content[where + 2:]  # the header: "{(descr': ..."
    (tmp_path / "bad.npz").write_bytes(damaged)
    assert "reading entry 'config' failed, so the file is damaged" in \
        load_small_and_fast(tmp_path / "bad.npz")


def test_a_zip_of_an_unknown_version_is_one_sentence(good, tmp_path):
    """Found by the fuzzing: "zip file version 6.4" (NotImplementedError) escaped the check for
    a Keras file."""
    content = bytearray(good.read_bytes())
    central = content.index(b"PK\x01\x02")
    content[central + 6] = 64  # "version needed to extract" of the first entry: 6.4
    (tmp_path / "bad.npz").write_bytes(bytes(content))
    assert "zip file version 6.4" in load_small_and_fast(tmp_path / "bad.npz")
