"""Saving and loading models: the round trip, atomic writes, and one clear sentence per bad file."""
import json
import os
import pathlib
import zipfile

import numpy as np
import pytest
from engine_checks import MovingMean

import scratchconv
from scratchconv import Sequential, layers, saving
from scratchconv.errors import ModelFileError
from scratchconv.layers import LAYER_CLASSES


pytestmark = pytest.mark.usefixtures("numpy_backend")


def small_model(dtype="float32", compile=True):
    """The tutorial model's layer stack on 12x12x1 images with 3 classes (seeded weights)."""
    scratchconv.set_seed(3)
    return scratchconv.tutorial_model(input_shape=(12, 12, 1), num_classes=3, dtype=dtype, compile=compile)


def batch(n=5, dtype="float32"):
    rng = np.random.default_rng(7)
    x = rng.random((n, 12, 12, 1)).astype(dtype)
    y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]
    return x, y


@pytest.fixture
def saved(tmp_path):
    """(model, path) of a small compiled model, trained one Adam step (so the file holds the
    optimizer's state s0 ... s15), saved to tmp_path/model.npz."""
    model = small_model()
    model.train_on_batch(*batch())
    path = tmp_path / "model.npz"
    model.save(path)
    return model, path


# ----- round trip ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_loaded_model_predicts_bit_for_bit_the_same(tmp_path, dtype):
    model = small_model(dtype)
    model.save(tmp_path / "m.npz")
    loaded = scratchconv.load_model(tmp_path / "m.npz")
    x, _ = batch(dtype=dtype)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    assert all(w.dtype == np.dtype(dtype) for w in loaded.get_weights())


def test_loaded_model_has_the_same_config(saved):
    model, path = saved
    assert scratchconv.load_model(path).get_config() == model.get_config()


