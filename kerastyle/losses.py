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

    def adapt(self, y: torch.Tensor) -> None:
        """Called once per ``fit`` with the prepared training targets (not validation ones); losses
        whose parameters come from the training labels (``alpha='balanced'``) set them here."""

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


# -- analytic gradients (used by kerastyle.backprop) -----------------------------------
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")  # all = mean without weights


def _reduce_for_gradient(loss, values, sample_weight):
    """``(reduce(values, w), c)`` with ``c = d reduce / d values``: a float when every sample
    weighs the same (no per-batch tensor work), else a tensor shaped like ``values``.
    Reduction ``'none'`` gives the per-sample losses and ``c`` for their (weighted) sum."""
    reduction = loss.reduction
    if sample_weight is None:
        if reduction in _MEAN_REDUCTIONS:
            return values.mean(), 1.0 / values.numel()
        return (values.sum() if reduction == "sum" else values), 1.0
    weights = sample_weight.to(values.dtype)
    weighted = values * weights
    if reduction in ("sum_over_batch_size", "mean"):
        return weighted.mean(), weights / weighted.numel()
    if reduction == "sum":
        return weighted.sum(), weights
    if reduction == "mean_with_sample_weight":
        total = weights.sum().clamp_min(1e-12)
        return weighted.sum() / total, weights / total
    return weighted, weights


def _scale(grad, coef, factor=1.0):
    """``grad`` (one row per sample, modified in place) times ``coef * factor``."""
    if isinstance(coef, float):
        return grad.mul_(coef * factor) if coef * factor != 1.0 else grad
    return grad.mul_((coef * factor).unsqueeze(-1))


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


