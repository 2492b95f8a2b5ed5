"""Reshaping layers: ``Flatten``."""

from __future__ import annotations

import math

from .layer import Layer


class _FlattenOp:
    def forward(self, x):
        self.shape = x.shape
        return x.flatten(1)

    def backward(self, g):
        return g.reshape(self.shape)


class Flatten(Layer):
    """Flattens everything but the batch axis: ``(None, 28, 28)`` -> ``(None, 784)``."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"Flatten: argument `data_format` must be 'channels_last' or 'channels_first', got "
                             f"{data_format!r}.")
        self.data_format = data_format

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.dim() > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.flatten(1)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def analytic_ops(self, need_input_grad, input_owned):
        return None if self.data_format == "channels_first" else [_FlattenOp()]

    def get_config(self):
        config = super().get_config()
        if self.data_format is not None:
            config["data_format"] = self.data_format
        return config
