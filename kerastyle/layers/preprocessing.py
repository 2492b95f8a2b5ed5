"""Preprocessing layers: ``Normalization`` (with ``adapt``), ``Rescaling``, ``Resizing``, ``RandomFlip``.

They run inside the model, so a saved model carries its preprocessing. ``Normalization``'s adapted
mean and variance are non-trainable weights (with Keras's ``count``, stored as a float), saved and loaded with the rest.
``Resizing`` uses torch's ``interpolate`` with half-pixel centers and no antialiasing, which is what
Keras 3 does on its torch backend.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .. import backend
from .convolution import data_format_arg
from .layer import Layer


def _axes_arg(axis, owner):
    if axis is None:
        return ()
    items = axis if isinstance(axis, (list, tuple)) else (axis,)
    if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items):
        raise ValueError(f"{owner}: argument `axis` must be an integer, a tuple of integers or None, got {axis!r}.")
    return tuple(int(a) for a in items)


def _as_numpy(data, owner):
    if torch.is_tensor(data):
        return data.detach().cpu().numpy()
    array = np.asarray(data)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{owner}.adapt(): expected numeric data (an array, a tensor or an iterable of batches), got "
                        f"dtype {array.dtype}.")
    return array


class Normalization(Layer):
    """Standardizes features: ``(x - mean) / max(sqrt(variance), epsilon)`` per index of ``axis`` (default
    the last axis: one mean and variance per feature; ``axis=None``: a single pair). The statistics come
    from ``adapt(data)`` or from the ``mean``/``variance`` arguments; ``invert=True`` undoes the scaling."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes_arg(axis, "Normalization")
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: give both `mean` and `variance` or neither, got mean={mean!r}, "
                             f"variance={variance!r}.")
        self.input_mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.input_variance = None if variance is None else np.asarray(variance, dtype=np.float64)
        if self.input_variance is not None and (self.input_variance < 0).any():
            raise ValueError(f"Normalization: argument `variance` must be >= 0, got {variance!r}.")
        self.invert = bool(invert)
        self.mean = self.variance = self.count = None
        self._keep = ()
        self._broadcast = None
        self._fixed = None

    def build(self, input_shape):
        rank = len(input_shape)
        if any(not -rank <= a < rank for a in self.axis):
            raise ValueError(f"Layer {self.name!r} (Normalization): `axis` {self.axis} is out of range for inputs of "
                             f"rank {rank}.")
        keep = tuple(sorted({a % rank for a in self.axis}))
        if any(input_shape[d] is None for d in keep):
            raise ValueError(f"Layer {self.name!r} (Normalization): the kept axes {self.axis} of the input shape "
                             f"{tuple(input_shape)} must be known.")
        self._keep = keep
        self._broadcast = tuple(input_shape[d] if d in keep else 1 for d in range(rank))
        shape = tuple(input_shape[d] for d in keep)
        if self.input_mean is None:
            self.mean = self.add_weight(name="mean", shape=shape, initializer="zeros", trainable=False)
            self.variance = self.add_weight(name="variance", shape=shape, initializer="ones", trainable=False)
            # Keras's count is int64; kerastyle's saving loads float weights only, so it is a float here
            self.count = self.add_weight(name="count", shape=(), initializer="zeros", trainable=False)
        else:
            mean, variance = self.input_mean, self.input_variance
            try:
                if mean.ndim == 0:
                    mean, variance = np.broadcast_to(mean, self._broadcast), np.broadcast_to(variance, self._broadcast)
                else:
                    mean, variance = mean.reshape(self._broadcast), variance.reshape(self._broadcast)
            except ValueError:
                raise ValueError(f"Layer {self.name!r} (Normalization): `mean` of shape {self.input_mean.shape} "
                                 f"does not fit the kept axes {shape} of inputs {tuple(input_shape)}.") from None
            device = backend.get_device()
            self._fixed = (torch.tensor(np.array(mean), dtype=self._dtype, device=device),
                           torch.tensor(np.array(variance), dtype=self._dtype, device=device))
        self.built = True

    def _statistics(self):
        if self._fixed is not None:
            mean, variance = self._fixed
        else:
            mean, variance = self.mean.reshape(self._broadcast), self.variance.reshape(self._broadcast)
        return mean, torch.sqrt(variance).clamp(min=backend.epsilon())

    def call(self, inputs):
        mean, scale = self._statistics()
        if not inputs.is_floating_point():
            inputs = inputs.to(mean.dtype)
        if self.invert:
            return mean + inputs * scale
        return (inputs - mean) / scale

    def adapt(self, data, batch_size=None, steps=None):
        """Compute the mean and (biased) variance of ``data`` over every axis but ``axis``: ``data`` is an
        array or tensor of samples, or an iterable of such batches (combined exactly). ``batch_size`` is
        accepted for Keras compatibility (the statistics do not depend on it)."""
        if self.input_mean is not None:
            raise ValueError(f"Layer {self.name!r} (Normalization): adapt() cannot be used when `mean` and "
                             f"`variance` were given.")
        if isinstance(data, (np.ndarray, torch.Tensor)):
            batches = [_as_numpy(data, "Normalization")]
        elif hasattr(data, "__iter__"):  # an iterable of batches (list, generator, DataLoader), as in Keras
            batches = (_as_numpy(b[0] if isinstance(b, (tuple, list)) else b, "Normalization") for b in data)
        else:
            raise TypeError(f"Normalization.adapt(): expected an array, a tensor or an iterable of batches, got "
                            f"{type(data).__name__}.")
        total = None
        count = 0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            batch = batch.astype(np.float64)
            if batch.ndim == 1:
                batch = batch[:, None]
            if not self.built:
                self._build_for((None, *batch.shape[1:]))
            reduce = tuple(d for d in range(batch.ndim) if d not in self._keep)
            n = math.prod(batch.shape[d] for d in reduce)
            mean = batch.mean(axis=reduce)
            m2 = ((batch - batch.mean(axis=reduce, keepdims=True)) ** 2).sum(axis=reduce)
            if total is None:
                total = (mean, m2)
            else:  # Chan et al.'s exact pairwise combination of (count, mean, sum of squared deviations)
                mean0, m20 = total
                delta = mean - mean0
                combined = count + n
                total = (mean0 + delta * n / combined, m20 + m2 + delta ** 2 * count * n / combined)
            count += n
        if total is None:
            raise ValueError(f"Layer {self.name!r} (Normalization): adapt() received no data.")
        mean, m2 = total
        with torch.no_grad():
            self.mean.copy_(torch.as_tensor(mean.reshape(self.mean.shape)))
            self.variance.copy_(torch.as_tensor((m2 / count).reshape(self.variance.shape)))
            self.count.fill_(count)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": None if self.input_mean is None else self.input_mean.tolist(),
                "variance": None if self.input_variance is None else self.input_variance.tolist()}


