"""Weight initializers by Keras name, applied in place to torch tensors.

torch stores a Dense kernel as ``(out, in)``; torch's fan computation reads that
layout, so fan_in/fan_out mean the same as for Keras's ``(in, out)`` kernel.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _truncated_normal(tensor, stddev):
    # Keras draws from a normal truncated at 2 stddev and rescales so the
    # result has the requested stddev (0.8796... is the truncated std of N(0,1)).
    std = stddev / 0.87962566103423978
    return nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std)


def _fans(tensor):
    if tensor.dim() < 2:
        return tensor.numel(), tensor.numel()
    return nn.init._calculate_fan_in_and_fan_out(tensor)


def glorot_uniform(t):
    fan_in, fan_out = _fans(t)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return nn.init.uniform_(t, -limit, limit)


def glorot_normal(t):
    fan_in, fan_out = _fans(t)
    return _truncated_normal(t, math.sqrt(2.0 / (fan_in + fan_out)))


def he_uniform(t):
    limit = math.sqrt(6.0 / _fans(t)[0])
    return nn.init.uniform_(t, -limit, limit)


def he_normal(t):
    return _truncated_normal(t, math.sqrt(2.0 / _fans(t)[0]))


def lecun_uniform(t):
    limit = math.sqrt(3.0 / _fans(t)[0])
    return nn.init.uniform_(t, -limit, limit)


def lecun_normal(t):
    return _truncated_normal(t, math.sqrt(1.0 / _fans(t)[0]))


def random_normal(t):
    return nn.init.normal_(t, 0.0, 0.05)


def random_uniform(t):
    return nn.init.uniform_(t, -0.05, 0.05)


def zeros(t):
    return nn.init.zeros_(t)


def ones(t):
    return nn.init.ones_(t)


_REGISTRY = {
    f.__name__: f
    for f in (glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform,
              lecun_normal, random_normal, random_uniform, zeros, ones)
}


def get(identifier):
    """A function ``f(tensor)`` that fills ``tensor`` in place, from a name or a callable."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]
    raise ValueError(
        f"Unknown initializer {identifier!r}. Valid names: {', '.join(sorted(_REGISTRY))}."
    )


def name_of(fn) -> str:
    return getattr(fn, "__name__", repr(fn))


@torch.no_grad()
def apply(identifier, tensor):
    """Fill ``tensor`` using ``identifier`` without recording autograd history."""
    return get(identifier)(tensor)
