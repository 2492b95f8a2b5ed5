"""Keras optimizers as ``torch.optim.Optimizer`` subclasses.

They follow Keras's update rules and defaults, not torch's (see
``docs/keras-vs-pytorch.md``):

* Keras 2 spellings work: ``SGD(lr=0.01, decay=1e-6, momentum=0.9)``. ``decay``
  is the legacy inverse-time decay ``lr_t = lr / (1 + decay * iterations)``,
  where ``iterations`` counts the steps already applied.
* SGD keeps Keras's velocity ``v = m*v - lr_t*g; w += v``. torch's buffer form
  ``b = m*b + g; w -= lr*b`` is the same only while the rate is constant; with
  ``decay`` (the lectures' setting) or a schedule the two differ, and Keras
  scripts expect Keras's numbers.
* Adam, RMSprop and Adagrad place epsilon where Keras does.

An optimizer is created without parameters, as in Keras, and bound to a model's
parameters by ``compile`` (``build``). After that it is a normal torch optimizer:
``step()``, ``zero_grad()``, ``state_dict()`` all work.
"""

from __future__ import annotations

import math

import torch
import torch.optim.optimizer as torch_optimizer

from . import packing


def _elementwise(name):
    """``torch._foreach_<name>`` over a list of tensors, or the tensor op itself on one packed buffer.

    The updates below are written once for both: a list (one tensor per parameter) or, for packed
    groups (``kerastyle.packing``), one flat tensor. On CPU torch's foreach ops loop over the list
    in C++ and cost more per call than the plain op (``_foreach_mul_`` even multiplies out of place
    and copies back): 4-5% of an analytic SGD step on the lecture model, measured in one process
    with the two updates taking turns every few steps."""
    over_list = getattr(torch, f"_foreach_{name}")
    if name == "maximum_":
        def on_tensor(t, other):
            return torch.maximum(t, other, out=t)
    else:
        on_tensor = getattr(torch.Tensor, name)

    def apply(tensors, *args, **kwargs):
        if isinstance(tensors, torch.Tensor):
            return on_tensor(tensors, *args, **kwargs)
        return over_list(tensors, *args, **kwargs)
    apply.__name__ = name
    return apply


_add, _add_, _addcdiv_, _addcmul_, _lerp_, _maximum_, _mul, _mul_, _sqrt, _sqrt_, _sub, _sub_ = (
    _elementwise(name) for name in ("add", "add_", "addcdiv_", "addcmul_", "lerp_", "maximum_", "mul",
                                    "mul_", "sqrt", "sqrt_", "sub", "sub_"))


