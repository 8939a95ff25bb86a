"""Keras files without TensorFlow (scratchconv/keras_files.py): the .keras round trip, the
weights file layout, and one sentence for what scratchconv cannot read. The agreement with Keras
itself is in test_reference_keras_files.py."""
import json
import zipfile

import numpy as np
import pytest

import scratchconv
from scratchconv import data, keras_config, keras_files
from scratchconv.errors import ModelFileError


pytestmark = pytest.mark.usefixtures("numpy_backend")


def trained_model(optimizer="adam"):
    scratchconv.set_seed(4)
    model = scratchconv.tutorial_model(input_shape=(12, 12, 1), num_classes=3, compile=False)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.random((6, 12, 12, 1)).astype("float32")
    model.train_on_batch(x, np.eye(3, dtype="float32")[rng.integers(0, 3, 6)])
    return model, x


def test_keras_round_trip_keeps_weights_compile_optimizer_state_and_class_names(tmp_path):
    model, x = trained_model()
    model.class_names = ["circle", "square", "triangle"]
    model.preprocessing = data.preprocessing(12, "grayscale")
    model.save(tmp_path / "m.keras")
    assert zipfile.is_zipfile(tmp_path / "m.keras")
    loaded = scratchconv.load_model(tmp_path / "m.keras")
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert loaded.get_compile_config() == model.get_compile_config()
    assert loaded.class_names == ["circle", "square", "triangle"]
    assert loaded.preprocessing == model.preprocessing
    params = [p for layer in model.layers for p in layer.trainable_weights]
    loaded_params = [p for layer in loaded.layers for p in layer.trainable_weights]
    it, slots = model.optimizer.get_state(params)
    it2, slots2 = loaded.optimizer.get_state(loaded_params)
    assert it == it2 == 1
    for a, b in zip(slots, slots2):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


