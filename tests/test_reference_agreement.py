"""Agreement with tf.keras, layer by layer: forward outputs and loss gradients (issue 4, 2a, 2b, 2d),
for both cross-entropy losses, from a softmax's logits and from probabilities.

Every model here is built in scratchconv, copied into tf.keras with ``reference.to_keras`` (the
same layers and the same weights) and fed the same batch. Compared:

- every layer's output and the final probabilities;
- the loss, and its gradient with respect to every weight and to the input, from
  ``tf.GradientTape`` around keras's own compiled loss (``model.compute_loss``), against
  ``Sequential.loss_and_gradients``.

Tolerances (both backends, the readable NumPy one and numba):

- float64: 1e-12 on the probabilities and layer outputs, 1e-10 relative on the gradients.
  Both libraries compute in float64 end to end, so only the order of the sums differs; the
  unit roundoff is 1.1e-16 and no sum here has more than ~4e3 terms.
- float32: 1e-5 absolute on the probabilities (they lie in [0, 1]); layer outputs within
  1e-5 of their array's largest entry; gradients within 1e-4 of their array's largest entry.
  float32's unit roundoff is 6e-8 and a sum of K terms in a different order differs by
  about sqrt(K) of those relative to its largest terms: K is at most 3872 (the tutorial's
  Dense(128) input), which gives ~4e-6 in the worst layer, well inside the bounds.

Gradient errors are measured relative to the largest entry of the array (``floor`` in
``reference.compare.relative_error``), not entry by entry: an entry that is a sum of terms of
both signs can be far smaller than its terms, and its float32 rounding error is relative to
the terms, not to the small result (entry-wise, the tutorial's first kernel gradient shows
5e-2 on an entry 1e-4 the size of the largest while the arrays agree to 1.4e-6 overall).
"""
import numpy as np
import pytest

import scratchconv
from scratchconv import layers

FLOAT32_PROBS_ATOL = 1e-5
FLOAT32_OUTPUT_SCALE_TOL = 1e-5
FLOAT32_GRAD_RTOL = 1e-4
FLOAT64_ATOL = 1e-12
FLOAT64_GRAD_RTOL = 1e-10


def built(case_layers, input_shape, dtype):
    model = scratchconv.Sequential(case_layers, dtype=dtype)
    model.build((None,) + input_shape)
    return model


def tutorial(dtype):
    return scratchconv.tutorial_model(dtype=dtype, compile=False)


def strides_2_same_padding_odd_input(dtype):
    return built([layers.Conv2D(4, (3, 3), strides=(2, 2), padding="same", activation="relu"),
                  layers.MaxPooling2D((2, 2), padding="same"),
                  layers.Flatten(),
                  layers.Dense(5, activation="softmax")], (9, 11, 2), dtype)


def pool_3_odd_input_valid(dtype):
    return built([layers.Conv2D(3, (3, 2), activation="relu"),
                  layers.MaxPooling2D((3, 3)),
                  layers.Flatten(),
                  layers.Dense(6, activation="softmax")], (13, 10, 3), dtype)


def overlapping_pool_3_stride_1_same(dtype):
    # No activation before the pool: random values have no ties, so each winner is unique.
    return built([layers.Conv2D(3, (2, 2), strides=(1, 2)),
                  layers.MaxPooling2D((3, 3), strides=(1, 1), padding="same"),
                  layers.Flatten(),
                  layers.Dense(4, activation="softmax")], (7, 8, 2), dtype)


def one_channel_input(dtype):
    return built([layers.Conv2D(5, (3, 3), activation="relu"),
                  layers.MaxPooling2D((2, 2), strides=(1, 2)),
                  layers.Conv2D(2, (2, 2), padding="same", use_bias=False),
                  layers.Flatten(),
                  layers.Dense(3, activation="softmax")], (8, 8, 1), dtype)


def dense_only(dtype):
    return built([layers.Dense(16, activation="relu"),
                  layers.Dense(7, activation="relu"),
                  layers.Dense(4, activation="softmax")], (10,), dtype)


