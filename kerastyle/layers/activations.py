"""Activation layers: ``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU``, ``Softmax``.

Those with a fixed function expose it as ``self.activation`` (an ``nn.Module``) with
``call_without_activation`` returning the input, like ``Activation``: a final ``Softmax`` layer is
absorbed by a cross-entropy loss, and the analytic engine trains through them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .. import activations, constraints, initializers, regularizers
from .core import Activation
from .layer import Layer


def _number(value, arg, owner, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ValueError(f"{owner}: argument `{arg}` must be a finite number{bound}"
                         f"{' or None' if allow_none else ''}, got {value!r}.")
    return float(value)


class _FixedActivation(Activation):
    """An ``Activation`` whose function the subclass sets up from its own arguments (and saves them)."""

    def __init__(self, **kwargs):
        Layer.__init__(self, **kwargs)
        self.supports_masking = True

    get_config = Layer.get_config  # the subclass adds its own arguments, not an `activation` key


class _ThresholdedReLU(nn.Module):
    """Keras's general ReLU: ``max_value`` above it, ``x`` from ``threshold`` on, else
    ``negative_slope * (x - threshold)``."""

    def __init__(self, max_value, negative_slope, threshold):
        super().__init__()
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def forward(self, x):
        y = torch.where(x >= self.threshold, x, (x - self.threshold) * self.negative_slope)
        return y if self.max_value is None else y.clamp(max=self.max_value)


class ReLU(_FixedActivation):
    """Rectified linear unit with Keras's options: ``max_value`` (cap), ``negative_slope`` (leak below the
    threshold) and ``threshold``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _number(max_value, "max_value", "ReLU", minimum=0.0, allow_none=True)
        self.negative_slope = _number(negative_slope, "negative_slope", "ReLU", minimum=0.0)
        self.threshold = _number(threshold, "threshold", "ReLU", minimum=0.0)
        if self.threshold == 0.0 and self.negative_slope == 0.0:
            self.activation = nn.ReLU() if self.max_value is None else \
                nn.ReLU6() if self.max_value == 6.0 else _ThresholdedReLU(self.max_value, 0.0, 0.0)
        elif self.threshold == 0.0 and self.max_value is None:
            self.activation = nn.LeakyReLU(self.negative_slope)
        else:
            self.activation = _ThresholdedReLU(self.max_value, self.negative_slope, self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(_FixedActivation):
    """``x`` for ``x >= 0``, ``negative_slope * x`` otherwise; the layer's Keras default slope is 0.3
    (Keras 2's name for it, ``alpha``, is accepted)."""

    def __init__(self, negative_slope=0.3, alpha=None, **kwargs):
        super().__init__(**kwargs)
        if alpha is not None:
            negative_slope = alpha
        self.negative_slope = _number(negative_slope, "negative_slope", "LeakyReLU", minimum=0.0)
        self.activation = nn.LeakyReLU(self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_FixedActivation):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number(alpha, "alpha", "ELU")
        self.activation = nn.ELU(self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(_FixedActivation):
    """Softmax along ``axis``; with a ``mask``, masked positions get (almost) zero probability, as in Keras."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        items = axis if isinstance(axis, (list, tuple)) else (axis,)
        if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items):
            raise ValueError(f"Softmax: argument `axis` must be an integer or a list of integers, got {axis!r}.")
        self.axis = int(items[0]) if len(items) == 1 and not isinstance(axis, (list, tuple)) else \
            tuple(int(a) for a in items)
        self.activation = nn.Softmax(dim=self.axis) if isinstance(self.axis, int) else \
            activations.Lambda(self._softmax_axes, "softmax")

    def _softmax_axes(self, x):
        return torch.exp(x - torch.logsumexp(x, dim=self.axis, keepdim=True))

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = mask if mask.dtype == torch.bool else mask > 0.5
            inputs = torch.where(mask, inputs, torch.tensor(-1e9, dtype=inputs.dtype, device=inputs.device))
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis}


class PReLU(Layer):
    """Leaky ReLU with a learned slope per input element (``alpha``, shape of the input without the batch
    axis; axes listed in ``shared_axes``, counted from 1, share one slope)."""

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        initializers.get(alpha_initializer)
        self.alpha_initializer = alpha_initializer
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is not None:
            items = shared_axes if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 1 for a in items):
                raise ValueError(f"PReLU: argument `shared_axes` must be a list of axes counted from 1 (the batch "
                                 f"axis excluded), got {shared_axes!r}.")
            shared_axes = [int(a) for a in items]
        self.shared_axes = shared_axes
        self.supports_masking = True
        self.alpha = None

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if axis > len(shape):
                raise ValueError(f"Layer {self.name!r} (PReLU): shared axis {axis} is out of range for inputs of shape "
                                 f"{tuple(input_shape)}.")
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"Layer {self.name!r} (PReLU): the input shape {tuple(input_shape)} has unknown sizes; "
                             f"share those axes with `shared_axes`.")
        self.alpha = self.add_weight(name="alpha", shape=tuple(shape), initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        self.built = True

    def call(self, inputs):
        return torch.relu(inputs) - self.alpha * torch.relu(-inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.name_of(initializers.get(self.alpha_initializer)),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint), "shared_axes": self.shared_axes}
