"""The training, evaluation and prediction loops behind ``Sequential``.

One training step, in order: take the next batch (a view of the epoch's
shuffled copy, split once per fit), ``engine.forward_backward`` (forward, loss,
gradients into ``.grad``), check the loss is finite, the optimizer update (the
function ``optimizer.update_function()`` chose once per fit), accumulate the
epoch averages, then batch callbacks and the progress bar. Everything else
(tensor conversion, target checks, device placement, metric and engine set-up,
weight packing) happens once per ``fit``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from . import inputs
from .callbacks import BackupAndRestore, CallbackList, History, TerminateOnNaN
from .progbar import Progbar

ENGINES = ("auto", "autograd", "analytic")


class NonFiniteLossError(FloatingPointError):
    """Raised when a training batch's loss is NaN or infinite (weights are left untouched)."""


def _finite_snapshot(net, previous):
    """A copy of ``net``'s weights if they are all finite, else ``previous`` (one sync per epoch)."""
    copy = [p.detach().clone() for p in net.parameters()]
    finite = bool(torch.stack([torch.isfinite(c).all() for c in copy]).all()) if copy else True
    return copy if finite else previous


def _restore_if_non_finite(net, snapshot) -> bool:
    """Copy ``snapshot`` back into ``net`` if an update overflowed its weights; True if it did."""
    params = list(net.parameters())
    if snapshot is None or all(bool(torch.isfinite(p).all()) for p in params):
        return False
    with torch.no_grad():
        for param, saved in zip(params, snapshot):
            param.copy_(saved)
    return True


class OutputPlan:
    """How the model's output meets the loss, decided once per call.

    When the last module is the activation the loss can absorb (softmax for
    categorical losses, sigmoid for binary ones), ``body`` stops before it and
    the loss works on logits (``fused``); otherwise ``body`` is the whole net.
    """

    def __init__(self, model):
        self.net = model.to_torch()
        self.loss = model.loss
        modules = list(self.net)
        last = modules[-1] if modules else None
        wanted = {"softmax": nn.Softmax, "sigmoid": nn.Sigmoid}.get(self.loss.logits_activation)
        self.fused = (wanted is not None and isinstance(last, wanted) and not self.loss.from_logits
                      and (wanted is nn.Sigmoid or last.dim in (-1, len(model.output_shape) - 1)))
        self.activation = last if self.fused else None
        self.body = nn.Sequential(*modules[:-1]) if self.fused else self.net

    def metric_updaters(self, metrics):
        """One function per metric: ``(y, out) -> None`` adds rows to the metric's state, given
        probabilities (the activation applied when the loss works on logits)."""
        act = self.activation if self.fused else None
        return [lambda y, out, m=metric: m.update_state(y, out if act is None else act(out)) for metric in metrics]


class AutogradEngine:
    """Gradients by ``torch.autograd``: the reference engine, works for any model."""

    name = "autograd"
    stable_grads = False  # autograd makes new .grad tensors every step

    def __init__(self, model, plan: OutputPlan):
        self.body = plan.body
        self.loss = plan.loss
        self.fused = plan.fused
        self.params = [p for p in plan.net.parameters() if p.requires_grad]

    def forward_backward(self, x, y, sample_weight):
        for p in self.params:
            p.grad = None
        out = self.body(x)
        loss = self.loss.reduce(self.loss.per_sample(y, out, self.fused), sample_weight)
        loss.backward()
        return loss.detach(), out.detach()


