"""``BackupAndRestore``: resume an interrupted ``fit`` where it stopped."""

from __future__ import annotations

import os

from .. import distributed, saving
from ..saving.file_format import remove_stale_temps
from .callback import Callback
from .utils import checked_path_and_freq


class BackupAndRestore(Callback):
    """Back up the whole training state after every completed epoch; a restarted ``fit`` resumes from it.

    The backup, ``<backup_dir>/backup.kerastyle`` (written atomically: temporary file, fsync,
    rename), holds the weights, the optimizer state, the number of completed epochs, the history so
    far and the states of the torch, numpy and python random generators. It is written at each epoch's
    end with that epoch's logs, so put it last in ``callbacks`` (after callbacks that add log keys, such
    as LearningRateScheduler). A run killed at any point, SIGKILL included, and started again with the
    same call resumes after its last completed epoch and ends with exactly the weights and history of an
    uninterrupted run. The
    backup is deleted when training ends normally (``delete_checkpoint=True``); after an exception it
    stays for the next run. The internal counters of other callbacks (EarlyStopping,
    ReduceLROnPlateau) are not backed up, so they restart after a resume.

    On several processes (docs/distributed.md) every rank reads the backup (a folder all of them see),
    rank 0 writes it, with every rank's random generator states.
    """

    FILENAME = "backup.kerastyle"

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        self.backup_dir = checked_path_and_freq("BackupAndRestore", "backup_dir", backup_dir, save_freq)
        if os.path.exists(self.backup_dir) and not os.path.isdir(self.backup_dir):
            raise ValueError(f"BackupAndRestore: argument `backup_dir` must be a directory (it is created if "
                             f"missing), but {self.backup_dir!r} is an existing file.")
        self.delete_checkpoint = bool(delete_checkpoint)

    @property
    def filepath(self) -> str:
        return os.path.join(self.backup_dir, self.FILENAME)

    def on_train_begin(self, logs=None):
        # Temporary files left by a run killed while writing (not those of a live run).
        if distributed.is_chief():
            remove_stale_temps(self.filepath)
        distributed.barrier()
        if os.path.exists(self.filepath):
            run_state = {}
            run = getattr(self.model, "_fit_run", None)
            self.params["initial_epoch"] = saving.restore_backup(
                self.model, self.filepath, self.model.history, run_state,
                check_run=run.check_state if run is not None else None)
            if run is not None:
                run.restore_state(run_state)

    def on_epoch_end(self, epoch, logs=None):
        history = self.model.history
        recorded = _HistoryWithEpoch(history, epoch, logs or {})
        run = getattr(self.model, "_fit_run", None)
        run_state = run.backup_state() if run is not None else None  # (collective on several processes)
        if distributed.is_chief():
            os.makedirs(self.backup_dir, exist_ok=True)
            saving.write_backup(self.model, self.filepath, epoch + 1, recorded, run_state)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and distributed.is_chief() and os.path.exists(self.filepath):
            os.unlink(self.filepath)
            try:
                os.rmdir(self.backup_dir)  # only if nothing else is in it
            except OSError:
                pass


class _HistoryWithEpoch:
    """The run's history with ``epoch``'s logs added (History records them after the user's callbacks)."""

    def __init__(self, history, epoch, logs):
        self.epoch = list(history.epoch)
        self.history = {k: list(v) for k, v in history.history.items()}
        if epoch not in self.epoch:
            self.epoch.append(epoch)
            for key, value in logs.items():
                self.history.setdefault(key, []).append(value)