class Optimizer(torch.optim.Optimizer):
    """Base: Keras hyper-parameters, the ``lr``/``decay`` aliases and deferred binding."""

    def __init__(self, learning_rate, lr=None, decay=0.0, weight_decay=None, name=None, **hyper):
        if lr is not None:
            learning_rate = lr
        _check_number("learning_rate", learning_rate, low=0.0)
        _check_number("decay", decay, low=0.0)
        if weight_decay is not None:
            _check_number("weight_decay", weight_decay, low=0.0)
        self.name = name or type(self).__name__
        self._defaults = dict(lr=float(learning_rate), decay=float(decay),
                              weight_decay=float(weight_decay or 0.0), iterations=0, **hyper)
        self.built = False

    def build(self, params):
        """Bind to parameters (called by ``compile``); returns self."""
        params = list(params)
        if self.built:
            bound = {id(p) for g in self.param_groups for p in g["params"]}
            if bound == {id(p) for p in params}:
                return self
            raise ValueError(f"Optimizer {self.name!r} is already bound to another model's "
                             f"parameters; create a new optimizer for each model.")
        super().__init__(params, dict(self._defaults))
        self.built = True
        return self

    # Keras-facing attributes ------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The base learning rate (before ``decay``), as Keras's ``optimizer.learning_rate``."""
        return self.param_groups[0]["lr"] if self.built else self._defaults["lr"]

    @learning_rate.setter
    def learning_rate(self, value):
        _check_number("learning_rate", value, low=0.0)
        if self.built:
            for group in self.param_groups:
                group["lr"] = float(value)
        self._defaults["lr"] = float(value)

    lr = learning_rate  # Keras 2 name

    @property
    def iterations(self) -> int:
        return self.param_groups[0]["iterations"] if self.built else 0

    def current_learning_rate(self, group=None) -> float:
        """The rate the next step will use: ``lr / (1 + decay * iterations)``."""
        group = group or (self.param_groups[0] if self.built else self._defaults)
        return group["lr"] / (1.0 + group["decay"] * group["iterations"])

    def get_config(self) -> dict:
        config = {k: v for k, v in self._defaults.items() if k != "iterations"}
        config["learning_rate"] = config.pop("lr")
        config["name"] = self.name
        if self.built:
            config["learning_rate"] = self.learning_rate
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # the update -------------------------------------------------------------
    def step(self, closure=None):
        """torch's ``Optimizer.step``: apply one update from the parameters' ``.grad``."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.apply_gradients()
        return loss

    @torch.no_grad()
    def apply_gradients(self):
        """One update from the parameters' ``.grad``, without torch's per-call step wrapper."""
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._apply(group, params, [p.grad for p in params],
                            lambda name, init=0.0, params=params: self._slots(params, name, init))
            group["iterations"] += 1

    def _apply(self, group, params, grads, slots):
        lr = self.current_learning_rate(group)
        if group["weight_decay"]:
            _mul_(params, 1.0 - lr * group["weight_decay"])
        self._update(group, params, grads, slots, lr)

    def update_function(self, stable_grads=False):
        """What the fit loop calls once per batch (decided once per fit).

        torch wraps ``step`` in profiler and hook dispatch that costs about as much as a whole SGD
        update of a lecture-sized model, so the loop uses the bare ``apply_gradients`` unless step
        hooks are registered. When the engine keeps the same ``.grad`` tensors for the whole fit
        (``stable_grads``) and every group's parameters and gradients are packed alike
        (``kerastyle.packing``), the update runs on the whole buffers: a handful of operations per
        step, however many weight tensors the model has."""
        registries = (getattr(self, "_optimizer_step_pre_hooks", None),
                      getattr(self, "_optimizer_step_post_hooks", None),
                      getattr(torch_optimizer, "_global_optimizer_pre_hooks", None),
                      getattr(torch_optimizer, "_global_optimizer_post_hooks", None))
        if any(hooks is None or len(hooks) for hooks in registries):
            return self.step
        packed = self._packed_groups() if stable_grads else None
        if packed is None:
            return self.apply_gradients

        def apply_packed():  # on detached views: no torch.no_grad() needed (it costs ~10 us a call)
            for group in packed:
                self._apply(group.group, group.params, group.grads, group.slots)
                group.group["iterations"] += 1
        return apply_packed

    def _packed_groups(self):
        """A ``_PackedGroup`` per parameter group, or None unless every group is packed with its
        gradients laid out alike."""
        packed = []
        for group in self.param_groups:
            params = group["params"]
            grads = [p.grad for p in params]
            if any(g is None for g in grads) or not packing.same_layout(params, grads):
                return None
            flat_params, flat_grads = packing.flat_view(params), packing.flat_view(grads)
            if flat_params is None or flat_grads is None:
                return None
            packed.append(_PackedGroup(self, group, flat_params, flat_grads))
        return packed

    def _update(self, group, params, grads, slots, lr):
        """Update ``params`` in place from ``grads``; ``slots(name, init)`` gives the state tensors.

        All three are lists with one tensor per parameter, or one packed tensor each (a packed
        group); the ``_mul_``-style helpers above take either."""
        raise NotImplementedError

    def _slots(self, params, name, init=0.0):
        """Per-parameter state tensors called ``name``, created on first use."""
        slots = []
        for p in params:
            state = self.state[p]
            if name not in state:
                state[name] = torch.full_like(p, init, memory_format=torch.preserve_format)
            slots.append(state[name])
        return slots

    def __repr__(self):
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.get_config().items() if k != 'name')})"


def _check_number(name, value, low=None, high=None):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"Argument `{name}` must be a finite number {bounds}, got {value!r}.")


class _PackedGroup:
    """A parameter group whose parameters, gradients and slots each lie in one buffer, laid out
    alike: the update runs on the three flat views. The per-parameter slots in ``optimizer.state``
    stay views of the flat slot, so ``state_dict()`` and saving see every update; slots replaced
    from outside (``load_state_dict``) are packed again before the next update uses them."""

    def __init__(self, optimizer, group, flat_params, flat_grads):
        self.optimizer, self.group = optimizer, group
        self.params, self.grads = flat_params.detach(), flat_grads.detach()
        self._flat_slots = {}  # name -> (flat slot, the first parameter's slot tensor)

    def slots(self, name, init=0.0):
        cached = self._flat_slots.get(name)
        members = self.group["params"]
        if cached is None or self.optimizer.state[members[0]].get(name) is not cached[1]:
            tensors = self.optimizer._slots(members, name, init)
            cached = (packing.pack(tensors, like=members), tensors[0])
            self._flat_slots[name] = cached
        return cached[0]


class SGD(Optimizer):
    """Keras SGD: ``v = momentum*v - lr_t*g; w += v`` (Nesterov: ``w += momentum*v - lr_t*g``)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        _check_number("momentum", momentum, 0.0, 1.0)
        super().__init__(learning_rate, momentum=float(momentum), nesterov=bool(nesterov), **kwargs)

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


