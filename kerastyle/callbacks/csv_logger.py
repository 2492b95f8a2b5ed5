"""``CSVLogger``: one CSV row per epoch."""

from __future__ import annotations

import csv
import os

from .. import distributed
from .callback import Callback


class CSVLogger(Callback):
    """Append one row per epoch (``epoch`` 0-based, then the log keys in sorted order) to a CSV file.

    Each row is written and closed at its epoch's end, so the file survives a crash. ``append=True``
    continues an existing file (use it with BackupAndRestore, whose resumed run starts mid-way).
    On several processes only rank 0 writes.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)) or not os.fspath(filename):
            raise TypeError(f"CSVLogger: argument `filename` must be a non-empty path, got {filename!r}.")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: argument `separator` must be a single character, got {separator!r}.")
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self._header = True

    def on_train_begin(self, logs=None):
        self.keys = None
        if not distributed.is_chief():
            return
        if self.append and os.path.exists(self.filename):
            self._header = os.path.getsize(self.filename) == 0
        else:
            self._header = True
            with open(self.filename, "w", newline=""):
                pass

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if not distributed.is_chief():
            return
        with open(self.filename, "a", newline="") as handle:
            writer = csv.writer(handle, delimiter=self.sep)
            if self._header:
                writer.writerow(["epoch", *self.keys])
                self._header = False
            writer.writerow([epoch, *(logs.get(key, "NA") for key in self.keys)])
