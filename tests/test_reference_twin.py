"""reference/twin.py and reference/compare.py: the keras twin of a model, both ways, its refusals,
and the comparison helper the agreement suite reports with."""
import numpy as np
import pytest

import scratchconv
from scratchconv import layers, optimizers


def small_model(dtype="float32"):
    return scratchconv.Sequential([
        layers.Conv2D(3, (3, 2), strides=(2, 1), padding="same", activation="relu", input_shape=(7, 6, 2)),
        layers.MaxPooling2D((3, 3), strides=(1, 2), padding="same"),
        layers.Flatten(),
        layers.Dense(5, use_bias=False, kernel_initializer="he_normal"),
        layers.ReLU(),
        layers.Dense(4),
        layers.Softmax(),
    ], dtype=dtype)


def layer_configs(model):
    """Each layer's class and config without its name (names are numbered per process)."""
    return [(entry["class_name"], {k: v for k, v in entry["config"].items() if k != "name"})
            for entry in model.get_config()["layers"]]


def test_tutorial_twin_has_the_tutorial_layers_and_519096_parameters(reference):
    model = scratchconv.tutorial_model()
    twin = reference.to_keras(model)
    assert twin.count_params() == 519_096
    assert [type(l).__name__ for l in twin.layers] == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D",
                                                       "Flatten", "Dense", "Dense"]
    assert [l.name for l in twin.layers] == [l.name for l in model.layers]


def test_keras_tutorial_model_is_the_scratchconv_tutorial_model(reference):
    from reference.tutorial import keras_tutorial_model
    theirs = reference.from_keras(keras_tutorial_model())
    ours = scratchconv.tutorial_model()
    assert layer_configs(theirs) == layer_configs(ours)
    assert theirs.get_compile_config() == ours.get_compile_config()
    assert theirs.count_params() == 519_096


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_to_keras_copies_the_weights_exactly_in_the_model_dtype(reference, dtype):
    model = small_model(dtype)
    twin = reference.to_keras(model)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        assert b.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_from_keras_of_to_keras_gives_back_the_same_model(reference, dtype):
    model = small_model(dtype)
    model.compile(optimizer=optimizers.SGD(0.05, momentum=0.5, nesterov=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    back = reference.from_keras(reference.to_keras(model))
    assert back.get_config() == model.get_config()
    assert back.get_compile_config() == model.get_compile_config()
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)


TWIN_OPTIMIZERS = [optimizers.SGD(0.3), optimizers.SGD(0.01, momentum=0.9, nesterov=True, weight_decay=0.01),
                   optimizers.Adam(0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
                   optimizers.AdamW(0.002, weight_decay=0.1),
                   optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, epsilon=1e-6, centered=True)]


@pytest.mark.parametrize("optimizer", TWIN_OPTIMIZERS)
def test_to_keras_compiles_the_twin_with_the_same_optimizer_settings(reference, optimizer):
    model = small_model()
    model.compile(optimizer=optimizer, loss="categorical_crossentropy")
    twin_optimizer = reference.to_keras(model).optimizer
    assert type(twin_optimizer).__name__ == type(optimizer).__name__
    keras_config = twin_optimizer.get_config()
    for key, value in optimizer.get_config().items():
        assert keras_config[key] == (value if value is None or isinstance(value, bool)
                                     else pytest.approx(value, rel=1e-7)), key


@pytest.mark.parametrize("optimizer", TWIN_OPTIMIZERS + [
    optimizers.Adam(optimizers.schedules.CosineDecay(0.001, 100, alpha=0.1, warmup_target=0.01, warmup_steps=5))])
def test_from_keras_of_to_keras_keeps_the_optimizer_settings(reference, optimizer):
    model = small_model()
    model.compile(optimizer=optimizer, loss="categorical_crossentropy")
    back = reference.from_keras(reference.to_keras(model))
    assert back.get_compile_config() == model.get_compile_config()


def test_float64_twin_computes_its_loss_in_float64(reference, tf):
    """Keras sizes the compiled loss by the floatx at compile time; the twin compiles under the
    model's dtype, so a float64 loss is not rounded to float32 whatever floatx is later."""
    model = small_model("float64")
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    twin = reference.to_keras(model)
    x = tf.constant(np.random.default_rng(0).uniform(0, 1, (3, 7, 6, 2)))
    y = tf.constant(np.eye(4)[[0, 2, 3]])
    loss = twin.compute_loss(x=x, y=y, y_pred=twin(x))
    assert loss.dtype == tf.float64
    assert float(loss) == pytest.approx(model.loss_and_gradients(x.numpy(), y.numpy())[0], rel=1e-14)


def test_keras_floatx_restores_the_previous_floatx_after_an_error(reference, keras):
    before = keras.config.floatx()
    with pytest.raises(RuntimeError):
        with reference.keras_floatx("float64"):
            assert keras.config.floatx() == "float64"
            raise RuntimeError("inside")
    assert keras.config.floatx() == before


def test_weights_are_copied_layer_by_layer_and_a_layer_whose_weights_differ_is_named(reference, monkeypatch):
    model = small_model()
    conv = model.layers[0]
    kernel, bias = conv.params["kernel"], conv.params["bias"]
    # As if the convolution kept its bias as a non-trainable weight, which keras's does not.
    monkeypatch.setattr(conv, "named_weights", lambda: [("kernel", kernel, True), ("bias", bias, False)])
    with pytest.raises(ValueError, match=r"Conv2D layer .* has the weights \(name, trainable\) \[\('kernel', "
                                         r"True\), \('bias', False\)\], but its keras twin .* has \[\('kernel', "
                                         r"True\), \('bias', True\)\]"):
        reference.to_keras(model)


def test_a_frozen_layer_has_a_frozen_twin_both_ways(reference):
    model = small_model()
    model.layers[3].trainable = False
    twin = reference.to_keras(model)
    assert [layer.trainable for layer in twin.layers] == [layer.trainable for layer in model.layers]
    assert twin.count_params() == model.count_params()
    assert sum(int(np.prod(w.shape)) for w in twin.non_trainable_weights) == model.layers[3].count_params()
    back = reference.from_keras(twin)
    assert back.get_config() == model.get_config()


def test_to_keras_refuses_an_unbuilt_model(reference):
    model = scratchconv.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="is not built, so it has no weights to copy"):
        reference.to_keras(model)


