"""``check_gradients``: the analytic engine's gradients against ``torch.autograd`` on one batch."""

from __future__ import annotations

import copy
import math

import torch

from .. import inputs
from ..layers.layer import collect_losses
from .analytic import AnalyticEngine, model_chain, unsupported_reason
from .output_plan import OutputPlan


class GradientCheckReport:
    """Analytic vs autograd gradients for one batch. ``rows`` holds ``(name, shape, max_abs, max_rel)`` per
    trainable weight (named ``layer/kernel``, ``layer/bias`` or a custom layer's own names), where
    ``max_rel = max|analytic - autograd| / max|autograd|`` over that weight."""

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


def _weight_names(model) -> dict:
    names = {}
    for layer in model_chain(model) or model.layers:
        for name, param in layer._weights_with_names():
            names[id(param)] = f"{layer.name}/{name}"
    return names


def _detached_copy(model):
    """A deep copy of the model's layers and weights without its optimizer, plan or history."""
    saved = model.optimizer, model._plan, model.history
    model.optimizer = model._plan = model.history = None
    try:
        return copy.deepcopy(model)
    finally:
        model.optimizer, model._plan, model.history = saved


def check_gradients(model, x, y, sample_weight=None, dtype=torch.float64, tolerance=None):
    """Run one batch ``(x, y)`` through the analytic backward pass and through ``torch.autograd`` on CPU
    copies of the compiled ``model`` in ``dtype`` (the model is not changed), in training mode (dropout
    draws the same mask on both paths), and report the largest absolute and relative gradient errors per
    weight. ``tolerance`` (relative; default 1e-9 for float64, 1e-4 for float32) decides
    ``report.passed``. ``print(report)`` shows a table."""
    model._require_compiled("check_gradients")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"Argument `dtype` must be a floating torch dtype such as torch.float64, got {dtype!r}.")
    if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
                                  or not math.isfinite(tolerance) or tolerance < 0):
        raise ValueError(f"Argument `tolerance` must be a finite number >= 0, got {tolerance!r}.")
    x = inputs.to_tensor(x, "x", dtype=model._input_dtypes()[0] or torch.float32)
    model._ensure_built(x)
    plan = model._compile_outputs()
    y = inputs.to_tensor(y, "y")
    inputs.check_same_length(x, "x", y, "y")
    y = plan.loss.prepare_targets(y, model.output_shape, "y")
    weights = None if sample_weight is None else inputs.to_tensor(sample_weight, "sample_weight").reshape(-1)
    reason = unsupported_reason(model, plan)
    if reason is not None:
        raise ValueError(f"check_gradients needs a model the analytic engine supports: {reason}.")
    notes = []
    if tolerance is None:
        tolerance = _DEFAULT_TOLERANCE.get(dtype, 1e-2)
        if dtype == torch.float64 and any(isinstance(m, torch.nn.Hardsigmoid) for m in model.modules()):
            tolerance = 1e-7
            notes.append(_HARDSIGMOID_NOTE)

    names = _weight_names(model)
    originals = list(model.parameters())
    twin = _detached_copy(model).to(device="cpu", dtype=dtype).train()
    params = list(twin.parameters())
    checked = [(names.get(id(o), f"param_{i}"), p) for i, (o, p) in enumerate(zip(originals, params))
               if p.requires_grad]
    for p in params:
        p.grad = None
    twin_plan = OutputPlan(twin, plan.loss, None, None)
    x = x.to(device="cpu", dtype=dtype) if x.is_floating_point() else x.to("cpu")
    y = y.to(device="cpu") if not y.is_floating_point() else y.to(device="cpu", dtype=dtype)
    weights = None if weights is None else weights.to(device="cpu", dtype=dtype)

    with torch.random.fork_rng(devices=[]):
        state = torch.get_rng_state()
        with torch.no_grad():
            loss_a, _ = AnalyticEngine(twin, twin_plan, pack=False).forward_backward(x, y, weights)
        analytic = [p.grad.clone() for _, p in checked]
        for p in params:
            p.grad = None
        torch.set_rng_state(state)
        with collect_losses():
            out = twin_plan.forward(x, True)
        loss_b, _ = twin_plan.total_loss(y, out, weights)
        for param, regularizer in twin._all_regularizers():
            loss_b = loss_b + regularizer(param)
        loss_b.backward()
    rows = []
    for (name, p), a in zip(checked, analytic):
        b = p.grad if p.grad is not None else torch.zeros_like(p)
        abs_err = float((a - b).abs().max()) if a.numel() else 0.0
        scale = float(b.abs().max()) if b.numel() else 0.0
        rel_err = abs_err / scale if scale > 0 else (0.0 if abs_err == 0 else math.inf)
        rows.append((name, tuple(p.shape), abs_err, rel_err))
    return GradientCheckReport(rows, float(loss_a), float(loss_b.detach()), float(tolerance), dtype, notes)