class _MetricSums:
    """Epoch sums of the training metrics. The fit loop only keeps a reference to each batch's
    output (no tensor work per batch); the metric ops run on the concatenated outputs once per
    chunk of about 64K values, or when logs are read (progress bar, batch callbacks, epoch end).
    Same sums, bounded memory."""

    def __init__(self, updaters, metrics, output_shape):
        self.updaters = updaters
        self.metrics = metrics
        self.chunk_rows = max(1, (1 << 16) // max(math.prod(output_shape[1:]), 1))
        self.targets, self.start, self.pending, self.filled = None, 0, [], 0

    def new_epoch(self, targets):
        """Start over for an epoch whose batches are consecutive slices of ``targets``."""
        self.targets, self.start, self.pending, self.filled = targets, 0, [], 0
        for metric in self.metrics:
            metric.reset_state()

    def add(self, out):
        self.pending.append(out)
        self.filled += out.shape[0]
        if self.filled >= self.chunk_rows:
            self.flush()

    def flush(self):
        if self.filled:
            y = self.targets[self.start:self.start + self.filled]
            out = self.pending[0] if len(self.pending) == 1 else torch.cat(self.pending)
            for update in self.updaters:
                update(y, out)
            self.start += self.filled
            self.pending, self.filled = [], 0


def make_engine(name, model, plan):
    """The engine for ``fit(engine=...)``: 'auto' takes the analytic one when it supports the model."""
    if name not in ENGINES:
        raise ValueError(f"Argument `engine` must be one of {', '.join(map(repr, ENGINES))}, got {name!r}.")
    if name != "autograd":
        from . import backprop
        reason = backprop.unsupported_reason(model, plan)
        if reason is None:
            return backprop.AnalyticEngine(model, plan)
        if name == "analytic":
            raise ValueError(f"engine='analytic' cannot train this model: {reason}. Use engine='autograd'.")
    return AutogradEngine(model, plan)


# -- data preparation ------------------------------------------------------------
def _labels_for_class_weight(loss, y):
    if loss.kind == "sparse":
        return y
    if loss.kind == "categorical":
        return y.argmax(dim=-1)
    if loss.kind == "binary" and y.shape[-1] == 1:
        return y[:, 0].round().long()
    raise ValueError(f"Argument `class_weight` needs class labels, but loss {loss.name!r} "
                     f"({loss.kind} targets of shape {tuple(y.shape)}) has none; use `sample_weight`.")


def class_weight_to_sample_weight(class_weight, loss, y) -> torch.Tensor:
    """Per-sample weights from ``{class: weight}`` (classes not listed weigh 1.0, as in Keras)."""
    from .utils import compute_class_weight
    labels = _labels_for_class_weight(loss, y)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"Argument `class_weight` must be a dict or 'balanced', got {class_weight!r}.")
        class_weight = compute_class_weight(labels.cpu().numpy())
    if not isinstance(class_weight, dict):
        raise ValueError(f"Argument `class_weight` must be a dict {{class: weight}} or 'balanced', "
                         f"got {type(class_weight).__name__}.")
    present = sorted(int(c) for c in torch.unique(labels).tolist())
    table = torch.ones(max(present) + 1, dtype=torch.float32)
    for key, weight in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or int(key) not in present:
            raise ValueError(f"Argument `class_weight` has key {key!r}, which is not a class of `y` "
                             f"(classes present: {present}).")
        if not isinstance(weight, (int, float, np.number)) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"Argument `class_weight` must map classes to finite weights >= 0, "
                             f"got {weight!r} for class {key!r}.")
        table[int(key)] = float(weight)
    return table.to(labels.device)[labels]


def _sample_weights(sample_weight, class_weight, loss, y):
    if sample_weight is not None and class_weight is not None:
        raise ValueError("Arguments `sample_weight` and `class_weight` cannot be given together; "
                         "fold the class weights into `sample_weight`.")
    if class_weight is not None:
        return class_weight_to_sample_weight(class_weight, loss, y)
    if sample_weight is None:
        return None
    weights = inputs.to_tensor(sample_weight, "sample_weight").reshape(-1)
    inputs.check_same_length(y, "y", weights, "sample_weight")
    if float(weights.min()) < 0:
        raise ValueError(f"Argument `sample_weight` must be >= 0, got a minimum of {float(weights.min()):g}.")
    return weights


def _split_validation(validation_split, *tensors):
    if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
        raise ValueError(f"Argument `validation_split` must be a number in [0, 1), got {validation_split!r}.")
    n = tensors[0].shape[0]
    cut = int(math.floor(n * (1.0 - validation_split)))
    if cut == 0 or cut == n:
        raise ValueError(f"Argument `validation_split`={validation_split} leaves {cut} training and "
                         f"{n - cut} validation samples out of {n}; both must be at least 1.")
    train = [None if t is None else t[:cut] for t in tensors]
    val = [None if t is None else t[cut:] for t in tensors]
    return train, val


def prepare_xy(model, x, y, x_arg="x", y_arg="y", sample_weight=None, class_weight=None):
    """Tensors on the device, checked against the model and the loss (once per call)."""
    x = inputs.to_tensor(x, x_arg)
    model._ensure_built(x, x_arg)
    y = inputs.to_tensor(y, y_arg)
    inputs.check_same_length(x, x_arg, y, y_arg)
    y = model.loss.prepare_targets(y, model.output_shape, y_arg)
    return x, y, _sample_weights(sample_weight, class_weight, model.loss, y)


