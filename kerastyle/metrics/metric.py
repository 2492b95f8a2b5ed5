"""The stateful ``Metric`` base class, Keras's contract, and ``MeanMetricWrapper``.

A metric keeps sums or counts in ``Variable`` states: ``update_state(y_true, y_pred,
sample_weight=None)`` adds a batch (or a chunk of several concatenated batches: the states only
add up, so the epoch value is exact however the data is split), ``result()`` returns a tensor,
``reset_state()`` starts over. ``metric(y_true, y_pred)`` does both, as in Keras.
"""

from __future__ import annotations

import inspect
import numbers
import re

import torch

from ..backend.variables import Variable
from ..losses.loss import as_tensor, refuse_unknown_kwargs, same_rank


def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Metric:
    """Base class. Subclasses create states with ``add_variable`` (or Keras 2's ``add_weight``)
    in ``__init__`` and implement ``update_state`` and ``result``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = refuse_unknown_kwargs(cls.__init__)

    @refuse_unknown_kwargs  # the base too: Loss(...)/Metric(...) and super().__init__(...) calls
    def __init__(self, name=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise ValueError(f"{type(self).__name__}: argument `name` must be a string, got {name!r}.")
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype or "float32"
        self._variables = []

    # -- state -----------------------------------------------------------------------------
    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A state ``Variable`` reset by ``reset_state`` (``initializer``: 'zeros', 'ones' or a number)."""
        shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape or ())
        if initializer in ("zeros", None):
            value = torch.zeros(shape)
        elif initializer == "ones":
            value = torch.ones(shape)
        elif isinstance(initializer, (int, float)) and not isinstance(initializer, bool):
            value = torch.full(shape, float(initializer))
        else:
            raise ValueError(f"{type(self).__name__}.add_variable: argument `initializer` must be 'zeros', "
                             f"'ones' or a number, got {initializer!r}.")
        variable = Variable(value, dtype=dtype or self.dtype, name=name)
        self._variables.append(variable)
        return variable

    def add_weight(self, name=None, shape=(), initializer="zeros", dtype=None, aggregation="sum"):
        """Keras 2's spelling of ``add_variable``."""
        return self.add_variable(shape, initializer, dtype, aggregation, name)

    @property
    def variables(self):
        return list(self._variables)

    def reset_state(self):
        for variable in self._variables:
            variable.reset()

    def reset_states(self):
        """Keras 2's name for ``reset_state``."""
        self.reset_state()

    # -- the contract -------------------------------------------------------------------------
    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def __call__(self, *args, **kwargs):
        """Update with one batch, then return ``result()`` (the value over everything seen)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def tensors(y_true, y_pred, sample_weight=None):
    """Inputs as tensors: ``y_pred`` float, ``y_true`` on its device (float), ``sample_weight`` too."""
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, like=y_pred)
    if sample_weight is not None:
        sample_weight = as_tensor(sample_weight, like=y_pred)
    return y_true, y_pred, sample_weight


def weighted_sums(values, sample_weight):
    """``(sum(values * w), sum(w))`` after reducing ``values`` to one value per sample (mean over
    the other axes), with ``w`` = 1 per sample when no weights are given (Keras's ``Mean``)."""
    if values.dim() == 0:
        values = values.reshape(1)
    if sample_weight is None:
        if values.dim() > 1:
            values = values.reshape(values.shape[0], -1).mean(dim=1)
        return values.sum(), values.numel()
    sample_weight = sample_weight.to(values.dtype)
    if sample_weight.dim() < values.dim():
        values = values.reshape(*values.shape[:sample_weight.dim()], -1).mean(dim=-1)
    sample_weight = torch.broadcast_to(sample_weight, values.shape)
    return (values * sample_weight).sum(), sample_weight.sum()


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state(values, sample_weight=None)``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable(name="total")
        self.count = self.add_variable(name="count")

    def update_state(self, values, sample_weight=None):
        values = as_tensor(values)
        if sample_weight is not None:
            sample_weight = as_tensor(sample_weight, like=values)
        total, count = weighted_sums(values, sample_weight)
        self.total.assign_add(total)
        self.count.assign_add(count)

    def result(self):
        return _divide_no_nan(self.total.value, self.count.value)


class Sum(Metric):
    """The (weighted) sum of the values given to ``update_state(values, sample_weight=None)``."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable(name="total")

    def update_state(self, values, sample_weight=None):
        values = as_tensor(values)
        if sample_weight is not None:
            weights = as_tensor(sample_weight, like=values)
            values = values * weights.reshape(*weights.shape, *([1] * (values.dim() - weights.dim())))
        self.total.assign_add(values.sum())

    def result(self):
        return self.total.value.clone()


class MeanMetricWrapper(Mean):
    """The mean over samples of ``fn(y_true, y_pred, **kwargs)`` (one value per sample)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", "metric"), dtype)
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper: argument `fn` must be a function fn(y_true, y_pred), got {fn!r}.")
        _check_metric_signature(fn, kwargs, self.name)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, sample_weight = tensors(y_true, y_pred, sample_weight)
        y_true, y_pred = same_rank(y_true, y_pred)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if not torch.is_tensor(values):
            raise TypeError(f"Metric function {self.name!r} returned {type(values).__name__}, not a tensor; a "
                            f"metric function must look like `def metric(y_true, y_pred): return <tensor of "
                            f"shape (batch_size,)>`.")
        total, count = weighted_sums(values.detach().to(torch.float32), sample_weight)
        self.total.assign_add(total)
        self.count.assign_add(count)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "fn": self._fn, **self._fn_kwargs}


def _check_metric_signature(fn, kwargs, name) -> None:
    """Extra keyword arguments are passed to ``fn``: refuse those it cannot take (a misspelling would
    otherwise surface only at the first batch, or never for ``**kwargs`` functions)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature
        return
    try:
        signature.bind(None, None, **kwargs)
    except TypeError as err:
        raise TypeError(f"MeanMetricWrapper: metric function {name!r} has the signature {signature}, which cannot be "
                        f"called as fn(y_true, y_pred){' with ' + repr(kwargs) if kwargs else ''} ({err}). Valid "
                        f"extra arguments: {', '.join(list(signature.parameters)[2:]) or '(none)'}.") from None


class MetricFunctionWrapper(MeanMetricWrapper):
    """A user's ``fn(y_true, y_pred) -> per-sample values`` given to ``compile(metrics=[fn])``."""

    def __init__(self, fn, name=None, dtype=None):
        super().__init__(fn, name, dtype)


class _Builtin(MeanMetricWrapper):
    """A built-in mean metric: its function is fixed by the class, its config holds only settings."""

    fn = None
    settings: tuple = ()

    def __init__(self, name=None, dtype=None, **kwargs):
        super().__init__(type(self).fn, name, dtype, **kwargs)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}


def _divide_no_nan(a, b):
    b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
    return torch.where(b == 0, torch.zeros_like(a), a / torch.where(b == 0, torch.ones_like(b), b))
