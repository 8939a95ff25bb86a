"""Keras model files, read and written without TensorFlow: h5py, zipfile and json only.

- A Keras 3 ``.keras`` file is a zip archive of ``metadata.json`` (the Keras version that wrote
  it), ``config.json`` (the model's config, as ``keras.saving.serialize_keras_object`` makes it,
  with its ``compile_config``) and ``model.weights.h5``.
- ``model.weights.h5`` (and a ``.weights.h5`` file of ``save_weights``) holds each layer's weights
  at ``layers/<name>/vars/0, 1, ...`` in the layer's weight order, where ``<name>`` is the
  *class* name in snake case, numbered from the second of a class on (``conv2d``,
  ``conv2d_1``, ``max_pooling2d``: Keras's ``saving_lib._save_container_state``, which ignores
  the layer names since those are not reproducible), and the optimizer's variables at
  ``optimizer/vars/0, 1, ...``: the step count, the learning rate (unless it is a schedule),
  then the per-weight state in the order of :data:`keras_config.OPTIMIZER_SLOTS`.
- A legacy ``.h5`` file (``model.save("m.h5")``, Keras 2 and 3) keeps the config as JSON in the
  ``model_config`` attribute, the compile settings in ``training_config``, and the weights of
  layer ``L`` at ``model_weights/L/<weight_names[i]>`` in the order of its ``weight_names``
  attribute.

Everything read is checked; a fault raises :class:`~scratchconv.errors.ModelFileError` naming
the file and the fault in one sentence.
"""
import datetime
import io
import json
import os
import warnings
import zipfile
import zlib

import numpy as np

from . import keras_config
from .atomic import write_atomically
from .errors import ModelFileError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# What reading a damaged archive, JSON text or HDF5 file can raise (ModelFileError, a
# ValueError, is raised outside these blocks).
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError,
               KeyError, RuntimeError)
ZIP_MAGIC = b"PK\x03\x04"
# The Keras 3 file layout written here is the one keras 3.0 introduced (and 3.x still writes).
KERAS_FORMAT_VERSION = "3.0.0"
# config.json's key for what scratchconv's own model file keeps beside the model (class names,
# preprocessing, training-file fingerprints: docs/model-format.md); Keras ignores it.
DATA_KEY = "scratchconv_data"


def _fail(path, reason):
    return ModelFileError(f"cannot load the Keras model file {path}: {reason}")


def _h5py():
    try:
        import h5py
    except ImportError as err:  # h5py is a dependency; this is a broken environment
        raise ImportError("reading and writing Keras files needs h5py: pip install h5py") from err
    return h5py


def file_kind(path):
    """"keras" for a zip archive, "h5" for an HDF5 file, else None (from the first bytes)."""
    with open(path, "rb") as f:
        head = f.read(len(HDF5_MAGIC))
    return "keras" if head.startswith(ZIP_MAGIC) else "h5" if head == HDF5_MAGIC else None


# ----- reading -------------------------------------------------------------------------------

def load_keras_model(path):
    """The scratchconv Sequential of the Keras ``.keras`` or legacy ``.h5`` file at ``path``:
    built, with its weights, compiled as saved (when scratchconv has its optimizer and loss) and
    with its optimizer state where the file keeps one."""
    path = os.fspath(path)
    kind = file_kind(path)
    if kind == "keras":
        return _load_keras_archive(path)
    if kind == "h5":
        return _load_legacy_h5(path)
    raise _fail(path, "it is neither a .keras (zip) archive nor an HDF5 (.h5) file")


