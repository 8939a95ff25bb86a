"""The tf.keras side of scratchconv: the twin of a model, and the side-by-side tutorial.

    from reference import to_keras, from_keras
    twin = to_keras(model)          # keras.Sequential with model's layers and weights
    back = from_keras(twin)         # scratchconv.Sequential again

This package is not part of the installed ``scratchconv``; it needs tensorflow
(``pip install -e '.[reference]'``) and runs from the repository root.
"""
import os

# TensorFlow's C++ start-up chatter (oneDNN notices, CPU feature lists) hides the numbers we print.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import keras  # noqa: F401  (imported here so that a missing tensorflow fails with the fix)
except ImportError as err:
    raise ImportError("reference/ needs tensorflow and keras: pip install -e '.[reference]'") from err

from .twin import from_keras, keras_floatx, keras_layer, keras_loss, keras_optimizer, to_keras

__all__ = ["to_keras", "from_keras", "keras_floatx", "keras_layer", "keras_loss", "keras_optimizer"]
