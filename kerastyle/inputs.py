"""Turning user data into tensors once per call, with clear errors for bad input.

Accepts numpy arrays, torch tensors, nested lists (anything ``np.asarray``
understands). Data is converted to float32 and moved to the model's device once
per ``fit``/``evaluate``/``predict``, never per batch.
"""

from __future__ import annotations

import numpy as np
import torch

from . import backend


def _describe_scalar(value) -> str:
    try:
        return repr(value.item() if hasattr(value, "item") else value)
    except (ValueError, RuntimeError):
        return repr(value)


def to_tensor(data, arg: str, device=None, dtype=torch.float32, expected: str | None = None) -> torch.Tensor:
    """``data`` as a ``dtype`` tensor on ``device``; rejects scalars, empty, non-numeric and non-finite
    data. ``expected`` (e.g. ``"an array of shape (n_samples, 4)"``) completes the message for a scalar."""
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
        if array.ndim == 0:  # (np.ascontiguousarray would make it 1-D)
            tensor = torch.from_numpy(array.reshape(()).copy())
        else:
            tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.dim() == 0:
        raise ValueError(f"Argument `{arg}` is a scalar ({_describe_scalar(tensor)}); expected "
                         f"{expected or 'an array with one entry per sample'}.")
    if tensor.shape[0] == 0:
        raise ValueError(f"Argument `{arg}` is empty (shape {tuple(tensor.shape)}); expected at least one sample.")
    source = tensor
    tensor = tensor.to(device=device or backend.get_device(), dtype=dtype)
    # A sum is finite only when every element is (NaN and inf propagate; a finite set whose sum
    # overflows just takes the exact scan below): one pass over large arrays, no temporary.
    # (Summing in float64 would first copy a float32 array to float64: twice its size.)
    if tensor.is_floating_point() and not torch.isfinite(tensor.sum()):
        finite = torch.isfinite(tensor)
        if not bool(finite.all()):
            bad = (~finite).nonzero()[0].tolist()
            _refuse_overflow(source, tensor, finite, arg)
            n_nan = int(torch.isnan(tensor).sum())
            n_inf = int(torch.isinf(tensor).sum())
            raise ValueError(f"Argument `{arg}` contains {n_nan} NaN and {n_inf} infinite values "
                             f"(first at index {tuple(bad)}); remove or impute them first.")
    return tensor


def _refuse_overflow(source: torch.Tensor, tensor: torch.Tensor, finite: torch.Tensor, arg: str) -> None:
    """Finite values of a wider type (float64) that became infinite in ``tensor``'s dtype: say so."""
    if not source.is_floating_point() or source.dtype.itemsize <= tensor.dtype.itemsize:
        return
    overflowed = ~finite.to(source.device) & torch.isfinite(source)
    if not bool(overflowed.any()):
        return
    index = tuple(overflowed.nonzero()[0].tolist())
    value = source[index].item()
    limit = torch.finfo(tensor.dtype).max
    raise ValueError(f"Argument `{arg}`: converting the data from {str(source.dtype).replace('torch.', '')} to "
                     f"{str(tensor.dtype).replace('torch.', '')} overflowed: {int(overflowed.sum())} finite values "
                     f"are beyond its range (+-{limit:.3g}), the first {value:g} at index {index}. Rescale the "
                     f"data (e.g. standardize it) before training.")


SCALE_WARNING_THRESHOLD = 1e3
"""``fit`` warns once when a floating-point input holds a value with ``|x| > 1e3``: far above the unit
scale the default initializers and learning rates assume (pixels 0..255 stay below it). Such inputs
make activations and gradients grow with them: training can report finite losses for a while and
still end with weights whose predictions overflow. Integer-typed inputs (counts, ids) are not checked."""


def warn_if_unscaled(tensors, names, sources) -> None:
    """One warning for the inputs (float tensors converted from non-integer data) above the threshold."""
    import warnings
    found = []
    for tensor, name, source in zip(tensors, names, sources):
        if not tensor.is_floating_point() or _integer_typed(source):
            continue
        # min and max in one pass, no |x| copy of the data; one host sync per input, once per fit
        largest = float(torch.stack(torch.aminmax(tensor)).abs().max()) if tensor.numel() else 0.0
        if largest > SCALE_WARNING_THRESHOLD:
            found.append(f"`{name}` (max |x| = {largest:.3g})")
    if found:
        warnings.warn(f"fit: input {', '.join(found)} is far outside the usual scale (|x| <= "
                      f"{SCALE_WARNING_THRESHOLD:g}); unscaled inputs make activations and gradients large, so "
                      f"losses and predictions can overflow. Standardize the inputs (subtract the mean, divide by "
                      f"the standard deviation) or scale them to [0, 1].", UserWarning, stacklevel=user_stacklevel())


def _integer_typed(data) -> bool:
    dtype = getattr(data, "dtype", None)
    if isinstance(dtype, torch.dtype):
        return not dtype.is_floating_point
    if dtype is not None:
        return bool(np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.bool_))
    return False


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


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside kerastyle (the user's line)."""
    import os
    import sys
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level
