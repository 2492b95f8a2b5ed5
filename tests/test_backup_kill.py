"""BackupAndRestore against SIGKILL: a training process killed mid-write and mid-epoch, restarted
with the same call, ends with exactly the weights and history of a run that was never killed.

Independent truth: the same script run uninterrupted (in the test process, on CPU with one thread,
as the killed runs). The killed runs are forked from one process that imported kerastyle once.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from kerastyle import backend

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(signal, "SIGKILL"),
                                reason="needs POSIX fork and SIGKILL")

SCRIPT = r"""
import json, os, sys, time
import numpy as np
import kerastyle as keras
from kerastyle.saving import file_format
from kerastyle.callbacks import BackupAndRestore, Callback, LearningRateScheduler
from kerastyle.layers import Dense, Dropout, Input
from kerastyle.optimizers import Adam


def run(mode, backup_dir, out):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 10)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 3] > 1)
    model = keras.Sequential([Input((10,)), Dense(16, activation="relu"), Dropout(0.3),
                              Dense(3, activation="softmax")])
    model.compile(optimizer=Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class Probe(Callback):
        # Reports each epoch start; in 'pause_batch' mode stops mid-epoch 3 and waits to be killed.
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            print("RAN", epoch, flush=True)

        def on_train_batch_begin(self, batch, logs=None):
            if mode == "pause_batch" and self.epoch == 3 and batch == 3:
                print("PAUSED", flush=True)
                time.sleep(120)

    if mode == "pause_write":  # stop inside the atomic write of the second backup (end of epoch 1)
        real_replace, writes = os.replace, []

        def slow_replace(src, dst):
            writes.append(dst)
            if len(writes) == 2:
                print("PAUSED", flush=True)
                time.sleep(120)
            real_replace(src, dst)
        file_format.os.replace = slow_replace

    history = model.fit(x, y, epochs=6, batch_size=16, validation_split=0.25, verbose=0,
                        callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.9), Probe(),
                                   BackupAndRestore(backup_dir)])
    np.savez(out + ".npz", *model.get_weights())
    with open(out + ".json", "w") as handle:
        json.dump({"epoch": history.epoch, "history": history.history}, handle)
    print("DONE", flush=True)


if __name__ == "__main__":
    # A zygote: imports once, then forks one training process per command line and reports its end.
    print("READY", flush=True)
    for command in sys.stdin:
        pid = os.fork()
        if pid == 0:
            print("PID", os.getpid(), flush=True)
            code = 1
            try:
                run(*command.split())
                code = 0
            finally:
                sys.stdout.flush()
                os._exit(code)
        print("EXIT", os.waitpid(pid, 0)[1], flush=True)
"""


class Trainer:
    """The training script in its own process, forking one run per ``start()``; stdout read on a thread."""

    def __init__(self, script):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "KERASTYLE_DEVICE": "cpu",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        self.pid = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def start(self, mode, backup_dir, out):
        """Fork a run of ``run(mode, backup_dir, out)``."""
        self.seen = []
        self.proc.stdin.write(f"{mode} {backup_dir} {out}\n")
        self.proc.stdin.flush()
        self.pid = int(self.wait_for("PID")[-1].split()[1])
        self.seen = []
        return self

    def wait_for(self, marker, timeout=150):
        """The lines printed up to and including the first one starting with ``marker``."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.close()
                pytest.fail(f"no {marker!r} from the child within {timeout}s; saw {self.seen}")
            if line is None:
                self.proc.wait()
                pytest.fail(f"the script exited ({self.proc.returncode}) before {marker!r}; saw {self.seen}\n"
                            f"{self.proc.stderr.read()[-3000:]}")
            self.seen.append(line)
            if line.split()[0] == marker:
                return self.seen

    def kill(self):
        """SIGKILL the running training process."""
        os.kill(self.pid, signal.SIGKILL)
        status = int(self.wait_for("EXIT")[-1].split()[1])
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

    def close(self):
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.proc.kill()
        self.proc.wait(timeout=30)


def backup_epoch(backup_dir) -> int:
    with zipfile.ZipFile(backup_dir / "backup.kerastyle") as archive:
        return json.loads(archive.read("training.json"))["epoch"]


def result(out):
    with np.load(f"{out}.npz") as arrays:
        weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    return weights, json.loads(Path(f"{out}.json").read_text())


@pytest.fixture()
def cpu_single_thread(monkeypatch):
    """The in-process reference runs as the children do: CPU, one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setattr(backend.device, "_device", torch.device("cpu"))
    yield
    torch.set_num_threads(threads)


def test_sigkilled_training_resumes_to_identical_results(tmp_path, cpu_single_thread):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    backup = tmp_path / "backup"
    trainer = Trainer(script)

    # While the script imports: the same run, never interrupted, here.
    namespace = {"__name__": "reference"}
    exec(compile(SCRIPT, str(script), "exec"), namespace)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        namespace["run"]("full", str(tmp_path / "ref-backup"), str(tmp_path / "reference"))
    assert printed.getvalue().split("\n")[:-1] == [f"RAN {e}" for e in range(6)] + ["DONE"]

    try:
        trainer.wait_for("READY")
        # 1. Killed inside the backup write at the end of epoch 1: the new backup is a temporary file
        #    that never got renamed, so the backup of epoch 0 is what a restart sees.
        assert trainer.start("pause_write", backup, tmp_path / "unused").wait_for("PAUSED") \
            == ["RAN 0", "RAN 1", "PAUSED"]
        trainer.kill()
        assert backup_epoch(backup) == 1
        assert any(name.startswith(".backup.kerastyle.kerastyle-tmp-") for name in os.listdir(backup))

        # 2. Restarted with the same call: resumes at epoch 1, then is killed in the middle of epoch 3.
        assert trainer.start("pause_batch", backup, tmp_path / "unused").wait_for("PAUSED") \
            == ["RAN 1", "RAN 2", "RAN 3", "PAUSED"]
        trainer.kill()
        assert backup_epoch(backup) == 3

        # 3. Restarted again: resumes at epoch 3 and finishes.
        assert trainer.start("full", backup, tmp_path / "resumed").wait_for("EXIT") \
            == ["RAN 3", "RAN 4", "RAN 5", "DONE", "EXIT 0"]
    finally:
        trainer.close()

    weights, history = result(tmp_path / "resumed")
    ref_weights, ref_history = result(tmp_path / "reference")
    assert [w.shape for w in weights] == [(10, 16), (16,), (16, 3), (3,)]
    for got, expected in zip(weights, ref_weights):
        assert np.array_equal(got, expected)  # bitwise, CPU
    assert history == ref_history
    assert history["epoch"] == list(range(6)) and len(history["history"]["learning_rate"]) == 6
    assert not backup.exists()  # deleted once training completed
