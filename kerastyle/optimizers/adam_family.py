"""Keras Adam and its relatives: AdamW (Adam with decoupled weight decay on by default), Adamax
(the infinity-norm variant) and Nadam (Nesterov momentum)."""

from __future__ import annotations

import math

from .optimizer import (
    BOOL,
    NON_NEGATIVE,
    UNIT,
    Optimizer,
    _abs,
    _add,
    _add_,
    _addcdiv_,
    _addcmul_,
    _lerp_,
    _maximum_,
    _mul,
    _mul_,
    _sqrt,
    check_number,
)

_EPSILON = NON_NEGATIVE


def _epsilon(value):
    """Keras 2's ``epsilon=None`` meant ``K.epsilon()`` (1e-7)."""
    return 1e-7 if value is None else value


class Adam(Optimizer):
    """Keras Adam: ``w -= lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)`` (epsilon outside the
    root and on the uncorrected ``v``: the paper's "epsilon hat" form, not torch's)."""

    hyper_rules = {"beta_1": UNIT, "beta_2": UNIT, "epsilon": _EPSILON, "amsgrad": BOOL}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, _hyper=dict(beta_1=beta_1, beta_2=beta_2, epsilon=_epsilon(epsilon),
                                                    amsgrad=amsgrad), **kwargs)

    def _update(self, group, params, grads, slots, lr):
        b1, b2, t = group["beta_1"], group["beta_2"], group["iterations"] + 1
        m, v = slots("m"), slots("v")
        _lerp_(m, grads, 1.0 - b1)
        _mul_(v, b2)
        _addcmul_(v, grads, grads, value=1.0 - b2)
        if group["amsgrad"]:
            v_hat = slots("v_hat")
            _maximum_(v_hat, v)
            v = v_hat
        alpha = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        denom = _sqrt(v)
        _add_(denom, group["epsilon"])
        _addcdiv_(params, m, denom, value=-alpha)


class AdamW(Adam):
    """Keras AdamW: Adam with decoupled weight decay ``w -= lr*weight_decay*w`` (default 0.004,
    required). A Keras 3 optimizer: no ``lr=``/``decay=``."""

    keras2_arguments = False

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: argument `weight_decay` must be a float, got None.")
        check_number("AdamW", "weight_decay", weight_decay, 0.0)
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         weight_decay=weight_decay, **kwargs)


class Adamax(Optimizer):
    """Keras Adamax: ``m = b1*m + (1-b1)*g; u = max(b2*u, |g|); w -= lr/(1-b1^t) * m/(u + eps)``."""

    hyper_rules = {"beta_1": UNIT, "beta_2": UNIT, "epsilon": _EPSILON}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, _hyper=dict(beta_1=beta_1, beta_2=beta_2, epsilon=_epsilon(epsilon)),
                         **kwargs)

    def _update(self, group, params, grads, slots, lr):
        b1, t = group["beta_1"], group["iterations"] + 1
        m, u = slots("m"), slots("u")
        _lerp_(m, grads, 1.0 - b1)
        _mul_(u, group["beta_2"])
        _maximum_(u, _abs(grads))
        denom = _add(u, group["epsilon"])
        _addcdiv_(params, m, denom, value=-lr / (1.0 - b1 ** t))


class Nadam(Optimizer):
    """Keras Nadam (Dozat's schedule): ``u_t = b1*(1 - 0.5*0.96^t)``, ``P_t = u_1...u_t``;
    ``m_hat = u_{t+1}*m/(1-P_{t+1}) + (1-u_t)*g/(1-P_t)``, ``v_hat = v/(1-b2^t)``,
    ``w -= lr*m_hat/(sqrt(v_hat) + eps)``. ``P_t`` depends only on ``t`` and ``beta_1``, so it is
    recomputed from ``iterations`` (cached) instead of kept as state."""

    hyper_rules = {"beta_1": UNIT, "beta_2": UNIT, "epsilon": _EPSILON}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, _hyper=dict(beta_1=beta_1, beta_2=beta_2, epsilon=_epsilon(epsilon)),
                         **kwargs)
        self._u_products = {}  # beta_1 -> (t, P_t)

    def _u_product(self, b1, t):
        known = self._u_products.get(b1)
        if known is not None and known[0] == t:
            return known[1]
        if known is not None and known[0] == t - 1:
            value = known[1] * b1 * (1.0 - 0.5 * 0.96 ** t)
        else:
            value = 1.0
            for k in range(1, t + 1):
                value *= b1 * (1.0 - 0.5 * 0.96 ** k)
        self._u_products[b1] = (t, value)
        return value

    def _update(self, group, params, grads, slots, lr):
        b1, b2, t = group["beta_1"], group["beta_2"], group["iterations"] + 1
        u_t = b1 * (1.0 - 0.5 * 0.96 ** t)
        u_next = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        product = self._u_product(b1, t)
        m, v = slots("m"), slots("v")
        _lerp_(m, grads, 1.0 - b1)
        _mul_(v, b2)
        _addcmul_(v, grads, grads, value=1.0 - b2)
        m_hat = _mul(m, u_next / (1.0 - product * u_next))
        _add_(m_hat, grads, alpha=(1.0 - u_t) / (1.0 - product))
        denom = _sqrt(v)
        _mul_(denom, 1.0 / math.sqrt(1.0 - b2 ** t))
        _add_(denom, group["epsilon"])
        _addcdiv_(params, m_hat, denom, value=-lr)

