"""One process of the distributed tests (tests/test_distributed.py): trains a small model and writes what
it saw to ``<out>.json``/``<out>.npz``.

``python distributed_worker.py SCENARIO OUT [RANK WORLD STORE]``: with RANK/WORLD/STORE it joins a gloo
group through a FileStore (as spawned ranks); under torchrun it lets ``fit`` find torchrun's
environment; without either it is the single-process reference run.
"""

from __future__ import annotations

import datetime
import json
import os
import sys

import numpy as np
import torch

torch.set_num_threads(1)
os.environ.setdefault("KERASTYLE_DEVICE", "cpu")

import kerastyle as keras  # noqa: E402
from kerastyle import callbacks, distributed, saving  # noqa: E402
from kerastyle.layers import Dense, Input  # noqa: E402
from kerastyle.trainers import distributed as fit_distributed  # noqa: E402

N, N_VAL, FEATURES, CLASSES, BATCH = 203, 41, 8, 3, 15


def data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    y = ((x[:, :2].sum(axis=1) > 0).astype(np.int64) + (x[:, 2] > 0.8)).astype(np.int64)
    return x, y


def make_model(optimizer):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([Input((FEATURES,)), Dense(16, activation="relu"), Dense(CLASSES, activation="softmax")])
    opt = keras.optimizers.SGD(0.1, momentum=0.9) if optimizer == "sgd" else keras.optimizers.Adam(0.01)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class StopOnRank(callbacks.Callback):
    """Sets ``stop_training`` on one rank only, at one batch of one epoch."""

    def __init__(self, rank, epoch, batch):
        super().__init__()
        self.rank, self.epoch_at, self.batch_at, self.epoch = rank, epoch, batch, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if distributed.rank() == self.rank and (self.epoch, batch) == (self.epoch_at, self.batch_at):
            self.model.stop_training = True


def equivalence(out, result):
    x, y = data(N, 0)
    xv, yv = data(N_VAL, 1)
    saves = []
    real_save = saving.save_model
    saving.save_model = lambda *a, **k: (saves.append(1), real_save(*a, **k))
    folder = os.path.dirname(out)
    configs = os.environ.get("WORKER_CONFIGS", "analytic_sgd,analytic_adam,autograd_sgd,autograd_adam")
    for key in configs.split(","):
        engine, optimizer = key.split("_")
        if True:
            model = make_model(optimizer)
            csv_path = os.path.join(folder, f"{key}.csv")
            ckpt = os.path.join(folder, f"{key}.kerastyle")
            cbs = [callbacks.EarlyStopping(monitor="val_loss", patience=1, verbose=1),
                   callbacks.ModelCheckpoint(ckpt, monitor="val_accuracy", save_best_only=True, verbose=1),
                   callbacks.CSVLogger(csv_path)]
            history = model.fit(x, y, batch_size=BATCH, epochs=3, shuffle=True, validation_data=(xv, yv),
                                callbacks=cbs, engine=engine, verbose=1)
            result[key] = {"history": history.history, "epochs": history.epoch,
                           "engine": history.params.get("engine") if hasattr(history, "params") else None}
            np.savez(f"{out}_{key}.npz", *model.get_weights())
            result[key]["evaluate"] = model.evaluate(xv, yv, batch_size=7, verbose=1, return_dict=True)
    result["saves"] = len(saves)


def nan(out, result):
    x, y = data(N, 0)
    weights = np.ones(N, dtype=np.float32)
    weights[[40, 41]] = 3e38  # the loss of batch 3 (samples 30..44) overflows; on 2 ranks rank 1's piece (38..44)
    for engine in ("analytic", "autograd"):
        model = make_model("sgd")
        try:
            model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, sample_weight=weights, engine=engine,
                      verbose=0)
            result[engine] = "no error"
        except keras.trainers.trainer.NonFiniteLossError as err:
            result[engine] = str(err)


def stop(out, result):
    x, y = data(N, 0)
    model = make_model("adam")
    history = model.fit(x, y, batch_size=BATCH, epochs=4, callbacks=[StopOnRank(1, 1, 4)], verbose=0,
                        engine="autograd")
    result["epochs"] = history.epoch
    result["loss"] = history.history["loss"]
    np.savez(out + "_stop.npz", *model.get_weights())


def steps(out, result):
    try:
        fit_distributed.check_equal_steps(10 + distributed.rank())
        result["error"] = None
    except ValueError as err:
        result["error"] = str(err)


SCENARIOS = {"equivalence": equivalence, "nan": nan, "stop": stop, "steps": steps}


def everything(out, result):
    """All scenarios in one process (one import, one process group)."""
    for name in ("equivalence", "nan", "stop", "steps"):
        scenario = SCENARIOS[name]
        result[name] = {}
        scenario(out, result[name])


SCENARIOS["all"] = everything


def main():
    scenario, out = sys.argv[1], sys.argv[2]
    if distributed.launched_by_torchrun():
        out += os.environ["RANK"]
    if len(sys.argv) > 3:
        rank, world, store = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        torch.distributed.init_process_group("gloo", store=torch.distributed.FileStore(store, world), rank=rank,
                                             world_size=world, timeout=datetime.timedelta(seconds=60))
    result = {"rank": distributed.rank(), "world": distributed.world_size()}
    SCENARIOS[scenario](out, result)
    result["world"] = distributed.world_size()
    with open(out + ".json", "w") as handle:
        json.dump(result, handle)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # no rank tears the group down while another still uses it
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
