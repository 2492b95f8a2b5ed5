"""Keras model configs (Keras 3 ``config.json``, Keras 2/legacy ``model_config``) to kerastyle entries, and back.

Reading: every layer entry is matched *by class name* against kerastyle's own layers (or classes the
user registered / passes in ``custom_objects``); its config keys are Keras's own, so most pass
through unchanged. Serialized dtype policies, initializers, regularizers and constraints are
reduced to what kerastyle's constructors take. A Keras setting kerastyle does not implement is
refused by name unless it is the value that means "off" (``None``, ``False``, Keras's default),
so a model never loads with a setting silently dropped. Nothing is imported or executed: a
``Lambda`` whose function was stored as Python bytecode is refused as Keras's ``safe_mode`` does.

Writing: a kerastyle model's config in Keras 3's ``config.json`` shape (an ``InputLayer`` first in
a ``Sequential``, ``__keras_tensor__`` node arguments in a functional model).
"""

from __future__ import annotations

import inspect

from ... import layers as layers_module
from ...layers.layer import BASE_ARGUMENTS
from ..object_registration import get_registered_object

MODEL_CLASSES = ("Sequential", "Functional", "Model")
_INITIALIZER_NAMES = {"GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal", "HeUniform": "he_uniform",
                      "HeNormal": "he_normal", "LecunUniform": "lecun_uniform", "LecunNormal": "lecun_normal",
                      "Zeros": "zeros", "Ones": "ones", "RandomNormal": "random_normal",
                      "RandomUniform": "random_uniform"}
_INITIALIZER_DEFAULTS = {"RandomNormal": {"mean": 0.0, "stddev": 0.05}, "RandomUniform": {"minval": -0.05,
                                                                                          "maxval": 0.05}}
# Keras settings that kerastyle does not take, with the values that change nothing (None and False
# always qualify): they are dropped; any other value is refused by name.
_NEUTRAL = {"data_format": ("channels_last",), "groups": (1,), "renorm_momentum": "any", "optional": (False,),
            "implementation": (1, 2), "time_major": (False,), "unroll": (False,), "trainable": (True,),
            "seed": "any", "autocast": (True,)}
_LAMBDA_REFUSAL = ("Requested the deserialization of a `Lambda` layer whose `function` is a Python lambda (stored "
                   "as Python bytecode). This carries a potential risk of arbitrary code execution and thus it is "
                   "disallowed, as Keras's safe_mode=True disallows it; kerastyle never runs code from a file. "
                   "Define the function with def, register it with @keras.saving.register_keras_serializable() or "
                   "pass custom_objects={name: fn}, and save the model again from Keras")


class UnsupportedKerasConfig(ValueError):
    """The Keras config asks for something kerastyle does not implement."""


def supported_layers() -> list[str]:
    return sorted(name for name in layers_module.LAYERS if name != "Identity")


