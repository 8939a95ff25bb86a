"""What the page shows, computed from a model and one image: no web code here.

- :func:`prepare`: the bytes of an image file, prepared for the model exactly as
  ``data.load_image`` prepares a file (with the model file's preprocessing);
- :func:`layer_outputs`: every layer's output for it, running the model layer by layer
  (``layer.forward``), the way ``scratchconv visualize`` does;
- :func:`ranked`: the class probabilities, most probable first;
- :func:`explain_pixel`: one output pixel of a Conv2D, MaxPooling2D or AveragePooling2D worked
  out from its inputs, the equations of docs/convolution.md with this image's numbers;
- :func:`receptive_field`: the part of the model's input one output pixel depends on.
"""
import numpy as np

from ..kernels.padding import pads_2d
from ..layers import AveragePooling2D, Conv2D, MaxPooling2D
from ..layers.activations import apply as apply_activation

def class_names(model):
    """The names of ``model``'s classes as the page shows them, one per output: ``"ᚠ fehu"``
    for a rune, else the name its model file gives (``"0"``, ``"1"``, ... for a model without
    class names and other than 24 outputs)."""
    from ..cli import long_label
    from ..saving import default_class_names

    names = model.class_names or default_class_names(model.output_shape[-1])
    return [long_label(names, i) for i in range(len(names))]


def preprocessing(model):
    """How ``model``'s images are prepared, the keyword arguments of ``data.load_image``: what
    its model file says, or for a model made in this process the loader's defaults for its
    input shape. ValueError when the loader cannot make its inputs."""
    from ..saving import default_preprocessing

    prep = model.preprocessing or default_preprocessing(model.input_shape)
    if prep is None:
        raise ValueError(f"the model expects {'x'.join(map(str, model.input_shape))} inputs; "
                         "scratchconv's image loader makes square grayscale (1 channel) or RGB "
                         "(3 channel) images")
    return prep


def prepare(model, image_bytes, max_pixels=None):
    """The image file ``image_bytes`` as ``model`` takes it: (h, w, c) float32 in [0, 1],
    prepared by ``data.load_image`` as the model's training images were. ValueError when the
    bytes are not a readable image or it has more than ``max_pixels`` pixels."""
    from ..data import load_image

    return load_image(image_bytes, max_pixels=max_pixels, **preprocessing(model))


def layer_outputs(model, x):
    """Every layer's output for the one image ``x`` (h, w, c): a list with one array per layer,
    without the batch axis; the last one holds the class probabilities."""
    outputs, a = [], x[None]
    for layer in model.layers:
        a = layer.forward(a)
        outputs.append(a[0])
    return outputs


def ranked(names, probabilities):
    """``[{"class": name, "probability": p}, ...]``, most probable first (ties in class order)."""
    order = np.argsort(-np.asarray(probabilities, dtype=np.float64), kind="stable")
    return [{"class": names[i], "probability": float(probabilities[i])} for i in order]


# The layers whose output pixels come from a window of their input.
WINDOWED = (Conv2D, MaxPooling2D, AveragePooling2D)


def explainable(layer):
    """Whether :func:`explain_pixel` can work out ``layer``'s output pixels."""
    return isinstance(layer, WINDOWED)


def _window(layer):
    """(kernel or pool size, strides) of a windowed layer."""
    size = layer.kernel_size if isinstance(layer, Conv2D) else layer.pool_size
    return size, layer.strides


def receptive_field(model, index, row, col):
    """The pixels of the model's input that output pixel (row, col) of layer ``index`` depends
    on: ``(top, left, bottom, right)``, bottom and right exclusive, clipped to the image.

    Walking back from the layer: a window layer with size k, stride s and top padding t maps
    output rows [a, b) to input rows [s a - t, s (b - 1) - t + k); a layer whose output has its
    input's shape (ReLU) keeps them; any other (Flatten, Dense) depends on all of its input.
    """
    top, left, bottom, right = row, col, row + 1, col + 1
    for layer in reversed(model.layers[:index + 1]):
        shape = tuple(layer.input_shape)
        if isinstance(layer, WINDOWED):
            (kh, kw), (sh, sw) = _window(layer)
            (pt, _), (pl, _) = pads_2d(shape[:2], (kh, kw), (sh, sw), layer.padding)
            top, bottom = max(sh * top - pt, 0), min(sh * (bottom - 1) - pt + kh, shape[0])
            left, right = max(sw * left - pl, 0), min(sw * (right - 1) - pl + kw, shape[1])
        elif len(shape) != 3 or tuple(layer.compute_output_shape(shape)) != shape:
            return (0, 0) + tuple(model.input_shape[:2])
    return top, left, bottom, right


