"""Translating between Keras 3's configs (what ``config.json`` of a ``.keras`` file, the
``model_config`` of a legacy ``.h5`` file and ``layer.get_config()`` hold) and scratchconv's.

No TensorFlow or Keras is imported: a config is JSON. Both directions are driven by tables, so a
new layer or optimizer plugs in without new code:

- a Keras layer maps to the scratchconv layer of the same class name (``layers.LAYER_CLASSES``),
  taking the options both have (the arguments of the scratchconv constructor); every other Keras
  option must have the value listed in :data:`NEUTRAL_OPTIONS` (the one scratchconv computes),
  or the layer is refused in one sentence naming it and the option;
- an optimizer's per-weight state is stored by Keras in the order :data:`OPTIMIZER_SLOTS` lists.

Weights need no table: a layer's ``named_weights()`` are in Keras's order (trainable then
non-trainable) and shapes.
"""
import inspect
import re

import numpy as np

from . import layers as sc_layers
from . import optimizers as sc_optimizers
from .losses import LOSS_CLASSES, keras_settings_refused

# Keras options scratchconv's layers do not take, and the values that mean what scratchconv
# computes (a value given as a tuple may be written as a list too).
NEUTRAL_OPTIONS = {
    "data_format": ("channels_last",),
    "dilation_rate": ((1, 1), 1),
    "groups": (1,),
    "kernel_regularizer": (None,),
    "bias_regularizer": (None,),
    "activity_regularizer": (None,),
    "kernel_constraint": (None,),
    "bias_constraint": (None,),
    "beta_regularizer": (None,),
    "gamma_regularizer": (None,),
    "beta_constraint": (None,),
    "gamma_constraint": (None,),
    "quantization_config": (None,),
    "lora_rank": (None,),
    "max_value": (None,),
    "negative_slope": (0, 0.0),
    "threshold": (0, 0.0),
    "axis": (-1, [3], 3),
    "noise_shape": (None,),
    "synchronized": (False,),
    "renorm": (False,),
    "renorm_clipping": (None,),
    "renorm_momentum": (0.99,),  # used only with renorm
    "keepdims": (False,),
}

# Keras options that carry no numerical meaning here (the dtype is checked separately).
IGNORED_OPTIONS = {"name", "trainable", "dtype", "lora_alpha", "batch_input_shape", "batch_shape",
                   "input_shape", "ema_momentum", "ema_overwrite_frequency"}

# Keras optimizer options that must keep their default (off) for scratchconv to match.
NEUTRAL_OPTIMIZER_OPTIONS = {"clipnorm": (None,), "global_clipnorm": (None,), "clipvalue": (None,),
                             "use_ema": (False,), "loss_scale_factor": (None,),
                             "gradient_accumulation_steps": (None,), "amsgrad": (False,),
                             "jit_compile": (True, False), "is_legacy_optimizer": (False,),
                             "decay": (0, 0.0)}  # Keras 2's learning-rate decay, off

# How Keras orders an optimizer's variables after ``iteration`` (and ``learning_rate`` when it is
# a number, not a schedule): groups in this order; within a group, for each trainable weight in
# turn, its slots in this order (Keras's ``add_optimizer_variables`` interleaves the names of one
# call). Slots the optimizer does not keep (SGD without momentum) are left out. scratchconv's
# slot names; Keras calls Adam's ``m`` and ``v`` momentum and velocity.
OPTIMIZER_SLOTS = {
    "SGD": (("momentum",),),
    "Adam": (("m", "v"),),
    "AdamW": (("m", "v"),),
    "RMSprop": (("velocity",), ("momentum",), ("average_gradient",)),
}


def to_snake_case(name):
    """Keras's ``naming.to_snake_case``: ``MaxPooling2D`` -> ``max_pooling2d``, ``ReLU`` -> ``re_lu``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _same(a, b):
    """Config values equal, lists and tuples alike."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _neutral(key, value, table):
    return key in table and any(_same(value, accepted) for accepted in table[key])


