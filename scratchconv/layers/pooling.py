"""Pooling over NHWC images: MaxPooling2D and AveragePooling2D (sliding windows), and
GlobalAveragePooling2D and GlobalMaxPooling2D (one window the size of the image)."""
import numpy as np

from .. import backend
from ..kernels.padding import check_padding, pads_2d
from .base import Layer, shape_str, to_pair, window_output_hw


class _Pooling2D(Layer):
    """What the sliding-window pooling layers share: Keras's options ``pool_size``,
    ``strides`` (None means ``pool_size``) and ``padding``, their output sizes and pads."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", input_shape=None,
                 name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape)
        self.pool_size = to_pair(pool_size, "pool_size", self.describe())
        self.strides = self.pool_size if strides is None else to_pair(strides, "strides", self.describe())
        self.padding = check_padding(padding)

    def compute_output_shape(self, input_shape):
        return window_output_hw(self, input_shape, self.pool_size, "pool") + (input_shape[2],)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)
        self.pads = pads_2d(self.input_shape[:2], self.pool_size, self.strides, self.padding)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


class MaxPooling2D(_Pooling2D):
    """Max pooling, Keras's ``MaxPooling2D`` with ``data_format="channels_last"``.

    Parameters
    ----------
    pool_size : int or (int, int)
        ``(ph, pw)``.
    strides : int, (int, int) or None
        None means ``pool_size`` (Keras's default).
    padding : "valid" or "same"

    Shapes
    ------
    x : ndarray of shape (n, h, w, c);  y : ndarray of shape (n, h_out, w_out, c)

    Once built, ``pads`` is ``((top, bottom), (left, right))``, the -inf padding the kernels add.

    Notes
    -----
    ``y[n, i, j, c] = max_{p < ph, q < pw} x_pad[n, s_h i + p, s_w j + q, c]``, padding cells
    being -inf. Output sizes are Keras's, odd inputs included: ``"valid"``:
    ``h_out = floor((h - ph) / s_h) + 1`` (a last row that does not fill a window is dropped);
    ``"same"``: ``h_out = ceil(h / s_h)``.

    Backward: the whole of ``dy[n, i, j, c]`` goes to the one input pixel that won window
    ``(i, j)``; where windows overlap, a pixel's gradients add. **Ties**: the window is scanned
    row by row, left to right, and the first maximum wins; only it receives the gradient.
    """

    _default_name = "max_pooling2d"

    def forward(self, x, training=False):
        x = self._check_input(x)
        y, self._argmax = backend.kernels().maxpool2d_forward(x, self.pool_size, self.strides, self.pads)
        self._x_shape = x.shape
        return y

    def release_cache(self, why):
        super().release_cache(why)
        self._argmax = None

    def backward(self, dy, need_dx=True):
        dy = self._check_gradient(dy)
        if not need_dx:
            return None
        return backend.kernels().maxpool2d_backward(dy, self._argmax, self._x_shape)

    def kink_pattern(self, x, y):
        """The winner of every window: a step that swaps a window's two largest values
        crosses a kink."""
        return backend.kernels().maxpool2d_forward(x, self.pool_size, self.strides, self.pads)[1]


class AveragePooling2D(_Pooling2D):
    """Average pooling, Keras's ``AveragePooling2D`` with ``data_format="channels_last"``.

    Parameters
    ----------
    pool_size : int or (int, int)
        ``(ph, pw)``.
    strides : int, (int, int) or None
        None means ``pool_size`` (Keras's default).
    padding : "valid" or "same"

    Shapes
    ------
    x : ndarray of shape (n, h, w, c);  y : ndarray of shape (n, h_out, w_out, c)

    Notes
    -----
    ``y[n, i, j, c] = (1 / count[i, j]) sum_{p < ph, q < pw} x_pad[n, s_h i + p, s_w j + q, c]``
    with zero padding, where ``count[i, j]`` is the number of *input* pixels window ``(i, j)``
    covers: with "same" padding a window over the edge averages its real pixels only, as Keras
    (TensorFlow's avg_pool) does. Output sizes as MaxPooling2D.

    Backward: ``y[n, i, j, c]`` depends on each pixel it averages with weight ``1 / count[i, j]``,
    so ``dx[n, h, w, c] = sum_{(i, j) covering (h, w)} dy[n, i, j, c] / count[i, j]``; where windows
    overlap, a pixel's shares add. The backward needs only the input's shape.
    By ``avgpool2d_forward`` / ``avgpool2d_backward`` of the backend.
    """

    _default_name = "average_pooling2d"

    def forward(self, x, training=False):
        x = self._check_input(x)
        self._x_shape = x.shape
        return backend.kernels().avgpool2d_forward(x, self.pool_size, self.strides, self.pads)

    def backward(self, dy, need_dx=True):
        dy = self._check_gradient(dy)
        if not need_dx:
            return None
        return backend.kernels().avgpool2d_backward(dy, self._x_shape,
                                                    self.pool_size, self.strides, self.pads)


class _GlobalPooling2D(Layer):
    """What the global pooling layers share: Keras's ``keepdims`` and the output shape.

    x : ndarray of shape (n, h, w, c);  y : (n, c), or (n, 1, 1, c) with ``keepdims``
    """

    def __init__(self, keepdims=False, input_shape=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise ValueError(f"{self.describe()}: keepdims must be True or False, got {keepdims!r}")
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.describe()} takes images of shape (None, height, width, channels), "
                             f"got input of shape {shape_str((None,) + tuple(input_shape))}")
        return (1, 1, input_shape[2]) if self.keepdims else (input_shape[2],)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def _shaped(self, y):
        """y : (n, 1, 1, c) as the layer returns it."""
        return y if self.keepdims else y.reshape(len(y), -1)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean of each channel over the image, Keras's ``GlobalAveragePooling2D``.

    ``y[n, c] = (1 / (h w)) sum_{i, j} x[n, i, j, c]``; backward
    ``dx[n, i, j, c] = dy[n, c] / (h w)``, the same share for every pixel.
    """

    _default_name = "global_average_pooling2d"

    def forward(self, x, training=False):
        x = self._check_input(x)
        return self._shaped(x.mean(axis=(1, 2), keepdims=True))

    def backward(self, dy, need_dx=True):
        dy = self._check_gradient(dy)
        if not need_dx:
            return None
        h, w, c = self.input_shape
        dy = dy.reshape(len(dy), 1, 1, c)
        return np.broadcast_to(dy / (h * w), (len(dy), h, w, c)).copy()


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The maximum of each channel over the image, Keras's ``GlobalMaxPooling2D``.

    ``y[n, c] = max_{i, j} x[n, i, j, c]``. Backward: ``dy[n, c]`` goes to the pixel that holds
    the maximum; **ties**: as TensorFlow's ``reduce_max``, shared equally among all the pixels
    equal to the maximum (``dx = dy * [x == y] / #{x == y}``). Not differentiable where the
    winner changes: :meth:`kink_pattern` gives the winners.
    """

    _default_name = "global_max_pooling2d"

    def forward(self, x, training=False):
        x = self._check_input(x)
        y = x.max(axis=(1, 2), keepdims=True)
        winners = x == y
        # What backward needs: each pixel's share of its channel's gradient.
        self._share = winners / winners.sum(axis=(1, 2), keepdims=True).astype(self.dtype)
        return self._shaped(y)

    def backward(self, dy, need_dx=True):
        dy = self._check_gradient(dy)
        if not need_dx:
            return None
        dy = dy.reshape(len(dy), 1, 1, self.input_shape[2])
        return (self._share * dy).astype(self.dtype, copy=False)

    def kink_pattern(self, x, y):
        """The winners, ``x == max``: a finite-difference step must not change them."""
        return x == x.max(axis=(1, 2), keepdims=True)
