"""Keras SGD (with momentum and Nesterov momentum)."""

from __future__ import annotations

from .optimizer import BOOL, UNIT, Optimizer, _add_, _mul_


class SGD(Optimizer):
    """Keras SGD: ``v = momentum*v - lr_t*g; w += v`` (Nesterov: ``w += momentum*v - lr_t*g``).

    Keras's velocity form, not torch's buffer ``b = m*b + g; w -= lr*b``: the two agree only while
    the rate is constant; with ``decay``, a schedule or ``ReduceLROnPlateau`` they differ, and Keras
    scripts expect Keras's numbers."""

    hyper_rules = {"momentum": UNIT, "nesterov": BOOL}

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, _hyper=dict(momentum=momentum, nesterov=nesterov), **kwargs)

    def _update(self, group, params, grads, slots, lr):
        momentum = group["momentum"]
        if not momentum:
            _add_(params, grads, alpha=-lr)
            return
        velocity = slots("momentum")
        _mul_(velocity, momentum)
        _add_(velocity, grads, alpha=-lr)
        if group["nesterov"]:
            _add_(params, velocity, alpha=momentum)
            _add_(params, grads, alpha=-lr)
        else:
            _add_(params, velocity)
