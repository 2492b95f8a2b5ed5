"""Saving and loading models, weights and training backups, and ONNX export.

The file format is ``file_format``'s container; this module decides what goes in it: the
architecture (``model.get_config()``), compile settings, optimizer state and weights under Keras
names and layouts (``layers/<layer>/vars/<i>``). Everything read is checked against the model before
anything is assigned (all or nothing). docs/saving.md describes the format and its guarantees.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import warnings

import numpy as np
import safetensors.torch
import torch

from .. import mixed_precision
from ..backend.limits import WeightBudgetExceeded, weight_budget
from . import keras_format
from .file_format import (
    KINDS,
    SavedFileError,
    check_path,
    check_target,
    dumps,
    json_entry,
    metadata,
    pack,
    publish,
    remove_stale_temps,
    stored_values,
    target_error,
    temp_path,
    tensor_entry,
    unpack,
    write_atomic,
)
from .serialization import Unsaveable, deserialize, deserialize_model, serialize


# -- weights ------------------------------------------------------------------------
def _weight_layers(model) -> list:
    """``(layer, weights)`` for the layers that own weights, in model order."""
    pairs = [(layer, layer.weights) for layer in model.layers if layer.built and layer.weights]
    owned = {id(w) for _, weights in pairs for w in weights}
    stray = [name for name, p in model.named_parameters() if id(p) not in owned]
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
    tensors = {_key(layer.name, i): _cpu_copy(w)
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
            expected = tuple(param.shape)
            if tuple(value.shape) != expected or value.is_floating_point() != param.is_floating_point():
                kind = "a float" if param.is_floating_point() else "an integer"
                raise SavedFileError(f"{path!r}: {where}: weight {i} is {value.dtype} of shape {tuple(value.shape)} "
                                     f"in the file, but the model expects {kind} array of shape {expected}. "
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
    for _, param, value in plan:
        param.copy_(value.to(dtype=param.dtype, device=param.device))


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
    scaler = mixed_precision.scaler_state(opt)
    if scaler is not None:  # the loss scale of mixed_float16 training
        doc["grad_scaler"] = scaler
    try:
        text = dumps(doc)
    except (TypeError, ValueError) as err:
        raise ValueError(f"The state of optimizer {type(opt).__name__} cannot be saved as JSON ({err}).") from None
    return {"optimizer.json": text, "optimizer.safetensors": safetensors.torch.save(tensors)}


def _plan_optimizer(model, entries, by_key, path):
    """Check the saved optimizer state against ``model.optimizer``; return a function that installs it."""
    if "optimizer.json" not in entries:
        return lambda: None
    doc = json_entry(entries, "optimizer.json", path)
    tensors = tensor_entry(entries, "optimizer.safetensors", path)
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
        if hasattr(opt, "check_param_group"):
            try:
                hyper = opt.check_param_group(hyper)
            except (ValueError, TypeError) as err:
                raise SavedFileError(f"{path!r}: optimizer.json: {str(err).rstrip('.')}. Nothing was "
                                     f"loaded.") from None
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
    scaler = doc.get("grad_scaler")
    if scaler is not None:
        try:
            scaler = mixed_precision.check_scaler_state(scaler)
        except ValueError as err:
            raise SavedFileError(f"{path!r}: optimizer.json: {err}. Nothing was loaded.") from None

    def install():
        for group, hyper in zip(opt.param_groups, hypers):
            group.update(hyper)
        opt.state.clear()
        opt.state.update(state)
        mixed_precision.set_scaler_state(opt, scaler)
    return install


def _compile_config(model) -> dict | None:
    """The compile settings as registry entries; raises Unsaveable for custom objects."""
    if not model.compiled:
        return None
    if model.built:
        plan = model._compile_outputs()
        outputs = [(o.loss, o.metrics, o.weight) for o in plan.outputs]
    else:  # an unbuilt model keeps its compile arguments as given (one output)
        from .. import losses, metrics
        args = model._compile_args
        loss = losses.get(args["loss"])
        given = args["metrics"] if isinstance(args["metrics"], (list, tuple)) else [args["metrics"]] * \
            (args["metrics"] is not None)
        outputs = [(loss, [metrics.get(m, loss) for m in given], 1.0)]
    single = len(outputs) == 1
    loss = serialize(outputs[0][0], "loss") if single else [serialize(o[0], "loss") for o in outputs]
    metrics = ([serialize(m, "metric") for m in outputs[0][1]] if single else
               [[serialize(m, "metric") for m in o[1]] for o in outputs])
    weights = None if all(o[2] == 1.0 for o in outputs) else [o[2] for o in outputs]
    return {"optimizer": serialize(model.optimizer, "optimizer"), "loss": loss, "loss_weights": weights,
            "metrics": metrics}


def save_model(model, filepath, overwrite=True) -> None:
    """``model.save``: architecture, compile settings, optimizer state and weights in one file."""
    try:
        config = model.get_config()
        doc = serialize(model, "layer")
    except NotImplementedError as err:
        raise ValueError(f"Model {model.name!r} cannot be saved with save(): {err}") from None
    except Unsaveable as err:
        raise ValueError(f"Model {model.name!r} cannot be saved: {err}. Save the weights with model.save_weights() "
                         f"and rebuild the architecture in code.") from None
    pairs = _weight_layers(model)
    try:
        compile_config = _compile_config(model)
    except Unsaveable as err:
        warnings.warn(f"model.save({os.fspath(filepath)!r}): {err}. The file holds the architecture and weights "
                      f"but no compile settings or optimizer state; compile the loaded model again.", stacklevel=3)
        compile_config = None
    layout, weights = _weights_entry(pairs)
    entries = {"metadata.json": metadata("model", layout),
               "config.json": dumps({"module": "kerastyle", "class_name": doc["class_name"],
                                     "registered_name": doc.get("registered_name"), "config": config,
                                     "build_config": {"input_shape": config.get("build_input_shape")},
                                     "compile_config": compile_config}),
               "model.safetensors": weights}
    if compile_config is not None:
        entries.update(_optimizer_entries(model, pairs))
    write_atomic(filepath, pack(entries), overwrite)


def load_model(filepath, custom_objects=None, compile=True):
    """``kerastyle.models.load_model``: rebuild, compile and fill a model saved by ``model.save`` or by
    real Keras (a ``.keras`` archive or an ``.h5`` file, recognised by content)."""
    if keras_format.sniff(check_path(filepath, "filepath")) is not None:
        return keras_format.load_model(filepath, custom_objects=custom_objects, compile=compile)
    path, meta, entries = unpack(filepath, ("model",))
    doc = json_entry(entries, "config.json", path)
    if not isinstance(doc, dict) or doc.get("module") != "kerastyle" or not isinstance(doc.get("class_name"), str):
        found = (doc.get("module"), doc.get("class_name")) if isinstance(doc, dict) else doc
        raise SavedFileError(f"{path!r}: config.json describes {found!r}, not a kerastyle model. Nothing was loaded.")
    stored = stored_values(entries, "model.safetensors", path)  # from the header: nothing loaded yet
    try:
        # Building draws initial weights: leave the caller's RNG alone. The architecture may not
        # create more weight values than the file stores (checked before each weight is allocated).
        with torch.random.fork_rng(devices=[]), weight_budget(stored, "the file"):
            model = deserialize_model(doc, custom_objects)
            compile_config = doc.get("compile_config") if compile else None
            if compile_config is not None:
                if not isinstance(compile_config, dict) or not isinstance(compile_config.get("metrics", []), list):
                    raise ValueError(f"invalid compile_config {compile_config!r}")
                model.compile(optimizer=deserialize(compile_config.get("optimizer"), "optimizer", custom_objects),
                              loss=_deserialize_losses(compile_config.get("loss"), custom_objects),
                              loss_weights=compile_config.get("loss_weights"),
                              metrics=_deserialize_metrics(compile_config.get("metrics", []), custom_objects))
    except (ValueError, TypeError) as err:
        raise SavedFileError(f"{path!r}: config.json does not describe a model kerastyle can rebuild: "
                             f"{str(err).rstrip('.')}. Nothing was loaded.") from None
    except WeightBudgetExceeded as err:
        raise SavedFileError(f"{path!r}: config.json declares more weights than the file stores: {err}. The file "
                             f"is damaged or was edited. Nothing was loaded.") from None
    _check_build_shape(model, doc, path)
    plan, by_key = _plan_weights(model, meta, tensor_entry(entries, "model.safetensors", path), path)
    install = _plan_optimizer(model, entries, by_key, path) if compile and model.compiled else (lambda: None)
    _assign_weights(plan)
    install()
    return model


def _check_build_shape(model, doc, path) -> None:
    """The input shape the file records must be the one the rebuilt model has (a Sequential built from
    its first layer's ``batch_input_shape`` would otherwise ignore an edited ``build_input_shape``)."""
    config = doc.get("config")
    recorded = config.get("build_input_shape") if isinstance(config, dict) else None
    if recorded is None or not getattr(model, "built", False) or not isinstance(model.input_shape, tuple):
        return
    if not isinstance(recorded, list) or [None if d is None else d for d in recorded] != list(model.input_shape) \
            or any(isinstance(d, bool) or not (d is None or isinstance(d, int)) for d in recorded):
        raise SavedFileError(f"{path!r}: config.json records the input shape {recorded!r}, but its layers build "
                             f"a model with input shape {model.input_shape}; sizes must be positive integers (or "
                             f"null for the batch axis). Nothing was loaded.")


def _deserialize_losses(entry, custom_objects):
    if isinstance(entry, list):
        return [deserialize(e, "loss", custom_objects) for e in entry]
    return deserialize(entry, "loss", custom_objects)


def _deserialize_metrics(entries, custom_objects):
    if entries and all(isinstance(e, list) for e in entries):
        return [[deserialize(m, "metric", custom_objects) for m in group] for group in entries]
    return [deserialize(m, "metric", custom_objects) for m in entries]


def save_weights(model, filepath, overwrite=True) -> None:
    """``model.save_weights``: the weights only (Keras names and layout), same container; a name
    ending in ``.h5`` (``m.weights.h5``) gets Keras 3's HDF5 weights layout instead."""
    if keras_format.is_h5_name(check_path(filepath, "filepath")):
        keras_format.save_weights_h5(model, filepath, overwrite)
        return
    if not model.built:
        raise ValueError(f"Model {model.name!r} has no weights yet: build it (input_shape=, Input or build()) "
                         f"before save_weights().")
    layout, weights = _weights_entry(_weight_layers(model))
    write_atomic(filepath, pack({"metadata.json": metadata("weights", layout), "model.safetensors": weights}),
                  overwrite)


def load_weights(model, filepath, by_name=False, skip_mismatch=False) -> None:
    """``model.load_weights``: from a kerastyle weights, model or backup file, or from a Keras
    ``.weights.h5`` / ``.keras`` / ``.h5`` file (``by_name`` for Keras 2 files); all-or-nothing."""
    if keras_format.sniff(check_path(filepath, "filepath")) is not None:
        keras_format.load_weights(model, filepath, by_name=by_name, skip_mismatch=skip_mismatch)
        return
    if by_name or skip_mismatch:
        raise ValueError("load_weights(): by_name= and skip_mismatch= apply to Keras .h5 files; kerastyle files "
                         "are matched layer by layer in order.")
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built, so it has no weights to load into: build it "
                         f"(input_shape=, Input or build()) before load_weights().")
    path, metadata, entries = unpack(filepath, KINDS)
    plan, _ = _plan_weights(model, metadata, tensor_entry(entries, "model.safetensors", path), path)
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


