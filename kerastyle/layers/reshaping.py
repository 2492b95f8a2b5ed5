"""Reshaping layers: ``Flatten``, ``Reshape``, ``Permute``, ``RepeatVector``, ``UpSampling1D/2D``,
``ZeroPadding1D/2D``, ``Cropping1D/2D``.

Shapes exclude the batch axis in arguments (``Reshape((7, 7, 16))``, ``Permute((2, 1))`` counts axes
from 1) as in Keras. Most outputs are views of the input (reshape, permute, expand, slicing)."""

from __future__ import annotations

import math

import numpy as np
import torch.nn.functional as F

from .convolution import data_format_arg, int_tuple
from .layer import InputSpec, Layer


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


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (batch axis excluded; one size may be ``-1``)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, (int, np.integer)) and not isinstance(target_shape, bool):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (tuple, list)) or any(
                isinstance(d, bool) or not isinstance(d, (int, np.integer)) or (d <= 0 and d != -1)
                for d in target_shape) or list(target_shape).count(-1) > 1:
            raise ValueError(f"Reshape: argument `target_shape` must be a tuple of positive integers with at most "
                             f"one -1, got {target_shape!r}.")
        self.target_shape = tuple(int(d) for d in target_shape)
        self.supports_masking = False

    def _resolved(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        total, known = math.prod(rest), math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if known == 0 or total % known:
                raise ValueError(f"Reshape: cannot reshape inputs of shape {tuple(input_shape)} to "
                                 f"{self.target_shape}: {total} values do not divide into parts of {known}.")
            return tuple(total // known if d == -1 else d for d in self.target_shape)
        if total != known:
            raise ValueError(f"Reshape: cannot reshape inputs of shape {tuple(input_shape)} ({total} values per "
                             f"sample) to {self.target_shape} ({known} values).")
        return self.target_shape

    def build(self, input_shape):
        self._resolved(input_shape)  # a size mismatch is an error at build time, naming both shapes
        self.built = True

    def call(self, inputs):
        return inputs.reshape(inputs.shape[0], *self.target_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self._resolved(tuple(input_shape)))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Permutes the non-batch axes: ``dims`` is a permutation of ``1..n`` (``Permute((2, 1))`` swaps two)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims) if isinstance(dims, (tuple, list)) else dims
        if not isinstance(dims, tuple) or any(isinstance(d, bool) or not isinstance(d, (int, np.integer))
                                              for d in dims) or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: argument `dims` must be a permutation of 1..n (axes counted from 1, the "
                             f"batch axis excluded), got {dims!r}.")
        self.dims = tuple(int(d) for d in dims)
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return inputs.permute(0, *self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Repeats a ``(batch, features)`` input ``n`` times: ``(batch, n, features)``."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"RepeatVector: argument `n` must be a positive integer, got {n!r}.")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return inputs.unsqueeze(1).expand(-1, self.n, -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


def _times(size, factor):
    return None if size is None else size * factor


class UpSampling1D(Layer):
    """Repeats each step ``size`` times along the steps axis."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = int_tuple(size, 1, "size", "UpSampling1D")[0]
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return inputs.repeat_interleave(self.size, dim=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _times(input_shape[1], self.size), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling2D(Layer):
    """Enlarges images by integer ``size`` factors: ``'nearest'`` repeats pixels, ``'bilinear'`` (and
    ``'bicubic'``) interpolate with half-pixel centers, as Keras's resize does."""

    _MODES = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "bicubic"}

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = int_tuple(size, 2, "size", "UpSampling2D")
        self.data_format = data_format_arg(data_format, "UpSampling2D")
        if interpolation not in self._MODES:
            raise ValueError(f"UpSampling2D: argument `interpolation` must be one of {sorted(self._MODES)}, got "
                             f"{interpolation!r}.")
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        last = self.data_format == "channels_last"
        x = inputs.movedim(-1, 1) if last else inputs
        if self.interpolation == "nearest":
            y = F.interpolate(x, scale_factor=self.size, mode="nearest")
        else:
            size = (x.shape[2] * self.size[0], x.shape[3] * self.size[1])
            y = F.interpolate(x, size=size, mode=self._MODES[self.interpolation], align_corners=False)
        return y.movedim(1, -1) if last else y

    def compute_output_shape(self, input_shape):
        n, a, b, c = input_shape
        if self.data_format == "channels_last":
            return (n, _times(a, self.size[0]), _times(b, self.size[1]), c)
        return (n, a, _times(b, self.size[0]), _times(c, self.size[1]))

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}


