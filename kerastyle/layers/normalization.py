"""Normalization layers: ``BatchNormalization``, ``LayerNormalization``, ``UnitNormalization``.

``BatchNormalization`` follows Keras, not ``torch.nn.BatchNorm``: ``momentum`` is the weight of the
old moving value (``moving = moving * momentum + batch * (1 - momentum)``, default 0.99), the moving
variance is updated with the batch's *biased* variance (torch uses the unbiased one), epsilon is
1e-3, and a frozen layer (``trainable=False``) always normalizes with its moving statistics.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .. import constraints, initializers, regularizers
from .layer import InputSpec, Layer


def _float(value, arg, owner, low=None, high=None, low_open=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or (low is not None and (value <= low if low_open else value < low)) \
            or (high is not None and value > high):
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            bounds.append(f"<= {high}")
        raise ValueError(f"{owner}: argument `{arg}` must be a finite number{' ' if bounds else ''}"
                         f"{' and '.join(bounds)}, got {value!r}.")
    return float(value)


def _axis_int(axis, owner) -> int:
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{owner}: argument `axis` must be an integer, got {axis!r}.")
    return int(axis)


def _axes(axis, owner) -> tuple:
    items = axis if isinstance(axis, (list, tuple)) else (axis,)
    if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items):
        raise ValueError(f"{owner}: argument `axis` must be an integer or a list of integers, got {axis!r}.")
    return tuple(int(a) for a in items)


def _resolve_axis(axis, rank, name, owner) -> int:
    if not -rank <= axis < rank:
        raise ValueError(f"Layer {name!r} ({owner}): `axis` {axis} is out of range for inputs of rank {rank}.")
    return axis % rank


class BatchNormalization(Layer):
    """Normalizes each feature along ``axis`` with the batch's mean and variance in training and with the
    moving averages in inference, then scales by ``gamma`` and shifts by ``beta``.

    Weights in Keras order: ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance``
    (non-trainable, counted by ``summary()`` as Keras counts them)."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, fused=None, **kwargs):
        super().__init__(**kwargs)
        owner = "BatchNormalization"
        self.axis = _axis_int(axis, owner)
        self.momentum = _float(momentum, "momentum", owner, 0.0, 1.0)
        self.epsilon = _float(epsilon, "epsilon", owner, 0.0, low_open=True)
        self.center, self.scale = bool(center), bool(scale)
        for arg, value in (("beta_initializer", beta_initializer), ("gamma_initializer", gamma_initializer),
                           ("moving_mean_initializer", moving_mean_initializer),
                           ("moving_variance_initializer", moving_variance_initializer)):
            initializers.get(value)
            setattr(self, arg, value)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        if renorm or renorm_clipping is not None:
            raise ValueError("BatchNormalization: batch renormalization (`renorm=True`, `renorm_clipping`) is not "
                             "supported by kerastyle.")
        self.renorm_momentum = _float(renorm_momentum, "renorm_momentum", owner, 0.0, 1.0)
        if synchronized:
            raise ValueError("BatchNormalization: `synchronized=True` (cross-replica statistics) is not supported by "
                             "kerastyle yet.")
        if fused not in (None, True, False):  # Keras 2's implementation hint: no effect on the numbers
            raise ValueError(f"BatchNormalization: argument `fused` must be None, True or False, got {fused!r}.")
        self.supports_masking = True
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        self._dim = 1

    def build(self, input_shape):
        rank = len(input_shape)
        self._dim = _resolve_axis(self.axis, rank, self.name, "BatchNormalization")
        size = input_shape[self._dim]
        if size is None:
            raise ValueError(f"Layer {self.name!r} (BatchNormalization): axis {self.axis} of the input shape "
                             f"{tuple(input_shape)} must be known.")
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=(size,), initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(name="beta", shape=(size,), initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(name="moving_mean", shape=(size,),
                                           initializer=self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=(size,),
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=rank, axes={self._dim: size})
        self.built = True

    def call(self, inputs, training=None):
        x = inputs if self._dim == 1 else inputs.movedim(self._dim, 1)  # a view: torch's (N, C, ...) order
        if training and self.trainable:
            # one pass: normalized output plus the batch mean and 1 / sqrt(biased variance + epsilon)
            y, mean, invstd = torch.native_batch_norm(x, self.gamma, self.beta, None, None, True, 0.0, self.epsilon)
            with torch.no_grad():
                variance = invstd.detach().double().pow(-2).sub_(self.epsilon).clamp_(min=0.0)
                self.moving_mean.mul_(self.momentum).add_(mean.detach().to(self.moving_mean.dtype),
                                                          alpha=1.0 - self.momentum)
                self.moving_variance.mul_(self.momentum).add_(variance.to(self.moving_variance.dtype),
                                                              alpha=1.0 - self.momentum)
        else:
            y = F.batch_norm(x, self.moving_mean, self.moving_variance, self.gamma, self.beta, False, 0.0,
                             self.epsilon)
        return y if self._dim == 1 else y.movedim(1, self._dim)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.name_of(initializers.get(self.beta_initializer)),
                "gamma_initializer": initializers.name_of(initializers.get(self.gamma_initializer)),
                "moving_mean_initializer": initializers.name_of(initializers.get(self.moving_mean_initializer)),
                "moving_variance_initializer": initializers.name_of(
                    initializers.get(self.moving_variance_initializer)),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
                "synchronized": False, "renorm": False, "renorm_clipping": None,
                "renorm_momentum": self.renorm_momentum}


