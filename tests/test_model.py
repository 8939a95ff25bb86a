"""Sequential: structure, forward/backward, training, evaluation, summary, weights and configs."""
import re

import numpy as np
import pytest
from engine_checks import MovingMean, model_gradient_errors

import scratchconv
from scratchconv import Sequential, optimizers, set_seed, tutorial_model
from scratchconv.layers import Conv2D, Dense, Flatten, MaxPooling2D, ReLU, Softmax


def small_model(last="softmax", dtype="float32", loss="categorical_crossentropy", optimizer="adam"):
    model = Sequential([Conv2D(3, 3, strides=(2, 1), padding="same", activation="relu", input_shape=(7, 6, 2)),
                        MaxPooling2D((2, 2), strides=(1, 2), padding="same"), Conv2D(4, 2),
                        Flatten(), Dense(5, activation="relu"), Dense(4, activation=last)], dtype=dtype)
    model.compile(optimizer, loss, metrics=["accuracy"])
    return model


def data(n=12, shape=(7, 6, 2), classes=4, seed=0, sparse=False):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    return rng.standard_normal((n,) + shape).astype(np.float32), labels if sparse else np.eye(classes)[labels]


# ----- the tutorial model --------------------------------------------------------------------

def test_tutorial_model_has_519096_parameters_in_keras_shapes():
    model = tutorial_model()
    assert model.count_params() == 519_096
    assert [w.shape for w in model.get_weights()] == [(3, 3, 3, 64), (64,), (3, 3, 64, 32), (32,),
                                                      (3872, 128), (128,), (128, 24), (24,)]


def test_tutorial_model_is_compiled_with_adam_and_categorical_crossentropy():
    config = tutorial_model().get_compile_config()
    assert config["optimizer"]["class_name"] == "Adam" and config["loss"] == "categorical_crossentropy"
    assert config["metrics"] == ["accuracy"]


def test_tutorial_model_trains_on_random_data_with_falling_loss(on_backend):
    set_seed(0)
    model = tutorial_model()
    x, y = data(32, (50, 50, 3), 24)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] and all(np.isfinite(losses))


def test_tutorial_model_gradients_match_central_differences_in_float64(on_backend):
    set_seed(1)
    model = tutorial_model(dtype="float64")
    x, y = data(1, (50, 50, 3), 24)
    errors = model_gradient_errors(model, x.astype(np.float64), y, samples=4)
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("last, loss", [("softmax", "categorical_crossentropy"),
                                        ("softmax", "sparse_categorical_crossentropy"),
                                        ("relu", "categorical_crossentropy")])
def test_small_model_gradients_match_central_differences(last, loss, on_backend):
    """Every entry of every tensor; the "relu" head takes the loss through the (clipped)
    probabilities instead of the logits."""
    set_seed(2)
    model = small_model(last, "float64", loss)
    x, y = data(3, sparse=loss.startswith("sparse"))
    x = x.astype(np.float64)
    if last == "relu":
        model.layers[-1].params["bias"][:] = 1.0  # keep every output positive: a valid distribution
    errors = model_gradient_errors(model, x, y)
    assert max(errors.values()) <= 1e-7, errors


def test_a_softmax_layer_at_the_end_gives_the_same_loss_as_a_softmax_activation(on_backend):
    fused = Sequential([Dense(4, activation="softmax", input_shape=(3,))], dtype="float64")
    split = Sequential([Dense(4, input_shape=(3,)), Softmax()], dtype="float64")
    fused.build(), split.build()
    split.set_weights(fused.get_weights())
    for model in (fused, split):
        model.compile("sgd", "categorical_crossentropy")
    x, y = np.random.default_rng(0).standard_normal((5, 3)), np.eye(4)[[0, 1, 2, 3, 0]]
    a, b = fused.loss_and_gradients(x, y), split.loss_and_gradients(x, y)
    assert a[0] == pytest.approx(b[0], rel=1e-14)
    for ga, gb in zip(a[1], b[1]):
        np.testing.assert_allclose(ga, gb, rtol=1e-12)


