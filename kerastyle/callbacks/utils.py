"""Checks shared by several callbacks: Keras's ``mode='auto'`` rule, numbers, paths, learning rates."""

from __future__ import annotations

import math
import os

import numpy as np

from .. import optimizers


def improvement_mode(monitor: str, mode: str, owner: str) -> str:
    """Keras's rule for mode='auto': higher is better for accuracies, lower for everything else."""
    if not isinstance(monitor, str):
        raise TypeError(f"{owner}: argument `monitor` must be a log key such as 'val_loss', got {monitor!r}.")
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: argument `mode` must be 'auto', 'min' or 'max', got {mode!r}.")
    if mode == "auto":
        return "max" if "acc" in monitor or monitor.startswith("fmeasure") else "min"
    return mode


def check_number(owner, arg, value, low=None, high=None, high_open=False):
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
    ok = ok and (low is None or value >= low) and (high is None or (value < high if high_open else value <= high))
    if not ok:
        bounds = "" if low is None else f" >= {low}"
        if high is not None:
            bounds = f" in [{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: argument `{arg}` must be a finite number{bounds}, got {value!r}.")
    return value


def check_int(owner, arg, value, low=0) -> int:
    """``value`` (a Python or numpy integer, not a bool) >= ``low`` as an int, or a ValueError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{owner}: argument `{arg}` must be an integer >= {low}, got {value!r}.")
    return int(value)


def checked_path_and_freq(owner, arg, path, save_freq) -> str:
    """``path`` as a string for a callback that writes files once per epoch; clear errors otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{owner}: argument `{arg}` must be a non-empty path, got {path!r}.")
    if not os.fspath(path):
        raise ValueError(f"{owner}: argument `{arg}` must be a non-empty path, got {path!r}.")
    if save_freq != "epoch":
        raise ValueError(f"{owner}: argument `save_freq` must be 'epoch' (writing every N batches is not "
                         f"supported), got {save_freq!r}.")
    return os.fspath(path)


def learning_rate(model, owner) -> float:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise RuntimeError(f"{owner} needs a compiled model: call model.compile(optimizer=...) first.")
    if isinstance(optimizer, optimizers.Optimizer):
        return float(optimizer.learning_rate)
    return float(optimizer.param_groups[0]["lr"])


def set_learning_rate(model, value: float) -> None:
    if isinstance(model.optimizer, optimizers.Optimizer):
        model.optimizer.learning_rate = float(value)
    else:  # a plain torch optimizer
        for group in model.optimizer.param_groups:
            group["lr"] = float(value)
