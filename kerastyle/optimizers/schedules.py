"""Learning-rate schedules: Keras's ``keras.optimizers.schedules``.

A schedule maps the optimizer's step count (``iterations``: steps already applied, so the first
step sees 0) to a learning rate. Pass one as ``learning_rate=`` to any optimizer; the optimizer
asks it for the rate before each step. Values are computed in Python floats with Keras's formulas
(see ``docs/optimizers.md``). Subclass ``LearningRateSchedule`` for your own: implement
``__call__(step)`` and, to save it in a config, ``get_config()``.
"""

from __future__ import annotations

import math
import numbers

from .checks import check_bool, check_number, refuse_unknown

__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay",
           "PolynomialDecay", "CosineDecay", "CosineDecayRestarts", "serialize", "deserialize"]


class LearningRateSchedule:
    """Base class: ``__call__(step) -> learning rate`` and ``get_config()``."""

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f"`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f"`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            config = self.get_config()
        except NotImplementedError:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in config.items())})"


def _num(owner, name, value, low=None, *, open_low=False):
    """A checked number, kept an int when given as one (numpy scalars become Python numbers)."""
    checked = check_number(owner, name, value, low, open_low=open_low)
    return int(value) if isinstance(value, numbers.Integral) else checked


def _name(owner, value):
    if not isinstance(value, str):
        raise ValueError(f"{owner}: argument `name` must be a string, got {value!r}.")
    return value


def _step(step) -> float:
    return float(step)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (the exponent floored with
    ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay",
                 **kwargs):
        owner = type(self).__name__
        refuse_unknown(owner, kwargs, ["initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"])
        self.initial_learning_rate = _num(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _num(owner, "decay_steps", decay_steps, 0, open_low=True)
        self.decay_rate = _num(owner, "decay_rate", decay_rate)
        self.staircase = check_bool(owner, "staircase", staircase)
        self.name = _name(owner, name)

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the ratio floored with
    ``staircase``). ``InverseTimeDecay(lr, 1, decay)`` is Keras 2's ``decay=`` argument."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay",
                 **kwargs):
        owner = type(self).__name__
        refuse_unknown(owner, kwargs, ["initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"])
        self.initial_learning_rate = _num(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _num(owner, "decay_steps", decay_steps, 0, open_low=True)
        self.decay_rate = _num(owner, "decay_rate", decay_rate)
        self.staircase = check_bool(owner, "staircase", staircase)
        self.name = _name(owner, name)

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant", **kwargs):
        owner = type(self).__name__
        refuse_unknown(owner, kwargs, ["boundaries", "values", "name"])
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise ValueError(f"{owner}: arguments `boundaries` and `values` must be lists, got "
                             f"boundaries={boundaries!r}, values={values!r}.")
        if len(boundaries) != len(values) - 1:
            raise ValueError(f"{owner}: the length of `boundaries` should be 1 less than the length of `values`. "
                             f"Received: boundaries={list(boundaries)} of length {len(boundaries)}, and "
                             f"values={list(values)} of length {len(values)}.")
        self.boundaries = [_num(owner, f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
        self.values = [_num(owner, f"values[{i}]", v) for i, v in enumerate(values)]
        if any(a >= b for a, b in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"{owner}: argument `boundaries` must be strictly increasing, got {self.boundaries}.")
        self.name = _name(owner, name)

    def __call__(self, step):
        step = _step(step)
        index = sum(1 for b in self.boundaries if step > b)
        return self.values[index]

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end``; with
    ``cycle`` the horizon is the first multiple of ``decay_steps`` not below ``step``."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay", **kwargs):
        owner = type(self).__name__
        refuse_unknown(owner, kwargs, ["initial_learning_rate", "decay_steps", "end_learning_rate", "power",
                                       "cycle", "name"])
        self.initial_learning_rate = _num(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _num(owner, "decay_steps", decay_steps, 0, open_low=True)
        self.end_learning_rate = _num(owner, "end_learning_rate", end_learning_rate)
        self.power = _num(owner, "power", power)
        self.cycle = check_bool(owner, "cycle", cycle)
        self.name = _name(owner, name)

    def __call__(self, step):
        step = _step(step)
        horizon = float(self.decay_steps)
        if self.cycle:
            horizon *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, horizon)
        fraction = step / horizon
        return (self.initial_learning_rate - self.end_learning_rate) * (1.0 - fraction) ** self.power \
            + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup from ``initial_learning_rate`` to ``warmup_target`` over
    ``warmup_steps``, then a cosine from the start rate to ``alpha`` times it over ``decay_steps``:
    ``rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)``, ``s`` capped at
    ``decay_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0, **kwargs):
        owner = type(self).__name__
        refuse_unknown(owner, kwargs, ["initial_learning_rate", "decay_steps", "alpha", "name", "warmup_target",
                                       "warmup_steps"])
        self.initial_learning_rate = _num(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _num(owner, "decay_steps", decay_steps, 0, open_low=True)
        self.alpha = _num(owner, "alpha", alpha)
        self.name = _name(owner, name)
        self.warmup_target = None if warmup_target is None else _num(owner, "warmup_target", warmup_target)
        self.warmup_steps = _num(owner, "warmup_steps", warmup_steps, 0)
        if self.warmup_target is not None and not self.warmup_steps:
            raise ValueError(f"{owner}: argument `warmup_steps` must be > 0 when `warmup_target` is set, "
                             f"got {warmup_steps!r}.")

    def _decayed(self, step, start):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _step(step)
        if self.warmup_target is None:
            return self._decayed(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            return (self.warmup_target - self.initial_learning_rate) * (step / self.warmup_steps) \
                + self.initial_learning_rate
        return self._decayed(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """SGDR: a cosine from 1 to ``alpha`` over ``first_decay_steps``, then restarts; period ``i``
    lasts ``t_mul**i`` times longer and starts ``m_mul**i`` times lower:
    ``rate * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * f)) + alpha)``, ``f`` the fraction of
    the current period done."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay", **kwargs):
        owner = type(self).__name__
        refuse_unknown(owner, kwargs, ["initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha",
                                       "name"])
        self.initial_learning_rate = _num(owner, "initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _num(owner, "first_decay_steps", first_decay_steps, 0, open_low=True)
        self.t_mul = _num(owner, "t_mul", t_mul, 0, open_low=True)
        self.m_mul = _num(owner, "m_mul", m_mul)
        self.alpha = _num(owner, "alpha", alpha)
        self.name = _name(owner, name)

    def __call__(self, step):
        fraction = _step(step) / self.first_decay_steps
        t_mul = float(self.t_mul)
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul ** restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul ** restart
        cosine = 0.5 * self.m_mul ** restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


BUILT_IN = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                          PolynomialDecay, CosineDecay, CosineDecayRestarts)}


def serialize(schedule) -> dict:
    """``{"class_name", "config"}`` for a schedule (ValueError for one without ``get_config``)."""
    if not isinstance(schedule, LearningRateSchedule):
        raise ValueError(f"A learning rate given as a plain callable ({schedule!r}) cannot be written to a "
                         f"config; use a LearningRateSchedule subclass.")
    try:
        config = schedule.get_config()
    except NotImplementedError as err:
        raise ValueError(str(err)) from None
    return {"class_name": type(schedule).__name__, "config": config}


def deserialize(entry) -> LearningRateSchedule:
    """A built-in schedule from ``{"class_name", "config"}`` (Keras's extra keys such as ``module``
    are ignored). Custom classes are not rebuilt: nothing from a config is imported or run."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
            or not isinstance(entry.get("config"), dict):
        raise ValueError(f"A learning rate schedule entry must be a dict with 'class_name' and 'config', "
                         f"got {entry!r}.")
    cls = BUILT_IN.get(entry["class_name"])
    if cls is None:
        raise ValueError(f"Unknown learning rate schedule class {entry['class_name']!r}: only the built-in "
                         f"schedules ({', '.join(sorted(BUILT_IN))}) can be rebuilt from a config. A custom "
                         f"schedule would need `custom_objects`, which kerastyle does not support yet; pass the "
                         f"schedule object itself as `learning_rate=`.")
    return cls.from_config(dict(entry["config"]))


def get(identifier):
    """A schedule from an instance or a ``{"class_name", "config"}`` dict."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    return deserialize(identifier)
