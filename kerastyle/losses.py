"""Keras losses: per-sample functions plus ``Loss`` classes that reduce them.

Each loss works on probabilities exactly as Keras does (renormalise, clip to
``[EPSILON, 1 - EPSILON]``). When the model ends in the activation a loss can
absorb (softmax for categorical losses, sigmoid for binary ones), ``fit`` and
``evaluate`` hand the loss the pre-activation logits instead and call
``call_from_logits``: same value wherever Keras's clipping is inactive, no
overflow, and the exact ``p - y`` gradient.

A loss also knows what its targets look like (``kind``) and checks them once
per ``fit`` in ``prepare_targets``, so label encodings that do not match the
loss fail with a clear message instead of producing wrong numbers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

EPSILON = 1e-7  # keras.backend.epsilon()

REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)


def _clip(p):
    return p.clamp(EPSILON, 1.0 - EPSILON)


# -- per-sample functions (Keras's functional losses) ----------------------------
def mean_squared_error(y_true, y_pred):
    return (y_true - y_pred).square().mean(dim=-1)


def mean_absolute_error(y_true, y_pred):
    return (y_true - y_pred).abs().mean(dim=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none").mean(dim=-1)
    p = _clip(y_pred)
    return -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log()).mean(dim=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        return -(y_true * torch.log_softmax(y_pred, dim=-1)).sum(dim=-1)
    p = _clip(y_pred / y_pred.sum(dim=-1, keepdim=True))
    return -(y_true * p.log()).sum(dim=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    y_true = y_true.long().reshape(-1)
    if from_logits:
        return F.cross_entropy(y_pred, y_true, reduction="none")
    p = _clip(y_pred / y_pred.sum(dim=-1, keepdim=True))
    return F.nll_loss(p.log(), y_true, reduction="none")


# -- classes -----------------------------------------------------------------
class Loss:
    """Base class. Subclasses implement ``call`` (probabilities) and, when they can
    absorb an output activation, ``call_from_logits``.

    ``kind`` says what targets look like: ``'regression'``, ``'binary'``,
    ``'categorical'`` (one-hot or soft rows) or ``'sparse'`` (integer labels).
    ``logits_activation`` names the output activation whose input this loss can
    take instead of its output (``'softmax'``, ``'sigmoid'`` or None).
    """

    kind = "regression"
    logits_activation: str | None = None

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"Argument `reduction` must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduction!r}."
            )
        self.from_logits = bool(from_logits)
        self.reduction = reduction
        self.name = name or _default_name(type(self).__name__)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def call_from_logits(self, y_true, logits):
        raise NotImplementedError(f"{type(self).__name__} has no logits form.")

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        """``(loss, dloss/dout)`` of ``reduce(per_sample(y_true, out, logits), sample_weight)``,
        derived by hand (no autograd); used by the analytic engine.

        ``out`` holds logits when ``logits`` is True. Losses without an analytic
        form raise NotImplementedError, and ``fit(engine='auto')`` then uses autograd.
        """
        raise NotImplementedError(f"{type(self).__name__} has no analytic gradient.")

    def per_sample(self, y_true, y_pred, logits=False):
        """Per-sample losses ``(N,)``; ``logits=True`` when ``y_pred`` is pre-activation."""
        if logits or self.from_logits:
            return self.call_from_logits(y_true, y_pred)
        return self.call(y_true, y_pred)

    def reduce(self, values, sample_weight=None):
        """Keras reductions; the default divides by the batch size, not by sum(weights)."""
        if sample_weight is not None:
            weighted = values * sample_weight
        else:
            weighted = values
        if self.reduction in ("sum_over_batch_size", "mean"):
            return weighted.mean()
        if self.reduction == "sum":
            return weighted.sum()
        if self.reduction == "mean_with_sample_weight":
            total = sample_weight.sum() if sample_weight is not None else values.new_tensor(values.numel())
            return weighted.sum() / total.clamp_min(1e-12)
        return weighted

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Loss value for arrays or tensors, as ``keras.losses.X()(y_true, y_pred)``."""
        y_pred = torch.as_tensor(np.asarray(y_pred) if not torch.is_tensor(y_pred) else y_pred,
                                 dtype=torch.float32)
        y_true = torch.as_tensor(np.asarray(y_true) if not torch.is_tensor(y_true) else y_true,
                                 dtype=torch.float32, device=y_pred.device)
        if self.kind != "sparse" and y_true.dim() == y_pred.dim() - 1:
            y_true = y_true.unsqueeze(-1)
        if sample_weight is not None:
            sample_weight = torch.as_tensor(np.asarray(sample_weight), dtype=torch.float32,
                                            device=y_pred.device).reshape(-1)
        return self.reduce(self.per_sample(y_true, y_pred), sample_weight)

    # -- target checks (once per fit, never per batch) -----------------------
    def prepare_targets(self, y: torch.Tensor, output_shape: tuple, arg: str = "y") -> torch.Tensor:
        """Check ``y`` (a float tensor) against the model output and return it in the
        form the loss computes with. Raises ValueError naming the problem."""
        units = output_shape[-1]
        if self.kind == "sparse":
            return _sparse_targets(self, y, units, arg)
        if y.dim() == len(output_shape) - 1 and units == 1:
            y = y.unsqueeze(-1)
        if self.kind == "categorical" and units > 1 and (y.dim() == 1 or y.shape[-1] == 1):
            raise ValueError(
                f"Argument `{arg}` holds integer class labels (shape {tuple(y.shape)}), but loss "
                f"{self.name!r} expects one-hot rows of width {units}. Use "
                f"kerastyle.utils.to_categorical({arg}, {units}) or the loss "
                f"'sparse_categorical_crossentropy'."
            )
        if tuple(y.shape[1:]) != tuple(output_shape[1:]):
            raise ValueError(
                f"Argument `{arg}` has shape {tuple(y.shape)}, but the model outputs "
                f"{tuple(output_shape)}; loss {self.name!r} needs targets of shape (n, "
                f"{', '.join(str(d) for d in output_shape[1:])})."
            )
        if self.kind == "binary":
            low, high = float(y.min()), float(y.max())
            if low < 0 or high > 1:
                raise ValueError(
                    f"Argument `{arg}` has values in [{low:g}, {high:g}], but loss {self.name!r} "
                    f"expects targets in [0, 1]. For more than two classes use a softmax output "
                    f"with 'sparse_categorical_crossentropy'."
                )
        if self.kind == "categorical":
            if float(y.min()) < 0:
                raise ValueError(
                    f"Argument `{arg}` has negative values, but loss {self.name!r} expects one-hot "
                    f"(or probability) rows."
                )
        return y

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, "from_logits": self.from_logits}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _sparse_targets(loss, y, units, arg):
    if y.dim() == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dim() != 1:
        hint = (f" It looks one-hot encoded: use loss 'categorical_crossentropy', or pass "
                f"{arg}.argmax(axis=1).") if y.dim() == 2 and y.shape[1] == units else ""
        raise ValueError(
            f"Argument `{arg}` has shape {tuple(y.shape)}, but loss {loss.name!r} expects integer "
            f"class labels of shape (n,).{hint}"
        )
    if not torch.equal(y, y.round()):
        raise ValueError(f"Argument `{arg}` must hold integer class labels for loss {loss.name!r}; "
                         f"found non-integer values such as {float(y[y != y.round()][0]):g}.")
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= units:
        raise ValueError(
            f"Argument `{arg}` has labels in [{low}, {high}], but the model has {units} output "
            f"units, so labels must be in [0, {units - 1}]."
        )
    return y.long()


