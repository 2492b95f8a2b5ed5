"""Initializer lookup for the embedding and recurrent layers, with the Keras names they default to.

``'uniform'`` (Keras's ``RandomUniform(-0.05, 0.05)``, the Embedding default) and ``'orthogonal'``
(the recurrent kernels' default) are resolved here when ``kerastyle.initializers`` does not know
them yet; any name or callable it knows is used as it is.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import initializers


@torch.no_grad()
def orthogonal(tensor, gain=1.0):
    """Keras's Orthogonal: a (rows = prod(shape[:-1]), cols = shape[-1]) matrix with orthonormal rows or
    columns, from the QR decomposition of a normal matrix (signs fixed by R's diagonal), times ``gain``."""
    rows = tensor.numel() // tensor.shape[-1]
    cols = tensor.shape[-1]
    flat = torch.randn(max(rows, cols), min(rows, cols), dtype=torch.float64)
    q, r = torch.linalg.qr(flat)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if rows < cols:
        q = q.t()
    tensor.copy_((gain * q).reshape(tensor.shape).to(tensor.dtype))
    return tensor


def random_uniform(tensor):
    return nn.init.uniform_(tensor, -0.05, 0.05)


orthogonal.fills_in_place = True
random_uniform.fills_in_place = True
_FALLBACK = {"orthogonal": orthogonal, "uniform": random_uniform}


def resolve_initializer(identifier, arg, owner):
    """The initializer for ``identifier`` (checked now, so a bad name fails in ``__init__``)."""
    try:
        return initializers.get(identifier)
    except (ValueError, TypeError) as err:
        if isinstance(identifier, str) and identifier.lower() in _FALLBACK:
            return _FALLBACK[identifier.lower()]
        raise ValueError(f"{owner}: argument `{arg}`: {err}") from None


def initializer_name(identifier):
    """How a config names the initializer given as ``identifier``."""
    if isinstance(identifier, str):
        return identifier
    serialize = getattr(initializers, "serialize", None)
    if serialize is not None:
        try:
            return serialize(identifier)
        except (TypeError, ValueError):
            pass
    return initializers.name_of(identifier)