# -- Keras -> kerastyle ----------------------------------------------------------------------------
def model_entry(entry, custom_objects=None, where="model") -> dict:
    """A kerastyle ``{"class_name", "config"}`` model/layer entry from a Keras one."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError(f"{where}: expected a layer entry with a 'class_name', got {_short(entry)}")
    name = entry["class_name"]
    config = entry.get("config")
    if name == "Sequential":
        return {"module": "kerastyle.layers", "class_name": "Sequential", "config": _sequential(config, custom_objects)}
    if name in ("Functional", "Model") and isinstance(config, dict) and "layers" in config:
        return {"module": "kerastyle.layers", "class_name": "Functional", "config": _functional(config, custom_objects)}
    return _layer(entry, custom_objects, where)


def _sequential(config, custom_objects) -> dict:
    if isinstance(config, list):  # Keras 2.0-2.2: the config is the list of layers
        config = {"layers": config}
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"a Sequential config must hold a 'layers' list, got {_short(config)}")
    name = config.get("name")
    layers = [model_entry(e, custom_objects, f"layer {i} of Sequential {name!r}")
              for i, e in enumerate(config["layers"])]
    out = {"name": name, "layers": layers}
    shape = config.get("build_input_shape")
    if shape is not None:
        out["build_input_shape"] = shape
    return out


def _is_ref(value) -> bool:
    return isinstance(value, list) and len(value) >= 3 and isinstance(value[0], str) \
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:3])


def _refs(structure, where):
    """Keras 3 node arguments (``__keras_tensor__`` dicts, nested in lists) as kerastyle refs."""
    if isinstance(structure, dict) and structure.get("class_name") == "__keras_tensor__":
        history = (structure.get("config") or {}).get("keras_history")
        if not _is_ref(history):
            raise ValueError(f"{where}: bad keras_history {history!r}")
        return list(history[:3])
    if _is_ref(structure):
        return list(structure[:3])
    if isinstance(structure, (list, tuple)):
        return [_refs(s, where) for s in structure]
    raise UnsupportedKerasConfig(f"{where}: a layer argument {_short(structure)} is not a tensor; kerastyle supports "
                                 f"layers called on tensors and lists of tensors")


def _node(node, where) -> dict:
    """One inbound node, Keras 3 (``{"args", "kwargs"}``) or Keras 2 (``[[name, i, j, kwargs], ...]``)."""
    if isinstance(node, dict):
        args = node.get("args")
        if not isinstance(args, list) or len(args) != 1:
            raise UnsupportedKerasConfig(f"{where}: a layer call with {len(args) if isinstance(args, list) else '?'} "
                                         f"positional arguments; kerastyle supports one (a tensor or a list)")
        kwargs = dict(node.get("kwargs") or {})
    elif isinstance(node, list) and node and all(_is_ref(r) for r in node):
        args = [node[0] if len(node) == 1 else node]
        kwargs = dict(node[0][3]) if len(node[0]) > 3 and isinstance(node[0][3], dict) else {}
    else:
        raise ValueError(f"{where}: bad inbound node {_short(node)}")
    kwargs.pop("mask", None)  # kerastyle propagates masks itself
    if kwargs.get("training") is None:
        kwargs.pop("training", None)
    return {"args": _refs(args[0], where), "kwargs": kwargs}


def _functional(config, custom_objects) -> dict:
    if not isinstance(config.get("layers"), list):
        raise ValueError("a functional model config must hold a 'layers' list")
    name = config.get("name")
    layers = []
    for i, entry in enumerate(config["layers"]):
        where = f"layer {i} of model {name!r}"
        out = model_entry(entry, custom_objects, where)
        layer_name = entry.get("name") or (entry.get("config") or {}).get("name")
        out["config"]["name"] = layer_name
        out["name"] = layer_name
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise ValueError(f"{where}: 'inbound_nodes' must be a list")
        out["inbound_nodes"] = [_node(n, f"{where} ({layer_name!r})") for n in nodes]
        layers.append(out)

    def ends(value, what):
        if _is_ref(value):
            return [list(value[:3])], False
        if isinstance(value, dict) and value:
            value = list(value.values())
        if isinstance(value, list) and value and all(_is_ref(v) for v in value):
            return [list(v[:3]) for v in value], True
        raise ValueError(f"model {name!r}: bad {what} {_short(value)}")

    ins, in_list = ends(config.get("input_layers"), "input_layers")
    outs, out_list = ends(config.get("output_layers"), "output_layers")
    return {"name": name, "trainable": config.get("trainable", True), "layers": layers, "input_layers": ins,
            "output_layers": outs, "input_is_list": in_list or len(ins) > 1,
            "output_is_list": out_list or len(outs) > 1}


def _layer_class(entry, custom_objects, where):
    name = entry["class_name"]
    registered = entry.get("registered_name")
    module = entry.get("module")
    builtin = layers_module.LAYERS.get(name) or _alias(name)
    if builtin is not None and (module is None or str(module).startswith("keras")) and \
            registered in (None, name):
        return builtin, None
    key = registered or name
    cls = get_registered_object(key, custom_objects)
    if cls is None:
        raise UnsupportedKerasConfig(
            f"{where}: layer class {name!r} is not one kerastyle implements. Supported layers: "
            f"{', '.join(supported_layers())}. If it is your own layer class, register it with "
            f"@keras.saving.register_keras_serializable() or pass custom_objects={{{key!r}: {name}}}")
    return cls, key


def _alias(name):
    cls = getattr(layers_module, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, layers_module.Layer) else None


def _accepted(cls) -> set | None:
    """Keyword arguments ``cls`` takes (None: any), following ``**kwargs`` up the class hierarchy
    (``Conv2D(filters, kernel_size, **kwargs)`` passes the rest to its base class)."""
    names: set = set(getattr(cls, "cell_keys", ()))  # recurrent layers pass these on to their cell
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        if klass is layers_module.Layer:
            return names | set(BASE_ARGUMENTS)
        params = inspect.signature(klass.__init__).parameters
        names |= {p for p, v in params.items() if p != "self" and v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)}
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return names
    return None


def _layer(entry, custom_objects, where) -> dict:
    cls, registered = _layer_class(entry, custom_objects, where)
    config = entry.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"{where}: the config of layer class {entry['class_name']!r} must be a dict")
    label = f"layer {config.get('name', '?')!r} ({entry['class_name']})"
    out = {}
    for key, value in config.items():
        if key == "dtype":
            value = dtype_name(value, label)
        elif key.endswith("_initializer"):
            value = initializer(value, f"{label}: {key}")
        elif key.endswith("_regularizer") or key.endswith("_constraint"):
            value = _plain_object(value)
        elif key == "activation":
            value = activation(value, label)
        out[key] = value
    if entry["class_name"] == "Lambda" and registered is None:
        out = _lambda(out, label)
    if entry["class_name"] == "InputLayer":
        out.pop("optional", None)
    accepted = _accepted(cls)
    if accepted is not None:
        for key in [k for k in out if k not in accepted]:
            value = out[key]
            neutral = _NEUTRAL.get(key, ())
            if value is None or value is False or neutral == "any" or value in neutral:
                del out[key]
            else:
                raise UnsupportedKerasConfig(f"{label}: the Keras setting {key}={_short(value)} is not supported by "
                                             f"kerastyle (it takes: {', '.join(sorted(accepted))})")
    result = {"module": "kerastyle.layers" if registered is None else cls.__module__,
              "class_name": entry["class_name"] if registered is None else cls.__name__, "config": out}
    if registered is not None:
        result["registered_name"] = registered
    return result


def _lambda(config, label) -> dict:
    function = config.get("function")
    if config.get("function_type") == "lambda" or (isinstance(function, dict)
                                                   and function.get("class_name") == "__lambda__") \
            or isinstance(function, (list, tuple)):
        raise UnsupportedKerasConfig(f"{label}: {_LAMBDA_REFUSAL}")
    if isinstance(function, dict):  # a named function: {"class_name": "function", "config": "my_fn", ...}
        name = function.get("registered_name")
        if name in (None, "function"):
            name = function.get("config")
        if not isinstance(name, str):
            raise UnsupportedKerasConfig(f"{label}: its function entry {_short(function)} names no function")
        config["function"] = name
    shape = config.get("output_shape")
    if isinstance(shape, dict) or config.get("output_shape_type") == "lambda":
        raise UnsupportedKerasConfig(f"{label}: its output_shape is a function stored as code; {_LAMBDA_REFUSAL}")
    for key in ("function_type", "module", "output_shape_type", "output_shape_module", "mask", "mask_type"):
        if key == "mask" and config.get("mask") is not None:
            raise UnsupportedKerasConfig(f"{label}: a Lambda mask function is not supported by kerastyle")
        config.pop(key, None)
    return config


def dtype_name(value, label="layer"):
    """A dtype name from a Keras 3 ``DTypePolicy`` dict, a Keras 2 policy dict or a string."""
    if isinstance(value, dict):
        inner = value.get("config") or {}
        value = inner.get("name") if isinstance(inner, dict) else None
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{label}: bad dtype {_short(value)}")


def initializer(value, label):
    """An initializer the kerastyle layer takes: Keras's snake-case name when the settings are the
    defaults (``'glorot_uniform'``), else the serialized dict (when kerastyle's initializers read dicts)."""
    if not isinstance(value, dict):
        return value
    plain = _plain_object(value)
    from ... import initializers
    cls = plain.get("class_name")
    snake = _INITIALIZER_NAMES.get(cls) or (keras_snake_name(cls) if isinstance(cls, str) else None)
    try:
        configured = initializers.get(plain)
    except (ValueError, TypeError):
        configured = None
    if configured is not None:
        try:
            default = initializers.get(snake)
            if default is configured or default == configured or \
                    (callable(default) and getattr(default, "__name__", None) == snake and
                     _default_settings(plain) in ({}, _INITIALIZER_DEFAULTS.get(cls, {}))):
                return snake
        except (ValueError, TypeError):
            pass
        return plain
    if snake in _INITIALIZER_NAMES.values() and _default_settings(plain) in ({}, _INITIALIZER_DEFAULTS.get(cls, {})):
        return snake
    raise UnsupportedKerasConfig(f"{label}: the initializer {_short(value)} is not supported by kerastyle")


def _default_settings(plain):
    return {k: v for k, v in (plain.get("config") or {}).items() if v is not None and k != "gain" or
            (k == "gain" and v != 1.0)}


def keras_snake_name(name: str) -> str:
    from .h5 import keras_snake
    return keras_snake(name)


def _plain_object(value):
    """``{"class_name", "config"}`` without Keras's ``module``/``registered_name`` bookkeeping."""
    if isinstance(value, dict) and "class_name" in value:
        return {"class_name": value["class_name"], "config": value.get("config") or {}}
    return value


def activation(value, label):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):  # {"module": "keras.activations", "class_name": "function", "config": "relu"}
        name = value.get("registered_name")
        if name in (None, "function") or not isinstance(name, str):
            name = value.get("config")
        if isinstance(name, str):
            return name
    raise UnsupportedKerasConfig(f"{label}: activation {_short(value)} is not a name kerastyle can look up")


