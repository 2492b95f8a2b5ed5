"""Keras Lion (evolved sign momentum)."""

from __future__ import annotations

from .optimizer import UNIT, Optimizer, _add_, _lerp_, _mul, _sign_


class Lion(Optimizer):
    """Keras Lion: ``w -= lr * sign(b1*m + (1-b1)*g)``, then ``m = b2*m + (1-b2)*g``. A Keras 3
    optimizer: no ``lr=``/``decay=``; ``beta_1`` must be in (0, 1]."""

    hyper_rules = {"beta_1": ("float", 0.0, 1.0, True), "beta_2": UNIT}
    keras2_arguments = False

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, _hyper=dict(beta_1=beta_1, beta_2=beta_2), **kwargs)

    def _update(self, group, params, grads, slots, lr):
        b1 = group["beta_1"]
        m = slots("momentum")
        direction = _mul(m, b1)
        _add_(direction, grads, alpha=1.0 - b1)
        _sign_(direction)
        _add_(params, direction, alpha=-lr)
        _lerp_(m, grads, 1.0 - group["beta_2"])
