"""Turning user data into tensors once per call, with clear errors for bad input.

Accepts numpy arrays, torch tensors, nested lists (anything ``np.asarray``
understands). Data is converted to float32 and moved to the model's device once
per ``fit``/``evaluate``/``predict``, never per batch.
"""

from __future__ import annotations

import numpy as np
import torch

from . import backend


def to_tensor(data, arg: str, device=None, dtype=torch.float32) -> torch.Tensor:
    """``data`` as a ``dtype`` tensor on ``device``; rejects empty, non-numeric and non-finite data."""
    if data is None:
        raise ValueError(f"Argument `{arg}` is None; expected an array of samples.")
    if torch.is_tensor(data):
        tensor = data.detach()
    else:
        try:
            array = np.asarray(data)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"Argument `{arg}` could not be read as an array ({err}); "
                             f"all samples must have the same shape.") from None
        if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise ValueError(f"Argument `{arg}` must be numeric, got an array of dtype {array.dtype} "
                             f"(first element {array.flat[0]!r})." if array.size else
                             f"Argument `{arg}` must be numeric, got dtype {array.dtype}.")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.dim() == 0:
        raise ValueError(f"Argument `{arg}` must be an array of samples, got the scalar {tensor.item()!r}.")
    if tensor.shape[0] == 0:
        raise ValueError(f"Argument `{arg}` is empty (shape {tuple(tensor.shape)}); expected at least one sample.")
    tensor = tensor.to(device=device or backend.get_device(), dtype=dtype)
    # A sum is finite only when every element is (NaN and inf propagate; a finite set whose sum
    # overflows just takes the exact scan below): one pass over large arrays, no temporary.
    # (Summing in float64 would first copy a float32 array to float64: twice its size.)
    if tensor.is_floating_point() and not torch.isfinite(tensor.sum()):
        finite = torch.isfinite(tensor)
        if not bool(finite.all()):
            bad = (~finite).nonzero()[0].tolist()
            n_nan = int(torch.isnan(tensor).sum())
            n_inf = int(torch.isinf(tensor).sum())
            raise ValueError(f"Argument `{arg}` contains {n_nan} NaN and {n_inf} infinite values "
                             f"(first at index {tuple(bad)}); remove or impute them first.")
    return tensor


def check_same_length(a: torch.Tensor, a_name: str, b: torch.Tensor, b_name: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"Arguments `{a_name}` and `{b_name}` must have the same number of samples, "
                         f"got {a.shape[0]} and {b.shape[0]}.")


def positive_int(value, arg: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Argument `{arg}` must be a positive integer, got {value!r}.")
    return int(value)


def verbosity(verbose) -> int:
    """Keras's verbose: 'auto' means 1."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"Argument `verbose` must be 'auto', 0, 1 or 2, got {verbose!r}.")
    return int(verbose)
