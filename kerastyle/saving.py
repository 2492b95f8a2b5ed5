"""Saving models, weights and training backups in one safe file format, and ONNX export.

A kerastyle file is a zip archive whose entries are stored (not compressed):

* ``metadata.json``: format name and version, kind (``model``, ``weights`` or ``backup``),
  kerastyle version, date, and the model's weight-bearing layers in order;
* ``config.json`` (models): architecture and compile settings, shaped like Keras's;
* ``model.safetensors``: the weights under Keras names and layout (``layers/dense/vars/0`` is
  the ``(in, out)`` kernel);
* ``optimizer.json`` + ``optimizer.safetensors`` (models, backups): hyper-parameters, step
  counter and slot tensors;
* ``training.json`` (backups): completed epochs, the history, the random generators' states.

The zip comment is ``kerastyle-sha256:<hex>``, the SHA-256 of every byte before the hex digits,
so a truncated or altered file is refused before any entry is parsed. Loading parses only JSON
and safetensors (no pickle, no code from the file) and rebuilds objects by class name from
kerastyle's own registries. Everything is checked against the model before anything is assigned,
and files are written atomically (temporary file in the same directory, fsync, rename).
docs/saving.md describes the format and its guarantees.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import os
import random
import secrets
import time
import warnings
import zipfile

import numpy as np
import safetensors.torch
import torch

from . import layers, losses, metrics, optimizers

FORMAT = "kerastyle"
FORMAT_VERSION = 1
KINDS = ("model", "weights", "backup")
_TRAILER = b"kerastyle-sha256:"
_DIGEST_LEN = 64


class SavedFileError(ValueError):
    """A file is not a kerastyle file, is damaged or too new, or does not fit the model."""


class _Unsaveable(ValueError):
    """An object that cannot be rebuilt by name from kerastyle's registries."""


# -- the container ---------------------------------------------------------------
def _pack(entries: dict[str, bytes]) -> bytes:
    """A stored zip of ``entries`` whose comment ends with the SHA-256 of all bytes before it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        archive.comment = _TRAILER + b"0" * _DIGEST_LEN
    data = bytearray(buffer.getvalue())
    data[-_DIGEST_LEN:] = hashlib.sha256(data[:-_DIGEST_LEN]).hexdigest().encode()
    return bytes(data)


def _write_atomic(filepath, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``filepath``, fsync it, then rename it into place,
    so a crash at any moment leaves either the old file or the new one, never a mix."""
    path = _check_path(filepath, "filepath")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save to {path!r}: directory {directory!r} does not exist.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot save to {path!r}: it is a directory.")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} already exists and overwrite=False.")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_path(filepath, arg) -> str:
    if not isinstance(filepath, (str, os.PathLike)) or not os.fspath(filepath):
        raise TypeError(f"Argument `{arg}` must be a non-empty path (str or os.PathLike), got {filepath!r}.")
    return os.fspath(filepath)


def _unpack(filepath, kinds: tuple[str, ...]) -> tuple[str, dict, dict[str, bytes]]:
    """Verify the checksum, format and version of a kerastyle file; return its metadata and entries."""
    path = _check_path(filepath, "filepath")
    with open(path, "rb") as handle:
        return _parse(handle.read(), path, kinds)