def write_backup(model, filepath, epoch: int, history, run_state=None) -> None:
    """Weights, optimizer state, ``epoch`` (epochs completed), the history and the RNG states;
    ``run_state`` (JSON data from kerastyle.trainers.distributed: data-order seed, every rank's RNG
    states, GradScaler) is kept as ``training.json["run"]``."""
    pairs = _weight_layers(model)
    layout, weights = _weights_entry(pairs)
    training = {"epoch": epoch, "history": {"epoch": list(history.epoch), "history": history.history},
                "rng": _rng_state()}
    if run_state is not None:
        training["run"] = run_state
    entries = {"metadata.json": metadata("backup", layout), "model.safetensors": weights,
               "training.json": dumps(training), **_optimizer_entries(model, pairs)}
    write_atomic(filepath, pack(entries))


def restore_backup(model, filepath, history, run_state=None, check_run=None) -> int:
    """Install a backup into ``model`` and ``history``; returns the number of epochs it completed.
    A dict ``run_state`` receives what ``write_backup`` kept from its ``run_state``; ``check_run`` is
    called with that state (``{}`` when there is none) before anything is installed, so an error it
    raises leaves the model, the history and the random generators as they were."""
    path, metadata, entries = unpack(filepath, ("backup",))
    plan, by_key = _plan_weights(model, metadata, tensor_entry(entries, "model.safetensors", path), path)
    install = _plan_optimizer(model, entries, by_key, path)
    training = json_entry(entries, "training.json", path)
    if check_run is not None:
        check_run(training.get("run") if isinstance(training.get("run"), dict) else {})
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
    if run_state is not None and isinstance(training.get("run"), dict):
        run_state.update(training["run"])
    return epoch


# -- ONNX ------------------------------------------------------------------------------------------
def export_onnx(model, filepath) -> None:
    """Write the inference graph (eval mode, dynamic batch axis) as one ONNX file, atomically."""
    path = check_target(filepath, action="export to")
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
    if isinstance(model.input_shape, list) or any(d is None for d in model.input_shape[1:]):
        raise ValueError(f"export_onnx() supports models with one input of fixed shape; model {model.name!r} has "
                         f"input shape {model.input_shape}.")
    example = torch.zeros((2, *model.input_shape[1:]), device=device)
    remove_stale_temps(path)
    tmp = temp_path(path)
    try:  # the folder must be writable: say so about `path`, not about the temporary file
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as err:
        raise target_error(err, path, "export to") from None
    was_training = net.training
    net.eval()
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (example,), tmp, dynamo=True, external_data=False, input_names=["input"],
                              output_names=["output"], dynamic_shapes=({0: torch.export.Dim("batch")},))
    except Exception as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise target_error(err, path, "export to") from None
        raise RuntimeError(f"ONNX export of model {model.name!r} failed: {err}. Custom activations must be "
                           f"traceable by torch.export.") from err
    finally:
        net.train(was_training)
    publish(tmp, path)
