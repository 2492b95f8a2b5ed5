"""The ``Loss`` base class, the Keras reductions and the wrapper for user loss functions.

A loss works on probabilities exactly as Keras does (renormalise, clip to
``[EPSILON, 1 - EPSILON]``). When the model ends in the activation a loss can
absorb (softmax for categorical losses, sigmoid for binary ones), ``fit`` and
``evaluate`` hand the loss the pre-activation logits and call
``call_from_logits``: same value wherever Keras's clipping is inactive, no
overflow, and the exact ``p - y`` gradient.

A loss also knows what its targets look like (``kind``) and checks them once
per ``fit`` in ``prepare_targets``, so label encodings that do not match the
loss fail with a clear message instead of producing wrong numbers.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import torch

EPSILON = 1e-7  # keras.backend.epsilon()

REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)


def _clip(p):
    return p.clamp(EPSILON, 1.0 - EPSILON)


def refuse_unknown_kwargs(init):
    """Wrap ``__init__`` so an unknown keyword argument raises a TypeError naming it and listing
    the valid ones (Python's own message lists none)."""
    params = inspect.signature(init).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return init
    valid = [n for n, p in params.items() if n != "self" and p.kind is not p.VAR_POSITIONAL]

    @functools.wraps(init)
    def checked(self, *args, **kwargs):
        unknown = [k for k in kwargs if k not in params]
        if unknown:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword argument(s) "
                            f"{', '.join(map(repr, unknown))}. Valid arguments: {', '.join(valid)}.")
        init(self, *args, **kwargs)
    return checked


def as_tensor(value, like=None, dtype=None):
    """``value`` (array, list, number or tensor) as a tensor on ``like``'s device: of ``dtype``, else
    ``like``'s float type, else its own float type (integers become float32)."""
    device = like.device if like is not None else None
    if dtype is None:
        if like is not None:
            dtype = like.dtype if like.is_floating_point() else torch.float32
        else:  # a float tensor or array keeps its precision (float64 stays float64, as in Keras)
            given = value.dtype if torch.is_tensor(value) else getattr(np.asarray(value), "dtype", None)
            floating = given.is_floating_point if torch.is_tensor(value) else (
                given is not None and np.issubdtype(given, np.floating))
            dtype = (given if torch.is_tensor(value) else torch.from_numpy(np.zeros(0, given)).dtype) \
                if floating else torch.float32
    if torch.is_tensor(value):
        return value.to(device=device or value.device, dtype=dtype)
    return torch.as_tensor(np.asarray(value), dtype=dtype, device=device)


def same_rank(y_true, y_pred):
    """Keras's ``squeeze_or_expand_to_same_rank``: ranks differing by one meet where the extra
    axis has size 1 (``(n,)`` targets against an ``(n, 1)`` output, and the reverse)."""
    if y_true.dim() == y_pred.dim() + 1 and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1) if y_pred.dim() != 1 else y_true
        y_pred = y_pred.unsqueeze(-1) if y_pred.dim() == 1 else y_pred
    elif y_pred.dim() == y_true.dim() + 1 and y_pred.shape[-1] == 1:
        y_true = y_true.unsqueeze(-1) if y_true.dim() == 1 else y_true
        y_pred = y_pred if y_true.dim() == y_pred.dim() else y_pred.squeeze(-1)
    return y_true, y_pred


def functional(fn, name=None):
    """Make a per-sample loss function accept arrays, lists and tensors (as Keras's functions do):
    ``y_pred`` becomes a float tensor, ``y_true`` a tensor of its dtype on its device, same rank."""
    @functools.wraps(fn)
    def wrapper(y_true, y_pred, *args, **kwargs):
        y_pred = as_tensor(y_pred)
        y_true = as_tensor(y_true, like=y_pred)
        y_true, y_pred = same_rank(y_true, y_pred)
        return fn(y_true, y_pred, *args, **kwargs)
    wrapper.raw = fn
    if name:
        wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


