"""Keras losses: per-sample functions and ``Loss`` classes that reduce them.

``get`` resolves what ``compile(loss=...)`` accepts: a name or Keras alias (``'mse'``,
``'kld'``, ...), a ``Loss`` class or object, one of the functions below (mapped to its class, so
it keeps its target checks and analytic gradient), or any user function ``fn(y_true, y_pred)``
(wrapped in ``LossFunctionWrapper``).

Modules: ``loss`` (base class, reductions, the wrapper), ``regression``, ``probabilistic``
(cross-entropies, KL divergence, Poisson), ``hinge`` and ``focal`` (focal and balanced losses).
"""

from __future__ import annotations

from .focal import (
    BinaryBalancedCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalBalancedCrossentropy,
    CategoricalFocalCrossentropy,
    SparseCategoricalBalancedCrossentropy,
    SparseCategoricalFocalCrossentropy,
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
    sparse_categorical_focal_crossentropy,
)
from .hinge import CategoricalHinge, Hinge, SquaredHinge, categorical_hinge, hinge, squared_hinge
from .loss import EPSILON, REDUCTIONS, Loss, LossFunctionWrapper
from .probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from .regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)

# Keras 2 short names of the functions (Keras 3 keeps them in keras.metrics).
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

_CLASSES = (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Huber,
            LogCosh, CosineSimilarity, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, CategoricalFocalCrossentropy,
            SparseCategoricalFocalCrossentropy, BinaryFocalCrossentropy, CategoricalBalancedCrossentropy,
            SparseCategoricalBalancedCrossentropy, BinaryBalancedCrossentropy)

# name (and Keras aliases) -> class
ALIASES = {cls.__name__: cls for cls in _CLASSES}
ALIASES.update({
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber,
    "log_cosh": LogCosh, "logcosh": LogCosh,
    "cosine_similarity": CosineSimilarity,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "poisson": Poisson,
    "hinge": Hinge, "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "sparse_categorical_focal_crossentropy": SparseCategoricalFocalCrossentropy,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_balanced_crossentropy": CategoricalBalancedCrossentropy,
    "sparse_categorical_balanced_crossentropy": SparseCategoricalBalancedCrossentropy,
    "binary_balanced_crossentropy": BinaryBalancedCrossentropy,
})

# kerastyle's own functions -> their class (same values, plus target checks and gradients)
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              mean_absolute_percentage_error: MeanAbsolutePercentageError,
              mean_squared_logarithmic_error: MeanSquaredLogarithmicError, huber: Huber, log_cosh: LogCosh,
              cosine_similarity: CosineSimilarity, binary_crossentropy: BinaryCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy, kl_divergence: KLDivergence,
              poisson: Poisson, hinge: Hinge, squared_hinge: SquaredHinge, categorical_hinge: CategoricalHinge,
              categorical_focal_crossentropy: CategoricalFocalCrossentropy,
              sparse_categorical_focal_crossentropy: SparseCategoricalFocalCrossentropy,
              binary_focal_crossentropy: BinaryFocalCrossentropy}


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
        cls = _FUNCTIONS.get(identifier)
        return cls() if cls is not None else LossFunctionWrapper(identifier)
    raise TypeError(f"Argument `loss` must be a name, a Loss or a callable, got {identifier!r}.")


__all__ = sorted({"ALIASES", "EPSILON", "REDUCTIONS", "Loss", "LossFunctionWrapper", "get",
                  *(cls.__name__ for cls in _CLASSES), *(fn.__name__ for fn in _FUNCTIONS),
                  "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD",
                  "kullback_leibler_divergence", "logcosh"})
