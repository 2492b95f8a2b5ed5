"""Activation functions by Keras name, as functions, as ``torch.nn`` modules, and with their
hand-derived derivatives for the analytic engine.

``get(identifier)`` turns a name, a kerastyle function or any callable into an
``nn.Module``; layers store that module, so ``to_torch()`` gives plain PyTorch.
``analytic_op(module)`` gives the activation's forward and backward pass side by side
(micrograd style): ``Y = f(Z)`` forward, ``dL/dZ = dL/dY * f'(Z)`` backward.
"""

from __future__ import annotations

import torch
from torch import nn

LEAKY_RELU_SLOPE = 0.2  # Keras 3's default negative_slope (Keras 2's layer used 0.3)


def linear(x):
    """Identity."""
    return x


def relu(x):
    """max(0, x)."""
    return torch.relu(x)


def leaky_relu(x, negative_slope=LEAKY_RELU_SLOPE):
    """x for x >= 0, negative_slope * x otherwise."""
    return nn.functional.leaky_relu(x, negative_slope)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return torch.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return torch.tanh(x)


def softmax(x, axis=-1):
    """exp(x_i) / sum_j exp(x_j) along ``axis``."""
    return torch.softmax(x, dim=axis)


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: max(0, min(1, x / 6 + 1 / 2))."""
    return nn.functional.hardsigmoid(x)


def rigid_sigmoid(x):
    """The lectures' rigid sigmoid: max(0, min(1, (x + 1) / 2))."""
    return torch.clamp((x + 1) * 0.5, 0.0, 1.0)


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return nn.functional.elu(x, alpha)


def selu(x):
    """scale * elu(x, alpha) with Keras's (and torch's) self-normalizing constants."""
    return torch.selu(x)


def gelu(x, approximate=False):
    """x * Phi(x) (Keras's default is the exact form); ``approximate=True`` uses the tanh formula."""
    return nn.functional.gelu(x, approximate="tanh" if approximate else "none")


def silu(x):
    """x * sigmoid(x) (also called swish)."""
    return nn.functional.silu(x)


swish = silu


def softplus(x):
    """log(1 + exp(x))."""
    return nn.functional.softplus(x)


def softsign(x):
    """x / (1 + |x|)."""
    return nn.functional.softsign(x)


def exponential(x):
    """exp(x)."""
    return torch.exp(x)


def mish(x):
    """x * tanh(softplus(x))."""
    return nn.functional.mish(x)


def relu6(x):
    """min(max(0, x), 6)."""
    return nn.functional.relu6(x)


def log_softmax(x, axis=-1):
    """log(softmax(x)) along ``axis``, computed stably."""
    return torch.log_softmax(x, dim=axis)


class Exponential(nn.Module):
    """``nn.Module`` form of :func:`exponential`."""

    def forward(self, x):
        return torch.exp(x)


class RigidSigmoid(nn.Module):
    """``nn.Module`` form of :func:`rigid_sigmoid` (PyTorch has no built-in one)."""

    def forward(self, x):
        return rigid_sigmoid(x)


class Lambda(nn.Module):
    """Wraps a user's activation callable so it can sit in an ``nn.Sequential``."""

    def __init__(self, fn, name: str):
        super().__init__()
        self.fn = fn
        self.name = name

    def forward(self, x):
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


# name -> (function, module factory). The module is what models run.
_REGISTRY = {
    "linear": (linear, nn.Identity),
    "relu": (relu, nn.ReLU),
    "leaky_relu": (leaky_relu, lambda: nn.LeakyReLU(LEAKY_RELU_SLOPE)),
    "sigmoid": (sigmoid, nn.Sigmoid),
    "tanh": (tanh, nn.Tanh),
    "softmax": (softmax, lambda: nn.Softmax(dim=-1)),
    "hard_sigmoid": (hard_sigmoid, nn.Hardsigmoid),
    "rigid_sigmoid": (rigid_sigmoid, RigidSigmoid),
    "elu": (elu, nn.ELU),
    "selu": (selu, nn.SELU),
    "gelu": (gelu, nn.GELU),
    "swish": (swish, nn.SiLU),
    "silu": (silu, nn.SiLU),  # after "swish": Keras 3 names the module "silu"
    "softplus": (softplus, nn.Softplus),
    "softsign": (softsign, nn.Softsign),
    "exponential": (exponential, Exponential),
    "mish": (mish, nn.Mish),
    "relu6": (relu6, nn.ReLU6),
    "log_softmax": (log_softmax, lambda: nn.LogSoftmax(dim=-1)),
}
_BY_FUNCTION = {fn: name for name, (fn, _) in _REGISTRY.items()}
_BY_FUNCTION.update({torch.relu: "relu", torch.sigmoid: "sigmoid", torch.tanh: "tanh", torch.exp: "exponential",
                     torch.selu: "selu"})