# -- fit ---------------------------------------------------------------------------
def fit(model, x, y, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
        engine="auto"):
    model._require_compiled("fit")
    batch_size = 32 if batch_size is None else inputs.positive_int(batch_size, "batch_size")
    epochs = inputs.positive_int(epochs, "epochs")
    verbose = inputs.verbosity(verbose)
    if not isinstance(shuffle, bool):
        raise ValueError(f"Argument `shuffle` must be True or False, got {shuffle!r}.")
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, int) or initial_epoch < 0:
        raise ValueError(f"Argument `initial_epoch` must be an integer >= 0, got {initial_epoch!r}.")

    x, y, weights = prepare_xy(model, x, y, sample_weight=sample_weight, class_weight=class_weight)
    val = None
    if validation_data is not None:
        val = _prepare_validation_data(model, validation_data)
    elif validation_split:
        (x, y, weights), (xv, yv, wv) = _split_validation(validation_split, x, y, weights)
        val = (xv, yv, wv)
    model.loss.adapt(y)  # once per fit, training targets only (e.g. alpha='balanced')

    plan = OutputPlan(model)
    eng = make_engine(engine, model, plan)
    optimizer = model.optimizer
    metric_updates = plan.metric_updaters(model.metrics)
    metric_names = [m.name for m in model.metrics]
    n = x.shape[0]
    steps = math.ceil(n / batch_size)

    history = History()
    model.history = history
    params = {"verbose": verbose, "epochs": epochs, "steps": steps, "batch_size": batch_size,
              "samples": n, "engine": eng.name}
    cbs = CallbackList(_ordered_callbacks(callbacks, history), model, params)
    nan_stoppers = [cb for cb in cbs.callbacks if isinstance(cb, TerminateOnNaN)]
    model.stop_training = False

    # Shuffled copies are written into buffers allocated once; the batches are views of them,
    # split once per fit (the views see each epoch's new order).
    buffers = [torch.empty_like(t) if (shuffle and t is not None) else t for t in (x, y, weights)]
    x_batches, y_batches = buffers[0].split(batch_size), buffers[1].split(batch_size)
    w_batches = [None] * steps if weights is None else buffers[2].split(batch_size)
    metric_sums = _MetricSums(metric_updates, model.metrics, model.output_shape)

    def running_logs():
        logs = {"loss": loss_total / max(seen, 1)}
        metric_sums.flush()
        for name, metric in zip(metric_names, model.metrics):
            logs[name] = float(metric.result())
        return logs

    cbs.call("on_train_begin", {})
    resumed = model.__dict__.pop("_resume_epoch", None)  # set by BackupAndRestore.on_train_begin
    if resumed is not None:
        initial_epoch = resumed
    # After on_train_begin, which may have restored the optimizer's state.
    apply_update = (optimizer.update_function(stable_grads=eng.stable_grads)
                    if hasattr(optimizer, "update_function") else optimizer.step)
    logs = {}
    halted = False  # set when TerminateOnNaN stops an epoch part-way
    snapshot = None
    for epoch in range(initial_epoch, epochs):
        plan.net.train()
        # Restore point in case an update overflows the weights (used only if the loss turns non-finite).
        snapshot = _finite_snapshot(plan.net, snapshot)
        cbs.call("on_epoch_begin", epoch, {})
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        bar = Progbar(steps, verbose)
        if shuffle:
            order = torch.randperm(n).to(x.device)
            for src, dst in zip((x, y, weights), buffers):
                if src is not None:
                    torch.index_select(src, 0, order, out=dst)
        loss_total, seen = 0.0, 0
        metric_sums.new_epoch(buffers[1])

        for step, (xb, yb, wb) in enumerate(zip(x_batches, y_batches, w_batches)):
            if cbs.batch_begin:
                for cb in cbs.batch_begin:
                    cb.on_train_batch_begin(step, {})
            loss, out = eng.forward_backward(xb, yb, wb)
            value = loss.item()
            if not math.isfinite(value):
                if nan_stoppers:  # TerminateOnNaN: stop quietly; this epoch is not recorded
                    _restore_if_non_finite(plan.net, snapshot)
                    for cb in nan_stoppers:
                        cb.on_nonfinite_loss(epoch, step, value)
                    halted = True
                    break
                model.history = history
                where = ("those of the last finite step" if not _restore_if_non_finite(plan.net, snapshot) else
                         "restored to the last finite ones seen at an epoch start, since an update overflowed them")
                raise NonFiniteLossError(
                    f"The loss became {value} at epoch {epoch + 1}, batch {step + 1} of {steps}; training "
                    f"stopped before applying that update, so the weights are {where} "
                    f"(history so far is in model.history). Usual causes: a learning rate too high "
                    f"(now {getattr(optimizer, 'learning_rate', '?')}), unscaled inputs, or a loss that "
                    f"does not match the output activation.")
            apply_update()
            size = xb.shape[0]
            loss_total += value * size
            seen += size
            if metric_updates:
                metric_sums.add(out)
            if cbs.batch_end:
                batch_logs = running_logs()
                for cb in cbs.batch_end:
                    cb.on_train_batch_end(step, batch_logs)
            bar.update(step + 1, running_logs)
            if model.stop_training:
                break
        if halted:
            break

        logs = running_logs()
        if val is not None:
            val_logs = _evaluate_tensors(model, plan, *val, batch_size=batch_size)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        bar.finish(logs)
        cbs.call("on_epoch_end", epoch, logs)
        if model.stop_training:
            break
    cbs.call("on_train_end", logs)
    plan.net.eval()
    return history


