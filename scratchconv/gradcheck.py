"""The gradient check: every backward pass against central finite differences, in float64.

For a scalar function ``f`` of an array ``t`` (a parameter or the input) and one entry ``t_i``:

    analytic   a_i = df/dt_i, as the backward pass computes it
    numerical  n_i = (f(t_i + h) - f(t_i - h)) / (2 h)        (central difference)
    error      rel_i = |a_i - n_i| / max(|a_i| + |n_i|, tiny)

A tensor's error is the largest ``rel_i`` over its checked entries; it passes at or below
``THRESHOLD = 1e-7``.

**Why float64, and the step h = 1e-5.** The difference ``f(t + h) - f(t - h)`` loses the
leading digits of ``f``, so its rounding error is about ``u |f| / h`` (``u`` the unit
roundoff), while the truncation error of the central difference is about ``h^2 |f'''| / 6``.
In float32 (``u = 6e-8``) the rounding term alone is ``6e-3 |f|`` at ``h = 1e-5``: no check
at 1e-7 is possible, so every layer or model is checked on a float64 copy of itself. In float64
(``u = 1.1e-16``) the two terms balance near ``h = (3 u)^(1/3) = 7e-6``; ``h = 1e-5`` leaves
both around ``1e-11`` for values of order one (measured on the tutorial model: ``h = 1e-6``
gives rounding errors of 2e-10 and relative errors up to 6e-7 on small gradients, ``h = 1e-5``
about 1e-11 and 1e-8).

**tiny.** A derivative far below the rounding error of the difference cannot be measured at
all (a unit that is barely on has a gradient of, say, 1e-9, and its difference is pure noise),
so the denominator is floored at the smallest derivative that the difference resolves to within
the threshold: ``tiny = NOISE * u * scale / (h * THRESHOLD)``, where ``scale`` is the size of
what ``f`` adds up (``sum |y * r|`` for a projection, the loss for a loss) and ``NOISE = 10``
allows for the many roundings inside ``f`` (measured on the tutorial model, the error of the
difference reaches about ``1 * u * scale / h``). An entry under the floor passes only if
``|a_i - n_i| <= NOISE * u * scale / h``, about 4e-10 for the tutorial model's loss, so a wrong
gradient still fails.

**The scalar f.** For a layer, a random projection of its output, ``f = sum(y * r)`` with a
fixed random ``r`` (never ones: a uniform upstream gradient hides errors that cancel). For a
compiled model, its loss on a batch with random labels; for an uncompiled one, the projection.

**Kinks.** ReLU and leaky ReLU (at 0) and max pooling (where a window's two largest values swap;
also GlobalMaxPooling2D, through its ``kink_pattern``) are not
differentiable everywhere, and a difference taken across a kink is wrong. Layer inputs are
distinct values spaced far more than ``h`` apart and far from zero (:func:`spaced_values`), and
the check compares what every layer declares as its kinks (:meth:`Layer.kink_pattern`: the
ReLU on/off pattern, the max-pool winners) at ``t_i - h``, ``t_i`` and ``t_i + h``: an entry
whose step crosses a kink is skipped (the table counts them) and another is drawn.

**Subsets.** ``max_entries`` checks a random subset of each tensor (the full tutorial model has
519,096 parameters; checking them all would take hours); the table says how many of how many.
"""
import contextlib
import dataclasses

import numpy as np

from .initializers import glorot_uniform
from .layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                     GlobalAveragePooling2D, GlobalMaxPooling2D, Layer, MaxPooling2D, ReLU, Softmax)
from .layers.activations import ACTIVATIONS
from .random import generator

THRESHOLD = 1e-7
EPS = 1e-5
UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2
NOISE = 10
FULL_MODEL_ENTRIES = 20
COLUMNS = (("tensor", 46), ("shape", 12), ("entries checked", 32), ("max rel error", 13), ("result", 6))


