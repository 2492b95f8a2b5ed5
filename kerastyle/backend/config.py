"""Session settings that Keras keeps in its backend: float type, fuzz factor, image layout.

``floatx()`` names the float type models compute in (``'float32'``; kerastyle's layers use float32
whatever it says, and ``set_floatx`` refuses other values until they do). ``epsilon()`` is the fuzz
factor of the ``K.*`` functions and metrics (the losses keep Keras's default 1e-7).
``image_data_format()`` is ``'channels_last'`` or ``'channels_first'``, as in Keras.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
           "float64": torch.float64, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
           "int64": torch.int64, "uint8": torch.uint8, "bool": torch.bool}
_SUPPORTED_FLOATX = ("float32",)
_FORMATS = ("channels_last", "channels_first")

_floatx = "float32"
_epsilon = 1e-7
_image_data_format = "channels_last"


def standardize_dtype(dtype) -> torch.dtype:
    """A torch dtype from a Keras dtype name (``'float32'``), a numpy dtype or a torch dtype."""
    if dtype is None:
        return _DTYPES[_floatx]
    if isinstance(dtype, torch.dtype):
        return dtype
    name = dtype if isinstance(dtype, str) else getattr(np.dtype(dtype), "name", None)
    if name not in _DTYPES:
        raise ValueError(f"Unknown dtype {dtype!r}; expected one of {', '.join(_DTYPES)}.")
    return _DTYPES[name]


def floatx() -> str:
    """The default float type, as a string (``'float32'``)."""
    return _floatx


def set_floatx(value) -> None:
    global _floatx
    if value not in _DTYPES or not _DTYPES[value].is_floating_point:
        raise ValueError(f"Argument `value` of set_floatx must be one of 'float16', 'bfloat16', 'float32', "
                         f"'float64', got {value!r}.")
    if value not in _SUPPORTED_FLOATX:
        raise ValueError(f"set_floatx({value!r}): kerastyle models compute in float32 only; for float16 or "
                         f"bfloat16 training use mixed precision instead.")
    _floatx = value


def epsilon() -> float:
    """The fuzz factor (1e-7 by default), as ``keras.backend.epsilon()``."""
    return _epsilon


def set_epsilon(value) -> None:
    global _epsilon
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"Argument `value` of set_epsilon must be a finite number > 0, got {value!r}.")
    _epsilon = float(value)


def image_data_format() -> str:
    """``'channels_last'`` (Keras's default) or ``'channels_first'``."""
    return _image_data_format


def set_image_data_format(data_format) -> None:
    global _image_data_format
    if data_format not in _FORMATS:
        raise ValueError(f"Argument `data_format` must be 'channels_last' or 'channels_first', got {data_format!r}.")
    _image_data_format = data_format
