"""Agreement with tf.keras of the layers and activations added in issue 10, in float64: every
layer's output, the loss and its gradients (to every weight and to the input), and the losses,
weights and non-trainable weights (moving statistics) after training steps without shuffling.

Each case is built in scratchconv, copied into tf.keras with ``reference.to_keras`` (same layers,
same weights) and fed the same batches. Tolerances are those of test_reference_agreement.py
for float64 (both libraries compute in float64 end to end; only the order of sums differs):
1e-12 on layer outputs, 1e-10 relative on gradients, and 1e-10 relative on the losses and
weights after TRAIN_STEPS Adam steps (rounding of ~1e-16 per operation grows little over a few
steps of a well-conditioned problem).
"""
import numpy as np
import pytest
from test_reference_agreement import FLOAT64_ATOL, FLOAT64_GRAD_RTOL, gradient_names, keras_loss_and_gradients

import scratchconv
from scratchconv import layers
from scratchconv.layers.activations import ACTIVATIONS

# The bias of a layer followed by a BatchNormalization has a gradient of zero in exact arithmetic
# (the batch mean takes it away), which both libraries compute as rounding noise of ~1e-16: such
# an array is compared in absolute terms, to ZERO_GRADIENT * FLOAT64_GRAD_RTOL = 1e-15.
ZERO_GRADIENT = 1e-5
TRAIN_STEPS = 5
TRAIN_RTOL = 1e-10
BATCH = 6


def built(case_layers, input_shape):
    model = scratchconv.Sequential(case_layers, dtype="float64")
    model.build((None,) + input_shape)
    return model


def activations_everywhere(activation):
    return lambda: built([layers.Conv2D(3, 3, padding="same", activation=activation),
                          layers.Activation(activation), layers.Flatten(),
                          layers.Dense(5, activation=activation), layers.Dense(3, activation="softmax")],
                         (5, 5, 2))


def pooling():
    # No activation before the max pools: random values have no ties, so each winner is unique.
    return built([layers.Conv2D(4, 3, padding="same"), layers.AveragePooling2D(2, padding="same"),
                  layers.Conv2D(3, 2), layers.AveragePooling2D(3, strides=(1, 2), padding="same"),
                  layers.AveragePooling2D((2, 3), strides=1), layers.GlobalMaxPooling2D(keepdims=True),
                  layers.Flatten(), layers.Dense(3, activation="softmax")], (9, 11, 2))


def global_average_pooling():
    return built([layers.Conv2D(4, 3, activation="relu"), layers.GlobalAveragePooling2D(),
                  layers.Dense(3, activation="softmax")], (6, 7, 2))


def global_max_pooling():
    return built([layers.Conv2D(4, 3), layers.GlobalMaxPooling2D(), layers.Dense(3, activation="softmax")],
                 (6, 7, 2))


def batch_normalization_after_conv2d_and_dense():
    return built([layers.Conv2D(4, 3, padding="same"), layers.BatchNormalization(momentum=0.9),
                  layers.Activation("relu"), layers.Dropout(0.0), layers.Flatten(), layers.Dense(6),
                  layers.BatchNormalization(epsilon=1e-2, center=False), layers.Activation("tanh"),
                  layers.Dense(3, activation="softmax")], (5, 6, 2))


def batch_normalization_options():
    return built([layers.Conv2D(4, 2), layers.BatchNormalization(axis=1, scale=False, momentum=0.5),
                  layers.Dropout(0.0, noise_shape=(None, 1, 1, None)), layers.GlobalAveragePooling2D(),
                  layers.Dense(3, activation="softmax")], (5, 6, 2))


CASES = {**{f"activation {a}": activations_everywhere(a) for a in ACTIVATIONS if a != "softmax"},
         **{f.__name__: f for f in (pooling, global_average_pooling, global_max_pooling,
                                         batch_normalization_after_conv2d_and_dense, batch_normalization_options)}}