def _pairs(value, n, arg, owner) -> tuple:
    """Keras's padding/cropping argument: ``p``, ``(p_axis1, p_axis2)`` or ``((before, after), ...)``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,) * n
    if n == 1 and isinstance(value, (tuple, list)) and len(value) == 2 and not isinstance(value[0], (tuple, list)):
        return (int_tuple(value, 2, arg, owner, minimum=0),)
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise ValueError(f"{owner}: argument `{arg}` must be an integer, a tuple of {n} integers or a tuple of {n} "
                         f"(before, after) pairs, got {value!r}.")
    pairs = []
    for item in value:
        if isinstance(item, (tuple, list)):
            pairs.append(int_tuple(item, 2, arg, owner, minimum=0))
        else:
            pairs.append(int_tuple(item, 1, arg, owner, minimum=0) * 2)
    return tuple(pairs)


def _plus(size, before, after):
    return None if size is None else size + before + after


class ZeroPadding1D(Layer):
    """Adds zeros at the start and end of the steps axis: ``padding`` is ``p`` or ``(start, end)``."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, 1, "padding", "ZeroPadding1D")[0]
        self.data_format = data_format_arg(data_format, "ZeroPadding1D")
        self.input_spec = InputSpec(ndim=3)
        self._flat = (0, 0, *self.padding) if self.data_format == "channels_last" else self.padding

    def call(self, inputs):
        return F.pad(inputs, self._flat)

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            return (input_shape[0], _plus(input_shape[1], *self.padding), input_shape[2])
        return (input_shape[0], input_shape[1], _plus(input_shape[2], *self.padding))

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros: ``padding`` is ``p``, ``(rows, cols)`` or ``((top, bottom), (left, right))``."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, 2, "padding", "ZeroPadding2D")
        self.data_format = data_format_arg(data_format, "ZeroPadding2D")
        self.input_spec = InputSpec(ndim=4)
        (top, bottom), (left, right) = self.padding
        self._flat = (0, 0, left, right, top, bottom) if self.data_format == "channels_last" else \
            (left, right, top, bottom)

    def call(self, inputs):
        return F.pad(inputs, self._flat)

    def compute_output_shape(self, input_shape):
        n, a, b, c = input_shape
        (top, bottom), (left, right) = self.padding
        if self.data_format == "channels_last":
            return (n, _plus(a, top, bottom), _plus(b, left, right), c)
        return (n, a, _plus(b, top, bottom), _plus(c, left, right))

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


def _cropped(size, before, after, owner, name):
    if size is None:
        return None
    if before + after >= size:
        raise ValueError(f"Layer {name!r} ({owner}): cropping {before} + {after} leaves nothing of an axis of size "
                         f"{size}.")
    return size - before - after


class Cropping1D(Layer):
    """Removes ``(start, end)`` steps from the steps axis."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, 1, "cropping", "Cropping1D")[0]
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        start, end = self.cropping
        return inputs[:, start:inputs.shape[1] - end]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _cropped(input_shape[1], *self.cropping, "Cropping1D", self.name), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class Cropping2D(Layer):
    """Removes rows and columns at the borders: ``((top, bottom), (left, right))``, ``(rows, cols)`` or ``c``."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, 2, "cropping", "Cropping2D")
        self.data_format = data_format_arg(data_format, "Cropping2D")
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        (top, bottom), (left, right) = self.cropping
        if self.data_format == "channels_last":
            return inputs[:, top:inputs.shape[1] - bottom, left:inputs.shape[2] - right, :]
        return inputs[:, :, top:inputs.shape[2] - bottom, left:inputs.shape[3] - right]

    def compute_output_shape(self, input_shape):
        n, a, b, c = input_shape
        (top, bottom), (left, right) = self.cropping
        if self.data_format == "channels_last":
            return (n, _cropped(a, top, bottom, "Cropping2D", self.name),
                    _cropped(b, left, right, "Cropping2D", self.name), c)
        return (n, a, _cropped(b, top, bottom, "Cropping2D", self.name),
                _cropped(c, left, right, "Cropping2D", self.name))

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}
