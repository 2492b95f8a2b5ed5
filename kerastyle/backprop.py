"""Backpropagation derived by hand: the ``'analytic'`` training engine and ``check_gradients``.

The lectures' derivation, layer by layer. A Dense layer computes ``Z = A W^T + iota b^T``;
given the sensitivity ``dL/dZ`` from the layer above, its backward pass is

    dL/dW = (dL/dZ)^T A,    dL/db = (dL/dZ)^T iota,    dL/dA = dL/dZ W,

and an activation ``Y = f(Z)`` passes ``dL/dZ = dL/dY * f'(Z)`` down (softmax: the full
Jacobian-vector product ``Y * (dL/dY - sum(dL/dY * Y))``). The loss starts the chain with
``dL/d(output)`` from ``Loss.gradient``; when the model ends in softmax (sigmoid) and the loss
is cross-entropy (binary cross-entropy), the two are fused and the chain starts at the logits
with ``p - y``.

``AnalyticEngine`` runs that chain without autograd: it works on detached aliases of the
parameters (same storage, so optimizer updates are seen), writes the gradients into each
parameter's ``.grad`` with ``out=`` (the same tensors every step, packed end to end in one
buffer laid out like the packed parameters, see ``kerastyle.packing``), and lets the model's
usual optimizer apply them, which it then does on whole buffers. ``check_gradients`` compares
it with ``torch.autograd`` on one batch.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from . import activations, losses, packing

__all__ = ["AnalyticEngine", "GradientCheckReport", "check_gradients", "unsupported_reason"]


# -- one backward rule per module type ----------------------------------------------------------
class _Dense:
    """``nn.Linear``: forward ``addmm(b, A, W^T)``; backward the three lecture formulas.

    A Dense layer keeps its kernel as Keras does, ``(in, out)`` row-major, with ``W`` its transpose
    view: then ``W^T`` is read contiguously forward, and the weight gradient is computed as its
    transpose ``A^T dL/dZ``, written contiguously into ``grad.T`` (both faster BLAS layouts)."""

    def __init__(self, module: nn.Linear, need_input_grad: bool):
        self.weight, self.bias = module.weight, module.bias
        self.w = module.weight.detach()
        self.wt = self.w.t()
        self.b = None if module.bias is None else module.bias.detach()
        self.gw = _grad_buffer(module.weight)
        self.gb = None if module.bias is None else _grad_buffer(module.bias)
        kernel_layout = self.gw is not None and not self.gw.is_contiguous() and self.gw.t().is_contiguous()
        self.gwt = self.gw.t() if kernel_layout else None
        self.need_input_grad = need_input_grad
        self.a = None
        self.in_shape = None

    def forward(self, a):
        if a.dim() != 2:  # Dense on (N, ..., features): work on the flattened rows
            self.in_shape = a.shape
            a = a.reshape(-1, a.shape[-1])
            z = torch.mm(a, self.wt) if self.b is None else torch.addmm(self.b, a, self.wt)
            self.a = a
            return z.reshape(*self.in_shape[:-1], z.shape[-1])
        self.in_shape = None
        self.a = a
        return torch.mm(a, self.wt) if self.b is None else torch.addmm(self.b, a, self.wt)

    def backward(self, dz):
        if self.in_shape is not None:
            dz = dz.reshape(-1, dz.shape[-1])
        if self.gw is not None:
            if self.gwt is not None:
                torch.mm(self.a.t(), dz, out=self.gwt)  # (dL/dW)^T = A^T dL/dZ
            else:
                torch.mm(dz.t(), self.a, out=self.gw)  # dL/dW = (dL/dZ)^T A
            self.weight.grad = self.gw
        if self.gb is not None:
            torch.sum(dz, 0, out=self.gb)  # dL/db = (dL/dZ)^T iota
            self.bias.grad = self.gb
        if not self.need_input_grad:
            return None
        da = torch.mm(dz, self.w)  # dL/dA = dL/dZ W
        return da if self.in_shape is None else da.reshape(self.in_shape)


class _Identity:
    def forward(self, x):
        return x

    def backward(self, g):
        return g


_mask_where_positive = torch.ops.aten.threshold_backward.default


class _ReLU:
    """relu'(z) = 1 for z > 0, else 0, read off the output: ``g * 1[y > 0]``, evaluated by torch's
    one-kernel masked multiply (``threshold_backward(g, y, 0)``: g where y > 0, else 0)."""

    def __init__(self, inplace):
        self.inplace = inplace
        self.y = None

    def forward(self, x):
        self.y = torch.relu_(x) if self.inplace else torch.relu(x)
        return self.y

    def backward(self, g):
        return _mask_where_positive(g, self.y, 0.0)


class _LeakyReLU:
    """f'(z) = 1 for z > 0, else the module's ``negative_slope``."""

    def __init__(self, slope):
        self.slope = slope
        self.x = None

    def forward(self, x):
        self.x = x
        return nn.functional.leaky_relu(x, self.slope)

    def backward(self, g):
        return torch.where(self.x > 0, g, g * self.slope)


class _Sigmoid:
    """sigma'(z) = y (1 - y)."""

    def forward(self, x):
        self.y = torch.sigmoid(x)
        return self.y

    def backward(self, g):
        return g.mul_(self.y).mul_(1.0 - self.y)


