"""Kernels: the arithmetic of convolution, max and average pooling, twice.

``numpy_kernels`` is the readable version, ``numba_kernels`` the fast one (its threading policy
in ``threads``); ``padding`` holds the output sizes both use, and ``winograd`` Winograd's
F(2x2, 3x3) in readable NumPy (the fast backend runs it compiled, forward and backward, where it
pays). Both backends export

- ``conv2d_forward(x, w, b, strides, pads, relu=False) -> y``
- ``conv2d_backward_input(dy, w, x_shape, strides, pads) -> dx``
- ``conv2d_backward_weights(dy, x, w_shape, strides, pads) -> dw``
- ``conv2d_backward(dy, x, w, strides, pads, relu_y=None, need_db=True, need_dx=True, workspace=None) -> (dw, db, dx)``
- ``maxpool2d_forward(x, pool_size, strides, pads) -> (y, argmax)``
- ``maxpool2d_backward(dy, argmax, x_shape) -> dx``
- ``conv2d_maxpool_forward(x, w, b, strides, pads, relu, pool_size, pool_strides, pool_pads, workspace=None, training=True) -> (y, argmax)`` (argmax None when not training)
- ``conv2d_maxpool_backward(dy, y, argmax, x, w, strides, pads, relu, need_db=True, need_dx=True, workspace=None) -> (dw, db, dx)``
- ``conv2d_maxpool_pair_forward(x, first, second, workspace=None) -> y`` (two of those pairs at inference; ``first``, ``second``: each pair's arguments ``(w, b, strides, pads, relu, pool_size, pool_strides, pool_pads)``)
- ``avgpool2d_forward(x, pool_size, strides, pads) -> y`` (padding not counted in the mean)
- ``avgpool2d_backward(dy, x_shape, pool_size, strides, pads) -> dx``
- ``dense_forward(x, w) -> x @ w`` (the Dense layer's product)
- ``dense_weight_gradient(x, dz) -> x.T @ dz`` (its kernel's gradient)
- ``relu_backward(dy, y, out=None) -> dz``
- ``adam_update(param, grad, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon)`` (in place)

with identical semantics (documented in ``numpy_kernels``). ``workspace`` is a dict the caller
keeps (a Conv2D keeps one): the fast backend keeps its scratch buffers there, and the fused
forward its outputs, reusing them on the next call of the same shape; the readable backend
ignores it. Layers reach them through
:func:`scratchconv.backend.kernels`, so the backend can be switched at run time.
"""
