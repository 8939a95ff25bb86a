"""The tutorial model: the rune classifier of the tf.keras tutorial this project follows.

    Conv2D(64, 3x3, relu) -> MaxPooling2D(2x2) -> Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2)
    -> Flatten -> Dense(128, relu) -> Dense(24, softmax)

On 50x50x3 images it has 519,096 parameters, compiled with Adam and categorical cross-entropy.
"""
from .layers import Conv2D, Dense, Flatten, MaxPooling2D
from .model import Sequential

INPUT_SHAPE = (50, 50, 3)
NUM_CLASSES = 24


def tutorial_model(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES, dtype="float32", compile=True):
    """The tutorial's Sequential model, built (its first layer has ``input_shape``; the weights
    come from the seeded generator) and, unless ``compile=False``, compiled with ``optimizer="adam"``,
    ``loss="categorical_crossentropy"``, ``metrics=["accuracy"]``."""
    model = Sequential([
        Conv2D(64, (3, 3), activation="relu", input_shape=input_shape),
        MaxPooling2D((2, 2)),
        Conv2D(32, (3, 3), activation="relu"),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(128, activation="relu"),
        Dense(num_classes, activation="softmax"),
    ], dtype=dtype)
    if compile:
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model
