"""Keras's per-coordinate adaptive-rate optimizers: RMSprop, Adagrad, Adadelta."""

from __future__ import annotations

from .optimizer import (
    BOOL,
    NON_NEGATIVE,
    UNIT,
    Optimizer,
    _add,
    _add_,
    _addcdiv_,
    _addcmul_,
    _div_,
    _lerp_,
    _mul,
    _mul_,
    _sqrt_,
    _sub,
    _sub_,
)


def _epsilon(value):
    """Keras 2's ``epsilon=None`` meant ``K.epsilon()`` (1e-7)."""
    return 1e-7 if value is None else value


class RMSprop(Optimizer):
    """Keras RMSprop: ``v = rho*v + (1-rho)*g^2; w -= lr*g / sqrt(v + eps)`` (epsilon inside the
    root, unlike torch); ``centered`` subtracts the squared mean gradient; ``momentum`` keeps
    ``mom = momentum*mom + lr*g/sqrt(...)``, ``w -= mom``."""

    hyper_rules = {"rho": UNIT, "momentum": UNIT, "epsilon": NON_NEGATIVE, "centered": BOOL}

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, _hyper=dict(rho=rho, momentum=momentum, epsilon=_epsilon(epsilon),
                                                    centered=centered), **kwargs)

    def _update(self, group, params, grads, slots, lr):
        rho = group["rho"]
        v = slots("velocity")
        _mul_(v, rho)
        _addcmul_(v, grads, grads, value=1.0 - rho)
        if group["centered"]:
            avg = slots("average_gradient")
            _lerp_(avg, grads, 1.0 - rho)
            denom = _sub(v, _mul(avg, avg))
        else:
            denom = _add(v, 0.0)
        _add_(denom, group["epsilon"])
        _sqrt_(denom)
        if group["momentum"]:
            mom = slots("momentum")
            _mul_(mom, group["momentum"])
            _addcdiv_(mom, grads, denom, value=lr)
            _sub_(params, mom)
        else:
            _addcdiv_(params, grads, denom, value=-lr)


class Adagrad(Optimizer):
    """Keras Adagrad: ``a += g^2; w -= lr*g / sqrt(a + eps)``, accumulators starting at
    ``initial_accumulator_value`` (0.1)."""

    hyper_rules = {"initial_accumulator_value": NON_NEGATIVE, "epsilon": NON_NEGATIVE}

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, _hyper=dict(initial_accumulator_value=initial_accumulator_value,
                                                    epsilon=_epsilon(epsilon)), **kwargs)

    def _update(self, group, params, grads, slots, lr):
        acc = slots("accumulator", group["initial_accumulator_value"])
        _addcmul_(acc, grads, grads)
        denom = _add(acc, group["epsilon"])
        _sqrt_(denom)
        _addcdiv_(params, grads, denom, value=-lr)


class Adadelta(Optimizer):
    """Keras Adadelta: ``a = rho*a + (1-rho)*g^2; d = -sqrt(D + eps)/sqrt(a + eps) * g;
    D = rho*D + (1-rho)*d^2; w += lr*d``. Keras 3's default rate is 0.001 (Keras 2's was 1.0)."""

    hyper_rules = {"rho": UNIT, "epsilon": NON_NEGATIVE}

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, _hyper=dict(rho=rho, epsilon=_epsilon(epsilon)), **kwargs)

    def _update(self, group, params, grads, slots, lr):
        rho, eps = group["rho"], group["epsilon"]
        acc_grad, acc_delta = slots("accumulated_grad"), slots("accumulated_delta_var")
        _mul_(acc_grad, rho)
        _addcmul_(acc_grad, grads, grads, value=1.0 - rho)
        delta = _add(acc_delta, eps)
        _sqrt_(delta)
        _mul_(delta, grads)
        denom = _add(acc_grad, eps)
        _sqrt_(denom)
        _div_(delta, denom)
        _mul_(acc_delta, rho)
        _addcmul_(acc_delta, delta, delta, value=1.0 - rho)
        _add_(params, delta, alpha=-lr)  # delta holds -d

