"""Real Keras model files: Keras 3 ``.keras`` zips, ``.weights.h5``, and Keras 2 / legacy ``.h5``.

Files are recognised by content (zip entries ``config.json``/``metadata.json``/``model.weights.h5``;
the HDF5 signature), not by name. Loading parses JSON and HDF5 arrays only (h5py), builds the model
from kerastyle's own classes (``config``), checks every array against it (``h5``), then assigns
everything at once. Writing produces files real Keras 3 loads: ``save_as_keras`` and ``save_weights_h5``.
docs/coming-from-keras.md lists the formats and layers.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import warnings
import zipfile

import numpy as np
import torch

from ..file_format import SavedFileError, check_path, write_atomic
from . import config as keras_config
from . import h5

ZIP_SIGNATURE = b"PK\x03\x04"
MAX_JSON_BYTES = 64 << 20
MAX_WEIGHTS_BYTES = 64 << 30
KERAS_VERSION_WRITTEN = "3.15.1"
"""The Keras version written into files kerastyle makes (the release they are tested against)."""


def sniff(filepath) -> str | None:
    """``'keras'`` (a Keras 3 zip), ``'h5'`` (HDF5) or None (anything else, e.g. a kerastyle file)."""
    path = check_path(filepath, "filepath")
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    if head.startswith(h5.HDF5_SIGNATURE):
        return "h5"
    if head.startswith(ZIP_SIGNATURE):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                if "metadata.json" in names and "config.json" in names and not _is_kerastyle(archive):
                    return "keras"
                if "metadata.json" in names and not _is_kerastyle(archive):
                    meta = _small_json(archive, "metadata.json", path)
                    if isinstance(meta, dict) and "keras_version" in meta:
                        return "keras"
        except (zipfile.BadZipFile, OSError, EOFError, SavedFileError):
            return None
    return None


def _is_kerastyle(archive) -> bool:
    return archive.comment.startswith(b"kerastyle-sha256:")


def _read_entry(archive, name, path, limit) -> bytes:
    """An entry's bytes, refusing one that declares or inflates past ``limit`` (zip bombs)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise SavedFileError(f"{path!r} is a Keras archive without a {name!r} entry. Nothing was loaded.") from None
    if info.file_size > limit:
        raise SavedFileError(f"{path!r}: entry {name!r} declares {info.file_size:,} bytes, more than the "
                             f"{limit:,} kerastyle accepts. Nothing was loaded.")
    try:
        with archive.open(info) as handle:
            data = handle.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as err:
        raise SavedFileError(f"{path!r}: entry {name!r} cannot be read ({err}): the file is truncated or "
                             f"damaged. Nothing was loaded.") from None
    if len(data) > limit:
        raise SavedFileError(f"{path!r}: entry {name!r} inflates past {limit:,} bytes. Nothing was loaded.")
    return data


def _small_json(archive, name, path):
    return _parse_json(_read_entry(archive, name, path, MAX_JSON_BYTES), f"{path!r}: entry {name!r}")


def _parse_json(data, what):
    try:
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise SavedFileError(f"{what} is not valid JSON ({err}). Nothing was loaded.") from None


