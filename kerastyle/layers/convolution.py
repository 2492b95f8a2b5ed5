"""Convolution layers: ``Conv1D``, ``Conv2D``, ``Conv2DTranspose``, ``DepthwiseConv2D``, ``SeparableConv2D``.

Kernels are stored in Keras layouts (``Conv2D``: ``(kh, kw, in / groups, filters)``) and viewed in
torch's ``(out, in, kh, kw)`` order with a free ``permute`` at call time. Channels-last inputs are
handed to torch as a permuted view (torch's conv treats it as the channels-last memory format), and
the result is permuted back: no copies of activations. ``padding='same'`` pads as Keras does: the
total padding ``max((ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)`` is split with the extra pixel
at the end, so the numbers equal Keras's even for even kernels and strides above one.
"""

from __future__ import annotations

import math

import numpy as np
import torch.nn.functional as F

from .. import activations, backend, constraints, initializers, regularizers
from .core import _activation_config, positive_int
from .layer import InputSpec, Layer

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


# -- argument helpers (shared with pooling and reshaping) -------------------------------------------
def int_tuple(value, n, arg, owner, minimum=1) -> tuple:
    """``3`` or ``(3, 3)`` (or a list) as a tuple of ``n`` integers >= ``minimum``."""
    items = (value,) * n if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    if not isinstance(items, (tuple, list)) or len(items) != n or any(
            isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum for v in items):
        kind = "positive integer" if minimum == 1 else f"integer >= {minimum}"
        raise ValueError(f"{owner}: argument `{arg}` must be a {kind} or a tuple of {n} of them, got {value!r}.")
    return tuple(int(v) for v in items)


def data_format_arg(value, owner) -> str:
    """``None`` means the backend's ``image_data_format()`` ('channels_last' unless changed)."""
    if value is None:
        value = backend.image_data_format()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"{owner}: argument `data_format` must be 'channels_last' or 'channels_first', got "
                         f"{value!r}.")
    return value


