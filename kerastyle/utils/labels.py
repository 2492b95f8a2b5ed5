"""Label helpers: one-hot encoding (``to_categorical``) and balanced class weights."""

from __future__ import annotations

import numpy as np
import torch


def to_categorical(y, num_classes=None, dtype="float32") -> np.ndarray:
    """One-hot rows for integer labels ``y`` (shape ``(n,)`` or ``(n, 1)``), as Keras."""
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.size and not np.all(np.equal(np.mod(labels, 1), 0)):
        raise ValueError(f"Argument `y` must hold integer class labels, got values such as "
                         f"{labels[np.mod(labels, 1) != 0].flat[0]!r}.")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"Argument `y` must hold labels >= 0, got {labels.min()}.")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(f"Argument `y` has label {labels.max()}, but `num_classes` is {num_classes} "
                         f"(labels must be in [0, {num_classes - 1}]).")
    out = np.zeros((*labels.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def compute_class_weight(y) -> dict[int, float]:
    """Balanced class weights ``alpha_i = n / (k * n_i)`` for the classes present in ``y``.

    ``y`` holds integer labels ``(n,)``/``(n, 1)`` or one-hot rows ``(n, k)``. Same formula as
    scikit-learn's ``compute_class_weight('balanced')``; ``k`` counts the classes present.
    """
    labels = y.detach().cpu().numpy() if torch.is_tensor(y) else np.asarray(y)
    if labels.ndim > 2:
        raise ValueError(f"Argument `y` must hold integer labels (n,) or one-hot rows (n, k), "
                         f"got shape {labels.shape}.")
    if labels.ndim == 2 and labels.shape[1] > 1:
        if not (np.isin(labels, (0, 1)).all() and (labels.sum(axis=1) == 1).all()):
            raise ValueError(f"Argument `y` has shape {labels.shape} but its rows are not one-hot "
                             f"(a single 1, the rest 0); pass integer labels, e.g. y.argmax(axis=1).")
        labels = labels.argmax(axis=1)
    labels = labels.reshape(-1)
    if labels.size == 0:
        raise ValueError("Argument `y` is empty; class weights need at least one label.")
    if not np.all(np.equal(np.mod(labels, 1), 0)):
        raise ValueError("Argument `y` must hold integer class labels or one-hot rows.")
    classes, counts = np.unique(labels.astype(np.int64), return_counts=True)
    n, k = labels.size, classes.size
    return {int(c): float(n / (k * count)) for c, count in zip(classes, counts)}