@dataclasses.dataclass(frozen=True)
class GradcheckResult:
    """The check of one tensor.

    name : str                e.g. "Conv2D 3x3 same s2 relu: kernel" or "tutorial model: input"
    shape : tuple of int      the tensor's shape
    n_checked : int           entries compared
    n_skipped : int           entries drawn but skipped because their step crossed a kink
    max_rel_error : float     max over the checked entries of |a - n| / max(|a| + |n|, tiny)
    threshold : float
    """

    name: str
    shape: tuple
    n_checked: int
    n_skipped: int
    max_rel_error: float
    threshold: float = THRESHOLD

    @property
    def size(self):
        return int(np.prod(self.shape))

    @property
    def passed(self):
        """At or below the threshold, with at least one entry checked."""
        return self.n_checked > 0 and self.max_rel_error <= self.threshold

    def row(self):
        """The table row: tensor, shape, entries checked, max rel error, pass/FAIL."""
        skipped = f" ({self.n_skipped} at kinks skipped)" if self.n_skipped else ""
        return _row((self.name, "x".join(map(str, self.shape)) or "scalar",
                     f"{self.n_checked} of {self.size}{skipped}", f"{self.max_rel_error:.1e}",
                     "pass" if self.passed else "FAIL"))


def _row(cells):
    return "  ".join(cell.ljust(width) for cell, (_, width) in zip(cells, COLUMNS)).rstrip()


def table_header():
    """The table's two header lines."""
    return _row([title for title, _ in COLUMNS]) + "\n" + _row(["-" * width for _, width in COLUMNS])


class GradcheckReport:
    """What :func:`gradcheck` returns: a list of :class:`GradcheckResult` (iterate, index,
    ``len``), ``passed`` for all of them, ``errors()`` as {name: max_rel_error}, and the
    table as ``str(report)``."""

    def __init__(self, results=()):
        self.results = list(results)

    def __iter__(self):
        return iter(self.results)

    def __len__(self):
        return len(self.results)

    def __getitem__(self, index):
        return self.results[index]

    @property
    def passed(self):
        return bool(self.results) and all(r.passed for r in self.results)

    def errors(self):
        """{tensor name: max relative error}."""
        return {r.name: r.max_rel_error for r in self.results}

    def summary(self):
        """One line: how many tensors passed."""
        failed = sum(not r.passed for r in self.results)
        subset = any(r.n_checked + r.n_skipped < r.size for r in self.results)
        return (f"{len(self.results) - failed} of {len(self.results)} tensors passed (max relative "
                f"error <= {THRESHOLD:g}, central differences in float64, h = {EPS:g})"
                + (f"; {failed} FAILED" if failed else "")
                + ("; 'k of n' rows checked k random entries of a tensor of n" if subset else ""))

    def __str__(self):
        return "\n".join([table_header()] + [r.row() for r in self.results] + [self.summary()])

    def __repr__(self):
        return f"<GradcheckReport: {len(self.results)} tensors, passed={self.passed}>"


# ----- the scalar function, its kinks and the difference -------------------------------------------

class _Scalar:
    """The scalar differentiated: ``layers`` run on ``x``, their output reduced to the
    projection ``sum(y * r)`` or, given ``loss_of``, to ``loss_of(y)``.

    The unperturbed run (:meth:`base`) keeps every layer's input, so that a step in a parameter
    of layer ``k`` re-runs only layers ``k`` onwards (``start=k``).
    """

    def __init__(self, layers, x, r=None, loss_of=None):
        self.layers, self.x, self.r, self.loss_of = layers, x, r, loss_of
        self.base()

    def base(self):
        """Run unperturbed; keep the layer inputs, the scale and the kink patterns."""
        self.inputs = [self.x]
        for layer in self.layers[:-1]:
            self.inputs.append(layer.forward(self.inputs[-1], training=True))
        _, self.scale, self.patterns = self(0, scale=True)

    def __call__(self, start, scale=False):
        """(value, scale or None, kink patterns of layers start onwards)."""
        a, patterns = self.inputs[start], []
        for layer in self.layers[start:]:
            b = layer.forward(a, training=True)
            patterns.append(layer.kink_pattern(a, b))
            a = b
        if self.loss_of is not None:
            value = self.loss_of(a)
            return value, abs(value) if scale else None, patterns
        terms = a * self.r
        return float(terms.sum()), float(np.abs(terms).sum()) if scale else None, patterns

    def same_kinks(self, start, patterns):
        return all(p is None or np.array_equal(p, q) for p, q in zip(self.patterns[start:], patterns))


