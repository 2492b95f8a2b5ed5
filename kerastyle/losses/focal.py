"""Losses for imbalanced classes: focal and balanced cross-entropy.

Lecture 001: balanced E = -alpha_c log p_c, focal E = -(1 - p_c)^gamma log p_c and the
alpha-balanced focal loss E = -alpha_c (1 - p_c)^gamma log p_c. The focal classes match Keras 3
(names, defaults, clipping); the balanced ones are the focal ones with gamma = 0 and
``alpha='balanced'`` (``alpha_i = n / (k * n_i)`` from the training labels, set by ``adapt``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .loss import EPSILON, Loss, _clip, _is_number, _reduced_gradient, functional


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
            from ..utils import compute_class_weight
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




categorical_focal_crossentropy = functional(categorical_focal_crossentropy)
sparse_categorical_focal_crossentropy = functional(sparse_categorical_focal_crossentropy)
binary_focal_crossentropy = functional(binary_focal_crossentropy)
