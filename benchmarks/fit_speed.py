"""Seconds per training epoch on Fashion-MNIST: kerastyle's engines vs a plain PyTorch loop vs Keras 3.

Every run trains the same model from the same initial weights on the same data with
``SGD(0.01, momentum=0.9)`` and sparse categorical cross-entropy, in its own subprocess (so the
peak memory is its own and no run warms the caches of the next):

* ``analytic``: kerastyle ``fit(engine='analytic')`` (what ``'auto'`` picks for these models);
* ``autograd``: kerastyle ``fit(engine='autograd')``;
* ``torch``: a plain PyTorch loop over standard ``nn.Linear`` modules: shuffle once per epoch,
  slice batches, ``CrossEntropyLoss``, ``backward()``, ``torch.optim.SGD``, ``loss.item()`` per step;
* ``keras``: Keras 3 on its torch backend, when ``import keras`` works;
* ``dataloader``: kerastyle ``fit(DataLoader)`` against the plain PyTorch loop over the same kind of
  ``DataLoader`` (``TensorDataset``, ``batch_size``, ``shuffle=True``), paired in one process (epochs
  alternate; the row's ratio is the median of the per-epoch ratios);
* ``uint8`` and ``torch-uint8``: the memory rows. The images stay ``uint8`` (0-255, as ``load_data()``
  gives them): kerastyle ``fit(x_uint8)`` converts per batch; the plain loop indexes the uint8 tensor and
  calls ``.float()`` per batch. Both train with ``Adam(1e-4)`` (raw 0-255 inputs), so their accuracy is
  not comparable with the other rows; compare their peak and ``+train MB`` columns.

kerastyle and Keras train with ``metrics=['accuracy']`` as the lecture scripts do. The first
epoch is a warm-up; the table shows the median of the following ``--epochs`` epochs (the fastest
run with ``--repeats``), the ratio to the plain loop, test accuracy after all epochs, and peak
memory: the process's peak resident set during training (Linux ``VmHWM``, reset through
``/proc/self/clear_refs`` just before training; ``ru_maxrss`` where that is unavailable), total
and above the resident set at the start of training (data loaded, model built).

    python benchmarks/fit_speed.py                         # all models, batch 32 and 128
    python benchmarks/fit_speed.py --quick                 # 784-128-10, batch 32, 12,000 images
    python benchmarks/fit_speed.py --models 784-128-10 --batch-sizes 32 --epochs 3 --runs analytic torch
    python benchmarks/fit_speed.py --models 784-128-10 --epochs 8 --runs analytic torch --paired

With ``--processes N`` each kerastyle engine in ``--runs`` also trains under
``torchrun --standalone --nproc-per-node=N`` (the same worker, unchanged: ``fit`` finds torchrun's
environment; gloo on CPU; ``--threads`` divided among the processes; the global batch stays
``--batch-sizes``) and its epoch time is printed next to the 1-process one. On a 2-core machine this
is a record of the synchronization overhead, not a speed-up.

    python benchmarks/fit_speed.py --models 784-128-10 --batch-sizes 128 --runs analytic autograd --processes 2

With ``--paired`` each kerastyle engine also trains in one process with the plain loop, alternating
epoch by epoch (the plain loop's epochs run from a callback between two kerastyle epochs, on their
own clock and random generator), and the median of the per-epoch ratios is printed: epochs a second
apart see the same machine load, which separate runs tens of seconds apart need not.

Data: ``kerastyle.datasets.fashion_mnist`` (``KERASTYLE_DATA`` or ``--data``, a folder holding the
four IDX ``.gz`` files); ``/work/shared/data`` is used when it exists and nothing else is set.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODELS = {
    "784-128-10": [128],  # the lecture's Fashion-MNIST model, 101,770 parameters
    "784-64-64-64-10": [64, 64, 64],  # the MNIST script, 59,210 parameters
    "784-1024x3-10": [1024, 1024, 1024],  # the 3 x 1024 network, 2,913,290 parameters
    # issue 14's rows (named, not lists of Dense sizes): built by _kerastyle_net / _plain_torch_net / _keras_net
    "convnet": "convnet",  # Conv2D(32,3)-MaxPool-Conv2D(64,3)-MaxPool-Flatten-Dropout(0.5)-Dense(10), 34,826 params
    "embedding-lstm": "embedding-lstm",  # Embedding(5000,32)-LSTM(32)-Dense(2) on generated 80-token sequences
}
DEFAULT_MODELS = ["784-128-10", "784-64-64-64-10", "784-1024x3-10"]
VOCAB, SEQ_LEN = 5000, 80
RUNS = ("analytic", "autograd", "torch", "keras", "dataloader", "uint8", "torch-uint8")
SHARED_DATA = Path("/work/shared/data")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's kerastyle, installed or not


# -- data ------------------------------------------------------------------------------------------
def _read_idx_gz(path: Path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fashion_mnist(data_dir: str | None):
    """``(x_train, y_train, x_test, y_test)``: float32 pixels / 255 as ``(n, 784)``, int64 labels."""
    import numpy as np
    if data_dir is None and "KERASTYLE_DATA" not in os.environ and SHARED_DATA.is_dir():
        data_dir = str(SHARED_DATA)
    folder = Path(data_dir) / "fashion-mnist" if data_dir else None
    try:
        from kerastyle.datasets import fashion_mnist
        if data_dir:
            os.environ["KERASTYLE_DATA"] = data_dir
        (x, y), (xt, yt) = fashion_mnist.load_data()
    except ImportError:  # the datasets module is optional here: read the IDX files directly
        if folder is None:
            raise SystemExit("Pass --data DIR (a folder with fashion-mnist/*.gz) or set KERASTYLE_DATA.") from None
        x, y = (_read_idx_gz(folder / f"train-{kind}-idx{d}-ubyte.gz") for kind, d in (("images", 3), ("labels", 1)))
        xt, yt = (_read_idx_gz(folder / f"t10k-{kind}-idx{d}-ubyte.gz") for kind, d in (("images", 3), ("labels", 1)))

    def prep(images, labels):
        return (images.reshape(len(images), -1).astype(np.float32) / 255.0,
                np.ascontiguousarray(labels, dtype=np.int64))
    return (*prep(x, y), *prep(xt, yt))


def load_data_for(model: str, data_dir: str | None):
    """The data of a benchmark row: Fashion-MNIST rows of 784 (MLPs), 28x28x1 images (convnet), or
    generated IMDB-shaped token sequences (Embedding+LSTM: 25,000 + 5,000 sequences of 80 ids below
    ``VOCAB``, label 1 when ids below 50 are more frequent than in half of the sequences)."""
    import numpy as np
    if model == "embedding-lstm":
        rng = np.random.default_rng(0)
        ids = rng.integers(1, VOCAB, size=(30000, SEQ_LEN)).astype(np.int64)
        ids[rng.random(ids.shape) < 0.05] = rng.integers(1, 50)  # some frequent words
        score = (ids < 50).sum(axis=1)
        labels = (score > np.median(score)).astype(np.int64)
        return ids[:25000], labels[:25000], ids[25000:], labels[25000:]
    x, y, xt, yt = load_fashion_mnist(data_dir)
    if model == "convnet":
        x, xt = x.reshape(-1, 28, 28, 1), xt.reshape(-1, 28, 28, 1)
    return x, y, xt, yt


# -- one run (in a subprocess) -------------------------------------------------------------------------
def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _start_peak() -> float:
    """Reset the peak resident set to the current one (Linux ``clear_refs``) and return it in MB."""
    import gc
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    rss = _status_mb("VmRSS")
    return rss if rss is not None else _peak_mb()


def _peak_mb() -> float:
    """Peak resident set (MB) since the last ``_start_peak`` (``VmHWM``), else since start (``ru_maxrss``)."""
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _net_layers(lib, hidden):
    """The layers of a row's network in ``lib`` (kerastyle or keras: the same Keras API)."""
    L = lib.layers
    if hidden == "convnet":
        return [L.Input(shape=(28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
                L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(), L.Dropout(0.5),
                L.Dense(10, activation="softmax")]
    if hidden == "embedding-lstm":
        return [L.Input(shape=(SEQ_LEN,), dtype="int32"), L.Embedding(VOCAB, 32), L.LSTM(32),
                L.Dense(2, activation="softmax")]
    return [L.Input(shape=(784,)), *[L.Dense(h, activation="relu") for h in hidden],
            L.Dense(10, activation="softmax")]


def _kerastyle_model(hidden):
    import kerastyle as ks
    model = ks.Sequential(_net_layers(ks, hidden))
    model.compile(optimizer=ks.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _plain_torch_loop(hidden, reference, x, y, bs, generator=None):
    """What a PyTorch user writes: standard ``nn.Linear`` modules (torch's own ``(out, in)`` weight
    layout) with ``reference``'s initial weights, logits out, ``CrossEntropyLoss``, ``torch.optim.SGD``;
    per epoch: shuffle, slice batches, ``backward()``, ``step()``, ``loss.item()``. Returns the network
    and a function that trains one epoch and returns its seconds."""
    import torch
    from torch import nn
    rng = torch.get_rng_state()  # building the modules must not change the shuffles that follow
    if isinstance(hidden, str):
        net, x = _plain_torch_net(hidden, reference, x)
    else:
        sizes = [784, *hidden, 10]
        layers = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        net = nn.Sequential(*layers[:-1])
        with torch.no_grad():
            for param, value in zip(net.parameters(), reference.to_torch().parameters()):
                param.copy_(value if value.shape == param.shape else value.T)  # kerastyle keeps Keras's (in, out)
    torch.set_rng_state(rng)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    n = len(x_t)

    def train_epoch():
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        xs, ys = x_t[order], y_t[order]
        total = 0.0
        for i in range(0, n, bs):
            optimizer.zero_grad()
            loss = loss_fn(net(xs[i:i + bs]), ys[i:i + bs])
            loss.backward()
            optimizer.step()
            total += loss.item()
        return time.perf_counter() - start
    return net, train_epoch


def _plain_torch_net(kind, reference, x):
    """The convnet / Embedding+LSTM as a PyTorch user writes them (channels-first ``nn.Conv2d`` on images
    transposed once; ``nn.LSTM(batch_first=True)``), with ``reference``'s initial weights converted from
    Keras's layouts. Returns the network and the training inputs in its layout."""
    import numpy as np
    import torch
    from torch import nn
    w = [torch.from_numpy(a) for a in reference.get_weights()]
    if kind == "convnet":
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))
        dense = w[4].reshape(5, 5, 64, 10).permute(2, 0, 1, 3).reshape(1600, 10)  # Keras flattens (h, w, c)
        values = [w[0].permute(3, 2, 0, 1), w[1], w[2].permute(3, 2, 0, 1), w[3], dense.t(), w[5]]
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    else:
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.Embedding(VOCAB, 32)
                self.lstm = nn.LSTM(32, 32, batch_first=True)
                self.dense = nn.Linear(32, 2)

            def forward(self, ids):
                _, (h, _) = self.lstm(self.embedding(ids))
                return self.dense(h[0])
        net = Net()
        values = [w[0], w[1].t(), w[2].t(), w[3], torch.zeros_like(w[3]), w[4].t(), w[5]]
    with torch.no_grad():
        for param, value in zip(net.parameters(), values):
            param.copy_(value)
    return net, x


def _plain_loader_epoch(net, loader, lr_optimizer):
    """One epoch of the plain PyTorch loop over a ``DataLoader``; returns its seconds."""
    import torch
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_epoch():
        start = time.perf_counter()
        for xb, yb in loader:
            lr_optimizer.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            lr_optimizer.step()
            loss.item()
        return time.perf_counter() - start
    return train_epoch


def worker(config: dict) -> dict:
    """Train one (run, model, batch size) and return its timings, accuracy and memory."""
    import numpy as np
    import torch
    torch.set_num_threads(config["threads"])
    x, y, xt, yt = load_data_for(config["model"], config["data"])
    if config["train_size"]:
        x, y = x[:config["train_size"]], y[:config["train_size"]]
    hidden, bs, epochs, run = MODELS[config["model"]], config["batch_size"], config["epochs"] + 1, config["run"]
    torch.manual_seed(0)
    np.random.seed(0)
    reference = _kerastyle_model(hidden)  # every run starts from these weights
    initial = reference.get_weights()
    times, result = [], {"engine": run}

    if run in ("analytic", "autograd") or run.startswith("paired-"):
        # kerastyle fit; "paired-<engine>" also trains the plain loop for one epoch after each of its
        # epochs (from the callback, on its own clock and random generator), so each pair sees the same load.
        from kerastyle.callbacks import Callback
        engine = run.removeprefix("paired-")
        plain_epoch = (_plain_torch_loop(hidden, reference, x, y, bs, torch.Generator().manual_seed(1))[1]
                       if run.startswith("paired-") else None)
        plain_times = []

        class EpochTimer(Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.start)
                if plain_epoch:
                    plain_times.append(plain_epoch())

        base = _start_peak()
        history = reference.fit(torch.from_numpy(x), torch.from_numpy(y), batch_size=bs, epochs=epochs, verbose=0,
                                callbacks=[EpochTimer()], engine=engine)
        result["engine"] = history.params["engine"]
        result["accuracy"] = reference.evaluate(xt, yt, batch_size=1000, verbose=0, return_dict=True)["accuracy"]
        if plain_epoch:
            result["ratios"] = [a / b for a, b in zip(times[1:], plain_times[1:])]
    elif run == "dataloader":
        from torch.utils.data import DataLoader, TensorDataset

        from kerastyle.callbacks import Callback
        data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        loader = DataLoader(data, batch_size=bs, shuffle=True, generator=torch.Generator().manual_seed(0))
        net, _ = _plain_torch_loop(hidden, reference, x, y, bs)
        plain_epoch = _plain_loader_epoch(net, DataLoader(data, batch_size=bs, shuffle=True,
                                                          generator=torch.Generator().manual_seed(1)),
                                          torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9))
        plain_times = []

        class PairedTimer(Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.start)
                plain_times.append(plain_epoch())

        base = _start_peak()
        history = reference.fit(loader, epochs=epochs, verbose=0, callbacks=[PairedTimer()])
        result["engine"] = history.params["engine"]
        result["accuracy"] = reference.evaluate(xt, yt, batch_size=1000, verbose=0, return_dict=True)["accuracy"]
        result["ratios"] = [a / b for a, b in zip(times[1:], plain_times[1:])]
    elif run in ("uint8", "torch-uint8"):
        x8, xt8 = (np.round(a * 255).astype(np.uint8) for a in (x, xt))
        del x, xt
        if run == "uint8":
            import kerastyle as ks
            reference.compile(ks.optimizers.Adam(1e-4), "sparse_categorical_crossentropy", metrics=["accuracy"])

            class Timer(ks.callbacks.Callback):
                def on_epoch_begin(self, epoch, logs=None):
                    self.start = time.perf_counter()

                def on_epoch_end(self, epoch, logs=None):
                    times.append(time.perf_counter() - self.start)
            base = _start_peak()
            history = reference.fit(x8, y, batch_size=bs, epochs=epochs, verbose=0, callbacks=[Timer()])
            result["engine"] = history.params["engine"]
            result["accuracy"] = reference.evaluate(xt8, yt, batch_size=1000, verbose=0,
                                                    return_dict=True)["accuracy"]
        else:
            net, _ = _plain_torch_loop(hidden, reference, x8[:1].astype(np.float32), y[:1], bs)
            optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
            loss_fn = torch.nn.CrossEntropyLoss()
            x_t, y_t = torch.from_numpy(x8), torch.from_numpy(y)
            base = _start_peak()
            for _ in range(epochs):
                start = time.perf_counter()
                order = torch.randperm(len(x_t))
                xs, ys = x_t[order], y_t[order]
                for i in range(0, len(xs), bs):
                    optimizer.zero_grad()
                    loss = loss_fn(net(xs[i:i + bs].float()), ys[i:i + bs])
                    loss.backward()
                    optimizer.step()
                    loss.item()
                times.append(time.perf_counter() - start)
            with torch.no_grad():
                result["accuracy"] = float((net(torch.from_numpy(xt8).float()).argmax(1) ==
                                            torch.from_numpy(yt)).float().mean())
    elif run == "torch":
        net, train_epoch = _plain_torch_loop(hidden, reference, x, y, bs)
        base = _start_peak()
        for _ in range(epochs):
            times.append(train_epoch())
        if hidden == "convnet":
            xt = np.ascontiguousarray(xt.transpose(0, 3, 1, 2))
        net.eval()
        with torch.no_grad():  # in batches of 1000 as kerastyle's evaluate, so the peak memory is training's
            xt_t, yt_t = torch.from_numpy(xt), torch.from_numpy(yt)
            hits = sum(int((net(xt_t[i:i + 1000]).argmax(1) == yt_t[i:i + 1000]).sum())
                       for i in range(0, len(xt_t), 1000))
            result["accuracy"] = hits / len(xt_t)
    elif run == "keras":
        os.environ["KERAS_BACKEND"] = "torch"
        try:
            import keras
        except ImportError as err:
            return {"skipped": f"keras not installed ({err.name or err})"}
        model = keras.Sequential(_net_layers(keras, hidden))
        model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])

        class KerasTimer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.start)

        base = _start_peak()
        model.fit(x, y, batch_size=bs, epochs=epochs, verbose=0, callbacks=[KerasTimer()])
        result["engine"] = f"keras {keras.__version__}"
        result["accuracy"] = float(model.evaluate(xt, yt, batch_size=1000, verbose=0, return_dict=True)["accuracy"])
    else:
        raise ValueError(f"unknown run {run!r}")
    result.update(epoch_s=statistics.median(times[1:]), all_epochs_s=times, peak_mb=_peak_mb(),
                  train_mb=_peak_mb() - base)
    return result