class MeanSquaredError(Loss):
    def call(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        """d/dout of ``mean((out - y)^2)`` over the last axis: ``2 (out - y) / D``."""
        diff = out - y_true
        loss, coef = _reduce_for_gradient(self, diff.square().mean(dim=-1), sample_weight)
        return loss, _scale(diff, coef, 2.0 / out.shape[-1])


class MeanAbsoluteError(Loss):
    def call(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        """d/dout of ``mean(|out - y|)``: ``sign(out - y) / D`` (0 where equal, as autograd)."""
        diff = out - y_true
        loss, coef = _reduce_for_gradient(self, diff.abs().mean(dim=-1), sample_weight)
        return loss, _scale(diff.sign_(), coef, 1.0 / out.shape[-1])


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
        return categorical_crossentropy(y_true, y_pred, False, self.label_smoothing)

    def call_from_logits(self, y_true, logits):
        return categorical_crossentropy(y_true, logits, True, self.label_smoothing)

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
        return sparse_categorical_crossentropy(y_true, y_pred, False)

    def call_from_logits(self, y_true, logits):
        return sparse_categorical_crossentropy(y_true, logits, True)

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


# -- losses for imbalanced classes: focal and balanced cross-entropy ---------------------
# Lecture 001: balanced E = -alpha_c log p_c, focal E = -(1 - p_c)^gamma log p_c and the
# alpha-balanced focal loss E = -alpha_c (1 - p_c)^gamma log p_c. The focal classes match Keras 3
# (names, defaults, clipping); the balanced ones are the focal ones with gamma = 0 and
# ``alpha='balanced'`` (``alpha_i = n / (k * n_i)`` from the training labels, set by ``adapt``).
def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_gamma(gamma, owner):
    if not _is_number(gamma) or not np.isfinite(gamma) or gamma < 0:
        raise ValueError(f"Argument `gamma` of {owner} must be a finite number >= 0, got {gamma!r}.")
    return float(gamma)


def _check_smoothing(label_smoothing, owner):
    if not _is_number(label_smoothing) or not 0 <= label_smoothing <= 1:
        raise ValueError(f"Argument `label_smoothing` of {owner} must be a number in [0, 1], "
                         f"got {label_smoothing!r}.")
    return float(label_smoothing)


def _check_alpha(alpha, owner):
    """``alpha`` as given, validated: ``'balanced'``, a number, a per-class sequence or ``{class: weight}``."""
    def weight(value, where):
        if not _is_number(value) or not np.isfinite(value) or value < 0:
            raise ValueError(f"Argument `alpha` of {owner} must hold finite weights >= 0, got {value!r}{where}.")
        return float(value)

    if isinstance(alpha, str):
        if alpha != "balanced":
            raise ValueError(f"Argument `alpha` of {owner} must be a number, a per-class list, a dict "
                             f"{{class: weight}} or 'balanced', got {alpha!r}.")
        return alpha
    if _is_number(alpha):
        return weight(alpha, "")
    if isinstance(alpha, dict):
        out = {}
        for key, value in alpha.items():
            if not isinstance(key, (int, np.integer)) or isinstance(key, bool) or key < 0:
                raise ValueError(f"Argument `alpha` of {owner} must have integer class keys >= 0, got key {key!r}.")
            out[int(key)] = weight(value, f" for class {key}")
        if not out:
            raise ValueError(f"Argument `alpha` of {owner} is an empty dict; give at least one class weight.")
        return out
    values = alpha.detach().cpu().numpy() if torch.is_tensor(alpha) else np.asarray(alpha, dtype=object)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"Argument `alpha` of {owner} must be a number, a non-empty 1-D per-class list, a dict "
                         f"or 'balanced', got {alpha!r}.")
    return [weight(v.item() if hasattr(v, "item") else v, f" at index {i}") for i, v in enumerate(values)]


def _alpha_table(alpha, classes, owner, device):
    """Per-class weights ``(classes,)`` from a validated list or dict (classes not in a dict weigh 1.0)."""
    if isinstance(alpha, list):
        if len(alpha) != classes:
            raise ValueError(f"Argument `alpha` of {owner} has {len(alpha)} per-class weights, but there are "
                             f"{classes} classes (the model's output units); give exactly {classes}.")
        return torch.tensor(alpha, dtype=torch.float32, device=device)
    table = torch.ones(classes, dtype=torch.float32)
    for key, value in alpha.items():
        if key >= classes:
            raise ValueError(f"Argument `alpha` of {owner} has class key {key}, but there are {classes} classes "
                             f"(keys must be in [0, {classes - 1}]).")
        table[key] = value
    return table.to(device)


def _reduced_gradient(loss, values, grads, sample_weight):
    """``(reduce(values, w), d reduce / d out)`` given per-sample values ``(N,)`` and their
    gradients ``grads`` (``N`` rows); ``'none'`` returns the gradient of the weighted sum."""
    scale = torch.ones_like(values) if sample_weight is None else sample_weight.to(values.dtype)
    if loss.reduction in ("sum_over_batch_size", "mean"):
        scale = scale / values.numel()
    elif loss.reduction == "mean_with_sample_weight":
        total = sample_weight.sum() if sample_weight is not None else values.new_tensor(values.numel())
        scale = scale / total.clamp_min(1e-12)
    return loss.reduce(values, sample_weight), grads * scale.reshape(-1, *([1] * (grads.dim() - 1)))


_TINY = 1e-30  # focal factors use max(q, _TINY)^gamma: same values, finite gradients for gamma < 1 at q = 0


def _pow(base, gamma):
    """``max(base, _TINY)^gamma``: the focal modulating factor (``0^0 = 1``)."""
    return base.clamp_min(_TINY).pow(gamma)


def _dpow(base, gamma):
    """Derivative of ``_pow`` in ``base`` (zero below ``_TINY``, as autograd gives; finite for any gamma >= 0)."""
    return torch.where(base >= _TINY, gamma * base.clamp_min(_TINY).pow(gamma - 1.0), torch.zeros_like(base))


def _categorical_focal(y, logp, q, alpha, gamma):
    return (alpha * _pow(q, gamma) * (-y * logp)).sum(dim=-1)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0):
    """Per-sample ``sum_c alpha_c (1 - p_c)^gamma (-y_c log p_c)`` (Keras 3's function; ``alpha`` a
    number or a per-class sequence)."""
    alpha = alpha if _is_number(alpha) else torch.as_tensor(alpha, dtype=y_pred.dtype, device=y_pred.device)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        logp = torch.log_softmax(y_pred, dim=-1)
        return _categorical_focal(y_true, logp, -torch.expm1(logp), alpha, gamma)
    p = _clip(y_pred / y_pred.sum(dim=-1, keepdim=True))
    return _categorical_focal(y_true, p.log(), 1.0 - p, alpha, gamma)