class _Tanh:
    """tanh'(z) = 1 - y^2."""

    def forward(self, x):
        self.y = torch.tanh(x)
        return self.y

    def backward(self, g):
        return g.mul_(1.0 - self.y.square())


class _Softmax:
    """Jacobian-vector product of softmax: ``y * (g - sum(g * y))`` along ``dim``."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        self.y = torch.softmax(x, self.dim)
        return self.y

    def backward(self, g):
        return self.y * (g - (g * self.y).sum(self.dim, keepdim=True))


class _HardSigmoid:
    """Keras 3 / torch hard sigmoid ``relu6(z + 3) / 6``: slope 1/6 on (-3, 3), else 0."""

    def forward(self, x):
        self.x = x
        return nn.functional.hardsigmoid(x)

    def backward(self, g):
        return torch.where((self.x > -3.0) & (self.x < 3.0), g * (1.0 / 6.0), 0.0)


class _RigidSigmoid:
    """The lectures' rigid sigmoid ``clip((z + 1) / 2, 0, 1)``: slope 1/2 where ``0 <= (z + 1)/2 <= 1``."""

    def forward(self, x):
        self.t = (x + 1) * 0.5
        return self.t.clamp(0.0, 1.0)

    def backward(self, g):
        return torch.where((self.t >= 0.0) & (self.t <= 1.0), g * 0.5, 0.0)


class _Dropout:
    """Inverted dropout exactly as torch on CPU draws it (``bernoulli_(1 - rate)`` on a tensor like
    the input, divided by ``1 - rate``), so both engines consume the RNG alike; the backward pass
    multiplies by the same mask."""

    def __init__(self, module: nn.Dropout):
        self.module = module
        self.keep = 1.0 - module.p
        self.noise = None

    def forward(self, x):
        if not self.module.training or self.keep == 1.0:
            self.noise = None
            return x
        if self.keep == 0.0:
            self.noise = torch.zeros_like(x)
        else:
            self.noise = torch.empty_like(x).bernoulli_(self.keep).div_(self.keep)
        return x * self.noise

    def backward(self, g):
        return g if self.noise is None else g.mul_(self.noise)


class _Flatten:
    def __init__(self, module: nn.Flatten):
        self.start, self.end = module.start_dim, module.end_dim

    def forward(self, x):
        self.shape = x.shape
        return x.flatten(self.start, self.end)

    def backward(self, g):
        return g.reshape(self.shape)