def test_a_frozen_layer_round_trips_through_a_keras_file(tmp_path):
    model, x = trained_model()
    model.layers[0].trainable = False
    model.save(tmp_path / "m.keras")
    loaded = scratchconv.load_model(tmp_path / "m.keras")
    assert [layer.trainable for layer in loaded.layers] == [layer.trainable for layer in model.layers]
    y = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2]]
    assert loaded.train_on_batch(x, y) == model.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_archive_has_keras_3_layout(tmp_path):
    import h5py
    model, _ = trained_model()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(archive.read("config.json"))
        archive.extract("model.weights.h5", tmp_path)
    assert config["class_name"] == "Sequential"
    assert [e["class_name"] for e in config["config"]["layers"]] == [
        "InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    with h5py.File(tmp_path / "model.weights.h5") as h5:
        assert sorted(h5["layers"]) == ["conv2d", "conv2d_1", "dense", "dense_1", "flatten",
                                        "max_pooling2d", "max_pooling2d_1"]
        np.testing.assert_array_equal(h5["layers/conv2d_1/vars/0"], model.layers[2].params["kernel"])
        # iteration, learning rate, then (m, v) of each of the 8 trainable weights
        assert len(h5["optimizer/vars"]) == 2 + 16
        assert int(np.asarray(h5["optimizer/vars/0"])) == 1


def test_weights_h5_round_trip(tmp_path):
    model, x = trained_model()
    keras_files.save_weights_h5(model, tmp_path / "m.weights.h5")
    scratchconv.set_seed(99)
    other = scratchconv.tutorial_model(input_shape=(12, 12, 1), num_classes=3)
    keras_files.load_weights_h5(other, tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(model.predict(x, verbose=0), other.predict(x, verbose=0))


def test_keras_layer_paths_number_each_class_separately():
    model = scratchconv.tutorial_model(input_shape=(12, 12, 1), num_classes=3, compile=False)
    assert keras_files.keras_layer_paths(model) == [
        "layers/conv2d", "layers/max_pooling2d", "layers/conv2d_1", "layers/max_pooling2d_1",
        "layers/flatten", "layers/dense", "layers/dense_1"]


@pytest.mark.parametrize("class_name, snake", [("MaxPooling2D", "max_pooling2d"), ("ReLU", "re_lu"),
                                               ("BatchNormalization", "batch_normalization"),
                                               ("GlobalAveragePooling2D", "global_average_pooling2d")])
def test_snake_case_is_keras_s(class_name, snake):
    assert keras_config.to_snake_case(class_name) == snake


def rewritten_config(path, out, change):
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    change(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out


def set_layer(i, key, value):
    def change(config):
        config["config"]["layers"][i]["config"][key] = value
    return change


def rename_layer_class(i, class_name):
    def change(config):
        config["config"]["layers"][i]["class_name"] = class_name
    return change


BAD = {
    "functional": (lambda c: c.update(class_name="Functional"),
                   r"holds a keras Functional model 'sequential.*'; scratchconv reads Sequential models only"),
    "unknown_layer": (rename_layer_class(1, "LSTM"),
                      r"keras layer 'conv2d.*' is a LSTM, which scratchconv does not have \(it has "),
    "dilation": (set_layer(1, "dilation_rate", [2, 2]),
                 r"keras layer 'conv2d.*' \(Conv2D\) has dilation_rate=\[2, 2\], which scratchconv's "
                 r"Conv2D does not support"),
    "channels_first": (set_layer(2, "data_format", "channels_first"),
                       r"keras layer 'max_pooling2d.*' \(MaxPooling2D\) has data_format='channels_first'"),
}


@pytest.mark.parametrize("case", BAD)
def test_what_scratchconv_cannot_read_is_refused_in_one_sentence(tmp_path, case):
    change, message = BAD[case]
    model, _ = trained_model()
    model.save(tmp_path / "m.keras")
    bad = rewritten_config(tmp_path / "m.keras", tmp_path / "bad.keras", change)
    with pytest.raises(ModelFileError) as info:
        scratchconv.load_model(bad)
    text = str(info.value)
    assert text.startswith(f"cannot load the Keras model file {bad}: ") and "\n" not in text
    assert info.match(message)


def _nadam(config):
    config["compile_config"]["optimizer"]["class_name"] = "Nadam"


def _polynomial_decay(config):
    config["compile_config"]["optimizer"]["config"]["learning_rate"] = {
        "module": "keras.optimizers.schedules", "class_name": "PolynomialDecay",
        "config": {"initial_learning_rate": 0.01, "decay_steps": 10}, "registered_name": None}


@pytest.mark.parametrize("rewrite, message", [
    (_nadam, "loaded without its compile settings, since keras optimizer Nadam has no scratchconv "
             "counterpart"),
    (_polynomial_decay, "has the learning-rate schedule PolynomialDecay, which scratchconv does not have")],
    ids=["optimizer", "learning-rate schedule"])
def test_compile_settings_scratchconv_lacks_load_uncompiled_with_a_warning(tmp_path, rewrite, message):
    model, x = trained_model()
    model.save(tmp_path / "m.keras")
    bad = rewritten_config(tmp_path / "m.keras", tmp_path / "lacking.keras", rewrite)
    with pytest.warns(UserWarning, match=message):
        loaded = scratchconv.load_model(bad)
    assert loaded.optimizer is None
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_file_without_optimizer_state_says_so(tmp_path):
    model, _ = trained_model()
    model.save(tmp_path / "m.keras", include_optimizer=False)
    with pytest.warns(UserWarning, match="holds no optimizer state: training the loaded model starts "
                                         "with a fresh optimizer"):
        loaded = scratchconv.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.iterations == 0


def test_saving_as_legacy_h5_is_refused(tmp_path):
    model, _ = trained_model()
    with pytest.raises(ValueError, match=r"not the legacy \.h5; model.save_weights writes \.weights\.h5"):
        model.save(tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()


@pytest.mark.parametrize("loss, expected", [
    ("categorical_crossentropy", "categorical_crossentropy"),
    ({"module": "builtins", "class_name": "function", "config": "categorical_crossentropy",
      "registered_name": "function"}, "categorical_crossentropy"),
    ({"module": "keras.losses", "class_name": "SparseCategoricalCrossentropy",
      "config": {"name": "sparse_categorical_crossentropy", "from_logits": False}},
     "sparse_categorical_crossentropy"),
    ("mse", "mse"),
    ({"module": "keras.losses", "class_name": "BinaryCrossentropy", "config": {"name": "binary_crossentropy"}},
     "binary_crossentropy"),
])
def test_a_loss_given_as_name_function_or_object_is_read(loss, expected):
    assert keras_config.loss_from_keras(loss) == expected


def test_a_loss_from_logits_is_read_with_it_and_label_smoothing_is_refused():
    assert keras_config.loss_from_keras({"class_name": "CategoricalCrossentropy", "config": {
        "from_logits": True}}) == {"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}
    with pytest.raises(ValueError, match="label_smoothing"):
        keras_config.loss_from_keras({"class_name": "CategoricalCrossentropy",
                                      "config": {"label_smoothing": 0.1}})


def test_a_damaged_or_oversized_keras_file_is_one_sentence(tmp_path, monkeypatch):
    model, _ = trained_model()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive, \
            zipfile.ZipFile(tmp_path / "bad.keras", "w") as bad:
        bad.writestr("config.json", archive.read("config.json"))
        bad.writestr("model.weights.h5", b"not an hdf5 file")
    with pytest.raises(ModelFileError, match="its model.weights.h5 is not a readable HDF5 file"):
        scratchconv.load_model(tmp_path / "bad.keras")
    from scratchconv import saving
    monkeypatch.setattr(saving, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(ModelFileError, match="its config.json is larger than the 100 bytes"):
        scratchconv.load_model(tmp_path / "m.keras")


def test_a_keras_model_too_big_to_load_is_refused_before_allocating(tmp_path, monkeypatch):
    from scratchconv import saving
    model, _ = trained_model()
    model.save(tmp_path / "m.keras")
    monkeypatch.setattr(saving, "MAX_PARAMETERS", 1000)
    with pytest.raises(ModelFileError, match=r"Keras model file .*: its model config makes [\d,]+ "
                                             r"parameters up to"):
        scratchconv.load_model(tmp_path / "m.keras")


def test_a_from_logits_loss_goes_to_keras_and_back(tmp_path, tf):
    """A .keras file carries SparseCategoricalCrossentropy(from_logits=True) as Keras serialises
    it: Keras loads it with from_logits, and scratchconv reads it back the same."""
    import keras
    model = scratchconv.Sequential([scratchconv.layers.Dense(3, input_shape=(4,))])
    model.compile("adam", scratchconv.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras").loss.get_config()["from_logits"] is True
    back = scratchconv.load_model(tmp_path / "m.keras")
    assert back.loss.logits_given and type(back.loss) is scratchconv.losses.SparseCategoricalCrossentropy