def _load_keras_archive(path):
    from .saving import MAX_CONFIG_BYTES

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [n for n in ("config.json", "model.weights.h5") if n not in names]
            too_big = "config.json" in names and archive.getinfo("config.json").file_size > MAX_CONFIG_BYTES
            if not missing and not too_big:
                config = json.loads(archive.read("config.json"))
                weights = archive.read("model.weights.h5")
    except READ_ERRORS as err:
        raise _fail(path, f"it is damaged ({type(err).__name__}: {err})") from None
    if missing:
        raise _fail(path, f"it has no {missing[0]} (it holds {', '.join(sorted(names)) or 'nothing'}; "
                          f"weights in other layouts, such as sharded ones, are not read)")
    if too_big:
        raise _fail(path, f"its config.json is larger than the {MAX_CONFIG_BYTES:,} bytes scratchconv "
                          f"reads (raise scratchconv.saving.MAX_CONFIG_BYTES to load it)")
    if not isinstance(config, dict):
        raise _fail(path, "its config.json is not a JSON object")
    model = _model_from_config(path, config)
    _set_data_info(path, model, config.get(DATA_KEY))
    h5py = _h5py()
    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            _read_weights(path, model, h5)
            compiled = _compile(path, model, config.get("compile_config"))
            if compiled:
                _read_optimizer(path, model, h5)
    except ModelFileError:
        raise
    except READ_ERRORS as err:
        raise _fail(path, f"its model.weights.h5 is not a readable HDF5 file ({err})") from None
    return model


def _load_legacy_h5(path):
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as h5:
            if "model_config" not in h5.attrs:
                raise _fail(path, "it is an HDF5 file without a model_config: a weights-only file "
                                  "(model.load_weights reads those) or not a Keras model")
            config = json.loads(_text(h5.attrs["model_config"]))
            model = _model_from_config(path, config)
            _set_data_info(path, model, None)
            _read_legacy_weights(path, model, h5)
            training = h5.attrs.get("training_config")
            if training is not None and _compile(path, model, json.loads(_text(training))):
                _read_legacy_optimizer(path, model, h5)
    except ModelFileError:
        raise
    except READ_ERRORS as err:
        raise _fail(path, f"it is damaged ({type(err).__name__}: {err})") from None
    return model


def _set_data_info(path, model, info):
    from .saving import set_data_info

    try:
        set_data_info(path, model, info)
    except ModelFileError as err:
        raise _fail(path, str(err).split(": ", 1)[1]) from None


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _model_from_config(path, config):
    """The model a Keras config makes, its size checked (saving's limits) before any weight is
    allocated."""
    from .model import Sequential
    from .saving import _plan_weights

    try:
        sc_config = keras_config.model_from_keras(config, where=path)
        _plan_weights(path, sc_config)
        return Sequential.from_config(sc_config)
    except ModelFileError as err:
        raise _fail(path, str(err).split(": ", 1)[1]) from None
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise _fail(path, str(err).replace(f"{path} ", "it ", 1)) from None


def keras_layer_paths(model):
    """The group of each layer of ``model`` in a Keras 3 weights file: ``layers/<snake case of
    its class>``, numbered ``_1``, ``_2``, ... from the second of a class on."""
    used, paths = {}, []
    for layer in model.layers:
        base = keras_config.to_snake_case(type(layer).__name__)
        n = used.get(base)
        used[base] = 0 if n is None else n + 1
        paths.append(f"layers/{base}" if n is None else f"layers/{base}_{n + 1}")
    return paths


def _read_weights(path, model, h5):
    """Copy every layer's ``layers/<name>/vars/<i>`` of the open weights file ``h5`` in."""
    weights = []
    for layer, group in zip(model.layers, keras_layer_paths(model)):
        named = layer.named_weights()
        stored = h5.get(f"{group}/vars")
        count = 0 if stored is None else len(stored)
        if count != len(named):
            raise _fail(path, f"layer {layer.name!r} ({type(layer).__name__}) has {len(named)} "
                              f"weights but the file holds {count} at {group}/vars")
        for i, (name, p, _) in enumerate(named):
            weights.append(_checked_array(path, stored[str(i)], p, f"{group}/vars/{i} ({layer.name} {name})"))
    _set_weights(path, model, weights)