def explain_pixel(model, x, outputs, index, row, col, channel):
    """Output pixel ``(row, col, channel)`` of layer ``index`` worked out from its inputs.

    x : ndarray of shape (h, w, c), the prepared image;  outputs : :func:`layer_outputs` of it.

    Every answer has the window of the layer's input, ``inputs`` (None where the window lies in
    the padding), the window's ``top`` and ``left`` in the layer's input (negative in the
    padding), the ``receptive_field`` on the model's input, the ``value`` worked out here in
    float64 and the ``model_value`` the layer itself computed. Then, for a Conv2D
    (docs/convolution.md)::

        z = b[o] + sum_{p, q, c} x_pad[s_h i + p, s_w j + q, c] * w[p, q, c, o],   y = act(z)

    ``inputs`` (kh, kw, c_in), the ``kernel`` slice (kh, kw, c_in), their element-wise
    ``products`` (padding counts as 0), their ``sum``, ``bias``, ``z`` and the ``activation``.
    For a MaxPooling2D, ``y = max_{p, q} x_pad[s_h i + p, s_w j + q, c]``: ``inputs`` (ph, pw)
    of the channel and the ``winner``, its row and column in the window (the first maximum in
    row-major order, the kernels' tie rule). For an AveragePooling2D, ``y = sum / count``: the
    ``sum`` of the window's input pixels and their ``count`` (padding is not counted, as in
    Keras). ValueError for another layer or a pixel outside the output.
    """
    if not 0 <= index < len(model.layers):
        raise ValueError(f"layer must be between 0 and {len(model.layers) - 1}, got {index}")
    layer = model.layers[index]
    if not explainable(layer):
        raise ValueError(f"layer {index} ({layer.describe()}) is not a Conv2D, MaxPooling2D or "
                         "AveragePooling2D: only their pixels are worked out")
    y = outputs[index]
    for name, value, limit in (("row", row, y.shape[0]), ("col", col, y.shape[1]),
                               ("channel", channel, y.shape[2])):
        if not 0 <= value < limit:
            raise ValueError(f"{name} must be between 0 and {limit - 1} for {layer.describe()}'s "
                             f"{y.shape[0]}x{y.shape[1]}x{y.shape[2]} output, got {value}")
    layer_input = x if index == 0 else outputs[index - 1]
    (kh, kw), (sh, sw) = _window(layer)
    (pt, pb), (pl, pr) = pads_2d(layer_input.shape[:2], (kh, kw), (sh, sw), layer.padding)
    # NaN marks the padding: zeros in a convolution, never the maximum, not averaged.
    padded = np.pad(layer_input.astype(np.float64), ((pt, pb), (pl, pr), (0, 0)),
                    constant_values=np.nan)
    window = padded[sh * row:sh * row + kh, sw * col:sw * col + kw]
    result = {"layer": layer.name, "class_name": type(layer).__name__, "row": row, "col": col,
              "channel": channel, "top": sh * row - pt, "left": sw * col - pl,
              "receptive_field": receptive_field(model, index, row, col),
              "model_value": float(y[row, col, channel])}
    if isinstance(layer, Conv2D):
        return {**result, **_convolution(layer, window, channel)}
    plane = window[:, :, channel]
    inputs = _json_window(plane)
    if isinstance(layer, MaxPooling2D):
        winner = np.unravel_index(int(np.nanargmax(plane)), plane.shape)
        return {**result, "inputs": inputs, "winner": [int(winner[0]), int(winner[1])],
                "value": float(plane[winner])}
    total, count = float(np.nansum(plane)), int(np.count_nonzero(~np.isnan(plane)))
    return {**result, "inputs": inputs, "sum": total, "count": count, "value": total / count}


def _convolution(layer, window, channel):
    """The Conv2D part of :func:`explain_pixel` for its ``window`` (kh, kw, c_in), NaN in the
    padding."""
    x = np.nan_to_num(window, nan=0.0)
    kernel = layer.params["kernel"].astype(np.float64)
    bias = layer.params["bias"].astype(np.float64) if layer.use_bias else np.zeros(layer.filters)
    products = x * kernel[:, :, :, channel]
    # Every channel's z at this pixel, so that an activation across channels (softmax) works.
    z_all = np.tensordot(x, kernel, axes=3) + bias
    z_all[channel] = products.sum() + bias[channel]
    value = apply_activation(layer.activation, z_all[None].copy())[0, channel]
    return {"inputs": _json_window(window), "kernel": kernel[:, :, :, channel].tolist(),
            "products": products.tolist(), "sum": float(products.sum()),
            "bias": float(bias[channel]), "z": float(z_all[channel]),
            "activation": layer.activation or "linear", "value": float(value)}


def _json_window(window):
    """``window`` as nested lists, None for the padding (NaN, which JSON does not have)."""
    if window.ndim == 1:
        return [None if np.isnan(v) else float(v) for v in window]
    return [_json_window(part) for part in window]