def separate_relu_and_softmax_layers(dtype):
    return built([layers.Flatten(),
                  layers.Dense(8),
                  layers.ReLU(),
                  layers.Dense(5),
                  layers.Softmax()], (3, 4, 2), dtype)


CASES = {f.__name__: f for f in (tutorial, strides_2_same_padding_odd_input, pool_3_odd_input_valid,
                                  overlapping_pool_3_stride_1_same, one_channel_input, dense_only,
                                  separate_relu_and_softmax_layers)}
BATCH_SIZES = {"tutorial": 4}


def make_case(name, dtype, batch_size, seed=0):
    """A compiled scratchconv model of case ``name`` in ``dtype`` with seeded weights and
    non-zero biases, and a batch (x, one-hot y) for it."""
    scratchconv.set_seed(seed)
    model = CASES[name](dtype)
    rng = np.random.default_rng(seed + 1)
    # Non-zero biases, so that a bias that is ignored or misplaced shows.
    model.set_weights([w if w.ndim > 1 else rng.uniform(-0.1, 0.1, w.shape) for w in model.get_weights()])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = rng.uniform(0, 1, (batch_size,) + model.input_shape).astype(dtype)
    k = model.output_shape[-1]
    y = np.eye(k, dtype=dtype)[rng.integers(0, k, batch_size)]
    return model, x, y


def layer_outputs_ours(model, x):
    outputs = []
    for layer in model.layers:
        x = layer.forward(x)
        outputs.append(x)
    return outputs


def layer_outputs_keras(twin, x):
    outputs = []
    for layer in twin.layers:
        x = layer(x)
        outputs.append(np.asarray(x))
    return outputs


