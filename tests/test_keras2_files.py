"""Legacy ``.h5`` files that Keras 2 wrote load in scratchconv, compiled as Keras 2 compiled them,
with their optimizer state: they predict what Keras 2 predicted and take the step it took.

The files and Keras 2's numbers are in ``tests/data/keras2/``, made by
``python -m reference.keras2_files`` (Keras 2 is not a test dependency). Bounds as in
test_reference_keras_files.py: probabilities within 1e-5 (the libraries sum in different orders),
weights after one step within 1e-6 (float32 rounding of a step), except one documented difference:
Keras 2's BatchNormalization moves its moving variance towards the batch's *unbiased* variance
(n / (n - 1) times the biased one, n the entries per channel; TensorFlow's fused batch norm), Keras 3
and scratchconv towards the biased one, so after one step the two moving variances differ by
(1 - momentum) * var / (n - 1), which the test checks to float32 rounding (measured: 1.5e-6 to
2.3e-6, predicted to within 1e-8).
"""
from pathlib import Path

import numpy as np
import pytest

import scratchconv

DATA = Path(__file__).resolve().parent / "data" / "keras2"
CASES = sorted(p.stem for p in DATA.glob("*.h5"))
OPTIMIZERS = {"adam": "Adam", "adam_schedule": "Adam", "adamw": "AdamW",
              "rmsprop_centered_momentum": "RMSprop", "sgd_momentum": "SGD"}


def test_every_optimizer_has_its_keras2_file():
    assert CASES == sorted(OPTIMIZERS)


@pytest.mark.parametrize("case", CASES)
def test_a_keras2_file_predicts_and_trains_on_as_keras2_did(case, recwarn):
    recorded = np.load(DATA / f"{case}.npz")
    model = scratchconv.load_model(DATA / f"{case}.h5")
    assert not [w for w in recwarn if "optimizer" in str(w.message)], [str(w.message) for w in recwarn]
    assert type(model.optimizer).__name__ == OPTIMIZERS[case]
    assert model.optimizer.iterations == 6  # 2 epochs of 3 batches
    assert model.get_compile_config()["loss"] == "categorical_crossentropy"
    difference = np.abs(model.predict(recorded["x"], verbose=0) - recorded["predictions"]).max()
    assert difference <= 1e-5, difference
    # The batch variance of what the batch normalization sees in this step (its input: the first
    # layer's output), as Keras 2 corrects it: by n / (n - 1).
    norm = model.layers[1]
    z = model.layers[0].forward(recorded["x"]).astype(np.float64)
    n = z.size // z.shape[-1]
    bessel = (1 - norm.momentum) * z.var(axis=(0, 1, 2)) / (n - 1)
    model.train_on_batch(recorded["x"], recorded["y"])
    names = [f"{layer.name}/{name}" for layer in model.layers for name, _, _ in layer.named_weights()]
    for i, (name, ours) in enumerate(zip(names, model.get_weights(), strict=True)):
        moving_variance = name == f"{norm.name}/moving_variance"
        theirs = recorded[f"after_step_{i}"] - (bessel if moving_variance else 0)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7 if moving_variance else 1e-6,
                                   err_msg=name)
