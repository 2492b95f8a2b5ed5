"""Keras's batch-level API: ``train_on_batch``, ``test_on_batch``, ``predict_on_batch``.

One call is one step on the whole of ``x`` (no batching, no shuffling). The autograd engine and the
optimizer's update function are set up on the first call and kept on the model for the next ones
(until the model is recompiled or its weights change), so a loop of ``train_on_batch`` calls costs a
training step each, not a ``fit`` set-up each.

Return forms, as Keras 2 and 3: the loss alone when there are no metrics, else ``[loss, *metrics]`` in
``model.metrics_names`` order, or a dict with ``return_dict=True``. With ``reset_metrics=True`` (the
default; Keras 3 always resets) the values are those of this batch; with ``reset_metrics=False``
(Keras 2) they accumulate over the calls since the last reset (``model.reset_metrics()``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..engines import make_engine
from ..layers.layer import collect_losses
from .data_adapters import ArrayData, EpochBatches
from .trainer import _MetricAccumulator


class _BatchState:
    """What consecutive batch calls share: the engine, the update, the running sums and metrics."""

    def __init__(self, model, plan, key):
        self.key = key
        self.engine, _ = make_engine("autograd", model, plan)
        optimizer = model.optimizer
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            self.update = lambda: None
        elif hasattr(optimizer, "update_function"):
            self.update = optimizer.update_function(stable_grads=False)
        else:  # a plain torch optimizer
            self.update = optimizer.step
        self.constrained = [(p, c) for p, c in model._all_constraints() if p.requires_grad]
        self.train_acc = _MetricAccumulator(plan)
        self.test_acc = _MetricAccumulator(plan)
        self.sums = {"train": [0.0, None, 0], "test": [0.0, None, 0]}  # loss, parts, samples
        self.reset()

    def reset(self):
        for acc in (self.train_acc, self.test_acc):
            acc.reset()
        self.sums = {"train": [0.0, None, 0], "test": [0.0, None, 0]}


def _state(model, plan) -> _BatchState:
    key = (id(plan), id(model.optimizer), tuple(id(p) for p in model.parameters()))
    state = getattr(model, "_batch_state", None)
    if state is None or state.key != key:
        state = _BatchState(model, plan, key)
        model._batch_state = state
    return state


def reset_metrics(model) -> None:
    """``model.reset_metrics()``: clear the accumulated batch-API values and the compiled metrics."""
    state = getattr(model, "_batch_state", None)
    if state is not None:
        state.reset()
    for metric in getattr(model, "metrics", None) or []:
        metric.reset_state()


def _one_batch(model, x, y, sample_weight, class_weight=None):
    data = ArrayData.from_user(model, x, y, sample_weight, class_weight)
    plan = model._compile_outputs()
    xb, yb, wb = next(iter(EpochBatches(data, data.n, shuffle=False).new_epoch()))
    return plan, xb, yb, wb, data.n


def _logs(state, phase, acc, plan, loss, parts, yb, out, size, reset):
    if reset:
        acc.reset()
        state.sums[phase] = [0.0, None, 0]
    sums = state.sums[phase]
    sums[0] += float(loss) * size
    if parts is not None:
        values = [float(p) * size for p in parts]
        sums[1] = values if sums[1] is None else [a + b for a, b in zip(sums[1], values)]
    sums[2] += size
    acc.add(yb, out)
    logs = {"loss": sums[0] / sums[2]}
    if sums[1] is not None:
        logs.update({f"{o.name}_loss": v / sums[2] for o, v in zip(plan.outputs, sums[1])})
    logs.update(acc.results())
    return logs


def _returned(logs, return_dict):
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _check_flag(value, arg):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"Argument `{arg}` must be True or False, got {value!r}.")
    return bool(value)


def train_on_batch(model, x, y=None, sample_weight=None, class_weight=None, reset_metrics=True, return_dict=False):
    """One gradient step on ``(x, y)``; returns the loss (and metrics) of that step."""
    model._require_compiled("train_on_batch")
    reset, return_dict = _check_flag(reset_metrics, "reset_metrics"), _check_flag(return_dict, "return_dict")
    plan, xb, yb, wb, n = _one_batch(model, x, y, sample_weight, class_weight)
    state = _state(model, plan)
    was_training = model.training
    model.train()
    try:
        loss, out = state.engine.forward_backward(xb, yb, wb)
        state.update()
        with torch.no_grad():
            for param, constraint in state.constrained:
                param.copy_(constraint(param))
    finally:
        model.train(was_training)
    return _returned(_logs(state, "train", state.train_acc, plan, loss, state.engine.parts, yb, out, n, reset),
                     return_dict)


@torch.no_grad()
def test_on_batch(model, x, y=None, sample_weight=None, reset_metrics=True, return_dict=False):
    """Loss (with regularization, as ``evaluate``) and metrics of ``(x, y)`` in inference mode."""
    model._require_compiled("test_on_batch")
    reset, return_dict = _check_flag(reset_metrics, "reset_metrics"), _check_flag(return_dict, "return_dict")
    plan, xb, yb, wb, n = _one_batch(model, x, y, sample_weight)
    state = _state(model, plan)
    was_training = model.training
    model.eval()
    try:
        with collect_losses() as extra:
            out = plan.forward(xb, False)
        loss, parts = plan.total_loss(yb, out, wb)
        for param, regularizer in model._all_regularizers():
            loss = loss + regularizer(param)
        for term in extra:
            loss = loss + term
    finally:
        model.train(was_training)
    return _returned(_logs(state, "test", state.test_acc, plan, loss, parts, yb, out, n, reset), return_dict)


@torch.no_grad()
def predict_on_batch(model, x):
    """The outputs for all of ``x`` in one forward pass, as numpy arrays (a list for several outputs)."""
    if not model.layers:
        raise ValueError(f"Model {model.name!r} has no layers; add some before predict_on_batch().")
    if not model.built and not hasattr(model, "call"):
        model._require_built("predict_on_batch")
    data = ArrayData.inputs_only(model, x)
    xb = next(iter(EpochBatches(data, data.n, shuffle=False).new_epoch()))[0]
    was_training = model.training
    model.eval()
    try:
        out = model._forward_function()(xb, False)
    finally:
        model.train(was_training)
    if torch.is_tensor(out):
        return out.cpu().numpy()
    return [o.cpu().numpy() for o in out]


def as_batch_of_one(model, x):
    """A single sample (an array shaped like one input sample of a one-input model) as a batch of one;
    anything else unchanged. Lets ``predict(x_test[0])`` work where the shape leaves no doubt."""
    if not getattr(model, "built", False) or isinstance(x, (list, tuple, dict)) or not hasattr(x, "shape"):
        return x
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return x
    if not isinstance(shape, tuple) or any(d is None for d in shape[1:]):
        return x
    return x[None] if tuple(x.shape) == tuple(shape[1:]) else x
