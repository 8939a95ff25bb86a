"""Saving a model to one file and loading it back; the format is in docs/model-format.md.

A model file is an ``.npz`` archive (NumPy's zip of ``.npy`` arrays) holding

- ``config``: a 0-d unicode array, the JSON text of ``{"format", "format_version",
  "scratchconv_version", "model", "compile", "weights"}``;
- ``w0, w1, ...``: the weights in ``model.get_weights()`` order (layer by layer; within a layer
  the trainable ones, kernel then bias, then the non-trainable ones, e.g. moving statistics);
- ``s0, s1, ...``: the optimizer's state arrays (its slots: Adam's moments, SGD's momentum, RMSprop's
  running means), when saved.

A weights file (``model.save_weights``, :func:`save_weights`) is the same kind of archive with
only ``config`` (``{"format": "scratchconv-weights", "format_version", "scratchconv_version",
"weights"}``, the manifest) and ``w0, w1, ...``; ``model.load_weights`` reads it or a model
file. A name ending in ``.weights.h5`` is Keras 3's weights file instead
(:mod:`scratchconv.keras_files`).

:func:`save_model` writes it through :func:`scratchconv.atomic.write_atomically`, so a file that
was there is replaced whole or not at all, and keeps its permission bits.
:func:`load_model` checks everything it reads and names the file and the fault in one sentence.
"""
import json
import math
import os
import re
import stat
import tokenize
import zipfile
import zlib

import numpy as np

from .atomic import write_atomically
from .errors import ModelFileError

FORMAT = "scratchconv-model"
FORMAT_VERSION = 1
WEIGHTS_FORMAT = "scratchconv-weights"
WEIGHTS_FORMAT_VERSION = 1
CONFIG_ENTRY = "config"
WEIGHT_ENTRY = re.compile(r"w\d+")
STATE_ENTRY = re.compile(r"s\d+")
# The keys of the config and of its "model" object; anything else is refused.
CONFIG_KEYS = ("format", "format_version", "scratchconv_version", "model", "compile", "weights",
               "optimizer_state", "data")
MODEL_CONFIG_KEYS = ("name", "dtype", "layers", "input_shape", "input")

# What load_model accepts before allocating anything. A model config of the tutorial's kind
# takes a few kilobytes and its model about 0.5 million parameters; these bounds are far above
# any model scratchconv trains in reasonable time, and far below what would exhaust a machine's
# memory. Raise them (scratchconv.saving.MAX_PARAMETERS = ...) to load a bigger model.
MAX_CONFIG_BYTES = 16 * 2**20  # the config entry (a .npy of UTF-32 text: 4 bytes a character)
MAX_PARAMETERS = 2**28  # weights of the whole model: 1 GiB in float32
MAX_VALUES_PER_SAMPLE = 2**26  # the input or any layer's output, for one sample

# The first bytes of a zip archive (an .npz) and of a single .npy array.
ZIP_MAGIC = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"

# What reading a damaged zip member can raise: a bad CRC or header (BadZipFile), a broken
# deflate stream (zlib.error), a short read (EOFError), a bad .npy header or a pickled object
# array (ValueError), an unsupported compression method (NotImplementedError).
# A damaged .npy header may also fail numpy's parse of its Python-literal text (SyntaxError,
# tokenize.TokenError).
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError,
                SyntaxError, tokenize.TokenError)


def _check_data_info(model):
    """ValueError when ``model.class_names`` or ``model.preprocessing`` do not fit the model."""
    if not model.built:
        return
    n_classes = model.output_shape[-1]
    if model.class_names is not None and len(model.class_names) != n_classes:
        raise ValueError(f"model {model.name!r} has {len(model.class_names)} class_names but "
                         f"{n_classes} outputs")
    if model.preprocessing is not None and _prepared_shape(model.preprocessing) != tuple(model.input_shape):
        raise ValueError(f"model {model.name!r} has the preprocessing {model.preprocessing} but "
                         f"takes {tuple(model.input_shape)} inputs")


def _weight_records(model):
    """(entry name, layer, weight name, array, trainable) for every weight, trainable or not,
    in get_weights() order."""
    named = [(layer, name, p, trainable) for layer in model.layers for name, p, trainable in layer.named_weights()]
    return [(f"w{i}", *weight) for i, weight in enumerate(named)]


