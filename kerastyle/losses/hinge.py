"""Hinge losses for maximum-margin classifiers: ``Hinge``, ``SquaredHinge``, ``CategoricalHinge``.

Targets of 0/1 are mapped to -1/+1 first (as Keras does when every target is 0 or 1), so the
same labels serve a sigmoid-free binary classifier whichever encoding the user has.
"""

from __future__ import annotations

import torch

from .loss import Loss, functional
from .regression import ElementwiseLoss


def _signed(y):
    """0/1 labels as -1/+1; other labels (already -1/+1) unchanged. Decided per call, as Keras."""
    return torch.where(((y == 0) | (y == 1)).all(), 2.0 * y - 1.0, y)


def _hinge_elements(y, out):
    y = _signed(y)
    margin = 1.0 - y * out
    return margin.clamp_min(0.0), torch.where(margin > 0, -y, 0.0)


def _squared_hinge_elements(y, out):
    y = _signed(y)
    margin = (1.0 - y * out).clamp_min(0.0)
    return margin.square(), -2.0 * y * margin


def _hinge(y_true, y_pred):
    return _hinge_elements(y_true, y_pred)[0].mean(dim=-1)


def _squared_hinge(y_true, y_pred):
    return _squared_hinge_elements(y_true, y_pred)[0].mean(dim=-1)


def _categorical_hinge(y_true, y_pred):
    """``max(0, max_{c != true} p_c - p_true + 1)`` for one-hot rows."""
    pos = (y_true * y_pred).sum(dim=-1)
    neg = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return (neg - pos + 1.0).clamp_min(0.0)


hinge = functional(_hinge, "hinge")
squared_hinge = functional(_squared_hinge, "squared_hinge")
categorical_hinge = functional(_categorical_hinge, "categorical_hinge")


class Hinge(ElementwiseLoss):
    def __init__(self, reduction="sum_over_batch_size", name="hinge"):
        super().__init__(False, reduction, name)

    def elements(self, y_true, out):
        return _hinge_elements(y_true, out)


class SquaredHinge(ElementwiseLoss):
    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge"):
        super().__init__(False, reduction, name)

    def elements(self, y_true, out):
        return _squared_hinge_elements(y_true, out)


class CategoricalHinge(Loss):
    """Multi-class hinge on one-hot targets; no analytic gradient (``fit`` uses autograd)."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge"):
        super().__init__(False, reduction, name)

    def call(self, y_true, y_pred):
        return _categorical_hinge(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}
