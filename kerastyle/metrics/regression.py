"""Regression metrics: squared, absolute, percentage and logarithmic errors, RMSE, cosine
similarity, log-cosh, and R2 (coefficient of determination)."""

from __future__ import annotations

import torch

from ..losses.regression import _l2_normalize, _log_cosh, _mae, _mape, _mse, _msle
from .metric import Metric, _Builtin, tensors


def _cosine(y_true, y_pred, axis=-1):
    return (_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis)).sum(dim=axis)


class MeanSquaredError(_Builtin):
    fn = _mse

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name, dtype)


class MeanAbsoluteError(_Builtin):
    fn = _mae

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name, dtype)


class MeanAbsolutePercentageError(_Builtin):
    fn = _mape

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name, dtype)


class MeanSquaredLogarithmicError(_Builtin):
    fn = _msle

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name, dtype)


class LogCoshError(_Builtin):
    fn = _log_cosh

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(name, dtype)


class CosineSimilarity(_Builtin):
    """The mean cosine of the angle between ``y_true`` and ``y_pred`` (positive, unlike the loss)."""
    fn = _cosine

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(name, dtype, axis=int(axis))


class RootMeanSquaredError(_Builtin):
    """``sqrt`` of the mean squared error over everything seen (not a mean of batch roots)."""
    fn = _mse

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def result(self):
        return torch.sqrt(super().result())


_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """``1 - SS_res / SS_tot`` per output column from running sums, aggregated by
    ``class_aggregation``; ``num_regressors`` > 0 gives the adjusted R2."""

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name, dtype)
        if class_aggregation not in _AGGREGATIONS:
            raise ValueError(f"R2Score: argument `class_aggregation` must be one of {_AGGREGATIONS}, "
                             f"got {class_aggregation!r}.")
        if isinstance(num_regressors, bool) or not hasattr(num_regressors, "__index__") or num_regressors < 0:
            raise ValueError(f"R2Score: argument `num_regressors` must be an integer >= 0, got {num_regressors!r}.")
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)
        self.num_samples = self.add_variable(name="num_samples")
        self._sums = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, sample_weight = tensors(y_true, y_pred, sample_weight)
        if y_true.dim() == 1:
            y_true = y_true.unsqueeze(-1)
        if y_pred.dim() == 1:
            y_pred = y_pred.unsqueeze(-1)
        if y_true.shape != y_pred.shape or y_true.dim() != 2:
            raise ValueError(f"R2Score expects y_true and y_pred of shape (batch, outputs), got "
                             f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}.")
        if self._sums is None:
            self._sums = [self.add_variable(y_pred.shape[-1], name=n)
                          for n in ("squared_sum", "sum", "total_mse", "count")]
        w = torch.ones_like(y_true) if sample_weight is None else \
            torch.broadcast_to(sample_weight.reshape(-1, 1), y_true.shape)
        squared_sum, total, total_mse, count = self._sums
        squared_sum.assign_add((y_true * y_true * w).sum(0))
        total.assign_add((y_true * w).sum(0))
        total_mse.assign_add(((y_true - y_pred).square() * w).sum(0))
        count.assign_add(w.sum(0))
        self.num_samples.assign_add(y_true.numel())  # Keras counts elements, not rows

    def result(self):
        if self._sums is None:
            return torch.zeros(())
        squared_sum, total, total_mse, count = (v.value for v in self._sums)
        mean = total / count
        ss_tot = squared_sum - total * mean
        raw = 1.0 - total_mse / ss_tot
        raw = torch.where(torch.isinf(raw), torch.zeros_like(raw), raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (raw * ss_tot).sum() / ss_tot.sum()
        else:
            score = raw
        if self.num_regressors:
            n, p = float(self.num_samples.value), self.num_regressors
            if n - p - 1 <= 0:
                raise ValueError(f"R2Score: adjusted R2 needs more samples ({n:g}) than num_regressors + 1 ({p + 1}).")
            score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return score

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