def _require_built(model, what):
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built yet, so it has no weights to {what}: "
                         f"give the first layer input_shape= or call model.build(...) first")


def _manifest(records):
    """The config's list describing each ``w`` entry (for people and other tools; reading goes
    by the model)."""
    return [{"entry": entry, "layer": layer.name, "param": name, "shape": list(p.shape),
             "dtype": p.dtype.name, "trainable": trainable} for entry, layer, name, p, trainable in records]


def _is_keras_weights_name(path):
    """Keras 3's weights files are told by their name, as Keras tells them."""
    return os.fspath(path).endswith(".weights.h5")


def save_weights(model, path):
    """Write ``model``'s weights alone, trainable and not, in ``get_weights()`` order, to ``path``.

    path : a name ending in ``.weights.h5`` writes Keras 3's weights file; any other name
        scratchconv's (an npz archive, see the module docstring; ``.npz`` is recommended)

    Written atomically: a file already at ``path`` is replaced whole or not at all. Raises
    ValueError for an unbuilt model and OSError (naming ``path``) when it cannot be written.
    """
    from . import __version__

    if _is_keras_weights_name(path):
        from .keras_files import save_weights_h5
        return save_weights_h5(model, path)
    _require_built(model, "save")
    records = _weight_records(model)
    config = {"format": WEIGHTS_FORMAT, "format_version": WEIGHTS_FORMAT_VERSION,
              "scratchconv_version": __version__, "weights": _manifest(records)}
    arrays = {entry: p for entry, _, _, p, _ in records}
    arrays[CONFIG_ENTRY] = np.array(json.dumps(config, allow_nan=False))
    write_atomically(path, lambda f: np.savez(f, **arrays), what="the weights file")


def load_weights(model, path):
    """Copy the weights in the file ``path`` into the built ``model``, in place.

    path : a weights file of :func:`save_weights`, or a model file of :func:`save_model` (its
        weights only; compile settings and optimizer state are left alone), or Keras 3's
        ``.weights.h5`` (by its name)

    The weights are matched by order, as Keras does for a Sequential: the file must hold as
    many arrays as the model has weights, each of the model's shape and dtype, all finite.
    Nothing is copied unless all of them fit. Raises FileNotFoundError when there is no file,
    and :class:`ModelFileError` (a ValueError) naming the file and the fault otherwise.
    """
    if _is_keras_weights_name(path):
        from .keras_files import load_weights_h5
        return load_weights_h5(model, path)
    _require_built(model, "load into")
    path = os.fspath(path)
    records = _weight_records(model)
    planned = [(entry, layer.name, name, p.shape, p.dtype) for entry, layer, name, p, _ in records]
    with _Archive.open(path, kind="weights") as archive:
        config = _read_json_config(path, archive, kind="weights")
        if config.get("format") not in (WEIGHTS_FORMAT, FORMAT):
            raise _fail(path, f"its config names the format {config.get('format')!r}, neither "
                              f"{WEIGHTS_FORMAT!r} nor {FORMAT!r}", kind="weights")
        if config["format"] == WEIGHTS_FORMAT and config.get("format_version") != WEIGHTS_FORMAT_VERSION:
            raise _fail(path, f"it uses weights format version {config.get('format_version')!r}, and this "
                              f"scratchconv reads version {WEIGHTS_FORMAT_VERSION}", kind="weights")
        _check_weight_entries(path, archive, planned, kind="weights")
        weights = [_finite(path, archive.read(entry), f"weight {entry} (layer {layer!r}, {param})", kind="weights")
                   for entry, layer, param, _, _ in planned]
    model.set_weights(weights)


