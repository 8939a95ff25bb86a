"""MaxPooling2D over NHWC images."""
from .. import backend
from ..kernels.padding import check_padding, pads_2d
from .base import Layer, to_pair, window_output_hw


class MaxPooling2D(Layer):
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

    def forward(self, x, training=False):
        x = self._check_input(x)
        y, self._argmax = backend.kernels().maxpool2d_forward(x, self.pool_size, self.strides, self.pads)
        self._x_shape = x.shape
        return y

    def release_cache(self, why):
        super().release_cache(why)
        self._argmax = None

    def backward(self, dy, need_dx=True):
        self._check_cache()
        if not need_dx:
            return None
        return backend.kernels().maxpool2d_backward(dy.astype(self.dtype, copy=False), self._argmax, self._x_shape)

    def kink_pattern(self, x, y):
        """The winner of every window: a step that swaps a window's two largest values
        crosses a kink."""
        return backend.kernels().maxpool2d_forward(x, self.pool_size, self.strides, self.pads)[1]

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}
