"""The Keras 2 backend functions scripts call as ``K.*`` (``from keras import backend as K``).

Each takes tensors, ``Variable``s, numpy arrays or numbers, computes with torch (so gradients flow
through custom losses and metrics), and uses Keras 2's argument names (``axis``, ``keepdims``)
and conventions: ``K.binary_crossentropy`` is element-wise, ``K.categorical_crossentropy``
reduces over ``axis``, both with ``target`` first.
"""

from __future__ import annotations

import numpy as np
import torch

from .config import epsilon, standardize_dtype
from .device import get_device
from .variables import Variable


def _t(x) -> torch.Tensor:
    """A tensor from a tensor, ``Variable``, array or number (floats as float32)."""
    if isinstance(x, Variable):
        return x.value
    if torch.is_tensor(x):
        return x
    array = np.asarray(x)
    dtype = torch.float32 if array.dtype.kind == "f" else None
    return torch.as_tensor(array, dtype=dtype, device=get_device())


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _reduce(op, x, axis, keepdims):
    x = _t(x)
    if axis is None:
        out = op(x)
        return out.reshape([1] * x.dim()) if keepdims else out
    return op(x, dim=_axis(axis), keepdim=keepdims)


# -- reductions ------------------------------------------------------------------------------
def mean(x, axis=None, keepdims=False):
    x = _t(x)
    return _reduce(torch.mean, x if x.is_floating_point() else x.float(), axis, keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    return _reduce(torch.sum, x, axis, keepdims)


def prod(x, axis=None, keepdims=False):
    x = _t(x)
    if axis is None:
        return prod(x.reshape(-1), 0, False).reshape([1] * x.dim()) if keepdims else x.prod()
    out = x
    for a in sorted((_axis(axis) if isinstance(axis, (list, tuple)) else (axis,)), reverse=True):
        out = out.prod(dim=a, keepdim=keepdims)
    return out


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce(torch.amax, x, axis, keepdims) if axis is not None else _reduce(torch.max, x, None, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce(torch.amin, x, axis, keepdims) if axis is not None else _reduce(torch.min, x, None, keepdims)


def var(x, axis=None, keepdims=False):
    x = _t(x)
    return _reduce(lambda t, **kw: torch.var(t, correction=0, **kw), x, axis, keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis, keepdims))


def any(x, axis=None, keepdims=False):  # noqa: A001
    x = _t(x).bool()
    return x.any() if axis is None else x.any(dim=axis, keepdim=keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001
    x = _t(x).bool()
    return x.all() if axis is None else x.all(dim=axis, keepdim=keepdims)


def argmax(x, axis=-1):
    return torch.argmax(_t(x), dim=axis)


def argmin(x, axis=-1):
    return torch.argmin(_t(x), dim=axis)


def cumsum(x, axis=0):
    return torch.cumsum(_t(x), dim=axis)


# -- element-wise ----------------------------------------------------------------------------
def abs(x):  # noqa: A001
    return torch.abs(_t(x))


def square(x):
    return torch.square(_t(x))


def sqrt(x):
    """Square root of ``max(x, 0)``, as Keras 2's ``K.sqrt``."""
    return torch.sqrt(_t(x).clamp_min(0.0))


def exp(x):
    return torch.exp(_t(x))


def log(x):
    return torch.log(_t(x))


def pow(x, a):  # noqa: A001
    return torch.pow(_t(x), a)


def sign(x):
    return torch.sign(_t(x))


def round(x):  # noqa: A001
    return torch.round(_t(x))


def clip(x, min_value, max_value):
    """``x`` clipped to ``[min_value, max_value]`` (``max_value`` below ``min_value`` is raised to it)."""
    if max_value is not None and min_value is not None and max_value < min_value:
        max_value = min_value
    return torch.clamp(_t(x), min_value, max_value)


def maximum(x, y):
    x, y = _t(x), _t(y)
    return torch.maximum(x, y.to(x.dtype) if y.dtype != x.dtype else y)


def minimum(x, y):
    x, y = _t(x), _t(y)
    return torch.minimum(x, y.to(x.dtype) if y.dtype != x.dtype else y)


def equal(x, y):
    return torch.eq(_t(x), _t(y))


def not_equal(x, y):
    return torch.ne(_t(x), _t(y))


def greater(x, y):
    return torch.gt(_t(x), _t(y))


def greater_equal(x, y):
    return torch.ge(_t(x), _t(y))


def less(x, y):
    return torch.lt(_t(x), _t(y))


def less_equal(x, y):
    return torch.le(_t(x), _t(y))


def switch(condition, then_expression, else_expression):
    return torch.where(_t(condition).bool(), _t(then_expression), _t(else_expression))


# -- activations -----------------------------------------------------------------------------
def sigmoid(x):
    return torch.sigmoid(_t(x))


def hard_sigmoid(x):
    return (0.2 * _t(x) + 0.5).clamp(0.0, 1.0)


def softmax(x, axis=-1):
    return torch.softmax(_t(x), dim=axis)


def softplus(x):
    return torch.nn.functional.softplus(_t(x))


def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    x = _t(x)
    out = torch.where(x > threshold, x, alpha * (x - threshold))
    return out.clamp_max(max_value) if max_value is not None else out


def tanh(x):
    return torch.tanh(_t(x))


def l2_normalize(x, axis=None):
    x = _t(x)
    dims = _axis(axis) if axis is not None else tuple(range(x.dim()))
    return x * torch.rsqrt(x.square().sum(dim=dims, keepdim=True).clamp_min(1e-12))


# -- losses (Keras 2's backend forms: target first) ------------------------------------------
def binary_crossentropy(target, output, from_logits=False):
    """Element-wise binary cross-entropy (no mean), output clipped to ``[eps, 1 - eps]``."""
    target, output = _t(target), _t(output)
    target = target.to(output.dtype)
    if from_logits:
        return torch.nn.functional.binary_cross_entropy_with_logits(output, target, reduction="none")
    eps = epsilon()
    p = output.clamp(eps, 1.0 - eps)
    return -(target * p.log() + (1.0 - target) * (1.0 - p).log())


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum target log(output)`` over ``axis``; probabilities are renormalised and clipped."""
    target, output = _t(target), _t(output)
    if from_logits:
        return -(target * torch.log_softmax(output, dim=axis)).sum(dim=axis)
    eps = epsilon()
    p = (output / output.sum(dim=axis, keepdim=True)).clamp(eps, 1.0 - eps)
    return -(target * p.log()).sum(dim=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target, output = _t(target).long(), _t(output)
    onehot = torch.nn.functional.one_hot(target.reshape(output.shape[:-1] if axis in (-1, output.dim() - 1)
                                                         else target.shape), output.shape[axis])
    return categorical_crossentropy(onehot.to(output.dtype), output, from_logits, axis)


# -- shapes ----------------------------------------------------------------------------------
def int_shape(x):
    """The static shape as a tuple of ints (Keras puts ``None`` for the batch axis of symbolic tensors)."""
    if hasattr(x, "shape"):
        return tuple(int(d) if d is not None else None for d in x.shape)
    return tuple(np.shape(x))


def shape(x):
    return tuple(_t(x).shape)


def ndim(x):
    return len(int_shape(x))


def dtype(x):
    """The dtype as Keras's string (``'float32'``)."""
    d = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    return str(d).replace("torch.", "")


def reshape(x, shape):
    return torch.reshape(_t(x), tuple(shape))


def flatten(x):
    return torch.reshape(_t(x), (-1,))


def batch_flatten(x):
    x = _t(x)
    return x.reshape(x.shape[0], -1)


def expand_dims(x, axis=-1):
    return torch.unsqueeze(_t(x), axis)


def squeeze(x, axis):
    return torch.squeeze(_t(x), axis)


def transpose(x):
    x = _t(x)
    return x.permute(*reversed(range(x.dim())))


def permute_dimensions(x, pattern):
    return _t(x).permute(*pattern)


def concatenate(tensors, axis=-1):
    return torch.cat([_t(t) for t in tensors], dim=axis)


def stack(x, axis=0):
    return torch.stack([_t(t) for t in x], dim=axis)


def dot(x, y):
    """Matrix product; for N-D ``x`` and ``y`` contracts ``x``'s last axis with ``y``'s second-to-last."""
    x, y = _t(x), _t(y)
    if y.dim() > 2:
        return torch.tensordot(x, y.movedim(-2, 0), dims=1)
    return torch.matmul(x, y)


def gather(reference, indices):
    return _t(reference)[_t(indices).long()]


def one_hot(indices, num_classes):
    return torch.nn.functional.one_hot(_t(indices).long(), num_classes).float()


def cast(x, dtype):
    return _t(x).to(standardize_dtype(dtype))


# -- values, variables and constants ---------------------------------------------------------
def variable(value, dtype=None, name=None):
    """A ``Variable`` holding ``value`` (float32 unless ``dtype`` says otherwise)."""
    return Variable(_t(value), dtype=dtype, name=name)


def constant(value, dtype=None, shape=None, name=None):
    tensor = _t(value).to(standardize_dtype(dtype))
    return tensor.expand(tuple(shape)).clone() if shape is not None else tensor


def zeros(shape, dtype=None, name=None):
    return Variable(torch.zeros(tuple(shape) if not isinstance(shape, (int, np.integer)) else (int(shape),),
                                dtype=standardize_dtype(dtype), device=get_device()), name=name)


def ones(shape, dtype=None, name=None):
    return Variable(torch.ones(tuple(shape) if not isinstance(shape, (int, np.integer)) else (int(shape),),
                               dtype=standardize_dtype(dtype), device=get_device()), name=name)


def zeros_like(x, dtype=None, name=None):
    x = _t(x)
    return torch.zeros_like(x, dtype=standardize_dtype(dtype) if dtype else None)


def ones_like(x, dtype=None, name=None):
    x = _t(x)
    return torch.ones_like(x, dtype=standardize_dtype(dtype) if dtype else None)


def is_tensor(x):
    return torch.is_tensor(x) or isinstance(x, Variable)


def _numpy(x):
    if isinstance(x, Variable):
        return x.numpy()
    if torch.is_tensor(x):
        return x.detach().cpu().numpy()
    return x


def get_value(x):
    """The value of a tensor or ``Variable`` as numpy; numbers (an optimizer's learning rate)
    come back as they are."""
    if isinstance(x, Variable) or torch.is_tensor(x):
        return _numpy(x)
    if hasattr(x, "numpy"):
        return x.numpy()
    if isinstance(x, (int, float, np.number, np.ndarray)) and not isinstance(x, bool):
        return x
    raise TypeError(f"K.get_value: expected a tensor, a Variable or a number, got {type(x).__name__}.")


def batch_get_value(xs):
    return [get_value(x) for x in xs]


eval = get_value  # noqa: A001 - Keras 2's K.eval


def set_value(x, value):
    """Set ``x`` (a ``Variable``, a tensor, or a value bound to its owner such as an optimizer's
    ``learning_rate``) to ``value`` in place."""
    if isinstance(x, Variable):
        x.assign(value)
    elif hasattr(x, "assign"):  # bound values (e.g. an optimizer's learning rate) and Keras-like variables
        x.assign(value)
    elif torch.is_tensor(x):
        with torch.no_grad():
            x.copy_(_t(value).to(dtype=x.dtype, device=x.device).expand_as(x))
    else:
        raise TypeError(
            f"K.set_value: cannot change {x!r} ({type(x).__name__}) in place: a plain number has no owner "
            f"to write back to. Pass a Variable or tensor, or set the attribute itself, e.g. "
            f"`model.optimizer.learning_rate = {value!r}`.")


def batch_set_value(tuples):
    for x, value in tuples:
        set_value(x, value)


__all__ = [
           "abs", "all", "any", "argmax", "argmin", "batch_flatten", "batch_get_value", "batch_set_value",
           "binary_crossentropy", "cast", "categorical_crossentropy", "clip", "concatenate", "constant",
           "cumsum", "dot", "dtype", "equal", "eval", "exp", "expand_dims", "flatten", "gather", "get_value",
           "greater", "greater_equal", "hard_sigmoid", "int_shape", "is_tensor", "l2_normalize", "less",
           "less_equal", "log", "max", "maximum", "mean", "min", "minimum", "ndim", "not_equal", "one_hot",
           "ones", "ones_like", "permute_dimensions", "pow", "prod", "relu", "reshape", "round", "set_value",
           "shape", "sigmoid", "sign", "softmax", "softplus", "sparse_categorical_crossentropy", "sqrt",
           "square", "squeeze", "stack", "std", "sum", "switch", "tanh", "transpose", "var", "variable",
           "zeros", "zeros_like"]
