"""One rank of tests/test_distributed_resume.py: a zygote that imports kerastyle once, then forks one
training run per line read from standard input and reports how the run ended.

A line is ``ENGINE MODE BACKUP_DIR OUT STORE RANK WORLD [TIMEOUT]``. The run joins a gloo group
through a FileStore at STORE (1 thread, collective timeout TIMEOUT seconds, default 60), trains a small
model with ``BackupAndRestore(BACKUP_DIR)`` and writes ``OUT<rank>.npz`` (weights) and ``OUT<rank>.json``
(history). MODE:

- ``full``: train to the end;
- ``write-R``: rank R stops inside the atomic write of the second backup (end of epoch 1) and waits to
  be killed;
- ``batch-R``: rank R stops before batch 3 of epoch 3 and waits to be killed.

Markers go straight to file descriptor 1 (``fit`` silences ``sys.stdout`` on ranks other than 0):
``PID``, ``RAN <epoch>``, ``PAUSED``, ``DONE`` from the run, ``EXIT <wait status>`` from the zygote. A
run's standard error goes to ``OUT<rank>.err``.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
import traceback

import numpy as np
import torch

torch.set_num_threads(1)
os.environ.setdefault("KERASTYLE_DEVICE", "cpu")

import kerastyle as keras  # noqa: E402
from kerastyle.callbacks import BackupAndRestore, Callback, LearningRateScheduler  # noqa: E402
from kerastyle.layers import Dense, Dropout, Input  # noqa: E402
from kerastyle.saving import file_format  # noqa: E402

EPOCHS, N, N_VAL, BATCH = 6, 75, 21, 10  # uneven pieces (5 + 5, last batch 5 = 3 + 2)


def say(*words) -> None:
    os.write(1, (" ".join(map(str, words)) + "\n").encode())


def run(engine, mode, backup_dir, out, store, rank, world, timeout="60"):
    rank, world = int(rank), int(world)
    torch.distributed.init_process_group("gloo", store=torch.distributed.FileStore(store, world), rank=rank,
                                         world_size=world, timeout=datetime.timedelta(seconds=float(timeout)))
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N + N_VAL, 6)).astype(np.float32)
    y = (x[:, :2].sum(axis=1) > 0).astype(np.int64) + (x[:, 2] > 0.8)
    model = keras.Sequential([Input((6,)), Dense(12, activation="relu"), Dropout(0.3),
                              Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    pause, _, who = mode.partition("-")
    pauses_here = who == str(rank)

    class Probe(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            if rank == 0:
                say("RAN", epoch)

        def on_train_batch_begin(self, batch, logs=None):
            if pause == "batch" and pauses_here and (self.epoch, batch) == (3, 3):
                say("PAUSED")
                time.sleep(300)

    if pause == "write" and pauses_here:
        real_replace, writes = os.replace, []

        def slow_replace(src, dst):
            writes.append(dst)
            if len(writes) == 2:
                say("PAUSED")
                time.sleep(300)
            real_replace(src, dst)
        file_format.os.replace = slow_replace

    history = model.fit(x[:N], y[:N], epochs=EPOCHS, batch_size=BATCH, validation_data=(x[N:], y[N:]),
                        engine=engine, verbose=0,
                        callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.9), Probe(),
                                   BackupAndRestore(backup_dir)])
    np.savez(f"{out}{rank}.npz", *model.get_weights())
    with open(f"{out}{rank}.json", "w") as handle:
        json.dump({"epoch": history.epoch, "history": history.history, "engine": history.params["engine"]},
                  handle)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
    say("DONE")


def main():
    import torch._dynamo  # noqa: F401  (torch.optim imports it on first use: ~4 s, paid once here, not per run)
    say("READY")
    for line in sys.stdin:
        words = line.split()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                err = os.open(f"{words[3]}{words[5]}.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(err, 2)
                say("PID", os.getpid())
                run(*words)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)  # no interpreter teardown: a group whose peer died is not waited for
        say("EXIT", os.waitpid(pid, 0)[1])


if __name__ == "__main__":
    main()
