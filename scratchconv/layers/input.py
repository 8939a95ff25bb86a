"""Input: the shape of a model's input, declared as a Sequential's first entry."""
import numpy as np

from .base import unique_name


class Input:
    """Keras's ``keras.Input(shape)`` for a Sequential: ``Sequential([Input((28, 28, 1)), ...])``.

    Parameters
    ----------
    shape : tuple of positive int
        One sample, without the batch axis, e.g. ``(28, 28, 1)`` for NHWC images.
    name : str or None
        Keras-style automatic name (``input_layer``, ``input_layer_1``, ...) when None.

    It sets the input shape, so the model is built as soon as its first layer is added, and is
    not a layer: as in Keras, ``model.layers`` does not list it, and it has no weights. The model's
    config keeps it (``"input"``), so it survives ``get_config``/``from_config`` and saving.
    """

    def __init__(self, shape, name=None):
        dims = tuple(shape) if isinstance(shape, (tuple, list)) else ()
        if not dims or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                               for d in dims):
            raise ValueError(f"Input: shape must be a tuple of positive ints (one sample, without the batch "
                             f"axis), got {shape!r}")
        self.shape = tuple(int(d) for d in dims)
        self.name = unique_name("input_layer") if name is None else str(name)

    def get_config(self):
        return {"shape": list(self.shape), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<Input shape={self.shape} name={self.name!r}>"