def test_to_keras_refuses_a_model_of_mixed_dtypes(reference):
    model = scratchconv.Sequential([layers.Dense(3, input_shape=(4,)), layers.Dense(2, dtype="float64", name="wide")])
    with pytest.raises(ValueError, match="model .* is float32 but its layers wide are not; the keras twin "
                                         "computes in one dtype"):
        reference.to_keras(model)


def test_to_keras_refuses_what_is_not_a_scratchconv_model(reference, keras):
    with pytest.raises(TypeError, match="to_keras takes a scratchconv Sequential, got Sequential"):
        reference.to_keras(keras.Sequential())


def test_from_keras_refuses_what_is_not_a_keras_sequential(reference):
    with pytest.raises(TypeError, match="from_keras takes a keras Sequential model, got Sequential"):
        reference.from_keras(small_model())


def test_from_keras_refuses_an_unbuilt_model(reference, keras):
    with pytest.raises(ValueError, match="is not built"):
        reference.from_keras(keras.Sequential([keras.layers.Dense(3)]))


UNSUPPORTED_LAYERS = [
    ("Conv2D", dict(filters=2, kernel_size=3, dilation_rate=2), "dilation_rate"),
    ("Conv2D", dict(filters=2, kernel_size=3, groups=1, kernel_regularizer="l2"), "kernel_regularizer"),
    ("Conv2D", dict(filters=2, kernel_size=3, data_format="channels_first"), "data_format"),
    ("Dense", dict(units=2, activation="swish"), "activation"),
    ("ReLU", dict(max_value=6.0), "max_value"),
    ("LayerNormalization", dict(), "LayerNormalization"),
]


