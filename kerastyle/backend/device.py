"""The one place that decides the device every kerastyle tensor goes to.

CUDA when available, unless ``set_device()`` or the ``KERASTYLE_DEVICE`` environment variable says
otherwise. Under torchrun the local rank picks the CUDA index (``cuda:LOCAL_RANK``).
"""

from __future__ import annotations

import os

import torch

_device: torch.device | None = None


def get_device() -> torch.device:
    """The device models and data live on (decided once, then cached)."""
    global _device
    if _device is None:
        requested = os.environ.get("KERASTYLE_DEVICE")
        if requested:
            _device = _parse_device(requested, "KERASTYLE_DEVICE")
        else:
            _device = torch.device(_cuda_for_this_process() if torch.cuda.is_available() else "cpu")
    return _device


def _cuda_for_this_process() -> str:
    """``cuda:LOCAL_RANK`` for one of several processes that torchrun started on this machine (read from
    its environment, as kerastyle.distributed reads it), else ``cuda``."""
    local, world = os.environ.get("LOCAL_RANK"), os.environ.get("WORLD_SIZE", "1")
    if local and world.isdigit() and int(world) > 1 and local.isdigit():
        return f"cuda:{int(local) % torch.cuda.device_count()}"
    return "cuda"


def set_device(device: str | torch.device) -> torch.device:
    """Choose the device for models built from now on (``'cpu'``, ``'cuda'``, ``'cuda:1'``)."""
    global _device
    _device = _parse_device(device, "device")
    return _device


def _parse_device(device, arg: str) -> torch.device:
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"Argument `{arg}` must name a torch device such as 'cpu' or 'cuda', got {device!r}."
        ) from err
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Argument `{arg}` is {device!r}, but CUDA is not available on this machine.")
    return parsed
