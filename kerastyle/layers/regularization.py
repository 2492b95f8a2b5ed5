"""Regularization layers: ``Dropout`` (inverted dropout, active only in training)."""

from __future__ import annotations

import numpy as np
import torch

from .layer import Layer


class _DropoutOp:
    """Inverted dropout drawn exactly as torch draws it on CPU (``bernoulli_(1 - rate)`` on a tensor like
    the input, divided by ``1 - rate``), so both engines consume the random stream alike; the backward
    pass multiplies by the same mask."""

    def __init__(self, layer):
        self.layer = layer
        self.keep = 1.0 - layer.rate
        self.noise = None
        self.fresh_output = layer.rate > 0  # x * noise is new and not kept (rate 0 passes x itself through)

    def forward(self, x):
        if self.keep == 1.0 or not self.layer.training:
            self.noise = None
            return x
        if self.keep == 0.0:
            self.noise = torch.zeros_like(x)
        else:
            self.noise = torch.empty_like(x).bernoulli_(self.keep).div_(self.keep)
        return x * self.noise

    def backward(self, g):
        return g if self.noise is None else g.mul_(self.noise)


def rate_in_unit_interval(rate, owner) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) or not 0 <= rate < 1:
        raise ValueError(f"{owner}: argument `rate` must be a number in [0, 1), got {rate!r}.")
    return float(rate)


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of inputs during training and scales the rest by ``1 / (1 - rate)``."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate_in_unit_interval(rate, "Dropout")
        if noise_shape is not None:
            raise ValueError("Dropout: argument `noise_shape` is not supported by kerastyle; use SpatialDropout.")
        self.seed = seed
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        return torch.nn.functional.dropout(inputs, self.rate, training=True)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def analytic_ops(self, need_input_grad, input_owned):
        return [_DropoutOp(self)]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
