"""Dropout: inverted dropout in training, the identity at inference."""
import contextlib

import numpy as np

from ..checks import is_int, is_number
from ..random import generator
from .base import Layer, shape_str


class Dropout(Layer):
    """Inverted dropout, Keras's ``Dropout(rate, noise_shape=None, seed=None)``.

    Parameters
    ----------
    rate : float in [0, 1)
        The fraction of the units set to zero in a training forward.
    noise_shape : tuple or None
        The shape of the mask, batch axis included, broadcast over the input; None entries take
        the input's size (Keras's convention): ``(None, 1, 1, None)`` drops whole channels of
        an NHWC image. None: one mask entry per unit.
    seed : int or None
        None draws the masks from scratchconv's generator (so :func:`scratchconv.set_seed`
        repeats them); an int gives the layer a generator of its own, seeded once.

    Shapes
    ------
    x, y : ndarray of any shape (n, ...)

    Notes
    -----
    Training (``training=True``, as in ``fit``): draw ``u ~ U[0, 1)`` of the mask's shape, keep
    ``m = [u >= rate]`` and ``y = x * m / (1 - rate)``, so ``E[y] = x`` and nothing needs
    rescaling at inference. Inference (``training=False``): ``y = x``. A rate of 0 is the
    identity in both.

    Backward: ``y`` is ``x`` times a constant (for the drawn mask), so
    ``dx = dy * m / (1 - rate)`` after a training forward and ``dx = dy`` after an inference one.
    The gradient check holds the mask fixed across its evaluations with :meth:`hold_randomness`.
    """

    _default_name = "dropout"

    def __init__(self, rate, noise_shape=None, seed=None, input_shape=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape)
        if not is_number(rate) or not 0 <= rate < 1:
            raise ValueError(f"{self.describe()}: rate must be a number in [0, 1) (the fraction of units "
                             f"dropped), got {rate!r}")
        self.rate = float(rate)
        if noise_shape is not None:
            shape = tuple(noise_shape) if isinstance(noise_shape, (tuple, list)) else None
            if not shape or not all(d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                                                  and d > 0) for d in shape):
                raise ValueError(f"{self.describe()}: noise_shape must be a tuple of positive ints or None "
                                 f"(batch axis included), got {noise_shape!r}")
            noise_shape = tuple(None if d is None else int(d) for d in shape)
        self.noise_shape = noise_shape
        if seed is not None and (not is_int(seed) or seed < 0):
            raise ValueError(f"{self.describe()}: seed must be a non-negative int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._rng = None if seed is None else np.random.default_rng(self.seed)
        self._scale = None  # m / (1 - rate) of the last training forward; None after an inference one
        self._held = False

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def build(self, input_shape):
        if self.noise_shape is not None:
            self._mask_shape((None,) + tuple(input_shape))
        super().build(input_shape)

    def _mask_shape(self, x_shape):
        """The noise shape for an input of ``x_shape``: None entries filled in, each 1 or x's size."""
        if len(self.noise_shape) != len(x_shape):
            raise ValueError(f"{self.describe()}: noise_shape {self.noise_shape} has {len(self.noise_shape)} "
                             f"axes but the input {shape_str(x_shape)} has {len(x_shape)}")
        shape = tuple(n if d is None else d for d, n in zip(self.noise_shape, x_shape))
        if any(d not in (1, n) for d, n in zip(shape, x_shape) if n is not None):
            raise ValueError(f"{self.describe()}: noise_shape {self.noise_shape} does not broadcast to the input "
                             f"{shape_str(x_shape)}: each axis must be None, 1 or the input's size")
        return shape

    @contextlib.contextmanager
    def hold_randomness(self):
        """Within this block, a training forward reuses the mask of the last one instead of
        drawing a new one (the gradient check differentiates one fixed function)."""
        self._held = True
        try:
            yield self
        finally:
            self._held = False

    def forward(self, x, training=False):
        x = self._check_input(x)
        if not training or self.rate == 0:
            self._scale = None
            return x
        if not (self._held and self._scale is not None):
            shape = x.shape if self.noise_shape is None else self._mask_shape(x.shape)
            keep = (self._rng or generator()).random(shape) >= self.rate
            self._scale = keep * np.asarray(1 / (1 - self.rate), dtype=self.dtype)
        return x * self._scale

    def backward(self, dy, need_dx=True):
        dy = self._check_gradient(dy)
        if not need_dx:
            return None
        return dy if self._scale is None else dy * self._scale

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape), "seed": self.seed}
