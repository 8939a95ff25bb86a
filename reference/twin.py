"""The tf.keras twin of a scratchconv model: the same layers, the same weights, both ways.

- :func:`to_keras` turns a scratchconv ``Sequential`` into the equivalent ``keras.Sequential``
  (same layer classes, options, names and dtype), copies the weights in and, when the model is
  compiled, compiles the twin with the same optimizer settings, loss and metrics.
- :func:`from_keras` does the reverse for a keras ``Sequential`` built from the layers
  scratchconv has; any keras option scratchconv does not have (dilation, groups,
  regularizers, channels-first, ...) is refused with a ValueError naming the layer and the
  option. Both directions translate a layer as scratchconv's Keras files do
  (:mod:`scratchconv.keras_config`).

A float64 twin computes in float64 when called on tensors, but keras's ``fit``, ``predict``,
``evaluate`` and ``train_on_batch`` first cast NumPy float inputs to ``keras.config.floatx()``
(keras/src/trainers/data_adapters/array_slicing.py): run them inside ``keras_floatx("float64")``.

Both directions copy the weights exactly, layer by layer (each layer's ``get_weights()`` order,
names and shapes are Keras 3's: trainable weights, then non-trainable ones) and the compile
settings, but not an optimizer's state: the twin starts with
fresh moments and step count, as ``keras.models.clone_model`` does.

The keras backend must be TensorFlow: the agreement is stated against Keras 3 on TensorFlow,
whose cross-entropy after a softmax is computed from the softmax's logits, as scratchconv's is.
"""
import contextlib

import keras
import numpy as np

import scratchconv
from scratchconv import keras_config
from scratchconv import optimizers as sc_optimizers

def _check_tensorflow_backend():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"the reference twin needs Keras on the TensorFlow backend, but Keras runs on "
                           f"{keras.backend.backend()!r}: set KERAS_BACKEND=tensorflow")


@contextlib.contextmanager
def keras_floatx(dtype):
    """Run a block with keras's default float type set to ``dtype``, then restore it.

    Keras gives the pieces it creates without an explicit dtype (a compiled loss, an
    optimizer's learning-rate variable) the floatx of the moment they are made, so a float64
    twin must be compiled under floatx float64 or its loss would be rounded to float32.
    """
    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


# ----- scratchconv -> keras ----------------------------------------------------------------------

def keras_layer(layer, dtype):
    """The keras layer with ``layer``'s class, options and name, computing in ``dtype``: made
    from the Keras 3 config scratchconv writes for it in a ``.keras`` file
    (``scratchconv.keras_config.layer_to_keras``), so the twin and the file agree.

    layer : scratchconv.layers.Layer;  dtype : "float32" or "float64"
    """
    return keras.layers.deserialize(keras_config.layer_to_keras(layer, dtype))


def keras_optimizer(optimizer):
    """A fresh keras optimizer with the settings of a scratchconv optimizer (its learning rate
    is a variable of the floatx in force, see :func:`keras_floatx`; a schedule computes in
    that floatx, see :func:`keras_schedule`)."""
    spec = sc_optimizers.serialize(optimizer)
    config = dict(spec["config"])
    if isinstance(config["learning_rate"], dict):
        config["learning_rate"] = keras_schedule(config["learning_rate"], keras.config.floatx())
    return getattr(keras.optimizers, spec["class_name"])(**config)


# The schedule arguments that set the dtype a keras schedule computes in (the others are cast
# to it, or are step counts).
_SCHEDULE_RATES = ("initial_learning_rate", "decay_rate", "warmup_target", "values")


def keras_schedule(spec, dtype):
    """The keras schedule of a serialized scratchconv schedule, computing in ``dtype``.

    Keras computes a schedule in the dtype of its ``initial_learning_rate`` (or ``values``):
    float32 for Python floats, whatever floatx is. scratchconv's schedules compute in float64,
    so for a float64 twin the rates are given to keras as NumPy float64 numbers (for float32,
    as the Python floats they are).
    """
    config = dict(spec["config"])
    if dtype == "float64":
        config.update({key: [np.float64(v) for v in value] if isinstance(value, list) else np.float64(value)
                       for key, value in config.items() if key in _SCHEDULE_RATES and value is not None})
    return getattr(keras.optimizers.schedules, spec["class_name"])(**config)


def keras_loss(spec, dtype):
    """The keras loss object of a scratchconv loss as a compile config holds it (a name, or a
    ``{"class_name", "config"}`` with from_logits), computing in ``dtype``."""
    loss = scratchconv.losses.get(spec)
    options = {"from_logits": True} if loss.logits_given else {}
    return getattr(keras.losses, type(loss).__name__)(dtype=dtype, **options)


def to_keras(model):
    """The tf.keras twin of a built scratchconv Sequential, holding a copy of its weights.

    Parameters
    ----------
    model : scratchconv.Sequential
        Built (its first layer has ``input_shape=`` or ``build`` was called).

    Returns
    -------
    keras.Sequential
        Same layers, names and dtype; compiled with the same optimizer settings (fresh
        state), loss and metrics when ``model`` is compiled.
    """
    _check_tensorflow_backend()
    if not isinstance(model, scratchconv.Sequential):
        raise TypeError(f"to_keras takes a scratchconv Sequential, got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built, so it has no weights to copy: build it "
                         f"(or give the first layer input_shape=) first")
    mixed = [layer.name for layer in model.layers if layer.dtype != model.dtype]
    if mixed:
        raise ValueError(f"model {model.name!r} is {model.dtype} but its layers {', '.join(mixed)} are not; "
                         f"the keras twin computes in one dtype")
    twin = keras.Sequential([keras.Input(shape=model.input_shape, dtype=model.dtype)]
                            + [keras_layer(layer, model.dtype) for layer in model.layers], name=model.name)
    for ours, theirs in _paired_layers(model, twin):
        theirs.set_weights(ours.get_weights())
    compile_config = model.get_compile_config()
    if compile_config is not None:
        with keras_floatx(model.dtype):
            twin.compile(optimizer=keras_optimizer(model.optimizer),
                         loss=keras_loss(compile_config["loss"], model.dtype),
                         metrics=compile_config["metrics"])
    return twin


