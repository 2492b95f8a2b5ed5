"""The subset of ``keras.ops`` that custom losses and metrics use, on torch tensors.

Keras's argument names (``axis``, ``keepdims``) and semantics; inputs may be tensors, numpy
arrays, lists or numbers, and results are torch tensors, so gradients flow through a custom loss.
A name not provided here raises AttributeError naming the torch function to use instead.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .backend.config import standardize_dtype
from .backend.device import get_device
from .backend.variables import Variable


def convert_to_tensor(x, dtype=None):
    """A tensor from a tensor, array, list or number (floats as float32, as Keras's floatx)."""
    if isinstance(x, Variable):
        x = x.value
    if torch.is_tensor(x):
        return x if dtype is None else x.to(standardize_dtype(dtype))
    array = np.asarray(x)
    if dtype is None and array.dtype.kind == "f":
        dtype = "float32"
    return torch.as_tensor(array, dtype=None if dtype is None else standardize_dtype(dtype), device=get_device())


def convert_to_numpy(x):
    x = convert_to_tensor(x)
    return x.detach().cpu().numpy()


_t = convert_to_tensor


def _dims(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _reduce(fn, x, axis, keepdims):
    x = _t(x)
    if axis is None:
        out = fn(x)
        return out.reshape([1] * x.dim()) if keepdims else out
    return fn(x, dim=_dims(axis), keepdim=keepdims)


# -- reductions -------------------------------------------------------------------------
def mean(x, axis=None, keepdims=False):
    x = _t(x)
    return _reduce(torch.mean, x if x.is_floating_point() else x.float(), axis, keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    return _reduce(torch.sum, x, axis, keepdims)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    return _reduce(torch.amax, x, axis, keepdims)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    return _reduce(torch.amin, x, axis, keepdims)


def prod(x, axis=None, keepdims=False):
    x = _t(x)
    if axis is None:
        out = x.prod()
        return out.reshape([1] * x.dim()) if keepdims else out
    return x.prod(dim=axis, keepdim=keepdims)


def var(x, axis=None, keepdims=False):
    return _reduce(lambda t, **kw: torch.var(t, correction=0, **kw), _t(x).float(), axis, keepdims)


def std(x, axis=None, keepdims=False):
    return torch.sqrt(var(x, axis, keepdims))


def argmax(x, axis=None, keepdims=False):
    x = _t(x)
    return torch.argmax(x.reshape(-1) if axis is None else x, dim=0 if axis is None else axis,
                        keepdim=keepdims and axis is not None)


def argmin(x, axis=None, keepdims=False):
    x = _t(x)
    return torch.argmin(x.reshape(-1) if axis is None else x, dim=0 if axis is None else axis,
                        keepdim=keepdims and axis is not None)


def any(x, axis=None, keepdims=False):  # noqa: A001
    x = _t(x).bool()
    return x.any() if axis is None else x.any(dim=axis, keepdim=keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001
    x = _t(x).bool()
    return x.all() if axis is None else x.all(dim=axis, keepdim=keepdims)


def cumsum(x, axis=None):
    x = _t(x)
    return torch.cumsum(x.reshape(-1) if axis is None else x, dim=0 if axis is None else axis)


def logsumexp(x, axis=None, keepdims=False):
    x = _t(x)
    return torch.logsumexp(x, dim=tuple(range(x.dim())) if axis is None else _dims(axis), keepdim=keepdims)


# -- element-wise -----------------------------------------------------------------------
def _unary(fn, doc):
    def op(x):
        return fn(_t(x))
    op.__doc__ = doc
    return op


abs = absolute = _unary(torch.abs, "Absolute value.")  # noqa: A001
square = _unary(torch.square, "Element-wise square.")
sqrt = _unary(torch.sqrt, "Element-wise square root.")
exp = _unary(torch.exp, "Element-wise exponential.")
log = _unary(torch.log, "Natural logarithm.")
log1p = _unary(torch.log1p, "log(1 + x).")
expm1 = _unary(torch.expm1, "exp(x) - 1.")
sign = _unary(torch.sign, "Sign (-1, 0, 1).")
floor = _unary(torch.floor, "Floor.")
ceil = _unary(torch.ceil, "Ceiling.")
negative = _unary(torch.neg, "-x.")
tanh = _unary(torch.tanh, "Hyperbolic tangent.")
sigmoid = _unary(torch.sigmoid, "Logistic sigmoid.")
relu = _unary(torch.relu, "max(x, 0).")
softplus = _unary(F.softplus, "log(1 + exp(x)).")
isnan = _unary(torch.isnan, "True where NaN.")
isfinite = _unary(torch.isfinite, "True where finite.")
logical_not = _unary(torch.logical_not, "Logical not.")


def round(x, decimals=0):  # noqa: A001
    return torch.round(_t(x), decimals=decimals)


def _pair(x, y):
    x, y = _t(x), _t(y)
    if x.dtype != y.dtype:
        common = torch.promote_types(x.dtype, y.dtype)
        x, y = x.to(common), y.to(common)
    return x, y.to(x.device)


def _binary(fn, doc):
    def op(x1, x2):
        return fn(*_pair(x1, x2))
    op.__doc__ = doc
    return op


add = _binary(torch.add, "x1 + x2.")
subtract = _binary(torch.sub, "x1 - x2.")
multiply = _binary(torch.mul, "x1 * x2.")
divide = true_divide = _binary(torch.true_divide, "x1 / x2.")
power = _binary(torch.pow, "x1 ** x2.")
maximum = _binary(torch.maximum, "Element-wise maximum.")
minimum = _binary(torch.minimum, "Element-wise minimum.")
equal = _binary(torch.eq, "x1 == x2.")
not_equal = _binary(torch.ne, "x1 != x2.")
greater = _binary(torch.gt, "x1 > x2.")
greater_equal = _binary(torch.ge, "x1 >= x2.")
less = _binary(torch.lt, "x1 < x2.")
less_equal = _binary(torch.le, "x1 <= x2.")
logical_and = _binary(torch.logical_and, "Logical and.")
logical_or = _binary(torch.logical_or, "Logical or.")


def divide_no_nan(x1, x2):
    x1, x2 = _pair(x1, x2)
    return torch.where(x2 == 0, torch.zeros_like(x1), x1 / torch.where(x2 == 0, torch.ones_like(x2), x2))


def clip(x, x_min, x_max):
    return torch.clamp(_t(x), x_min, x_max)


def where(condition, x1=None, x2=None):
    condition = _t(condition).bool()
    if x1 is None and x2 is None:
        return torch.nonzero(condition, as_tuple=True)
    x1, x2 = _pair(x1, x2)
    return torch.where(condition, x1, x2)


def cast(x, dtype):
    return _t(x).to(standardize_dtype(dtype))


# -- activations and shapes -------------------------------------------------------------
def softmax(x, axis=-1):
    return torch.softmax(_t(x), dim=axis)


def log_softmax(x, axis=-1):
    return torch.log_softmax(_t(x), dim=axis)


def one_hot(x, num_classes, axis=-1, dtype=None):
    out = F.one_hot(_t(x).long(), num_classes).to(standardize_dtype(dtype))
    return out if axis == -1 else out.movedim(-1, axis)


def reshape(x, newshape):
    return torch.reshape(_t(x), (int(newshape),) if isinstance(newshape, (int, np.integer)) else tuple(newshape))


def expand_dims(x, axis):
    return torch.unsqueeze(_t(x), axis)


def squeeze(x, axis=None):
    x = _t(x)
    return torch.squeeze(x) if axis is None else torch.squeeze(x, axis)


def transpose(x, axes=None):
    x = _t(x)
    return x.permute(*(reversed(range(x.dim())) if axes is None else axes))


def concatenate(xs, axis=0):
    return torch.cat([_t(x) for x in xs], dim=axis)


def stack(x, axis=0):
    return torch.stack([_t(v) for v in x], dim=axis)


def matmul(x1, x2):
    return torch.matmul(*_pair(x1, x2))


def dot(x1, x2):
    x1, x2 = _pair(x1, x2)
    return torch.tensordot(x1, x2, dims=([-1], [-2 if x2.dim() > 1 else 0]))


def shape(x):
    return tuple(_t(x).shape)


def ndim(x):
    return _t(x).dim()


def size(x):
    return _t(x).numel()


def zeros(shape, dtype=None):
    return torch.zeros(shape, dtype=standardize_dtype(dtype), device=get_device())


def ones(shape, dtype=None):
    return torch.ones(shape, dtype=standardize_dtype(dtype), device=get_device())


def zeros_like(x, dtype=None):
    return torch.zeros_like(_t(x), dtype=standardize_dtype(dtype) if dtype else None)


def ones_like(x, dtype=None):
    return torch.ones_like(_t(x), dtype=standardize_dtype(dtype) if dtype else None)


def arange(start, stop=None, step=1, dtype=None):
    if stop is None:
        start, stop = 0, start
    return torch.arange(start, stop, step, dtype=standardize_dtype(dtype) if dtype else None, device=get_device())


def take_along_axis(x, indices, axis=None):
    x, indices = _t(x), _t(indices).long()
    if axis is None:
        return x.reshape(-1).gather(0, indices.reshape(-1))
    return torch.take_along_dim(x, indices, dim=axis)


def top_k(x, k, sorted=True):  # noqa: A002
    values, indices = torch.topk(_t(x), k, dim=-1, sorted=sorted)
    return values, indices


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    return torch.linalg.norm(_t(x), ord=ord, dim=_dims(axis), keepdim=keepdims)


def stop_gradient(x):
    return _t(x).detach()


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    hint = ""
    for where, owner in (("torch", torch), ("torch.nn.functional", F), ("torch.linalg", torch.linalg)):
        if hasattr(owner, name):
            hint = f" Use {where}.{name} on the tensors instead (custom losses and metrics may use any torch op)."
            break
    raise AttributeError(f"kerastyle.ops has no {name!r}; it provides the keras.ops functions custom losses and "
                         f"metrics commonly use (see docs/metrics.md).{hint}")