def _parse(data: bytes, path: str, kinds: tuple[str, ...]) -> tuple[str, dict, dict[str, bytes]]:
    """``_unpack``'s checks on the file's bytes: checksum first, then zip, format, version and kind."""
    if not data.startswith(b"PK\x03\x04"):
        what = "it is empty" if not data else "it is not a zip archive"
        raise SavedFileError(f"{path!r} is not a kerastyle file: {what}. Nothing was loaded.")
    tail = data[-(len(_TRAILER) + _DIGEST_LEN):]
    if not tail.startswith(_TRAILER):
        raise SavedFileError(f"{path!r} has no kerastyle checksum at its end: the file is truncated, or it "
                             f"was not written by kerastyle (Keras .keras/.h5 files cannot be loaded). "
                             f"Nothing was loaded.")
    if hashlib.sha256(data[:-_DIGEST_LEN]).hexdigest().encode() != tail[len(_TRAILER):]:
        raise SavedFileError(f"{path!r} is corrupted: its SHA-256 checksum does not match its contents (the "
                             f"file was truncated, damaged or modified after saving). Nothing was loaded.")
    entries = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if info.compress_type != zipfile.ZIP_STORED:
                    raise SavedFileError(f"{path!r}: entry {info.filename!r} is compressed; kerastyle files "
                                         f"store entries uncompressed. Nothing was loaded.")
                entries[info.filename] = archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise SavedFileError(f"{path!r} is not a readable zip archive ({err}). Nothing was loaded.") from None
    metadata = _json_entry(entries, "metadata.json", path)
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise SavedFileError(f"{path!r} is not a kerastyle file: metadata.json names format {found!r}, "
                             f"expected {FORMAT!r}. Nothing was loaded.")
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SavedFileError(f"{path!r} has an unknown format version {version!r}; this kerastyle reads format "
                             f"version {FORMAT_VERSION}. Nothing was loaded.")
    if version > FORMAT_VERSION:
        raise SavedFileError(f"{path!r} was written by a newer kerastyle ({metadata.get('kerastyle_version')!r}, "
                             f"file format version {version}); kerastyle {_version()} reads format version "
                             f"{FORMAT_VERSION}. Upgrade kerastyle to load it. Nothing was loaded.")
    kind = metadata.get("kind")
    if kind not in kinds:
        hint = " It holds weights only: build the model, then call model.load_weights()." if kind == "weights" else ""
        raise SavedFileError(f"{path!r} is a kerastyle {kind!r} file; expected {' or '.join(map(repr, kinds))}."
                             f"{hint} Nothing was loaded.")
    return path, metadata, entries


def _json_entry(entries, name, path):
    if name not in entries:
        raise SavedFileError(f"{path!r} has no {name!r} entry. Nothing was loaded.")
    try:
        return json.loads(entries[name].decode("utf-8"))
    except (ValueError, RecursionError) as err:
        raise SavedFileError(f"{path!r}: entry {name!r} is not valid JSON ({err}). Nothing was loaded.") from None


def _tensor_entry(entries, name, path) -> dict[str, torch.Tensor]:
    if name not in entries:
        raise SavedFileError(f"{path!r} has no {name!r} entry. Nothing was loaded.")
    try:
        return safetensors.torch.load(entries[name])
    except Exception as err:  # safetensors raises its own SafetensorError
        raise SavedFileError(f"{path!r}: entry {name!r} is not valid safetensors ({err}). "
                             f"Nothing was loaded.") from None


def _metadata(kind: str, layout) -> bytes:
    return _dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
                   "kerastyle_version": _version(), "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
                   "layers_with_weights": layout})


def _dumps(obj) -> bytes:
    return json.dumps(obj, indent=1).encode("utf-8")


def _version() -> str:
    from . import __version__
    return __version__


# -- weights ------------------------------------------------------------------------
def _weight_layers(model) -> list:
    """``(layer, weights)`` for the layers that own weights, in model order."""
    pairs = [(layer, layer.weights) for layer in model.layers if layer.weights]
    owned = {id(w) for _, weights in pairs for w in weights}
    stray = [name for name, p in model.to_torch().named_parameters() if id(p) not in owned]
    if stray:
        raise ValueError(f"Model {model.name!r} has parameters outside its kerastyle layers ({', '.join(stray)}), "
                         f"e.g. an activation module with weights of its own; they have no Keras name to be "
                         f"saved under. Use torch.save(model.to_torch().state_dict(), ...) instead.")
    names = [layer.name for layer, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"Model {model.name!r} has several layers named {repeated[0]!r}; weights are saved "
                         f"under layer names, so give the layers distinct name= values.")
    return pairs


def _key(layer_name: str, index: int) -> str:
    return f"layers/{layer_name}/vars/{index}"


