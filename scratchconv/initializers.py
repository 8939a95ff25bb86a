"""Weight initialisers, with Keras's names, fans and formulas.

Each takes ``(shape, dtype, rng)`` and returns a new array. The fans follow Keras: a dense
kernel ``(n_in, n_out)`` has ``fan_in = n_in``, ``fan_out = n_out``; a convolution kernel
``(kh, kw, c_in, c_out)`` has ``fan_in = kh * kw * c_in`` and ``fan_out = kh * kw * c_out``.

- ``glorot_uniform``: U(-l, l), ``l = sqrt(6 / (fan_in + fan_out))`` (Keras's default kernel)
- ``glorot_normal``:  truncated normal (cut at 2 standard deviations), ``std = sqrt(2 / (fan_in + fan_out))``
- ``he_uniform``:     U(-l, l), ``l = sqrt(6 / fan_in)``
- ``he_normal``:      truncated normal, ``std = sqrt(2 / fan_in)``
- ``zeros``:          all zero (Keras's default bias)

The truncated normals are drawn with ``std / 0.87962566103423978`` before cutting, as Keras does,
so that the cut distribution has the stated standard deviation.
"""
import numpy as np

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it restores the variance.
_TRUNCATION_STD = 0.87962566103423978


def _fans(shape):
    """(fan_in, fan_out) of a kernel shape, as Keras computes them."""
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _truncated_normal(shape, std, rng):
    """Normal(0, std) samples, redrawing those beyond two standard deviations."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2.0
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2.0
    return z * std


def glorot_uniform(shape, dtype, rng):
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


def glorot_normal(shape, dtype, rng):
    fan_in, fan_out = _fans(shape)
    std = np.sqrt(2.0 / (fan_in + fan_out)) / _TRUNCATION_STD
    return _truncated_normal(shape, std, rng).astype(dtype)


def he_uniform(shape, dtype, rng):
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, shape).astype(dtype)


def he_normal(shape, dtype, rng):
    fan_in, _ = _fans(shape)
    std = np.sqrt(2.0 / fan_in) / _TRUNCATION_STD
    return _truncated_normal(shape, std, rng).astype(dtype)


def zeros(shape, dtype, rng):
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype, rng):
    return np.ones(shape, dtype=dtype)


INITIALIZERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal, zeros, ones)}


def check(name):
    """Return ``name`` if it names an initialiser, else raise a ValueError listing them."""
    if name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}: choose one of {', '.join(INITIALIZERS)}")
    return name


def get(name):
    """The initialiser function called ``name``."""
    return INITIALIZERS[check(name)]
