"""``kerastyle.backend``: the session (device, names, settings) and Keras 2's ``K.*`` functions.

- ``device``: the one place that decides where tensors live (``get_device``, ``set_device``).
- ``naming``: Keras-style unique names (``unique_name``, ``clear_session``).
- ``config``: ``floatx``, ``epsilon``, ``image_data_format`` and their setters.
- ``variables``: ``Variable`` (assignable state) and ``BoundValue``.
- ``functions``: the functions scripts call as ``K.mean``, ``K.clip``, ``K.epsilon()``, ...
"""

from __future__ import annotations

from .config import (
           epsilon,
           floatx,
           image_data_format,
           set_epsilon,
           set_floatx,
           set_image_data_format,
           standardize_dtype,
)
from .device import get_device, set_device
from .functions import *  # noqa: F403 - the K.* namespace
from .functions import __all__ as _function_names
from .naming import clear_session, unique_name
from .variables import BoundValue, Variable

__all__ = ["get_device", "set_device", "unique_name", "clear_session", "floatx", "set_floatx", "epsilon",
           "set_epsilon", "image_data_format", "set_image_data_format", "standardize_dtype", "Variable",
           "BoundValue", *_function_names]