def _weights_entry(pairs) -> tuple[list, bytes]:
    tensors = {_key(layer.name, i): _cpu_copy(layer._to_keras(w))
               for layer, weights in pairs for i, w in enumerate(weights)}
    layout = [[layer.name, len(weights)] for layer, weights in pairs]
    return layout, safetensors.torch.save(tensors)


def _plan_weights(model, metadata, tensors, path) -> tuple[list, dict]:
    """Match the file's weights to the model's, layer by layer in order (names may differ, as in
    Keras 2's ``load_weights``). Returns the assignments and ``{file key: model parameter}``."""
    layout = metadata.get("layers_with_weights")
    if not isinstance(layout, list) or not all(
            isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
            and isinstance(item[1], int) and not isinstance(item[1], bool) for item in layout):
        raise SavedFileError(f"{path!r}: metadata.json has no valid 'layers_with_weights' list. Nothing was loaded.")
    pairs = _weight_layers(model)
    if len(layout) != len(pairs):
        raise SavedFileError(
            f"{path!r} holds weights for {len(layout)} layers ({', '.join(n for n, _ in layout) or 'none'}), but "
            f"model {model.name!r} has {len(pairs)} layers with weights "
            f"({', '.join(layer.name for layer, _ in pairs) or 'none'}). Nothing was loaded.")
    plan, by_key = [], {}
    for position, ((name, count), (layer, weights)) in enumerate(zip(layout, pairs)):
        where = f"layer {position} ({name!r} in the file, {layer.name!r} in the model)"
        if count != len(weights):
            raise SavedFileError(f"{path!r}: {where} has {count} weight arrays in the file but {len(weights)} in "
                                 f"the model. Nothing was loaded.")
        for i, param in enumerate(weights):
            key = _key(name, i)
            value = tensors.get(key)
            if value is None:
                raise SavedFileError(f"{path!r}: {where}: tensor {key!r} is missing. Nothing was loaded.")
            expected = tuple(layer._to_keras(param).shape)
            if tuple(value.shape) != expected or not value.is_floating_point():
                raise SavedFileError(f"{path!r}: {where}: weight {i} is {value.dtype} of shape {tuple(value.shape)} "
                                     f"in the file, but the model expects a float array of shape {expected}. "
                                     f"Nothing was loaded.")
            plan.append((layer, param, value))
            by_key[key] = param
    extra = sorted(set(tensors) - set(by_key))
    if extra:
        raise SavedFileError(f"{path!r}: model.safetensors holds tensors no layer claims ({', '.join(extra[:3])}). "
                             f"Nothing was loaded.")
    return plan, by_key


@torch.no_grad()
def _assign_weights(plan) -> None:
    for layer, param, value in plan:
        param.copy_(layer._from_keras(value.to(param.dtype), param))


def _cpu_copy(tensor):
    """A contiguous CPU copy owning its memory (weights and slots may be views of one packed buffer,
    which safetensors refuses to write as separate tensors)."""
    return tensor.detach().cpu().clone(memory_format=torch.contiguous_format)


# -- optimizer state ----------------------------------------------------------------
def _optimizer_entries(model, pairs) -> dict[str, bytes]:
    """``optimizer.json`` (class, per-group hyper-parameters incl. ``iterations``, non-tensor state)
    and ``optimizer.safetensors`` (slot tensors ``optimizer/<weight key>/<slot>``, PyTorch layout)."""
    opt = model.optimizer
    if opt is None or not getattr(opt, "built", True):
        return {}
    key_of = {id(w): _key(layer.name, i) for layer, weights in pairs for i, w in enumerate(weights)}
    groups, tensors, values = [], {}, {}
    for group in opt.param_groups:
        keys = []
        for p in group["params"]:
            if id(p) not in key_of:
                raise ValueError(f"The optimizer of model {model.name!r} updates a tensor that is not one of the "
                                 f"model's weights, so its state cannot be saved by weight name.")
            key = key_of[id(p)]
            keys.append(key)
            for slot, value in opt.state.get(p, {}).items():
                if torch.is_tensor(value):
                    tensors[f"optimizer/{key}/{slot}"] = _cpu_copy(value)
                else:
                    values.setdefault(key, {})[slot] = value
        groups.append({"params": keys, "hyper": {k: v for k, v in group.items() if k != "params"}})
    doc = {"class_name": type(opt).__name__, "param_groups": groups, "state_values": values}
    try:
        text = _dumps(doc)
    except (TypeError, ValueError) as err:
        raise ValueError(f"The state of optimizer {type(opt).__name__} cannot be saved as JSON ({err}).") from None
    return {"optimizer.json": text, "optimizer.safetensors": safetensors.torch.save(tensors)}


