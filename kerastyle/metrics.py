"""Training metrics, accumulated per epoch as (sum over samples) / (samples seen).

``batch_sum(y_true, y_pred)`` returns a 0-d tensor on the data's device, so the
fit loop adds it up without a host sync per batch. Metrics are unweighted, as
Keras's plain ``metrics=`` are.
"""

from __future__ import annotations

import math

import torch


class Metric:
    """Base class: a per-sample quantity averaged over the epoch."""

    #: True when the metric must see probabilities (not logits) on the fused path.
    needs_probabilities = True

    def __init__(self, name=None):
        self.name = name or type(self).__name__.lower()

    def per_sample(self, y_true, y_pred, logits=False):
        raise NotImplementedError

    def batch_sum(self, y_true, y_pred, logits=False):
        return self.per_sample(y_true, y_pred, logits).sum()

    # Stateful Keras interface (the trainer's): running sum and count over the epoch.
    def reset_state(self):
        self._total, self._count = 0.0, 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not hasattr(self, "_total"):
            self.reset_state()
        self._total = self._total + self.batch_sum(y_true, y_pred)
        self._count += y_pred.shape[0]

    def result(self):
        return float(self._total) / max(getattr(self, "_count", 0), 1)

    def __call__(self, y_true, y_pred):
        """Mean metric value for whole arrays (handy in tests and notebooks)."""
        y_pred = torch.as_tensor(y_pred, dtype=torch.float32)
        y_true = torch.as_tensor(y_true, dtype=torch.float32)
        return float(self.per_sample(y_true, y_pred).float().mean())

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class BinaryAccuracy(Metric):
    needs_probabilities = False

    def __init__(self, name="binary_accuracy", threshold=0.5):
        super().__init__(name)
        self.threshold = threshold
        self.logit_threshold = math.log(threshold / (1 - threshold))

    def per_sample(self, y_true, y_pred, logits=False):
        cut = self.logit_threshold if logits else self.threshold
        if y_true.dim() == y_pred.dim() - 1:
            y_true = y_true.unsqueeze(-1)
        return ((y_pred > cut) == (y_true > 0.5)).float().mean(dim=-1)


class CategoricalAccuracy(Metric):
    needs_probabilities = False

    def __init__(self, name="categorical_accuracy"):
        super().__init__(name)

    def per_sample(self, y_true, y_pred, logits=False):
        return (y_pred.argmax(dim=-1) == y_true.argmax(dim=-1)).float()


class SparseCategoricalAccuracy(Metric):
    needs_probabilities = False

    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(name)

    def per_sample(self, y_true, y_pred, logits=False):
        return (y_pred.argmax(dim=-1) == y_true.reshape(-1).long()).float()


class ShapeAccuracy(Metric):
    """'accuracy' for a loss that does not say (mse, custom): Keras 2's shape rule per batch.
    One output column -> binary; labels of lower rank or width 1 -> sparse; else categorical."""

    needs_probabilities = False

    def __init__(self, name="accuracy"):
        super().__init__(name)

    def per_sample(self, y_true, y_pred, logits=False):
        if y_pred.shape[-1] == 1:
            return self._binary.per_sample(y_true, y_pred, logits)
        if y_true.dim() < y_pred.dim() or y_true.shape[-1] == 1:
            return SparseCategoricalAccuracy.per_sample(self, y_true, y_pred, logits)
        return CategoricalAccuracy.per_sample(self, y_true, y_pred, logits)

    _binary = BinaryAccuracy()


class MeanSquaredError(Metric):
    def __init__(self, name="mean_squared_error"):
        super().__init__(name)

    def per_sample(self, y_true, y_pred, logits=False):
        if y_true.dim() == y_pred.dim() - 1:
            y_true = y_true.unsqueeze(-1)
        return (y_true - y_pred).square().mean(dim=-1)


class MeanAbsoluteError(Metric):
    def __init__(self, name="mean_absolute_error"):
        super().__init__(name)

    def per_sample(self, y_true, y_pred, logits=False):
        if y_true.dim() == y_pred.dim() - 1:
            y_true = y_true.unsqueeze(-1)
        return (y_true - y_pred).abs().mean(dim=-1)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
}
_ACCURACY_BY_LOSS_KIND = {
    "binary": BinaryAccuracy,
    "categorical": CategoricalAccuracy,
    "sparse": SparseCategoricalAccuracy,
}


def names() -> list[str]:
    return sorted([*_BY_NAME, "accuracy", "acc"])


def get(identifier, loss=None, output_units=None) -> Metric:
    """A Metric from a name or object. ``'accuracy'``/``'acc'`` become binary,
    categorical or sparse accuracy according to the loss (as Keras resolves them),
    keeping the name the user wrote as the history key."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            kind = getattr(loss, "kind", None)
            if kind not in _ACCURACY_BY_LOSS_KIND:
                if output_units is None:  # model not built yet: decide from the shapes, as Keras 2 does
                    return ShapeAccuracy(name=identifier)
                kind = "binary" if output_units == 1 else "categorical"
            return _ACCURACY_BY_LOSS_KIND[kind](name=identifier)
        if identifier in _BY_NAME:
            return _BY_NAME[identifier](name=identifier)
        raise ValueError(f"Unknown metric {identifier!r}. Valid names: {', '.join(names())}.")
    if callable(identifier):
        return MetricFunctionWrapper(identifier)
    raise TypeError(f"Argument `metrics` entries must be names, Metric objects or callables, "
                    f"got {identifier!r}.")


class MetricFunctionWrapper(Metric):
    """A user function ``fn(y_true, y_pred) -> per-sample values`` as a metric."""

    def __init__(self, fn, name=None):
        super().__init__(name or getattr(fn, "__name__", "metric"))
        self.fn = fn

    def per_sample(self, y_true, y_pred, logits=False):
        values = self.fn(y_true, y_pred)
        return values.reshape(-1).float() if values.dim() else values.reshape(1).float()
