"""Cross-entropies (binary, categorical, sparse), Kullback-Leibler divergence and Poisson.

The cross-entropies absorb a sigmoid or softmax output (``call_from_logits``) and give the
analytic engine the fused ``p - y`` gradient; every loss here has Keras's per-sample function,
accepting arrays, lists and tensors under its public name.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .loss import _MEAN_REDUCTIONS, EPSILON, Loss, _clip, _reduce_for_gradient, _scale, functional
from .regression import ElementwiseLoss


def _bce(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none").mean(dim=-1)
    p = _clip(y_pred)
    return -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log()).mean(dim=-1)


def _cce(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        return -(y_true * torch.log_softmax(y_pred, dim=-1)).sum(dim=-1)
    p = _clip(y_pred / y_pred.sum(dim=-1, keepdim=True))
    return -(y_true * p.log()).sum(dim=-1)


def _scce(y_true, y_pred, from_logits=False):
    y_true = y_true.long().reshape(-1)
    if from_logits:
        return F.cross_entropy(y_pred, y_true, reduction="none")
    p = _clip(y_pred / y_pred.sum(dim=-1, keepdim=True))
    return F.nll_loss(p.log(), y_true, reduction="none")




def _kld(y_true, y_pred):
    y, p = y_true.clamp(EPSILON, 1.0), y_pred.clamp(EPSILON, 1.0)
    return (y * (y / p).log()).sum(dim=-1)


def _poisson_elements(y, out):
    """``out - y log(out + eps)`` and its derivative ``1 - y / (out + eps)``."""
    return out - y * (out + EPSILON).log(), 1.0 - y / (out + EPSILON)


def _poisson(y_true, y_pred):
    return _poisson_elements(y_true, y_pred)[0].mean(dim=-1)


binary_crossentropy = functional(_bce, "binary_crossentropy")
categorical_crossentropy = functional(_cce, "categorical_crossentropy")
sparse_categorical_crossentropy = functional(_scce, "sparse_categorical_crossentropy")
kl_divergence = functional(_kld, "kl_divergence")
poisson = functional(_poisson, "poisson")


def _ce_on_probabilities(y, out):
    """Per-sample ``-sum y log clip(out / sum(out))`` and its gradient in ``out``: the clip
    passes no gradient outside ``[EPSILON, 1 - EPSILON]``, and the renormalisation
    ``r = out / s`` gives ``dL/dout = (dL/dr - sum(dL/dr * r)) / s``."""
    total = out.sum(dim=-1, keepdim=True)
    r = out / total
    p = _clip(r)
    values = -(y * p.log()).sum(dim=-1)
    inside = (r >= EPSILON) & (r <= 1.0 - EPSILON)
    dr = torch.where(inside, -y / p, 0.0)
    return values, (dr - (dr * r).sum(dim=-1, keepdim=True)).div_(total)



class BinaryCrossentropy(Loss):
    kind = "binary"
    logits_activation = "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        super().__init__(from_logits, reduction, name or "binary_crossentropy")
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        return _bce(y_true, y_pred, False, self.label_smoothing)

    def call_from_logits(self, y_true, logits):
        return _bce(y_true, logits, True, self.label_smoothing)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        """Logits: ``(sigmoid(z) - y) / D`` (sigmoid + BCE fused). Probabilities:
        ``((1 - y) / (1 - p) - y / p) / D`` with ``p = clip(out)``, zero where clipped."""
        y = y_true
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if logits or self.from_logits:
            values = F.binary_cross_entropy_with_logits(out, y, reduction="none").mean(dim=-1)
            grad = torch.sigmoid(out).sub_(y)
        else:
            p = _clip(out)
            values = -(y * p.log() + (1.0 - y) * (1.0 - p).log()).mean(dim=-1)
            inside = (out >= EPSILON) & (out <= 1.0 - EPSILON)
            grad = torch.where(inside, (1.0 - y) / (1.0 - p) - y / p, 0.0)
        loss, coef = _reduce_for_gradient(self, values, sample_weight)
        return loss, _scale(grad, coef, 1.0 / out.shape[-1])

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(Loss):
    kind = "categorical"
    logits_activation = "softmax"

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        super().__init__(from_logits, reduction, name or "categorical_crossentropy")
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        return _cce(y_true, y_pred, False, self.label_smoothing)

    def call_from_logits(self, y_true, logits):
        return _cce(y_true, logits, True, self.label_smoothing)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        """Logits: ``softmax(z) * sum(y) - y`` (``p - y`` for rows summing to 1; softmax + CE
        fused). Probabilities: through the renormalisation and the clip."""
        y = y_true
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + self.label_smoothing / y.shape[-1]
        if logits or self.from_logits:
            logp = torch.log_softmax(out, dim=-1)
            values = -(y * logp).sum(dim=-1)
            grad = logp.exp_().mul_(y.sum(dim=-1, keepdim=True)).sub_(y)
        else:
            values, grad = _ce_on_probabilities(y, out)
        loss, coef = _reduce_for_gradient(self, values, sample_weight)
        return loss, _scale(grad, coef)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


class SparseCategoricalCrossentropy(Loss):
    kind = "sparse"
    logits_activation = "softmax"

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(from_logits, reduction, name or "sparse_categorical_crossentropy")

    def call(self, y_true, y_pred):
        return _scce(y_true, y_pred, False)

    def call_from_logits(self, y_true, logits):
        return _scce(y_true, logits, True)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        """Logits: ``softmax(z) - onehot(y)`` (softmax + CE fused). Probabilities: as the
        categorical loss on one-hot rows."""
        labels = y_true if y_true.dtype == torch.int64 else y_true.long()
        if labels.dim() != 1:
            labels = labels.reshape(-1)
        if logits or self.from_logits:
            logp = torch.log_softmax(out, dim=-1)
            if sample_weight is None and self.reduction in _MEAN_REDUCTIONS:  # the training hot path
                loss, coef = F.nll_loss(logp, labels), 1.0 / labels.numel()
            else:
                loss, coef = _reduce_for_gradient(self, F.nll_loss(logp, labels, reduction="none"), sample_weight)
            if isinstance(coef, float):  # (p - onehot) * coef in three ops
                grad = logp.exp_().mul_(coef).scatter_(1, labels.unsqueeze(1), -coef, reduce="add")
                return loss, grad
            return loss, _scale(logp.exp_().scatter_(1, labels.unsqueeze(1), -1.0, reduce="add"), coef)
        onehot = torch.zeros_like(out).scatter_(1, labels.unsqueeze(1), 1.0)
        values, grad = _ce_on_probabilities(onehot, out)
        loss, coef = _reduce_for_gradient(self, values, sample_weight)
        return loss, _scale(grad, coef)



class KLDivergence(Loss):
    """``sum y log(y / p)`` with both clipped to ``[eps, 1]`` (Keras's name ``'kl_divergence'``)."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence"):
        super().__init__(False, reduction, name)

    def call(self, y_true, y_pred):
        return _kld(y_true, y_pred)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        """``-y / p`` inside the clip range, zero outside."""
        y, p = y_true.clamp(EPSILON, 1.0), out.clamp(EPSILON, 1.0)
        values = (y * (y / p).log()).sum(dim=-1)
        grad = torch.where((out >= EPSILON) & (out <= 1.0), -y / p, 0.0)
        loss, coef = _reduce_for_gradient(self, values, sample_weight)
        return loss, _scale(grad, coef)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class Poisson(ElementwiseLoss):
    def __init__(self, reduction="sum_over_batch_size", name="poisson"):
        super().__init__(False, reduction, name)

    def elements(self, y_true, out):
        return _poisson_elements(y_true, out)