def _short(value, limit=120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# -- kerastyle -> Keras 3 --------------------------------------------------------------------------
def _policy(name="float32") -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _with_module(value, module):
    if isinstance(value, dict) and "class_name" in value:
        return {"module": module, "class_name": value["class_name"], "config": value.get("config") or {},
                "registered_name": None}
    return value


def keras_layer_entry(layer) -> dict:
    """Keras 3's entry for one kerastyle layer (or nested model)."""
    cls = type(layer).__name__
    if cls in ("Sequential", "Functional"):
        return keras_model_entry(layer)
    if cls == "Lambda":
        raise ValueError(f"Lambda layer {layer.name!r} cannot be written in Keras's format: Keras would have to "
                         f"store its function as Python bytecode, which neither kerastyle nor Keras's safe mode "
                         f"loads. Replace it with a layer subclass, or save with kerastyle's own format.")
    builtin = layers_module.LAYERS.get(cls) is type(layer)
    config = dict(layer.get_config())
    config.pop("batch_input_shape", None)
    config["dtype"] = _policy(config.get("dtype") or "float32")
    for key, value in list(config.items()):
        if key.endswith("_regularizer"):
            config[key] = _with_module(value, "keras.regularizers")
        elif key.endswith("_constraint"):
            config[key] = _with_module(value, "keras.constraints")
        elif key.endswith("_initializer"):
            config[key] = _with_module(value, "keras.initializers")
    entry = {"module": "keras.layers" if builtin else type(layer).__module__, "class_name": cls, "config": config,
             "registered_name": None}
    if not builtin:
        from ..object_registration import registered_name
        entry["registered_name"] = registered_name(type(layer)) or cls
    shape = getattr(layer, "_build_input_shape", None)
    if shape is not None:
        entry["build_config"] = {"input_shape": _listify(shape)}
    return entry


def _listify(shape):
    if isinstance(shape, (list, tuple)):
        return [_listify(s) for s in shape]
    return shape


def _input_entry(name, shape, dtype) -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": _listify(shape), "dtype": dtype, "sparse": False, "ragged": False, "name": name},
            "registered_name": None}


