"""Keras layers as thin descriptions of real ``torch.nn`` modules.

A layer knows its shapes, its name and its Keras-facing weights; ``build``
creates the torch modules (``nn.Linear``, ``nn.ReLU``, ...) that a model runs.
Shapes exclude the batch axis on input (``input_shape=(784,)``) and include it
as ``None`` on output (``(None, 128)``), as in Keras.
"""

from __future__ import annotations

import math
import re

import numpy as np
import torch
from torch import nn

from . import activations, backend, initializers


def _as_shape(shape, arg: str) -> tuple[int, ...]:
    """Normalise ``784``, ``(784,)`` or ``[28, 28]`` to a tuple of positive ints."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"Argument `{arg}` must be an int or a tuple of ints, got {shape!r}.") from None
    if not shape or any(d <= 0 for d in shape):
        raise ValueError(f"Argument `{arg}` must be non-empty with positive sizes, got {shape!r}.")
    return shape


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Layer:
    """Base class: a named piece of a model that owns zero or more torch modules."""

    def __init__(self, name=None, input_shape=None, input_dim=None, trainable=True):
        self.name = name or backend.unique_name(_snake_case(type(self).__name__))
        if input_dim is not None:
            input_shape = (input_dim,)
        self.batch_input_shape = None if input_shape is None else (None, *_as_shape(input_shape, "input_shape"))
        self.trainable = trainable
        self.built = False
        self.input_shape = None
        self.output_shape = None
        self.modules: list[nn.Module] = []

    # -- building ---------------------------------------------------------
    def build(self, input_shape) -> tuple:
        """Create the torch modules for an input of ``input_shape`` (batch axis included)."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.modules = self._make_modules(self.input_shape)
        device = backend.get_device()
        for module in self.modules:
            module.to(device)
            module.requires_grad_(self.trainable)
        self.built = True
        return self.output_shape

    def compute_output_shape(self, input_shape) -> tuple:
        return tuple(input_shape)

    def _make_modules(self, input_shape) -> list[nn.Module]:
        return []

    def __call__(self, x):
        """Run the layer on a tensor (building it from the tensor's shape if needed)."""
        if not self.built:
            self.build((None, *x.shape[1:]))
        for module in self.modules:
            x = module(x)
        return x

    # -- weights ----------------------------------------------------------
    @property
    def weights(self) -> list[torch.Tensor]:
        """Parameters in Keras order, in torch layout."""
        return [p for m in self.modules for p in m.parameters()]

    @property
    def trainable_weights(self):
        return self.weights if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self.trainable else self.weights

    def count_params(self) -> int:
        return sum(p.numel() for p in self.weights)

    def get_weights(self) -> list[np.ndarray]:
        """Weights as numpy arrays in Keras layout."""
        return [self._to_keras(p).detach().cpu().numpy().copy() for p in self.weights]

    def set_weights(self, weights) -> None:
        """Load weights given in Keras layout (as returned by ``get_weights``)."""
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(
                f"Layer {self.name!r} expects {len(params)} weight arrays, got {len(weights)}."
            )
        with torch.no_grad():
            for i, (param, value) in enumerate(zip(params, weights)):
                value = torch.as_tensor(np.asarray(value), dtype=param.dtype)
                expected = tuple(self._to_keras(param).shape)
                if tuple(value.shape) != expected:
                    raise ValueError(
                        f"Layer {self.name!r}: weight {i} must have shape {expected}, "
                        f"got {tuple(value.shape)}."
                    )
                param.copy_(self._from_keras(value, param))

    def _to_keras(self, param):
        return param

    def _from_keras(self, value, param):
        return value

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable}
        if self.batch_input_shape is not None:
            config["batch_input_shape"] = list(self.batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        shape = config.pop("batch_input_shape", None)
        if shape is not None:
            config["input_shape"] = tuple(shape[1:])
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class InputLayer(Layer):
    """Declares the input shape of a Sequential model; owns no modules."""

    def __init__(self, shape=None, batch_size=None, name=None, input_shape=None):
        if shape is None:
            shape = input_shape
        if shape is None:
            raise ValueError("Input needs `shape`, e.g. Input(shape=(784,)).")
        super().__init__(name=name, input_shape=shape)
        self.batch_size = batch_size

    def get_config(self):
        return {"name": self.name, "batch_input_shape": list(self.batch_input_shape)}

    @classmethod
    def from_config(cls, config):
        return cls(shape=tuple(config["batch_input_shape"][1:]), name=config.get("name"))


def Input(shape=None, batch_size=None, name=None, **kwargs):
    """``keras.Input``: declares a model's input shape (without the batch axis)."""
    return InputLayer(shape=shape, batch_size=batch_size, name=name, **kwargs)


class Dense(Layer):
    """Fully connected layer ``activation(x @ kernel + bias)``, run as ``nn.Linear``.

    ``get_weights()`` returns ``[kernel (in, out), bias (out,)]`` as Keras does;
    torch keeps ``weight`` as ``(out, in)``, the same numbers transposed. In memory the kernel is
    stored as Keras lays it out, ``(in, out)`` row-major, and ``weight`` is its transposed view
    (``weight.T`` is contiguous): ``x @ weight.T`` then reads it in the order the fastest matrix
    product wants, and the analytic engine writes the weight gradient the same way.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: argument `units` must be a positive integer, got {units!r}.")
        self.units = int(units)
        self.activation_name = activations.resolve_name(activation)
        self.activation = activation
        activations.get(activation)  # validate now, not at build time
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        initializers.get(kernel_initializer)
        initializers.get(bias_initializer)
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def _make_modules(self, input_shape):
        linear = nn.Linear(input_shape[-1], self.units, bias=self.use_bias)
        initializers.apply(self.kernel_initializer, linear.weight)
        with torch.no_grad():  # keep the kernel (in, out) row-major, as Keras does; weight is its .T view
            linear.weight.data = linear.weight.t().contiguous().t()
        if self.use_bias:
            initializers.apply(self.bias_initializer, linear.bias)
        modules = [linear]
        if self.activation_name != "linear":
            modules.append(activations.get(self.activation))
        return modules

    @property
    def weights(self):
        linear = self.modules[0] if self.modules else None
        if linear is None:
            return []
        return [linear.weight] + ([linear.bias] if self.use_bias else [])

    def _to_keras(self, param):
        return param.T if param.dim() == 2 else param

    def _from_keras(self, value, param):
        return value.T if param.dim() == 2 else value

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation_name or activations.name_of(activations.get(self.activation)),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.name_of(initializers.get(self.kernel_initializer)),
            "bias_initializer": initializers.name_of(initializers.get(self.bias_initializer)),
        }


class Activation(Layer):
    """Applies an activation function by name or callable."""

    def __init__(self, activation, **kwargs):
        self.activation_name = activations.resolve_name(activation)
        self.activation = activation
        activations.get(activation)
        super().__init__(**kwargs)

    def _make_modules(self, input_shape):
        return [activations.get(self.activation)]

    def get_config(self):
        return {**super().get_config(),
                "activation": self.activation_name or activations.name_of(activations.get(self.activation))}


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of inputs during training (inverted dropout, as Keras)."""

    def __init__(self, rate, **kwargs):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: argument `rate` must be a number in [0, 1), got {rate!r}.")
        self.rate = float(rate)
        super().__init__(**kwargs)

    def _make_modules(self, input_shape):
        return [nn.Dropout(self.rate)]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class Flatten(Layer):
    """Flattens everything but the batch axis: ``(None, 28, 28)`` -> ``(None, 784)``."""

    def compute_output_shape(self, input_shape):
        return (input_shape[0], math.prod(input_shape[1:]))

    def _make_modules(self, input_shape):
        return [nn.Flatten(start_dim=1)]


LAYERS = {cls.__name__: cls for cls in (InputLayer, Dense, Activation, Dropout, Flatten)}
