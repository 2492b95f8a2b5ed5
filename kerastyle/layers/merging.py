"""Merge layers: combine a list of tensors into one (``Concatenate``, ``Add``, ``Dot``, ...)."""

from __future__ import annotations

import numpy as np
import torch

from .layer import Layer


class _Merge(Layer):
    """Base: takes a list of at least two tensors of compatible shapes."""

    def _check_inputs(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape \
                or not all(isinstance(s, (list, tuple)) for s in input_shape) or len(input_shape) < 2:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) must be called on a list of at least 2 "
                             f"tensors, got input shape {input_shape}.")

    def build(self, input_shape):
        self._check_inputs(input_shape)
        shapes = [tuple(s) for s in input_shape]
        ranks = {len(s) for s in shapes}
        if len(ranks) == 1:
            for axis in range(1, len(shapes[0])):
                sizes = {s[axis] for s in shapes if s[axis] not in (None, 1)}
                if len(sizes) > 1:
                    raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) needs inputs of the same shape, "
                                     f"got shapes {shapes}.")
        self.built = True

    def call(self, inputs):
        result = inputs[0]
        for x in inputs[1:]:
            result = self._merge(result, x)
        return self._finish(result, len(inputs))

    def _finish(self, result, count):
        return result


class Add(_Merge):
    """Elementwise sum."""

    def _merge(self, a, b):
        return a + b


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"Layer {self.name!r} (Subtract) needs exactly 2 inputs, got {len(input_shape)}.")

    def _merge(self, a, b):
        return a - b


class Multiply(_Merge):
    """Elementwise product."""

    def _merge(self, a, b):
        return a * b


class Average(_Merge):
    """Elementwise mean."""

    def _merge(self, a, b):
        return a + b

    def _finish(self, result, count):
        return result / count


class Maximum(_Merge):
    """Elementwise maximum."""

    def _merge(self, a, b):
        return torch.maximum(a, b)


class Minimum(_Merge):
    """Elementwise minimum."""

    def _merge(self, a, b):
        return torch.minimum(a, b)


class Concatenate(_Merge):
    """Joins the inputs along ``axis`` (default the last); the other axes must match."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Concatenate: argument `axis` must be an integer, got {axis!r}.")
        self.axis = int(axis)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        shapes = [tuple(s) for s in input_shape]
        if len({len(s) for s in shapes}) != 1:
            raise ValueError(f"Layer {self.name!r} (Concatenate) needs inputs of the same rank, got shapes {shapes}.")
        rank = len(shapes[0])
        axis = self.axis % rank
        for i in range(1, rank):
            if i != axis and len({s[i] for s in shapes if s[i] is not None}) > 1:
                raise ValueError(f"Layer {self.name!r} (Concatenate) needs inputs whose shapes match except on the "
                                 f"concatenation axis {self.axis}, got shapes {shapes}.")
        self.built = True

    def call(self, inputs):
        return torch.cat(list(inputs), dim=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Dot product of two tensors along ``axes`` (optionally L2-normalized first: cosine similarity)."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (int, np.integer)):
            axes = (int(axes), int(axes))
        if not isinstance(axes, (list, tuple)) or len(axes) != 2:
            raise ValueError(f"Dot: argument `axes` must be an int or a pair of ints, got {axes!r}.")
        self.axes = tuple(int(a) for a in axes)
        self.normalize = bool(normalize)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"Layer {self.name!r} (Dot) needs exactly 2 inputs, got {len(input_shape)}.")
        a, b = (tuple(s) for s in input_shape)
        if a[self.axes[0]] is not None and b[self.axes[1]] is not None and a[self.axes[0]] != b[self.axes[1]]:
            raise ValueError(f"Layer {self.name!r} (Dot): axis {self.axes[0]} of {a} and axis {self.axes[1]} of {b} "
                             f"differ in size.")
        self.built = True

    def call(self, inputs):
        a, b = inputs
        axes = [ax % t.dim() for ax, t in zip(self.axes, (a, b))]
        if self.normalize:
            a = torch.nn.functional.normalize(a, dim=axes[0])
            b = torch.nn.functional.normalize(b, dim=axes[1])
        if a.dim() == 2 and b.dim() == 2:
            return (a * b).sum(dim=1, keepdim=True)
        # batched tensordot over the chosen axes, keeping the batch axis
        out = torch.stack([torch.tensordot(x, y, dims=([axes[0] - 1], [axes[1] - 1])) for x, y in zip(a, b)])
        return out.unsqueeze(-1) if out.dim() == 1 else out

    def get_config(self):
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes, normalize=False, **kwargs):
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