def padding_arg(value, owner, allowed=("valid", "same")) -> str:
    key = value.lower() if isinstance(value, str) else value
    if key not in allowed:
        raise ValueError(f"{owner}: argument `padding` must be one of {', '.join(map(repr, allowed))}, got {value!r}.")
    return key


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Keras/TensorFlow 'same' padding ``(before, after)`` of one axis: the extra pixel goes at the end."""
    effective = dilation * (kernel - 1) + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def conv_output_length(size, kernel, stride, padding, dilation=1):
    """Keras's output length of a convolution or pooling window along one axis (``None`` stays ``None``)."""
    if size is None:
        return None
    if padding in ("same", "causal"):
        return -(-size // stride)
    effective = dilation * (kernel - 1) + 1
    return max((size - effective) // stride + 1, 0)


def transpose_output_length(size, kernel, stride, padding, output_padding, dilation=1):
    """Keras's output length of a transposed convolution along one axis."""
    if size is None:
        return None
    effective = dilation * (kernel - 1) + 1
    if output_padding is None:
        return size * stride + (max(effective - stride, 0) if padding == "valid" else 0)
    pad = effective // 2 if padding == "same" else 0
    return (size - 1) * stride + effective - 2 * pad + output_padding


def pad_spatial(x, pads, channels_last: bool, value=0.0):
    """Pad the spatial axes of ``x`` (in its own layout) by ``pads = ((before, after), ...)``."""
    flat = []
    for before, after in reversed(pads):
        flat += [before, after]
    if channels_last:
        flat = [0, 0] + flat
    return F.pad(x, flat, value=value)


def _check_spatial(owner, name, input_shape, rank, channels_last):
    if len(input_shape) != rank + 2:
        raise ValueError(f"Layer {name!r} ({owner}) expects inputs of rank {rank + 2} (batch, "
                         f"{'spatial axes, channels' if channels_last else 'channels, spatial axes'}), got "
                         f"shape {tuple(input_shape)}.")
    channels = input_shape[-1] if channels_last else input_shape[1]
    if channels is None:
        raise ValueError(f"Layer {name!r} ({owner}) needs a known channel axis, got input shape {tuple(input_shape)}.")
    return channels


class _Conv(Layer):
    """Shared machinery of the convolutions: arguments, padding, layouts, shapes, config."""

    rank = 2
    _kernel_arg = "kernel"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, _paddings=("valid", "same"), **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        owner, n = type(self).__name__, self.rank
        self.filters = None if filters is None else positive_int(filters, "filters", owner)
        self.kernel_size = int_tuple(kernel_size, n, "kernel_size", owner)
        self.strides = int_tuple(strides, n, "strides", owner)
        self.padding = padding_arg(padding, owner, _paddings)
        self.data_format = data_format_arg(data_format, owner)
        self.dilation_rate = int_tuple(dilation_rate, n, "dilation_rate", owner)
        self.groups = positive_int(groups, "groups", owner)
        if self.filters is not None and self.filters % self.groups:
            raise ValueError(f"{owner}: `filters` ({self.filters}) must be divisible by `groups` ({self.groups}).")
        self._activation_id = activation
        self.activation = activations.get(activation)
        self._linear = activations.name_of(self.activation) == "linear"
        self.use_bias = bool(use_bias)
        initializers.get(kernel_initializer)
        initializers.get(bias_initializer)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._channels_last = self.data_format == "channels_last"
        self._pads_cache: dict = {}
        self.kernel = None
        self.bias = None

    # -- layout helpers ----------------------------------------------------------------------
    def _channel_axis(self):
        return -1 if self._channels_last else 1

    def _spatial(self, shape):
        return tuple(shape[1:-1]) if self._channels_last else tuple(shape[2:])

    def _to_torch(self, x):
        return x.movedim(-1, 1) if self._channels_last else x

    def _from_torch(self, y):
        return y.movedim(1, -1) if self._channels_last else y

    def _pads(self, spatial):
        """Padding per spatial axis for inputs of these sizes: ``(symmetric ints or None, explicit pads)``."""
        cached = self._pads_cache.get(spatial)
        if cached is None:
            if self.padding == "valid":
                pads = tuple((0, 0) for _ in spatial)
            elif self.padding == "causal":
                pads = tuple((d * (k - 1), 0) for k, d in zip(self.kernel_size, self.dilation_rate))
            else:
                pads = tuple(same_padding(n, k, s, d) for n, k, s, d in
                             zip(spatial, self.kernel_size, self.strides, self.dilation_rate))
            symmetric = all(a == b for a, b in pads)
            cached = (tuple(a for a, _ in pads) if symmetric else None, pads)
            self._pads_cache[spatial] = cached
        return cached

    def _convolve(self, x, weight, bias, stride, dilation, groups):
        """``x`` in the layer's layout -> torch-layout output of the padded convolution."""
        conv = _CONV[self.rank]
        symmetric, pads = self._pads(tuple(x.shape[1:-1]) if self._channels_last else tuple(x.shape[2:]))
        if symmetric is None:
            x = pad_spatial(x, pads, self._channels_last)
            symmetric = 0
        return conv(self._to_torch(x), weight, bias, stride, symmetric, dilation, groups)

    def _torch_kernel(self, kernel):
        """Keras ``(*k, in, out)`` -> torch ``(out, in, *k)``: a view."""
        n = self.rank
        return kernel.permute(n + 1, n, *range(n))

    # -- the contract -------------------------------------------------------------------------
    def build(self, input_shape):
        owner = type(self).__name__
        channels = _check_spatial(owner, self.name, input_shape, self.rank, self._channels_last)
        if channels % self.groups:
            raise ValueError(f"Layer {self.name!r} ({owner}): the number of input channels ({channels}) must be "
                             f"divisible by `groups` ({self.groups}).")
        self._add_kernel_and_bias((*self.kernel_size, channels // self.groups, self.filters), channels)

    def _add_kernel_and_bias(self, kernel_shape, channels):
        """The kernel (Keras layout), the bias and the input spec, from the layer's arguments."""
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis(): channels})
        self.built = True

    def call_without_activation(self, inputs):
        y = self._convolve(inputs, self._torch_kernel(self.kernel), self.bias, self.strides, self.dilation_rate,
                           self.groups)
        return self._from_torch(y)

    def call(self, inputs):
        z = self.call_without_activation(inputs)
        return z if self._linear else self.activation(z)

    def _output_channels(self, input_shape):
        return self.filters

    def _output_spatial(self, spatial):
        return tuple(conv_output_length(n, k, s, self.padding, d) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        spatial = self._output_spatial(self._spatial(input_shape))
        channels = self._output_channels(input_shape)
        if self._channels_last:
            return (input_shape[0], *spatial, channels)
        return (input_shape[0], channels, *spatial)

    def _weight_config(self):
        return {"kernel_initializer": initializers.name_of(initializers.get(self.kernel_initializer)),
                "bias_initializer": initializers.name_of(initializers.get(self.bias_initializer)),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": _activation_config(self, self.activation, self._activation_id), "use_bias": self.use_bias,
                **self._weight_config(), "activity_regularizer": regularizers.serialize(self.activity_regularizer)}


class Conv1D(_Conv):
    """1-D convolution over ``(batch, steps, channels)``; ``padding='causal'`` pads only the past, so
    output step ``t`` sees inputs up to ``t`` (WaveNet-style)."""

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, groups=groups, _paddings=("valid", "same", "causal"), **kwargs)


class Conv2D(_Conv):
    """2-D convolution over images ``(batch, rows, cols, channels)`` (or channels first)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 groups=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, groups=groups, **kwargs)


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution ("deconvolution"), Keras's kernel layout ``(kh, kw, filters, in)``.

    Output sizes follow Keras: ``'same'`` gives ``n * stride``, ``'valid'`` gives
    ``n * stride + max(k - stride, 0)``, and ``output_padding`` adds rows at the end."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None, data_format=None,
                 dilation_rate=(1, 1), **kwargs):
        if "groups" in kwargs:
            raise TypeError("Conv2DTranspose: unrecognized keyword argument 'groups' (Keras's Conv2DTranspose has "
                            "no groups).")
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)
        if output_padding is not None:
            output_padding = int_tuple(output_padding, self.rank, "output_padding", "Conv2DTranspose", minimum=0)
            for p, s in zip(output_padding, self.strides):
                if p >= s:
                    raise ValueError(f"Conv2DTranspose: argument `output_padding` {output_padding} must be smaller "
                                     f"than `strides` {self.strides}.")
        self.output_padding = output_padding

    def build(self, input_shape):
        channels = _check_spatial("Conv2DTranspose", self.name, input_shape, self.rank, self._channels_last)
        self._add_kernel_and_bias((*self.kernel_size, self.filters, channels), channels)

    def _plan(self, spatial):
        """Per axis: torch's ``padding``/``output_padding`` and the slice/zero-pad that give Keras's output."""
        plan = self._pads_cache.get(spatial)
        if plan is None:
            torch_pad, torch_out_pad, fix = [], [], []
            for n, k, s, d, op in zip(spatial, self.kernel_size, self.strides, self.dilation_rate,
                                      self.output_padding or (None,) * self.rank):
                target = transpose_output_length(n, k, s, self.padding, op, d)
                full = (n - 1) * s + d * (k - 1) + 1
                if self.padding == "valid":
                    before = 0
                else:  # the 'same' forward convolution whose gradient this is, on an output of `target` rows
                    before = same_padding(target, k, s, d)[0]
                after = full - before - target  # rows to crop at the end (negative: zeros to add)
                pad = min(before, max(after, 0))
                extra = before - pad  # rows still to crop at the start
                length = full - 2 * pad
                out_pad = target + extra - length
                if 0 <= out_pad < max(s, d):
                    torch_pad.append(pad)
                    torch_out_pad.append(out_pad)
                    fix.append((extra, target, 0))
                else:
                    torch_pad.append(pad)
                    torch_out_pad.append(0)
                    fix.append((extra, min(target, length - extra), max(target - (length - extra), 0)))
            plan = (tuple(torch_pad), tuple(torch_out_pad), tuple(fix))
            self._pads_cache[spatial] = plan
        return plan

    def call_without_activation(self, inputs):
        spatial = tuple(inputs.shape[1:-1]) if self._channels_last else tuple(inputs.shape[2:])
        pad, out_pad, fix = self._plan(spatial)
        weight = self.kernel.permute(3, 2, 0, 1)  # (kh, kw, out, in) -> torch's (in, out, kh, kw)
        zero_fill = any(z for _, _, z in fix)
        y = _CONV_T[self.rank](self._to_torch(inputs), weight, None if zero_fill else self.bias, self.strides,
                               pad, out_pad, 1, self.dilation_rate)
        if any(start or z or length != y.shape[2 + i] for i, (start, length, z) in enumerate(fix)):
            index = (slice(None), slice(None)) + tuple(slice(start, start + length) for start, length, _ in fix)
            y = y[index]
            if zero_fill:
                flat = []
                for _, _, z in reversed(fix):
                    flat += [0, z]
                y = F.pad(y, flat)
        if zero_fill and self.bias is not None:
            y = y + self.bias.view(-1, *([1] * self.rank))
        return self._from_torch(y)

    def _output_spatial(self, spatial):
        return tuple(transpose_output_length(n, k, s, self.padding, op, d) for n, k, s, d, op in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate,
                         self.output_padding or (None,) * self.rank))

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        config["output_padding"] = self.output_padding
        return config


class DepthwiseConv2D(_Conv):
    """Each input channel convolved with its own ``depth_multiplier`` filters; kernel ``(kh, kw, in, m)``,
    output channel ``c * m + j`` (Keras's order)."""

    rank = 2

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(None, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         kernel_initializer=depthwise_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=depthwise_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=depthwise_constraint,
                         bias_constraint=bias_constraint, **kwargs)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", "DepthwiseConv2D")
        self.depthwise_kernel = None
        self._in_channels = None

    def build(self, input_shape):
        channels = _check_spatial("DepthwiseConv2D", self.name, input_shape, self.rank, self._channels_last)
        self._in_channels = channels
        self.depthwise_kernel = self.add_weight(
            name="kernel", shape=(*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(channels * self.depth_multiplier,),
                                        initializer=self.bias_initializer, regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis(): channels})
        self.built = True

    def _depthwise_weight(self):
        """``(kh, kw, in, m)`` -> torch's grouped ``(in * m, 1, kh, kw)``: views of the parameter."""
        kh, kw, c, m = self.depthwise_kernel.shape
        return self.depthwise_kernel.reshape(kh, kw, 1, c * m).permute(3, 2, 0, 1)

    def call_without_activation(self, inputs):
        y = self._convolve(inputs, self._depthwise_weight(), self.bias, self.strides, self.dilation_rate,
                           self._in_channels)
        return self._from_torch(y)

    def _output_channels(self, input_shape):
        channels = input_shape[-1] if self._channels_last else input_shape[1]
        return None if channels is None else channels * self.depth_multiplier

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "groups"):
            del config[key]
        for old in ("initializer", "regularizer", "constraint"):
            config[f"depthwise_{old}"] = config.pop(f"kernel_{old}")
        config["depth_multiplier"] = self.depth_multiplier
        return config


class SeparableConv2D(DepthwiseConv2D):
    """A depthwise convolution followed by a 1x1 pointwise one (``pointwise_kernel (1, 1, in * m, filters)``)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding, depth_multiplier=depth_multiplier,
                         data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                         use_bias=use_bias, depthwise_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer, depthwise_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint, **kwargs)
        self.filters = positive_int(filters, "filters", "SeparableConv2D")
        initializers.get(pointwise_initializer)
        self.pointwise_initializer = pointwise_initializer
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)
        self.pointwise_kernel = None

    def build(self, input_shape):
        channels = _check_spatial("SeparableConv2D", self.name, input_shape, self.rank, self._channels_last)
        self._in_channels = channels
        self.depthwise_kernel = self.add_weight(
            name="depthwise_kernel", shape=(*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel", shape=(1, 1, channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis(): channels})
        self.built = True

    def call_without_activation(self, inputs):
        y = self._convolve(inputs, self._depthwise_weight(), None, self.strides, self.dilation_rate,
                           self._in_channels)
        y = F.conv2d(y, self.pointwise_kernel.permute(3, 2, 0, 1), self.bias)
        return self._from_torch(y)

    def _output_channels(self, input_shape):
        return self.filters

    def get_config(self):
        config = super().get_config()
        config["filters"] = self.filters
        config["pointwise_initializer"] = initializers.name_of(initializers.get(self.pointwise_initializer))
        config["pointwise_regularizer"] = regularizers.serialize(self.pointwise_regularizer)
        config["pointwise_constraint"] = constraints.serialize(self.pointwise_constraint)
        return config


# Keras 2 aliases
Convolution1D, Convolution2D, Convolution2DTranspose = Conv1D, Conv2D, Conv2DTranspose
SeparableConvolution2D = SeparableConv2D