class Loss:
    """Base class. Subclasses implement ``call`` (probabilities) and, when they can
    absorb an output activation, ``call_from_logits``.

    ``kind`` says what targets look like: ``'regression'``, ``'binary'``,
    ``'categorical'`` (one-hot or soft rows) or ``'sparse'`` (integer labels).
    ``logits_activation`` names the output activation whose input this loss can
    take instead of its output (``'softmax'``, ``'sigmoid'`` or None).
    """

    kind = "regression"
    logits_activation: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = refuse_unknown_kwargs(cls.__init__)

    @refuse_unknown_kwargs  # the base too: Loss(...)/Metric(...) and super().__init__(...) calls
    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Argument `name` must be a string, got {name!r}.")
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"Argument `reduction` must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduction!r}."
            )
        self.from_logits = bool(from_logits)
        self.reduction = reduction
        self.name = name or _default_name(type(self).__name__)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def call_from_logits(self, y_true, logits):
        raise NotImplementedError(f"{type(self).__name__} has no logits form.")

    def gradient(self, y_true, out, logits=False, sample_weight=None):
        """``(loss, dloss/dout)`` of ``reduce(per_sample(y_true, out, logits), sample_weight)``,
        derived by hand (no autograd); used by the analytic engine.

        ``out`` holds logits when ``logits`` is True. Losses without an analytic
        form raise NotImplementedError, and ``fit(engine='auto')`` then uses autograd.
        """
        raise NotImplementedError(f"{type(self).__name__} has no analytic gradient.")

    def per_sample(self, y_true, y_pred, logits=False):
        """Per-sample losses ``(N,)``; ``logits=True`` when ``y_pred`` is pre-activation."""
        if logits or self.from_logits:
            return self.call_from_logits(y_true, y_pred)
        return self.call(y_true, y_pred)

    def reduce(self, values, sample_weight=None):
        """Keras reductions; the default divides by the batch size, not by sum(weights)."""
        if sample_weight is not None:
            weighted = values * sample_weight
        else:
            weighted = values
        if self.reduction in ("sum_over_batch_size", "mean"):
            return weighted.mean()
        if self.reduction == "sum":
            return weighted.sum()
        if self.reduction == "mean_with_sample_weight":
            total = sample_weight.sum() if sample_weight is not None else values.new_tensor(values.numel())
            return weighted.sum() / total.clamp_min(1e-12)
        return weighted

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Reduced loss for arrays, lists or tensors, as ``keras.losses.X()(y_true, y_pred)``."""
        y_pred = as_tensor(y_pred)
        y_true = as_tensor(y_true, like=y_pred)
        if self.kind != "sparse":
            y_true, y_pred = same_rank(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = as_tensor(sample_weight, like=y_pred).reshape(-1)
        return self.reduce(self.per_sample(y_true, y_pred), sample_weight)

    # -- target checks (once per fit, never per batch) -----------------------
    def prepare_targets(self, y: torch.Tensor, output_shape: tuple, arg: str = "y") -> torch.Tensor:
        """Check ``y`` (a float tensor) against the model output and return it in the
        form the loss computes with. Raises ValueError naming the problem."""
        units = output_shape[-1]
        if self.kind == "sparse":
            return _sparse_targets(self, y, units, arg)
        if y.dim() == len(output_shape) - 1 and units == 1:
            y = y.unsqueeze(-1)
        if self.kind == "categorical" and units > 1 and (y.dim() == 1 or y.shape[-1] == 1):
            raise ValueError(
                f"Argument `{arg}` holds integer class labels (shape {tuple(y.shape)}), but loss "
                f"{self.name!r} expects one-hot rows of width {units}. Use "
                f"kerastyle.utils.to_categorical({arg}, {units}) or the loss "
                f"'sparse_categorical_crossentropy'."
            )
        if tuple(y.shape[1:]) != tuple(output_shape[1:]):
            raise ValueError(
                f"Argument `{arg}` has shape {tuple(y.shape)}, but the model outputs "
                f"{tuple(output_shape)}; loss {self.name!r} needs targets of shape (n, "
                f"{', '.join(str(d) for d in output_shape[1:])})."
            )
        if self.kind == "binary":
            low, high = torch.stack(torch.aminmax(y)).tolist()  # one pass, one host sync
            if low < 0 or high > 1:
                raise ValueError(
                    f"Argument `{arg}` has values in [{low:g}, {high:g}], but loss {self.name!r} "
                    f"expects targets in [0, 1]. For more than two classes use a softmax output "
                    f"with 'sparse_categorical_crossentropy'."
                )
        if self.kind == "categorical":
            if float(y.min()) < 0:
                raise ValueError(
                    f"Argument `{arg}` has negative values, but loss {self.name!r} expects one-hot "
                    f"(or probability) rows."
                )
        return y

    def adapt(self, y: torch.Tensor) -> None:
        """Called once per ``fit`` with the prepared training targets (not validation ones); losses
        whose parameters come from the training labels (``alpha='balanced'``) set them here."""

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, "from_logits": self.from_logits}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "from_logits" not in inspect.signature(cls.__init__).parameters and not config.get("from_logits", True):
            del config["from_logits"]  # files written when every loss stored from_logits=False
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _sparse_targets(loss, y, units, arg):
    if y.dim() == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dim() != 1:
        hint = (f" It looks one-hot encoded: use loss 'categorical_crossentropy', or pass "
                f"{arg}.argmax(axis=1).") if y.dim() == 2 and y.shape[1] == units else ""
        raise ValueError(
            f"Argument `{arg}` has shape {tuple(y.shape)}, but loss {loss.name!r} expects integer "
            f"class labels of shape (n,).{hint}"
        )
    # Integer tensors (streamed batches keep their label dtype) hold whole numbers already.
    if y.is_floating_point() and not torch.equal(y, y.round()):
        raise ValueError(f"Argument `{arg}` must hold integer class labels for loss {loss.name!r}; "
                         f"found non-integer values such as {float(y[y != y.round()][0]):g}.")
    low, high = (int(v) for v in torch.stack(torch.aminmax(y)).tolist())  # one pass, one host sync
    if low < 0 or high >= units:
        raise ValueError(
            f"Argument `{arg}` has labels in [{low}, {high}], but the model has {units} output "
            f"units, so labels must be in [0, {units - 1}]."
        )
    return y.long()


def _default_name(class_name: str) -> str:
    import re  # noqa: PLC0415
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower().replace("crossentropy", "crossentropy")


# -- analytic gradients (used by kerastyle.backprop) -----------------------------------
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")  # all = mean without weights


def _reduce_for_gradient(loss, values, sample_weight):
    """``(reduce(values, w), c)`` with ``c = d reduce / d values``: a float when every sample
    weighs the same (no per-batch tensor work), else a tensor shaped like ``values``.
    Reduction ``'none'`` gives the per-sample losses and ``c`` for their (weighted) sum."""
    reduction = loss.reduction
    if sample_weight is None:
        if reduction in _MEAN_REDUCTIONS:
            return values.mean(), 1.0 / values.numel()
        return (values.sum() if reduction == "sum" else values), 1.0
    weights = sample_weight.to(values.dtype)
    weighted = values * weights
    if reduction in ("sum_over_batch_size", "mean"):
        return weighted.mean(), weights / weighted.numel()
    if reduction == "sum":
        return weighted.sum(), weights
    if reduction == "mean_with_sample_weight":
        total = weights.sum().clamp_min(1e-12)
        return weighted.sum() / total, weights / total
    return weighted, weights


def _scale(grad, coef, factor=1.0):
    """``grad`` (one row per sample, modified in place) times ``coef * factor``."""
    if isinstance(coef, float):
        return grad.mul_(coef * factor) if coef * factor != 1.0 else grad
    return grad.mul_((coef * factor).unsqueeze(-1))



def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)



def _reduced_gradient(loss, values, grads, sample_weight):
    """``(reduce(values, w), d reduce / d out)`` given per-sample values ``(N,)`` and their
    gradients ``grads`` (``N`` rows); ``'none'`` returns the gradient of the weighted sum."""
    scale = torch.ones_like(values) if sample_weight is None else sample_weight.to(values.dtype)
    if loss.reduction in ("sum_over_batch_size", "mean"):
        scale = scale / values.numel()
    elif loss.reduction == "mean_with_sample_weight":
        total = sample_weight.sum() if sample_weight is not None else values.new_tensor(values.numel())
        scale = scale / total.clamp_min(1e-12)
    return loss.reduce(values, sample_weight), grads * scale.reshape(-1, *([1] * (grads.dim() - 1)))



class LossFunctionWrapper(Loss):
    """A user function ``fn(y_true, y_pred, **kwargs) -> per-sample tensor`` as a Loss.

    ``y_true`` reaches the function as the user gave it to ``fit`` (a float tensor on the device;
    integer labels stay labels, any shape), brought to ``y_pred``'s rank only where they differ by
    a size-1 axis, as in Keras. Mistakes that would otherwise surface as torch internals (a Python
    float or numpy array returned, the wrong number of arguments, values that do not line up with
    the samples or ``sample_weight``) are reported at compile time or on the first batch.
    """

    kind = "custom"

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: argument `fn` must be callable, got {fn!r}.")
        super().__init__(False, reduction, name or getattr(fn, "__name__", "custom_loss"))
        self.fn = fn
        self.fn_kwargs = kwargs
        _check_loss_signature(fn, kwargs, self.name)

    def prepare_targets(self, y, output_shape, arg="y"):
        """Targets stay as given (no reshaping, no one-hot): only a tensor on the device."""
        return y if torch.is_tensor(y) else as_tensor(y)

    def call(self, y_true, y_pred):
        y_true, y_pred = same_rank(y_true, y_pred)
        try:
            values = self.fn(y_true, y_pred, **self.fn_kwargs)
        except (TypeError, RuntimeError) as err:
            if "numpy" not in str(err).lower():
                raise
            raise TypeError(f"Loss function {self.name!r} failed on torch tensors ({err}). {_LOSS_SHAPE} "
                            f"Use torch operations or kerastyle.ops (or kerastyle.backend as K), not numpy: "
                            f"numpy cannot see the gradient.") from err
        return _check_loss_values(values, y_pred, self.name)

    def reduce(self, values, sample_weight=None):
        if sample_weight is not None:
            if values.numel() == 1 and sample_weight.numel() != 1:
                raise ValueError(f"Loss function {self.name!r} returned a single value, but `sample_weight` "
                                 f"weighs {sample_weight.numel()} samples. {_LOSS_SHAPE}")
            if values.shape[0] != sample_weight.shape[0]:
                raise ValueError(f"Loss function {self.name!r} returned values of shape {tuple(values.shape)}, "
                                 f"which do not line up with `sample_weight` of shape "
                                 f"{tuple(sample_weight.shape)}. {_LOSS_SHAPE}")
            if values.dim() > 1:  # Keras fails here with a broadcasting error
                raise ValueError(f"Loss function {self.name!r} returned per-element values of shape "
                                 f"{tuple(values.shape)}; with `sample_weight` it must return one value per "
                                 f"sample (reduce the other axes, e.g. `.mean(dim=-1)`). {_LOSS_SHAPE}")
        return super().reduce(values, sample_weight)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "fn": self.fn, **self.fn_kwargs}


_LOSS_SHAPE = ("A loss function must look like `def loss(y_true, y_pred): return <tensor of shape "
               "(batch_size,)>`, one value per sample, computed with torch operations.")


def _check_loss_signature(fn, kwargs, name):
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: checked on the first batch
        return
    try:
        signature.bind(None, None, **kwargs)
    except TypeError as err:
        raise TypeError(f"Loss function {name!r} has the signature {name}{signature}, which cannot be "
                        f"called as fn(y_true, y_pred){' with ' + repr(kwargs) if kwargs else ''} ({err}). "
                        f"{_LOSS_SHAPE}") from None


def _check_loss_values(values, y_pred, name):
    if not torch.is_tensor(values):
        what = ("a numpy array" if isinstance(values, (np.ndarray, np.generic)) else
                f"a Python {type(values).__name__} ({values!r})")
        raise TypeError(f"Loss function {name!r} returned {what}, not a torch tensor, so no gradient can "
                        f"flow through it. {_LOSS_SHAPE}")
    if not values.is_floating_point():
        raise TypeError(f"Loss function {name!r} returned a tensor of dtype {values.dtype}; a loss must be "
                        f"a float tensor. {_LOSS_SHAPE}")
    if values.dim() == 0:
        return values.reshape(1)
    if y_pred.dim() and values.shape[0] != y_pred.shape[0]:
        raise ValueError(f"Loss function {name!r} returned values of shape {tuple(values.shape)} for a batch "
                         f"of {y_pred.shape[0]} samples. {_LOSS_SHAPE}")
    return values