@pytest.mark.parametrize("class_name, options, named", UNSUPPORTED_LAYERS)
def test_from_keras_names_the_layer_and_the_option_it_cannot_take(reference, keras, class_name, options, named):
    layer = getattr(keras.layers, class_name)(name="odd_one", **options)
    model = keras.Sequential([keras.Input((8, 8, 4)), layer, keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=f"'odd_one'.*{named}"):
        reference.from_keras(model)


def test_from_keras_refuses_a_model_of_mixed_dtypes(reference, keras):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, dtype="float64"), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="computes in .* dtypes; scratchconv models compute in one dtype"):
        reference.from_keras(model)


@pytest.mark.parametrize("optimizer, named", [("adagrad", "Adagrad has no scratchconv counterpart"),
                                              ("nadam", "Nadam has no scratchconv counterpart")])
def test_from_keras_refuses_an_optimizer_scratchconv_does_not_have(reference, keras, optimizer, named):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizer, loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=named):
        reference.from_keras(model)


def test_from_keras_refuses_optimizer_options_scratchconv_does_not_have(reference, keras):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(clipnorm=1.0), loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="keras optimizer SGD has clipnorm=1.0"):
        reference.from_keras(model)


def test_from_keras_keeps_a_loss_from_logits_and_refuses_label_smoothing(reference, keras):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    assert reference.from_keras(model).loss.logits_given
    model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1))
    with pytest.raises(ValueError, match="keras loss CategoricalCrossentropy has settings .*'label_smoothing': 0.1"):
        reference.from_keras(model)


def test_assert_close_passes_within_the_bound_and_returns_the_worst_difference(tf):
    from reference.compare import assert_close
    assert assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.5]), "x", atol=0.5) == 0.5


def test_assert_close_says_where_and_by_how_much_arrays_differ(tf):
    from reference.compare import assert_close
    a = np.zeros((2, 3))
    b = a.copy()
    b[1, 2] = 1e-3
    with pytest.raises(AssertionError, match=r"probs: max absolute difference 0.001 > 1e-05 at index \(1, 2\) "
                                             r"\(ours np.float64\(0.0\), keras np.float64\(0.001\)\)"):
        assert_close(a, b, "probs", atol=1e-5)


def test_assert_close_measures_relative_error_against_the_floor(tf):
    from reference.compare import assert_close
    a, b = np.array([1e-9, 1.0]), np.array([2e-9, 1.0])
    assert assert_close(a, b, "g", rtol=1e-8, floor=1.0) == pytest.approx(1e-9)
    with pytest.raises(AssertionError, match="max relative difference 0.5"):
        assert_close(a, b, "g", rtol=1e-8, floor=0.0)


def test_assert_close_fails_on_nan(tf):
    from reference.compare import assert_close
    with pytest.raises(AssertionError, match="max absolute difference inf"):
        assert_close(np.array([np.nan]), np.array([0.0]), "x", atol=1.0)


def test_a_wrong_weight_in_the_twin_fails_the_forward_check(reference):
    """Negative control: the agreement checks do see a difference of one weight in 1e3. Seeded:
    with some initial weights that one kernel entry reaches only dead ReLUs or losing pool
    entries, and the check would pass or fail with the tests that ran before."""
    from reference.compare import assert_close
    scratchconv.set_seed(0)
    model = small_model()
    twin = reference.to_keras(model)
    weights = twin.get_weights()
    weights[0][0, 0, 0, 0] += 1e-3
    twin.set_weights(weights)
    x = np.random.default_rng(0).uniform(0, 1, (4, 7, 6, 2)).astype(np.float32)
    with pytest.raises(AssertionError, match="probabilities"):
        assert_close(model.forward(x), np.asarray(twin(x)), "probabilities", atol=1e-7)
