"""Loss functions as metrics: cross-entropies, KL divergence, Poisson and the hinges, each the
mean over samples of the loss's per-sample value (unweighted unless ``sample_weight`` is given)."""

from __future__ import annotations

from ..losses.hinge import _categorical_hinge, _hinge, _squared_hinge
from ..losses.probabilistic import _bce, _cce, _kld, _poisson, _scce
from .metric import _Builtin


def _sparse_ce(y_true, y_pred, from_logits=False):
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return _scce(y_true, y_pred, from_logits)


class BinaryCrossentropy(_Builtin):
    fn = _bce

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0):
        super().__init__(name, dtype, from_logits=bool(from_logits), label_smoothing=float(label_smoothing))


class CategoricalCrossentropy(_Builtin):
    fn = _cce

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0):
        super().__init__(name, dtype, from_logits=bool(from_logits), label_smoothing=float(label_smoothing))


class SparseCategoricalCrossentropy(_Builtin):
    fn = _sparse_ce

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False):
        super().__init__(name, dtype, from_logits=bool(from_logits))


class KLDivergence(_Builtin):
    fn = _kld

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(name, dtype)


class Poisson(_Builtin):
    fn = _poisson

    def __init__(self, name="poisson", dtype=None):
        super().__init__(name, dtype)


class Hinge(_Builtin):
    fn = _hinge

    def __init__(self, name="hinge", dtype=None):
        super().__init__(name, dtype)


class SquaredHinge(_Builtin):
    fn = _squared_hinge

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(name, dtype)


class CategoricalHinge(_Builtin):
    fn = _categorical_hinge

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(name, dtype)
