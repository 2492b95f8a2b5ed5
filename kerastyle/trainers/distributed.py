"""What ``fit`` does differently on several processes, and the data order it uses on one.

``batch_size`` stays Keras's global batch (samples per gradient update). Each global batch of the
epoch's order is split into contiguous pieces, one per rank (sizes differ by at most one; the
short last batch may leave a rank an empty piece), so every rank runs the same number of steps.
Rank ``r``'s data loss is multiplied by ``world * m_r / m`` (its piece of ``m_r`` samples out of the
global batch's ``m``); the gradients are then averaged over the ranks, so they equal the
single-process gradient of the whole batch (weight penalties are added once per rank and averaged,
so they count once). An empty piece runs one placeholder sample with scale 0 so that every rank
takes part in every collective.

One data order everywhere: each shuffled epoch draws a seed from kerastyle's data-order generator
(rank 0's draw is broadcast) and shuffles with one ``randperm`` from a generator seeded by (that seed,
epoch), so 1 and N processes see the same global batches. The data-order generator is kept apart from
the global one dropout draws from: a ``fit`` seeds it with one draw from torch's global generator,
unless that generator is untouched since the previous ``fit`` ended (then the order goes on, as in
Keras: five one-epoch fits shuffle like one five-epoch fit), so ``torch.manual_seed`` and
``keras.utils.set_random_seed`` fix the order. Ranks other than 0 reseed their global generator once
per fit from their own draw and their rank: their dropout masks differ from rank 0's.

Gradients: the autograd engine runs the model through ``DistributedDataParallel``; the analytic
engine all-reduces its packed gradient buffer (one collective per step). The parameters are
broadcast from rank 0 when ``fit`` starts. Loss and metric sums and counts are all-reduced once per
epoch (validation too: each rank evaluates a contiguous shard, no padding), so every rank logs the
same numbers and callbacks decide alike. A non-finite gradient on any rank reaches every rank
through the all-reduce, so all stop at the same step with the same error; ``stop_training`` set on
any rank stops all (checked every step when a callback has batch hooks, else at each epoch's end).
Only rank 0 prints and writes files.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings

import numpy as np
import torch
import torch.distributed as dist

from .. import distributed
from ..mixed_precision import Autocast
from .data_adapters import ArrayData

DISTRIBUTE = ("auto", True, False)


def _mix(*values) -> int:
    """A 63-bit seed from integers (numpy's SeedSequence: well mixed, stable across versions)."""
    words = np.random.SeedSequence([int(v) % (1 << 64) for v in values]).generate_state(2, np.uint64)
    return int(words[0]) >> 1


_order_source = {"after": None, "generator": None}


def data_order_generator(fit_starts=False) -> torch.Generator:
    """The generator epoch seeds are drawn from. When a fit starts it is seeded anew from torch's global
    generator, unless that one is in the state the previous fit left it in (nothing drew from it or
    seeded it since: the data order goes on)."""
    if fit_starts:
        after = _order_source["after"]
        if _order_source["generator"] is None or after is None or not torch.equal(after, torch.get_rng_state()):
            seed = int(torch.randint(0, 1 << 62, (1,)))
            _order_source["generator"] = torch.Generator().manual_seed(_mix(seed, 0x0DA7A))
    elif _order_source["generator"] is None:
        return data_order_generator(True)
    return _order_source["generator"]


def _fit_ended() -> None:
    _order_source["after"] = torch.get_rng_state()


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of epoch ``epoch``: one ``randperm`` from a generator seeded by (seed, epoch)."""
    generator = torch.Generator().manual_seed(_mix(seed, epoch))
    return torch.randperm(n, generator=generator)


def piece(size: int, rank: int, world: int) -> tuple[int, int]:
    """``(start, length)`` of rank ``rank``'s contiguous piece of a batch of ``size`` samples."""
    base, extra = divmod(size, world)
    return rank * base + min(rank, extra), base + (1 if rank < extra else 0)


def _comm_device():
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """The element-wise sum over ranks of a tensor (in float64 on the collective's device)."""
    buffer = values.detach().to(_comm_device(), torch.float64)
    dist.all_reduce(buffer)
    return buffer


def any_rank(flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any."""
    return bool(all_sum(torch.tensor([1.0 if flag else 0.0]))[0] > 0)


def check_equal_steps(steps, what="steps_per_epoch") -> None:
    """For per-rank data (generators, PyDatasets, DataLoaders with a DistributedSampler): every rank must
    run the same number of steps, else collectives would hang. One collective; a mismatch is the same
    error on every rank."""
    if not distributed.is_distributed():
        return
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, None if steps is None else int(steps))
    if len(set(gathered)) > 1:
        raise ValueError(f"Distributed fit: every rank must run the same number of {what}, got "
                         f"{dict(enumerate(gathered))} (rank: value). Shard the data so that each rank has as many "
                         f"batches, or pass the same `{what}` on every rank.")


class ShardedBatches:
    """This rank's pieces of the global batches of ``data`` (same interface as ``EpochBatches``: ``n`` and
    ``steps`` are the global ones; ``new_epoch(order)`` returns the pieces). Piece sizes are fixed per fit,
    so the buffers are allocated and split once."""

    def __init__(self, data: ArrayData, batch_size: int, shuffle: bool, rank: int, world: int):
        self.data, self.batch_size, self.shuffle = data, batch_size, shuffle
        self.n = data.n
        self.steps = math.ceil(self.n / batch_size)
        positions, self.sizes, self.scales = [], [], []
        for k in range(self.steps):
            size = min(batch_size, self.n - k * batch_size)
            start, length = piece(size, rank, world)
            positions.append(torch.arange(k * batch_size + start, k * batch_size + start + length))
            self.sizes.append(length)
            self.scales.append(world * length / size)
        self.sources = data.streams()
        device = self.sources[0].device
        self.positions = torch.cat(positions).to(device)
        self.buffers = [torch.empty((len(self.positions), *t.shape[1:]), dtype=t.dtype, device=t.device)
                        for t in self.sources]
        split = [b.split(self.sizes) for b in self.buffers]
        nx, ny = len(data.x), len(data.y or [])
        xs, ys, ws = split[:nx], split[nx:nx + ny], split[nx + ny:]
        self.x_batches = xs[0] if nx == 1 else [list(b) for b in zip(*xs)]
        self.y_batches = (ys[0] if ny == 1 else [list(b) for b in zip(*ys)]) if ny else [None] * self.steps
        self.w_batches = (ws[0] if len(ws) == 1 else [list(b) for b in zip(*ws)]) if ws else [None] * self.steps
        from .data_adapters import _x_converter
        self.convert_x = _x_converter(data.x, data.x_dtypes)  # compact (uint8) inputs: cast per batch
        self.exhausted = False

    def placeholder(self):
        """One sample of this rank's data (stands in for an empty piece; its loss is scaled by 0)."""
        def first(b):
            return None if b is None else (b[:1] if torch.is_tensor(b) else [t[:1] for t in b])
        x = first(self.x_batches[0])
        return (x if self.convert_x is None else self.convert_x(x)), first(self.y_batches[0]), \
            first(self.w_batches[0])

    def new_epoch(self, order=None):
        index = self.positions if order is None else order.to(self.positions.device)[self.positions]
        for src, dst in zip(self.sources, self.buffers):
            torch.index_select(src, 0, index, out=dst)
        batches = zip(self.x_batches, self.y_batches, self.w_batches)
        if self.convert_x is None:
            return batches
        return ((self.convert_x(xb), yb, wb) for xb, yb, wb in batches)

    def end_epoch(self):
        """Nothing to do for in-memory data."""


class _Forward(torch.nn.Module):
    """The model's forward function as a module, for ``DistributedDataParallel`` to wrap."""

    def __init__(self, model, forward):
        super().__init__()
        self.model = model
        self._forward = forward

    def forward(self, x, training):
        return self._forward(x, training)


class _DistributedEngine:
    """An engine on one rank: sets the loss scale of each piece, syncs the gradients, and makes a
    non-finite gradient on any rank visible in every rank's loss."""

    def __init__(self, engine, model, batches: ShardedBatches, world: int):
        self.engine, self.world, self.batches = engine, world, batches
        self.name, self.stable_grads = engine.name, engine.stable_grads
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.scales = iter(())
        self.flat = None
        device = self.params[0].device if self.params else torch.device("cpu")
        if engine.name == "autograd":
            ids = [device.index] if device.type == "cuda" else None
            self.ddp = torch.nn.parallel.DistributedDataParallel(_Forward(model, engine.forward), device_ids=ids)
            engine.forward = self.ddp  # called as forward(x, training), like the plan's forward
        else:
            self.ddp = None
            with torch.no_grad():
                for p in self.params:
                    buffer = p.detach().to(_comm_device())
                    dist.broadcast(buffer, 0)
                    p.copy_(buffer)

    def _marker(self, loss):
        """A term whose gradient is 0, or NaN when ``loss`` is not finite (DDP then spreads it)."""
        return (loss.detach() * 0.0) * self.params[0].view(-1)[0]

    @property
    def parts(self):
        return self.engine.parts

    def new_epoch(self):
        self.scales = iter(zip(self.batches.scales, self.batches.sizes))

    def forward_backward(self, xb, yb, wb):
        scale, size = next(self.scales)
        if size == 0:
            xb, yb, wb = self.batches.placeholder()
        self.engine.loss_scale = scale
        if self.ddp is not None:
            self.engine.nonfinite_marker = self._marker
        loss, out = self.engine.forward_backward(xb, yb, wb)
        if not self.params:
            return loss, out
        if self.ddp is None:
            grads = [p.grad for p in self.params]
            grads[0].view(-1)[:1].add_(loss * 0.0)  # 0, or NaN when this rank's loss is not finite
            if self.flat is None:
                from ..packing import flat_view
                self.flat = flat_view(grads)
            if self.flat is not None and self.flat.device == _comm_device():
                dist.all_reduce(self.flat)
                self.flat.div_(self.world)
                total = self.flat.sum()
            else:
                for g in grads:
                    synced = g.to(_comm_device())
                    dist.all_reduce(synced)
                    g.copy_(synced.div_(self.world))
                total = torch.stack([g.sum() for g in grads]).sum()
        else:
            total = torch.stack([p.grad.sum() for p in self.params if p.grad is not None]).sum()
        loss = loss + 0.0 * total  # NaN on every rank when any rank's loss or gradient is not finite
        if size == 0:
            out = out[:0] if torch.is_tensor(out) else [o[:0] for o in out]
        return loss, out


@contextlib.contextmanager
def _quiet():
    """Ranks other than 0 print nothing and warn nothing during fit/evaluate/predict (stderr stays)."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class FitRun:
    """One ``fit`` call's data order, precision and (on several processes) synchronization. In a plain
    single-process float32 fit every hook is one attribute check or a no-op."""

    def __init__(self, model, distribute):
        if distribute not in DISTRIBUTE or (not isinstance(distribute, str) and not isinstance(distribute, bool)):
            raise ValueError(f"Argument `distribute` must be 'auto', True or False, got {distribute!r}.")
        multi = bool(distribute) and distributed.init()
        if distribute is True and not multi:
            raise ValueError("fit(distribute=True) needs several processes: launch the script with torchrun "
                             "(torchrun --standalone --nproc-per-node=N script.py) or create a process group first.")
        self.multi = multi
        self.rank = dist.get_rank() if multi else 0
        self.world = dist.get_world_size() if multi else 1
        data_order_generator(fit_starts=True)
        if multi and self.rank:  # dropout draws differ per rank
            torch.manual_seed(_mix(int(torch.randint(0, 1 << 62, (1,))), self.rank))
        self.model = model
        self.autocast = Autocast(_model_device(model), getattr(model, "optimizer", None))
        self.engine = None
        self.batches = None

    # -- hooks called by the fit loop --------------------------------------------------------------
    def batches_for(self, batches, batch_size, shuffle):
        """The adapter this process trains from: unchanged on one process and for streams (per-rank data:
        equal step counts checked once); on several processes, in-memory arrays become this rank's
        pieces of every global batch."""
        from .data_adapters import EpochBatches
        if not self.multi or not isinstance(batches, EpochBatches):
            if self.multi:
                check_equal_steps(batches.steps)
            self.batches = batches
            return batches
        data = batches.data
        if batch_size < self.world:
            raise ValueError(f"Argument `batch_size` ({batch_size}) is the global batch size and must be at least "
                             f"the number of processes (world size {self.world}): each process takes a piece of "
                             f"every batch.")
        if data.n < self.world:
            raise ValueError(f"fit on {self.world} processes needs at least {self.world} training samples, got "
                             f"{data.n}.")
        self.batches = ShardedBatches(data, batch_size, shuffle, self.rank, self.world)
        return self.batches

    def wrap_engine(self, engine, model, plan):
        """The engine with the precision policy's hooks; on several processes, the synchronized one."""
        if self.autocast.active:
            if engine.name != "autograd":
                raise ValueError("The analytic engine cannot train under a mixed precision policy.")
            engine.autocast, engine.grad_scaler = self.autocast, self.autocast.scaler
        if self.multi:
            reductions = {o.loss.reduction for o in plan.outputs if hasattr(o.loss, "reduction")}
            if reductions - {"sum_over_batch_size", "mean"}:
                raise ValueError(f"Distributed fit splits each batch over the processes and needs losses that "
                                 f"average over the batch (reduction 'sum_over_batch_size'), got "
                                 f"{sorted(reductions)}.")
            engine = _DistributedEngine(engine, model, self.batches, self.world)
        self.engine = engine
        return engine

    def update_function(self, apply_update, optimizer):
        """The update the loop calls per step: through the GradScaler under ``mixed_float16``."""
        scaler = self.autocast.scaler
        if scaler is None:
            return apply_update

        def scaled_update():
            scaler.step(optimizer)
            scaler.update()
        return scaled_update

    def new_epoch(self, batches, epoch):
        """The epoch's batches; in-memory data is shuffled by the one data-order rule (streams keep theirs)."""
        from .data_adapters import EpochBatches
        if not isinstance(batches, (EpochBatches, ShardedBatches)):
            return batches.new_epoch()
        order = None
        if batches.shuffle:
            seed = torch.randint(0, 1 << 62, (1,), generator=data_order_generator())
            if self.multi:
                seed = seed.to(_comm_device())
                dist.broadcast(seed, 0)
            order = epoch_order(batches.n, int(seed), epoch)
        if self.multi:
            self.engine.new_epoch()
        return batches.new_epoch(order)

    def stop_everywhere(self, stop: bool) -> bool:
        return any_rank(stop) if self.multi else stop

    def reduce_epoch(self, loss_total, seen, part_totals, metric_acc):
        """The epoch's sums over every rank (one collective); the metric states become the global ones."""
        if not self.multi:
            return loss_total, seen, part_totals
        return reduce_sums(loss_total, seen, part_totals, metric_acc)

    # -- backups (BackupAndRestore) -------------------------------------------------------------------
    def backup_state(self) -> dict:
        """What a backup needs beyond the weights and the optimizer (whose state includes the GradScaler's):
        the data-order seed and every rank's RNG states. Collective on several processes (every rank
        calls it)."""
        from ..saving.saving_api import _rng_state
        state = {"data_order": bytes(data_order_generator().get_state().numpy()).hex(), "world_size": self.world}
        if self.multi:
            states = [None] * self.world
            dist.all_gather_object(states, _rng_state())
            state["rank_rng"] = states
        return state

    def check_state(self, state: dict) -> None:
        """Refuse a backup this run cannot resume identically (before anything of it is installed)."""
        if state and int(state.get("world_size", 1)) != self.world:
            raise ValueError(f"BackupAndRestore: the backup was written by a run on {state.get('world_size')} "
                             f"process(es), this run has {self.world}; resume with the same number, or delete "
                             f"the backup to start over.")

    def restore_state(self, state: dict) -> None:
        from ..saving.saving_api import _set_rng_state
        if not state:
            return
        self.check_state(state)
        data_order_generator().set_state(torch.frombuffer(bytearray.fromhex(state["data_order"]), dtype=torch.uint8))
        if self.multi:
            _set_rng_state(state["rank_rng"][self.rank])


def _model_device(model):
    for p in model.parameters():
        return p.device
    from ..backend.device import get_device
    return get_device()


def reduce_sums(loss_total, seen, part_totals, metric_acc):
    """All-reduce the loss sums, sample counts and every metric state in one collective."""
    metric_acc.flush()
    variables = [v for _, spec in metric_acc.specs for m in spec.metrics for v in m.variables]
    pieces = [torch.tensor([float(loss_total), float(seen), *map(float, part_totals)], dtype=torch.float64)]
    pieces += [v.value.detach().reshape(-1).to("cpu", torch.float64) for v in variables]
    summed = all_sum(torch.cat(pieces)).cpu()
    head = 2 + len(part_totals)
    offset = head
    for v in variables:
        count = v.value.numel()
        v.value = summed[offset:offset + count].reshape(v.value.shape).to(v.value.device, v.value.dtype)
        offset += count
    return float(summed[0]), float(summed[1]), [float(t) for t in summed[2:head]]


def shard(data: ArrayData) -> ArrayData:
    """This rank's contiguous shard of evaluation data (no padding: shards differ by at most one sample)."""
    start, length = piece(data.n, dist.get_rank(), dist.get_world_size())
    part = slice(start, start + length)

    def cut(tensors):
        return None if tensors is None else [t[part] for t in tensors]
    return ArrayData(cut(data.x), cut(data.y), cut(data.sw))


@contextlib.contextmanager
def fit_scope(model, distribute, kwargs):
    """The ``FitRun`` of one ``fit`` call: quiet on ranks other than 0, a barrier at the end so that
    every rank sees the files rank 0 wrote. ``kwargs`` (the fit arguments) get ``verbose=0`` there."""
    run = FitRun(model, distribute)
    model._fit_run = run
    quiet = run.multi and run.rank != 0
    if quiet:
        kwargs["verbose"] = 0
    try:
        with (_quiet() if quiet else contextlib.nullcontext()):
            yield run
        if run.multi:
            distributed.barrier()
    finally:
        model._fit_run = None
        _fit_ended()


@contextlib.contextmanager
def quiet_scope():
    """For evaluate/predict: quiet on ranks other than 0 of a process group."""
    if distributed.is_distributed() and dist.get_rank() != 0:
        with _quiet():
            yield True
    else:
        yield False


__all__ = ["FitRun", "ShardedBatches", "all_sum", "any_rank", "check_equal_steps", "epoch_order", "fit_scope",
           "piece", "quiet_scope", "reduce_sums", "shard"]