def _default_name(class_name: str) -> str:
    import re
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower().replace("crossentropy", "crossentropy")


class MeanSquaredError(Loss):
    def call(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    def call(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


class BinaryCrossentropy(Loss):
    kind = "binary"
    logits_activation = "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        super().__init__(from_logits, reduction, name or "binary_crossentropy")
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, False, self.label_smoothing)

    def call_from_logits(self, y_true, logits):
        return binary_crossentropy(y_true, logits, True, self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(Loss):
    kind = "categorical"
    logits_activation = "softmax"

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        super().__init__(from_logits, reduction, name or "categorical_crossentropy")
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, False, self.label_smoothing)

    def call_from_logits(self, y_true, logits):
        return categorical_crossentropy(y_true, logits, True, self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


class SparseCategoricalCrossentropy(Loss):
    kind = "sparse"
    logits_activation = "softmax"

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(from_logits, reduction, name or "sparse_categorical_crossentropy")

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, False)

    def call_from_logits(self, y_true, logits):
        return sparse_categorical_crossentropy(y_true, logits, True)


# name (and Keras aliases) -> class
ALIASES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
for _cls in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
             SparseCategoricalCrossentropy):
    ALIASES[_cls.__name__] = _cls


def get(identifier) -> Loss:
    """A ``Loss`` object from a name, a class, an instance or a function ``f(y_true, y_pred)``."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        if identifier not in ALIASES:
            raise ValueError(
                f"Unknown loss {identifier!r}. Valid names: {', '.join(sorted(ALIASES))}."
            )
        return ALIASES[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"Argument `loss` must be a name, a Loss or a callable, got {identifier!r}.")


class LossFunctionWrapper(Loss):
    """Wraps a user function ``fn(y_true, y_pred) -> per-sample or scalar tensor``."""

    def __init__(self, fn, name=None, reduction="sum_over_batch_size"):
        super().__init__(False, reduction, name or getattr(fn, "__name__", "custom_loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        values = self.fn(y_true, y_pred)
        return values if values.dim() > 0 else values.reshape(1)
