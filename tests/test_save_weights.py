"""model.save_weights / load_weights: weights alone, scratchconv's file or a model file, matched
by order, written atomically, one sentence per bad file."""
import numpy as np
import pytest

import scratchconv
from scratchconv.errors import ModelFileError


pytestmark = pytest.mark.usefixtures("numpy_backend")


def small_model(seed=3, dtype="float32", num_classes=3):
    scratchconv.set_seed(seed)
    return scratchconv.tutorial_model(input_shape=(12, 12, 1), num_classes=num_classes, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weights_round_trip_bit_for_bit_into_another_model(tmp_path, dtype):
    source, target = small_model(3, dtype), small_model(4, dtype)
    source.save_weights(tmp_path / "w.npz")
    target.load_weights(tmp_path / "w.npz")
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_file_holds_only_the_config_and_the_weights(tmp_path):
    small_model().save_weights(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as archive:
        assert sorted(archive.files) == ["config"] + sorted(f"w{i}" for i in range(8))


def test_load_weights_leaves_the_compile_settings_and_optimizer_state_alone(tmp_path):
    model = small_model()
    x = np.random.default_rng(0).random((4, 12, 12, 1)).astype("float32")
    model.train_on_batch(x, np.eye(3, dtype="float32")[[0, 1, 2, 0]])
    small_model(9).save_weights(tmp_path / "w.npz")
    model.load_weights(tmp_path / "w.npz")
    assert model.optimizer.iterations == 1


def test_load_weights_reads_a_model_file_too(tmp_path):
    source = small_model(3)
    source.save(tmp_path / "m.npz")
    target = small_model(4)
    target.load_weights(tmp_path / "m.npz")
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_model_of_a_weights_file_says_to_use_load_weights(tmp_path):
    small_model().save_weights(tmp_path / "w.npz")
    with pytest.raises(ModelFileError, match="it is a weights file .*call model.load_weights"):
        scratchconv.load_model(tmp_path / "w.npz")


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    small_model(3).save_weights(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        small_model(4).save_weights(path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


def test_a_weights_file_of_another_model_is_refused_naming_the_first_misfit(tmp_path):
    small_model(num_classes=3).save_weights(tmp_path / "w.npz")
    target = small_model(num_classes=5)
    before = target.get_weights()
    with pytest.raises(ModelFileError, match=r"cannot load the weights file .*w.npz: weight w6 \(layer "
                                             r"'dense.*', kernel\) has shape \(128, 3\), but the model "
                                             r"needs \(128, 5\)"):
        target.load_weights(tmp_path / "w.npz")
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_float32_weights_file_does_not_load_into_a_float64_model(tmp_path):
    small_model().save_weights(tmp_path / "w.npz")
    with pytest.raises(ModelFileError, match="has dtype float32, but the model is float64"):
        small_model(dtype="float64").load_weights(tmp_path / "w.npz")


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"hello", r"it is not an npz \(zip\) archive"),
])
def test_a_bad_weights_file_gives_one_sentence(tmp_path, content, message):
    (tmp_path / "w.npz").write_bytes(content)
    with pytest.raises(ModelFileError, match=f"cannot load the weights file .*: {message}"):
        small_model().load_weights(tmp_path / "w.npz")


def test_an_archive_of_something_else_is_refused(tmp_path):
    np.savez(tmp_path / "w.npz", config=np.array('{"format": "other"}'), w0=np.zeros(3))
    with pytest.raises(ModelFileError, match="its config names the format 'other', neither"):
        small_model().load_weights(tmp_path / "w.npz")


def test_missing_file_and_unbuilt_model_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="there is no weights file at"):
        small_model().load_weights(tmp_path / "nothing.npz")
    unbuilt = scratchconv.Sequential([scratchconv.layers.Dense(2)])
    with pytest.raises(ValueError, match="is not built yet, so it has no weights to save"):
        unbuilt.save_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="is not built yet, so it has no weights to load into"):
        unbuilt.load_weights(tmp_path / "w.npz")


def test_a_weights_h5_name_writes_keras_format_which_loads_back(tmp_path):
    source, target = small_model(3), small_model(4)
    source.save_weights(tmp_path / "m.weights.h5")
    with open(tmp_path / "m.weights.h5", "rb") as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"
    target.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)
