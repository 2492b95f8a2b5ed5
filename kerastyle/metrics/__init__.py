"""Keras's stateful metrics: ``update_state`` / ``result`` / ``reset_state``.

``get`` resolves what ``compile(metrics=[...])`` accepts: ``'accuracy'``/``'acc'`` (the accuracy
matching the loss, as Keras), names such as ``'auc'``, ``'precision'``, ``'mse'`` (the history
key is the string given, as in Keras), ``Metric`` classes and objects, and plain functions
``fn(y_true, y_pred) -> per-sample values`` (their mean over the epoch).

Modules: ``metric`` (base, ``Mean``, ``Sum``, wrappers), ``accuracy``, ``confusion`` (AUC,
precision, recall, F-scores), ``regression``, ``iou``, ``probabilistic`` (losses as metrics).
"""

from __future__ import annotations

from ..losses import (
    binary_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    hinge,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from .accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    ShapeAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from .confusion import AUC, F1Score, FBetaScore, Precision, Recall
from .iou import MeanIoU
from .metric import Mean, MeanMetricWrapper, Metric, MetricFunctionWrapper, Sum
from .probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from .regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh

_CLASSES = (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
            SparseTopKCategoricalAccuracy, AUC, Precision, Recall, F1Score, FBetaScore, MeanSquaredError,
            RootMeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
            LogCoshError, CosineSimilarity, R2Score, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, Mean, Sum)

# names compile() accepts -> class (built with the given string as its name)
_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "auc": AUC, "precision": Precision, "recall": Recall, "f1_score": F1Score,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "logcosh": LogCoshError, "log_cosh": LogCoshError, "cosine_similarity": CosineSimilarity,
    "r2_score": R2Score,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "poisson": Poisson,
    "hinge": Hinge, "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
}
_BY_NAME.update({cls.__name__: cls for cls in _CLASSES if cls not in (Mean, Sum, FBetaScore)})

# functions -> the metric class computing their mean (keeps the object saveable)
_FUNCTIONS = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
              sparse_categorical_accuracy: SparseCategoricalAccuracy,
              top_k_categorical_accuracy: TopKCategoricalAccuracy,
              sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy,
              mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              mean_absolute_percentage_error: MeanAbsolutePercentageError,
              mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
              binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy, kl_divergence: KLDivergence,
              poisson: Poisson, hinge: Hinge, squared_hinge: SquaredHinge, categorical_hinge: CategoricalHinge}

_ACCURACY_BY_LOSS_KIND = {"binary": BinaryAccuracy, "categorical": CategoricalAccuracy,
                          "sparse": SparseCategoricalAccuracy}


def names() -> list[str]:
    return sorted([*_BY_NAME, "accuracy", "acc"])


def get(identifier, loss=None, output_shape=None) -> Metric:
    """A Metric from a name, class, object or function. ``'accuracy'``/``'acc'`` become binary,
    categorical or sparse accuracy according to the loss (as Keras resolves them), else by the
    output width (``output_shape``: the model's output shape or its last dimension), else by the
    shapes of the data; the name the user wrote stays the history key."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            kind = getattr(loss, "kind", None)
            units = output_shape[-1] if isinstance(output_shape, (tuple, list)) else output_shape
            if kind not in _ACCURACY_BY_LOSS_KIND:
                if units is None or kind == "custom":
                    return ShapeAccuracy(name=identifier)
                kind = "binary" if units == 1 else "categorical"
            return _ACCURACY_BY_LOSS_KIND[kind](name=identifier)
        if identifier in _BY_NAME:
            return _BY_NAME[identifier](name=identifier)
        raise ValueError(f"Unknown metric {identifier!r}. Valid names: {', '.join(names())}.")
    if callable(identifier):
        cls = _FUNCTIONS.get(identifier)
        if cls is not None:
            return cls(name=identifier.__name__)
        return MetricFunctionWrapper(identifier)
    raise TypeError(f"Argument `metrics` entries must be names, Metric objects or callables, "
                    f"got {identifier!r}.")


__all__ = sorted({"Metric", "Mean", "Sum", "MeanMetricWrapper", "MetricFunctionWrapper", "ShapeAccuracy", "get",
                  "names", *(cls.__name__ for cls in _CLASSES), *(fn.__name__ for fn in _FUNCTIONS),
                  "accuracy", "log_cosh", "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld",
                  "KLD", "logcosh"})