class Adam(Optimizer):
    """Keras Adam: ``w -= lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        _check_number("beta_1", beta_1, 0.0, 1.0)
        _check_number("beta_2", beta_2, 0.0, 1.0)
        _check_number("epsilon", epsilon, low=0.0)
        super().__init__(learning_rate, beta_1=float(beta_1), beta_2=float(beta_2),
                         epsilon=float(epsilon), amsgrad=bool(amsgrad), **kwargs)

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


class RMSprop(Optimizer):
    """Keras RMSprop: ``v = rho*v + (1-rho)*g^2; w -= lr*g / sqrt(v + eps)`` (eps inside the root)."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        _check_number("rho", rho, 0.0, 1.0)
        _check_number("momentum", momentum, 0.0, 1.0)
        _check_number("epsilon", epsilon, low=0.0)
        super().__init__(learning_rate, rho=float(rho), momentum=float(momentum),
                         epsilon=float(epsilon), centered=bool(centered), **kwargs)

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
    """Keras Adagrad: ``a += g^2; w -= lr*g / sqrt(a + eps)``, accumulators start at 0.1."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        _check_number("initial_accumulator_value", initial_accumulator_value, low=0.0)
        _check_number("epsilon", epsilon, low=0.0)
        super().__init__(learning_rate, initial_accumulator_value=float(initial_accumulator_value),
                         epsilon=float(epsilon), **kwargs)

    def _update(self, group, params, grads, slots, lr):
        acc = slots("accumulator", group["initial_accumulator_value"])
        _addcmul_(acc, grads, grads)
        denom = _add(acc, group["epsilon"])
        _sqrt_(denom)
        _addcdiv_(params, grads, denom, value=-lr)


ALIASES = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """An optimizer from a name (fresh instance with Keras defaults) or an object."""
    if isinstance(identifier, torch.optim.Optimizer) and not isinstance(identifier, Optimizer):
        return identifier  # a plain torch optimizer the user built on model.to_torch().parameters()
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in ALIASES:
        return ALIASES[identifier.lower()]()
    raise ValueError(f"Unknown optimizer {identifier!r}. Valid names: {', '.join(sorted(ALIASES))}.")
