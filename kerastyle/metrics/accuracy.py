"""Accuracy metrics: exact match, binary (threshold), categorical, sparse, and top-k.

Each is the mean over samples of Keras's per-sample function; ``accuracy`` as a string in
``compile`` becomes the one matching the loss (see ``kerastyle.metrics.get``).
"""

from __future__ import annotations

import torch

from ..losses.loss import functional
from .metric import _Builtin


def _accuracy(y_true, y_pred):
    return (y_true == y_pred).float()


def _binary_accuracy(y_true, y_pred, threshold=0.5):
    return (y_true == (y_pred > threshold).to(y_true.dtype)).float().mean(dim=-1)


def _categorical_accuracy(y_true, y_pred):
    return (y_true.argmax(dim=-1) == y_pred.argmax(dim=-1)).float()


def _labels(y_true, y_pred):
    """Integer labels of shape ``y_pred.shape[:-1]`` (a trailing size-1 axis dropped)."""
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return y_true.long()


def _sparse_categorical_accuracy(y_true, y_pred):
    return (y_pred.argmax(dim=-1) == _labels(y_true, y_pred)).float()


def _in_top_k(labels, y_pred, k):
    """True where the label's score is at least the k-th largest (ties count as in, as Keras)."""
    if k >= y_pred.shape[-1]:
        return torch.ones(labels.shape, dtype=torch.bool, device=y_pred.device)
    kth = y_pred.topk(k, dim=-1).values[..., -1]
    return y_pred.gather(-1, labels.unsqueeze(-1)).squeeze(-1) >= kth


def _top_k_categorical_accuracy(y_true, y_pred, k=5):
    return _in_top_k(y_true.argmax(dim=-1), y_pred, k).float()


def _sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    return _in_top_k(_labels(y_true, y_pred), y_pred, k).float()


def _shape_accuracy(y_true, y_pred):
    """Keras 2's rule for 'accuracy' when the loss does not say: one output column -> binary,
    integer labels (lower rank or width 1) -> sparse, else categorical."""
    if y_pred.shape[-1] == 1:
        return _binary_accuracy(y_true if y_true.dim() == y_pred.dim() else y_true.unsqueeze(-1), y_pred)
    if y_true.dim() < y_pred.dim() or y_true.shape[-1] == 1:
        return _sparse_categorical_accuracy(y_true, y_pred)
    return _categorical_accuracy(y_true, y_pred)


accuracy = functional(_accuracy, "accuracy")
binary_accuracy = functional(_binary_accuracy, "binary_accuracy")
categorical_accuracy = functional(_categorical_accuracy, "categorical_accuracy")
sparse_categorical_accuracy = functional(_sparse_categorical_accuracy, "sparse_categorical_accuracy")
top_k_categorical_accuracy = functional(_top_k_categorical_accuracy, "top_k_categorical_accuracy")
sparse_top_k_categorical_accuracy = functional(_sparse_top_k_categorical_accuracy, "sparse_top_k_categorical_accuracy")


def _check_k(k, owner):
    if isinstance(k, bool) or not hasattr(k, "__index__") or int(k) < 1:
        raise ValueError(f"{owner}: argument `k` must be a positive integer, got {k!r}.")
    return int(k)


class Accuracy(_Builtin):
    """How often ``y_pred`` equals ``y_true`` exactly."""
    fn = _accuracy

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name, dtype)


class BinaryAccuracy(_Builtin):
    fn = _binary_accuracy

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) and not hasattr(threshold, "item"):
            raise ValueError(f"BinaryAccuracy: argument `threshold` must be a number, got {threshold!r}.")
        super().__init__(name, dtype, threshold=float(threshold))


class CategoricalAccuracy(_Builtin):
    fn = _categorical_accuracy

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name, dtype)


class SparseCategoricalAccuracy(_Builtin):
    fn = _sparse_categorical_accuracy

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)


class TopKCategoricalAccuracy(_Builtin):
    fn = _top_k_categorical_accuracy

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name, dtype, k=_check_k(k, "TopKCategoricalAccuracy"))


class SparseTopKCategoricalAccuracy(_Builtin):
    fn = _sparse_top_k_categorical_accuracy

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(name, dtype, k=_check_k(k, "SparseTopKCategoricalAccuracy"))


class ShapeAccuracy(_Builtin):
    """'accuracy' for a loss that does not say which (mse, a custom loss): decided per update
    from the shapes, as Keras 2 does."""
    fn = _shape_accuracy

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name, dtype)