def _plan_optimizer(model, entries, by_key, path):
    """Check the saved optimizer state against ``model.optimizer``; return a function that installs it."""
    if "optimizer.json" not in entries:
        return lambda: None
    doc = _json_entry(entries, "optimizer.json", path)
    tensors = _tensor_entry(entries, "optimizer.safetensors", path)
    opt = model.optimizer
    if opt is None or not getattr(opt, "built", True):
        raise SavedFileError(f"{path!r} holds optimizer state, but model {model.name!r} has no optimizer bound to "
                             f"its weights; build and compile it first. Nothing was loaded.")
    if not isinstance(doc, dict) or not isinstance(doc.get("param_groups"), list):
        raise SavedFileError(f"{path!r}: optimizer.json is malformed. Nothing was loaded.")
    if doc.get("class_name") != type(opt).__name__:
        raise SavedFileError(f"{path!r} holds the state of a {doc.get('class_name')} optimizer, but model "
                             f"{model.name!r} uses {type(opt).__name__}. Nothing was loaded.")
    saved_groups = doc["param_groups"]
    if len(saved_groups) != len(opt.param_groups):
        raise SavedFileError(f"{path!r}: the saved optimizer has {len(saved_groups)} parameter groups, the model's "
                             f"has {len(opt.param_groups)}. Nothing was loaded.")
    hypers = []
    for saved, group in zip(saved_groups, opt.param_groups):
        if not isinstance(saved, dict) or not isinstance(saved.get("params"), list) \
                or not isinstance(saved.get("hyper"), dict):
            raise SavedFileError(f"{path!r}: optimizer.json is malformed. Nothing was loaded.")
        params = [by_key.get(key) if isinstance(key, str) else None for key in saved["params"]]
        if [id(p) for p in params] != [id(p) for p in group["params"]]:
            raise SavedFileError(f"{path!r}: the saved optimizer updates {len(params)} weights, which do not "
                                 f"match the {len(group['params'])} trainable weights of model {model.name!r} "
                                 f"(different `trainable` settings?). Nothing was loaded.")
        hyper = saved["hyper"]
        if set(hyper) != set(k for k in group if k != "params"):
            raise SavedFileError(f"{path!r}: the saved optimizer's settings {sorted(hyper)} differ from those of "
                                 f"model {model.name!r}'s optimizer. Nothing was loaded.")
        hypers.append({k: tuple(v) if isinstance(group[k], tuple) else v for k, v in hyper.items()})
    state: dict = {}
    for name, value in tensors.items():
        key, _, slot = name.removeprefix("optimizer/").rpartition("/")
        param = by_key.get(key)
        if not name.startswith("optimizer/") or param is None or (value.dim() and value.shape != param.shape):
            raise SavedFileError(f"{path!r}: optimizer slot {name!r} of shape {tuple(value.shape)} matches no "
                                 f"weight of model {model.name!r}. Nothing was loaded.")
        state.setdefault(param, {})[slot] = value.to(param.device) if value.dim() else value
    values = doc.get("state_values", {})
    if not isinstance(values, dict) or not all(k in by_key and isinstance(v, dict) for k, v in values.items()):
        raise SavedFileError(f"{path!r}: optimizer.json has state for weights the model does not have. "
                             f"Nothing was loaded.")
    for key, slots in values.items():
        state.setdefault(by_key[key], {}).update(slots)

    def install():
        for group, hyper in zip(opt.param_groups, hypers):
            group.update(hyper)
        opt.state.clear()
        opt.state.update(state)
    return install