class _Function:
    """A plain scalar function ``f()`` of arrays it reads (a loss of its inputs), seen as
    :class:`_Scalar` is: no layers, so no kinks; its scale is ``|f|``."""

    def __init__(self, f):
        self.f = f
        self.scale = abs(float(f()))

    def __call__(self, start, scale=False):
        return float(self.f()), None, []

    def same_kinks(self, start, patterns):
        return True


def check_tensor(name, f, t, analytic, *, start=0, eps=EPS, max_entries=None, rng):
    """Compare ``analytic`` = df/dt with central differences of ``f`` at entries of ``t``.

    t : ndarray (float64) that ``f`` reads; perturbed in place and restored
    analytic : ndarray of t's shape
    start : index of the first layer that ``t`` affects
    max_entries : int or None; None checks every entry, else a random subset of that many
    """
    tiny = max(NOISE * UNIT_ROUNDOFF * f.scale / (eps * THRESHOLD), np.finfo(np.float64).tiny)
    wanted = t.size if max_entries is None else min(max_entries, t.size)
    order = np.arange(t.size) if max_entries is None else rng.permutation(t.size)
    flat, errors, skipped = t.reshape(-1), [], 0
    for i in order:
        if len(errors) == wanted:
            break
        original = flat[i]
        flat[i] = original + eps
        plus, _, plus_kinks = f(start)
        flat[i] = original - eps
        minus, _, minus_kinks = f(start)
        flat[i] = original
        if not (f.same_kinks(start, plus_kinks) and f.same_kinks(start, minus_kinks)):
            skipped += 1
            continue
        a, n = analytic.flat[i], (plus - minus) / (2 * eps)
        errors.append(abs(a - n) / max(abs(a) + abs(n), tiny))
    return GradcheckResult(name, tuple(t.shape), len(errors), skipped,
                           float(max(errors)) if errors else float("nan"))


# ----- layers and models -----------------------------------------------------------------------

def check_function(name, f, t, analytic, *, eps=EPS, max_entries=None, rng=None):
    """Check ``analytic`` = df/dt for a plain scalar function ``f()`` that reads ``t`` (a
    float64 array, perturbed in place and restored), e.g. a loss and its gradient."""
    return check_tensor(name, _Function(f), t, analytic, eps=eps, max_entries=max_entries,
                        rng=np.random.default_rng(0) if rng is None else rng)


@contextlib.contextmanager
def _noise_held(layers):
    """Within this block every layer among ``layers`` repeats the random draw of its last
    training forward (:meth:`Layer.hold_randomness`: Dropout's mask), so that all the
    evaluations of f differentiate one function (the one whose analytic gradients were taken)."""
    with contextlib.ExitStack() as stack:
        for layer in layers:
            stack.enter_context(layer.hold_randomness())
        yield


def check_layer(layer, x, *, label=None, eps=EPS, max_entries=None, rng):
    """Check every parameter of a float64, built ``layer`` and its input gradient at ``x``."""
    label = label or layer.name
    y = layer.forward(x, training=True)
    r = rng.standard_normal(y.shape)
    dx = layer.backward(r)
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    with _noise_held([layer]):
        f = _Scalar([layer], x, r=r)
        return [check_tensor(f"{label}: {name}", f, layer.params[name], analytic[name], eps=eps,
                             max_entries=max_entries, rng=rng) for name in layer.params] \
            + [check_tensor(f"{label}: input", f, x, dx, eps=eps, max_entries=max_entries, rng=rng)]


