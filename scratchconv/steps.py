"""How a model runs its layers: a list of steps, each one layer or a fused pair.

A :class:`~scratchconv.Sequential` turns its layers into steps (:func:`plan`) and runs them in
a plain loop: ``x = step.forward(x, training)`` from the first to the last, then
``d = step.backward(d, need_dx)`` from the last to the first. A step is

- :class:`LayerStep`: one layer, through the layer's own ``forward`` / ``backward`` (the layer
  keeps its own cache);
- :class:`ConvPoolStep`: a Conv2D and the MaxPooling2D right after it, through the fused kernels
  ``conv2d_maxpool_forward`` / ``conv2d_maxpool_backward``, which pool each sample's convolution
  while it is in cache and never store the convolution's output. The step keeps what its
  backward needs (the input, the pooled output, where each maximum came from) and makes both
  layers forget theirs (:meth:`Layer.release_cache`), so that a layer's own ``backward`` after
  a fused pass raises a clear error instead of using an earlier batch's cache.

- :class:`ConvPoolPairStep`: two ConvPoolSteps in a row, at inference (``predict``,
  ``evaluate``) as one pass, ``conv2d_maxpool_pair_forward``: each sample goes through both
  on one thread, so the first pooled output stays in that thread's cache. The model's
  inference passes run :func:`for_inference` of its steps; training runs :func:`plan`'s.

Which layers fuse is decided here, by :func:`plan` and :func:`for_inference`, and nowhere
else. Every step has
``layers`` (the layers it runs), ``name`` and ``forward(x, training=False) -> y`` /
``backward(d, need_dx=True) -> dx``; a step whose last layer ends in a softmax also has
``backward_from_logits(dz, need_dx=True)`` (see ``Sequential``, "Loss and the softmax").
"""
import numpy as np

from . import backend
from .layers import Conv2D, MaxPooling2D
from .layers.base import shape_str


class LayerStep:
    """One layer, run by its own ``forward`` and ``backward``."""

    def __init__(self, layer):
        self.layer = layer
        self.layers = (layer,)
        self.name = layer.name

    def forward(self, x, training=False):
        return self.layer.forward(x, training=training)

    def backward(self, d, need_dx=True):
        return self.layer.backward(d, need_dx)

    def backward_from_logits(self, dz, need_dx=True):
        """Backward from dz = dL/dlogits of the layer's final softmax."""
        return self.layer.backward_from_logits(dz, need_dx)

    def __repr__(self):
        return f"<LayerStep {self.name!r}>"


class ConvPoolStep:
    """A Conv2D and the MaxPooling2D right after it, as one pass.

    x : ndarray of shape (n, h, w, c_in)  ->  y : the pooled output, (n, hp, wp, c_out)

    Forward: ``y = pool(activation(conv(x)))`` by ``conv2d_maxpool_forward``. Backward from
    dy = dL/dy: each ``dy[n, i, j, o]`` goes to the convolution output that won window
    ``(i, j)`` (``argmax``), through the ReLU's mask there, which the pooled output gives
    (``y > 0`` equals ``z > 0`` at every winner, the only pixels that receive a gradient);
    then the convolution's backward (see :class:`~scratchconv.layers.Conv2D`). The
    convolution's output is never stored.

    An inference forward (``training=False``: predict, evaluate) keeps no argmax (the kernels do
    not compute it), so a backward after it raises a RuntimeError saying so.

    The step keeps its kernels' buffers in a workspace of its own; the pooled output lives
    there and the next forward of the same batch size overwrites it (the model has consumed it
    by then).
    """

    def __init__(self, conv, pool):
        if not self.fuses(conv, pool):
            raise ValueError(f"{conv.describe()} and {pool.describe()} cannot run as one step: it takes a "
                             f"Conv2D with activation relu or linear and a MaxPooling2D of the same dtype")
        self.conv, self.pool = conv, pool
        self.layers = (conv, pool)
        self.name = f"{conv.name} + {pool.name}"
        self._workspace = {}
        self._cache = None  # (x, pooled y, argmax) of the last forward
        # What each layer's own backward says after a fused forward.
        self._released = [(layer, f"its last forward ran fused with {other.describe()} in the model's step "
                                  f"{self.name!r}, which keeps what backward needs; run this layer's forward "
                                  f"again (or model.forward, layer by layer) before its backward")
                          for layer, other in ((conv, pool), (pool, conv))]

    @staticmethod
    def fuses(conv, pool):
        """Whether ``conv`` followed by ``pool`` can run as one ConvPoolStep: the fused
        kernels apply no activation but relu (or none), and compute in one dtype."""
        return (isinstance(conv, Conv2D) and isinstance(pool, MaxPooling2D)
                and conv.activation in ("relu", "linear") and pool.dtype == conv.dtype)

    def arguments(self):
        """The pair's arguments after the input, as ``conv2d_maxpool_forward`` takes them:
        ``(w, b, strides, pads, relu, pool_size, pool_strides, pool_pads)``."""
        conv, pool = self.conv, self.pool
        return (conv.params["kernel"], conv.params.get("bias"), conv.strides, conv.pads,
                conv.activation == "relu", pool.pool_size, pool.strides, pool.pads)

    def forward(self, x, training=False):
        x = self.conv._check_input(x)
        y, argmax = backend.kernels().conv2d_maxpool_forward(
            x, *self.arguments(), workspace=self._workspace, training=training)
        self.release()
        self._cache = (x, y, argmax)
        return y

    def release(self):
        """After a forward that ran this pair (here or in a ConvPoolPairStep): both layers
        forget their own caches, and so does this step until its next forward."""
        self._cache = None
        for layer, why in self._released:
            layer.release_cache(why)

    def backward(self, dy, need_dx=True):
        """dL/dx from dy = dL/d(pooled output); fills the convolution's grads."""
        if self._cache is None:
            raise RuntimeError(f"step {self.name!r} has not run forward yet, so it has nothing to run "
                               f"backward from")
        conv = self.conv
        x, y, argmax = self._cache
        if argmax is None:
            raise RuntimeError(f"step {self.name!r} last ran forward with training=False, which keeps no "
                               f"record of the pooling's winners; run forward with training=True before "
                               f"backward")
        dy = np.asarray(dy)
        if dy.shape != y.shape:  # a kernel given another shape would write past its arrays
            raise ValueError(f"step {self.name!r}: backward takes dL/dy of the shape of the last forward's "
                             f"output, {shape_str(y.shape)}, got {shape_str(dy.shape)}")
        dw, db, dx = backend.kernels().conv2d_maxpool_backward(
            dy.astype(conv.dtype, copy=False), y, argmax, x, conv.params["kernel"], conv.strides,
            conv.pads, conv.activation == "relu", need_db=conv.use_bias, need_dx=need_dx,
            workspace=self._workspace)
        conv.grads["kernel"] = dw
        if conv.use_bias:
            conv.grads["bias"] = db
        return dx

    def __repr__(self):
        return f"<ConvPoolStep {self.name!r}>"