# -- configs --------------------------------------------------------------------------
_MODULES = {"layer": "kerastyle.layers", "optimizer": "kerastyle.optimizers", "loss": "kerastyle.losses",
            "metric": "kerastyle.metrics"}


def _registry(kind: str) -> dict[str, type]:
    """kerastyle's own classes of one kind, by class name: the only things a file can ask for."""
    if kind == "layer":
        return dict(layers.LAYERS)
    if kind == "optimizer":
        return {cls.__name__: cls for cls in optimizers.ALIASES.values()}
    if kind == "loss":
        return {cls.__name__: cls for cls in losses.ALIASES.values()}
    return {name: obj for name, obj in vars(metrics).items()
            if isinstance(obj, type) and issubclass(obj, metrics.Metric)
            and obj not in (metrics.Metric, metrics.MetricFunctionWrapper)}


def _metric_config(metric) -> dict:
    if hasattr(metric, "get_config"):
        return metric.get_config()
    names = [p for p in inspect.signature(type(metric).__init__).parameters if p != "self"]
    return {name: getattr(metric, name) for name in names}


def _serialize(obj, kind: str) -> dict:
    """``{"module", "class_name", "config"}`` for a built-in object, checked to rebuild from JSON."""
    cls = type(obj)
    if _registry(kind).get(cls.__name__) is not cls:
        raise _Unsaveable(f"{kind} {obj!r} is not a built-in kerastyle {kind}, and files are loaded without "
                          f"running code, so it cannot be rebuilt")
    try:
        config = obj.get_config() if kind != "metric" else _metric_config(obj)
        entry = json.loads(json.dumps({"module": _MODULES[kind], "class_name": cls.__name__,
                                       "config": config}))
        deserialize(entry, kind)
    except (TypeError, ValueError, AttributeError) as err:
        raise _Unsaveable(f"{kind} {obj!r} cannot be rebuilt from its config ({err})") from None
    return entry


def deserialize(entry, kind: str):
    """A kerastyle object from ``{"class_name", "config"}``: looked up by name, never imported."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
            or not isinstance(entry.get("config"), dict):
        raise ValueError(f"A {kind} entry must be a dict with 'class_name' and 'config', got {entry!r}.")
    registry = _registry(kind)
    cls = registry.get(entry["class_name"])
    if cls is None:
        raise ValueError(f"Unknown {kind} class {entry['class_name']!r}; kerastyle knows "
                         f"{', '.join(sorted(registry))}.")
    config = dict(entry["config"])
    try:
        return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    except (TypeError, ValueError, KeyError, IndexError) as err:
        raise ValueError(f"Cannot rebuild {kind} {cls.__name__} from config {config}: {str(err).rstrip('.')}") \
            from None


def model_config(model) -> dict:
    """``Sequential.get_config()``: name, layers (Keras-shaped entries) and build input shape."""
    shape = model.input_shape
    return {"name": model.name,
            "layers": [{"module": "kerastyle.layers", "class_name": type(layer).__name__,
                        "config": layer.get_config()} for layer in model.layers],
            "build_input_shape": None if shape is None else list(shape)}


def model_from_config(cls, config):
    """``Sequential.from_config``: layers rebuilt by class name from kerastyle's registry, then built."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"Sequential.from_config expects a dict with a 'layers' list (from get_config()), "
                         f"got {type(config).__name__}.")
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"Sequential.from_config: 'name' must be a string, got {name!r}.")
    model = cls(name=name)
    for entry in config["layers"]:
        model.add(deserialize(entry, "layer"))
    shape = config.get("build_input_shape")
    if shape is not None and not model.built and model.layers:
        if not isinstance(shape, list) or len(shape) < 2:
            raise ValueError(f"Sequential.from_config: 'build_input_shape' must be a list like [None, 784], "
                             f"got {shape!r}.")
        model.build(shape)
    return model