def test_loaded_model_has_the_same_compile_settings(tmp_path):
    model = small_model(compile=False)
    model.compile(optimizer=scratchconv.optimizers.SGD(learning_rate=0.05, momentum=0.5),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(tmp_path / "m.npz")
    assert scratchconv.load_model(tmp_path / "m.npz").get_compile_config() == model.get_compile_config()


def test_uncompiled_model_loads_uncompiled(tmp_path):
    small_model(compile=False).save(tmp_path / "m.npz")
    assert scratchconv.load_model(tmp_path / "m.npz").get_compile_config() is None


OPTIMIZERS = {
    "adam": lambda: scratchconv.optimizers.Adam(learning_rate=0.01),
    "sgd_momentum": lambda: scratchconv.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "sgd": lambda: scratchconv.optimizers.SGD(learning_rate=0.05),
    "rmsprop_centered_momentum": lambda: scratchconv.optimizers.RMSprop(momentum=0.5, centered=True),
    "adamw": lambda: scratchconv.optimizers.AdamW(learning_rate=0.01),
    "sgd_schedule_weight_decay": lambda: scratchconv.optimizers.SGD(
        learning_rate=scratchconv.optimizers.schedules.PiecewiseConstantDecay([3], [0.05, 0.01]),
        weight_decay=0.01),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_training_resumed_from_a_file_equals_training_straight_through(tmp_path, optimizer, dtype):
    """The optimizer's state is saved with the model: 3 steps, save, load, 3 more steps give
    bit for bit the weights of 6 steps without stopping."""
    x, y = batch(dtype=dtype)
    through = small_model(dtype, compile=False)
    through.compile(optimizer=OPTIMIZERS[optimizer](), loss="categorical_crossentropy")
    stopped = small_model(dtype, compile=False)
    stopped.compile(optimizer=OPTIMIZERS[optimizer](), loss="categorical_crossentropy")
    for _ in range(3):
        through.train_on_batch(x, y)
        stopped.train_on_batch(x, y)
    stopped.save(tmp_path / "m.npz")
    resumed = scratchconv.load_model(tmp_path / "m.npz")
    assert resumed.optimizer.iterations == 3
    for _ in range(3):
        assert resumed.train_on_batch(x, y) == through.train_on_batch(x, y)
    for a, b in zip(resumed.get_weights(), through.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_without_the_optimizer_a_loaded_model_trains_as_with_a_fresh_optimizer(tmp_path):
    model = small_model()
    x, y = batch()
    model.train_on_batch(x, y)
    model.save(tmp_path / "m.npz", include_optimizer=False)
    loaded = scratchconv.load_model(tmp_path / "m.npz")
    assert loaded.optimizer.iterations == 0
    model.compile(**model.get_compile_config())
    for _ in range(3):
        assert loaded.train_on_batch(x, y) == model.train_on_batch(x, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_non_trainable_weights_are_saved_and_loaded_with_the_trainable_ones(tmp_path, monkeypatch):
    monkeypatch.setitem(LAYER_CLASSES, "MovingMean", MovingMean)
    model = Sequential([MovingMean(input_shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((6, 4)).astype(np.float32), np.eye(3)[rng.integers(0, 3, 6)]
    model.train_on_batch(x, y)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        manifest = json.loads(str(archive["config"]))["weights"]
    assert [(w["param"], w["trainable"]) for w in manifest] == [
        ("scale", True), ("moving_mean", False), ("kernel", True), ("bias", True)]
    loaded = scratchconv.load_model(tmp_path / "m.npz")
    assert np.any(model.layers[0].state["moving_mean"] != 0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.train_on_batch(x, y) == model.train_on_batch(x, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_frozen_layer_is_saved_and_loaded_frozen(saved, tmp_path):
    model, _ = saved
    model.layers[2].trainable = False
    model.save(tmp_path / "frozen.npz")
    loaded = scratchconv.load_model(tmp_path / "frozen.npz")
    assert [layer.trainable for layer in loaded.layers] == [layer.trainable for layer in model.layers]
    with np.load(tmp_path / "frozen.npz", allow_pickle=False) as archive:
        manifest = json.loads(str(archive["config"]))["weights"]
    assert [w["trainable"] for w in manifest if w["layer"] == model.layers[2].name] == [False, False]
    x, y = batch()
    assert loaded.train_on_batch(x, y) == model.train_on_batch(x, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_file_written_before_layers_had_non_trainable_weights_still_loads():
    """tests/data/format1_before_state: saved by scratchconv at commit c6f19fe (a Conv2D, a
    MaxPooling2D, a Flatten and a Dense, one Adam step), with what that model predicted."""
    folder = pathlib.Path(__file__).parent / "data" / "format1_before_state"
    model = scratchconv.load_model(folder / "model.npz")
    with np.load(folder / "expected.npz") as expected:
        np.testing.assert_allclose(model.predict(expected["x"], verbose=0), expected["predictions"], rtol=1e-6)
        assert model.optimizer.iterations == 1
        assert model.train_on_batch(expected["x"], expected["y"]) == pytest.approx(float(expected["next_loss"]),
                                                                                   rel=1e-6)


def test_save_writes_exactly_the_given_path(tmp_path):
    small_model().save(str(tmp_path / "runes.model"))
    assert sorted(os.listdir(tmp_path)) == ["runes.model"]


def test_file_is_readable_with_plain_numpy_as_documented(saved):
    model, path = saved
    with np.load(path, allow_pickle=False) as archive:
        config = json.loads(str(archive["config"]))
        weights = [archive[f"w{i}"] for i in range(len(config["weights"]))]
    assert (config["format"], config["format_version"]) == ("scratchconv-model", 1)
    assert config["model"] == model.get_config()
    assert [w["shape"] for w in config["weights"]] == [list(w.shape) for w in weights]
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"an older model")
    small_model().save(path)
    assert scratchconv.load_model(path).count_params() == small_model().count_params()


# ----- failed saves leave what was there ---------------------------------------------------------

def test_unbuilt_model_cannot_be_saved(tmp_path):
    model = Sequential([layers.Dense(3)], name="unbuilt")
    with pytest.raises(ValueError, match="model 'unbuilt' is not built yet, so it has no weights to save"):
        model.save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_failure_while_writing_keeps_the_old_file_and_leaves_no_temp_file(saved, monkeypatch):
    _, path = saved
    before = path.read_bytes()

    def savez_that_dies_midway(file, **arrays):
        file.write(b"PK\x03\x04 half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(saving.np, "savez", savez_that_dies_midway)
    with pytest.raises(OSError, match=f"cannot write the model file {path}: No space left on device"):
        small_model().save(path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


def test_interrupted_save_keeps_the_old_file_and_leaves_no_temp_file(saved, monkeypatch):
    _, path = saved
    before = path.read_bytes()

    def interrupted(file, **arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr(saving.np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        small_model().save(path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


def test_failed_rename_keeps_the_old_file_and_leaves_no_temp_file(saved, monkeypatch):
    _, path = saved
    before = path.read_bytes()

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(saving.os, "replace", refuse)
    with pytest.raises(OSError, match=f"cannot write the model file {path}: Permission denied"):
        small_model().save(path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


def test_saving_into_a_missing_folder_says_so(tmp_path):
    path = tmp_path / "nowhere" / "m.npz"
    with pytest.raises(OSError, match=f"cannot write the model file {path}: the folder .*nowhere does not exist"):
        small_model().save(path)


def test_saving_onto_a_folder_says_so(tmp_path):
    with pytest.raises(OSError, match=f"cannot write the model file {tmp_path}: it is a folder"):
        small_model().save(tmp_path)


# ----- bad files -----------------------------------------------------------------------------

def test_missing_file_raises_file_not_found(tmp_path):
    path = tmp_path / "absent.npz"
    with pytest.raises(FileNotFoundError, match=f"there is no model file at {path}"):
        scratchconv.load_model(path)


def test_folder_is_not_a_model_file(tmp_path):
    with pytest.raises(ModelFileError, match=f"cannot load the model file {tmp_path}: it is a folder, not a file"):
        scratchconv.load_model(tmp_path)


def rewritten(path, out, change_config=None, change_entries=None):
    """A copy of the model file ``path`` at ``out`` with its config and/or entries changed."""
    with np.load(path, allow_pickle=False) as archive:
        entries = {name: archive[name] for name in archive.files}
    config = json.loads(str(entries["config"]))
    if change_config:
        change_config(config)
    entries["config"] = np.array(json.dumps(config))
    if change_entries:
        change_entries(entries)
    with open(out, "wb") as f:
        np.savez(f, **entries)
    return out


def set_key(*keys, value):
    """A change_config that sets config[k0][k1]... = value."""
    def change(config):
        target = config
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def delete_entry(name):
    return lambda entries: entries.pop(name)


def set_entry(name, value):
    return lambda entries: entries.__setitem__(name, value)


def raw_bytes(data):
    """A maker of a file holding exactly ``data``."""
    def make(good, out):
        out.write_bytes(data(good) if callable(data) else data)
        return out
    return make


def flip_a_byte_inside_w0(good):
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("w0.npy")
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 200] ^= 0xFF
    return bytes(data)


def npy_file(good):
    import io
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


def modified(**changes):
    return lambda good, out: rewritten(good, out, **changes)


BAD_FILES = {
    "empty": (raw_bytes(b""), "the file is empty"),
    "png": (raw_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100)), r"it is not an npz \(zip\) archive"),
    "truncated": (raw_bytes(lambda good: good.read_bytes()[:3000]),
                  r"it starts like an npz \(zip\) archive but is truncated or damaged"),
    "npy": (raw_bytes(npy_file), r"it holds a single NumPy array \(.npy\), not an npz archive"),
    "damaged_member": (raw_bytes(flip_a_byte_inside_w0),
                       "reading entry 'w0' failed, so the file is damaged"),
    "no_config": (modified(change_entries=delete_entry("config")),
                  "it has no 'config' entry, so it is not a scratchconv model"),
    "config_not_text": (modified(change_entries=set_entry("config", np.zeros(3))),
                        "its 'config' entry is not a JSON text"),
    "bad_json": (modified(change_entries=set_entry("config", np.array('{"format": '))),
                 "its config is not valid JSON"),
    "json_list": (modified(change_entries=set_entry("config", np.array("[1, 2]"))),
                  "its config is a JSON list, not an object"),
    "other_format": (modified(change_config=set_key("format", value="keras")),
                     "its config names the format 'keras', not 'scratchconv-model'"),
    "newer_version": (modified(change_config=set_key("format_version", value=2)),
                      "it uses model format version 2, and scratchconv .* reads versions 1 to 1; "
                      "a newer scratchconv wrote it, so upgrade"),
    "no_model": (modified(change_config=set_key("model", value=None)), "its config has no 'model' object"),
    "no_layers": (modified(change_config=set_key("model", "layers", value=[])),
                  "its model config has no list of layers"),
    "layer_not_object": (modified(change_config=set_key("model", "layers", 1, value="MaxPooling2D")),
                         'layer 1 of its model config is not a {"class_name", "config"} object'),
    "unknown_layer": (modified(change_config=set_key("model", "layers", 1, "class_name", value="LayerNormalization")),
                      r"its model config does not make a model \(unknown layer class 'LayerNormalization'"),
    "bad_layer_config": (modified(change_config=set_key("model", "layers", 0, "config", "filters", value=-2)),
                         r"its model config does not make a model \(.*filters must be a positive int"),
    "unknown_layer_argument": (modified(change_config=set_key("model", "layers", 0, "config", "groups", value=2)),
                               r"its model config does not make a model \(.*'groups'"),
    "no_input_shape": (modified(change_config=set_key("model", "input_shape", value=None)),
                       "its model config has no valid input_shape"),
    "no_compile": (modified(change_config=lambda config: config.pop("compile")),
                   "its config has no 'compile' entry"),
    "missing_weight": (modified(change_entries=delete_entry("w3")),
                       "it holds 7 weight arrays but its model has 8, missing w3"),
    "extra_weight": (modified(change_entries=set_entry("w8", np.zeros(3))),
                     "it holds 9 weight arrays but its model has 8"),
    "wrong_shape": (modified(change_entries=set_entry("w1", np.zeros(5, dtype="float32"))),
                    r"weight w1 \(layer 'conv2d.*', bias\) has shape \(5,\), but the model needs \(64,\)"),
    "wrong_dtype": (modified(change_entries=set_entry("w1", np.zeros(64, dtype="float64"))),
                    r"weight w1 \(layer 'conv2d.*', bias\) has dtype float64, but the model is float32"),
    "bad_optimizer": (modified(change_config=set_key("compile", "optimizer", value="adagrad")),
                      r"its compile settings are invalid \(optimizer must be one of"),
    "bad_compile": (modified(change_config=set_key("compile", value=[])),
                    'its compile settings are not an {"optimizer", "loss", "metrics"} object'),
    "state_not_listed": (modified(change_config=set_key("optimizer_state", value=None)),
                         "it holds 16 optimizer state arrays but its config lists none"),
    "bad_state": (modified(change_config=set_key("optimizer_state", "slots", value={})),
                  'its optimizer state is not an {"iterations", "slots": '),
    "missing_state": (modified(change_entries=delete_entry("s5")),
                      "its config lists 16 optimizer state arrays but it holds 15"),
    "state_of_unknown_weight": (modified(change_config=set_key("optimizer_state", "slots", 0, "weight", value="w99")),
                                "optimizer state s0 belongs to weight 'w99', which the model does not have"),
    "state_wrong_dtype": (modified(change_entries=set_entry("s1", np.zeros((3, 3, 1, 64)))),
                          r"optimizer state s1 \(v of w0\) has dtype float64, but the model is float32"),
    "state_wrong_shape": (modified(change_entries=set_entry("s1", np.zeros(3, dtype="float32"))),
                          r"optimizer state s1 \(v of w0\) has shape \(3,\), but its weight has \(3, 3, 1, 64\)"),
    "state_wrong_slot": (modified(change_config=set_key("optimizer_state", "slots", 1, "slot", value="velocity")),
                         r"its optimizer state does not fit the optimizer \(Adam keeps the state \['m', 'v'\] "
                         r"per parameter, but parameter 0 has \['m', 'velocity'\]\)"),
    "data_not_object": (modified(change_config=set_key("data", value=[])),
                        "its data entry is a JSON list, not an object"),
    "class_names_too_few": (modified(change_config=set_key("data", "class_names", value=["a", "b"])),
                            r"its class_names are not a list of 3 strings, one per output \(got \['a', 'b'\]\)"),
    "preprocessing_bad_mode": (modified(change_config=set_key("data", "preprocessing", value={"color_mode": "cmyk"})),
                               r"its preprocessing is invalid \(color_mode must be 'rgb' or 'grayscale'"),
    "preprocessing_wrong_size": (modified(change_config=set_key("data", "preprocessing", value={"image_size": 50})),
                                 r"its preprocessing .* does not make the model's \(12, 12, 1\) inputs"),
    "training_files_not_list": (modified(change_config=set_key("data", "training_files", value="abc")),
                                "its training_files are not a list of fingerprints"),
    "state_bad_iterations": (modified(change_config=set_key("optimizer_state", "iterations", value=-1)),
                             r"its optimizer state does not fit the optimizer \(iterations must be a "
                             r"non-negative int, got -1\)"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_bad_file_gives_one_sentence_naming_file_and_fault(saved, tmp_path, case):
    make, message = BAD_FILES[case]
    bad = make(saved[1], tmp_path / "bad.npz")
    with pytest.raises(ModelFileError) as info:
        scratchconv.load_model(bad)
    text = str(info.value)
    assert text.startswith(f"cannot load the model file {bad}: ")
    assert "\n" not in text
    assert info.match(message)


# ----- what prediction needs: class names, preprocessing, training files ------------------------

def test_class_names_preprocessing_and_training_files_round_trip(tmp_path):
    from scratchconv import data
    model = small_model()
    model.class_names = ["circle", "square", "triangle"]
    model.preprocessing = data.preprocessing(12, "grayscale", invert=False)
    model.training_files = ["0123456789abcdef"]
    model.save(tmp_path / "m.npz")
    loaded = scratchconv.load_model(tmp_path / "m.npz")
    assert loaded.class_names == ["circle", "square", "triangle"]
    assert loaded.preprocessing == {"image_size": 12, "color_mode": "grayscale", "invert": False,
                                    "resample": "bilinear"}
    assert loaded.training_files == ["0123456789abcdef"]


@pytest.mark.parametrize("n_classes, expected", [(24, list("ᚠᚢᚦᚫᚱᚲᚷᚹᚺᚾᛁᛃᛇᛈᛉᛋᛏᛒᛖᛗᛚᛜᛞᛟ")), (3, ["0", "1", "2"])])
def test_a_file_from_before_class_names_loads_with_runes_or_numbers(tmp_path, n_classes, expected):
    scratchconv.set_seed(3)
    model = scratchconv.tutorial_model(input_shape=(12, 12, 3), num_classes=n_classes)
    model.save(tmp_path / "new.npz")
    old = rewritten(tmp_path / "new.npz", tmp_path / "old.npz",
                    change_config=lambda config: config.pop("data"))
    loaded = scratchconv.load_model(old)
    assert loaded.class_names == expected
    assert loaded.preprocessing == {"image_size": 12, "color_mode": "rgb", "invert": "auto",
                                    "resample": "bilinear"}
    assert loaded.training_files is None


def test_class_names_that_do_not_fit_the_outputs_are_not_saved(tmp_path):
    model = small_model()
    model.class_names = ["a", "b"]
    with pytest.raises(ValueError, match="has 2 class_names but 3 outputs"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)
