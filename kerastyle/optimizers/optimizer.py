"""The optimizer base class: Keras's optimizer contract on ``torch.optim.Optimizer``.

Keras's rules, not torch's (see ``docs/optimizers.md``):

* An optimizer is created without parameters, as in Keras, and bound to a model's parameters by
  ``compile`` (``build``). After that it is a normal torch optimizer: ``step()``, ``zero_grad()``,
  ``state_dict()`` all work, and ``state[p]`` holds the slot tensors (momentum, ...).
* Every optimizer takes Keras 3's common arguments: ``weight_decay`` (decoupled:
  ``w -= lr * weight_decay * w`` before the update), ``clipnorm`` (each gradient's own L2 norm),
  ``clipvalue``, ``global_clipnorm`` (the norm of all gradients together; at most one of the three),
  ``use_ema``/``ema_momentum``/``ema_overwrite_frequency``, and a ``LearningRateSchedule`` (or a
  zero-argument callable) as ``learning_rate``.
* The Keras 2 spellings ``lr=`` and ``decay=`` stay where Keras 2 had them: ``decay`` is the legacy
  inverse-time decay ``lr_t = lr / (1 + decay * iterations)``, ``iterations`` counting the steps
  already applied (Keras 3 dropped it; its equivalent is ``InverseTimeDecay(lr, 1, decay)``).
* Unknown keyword arguments are refused (TypeError naming them and listing the valid ones), and
  every value is checked (numpy scalars are numbers, bools are not).

The per-step work is one pass over each parameter group: gradients clipped (in place, as
``torch.nn.utils.clip_grad_norm_`` does), weight decay, the optimizer's own rule (``_update``), the
moving average, ``iterations += 1``. The elementwise helpers below take either a list of tensors
(one per parameter) or one packed tensor (``kerastyle.packing``), so each rule is written once for
both.
"""

from __future__ import annotations

import inspect

import torch
import torch.optim.optimizer as torch_optimizer

from .. import packing
from . import schedules as schedules_module
from .checks import check_bool, check_number, is_number, refuse_unknown


# -- elementwise helpers: a list of tensors or one packed tensor ---------------------------------
def _elementwise(name, on_tensor=None):
    """``torch._foreach_<name>`` over a list of tensors, or the tensor op itself on one packed buffer.

    On CPU torch's foreach ops loop over the list in C++ and cost more per call than the plain op
    (``_foreach_mul_`` even multiplies out of place and copies back): 4-5% of an analytic SGD step
    on the lecture model, measured in one process with the two updates taking turns every few
    steps. So a packed group calls the plain tensor method."""
    over_list = getattr(torch, f"_foreach_{name}")
    if on_tensor is None:
        on_tensor = getattr(torch.Tensor, name)

    def apply(tensors, *args, **kwargs):
        if isinstance(tensors, torch.Tensor):
            return on_tensor(tensors, *args, **kwargs)
        return over_list(tensors, *args, **kwargs)
    apply.__name__ = name
    return apply


(_abs, _add, _add_, _addcdiv_, _addcmul_, _div_, _lerp_, _mul, _mul_, _pow, _sign_, _sqrt, _sqrt_, _sub,
 _sub_) = (_elementwise(name) for name in ("abs", "add", "add_", "addcdiv_", "addcmul_", "div_", "lerp_", "mul",
                                           "mul_", "pow", "sign_", "sqrt", "sqrt_", "sub", "sub_"))
_maximum_ = _elementwise("maximum_", lambda t, other: torch.maximum(t, other, out=t))
_copy_ = _elementwise("copy_")


def _clamp_(tensors, low, high):
    """Clip elementwise into [low, high], in place."""
    if isinstance(tensors, torch.Tensor):
        tensors.clamp_(low, high)
    else:
        torch._foreach_clamp_min_(tensors, low)
        torch._foreach_clamp_max_(tensors, high)


def _clone(tensors):
    if isinstance(tensors, torch.Tensor):
        return tensors.clone()
    return [t.clone() for t in tensors]


