"""Interchange with tf.keras (issue 4, 2f): a model trained and saved by one library, loaded into
the other through ``reference/``, predicts the same.

- scratchconv -> keras: train with ``fit``, ``save``, ``scratchconv.load_model``, ``to_keras``,
  then save and reload that twin with keras's own ``.keras`` format, so the keras side is a
  plain keras model that no longer depends on scratchconv.
- keras -> scratchconv: train with keras's ``fit``, save as ``.keras``, ``keras.models.load_model``,
  ``from_keras``, save with scratchconv and ``scratchconv.load_model``.

The weights must arrive bit for bit; the predictions (float32 probabilities in [0, 1]) within
1e-5, the forward bound of test_reference_agreement.py, since the two libraries sum in
different orders.
"""
import numpy as np

import scratchconv
from scratchconv import layers

PROBS_ATOL = 1e-5


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 12, 12, 3)).astype(np.float32)
    labels = (x[:, :6].mean(axis=(1, 2, 3)) > x[:, 6:].mean(axis=(1, 2, 3))).astype(np.int64)
    return x, np.eye(2, dtype=np.float32)[labels]


def assert_same_weights(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_scratchconv_trained_and_saved_model_predicts_the_same_in_keras(reference, tmp_path):
    import keras
    from reference.compare import assert_close
    scratchconv.set_seed(0)
    model = scratchconv.Sequential([layers.Conv2D(4, (3, 3), activation="relu", input_shape=(12, 12, 3)),
                                    layers.MaxPooling2D((2, 2)), layers.Flatten(),
                                    layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x, y = data()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "model.npz")
    twin = reference.to_keras(scratchconv.load_model(tmp_path / "model.npz"))
    twin.save(tmp_path / "model.keras")
    in_keras = keras.models.load_model(tmp_path / "model.keras")
    assert_same_weights(model.get_weights(), in_keras.get_weights())
    assert_close(model.predict(x, verbose=0), in_keras.predict(x, verbose=0),
                 "probabilities of the scratchconv-trained model, in keras", atol=PROBS_ATOL)


def test_keras_trained_and_saved_model_predicts_the_same_in_scratchconv(reference, tmp_path):
    import keras
    from reference.compare import assert_close
    keras.utils.set_random_seed(0)
    trained = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(4, (3, 3), activation="relu"),
                                keras.layers.MaxPooling2D((2, 2)), keras.layers.Flatten(),
                                keras.layers.Dense(2, activation="softmax")])
    trained.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x, y = data()
    trained.fit(x, y, epochs=2, batch_size=16, verbose=0)
    trained.save(tmp_path / "model.keras")
    ours = reference.from_keras(keras.models.load_model(tmp_path / "model.keras"))
    ours.save(tmp_path / "model.npz")
    in_scratchconv = scratchconv.load_model(tmp_path / "model.npz")
    assert_same_weights(trained.get_weights(), in_scratchconv.get_weights())
    assert in_scratchconv.get_compile_config()["optimizer"]["class_name"] == "Adam"
    assert_close(in_scratchconv.predict(x, verbose=0), trained.predict(x, verbose=0),
                 "probabilities of the keras-trained model, in scratchconv", atol=PROBS_ATOL)
