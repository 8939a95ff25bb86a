"""Input as a Sequential's first entry: it sets the input shape, is not a layer (as in Keras),
and survives get_config/from_config and saving."""
import json

import numpy as np
import pytest

import scratchconv
from scratchconv import Sequential, layers


def model_with_input():
    return Sequential([layers.Input((8, 8, 1)), layers.Conv2D(2, 3, activation="relu"), layers.Flatten(),
                       layers.Dense(3, activation="softmax")])


def test_input_builds_the_model_and_is_not_one_of_its_layers():
    model = model_with_input()
    assert model.built and model.input_shape == (8, 8, 1)
    assert [type(layer).__name__ for layer in model.layers] == ["Conv2D", "Flatten", "Dense"]
    assert model.count_params() == 2 * 9 + 2 + 72 * 3 + 3


def test_scratchconv_input_is_layers_input():
    assert scratchconv.Input is layers.Input
    model = Sequential()
    model.add(scratchconv.Input((5,)))
    model.add(layers.Dense(2))
    assert model.built and model.input_shape == (5,)


def test_input_and_a_matching_input_shape_agree():
    model = Sequential([layers.Input((4,)), layers.Dense(2, input_shape=(4,))])
    assert model.input_shape == (4,)


def test_input_and_a_different_input_shape_are_refused():
    with pytest.raises(ValueError, match=r"was given input_shape=\(5,\), but the model's Input has shape \(4,\)"):
        Sequential([layers.Input((4,)), layers.Dense(2, input_shape=(5,))])


def test_input_after_a_layer_is_refused():
    with pytest.raises(ValueError, match="an Input must be the first entry of model .*, before its layers"):
        Sequential([layers.Dense(2), layers.Input((4,))])


def test_two_inputs_are_refused():
    with pytest.raises(ValueError, match="an Input must be the first entry"):
        Sequential([layers.Input((4,)), layers.Input((4,))])


@pytest.mark.parametrize("shape", [28, (), (28, 0, 1), (28.0, 28), "28", (None, 28)])
def test_bad_shapes_are_named(shape):
    with pytest.raises(ValueError, match=r"Input: shape must be a tuple of positive ints \(one sample, without "
                                         r"the batch axis\), got"):
        layers.Input(shape)


def test_input_survives_get_config_and_from_config():
    model = model_with_input()
    config = json.loads(json.dumps(model.get_config()))
    assert config["input"] == {"shape": [8, 8, 1], "name": model._input.name}
    copy = Sequential.from_config(config)
    assert copy.get_config() == config and len(copy.layers) == 3


def test_an_input_alone_survives_get_config():
    model = Sequential([layers.Input((3, 2))], name="empty")
    copy = Sequential.from_config(model.get_config())
    copy.add(layers.Flatten())
    assert copy.input_shape == (3, 2) and copy.output_shape == (6,)


@pytest.mark.parametrize("file_name", ["m.npz", "m.keras"])
def test_input_survives_save_and_load(tmp_path, file_name):
    """scratchconv's own file keeps the Input as it was; a Keras file keeps the input shape in
    its InputLayer, as Keras writes every Sequential."""
    model = model_with_input()
    model.compile("adam", "categorical_crossentropy")
    model.save(tmp_path / file_name)
    loaded = scratchconv.load_model(tmp_path / file_name)
    if file_name.endswith(".npz"):
        assert loaded.get_config() == model.get_config()
    assert loaded.input_shape == (8, 8, 1) and len(loaded.layers) == 3
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 1))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