def keras_model_entry(model) -> dict:
    """Keras 3's ``config.json`` entry (without compile settings) for a Sequential or functional model."""
    cls = type(model).__name__
    if cls == "Sequential":
        shape = _listify(model.input_shape)
        dtype = getattr(model, "_input_dtype", None)
        dtype = str(dtype).replace("torch.", "") if dtype is not None else "float32"
        layers = [_input_entry(f"{model.name}_input", shape, dtype)] + [keras_layer_entry(layer) for layer in
                                                                         model.layers]
        config = {"name": model.name, "trainable": model.trainable, "dtype": _policy(), "layers": layers,
                  "build_input_shape": shape}
        return {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None,
                "build_config": {"input_shape": shape}}
    if cls != "Functional":
        raise ValueError(f"Model {model.name!r} is a {cls} (a subclassed model): its architecture is Python code, "
                         f"which Keras's format cannot hold. Save its weights with save_weights('x.weights.h5').")
    native = model.get_config()
    by_name = {layer.name: layer for layer in model.layers}

    def tensor(ref):
        layer = by_name[ref[0]]
        try:
            shape = layer.output_shape
            shape = shape[ref[2]] if isinstance(shape, list) else shape
            shape = _listify(shape)
        except (AttributeError, ValueError, IndexError):
            shape = None
        return {"class_name": "__keras_tensor__",
                "config": {"shape": shape, "dtype": "float32", "keras_history": list(ref[:3])}}

    def args(structure):
        if _is_ref(structure):
            return tensor(structure)
        return [args(s) for s in structure]

    layers = []
    for entry in native["layers"]:
        layer = by_name[entry["name"]]
        if type(layer).__name__ == "InputLayer":
            dtype = getattr(layer, "input_dtype", None)
            out = _input_entry(layer.name, layer._batch_input_shape,
                               str(dtype).replace("torch.", "") if dtype is not None else "float32")
        else:
            out = keras_layer_entry(layer)
        out["name"] = layer.name
        out["inbound_nodes"] = [{"args": [args(node["args"])], "kwargs": dict(node.get("kwargs") or {})}
                                for node in entry.get("inbound_nodes", [])]
        layers.append(out)
    ins, outs = native["input_layers"], native["output_layers"]
    config = {"name": model.name, "trainable": model.trainable, "layers": layers,
              "input_layers": ins if native.get("input_is_list") else ins[0],
              "output_layers": outs if native.get("output_is_list") else outs[0]}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": config,
            "registered_name": "Functional"}


