"""Weights in Keras's HDF5 layouts, read and written with h5py.

* Keras 3 (``model.weights.h5`` inside a ``.keras`` zip, ``.weights.h5``): each layer's arrays at
  ``layers/<name>/vars/<i>``, where ``<name>`` is the snake-case *class* name made unique per
  model (``dense``, ``dense_1``; never the layer's ``name``), nested layers below their parent
  (``layers/lstm/cell/vars/0``, ``layers/sequential/layers/dense/vars/0``).
* Keras 2 / legacy (``.h5``): a group per layer named after the layer, whose ``weight_names``
  attribute lists its arrays in Keras 2 order (trainable first), at the root of a weights file or
  under ``model_weights`` in a model file.

Reading checks before allocating: a dataset must be a plain stored array (no external files,
links or virtual sources), numeric, of the shape the model expects, its stored bytes consistent
with its declared size. Every array is read and checked before any weight changes.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from ..file_format import SavedFileError

try:
    import h5py
except ImportError:  # pragma: no cover - h5py is a declared dependency of the `keras-files` extra
    h5py = None

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MAX_EXPANSION = 1000  # a compressed dataset may not claim more than this many times its stored bytes


def require_h5py():
    if h5py is None:
        raise ImportError("Reading and writing Keras's .keras/.h5 files needs the h5py package: "
                          "pip install h5py (or pip install kerastyle[keras-files]).")
    return h5py


def keras_snake(name: str) -> str:
    """Keras's snake-case of a class name: ``Conv2D`` -> ``conv2d``, ``BatchNormalization`` ->
    ``batch_normalization``, ``LSTM`` -> ``lstm``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _is_model(layer) -> bool:
    return type(layer).__name__ in ("Sequential", "Functional") or (
        hasattr(layer, "layers") and hasattr(layer, "compile") and not hasattr(layer, "forward_layer"))


# -- Keras 3 paths ---------------------------------------------------------------------------------
def keras3_paths(layer, prefix="") -> list[tuple[str, torch.nn.Parameter]]:
    """``(path, weight)`` for every weight of ``layer`` (a model or a layer) in Keras 3's layout."""
    if _is_model(layer):
        used: dict[str, int] = {}
        pairs = []
        for sub in layer.layers:
            name = keras_snake(type(sub).__name__)
            if name in used:
                used[name] += 1
                name = f"{name}_{used[name]}"
            else:
                used[name] = 0
            pairs += keras3_paths(sub, f"{prefix}layers/{name}/")
        return pairs
    weights = list(layer.weights)
    if hasattr(layer, "forward_layer") and hasattr(layer, "backward_layer"):  # Bidirectional
        pairs = keras3_paths(layer.forward_layer, prefix + "forward_layer/") + \
            keras3_paths(layer.backward_layer, prefix + "backward_layer/")
    elif type(layer).__name__ == "TimeDistributed" and hasattr(layer, "layer"):
        pairs = keras3_paths(layer.layer, prefix + "layer/")
    elif type(layer).__name__ in ("LSTM", "GRU", "SimpleRNN"):
        pairs = [(f"{prefix}cell/vars/{i}", w) for i, w in enumerate(weights)]
    else:
        pairs = [(f"{prefix}vars/{i}", w) for i, w in enumerate(weights)]
    if [id(w) for _, w in pairs] != [id(w) for w in weights]:
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}): its weights cannot be placed in Keras's "
                         f"file layout")
    return pairs


def keras3_groups(layer, prefix="") -> list[tuple[str, str]]:
    """``(group path, layer name)`` for every layer group Keras writes (weightless layers too)."""
    if not _is_model(layer):
        groups = [(prefix.rstrip("/"), layer.name)]
        if type(layer).__name__ in ("LSTM", "GRU", "SimpleRNN"):
            groups.append((prefix + "cell", f"{type(layer).__name__.lower()}_cell"))
        for attr in ("forward_layer", "backward_layer"):
            if hasattr(layer, attr) and hasattr(layer, "backward_layer"):
                groups += keras3_groups(getattr(layer, attr), prefix + attr + "/")
        if type(layer).__name__ == "TimeDistributed" and hasattr(layer, "layer"):
            groups += keras3_groups(layer.layer, prefix + "layer/")
        return groups
    groups = [(prefix.rstrip("/"), layer.name)] if prefix else []
    used: dict[str, int] = {}
    for sub in layer.layers:
        if type(sub).__name__ == "InputLayer":
            continue
        name = keras_snake(type(sub).__name__)
        used[name] = used.get(name, -1) + 1
        name = name if used[name] == 0 else f"{name}_{used[name]}"
        groups += keras3_groups(sub, f"{prefix}layers/{name}/")
    return groups


