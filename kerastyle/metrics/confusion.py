"""Metrics from confusion counts: ``Precision``, ``Recall``, ``AUC``, ``F1Score``, ``FBetaScore``.

States are weighted counts (true/false positives/negatives per threshold or per class), so a
result over several ``update_state`` calls is exact for everything seen, however it was split.
"""

from __future__ import annotations

import math

import torch

from ..backend.config import epsilon
from .metric import Metric, _divide_no_nan, tensors


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) or hasattr(value, "item") \
        and not isinstance(value, bool) and getattr(value, "ndim", 1) == 0


def _thresholds(thresholds, default, owner):
    if thresholds is None:
        return [default], True
    single = _is_number(thresholds)
    values = [thresholds] if single else list(thresholds)
    for value in values:
        if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{owner}: argument `thresholds` must hold numbers in [0, 1], got {thresholds!r}.")
    return [float(v) for v in values], single


def _optional_index(value, arg, owner):
    if value is None:
        return None
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < 0:
        raise ValueError(f"{owner}: argument `{arg}` must be a non-negative integer or None, got {value!r}.")
    return int(value)


def _filter_top_k(y_pred, k):
    """Scores outside each row's top ``k`` set to -inf (they never pass a threshold)."""
    top = y_pred.topk(min(k, y_pred.shape[-1]), dim=-1).indices
    keep = torch.zeros_like(y_pred, dtype=torch.bool).scatter_(-1, top, True)
    return torch.where(keep, y_pred, torch.full_like(y_pred, -math.inf))


def _weights_like(sample_weight, y_pred):
    if sample_weight is None:
        return torch.ones_like(y_pred)
    sample_weight = sample_weight.reshape(*sample_weight.shape, *([1] * (y_pred.dim() - sample_weight.dim())))
    return torch.broadcast_to(sample_weight, y_pred.shape)


class _ThresholdCounts(Metric):
    """Counts at each threshold of ``y_pred > threshold`` against ``y_true != 0``."""

    def __init__(self, thresholds, top_k, class_id, name, dtype, counts):
        super().__init__(name, dtype)
        owner = type(self).__name__
        self.top_k = _optional_index(top_k, "top_k", owner)
        self.class_id = _optional_index(class_id, "class_id", owner)
        self.init_thresholds = thresholds
        self.thresholds, self._single = _thresholds(thresholds, 0.5 if top_k is None else -math.inf, owner)
        for count in counts:
            setattr(self, count, self.add_variable(len(self.thresholds), name=count))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, sample_weight = tensors(y_true, y_pred, sample_weight)
        if y_true.dim() == y_pred.dim() - 1:
            y_true = y_true.unsqueeze(-1)
        weights = _weights_like(sample_weight, y_pred)
        if self.top_k is not None:
            y_pred = _filter_top_k(y_pred, self.top_k)
        if self.class_id is not None:
            column = self.class_id
            y_true, y_pred, weights = y_true[..., column], y_pred[..., column], weights[..., column]
        labels, scores, weights = y_true.reshape(-1) != 0, y_pred.reshape(-1), weights.reshape(-1)
        thresholds = torch.tensor(self.thresholds, dtype=scores.dtype, device=scores.device)
        positive = scores.unsqueeze(0) > thresholds.unsqueeze(1)  # (thresholds, elements)
        pos_w, neg_w = weights * labels, weights * ~labels
        counts = {"true_positives": (positive * pos_w).sum(1), "false_positives": (positive * neg_w).sum(1),
                  "false_negatives": (~positive * pos_w).sum(1), "true_negatives": (~positive * neg_w).sum(1)}
        for variable in self._variables:
            variable.assign_add(counts[variable.name])

    def _out(self, value):
        return value[0] if self._single else value

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_ThresholdCounts):
    """``tp / (tp + fp)`` at each threshold (0.5 by default; a scalar for one threshold)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype, ("true_positives", "false_positives"))

    def result(self):
        tp, fp = self.true_positives.value, self.false_positives.value
        return self._out(_divide_no_nan(tp, tp + fp))


class Recall(_ThresholdCounts):
    """``tp / (tp + fn)`` at each threshold (0.5 by default; a scalar for one threshold)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype, ("true_positives", "false_negatives"))

    def result(self):
        tp, fn = self.true_positives.value, self.false_negatives.value
        return self._out(_divide_no_nan(tp, tp + fn))