_ACTIVATION_OPS = {
    nn.Identity: lambda m: _Identity(),
    nn.LeakyReLU: lambda m: _LeakyReLU(m.negative_slope),
    nn.Sigmoid: lambda m: _Sigmoid(),
    nn.Tanh: lambda m: _Tanh(),
    nn.Softmax: lambda m: _Softmax(m.dim),
    nn.Hardsigmoid: lambda m: _HardSigmoid(),
    activations.RigidSigmoid: lambda m: _RigidSigmoid(),
}
_SUPPORTED = (nn.Linear, nn.ReLU, nn.Dropout, nn.Flatten, *_ACTIVATION_OPS)


def _grad_buffer(param):
    """The tensor the engine writes ``param``'s gradient into (its existing ``.grad`` if usable)."""
    if not param.requires_grad:
        return None
    grad = param.grad
    if grad is None or grad.shape != param.shape or grad.dtype != param.dtype or grad.device != param.device:
        grad = torch.zeros_like(param)
        param.grad = grad
    return grad


def _modules(body):
    for module in body:
        if isinstance(module, nn.Sequential):
            yield from _modules(module)
        else:
            yield module


# -- which models the engine can train ------------------------------------------------------------
def unsupported_reason(model, plan) -> str | None:
    """Why the analytic engine cannot train ``model`` under ``plan`` (a user-defined activation,
    a module or loss without a hand-derived backward pass), or None when it can."""
    loss = plan.loss
    if type(loss).gradient is losses.Loss.gradient:
        return (f"the loss {loss.name!r} ({type(loss).__name__}) has no analytic gradient "
                f"(Loss.gradient is not implemented for it)")
    owners = {}
    for layer in getattr(model, "layers", []) or []:
        for module in layer.modules:
            owners[id(module)] = layer.name
    for module in _modules(plan.body):
        where = f"layer {owners[id(module)]!r}" if id(module) in owners else "the model"
        if isinstance(module, activations.Lambda):
            return f"{where} uses the custom activation {module.name!r}, which has no analytic derivative"
        if type(module) not in _SUPPORTED:
            return f"{where} contains a {type(module).__name__} module, which has no analytic backward pass"
        if isinstance(module, nn.Softmax) and module.dim is None:
            return f"{where} has a softmax without an explicit axis (dim=None)"
    return None


def _build_ops(body):
    """One op per module; backward is needed only from the first trainable parameter on."""
    modules = list(_modules(body))
    trainable = [any(p.requires_grad for p in m.parameters()) for m in modules]
    ops = []
    owned = False  # is the current activation a tensor the engine made and nothing else saved?
    for i, module in enumerate(modules):
        kind = type(module)
        if kind is nn.Linear:
            ops.append(_Dense(module, need_input_grad=any(trainable[:i])))
            owned = True
        elif kind is nn.ReLU:
            ops.append(_ReLU(inplace=owned))
            owned = False
        elif kind is nn.Dropout:  # may return its input unchanged (eval mode, rate 0): ownership passes through
            ops.append(_Dropout(module))
        elif kind is nn.Flatten:
            ops.append(_Flatten(module))
        else:
            ops.append(_ACTIVATION_OPS[kind](module))
            owned = False
    first = next((i for i, t in enumerate(trainable) if t), len(ops))
    return ops, ops[first:][::-1]


def _pack_parameters(net):
    """Pack the trainable parameters into one buffer and their gradients into another laid out alike
    (``kerastyle.packing``), so the optimizer can update them whole. Skipped when they cannot share a
    buffer (mixed dtypes or devices); a no-op when they are packed already."""
    params = [p for p in net.parameters() if p.requires_grad]
    if not packing.packable(params):
        return
    packing.pack(params)
    grads = [p.grad for p in params]
    if any(g is None for g in grads) or packing.flat_view(grads) is None or not packing.same_layout(params, grads):
        _, grads = packing.zeros_like_packed(params)
        for param, grad in zip(params, grads):
            param.grad = grad


