"""set_seed makes everything repeat: initial weights, shuffling, and so whole training runs,
bit for bit, in one process and in two, on each backend."""
import hashlib
import os
import subprocess
import sys

import numpy as np

from scratchconv import Sequential, set_seed, tutorial_model
from scratchconv.layers import Conv2D, Dense, Flatten, MaxPooling2D

# A seeded fit, printing a hash of the final weights: run here and in fresh interpreters.
SCRIPT = """
import hashlib
import numpy as np
from scratchconv import Sequential, set_seed
from scratchconv.layers import Conv2D, Dense, Flatten, MaxPooling2D

def seeded_fit_digest(seed):
    set_seed(seed)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(9, 9, 2)), MaxPooling2D(),
                        Flatten(), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    data = np.random.default_rng(100)
    x = data.standard_normal((20, 9, 9, 2)).astype(np.float32)
    y = np.eye(3)[data.integers(0, 3, 20)]
    model.fit(x, y, epochs=3, batch_size=6, validation_split=0.2, verbose=0)
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(w.tobytes())
    return digest.hexdigest()
"""
namespace = {}
exec(SCRIPT, namespace)
seeded_fit_digest = namespace["seeded_fit_digest"]


def test_two_seeded_fits_give_bit_identical_weights(on_backend):
    assert seeded_fit_digest(42) == seeded_fit_digest(42)


def test_different_seeds_give_different_weights(on_backend):
    assert seeded_fit_digest(42) != seeded_fit_digest(43)


def test_a_seeded_fit_repeats_in_other_processes(on_backend):
    env = {**os.environ, "SCRATCHCONV_BACKEND": on_backend}
    command = [sys.executable, "-c", SCRIPT + "\nprint(seeded_fit_digest(42))"]
    digests = {subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.strip()
               for _ in range(2)}
    assert digests == {seeded_fit_digest(42)}


def test_set_seed_repeats_the_initial_weights():
    set_seed(7)
    first = tutorial_model().get_weights()
    set_seed(7)
    second = tutorial_model().get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_set_seed_repeats_numpys_global_generator():
    set_seed(8)
    first = np.random.rand(3)
    set_seed(8)
    np.testing.assert_array_equal(np.random.rand(3), first)


def test_predictions_repeat_exactly(on_backend):
    set_seed(9)
    model = Sequential([Conv2D(3, 3, input_shape=(6, 6, 1)), MaxPooling2D(), Flatten(), Dense(2)])
    x = np.random.default_rng(0).standard_normal((5, 6, 6, 1)).astype(np.float32)
    first = model.predict(x, verbose=0)
    assert hashlib.sha256(model.predict(x, verbose=0).tobytes()).digest() == hashlib.sha256(first.tobytes()).digest()


# A seeded fit and predictions through every numba convolution path (direct and im2col with two
# input channels; Winograd in training and at inference with 32), printing a hash of the weights
# and outputs and whether numba compiled for 512-bit vectors.
WIDTH_SCRIPT = """
import hashlib
import numpy as np
from scratchconv import Sequential, set_seed
from scratchconv.kernels import numba_kernels, simd
from scratchconv.layers import Conv2D, Dense, Flatten, MaxPooling2D

set_seed(5)
model = Sequential([Conv2D(32, 3, activation="relu", input_shape=(12, 12, 2)), MaxPooling2D(),
                    Conv2D(8, 3, activation="relu"), MaxPooling2D(), Flatten(),
                    Dense(3, activation="softmax")])
model.compile("adam", "categorical_crossentropy")
data = np.random.default_rng(101)
x = data.standard_normal((12, 12, 12, 2)).astype(np.float32)
model.fit(x, np.eye(3)[data.integers(0, 3, 12)], epochs=2, batch_size=4, verbose=0)
digest = hashlib.sha256(model.predict(x, verbose=0).tobytes())
for w in model.get_weights():
    digest.update(w.tobytes())
print(digest.hexdigest(), simd.configure())
"""


def test_numbas_vector_width_changes_no_bit():
    # scratchconv.kernels.simd lets numba use 512-bit vectors on an AVX-512 CPU; its loops keep
    # their order of operations, so 256-bit ones (LLVM's default there) give the same bits.
    env = {**os.environ, "SCRATCHCONV_BACKEND": "numba"}
    env.pop("NUMBA_CPU_FEATURES", None)
    narrow = "from scratchconv.kernels import simd\nsimd.WIDE_VECTORS = False\n"
    runs = [subprocess.run([sys.executable, "-c", prefix + WIDTH_SCRIPT], env=env, capture_output=True,
                           text=True, check=True).stdout.split() for prefix in ("", narrow)]
    (wide_digest, _), (narrow_digest, narrow_wide) = runs
    assert narrow_wide == "False"
    assert wide_digest == narrow_digest
