"""Keras optimizers as ``torch.optim.Optimizer`` subclasses, and ``optimizers.schedules``.

One module per optimizer family: ``optimizer`` (the base class: clipping, weight decay, the moving
average, the learning rate), ``gradient_descent`` (SGD), ``adam_family`` (Adam, AdamW, Adamax,
Nadam), ``adaptive_rates`` (RMSprop, Adagrad, Adadelta), ``lion``, ``ftrl``, ``schedules``. The
modules are not named after the optimizers because Keras 2's lowercase aliases
(``optimizers.sgd``, ``optimizers.adam``, ...) are attributes of this package.
"""

from __future__ import annotations

import torch

from . import schedules
from .adam_family import Adam, Adamax, AdamW, Nadam
from .adaptive_rates import Adadelta, Adagrad, RMSprop
from .ftrl import Ftrl
from .gradient_descent import SGD
from .lion import Lion
from .optimizer import Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Adadelta", "Lion",
           "Ftrl", "schedules", "get", "serialize", "deserialize", "ALIASES"]

#: string identifiers (lowercase) -> class; also the registry saving uses to rebuild optimizers.
ALIASES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "adamax": Adamax, "nadam": Nadam, "rmsprop": RMSprop,
           "adagrad": Adagrad, "adadelta": Adadelta, "lion": Lion, "ftrl": Ftrl}

# Keras 2's lowercase aliases (``keras.optimizers.rmsprop(lr=0.001)``).
sgd, adam, adamax, nadam, rmsprop, adagrad, adadelta = SGD, Adam, Adamax, Nadam, RMSprop, Adagrad, Adadelta


def _class_named(name):
    cls = ALIASES.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"Unknown optimizer {name!r}. Valid names: {', '.join(sorted(ALIASES))}.")
    return cls


def serialize(optimizer) -> dict:
    """``{"class_name", "config"}`` for a kerastyle optimizer."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(entry):
    """An optimizer from ``{"class_name", "config"}`` (a Keras config's extra keys are ignored)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), dict) \
            or "class_name" not in entry:
        raise ValueError(f"An optimizer entry must be a dict with 'class_name' and 'config', got {entry!r}.")
    return _class_named(entry["class_name"]).from_config(dict(entry.get("config", {})))


def get(identifier):
    """An optimizer from a name (fresh instance with Keras defaults), a class, an instance or a
    ``{"class_name", "config"}`` dict. A plain torch optimizer passes through unchanged."""
    if isinstance(identifier, torch.optim.Optimizer):
        return identifier  # ours, or a plain torch optimizer built on model.to_torch().parameters()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return _class_named(identifier)()
    raise ValueError(f"Unknown optimizer {identifier!r}. Valid names: {', '.join(sorted(ALIASES))}.")
