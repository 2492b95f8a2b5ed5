"""Weight initializers by Keras name, applied in place to torch tensors.

Weights are stored in Keras layouts (Dense kernel ``(in, out)``, convolution kernel
``(*spatial, in, out)``), so fans are computed as Keras computes them.
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
    """Keras's fans: ``(in, out)`` for a matrix; for a kernel ``(*spatial, in, out)`` each times the
    receptive field size."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        size = shape[0] if shape else 1
        return size, size
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


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
def fill(identifier, tensor):
    """Fill ``tensor`` in place from ``identifier``: a kerastyle initializer (name or function, filling in
    place) or a Keras-style callable ``fn(shape, dtype=None)`` returning the values."""
    fn = get(identifier)
    if fn in _REGISTRY.values() or getattr(fn, "fills_in_place", False):
        fn(tensor)
        return tensor
    value = fn(tuple(tensor.shape), dtype=tensor.dtype)
    value = torch.as_tensor(value.detach() if torch.is_tensor(value) else value)
    if tuple(value.shape) != tuple(tensor.shape):
        raise ValueError(f"Initializer {name_of(fn)!r} returned shape {tuple(value.shape)} for a weight of shape "
                         f"{tuple(tensor.shape)}; an initializer is called as fn(shape, dtype=None).")
    tensor.copy_(value)
    return tensor