def _arguments(cls, skip=("self", "name", "dtype", "input_shape")):
    """The keyword arguments of ``cls``'s constructor, the options a config can set."""
    parameters = inspect.signature(cls.__init__).parameters
    return [name for name, p in parameters.items()
            if name not in skip and p.kind is not inspect.Parameter.VAR_KEYWORD]


def dtype_name(dtype):
    """A Keras dtype (``"float32"`` or a serialised ``DTypePolicy``) as its name."""
    if isinstance(dtype, dict):
        config = dtype.get("config", {})
        return config.get("name") if isinstance(config, dict) else None
    return dtype


def _plain_value(key, value):
    """A Keras config value as scratchconv writes it: an initializer as its name (its seed only
    mattered for drawing weights, which are loaded), tuples as lists, and a one-axis list as
    its axis (Keras 2 writes BatchNormalization's ``axis=-1`` as ``[3]``)."""
    if key.endswith("_initializer") and isinstance(value, dict):
        return to_snake_case(value.get("class_name", ""))
    if key == "axis" and isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    return list(value) if isinstance(value, tuple) else value


# ----- layers ------------------------------------------------------------------------------------

def layer_from_keras(entry):
    """scratchconv's ``{"class_name", "config"}`` of one Keras layer entry ``{"class_name",
    "config", ...}``, or a ValueError naming the layer and what scratchconv lacks."""
    class_name, config = entry.get("class_name"), entry.get("config") or {}
    name = config.get("name", "?")
    cls = sc_layers.LAYER_CLASSES.get(class_name)
    if cls is None:
        raise ValueError(f"keras layer {name!r} is a {class_name}, which scratchconv does not have "
                         f"(it has {', '.join(sorted(sc_layers.LAYER_CLASSES))})")
    shared = _arguments(cls)
    for key, value in config.items():
        if key in shared or key in IGNORED_OPTIONS or _neutral(key, value, NEUTRAL_OPTIONS):
            continue
        raise ValueError(f"keras layer {name!r} ({class_name}) has {key}={value!r}, which "
                         f"scratchconv's {class_name} does not support")
    options = {key: _plain_value(key, config[key]) for key in shared if key in config}
    if config.get("trainable") is False:
        options["trainable"] = False  # a frozen layer stays frozen
    return {"class_name": class_name, "config": {"name": name, **options}}


def layer_to_keras(layer, dtype):
    """The Keras 3 config entry of a scratchconv layer computing in ``dtype``."""
    config = layer.get_config()
    options = {key: value for key, value in config.items() if key not in ("name", "dtype", "input_shape")}
    entry = {"module": "keras.layers", "class_name": type(layer).__name__,
             "config": {"name": layer.name, "trainable": True, "dtype": _policy(dtype), **options},
             "registered_name": None}
    if layer.built:
        entry["build_config"] = {"input_shape": [None, *layer.input_shape]}
    return entry


def _policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def input_shape_from_keras(model_config):
    """The shape of one sample (no batch axis) that a Keras Sequential config declares, or None."""
    candidates = [model_config.get("build_input_shape")]
    for entry in model_config.get("layers", []):
        config = entry.get("config") or {}
        candidates += [config.get("batch_shape"), config.get("batch_input_shape")]
        if entry.get("build_config"):
            candidates.append(entry["build_config"].get("input_shape"))
        break  # the first layer (an InputLayer, or the layer that carries the shape)
    for shape in candidates:
        if isinstance(shape, (list, tuple)) and len(shape) >= 2 and all(
                isinstance(d, int) for d in shape[1:]):
            return list(shape[1:])
    return None