def _read_legacy_weights(path, model, h5):
    """Copy each layer's weights from ``model_weights/<layer name>`` (legacy ``.h5``) in."""
    root = h5.get("model_weights", h5)
    weights = []
    for layer in model.layers:
        named = layer.named_weights()
        group = root.get(layer.name)
        names = [] if group is None else [_text(n) for n in group.attrs.get("weight_names", [])]
        if len(names) != len(named):
            raise _fail(path, f"layer {layer.name!r} ({type(layer).__name__}) has {len(named)} "
                              f"weights but the file lists {len(names)} for it")
        for stored, (name, p, _) in zip(names, named):
            weights.append(_checked_array(path, group[stored], p, f"{layer.name}/{stored}"))
    _set_weights(path, model, weights)


def _set_weights(path, model, weights):
    try:
        model.set_weights(weights)
    except ValueError as err:  # a non-finite weight
        raise _fail(path, f"its weights are refused ({err})") from None


def _checked_array(path, dataset, p, where):
    a = np.asarray(dataset)
    if a.shape != p.shape:
        raise _fail(path, f"weight {where} has shape {a.shape}, but the model needs {p.shape}")
    return a.astype(p.dtype, copy=False)


def _compile(path, model, compile_config):
    """Compile ``model`` as the file says; True if it was. Settings scratchconv lacks leave the
    model uncompiled, with a warning saying why (it still predicts)."""
    if not compile_config:
        return False
    try:
        model.compile(**keras_config.compile_from_keras(compile_config))
    except (TypeError, ValueError, AttributeError) as err:
        warnings.warn(f"{path} is loaded without its compile settings, since {err}: compile the "
                      f"model before training it", stacklevel=4)
        return False
    return True


def _trainable(model):
    return [p for layer in model.layers for _, p, trainable in layer.named_weights() if trainable]


def _head_count(optimizer):
    """Keras's optimizer variables before the per-weight state: the step count, and the
    learning rate unless it is a schedule."""
    return 1 if isinstance(optimizer.get_config().get("learning_rate"), dict) else 2


def _read_optimizer(path, model, h5):
    """Restore the optimizer's step count and state from a ``.keras`` file's ``optimizer/vars``
    (datasets named 0, 1, ...: the step count, the learning rate unless it is a schedule, then
    the per-weight slots), or say it is absent."""
    stored = h5.get("optimizer/vars")
    variables = [(f"optimizer/vars/{k}", stored[str(k)]) for k in range(len(stored))] if stored else []
    _restore_optimizer(path, model, variables, _head_count(model.optimizer))


def _read_legacy_optimizer(path, model, h5):
    """Restore the optimizer's state from a legacy ``.h5`` file's ``optimizer_weights``, whose
    ``weight_names`` list the variables in the order of ``.keras`` files: the step count, the
    learning rate (Keras 3; Keras 2 keeps it out of the variables), then the per-weight slots
    (the same order in Keras 2 and 3, checked against files both wrote)."""
    group = h5.get("optimizer_weights")
    names = [_text(n) for n in group.attrs.get("weight_names", [])] if group is not None else []
    variables = [(f"optimizer_weights/{name}", group[name]) for name in names]
    head = 2 if len(names) > 1 and names[1].endswith("learning_rate") else 1
    _restore_optimizer(path, model, variables, head)


def _restore_optimizer(path, model, variables, head):
    """Set the optimizer's step count and per-weight state from ``variables``, the list of
    ``(where, dataset)`` Keras stored: ``head`` variables (the step count first), then the slots
    in :func:`keras_config.optimizer_slot_order`'s order. Say so when there are none."""
    params = _trainable(model)
    order = keras_config.optimizer_slot_order(model.optimizer, len(params))
    if not variables:
        warnings.warn(f"{path} holds no optimizer state: training the loaded model starts with a "
                      f"fresh optimizer", stacklevel=5)
        return
    if len(variables) != head + len(order):
        raise _fail(path, f"its optimizer holds {len(variables)} variables, but a "
                          f"{type(model.optimizer).__name__} of this model keeps {head + len(order)}")
    slots = [{} for _ in params]
    for (i, slot), (where, dataset) in zip(order, variables[head:]):
        slots[i][slot] = _checked_array(path, dataset, params[i], f"{where} ({slot})")
    iterations = int(np.asarray(variables[0][1]))
    try:
        model.optimizer.set_state(params, iterations, [s or None for s in slots])
    except ValueError as err:
        raise _fail(path, f"its optimizer state does not fit the optimizer ({err})") from None


