"""Weight regularizers by Keras name: penalties added to the training loss.

A regularizer maps a weight tensor to a scalar penalty; ``fit`` and ``evaluate`` add the penalties
of every regularized weight to the loss, as Keras does. ``L1``/``L2``/``L1L2`` also give their
gradient, so the analytic engine can train regularized models (micrograd style: the penalty and
its derivative side by side).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2", "get", "serialize"]


def _factor(value, arg, owner):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{owner}: argument `{arg}` must be a finite number >= 0, got {value!r}.")
    return float(value)


class Regularizer:
    """Base class: ``__call__(weight) -> scalar penalty``; subclasses may add ``gradient(weight)``."""

    def __call__(self, x):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w^2)``; derivative ``l1 * sign(w) + 2 * l2 * w``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1", type(self).__name__)
        self.l2 = _factor(l2, "l2", type(self).__name__)

    def __call__(self, x):
        penalty = x.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def gradient(self, x):
        grad = torch.zeros_like(x)
        if self.l1:
            grad.add_(torch.sign(x), alpha=self.l1)
        if self.l2:
            grad.add_(x, alpha=2.0 * self.l2)
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"


class L1(L1L2):
    """``l1 * sum(|w|)`` (Keras default factor 0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w^2)`` (Keras default factor 0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Keras's penalty on non-orthogonal rows (``mode='rows'``) or columns of a 2-D kernel."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor(factor, "factor", "OrthogonalRegularizer")
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: argument `mode` must be 'rows' or 'columns', got {mode!r}.")
        self.mode = mode

    def __call__(self, x):
        if x.dim() != 2:
            raise ValueError(f"OrthogonalRegularizer needs a 2-D weight, got shape {tuple(x.shape)}.")
        vectors = x if self.mode == "rows" else x.T
        vectors = vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)
        products = vectors @ vectors.T
        size = vectors.shape[0]
        off_diagonal = products - torch.eye(size, dtype=x.dtype, device=x.device)
        return self.factor * off_diagonal.abs().sum() / (size * (size - 1) / 2)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def l1_l2(l1=0.01, l2=0.01):
    """Keras's ``l1_l2`` shortcut (both factors default to 0.01)."""
    return L1L2(l1=l1, l2=l2)


l1 = L1
l2 = L2
orthogonal_regularizer = OrthogonalRegularizer

ALIASES = {"l1": L1, "l2": L2, "l1_l2": l1_l2, "l1l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}
CLASSES = {cls.__name__: cls for cls in (L1, L2, L1L2, OrthogonalRegularizer)}


def get(identifier):
    """A regularizer from None, a name, a ``{"class_name", "config"}`` dict, an instance or a callable."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        factory = ALIASES.get(identifier.lower())
        if factory is None:
            raise ValueError(f"Unknown regularizer {identifier!r}. Valid names: {', '.join(sorted(ALIASES))}.")
        return factory()
    if isinstance(identifier, dict):
        cls = CLASSES.get(identifier.get("class_name"))
        if cls is None or not isinstance(identifier.get("config"), dict):
            raise ValueError(f"Unknown regularizer config {identifier!r}; known classes: {', '.join(sorted(CLASSES))}.")
        return cls.from_config(identifier["config"])
    if callable(identifier):
        return identifier
    raise TypeError(f"A regularizer must be None, a name ({', '.join(sorted(ALIASES))}), a Regularizer or a "
                    f"callable, got {identifier!r}.")


def serialize(regularizer):
    """``{"class_name", "config"}`` for a built-in regularizer, None for None."""
    if regularizer is None:
        return None
    if type(regularizer) not in CLASSES.values():
        raise ValueError(f"Regularizer {regularizer!r} is not a built-in kerastyle regularizer and cannot be saved "
                         f"by name.")
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
