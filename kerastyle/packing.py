"""Packed tensors: several tensors laid end to end in one buffer, so that an elementwise update of
all of them (an optimizer step) is one operation on the buffer instead of one per tensor.

The analytic engine packs the parameters it trains and keeps their gradients in a second buffer
with the same layout; the optimizers then keep their slots (momentum, ...) alike and update the
three buffers whole (``Optimizer.update_function``). A packed tensor is an ordinary view: it keeps
its shape and strides, ``Parameter`` objects stay the same objects (only ``.data`` moves), and
anything that re-allocates one (``module.to(...)``) simply unpacks it.
"""

from __future__ import annotations

import torch

__all__ = ["flat_view", "is_dense", "pack", "packable", "same_layout", "zeros_like_packed"]


def is_dense(t: torch.Tensor) -> bool:
    """True if ``t`` covers exactly ``t.numel()`` consecutive elements of its storage (contiguous in
    some order of its dimensions, e.g. contiguous or a transposed contiguous matrix)."""
    expected = 1
    for size, stride in sorted(zip(t.shape, t.stride()), key=lambda d: d[1]):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


def packable(tensors) -> bool:
    """True if ``tensors`` can share one buffer: at least one, all dense, one dtype and one device."""
    tensors = list(tensors)
    return bool(tensors) and all(is_dense(t) and t.dtype == tensors[0].dtype and t.device == tensors[0].device
                                 for t in tensors)


def flat_view(tensors) -> torch.Tensor | None:
    """A 1-D view spanning ``tensors`` if they lie end to end, in order, in one storage (each dense),
    else None."""
    tensors = list(tensors)
    if not tensors:
        return None
    first = tensors[0]
    storage = first.untyped_storage().data_ptr()
    offset = first.storage_offset()
    for t in tensors:
        if (t.untyped_storage().data_ptr() != storage or t.storage_offset() != offset or t.dtype != first.dtype
                or t.device != first.device or not is_dense(t)):
            return None
        offset += t.numel()
    return first.as_strided((offset - first.storage_offset(),), (1,), first.storage_offset())


def same_layout(a, b) -> bool:
    """True if two lists of tensors have equal shapes and strides, element by element, so that
    their flat views line up entry for entry."""
    a, b = list(a), list(b)
    return len(a) == len(b) and all(x.shape == y.shape and x.stride() == y.stride() for x, y in zip(a, b))


def _views(buffer: torch.Tensor, like) -> list[torch.Tensor]:
    """Views of 1-D ``buffer`` with the shapes and strides of ``like``, end to end."""
    views, offset = [], buffer.storage_offset()
    for t in like:
        views.append(buffer.as_strided(t.shape, t.stride(), offset))
        offset += t.numel()
    return views


def zeros_like_packed(like) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A zero buffer and views into it laid out as ``like`` (same shapes, strides and order)."""
    like = list(like)
    buffer = torch.zeros(sum(t.numel() for t in like), dtype=like[0].dtype, device=like[0].device)
    return buffer, _views(buffer, like)


@torch.no_grad()
def pack(tensors, like=None) -> torch.Tensor:
    """Move ``tensors`` (parameters or plain tensors) end to end into one new buffer, keeping their
    values and shapes, with the strides of ``like`` (default: their own), and return its flat view.
    The tensor objects stay the same (``.data`` moves). A no-op when they are packed so already."""
    tensors = list(tensors)
    like = tensors if like is None else list(like)
    flat = flat_view(tensors)
    if flat is not None and same_layout(tensors, like):
        return flat
    if not packable(like) or [t.shape for t in tensors] != [t.shape for t in like]:
        raise ValueError("Cannot pack these tensors: they need equal shapes to `like`, one dtype and "
                         "device, and dense memory layouts.")
    buffer, views = zeros_like_packed(like)
    for t, view in zip(tensors, views):
        view.copy_(t)
        t.data = view
    return buffer
