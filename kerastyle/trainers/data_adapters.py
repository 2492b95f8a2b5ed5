"""Turning what users pass to ``fit``/``evaluate``/``predict`` into batches on the device.

``ArrayData`` holds in-memory data (numpy arrays, tensors, lists; one array per model input and
per output, given as a single array, a list or a dict keyed by input/output names), converted and
checked once per call. ``EpochBatches`` serves its batches: for shuffled training the data is
copied once per epoch into buffers allocated once per fit, in the epoch's order, and the batches
are views of those buffers split once per fit.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import inputs

__all__ = ["ArrayData", "EpochBatches", "class_weight_to_sample_weight"]


def _as_list(data, names, arg, what):
    """One entry per name from a single array, a list/tuple (in order) or a dict (by name)."""
    n = len(names)
    if isinstance(data, dict):
        missing = [name for name in names if name not in data]
        if missing:
            raise ValueError(f"Argument `{arg}` is a dict without entries for {what} {missing}; the model's {what}s "
                             f"are {names}, the dict has {sorted(map(str, data))}.")
        extra = sorted(set(map(str, data)) - set(names))
        if extra:
            raise ValueError(f"Argument `{arg}` has entries {extra} that are not {what}s of the model ({names}).")
        return [data[name] for name in names]
    if n > 1:
        if not isinstance(data, (list, tuple)) or len(data) != n:
            got = f"a list of {len(data)}" if isinstance(data, (list, tuple)) else type(data).__name__
            raise ValueError(f"Argument `{arg}`: the model has {n} {what}s ({', '.join(names)}), so it needs a list of "
                             f"{n} arrays or a dict keyed by {what} name, got {got}.")
        return list(data)
    if isinstance(data, (list, tuple)) and len(data) == 1 and hasattr(data[0], "shape") \
            and not isinstance(data[0], (int, float)):
        return [data[0]]
    return [data]


def _labels_for_class_weight(loss, y):
    if loss.kind == "sparse":
        return y
    if loss.kind == "categorical":
        return y.argmax(dim=-1)
    if loss.kind == "binary" and y.dim() == 2 and y.shape[-1] == 1:
        return y[:, 0].round().long()
    raise ValueError(f"Argument `class_weight` needs class labels, but loss {loss.name!r} ({loss.kind} targets of "
                     f"shape {tuple(y.shape)}) has none; use `sample_weight`.")


def class_weight_to_sample_weight(class_weight, loss, y) -> torch.Tensor:
    """Per-sample weights from ``{class: weight}`` (classes not listed weigh 1.0, as in Keras)."""
    from ..utils import compute_class_weight
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
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)) or not math.isfinite(weight) \
                or weight < 0:
            raise ValueError(f"Argument `class_weight` must map classes to finite weights >= 0, got {weight!r} for "
                             f"class {key!r}.")
        table[int(key)] = float(weight)
    return table.to(labels.device)[labels]


class ArrayData:
    """In-memory inputs ``x``, targets ``y`` and sample weights ``sw``: lists of tensors (one per model input /
    output; ``y`` and ``sw`` may be None), all with the same number of samples ``n``."""

    def __init__(self, x, y=None, sw=None):
        self.x, self.y, self.sw = x, y, sw
        self.n = x[0].shape[0]

    @classmethod
    def inputs_only(cls, model, x, arg="x"):
        names = getattr(model, "input_names", None) or ["input"]
        dtypes = model._input_dtypes()
        arrays = _as_list(x, names, arg, "input")
        xs = [inputs.to_tensor(a, arg if len(arrays) == 1 else f"{arg}[{i}]", dtype=dt or torch.float32)
              for i, (a, dt) in enumerate(zip(arrays, dtypes))]
        for i, t in enumerate(xs[1:], 1):
            inputs.check_same_length(xs[0], f"{arg}[0]", t, f"{arg}[{i}]")
        model._ensure_built(xs[0] if len(xs) == 1 else xs)
        return cls(xs)

    @classmethod
    def from_user(cls, model, x, y, sample_weight=None, class_weight=None, x_arg="x", y_arg="y", sw_arg="sample_weight"):
        """Inputs and targets checked against the built, compiled model; targets shaped for each loss."""
        data = cls.inputs_only(model, x, x_arg)
        plan = model._compile_outputs()
        names = [o.name for o in plan.outputs]
        if y is None:
            raise ValueError(f"Argument `{y_arg}` is None; fit and evaluate need targets for every output "
                             f"({', '.join(names)}).")
        targets = _as_list(y, names, y_arg, "output")
        ys = []
        for i, (target, spec) in enumerate(zip(targets, plan.outputs)):
            arg = y_arg if len(targets) == 1 else f"{y_arg}[{spec.name!r}]"
            t = inputs.to_tensor(target, arg, dtype=None if spec.loss.kind == "custom" else torch.float32)
            inputs.check_same_length(data.x[0], x_arg, t, arg)
            ys.append(spec.loss.prepare_targets(t, spec.shape, arg))
        data.y = ys
        if sample_weight is not None and class_weight is not None:
            raise ValueError("Arguments `sample_weight` and `class_weight` cannot be given together; fold the class "
                             "weights into `sample_weight`.")
        if class_weight is not None:
            if len(ys) > 1:
                raise ValueError("Argument `class_weight` is only supported for models with one output; use "
                                 "`sample_weight` (one array per output).")
            data.sw = [class_weight_to_sample_weight(class_weight, plan.outputs[0].loss, ys[0])]
        elif sample_weight is not None:
            weights = _as_list(sample_weight, names, sw_arg, "output")
            data.sw = []
            for target, w in zip(ys, weights):
                w = inputs.to_tensor(w, sw_arg).reshape(-1)
                inputs.check_same_length(target, y_arg, w, sw_arg)
                if float(w.min()) < 0:
                    raise ValueError(f"Argument `{sw_arg}` must be >= 0, got a minimum of {float(w.min()):g}.")
                data.sw.append(w)
        return data

    def split(self, validation_split):
        """Keras's ``validation_split``: the last fraction of the samples, taken before any shuffling."""
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float, np.number)) \
                or not 0 <= validation_split < 1:
            raise ValueError(f"Argument `validation_split` must be a number in [0, 1), got {validation_split!r}.")
        n = self.n
        cut = int(math.floor(n * (1.0 - float(validation_split))))
        if cut == 0 or cut == n:
            raise ValueError(f"Argument `validation_split`={validation_split} leaves {cut} training and {n - cut} "
                             f"validation samples out of {n}; both must be at least 1.")

        def part(tensors, s):
            return None if tensors is None else [t[s] for t in tensors]
        return (ArrayData(part(self.x, slice(0, cut)), part(self.y, slice(0, cut)), part(self.sw, slice(0, cut))),
                ArrayData(part(self.x, slice(cut, n)), part(self.y, slice(cut, n)), part(self.sw, slice(cut, n))))

    def streams(self) -> list:
        return [*self.x, *(self.y or []), *(self.sw or [])]


