"""The analytic engine: the lectures' hand-derived backpropagation, without autograd.

A Dense layer computes ``Z = A W^T + iota b^T``; given the sensitivity ``dL/dZ`` from the layer
above, its backward pass is

    dL/dW = (dL/dZ)^T A,    dL/db = (dL/dZ)^T iota,    dL/dA = dL/dZ W,

and an activation ``Y = f(Z)`` passes ``dL/dZ = dL/dY * f'(Z)`` down. Each layer keeps its own
forward/backward pair next to its ``call`` (``Layer.analytic_ops``; activations in
``kerastyle.activations``); this engine strings them together. The loss starts the chain with
``dL/d(output)`` from ``Loss.gradient``; when the model ends in softmax (sigmoid) and the loss is
cross-entropy (binary cross-entropy), the two are fused and the chain starts at the logits with
``p - y``. ``l1``/``l2`` weight penalties add their derivative to the weight's gradient.

The engine works on detached aliases of the parameters (same storage, so optimizer updates are
seen), writes gradients into each parameter's ``.grad`` (the same tensors every step, packed end to
end in one buffer laid out like the packed parameters, see ``kerastyle.packing``), and leaves the
update to the model's optimizer.
"""

from __future__ import annotations

import torch

from .. import activations, losses, packing, regularizers


def model_chain(model):
    """The model's layers as one chain (input -> layer -> ... -> output), nested chains flattened, or None."""
    layers = getattr(model, "_stack", None)
    if layers is None:
        chain = getattr(model, "_chain", None)
        layers = chain() if chain is not None else None
    if layers is None:
        return None
    flat = []
    for layer in layers:
        if hasattr(layer, "_stack") or hasattr(layer, "_chain"):
            inner = model_chain(layer)
            if inner is None:
                return None
            flat.extend(inner)
        else:
            flat.append(layer)
    return flat


def unsupported_reason(model, plan) -> str | None:
    """Why the analytic engine cannot train ``model`` under ``plan``, or None when it can."""
    from ..mixed_precision import analytic_reason  # float32 only
    if analytic_reason() is not None:
        return analytic_reason()
    if not plan.single:
        return "the model has several outputs"
    loss = plan.loss
    if type(loss).gradient is losses.Loss.gradient:
        return (f"the loss {loss.name!r} ({type(loss).__name__}) has no analytic gradient "
                f"(Loss.gradient is not implemented for it)")
    chain = model_chain(model)
    if chain is None:
        return "the model is not a single chain of layers (branches, several inputs, or a subclassed model)"
    for _, regularizer in model._all_regularizers():
        if not isinstance(regularizer, regularizers.L1L2):
            return f"the regularizer {regularizer!r} has no analytic gradient (only l1, l2 and l1_l2 do)"
    for layer in chain:
        if layer.activity_regularizer is not None:
            return f"layer {layer.name!r} has an activity regularizer, which the analytic engine does not support"
        activation = getattr(layer, "activation", None)
        if isinstance(activation, torch.nn.Module) and activations.unsupported_reason(activation):
            return f"layer {layer.name!r} uses {activations.unsupported_reason(activation)}"
        if layer.analytic_ops(False, False) is None:
            return f"layer {layer.name!r} ({type(layer).__name__}) has no hand-derived backward pass"
    return None


def _build_ops(chain, fused):
    """The ops of every layer in order, and the backward ones (from the first trainable weight on),
    reversed. An op may work in place on its input when the op before made a fresh tensor that
    nothing else keeps (``fresh_output``)."""
    trainable = [any(p.requires_grad for p in layer.weights) for layer in chain]
    ops, first = [], None
    for i, layer in enumerate(chain):
        owned = bool(ops) and getattr(ops[-1], "fresh_output", False)
        layer_ops = layer.analytic_ops(need_input_grad=any(trainable[:i]), input_owned=owned)
        if fused and i == len(chain) - 1:
            layer_ops = layer_ops[:-1]  # the loss absorbs the final activation
        if trainable[i] and first is None:
            first = len(ops)
        ops.extend(layer_ops)
    first = len(ops) if first is None else first
    return ops, ops[first:][::-1]


def _pack_parameters(model):
    """Pack the trainable parameters into one buffer and their gradients into another laid out alike
    (``kerastyle.packing``), so the optimizer can update them whole. Skipped when they cannot share a
    buffer (mixed dtypes or devices); a no-op when they are packed already."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not packing.packable(params):
        return
    packing.pack(params)
    grads = [p.grad for p in params]
    if any(g is None for g in grads) or packing.flat_view(grads) is None or not packing.same_layout(params, grads):
        _, grads = packing.zeros_like_packed(params)
        for param, grad in zip(params, grads):
            param.grad = grad


class AnalyticEngine:
    """Trains with the hand-derived backward pass: no autograd graph, gradients written into ``.grad``
    (the same optimizers apply). Same interface as ``AutogradEngine``. The ``.grad`` tensors stay the
    same for the engine's life (``stable_grads``)."""

    name = "analytic"
    stable_grads = True

    def __init__(self, model, plan, pack=True):
        reason = unsupported_reason(model, plan)
        if reason is not None:
            raise ValueError(f"The analytic engine cannot train this model: {reason}.")
        if pack:
            _pack_parameters(model)
        self.gradient = plan.loss.gradient
        self.fused = plan.fused
        self.ops, self.backward_ops = _build_ops(model_chain(model), plan.fused)
        self._forward = [op.forward for op in self.ops]
        self._backward = [op.backward for op in self.backward_ops]
        self.penalties = [(p.detach(), p, r) for p, r in model._all_regularizers() if p.requires_grad]
        self.loss_scale = None  # kerastyle.trainers.distributed: this process's share of the global batch

    def forward_backward(self, x, y, sample_weight):
        """Forward pass, loss, backward pass for one batch: ``(loss, output, None)``, detached; gradients
        land in the parameters' ``.grad``."""
        for forward in self._forward:
            x = forward(x)
        loss, g = self.gradient(y, x, self.fused, sample_weight)
        if self.loss_scale is not None:  # distributed: scales the data loss's gradient, not the penalties'
            g = g * self.loss_scale
        for backward in self._backward:
            g = backward(g)
        for value, param, regularizer in self.penalties:
            loss = loss + regularizer(value)
            param.grad.add_(regularizer.gradient(value))
        return loss, x