def _prepare_validation_data(model, validation_data):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("Argument `validation_data` must be a tuple (x_val, y_val) or "
                         f"(x_val, y_val, sample_weight_val), got {type(validation_data).__name__}"
                         f"{' of length ' + str(len(validation_data)) if hasattr(validation_data, '__len__') else ''}.")
    xv, yv, wv = (*validation_data, None)[:3]
    return prepare_xy(model, xv, yv, "validation_data[0]", "validation_data[1]", sample_weight=wv)


# -- evaluate / predict -----------------------------------------------------------------
@torch.no_grad()
def _evaluate_tensors(model, plan, x, y, weights, batch_size):
    """Per-sample averages of loss and metrics over ``x`` (eval mode, no gradients)."""
    was_training = plan.net.training
    plan.net.eval()
    updaters = plan.metric_updaters(model.metrics)
    for metric in model.metrics:
        metric.reset_state()
    loss_total = 0.0
    n = x.shape[0]
    for start in range(0, n, batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        wb = None if weights is None else weights[start:start + batch_size]
        out = plan.body(xb)
        loss = model.loss.reduce(model.loss.per_sample(yb, out, plan.fused), wb)
        loss_total += float(loss) * xb.shape[0]
        for update in updaters:
            update(yb, out)
    plan.net.train(was_training)
    logs = {"loss": loss_total / n}
    logs.update({m.name: float(m.result()) for m in model.metrics})
    return logs


def evaluate(model, x, y, batch_size=None, verbose="auto", sample_weight=None, return_dict=False):
    model._require_compiled("evaluate")
    batch_size = 32 if batch_size is None else inputs.positive_int(batch_size, "batch_size")
    verbose = inputs.verbosity(verbose)
    x, y, weights = prepare_xy(model, x, y, sample_weight=sample_weight)
    bar = Progbar(math.ceil(x.shape[0] / batch_size), verbose)
    logs = _evaluate_tensors(model, OutputPlan(model), x, y, weights, batch_size)
    bar.finish(logs)
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


@torch.no_grad()
def predict(model, x, batch_size=None, verbose="auto"):
    batch_size = 32 if batch_size is None else inputs.positive_int(batch_size, "batch_size")
    verbose = inputs.verbosity(verbose)
    x = inputs.to_tensor(x, "x")
    model._require_built("predict", x)
    net = model.to_torch()
    was_training = net.training
    net.eval()
    bar = Progbar(math.ceil(x.shape[0] / batch_size), verbose)
    outputs = [net(x[start:start + batch_size]) for start in range(0, x.shape[0], batch_size)]
    net.train(was_training)
    bar.finish()
    return torch.cat(outputs).cpu().numpy()


def _ordered_callbacks(callbacks, history):
    """Keras's order: the user's callbacks, then History (so it records keys they add, such as
    ``learning_rate``); BackupAndRestore goes last so its backup holds the complete epoch."""
    callbacks = list(callbacks or [])
    backups = [cb for cb in callbacks if isinstance(cb, BackupAndRestore)]
    return [cb for cb in callbacks if not isinstance(cb, BackupAndRestore)] + [history] + backups
