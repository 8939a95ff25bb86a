"""Legacy ``.h5`` files written by Keras 2, kept as test data: ``tests/data/keras2/``.

    pip install tf-keras        # Keras 2 (its tf_keras package), beside Keras 3
    python -m reference.keras2_files

Keras 2 is not installed with the test extras (tf-keras pulls the full ``tensorflow`` wheel in
beside ``tensorflow-cpu``), so its files are made once here and the tests read them without it:
``tests/test_keras2_files.py``. For each optimizer this trains a small model in Keras 2, saves
it as ``<case>.h5`` and records in ``<case>.npz`` a batch ``x``, ``y``, Keras 2's predictions of
``x`` and its weights after one more ``train_on_batch(x, y)``: a loaded model must predict the
same and, from the optimizer state in the file, take the same step.
"""
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras2"


def optimizers(keras):
    """The optimizers scratchconv has, with the settings that give them every slot."""
    return {"adam": lambda: keras.optimizers.Adam(),
            "adam_schedule": lambda: keras.optimizers.Adam(
                keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)),
            "adamw": lambda: keras.optimizers.AdamW(weight_decay=0.01),
            "rmsprop_centered_momentum": lambda: keras.optimizers.RMSprop(momentum=0.5, centered=True),
            "sgd_momentum": lambda: keras.optimizers.SGD(0.01, momentum=0.9)}


def model(keras):
    """Small, but with the layers whose Keras 2 configs differ from Keras 3's (BatchNormalization
    writes its axis as a list) and an optimizer slot for every kind of weight; no dropout, whose
    random mask would make the recorded step unrepeatable, and no bias before the batch
    normalization, whose gradient is zero in exact arithmetic (Adam's step of it is rounding
    noise over rounding noise)."""
    layers = keras.layers
    return keras.Sequential([
        layers.Conv2D(3, (3, 3), use_bias=False, input_shape=(8, 8, 3)),
        layers.BatchNormalization(), layers.Activation("relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(2, (2, 2), padding="same"), layers.Activation("tanh"),
        layers.AveragePooling2D((2, 2)), layers.Flatten(),
        layers.Dense(4, activation="relu"), layers.Dense(3, activation="softmax")])


def main():
    import tf_keras as keras

    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (12, 8, 8, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(12) % 3]
    for case, optimizer in optimizers(keras).items():
        keras.utils.set_random_seed(0)
        m = model(keras)
        m.compile(optimizer=optimizer(), loss="categorical_crossentropy", metrics=["accuracy"])
        m.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
        m.save(OUT / f"{case}.h5")
        predictions = m.predict(x, verbose=0)
        m.train_on_batch(x, y)
        np.savez(OUT / f"{case}.npz", x=x, y=y, predictions=predictions,
                 **{f"after_step_{i}": w for i, w in enumerate(m.get_weights())})
        print(f"wrote {case}.h5 and {case}.npz (Keras {keras.__version__})")


if __name__ == "__main__":
    main()