CASE_GRID = [(name, batch) for name in CASES for batch in ((BATCH_SIZES[name],) if name in BATCH_SIZES else (1, 5))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case, batch_size", CASE_GRID)
def test_every_layer_output_and_the_probabilities_match_keras(reference, on_backend, case, batch_size, dtype):
    from reference.compare import assert_close
    model, x, _ = make_case(case, dtype, batch_size)
    twin = reference.to_keras(model)
    ours, theirs = layer_outputs_ours(model, x), layer_outputs_keras(twin, x)
    for layer, a, b in zip(model.layers, ours, theirs):
        assert a.dtype == b.dtype == np.dtype(dtype), f"{layer.name}: dtypes ours {a.dtype}, keras {b.dtype}"
        scale = max(float(np.abs(b).max()), 1.0)
        tol = FLOAT64_ATOL if dtype == "float64" else FLOAT32_OUTPUT_SCALE_TOL * scale
        assert_close(a, b, f"{case}: output of {layer.name}", atol=tol)
    with reference.keras_floatx(dtype):  # else predict would cast float64 input to float32
        probs = np.asarray(twin.predict(x, verbose=0))
    assert_close(ours[-1], probs, f"{case}: probabilities",
                 atol=FLOAT64_ATOL if dtype == "float64" else FLOAT32_PROBS_ATOL)


def gradient_names(model):
    """What each of loss_and_gradients' arrays is the gradient to: layer/weight, then the input."""
    return [f"{layer.name}/{key}" for layer in model.layers for key in layer.params] + ["input"]


def keras_loss_and_gradients(tf, twin, x, y):
    """The compiled loss of a keras model and its gradients to every weight and to x."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        probs = twin(x, training=True)
        loss = twin.compute_loss(x=x, y=tf.constant(y), y_pred=probs)
    grads = tape.gradient(loss, [v.value for v in twin.trainable_variables] + [x])
    return float(loss), [np.asarray(g) for g in grads[:-1]], np.asarray(grads[-1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case, batch_size", CASE_GRID)
def test_loss_and_gradients_match_keras_gradient_tape(reference, tf, on_backend, case, batch_size, dtype):
    from reference.compare import assert_close
    model, x, y = make_case(case, dtype, batch_size)
    twin = reference.to_keras(model)
    loss, grads, dx = model.loss_and_gradients(x, y)
    keras_loss, keras_grads, keras_dx = keras_loss_and_gradients(tf, twin, x, y)
    rtol = FLOAT64_GRAD_RTOL if dtype == "float64" else FLOAT32_GRAD_RTOL
    assert_close(np.array(loss), np.array(keras_loss), f"{case}: loss", rtol=rtol, floor=0.0)
    for name, a, b in zip(gradient_names(model), grads + [dx], keras_grads + [keras_dx]):
        assert a.dtype == np.dtype(dtype), f"{name}: our gradient is {a.dtype}, not {dtype}"
        assert_close(a, b, f"{case}: gradient of the loss to {name}", rtol=rtol,
                     floor=float(np.abs(b).max()))


def test_keras_float64_max_pool_is_exact(tf):
    """A ~1e-7 difference between float64 inputs and a keras max pool is keras's float32
    MaxPooling2D layer (the default dtype policy) casting float64 input to float32 (next test),
    not TF's kernel. TF's float64 max pool, forward and gradient, equals our readable kernel bit for bit
    on this input (no ties: continuous random values), which is what lets the float64 forward
    checks above use 1e-12 through the pooling layers."""
    from scratchconv.kernels import numpy_kernels, padding
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 7, 3))
    pads = padding.pads_2d((9, 7), (3, 3), (2, 2), "same")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, 3, 2, "SAME")
    dy = rng.standard_normal(y.shape)
    dx = tape.gradient(y, xt, output_gradients=tf.constant(dy))
    ours, argmax = numpy_kernels.maxpool2d_forward(x, (3, 3), (2, 2), pads)
    assert y.dtype == tf.float64
    np.testing.assert_array_equal(np.asarray(y), ours)
    np.testing.assert_array_equal(np.asarray(dx), numpy_kernels.maxpool2d_backward(dy, argmax, x.shape))


def test_a_float32_keras_max_pool_layer_rounds_float64_input(tf):
    """Why the twin gives every keras layer the model's dtype: a keras layer left at the default
    float32 policy rounds float64 input to float32 (the ~1e-7 the lead saw)."""
    import keras
    x = np.random.default_rng(4).standard_normal((1, 4, 4, 1))
    y = np.asarray(keras.layers.MaxPooling2D((2, 2))(x))
    assert y.dtype == np.float32
    assert 0 < np.abs(y - x.reshape(1, 2, 2, 2, 2, 1).max(axis=(2, 4))).max() < 1e-6


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["softmax", "relu"])
@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_both_losses_match_keras_from_logits_and_from_probabilities(reference, tf, loss, output, dtype):
    """After a softmax both libraries take the loss from the logits; after another activation
    (here relu, positive biases so that the outputs are not all zero) from the probabilities,
    renormalised and clipped to [1e-7, 1 - 1e-7] (categorical) or clipped and log-softmaxed
    (sparse), as keras/src/backend/tensorflow/nn.py does. Same bounds as above."""
    from reference.compare import assert_close
    scratchconv.set_seed(0)
    model = built([layers.Conv2D(3, (3, 3), activation="relu"), layers.Flatten(),
                   layers.Dense(4, activation=output)], (6, 6, 2), dtype)
    rng = np.random.default_rng(1)
    model.set_weights([w if w.ndim > 1 else rng.uniform(0.05, 0.1, w.shape) for w in model.get_weights()])
    model.compile(optimizer="sgd", loss=loss)
    x = rng.uniform(0, 1, (5, 6, 6, 2)).astype(dtype)
    labels = rng.integers(0, 4, 5)
    y = labels if loss.startswith("sparse") else np.eye(4, dtype=dtype)[labels]
    loss_value, grads, dx = model.loss_and_gradients(x, y)
    keras_loss, keras_grads, keras_dx = keras_loss_and_gradients(tf, reference.to_keras(model), x, y)
    rtol = FLOAT64_GRAD_RTOL if dtype == "float64" else FLOAT32_GRAD_RTOL
    assert_close(np.array(loss_value), np.array(keras_loss), f"{loss} after {output}", rtol=rtol, floor=0.0)
    for name, a, b in zip(gradient_names(model), grads + [dx], keras_grads + [keras_dx]):
        assert_close(a, b, f"{loss} after {output}: gradient to {name}", rtol=rtol, floor=float(np.abs(b).max()))