class AnalyticEngine:
    """Trains with the hand-derived backward pass: no autograd graph, gradients written into
    ``.grad`` (the same optimizers apply). Same interface as ``trainer.AutogradEngine``.
    The ``.grad`` tensors stay the same for the engine's life (``stable_grads``)."""

    name = "analytic"
    stable_grads = True

    def __init__(self, model, plan):
        reason = unsupported_reason(model, plan)
        if reason is not None:
            raise ValueError(f"The analytic engine cannot train this model: {reason}.")
        _pack_parameters(plan.net)
        self.gradient = plan.loss.gradient
        self.fused = plan.fused
        self.ops, self.backward_ops = _build_ops(plan.body)
        self._forward = [op.forward for op in self.ops]
        self._backward = [op.backward for op in self.backward_ops]

    def forward_backward(self, x, y, sample_weight):
        """Forward pass, loss, backward pass for one batch: ``(loss, output of plan.body)``, both
        detached; gradients land in the parameters' ``.grad``."""
        for forward in self._forward:
            x = forward(x)
        loss, g = self.gradient(y, x, self.fused, sample_weight)
        for backward in self._backward:
            g = backward(g)
        return loss, x


# -- gradient check -----------------------------------------------------------------------------
class GradientCheckReport:
    """Analytic vs autograd gradients for one batch. ``rows`` holds ``(name, shape, max_abs,
    max_rel)`` per trainable parameter, where ``max_rel = max|analytic - autograd| / max|autograd|``
    over that parameter (errors relative to its largest gradient entry)."""

    def __init__(self, rows, loss_analytic, loss_autograd, tolerance, dtype, notes=()):
        self.rows = rows
        self.notes = list(notes)
        self.loss_analytic = loss_analytic
        self.loss_autograd = loss_autograd
        self.tolerance = tolerance
        self.dtype = dtype
        self.max_abs = max((r[2] for r in rows), default=0.0)
        self.max_rel = max((r[3] for r in rows), default=0.0)
        scale = max(abs(loss_autograd), 1e-300)
        self.loss_rel = abs(loss_analytic - loss_autograd) / scale
        self.passed = bool(self.max_rel <= tolerance and self.loss_rel <= tolerance)

    def __bool__(self):
        return self.passed

    def __str__(self):
        name_w = max([len("parameter"), *(len(r[0]) for r in self.rows)])
        shape_w = max([len("shape"), *(len(str(tuple(r[1]))) for r in self.rows)])
        head = f"{'parameter':<{name_w}}  {'shape':<{shape_w}}  {'max abs err':>11}  {'max rel err':>11}"
        lines = [f"Gradient check ({str(self.dtype).replace('torch.', '')}): analytic vs torch.autograd",
                 head, "-" * len(head)]
        for name, shape, abs_err, rel_err in self.rows:
            lines.append(f"{name:<{name_w}}  {str(tuple(shape)):<{shape_w}}  {abs_err:>11.3e}  {rel_err:>11.3e}")
        lines.append("-" * len(head))
        lines.append(f"{'overall':<{name_w}}  {'':<{shape_w}}  {self.max_abs:>11.3e}  {self.max_rel:>11.3e}")
        lines.append(f"loss: analytic {self.loss_analytic:.10g}, autograd {self.loss_autograd:.10g} "
                     f"(rel err {self.loss_rel:.3e})")
        lines.extend(f"note: {note}" for note in self.notes)
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(f"{verdict}: max relative error {self.max_rel:.3e} "
                     f"{'<=' if self.passed else '>'} tolerance {self.tolerance:.1e}")
        return "\n".join(lines)

    def __repr__(self):
        return (f"GradientCheckReport(passed={self.passed}, max_abs={self.max_abs:.3e}, "
                f"max_rel={self.max_rel:.3e}, tolerance={self.tolerance:.1e})")


