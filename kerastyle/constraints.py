"""Weight constraints by Keras name, applied to a weight after each optimizer update.

A constraint maps a weight tensor to its projection (``MaxNorm`` rescales columns whose norm is too
large, ``NonNeg`` clips below zero, ...). Norms are taken over ``axis=0`` by default, which for a
Keras ``(in, out)`` Dense kernel is each unit's incoming weight vector.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "get", "serialize"]

_EPSILON = 1e-7  # Keras's backend epsilon


def _number(value, arg, owner, low=None):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value) \
            or (low is not None and value < low):
        raise ValueError(f"{owner}: argument `{arg}` must be a finite number"
                         f"{f' >= {low}' if low is not None else ''}, got {value!r}.")
    return float(value)


def _axis(axis, owner):
    if isinstance(axis, (list, tuple)):
        return tuple(int(a) for a in axis)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{owner}: argument `axis` must be an int or a tuple of ints, got {axis!r}.")
    return int(axis)


class Constraint:
    """Base class: ``__call__(weight) -> constrained weight``."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Rescale each vector along ``axis`` whose L2 norm exceeds ``max_value`` (Keras: w * clip(n) / (eps + n))."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = _number(max_value, "max_value", "MaxNorm", low=0)
        self.axis = _axis(axis, "MaxNorm")

    def __call__(self, w):
        norms = torch.sqrt(torch.sum(torch.square(w), dim=self.axis, keepdim=True))
        desired = torch.clamp(norms, 0, self.max_value)
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Zero out negative weights."""

    def __call__(self, w):
        return w * (w >= 0).to(w.dtype)


class UnitNorm(Constraint):
    """Scale each vector along ``axis`` to unit L2 norm (Keras: w / (eps + n))."""

    def __init__(self, axis=0):
        self.axis = _axis(axis, "UnitNorm")

    def __call__(self, w):
        return w / (_EPSILON + torch.sqrt(torch.sum(torch.square(w), dim=self.axis, keepdim=True)))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Keep norms along ``axis`` within ``[min_value, max_value]``, moved there at ``rate`` (Keras formula)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number(min_value, "min_value", "MinMaxNorm", low=0)
        self.max_value = _number(max_value, "max_value", "MinMaxNorm", low=0)
        self.rate = _number(rate, "rate", "MinMaxNorm", low=0)
        self.axis = _axis(axis, "MinMaxNorm")

    def __call__(self, w):
        norms = torch.sqrt(torch.sum(torch.square(w), dim=self.axis, keepdim=True))
        desired = self.rate * torch.clamp(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm
ALIASES = {"max_norm": MaxNorm, "maxnorm": MaxNorm, "non_neg": NonNeg, "nonneg": NonNeg, "unit_norm": UnitNorm,
           "unitnorm": UnitNorm, "min_max_norm": MinMaxNorm, "minmaxnorm": MinMaxNorm}
CLASSES = {cls.__name__: cls for cls in (MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}


def get(identifier):
    """A constraint from None, a name, a ``{"class_name", "config"}`` dict, an instance or a callable."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        cls = ALIASES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown constraint {identifier!r}. Valid names: {', '.join(sorted(ALIASES))}.")
        return cls()
    if isinstance(identifier, dict):
        cls = CLASSES.get(identifier.get("class_name"))
        if cls is None or not isinstance(identifier.get("config"), dict):
            raise ValueError(f"Unknown constraint config {identifier!r}; known classes: {', '.join(sorted(CLASSES))}.")
        return cls.from_config(identifier["config"])
    if callable(identifier):
        return identifier
    raise TypeError(f"A constraint must be None, a name ({', '.join(sorted(ALIASES))}), a Constraint or a "
                    f"callable, got {identifier!r}.")


def serialize(constraint):
    if constraint is None:
        return None
    if type(constraint) not in CLASSES.values():
        raise ValueError(f"Constraint {constraint!r} is not a built-in kerastyle constraint and cannot be saved "
                         f"by name.")
    return {"class_name": type(constraint).__name__, "config": constraint.get_config()}