def check_model(model, x, y=None, *, label=None, eps=EPS, max_entries=None, rng):
    """Check every trainable weight of a float64, built ``model`` (a frozen layer's are not
    given to the optimizer, so not checked) and its input gradient at ``x``: the loss against
    labels ``y`` when compiled, else a random projection of the output. Returns the list of
    :func:`model_results`."""
    return list(model_results(model, x, y, label=label, eps=eps, max_entries=max_entries, rng=rng))


def model_results(model, x, y=None, *, label=None, eps=EPS, max_entries=None, rng):
    """:func:`check_model`'s results one at a time, each as soon as its tensor is checked (a
    full-size model's table then fills row by row instead of after minutes)."""
    label = label or model.name
    # (index of the layer, layer, weight name, array) in trainable_weights order
    weights = [(k, layer, name, p) for k, layer in enumerate(model.layers)
               for name, p, trainable in layer.named_weights() if trainable]
    if model.loss is not None:
        _, grads, dx = model.loss_and_gradients(x, y)
        # The model's own loss of an output, from the final softmax's logits as in training.
        scalar = {"loss_of": lambda out: model._loss_of(y, out)}
    else:
        out = model.forward(x, training=True)
        r = rng.standard_normal(out.shape)
        dx = model.backward(r)
        grads = [layer.grads[name] for _, layer, name, _ in weights]
        scalar = {"r": r}
    grads = iter([g.copy() for g in grads])
    with _noise_held(model.layers):
        f = _Scalar(model.layers, x, **scalar)
        for k, layer, name, p in weights:
            yield check_tensor(f"{label}: {layer.name}.{name}", f, p, next(grads), start=k, eps=eps,
                               max_entries=max_entries, rng=rng)
        yield check_tensor(f"{label}: input", f, x, dx, eps=eps, max_entries=max_entries, rng=rng)


# ----- float64 copies, inputs, weights and labels ------------------------------------------------

@contextlib.contextmanager
def _global_generator_kept():
    """Building float64 copies draws initial weights from scratchconv's seeded generator;
    its state is put back afterwards, so a gradient check does not change what comes next."""
    state = generator().bit_generator.state
    try:
        yield
    finally:
        generator().bit_generator.state = state


def float64_layer(layer, input_shape):
    """A float64 copy of ``layer``, built for ``input_shape``, with its weights if it has any."""
    copy = type(layer).from_config({**layer.get_config(), "dtype": "float64"})
    copy.build(input_shape)
    if layer.built:
        copy.set_weights([w.astype(np.float64) for w in layer.get_weights()])
    return copy


def float64_model(model, input_shape):
    """A float64 copy of ``model`` built for ``input_shape``, with its weights (if it is built)
    and compile settings."""
    from .model import Sequential

    config = model.get_config()
    config["dtype"] = "float64"
    config["layers"] = [{**entry, "config": {**entry["config"], "dtype": None}} for entry in config["layers"]]
    copy = Sequential.from_config(config)
    if model.built:
        copy.set_weights([w.astype(np.float64) for w in model.get_weights()])
    else:
        copy.build((None,) + tuple(input_shape))
    if model.get_compile_config() is not None:
        copy.compile(**model.get_compile_config())
    return copy


def spaced_values(shape, rng):
    """Distinct values in (-1, 1): a random permutation of the grid ``(2k + 1) / n - 1``.

    Neighbours are ``2 / n`` apart and none is closer than ``1 / n`` to zero, so for the
    small inputs used here a step of ``h`` neither reaches a ReLU kink nor swaps two values.
    """
    n = int(np.prod(shape))
    return ((2 * rng.permutation(n) + 1) / n - 1).reshape(shape)