def save_model(model, path, include_optimizer=True):
    """Write ``model`` (config, weights, compile settings) to the single file ``path``.

    model : a built Sequential
    path : str or os.PathLike; a name ending in ``.keras`` writes a Keras 3 archive
        (:mod:`scratchconv.keras_files`), any other name scratchconv's own format
        (``.npz`` is recommended: ``np.load`` reads it); ``.h5`` is refused
    include_optimizer : also save the optimizer's state (step count and per-weight arrays), so
        that training the loaded model continues exactly as training this one would

    Raises ValueError for an unbuilt model and OSError (naming ``path``) when the file cannot
    be written; in both cases a file already at ``path`` is left as it was.
    """
    from . import __version__

    name = os.fspath(path)
    if name.endswith(".keras"):
        from .keras_files import save_keras_model
        _check_data_info(model)
        return save_keras_model(model, path, include_optimizer=include_optimizer)
    if name.endswith(".h5") or name.endswith(".hdf5"):
        raise ValueError(f"cannot save {name}: scratchconv writes Keras files in the Keras 3 format "
                         f"(a name ending in .keras), not the legacy .h5; model.save_weights writes "
                         f".weights.h5 files")
    _require_built(model, "save")
    _check_data_info(model)
    records = _weight_records(model)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "scratchconv_version": __version__,
        "model": model.get_config(),
        "compile": model.get_compile_config(),
        "weights": _manifest(records),
        "optimizer_state": None,
        "data": {"class_names": model.class_names, "preprocessing": model.preprocessing,
                 "training_files": model.training_files},
    }
    arrays = {entry: p for entry, _, _, p, _ in records}
    if include_optimizer and model.optimizer is not None:
        iterations, slots = model.optimizer.get_state([p for _, _, _, p, _ in records])
        manifest = []
        for (weight, _, _, _, _), named in zip(records, slots):
            for slot, a in (named or {}).items():
                entry = f"s{len(manifest)}"
                manifest.append({"entry": entry, "weight": weight, "slot": slot})
                arrays[entry] = a
        config["optimizer_state"] = {"iterations": iterations, "slots": manifest}
    arrays[CONFIG_ENTRY] = np.array(json.dumps(config, allow_nan=False))
    write_atomically(path, lambda f: np.savez(f, **arrays), what="the model file")


def _fail(path, reason, kind="model"):
    """The error for a model (or weights) file that cannot be loaded."""
    return ModelFileError(f"cannot load the {kind} file {path}: {reason}")


def load_model(path):
    """The model saved by :func:`save_model` at ``path``: built, with its weights, and compiled
    as it was when saved, its optimizer state restored when the file has it. Keras ``.keras``
    and legacy ``.h5`` files are read too (:mod:`scratchconv.keras_files`), whatever their name.

    Nothing is allocated before it is known to fit: the config is read and checked first (its
    entry's declared size, known keys, the layers' shapes and parameter count within
    :data:`MAX_PARAMETERS` and :data:`MAX_VALUES_PER_SAMPLE`), then the ``.npy`` header of every
    weight and state entry against what the config makes, and only then are the arrays read.
    Entries the format does not name are never read.

    Raises FileNotFoundError when there is no file at ``path``, and :class:`ModelFileError`
    (a ValueError) naming the file and the fault for anything else wrong with it.
    """
    from .model import Sequential

    path = os.fspath(path)
    if _is_keras_file(path):
        from .keras_files import load_keras_model
        return load_keras_model(path)
    with _Archive.open(path) as archive:
        config = _read_config(path, archive)
        planned = _plan_weights(path, config["model"])
        state = config.get("optimizer_state") if config["compile"] is not None else None
        slots = _plan_state(path, archive, planned, state)
        _check_weight_entries(path, archive, planned)
        weights = [_finite(path, archive.read(entry), f"weight {entry} (layer {layer!r}, {param})")
                   for entry, layer, param, _, _ in planned]
        state_arrays = {s["entry"]: _finite(path, archive.read(s["entry"]),
                                            f"optimizer state {s['entry']} ({s['slot']} of {s['weight']})")
                        for s in slots}
    try:
        model = Sequential.from_config(config["model"])
    except (TypeError, ValueError) as err:
        raise _fail(path, f"its model config does not make a model ({err})") from None
    model.set_weights(weights)
    set_data_info(path, model, config.get("data"))
    if config["compile"] is not None:
        _compile(path, model, config["compile"])
        if state is not None:
            _restore_optimizer_state(path, model, state, slots, state_arrays)
    return model


