"""Keras FTRL-proximal (Follow The Regularized Leader)."""

from __future__ import annotations

from .optimizer import NON_NEGATIVE, Optimizer, _add_, _addcmul_, _clamp_, _clone, _copy_, _div_, _mul_, _pow, _sub_


class Ftrl(Optimizer):
    """Keras Ftrl (McMahan et al. 2013), per element::

        l2 = l2_regularization_strength + beta / (2*lr)
        n_new = n + g^2
        z += g + 2*l2_shrinkage*w - (n_new^-p - n^-p) / lr * w        (p = learning_rate_power)
        w = (clip(z, -l1, l1) - z) / (n_new^-p / lr + 2*l2)
        n = n_new

    accumulators ``n`` starting at ``initial_accumulator_value``."""

    hyper_rules = {"learning_rate_power": ("float", None, 0.0), "initial_accumulator_value": NON_NEGATIVE,
                   "l1_regularization_strength": NON_NEGATIVE, "l2_regularization_strength": NON_NEGATIVE,
                   "l2_shrinkage_regularization_strength": NON_NEGATIVE, "beta": NON_NEGATIVE}

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, **kwargs):
        super().__init__(learning_rate, _hyper=dict(
            learning_rate_power=learning_rate_power, initial_accumulator_value=initial_accumulator_value,
            l1_regularization_strength=l1_regularization_strength,
            l2_regularization_strength=l2_regularization_strength,
            l2_shrinkage_regularization_strength=l2_shrinkage_regularization_strength, beta=beta), **kwargs)

    def _update(self, group, params, grads, slots, lr):
        power = -group["learning_rate_power"]
        l1 = group["l1_regularization_strength"]
        l2 = group["l2_regularization_strength"] + group["beta"] / (2.0 * lr)
        accum = slots("accumulator", group["initial_accumulator_value"])
        linear = slots("linear")
        new_accum = _clone(accum)
        _addcmul_(new_accum, grads, grads)
        old_root, new_root = _pow(accum, power), _pow(new_accum, power)
        _add_(linear, grads)
        shrinkage = group["l2_shrinkage_regularization_strength"]
        if shrinkage:
            _add_(linear, params, alpha=2.0 * shrinkage)
        _sub_(new_root, old_root)                 # n_new^-p - n^-p
        _mul_(new_root, params)
        _add_(linear, new_root, alpha=-1.0 / lr)
        quadratic = _pow(new_accum, power)
        _mul_(quadratic, 1.0 / lr)
        _add_(quadratic, 2.0 * l2)
        clipped = _clone(linear)
        _clamp_(clipped, -l1, l1)
        _sub_(clipped, linear)
        _div_(clipped, quadratic)
        _copy_(params, clipped)
        _copy_(accum, new_accum)