# A hyper-parameter rule: ("float", low, high, open_low), ("int", low), ("bool",).
def _check_rule(owner, name, value, rule):
    if rule[0] == "bool":
        return check_bool(owner, name, value)
    if rule[0] == "int":
        return check_number(owner, name, value, rule[1], integer=True)
    _, low, high, open_low = (tuple(rule) + (None, None, False))[:4]
    return check_number(owner, name, value, low, high, open_low=open_low)


UNIT = ("float", 0.0, 1.0)      # a rate in [0, 1]
NON_NEGATIVE = ("float", 0.0)
BOOL = ("bool",)

_BASE_ARGUMENTS = ("learning_rate", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
                   "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                   "gradient_accumulation_steps", "name")
_GROUP_RULES = {"lr": NON_NEGATIVE, "decay": NON_NEGATIVE, "weight_decay": NON_NEGATIVE, "iterations": ("int", 0)}


class Optimizer(torch.optim.Optimizer):
    """Base of the Keras optimizers: common arguments, deferred binding, clipping, weight decay,
    the moving average and the learning rate (a number, Keras 2's decay, or a schedule).

    A subclass declares ``hyper_rules`` (its own hyper-parameters and their valid values), passes
    them to ``__init__`` as ``_hyper`` and implements ``_update``."""

    #: name -> rule for the subclass's own hyper-parameters (kept in each param group).
    hyper_rules: dict = {}
    #: whether Keras 2 had this optimizer, so ``lr=`` and ``decay=`` are accepted.
    keras2_arguments = True

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, *, _hyper=None,
                 **kwargs):
        owner = type(self).__name__
        decay = 0.0
        if self.keras2_arguments:
            if "lr" in kwargs:
                learning_rate = kwargs.pop("lr")
            decay = kwargs.pop("decay", 0.0)
        refuse_unknown(owner, kwargs, self.valid_arguments())
        self._schedule = None
        if isinstance(learning_rate, schedules_module.LearningRateSchedule) or (
                callable(learning_rate) and not is_number(learning_rate)):
            self._schedule = learning_rate
            base_lr = self._schedule_value(0)
        else:
            base_lr = check_number(owner, "learning_rate", learning_rate, 0.0)
        decay = check_number(owner, "decay", decay, 0.0)
        self.weight_decay = check_number(owner, "weight_decay", weight_decay, 0.0, none_ok=True)
        self.clipnorm = check_number(owner, "clipnorm", clipnorm, 0.0, none_ok=True)
        self.clipvalue = check_number(owner, "clipvalue", clipvalue, 0.0, none_ok=True)
        self.global_clipnorm = check_number(owner, "global_clipnorm", global_clipnorm, 0.0, none_ok=True)
        given = {k: v for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                   ("global_clipnorm", global_clipnorm)) if v is not None}
        if len(given) > 1:
            raise ValueError(f"{owner}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set, "
                             f"got {given}.")
        self.use_ema = check_bool(owner, "use_ema", use_ema)
        self.ema_momentum = check_number(owner, "ema_momentum", ema_momentum, 0.0, 1.0)
        self.ema_overwrite_frequency = check_number(owner, "ema_overwrite_frequency", ema_overwrite_frequency,
                                                    1, integer=True, none_ok=True)
        for arg, value in (("loss_scale_factor", loss_scale_factor),
                           ("gradient_accumulation_steps", gradient_accumulation_steps)):
            if value is not None:
                raise ValueError(f"{owner}: argument `{arg}` is not supported by kerastyle (only None), "
                                 f"got {value!r}.")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"{owner}: argument `name` must be a string or None, got {name!r}.")
        self.name = name or owner
        hyper = {k: _check_rule(owner, k, v, self.hyper_rules[k]) for k, v in (_hyper or {}).items()}
        self._defaults = dict(lr=base_lr, decay=decay, weight_decay=self.weight_decay or 0.0, iterations=0,
                              **hyper)
        self._clip = self._choose_clipping()
        self.built = False

    @classmethod
    def valid_arguments(cls) -> list[str]:
        """The keyword arguments this optimizer accepts (its own, the common ones, Keras 2's)."""
        own = [p for p in inspect.signature(cls.__init__).parameters
               if p not in ("self", "kwargs", "_hyper")]
        return sorted(set(own) | set(_BASE_ARGUMENTS) | ({"lr", "decay"} if cls.keras2_arguments else set()))

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

    # -- learning rate -------------------------------------------------------------------------
    def _schedule_value(self, step) -> float:
        if isinstance(self._schedule, schedules_module.LearningRateSchedule):
            return float(self._schedule(step))
        return float(self._schedule())

    @property
    def learning_rate(self) -> float:
        """Keras's ``optimizer.learning_rate``: the base rate (before Keras 2's ``decay``), or with a
        schedule the schedule's value at the current step."""
        if self._schedule is not None:
            return self._schedule_value(self.iterations)
        return self.param_groups[0]["lr"] if self.built else self._defaults["lr"]

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, schedules_module.LearningRateSchedule) or (callable(value) and not is_number(value)):
            self._schedule = value
            return
        if isinstance(self._schedule, schedules_module.LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. If "
                            "you need the learning rate to be settable, you should instantiate the optimizer "
                            "with a float `learning_rate` argument.")
        value = check_number(type(self).__name__, "learning_rate", value, 0.0)
        self._schedule = None
        if self.built:
            for group in self.param_groups:
                group["lr"] = value
        self._defaults["lr"] = value

    lr = learning_rate  # Keras 2 name

    @property
    def schedule(self):
        """The ``LearningRateSchedule`` (or callable) given as ``learning_rate``, else None."""
        return self._schedule

    @property
    def iterations(self) -> int:
        return self.param_groups[0]["iterations"] if self.built else self._defaults["iterations"]

    def current_learning_rate(self, group=None) -> float:
        """The rate the next step uses: the schedule's value (or the base rate) at ``iterations``,
        divided by ``1 + decay * iterations`` when Keras 2's ``decay`` is set."""
        group = group or (self.param_groups[0] if self.built else self._defaults)
        iterations = group["iterations"]
        lr = self._schedule_value(iterations) if self._schedule is not None else group["lr"]
        if group["decay"]:
            lr = lr / (1.0 + group["decay"] * iterations)
        return lr

    # -- configuration -------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's config keys (plus ``decay`` where Keras 2 had it); a schedule as
        ``{"class_name", "config"}``."""
        source = self.param_groups[0] if self.built else self._defaults
        config = {"name": self.name,
                  "learning_rate": (schedules_module.serialize(self._schedule) if self._schedule is not None
                                    else source["lr"]),
                  "weight_decay": self.weight_decay if not source["weight_decay"] else source["weight_decay"],
                  "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                  "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                  "ema_overwrite_frequency": self.ema_overwrite_frequency,
                  "loss_scale_factor": None, "gradient_accumulation_steps": None}
        config.update({k: source[k] for k in self.hyper_rules})
        if self.keras2_arguments:
            config["decay"] = source["decay"]
        return config

    @classmethod
    def from_config(cls, config):
        """An optimizer from ``get_config()`` output; every value is checked (ValueError naming the
        key). ``iterations``, when present, sets the step count the optimizer starts from."""
        if not isinstance(config, dict):
            raise ValueError(f"{cls.__name__}.from_config expects a dict, got {type(config).__name__}.")
        config = dict(config)
        iterations = check_number(cls.__name__, "iterations", config.pop("iterations", 0), 0, integer=True)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_module.deserialize(config["learning_rate"])
        optimizer = cls(**config)
        optimizer._defaults["iterations"] = iterations
        return optimizer

    def check_param_group(self, hyper: dict) -> dict:
        """Check saved per-group settings (``lr``, ``iterations``, ...) before they are installed;
        returns them normalized, or raises ValueError naming the key (for loaders of saved state)."""
        rules = {**_GROUP_RULES, **self.hyper_rules}
        owner = f"{type(self).__name__} state"
        out = {}
        for key, value in hyper.items():
            if key not in rules:
                raise ValueError(f"{owner}: unknown setting `{key}`; valid: {', '.join(sorted(rules))}.")
            out[key] = _check_rule(owner, key, value, rules[key])
        return out

    # -- the update ----------------------------------------------------------------------------
    def step(self, closure=None):
        """torch's ``Optimizer.step``: apply one update from the parameters' ``.grad``."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.apply_gradients()
        return loss

    @torch.no_grad()
    def apply_gradients(self, grads_and_vars=None):
        """One update from the parameters' ``.grad`` (torch style) or, Keras style, from
        ``zip(grads, variables)`` (building the optimizer on those variables if needed)."""
        given = None
        if grads_and_vars is not None:
            pairs = list(grads_and_vars)
            if not self.built:
                self.build(v for _, v in pairs)
            given = {id(v): g for g, v in pairs}
            known = {id(p) for group in self.param_groups for p in group["params"]}
            if not set(given) <= known:
                raise ValueError(f"Optimizer {self.name!r}: apply_gradients got a variable it was not built "
                                 f"with; create a new optimizer for new variables.")
        entries = []
        for group in self.param_groups:
            params = [p for p in group["params"]
                      if (p.grad if given is None else given.get(id(p))) is not None]
            if given is None:
                grads = [p.grad for p in params]
            else:
                grads = [torch.as_tensor(given[id(p)], dtype=p.dtype, device=p.device) for p in params]
                grads = [g.clone() if self._clip is not None else g for g in grads]  # clipped in place
            entries.append(_Entry(self, group, params, grads))
        self._apply_entries(entries)

    def _apply_entries(self, entries):
        """Clip, decay, update, average, count: one step over every group."""
        if self._clip is not None:
            self._clip(entries)
        schedule, use_ema = self._schedule, self.use_ema
        for entry in entries:
            group = entry.group
            if entry.params_n:
                lr = self.current_learning_rate(group)
                if schedule is not None:
                    group["lr"] = self._schedule_value(group["iterations"])
                if group["weight_decay"]:
                    _mul_(entry.params, 1.0 - lr * group["weight_decay"])
                self._update(group, entry.params, entry.grads, entry.slots, lr)
                if use_ema:
                    self._update_average(group, entry)
            group["iterations"] += 1

    def _update_average(self, group, entry):
        """Keras's EMA of the weights: ``avg = m*avg + (1-m)*w`` (``avg = w`` on the first step);
        every ``ema_overwrite_frequency`` steps the weights take the average's value."""
        average = entry.slots("average")
        iterations = group["iterations"]
        if iterations == 0:
            _copy_(average, entry.params)
        else:
            _lerp_(average, entry.params, 1.0 - self.ema_momentum)
        frequency = self.ema_overwrite_frequency
        if frequency and (iterations + 1) % frequency == 0:
            _copy_(entry.params, average)

    def finalize_variable_values(self, var_list=None):
        """With ``use_ema``, copy the moving averages into the weights (Keras does this at the end
        of ``fit``); otherwise nothing."""
        if not (self.use_ema and self.built):
            return
        wanted = None if var_list is None else {id(v) for v in var_list}
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    average = self.state[p].get("average")
                    if average is not None and (wanted is None or id(p) in wanted):
                        p.copy_(average)

    # -- clipping ------------------------------------------------------------------------------
    def _choose_clipping(self):
        """The clipping function for every step (decided once), or None. Keras skips a clip whose
        value is 0."""
        if self.clipnorm:
            return self._clip_by_norm
        if self.global_clipnorm:
            return self._clip_by_global_norm
        if self.clipvalue:
            return self._clip_by_value
        return None

    def _clip_by_norm(self, entries):
        """Each gradient scaled by ``clipnorm / max(||g||, clipnorm)``: Keras's per-variable clip."""
        clipnorm = self.clipnorm
        for entry in entries:
            grads = entry.grad_list
            if grads:
                factors = torch._foreach_norm(grads)
                torch._foreach_maximum_(factors, clipnorm)
                torch._foreach_reciprocal_(factors)
                torch._foreach_mul_(factors, clipnorm)
                torch._foreach_mul_(grads, factors)

    def _clip_by_global_norm(self, entries):
        """All gradients scaled by ``clip * min(1/N, 1/clip)``, N the norm of all of them together
        (a non-finite N makes the scale NaN, as in Keras)."""
        norms = [torch.linalg.vector_norm(e.grads) if isinstance(e.grads, torch.Tensor)
                 else torch.linalg.vector_norm(torch.stack(torch._foreach_norm(e.grads)))
                 for e in entries if e.params_n]
        if not norms:
            return
        total = torch.linalg.vector_norm(torch.stack(norms)) if len(norms) > 1 else norms[0]
        clip = self.global_clipnorm
        scale = torch.clamp_max(total.reciprocal(), 1.0 / clip) * clip + (total - total)
        for entry in entries:
            if entry.params_n:
                _mul_(entry.grads, scale)

    def _clip_by_value(self, entries):
        for entry in entries:
            if entry.params_n:
                _clamp_(entry.grads, -self.clipvalue, self.clipvalue)

    # -- the fast path -------------------------------------------------------------------------
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
        if len(packed) == 1 and self._clip is None and not self.use_ema and self._schedule is None:
            entry = packed[0]
            group, update = entry.group, self._update

            def apply_packed_plain():  # the common case: one group, nothing but the rule itself
                lr = group["lr"]
                if group["decay"]:
                    lr = lr / (1.0 + group["decay"] * group["iterations"])
                if group["weight_decay"]:
                    _mul_(entry.params, 1.0 - lr * group["weight_decay"])
                update(group, entry.params, entry.grads, entry.slots, lr)
                group["iterations"] += 1
            return apply_packed_plain

        def apply_packed():  # on detached views: no torch.no_grad() needed (it costs ~10 us a call)
            self._apply_entries(packed)
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
            packed.append(_PackedGroup(self, group, flat_params, flat_grads, grads))
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
        try:
            config = self.get_config()
        except ValueError:
            config = {"learning_rate": self._schedule}
        quiet = {"name": None, "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                 "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                 "loss_scale_factor": None, "gradient_accumulation_steps": None, "decay": 0.0}
        shown = {k: v for k, v in config.items() if k not in quiet or (k != "name" and v != quiet[k])}
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in shown.items())})"


