"""BackupAndRestore on two processes against SIGKILL: one rank killed inside the backup write, then one
killed mid-epoch; the survivor fails on its next collective (it does not hang); both are started again
with the same call each time, and the resumed run ends with exactly the weights and history of an
uninterrupted two-process run.

Independent truth: the same two-process script run without interruption. Each rank is a zygote
(tests/distributed_resume_worker.py) that imports kerastyle once and forks one run per launch; every
launch gets a fresh FileStore, as torchrun makes a new rendezvous for a restarted job.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "distributed_resume_worker.py"
WAIT = 120  # seconds for any marker: generous, the machine may be loaded
COLLECTIVE_TIMEOUT = 60  # the group's timeout in the worker

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(signal, "SIGKILL"),
                                reason="needs POSIX fork and SIGKILL")


class Rank:
    """One rank's zygote; its standard output is read on a thread."""

    def __init__(self, rank):
        self.rank = rank
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "KERASTYLE_DEVICE": "cpu",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            env.pop(name, None)
        self.proc = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        self.pid = None
        self.out = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def start(self, engine, mode, backup, out, store, timeout=COLLECTIVE_TIMEOUT, world=2):
        self.out = out
        self.proc.stdin.write(f"{engine} {mode} {backup} {out} {store} {self.rank} {world} {timeout}\n")
        self.proc.stdin.flush()
        self.seen = []
        self.pid = int(self.wait_for("PID")[-1].split()[1])
        self.seen = []

    def wait_for(self, marker, timeout=WAIT):
        """The lines since the last start up to and including the first one starting with ``marker``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"rank {self.rank}: no {marker!r} within {timeout}s; saw {self.seen}\n{self.errors()}")
            if line is None:
                self.proc.wait()
                pytest.fail(f"rank {self.rank}'s zygote exited ({self.proc.returncode}) before {marker!r}; saw "
                            f"{self.seen}\n{self.proc.stderr.read()[-3000:]}")
            self.seen.append(line)
            if line.split()[0] == marker:
                return self.seen

    def status(self, timeout=WAIT) -> int:
        """The run's wait status (from the zygote's EXIT line)."""
        return int(self.wait_for("EXIT", timeout)[-1].split()[1])

    def errors(self) -> str:
        path = Path(f"{self.out}{self.rank}.err") if self.out else None
        return path.read_text()[-3000:] if path is not None and path.exists() else ""

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)
        status = self.status()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

    def close(self):
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def ranks():
    pair = [Rank(0), Rank(1)]
    try:
        for rank in pair:
            rank.wait_for("READY")
        yield pair
    finally:
        for rank in pair:
            rank.close()


def launch(pair, folder, engine, mode, backup, out, timeout=COLLECTIVE_TIMEOUT):
    """Start both ranks with one command line each (a fresh FileStore per launch)."""
    launch.count += 1
    store = folder / f"store{launch.count}"
    for rank in pair:
        rank.start(engine, mode, backup, folder / out, store, timeout)


launch.count = 0


def assert_survivor_fails(rank, timeout=COLLECTIVE_TIMEOUT):
    """The rank whose peer died (or hangs) fails on its pending collective and exits: no hang. Returns
    its error output."""
    started = time.monotonic()
    status = rank.status(timeout=timeout + 60)
    elapsed = time.monotonic() - started
    errors = rank.errors()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1, (status, errors)
    assert elapsed < timeout + 30, errors
    assert "RuntimeError" in errors  # torch.distributed's error from the collective
    return errors


def backup_epoch(backup) -> int:
    with zipfile.ZipFile(backup / "backup.kerastyle") as archive:
        return json.loads(archive.read("training.json"))["epoch"]


def result(folder, out, rank):
    with np.load(folder / f"{out}{rank}.npz") as arrays:
        weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    return weights, json.loads((folder / f"{out}{rank}.json").read_text())


@pytest.mark.parametrize("engine", ["analytic", "autograd"])
def test_two_ranks_killed_and_restarted_resume_to_identical_results(ranks, tmp_path, engine):
    rank0, rank1 = ranks
    backup = tmp_path / "backup"

    # The reference: the same two-process run, never interrupted.
    launch(ranks, tmp_path, engine, "full", tmp_path / "ref-backup", "reference")
    assert rank0.status() == 0 and rank1.status() == 0, rank0.errors() + rank1.errors()
    assert rank0.seen == [f"RAN {e}" for e in range(6)] + ["DONE", "EXIT 0"]

    # 1. Rank 0 (the writer) is killed inside the atomic write of the backup at the end of epoch 1:
    #    rank 1 fails on its next collective; the backup of epoch 0 is what a restart sees.
    launch(ranks, tmp_path, engine, "write-0", backup, "killed1")
    assert rank0.wait_for("PAUSED") == ["RAN 0", "RAN 1", "PAUSED"]
    rank0.kill()
    assert_survivor_fails(rank1)
    assert backup_epoch(backup) == 1

    # 2. Both started again with the same call: resume at epoch 1; rank 1 is killed in the middle of
    #    epoch 3, rank 0 fails on its next collective.
    launch(ranks, tmp_path, engine, "batch-1", backup, "killed2")
    rank1.wait_for("PAUSED")
    rank1.kill()
    assert_survivor_fails(rank0)
    assert rank0.seen[:3] == ["RAN 1", "RAN 2", "RAN 3"]
    assert backup_epoch(backup) == 3
    # The same backup on one process is refused (data order and dropout streams belong to 2 ranks).
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(backup / "backup.kerastyle", alone / "backup.kerastyle")
    rank0.start(engine, "full", alone, tmp_path / "alone-", tmp_path / "store-alone", world=1)
    assert rank0.status() == 1 << 8
    assert "ValueError: BackupAndRestore: the backup was written by a run on 2 process(es), this run has 1" \
        in rank0.errors()

    # 3. Started again: resume at epoch 3 and finish.
    launch(ranks, tmp_path, engine, "full", backup, "resumed")
    assert rank0.status() == 0 and rank1.status() == 0, rank0.errors() + rank1.errors()
    assert rank0.seen == ["RAN 3", "RAN 4", "RAN 5", "DONE", "EXIT 0"]

    reference = [result(tmp_path, "reference", r) for r in range(2)]
    for r in range(2):
        weights, history = result(tmp_path, "resumed", r)
        ref_weights, ref_history = reference[r]
        assert history["engine"] == engine
        assert [w.shape for w in weights] == [(6, 12), (12,), (12, 3), (3,)]
        for got, expected in zip(weights, ref_weights):
            np.testing.assert_array_equal(got, expected)  # bitwise: CPU, same reductions in the same order
        assert history == ref_history
        assert history["epoch"] == list(range(6)) and len(history["history"]["val_accuracy"]) == 6
    for a, b in zip(reference[0][0], reference[1][0]):
        np.testing.assert_array_equal(a, b)  # the ranks agree
    assert not backup.exists()  # deleted once training completed


def test_a_stuck_peer_is_an_error_within_the_timeout(ranks, tmp_path):
    """A peer that stops answering without dying (its connections stay open) is an error once the
    group's timeout has passed, not a hang: rank 1 stops mid-epoch and rank 0 gives up."""
    rank0, rank1 = ranks
    launch(ranks, tmp_path, "autograd", "batch-1", tmp_path / "backup", "stuck", timeout=8)
    rank1.wait_for("PAUSED")
    errors = assert_survivor_fails(rank0, timeout=8)
    assert "timed out" in errors.lower() or "timeout" in errors.lower(), errors
    rank1.kill()