def make_case(name, batches=1, seed=0):
    """Case ``name`` compiled with Adam, non-zero biases, and ``batches`` batches (x, one-hot y)."""
    scratchconv.set_seed(seed)
    model = CASES[name]()
    rng = np.random.default_rng(seed + 1)
    model.set_weights([w if w.ndim > 1 else w + rng.uniform(-0.1, 0.1, w.shape) for w in model.get_weights()])
    model.compile(optimizer=scratchconv.optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
    k = model.output_shape[-1]
    data = [(rng.uniform(-1, 1, (BATCH,) + model.input_shape), np.eye(k)[rng.integers(0, k, BATCH)])
            for _ in range(batches)]
    return model, data


@pytest.mark.parametrize("case", CASES)
def test_layer_outputs_match_keras(reference, on_backend, case):
    from reference.compare import assert_close
    model, [(x, _)] = make_case(case)
    twin = reference.to_keras(model)
    a, b = x, x
    for layer, keras_layer in zip(model.layers, twin.layers):
        a, b = layer.forward(a), np.asarray(keras_layer(b, training=False))
        assert_close(a, b, f"{case}: output of {layer.name}", atol=FLOAT64_ATOL * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("case", CASES)
def test_loss_and_gradients_match_keras(reference, tf, on_backend, case):
    from reference.compare import assert_close
    model, [(x, y)] = make_case(case)
    twin = reference.to_keras(model)
    loss, grads, dx = model.loss_and_gradients(x, y)
    keras_loss, keras_grads, keras_dx = keras_loss_and_gradients(tf, twin, x, y)
    assert_close(np.array(loss), np.array(keras_loss), f"{case}: loss", rtol=FLOAT64_GRAD_RTOL, floor=0.0)
    for name, a, b in zip(gradient_names(model), grads + [dx], keras_grads + [keras_dx]):
        assert_close(a, b, f"{case}: gradient to {name}", rtol=FLOAT64_GRAD_RTOL,
                     floor=max(float(np.abs(b).max()), ZERO_GRADIENT))


@pytest.mark.parametrize("case", CASES)
def test_training_steps_match_keras(reference, on_backend, case):
    from reference.compare import assert_close
    model, data = make_case(case, batches=TRAIN_STEPS)
    twin = reference.to_keras(model)
    with reference.keras_floatx("float64"):
        for step, (x, y) in enumerate(data):
            ours, theirs = model.train_on_batch(x, y), float(twin.train_on_batch(x, y))
            assert_close(np.array(ours), np.array(theirs), f"{case}: loss of step {step + 1}",
                         rtol=TRAIN_RTOL, floor=0.0)
    names = [f"{layer.name}/{name}" for layer in model.layers for name, _, _ in layer.named_weights()]
    for name, a, b in zip(names, model.get_weights(), twin.get_weights(), strict=True):
        assert_close(a, b, f"{case}: {name} after {TRAIN_STEPS} steps", rtol=TRAIN_RTOL,
                     floor=float(np.abs(b).max()))


def test_keras_opens_a_model_file_of_every_layer_and_predicts_the_same(reference, tmp_path):
    """A .keras file written by scratchconv from a model holding every layer class (moving
    statistics after a training step included) is read by keras.models.load_model."""
    import keras
    from reference.compare import assert_close
    from test_layers import every_layer_model

    model = every_layer_model()
    model.save(tmp_path / "every.keras")
    with reference.keras_floatx("float64"):
        twin = keras.models.load_model(tmp_path / "every.keras")
        x = np.random.default_rng(2).standard_normal((3, 9, 8, 2))
        assert_close(model.predict(x, verbose=0), np.asarray(twin.predict(x, verbose=0)), "predictions",
                     atol=FLOAT64_ATOL)


# ----- issue 10's "done when" ------------------------------------------------------------------

DONE_WHEN_RTOL = 1e-9
ZERO_WEIGHT = 1e-4


def done_when_model():
    """Issue 10's model: Conv2D(padding="same") -> BatchNormalization -> Activation("relu") ->
    AveragePooling2D -> Dropout (rate 0 for the comparison) -> Conv2D(activation="tanh") ->
    GlobalAveragePooling2D -> Dense(softmax), float64."""
    return scratchconv.Sequential([
        scratchconv.Input((12, 12, 3)), layers.Conv2D(8, 3, padding="same"), layers.BatchNormalization(),
        layers.Activation("relu"), layers.AveragePooling2D(), layers.Dropout(0.0),
        layers.Conv2D(6, 3, activation="tanh"), layers.GlobalAveragePooling2D(),
        layers.Dense(4, activation="softmax")], dtype="float64")


def test_done_when_model_matches_keras_after_ten_rmsprop_steps(reference, on_backend):
    """Same initial weights, fit without shuffling for 2 epochs of 5 batches (ten RMSprop steps)
    in each library: the epoch losses, every weight and the moving statistics agree to 1e-9
    relative (the largest entry of each array sets its floor), and so do count_params().

    The first Conv2D's bias feeds the BatchNormalization, which subtracts the batch mean: its
    gradient is zero in exact arithmetic, so it stays at its initial 0 up to rounding (~1e-14
    in either library, in different directions); arrays that small are compared in absolute
    terms, to DONE_WHEN_RTOL * ZERO_WEIGHT = 1e-13."""
    import keras
    from reference.compare import assert_close
    scratchconv.set_seed(0)
    model = done_when_model()
    model.compile(optimizer=scratchconv.optimizers.RMSprop(learning_rate=0.01), loss="categorical_crossentropy")
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1, (40, 12, 12, 3)), np.eye(4)[rng.integers(0, 4, 40)]
    twin = reference.to_keras(model)
    assert isinstance(twin.optimizer, keras.optimizers.RMSprop)
    assert model.count_params() == twin.count_params()
    with reference.keras_floatx("float64"):
        theirs = twin.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    ours = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    assert ours[1] < ours[0]  # it trains
    assert_close(np.array(ours), np.array(theirs), "epoch losses", rtol=DONE_WHEN_RTOL, floor=0.0)
    names = [f"{layer.name}/{name}" for layer in model.layers for name, _, _ in layer.named_weights()]
    assert "batch_normalization" in " ".join(names) and any(n.endswith("moving_variance") for n in names)
    for name, a, b in zip(names, model.get_weights(), twin.get_weights(), strict=True):
        assert_close(a, b, f"{name} after ten steps", rtol=DONE_WHEN_RTOL,
                     floor=max(float(np.abs(b).max()), ZERO_WEIGHT))


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("activation ")] + ["activation gelu"])
def test_the_twin_goes_back_to_the_same_scratchconv_model(reference, case):
    """from_keras(to_keras(model)): the same layer configs (Keras's options and defaults map both
    ways) and the same weights, moving statistics included."""
    model, _ = make_case(case)
    back = reference.from_keras(reference.to_keras(model))

    def configs(m):
        return [(type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "input_shape"})
                for layer in m.layers]
    assert configs(back) == configs(model)
    for a, b in zip(model.get_weights(), back.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