def _compile_config(model) -> dict | None:
    """The compile settings as registry entries; raises _Unsaveable for custom objects."""
    if not model.compiled:
        return None
    return {"optimizer": _serialize(model.optimizer, "optimizer"),
            "loss": _serialize(model.loss, "loss"),
            "metrics": [_serialize(m, "metric") for m in model.metrics]}


# -- public API --------------------------------------------------------------------------
def save_model(model, filepath, overwrite=True) -> None:
    """``model.save``: architecture, compile settings, optimizer state and weights in one file."""
    config = model_config(model)
    for layer in model.layers:
        try:
            _serialize(layer, "layer")
        except _Unsaveable as err:
            raise ValueError(f"Model {model.name!r} cannot be saved: {err}. Save the weights with "
                             f"model.save_weights() and rebuild the architecture in code.") from None
    pairs = _weight_layers(model)
    try:
        compile_config = _compile_config(model)
    except _Unsaveable as err:
        warnings.warn(f"model.save({os.fspath(filepath)!r}): {err}. The file holds the architecture and weights "
                      f"but no compile settings or optimizer state; compile the loaded model again.", stacklevel=3)
        compile_config = None
    layout, weights = _weights_entry(pairs)
    entries = {"metadata.json": _metadata("model", layout),
               "config.json": _dumps({"module": "kerastyle", "class_name": type(model).__name__, "config": config,
                                      "build_config": {"input_shape": config["build_input_shape"]},
                                      "compile_config": compile_config}),
               "model.safetensors": weights}
    if compile_config is not None:
        entries.update(_optimizer_entries(model, pairs))
    _write_atomic(filepath, _pack(entries), overwrite)


def load_model(filepath, compile=True):
    """``kerastyle.models.load_model``: rebuild, compile and fill a model saved by ``model.save``."""
    from .models import Sequential
    path, metadata, entries = _unpack(filepath, ("model",))
    doc = _json_entry(entries, "config.json", path)
    if not isinstance(doc, dict) or doc.get("module") != "kerastyle" or doc.get("class_name") != "Sequential":
        found = (doc.get("module"), doc.get("class_name")) if isinstance(doc, dict) else doc
        raise SavedFileError(f"{path!r}: config.json describes {found!r}; kerastyle loads Sequential models "
                             f"only. Nothing was loaded.")
    tensors = _tensor_entry(entries, "model.safetensors", path)
    try:
        with torch.random.fork_rng(devices=[]):  # building draws initial weights: leave the caller's RNG alone
            model = Sequential.from_config(doc.get("config"))
            compile_config = doc.get("compile_config") if compile else None
            if compile_config is not None:
                if not isinstance(compile_config, dict) or not isinstance(compile_config.get("metrics", []), list):
                    raise ValueError(f"invalid compile_config {compile_config!r}")
                model.compile(optimizer=deserialize(compile_config.get("optimizer"), "optimizer"),
                              loss=deserialize(compile_config.get("loss"), "loss"),
                              metrics=[deserialize(m, "metric") for m in compile_config.get("metrics", [])])
    except (ValueError, TypeError) as err:
        raise SavedFileError(f"{path!r}: config.json does not describe a model kerastyle can rebuild: "
                             f"{str(err).rstrip('.')}. Nothing was loaded.") from None
    plan, by_key = _plan_weights(model, metadata, tensors, path)
    install = _plan_optimizer(model, entries, by_key, path) if compile and model.compiled else (lambda: None)
    _assign_weights(plan)
    install()
    return model


def save_weights(model, filepath, overwrite=True) -> None:
    """``model.save_weights``: the weights only (Keras names and layout), same container."""
    if not model.built:
        raise ValueError(f"Model {model.name!r} has no weights yet: build it (input_shape=, Input or build()) "
                         f"before save_weights().")
    layout, weights = _weights_entry(_weight_layers(model))
    _write_atomic(filepath, _pack({"metadata.json": _metadata("weights", layout), "model.safetensors": weights}),
                  overwrite)