# -- safe reading ------------------------------------------------------------------------------------
def open_h5(source, path):
    """An h5py File opened read-only from a path or a file-like object; damage becomes SavedFileError."""
    require_h5py()
    try:
        return h5py.File(source, "r")
    except (OSError, ValueError) as err:
        raise SavedFileError(f"{path!r} is not a readable HDF5 file ({err}): it is truncated, damaged or not an "
                             f"HDF5 file. Nothing was loaded.") from None


def dataset(group, name, path, what):
    """The dataset ``name`` under ``group``, checked to be a plain stored numeric array."""
    try:
        link = group.get(name, getlink=True)
    except (KeyError, ValueError, OSError, RuntimeError):
        link = None
    if link is None:
        raise SavedFileError(f"{path!r}: {what}: the array {_join(group, name)!r} is missing. Nothing was loaded.")
    if not isinstance(link, h5py.HardLink):
        raise SavedFileError(f"{path!r}: {what}: {_join(group, name)!r} is a {type(link).__name__}; Keras files hold "
                             f"their arrays directly and kerastyle follows no links. Nothing was loaded.")
    try:
        ds = group[name]
        if not isinstance(ds, h5py.Dataset):
            raise SavedFileError(f"{path!r}: {what}: {_join(group, name)!r} is not an array. Nothing was loaded.")
        if ds.is_virtual or ds.external:
            raise SavedFileError(f"{path!r}: {what}: {_join(group, name)!r} refers to data in other files; kerastyle "
                                 f"reads only arrays stored in the file itself. Nothing was loaded.")
        kind = ds.dtype.kind
        if kind not in "fiub" or ds.dtype.fields is not None or ds.dtype.subdtype is not None:
            raise SavedFileError(f"{path!r}: {what}: {_join(group, name)!r} has dtype {ds.dtype}, not a numeric array. "
                                 f"Nothing was loaded.")
        return ds
    except SavedFileError:
        raise
    except (KeyError, ValueError, OSError, RuntimeError, TypeError) as err:
        raise SavedFileError(f"{path!r}: {what}: {_join(group, name)!r} cannot be read ({err}). Nothing was "
                             f"loaded.") from None


def read_array(ds, expected_shape, path, what) -> np.ndarray:
    """The values of ``ds`` after checking its declared shape and stored size (nothing read before)."""
    shape = tuple(ds.shape)
    if expected_shape is not None and shape != tuple(expected_shape):
        raise SavedFileError(f"{path!r}: {what}: the file holds an array of shape {shape}, but the model expects "
                             f"{tuple(expected_shape)}. Nothing was loaded.")
    nbytes = int(np.prod(shape, dtype=np.int64)) * ds.dtype.itemsize
    try:
        stored = ds.id.get_storage_size()
        if nbytes and (stored == 0 or nbytes > max(stored, 1) * _MAX_EXPANSION):
            raise SavedFileError(f"{path!r}: {what}: the array declares {nbytes:,} bytes but the file stores "
                                 f"{stored:,} for it. Nothing was loaded.")
        return np.asarray(ds[()])
    except SavedFileError:
        raise
    except (OSError, ValueError, RuntimeError, TypeError) as err:
        raise SavedFileError(f"{path!r}: {what}: the array cannot be read ({err}): the file is damaged or "
                             f"truncated. Nothing was loaded.") from None


def stored_values(group) -> int:
    """Total number of values the datasets below ``group`` declare (for the build budget)."""
    total = 0

    def visit(_, obj):
        nonlocal total
        if isinstance(obj, h5py.Dataset):
            total += int(np.prod(obj.shape, dtype=np.int64))
    try:
        group.visititems(visit)
    except (OSError, RuntimeError, ValueError, KeyError):
        pass
    return total


def _all_datasets(group) -> list[str]:
    names = []
    group.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def _join(group, name) -> str:
    return f"{group.name.rstrip('/')}/{name}"