class Rescaling(Layer):
    """``x * scale + offset`` (``Rescaling(1 / 255)`` maps pixels to [0, 1]); integer inputs become floats."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = self._value(scale, "scale")
        self.offset = self._value(offset, "offset")
        self._scale_t = torch.as_tensor(self.scale, dtype=self._dtype) if isinstance(self.scale, list) else self.scale
        self._offset_t = torch.as_tensor(self.offset, dtype=self._dtype) if isinstance(self.offset, list) \
            else self.offset

    @staticmethod
    def _value(value, arg):
        if isinstance(value, (list, tuple, np.ndarray)):
            array = np.asarray(value, dtype=np.float64)
            if not np.isfinite(array).all():
                raise ValueError(f"Rescaling: argument `{arg}` must hold finite numbers, got {value!r}.")
            return array.tolist()
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value):
            raise ValueError(f"Rescaling: argument `{arg}` must be a finite number or a list of them, got {value!r}.")
        return float(value)

    def call(self, inputs):
        x = inputs if inputs.dtype == self._dtype else inputs.to(self._dtype)
        scale, offset = self._scale_t, self._offset_t
        if torch.is_tensor(scale) and scale.device != x.device:
            self._scale_t = scale = scale.to(x.device)
        if torch.is_tensor(offset) and offset.device != x.device:
            self._offset_t = offset = offset.to(x.device)
        return x * scale + offset if (torch.is_tensor(offset) or offset) else x * scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


_RESIZE_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}


class Resizing(Layer):
    """Resizes images to ``(height, width)`` (``interpolation`` 'bilinear', 'nearest' or 'bicubic'), optionally
    cropping (``crop_to_aspect_ratio``) or padding with ``fill_value`` (``pad_to_aspect_ratio``) to the
    target aspect ratio first, centred, as Keras does."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False, data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Resizing: argument `{arg}` must be a positive integer, got {value!r}.")
        self.height, self.width = int(height), int(width)
        if interpolation not in _RESIZE_MODES:
            raise ValueError(f"Resizing: argument `interpolation` must be one of {sorted(_RESIZE_MODES)}, got "
                             f"{interpolation!r}.")
        self.interpolation = interpolation
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True.")
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = bool(crop_to_aspect_ratio), bool(pad_to_aspect_ratio)
        if fill_mode != "constant":
            raise ValueError(f"Resizing: argument `fill_mode` must be 'constant', got {fill_mode!r}.")
        self.fill_mode = fill_mode
        if isinstance(fill_value, bool) or not isinstance(fill_value, (int, float, np.integer, np.floating)):
            raise ValueError(f"Resizing: argument `fill_value` must be a number, got {fill_value!r}.")
        self.fill_value = float(fill_value)
        self.antialias = bool(antialias)
        self.data_format = data_format_arg(data_format, "Resizing")

    def call(self, inputs):
        single = inputs.dim() == 3
        if inputs.dim() not in (3, 4):
            raise ValueError(f"Layer {self.name!r} (Resizing): expected images of rank 3 or 4, got shape "
                             f"{tuple(inputs.shape)}.")
        x = inputs.unsqueeze(0) if single else inputs
        if not x.is_floating_point():
            x = x.to(self._dtype)
        last = self.data_format == "channels_last"
        x = x.movedim(-1, 1) if last else x
        h, w = x.shape[-2], x.shape[-1]
        if self.crop_to_aspect_ratio:
            ch = max(min(h, int(w * self.height / self.width)), 1)
            cw = max(min(w, int(h * self.width / self.height)), 1)
            top, left = (h - ch) // 2, (w - cw) // 2
            x = x[:, :, top:top + ch, left:left + cw]
        elif self.pad_to_aspect_ratio:
            ph = max(h, int(w * self.height / self.width))
            pw = max(w, int(h * self.width / self.height))
            top, left = (ph - h) // 2, (pw - w) // 2
            x = F.pad(x, (left, left, top, top), value=self.fill_value)
        mode = _RESIZE_MODES[self.interpolation]
        y = F.interpolate(x, size=(self.height, self.width), mode=mode,
                          align_corners=False if mode in ("bilinear", "bicubic") else None,
                          antialias=self.antialias and mode in ("bilinear", "bicubic"))
        y = y.movedim(1, -1) if last else y
        return y[0] if single else y

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if self.data_format == "channels_last":
            shape[-3], shape[-2] = self.height, self.width
        else:
            shape[-2], shape[-1] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias, "data_format": self.data_format}


