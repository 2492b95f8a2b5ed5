"""Weight initializers by Keras name, applied in place to torch tensors.

Weights are stored in Keras layouts (Dense kernel ``(in, out)``, convolution kernel
``(*spatial, in, out)``), so fans are computed as Keras computes them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def _truncated_normal(tensor, stddev):
    # Keras draws from a normal truncated at 2 stddev and rescales so the
    # result has the requested stddev (0.8796... is the truncated std of N(0,1)).
    std = stddev / 0.87962566103423978
    return nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std)


def _fans(tensor):
    """Keras's fans: ``(in, out)`` for a matrix; for a kernel ``(*spatial, in, out)`` each times the
    receptive field size."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        size = shape[0] if shape else 1
        return size, size
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(t):
    fan_in, fan_out = _fans(t)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return nn.init.uniform_(t, -limit, limit)


def glorot_normal(t):
    fan_in, fan_out = _fans(t)
    return _truncated_normal(t, math.sqrt(2.0 / (fan_in + fan_out)))


def he_uniform(t):
    limit = math.sqrt(6.0 / _fans(t)[0])
    return nn.init.uniform_(t, -limit, limit)


def he_normal(t):
    return _truncated_normal(t, math.sqrt(2.0 / _fans(t)[0]))


def lecun_uniform(t):
    limit = math.sqrt(3.0 / _fans(t)[0])
    return nn.init.uniform_(t, -limit, limit)


def lecun_normal(t):
    return _truncated_normal(t, math.sqrt(1.0 / _fans(t)[0]))


def random_normal(t):
    return nn.init.normal_(t, 0.0, 0.05)


def random_uniform(t):
    return nn.init.uniform_(t, -0.05, 0.05)


def zeros(t):
    return nn.init.zeros_(t)


def ones(t):
    return nn.init.ones_(t)


_REGISTRY = {
    f.__name__: f
    for f in (glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform,
              lecun_normal, random_normal, random_uniform, zeros, ones)
}


# -- Keras initializer classes ---------------------------------------------------------------------
def _number(value, arg, owner, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or (positive and value <= 0):
        kind = "a positive finite number" if positive else "a finite number"
        raise ValueError(f"{owner}: argument `{arg}` must be {kind}, got {value!r}.")
    return float(value)


def _seed(seed, owner):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"{owner}: argument `seed` must be None or a non-negative integer, got {seed!r}.")
    return None if seed is None else int(seed)


class Initializer:
    """Base class of the Keras initializer objects.

    ``init(shape, dtype=None)`` returns a new tensor (Keras's call form); ``init(tensor)`` fills a
    tensor in place (how layers use it: ``fills_in_place``). With a ``seed``, every call draws the
    same values, as Keras 3 documents; without one, values come from torch's global generator."""

    fills_in_place = True

    def __call__(self, shape_or_tensor, dtype=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword argument(s) {sorted(kwargs)}; "
                            f"call it as init(shape, dtype=None).")
        if torch.is_tensor(shape_or_tensor):
            with torch.no_grad():
                self.fill_(shape_or_tensor)
            return shape_or_tensor
        shape = (shape_or_tensor,) if isinstance(shape_or_tensor, (int, np.integer)) else tuple(shape_or_tensor)
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ValueError(f"{type(self).__name__}: `shape` must be a tuple of non-negative integers, got "
                             f"{shape_or_tensor!r}.")
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype, None)
        if dtype is not None and not isinstance(dtype, torch.dtype):
            raise ValueError(f"{type(self).__name__}: `dtype` must be a torch dtype or a name such as 'float32', got "
                             f"{dtype!r}.")
        tensor = torch.empty(tuple(int(d) for d in shape), dtype=dtype or torch.float32)
        with torch.no_grad():
            self.fill_(tensor)
        return tensor

    def fill_(self, tensor):
        raise NotImplementedError

    def _generator(self, tensor):
        seed = getattr(self, "seed", None)
        if seed is None:
            return None
        gen = torch.Generator(device=tensor.device)
        gen.manual_seed(seed)
        return gen

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = object.__hash__


class Zeros(Initializer):
    """All zeros."""

    def fill_(self, tensor):
        return tensor.zero_()


class Ones(Initializer):
    """All ones."""

    def fill_(self, tensor):
        return tensor.fill_(1)


