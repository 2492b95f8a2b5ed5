"""Turning what users pass to ``fit``/``evaluate``/``predict`` into batches on the device.

Every source becomes an *adapter* with one interface: ``new_epoch()`` (an iterator of
``(x, y, sample_weight)`` batches shaped as the model takes them, on the model's device),
``end_epoch()``, ``steps`` (batches per epoch, None when unknown), ``n`` (samples, None when
unknown) and ``exhausted`` (a one-shot source ran dry: training cannot go on).

- In-memory arrays (numpy, tensors, lists): ``ArrayData`` holds them, converted and checked once per
  call; ``EpochBatches`` serves their batches. For shuffled training the data is copied once per epoch
  into buffers allocated once per fit, in the epoch's order, and the batches are views of those buffers
  split once per fit. Integer inputs narrower than float32 (``uint8`` images) stay as they are and are
  cast per batch on the device; on CUDA, arrays too large for the device stay on the host (pinned
  shuffle buffers, non-blocking copies per batch).
- Streams (``StreamData``): a ``torch.utils.data.DataLoader`` (its own batching), a torch ``Dataset``
  (batched here with ``batch_size``/``shuffle``), a ``kerastyle.utils.PyDataset``/``Sequence``, or a
  Python generator/iterator. Each batch is ``x``, ``(x, y)`` or ``(x, y, sample_weight)``, converted
  when it arrives.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from .. import backend, inputs

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


def _sample_shape(shape) -> str | None:
    """``"an array of shape (n_samples, 28, 28)"`` for a model input shape ``(None, 28, 28)``."""
    if not isinstance(shape, tuple) or not shape:
        return None
    return f"an array of shape {('n_samples', *shape[1:])}".replace("'", "")


class ArrayData:
    """In-memory inputs ``x``, targets ``y`` and sample weights ``sw``: lists of tensors (one per model input /
    output; ``y`` and ``sw`` may be None), all with the same number of samples ``n``."""

    def __init__(self, x, y=None, sw=None, x_dtypes=None):
        self.x, self.y, self.sw = x, y, sw
        self.n = x[0].shape[0]
        # The dtype the model computes each input in; a stored input of another dtype (uint8 images)
        # or on the host is converted per batch.
        self.x_dtypes = x_dtypes or [t.dtype for t in x]
        self.raw_x = None  # the user's arrays, one per input (inputs_only), for checks on their type

    @classmethod
    def inputs_only(cls, model, x, arg="x"):
        names = getattr(model, "input_names", None) or ["input"]
        dtypes = model._input_dtypes()
        arrays = _as_list(x, names, arg, "input")
        shapes = getattr(model, "input_shape", None) if model.built else None
        shapes = [shapes] * len(arrays) if isinstance(shapes, tuple) else shapes or [None] * len(arrays)
        xs = [_input_tensor(a, arg if len(arrays) == 1 else f"{arg}[{i}]", dt or torch.float32,
                            expected=_sample_shape(shape))
              for i, (a, dt, shape) in enumerate(zip(arrays, dtypes, shapes))]
        for i, t in enumerate(xs[1:], 1):
            inputs.check_same_length(xs[0], f"{arg}[0]", t, f"{arg}[{i}]")
        if not model.built and hasattr(model, "_stack") and len(xs) == 1 and xs[0].dim() == 1:
            n = xs[0].shape[0]
            raise ValueError(f"Argument `{arg}` has shape ({n},): one number per sample, with no feature axis, and "
                             f"model {model.name!r} has no input shape yet to say what a sample is. For one feature "
                             f"per sample reshape it to ({n}, 1) with {arg}.reshape(-1, 1), or give the first layer "
                             f"its input shape (input_shape=(...)).")
        model._ensure_built(xs[0] if len(xs) == 1 else xs)
        data = cls(xs)
        data.x_dtypes = [dt or torch.float32 for dt in dtypes]
        data.raw_x = arrays
        return data

    @classmethod
    def from_user(cls, model, x, y, sample_weight=None, class_weight=None, x_arg="x", y_arg="y",
                  sw_arg="sample_weight"):
        """Inputs and targets checked against the built, compiled model; targets shaped for each loss."""
        data = cls.inputs_only(model, x, x_arg)
        plan = model._compile_outputs()
        names = [o.name for o in plan.outputs]
        if y is None:
            raise ValueError(f"Argument `{y_arg}` is None; fit and evaluate need targets for every output "
                             f"({', '.join(names)}).")
        targets = _as_list(y, names, y_arg, "output")
        ys = []
        for target, spec in zip(targets, plan.outputs):
            arg = y_arg if len(targets) == 1 else f"{y_arg}[{spec.name!r}]"
            t = inputs.to_tensor(target, arg, dtype=None if spec.loss.kind == "custom" else torch.float32,
                                 expected=f"an array of {data.n} targets (one per sample of `{x_arg}`) for the "
                                          f"output of shape {tuple(spec.shape)}")
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
        return (ArrayData(part(self.x, slice(0, cut)), part(self.y, slice(0, cut)), part(self.sw, slice(0, cut)),
                          self.x_dtypes),
                ArrayData(part(self.x, slice(cut, n)), part(self.y, slice(cut, n)), part(self.sw, slice(cut, n)),
                          self.x_dtypes))

    def streams(self) -> list:
        return [*self.x, *(self.y or []), *(self.sw or [])]


class EpochBatches:
    """The batches of ``data`` for each epoch: ``(x, y, sample_weight)`` shaped as the model takes them
    (a tensor for one input/output, lists for several). The array adapter."""

    exhausted = False  # arrays never run out

    def __init__(self, data: ArrayData, batch_size: int, shuffle: bool):
        self.data, self.batch_size, self.shuffle = data, batch_size, shuffle
        self.n = data.n
        self.steps = math.ceil(self.n / batch_size)
        sources = data.streams()
        self.sources = sources
        self.buffers = [_shuffle_buffer(t) for t in sources] if shuffle else sources
        split = [b.split(batch_size) for b in self.buffers]
        nx, ny = len(data.x), len(data.y or [])
        xs, ys, ws = split[:nx], split[nx:nx + ny], split[nx + ny:]
        self.x_batches = xs[0] if nx == 1 else [list(b) for b in zip(*xs)]
        self.y_batches = (ys[0] if ny == 1 else [list(b) for b in zip(*ys)]) if ny else [None] * self.steps
        self.w_batches = (ws[0] if len(ws) == 1 else [list(b) for b in zip(*ws)]) if ws else [None] * self.steps
        self.targets = self.buffers[nx:nx + ny]
        self.convert_x = _x_converter(data.x, data.x_dtypes)

    def new_epoch(self, order=None):
        """Shuffle into the buffers (``order``, else a fresh ``randperm``) and return the batches."""
        if self.shuffle:
            order = torch.randperm(self.n) if order is None else order
            for src, dst in zip(self.sources, self.buffers):
                torch.index_select(src, 0, order.to(src.device), out=dst)
        batches = zip(self.x_batches, self.y_batches, self.w_batches)
        if self.convert_x is None:  # the fast path: views, nothing to do per batch
            return batches
        convert = self.convert_x
        return ((convert(xb), yb, wb) for xb, yb, wb in batches)

    def end_epoch(self):
        """Nothing to do for arrays (streams call their source's ``on_epoch_end``)."""


# -- in-memory inputs: storage dtype and place ------------------------------------------------------
#: Integer dtypes narrower than float32: inputs stored in them stay so and are cast per batch.
_COMPACT = (torch.uint8, torch.int8, torch.int16, torch.bool)
_COMPACT_NUMPY = (np.uint8, np.int8, np.int16, np.bool_)
#: On CUDA, in-memory inputs that would take more than this share of the free device memory stay on the host.
DEVICE_SHARE = 0.5


def _storage_dtype(data, compute_dtype):
    """The dtype ``data`` is kept in: its own when a compact integer type the model reads as float."""
    if not compute_dtype.is_floating_point:
        return compute_dtype
    if torch.is_tensor(data):
        return data.dtype if data.dtype in _COMPACT else compute_dtype
    dtype = getattr(data, "dtype", None)
    if dtype is not None and dtype.type in _COMPACT_NUMPY:
        return {np.uint8: torch.uint8, np.int8: torch.int8, np.int16: torch.int16, np.bool_: torch.bool}[dtype.type]
    return compute_dtype


def _fits_on_device(data, dtype, device) -> bool:
    """Whether an input of ``dtype`` fits comfortably in the free memory of a CUDA ``device``."""
    if device.type != "cuda" or (torch.is_tensor(data) and data.device.type == "cuda"):
        return True
    shape = getattr(data, "shape", None)
    count = math.prod(shape) if shape is not None else np.asarray(data).size
    nbytes = count * torch.empty((), dtype=dtype).element_size()
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= DEVICE_SHARE * free


def _input_tensor(data, arg, compute_dtype, expected=None):
    """One input as a tensor kept in its storage dtype, on the device (or on the host when too large)."""
    dtype = _storage_dtype(data, compute_dtype)
    device = backend.get_device()
    if not _fits_on_device(data, dtype, device):
        device = torch.device("cpu")
    return inputs.to_tensor(data, arg, device=device, dtype=dtype, expected=expected)


def _shuffle_buffer(t):
    """A tensor like ``t``; pinned when ``t`` stays on the host while the model is on CUDA (fast copies)."""
    if t.device.type == "cpu" and backend.get_device().type == "cuda":
        return torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
    return torch.empty_like(t)


def _x_converter(xs, dtypes):
    """A per-batch function casting/moving the stored inputs ``xs`` to the device and dtype the model
    computes in; None when they are stored that way already (no per-batch work)."""
    device = backend.get_device()
    needs = [t.dtype != dt or t.device != device for t, dt in zip(xs, dtypes)]
    if not any(needs):
        return None

    def one(t, dt):
        return t.to(device=device, non_blocking=True).to(dt)
    if len(xs) == 1:
        dt = dtypes[0]
        return lambda xb: one(xb, dt)
    return lambda xb: [one(t, dt) if need else t for t, dt, need in zip(xb, dtypes, needs)]


# -- streams: DataLoader, torch Dataset, PyDataset/Sequence, generators -------------------------------
def is_stream(x) -> bool:
    """Whether ``x`` is a batch source rather than in-memory arrays."""
    from ..utils.py_dataset import PyDataset
    if x is None or torch.is_tensor(x) or isinstance(x, (np.ndarray, list, tuple, dict)):
        return False
    return isinstance(x, (torch.utils.data.DataLoader, torch.utils.data.Dataset, PyDataset)) or \
        hasattr(x, "__next__")


def unpack_batch(batch):
    """Keras's rule: a tuple (or list) of 1-3 items is ``(x, y, sample_weight)``; anything else is ``x``."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if not 1 <= len(batch) <= 3:
        raise ValueError(f"A batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(batch)} "
                         f"items. Group several inputs as a list or dict inside the tuple: ([x1, x2], y).")
    return (*batch, None, None)[:3]


def _batch_tensor(value, arg, dtype, device):
    if not torch.is_tensor(value):
        try:
            value = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{arg} could not be read as an array ({err}).") from None
    if value.dim() == 0:
        raise ValueError(f"{arg} must be a batch of samples, got a scalar.")
    value = value.to(device=device, non_blocking=True)
    return value if dtype is None else value.to(dtype)


class StreamData:
    """The adapter of a batch source. ``steps`` is ``steps_per_epoch`` if given, else the source's length
    (None for generators). ``shuffle`` applies to a torch Dataset (samples) and a PyDataset (batch
    order), as in Keras; a DataLoader and a generator keep their own order. As in Keras: with
    ``steps_per_epoch`` the source's iterator carries over from one epoch to the next; a sized source
    that runs out mid-epoch ends the epoch with a warning and starts a new pass next epoch; a generator
    that runs out ends training with a warning."""

    def __init__(self, model, source, what, batch_size=None, shuffle=False, steps=None, targets=True,
                 class_weight=None, steps_arg="steps_per_epoch"):
        from ..utils.py_dataset import PyDataset
        self.model, self.what, self.targets, self.steps_arg = model, what, targets, steps_arg
        self.n = None
        self.exhausted = False
        self.pydataset = source if isinstance(source, PyDataset) else None
        self.shuffle = bool(shuffle)
        if isinstance(source, torch.utils.data.Dataset) and not isinstance(source, torch.utils.data.DataLoader):
            iterable = isinstance(source, torch.utils.data.IterableDataset)
            source = torch.utils.data.DataLoader(source, batch_size=batch_size or 32,
                                                 shuffle=bool(shuffle) and not iterable)
        self.source = source
        self.one_shot = hasattr(source, "__next__")  # a generator or iterator: cannot restart
        try:
            self.length = None if self.one_shot else len(source)
        except TypeError:  # a DataLoader over an IterableDataset without __len__
            self.length = None
        if steps is not None:
            steps = inputs.positive_int(steps, steps_arg)
        elif self.length is None and steps_arg == "steps_per_epoch":
            raise ValueError(f"Argument `{what}` is a {type(source).__name__} with no length, so fit() cannot tell "
                             f"where an epoch ends (an infinite generator would never end one): pass "
                             f"`steps_per_epoch` (batches per epoch).")
        elif self.length is None and steps_arg == "validation_steps":
            raise ValueError(f"Argument `validation_data` is a {type(source).__name__} with no length: pass "
                             f"`validation_steps` (batches per validation run).")
        self.steps_given = steps
        self.steps = steps if steps is not None else self.length
        if self.length == 0:
            raise ValueError(f"Argument `{what}` has no batches (length 0).")
        self.class_weight = _class_weight_table(class_weight) if class_weight is not None else None
        self._iter, self._consumed = None, 0
        self._peeked = None
        self._inputs = self._outputs = None  # read from the model at the first batch (_input_spec, _output_spec)
        first = self._next_raw()
        if first is None:
            raise ValueError(f"Argument `{what}` produced no batches.")
        self._peeked = first
        x, y, _ = unpack_batch(first)
        self.device = backend.get_device()
        model._ensure_built(self._convert_x(x, check=False))
        if targets and y is None:
            raise ValueError(f"Argument `{what}` yields batches without targets; fit and evaluate need (x, y) or "
                             f"(x, y, sample_weight) batches.")

    # -- raw batches ------------------------------------------------------------------------------
    def _start_pass(self):
        if self.pydataset is not None:
            self.pydataset.on_epoch_begin()
            ds = self.pydataset
            # As Keras 2 and 3: with shuffle=True the batches of a PyDataset/Sequence come in a new order
            # each pass.
            order = torch.randperm(len(ds)).tolist() if self.shuffle else range(len(ds))
            self._iter = (ds[i] for i in order)
        else:
            self._iter = iter(self.source)
        self._consumed = 0

    def _next_raw(self):
        """The next raw batch, or None when the source has none left."""
        if self._peeked is not None:
            batch, self._peeked = self._peeked, None
            return batch
        if self._iter is None:
            self._start_pass()
        if self.length is not None and self._consumed >= self.length:
            return None
        try:
            batch = next(self._iter)
        except StopIteration:
            return None
        self._consumed += 1
        return batch

    # -- conversion ------------------------------------------------------------------------------
    # What the model expects of a batch (input names and dtypes, the output plan) is read once, at the
    # first batch after the model is built and compiled, not per batch: it cannot change during a call.
    def _input_spec(self):
        if self._inputs is None:
            model = self.model
            names = getattr(model, "input_names", None) or ["input"]
            if not model.built:  # the first batch, before it builds the model
                return names, [torch.float32] * len(names)
            self._inputs = names, [dt or torch.float32 for dt in model._input_dtypes()]
        return self._inputs

    def _convert_x(self, x, check=True):
        names, dtypes = self._input_spec()
        if torch.is_tensor(x) and len(names) == 1:  # the common case: one tensor, maybe already as the model takes it
            if x.dtype == dtypes[0] and x.device == self.device and x.dim() > 0:
                return x
            return _batch_tensor(x, f"Input 0 of a batch of `{self.what}`", dtypes[0], self.device)
        parts = _as_list(x, names, f"the `x` of a batch of `{self.what}`", "input")
        xs = [_batch_tensor(p, f"Input {i} of a batch of `{self.what}`", dt, self.device)
              for i, (p, dt) in enumerate(zip(parts, dtypes))]
        return xs[0] if len(xs) == 1 else xs

    def _output_spec(self):
        """Per output: its spec and the dtype its targets are converted to (None: kept as given)."""
        if self._outputs is None:
            plan = self.model._compile_outputs()
            self._outputs = plan, [o.name for o in plan.outputs], [
                (spec, None if spec.loss.kind == "custom" else torch.float32, spec.loss.kind == "sparse")
                for spec in plan.outputs]
        return self._outputs

    def _target(self, target, spec, dtype, sparse):
        """One output's targets of a batch, checked and shaped by its loss. Integer class labels for a
        sparse loss stay integers (no round trip through float32, no check that they are whole)."""
        arg = f"y (a batch of `{self.what}`)"
        if sparse and torch.is_tensor(target) and not target.is_floating_point() and target.dtype != torch.bool \
                and not target.is_complex() and target.dim() > 0:
            t = target.to(device=self.device, non_blocking=True)
        else:
            t = _batch_tensor(target, f"The targets of a batch of `{self.what}`", dtype, self.device)
        return spec.loss.prepare_targets(t, spec.shape, arg)

    def _convert(self, batch):
        x, y, sw = unpack_batch(batch)
        xb = self._convert_x(x)
        if not self.targets:
            return xb, None, None
        if y is None:
            raise ValueError(f"A batch of `{self.what}` has no targets; fit and evaluate need (x, y) batches.")
        plan, names, outputs = self._output_spec()
        if len(outputs) == 1 and torch.is_tensor(y):
            ys = [self._target(y, *outputs[0])]
        else:
            parts = _as_list(y, names, f"the `y` of a batch of `{self.what}`", "output")
            ys = [self._target(target, *out) for target, out in zip(parts, outputs)]
        ws = None
        if sw is not None:
            weights = _as_list(sw, names, f"the sample weights of a batch of `{self.what}`", "output")
            ws = [_batch_tensor(w, "Sample weights", torch.float32, self.device).reshape(-1) for w in weights]
        elif self.class_weight is not None:
            if len(ys) > 1:
                raise ValueError("Argument `class_weight` is only supported for models with one output.")
            ws = [_apply_class_weight(self.class_weight, plan.outputs[0].loss, ys[0])]
        if len(ys) == 1:
            return xb, ys[0], None if ws is None else ws[0]
        return xb, ys, ws

    # -- the adapter interface --------------------------------------------------------------------
    def new_epoch(self):
        if self.steps_given is None and not self.one_shot and self._peeked is None:
            self._iter = None  # a new pass each epoch
        return self._epoch()

    def _epoch(self):
        limit = self.steps
        step = 0
        while limit is None or step < limit:
            raw = self._next_raw()
            if raw is None:  # the source ran out before `limit` batches
                self._iter = None
                self.exhausted = self.one_shot
                if self.steps_given is not None:
                    warnings.warn(f"Your input ran out of data: `{self.what}` gave {step} of the {limit} batches of "
                                  f"`{self.steps_arg}` this epoch; interrupting the epoch. Make sure that your "
                                  f"dataset or generator can generate at least `{self.steps_arg} * epochs` batches.",
                                  UserWarning, stacklevel=3)
                break
            yield self._convert(raw)
            step += 1
        if self.length is not None and self._consumed >= self.length and self._peeked is None:
            self._iter = None  # the pass is complete: the next epoch starts a new one

    def end_epoch(self):
        if self.pydataset is not None:
            self.pydataset.on_epoch_end()


def _class_weight_table(class_weight):
    if isinstance(class_weight, str) or not isinstance(class_weight, dict):
        raise ValueError(f"Argument `class_weight` must be a dict {{class: weight}} for a generator or dataset "
                         f"('balanced' needs all labels at once: pass arrays), got {class_weight!r}.")
    for key, weight in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or key < 0:
            raise ValueError(f"Argument `class_weight` has key {key!r}; keys must be class indices >= 0.")
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)) or not math.isfinite(weight) \
                or weight < 0:
            raise ValueError(f"Argument `class_weight` must map classes to finite weights >= 0, got {weight!r} for "
                             f"class {key!r}.")
    table = torch.ones(max(int(k) for k in class_weight) + 1 if class_weight else 1, dtype=torch.float32)
    for key, weight in class_weight.items():
        table[int(key)] = float(weight)
    return table


def _apply_class_weight(table, loss, y):
    """Per-sample weights of one batch; classes not in the table weigh 1.0."""
    labels = _labels_for_class_weight(loss, y)
    table = table.to(labels.device)
    inside = labels < table.shape[0]
    return torch.where(inside, table[labels.clamp(max=table.shape[0] - 1)], torch.ones((), device=labels.device))