def names() -> list[str]:
    """The activation names kerastyle knows."""
    return sorted(_REGISTRY)


def resolve_name(identifier) -> str | None:
    """The registry name of ``identifier`` (None, a name or one of our functions), else None."""
    if identifier is None:
        return "linear"
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _REGISTRY:
            from .saving.object_registration import get_registered_object
            if get_registered_object(identifier) is not None:
                return None  # a registered custom activation, resolved by get()
            raise ValueError(
                f"Unknown activation {identifier!r}. Valid names: {', '.join(names())}."
            )
        return key
    return _BY_FUNCTION.get(identifier)


def get(identifier) -> nn.Module:
    """An ``nn.Module`` for a name, a kerastyle/torch function, a callable or a module."""
    if isinstance(identifier, nn.Module):
        return identifier
    name = resolve_name(identifier)
    if name is not None:
        return _REGISTRY[name][1]()
    if isinstance(identifier, str):  # registered custom activation
        from .saving.object_registration import get_registered_object
        identifier = get_registered_object(identifier)
    if callable(identifier):
        return Lambda(identifier, getattr(identifier, "__name__", type(identifier).__name__))
    raise TypeError(
        f"Argument `activation` must be a name, a callable or an nn.Module, got {identifier!r}. "
        f"Valid names: {', '.join(names())}."
    )


_BY_MODULE_TYPE = {type(factory()): name for name, (_, factory) in _REGISTRY.items()}


def name_of(module: nn.Module) -> str:
    """The Keras name of an activation module (for summaries and configs)."""
    if isinstance(module, Lambda):
        return module.name
    return _BY_MODULE_TYPE.get(type(module), type(module).__name__)


# -- the derivatives, for the analytic engine ----------------------------------------------------
class _IdentityOp:
    def forward(self, x):
        return x

    def backward(self, g):
        return g


_mask_where_positive = torch.ops.aten.threshold_backward.default


class _ReLUOp:
    """relu'(z) = 1 for z > 0, else 0, read off the output: ``g * 1[y > 0]``, evaluated by torch's
    one-kernel masked multiply (``threshold_backward(g, y, 0)``: g where y > 0, else 0). In place
    when the engine owns its input (a fresh tensor nothing else keeps)."""

    def __init__(self, inplace):
        self.inplace = inplace
        self.y = None

    def forward(self, x):
        self.y = torch.relu_(x) if self.inplace else torch.relu(x)
        return self.y

    def backward(self, g):
        return _mask_where_positive(g, self.y, 0.0)


class _LeakyReLUOp:
    """f'(z) = 1 for z > 0, else the module's ``negative_slope``."""

    def __init__(self, slope):
        self.slope = slope
        self.x = None

    def forward(self, x):
        self.x = x
        return nn.functional.leaky_relu(x, self.slope)

    def backward(self, g):
        return torch.where(self.x > 0, g, g * self.slope)


class _SigmoidOp:
    """sigma'(z) = y (1 - y)."""

    def forward(self, x):
        self.y = torch.sigmoid(x)
        return self.y

    def backward(self, g):
        return g.mul_(self.y).mul_(1.0 - self.y)


class _TanhOp:
    """tanh'(z) = 1 - y^2."""

    def forward(self, x):
        self.y = torch.tanh(x)
        return self.y

    def backward(self, g):
        return g.mul_(1.0 - self.y.square())


class _SoftmaxOp:
    """Jacobian-vector product of softmax: ``y * (g - sum(g * y))`` along ``dim``."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        self.y = torch.softmax(x, self.dim)
        return self.y

    def backward(self, g):
        return self.y * (g - (g * self.y).sum(self.dim, keepdim=True))


class _HardSigmoidOp:
    """Keras 3 / torch hard sigmoid ``relu6(z + 3) / 6``: slope 1/6 on (-3, 3), else 0."""

    def forward(self, x):
        self.x = x
        return nn.functional.hardsigmoid(x)

    def backward(self, g):
        return torch.where((self.x > -3.0) & (self.x < 3.0), g * (1.0 / 6.0), 0.0)


class _RigidSigmoidOp:
    """The lectures' rigid sigmoid ``clip((z + 1) / 2, 0, 1)``: slope 1/2 where ``0 <= (z + 1)/2 <= 1``."""

    def forward(self, x):
        self.t = (x + 1) * 0.5
        return self.t.clamp(0.0, 1.0)

    def backward(self, g):
        return torch.where((self.t >= 0.0) & (self.t <= 1.0), g * 0.5, 0.0)


