"""Remake the model ``scratchconv serve`` shows when given none: ``default_model.npz``.

    python -m scratchconv.serve.make_default_model [--out PATH] [--epochs 12] [--seed 0] [--data DIR]

A small cousin of the tutorial model, so that the repository can ship it (about 200 KB of
float32 weights against the tutorial model's 2 MB)::

    Conv2D(16, 3x3, relu) -> MaxPooling2D(2x2) -> Conv2D(16, 3x3, relu) -> MaxPooling2D(2x2)
    -> Flatten -> Dense(24, softmax)                                      49,256 parameters

trained with Adam on the shipped runes (``data/runes``). A third of the images is held out
first (``data.split``, stratified); the rest gets three random copies each, rotated up to 20°,
shifted up to 10% and zoomed by up to 25% (``data.augment``), because a rune drawn with a mouse
is rarely the size and place of the shipped ones. The test accuracy printed at the end is on the
held-out images, unaugmented. The file is saved without the optimizer's state (it is only for
looking at), which keeps it small.
"""
import argparse
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "default_model.npz"


def small_model():
    """The architecture above, built for 50x50 RGB images and compiled."""
    from scratchconv import Sequential, layers

    model = Sequential([
        layers.Conv2D(16, (3, 3), activation="relu", input_shape=(50, 50, 3)),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(16, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(24, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def make(out=DEFAULT_OUT, epochs=12, seed=0, folder=None):
    """Train the small model on the images in ``folder`` (default: the shipped runes), save it
    to ``out``; returns the test accuracy."""
    import scratchconv
    from scratchconv import data

    scratchconv.set_seed(seed)
    prep = data.preprocessing()
    x, y, class_names = data.load_image_folder(folder or data.default_data_dir(), **prep)
    x_train, x_test, y_train, y_test = data.split(x, data.to_categorical(y), random_state=seed)
    x_train, y_train = data.augment(x_train, y_train, copies=3, rotation=20, shift=0.1,
                                    zoom=0.25, seed=seed)
    model = small_model()
    model.class_names, model.preprocessing = class_names, prep
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_test, y_test))
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    model.save(out, include_optimizer=False)
    print(f"{model.count_params():,} parameters, test accuracy {accuracy:.4f} on the "
          f"{len(x_test)} held-out images; saved to {out}")
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scratchconv.serve.make_default_model",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, type=Path, help="default: %(default)s")
    parser.add_argument("--epochs", default=12, type=int, help="default: %(default)s")
    parser.add_argument("--seed", default=0, type=int, help="default: %(default)s")
    parser.add_argument("--data", type=Path, help="a labelled image folder (default: the shipped "
                        "runes)")
    args = parser.parse_args(argv)
    make(args.out, args.epochs, args.seed, args.data)


if __name__ == "__main__":
    main()