def sparse_categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False):
    """Per-sample ``alpha_y (1 - p_y)^gamma (-log p_y)`` for integer labels ``y``."""
    labels = y_true.long().reshape(-1, 1)
    if not _is_number(alpha):
        alpha = torch.as_tensor(alpha, dtype=y_pred.dtype, device=y_pred.device)[labels[:, 0]]
    if from_logits:
        logp = torch.log_softmax(y_pred, dim=-1).gather(-1, labels)[:, 0]
        q = -torch.expm1(logp)
    else:
        p = _clip(y_pred / y_pred.sum(dim=-1, keepdim=True)).gather(-1, labels)[:, 0]
        logp, q = p.log(), 1.0 - p
    return alpha * _pow(q, gamma) * -logp


def _binary_class_weights(y, apply_class_balancing, alpha):
    """Per-element ``alpha_1 y + alpha_0 (1 - y)``; a number alpha means ``(alpha_0, alpha_1) = (1 - alpha, alpha)``."""
    if not apply_class_balancing:
        return 1.0
    if _is_number(alpha):
        return y * alpha + (1.0 - y) * (1.0 - alpha)
    return y * alpha[1] + (1.0 - y) * alpha[0]


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0):
    """Per-sample mean over the last axis of ``w (1 - p_t)^gamma bce`` (Keras 3's function), with
    ``p_t = y p + (1 - y)(1 - p)`` and ``w = alpha y + (1 - alpha)(1 - y)`` only if
    ``apply_class_balancing`` (``alpha`` may also be ``(alpha_0, alpha_1)``)."""
    if not _is_number(alpha):
        alpha = torch.as_tensor(alpha, dtype=y_pred.dtype, device=y_pred.device)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
        m = y_true * torch.sigmoid(-y_pred) + (1.0 - y_true) * torch.sigmoid(y_pred)
    else:
        p = _clip(y_pred)
        bce = -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log())
        m = y_true * (1.0 - y_pred) + (1.0 - y_true) * y_pred  # 1 - p_t, unclipped as in Keras
    focal = _pow(m, gamma) * bce
    return (_binary_class_weights(y_true, apply_class_balancing, alpha) * focal).mean(dim=-1)


def _class_key(key):
    """A class key from a config: ints stay, JSON's decimal strings become ints."""
    return int(key) if isinstance(key, str) and key.isdigit() else key


