"""kerastyle ``fit`` against the plain PyTorch loop, step by step in one process.

After every kerastyle training step (from ``on_train_batch_end``) one step of the plain PyTorch loop
of ``fit_speed.py`` runs on its own clock, its own batches and its own random generator. kerastyle's
step time is the time from the end of one such callback to the start of the next: fetching the
batch (a view, or the ``DataLoader``'s next batch), forward, backward, checks, update, metrics. Two
steps a millisecond apart see the same machine load, so the ratio stays readable on a machine whose
speed drifts from second to second, where whole epochs in turn (``fit_speed.py --paired``) do not.
The first epoch is a warm-up; the script prints the medians of the steady steps, their ratio, and
the range of the ratios of blocks of 50 steps.

    python benchmarks/interleaved_steps.py --models 784-128-10 --loader     # fit(DataLoader) vs a loop over one
    python benchmarks/interleaved_steps.py --models convnet embedding-lstm --train-size 1600 --epochs 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fit_speed  # noqa: E402  (this checkout's kerastyle comes first on sys.path through it)

BLOCK = 50


def measure(model_name, batch_size, train_size, epochs, loader, data_dir, engine="auto"):
    """Steady per-step seconds of kerastyle and of the plain loop, interleaved; returns a dict."""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import kerastyle as ks
    x, y, _, _ = fit_speed.load_data_for(model_name, data_dir)
    x, y = x[:train_size], y[:train_size]
    hidden = fit_speed.MODELS[model_name]
    torch.manual_seed(0)
    model = fit_speed._kerastyle_model(hidden)
    net, x_plain = fit_speed._plain_torch_net(hidden, model, x) if isinstance(hidden, str) else (
        fit_speed._plain_torch_loop(hidden, model, x, y, batch_size)[0], x)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(1)
    xp, yp = torch.from_numpy(np.ascontiguousarray(x_plain)), torch.from_numpy(y)

    def plain_batches():  # as the plain loops of fit_speed.py: a DataLoader, or one shuffled copy per epoch
        while True:
            if loader:
                yield from DataLoader(TensorDataset(xp, yp), batch_size=batch_size, shuffle=True, generator=generator)
                continue
            order = torch.randperm(len(xp), generator=generator)
            xs, ys = xp[order], yp[order]
            for i in range(0, len(xs), batch_size):
                yield xs[i:i + batch_size], ys[i:i + batch_size]
    batches = plain_batches()
    ours, plain = [], []

    class Interleave(ks.callbacks.Callback):
        last = None

        def on_epoch_begin(self, epoch, logs=None):
            self.last = None

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if self.last is not None:
                ours.append(now - self.last)
            start = time.perf_counter()
            xb, yb = next(batches)
            optimizer.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
            loss.item()
            plain.append(time.perf_counter() - start)
            self.last = time.perf_counter()

    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    if loader:
        source = DataLoader(TensorDataset(x_t, y_t), batch_size=batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(0))
        history = model.fit(source, epochs=epochs + 1, verbose=0, callbacks=[Interleave()], engine=engine)
    else:
        history = model.fit(x_t, y_t, batch_size=batch_size, epochs=epochs + 1, verbose=0,
                            callbacks=[Interleave()], engine=engine)
    steps = -(-len(x) // batch_size)
    ours, plain = ours[steps - 1:], plain[steps:]  # steady epochs only (kerastyle's first step has no start)
    plain = plain[:len(ours)]
    blocks = [statistics.median(ours[i:i + BLOCK]) / statistics.median(plain[i:i + BLOCK])
              for i in range(0, len(ours) - BLOCK + 1, BLOCK)]
    return {"model": model_name, "batch_size": batch_size, "source": "DataLoader" if loader else "arrays",
            "engine": history.params["engine"], "ours_us": statistics.median(ours) * 1e6,
            "plain_us": statistics.median(plain) * 1e6, "ratio": statistics.median(ours) / statistics.median(plain),
            "blocks": blocks, "steps": len(ours)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(fit_speed.MODELS), default=["784-128-10"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[32])
    parser.add_argument("--train-size", type=int, default=6400, help="training samples (default 6,400)")
    parser.add_argument("--epochs", type=int, default=2, help="steady epochs after one warm-up epoch")
    parser.add_argument("--loader", action="store_true",
                        help="both train from a DataLoader (TensorDataset, shuffle=True): the fit(DataLoader) row")
    parser.add_argument("--engine", default="auto", choices=["auto", "analytic", "autograd"])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--data", default=None, help="folder holding fashion-mnist/ (default: KERASTYLE_DATA)")
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {args.train_size} samples, 1 warm-up + "
          f"{args.epochs} epochs, one plain step after each kerastyle step")
    for model in args.models:
        for bs in args.batch_sizes:
            r = measure(model, bs, args.train_size, args.epochs, args.loader, args.data, args.engine)
            spread = f"{min(r['blocks']):.2f}x-{max(r['blocks']):.2f}x" if r["blocks"] else "-"
            print(f"{model}, batch {bs}, {r['source']}, kerastyle {r['engine']}: {r['ours_us']:.0f} us/step, plain "
                  f"{r['plain_us']:.0f} us/step, ratio {r['ratio']:.3f}x (blocks of {BLOCK} steps: {spread}; "
                  f"{r['steps']} steps)")


if __name__ == "__main__":
    main()
