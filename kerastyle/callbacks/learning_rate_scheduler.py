"""``LearningRateScheduler``: set the learning rate from a function of the epoch."""

from __future__ import annotations

import inspect
import math
import numbers

from .callback import Callback
from .utils import learning_rate, set_learning_rate


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)`` (or ``schedule(epoch)``,
    Keras 2's form); logs it as ``learning_rate``. ``epoch`` is 0-based."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: argument `schedule` must be a function (epoch, lr) -> lr, "
                            f"got {schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose
        try:
            inspect.signature(schedule).bind(0, 0.1)
            self._two_args = True
        except TypeError:
            self._two_args = False
        except ValueError:  # builtins without a signature
            self._two_args = True

    def on_epoch_begin(self, epoch, logs=None):
        lr = learning_rate(self.model, "LearningRateScheduler")
        new = self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)
        if isinstance(new, bool) or not isinstance(new, numbers.Real) or not math.isfinite(new) or new < 0:
            raise ValueError(f"LearningRateScheduler: `schedule` must return a finite number >= 0, got {new!r} "
                             f"for epoch {epoch}.")
        set_learning_rate(self.model, new)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = learning_rate(self.model, "LearningRateScheduler")
