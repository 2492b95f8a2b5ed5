"""Several processes, one training run: PyTorch's process group, found or made.

A script launched by ``torchrun`` (``torchrun --standalone --nproc-per-node=N script.py``) needs no new
code: ``fit`` calls :func:`init`, which uses an existing ``torch.distributed`` process group or, when
torchrun's environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) is there and no group
exists, creates one: gloo on CPU, NCCL on ``cuda:LOCAL_RANK`` (``torch.cuda.set_device`` first), with a
short timeout (:func:`set_timeout`, or ``KERASTYLE_DIST_TIMEOUT`` in seconds; torch's default is 30
minutes) so that a missing peer is an error, not a half-hour hang.

The queries below work before a group exists (they read torchrun's environment) and in a plain
single process (rank 0 of 1).
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist

__all__ = ["barrier", "init", "is_chief", "is_distributed", "launched_by_torchrun", "local_rank", "rank",
           "set_timeout", "timeout", "world_size"]

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
_timeout_s: float | None = None
_threads_at_import = torch.get_num_threads()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"Environment variable {name} must be an integer, got {value!r}.") from None


def launched_by_torchrun() -> bool:
    """True when torchrun (or another launcher setting its variables) started this process."""
    return all(os.environ.get(name) for name in _TORCHRUN_VARS)


def is_distributed() -> bool:
    """True when a process group with more than one process is initialized."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank in the group (torchrun's ``RANK`` before the group exists; 0 alone)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return _env_int("RANK", 0) if launched_by_torchrun() else 0


def world_size() -> int:
    """The number of processes (torchrun's ``WORLD_SIZE`` before the group exists; 1 alone)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return _env_int("WORLD_SIZE", 1) if launched_by_torchrun() else 1


def local_rank() -> int:
    """The rank on this machine (torchrun's ``LOCAL_RANK``); picks the CUDA device."""
    return _env_int("LOCAL_RANK", 0) if launched_by_torchrun() or dist.is_initialized() else 0


def is_chief() -> bool:
    """True on rank 0, the process that prints and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process gets here (nothing to wait for in a single process)."""
    if is_distributed():
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


def set_timeout(seconds) -> None:
    """The timeout of process groups created by :func:`init` from now on (default 60 s)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"Argument `seconds` must be a number > 0, got {seconds!r}.")
    global _timeout_s
    _timeout_s = float(seconds)


def timeout() -> float:
    """Seconds a collective waits for the other processes before failing."""
    if _timeout_s is not None:
        return _timeout_s
    value = os.environ.get("KERASTYLE_DIST_TIMEOUT")
    if value:
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not seconds > 0:
            raise ValueError(f"Environment variable KERASTYLE_DIST_TIMEOUT must be a number of seconds > 0, "
                             f"got {value!r}.")
        return seconds
    return 60.0


def _default_threads() -> None:
    """Under torchrun: CPU threads = cores / processes on this machine, unless the user chose them
    (``torch.set_num_threads`` before this call, or ``OMP_NUM_THREADS`` other than torchrun's own 1)."""
    if torch.get_num_threads() != _threads_at_import:
        return  # set by the user
    omp = os.environ.get("OMP_NUM_THREADS")
    if omp not in (None, "", "1"):
        return
    local = max(1, _env_int("LOCAL_WORLD_SIZE", 1))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))


def init(backend: str | None = None) -> bool:
    """Use the process group, or create it from torchrun's environment. Returns True when this process
    is one of several. ``backend``: 'gloo' or 'nccl' (default: NCCL when this process trains on CUDA)."""
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return dist.get_world_size() > 1
    if not launched_by_torchrun():
        return False
    from .backend.device import get_device
    device = get_device()
    if backend is None:
        backend = "nccl" if device.type == "cuda" else "gloo"
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"Argument `backend` must be 'gloo' or 'nccl', got {backend!r}.")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    _default_threads()
    kwargs = {"device_id": device} if backend == "nccl" else {}
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout()), **kwargs)
    return dist.get_world_size() > 1