def random_weights(layer, rng):
    """Fresh trainable weights for ``layer``, in place: Glorot-uniform kernels, and U(-0.1, 0.1)
    for biases and the rest (a zero bias would leave part of the check trivial); BatchNormalization's
    gamma U(0.5, 1.5). Non-trainable weights are left as they are."""
    for name, p in layer.params.items():
        p[...] = (glorot_uniform(p.shape, np.float64, rng) if name == "kernel"
                  else rng.uniform(0.5, 1.5, p.shape) if name == "gamma" else rng.uniform(-0.1, 0.1, p.shape))


def random_labels(model, n, rng):
    """Random targets for ``n`` samples: integer labels for a sparse loss, else one-hot rows."""
    k = model.output_shape[-1]
    labels = rng.integers(0, k, n)
    return labels if model.loss.sparse else np.eye(k)[labels]


# ----- the default suite -----------------------------------------------------------------------

SMOOTH_ACTIVATIONS = ("sigmoid", "tanh", "elu", "gelu")


def layer_cases():
    """(label, layer, input batch shape): every layer type in small configurations. The layers
    are named after their labels, so making them uses up no Keras-style automatic names."""
    conv = [(f"Conv2D {k}x{k} {padding} s{s} {activation}",
             lambda name, k=k, s=s, padding=padding, activation=activation:
             Conv2D(3, k, strides=s, padding=padding, activation=activation, name=name), (2, 7, 6, 2))
            for k in (1, 3, 5) for padding in ("valid", "same") for s in (1, 2) for activation in ("linear", "relu")]
    others = [
        ("MaxPooling2D 2x2", lambda name: MaxPooling2D(2, name=name), (2, 6, 6, 2)),
        ("MaxPooling2D 2x2 odd input", lambda name: MaxPooling2D(2, name=name), (2, 7, 5, 2)),
        ("MaxPooling2D 3x3", lambda name: MaxPooling2D(3, name=name), (2, 7, 7, 2)),
        ("MaxPooling2D 3x3 s2 overlapping", lambda name: MaxPooling2D(3, strides=2, name=name), (2, 7, 6, 2)),
        ("MaxPooling2D 2x2 same odd input", lambda name: MaxPooling2D(2, padding="same", name=name), (2, 7, 5, 2)),
        ("MaxPooling2D 3x3 s2 same", lambda name: MaxPooling2D(3, strides=2, padding="same", name=name), (2, 6, 7, 2)),
        ("MaxPooling2D 2x3 s1", lambda name: MaxPooling2D((2, 3), strides=1, name=name), (2, 5, 6, 2)),
        ("AveragePooling2D 2x2", lambda name: AveragePooling2D(2, name=name), (2, 6, 6, 2)),
        ("AveragePooling2D 3x3 s2 overlapping", lambda name: AveragePooling2D(3, strides=2, name=name),
         (2, 7, 6, 2)),
        ("AveragePooling2D 2x2 same odd input", lambda name: AveragePooling2D(2, padding="same", name=name),
         (2, 7, 5, 2)),
        ("AveragePooling2D 3x2 s(1,2) same", lambda name: AveragePooling2D((3, 2), (1, 2), "same", name=name),
         (2, 5, 6, 2)),
        ("GlobalAveragePooling2D", lambda name: GlobalAveragePooling2D(name=name), (2, 4, 3, 2)),
        ("GlobalAveragePooling2D keepdims", lambda name: GlobalAveragePooling2D(keepdims=True, name=name),
         (2, 4, 3, 2)),
        ("GlobalMaxPooling2D", lambda name: GlobalMaxPooling2D(name=name), (2, 4, 3, 2)),
        ("GlobalMaxPooling2D keepdims", lambda name: GlobalMaxPooling2D(keepdims=True, name=name), (2, 4, 3, 2)),
        ("BatchNormalization after Conv2D", lambda name: BatchNormalization(name=name), (3, 4, 3, 2)),
        ("BatchNormalization after Dense", lambda name: BatchNormalization(name=name), (5, 4)),
        ("BatchNormalization axis 1 no center", lambda name: BatchNormalization(axis=1, center=False, name=name),
         (3, 4, 3, 2)),
        ("BatchNormalization no scale", lambda name: BatchNormalization(scale=False, name=name), (3, 4, 3, 2)),
        ("Dense linear", lambda name: Dense(4, name=name), (3, 7)),
        ("Dense relu", lambda name: Dense(4, activation="relu", name=name), (3, 7)),
        ("Dense softmax", lambda name: Dense(4, activation="softmax", name=name), (3, 7)),
        *[(f"Dense {activation}", lambda name, activation=activation: Dense(4, activation=activation, name=name),
           (3, 7)) for activation in SMOOTH_ACTIVATIONS + ("leaky_relu",)],
        ("Conv2D 3x3 same tanh", lambda name: Conv2D(3, 3, padding="same", activation="tanh", name=name),
         (2, 5, 4, 2)),
        *[(f"Activation {activation}", lambda name, activation=activation: Activation(activation, name=name),
           (2, 4, 3, 2)) for activation in ACTIVATIONS],
        ("Flatten", lambda name: Flatten(name=name), (2, 3, 4, 2)),
        ("Dropout 0.5", lambda name: Dropout(0.5, seed=1, name=name), (2, 5, 4, 3)),
        ("Dropout 0.3 channels", lambda name: Dropout(0.3, noise_shape=(None, 1, 1, None), seed=2, name=name),
         (2, 5, 4, 3)),
        ("ReLU", lambda name: ReLU(name=name), (2, 5, 4, 3)),
        ("Softmax", lambda name: Softmax(name=name), (3, 6)),
    ]
    return [(label, make(label), shape) for label, make, shape in conv + others]