class _AlphaWeightedLoss(Loss):
    """Shared by the focal and balanced losses: ``alpha`` (a number, per-class weights, or
    ``'balanced'``, computed by ``adapt`` once per fit) resolved once per (classes, device)."""

    def __init__(self, alpha, gamma, from_logits, label_smoothing, reduction, name):
        super().__init__(from_logits, reduction, name)
        owner = type(self).__name__
        self.alpha = _check_alpha(alpha, owner)
        self.gamma = _check_gamma(gamma, owner)
        self.label_smoothing = _check_smoothing(label_smoothing, owner)
        self._adapted = None  # {class: weight} from the last adapt() when alpha == 'balanced'
        self._tables = {}

    def _classes(self, units):
        return units

    def _class_labels(self, y):
        """Integer class labels of prepared targets, for the balanced weights."""
        return y.argmax(dim=-1)

    def adapt(self, y):
        """With ``alpha='balanced'``: ``alpha_i = n / (k * n_i)`` from the training targets ``y``
        (``kerastyle.utils.compute_class_weight``; classes absent from ``y`` weigh 1.0)."""
        if self.alpha == "balanced":
            from .utils import compute_class_weight
            self._adapted = compute_class_weight(self._class_labels(y))
            self._tables = {}

    def _alpha(self, units, device):
        """A number, or the per-class weight tensor on ``device`` (built once, then cached)."""
        if not isinstance(self.alpha, (list, dict, str)):
            return self.alpha
        key = (self._classes(units), str(device))
        table = self._tables.get(key)
        if table is None:
            alpha = self.alpha
            if alpha == "balanced":
                if self._adapted is None:
                    raise ValueError(f"Loss {self.name!r} has alpha='balanced', which is computed from the "
                                     f"training labels by fit(); call fit() or loss.adapt(y_train) first, or "
                                     f"pass per-class weights as `alpha`.")
                alpha = self._adapted
            table = self._tables[key] = _alpha_table(alpha, key[0], type(self).__name__, device)
        return table

    def prepare_targets(self, y, output_shape, arg="y"):
        y = super().prepare_targets(y, output_shape, arg)
        if self.alpha != "balanced" or self._adapted is not None:
            self._alpha(output_shape[-1], y.device)  # per-class alpha vs number of classes: fail at fit time
        return y

    def get_config(self):
        alpha = self.alpha if self.alpha == "balanced" or _is_number(self.alpha) else type(self.alpha)(self.alpha)
        config = {**super().get_config(), "alpha": alpha, "gamma": self.gamma,
                  "label_smoothing": self.label_smoothing}
        if self._adapted is not None:
            config["fitted_alpha"] = dict(self._adapted)  # the 'balanced' weights of the last fit
        return config

    @classmethod
    def from_config(cls, config):
        """Rebuild from ``get_config()``, also after a JSON round trip (class keys become strings)."""
        config = dict(config)
        fitted = config.pop("fitted_alpha", None)
        if isinstance(config.get("alpha"), dict):
            config["alpha"] = {_class_key(k): v for k, v in config["alpha"].items()}
        loss = cls(**config)
        if fitted is not None:
            loss._adapted = {_class_key(k): float(v) for k, v in fitted.items()}
        return loss

    def __repr__(self):
        return f"{type(self).__name__}(alpha={self.alpha!r}, gamma={self.gamma!r}, name={self.name!r})"