def load_weights(model, filepath) -> None:
    """``model.load_weights``: from a weights, model or backup file; all-or-nothing."""
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built, so it has no weights to load into: build it "
                         f"(input_shape=, Input or build()) before load_weights().")
    path, metadata, entries = _unpack(filepath, KINDS)
    plan, _ = _plan_weights(model, metadata, _tensor_entry(entries, "model.safetensors", path), path)
    _assign_weights(plan)


# -- training backups (BackupAndRestore) ----------------------------------------------------
def _rng_state() -> dict:
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": [version, list(internal), gauss],
             "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
             "torch": bytes(torch.get_rng_state().numpy()).hex()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [bytes(s.numpy()).hex() for s in torch.cuda.get_rng_state_all()]
    return state


def _set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.frombuffer(bytearray.fromhex(state["torch"]), dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.frombuffer(bytearray.fromhex(s), dtype=torch.uint8)
                                      for s in state["cuda"]])


def write_backup(model, filepath, epoch: int, history) -> None:
    """Weights, optimizer state, ``epoch`` (epochs completed), the history and the RNG states."""
    pairs = _weight_layers(model)
    layout, weights = _weights_entry(pairs)
    training = {"epoch": epoch, "history": {"epoch": list(history.epoch), "history": history.history},
                "rng": _rng_state()}
    entries = {"metadata.json": _metadata("backup", layout), "model.safetensors": weights,
               "training.json": _dumps(training), **_optimizer_entries(model, pairs)}
    _write_atomic(filepath, _pack(entries))


def restore_backup(model, filepath, history) -> int:
    """Install a backup into ``model`` and ``history``; returns the number of epochs it completed."""
    path, metadata, entries = _unpack(filepath, ("backup",))
    plan, by_key = _plan_weights(model, metadata, _tensor_entry(entries, "model.safetensors", path), path)
    install = _plan_optimizer(model, entries, by_key, path)
    training = _json_entry(entries, "training.json", path)
    try:
        epoch, saved = training["epoch"], training["history"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0 \
                or not isinstance(saved["epoch"], list) or not isinstance(saved["history"], dict) \
                or not all(isinstance(v, list) for v in saved["history"].values()):
            raise ValueError("bad epoch or history")
        previous = _rng_state()
        try:
            _set_rng_state(training["rng"])
        except Exception:
            _set_rng_state(previous)
            raise
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as err:
        raise SavedFileError(f"{path!r}: training.json is malformed ({err}). Nothing was loaded.") from None
    _assign_weights(plan)
    install()
    history.epoch = list(saved["epoch"])
    history.history = {k: list(v) for k, v in saved["history"].items()}
    return epoch


# -- ONNX ------------------------------------------------------------------------------------------
def export_onnx(model, filepath) -> None:
    """Write the inference graph (eval mode, dynamic batch axis) as one ONNX file, atomically."""
    path = _check_path(filepath, "filepath")
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built, so it has no graph to export; give it an input shape.")
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ImportError(f"export_onnx() needs the packages onnx and onnxscript "
                          f"(pip install onnx onnxscript): {err}") from None
    net = model.to_torch()
    device = next(net.parameters()).device if any(True for _ in net.parameters()) else torch.device("cpu")
    example = torch.zeros((2, *model.input_shape[1:]), device=device)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    was_training = net.training
    net.eval()
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (example,), tmp, dynamo=True, external_data=False, input_names=["input"],
                              output_names=["output"], dynamic_shapes=({0: torch.export.Dim("batch")},))
        os.replace(tmp, path)
    except Exception as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise
        raise RuntimeError(f"ONNX export of model {model.name!r} failed: {err}. Custom activations must be "
                           f"traceable by torch.export.") from err
    finally:
        net.train(was_training)
    _fsync_dir(directory)