_KERAS_OPTIMIZER_SHARED = ("name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue",
                           "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                           "gradient_accumulation_steps")


def keras_compile_config(model) -> dict | None:
    """Keras 3's ``compile_config`` for a compiled model; None (with a warning) when a setting has
    no Keras equivalent, so Keras loads the model uncompiled rather than failing."""
    if not getattr(model, "compiled", False):
        return None
    import warnings

    from ..serialization import serialize
    args = model._compile_args
    try:
        opt = model.optimizer
        config = dict(opt.get_config())
        if config.pop("decay", 0) not in (0, 0.0, None):
            raise ValueError("Keras 2's `decay` has no Keras 3 equivalent")
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _with_module(config["learning_rate"], "keras.optimizers.schedules")
        optimizer = {"module": "keras.optimizers", "class_name": type(opt).__name__, "config": config,
                     "registered_name": None}

        def named(value, kind):
            if value is None or isinstance(value, str):
                return value
            if isinstance(value, (list, tuple)):
                return [named(v, kind) for v in value]
            if isinstance(value, dict):
                return {k: named(v, kind) for k, v in value.items()}
            entry = serialize(value, kind)
            return {"module": f"keras.{kind}es" if kind == "loss" else f"keras.{kind}s",
                    "class_name": entry["class_name"], "config": entry["config"], "registered_name": None}

        return {"optimizer": optimizer, "loss": named(args["loss"], "loss"),
                "loss_weights": args.get("loss_weights"), "metrics": named(args.get("metrics"), "metric"),
                "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        warnings.warn(f"Model {model.name!r}: its compile settings cannot be written in Keras's format ({err}); "
                      f"the file holds the architecture and weights, and Keras loads it uncompiled.", stacklevel=4)
        return None