_DEFAULT_TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4}
_HARDSIGMOID_NOTE = ("torch's hardsigmoid backward uses the float32 constant 1/6 even in float64 (relative "
                     "error ~3e-8 against the exact slope used here), so the default tolerance is 1e-7")


class _Plan:
    """An ``OutputPlan`` for a copy of the network (same fused/unfused decision)."""

    def __init__(self, net, loss, fused):
        self.net, self.loss, self.fused = net, loss, fused
        self.body = nn.Sequential(*list(net)[:-1]) if fused else net


def check_gradients(model, x, y, sample_weight=None, dtype=torch.float64, tolerance=None):
    """Run one batch ``(x, y)`` through the analytic backward pass and through ``torch.autograd``
    on CPU copies of the compiled ``model`` in ``dtype`` (the model is not changed), in training
    mode (dropout draws the same mask on both paths), and report the largest absolute and
    relative gradient errors per parameter. ``tolerance`` (relative; default 1e-9 for float64,
    1e-4 for float32) decides ``report.passed``. ``print(report)`` shows a table."""
    from . import trainer

    model._require_compiled("check_gradients")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"Argument `dtype` must be a floating torch dtype such as torch.float64, got {dtype!r}.")
    if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
                                  or not math.isfinite(tolerance) or tolerance < 0):
        raise ValueError(f"Argument `tolerance` must be a finite number >= 0, got {tolerance!r}.")
    x, y, weights = trainer.prepare_xy(model, x, y, sample_weight=sample_weight)
    notes = []
    if tolerance is None:
        tolerance = _DEFAULT_TOLERANCE.get(dtype, 1e-2)
        if dtype == torch.float64 and any(isinstance(m, nn.Hardsigmoid) for m in model.to_torch().modules()):
            tolerance = 1e-7
            notes.append(_HARDSIGMOID_NOTE)
    plan = trainer.OutputPlan(model)
    reason = unsupported_reason(model, plan)
    if reason is not None:
        raise ValueError(f"check_gradients needs a model the analytic engine supports: {reason}.")

    names = {}
    for layer in model.layers:
        for param in layer.weights:
            names[id(param)] = f"{layer.name}/{'kernel' if param.dim() == 2 else 'bias'}"
    originals = [p for p in plan.net.parameters()]
    net = copy.deepcopy(plan.net).to(device="cpu", dtype=dtype).train()
    params = list(net.parameters())
    checked = [(names.get(id(o), f"param_{i}"), p) for i, (o, p) in enumerate(zip(originals, params))
               if p.requires_grad]
    for p in params:
        p.grad = None
    copy_plan = _Plan(net, model.loss, plan.fused)
    x = x.to(device="cpu", dtype=dtype)
    y = y.to(device="cpu") if y.dtype == torch.int64 else y.to(device="cpu", dtype=dtype)
    weights = None if weights is None else weights.to(device="cpu", dtype=dtype)

    with torch.random.fork_rng(devices=[]):
        state = torch.get_rng_state()
        with torch.no_grad():
            loss_a, _ = AnalyticEngine(None, copy_plan).forward_backward(x, y, weights)
        analytic = [p.grad.clone() for _, p in checked]
        for p in params:
            p.grad = None
        torch.set_rng_state(state)
        out = copy_plan.body(x)
        loss_b = model.loss.reduce(model.loss.per_sample(y, out, plan.fused), weights)
        loss_b.backward()
    rows = []
    for (name, p), a in zip(checked, analytic):
        b = p.grad if p.grad is not None else torch.zeros_like(p)
        abs_err = float((a - b).abs().max()) if a.numel() else 0.0
        scale = float(b.abs().max()) if b.numel() else 0.0
        rel_err = abs_err / scale if scale > 0 else (0.0 if abs_err == 0 else math.inf)
        rows.append((name, tuple(p.shape), abs_err, rel_err))
    return GradientCheckReport(rows, float(loss_a), float(loss_b.detach()), float(tolerance), dtype, notes)