TUTORIAL_LAYER_NAMES = ("conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dense", "dense_1")
"""The Keras names of the tutorial model's layers in a fresh session, used in the table."""


def small_tutorial_model():
    """The tutorial model's layer sequence, scaled down so every entry can be checked:
    10x10x2 images -> Conv2D(4, 3x3, relu) -> MaxPooling2D(2) -> Conv2D(3, 3x3, relu)
    -> MaxPooling2D(2) -> Flatten -> Dense(6, relu) -> Dense(5, softmax), compiled with Adam
    and categorical cross-entropy (so the loss is what is differentiated); float64."""
    from .model import Sequential

    conv, pool, conv_1, pool_1, flatten, dense, dense_1 = TUTORIAL_LAYER_NAMES
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(10, 10, 2), name=conv),
                        MaxPooling2D(2, name=pool), Conv2D(3, 3, activation="relu", name=conv_1),
                        MaxPooling2D(2, name=pool_1), Flatten(name=flatten),
                        Dense(6, activation="relu", name=dense), Dense(5, activation="softmax", name=dense_1)],
                       name="small tutorial model", dtype="float64")
    model.build()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def full_tutorial_model():
    """:func:`scratchconv.tutorial_model` in float64 (519,096 parameters), its layers named as
    in a fresh session whatever models were made before."""
    from .tutorial import tutorial_model

    model = tutorial_model(dtype="float64")
    for layer, name in zip(model.layers, TUTORIAL_LAYER_NAMES):
        layer.name = name
    return model


def default_suite(eps=EPS, seed=0):
    """Yield the results of the no-argument check (see :func:`gradcheck`), one at a time."""
    rng = np.random.default_rng(seed)
    for label, layer, shape in layer_cases():
        layer = float64_layer(layer, shape[1:])
        random_weights(layer, rng)
        yield from check_layer(layer, spaced_values(shape, rng), label=label, eps=eps, rng=rng)
    for label, model, max_entries in (("small tutorial model", small_tutorial_model(), None),
                                      ("tutorial model", full_tutorial_model(), FULL_MODEL_ENTRIES)):
        for layer in model.layers:
            random_weights(layer, rng)
        x = rng.uniform(0, 1, (2,) + model.input_shape)
        yield from model_results(model, x, random_labels(model, 2, rng), label=label, eps=eps,
                                 max_entries=max_entries, rng=rng)


