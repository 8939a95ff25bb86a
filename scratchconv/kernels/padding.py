"""Output sizes and padding amounts, with Keras's conventions.

Shared by convolution and pooling, on both backends, so there is one definition of
"valid" and "same".

Notes
-----
For one spatial axis of length ``n``, window ``k`` and stride ``s``:

- ``"valid"``: no padding, ``out = floor((n - k) / s) + 1``.
- ``"same"``:  ``out = ceil(n / s)``; the total padding is ``max(k - s, 0)`` if ``n % s == 0``
  else ``max(k - n % s, 0)``, split as ``top = total // 2`` and the odd pixel on the
  bottom/right, exactly as TensorFlow does.
"""

PADDINGS = ("valid", "same")


def check_padding(padding):
    """Return ``padding`` lower-cased, or raise a ValueError naming what was given."""
    p = str(padding).lower()
    if p not in PADDINGS:
        raise ValueError(f'padding must be "valid" or "same", got {padding!r}')
    return p


def pads_1d(n, k, s, padding):
    """(before, after) padding for one axis of length n, window k, stride s."""
    if padding == "valid":
        return (0, 0)
    total = max(k - s, 0) if n % s == 0 else max(k - n % s, 0)
    return (total // 2, total - total // 2)


def output_size_1d(n, k, s, padding):
    """Output length along one axis; 0 or less means the window does not fit."""
    if padding == "valid":
        return (n - k) // s + 1 if n >= k else 0
    return -(-n // s)


def padded_output_size(n, k, s, before, after):
    """Output length along one axis once ``before`` and ``after`` cells of padding are added:
    ``floor((n + before + after - k) / s) + 1``."""
    return (n + before + after - k) // s + 1


def pads_2d(hw, kernel, strides, padding):
    """((top, bottom), (left, right)) for an input of spatial size hw = (H, W)."""
    return (pads_1d(hw[0], kernel[0], strides[0], padding),
            pads_1d(hw[1], kernel[1], strides[1], padding))


def output_size_2d(hw, kernel, strides, padding):
    """(H_out, W_out) for an input of spatial size hw = (H, W)."""
    return (output_size_1d(hw[0], kernel[0], strides[0], padding),
            output_size_1d(hw[1], kernel[1], strides[1], padding))
