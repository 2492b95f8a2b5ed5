"""The training, evaluation and prediction loops.

One training step, in order: take the next batch (views of the epoch's shuffled copy, split once
per fit), ``engine.forward_backward`` (forward, loss, gradients into ``.grad``), check that the loss
and the weights are finite (one host sync per step), the optimizer update (the function the
optimizer chose once per fit), constraints, the epoch sums, then batch callbacks and the progress
bar. Everything else (conversion, checks, device placement, metric and engine set-up, weight
packing) happens once per ``fit``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import inputs, packing
from ..callbacks import CallbackList, History
from ..engines import make_engine
from ..layers.layer import collect_losses
from ..progbar import Progbar
from . import distributed as distributed_fit
from .data_adapters import ArrayData, EpochBatches, StreamData, is_stream


class NonFiniteLossError(FloatingPointError):
    """Raised when a training batch's loss, or the weights after an update, are NaN or infinite."""


def _weights_finite_snapshot(params, previous):
    """A copy of ``params`` if they are all finite, else ``previous`` (one sync per epoch)."""
    copy = [p.detach().clone() for p in params]
    finite = bool(torch.stack([torch.isfinite(c).all() for c in copy]).all()) if copy else True
    return copy if finite else previous


def _all_finite(params) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in params)


@torch.no_grad()
def _restore(params, snapshot) -> bool:
    """Copy ``snapshot`` back if the weights are not all finite; True if it did."""
    if snapshot is None or _all_finite(params):
        return False
    for param, saved in zip(params, snapshot):
        param.copy_(saved)
    return True


def _weight_sum_function(params):
    """A 0-d tensor function whose value is finite when every weight is (a sum propagates NaN and inf;
    a finite sum that overflows is settled by an exact scan). One buffer when the weights are packed."""
    from ..packing import flat_view
    flat = flat_view([p.detach() for p in params]) if params else None
    if flat is not None:
        return flat.sum
    detached = [p.detach() for p in params]
    if not detached:
        return lambda: torch.zeros(())
    return lambda: torch.stack([p.sum() for p in detached]).sum()