class _ElementwiseOp:
    """An elementwise activation with its derivative ``f'(z)`` written as a function of ``(z, y)``."""

    def __init__(self, forward, derivative):
        self.f, self.df = forward, derivative

    def forward(self, x):
        self.x = x
        self.y = self.f(x)
        return self.y

    def backward(self, g):
        return g * self.df(self.x, self.y)


def _elu_derivative(alpha, scale=1.0):
    # elu'(z) = 1 for z > 0, alpha * exp(z) = y / scale + alpha otherwise
    return lambda x, y: torch.where(x > 0, scale, y + scale * alpha)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _gelu_op(module):
    mode = module.approximate
    op = _ElementwiseOp(lambda x: nn.functional.gelu(x, approximate=mode), None)
    op.backward = lambda g: torch.ops.aten.gelu_backward(g, op.x, approximate=mode)
    return op


def _mish_derivative(x, y):
    t = torch.tanh(nn.functional.softplus(x))
    return t + x * torch.sigmoid(x) * (1.0 - t * t)


class _LogSoftmaxOp:
    """d log_softmax: ``g - softmax * sum(g)`` along ``dim``."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        self.y = torch.log_softmax(x, self.dim)
        return self.y

    def backward(self, g):
        return g - torch.exp(self.y) * g.sum(self.dim, keepdim=True)


_OPS = {
    nn.Identity: lambda m, owned: _IdentityOp(),
    nn.ReLU: lambda m, owned: _ReLUOp(inplace=owned),
    nn.LeakyReLU: lambda m, owned: _LeakyReLUOp(m.negative_slope),
    nn.Sigmoid: lambda m, owned: _SigmoidOp(),
    nn.Tanh: lambda m, owned: _TanhOp(),
    nn.Softmax: lambda m, owned: _SoftmaxOp(m.dim),
    nn.Hardsigmoid: lambda m, owned: _HardSigmoidOp(),
    RigidSigmoid: lambda m, owned: _RigidSigmoidOp(),
    nn.ELU: lambda m, owned: _ElementwiseOp(lambda x: nn.functional.elu(x, m.alpha), _elu_derivative(m.alpha)),
    nn.SELU: lambda m, owned: _ElementwiseOp(torch.selu, _elu_derivative(_SELU_ALPHA, _SELU_SCALE)),
    nn.GELU: lambda m, owned: _gelu_op(m),
    nn.SiLU: lambda m, owned: _ElementwiseOp(
        nn.functional.silu, lambda x, y: torch.sigmoid(x) * (1.0 + x * (1.0 - torch.sigmoid(x)))),
    nn.Softplus: lambda m, owned: _ElementwiseOp(
        lambda x: nn.functional.softplus(x, m.beta, m.threshold),
        lambda x, y: torch.where(x * m.beta > m.threshold, 1.0, torch.sigmoid(x * m.beta))),
    nn.Softsign: lambda m, owned: _ElementwiseOp(
        nn.functional.softsign, lambda x, y: (1.0 + x.abs()).square().reciprocal()),
    Exponential: lambda m, owned: _ElementwiseOp(torch.exp, lambda x, y: y),
    nn.Mish: lambda m, owned: _ElementwiseOp(nn.functional.mish, _mish_derivative),
    nn.ReLU6: lambda m, owned: _ElementwiseOp(nn.functional.relu6, lambda x, y: ((x > 0) & (x < 6)).to(x.dtype)),
    nn.LogSoftmax: lambda m, owned: _LogSoftmaxOp(m.dim),
}


def unsupported_reason(module) -> str | None:
    """Why the analytic engine has no derivative for activation ``module``, or None."""
    if isinstance(module, Lambda):
        return f"the custom activation {module.name!r} has no analytic derivative"
    if type(module) not in _OPS:
        return f"the activation {type(module).__name__} has no analytic derivative"
    if isinstance(module, (nn.Softmax, nn.LogSoftmax)) and module.dim is None:
        return "a softmax without an explicit axis (dim=None)"
    return None


def analytic_op(module, input_owned: bool = False):
    """The forward/backward op of activation ``module``; ``input_owned`` allows working in place."""
    return _OPS[type(module)](module, input_owned)