class CategoricalFocalCrossentropy(_AlphaWeightedLoss):
    """Keras 3's focal loss for one-hot targets: ``sum_c alpha_c (1 - p_c)^gamma (-y_c log p_c)``.

    ``alpha`` is a number (Keras), a per-class list/dict or ``'balanced'``; ``gamma = 0`` with
    ``alpha = 1`` is plain categorical cross-entropy.
    """

    kind = "categorical"
    logits_activation = "softmax"

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 reduction="sum_over_batch_size", name=None):
        super().__init__(alpha, gamma, from_logits, label_smoothing, reduction,
                         name or "categorical_focal_crossentropy")

    def _smooth(self, y):
        ls = self.label_smoothing
        return y * (1.0 - ls) + ls / y.shape[-1] if ls else y

    def call(self, y_true, y_pred):
        p = _clip(y_pred / y_pred.sum(dim=-1, keepdim=True))
        alpha = self._alpha(y_pred.shape[-1], y_pred.device)
        return _categorical_focal(self._smooth(y_true), p.log(), 1.0 - p, alpha, self.gamma)

    def call_from_logits(self, y_true, logits):
        logp = torch.log_softmax(logits, dim=-1)
        alpha = self._alpha(logits.shape[-1], logits.device)
        return _categorical_focal(self._smooth(y_true), logp, -torch.expm1(logp), alpha, self.gamma)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        y, g = self._smooth(y_true), self.gamma
        alpha = self._alpha(out.shape[-1], out.device)
        if logits or self.from_logits:
            # p = softmax(z), x = -log p, q = 1 - p, L = sum_c alpha_c y_c q_c^g x_c. With
            # h_c = p_c dL/dp_c = -alpha_c y_c (p_c x_c d(q^g)/dq + q_c^g):  dL/dz_j = h_j - p_j sum_c h_c.
            logp = torch.log_softmax(out, dim=-1)
            p, x, q = logp.exp(), -logp, -torch.expm1(logp)
            mod = _pow(q, g)
            values = (alpha * mod * y * x).sum(dim=-1)
            h = -alpha * y * (p * x * _dpow(q, g) + mod)
            return _reduced_gradient(self, values, h - p * h.sum(dim=-1, keepdim=True), sample_weight)
        # r = o / sum(o), p = clip(r): dL/dp_c = -alpha_c y_c (x d(q^g)/dq + q^g / p), zero where clipped;
        # dL/do_j = (dL/dr_j - sum_c dL/dr_c r_c) / sum(o).
        total = out.sum(dim=-1, keepdim=True)
        r = out / total
        p = _clip(r)
        x, q = -p.log(), 1.0 - p
        mod = _pow(q, g)
        values = (alpha * mod * y * x).sum(dim=-1)
        inside = (r >= EPSILON) & (r <= 1.0 - EPSILON)
        dp = torch.where(inside, -alpha * y * (x * _dpow(q, g) + mod / p), torch.zeros_like(p))
        grads = (dp - (dp * r).sum(dim=-1, keepdim=True)) / total
        return _reduced_gradient(self, values, grads, sample_weight)


class SparseCategoricalFocalCrossentropy(_AlphaWeightedLoss):
    """Focal loss for integer labels: ``alpha_y (1 - p_y)^gamma (-log p_y)``; same values as
    ``CategoricalFocalCrossentropy`` on the one-hot labels (no label smoothing, as Keras's sparse loss)."""

    kind = "sparse"
    logits_activation = "softmax"

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(alpha, gamma, from_logits, 0.0, reduction, name or "sparse_categorical_focal_crossentropy")

    def _class_labels(self, y):
        return y

    def get_config(self):
        config = super().get_config()
        del config["label_smoothing"]
        return config

    def _gathered(self, y_true, out):
        labels = y_true.long().reshape(-1, 1)
        alpha = self._alpha(out.shape[-1], out.device)
        return labels, (alpha if _is_number(alpha) else alpha[labels[:, 0]])

    def call(self, y_true, y_pred):
        labels, alpha = self._gathered(y_true, y_pred)
        p = _clip(y_pred / y_pred.sum(dim=-1, keepdim=True)).gather(-1, labels)[:, 0]
        return alpha * _pow(1.0 - p, self.gamma) * -p.log()

    def call_from_logits(self, y_true, logits):
        labels, alpha = self._gathered(y_true, logits)
        logp = torch.log_softmax(logits, dim=-1).gather(-1, labels)[:, 0]
        return alpha * _pow(-torch.expm1(logp), self.gamma) * -logp

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        labels, alpha = self._gathered(y_true, out)
        g = self.gamma
        if logits or self.from_logits:  # as the categorical case with y one-hot: only h_y is non-zero
            logp_all = torch.log_softmax(out, dim=-1)
            p_all = logp_all.exp()
            logp = logp_all.gather(-1, labels)[:, 0]
            p, x, q = logp.exp(), -logp, -torch.expm1(logp)
            mod = _pow(q, g)
            h = -alpha * (p * x * _dpow(q, g) + mod)
            grads = -p_all * h[:, None]
            grads.scatter_add_(-1, labels, h[:, None])
            return _reduced_gradient(self, alpha * mod * x, grads, sample_weight)
        total = out.sum(dim=-1, keepdim=True)
        r_all = out / total
        r = r_all.gather(-1, labels)[:, 0]
        p = _clip(r)
        x, q = -p.log(), 1.0 - p
        mod = _pow(q, g)
        inside = (r >= EPSILON) & (r <= 1.0 - EPSILON)
        dp = torch.where(inside, -alpha * (x * _dpow(q, g) + mod / p), torch.zeros_like(p))
        grads = -(dp * r)[:, None].expand_as(out).clone()
        grads.scatter_add_(-1, labels, dp[:, None])
        return _reduced_gradient(self, alpha * mod * x, grads / total, sample_weight)