def _paired_layers(model, keras_model):
    """(scratchconv layer, keras layer) pairs of twin models, each pair's weights checked to be
    the same ones in the same order: Keras 3's, the layer's trainable weights then its
    non-trainable ones (BatchNormalization: gamma, beta, moving_mean, moving_variance), with
    the same names and the same trainable flags. Weights are copied layer by layer over these
    pairs, so a layer whose weights differ is named instead of shifting every weight after it."""
    pairs = list(zip(model.layers, keras_model.layers))
    for ours, theirs in pairs:
        mine = [(name, trainable) for name, _, trainable in ours.named_weights()]
        keras_weights = [(w.name, w.trainable) for w in theirs.weights]
        if mine != keras_weights:
            raise ValueError(f"{ours.describe()} has the weights (name, trainable) {mine}, but its keras twin "
                             f"{theirs.name!r} has {keras_weights}")
    return pairs


# ----- keras -> scratchconv ----------------------------------------------------------------------

def _layer_config(layer):
    """(class name, scratchconv config) of a keras layer, or a ValueError saying what differs:
    the translation ``scratchconv.load_model`` applies to a ``.keras`` file's layers
    (``scratchconv.keras_config.layer_from_keras``)."""
    entry = keras_config.layer_from_keras({"class_name": type(layer).__name__,
                                           "config": layer.get_config()})
    return entry["class_name"], entry["config"]


def _model_dtype(keras_model):
    """The one dtype every layer of ``keras_model`` computes and stores its weights in."""
    policies = {(layer.dtype_policy.compute_dtype, layer.dtype_policy.variable_dtype)
                for layer in keras_model.layers}
    (compute, variable), = policies if len(policies) == 1 else [(None, None)]
    if compute != variable or compute not in ("float32", "float64"):
        raise ValueError(f"keras model {keras_model.name!r} computes in {sorted(policies)} (compute, "
                         f"variable) dtypes; scratchconv models compute in one dtype, float32 or float64")
    return compute


def _optimizer_spec(optimizer):
    """scratchconv's ``{"class_name", "config"}`` for a compiled keras optimizer, read the way a
    saved model's config is (``scratchconv.keras_config.optimizer_from_keras``)."""
    config = optimizer.get_config()
    spec = keras_config.optimizer_from_keras({"class_name": type(optimizer).__name__,
                                              "config": config})
    if (not isinstance(config["learning_rate"], dict)
            and keras.backend.standardize_dtype(optimizer.learning_rate.dtype) != "float32"):
        # A float64 rate is exact: no float32 round trip to undo.
        spec["config"]["learning_rate"] = config["learning_rate"]
    return spec


def _loss_name(loss):
    """The scratchconv loss name of a compiled keras loss: a name, a function (what a legacy
    ``.h5`` file reloads to, e.g. ``keras.losses.categorical_crossentropy``) or a Loss object,
    read the way a saved model's config is (``scratchconv.keras_config.loss_from_keras``)."""
    if isinstance(loss, keras.losses.Loss):
        loss = keras.saving.serialize_keras_object(loss)
    elif callable(loss):
        loss = loss.__name__
    return keras_config.loss_from_keras(loss)


def from_keras(keras_model):
    """The scratchconv twin of a built keras Sequential, holding a copy of its weights.

    Parameters
    ----------
    keras_model : keras.Sequential
        Built, of the layer classes scratchconv has, all in one dtype (float32 or float64).

    Returns
    -------
    scratchconv.Sequential
        Built, same layers, names and dtype; compiled with the same optimizer settings (fresh
        state), loss and metrics when ``keras_model`` is compiled.
    """
    _check_tensorflow_backend()
    if not isinstance(keras_model, keras.Sequential):
        raise TypeError(f"from_keras takes a keras Sequential model, got {type(keras_model).__name__}")
    if not keras_model.built or not keras_model.layers:
        raise ValueError(f"keras model {keras_model.name!r} is not built (or has no layers): give it a "
                         f"keras.Input(shape=...) first")
    input_shape = list(keras_model.input_shape[1:])
    entries = [dict(zip(("class_name", "config"), _layer_config(layer))) for layer in keras_model.layers]
    # The first layer carries the input shape, as a scratchconv model written by hand would.
    entries[0]["config"]["input_shape"] = input_shape
    config = {"name": keras_model.name, "dtype": _model_dtype(keras_model), "layers": entries,
              "input_shape": input_shape}
    model = scratchconv.Sequential.from_config(config)
    for ours, theirs in _paired_layers(model, keras_model):
        ours.set_weights(theirs.get_weights())
    if keras_model.compiled:
        compile_config = keras_model.get_compile_config()
        model.compile(optimizer=_optimizer_spec(keras_model.optimizer), loss=_loss_name(keras_model.loss),
                      metrics=_metric_names(compile_config.get("metrics")))
    return model


def _metric_names(metrics):
    """Keras's compiled metrics as scratchconv's list of names."""
    names = [] if metrics is None else [metrics] if isinstance(metrics, str) else list(metrics)
    return [m if isinstance(m, str) else m.get("config", {}).get("name", m) if isinstance(m, dict) else m.name
            for m in names]
