"""Regularization layers, active only in training: ``Dropout``, ``SpatialDropout1D/2D`` (whole
channels), ``GaussianNoise``, ``GaussianDropout``, and ``ActivityRegularization`` (a loss term)."""

from __future__ import annotations

import numpy as np
import torch

from .. import regularizers
from .convolution import data_format_arg
from .layer import InputSpec, Layer


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


def _seed_arg(seed, owner):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"{owner}: argument `seed` must be None or a non-negative integer, got {seed!r}.")
    return None if seed is None else int(seed)


class _SeededNoise(Layer):
    """Noise layers: with a ``seed``, draws come from the layer's own generator (one per device), so a
    seeded layer gives the same sequence of masks in every run; without one, from torch's global one."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _seed_arg(seed, type(self).__name__)
        self._generators: dict = {}
        self.supports_masking = True

    def _generator(self, device):
        if self.seed is None:
            return None
        gen = self._generators.get(device)
        if gen is None:
            gen = torch.Generator(device=device)
            gen.manual_seed(self.seed)
            self._generators[device] = gen
        return gen

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class SpatialDropout1D(_SeededNoise):
    """Dropout of whole channels of a ``(batch, steps, channels)`` input: one keep/drop draw per sample and
    channel, shared by all steps (the kept values scaled by ``1 / (1 - rate)``)."""

    _rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = rate_in_unit_interval(rate, type(self).__name__)
        self.data_format = "channels_last"
        self.input_spec = InputSpec(ndim=self._rank + 2)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        n = inputs.shape[0]
        if self.data_format == "channels_last":
            shape = (n, *([1] * self._rank), inputs.shape[-1])
        else:
            shape = (n, inputs.shape[1], *([1] * self._rank))
        keep = 1.0 - self.rate
        noise = torch.empty(shape, dtype=inputs.dtype, device=inputs.device).bernoulli_(
            keep, generator=self._generator(inputs.device))
        return inputs * noise.div_(keep)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class SpatialDropout2D(SpatialDropout1D):
    """Dropout of whole feature maps of an image batch (one draw per sample and channel)."""

    _rank = 2

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = data_format_arg(data_format, "SpatialDropout2D")

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class GaussianNoise(_SeededNoise):
    """Adds ``N(0, stddev^2)`` noise in training (a regularizer for real-valued inputs)."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float, np.integer, np.floating)) or stddev < 0 \
                or not np.isfinite(stddev):
            raise ValueError(f"GaussianNoise: argument `stddev` must be a finite number >= 0, got {stddev!r}.")
        self.stddev = float(stddev)

    def call(self, inputs, training=None):
        if not training or self.stddev == 0.0:
            return inputs
        noise = torch.empty_like(inputs).normal_(0.0, self.stddev, generator=self._generator(inputs.device))
        return inputs + noise

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_SeededNoise):
    """Multiplies by ``N(1, rate / (1 - rate))`` noise in training (mean-preserving, like dropout's variance)."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = rate_in_unit_interval(rate, "GaussianDropout")

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        stddev = (self.rate / (1.0 - self.rate)) ** 0.5
        noise = torch.empty_like(inputs).normal_(1.0, stddev, generator=self._generator(inputs.device))
        return inputs * noise

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class ActivityRegularization(Layer):
    """Passes its input through and adds ``l1 * sum|x| + l2 * sum x^2`` of it to the training loss
    (through the layer's activity regularizer, so the term is scaled as every activity regularizer is)."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        if "activity_regularizer" in kwargs:
            raise TypeError("ActivityRegularization: unrecognized keyword argument 'activity_regularizer' (give "
                            "`l1` and `l2`).")
        regularizer = regularizers.L1L2(l1=l1, l2=l2)
        super().__init__(activity_regularizer=regularizer, **kwargs)
        self.l1, self.l2 = regularizer.l1, regularizer.l2
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
