"""Argument checks shared by the optimizers and the schedules: clear errors naming the argument,
the value received and what was expected."""

from __future__ import annotations

import math
import numbers

import numpy as np


def is_number(value) -> bool:
    """True for Python and numpy real numbers, False for bools (``True`` is not a learning rate)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_number(owner, name, value, low=None, high=None, *, open_low=False, integer=False,
                 none_ok=False):
    """``value`` as a Python float (int with ``integer``), or a ValueError naming the argument."""
    if value is None and none_ok:
        return None
    ok = is_number(value) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok:
        ok = (low is None or (value > low if open_low else value >= low)) and (high is None or value <= high)
    if not ok:
        kind = "an integer" if integer else "a finite number"
        if low is not None and high is not None:
            bounds = f" in {'(' if open_low else '['}{low}, {high}]"
        elif low is not None:
            bounds = f" {'>' if open_low else '>='} {low}"
        else:
            bounds = ""
        extra = " or None" if none_ok else ""
        raise ValueError(f"{owner}: argument `{name}` must be {kind}{bounds}{extra}, got {value!r}.")
    return int(value) if integer else float(value)


def check_bool(owner, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: argument `{name}` must be True or False, got {value!r}.")
    return bool(value)


def refuse_unknown(owner, unknown: dict, valid) -> None:
    """Keras's "Argument(s) not recognized", as a TypeError that lists the valid arguments."""
    if unknown:
        raise TypeError(f"{owner}: Argument(s) not recognized: {unknown}. "
                        f"Valid arguments: {', '.join(sorted(valid))}.")