_CURVES = ("ROC", "PR")
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """Area under the ROC or precision-recall curve from confusion counts at ``num_thresholds``
    evenly spaced thresholds (Keras's bucketing, Riemann sums and PR interpolation)."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name="auc", dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        super().__init__(name, dtype)
        curve = curve.upper() if isinstance(curve, str) else curve
        if curve not in _CURVES:
            raise ValueError(f"AUC: argument `curve` must be 'ROC' or 'PR', got {curve!r}.")
        summation = summation_method.lower() if isinstance(summation_method, str) else summation_method
        if summation not in _SUMMATIONS:
            raise ValueError(f"AUC: argument `summation_method` must be one of {', '.join(_SUMMATIONS)}, "
                             f"got {summation_method!r}.")
        self.curve, self.summation_method = curve, summation
        self.multi_label, self.num_labels = bool(multi_label), num_labels
        self.label_weights = None if label_weights is None else torch.as_tensor(label_weights, dtype=torch.float32)
        self.from_logits = bool(from_logits)
        eps = epsilon()
        if thresholds is not None:
            inner, _ = _thresholds(thresholds, 0.5, "AUC")
            self._even = False
            self.num_thresholds = len(inner) + 2
        else:
            if isinstance(num_thresholds, bool) or not hasattr(num_thresholds, "__index__") or num_thresholds <= 1:
                raise ValueError(f"AUC: argument `num_thresholds` must be an integer > 1, got {num_thresholds!r}.")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self._even = True
        self.thresholds = [0.0 - eps, *sorted(inner), 1.0 + eps]
        self._init_thresholds = thresholds
        self._counts = None  # created on the first update, once the number of labels is known

    def _ensure_counts(self, labels):
        if self._counts is None:
            shape = (self.num_thresholds, labels) if self.multi_label else (self.num_thresholds,)
            self._counts = [self.add_variable(shape, name=n)
                            for n in ("true_positives", "false_positives", "true_negatives", "false_negatives")]

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, sample_weight = tensors(y_true, y_pred, sample_weight)
        if y_true.dim() == y_pred.dim() - 1:
            y_true = y_true.unsqueeze(-1)
        if self.from_logits:
            y_pred = torch.sigmoid(y_pred)
        weights = _weights_like(sample_weight, y_pred)
        if self.multi_label:
            labels = y_pred.shape[-1]
            y_true, y_pred, weights = (t.reshape(-1, labels) for t in (y_true, y_pred, weights))
        else:
            labels = 1
            y_true, y_pred, weights = (t.reshape(-1, 1) for t in (y_true, y_pred, weights))
        self._ensure_counts(labels)
        n = self.num_thresholds
        if self._even:  # Keras's bucketing: bucket = max(ceil(p (n - 1)) - 1, 0); counted at t <= bucket
            buckets = (torch.ceil(y_pred * (n - 1)) - 1).clamp(0, n - 1).long()
            true_w, false_w = y_true * weights, (1.0 - y_true) * weights
        else:
            thresholds = torch.tensor(self.thresholds, dtype=y_pred.dtype, device=y_pred.device)
            buckets = (torch.searchsorted(thresholds, y_pred.contiguous(), right=False) - 1).clamp(0, n - 1)
            positive = y_true != 0
            true_w, false_w = weights * positive, weights * ~positive
        index = (buckets * labels + torch.arange(labels, device=y_pred.device)).reshape(-1)
        tp_bucket = torch.bincount(index, true_w.reshape(-1).double(), n * labels).reshape(n, labels)
        fp_bucket = torch.bincount(index, false_w.reshape(-1).double(), n * labels).reshape(n, labels)
        tp = tp_bucket.flip(0).cumsum(0).flip(0).float()
        fp = fp_bucket.flip(0).cumsum(0).flip(0).float()
        total_true, total_false = true_w.sum(0).float(), false_w.sum(0).float()
        if not self.multi_label:
            tp, fp, total_true, total_false = tp[:, 0], fp[:, 0], total_true[0], total_false[0]
        tp_var, fp_var, tn_var, fn_var = self._counts
        tp_var.assign_add(tp)
        fp_var.assign_add(fp)
        tn_var.assign_add(total_false - fp)
        fn_var.assign_add(total_true - tp)

    def result(self):
        if self._counts is None:
            return torch.zeros(())
        tp, fp, tn, fn = (v.value for v in self._counts)
        if self.curve == "PR" and self.summation_method == "interpolation":
            per_label = self._interpolate_pr(tp, fp, fn)
        else:
            recall = _divide_no_nan(tp, tp + fn)
            if self.curve == "ROC":
                x, y = _divide_no_nan(fp, fp + tn), recall
            else:
                x, y = recall, _divide_no_nan(tp, tp + fp)
            if self.summation_method == "interpolation":
                heights = (y[:-1] + y[1:]) / 2.0
            elif self.summation_method == "minoring":
                heights = torch.minimum(y[:-1], y[1:])
            else:
                heights = torch.maximum(y[:-1], y[1:])
            per_label = ((x[:-1] - x[1:]) * heights).sum(0)
        if not self.multi_label:
            return per_label
        if self.label_weights is None:
            return per_label.mean()
        w = self.label_weights.to(per_label.device)
        return _divide_no_nan((per_label * w).sum(), w.sum())

    @staticmethod
    def _interpolate_pr(tp, fp, fn):
        """Davis & Goadrich interpolation of the PR curve between thresholds, as Keras computes it."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, dp.clamp_min(0.0))
        intercept = tp[1:] - slope * p[1:]
        ratio = torch.where((p[:-1] > 0) & (p[1:] > 0), _divide_no_nan(p[:-1], p[1:].clamp_min(0.0)),
                            torch.ones_like(p[1:]))
        increments = _divide_no_nan(slope * (dtp + intercept * torch.log(ratio)), (tp[1:] + fn[1:]).clamp_min(0.0))
        return increments.sum(0)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
                "curve": self.curve, "summation_method": self.summation_method,
                "thresholds": self._init_thresholds, "multi_label": self.multi_label,
                "num_labels": self.num_labels,
                "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                "from_logits": self.from_logits}