def model_from_keras(model_config, where):
    """scratchconv's Sequential config of a Keras model config (``{"class_name", "config"}``).

    ``where`` names the file for the messages. ValueError for a Functional (or any
    non-Sequential) model, a layer scratchconv lacks, a model without an input shape, or
    layers in several dtypes.
    """
    class_name = model_config.get("class_name")
    config = model_config.get("config") or {}
    if class_name != "Sequential":
        raise ValueError(f"{where} holds a keras {class_name} model {config.get('name', '')!r}; "
                         f"scratchconv reads Sequential models only")
    entries = [e for e in config.get("layers", []) if e.get("class_name") != "InputLayer"]
    if not entries:
        raise ValueError(f"{where} holds a keras Sequential model without layers")
    for entry in entries:
        if entry.get("class_name") in ("Sequential", "Functional", "Model"):
            raise ValueError(f"{where} nests the keras model {entry['config'].get('name')!r} inside "
                             f"its Sequential; scratchconv reads flat Sequential models only")
    input_shape = input_shape_from_keras(config)
    if input_shape is None:
        raise ValueError(f"{where} holds a keras model that was never built, so it has no input "
                         f"shape (and no weights)")
    dtypes = {dtype_name(entry.get("config", {}).get("dtype")) for entry in config.get("layers", [])}
    dtypes.discard(None)
    if len(dtypes) > 1 or not dtypes <= {"float32", "float64"}:
        raise ValueError(f"{where} holds a keras model computing in {sorted(dtypes)}; scratchconv "
                         f"models compute in one dtype, float32 or float64")
    layer_entries = [layer_from_keras(entry) for entry in entries]
    layer_entries[0]["config"]["input_shape"] = input_shape
    return {"name": config.get("name", "sequential"), "dtype": dtypes.pop() if dtypes else "float32",
            "layers": layer_entries, "input_shape": input_shape}


def model_to_keras(model):
    """The Keras 3 ``config.json`` object of a built scratchconv Sequential (without compile)."""
    shape = [None, *model.input_shape]
    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": {"batch_shape": shape, "dtype": model.dtype, "sparse": False,
                          "name": "input_layer"}, "registered_name": None}]
    layers += [layer_to_keras(layer, model.dtype) for layer in model.layers]
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": model.name, "trainable": True, "dtype": _policy(model.dtype),
                       "layers": layers, "build_input_shape": shape},
            "registered_name": None, "build_config": {"input_shape": shape}}


# ----- optimizers, losses, metrics --------------------------------------------------------------

def _float32_decimal(value):
    """Keras stores a learning rate as a float32 variable, so 0.001 comes back as
    0.0010000000474974513: the shortest decimal of the same float32, as the user wrote it."""
    return float(str(np.float32(value))) if isinstance(value, float) else value


def optimizer_from_keras(spec):
    """scratchconv's ``{"class_name", "config"}`` of a serialised Keras optimizer, or a
    ValueError saying what scratchconv lacks."""
    class_name = spec.get("class_name")
    if isinstance(class_name, str) and class_name.startswith("Custom>"):
        # Keras 2.11-2.15 serialise their new optimizers as "Custom>Adam" and so on.
        class_name = class_name[len("Custom>"):]
    config = dict(spec.get("config") or {})
    cls = sc_optimizers.OPTIMIZER_CLASSES.get(class_name)
    if cls is None:
        raise ValueError(f"keras optimizer {class_name} has no scratchconv counterpart (scratchconv "
                         f"has {', '.join(sorted(sc_optimizers.OPTIMIZER_CLASSES))})")
    shared = _arguments(cls, skip=("self",))
    for key, value in config.items():
        if key in shared or key in IGNORED_OPTIONS or _neutral(key, value, NEUTRAL_OPTIMIZER_OPTIONS):
            continue
        raise ValueError(f"keras optimizer {class_name} has {key}={value!r}, which scratchconv "
                         f"does not support")
    options = {key: config[key] for key in shared if key in config}
    lr = options.get("learning_rate")
    if isinstance(lr, dict):
        if lr.get("class_name") not in sc_optimizers.schedules.SCHEDULE_CLASSES:
            raise ValueError(f"keras optimizer {class_name} has the learning-rate schedule "
                             f"{lr.get('class_name')}, which scratchconv does not have")
        # A live schedule's get_config may hold numpy scalars; a saved one holds plain numbers.
        options["learning_rate"] = {"class_name": lr["class_name"],
                                    "config": {key: value.item() if isinstance(value, np.generic) else value
                                               for key, value in (lr.get("config") or {}).items()}}
    else:
        options["learning_rate"] = _float32_decimal(lr)
    return {"class_name": class_name, "config": options}