class LayerNormalization(Layer):
    """Normalizes each sample over ``axis`` (default the last) with its own mean and biased variance, then
    scales by ``gamma`` and shifts by ``beta`` (weights shaped like the normalized axes)."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        owner = "LayerNormalization"
        if rms_scaling:
            raise ValueError("LayerNormalization: `rms_scaling=True` (deprecated in Keras, and it scales by the "
                             "variance) is not supported by kerastyle.")
        self.axis = _axes(axis, owner)
        self.epsilon = _float(epsilon, "epsilon", owner, 0.0, low_open=True)
        self.center, self.scale = bool(center), bool(scale)
        initializers.get(beta_initializer)
        initializers.get(gamma_initializer)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True
        self.gamma = self.beta = None
        self._dims = ()
        self._trailing = None
        self._broadcast = None

    def build(self, input_shape):
        rank = len(input_shape)
        dims = tuple(sorted({_resolve_axis(a, rank, self.name, "LayerNormalization") for a in self.axis}))
        if any(input_shape[d] is None for d in dims):
            raise ValueError(f"Layer {self.name!r} (LayerNormalization): the normalized axes {self.axis} of the input "
                             f"shape {tuple(input_shape)} must be known.")
        self._dims = dims
        shape = tuple(input_shape[d] for d in dims)
        # the normalized axes are the last ones: torch's fused layer_norm applies as it is
        self._trailing = shape if dims == tuple(range(rank - len(dims), rank)) else None
        self._broadcast = tuple(input_shape[d] if d in dims else 1 for d in range(rank))
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(name="beta", shape=shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.input_spec = InputSpec(ndim=rank, axes={d: input_shape[d] for d in dims})
        self.built = True

    def call(self, inputs):
        if self._trailing is not None:
            return F.layer_norm(inputs, self._trailing, self.gamma, self.beta, self.epsilon)
        variance, mean = torch.var_mean(inputs, dim=self._dims, keepdim=True, correction=0)
        y = (inputs - mean) * torch.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            y = y * self.gamma.reshape(self._broadcast)
        if self.beta is not None:
            y = y + self.beta.reshape(self._broadcast)
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis) if len(self.axis) > 1 else self.axis[0],
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale, "rms_scaling": False,
                "beta_initializer": initializers.name_of(initializers.get(self.beta_initializer)),
                "gamma_initializer": initializers.name_of(initializers.get(self.gamma_initializer)),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm along ``axis``: ``x / max(||x||, 1e-12)`` (Keras's formula)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes(axis, "UnitNormalization")
        self.supports_masking = True

    def call(self, inputs):
        inv_norm = torch.rsqrt(inputs.square().sum(dim=self.axis, keepdim=True)).clamp(max=1e12)
        return inputs * inv_norm

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis) if len(self.axis) > 1 else self.axis[0]}