class RandomFlip(Layer):
    """In training, flips each image left-right and/or up-down with probability 1/2 (``mode`` 'horizontal',
    'vertical' or 'horizontal_and_vertical'); in inference it passes images through."""

    _MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in self._MODES:
            raise ValueError(f"RandomFlip: argument `mode` must be one of {self._MODES}, got {mode!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"RandomFlip: argument `seed` must be None or a non-negative integer, got {seed!r}.")
        self.mode, self.seed = mode, seed
        self.data_format = data_format_arg(data_format, "RandomFlip")
        self._generators: dict = {}

    def _generator(self, device):
        if self.seed is None:
            return None
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(int(self.seed))
        return self._generators[device]

    def call(self, inputs, training=None):
        if not training:
            return inputs
        single = inputs.dim() == 3
        x = inputs.unsqueeze(0) if single else inputs
        rows, cols = (-3, -2) if self.data_format == "channels_last" else (-2, -1)
        for axis, wanted in ((cols, "horizontal"), (rows, "vertical")):
            if wanted in self.mode:
                flip = torch.rand(x.shape[0], generator=self._generator(x.device), device=x.device) < 0.5
                x = torch.where(flip.view(-1, *([1] * (x.dim() - 1))), x.flip(axis), x)
        return x[0] if single else x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "seed": self.seed, "data_format": self.data_format}