class Constant(Initializer):
    """Every value equal to ``value``."""

    def __init__(self, value=0.0):
        self.value = _number(value, "value", "Constant")

    def fill_(self, tensor):
        return tensor.fill_(self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Normal distribution ``N(mean, stddev^2)``; Keras default stddev 0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _number(mean, "mean", type(self).__name__)
        self.stddev = _number(stddev, "stddev", type(self).__name__, positive=True)
        self.seed = _seed(seed, type(self).__name__)

    def fill_(self, tensor):
        return tensor.normal_(self.mean, self.stddev, generator=self._generator(tensor))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal ``N(mean, stddev^2)`` with values beyond two standard deviations redrawn (Keras: no rescaling)."""

    def fill_(self, tensor):
        return _trunc_normal_(tensor, self.mean, self.stddev, self._generator(tensor))


class RandomUniform(Initializer):
    """Uniform on ``[minval, maxval)``; Keras default ``[-0.05, 0.05)``."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = _number(minval, "minval", "RandomUniform")
        self.maxval = _number(maxval, "maxval", "RandomUniform")
        if self.maxval < self.minval:
            raise ValueError(f"RandomUniform: `maxval` ({maxval}) must be >= `minval` ({minval}).")
        self.seed = _seed(seed, "RandomUniform")

    def fill_(self, tensor):
        return tensor.uniform_(self.minval, self.maxval, generator=self._generator(tensor))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _trunc_normal_(tensor, mean, std, generator):
    """Normal values with those outside ``mean +- 2 std`` redrawn (by inverse-CDF sampling, exact)."""
    if tensor.numel() == 0:
        return tensor
    lo, hi = torch.special.ndtr(torch.tensor(-2.0, dtype=torch.float64)), \
        torch.special.ndtr(torch.tensor(2.0, dtype=torch.float64))
    u = torch.empty(tensor.shape, dtype=torch.float64, device=tensor.device).uniform_(
        float(lo), float(hi), generator=generator)
    values = torch.special.ndtri(u).clamp_(-2.0, 2.0).mul_(std).add_(mean)
    return tensor.copy_(values)


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform", "normal")


class VarianceScaling(Initializer):
    """Keras's ``VarianceScaling``: variance ``scale / n`` with ``n`` the fan in, out or their average
    (Keras's fans: a conv kernel ``(*spatial, in, out)`` counts the receptive field). ``truncated_normal``
    uses stddev ``sqrt(scale / n) / 0.8796...`` so the truncated values have the intended variance."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        owner = type(self).__name__
        self.scale = _number(scale, "scale", owner, positive=True)
        if mode not in _MODES:
            raise ValueError(f"{owner}: argument `mode` must be one of {_MODES}, got {mode!r}.")
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(f"{owner}: argument `distribution` must be one of {_DISTRIBUTIONS}, got "
                             f"{distribution!r}.")
        self.mode = mode
        self.distribution = "truncated_normal" if distribution == "normal" else distribution
        self.seed = _seed(seed, owner)
        self.input_axes = _axes_list(input_axes, "input_axes", owner)
        self.output_axes = _axes_list(output_axes, "output_axes", owner)

    def fill_(self, tensor):
        if self.input_axes is not None and self.output_axes is not None:  # Keras 3.15: fans along chosen axes
            fan_in = math.prod(tensor.shape[a] for a in self.input_axes)
            fan_out = math.prod(tensor.shape[a] for a in self.output_axes)
        else:
            fan_in, fan_out = _fans(tensor)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        gen = self._generator(tensor)
        if self.distribution == "truncated_normal":
            return _trunc_normal_(tensor, 0.0, math.sqrt(scale) / 0.87962566103423978, gen)
        if self.distribution == "untruncated_normal":
            return tensor.normal_(0.0, math.sqrt(scale), generator=gen)
        limit = math.sqrt(3.0 * scale)
        return tensor.uniform_(-limit, limit, generator=gen)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


def _axes_list(axes, arg, owner):
    if axes is None:
        return None
    if not isinstance(axes, (list, tuple)) or any(isinstance(a, bool) or not isinstance(a, (int, np.integer))
                                                  for a in axes):
        raise ValueError(f"{owner}: argument `{arg}` must be None or a list of integers, got {axes!r}.")
    return [int(a) for a in axes]


def _preset(name, scale, mode, distribution, doc):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform", "Uniform on +-sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal, stddev sqrt(2 / (fan_in + fan_out)).")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform", "Uniform on +-sqrt(6 / fan_in).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal", "Truncated normal, stddev sqrt(2 / fan_in).")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform", "Uniform on +-sqrt(3 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal", "Truncated normal, stddev sqrt(1 / fan_in).")
for _cls in (GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal):
    _cls.__module__ = __name__


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D weights only, as in Keras)."""

    def __init__(self, gain=1.0):
        self.gain = _number(gain, "gain", "Identity")

    def fill_(self, tensor):
        if tensor.dim() != 2:
            raise ValueError(f"Identity initializer: only 2-D weights are supported, got shape {tuple(tensor.shape)}.")
        return tensor.copy_(torch.eye(*tensor.shape, dtype=tensor.dtype, device=tensor.device) * self.gain)

    def get_config(self):
        return {"gain": self.gain}


class Orthogonal(Initializer):
    """An orthogonal matrix (QR of a normal matrix, signs fixed by ``diag(R)``) times ``gain``; a weight of
    more than two axes is seen as Keras sees it, ``(prod(shape[:-1]), shape[-1])``."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = _number(gain, "gain", "Orthogonal")
        self.seed = _seed(seed, "Orthogonal")

    def fill_(self, tensor):
        if tensor.dim() < 2:
            raise ValueError(f"Orthogonal initializer: the weight needs at least 2 axes, got shape "
                             f"{tuple(tensor.shape)}.")
        rows, cols = math.prod(tensor.shape[:-1]), tensor.shape[-1]
        a = torch.empty((max(rows, cols), min(rows, cols)), dtype=torch.float64, device=tensor.device)
        a.normal_(generator=self._generator(tensor))
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))
        if rows < cols:
            q = q.t()
        return tensor.copy_((self.gain * q).reshape(tensor.shape))

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


CLASSES = {cls.__name__: cls for cls in (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, GlorotUniform,
    GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Identity, Orthogonal)}
"""Keras initializer classes by class name (what Keras files name)."""

_SNAKE = {"zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
          "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
          "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
          "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal, "identity": Identity,
          "orthogonal": Orthogonal}
_FUNCTION_CLASS = {_REGISTRY[name]: cls for name, cls in _SNAKE.items() if name in _REGISTRY}
# Keras 2 lowercase class aliases (keras.initializers.zeros(), .normal(), .uniform(), ...)
zero, one = Zeros, Ones
normal, uniform = RandomNormal, RandomUniform


def _valid_names():
    return sorted(set(_SNAKE) | set(CLASSES))


def get(identifier):
    """A callable initializer from a name (``'he_normal'``, ``'HeNormal'``), an ``Initializer`` object,
    a Keras-serialized dict ``{"class_name": "GlorotUniform", "config": {...}}``, or any callable.

    Names of the classic initializers give kerastyle's in-place functions; other names give
    default-configured ``Initializer`` objects."""
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    if isinstance(identifier, str):
        key = identifier if identifier in CLASSES else identifier.lower()
        if key in _REGISTRY:
            return _REGISTRY[key]
        if key in _SNAKE:
            return _SNAKE[key]()
        if key in CLASSES:
            cls = CLASSES[key]
            function = next((f for f, c in _FUNCTION_CLASS.items() if c is cls), None)
            return function or cls()
    raise ValueError(f"Unknown initializer {identifier!r}. Valid names: {', '.join(_valid_names())}; an "
                     f"Initializer object, a {{'class_name', 'config'}} dict or a callable fn(shape, dtype) are "
                     f"accepted too.")


def deserialize(config, custom_objects=None):
    """An ``Initializer`` from Keras's ``{"class_name": ..., "config": {...}}`` (Keras 2 and 3 files)."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"An initializer entry must be a dict with 'class_name' and 'config', got {config!r}.")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or CLASSES.get(name) or _SNAKE.get(name)
    if cls is None:
        raise ValueError(f"Unknown initializer class {name!r}. Valid classes: {', '.join(sorted(CLASSES))}.")
    args = dict(config.get("config") or {})
    try:
        return cls.from_config(args) if hasattr(cls, "from_config") else cls(**args)
    except TypeError as err:
        raise ValueError(f"Cannot rebuild initializer {name} from config {args}: {err}") from None


def serialize(initializer) -> dict:
    """Keras's serialized form ``{"module", "class_name", "config", "registered_name"}`` of an initializer
    (a name, an in-place function or an ``Initializer``)."""
    if isinstance(initializer, str):
        initializer = get(initializer)
    if initializer in _FUNCTION_CLASS:
        initializer = _FUNCTION_CLASS[initializer]()
    if not isinstance(initializer, Initializer):
        raise ValueError(f"Initializer {initializer!r} cannot be serialized: only kerastyle's initializers "
                         f"(names, functions and Initializer objects) can.")
    return {"module": "keras.initializers", "class_name": type(initializer).__name__,
            "config": initializer.get_config(), "registered_name": None}


def name_of(fn):
    """How a layer config names an initializer: the Keras name for a function or a default-configured
    object (``'glorot_uniform'``), the serialized dict for an object with settings, else the
    function's name."""
    if isinstance(fn, Initializer):
        cls = type(fn)
        snake = next((k for k, c in _SNAKE.items() if c is cls), None)
        try:
            default = cls()
        except TypeError:
            default = None
        if snake is not None and default == fn:
            return snake
        return serialize(fn)
    return getattr(fn, "__name__", repr(fn))


@torch.no_grad()
def fill(identifier, tensor):
    """Fill ``tensor`` in place from ``identifier``: a kerastyle initializer (name or function, filling in
    place) or a Keras-style callable ``fn(shape, dtype=None)`` returning the values."""
    fn = get(identifier)
    if fn in _REGISTRY.values() or getattr(fn, "fills_in_place", False):
        fn(tensor)
        return tensor
    value = fn(tuple(tensor.shape), dtype=tensor.dtype)
    value = torch.as_tensor(value.detach() if torch.is_tensor(value) else value)
    if tuple(value.shape) != tuple(tensor.shape):
        raise ValueError(f"Initializer {name_of(fn)!r} returned shape {tuple(value.shape)} for a weight of shape "
                         f"{tuple(tensor.shape)}; an initializer is called as fn(shape, dtype=None).")
    tensor.copy_(value)
    return tensor