# ----- writing -------------------------------------------------------------------------------

def save_keras_model(model, path, include_optimizer=True):
    """Write ``model`` as a Keras 3 ``.keras`` archive that ``keras.models.load_model`` opens.

    The optimizer's state is written where Keras keeps it unless ``include_optimizer`` is False.
    """
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built yet, so it has no weights to save")
    config = keras_config.model_to_keras(model)
    if model.optimizer is not None:
        config["compile_config"] = keras_config.compile_to_keras(model)
    config[DATA_KEY] = {"class_names": model.class_names, "preprocessing": model.preprocessing,
                        "training_files": model.training_files}
    metadata = {"keras_version": KERAS_FORMAT_VERSION, "date_saved":
                datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    weights = _weights_file(model, include_optimizer)

    def write(f):
        with zipfile.ZipFile(f, "w") as archive:
            archive.writestr("metadata.json", json.dumps(metadata))
            archive.writestr("config.json", json.dumps(config))
            archive.writestr("model.weights.h5", weights)

    write_atomically(path, write, what="the Keras model file")


def save_weights_h5(model, path):
    """Write ``model``'s weights (and its optimizer's state, as Keras does) to the Keras 3
    ``.weights.h5`` file ``path``."""
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built yet, so it has no weights to save")
    data = _weights_file(model, include_optimizer=True)
    write_atomically(path, lambda f: f.write(data), what="the weights file")


def load_weights_h5(model, path):
    """Copy the weights of the Keras 3 ``.weights.h5`` file ``path`` into the built ``model``
    (and the optimizer's state, when the model is compiled and the file has it)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"there is no weights file at {path}")
    if file_kind(path) != "h5":
        raise _fail(path, "it is not an HDF5 (.weights.h5) file")
    with _h5py().File(path, "r") as h5:
        if "layers" not in h5:
            raise _fail(path, "it has no layers group, so it is not a Keras 3 .weights.h5 file")
        _read_weights(path, model, h5)
        if model.optimizer is not None and "optimizer" in h5:
            _read_optimizer(path, model, h5)


def _weights_file(model, include_optimizer):
    """The bytes of the Keras 3 weights file of ``model``."""
    h5py = _h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        for layer, group in zip(model.layers, keras_layer_paths(model)):
            stored = h5.create_group(group).create_group("vars")
            stored.attrs["name"] = layer.name
            for i, (_, p, _) in enumerate(layer.named_weights()):
                stored.create_dataset(str(i), data=p)
        h5.create_group("vars").attrs["name"] = model.name
        if include_optimizer and model.optimizer is not None:
            _write_optimizer(model, h5)
    return buffer.getvalue()


def _write_optimizer(model, h5):
    optimizer = model.optimizer
    params = _trainable(model)
    iterations, slots = optimizer.get_state(params)
    stored = h5.create_group("optimizer").create_group("vars")
    stored.attrs["name"] = keras_config.to_snake_case(type(optimizer).__name__)
    values = [np.asarray(iterations, dtype=np.int64)]
    if _head_count(optimizer) == 2:
        values.append(np.asarray(optimizer.get_config()["learning_rate"], dtype=np.float32))
    for i, slot in keras_config.optimizer_slot_order(optimizer, len(params)):
        # A weight not updated yet has no state: Keras's is zero until the first step.
        values.append(slots[i][slot] if slots[i] else np.zeros_like(params[i]))
    for k, value in enumerate(values):
        stored.create_dataset(str(k), data=value)
