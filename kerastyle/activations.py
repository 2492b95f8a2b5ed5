"""Activation functions by Keras name, as functions and as ``torch.nn`` modules.

``get(identifier)`` turns a name, a kerastyle function or any callable into an
``nn.Module``; layers store that module, so ``to_torch()`` gives plain PyTorch.
"""

from __future__ import annotations

import torch
from torch import nn

LEAKY_RELU_SLOPE = 0.2  # Keras 3's default negative_slope (Keras 2's layer used 0.3)


def linear(x):
    """Identity."""
    return x


def relu(x):
    """max(0, x)."""
    return torch.relu(x)


def leaky_relu(x, negative_slope=LEAKY_RELU_SLOPE):
    """x for x >= 0, negative_slope * x otherwise."""
    return nn.functional.leaky_relu(x, negative_slope)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return torch.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return torch.tanh(x)


def softmax(x, axis=-1):
    """exp(x_i) / sum_j exp(x_j) along ``axis``."""
    return torch.softmax(x, dim=axis)


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: max(0, min(1, x / 6 + 1 / 2))."""
    return nn.functional.hardsigmoid(x)


def rigid_sigmoid(x):
    """The lectures' rigid sigmoid: max(0, min(1, (x + 1) / 2))."""
    return torch.clamp((x + 1) * 0.5, 0.0, 1.0)


class RigidSigmoid(nn.Module):
    """``nn.Module`` form of :func:`rigid_sigmoid` (PyTorch has no built-in one)."""

    def forward(self, x):
        return rigid_sigmoid(x)


class Lambda(nn.Module):
    """Wraps a user's activation callable so it can sit in an ``nn.Sequential``."""

    def __init__(self, fn, name: str):
        super().__init__()
        self.fn = fn
        self.name = name

    def forward(self, x):
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


# name -> (function, module factory). The module is what models run.
_REGISTRY = {
    "linear": (linear, nn.Identity),
    "relu": (relu, nn.ReLU),
    "leaky_relu": (leaky_relu, lambda: nn.LeakyReLU(LEAKY_RELU_SLOPE)),
    "sigmoid": (sigmoid, nn.Sigmoid),
    "tanh": (tanh, nn.Tanh),
    "softmax": (softmax, lambda: nn.Softmax(dim=-1)),
    "hard_sigmoid": (hard_sigmoid, nn.Hardsigmoid),
    "rigid_sigmoid": (rigid_sigmoid, RigidSigmoid),
}
_BY_FUNCTION = {fn: name for name, (fn, _) in _REGISTRY.items()}
_BY_FUNCTION.update({torch.relu: "relu", torch.sigmoid: "sigmoid", torch.tanh: "tanh"})


def names() -> list[str]:
    """The activation names kerastyle knows."""
    return sorted(_REGISTRY)


def resolve_name(identifier) -> str | None:
    """The registry name of ``identifier`` (None, a name or one of our functions), else None."""
    if identifier is None:
        return "linear"
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _REGISTRY:
            raise ValueError(
                f"Unknown activation {identifier!r}. Valid names: {', '.join(names())}."
            )
        return key
    return _BY_FUNCTION.get(identifier)


def get(identifier) -> nn.Module:
    """An ``nn.Module`` for a name, a kerastyle/torch function, a callable or a module."""
    if isinstance(identifier, nn.Module):
        return identifier
    name = resolve_name(identifier)
    if name is not None:
        return _REGISTRY[name][1]()
    if callable(identifier):
        return Lambda(identifier, getattr(identifier, "__name__", type(identifier).__name__))
    raise TypeError(
        f"Argument `activation` must be a name, a callable or an nn.Module, got {identifier!r}. "
        f"Valid names: {', '.join(names())}."
    )


_BY_MODULE_TYPE = {type(factory()): name for name, (_, factory) in _REGISTRY.items()}


def name_of(module: nn.Module) -> str:
    """The Keras name of an activation module (for summaries and configs)."""
    if isinstance(module, Lambda):
        return module.name
    return _BY_MODULE_TYPE.get(type(module), type(module).__name__)