# -- driver -------------------------------------------------------------------------------------------------
def _run_in_subprocess(config: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(config)], capture_output=True, text=True)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
        return {"skipped": f"failed: {last}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _run_distributed(config: dict, processes: int) -> dict:
    """The worker under torchrun on ``processes`` processes; rank 0 reports."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
               __file__, "--worker", json.dumps(config)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
        return {"skipped": f"failed: {last}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=DEFAULT_MODELS,
                        help="rows to run (default: the three MLPs; 'convnet' and 'embedding-lstm' on request)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[32, 128])
    parser.add_argument("--epochs", type=int, default=2, help="steady epochs timed after one warm-up epoch")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--repeats", type=int, default=1,
                        help="run every configuration this many times, interleaved; report the fastest "
                             "run and the ratio of each repeat (on a machine whose load varies)")
    parser.add_argument("--paired", action="store_true",
                        help="also train each kerastyle engine in --runs and the plain loop in one process, "
                             "alternating epoch by epoch, and print the per-epoch ratios (robust to a "
                             "machine whose speed drifts from minute to minute)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--train-size", type=int, default=0, help="use only the first N training images")
    parser.add_argument("--data", default=None, help="folder holding fashion-mnist/ (default: KERASTYLE_DATA)")
    parser.add_argument("--quick", action="store_true", help="784-128-10, batch 32, 12,000 images, 1 epoch")
    parser.add_argument("--json", default=None, help="also write all results to this file")
    parser.add_argument("--processes", type=int, default=1,
                        help="also train each kerastyle engine in --runs on this many processes (torchrun)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(json.loads(args.worker))
        if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 reports
            print(json.dumps(result))
        return
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.quick:
        args.models, args.batch_sizes, args.train_size, args.epochs = ["784-128-10"], [32], 12000, 1

    import torch
    print(f"torch {torch.__version__}, {args.threads} threads, SGD(0.01, momentum=0.9), "
          f"{args.train_size or 60000} training images, 1 warm-up + {args.epochs} timed epochs")
    results = []
    for model in args.models:
        for bs in args.batch_sizes:
            rows, by_repeat = {}, []
            common = {"model": model, "batch_size": bs, "epochs": args.epochs, "threads": args.threads,
                      "train_size": args.train_size, "data": args.data}
            for _ in range(args.repeats):
                by_repeat.append({})
                for run in args.runs:
                    config = {**common, "run": run}
                    row = _run_in_subprocess(config)
                    results.append({**config, **row})
                    by_repeat[-1][run] = row.get("epoch_s")
                    if run not in rows or row.get("epoch_s", math.inf) < rows[run].get("epoch_s", math.inf):
                        rows[run] = row
            plain = rows.get("torch", {}).get("epoch_s")
            plain8 = rows.get("torch-uint8", {}).get("epoch_s")
            print(f"\n{model}, batch {bs}")
            print(f"| {'run':<22} | {'s/epoch':>8} | {'vs torch':>8} | {'test acc':>8} | {'peak MB':>8} | "
                  f"{'+train MB':>9} |")
            print(f"|{'-' * 24}|{'-' * 10}:|{'-' * 10}:|{'-' * 10}:|{'-' * 10}:|{'-' * 11}:|")
            for run, row in rows.items():
                if "skipped" in row:
                    print(f"| {run:<22} | {row['skipped']}")
                    continue
                label = run if run != "analytic" else f"analytic ({row['engine']})"
                if run in ("analytic", "autograd"):
                    label = f"kerastyle {row['engine']}"
                if run == "dataloader":  # paired with the plain loop over a DataLoader, epoch by epoch
                    label = "fit(DataLoader) paired"
                    ratio = f"{statistics.median(row['ratios']):.2f}x"
                elif run == "uint8":
                    label = f"kerastyle uint8 {row['engine']}"
                    ratio = f"{row['epoch_s'] / plain8:.2f}x" if plain8 else "-"
                elif run == "torch-uint8":
                    ratio = "1.00x"
                else:
                    ratio = f"{row['epoch_s'] / plain:.2f}x" if plain else "-"
                print(f"| {label:<22} | {row['epoch_s']:>8.3f} | {ratio:>8} | {row['accuracy']:>8.4f} | "
                      f"{row['peak_mb']:>8.0f} | {row['train_mb']:>9.1f} |")
            if args.repeats > 1:  # runs next to each other in time see similar machine load
                for run in (r for r in args.runs if r != "torch"):
                    pairs = [f"{rep[run] / rep['torch']:.2f}x" for rep in by_repeat
                             if rep.get(run) and rep.get("torch")]
                    if pairs:
                        print(f"{run} vs torch, each repeat paired in time: {', '.join(pairs)}")
            for engine in (r for r in args.runs if args.paired and r in ("analytic", "autograd")):
                config = {**common, "run": f"paired-{engine}"}
                row = _run_in_subprocess(config)
                results.append({**config, **row})
                if "skipped" in row:
                    print(f"{engine} vs torch, alternating epochs in one process: {row['skipped']}")
                    continue
                ratios = row["ratios"]
                print(f"{engine} vs torch, alternating epochs in one process: median "
                      f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}x-{max(ratios):.2f}x over "
                      f"{len(ratios)} epoch pairs; "
                      f"{engine} test acc {row['accuracy']:.4f})")
            for engine in (r for r in args.runs if args.processes > 1 and r in ("analytic", "autograd")):
                threads = max(1, args.threads // args.processes)
                config = {**common, "run": engine, "threads": threads}
                row = _run_distributed(config, args.processes)
                results.append({**config, **row, "processes": args.processes})
                one = rows.get(engine, {}).get("epoch_s")
                if "skipped" in row:
                    print(f"{engine} on {args.processes} processes: {row['skipped']}")
                    continue
                print(f"{engine} on {args.processes} processes (torchrun, gloo, {threads} thread(s) each, global "
                      f"batch {bs}): {row['epoch_s']:.3f} s/epoch, test acc {row['accuracy']:.4f}"
                      + (f"; on 1 process ({args.threads} threads): {one:.3f} s/epoch" if one else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