class BinaryFocalCrossentropy(_AlphaWeightedLoss):
    """Keras 3's binary focal loss: mean over the last axis of ``w (1 - p_t)^gamma bce``.

    ``w = alpha y + (1 - alpha)(1 - y)`` only when ``apply_class_balancing`` (as Keras; alpha is
    otherwise unused). Per-class ``alpha`` (``[alpha_0, alpha_1]``, a dict or ``'balanced'``) needs
    ``apply_class_balancing=True``.
    """

    kind = "binary"
    logits_activation = "sigmoid"

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 reduction="sum_over_batch_size", name=None):
        super().__init__(alpha, gamma, from_logits, label_smoothing, reduction, name or "binary_focal_crossentropy")
        owner = type(self).__name__
        if not isinstance(apply_class_balancing, bool):
            raise ValueError(f"Argument `apply_class_balancing` of {owner} must be True or False, "
                             f"got {apply_class_balancing!r}.")
        self.apply_class_balancing = apply_class_balancing
        if _is_number(self.alpha) and self.alpha > 1:
            raise ValueError(f"Argument `alpha` of {owner} must be in [0, 1] as a number (class 0 weighs "
                             f"1 - alpha), got {alpha!r}; give [alpha_0, alpha_1] for other weights.")
        if isinstance(self.alpha, list) and len(self.alpha) != 2 or (
                isinstance(self.alpha, dict) and not set(self.alpha) <= {0, 1}):
            raise ValueError(f"Argument `alpha` of {owner} must weigh the classes 0 and 1 (a number, "
                             f"[alpha_0, alpha_1], a dict with keys 0/1 or 'balanced'), got {alpha!r}.")
        if not apply_class_balancing and not _is_number(self.alpha):
            raise ValueError(f"Argument `alpha`={alpha!r} of {owner} would be ignored: per-class weights need "
                             f"apply_class_balancing=True.")

    def _classes(self, units):
        return 2  # the classes are 0 and 1, whatever the number of sigmoid units

    def _class_labels(self, y):
        return y.round().long().reshape(-1)

    def _parts(self, y_true, out):
        ls = self.label_smoothing
        y = y_true * (1.0 - ls) + 0.5 * ls if ls else y_true
        alpha = self._alpha(out.shape[-1], out.device)
        return y, _binary_class_weights(y, self.apply_class_balancing, alpha)

    def call(self, y_true, y_pred):
        y, w = self._parts(y_true, y_pred)
        p = _clip(y_pred)
        bce = -(y * p.log() + (1.0 - y) * (1.0 - p).log())
        m = y * (1.0 - y_pred) + (1.0 - y) * y_pred
        return (w * _pow(m, self.gamma) * bce).mean(dim=-1)

    def call_from_logits(self, y_true, logits):
        y, w = self._parts(y_true, logits)
        bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
        m = y * torch.sigmoid(-logits) + (1.0 - y) * torch.sigmoid(logits)
        return (w * _pow(m, self.gamma) * bce).mean(dim=-1)

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        y, w = self._parts(y_true, out)
        g, units = self.gamma, out.shape[-1]
        if logits or self.from_logits:
            # s = sigmoid(z), m = 1 - p_t = y (1 - s) + (1 - y) s: dm/dz = (1 - 2y) s (1 - s),
            # dbce/dz = s - y (exact, no clipping).
            s, s_bar = torch.sigmoid(out), torch.sigmoid(-out)
            bce = F.binary_cross_entropy_with_logits(out, y, reduction="none")
            m = y * s_bar + (1.0 - y) * s
            dm, dbce = (1.0 - 2.0 * y) * s * s_bar, s - y
        else:
            # m = y (1 - p) + (1 - y) p with p unclipped (Keras): dm/dp = 1 - 2y;
            # dbce/dp = (1 - y)/(1 - p) - y/p inside the clip range, else 0.
            p = _clip(out)
            bce = -(y * p.log() + (1.0 - y) * (1.0 - p).log())
            m = y * (1.0 - out) + (1.0 - y) * out
            inside = (out >= EPSILON) & (out <= 1.0 - EPSILON)
            dm = 1.0 - 2.0 * y
            dbce = torch.where(inside, (1.0 - y) / (1.0 - p) - y / p, torch.zeros_like(p))
        mod = _pow(m, g)
        d = _dpow(m, g) * dm * bce + mod * dbce
        values = (w * mod * bce).mean(dim=-1)
        return _reduced_gradient(self, values, w * d / units, sample_weight)

    def get_config(self):
        return {**super().get_config(), "apply_class_balancing": self.apply_class_balancing}


