"""``MeanIoU``: intersection over union per class from a confusion matrix, averaged."""

from __future__ import annotations

import torch

from .metric import Metric, _divide_no_nan, tensors


class MeanIoU(Metric):
    """Mean over classes of ``tp / (tp + fp + fn)`` (classes never seen nor predicted left out).

    ``sparse_y_true``/``sparse_y_pred`` False mean one-hot targets / per-class scores, reduced by
    argmax along ``axis``; ``ignore_class`` drops pixels/samples of that true class, and ids outside
    ``[0, num_classes)`` are ignored (as Keras). Weights stay floats (Keras's int32 default
    truncates fractional weights).
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(name or "mean_io_u", dtype)
        if isinstance(num_classes, bool) or not hasattr(num_classes, "__index__") or num_classes < 1:
            raise ValueError(f"MeanIoU: argument `num_classes` must be a positive integer, got {num_classes!r}.")
        self.num_classes, self.ignore_class, self.axis = int(num_classes), ignore_class, int(axis)
        self.sparse_y_true, self.sparse_y_pred = bool(sparse_y_true), bool(sparse_y_pred)
        self.total_cm = self.add_variable((self.num_classes, self.num_classes), dtype="float64", name="total_cm")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, sample_weight = tensors(y_true, y_pred, sample_weight)
        if not self.sparse_y_true:
            y_true = y_true.argmax(dim=self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(dim=self.axis)
        labels, predictions = y_true.reshape(-1).long(), y_pred.reshape(-1).long()
        weights = torch.ones(labels.shape, dtype=torch.float64, device=labels.device) if sample_weight is None \
            else torch.broadcast_to(sample_weight.reshape(*sample_weight.shape, *([1] * (y_true.dim() -
                                    sample_weight.dim()))), y_true.shape).reshape(-1).double()
        if self.ignore_class is not None:
            keep = labels != self.ignore_class
            labels, predictions, weights = labels[keep], predictions[keep], weights[keep]
        k = self.num_classes
        inside = (labels >= 0) & (labels < k) & (predictions >= 0) & (predictions < k)  # others ignored, as Keras
        labels, predictions, weights = labels[inside], predictions[inside], weights[inside]
        cm = torch.bincount(labels * k + predictions, weights, k * k).reshape(k, k)
        self.total_cm.assign_add(cm)

    def result(self):
        cm = self.total_cm.value
        true_positives = cm.diagonal()
        denominator = cm.sum(0) + cm.sum(1) - true_positives
        valid = (denominator != 0).sum().to(cm.dtype)
        iou = _divide_no_nan(true_positives, denominator)
        return _divide_no_nan(iou.sum(), valid).float()

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}
