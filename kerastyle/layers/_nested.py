"""Configs of layers held inside another layer (``Bidirectional``, ``TimeDistributed``, ``RNN(cell)``).

``{"class_name", "config"}`` like a model's layer entries; on load the class is looked up among the
built-in layers or the registered / ``custom_objects`` classes, never imported.
"""

from __future__ import annotations


def serialize_inner(layer) -> dict:
    from ..saving.object_registration import registered_name
    entry = {"class_name": type(layer).__name__, "config": layer.get_config()}
    registered = registered_name(type(layer))
    if registered is not None:
        entry["registered_name"] = registered
    return entry


def deserialize_inner(entry, owner, custom_objects=None):
    from ..saving.object_registration import get_registered_object
    from . import LAYERS
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
            or not isinstance(entry.get("config"), dict):
        raise ValueError(f"{owner}: a nested layer must be given as a layer or a dict with 'class_name' and "
                         f"'config', got {entry!r}.")
    name = entry["class_name"]
    cls = None if entry.get("registered_name") else LAYERS.get(name)
    if cls is None:
        cls = get_registered_object(entry.get("registered_name") or name, custom_objects)
    if cls is None:
        raise ValueError(f"{owner}: unknown layer class {name!r} in the nested layer config; register it with "
                         f"@keras.saving.register_keras_serializable() or pass custom_objects.")
    config = dict(entry["config"])
    import inspect
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(config, custom_objects=custom_objects)
    return cls.from_config(config)
