"""``Variable``: a tensor with Keras's ``assign`` methods, for metric states and ``K.variable``.

Keras code updates state with ``v.assign_add(x)`` and reads it with ``K.get_value(v)``; a plain
torch tensor has neither. A ``Variable`` holds its tensor in ``.value`` and takes part in torch
operations (``torch.*`` functions and arithmetic) as that tensor. It follows the data: the first
``assign``/``assign_add`` with a tensor on another device moves it there.
"""

from __future__ import annotations

import numpy as np
import torch


def _tensor(value, like=None):
    if isinstance(value, Variable):
        value = value.value
    if torch.is_tensor(value):
        return value
    dtype = like.dtype if like is not None else None
    if dtype is None:
        array = np.asarray(value)
        dtype = torch.float32 if array.dtype.kind == "f" else None
        return torch.as_tensor(array, dtype=dtype)
    return torch.as_tensor(np.asarray(value), dtype=dtype)


class Variable:
    """A named, assignable tensor (non-trainable unless ``trainable=True``)."""

    def __init__(self, value, dtype=None, name=None, trainable=False):
        tensor = _tensor(value)
        if dtype is not None:
            from .config import standardize_dtype
            tensor = tensor.to(standardize_dtype(dtype))
        self.value = tensor.detach().clone()
        self.name = name or "variable"
        self.trainable = bool(trainable)
        self._initial = self.value.clone()

    # -- Keras's state updates -------------------------------------------------------------
    def _follow(self, other):
        if other.device != self.value.device:
            self.value = self.value.to(other.device)
        return other.to(self.value.dtype)

    def assign(self, value):
        value = self._follow(_tensor(value, self.value))
        if tuple(value.shape) != tuple(self.value.shape) and value.numel() != 1:
            raise ValueError(f"Variable {self.name!r}: cannot assign a value of shape {tuple(value.shape)} "
                             f"to a variable of shape {tuple(self.value.shape)}.")
        self.value = value.detach().expand_as(self.value).clone()
        return self

    def assign_add(self, value):
        self.value = self.value + self._follow(_tensor(value, self.value)).detach()
        return self

    def assign_sub(self, value):
        self.value = self.value - self._follow(_tensor(value, self.value)).detach()
        return self

    def reset(self):
        """Back to the value it was created with."""
        self.value = self._initial.to(self.value.device).clone()

    def numpy(self):
        return self.value.detach().cpu().numpy()

    # -- behaves as its tensor ------------------------------------------------------------
    @property
    def shape(self):
        return tuple(self.value.shape)

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def device(self):
        return self.value.device

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        unwrap = lambda a: a.value if isinstance(a, Variable) else (  # noqa: E731
            type(a)(unwrap(x) for x in a) if isinstance(a, (list, tuple)) else a)
        return func(*unwrap(args), **{k: unwrap(v) for k, v in (kwargs or {}).items()})

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array.astype(dtype) if dtype is not None else array

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __bool__(self):
        return bool(self.value)

    def __len__(self):
        return len(self.value)

    def __getitem__(self, index):
        return self.value[index]

    def __repr__(self):
        return f"<Variable {self.name!r} shape={self.shape} value={self.value.tolist()}>"

    def __neg__(self):
        return -self.value

    def __abs__(self):
        return abs(self.value)


def _binary(op):
    def forward(self, other):
        return op(self.value, other.value if isinstance(other, Variable) else other)

    def reflected(self, other):
        return op(other, self.value)
    return forward, reflected


for _name, _op in {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
                   "truediv": lambda a, b: a / b, "floordiv": lambda a, b: a // b, "pow": lambda a, b: a ** b,
                   "matmul": lambda a, b: a @ b, "mod": lambda a, b: a % b}.items():
    _fwd, _ref = _binary(_op)
    setattr(Variable, f"__{_name}__", _fwd)
    setattr(Variable, f"__r{_name}__", _ref)
for _name, _op in {"lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
                   "ge": lambda a, b: a >= b}.items():
    setattr(Variable, f"__{_name}__", _binary(_op)[0])


class BoundValue(float):
    """A number read from an object's attribute that remembers the object, so that
    ``K.set_value(model.optimizer.learning_rate, 0.01)`` writes the new value back to it (Keras 2
    scripts pass the attribute's value, which is a variable in Keras). Behaves as a float otherwise."""

    def __new__(cls, value, owner, attr):
        obj = super().__new__(cls, value)
        obj._owner, obj._attr = owner, attr
        return obj

    def assign(self, value):
        setattr(self._owner, self._attr, value)
        return getattr(self._owner, self._attr)

    def numpy(self):
        return float(self)