def _is_keras_file(path):
    """Whether ``path`` is a Keras file: an HDF5 file (legacy ``.h5``) or a zip archive with a
    ``config.json`` (``.keras``), rather than an npz archive (a zip of ``.npy`` entries)."""
    from .keras_files import file_kind

    if not os.path.isfile(path):
        return False
    kind = file_kind(path)
    if kind == "keras":
        try:
            with zipfile.ZipFile(path) as archive:
                return "config.json" in archive.namelist()
        except _READ_ERRORS:
            return False  # not a readable zip: the npz reader says what is wrong with it
    return kind == "h5"


class _Archive:
    """The npz (zip) archive of a model file, read one named entry at a time: an entry's
    ``.npy`` header first (shape, dtype, and the size the zip declares for it checked against
    each other), its data only when asked for."""

    def __init__(self, path, file, zip_file, kind):
        self.path, self.file, self.zip, self.kind = path, file, zip_file, kind
        self.infos = {}
        for info in zip_file.infolist():
            name = info.filename[:-len(".npy")] if info.filename.endswith(".npy") else info.filename
            self.infos[name] = info

    @classmethod
    def open(cls, path, kind="model"):
        """The archive at ``path``; a ModelFileError for anything that is not a readable zip
        archive, a FIFO or a device among them (refused at once: reading one could block
        forever or never end). ``kind`` ("model", "weights") names the file in errors."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise FileNotFoundError(f"there is no {kind} file at {path}") from None
        except IsADirectoryError:
            raise _fail(path, "it is a folder, not a file", kind) from None
        except OSError as err:
            raise _fail(path, f"it cannot be opened ({err.strerror or err})", kind) from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            if stat.S_ISDIR(mode):
                raise _fail(path, "it is a folder, not a file", kind)
            raise _fail(path, f"it is not a regular file (a pipe, a device or a socket), and a "
                              f"{kind} file always is one", kind)
        file = os.fdopen(fd, "rb")
        try:
            head = file.read(len(NPY_MAGIC))
            file.seek(0)
            if not zipfile.is_zipfile(file):
                if not head:
                    reason = "the file is empty"
                elif head.startswith(ZIP_MAGIC):
                    reason = "it starts like an npz (zip) archive but is truncated or damaged"
                elif head.startswith(NPY_MAGIC):
                    reason = "it holds a single NumPy array (.npy), not an npz archive"
                else:
                    reason = "it is not an npz (zip) archive"
                raise _fail(path, reason, kind)
            try:
                zip_file = zipfile.ZipFile(file)
            except _READ_ERRORS as err:
                raise _fail(path, f"reading the archive's index failed, so the file is damaged "
                                  f"({err})", kind) from None
        except BaseException:
            file.close()
            raise
        return cls(path, file, zip_file, kind)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()
        self.file.close()

    def names(self, pattern):
        return {name for name in self.infos if pattern.fullmatch(name)}

    def header(self, name):
        """(shape, dtype) of entry ``name`` from its ``.npy`` header, its declared size checked."""
        info = self.infos[name]
        try:
            with self.zip.open(info) as f:
                shape, fortran, dtype = self._read_header(f)
                size = f.tell() + math.prod(shape) * dtype.itemsize
        except _READ_ERRORS as err:
            raise self._damaged(name, err) from None
        if info.file_size != size:
            raise self._damaged(name, f"the archive declares {info.file_size} bytes for it, its "
                                      f".npy header describes {size}")
        return shape, dtype

    def read(self, name):
        """The array of entry ``name`` (its header was checked by :meth:`header`); the zip's
        CRC is checked on the way."""
        try:
            with self.zip.open(self.infos[name]) as f:
                shape, fortran, dtype = self._read_header(f)
                data = bytearray(math.prod(shape) * dtype.itemsize)
                view, done = memoryview(data), 0
                while done < len(data):
                    n = f.readinto(view[done:])
                    if not n:
                        raise EOFError(f"the data ends after {done} of {len(data)} bytes")
                    done += n
                if f.read(1):  # reading to the end is what makes zipfile check the CRC
                    raise ValueError("it holds more data than its header describes")
        except _READ_ERRORS as err:
            raise self._damaged(name, err) from None
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")

    @staticmethod
    def _read_header(f):
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"it is a .npy of version {version}, not 1.0 or 2.0")
        if dtype.hasobject:
            raise ValueError("it holds Python objects (a pickle), which are never loaded")
        return shape, fortran, dtype

    def _damaged(self, name, err):
        return _fail(self.path, f"reading entry {name!r} failed, so the file is damaged ({err})", self.kind)


def _read_json_config(path, archive, kind="model"):
    """The archive's JSON config entry as a dict, checked for size and syntax."""
    if CONFIG_ENTRY not in archive.infos:
        listed = ", ".join(sorted(archive.infos)) or "nothing"
        raise _fail(path, f"it has no {CONFIG_ENTRY!r} entry, so it is not a scratchconv {kind} file "
                          f"(it holds {listed})", kind)
    declared = archive.infos[CONFIG_ENTRY].file_size
    if declared > MAX_CONFIG_BYTES:
        raise _fail(path, f"its {CONFIG_ENTRY!r} entry declares {declared:,} bytes, more than a {kind} "
                          f"config ever needs ({MAX_CONFIG_BYTES:,})", kind)
    shape, dtype = archive.header(CONFIG_ENTRY)
    if shape != () or dtype.kind != "U":
        raise _fail(path, f"its {CONFIG_ENTRY!r} entry is not a JSON text", kind)
    try:
        config = json.loads(str(archive.read(CONFIG_ENTRY)[()]))
    except json.JSONDecodeError as err:
        raise _fail(path, f"its config is not valid JSON ({err})", kind) from None
    except RecursionError:
        raise _fail(path, f"its config is JSON nested too deeply to be a {kind} config", kind) from None
    if not isinstance(config, dict):
        raise _fail(path, f"its config is a JSON {type(config).__name__}, not an object", kind)
    return config