def test_train_on_batch_skips_the_first_layers_input_gradient(monkeypatch):
    from scratchconv import backend
    monkeypatch.setattr(backend, "_current", "numpy")
    kernels = backend.kernels()
    calls = []
    original = kernels.conv2d_backward_input
    monkeypatch.setattr(kernels, "conv2d_backward_input", lambda *a: calls.append(1) or original(*a))
    model = small_model()
    x, y = data(4)
    model.train_on_batch(x, y)
    assert len(calls) == 1  # only the second Conv2D
    model.loss_and_gradients(x, y)
    assert len(calls) == 3  # both, since dx is returned


def test_loss_and_gradients_changes_nothing():
    model = small_model()
    before = model.get_weights()
    loss, grads, dx = model.loss_and_gradients(*data(4))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert [g.shape for g in grads] == [w.shape for w in before] and dx.shape == (4, 7, 6, 2)


def test_train_on_batch_returns_the_loss_before_the_update_and_steps_the_optimizer():
    model = small_model()
    x, y = data(4)
    expected, before = model.loss_and_gradients(x, y)[0], model.get_weights()
    assert model.train_on_batch(x, y) == expected
    assert model.optimizer.iterations == 1
    assert not any(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_backward_gives_the_input_gradient_of_the_last_forward():
    model = Sequential([Dense(3, input_shape=(2,)), ReLU()], dtype="float64")
    x = np.array([[1.0, -2.0]])
    y = model.forward(x)
    dx = model.backward(np.ones_like(y))
    kernel = model.layers[0].params["kernel"]
    np.testing.assert_allclose(dx, ((y > 0) * 1.0) @ kernel.T)


# ----- fit, evaluate, predict ----------------------------------------------------------------

def test_fit_history_has_keras_keys_per_epoch():
    history = small_model().fit(*data(12), epochs=3, batch_size=5, validation_split=0.25, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 3 for v in history.history.values()) and history.epoch == [0, 1, 2]


def test_fit_without_metrics_records_only_the_loss():
    model = small_model()
    model.compile("adam", "categorical_crossentropy")
    assert list(model.fit(*data(), verbose=0).history) == ["loss"]


def test_validation_split_holds_out_the_last_samples():
    x, y = data(12)
    set_seed(3)
    a = small_model()
    val_loss = a.fit(x, y, epochs=1, validation_split=0.25, verbose=0).history["val_loss"][0]
    assert val_loss == pytest.approx(a.evaluate(x[9:], y[9:], verbose=0)[0], rel=1e-6)
    set_seed(3)
    b = small_model()
    b.fit(x[:9], y[:9], epochs=1, verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_validation_data_is_evaluated_after_each_epoch():
    x, y = data(12)
    model = small_model()
    history = model.fit(x[:8], y[:8], validation_data=(x[8:], y[8:]), verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[8:], y[8:], verbose=0)[0], rel=1e-6)


def test_epoch_loss_is_the_sample_weighted_mean_of_the_batch_losses():
    """12 samples in batches of 5, 5 and 2: the epoch loss weights them by size."""
    x, y = data(12)
    set_seed(4)
    reference = small_model()
    expected = sum(len(xb) * reference.train_on_batch(xb, yb)
                   for xb, yb in [(x[:5], y[:5]), (x[5:10], y[5:10]), (x[10:], y[10:])]) / 12
    set_seed(4)
    got = small_model().fit(x, y, batch_size=5, shuffle=False, verbose=0).history["loss"][0]
    assert got == pytest.approx(expected, rel=1e-12)


def test_fit_with_sparse_labels_trains():
    model = small_model(loss="sparse_categorical_crossentropy")
    history = model.fit(*data(16, sparse=True), epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_shuffle_draws_a_new_order_each_epoch():
    x, y = data(12)
    set_seed(5)
    shuffled = small_model()
    shuffled.fit(x, y, epochs=2, batch_size=4, verbose=0)
    set_seed(5)
    in_order = small_model()
    in_order.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(shuffled.get_weights(), in_order.get_weights()))


def test_evaluate_returns_loss_and_accuracy_in_keras_order():
    model = small_model()
    x, y = data(10)
    loss, accuracy = model.evaluate(x, y, batch_size=3, verbose=0)
    probs = model.predict(x, verbose=0)
    assert accuracy == np.mean(probs.argmax(1) == y.argmax(1))
    assert loss == pytest.approx(float(np.mean(-np.log((probs * y).sum(1)))), rel=1e-5)


def test_evaluate_without_metrics_returns_the_loss_alone():
    model = small_model()
    model.compile("adam", "categorical_crossentropy")
    assert isinstance(model.evaluate(*data(), verbose=0), float)


def test_sparse_accuracy_compares_labels_with_the_argmax():
    model = small_model(loss="sparse_categorical_crossentropy")
    x, labels = data(10, sparse=True)
    _, accuracy = model.evaluate(x, labels, verbose=0)
    assert accuracy == np.mean(model.predict(x, verbose=0).argmax(1) == labels)


def test_predict_in_batches_equals_one_forward():
    model = small_model()
    x, _ = data(11)
    np.testing.assert_allclose(model.predict(x, batch_size=4, verbose=0), model.forward(x), rtol=1e-6)


def test_large_predict_batches_run_the_convolutions_in_passes_of_predict_chunk_samples(monkeypatch):
    from scratchconv import training

    model = small_model()
    x, _ = data(11)
    monkeypatch.setattr(training, "PREDICT_CHUNK", 3)
    passes = []  # (samples, steps) of each forward pass
    forward = model._forward
    monkeypatch.setattr(model, "_forward", lambda xs, training=False, steps=None: passes.append(
        (len(xs), len(model.steps if steps is None else steps))) or forward(xs, training, steps))
    out = model.predict(x, batch_size=8, verbose=0)
    # Batch 8: the steps before the first Dense (conv + pool, conv, flatten) in passes of 3, 3, 2,
    # then the two Dense layers over all 8; the last batch, 3 samples, in one pass of all 5 steps.
    assert passes == [(3, 3), (3, 3), (2, 3), (8, 2), (3, 5)]
    np.testing.assert_allclose(out, model.forward(x), rtol=1e-6)
    model.predict(x[:8], batch_size=8, verbose=0)  # a batch in passes, last
    # The steps' caches are of passes of different sizes: backward refuses before running any of
    # them back (given the dense steps' 8 samples and a convolution's last 2, a numba kernel
    # wrote past its arrays).
    with pytest.raises(RuntimeError, match="in passes .training=False"):
        model.backward(np.ones((8, 4), np.float32))
    model._forward(x[:8], training=True)
    assert model.backward(np.ones((8, 4), np.float32)).shape == x[:8].shape


def test_large_predict_batches_run_in_one_pass_when_the_convolutions_pair(monkeypatch):
    # Two convolution + pooling steps in a row run as one ConvPoolPairStep, which keeps each
    # sample's activations in its thread's scratch, and Flatten is a view: the whole batch goes
    # in one pass.
    from scratchconv import training
    from scratchconv.steps import ConvPoolPairStep

    model = Sequential([Conv2D(3, 3, activation="relu", input_shape=(10, 10, 2)), MaxPooling2D(),
                        Conv2D(4, 3, activation="relu"), MaxPooling2D(), Flatten(),
                        Dense(4, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    assert isinstance(model.inference_steps[0], ConvPoolPairStep)
    x, _ = data(11, shape=(10, 10, 2))
    monkeypatch.setattr(training, "PREDICT_CHUNK", 3)
    passes = []
    forward = model._forward
    monkeypatch.setattr(model, "_forward", lambda xs, training=False, steps=None: passes.append(
        (len(xs), len(model.inference_steps if steps is None else steps))) or forward(xs, training, steps))
    out = model.predict(x, batch_size=8, verbose=0)
    assert passes == [(8, 3), (3, 3)]  # the pair step, Flatten, Dense
    np.testing.assert_allclose(out, model.forward(x), rtol=1e-6)


# ----- progress output -----------------------------------------------------------------------

def test_verbose_0_prints_nothing(capsys):
    small_model().fit(*data(), epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_verbose_1_prints_one_keras_line_per_epoch_when_not_a_terminal(capsys):
    small_model().fit(*data(12), epochs=2, batch_size=5, validation_split=0.25, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    # A value of magnitude below 1e-3 (an accuracy of 0 on the three validation samples, which
    # depends on the unseeded weights) is written as Keras writes it: 0.0000e+00.
    value = r"\d\.\d{4}(e[+-]\d\d)?"
    pattern = (rf"2/2 ━{{20}} \d+s \d+(us|ms|s)/step - accuracy: {value} - loss: {value}"
               rf" - val_accuracy: {value} - val_loss: {value}")
    assert re.fullmatch(pattern, lines[1]), lines[1]


def test_verbose_2_prints_the_compact_line(capsys):
    small_model().fit(*data(12), epochs=1, batch_size=4, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"3/3 - \d+s - \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}", lines[1]), lines


def test_verbose_1_redraws_in_place_on_a_terminal():
    import io

    from scratchconv.progress import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    bar = ProgressBar(3, verbose=1, stream=out)
    bar.update(1, {"loss": 2.0})
    bar.finish({"loss": 1.5})
    text = out.getvalue()
    assert text.startswith("\r") and text.count("\r") == 2 and text.endswith("\n")
    assert "loss: 1.5000" in text


# ----- summary -------------------------------------------------------------------------------

def test_summary_prints_the_keras_table_and_totals(capsys):
    tutorial_model().summary()
    out = capsys.readouterr().out
    assert "┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃" in out
    assert re.search(r"│ conv2d(_\d+)? \(Conv2D\) +│ \(None, 48, 48, 64\) +│ +1,792 │", out)
    assert re.search(r"│ dense(_\d+)? \(Dense\) +│ \(None, 128\) +│ +495,744 │", out)
    assert " Total params: 519,096 (1.98 MB)" in out
    assert " Trainable params: 519,096 (1.98 MB)" in out and " Non-trainable params: 0 (0.00 B)" in out


def stateful_model(optimizer="adam"):
    model = Sequential([MovingMean(input_shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer, "categorical_crossentropy")
    return model


def test_summary_counts_trainable_and_non_trainable_weights_apart(capsys):
    stateful_model().summary()
    out = capsys.readouterr().out
    # scale (4) and the Dense's 4 x 3 + 3 are trainable, moving_mean (4) is not.
    assert " Total params: 23 (92.00 B)" in out
    assert " Trainable params: 19 (76.00 B)" in out and " Non-trainable params: 4 (16.00 B)" in out
    assert re.search(r"│ layer(_\d+)? \(MovingMean\) +│ \(None, 4\) +│ +8 │", out)


def test_non_trainable_weights_are_listed_counted_and_ordered_as_keras_does():
    model = stateful_model()
    scale, moving_mean = model.layers[0].params["scale"], model.layers[0].state["moving_mean"]
    kernel, bias = model.layers[1].params["kernel"], model.layers[1].params["bias"]
    assert model.count_params() == 23
    assert [w is v for w, v in zip(model.trainable_weights, [scale, kernel, bias])] == [True] * 3
    assert len(model.non_trainable_weights) == 1 and model.non_trainable_weights[0] is moving_mean
    # Keras 3's get_weights: layer by layer, each layer's trainable weights then its others.
    assert [w.shape for w in model.get_weights()] == [(4,), (4,), (4, 3), (3,)]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_only_trainable_weights_reach_the_optimizer(optimizer):
    model = stateful_model(optimizer)
    x, y = data(6, shape=(4,), classes=3)
    model.train_on_batch(x, y)
    moving_mean = model.layers[0].state["moving_mean"]
    # Moved by the training forward only: 0.9 * 0 + 0.1 * mean, untouched by the optimizer.
    np.testing.assert_array_equal(moving_mean, np.float32(0.9) * np.zeros(4, np.float32)
                                  + np.float32(0.1) * x.mean(axis=0))
    assert len(model.loss_and_gradients(x, y)[1]) == len(model.trainable_weights) == 3
    _, slots = model.optimizer.get_state(model.trainable_weights + model.non_trainable_weights)
    assert slots[-1] is None and (optimizer == "sgd" or all(s is not None for s in slots[:-1]))


def test_a_frozen_layer_is_left_alone_by_the_optimizer_and_counted_as_non_trainable(capsys):
    model = small_model()
    conv = model.layers[0]
    conv.trainable = False
    before = model.get_weights()
    x, y = data(4)
    assert len(model.loss_and_gradients(x, y)[1]) == len(model.trainable_weights) == 6
    model.train_on_batch(x, y)
    after = model.get_weights()
    # Keras 3's order is unchanged by freezing; the kernel and bias of the conv did not move.
    assert [w.shape for w in after] == [w.shape for w in before]
    assert all(np.array_equal(a, b) for a, b in zip(after[:2], before[:2]))
    assert not any(np.array_equal(a, b) for a, b in zip(after[2:], before[2:]))
    assert [w is p for w, p in zip(model.non_trainable_weights, conv.params.values())] == [True, True]
    frozen = conv.count_params()
    model.summary()
    out = capsys.readouterr().out
    assert f" Trainable params: {model.count_params() - frozen:,} " in out
    assert f" Non-trainable params: {frozen:,} " in out


def test_a_frozen_layer_stays_frozen_through_its_config():
    model = small_model()
    model.layers[0].trainable = False
    config = model.get_config()
    assert config["layers"][0]["config"]["trainable"] is False
    assert "trainable" not in config["layers"][1]["config"]
    copy = Sequential.from_config(config)
    assert [layer.trainable for layer in copy.layers] == [False] + [True] * (len(copy.layers) - 1)


def test_a_frozen_batch_normalization_runs_in_inference_mode_as_keras():
    from scratchconv.layers import BatchNormalization
    model = Sequential([Dense(3, input_shape=(4,)), BatchNormalization(), Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    bn = model.layers[1]
    bn.trainable = False
    x, y = data(6, shape=(4,), classes=2)
    moving = [s.copy() for s in bn.state.values()]
    model.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(bn.state.values(), moving))
    np.testing.assert_allclose(model.forward(x, training=True), model.forward(x, training=False), rtol=1e-6)


# ----- weights and configs -------------------------------------------------------------------

def test_set_weights_then_get_weights_round_trips():
    model = small_model()
    new = [np.full_like(w, i) for i, w in enumerate(model.get_weights())]
    model.set_weights(new)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), new))


def test_set_weights_keeps_the_optimizer_state():
    model = small_model()
    x, y = data(4)
    model.train_on_batch(x, y)
    model.set_weights(model.get_weights())
    model.train_on_batch(x, y)
    assert len(model.optimizer._state) == len(model.get_weights())


def test_config_round_trip_rebuilds_an_equal_model():
    import json
    model = small_model(dtype="float64")
    copy = Sequential.from_config(json.loads(json.dumps(model.get_config())))
    copy.set_weights(model.get_weights())
    x, _ = data(3)
    assert copy.dtype == "float64" and copy.get_config() == model.get_config()
    np.testing.assert_array_equal(copy.forward(x), model.forward(x))


def test_compile_config_round_trips():
    model = small_model(optimizer=optimizers.SGD(0.05, momentum=0.5))
    other = small_model()
    other.compile(**model.get_compile_config())
    assert other.get_compile_config() == model.get_compile_config()


def test_an_uncompiled_model_has_no_compile_config():
    assert Sequential([Dense(1, input_shape=(2,))]).get_compile_config() is None


def test_a_model_builds_from_its_first_input_without_input_shape():
    model = Sequential([Conv2D(2, 3), MaxPooling2D(), Flatten(), Dense(2)])
    assert not model.built
    y = model.forward(np.zeros((1, 6, 6, 1)))
    assert model.built and model.input_shape == (6, 6, 1) and y.shape == (1, 2)


def test_build_takes_keras_batch_shape():
    model = Sequential([Dense(2)])
    model.build((None, 5))
    assert model.input_shape == (5,) and model.output_shape == (2,)


def test_add_builds_the_new_layer_when_the_model_is_built():
    model = Sequential([Dense(3, input_shape=(2,))])
    model.build()
    model.add(Dense(4))
    assert model.built and model.layers[1].params["kernel"].shape == (3, 4)


def test_get_layer_finds_a_layer_by_name_or_index():
    model = small_model()
    conv = model.layers[2]
    assert model.get_layer(conv.name) is conv
    assert model.get_layer(index=2) is conv and model.get_layer(index=-1) is model.layers[-1]


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "nope"}, r"model 'm' has no layer named 'nope'; its layers are 'dense_a', 'dense_b'"),
    ({"index": 2}, r"model 'm' has 2 layers, so index must be an int from -2 to 1, got 2"),
    ({"index": -3}, r"from -2 to 1, got -3"),
    ({"index": 1.0}, r"must be an int from -2 to 1, got 1.0"),
    ({}, r"takes a layer name or an index, not both or neither"),
    ({"name": "dense_a", "index": 0}, r"not both or neither"),
])
def test_get_layer_names_what_it_cannot_find(kwargs, message):
    model = Sequential([Dense(3, input_shape=(2,), name="dense_a"), Dense(2, name="dense_b")], name="m")
    with pytest.raises(ValueError, match=message):
        model.get_layer(**kwargs)


def test_pop_removes_and_returns_the_last_layer_and_the_model_runs_without_it():
    model = Sequential([Dense(3, input_shape=(2,)), Dense(4), Dense(2, activation="softmax")])
    last = model.layers[-1]
    x = np.ones((5, 2), np.float32)
    model.predict(x, verbose=0)
    assert model.pop() is last
    assert len(model.layers) == 2 and model.output_shape == (4,) and model.count_params() == 9 + 16
    assert model.predict(x, verbose=0).shape == (5, 4)
    model.add(Dense(3))
    assert model.predict(x, verbose=0).shape == (5, 3)


def test_pop_of_an_empty_model_says_so():
    with pytest.raises(TypeError, match="model 'empty' has no layers to pop"):
        Sequential(name="empty").pop()


def test_the_public_api_is_exported():
    for name in ("Sequential", "load_model", "gradcheck", "set_seed", "set_backend", "tutorial_model"):
        assert callable(getattr(scratchconv, name)), name


def test_calling_a_model_or_a_layer_runs_its_forward():
    model = small_model()
    x, _ = data(2)
    np.testing.assert_array_equal(model(x), model.forward(x))
    layer = model.layers[0]
    np.testing.assert_array_equal(layer(x), layer.forward(x))


def test_gradients_returned_by_a_step_are_not_overwritten_by_the_next():
    model = small_model()
    x, y = data(4)
    _, grads, dx = model.loss_and_gradients(x, y)
    kept = [g.copy() for g in grads], dx.copy()
    model.train_on_batch(x[::-1], y[::-1])
    model.loss_and_gradients(x[::-1], y[::-1])
    for g, was in zip(grads, kept[0]):
        np.testing.assert_array_equal(g, was)
    np.testing.assert_array_equal(dx, kept[1])


def test_fit_and_predict_warn_once_about_unscaled_images():
    import warnings as w
    scratchconv.set_seed(0)
    model = scratchconv.tutorial_model(input_shape=(12, 12, 1), num_classes=2)
    x = np.random.default_rng(0).integers(0, 256, (4, 12, 12, 1)).astype("float32")
    y = np.eye(2, dtype="float32")[[0, 1, 0, 1]]
    with pytest.warns(UserWarning, match=r"fit: the images in x reach 25\d, as pixels of 0-255 do: "
                                         r"scale them to \[0, 1\] \(x / 255\)"):
        model.fit(x, y, epochs=1, verbose=0)
    with w.catch_warnings():
        w.simplefilter("error")
        model.predict(x, verbose=0)          # once per model
        model.predict(x / 255, verbose=0)
        model.predict(x - 128, verbose=0)    # standardised-looking: negative values too
    with pytest.warns(UserWarning, match="predict: the images in x reach"):
        scratchconv.tutorial_model(input_shape=(12, 12, 1), num_classes=2).predict(x, verbose=0)
