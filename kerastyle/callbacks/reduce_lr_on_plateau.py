"""``ReduceLROnPlateau``: lower the learning rate when a monitored value stalls."""

from __future__ import annotations

import math
import warnings

from .callback import Callback
from .utils import check_int, check_number, improvement_mode, learning_rate, set_learning_rate


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by ``min_delta`` for
    ``patience`` epochs, then wait ``cooldown`` epochs; never below ``min_lr``. Logs ``learning_rate``
    (the rate the epoch trained with). Keras 3's rules and defaults."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        owner = "ReduceLROnPlateau"
        check_number(owner, "factor", factor, 0.0, 1.0, high_open=True)
        patience = check_int(owner, "patience", patience)
        cooldown = check_int(owner, "cooldown", cooldown)
        min_delta = float(check_number(owner, "min_delta", min_delta))
        check_number(owner, "min_lr", min_lr, 0.0)
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = patience
        self.verbose = verbose
        self.mode = improvement_mode(monitor, mode, owner)
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = float(min_lr)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        lr = learning_rate(self.model, "ReduceLROnPlateau")
        logs["learning_rate"] = lr
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"ReduceLROnPlateau is conditioned on {self.monitor!r}, which is not in the logs "
                          f"(available: {', '.join(sorted(logs))}).", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        improved = (current < self.best - self.min_delta if self.mode == "min"
                    else current > self.best + self.min_delta)
        if improved:
            self.best = current
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and lr > self.min_lr:
                new = max(lr * self.factor, self.min_lr)
                set_learning_rate(self.model, new)
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0