class EpochBatches:
    """The batches of ``data`` for each epoch: ``(x, y, sample_weight)`` shaped as the model takes them
    (a tensor for one input/output, lists for several)."""

    def __init__(self, data: ArrayData, batch_size: int, shuffle: bool):
        self.data, self.batch_size, self.shuffle = data, batch_size, shuffle
        self.n = data.n
        self.steps = math.ceil(self.n / batch_size)
        sources = data.streams()
        self.sources = sources
        self.buffers = [torch.empty_like(t) for t in sources] if shuffle else sources
        split = [b.split(batch_size) for b in self.buffers]
        nx, ny = len(data.x), len(data.y or [])
        xs, ys, ws = split[:nx], split[nx:nx + ny], split[nx + ny:]
        self.x_batches = xs[0] if nx == 1 else [list(b) for b in zip(*xs)]
        self.y_batches = (ys[0] if ny == 1 else [list(b) for b in zip(*ys)]) if ny else [None] * self.steps
        self.w_batches = (ws[0] if len(ws) == 1 else [list(b) for b in zip(*ws)]) if ws else [None] * self.steps
        self.targets = self.buffers[nx:nx + ny]

    def new_epoch(self, order=None):
        """Shuffle into the buffers (``order``, else a fresh ``randperm``) and return the batches."""
        if self.shuffle:
            order = (torch.randperm(self.n) if order is None else order).to(self.sources[0].device)
            for src, dst in zip(self.sources, self.buffers):
                torch.index_select(src, 0, order, out=dst)
        return zip(self.x_batches, self.y_batches, self.w_batches)