# -- plans: (param, array) pairs, checked, applied all at once ---------------------------------------
def plan_keras3(model, f, path) -> list:
    """Match a Keras 3 weights file to ``model`` by Keras path; every stored array must be claimed."""
    try:
        pairs = keras3_paths(model)
    except ValueError as err:
        raise SavedFileError(f"{path!r}: model {model.name!r}: {err}. Nothing was loaded.") from None
    if "layers" not in f and pairs:
        raise SavedFileError(f"{path!r} has no 'layers' group: it is not a Keras 3 weights file. Nothing was loaded.")
    plan = []
    for key, param in pairs:
        ds = dataset(f, key, path, f"weight {key!r}")
        plan.append((param, read_array(ds, param.shape, path, f"weight {key!r}")))
    claimed = {key for key, _ in pairs}
    stored = {f"layers/{name}" for name in _all_datasets(f["layers"])} if "layers" in f else set()
    extra = sorted(stored - claimed)
    if extra:
        listed = ", ".join(extra[:4]) + (", ..." if len(extra) > 4 else "")
        raise SavedFileError(f"{path!r} holds weights that model {model.name!r} has no place for ({listed}): the "
                             f"architectures differ. Nothing was loaded.")
    return plan


def _names_attr(group, attr) -> list[str]:
    value = group.attrs.get(attr)
    if value is None:
        return []
    items = np.asarray(value).reshape(-1).tolist()
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in items]


def legacy_order(layer) -> list:
    """Keras 2's weight order for one layer: trainable weights first, then the others."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def plan_legacy(model, group, path, by_name=False) -> list:
    """Match a Keras 2 layout group (root of a weights file or ``model_weights``) to ``model``:
    layer by layer in order (Keras's default), or by layer name (``by_name=True``)."""
    names = _names_attr(group, "layer_names")
    if "layer_names" not in group.attrs:
        raise SavedFileError(f"{path!r} has no 'layer_names' attribute: it is not a Keras weights file. "
                             f"Nothing was loaded.")
    file_layers = []
    for name in names:
        if name not in group:
            raise SavedFileError(f"{path!r}: layer group {name!r} listed in 'layer_names' is missing. Nothing was "
                                 f"loaded.")
        weight_names = _names_attr(group[name], "weight_names")
        if weight_names:
            file_layers.append((name, group[name], weight_names))
    model_layers = [layer for layer in model.layers if layer.built and layer.weights]
    if by_name:
        by = {name: (g, w) for name, g, w in file_layers}
        pairs = [(layer, layer.name, *by[layer.name]) for layer in model_layers if layer.name in by]
    else:
        if len(file_layers) != len(model_layers):
            raise SavedFileError(
                f"{path!r} holds weights for {len(file_layers)} layers ({', '.join(n for n, _, _ in file_layers)}), "
                f"but model {model.name!r} has {len(model_layers)} layers with weights "
                f"({', '.join(layer.name for layer in model_layers)}). Nothing was loaded.")
        pairs = [(layer, name, g, w) for layer, (name, g, w) in zip(model_layers, file_layers)]
    plan = []
    for layer, name, g, weight_names in pairs:
        params = legacy_order(layer)
        where = f"layer {name!r} in the file, {layer.name!r} in the model"
        if len(weight_names) != len(params):
            raise SavedFileError(f"{path!r}: {where}: {len(weight_names)} weight arrays in the file, {len(params)} in "
                                 f"the model. Nothing was loaded.")
        for weight_name, param in zip(weight_names, params):
            what = f"{where}, weight {weight_name!r}"
            plan.append((param, read_array(dataset(g, weight_name, path, what), param.shape, path, what)))
    return plan


@torch.no_grad()
def apply(plan) -> None:
    for param, array in plan:
        param.copy_(torch.as_tensor(array).to(dtype=param.dtype, device=param.device))


# -- writing -----------------------------------------------------------------------------------------
def _array(param) -> np.ndarray:
    return param.detach().cpu().numpy()


def write_keras3(model, f, optimizer_entries=None) -> None:
    """Keras 3's weights layout for ``model`` into the open h5py File ``f``."""
    top = f.create_group("vars")
    top.attrs["name"] = model.name
    layers = f.create_group("layers")
    del layers
    for group_path, name in keras3_groups(model):
        group = f.require_group(group_path)
        group.require_group("vars").attrs["name"] = name
    for key, param in keras3_paths(model):
        f.create_dataset(key, data=_array(param))
    if optimizer_entries:
        opt = f.create_group("optimizer")
        variables = opt.create_group("vars")
        variables.attrs["name"] = optimizer_entries[0]
        for i, value in enumerate(optimizer_entries[1]):
            variables.create_dataset(str(i), data=value)
