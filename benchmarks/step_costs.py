"""Where one training step of ``fit`` goes: kerastyle's engine step, split into its parts.

For each engine and batch size this trains the lecture model (784-128-10 by default) on
Fashion-MNIST with ``SGD(0.01, momentum=0.9)`` and times, per batch, the three things ``fit``
does: ``engine.forward_backward`` (forward, loss and its gradient, backward), the optimizer
update, and ``loss.item()``. Each block of a few batches also runs a second time without the
update (the two in turn, a fraction of a second apart, so both see the same machine load): the
difference is the update's whole cost, including what its passes over memory cost the step's
other operations.

    python benchmarks/step_costs.py                          # batch 32 and 128, analytic engine
    python benchmarks/step_costs.py --engines analytic autograd --epochs 6

Data: as ``fit_speed.py`` (``KERASTYLE_DATA``, ``--data`` or ``/work/shared/data``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_speed import MODELS, _kerastyle_model, load_fashion_mnist  # noqa: E402


def measure(engine_name, hidden, batch_size, epochs, x, y, block=8):
    """Per-batch medians (us) of the step's parts, and seconds per epoch with and without the update
    (sums over the blocks, each block timed both ways in turn)."""
    import torch

    from kerastyle import engines
    torch.manual_seed(0)
    model = _kerastyle_model(hidden)
    model.fit(x[:batch_size], y[:batch_size], batch_size=batch_size, epochs=1, verbose=0, engine=engine_name)
    engine, _ = engines.make_engine(engine_name, model, model._compile_outputs())
    update = model.optimizer.update_function(stable_grads=engine.stable_grads)
    shuffled_x, shuffled_y = torch.empty_like(x), torch.empty_like(y)
    batches = list(zip(shuffled_x.split(batch_size), shuffled_y.split(batch_size)))
    parts = {"forward_backward": [], "update": [], "loss.item()": []}
    kinds = ("full step", "step without the update")
    epoch_s = {kind: [] for kind in kinds}
    clock = time.perf_counter

    def run_block(block_batches, with_update, record):
        start = clock()
        for xb, yb in block_batches:
            t0 = clock()
            loss, _ = engine.forward_backward(xb, yb, None)
            t1 = clock()
            if with_update:
                update()
            t2 = clock()
            loss.item()
            if record and with_update:
                for name, seconds in zip(parts, (t1 - t0, t2 - t1, clock() - t2)):
                    parts[name].append(seconds)
        return clock() - start

    for epoch in range(epochs + 1):  # the first epoch warms up
        order = torch.randperm(len(x))
        torch.index_select(x, 0, order, out=shuffled_x)
        torch.index_select(y, 0, order, out=shuffled_y)
        totals = dict.fromkeys(kinds, 0.0)
        for i, first in enumerate(range(0, len(batches), block)):
            block_batches = batches[first:first + block]
            for with_update in ((True, False) if i % 2 == 0 else (False, True)):  # alternate who goes first
                kind = "full step" if with_update else "step without the update"
                totals[kind] += run_block(block_batches, with_update, record=epoch > 0)
        if epoch > 0:
            for kind in kinds:
                epoch_s[kind].append(totals[kind])
    return ({name: statistics.median(v) * 1e6 for name, v in parts.items()},
            {name: statistics.median(v) for name, v in epoch_s.items()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=list(MODELS), default="784-128-10")
    parser.add_argument("--engines", nargs="+", choices=["analytic", "autograd"], default=["analytic"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[32, 128])
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs (default 4); each batch runs twice")
    parser.add_argument("--block", type=int, default=8, help="batches per block of each kind (default 8)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=0, help="use only the first N training images")
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    x, y, _, _ = load_fashion_mnist(args.data)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    if args.train_size:
        x, y = x[:args.train_size], y[:args.train_size]
    print(f"torch {torch.__version__}, {args.threads} threads, {args.model}, SGD(0.01, momentum=0.9), "
          f"{len(x)} images, {args.epochs} epochs, blocks of {args.block} batches with and without the update in turn")
    for engine_name in args.engines:
        for batch_size in args.batch_sizes:
            parts, epochs = measure(engine_name, MODELS[args.model], batch_size, args.epochs, x, y, args.block)
            steps = -(-len(x) // batch_size)
            full, bare = epochs["full step"], epochs["step without the update"]
            print(f"\n{engine_name}, batch {batch_size}: {full:.3f} s/epoch, {full / steps * 1e6:.0f} us/step")
            for name, micros in parts.items():
                print(f"  {name:<18} {micros:8.1f} us (median per batch)")
            print(f"  without the update {bare:.3f} s/epoch: the update's whole cost is "
                  f"{(full - bare) / steps * 1e6:.0f} us/step, {(full - bare) / full:.0%} of the step")


if __name__ == "__main__":
    main()
