"""``ModelCheckpoint``: save the model or its weights every epoch, or when it improves."""

from __future__ import annotations

import math
import os
import warnings

from .. import distributed
from .callback import Callback
from .utils import check_number, checked_path_and_freq, improvement_mode


class ModelCheckpoint(Callback):
    """Save the model (or its weights) at the end of every epoch, or only when ``monitor`` improves.

    ``filepath`` may hold ``{epoch}`` (1-based, as Keras), ``{epoch:02d}`` and any log key such as
    ``{val_loss:.2f}``. Files are written atomically by ``model.save``/``model.save_weights``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        self.filepath = checked_path_and_freq("ModelCheckpoint", "filepath", filepath, save_freq)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = improvement_mode(monitor, mode, "ModelCheckpoint")
        if initial_value_threshold is not None:
            check_number("ModelCheckpoint", "initial_value_threshold", initial_value_threshold)
        self.best = initial_value_threshold
        if self.best is None:
            self.best = math.inf if self.mode == "min" else -math.inf

    def _format(self, epoch, logs) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(f"ModelCheckpoint: cannot format filepath {self.filepath!r} ({type(err).__name__}: "
                             f"{err}); it may use {{epoch}} and the log keys {', '.join(sorted(logs))}.") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._format(epoch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save the best model only with {self.monitor!r} in the logs "
                              f"(available: {', '.join(sorted(logs))}); skipping.", stacklevel=2)
                return
            better = current < self.best if self.mode == "min" else current > self.best
            if not better:
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if not distributed.is_chief():  # every rank tracks `best` alike; rank 0 writes
            return
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
