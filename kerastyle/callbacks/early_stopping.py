"""``EarlyStopping``: stop when a monitored value stops improving."""

from __future__ import annotations

import copy
import warnings

from .callback import Callback
from .utils import check_int, check_number, improvement_mode


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the best epoch's weights are restored when
    training ends (Keras 3 behaviour: also when training ran to the last epoch).
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        owner = "EarlyStopping"
        patience = check_int(owner, "patience", patience)
        start_from_epoch = check_int(owner, "start_from_epoch", start_from_epoch)
        min_delta = float(check_number(owner, "min_delta", min_delta))
        if baseline is not None:
            baseline = float(check_number(owner, "baseline", baseline))
        self.monitor = monitor
        self.mode = improvement_mode(monitor, mode, "EarlyStopping")
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch

    def _improved(self, value, reference):
        if reference is None:
            return True
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"EarlyStopping is conditioned on {self.monitor!r}, which is not in the logs. "
                          f"Available: {', '.join(logs or {})}.", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = copy.deepcopy(self.model.get_weights())
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(self.model.get_weights())
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)