def optimizer_to_keras(optimizer):
    """A Keras 3 serialised optimizer with ``optimizer``'s class and settings."""
    spec = sc_optimizers.serialize(optimizer)
    config = dict(spec["config"])
    if isinstance(config.get("learning_rate"), dict):
        config["learning_rate"] = {"module": "keras.optimizers.schedules", **config["learning_rate"],
                                   "registered_name": None}
    return {"module": "keras.optimizers", "class_name": spec["class_name"], "config": config,
            "registered_name": None}


def loss_from_keras(loss):
    """The scratchconv loss of a Keras loss as a config holds it: a name, a serialised
    function (``{"class_name": "function", "config": "categorical_crossentropy"}``, what a
    legacy ``.h5`` reloads to) or a serialised Loss object; ValueError otherwise. The result
    is a loss name, or for a cross-entropy with from_logits ``{"class_name", "config":
    {"from_logits": True}}`` (what ``scratchconv.losses.serialize`` writes)."""
    if isinstance(loss, dict):
        config = loss.get("config")
        if loss.get("class_name") == "function":
            loss = config
        else:
            config = config or {}
            if keras_settings_refused(config):
                raise ValueError(f"keras loss {loss.get('class_name')} has settings {config} that "
                                 f"scratchconv does not support")
            if config.get("from_logits") and to_snake_case(loss.get("class_name", "")) in LOSS_CLASSES:
                return {"class_name": loss["class_name"], "config": {"from_logits": True}}
            loss = to_snake_case(loss.get("class_name", ""))
    if isinstance(loss, str) and loss in LOSS_CLASSES:
        return loss
    raise ValueError(f"keras loss {loss!r} has no scratchconv counterpart (scratchconv has "
                     f"{', '.join(LOSS_CLASSES)})")


def metrics_from_keras(metrics):
    """Keras's compiled metrics (names, or serialised metrics) as scratchconv's list of names."""
    metrics = [] if metrics is None else [metrics] if isinstance(metrics, (str, dict)) else list(metrics)
    if len(metrics) == 1 and isinstance(metrics[0], list):
        metrics = metrics[0]  # Keras 2 keeps one list per output
    names = []
    for m in metrics:
        if isinstance(m, dict):
            m = (m.get("config") or {}).get("name") or to_snake_case(m.get("class_name", ""))
        names.append("accuracy" if m in ("acc", "categorical_accuracy") else m)
    return names


def compile_from_keras(compile_config):
    """``{"optimizer", "loss", "metrics"}`` for ``Sequential.compile`` from Keras's compile
    config (Keras 3's ``compile_config`` or a legacy ``training_config``)."""
    optimizer = compile_config.get("optimizer", compile_config.get("optimizer_config"))
    if isinstance(optimizer, str):
        optimizer = {"class_name": optimizer, "config": {}}
    return {"optimizer": optimizer_from_keras(optimizer or {}),
            "loss": loss_from_keras(compile_config.get("loss")),
            "metrics": metrics_from_keras(compile_config.get("metrics"))}


def compile_to_keras(model):
    """Keras 3's ``compile_config`` of a compiled scratchconv model."""
    compile_config = model.get_compile_config()
    loss = compile_config["loss"]
    if isinstance(loss, dict):  # a loss with from_logits, as Keras serialises its Loss objects
        loss = {"module": "keras.losses", "class_name": loss["class_name"], "config": loss["config"],
                "registered_name": None}
    return {"optimizer": optimizer_to_keras(model.optimizer), "loss": loss,
            "loss_weights": None, "metrics": compile_config["metrics"], "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def optimizer_slot_order(optimizer, n_weights):
    """``[(weight index, slot name), ...]`` in the order Keras stores ``optimizer``'s per-weight
    variables for ``n_weights`` trainable weights (after its step count and learning rate)."""
    groups = OPTIMIZER_SLOTS.get(type(optimizer).__name__)
    if groups is None:
        raise ValueError(f"the {type(optimizer).__name__} optimizer has no known Keras variable order")
    kept = set(optimizer.slot_names)
    order = []
    for group in groups:
        slots = [slot for slot in group if slot in kept]
        order += [(i, slot) for i in range(n_weights) for slot in slots]
    return order