def check_given(model_or_layer, x=None, y=None, *, eps=EPS, seed=0, max_entries=None):
    """The results for a given model or layer, checked on a float64 copy (see :func:`gradcheck`)."""
    from .model import Sequential

    if not isinstance(model_or_layer, (Sequential, Layer)):
        raise TypeError(f"gradcheck takes a Sequential model, a layer or nothing, got {model_or_layer!r}")
    rng = np.random.default_rng(seed)
    input_shape = _input_shape(model_or_layer, x)
    x = spaced_values((2,) + input_shape, rng) if x is None else np.array(x, dtype=np.float64)
    if isinstance(model_or_layer, Layer):
        return check_layer(float64_layer(model_or_layer, input_shape), x, eps=eps,
                           max_entries=max_entries, rng=rng)
    model = float64_model(model_or_layer, input_shape)
    if model.loss is not None and y is None:
        y = random_labels(model, len(x), rng)
    return model_results(model, x, y, eps=eps, max_entries=max_entries, rng=rng)


def _input_shape(model_or_layer, x):
    """The shape of one sample: from x, else from the built model or layer, else from the
    ``input_shape=`` its (first) layer was given; a ValueError when none says."""
    if x is not None:
        return tuple(np.shape(x)[1:])
    if model_or_layer.input_shape is not None:
        return tuple(model_or_layer.input_shape)
    first = model_or_layer if isinstance(model_or_layer, Layer) else (model_or_layer.layers or [None])[0]
    given = first.get_config().get("input_shape") if first is not None else None
    if given is None:
        raise ValueError(f"gradcheck cannot check {model_or_layer.name!r}: it is not built and no x "
                         f"was given, so its input shape is unknown")
    return tuple(given)


def gradcheck(model_or_layer=None, x=None, y=None, *, eps=EPS, seed=0, max_entries=None, verbose=True):
    """Check backward passes against central finite differences in float64.

    model_or_layer : Sequential, Layer or None
        None runs the default suite: every layer type in small configurations (Conv2D
        valid/same, strides 1/2, 1x1/3x3/5x5 kernels, linear and relu; MaxPooling2D 2x2, 3x3,
        overlapping, "same", odd sizes; AveragePooling2D likewise; GlobalAveragePooling2D and
        GlobalMaxPooling2D, with and without keepdims; Dropout (its mask held fixed); BatchNormalization in
        training mode after a Conv2D and after a Dense; Dense with every activation; Conv2D tanh; Activation with
        every activation; Flatten; ReLU; Softmax) with
        every entry checked, a small version of the tutorial model (every entry) and the full
        tutorial model (50x50x3, ``FULL_MODEL_ENTRIES`` random entries of each tensor), on
        batches of 2. A given model or layer is checked on a float64 copy of itself.
    x : ndarray of shape (n,) + input_shape, or None
        Where to check; None draws distinct values (:func:`spaced_values`), batch 2.
    y : labels or one-hot rows, for a compiled model; None draws random ones
    eps : float
        The step h of the central difference.
    seed : int
        Seeds the inputs, projections, labels, the default suite's weights and the subsets.
    max_entries : int or None
        For a given model or layer: check at most this many random entries per tensor
        (None: all of them).
    verbose : bool
        Print the table, one row per tensor as it is checked, and a summary line.

    Returns a :class:`GradcheckReport`: one :class:`GradcheckResult` per tensor (name, shape,
    n_checked, n_skipped, max_rel_error, passed) and ``report.passed``.
    """
    report = GradcheckReport()
    if verbose:
        print(table_header(), flush=True)
    with _global_generator_kept():
        results = (default_suite(eps, seed) if model_or_layer is None
                   else check_given(model_or_layer, x, y, eps=eps, seed=seed, max_entries=max_entries))
        for result in results:
            report.results.append(result)
            if verbose:
                print(result.row(), flush=True)
    if verbose:
        print(report.summary())
    return report
