"""Objects to and from ``{"module", "class_name", "config"}`` entries, without running code from files.

A class named in a file is looked up among kerastyle's own classes, the classes registered with
``register_keras_serializable``, and the ``custom_objects`` given to the loader, never imported.
"""

from __future__ import annotations

import inspect
import json

from .. import layers, losses, metrics, optimizers
from .object_registration import get_registered_object, registered_name

MODULES = {"layer": "kerastyle.layers", "optimizer": "kerastyle.optimizers", "loss": "kerastyle.losses",
           "metric": "kerastyle.metrics"}
MODEL_CLASSES: dict[str, type] = {}
"""Model classes by name (``Sequential``, ``Functional``), registered by ``kerastyle.models`` when it loads."""


class Unsaveable(ValueError):
    """An object that cannot be rebuilt by name from kerastyle's registries."""


def register_model_class(cls):
    MODEL_CLASSES[cls.__name__] = cls
    return cls


def builtin_classes(kind: str) -> dict[str, type]:
    """kerastyle's own classes of one kind, by class name."""
    if kind == "layer":
        return {**layers.LAYERS, **MODEL_CLASSES, "Model": MODEL_CLASSES.get("Functional")}
    if kind == "optimizer":
        return {cls.__name__: cls for cls in optimizers.ALIASES.values()}
    if kind == "loss":
        return {cls.__name__: cls for cls in losses.ALIASES.values()}
    return {name: obj for name, obj in vars(metrics).items()
            if isinstance(obj, type) and issubclass(obj, metrics.Metric)
            and obj.__name__ not in ("Metric", "MetricFunctionWrapper")}


def _metric_config(metric) -> dict:
    if hasattr(metric, "get_config"):
        return metric.get_config()
    names = [p for p in inspect.signature(type(metric).__init__).parameters if p != "self"]
    return {name: getattr(metric, name) for name in names}


def serialize(obj, kind: str) -> dict:
    """The entry for a built-in or registered object, checked to be plain JSON."""
    cls = type(obj)
    builtin = builtin_classes(kind).get(cls.__name__) is cls
    registered = None if builtin else registered_name(cls)
    if not builtin and registered is None:
        raise Unsaveable(f"{kind} {obj!r} is not a built-in kerastyle {kind} and its class is not registered, and "
                         f"files are loaded without running code, so it cannot be rebuilt. Decorate the class with "
                         f"@keras.saving.register_keras_serializable() and pass it again when loading")
    try:
        config = obj.get_config() if kind != "metric" else _metric_config(obj)
        entry = {"module": MODULES[kind] if builtin else None, "class_name": cls.__name__, "config": config}
        if registered is not None:
            entry["registered_name"] = registered
        return json.loads(json.dumps(entry))
    except (TypeError, ValueError, AttributeError, NotImplementedError) as err:
        raise Unsaveable(f"{kind} {obj!r} cannot be saved: its config is not plain JSON or cannot be made "
                         f"({err})") from None


def serialize_layer(layer) -> dict:
    try:
        return serialize(layer, "layer")
    except Unsaveable as err:
        raise ValueError(str(err).rstrip(".") + ".") from None


def deserialize(entry, kind: str, custom_objects=None):
    """An object from ``{"class_name", "config"}``: looked up by name, never imported."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
            or not isinstance(entry.get("config"), dict):
        raise ValueError(f"A {kind} entry must be a dict with 'class_name' and 'config', got {entry!r}.")
    name = entry["class_name"]
    builtins = builtin_classes(kind)
    cls = None
    if entry.get("module") in (MODULES[kind], "kerastyle", None) and entry.get("registered_name") is None:
        cls = builtins.get(name)
    if cls is None:
        cls = get_registered_object(entry.get("registered_name") or name, custom_objects)
    if cls is None:
        raise ValueError(f"Unknown {kind} class {name!r}: it is neither a kerastyle {kind} ("
                         f"{', '.join(sorted(k for k in builtins if k))}) nor registered. If it is your own class, "
                         f"decorate it with @keras.saving.register_keras_serializable() or pass "
                         f"custom_objects={{{name!r}: {name}}} to load_model.")
    config = dict(entry["config"])
    try:
        if hasattr(cls, "from_config"):
            params = inspect.signature(cls.from_config).parameters
            if "custom_objects" in params:
                return cls.from_config(config, custom_objects=custom_objects)
            return cls.from_config(config)
        return cls(**config)
    except (TypeError, ValueError, KeyError, IndexError) as err:
        raise ValueError(f"Cannot rebuild {kind} {name} from config {config}: {str(err).rstrip('.')}") from None


def deserialize_model(doc, custom_objects=None):
    """A model from ``{"class_name", "config"}`` (``to_json``, ``config.json``)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("class_name"), str):
        raise ValueError(f"A model description must be a dict with 'class_name' and 'config', "
                         f"got {type(doc).__name__}.")
    return deserialize({"module": "kerastyle.layers", "class_name": doc["class_name"],
                        "config": doc.get("config"), "registered_name": doc.get("registered_name")},
                       "layer", custom_objects)
