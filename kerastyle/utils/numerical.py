"""``normalize``: scale vectors to unit norm along an axis, as ``keras.utils.normalize``."""

from __future__ import annotations

import numbers

import numpy as np
import torch


def normalize(x, axis=-1, order=2):
    """Divide ``x`` by its ``order``-norm along ``axis`` (zero vectors are left unchanged).

    Numpy arrays (and lists) give a numpy array, torch tensors a tensor; ``order`` is any
    order ``numpy.linalg.norm`` accepts for vectors (2 = Euclidean, 1 = sum of absolute values).
    """
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"normalize: argument `axis` must be an integer, got {axis!r}.")
    if isinstance(order, bool) or not isinstance(order, numbers.Real):
        raise TypeError(f"normalize: argument `order` must be a number (e.g. 1 or 2), got {order!r}.")
    if torch.is_tensor(x):
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        norm = torch.linalg.vector_norm(x, ord=float(order), dim=int(axis), keepdim=True)
        return x / torch.where(norm == 0, torch.ones_like(norm), norm)
    array = np.asarray(x)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"normalize: argument `x` must hold numbers, got dtype {array.dtype}.")
    if array.ndim == 0:
        raise ValueError("normalize: argument `x` must have at least one dimension, got a scalar.")
    if not -array.ndim <= axis < array.ndim:
        raise ValueError(f"normalize: argument `axis`={axis} is out of range for `x` of shape {array.shape}.")
    norm = np.linalg.norm(array, ord=order, axis=int(axis), keepdims=True)
    norm[norm == 0] = 1
    return array / norm
