"""Regression losses: squared, absolute, percentage, logarithmic, Huber, log-cosh, cosine.

Each has Keras's per-sample function (mean over the last axis) and a ``Loss`` class with Keras's
name and defaults; the element-wise ones give the analytic engine their hand-derived gradient.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from .loss import EPSILON, Loss, _is_number, _reduce_for_gradient, _scale, functional


# -- per-sample functions (tensors in; the public names below also take arrays and lists) ------
def _mse(y_true, y_pred):
    return (y_true - y_pred).square().mean(dim=-1)


def _mae(y_true, y_pred):
    return (y_true - y_pred).abs().mean(dim=-1)


def _mape_elements(y, out):
    """``100 |(y - out) / max(|y|, eps)|`` and its derivative in ``out``."""
    scale = y.abs().clamp_min(EPSILON)
    diff = out - y
    return 100.0 * diff.abs() / scale, 100.0 * diff.sign() / scale


def _msle_elements(y, out):
    """``(log(max(out, eps) + 1) - log(max(y, eps) + 1))^2``; no gradient where ``out < eps``."""
    diff = torch.log1p(out.clamp_min(EPSILON)) - torch.log1p(y.clamp_min(EPSILON))
    inside = out >= EPSILON
    return diff.square(), torch.where(inside, 2.0 * diff / (1.0 + out.clamp_min(EPSILON)), 0.0)


def _huber_elements(y, out, delta):
    """``0.5 e^2`` where ``|e| <= delta``, else ``delta |e| - 0.5 delta^2`` (``e = out - y``)."""
    err = out - y
    small = err.abs() <= delta
    values = torch.where(small, 0.5 * err.square(), delta * err.abs() - 0.5 * delta * delta)
    return values, torch.where(small, err, delta * err.sign())


def _log_cosh_elements(y, out):
    """``log(cosh(e))`` computed as ``e + softplus(-2e) - log 2`` (no overflow); derivative ``tanh(e)``."""
    err = out - y
    return err + F.softplus(-2.0 * err) - math.log(2.0), torch.tanh(err)


def _mape(y_true, y_pred):
    return _mape_elements(y_true, y_pred)[0].mean(dim=-1)


def _msle(y_true, y_pred):
    return _msle_elements(y_true, y_pred)[0].mean(dim=-1)


def _huber(y_true, y_pred, delta=1.0):
    return _huber_elements(y_true, y_pred, float(delta))[0].mean(dim=-1)


def _log_cosh(y_true, y_pred):
    return _log_cosh_elements(y_true, y_pred)[0].mean(dim=-1)


def _l2_normalize(x, axis):
    return x * x.square().sum(dim=axis, keepdim=True).clamp_min(1e-12).rsqrt()


def _cosine_similarity(y_true, y_pred, axis=-1):
    """Minus the cosine of the angle between ``y_true`` and ``y_pred`` along ``axis`` (Keras's sign)."""
    return -(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis)).sum(dim=axis)


mean_squared_error = functional(_mse, "mean_squared_error")
mean_absolute_error = functional(_mae, "mean_absolute_error")
mean_absolute_percentage_error = functional(_mape, "mean_absolute_percentage_error")
mean_squared_logarithmic_error = functional(_msle, "mean_squared_logarithmic_error")
huber = functional(_huber, "huber")
log_cosh = functional(_log_cosh, "log_cosh")
cosine_similarity = functional(_cosine_similarity, "cosine_similarity")


# -- classes ---------------------------------------------------------------------------------
class MeanSquaredError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(False, reduction, name)

    def call(self, y_true, y_pred):
        return _mse(y_true, y_pred)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        """d/dout of ``mean((out - y)^2)`` over the last axis: ``2 (out - y) / D``."""
        diff = out - y_true
        loss, coef = _reduce_for_gradient(self, diff.square().mean(dim=-1), sample_weight)
        return loss, _scale(diff, coef, 2.0 / out.shape[-1])

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class MeanAbsoluteError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(False, reduction, name)

    def call(self, y_true, y_pred):
        return _mae(y_true, y_pred)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        """d/dout of ``mean(|out - y|)``: ``sign(out - y) / D`` (0 where equal, as autograd)."""
        diff = out - y_true
        loss, coef = _reduce_for_gradient(self, diff.abs().mean(dim=-1), sample_weight)
        return loss, _scale(diff.sign_(), coef, 1.0 / out.shape[-1])

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class ElementwiseLoss(Loss):
    """A loss that is the mean over the last axis of an element-wise function with a known
    derivative: subclasses give ``elements(y, out) -> (values, d values / d out)``."""

    def elements(self, y_true, out):
        raise NotImplementedError

    def call(self, y_true, y_pred):
        return self.elements(y_true, y_pred)[0].mean(dim=-1)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        values, grad = self.elements(y_true, out)
        loss, coef = _reduce_for_gradient(self, values.mean(dim=-1), sample_weight)
        return loss, _scale(grad, coef, 1.0 / out.shape[-1])

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class MeanAbsolutePercentageError(ElementwiseLoss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error"):
        super().__init__(False, reduction, name)

    def elements(self, y_true, out):
        return _mape_elements(y_true, out)


class MeanSquaredLogarithmicError(ElementwiseLoss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error"):
        super().__init__(False, reduction, name)

    def elements(self, y_true, out):
        return _msle_elements(y_true, out)


class Huber(ElementwiseLoss):
    """Quadratic for errors up to ``delta``, linear beyond (Keras's name ``'huber_loss'``)."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(False, reduction, name)
        if not _is_number(delta) or not math.isfinite(delta) or delta < 0:
            raise ValueError(f"Huber: argument `delta` must be a finite number >= 0, got {delta!r}.")
        self.delta = float(delta)

    def elements(self, y_true, out):
        return _huber_elements(y_true, out, self.delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class LogCosh(ElementwiseLoss):
    def __init__(self, reduction="sum_over_batch_size", name="log_cosh"):
        super().__init__(False, reduction, name)

    def elements(self, y_true, out):
        return _log_cosh_elements(y_true, out)


class CosineSimilarity(Loss):
    """``-cos(y_true, y_pred)`` along ``axis`` (-1 for parallel vectors, Keras's sign); no analytic
    gradient, so ``fit`` trains it with autograd."""

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity"):
        super().__init__(False, reduction, name)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ValueError(f"CosineSimilarity: argument `axis` must be an integer, got {axis!r}.")
        self.axis = int(axis)

    def call(self, y_true, y_pred):
        return _cosine_similarity(y_true, y_pred, self.axis)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "axis": self.axis}