class _MetricAccumulator:
    """Epoch values of the compiled metrics. The fit loop only keeps references to each batch's targets
    and outputs; the stateful metrics are updated on concatenated chunks of about 64K output values, or
    when logs are read (progress bar, batch callbacks, epoch end). Same result, bounded memory."""

    def __init__(self, plan):
        self.plan = plan
        self.specs = [(i, spec) for i, spec in enumerate(plan.outputs) if spec.metrics]
        width = max((math.prod(s.shape[1:]) if all(d is not None for d in s.shape[1:]) else 1024
                     for _, s in self.specs), default=1)
        self.chunk_rows = max(1, (1 << 16) // max(width, 1))
        self.pending, self.filled = [], 0

    def reset(self):
        self.pending, self.filled = [], 0
        for _, spec in self.specs:
            for metric in spec.metrics:
                metric.reset_state()

    def add(self, y, out):
        if self.specs:
            self.pending.append((y, out))
            self.filled += (out if torch.is_tensor(out) else out[0]).shape[0]
            if self.filled >= self.chunk_rows:
                self.flush()

    def flush(self):
        if not self.filled:
            return
        single = self.plan.single
        for i, spec in self.specs:
            ys = [y if single else y[i] for y, _ in self.pending]
            outs = [o if single else o[i] for _, o in self.pending]
            y = ys[0] if len(ys) == 1 else torch.cat(ys)
            out = outs[0] if len(outs) == 1 else torch.cat(outs)
            probabilities = self.plan.probabilities(i, out)
            for metric in spec.metrics:
                metric.update_state(y, probabilities)
        self.pending, self.filled = [], 0

    def results(self) -> dict:
        self.flush()
        logs = {}
        single = self.plan.single
        for _, spec in self.specs:
            for metric in spec.metrics:
                logs[metric.name if single else f"{spec.name}_{metric.name}"] = float(metric.result())
        return logs


def _no_update():
    """The update of a model without trainable weights."""


class _BatchLogs(dict):
    """Batch logs for callbacks: ``loss`` at once; the metrics are computed only when a callback reads them
    (reading metrics means updating them from the pending outputs: not needed for every callback)."""

    def __init__(self, loss, complete):
        super().__init__(loss=loss)
        self._complete = complete
        self._filled = False

    def _fill(self):
        if not self._filled:
            self._filled = True
            for key, value in self._complete().items():
                super().setdefault(key, value)

    def __getitem__(self, key):
        if key != "loss":
            self._fill()
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key != "loss":
            self._fill()
        return super().get(key, default)

    def __contains__(self, key):
        self._fill()
        return super().__contains__(key)

    def __iter__(self):
        self._fill()
        return super().__iter__()

    def __len__(self):
        self._fill()
        return super().__len__()

    def items(self):
        self._fill()
        return super().items()

    def keys(self):
        self._fill()
        return super().keys()

    def values(self):
        self._fill()
        return super().values()

    def copy(self):
        self._fill()
        return dict(self)

    def __repr__(self):
        self._fill()
        return super().__repr__()


def _callbacks_list(callbacks):
    if callbacks is None:
        return []
    if isinstance(callbacks, (list, tuple)):
        return list(callbacks)
    return [callbacks]  # a single callback, as Keras accepts


def _has_progbar_logger(callbacks) -> bool:
    from ..callbacks import ProgbarLogger
    return any(isinstance(cb, ProgbarLogger) for cb in callbacks)


def _check_epoch_args(batch_size, epochs, verbose, shuffle, initial_epoch):
    batch_size = 32 if batch_size is None else inputs.positive_int(batch_size, "batch_size")
    epochs = inputs.positive_int(epochs, "epochs")
    verbose = inputs.verbosity(verbose)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ValueError(f"Argument `shuffle` must be True or False, got {shuffle!r}.")
    if isinstance(initial_epoch, (bool, np.bool_)) or not isinstance(initial_epoch, (int, np.integer)) \
            or initial_epoch < 0:
        raise ValueError(f"Argument `initial_epoch` must be an integer >= 0, got {initial_epoch!r}.")
    return batch_size, epochs, verbose, bool(shuffle), int(initial_epoch)


# -- fit --------------------------------------------------------------------------------------------
def fit(model, *args, distribute="auto", **kwargs):
    """``Model.fit``: on one process, or on each of several (kerastyle.trainers.distributed; ``distribute``
    is 'auto', True or False)."""
    with distributed_fit.fit_scope(model, distribute, kwargs) as run:
        return _fit(model, *args, run=run, **kwargs)


def _fit(model, x, y, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
        steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
        engine="auto", run=None):
    model._require_compiled("fit")
    batch_size, epochs, verbose, shuffle, initial_epoch = _check_epoch_args(batch_size, epochs, verbose, shuffle,
                                                                            initial_epoch)
    validation_batch_size = batch_size if validation_batch_size is None else inputs.positive_int(
        validation_batch_size, "validation_batch_size")
    validation_freq = inputs.positive_int(validation_freq, "validation_freq")

    batches, val = _training_sources(model, x, y, sample_weight, class_weight, batch_size, shuffle, steps_per_epoch,
                                     validation_split, validation_data, validation_steps, validation_batch_size)
    plan = model._compile_outputs()

    eng, fallback_reason = make_engine(engine, model, plan)
    optimizer = model.optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if packing.packable(params):  # one buffer (the analytic engine packed it already): one sum checks them all
        packing.pack(params)
    constrained = [(p, c) for p, c in model._all_constraints() if p.requires_grad]
    batches = run.batches_for(batches, batch_size, shuffle)  # this process's pieces on several
    eng = run.wrap_engine(eng, model, plan)  # precision policy; gradient sync on several processes
    steps = batches.steps
    metric_acc = _MetricAccumulator(plan)
    part_names = None if plan.single else [f"{o.name}_loss" for o in plan.outputs]

    history = History()
    model.history = history
    run_params = {"verbose": verbose, "epochs": epochs, "steps": steps, "batch_size": batch_size,
                  "samples": batches.n, "engine": eng.name, "initial_epoch": initial_epoch}
    if fallback_reason is not None and engine == "auto":
        run_params["analytic_unsupported"] = fallback_reason
    user_callbacks = _callbacks_list(callbacks)
    cbs = CallbackList(user_callbacks + [history], model, run_params)
    bar_verbose = 0 if _has_progbar_logger(user_callbacks) else verbose  # one bar: the callback's
    model.stop_training = False
    weight_sum = _weight_sum_function(params)

    def running_logs():
        logs = {"loss": loss_total / max(seen, 1)}
        if part_names is not None:
            logs.update({name: float(total) / max(seen, 1) for name, total in zip(part_names, part_totals)})
        logs.update(metric_acc.results())
        return logs

    was_training = model.training
    cbs.call("on_train_begin", {})
    initial_epoch = run_params["initial_epoch"]  # BackupAndRestore may have set it while restoring
    # After on_train_begin, which may have restored the optimizer's state.
    if not params:
        apply_update = _no_update
    elif hasattr(optimizer, "update_function"):
        apply_update = optimizer.update_function(stable_grads=eng.stable_grads)
    else:  # a plain torch optimizer
        apply_update = optimizer.step
    apply_update = run.update_function(apply_update, optimizer)  # through the GradScaler for float16
    logs = {}
    snapshot = None
    halted = False
    try:
        for epoch in range(initial_epoch, epochs):
            model.train()
            snapshot = _weights_finite_snapshot(params, snapshot)  # restore point if an update overflows
            cbs.call("on_epoch_begin", epoch, {})
            if bar_verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            bar = Progbar(steps, bar_verbose)
            loss_total, seen = 0.0, 0
            part_totals = [0.0] * len(part_names or [])
            metric_acc.reset()
            checked = torch.zeros(())  # the weights' sum after the previous update (finite before any)

            for step, (xb, yb, wb) in enumerate(run.new_epoch(batches, epoch)):  # (seed, epoch) order
                if cbs.batch_begin:
                    for hook in cbs.batch_begin:
                        hook(step, {})
                loss, out = eng.forward_backward(xb, yb, wb)
                value, weights_value = torch.stack((loss.float(), checked.float())).tolist()
                # (a non-finite weight sum may be finite weights whose sum overflowed: then the exact scan)
                if not math.isfinite(value) or (not math.isfinite(weights_value) and not _all_finite(params)):
                    halted = _non_finite(model, cbs, params, snapshot, epoch, step, steps, value,
                                         weights_value, optimizer)  # (step: the update of batch `step`)
                    break
                apply_update()
                for param, constraint in constrained:
                    with torch.no_grad():
                        param.copy_(constraint(param))
                checked = weight_sum()
                size = (xb if torch.is_tensor(xb) else xb[0]).shape[0]
                loss_total += value * size
                seen += size
                if part_names is not None:
                    for i, part in enumerate(eng.parts):
                        part_totals[i] += part * size
                metric_acc.add(yb, out)
                if cbs.batch_end:
                    batch_logs = _BatchLogs(loss_total / seen, running_logs)
                    for hook in cbs.batch_end:
                        hook(step, batch_logs)
                bar.update(step + 1, running_logs)
                if cbs.batch_end and run.multi:
                    model.stop_training = run.stop_everywhere(model.stop_training)
                if model.stop_training:
                    break
            batches.end_epoch()
            if halted:
                break
            if not math.isfinite(float(checked)) and not _all_finite(params):
                halted = _non_finite(model, cbs, params, snapshot, epoch, steps, steps, value, float("nan"),
                                     optimizer)
                break

            if run.multi:  # the sums of every process, once per epoch
                loss_total, seen, part_totals = run.reduce_epoch(loss_total, seen, part_totals, metric_acc)
            logs = running_logs()
            if val is not None and (epoch + 1) % validation_freq == 0:
                cbs.call("on_test_begin", {})
                val_logs = _evaluate_data(model, plan, val, cbs, sharded=run.multi)
                cbs.call("on_test_end", dict(val_logs))
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            bar.finish(logs)
            cbs.call("on_epoch_end", epoch, logs)
            if run.multi:
                model.stop_training = run.stop_everywhere(model.stop_training)
            if model.stop_training or batches.exhausted:  # a generator that ran out cannot serve another epoch
                break
        cbs.call("on_train_end", logs)
        if hasattr(optimizer, "finalize_variable_values"):
            optimizer.finalize_variable_values()
    finally:
        model.train(was_training)
    return history


def _non_finite(model, cbs, params, snapshot, epoch, step, steps, value, weights_value, optimizer) -> bool:
    """Handle a non-finite loss or weights: callbacks see ``loss`` as NaN/inf; if one of them stops training
    (TerminateOnNaN) the epoch ends quietly, otherwise NonFiniteLossError. The weights are restored when
    they are not finite. Returns True (halted) or raises."""
    restored = _restore(params, snapshot)
    reported = value if not math.isfinite(value) else float("nan")
    model.stop_training = False
    for hook in cbs.batch_end:
        hook(step, {"loss": reported})
    if model.stop_training:
        return True
    if math.isfinite(value):
        what = (f"the update of epoch {epoch + 1}, batch {max(step, 1)} of {steps} made the weights non-finite "
                f"({weights_value})")
    else:
        what = f"the loss became {value} at epoch {epoch + 1}, batch {step + 1} of {steps}"
    where = ("restored to the last finite ones seen at an epoch start" if restored else
             "those of the last finite step (the failing update was not applied)")
    raise NonFiniteLossError(
        f"Training stopped: {what}; the weights are {where} (history so far is in model.history). Usual causes: a "
        f"learning rate too high (now {getattr(optimizer, 'learning_rate', '?')}), unscaled inputs, or a loss that "
        f"does not match the output activation.")


def _training_sources(model, x, y, sample_weight, class_weight, batch_size, shuffle, steps_per_epoch,
                      validation_split, validation_data, validation_steps, validation_batch_size):
    """The adapters of the training data and of the validation data (None without validation)."""
    if is_stream(x):
        _refuse_with_stream(x, "x", y=y, sample_weight=sample_weight)
        if validation_split:
            raise ValueError(f"Argument `validation_split` is only supported for arrays; `x` is a "
                             f"{type(x).__name__}: pass `validation_data` instead.")
        batches = StreamData(model, x, "x", batch_size=batch_size, shuffle=shuffle, steps=steps_per_epoch,
                             class_weight=class_weight)
        plan = model._compile_outputs()
        for spec in plan.outputs:
            if getattr(spec.loss, "alpha", None) == "balanced":
                raise ValueError(f"Loss {spec.loss.name!r} with alpha='balanced' computes its class weights from all "
                                 f"training targets at once, which a {type(x).__name__} does not give; pass arrays "
                                 f"or explicit alpha values.")
        data = None
    else:
        if steps_per_epoch is not None:
            raise ValueError("Argument `steps_per_epoch` applies to generators and datasets; with arrays the batch "
                             "size sets the steps.")
        data = ArrayData.from_user(model, x, y, sample_weight, class_weight)
        inputs.warn_if_unscaled(data.x, getattr(model, "input_names", None) or ["x"], data.raw_x)
    val = None
    if validation_data is not None:
        val = _validation_data(model, validation_data, validation_batch_size, validation_steps)
    else:
        if validation_steps is not None:
            raise ValueError("Argument `validation_steps` needs `validation_data` that is a generator or dataset.")
        if validation_split and data is not None:
            data, val_data = data.split(validation_split)
            val = EpochBatches(val_data, validation_batch_size, shuffle=False)
    if data is not None:
        plan = model._compile_outputs()
        for spec, target in zip(plan.outputs, data.y):
            spec.loss.adapt(target)  # once per fit, training targets only (e.g. alpha='balanced')
        batches = EpochBatches(data, batch_size, shuffle)
    return batches, val


def _refuse_with_stream(x, arg, **given):
    """Keras refuses ``y`` and ``sample_weight`` next to a dataset or generator (the batches carry them)."""
    for name, value in given.items():
        if value is not None:
            raise ValueError(f"Argument `{name}` must not be given when `{arg}` is a {type(x).__name__}: its batches "
                             f"carry the targets and sample weights as (x, y) or (x, y, sample_weight).")


def _validation_data(model, validation_data, batch_size, steps):
    """The validation adapter: a batch source, or a tuple of arrays."""
    if is_stream(validation_data):
        return StreamData(model, validation_data, "validation_data", batch_size=batch_size, shuffle=False,
                          steps=steps, steps_arg="validation_steps")
    if steps is not None:
        raise ValueError("Argument `validation_steps` applies to generators and datasets; with arrays "
                         "`validation_batch_size` sets the steps.")
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        length = f" of length {len(validation_data)}" if hasattr(validation_data, "__len__") else ""
        raise ValueError("Argument `validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
                         f"sample_weight_val), or a generator or dataset, got "
                         f"{type(validation_data).__name__}{length}.")
    xv, yv, wv = (*validation_data, None)[:3]
    data = ArrayData.from_user(model, xv, yv, wv, x_arg="validation_data[0]", y_arg="validation_data[1]",
                               sw_arg="validation_data[2]")
    return EpochBatches(data, batch_size, shuffle=False)


# -- evaluate / predict ---------------------------------------------------------------------------------
@torch.no_grad()
def _evaluate_data(model, plan, batches, cbs=None, sharded=False):
    """Per-sample averages of the loss (with regularization, as Keras reports it) and the metrics over
    the batches of one pass of the adapter ``batches``, in inference mode. ``sharded`` (several
    processes, in-memory data): each process evaluates its shard and the sums are reduced."""
    if sharded and isinstance(batches, EpochBatches):
        batches = EpochBatches(distributed_fit.shard(batches.data), batches.batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    penalties = model._all_regularizers()
    acc = _MetricAccumulator(plan)
    acc.reset()
    part_names = None if plan.single else [f"{o.name}_loss" for o in plan.outputs]
    loss_total, part_totals, seen = 0.0, [0.0] * len(part_names or []), 0
    try:
        for step, (xb, yb, wb) in enumerate(batches.new_epoch()):
            if cbs is not None:
                cbs.call("on_test_batch_begin", step, {})
            with collect_losses() as extra:
                out = plan.forward(xb, False)
            loss, parts = _batch_loss(plan, yb, out, wb, penalties, extra)
            value = float(loss)
            if not math.isfinite(value):  # a float32 reduction that overflowed: redo it in float64
                loss, parts = _batch_loss(plan, *_as_float64((yb, out, wb)), penalties, extra)
                value = float(loss)
            size = (xb if torch.is_tensor(xb) else xb[0]).shape[0]
            loss_total += value * size
            seen += size
            if parts is not None:
                for i, part in enumerate(parts):
                    part_totals[i] += float(part) * size
            acc.add(yb, out)
            if cbs is not None:
                cbs.call("on_test_batch_end", step, {"loss": loss_total / seen})
        batches.end_epoch()
    finally:
        model.train(was_training)
    if sharded:
        loss_total, seen, part_totals = distributed_fit.reduce_sums(loss_total, seen, part_totals, acc)
    if seen == 0:
        raise ValueError("The evaluation data gave no batches (a generator that ran out?); evaluate needs at least "
                         "one batch.")
    logs = {"loss": loss_total / seen}
    if part_names is not None:
        logs.update({name: t / seen for name, t in zip(part_names, part_totals)})
    logs.update(acc.results())
    return logs


def _batch_loss(plan, yb, out, wb, penalties, extra):
    loss, parts = plan.total_loss(yb, out, wb)
    for param, regularizer in penalties:
        loss = loss + regularizer(param)
    for term in extra:
        loss = loss + term
    return loss, parts


def _as_float64(structure):
    """Float tensors (in nested lists/tuples) as float64; others unchanged."""
    if torch.is_tensor(structure):
        return structure.double() if structure.is_floating_point() else structure
    if isinstance(structure, (list, tuple)):
        return type(structure)(_as_float64(s) for s in structure)
    return structure


def evaluate(model, x, y, batch_size=None, verbose="auto", sample_weight=None, steps=None, callbacks=None,
             return_dict=False):
    model._require_compiled("evaluate")
    batch_size = 32 if batch_size is None else inputs.positive_int(batch_size, "batch_size")
    verbose = inputs.verbosity(verbose)
    if is_stream(x):
        _refuse_with_stream(x, "x", y=y, sample_weight=sample_weight)
        batches = StreamData(model, x, "x", batch_size=batch_size, steps=steps, steps_arg="steps")
    else:
        if steps is not None:
            raise ValueError("Argument `steps` applies to generators and datasets; with arrays the batch size sets "
                             "it.")
        batches = EpochBatches(ArrayData.from_user(model, x, y, sample_weight), batch_size, shuffle=False)
    plan = model._compile_outputs()
    user_callbacks = _callbacks_list(callbacks)
    cbs = CallbackList(user_callbacks, model, {"verbose": verbose, "steps": batches.steps})
    cbs.call("on_test_begin", {})
    sharded = distributed_fit.distributed.is_distributed()  # each process evaluates a shard
    if sharded and not distributed_fit.distributed.is_chief():
        verbose = 0
    bar = Progbar(batches.steps, 0 if _has_progbar_logger(user_callbacks) else verbose)
    logs = _evaluate_data(model, plan, batches, cbs, sharded=sharded)
    bar.finish(logs)
    cbs.call("on_test_end", logs)
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


@torch.no_grad()
def predict(model, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    batch_size = 32 if batch_size is None else inputs.positive_int(batch_size, "batch_size")
    verbose = inputs.verbosity(verbose)
    if not model.layers:
        raise ValueError(f"Model {model.name!r} has no layers; add some before predict().")
    if is_stream(x):
        batches = StreamData(model, x, "x", batch_size=batch_size, steps=steps, targets=False, steps_arg="steps")
    else:
        if steps is not None:
            raise ValueError("Argument `steps` applies to generators and datasets; with arrays the batch size sets "
                             "it.")
        if not model.built and not hasattr(model, "call"):
            model._require_built("predict")
        batches = EpochBatches(ArrayData.inputs_only(model, x), batch_size, shuffle=False)
    cbs = CallbackList(_callbacks_list(callbacks), model, {"verbose": verbose, "steps": batches.steps})
    cbs.call("on_predict_begin", {})
    forward = model._forward_function()
    was_training = model.training
    model.eval()
    bar = Progbar(batches.steps, verbose)
    outputs = []
    try:
        for step, (xb, _, _) in enumerate(batches.new_epoch()):
            cbs.call("on_predict_batch_begin", step, {})
            out = forward(xb, False)
            outputs.append(out)
            cbs.call("on_predict_batch_end", step, {"outputs": out})
        batches.end_epoch()
    finally:
        model.train(was_training)
    bar.finish()
    cbs.call("on_predict_end", {})
    if not outputs:
        raise ValueError("predict(): the input gave no batches (a generator that ran out?).")
    if torch.is_tensor(outputs[0]):
        return torch.cat(outputs).cpu().numpy()
    return [torch.cat([o[i] for o in outputs]).cpu().numpy() for i in range(len(outputs[0]))]