_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """F-beta per class of one-hot (or multi-label) targets; ``average`` None (per class),
    'micro', 'macro' or 'weighted'. ``threshold`` None marks each row's highest score."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name, dtype)
        owner = type(self).__name__
        if average not in _AVERAGES:
            raise ValueError(f"{owner}: argument `average` must be None, 'micro', 'macro' or 'weighted', "
                             f"got {average!r}.")
        if not _is_number(beta) or float(beta) <= 0:
            raise ValueError(f"{owner}: argument `beta` must be a number > 0, got {beta!r}.")
        if threshold is not None and (not _is_number(threshold) or not 0 < float(threshold) <= 1):
            raise ValueError(f"{owner}: argument `threshold` must be a number in (0, 1] or None, got {threshold!r}.")
        self.average, self.beta = average, float(beta)
        self.threshold = None if threshold is None else float(threshold)
        self._counts = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, sample_weight = tensors(y_true, y_pred, sample_weight)
        if y_pred.dim() != 2 or y_true.shape != y_pred.shape:
            raise ValueError(f"{type(self).__name__} expects y_true and y_pred of the same shape (batch, classes), "
                             f"got {tuple(y_true.shape)} and {tuple(y_pred.shape)}.")
        if self._counts is None:
            self._counts = [self.add_variable(y_pred.shape[-1], name=n) for n in
                            ("true_positives", "false_positives", "false_negatives", "intermediate_weights")]
        if self.threshold is None:
            top = y_pred.amax(dim=-1, keepdim=True)
            predicted = ((y_pred >= top) & (y_pred.abs() > 1e-9)).float()
        else:
            predicted = (y_pred > self.threshold).float()
        w = 1.0 if sample_weight is None else sample_weight.reshape(-1, 1)
        tp, fp, fn, weights = self._counts
        tp.assign_add((predicted * y_true * w).sum(0))
        fp.assign_add((predicted * (1.0 - y_true) * w).sum(0))
        fn.assign_add(((1.0 - predicted) * y_true * w).sum(0))
        weights.assign_add((y_true * w).sum(0))

    def result(self):
        if self._counts is None:
            return torch.zeros(())
        tp, fp, fn, weights = (v.value for v in self._counts)
        if self.average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        eps, b2 = epsilon(), self.beta ** 2
        precision = tp / (tp + fp + eps)
        recall = tp / (tp + fn + eps)
        score = (1.0 + b2) * precision * recall / (b2 * precision + recall + eps)
        if self.average == "weighted":
            return (score * weights / (weights.sum() + eps)).sum()
        if self.average is not None:
            return score.mean()
        return score

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """F1 (beta = 1) per class or averaged (see ``FBetaScore``)."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average, 1.0, threshold, name, dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
