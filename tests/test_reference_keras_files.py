"""Keras's own files both ways, checked against Keras (issue 12): a ``.keras`` file saved by tf.keras
loads in scratchconv in a process where tensorflow and keras cannot be imported, and predicts within
1e-5 of Keras; ``model.save("m.keras")`` writes what ``keras.models.load_model`` opens and predicts
the same with; legacy ``.h5`` (whose loss reloads as a function) and ``.weights.h5`` files; the
optimizer state where Keras keeps it.

Bounds: the weights arrive bit for bit; the probabilities agree within 1e-5, the forward bound of
test_reference_agreement.py (the two libraries sum in different orders).
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import scratchconv
from scratchconv import layers

PROBS_ATOL = 1e-5


def batch(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 12, 12, 3)).astype(np.float32)
    return x, np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]


def keras_trained(keras, loss="categorical_crossentropy", optimizer="adam"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(4, (3, 3), activation="relu"),
                              keras.layers.MaxPooling2D((2, 2)), keras.layers.Conv2D(3, (2, 2), activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    model.fit(*batch(), epochs=2, batch_size=8, verbose=0)
    return model


def scratchconv_trained():
    scratchconv.set_seed(0)
    model = scratchconv.Sequential([layers.Conv2D(4, (3, 3), activation="relu", input_shape=(12, 12, 3)),
                                    layers.MaxPooling2D((2, 2)), layers.Conv2D(3, (2, 2), activation="relu"),
                                    layers.Flatten(), layers.Dense(8, activation="relu"),
                                    layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(*batch(), epochs=2, batch_size=8, verbose=0)
    return model


def assert_same_weights(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, np.asarray(b))


# Run in a fresh interpreter: any import of tensorflow or keras fails, then scratchconv loads
# the file and saves its predictions.
WITHOUT_TENSORFLOW = textwrap.dedent("""
    import sys
    class Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
                raise ImportError(f"{name} is blocked in this test")
    sys.meta_path.insert(0, Blocked())
    try:
        import keras
    except ImportError:
        pass
    else:
        raise SystemExit("the blocker let keras in")
    import numpy as np
    import scratchconv
    model = scratchconv.load_model(sys.argv[1])
    np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
    assert not [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")]
""")


def test_a_keras_file_loads_where_tensorflow_cannot_be_imported(keras, tmp_path):
    trained = keras_trained(keras)
    trained.save(tmp_path / "model.keras")
    x, _ = batch(seed=1)
    np.save(tmp_path / "x.npy", x)
    result = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, str(tmp_path / "model.keras"),
                             str(tmp_path / "x.npy"), str(tmp_path / "p.npy")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    difference = np.abs(np.load(tmp_path / "p.npy") - trained.predict(x, verbose=0)).max()
    print(f"\ntf.keras .keras file, in scratchconv without tensorflow: largest probability "
          f"difference {difference:.1e}")
    assert difference <= PROBS_ATOL, difference


def test_a_keras_file_brings_its_weights_compile_settings_and_optimizer_state(keras, tmp_path):
    trained = keras_trained(keras)
    trained.save(tmp_path / "model.keras")
    ours = scratchconv.load_model(tmp_path / "model.keras")
    assert_same_weights(ours.get_weights(), trained.get_weights())
    assert ours.get_compile_config() == {
        "optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.001, "weight_decay": None,
                                                       "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07}},
        "loss": "categorical_crossentropy", "metrics": ["accuracy"]}
    params = [p for layer in ours.layers for p in layer.trainable_weights]
    iterations, slots = ours.optimizer.get_state(params)
    assert iterations == int(trained.optimizer.iterations) == 6
    momentums = [np.asarray(v) for v in trained.optimizer.variables if "momentum" in v.path]
    velocities = [np.asarray(v) for v in trained.optimizer.variables if "velocity" in v.path]
    for named, m, v in zip(slots, momentums, velocities):
        np.testing.assert_array_equal(named["m"], m)
        np.testing.assert_array_equal(named["v"], v)


def test_a_scratchconv_keras_file_opens_in_keras_and_predicts_the_same(keras, tmp_path):
    model = scratchconv_trained()
    model.save(tmp_path / "model.keras")
    theirs = keras.models.load_model(tmp_path / "model.keras")
    assert_same_weights(model.get_weights(), theirs.get_weights())
    x, _ = batch(seed=1)
    difference = np.abs(model.predict(x, verbose=0) - theirs.predict(x, verbose=0)).max()
    print(f"\nscratchconv .keras file, in keras: largest probability difference {difference:.1e}")
    assert difference <= PROBS_ATOL, difference
    assert type(theirs.optimizer).__name__ == "Adam" and int(theirs.optimizer.iterations) == 6
    params = [p for layer in model.layers for p in layer.trainable_weights]
    _, slots = model.optimizer.get_state(params)
    momentums = [np.asarray(v) for v in theirs.optimizer.variables if "momentum" in v.path]
    for named, m in zip(slots, momentums):
        np.testing.assert_array_equal(named["m"], m)


def test_a_legacy_h5_file_with_a_loss_function_loads_with_its_optimizer_state(keras, tmp_path):
    trained = keras_trained(keras, loss=keras.losses.categorical_crossentropy,
                            optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    trained.save(tmp_path / "model.h5")
    ours = scratchconv.load_model(tmp_path / "model.h5")
    assert_same_weights(ours.get_weights(), trained.get_weights())
    assert ours.get_compile_config()["loss"] == "categorical_crossentropy"
    assert ours.get_compile_config()["optimizer"]["config"]["momentum"] == 0.9
    x, y = batch(seed=1)
    assert np.abs(ours.predict(x, verbose=0) - trained.predict(x, verbose=0)).max() <= PROBS_ATOL
    # The momentum came along: one more step moves the weights alike (1e-6, as below).
    assert ours.optimizer.iterations == int(trained.optimizer.iterations) == 6
    ours.train_on_batch(x, y)
    trained.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=0, atol=1e-6)


def test_reference_from_keras_takes_a_loss_given_as_a_function(keras, tmp_path):
    import reference
    trained = keras_trained(keras, loss=keras.losses.categorical_crossentropy)
    trained.save(tmp_path / "model.h5")
    reloaded = keras.models.load_model(tmp_path / "model.h5")
    assert callable(reloaded.loss) and not isinstance(reloaded.loss, keras.losses.Loss)
    assert reference.from_keras(reloaded).get_compile_config()["loss"] == "categorical_crossentropy"


def test_weights_h5_files_go_both_ways(keras, tmp_path):
    trained = keras_trained(keras)
    trained.save_weights(tmp_path / "keras.weights.h5")
    ours = scratchconv_trained()
    ours.load_weights(tmp_path / "keras.weights.h5")
    assert_same_weights(ours.get_weights(), trained.get_weights())
    ours.layers[0].params["kernel"][...] += 0.5
    ours.save_weights(tmp_path / "ours.weights.h5")
    trained.load_weights(tmp_path / "ours.weights.h5")
    assert_same_weights(ours.get_weights(), trained.get_weights())


def test_the_readme_from_and_to_keras_block_runs_as_written(keras, tmp_path, monkeypatch):
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- keras-python -->\n```python\n(.*?)```", readme, re.S).group(1)
    trained = keras_trained(keras)
    trained.save(tmp_path / "keras_model.keras")
    monkeypatch.chdir(tmp_path)
    exec(block, {})
    back = keras.models.load_model(tmp_path / "from_scratchconv.keras")
    x, _ = batch(seed=2)
    assert np.abs(back.predict(x, verbose=0) - trained.predict(x, verbose=0)).max() <= PROBS_ATOL


def optimizer_cases():
    from scratchconv import optimizers
    return {"Adam with a schedule": lambda: optimizers.Adam(
                learning_rate=optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)),
            "RMSprop centered, momentum": lambda: optimizers.RMSprop(momentum=0.5, centered=True),
            "SGD": lambda: optimizers.SGD(0.01),
            "SGD momentum": lambda: optimizers.SGD(0.01, momentum=0.9),
            "AdamW": lambda: optimizers.AdamW(weight_decay=0.01)}


@pytest.mark.parametrize("case", list(optimizer_cases()))
def test_training_continues_alike_in_keras_from_a_scratchconv_keras_file(keras, tmp_path, case):
    # The optimizer's state must land in the variables Keras reads: one more step from the
    # loaded file then moves the weights the same way in both (1e-6: float32 rounding of a step).
    x, _ = batch(n=8)
    y = np.eye(2, dtype=np.float32)[np.arange(8) % 2]
    scratchconv.set_seed(0)
    model = scratchconv.Sequential([layers.Conv2D(2, (3, 3), activation="relu", input_shape=(12, 12, 3)),
                                    layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizer_cases()[case](), loss="categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / "model.keras")
    theirs = keras.models.load_model(tmp_path / "model.keras")
    assert int(theirs.optimizer.iterations) == model.optimizer.iterations == 2
    model.train_on_batch(x, y)
    theirs.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=0, atol=1e-6)


def test_a_keras_file_with_every_layer_class_scratchconv_has_loads_and_predicts_the_same(keras, tmp_path):
    keras.utils.set_random_seed(1)
    trained = keras.Sequential([
        keras.Input((12, 12, 3)), keras.layers.Conv2D(4, (3, 3), padding="same"),
        keras.layers.BatchNormalization(), keras.layers.ReLU(), keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(4, (2, 2), activation="tanh"), keras.layers.AveragePooling2D((2, 2)),
        keras.layers.Activation("sigmoid"), keras.layers.Dropout(0.2),
        keras.layers.Conv2D(3, (1, 1)), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3), keras.layers.Softmax()])
    trained.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    trained.fit(*batch(), epochs=1, batch_size=8, verbose=0)
    trained.save(tmp_path / "model.keras")
    ours = scratchconv.load_model(tmp_path / "model.keras")
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in trained.layers]
    assert_same_weights(ours.get_weights(), trained.get_weights())
    x, _ = batch(seed=1)
    difference = np.abs(ours.predict(x, verbose=0) - trained.predict(x, verbose=0)).max()
    assert difference <= PROBS_ATOL, difference