def _open_keras_zip(path):
    """``(config, metadata, h5py File)`` from a Keras 3 ``.keras`` archive."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise SavedFileError(f"{path!r} is not a readable zip archive ({err}): truncated or damaged. "
                             f"Nothing was loaded.") from None
    with archive:
        metadata = _small_json(archive, "metadata.json", path)
        doc = _small_json(archive, "config.json", path)
        names = set(archive.namelist())
        if "model.weights.h5" not in names:
            hint = " (sharded weights, which kerastyle does not read)" if "model.weights.json" in names else ""
            raise SavedFileError(f"{path!r} is a Keras archive without a 'model.weights.h5' entry{hint}. "
                                 f"Nothing was loaded.")
        weights = _read_entry(archive, "model.weights.h5", path, MAX_WEIGHTS_BYTES)
    if not weights.startswith(h5.HDF5_SIGNATURE):
        raise SavedFileError(f"{path!r}: 'model.weights.h5' is not an HDF5 file. Nothing was loaded.")
    return doc, metadata, h5.open_h5(io.BytesIO(weights), f"{path}:model.weights.h5")


@contextlib.contextmanager
def _budget(values, source):
    """Cap the weights building may create at what the file stores (when kerastyle has the limiter)."""
    try:
        from ...backend.limits import weight_budget
    except ImportError:
        yield
        return
    # Slack of 4M values: a damaged file then gets the precise message about the weight that does not
    # fit, while a small file declaring a huge layer is still refused before anything large is made.
    with weight_budget(max(int(values), 0) + (1 << 22), source):
        yield


def _build(entry, custom_objects, path, stored):
    """A kerastyle model from a Keras model entry; config problems become SavedFileError."""
    from ..serialization import deserialize_model
    try:
        doc = keras_config.model_entry(entry, custom_objects)
        if doc["class_name"] not in ("Sequential", "Functional"):
            raise ValueError(f"the file describes a {entry.get('class_name')!r}, not a Sequential or functional "
                             f"model (subclassed Keras models store Python code, which kerastyle does not run)")
        with torch.random.fork_rng(devices=[]), _budget(stored, "the file's weights"):
            model = deserialize_model(doc, custom_objects)
    except (ValueError, TypeError, KeyError, IndexError) as err:
        raise SavedFileError(f"{path!r}: the Keras model config cannot be rebuilt by kerastyle: "
                             f"{str(err).rstrip('.')}. Nothing was loaded.") from None
    except Exception as err:
        if type(err).__name__ == "WeightBudgetExceeded":
            raise SavedFileError(f"{path!r}: {err}. Nothing was loaded.") from None
        raise
    if not model.built:
        raise SavedFileError(f"{path!r}: the model has no input shape in its config, so its weights cannot be "
                             f"placed. Nothing was loaded.")
    return model


def load_model(filepath, custom_objects=None, compile=True):
    """A kerastyle model from a Keras 3 ``.keras`` file or a Keras 2 / legacy ``.h5`` model file."""
    path = check_path(filepath, "filepath")
    kind = sniff(path)
    if kind == "keras":
        doc, _, f = _open_keras_zip(path)
        with f:
            if not isinstance(doc, dict):
                raise SavedFileError(f"{path!r}: config.json is not a model entry. Nothing was loaded.")
            model = _build(doc, custom_objects, path, h5.stored_values(f))
            plan = h5.plan_keras3(model, f, path)
            state = _optimizer_vars(f, path)
        compile_config = doc.get("compile_config") if compile else None
    elif kind == "h5":
        f = h5.open_h5(path, path)
        with f:
            raw = f.attrs.get("model_config")
            if raw is None:
                hint = " It holds weights only: build the model, then call model.load_weights()." \
                    if "layer_names" in f.attrs or "layers" in f else ""
                raise SavedFileError(f"{path!r} is an HDF5 file without a 'model_config' attribute.{hint} "
                                     f"Nothing was loaded.")
            doc = _parse_json(raw.decode("utf-8") if isinstance(raw, bytes) else raw,
                              f"{path!r}: attribute 'model_config'")
            if "model_weights" not in f:
                raise SavedFileError(f"{path!r} has no 'model_weights' group. Nothing was loaded.")
            model = _build(doc, custom_objects, path, h5.stored_values(f["model_weights"]))
            plan = h5.plan_legacy(model, f["model_weights"], path)
            state = _legacy_optimizer_vars(f, path)
            training = f.attrs.get("training_config")
            compile_config = None
            if compile and training is not None:
                training = _parse_json(training.decode("utf-8") if isinstance(training, bytes) else training,
                                       f"{path!r}: attribute 'training_config'")
                compile_config = _legacy_compile_config(training)
    else:
        raise SavedFileError(f"{path!r} is neither a Keras .keras archive nor an HDF5 file. Nothing was loaded.")
    h5.apply(plan)
    if compile_config:
        _compile(model, compile_config, custom_objects, path, state)
    return model


def load_weights(model, filepath, by_name=False, skip_mismatch=False) -> None:
    """``model.load_weights`` from a Keras 3 ``.weights.h5``/``.keras`` or a Keras 2 ``.h5`` (weights or
    model file). Keras 3 layouts match by Keras path; Keras 2 ones by layer order, or by layer name
    with ``by_name=True``. All or nothing."""
    path = check_path(filepath, "filepath")
    if skip_mismatch:
        raise ValueError("load_weights(): skip_mismatch=True is not supported by kerastyle; every array must fit.")
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built, so it has no weights to load into: build it "
                         f"(input_shape=, Input or build()) before load_weights().")
    kind = sniff(path)
    if kind == "keras":
        _, _, f = _open_keras_zip(path)
    elif kind == "h5":
        f = h5.open_h5(path, path)
    else:
        raise SavedFileError(f"{path!r} is not a Keras weights file. Nothing was loaded.")
    with f:
        if "layer_names" in f.attrs:
            plan = h5.plan_legacy(model, f, path, by_name)
        elif "model_weights" in f:
            plan = h5.plan_legacy(model, f["model_weights"], path, by_name)
        else:
            if by_name:
                raise ValueError("load_weights(): by_name=True applies to Keras 2 .h5 files; a Keras 3 weights "
                                 "file is matched by its layer paths.")
            plan = h5.plan_keras3(model, f, path)
    h5.apply(plan)


# -- compile settings ------------------------------------------------------------------------------
def _legacy_compile_config(training) -> dict | None:
    if not isinstance(training, dict):
        return None
    optimizer = training.get("optimizer_config")
    return {"optimizer": optimizer, "loss": training.get("loss"), "metrics": training.get("metrics"),
            "loss_weights": training.get("loss_weights"), "weighted_metrics": training.get("weighted_metrics")}


def _optimizer_vars(f, path):
    if "optimizer" not in f or "vars" not in f["optimizer"]:
        return None
    group = f["optimizer"]["vars"]
    count = len(group)
    return [h5.read_array(h5.dataset(group, str(i), path, f"optimizer variable {i}"), None, path,
                          f"optimizer variable {i}") for i in range(count)]


def _legacy_optimizer_vars(f, path):
    if "optimizer_weights" not in f:
        return None
    group = f["optimizer_weights"]
    names = h5._names_attr(group, "weight_names")
    return [h5.read_array(h5.dataset(group, n, path, f"optimizer weight {n!r}"), None, path,
                          f"optimizer weight {n!r}") for n in names]


_OPTIMIZER_EXTRAS = ("is_legacy_optimizer", "jit_compile", "name")


def _compile(model, config, custom_objects, path, state) -> None:
    """``model.compile`` with the file's settings; what kerastyle cannot take is reported in a warning
    and the model is left uncompiled (its weights are loaded)."""
    from ... import optimizers
    from ..serialization import deserialize
    try:
        entry = config.get("optimizer")
        if isinstance(entry, dict):
            settings = {k: v for k, v in (entry.get("config") or {}).items()
                        if not (k in _OPTIMIZER_EXTRAS and k != "name") and not (v is None and k not in ("name",))}
            optimizer = deserialize({"class_name": entry.get("class_name"), "config": settings}, "optimizer",
                                    custom_objects)
        else:
            optimizer = optimizers.get(entry if entry is not None else "rmsprop")
        loss = _loss_or_metric(config.get("loss"), "loss", custom_objects)
        metrics = _loss_or_metric(config.get("metrics"), "metric", custom_objects)
        if config.get("weighted_metrics"):
            raise ValueError("weighted_metrics are not supported by kerastyle")
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics, loss_weights=config.get("loss_weights"))
    except (ValueError, TypeError, KeyError) as err:
        warnings.warn(f"{path!r}: the model's weights were loaded, but its compile settings cannot be used by "
                      f"kerastyle ({str(err).rstrip('.')}); the model is not compiled: call model.compile() "
                      f"before fit().", stacklevel=3)
        return
    if state:
        _install_optimizer_state(model, state, path)


def _loss_or_metric(value, kind, custom_objects):
    from ..serialization import deserialize
    if value is None:
        return None
    if isinstance(value, list):
        return [_loss_or_metric(v, kind, custom_objects) for v in value]
    if isinstance(value, dict) and "class_name" in value:
        inner = value.get("config")
        if value.get("class_name") == "function" and isinstance(inner, str):
            return inner
        config = {k: v for k, v in (inner or {}).items() if not (k == "dtype" and v in (None, "float32"))}
        if kind == "loss":
            config.pop("reduction", None) if config.get("reduction") == "sum_over_batch_size" else None
        return deserialize({"class_name": value["class_name"], "config": config}, kind, custom_objects)
    if isinstance(value, dict):
        return {k: _loss_or_metric(v, kind, custom_objects) for k, v in value.items()}
    return value


def _slot_layout(opt) -> list[list[str]] | None:
    """Keras 3's optimizer variables after ``[iteration, learning_rate]``, as blocks of kerastyle slot
    names; each block runs over the trainable weights in order, its names interleaved per weight
    (Adam: ``m0, v0, m1, v1, ...``). None for optimizers whose slots are not mapped."""
    name = type(opt).__name__
    config = opt.get_config()
    if name in ("Adam", "AdamW"):
        return [["m", "v"]] + ([["v_hat"]] if config.get("amsgrad") else [])
    if name == "Adamax":
        return [["m", "u"]]
    if name == "SGD":
        return [["momentum"]] if config.get("momentum") else []
    if name == "RMSprop":
        return [["velocity"]] + ([["momentum"]] if config.get("momentum") else []) + \
            ([["average_gradient"]] if config.get("centered") else [])
    if name == "Adagrad":
        return [["accumulator"]]
    return None


def _slot_keys(model, layout) -> list:
    return [(p, slot) for block in layout for p in model.trainable_weights for slot in block]


def _install_optimizer_state(model, state, path) -> None:
    """Keras's optimizer variables ``[iteration, learning_rate, slots...]`` into kerastyle's optimizer:
    the step counter, and the slots (moments, accumulators) where the layouts are known to match."""
    opt = model.optimizer
    groups = getattr(opt, "param_groups", None)
    if not groups or len(state) < 1 or np.asarray(state[0]).shape != ():
        return
    iterations = int(np.asarray(state[0]))
    if iterations < 0:
        raise SavedFileError(f"{path!r}: the optimizer's iteration counter is {iterations}. Nothing was loaded.")
    slots = state[2:]
    layout = _slot_layout(opt)
    keys = _slot_keys(model, layout) if layout is not None else None
    fitting = keys is not None and len(keys) == len(slots) and all(
        tuple(np.shape(v)) == tuple(p.shape) for (p, _), v in zip(keys, slots))
    for group in groups:
        if "iterations" in group:
            group["iterations"] = iterations
    if slots and fitting:
        for (param, slot), value in zip(keys, slots):
            opt.state[param][slot] = torch.as_tensor(np.asarray(value)).to(dtype=param.dtype, device=param.device)
    elif slots:
        warnings.warn(f"{path!r}: the optimizer's step count was restored, but its {len(slots)} slot variables "
                      f"(moments, accumulators) do not map onto kerastyle's {type(opt).__name__}: training "
                      f"continues with fresh optimizer slots.", stacklevel=4)


def _keras_optimizer_vars(model):
    """``(name, [iteration, learning_rate, slots...])`` as Keras 3 stores a built optimizer, or None."""
    opt = model.optimizer if getattr(model, "compiled", False) else None
    layout = _slot_layout(opt) if opt is not None else None
    if layout is None or not getattr(opt, "built", False):
        return None
    try:
        lr = float(opt.learning_rate) if not isinstance(opt.get_config().get("learning_rate"), dict) else 0.0
    except (TypeError, ValueError):
        lr = 0.0
    values = [np.asarray(opt.iterations, dtype=np.int64), np.asarray(lr, dtype=np.float32)]
    for param, slot in _slot_keys(model, layout):
        tensor = opt.state.get(param, {}).get(slot)
        values.append(np.zeros(tuple(param.shape), np.float32) if tensor is None
                      else tensor.detach().cpu().numpy().astype(np.float32))
    return opt.get_config().get("name") or type(opt).__name__.lower(), values


# -- writing ------------------------------------------------------------------------------------------
def save_as_keras(model, filepath, overwrite=True) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` archive (``config.json``, ``metadata.json``,
    ``model.weights.h5``) that ``keras.saving.load_model`` reads; atomically."""
    h5.require_h5py()
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built, so it cannot be written in Keras's format; give it an "
                         f"input shape first.")
    doc = keras_config.keras_model_entry(model)
    compile_config = keras_config.keras_compile_config(model)
    if compile_config is not None:
        doc["compile_config"] = compile_config
    weights = io.BytesIO()
    with h5.h5py.File(weights, "w") as f:
        h5.write_keras3(model, f, _keras_optimizer_vars(model) if compile_config is not None else None)
    metadata = {"keras_version": KERAS_VERSION_WRITTEN, "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
                "writer": "kerastyle"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("config.json", json.dumps(doc))
        archive.writestr("model.weights.h5", weights.getvalue())
    write_atomic(filepath, buffer.getvalue(), overwrite)


def save_weights_h5(model, filepath, overwrite=True) -> None:
    """Write the weights in Keras 3's ``.weights.h5`` layout (``keras_model.load_weights`` reads it)."""
    h5.require_h5py()
    if not model.built:
        raise ValueError(f"Model {model.name!r} has no weights yet: build it (input_shape=, Input or build()) "
                         f"before save_weights().")
    buffer = io.BytesIO()
    with h5.h5py.File(buffer, "w") as f:
        h5.write_keras3(model, f)
    write_atomic(filepath, buffer.getvalue(), overwrite)


def is_h5_name(filepath) -> bool:
    return os.fspath(filepath).lower().endswith((".h5", ".hdf5"))


__all__ = ["load_model", "load_weights", "save_as_keras", "save_weights_h5", "sniff"]