class _Entry:
    """One parameter group's work for one unpacked step: the parameters that have gradients."""

    __slots__ = ("optimizer", "group", "params", "grads", "grad_list", "params_n")

    def __init__(self, optimizer, group, params, grads):
        self.optimizer, self.group, self.params, self.grads = optimizer, group, params, grads
        self.grad_list = grads
        self.params_n = len(params)

    def slots(self, name, init=0.0):
        return self.optimizer._slots(self.params, name, init)


class _PackedGroup:
    """A parameter group whose parameters, gradients and slots each lie in one buffer, laid out
    alike: the update runs on the three flat views. The per-parameter slots in ``optimizer.state``
    stay views of the flat slot, so ``state_dict()`` and saving see every update; slots replaced
    from outside (``load_state_dict``) are packed again before the next update uses them."""

    def __init__(self, optimizer, group, flat_params, flat_grads, grads):
        self.optimizer, self.group = optimizer, group
        self.params, self.grads = flat_params.detach(), flat_grads.detach()
        self.grad_list = [g.detach() for g in grads]  # per-parameter views (clipnorm)
        self.params_n = len(grads)
        self._flat_slots = {}  # name -> (flat slot, the first parameter's slot tensor)

    def slots(self, name, init=0.0):
        cached = self._flat_slots.get(name)
        members = self.group["params"]
        if cached is None or self.optimizer.state[members[0]].get(name) is not cached[1]:
            tensors = self.optimizer._slots(members, name, init)
            cached = (packing.pack(tensors, like=members), tensors[0])
            self._flat_slots[name] = cached
        return cached[0]