def _read_config(path, archive):
    """The JSON config, checked for size, format, version, known keys and the shape of its parts."""
    config = _read_json_config(path, archive)
    if config.get("format") == WEIGHTS_FORMAT:
        raise _fail(path, "it is a weights file (model.save_weights), which holds no model: build the "
                          "model and call model.load_weights on it")
    if config.get("format") != FORMAT:
        raise _fail(path, f"its config names the format {config.get('format')!r}, not {FORMAT!r}")
    version = config.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        from . import __version__
        raise _fail(path, f"it uses model format version {version!r}, and scratchconv {__version__} "
                          f"reads versions 1 to {FORMAT_VERSION}"
                          + ("; a newer scratchconv wrote it, so upgrade"
                             if isinstance(version, int) and version > FORMAT_VERSION else ""))
    _check_keys(path, "its config", config, CONFIG_KEYS)
    _check_model_config(path, config.get("model"))
    if "compile" not in config:
        raise _fail(path, "its config has no 'compile' entry (null for an uncompiled model)")
    return config


def _check_keys(path, what, mapping, known):
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise _fail(path, f"{what} has keys this version of the format does not have "
                          f"({', '.join(map(repr, unknown))})")


def _check_model_config(path, model_config):
    """The parts of the model config that Sequential.from_config indexes without checking."""
    if not isinstance(model_config, dict):
        raise _fail(path, "its config has no 'model' object")
    _check_keys(path, "its model config", model_config, MODEL_CONFIG_KEYS)
    layers = model_config.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _fail(path, "its model config has no list of layers")
    for i, entry in enumerate(layers):
        if not (isinstance(entry, dict) and isinstance(entry.get("class_name"), str)
                and isinstance(entry.get("config"), dict)):
            raise _fail(path, f'layer {i} of its model config is not a {{"class_name", "config"}} object')
    shape = model_config.get("input_shape")
    if not (isinstance(shape, list) and shape
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise _fail(path, f"its model config has no valid input_shape (got {shape!r})")


def _plan_weights(path, model_config):
    """(entry, layer name, parameter name, shape, dtype) of every weight the model config makes,
    in get_weights() order, worked out from the layers' shapes without allocating anything;
    sizes beyond MAX_VALUES_PER_SAMPLE or MAX_PARAMETERS are refused."""
    from .layers import get as get_layer_class
    from .layers.base import check_dtype

    try:
        model_dtype = check_dtype(model_config.get("dtype", "float32"))
        layers = [get_layer_class(entry["class_name"]).from_config(entry["config"])
                  for entry in model_config["layers"]]
        shape = tuple(model_config["input_shape"])
        planned, total = [], 0
        for layer in layers:
            _check_values(path, f"the input of {layer.describe()}", shape)
            dtype = layer._given_dtype or model_dtype
            for param, weight_shape, _ in layer.weight_shapes(shape):
                planned.append((f"w{len(planned)}", layer.name, param, weight_shape, np.dtype(dtype)))
                total += math.prod(weight_shape)
            if total > MAX_PARAMETERS:
                raise _fail(path, f"its model config makes {total:,} parameters up to "
                                  f"{layer.describe()}, more than the {MAX_PARAMETERS:,} scratchconv "
                                  f"loads (raise scratchconv.saving.MAX_PARAMETERS to load it)")
            shape = layer.compute_output_shape(shape)
        _check_values(path, "the output", shape)
    except ModelFileError:
        raise
    except (TypeError, ValueError) as err:
        raise _fail(path, f"its model config does not make a model ({err})") from None
    return planned


def _check_values(path, what, shape):
    values = math.prod(shape)
    if values > MAX_VALUES_PER_SAMPLE:
        raise _fail(path, f"in its model config {what} holds {values:,} values per sample, more than "
                          f"the {MAX_VALUES_PER_SAMPLE:,} scratchconv handles (raise "
                          f"scratchconv.saving.MAX_VALUES_PER_SAMPLE to load it)")


def _check_weight_entries(path, archive, planned, kind="model"):
    """The archive's w0, w1, ... against the planned weights: names, then each header."""
    found = archive.names(WEIGHT_ENTRY)
    expected = {entry for entry, _, _, _, _ in planned}
    if found != expected:
        missing = sorted(expected - found, key=lambda n: int(n[1:]))
        detail = f", missing {', '.join(missing)}" if missing else ""
        raise _fail(path, f"it holds {len(found)} weight arrays but its model has {len(expected)}{detail}", kind)
    for entry, layer, param, shape, dtype in planned:
        where = f"weight {entry} (layer {layer!r}, {param})"
        found_shape, found_dtype = archive.header(entry)
        if found_shape != shape:
            raise _fail(path, f"{where} has shape {found_shape}, but the model needs {shape}", kind)
        if found_dtype != dtype:
            raise _fail(path, f"{where} has dtype {found_dtype}, but the model is {dtype}", kind)


def _finite(path, array, what, kind="model"):
    """``array``, or a ModelFileError when it holds NaN or infinity (a model saved from a
    diverged training would predict nothing but NaN)."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise _fail(path, f"{what} holds NaN or infinite values", kind)
    return array


def default_class_names(n_classes):
    """The class names assumed for a model file that has none: the 24 runes (in the tutorial's
    order) for 24 outputs, else the output numbers ``"0"``, ``"1"``, ..."""
    from .data.runes import RUNES

    return list(RUNES) if n_classes == len(RUNES) else [str(i) for i in range(n_classes)]


def default_preprocessing(input_shape):
    """The preparation ``scratchconv.data.load_image`` gives a model's input shape (h, w, c) by
    default (square images, 1 or 3 channels), or None for any other shape."""
    from .data import preprocessing

    if len(input_shape) != 3 or input_shape[0] != input_shape[1] or input_shape[2] not in (1, 3):
        return None
    return preprocessing(input_shape[0], "grayscale" if input_shape[2] == 1 else "rgb")


def _prepared_shape(prep):
    """The shape (h, w, c) of one image prepared by ``prep``."""
    return (prep["image_size"], prep["image_size"], 1 if prep["color_mode"] == "grayscale" else 3)


def set_data_info(path, model, info):
    """Set ``model.class_names``, ``.preprocessing`` and ``.training_files`` from the model
    file's ``data`` object (missing in older files: the defaults above, and no fingerprints)."""
    from .data import preprocessing

    info = {} if info is None else info
    if not isinstance(info, dict):
        raise _fail(path, f"its data entry is a JSON {type(info).__name__}, not an object")
    n_classes = model.output_shape[-1]
    names = info.get("class_names")
    if names is None:
        names = default_class_names(n_classes)
    elif not (isinstance(names, list) and all(isinstance(n, str) for n in names)
              and len(names) == n_classes):
        raise _fail(path, f"its class_names are not a list of {n_classes} strings, one per output "
                          f"(got {names!r})")
    prep = info.get("preprocessing")
    if prep is None:
        prep = default_preprocessing(model.input_shape)
    else:
        try:
            prep = preprocessing(**prep) if isinstance(prep, dict) else None
        except (TypeError, ValueError) as err:
            raise _fail(path, f"its preprocessing is invalid ({err})") from None
        if prep is None or _prepared_shape(prep) != tuple(model.input_shape):
            raise _fail(path, f"its preprocessing {info['preprocessing']!r} does not make the "
                              f"model's {tuple(model.input_shape)} inputs")
    seen = info.get("training_files")
    if seen is not None and not (isinstance(seen, list) and all(isinstance(f, str) for f in seen)):
        raise _fail(path, "its training_files are not a list of fingerprints (strings)")
    model.class_names, model.preprocessing, model.training_files = names, prep, seen


def _compile(path, model, compile_config):
    """Compile ``model`` with the saved settings."""
    if not (isinstance(compile_config, dict) and "optimizer" in compile_config and "loss" in compile_config):
        raise _fail(path, 'its compile settings are not an {"optimizer", "loss", "metrics"} object')
    try:
        model.compile(optimizer=compile_config["optimizer"], loss=compile_config["loss"],
                      metrics=compile_config.get("metrics"))
    except (TypeError, ValueError) as err:
        raise _fail(path, f"its compile settings are invalid ({err})") from None


def _plan_state(path, archive, planned, state):
    """The optimizer state manifest (``[{"entry", "weight", "slot"}, ...]``), checked against
    the archive's s0, s1, ... and, by their headers, against the planned weights.

    ``state`` is the config's ``optimizer_state``: null (or absent) when none was saved, else
    ``{"iterations": int, "slots": [{"entry", "weight", "slot"}, ...]}``.
    """
    found = archive.names(STATE_ENTRY)
    if state is None:
        if found:
            raise _fail(path, f"it holds {len(found)} optimizer state arrays but its config lists none")
        return []
    manifest = state.get("slots") if isinstance(state, dict) else None
    if not (isinstance(manifest, list) and all(
            isinstance(s, dict) and all(isinstance(s.get(k), str) for k in ("entry", "weight", "slot"))
            for s in manifest)):
        raise _fail(path, 'its optimizer state is not an {"iterations", "slots": [{"entry", "weight", '
                          '"slot"}, ...]} object')
    listed = [s["entry"] for s in manifest]
    if set(listed) != found or len(listed) != len(found):
        raise _fail(path, f"its config lists {len(listed)} optimizer state arrays but it holds {len(found)}")
    weights = {entry: (shape, dtype) for entry, _, _, shape, dtype in planned}
    for s in manifest:
        if s["weight"] not in weights:
            raise _fail(path, f"optimizer state {s['entry']} belongs to weight {s['weight']!r}, "
                              f"which the model does not have")
        shape, dtype = archive.header(s["entry"])
        where = f"optimizer state {s['entry']} ({s['slot']} of {s['weight']})"
        if dtype != weights[s["weight"]][1]:
            raise _fail(path, f"{where} has dtype {dtype}, but the model is {weights[s['weight']][1]}")
        if shape != weights[s["weight"]][0]:
            raise _fail(path, f"{where} has shape {shape}, but its weight has {weights[s['weight']][0]}")
    return manifest


def _restore_optimizer_state(path, model, state, manifest, arrays):
    """Give the optimizer its step count and the state arrays read from the archive."""
    records = _weight_records(model)
    index = {entry: i for i, (entry, _, _, _, _) in enumerate(records)}
    slots = [None] * len(records)
    for s in manifest:
        i = index[s["weight"]]
        slots[i] = slots[i] or {}
        slots[i][s["slot"]] = arrays[s["entry"]]
    try:
        model.optimizer.set_state([p for _, _, _, p, _ in records], state.get("iterations"), slots)
    except ValueError as err:
        raise _fail(path, f"its optimizer state does not fit the optimizer ({err})") from None