class ConvPoolPairStep:
    """Two ConvPoolSteps in a row, run at inference as one pass.

    x : ndarray of shape (n, h, w, c_in)  ->  y : the second pooled output

    Forward with ``training=False``: ``conv2d_maxpool_pair_forward``, the same numbers as the
    two steps' forwards one after the other (the fast backend: the same bits), without
    writing the first pooled output of the whole batch. It keeps nothing for a backward, which
    raises a RuntimeError saying so. With ``training=True`` it runs the two steps, which keep
    their caches, and its backward runs theirs back (the model trains through
    :func:`plan`'s steps; this only keeps the step whole for any caller).
    """

    def __init__(self, first, second):
        if not self.fuses(first, second):
            raise ValueError(f"steps {first.name!r} and {second.name!r} cannot run as one pass: it "
                             f"takes two ConvPoolSteps of the same dtype")
        self.first, self.second = first, second
        self.layers = first.layers + second.layers
        self.name = f"{first.name} + {second.name}"
        self._workspace = {}
        self._trained = False  # whether the last forward kept the two steps' caches

    @staticmethod
    def fuses(first, second):
        """Whether two steps can run as one ConvPoolPairStep: both ConvPoolSteps, the second
        computing in the first's dtype (its input is the first's output, not cast)."""
        return (isinstance(first, ConvPoolStep) and isinstance(second, ConvPoolStep)
                and first.conv.dtype == second.conv.dtype)

    def forward(self, x, training=False):
        self._trained = training
        if training:
            return self.second.forward(self.first.forward(x, training=True), training=True)
        first, second = self.first, self.second
        x = first.conv._check_input(x)
        y = backend.kernels().conv2d_maxpool_pair_forward(x, first.arguments(), second.arguments(),
                                                          workspace=self._workspace)
        for step in (first, second):
            step.release()
        return y

    def backward(self, dy, need_dx=True):
        """dL/dx from dy = dL/d(second pooled output), after a training forward."""
        if not self._trained:
            raise RuntimeError(f"step {self.name!r} last ran forward with training=False, which keeps "
                               f"no record of the poolings' winners; run forward with training=True "
                               f"before backward")
        return self.first.backward(self.second.backward(dy), need_dx)

    def __repr__(self):
        return f"<ConvPoolPairStep {self.name!r}>"


def plan(layers):
    """The steps that run ``layers`` in order: each Conv2D directly followed by a MaxPooling2D
    it fuses with (:meth:`ConvPoolStep.fuses`) as one ConvPoolStep, every other layer as a
    LayerStep."""
    return _pairs(layers, ConvPoolStep.fuses, ConvPoolStep, LayerStep)


def for_inference(steps):
    """The steps an inference pass runs instead of ``steps`` (:func:`plan`'s): each two
    ConvPoolSteps in a row (:meth:`ConvPoolPairStep.fuses`, taken from the first on) as one
    ConvPoolPairStep, every other step as it is. ``python -m benchmarks.choices --only
    conv-pairs`` (2-core Xeon, 2026-12-02, load average 4 from other work; the tutorial model's
    predict, ms per batch, one pair step against two steps): 6.08 / 6.59 at batch 32, 48.1 /
    50.9 at batch 256."""
    return _pairs(steps, ConvPoolPairStep.fuses, ConvPoolPairStep, lambda step: step)


def _pairs(items, fuses, pair, single):
    """``items`` from the first on, each two in a row that ``fuses(a, b)`` accepts as
    ``pair(a, b)`` and every other one as ``single(item)``: the one rule of :func:`plan` and
    :func:`for_inference`."""
    out, i = [], 0
    while i < len(items):
        if i + 1 < len(items) and fuses(items[i], items[i + 1]):
            out.append(pair(items[i], items[i + 1]))
            i += 2
        else:
            out.append(single(items[i]))
            i += 1
    return out


def layer_by_layer(layers):
    """One LayerStep per layer: every layer keeps its own cache (``model.forward``)."""
    return [LayerStep(layer) for layer in layers]
