"""Pooling layers: ``MaxPooling1D/2D``, ``AveragePooling1D/2D`` and the global poolings.

``padding='same'`` follows Keras: the window padding is split with the extra pixel at the end, a
max pool ignores the padding, and an average pool divides by the number of real (not padded) inputs
in each window. Torch's pooling with ``count_include_pad=False`` does exactly that when the padding
is symmetric; otherwise the input is padded explicitly and divided by the cached count of real inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .convolution import conv_output_length, data_format_arg, int_tuple, pad_spatial, padding_arg, same_padding
from .layer import InputSpec, Layer

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class _Pooling(Layer):
    rank = 2
    mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = int_tuple(pool_size, self.rank, "pool_size", owner)
        self.strides = self.pool_size if strides is None else int_tuple(strides, self.rank, "strides", owner)
        self.padding = padding_arg(padding, owner)
        self.data_format = data_format_arg(data_format, owner)
        self._channels_last = self.data_format == "channels_last"
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self._plans: dict = {}

    def _plan(self, spatial, device, dtype):
        """For inputs of these spatial sizes: ``(symmetric padding or None, explicit pads, real-input count)``."""
        key = (spatial, device, dtype)
        plan = self._plans.get(key)
        if plan is None:
            if self.padding == "valid":
                pads = tuple((0, 0) for _ in spatial)
            else:
                pads = tuple(same_padding(n, k, s) for n, k, s in zip(spatial, self.pool_size, self.strides))
            symmetric = tuple(a for a, _ in pads) if all(a == b for a, b in pads) else None
            fraction = None
            if symmetric is None and self.mode == "avg":
                ones = torch.ones((1, 1, *spatial), device=device, dtype=dtype)
                fraction = _AVG[self.rank](pad_spatial(ones, pads, False), self.pool_size, self.strides)
            plan = (symmetric, pads, fraction)
            self._plans[key] = plan
        return plan

    def call(self, inputs):
        spatial = tuple(inputs.shape[1:-1]) if self._channels_last else tuple(inputs.shape[2:])
        symmetric, pads, fraction = self._plan(spatial, inputs.device, inputs.dtype)
        x = inputs
        if symmetric is None:
            x = pad_spatial(x, pads, self._channels_last, float("-inf") if self.mode == "max" else 0.0)
            symmetric = 0
        if self._channels_last:
            x = x.movedim(-1, 1)
        if self.mode == "max":
            y = _MAX[self.rank](x, self.pool_size, self.strides, symmetric)
        else:
            y = _AVG[self.rank](x, self.pool_size, self.strides, symmetric, count_include_pad=False)
            if fraction is not None:
                y = y / fraction
        return y.movedim(1, -1) if self._channels_last else y

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        spatial = input_shape[1:-1] if self._channels_last else input_shape[2:]
        out = tuple(conv_output_length(n, k, s, self.padding) for n, k, s in
                    zip(spatial, self.pool_size, self.strides))
        if self._channels_last:
            return (input_shape[0], *out, input_shape[-1])
        return (input_shape[0], input_shape[1], *out)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    """Maximum over windows of ``pool_size`` steps."""

    rank, mode = 1, "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling):
    """Mean over windows of ``pool_size`` steps (with 'same', over the real inputs only)."""

    rank, mode = 1, "avg"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(_Pooling):
    """Maximum over ``pool_size`` windows of an image."""

    rank, mode = 2, "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(_Pooling):
    """Mean over ``pool_size`` windows of an image (with 'same', over the real pixels only)."""

    rank, mode = 2, "avg"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _GlobalPooling(Layer):
    rank = 2
    mode = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        first = 1 if self.data_format == "channels_last" else 2
        self._axes = tuple(range(first, first + self.rank))
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        if self.mode == "max":
            return torch.amax(inputs, dim=self._axes, keepdim=self.keepdims)
        return torch.mean(inputs, dim=self._axes, keepdim=self.keepdims)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.keepdims:
            return tuple(1 if i in self._axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in self._axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over the steps axis."""

    rank, mode = 1, "max"


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps axis; with a ``mask`` (batch, steps), over the unmasked steps only."""

    rank, mode = 1, "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        axis = self._axes[0]
        weights = mask.to(inputs.dtype).unsqueeze(2 if axis == 1 else 1)
        total = (inputs * weights).sum(axis, keepdim=self.keepdims)
        return total / weights.sum(axis, keepdim=self.keepdims)


class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over the spatial axes of an image."""

    rank, mode = 2, "max"


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over the spatial axes of an image."""

    rank, mode = 2, "avg"


# Keras 2 aliases
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