class CategoricalBalancedCrossentropy(CategoricalFocalCrossentropy):
    """Balanced cross-entropy ``-alpha_c log p_c`` for one-hot targets (lecture 001).

    ``alpha='balanced'`` uses ``alpha_i = n / (k * n_i)`` from the training labels of each ``fit``;
    or give per-class weights (list or ``{class: weight}``) or one number.
    """

    def __init__(self, alpha="balanced", from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name=None):
        super().__init__(alpha, 0.0, from_logits, label_smoothing, reduction,
                         name or "categorical_balanced_crossentropy")

    def get_config(self):
        config = super().get_config()
        del config["gamma"]
        return config


class SparseCategoricalBalancedCrossentropy(SparseCategoricalFocalCrossentropy):
    """Balanced cross-entropy ``-alpha_y log p_y`` for integer labels (see ``CategoricalBalancedCrossentropy``)."""

    def __init__(self, alpha="balanced", from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(alpha, 0.0, from_logits, reduction, name or "sparse_categorical_balanced_crossentropy")

    def get_config(self):
        config = super().get_config()
        del config["gamma"]
        return config


class BinaryBalancedCrossentropy(BinaryFocalCrossentropy):
    """Balanced binary cross-entropy: mean over the last axis of ``(alpha_1 y + alpha_0 (1 - y)) bce``.

    ``alpha='balanced'`` computes ``(alpha_0, alpha_1)`` from the training labels (``n / (2 n_i)``);
    ``[alpha_0, alpha_1]``, a dict, or one number ``alpha`` (``alpha_0 = 1 - alpha``) also work.
    """

    def __init__(self, alpha="balanced", from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name=None):
        super().__init__(True, alpha, 0.0, from_logits, label_smoothing, reduction,
                         name or "binary_balanced_crossentropy")

    def get_config(self):
        config = super().get_config()
        del config["gamma"], config["apply_class_balancing"]
        return config


_IMBALANCED = (CategoricalFocalCrossentropy, SparseCategoricalFocalCrossentropy, BinaryFocalCrossentropy,
               CategoricalBalancedCrossentropy, SparseCategoricalBalancedCrossentropy, BinaryBalancedCrossentropy)
ALIASES.update({
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "sparse_categorical_focal_crossentropy": SparseCategoricalFocalCrossentropy,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_balanced_crossentropy": CategoricalBalancedCrossentropy,
    "sparse_categorical_balanced_crossentropy": SparseCategoricalBalancedCrossentropy,
    "binary_balanced_crossentropy": BinaryBalancedCrossentropy,
})
for _cls in _IMBALANCED:
    ALIASES[_cls.__name__] = _cls
