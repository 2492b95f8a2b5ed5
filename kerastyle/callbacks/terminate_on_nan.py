"""``TerminateOnNaN``: stop quietly when the loss becomes NaN or infinite."""

from __future__ import annotations

import math

from .callback import Callback


class TerminateOnNaN(Callback):
    """Stop training quietly when a batch's loss is NaN or infinite.

    Without this callback ``fit`` raises ``NonFiniteLossError`` in that case. With it, ``fit`` prints
    ``Batch N: Invalid loss, terminating training`` (as Keras), sets ``model.stop_training``, calls
    ``on_train_end`` and returns the history. Either way the non-finite batch's update is not applied,
    so the weights are those of the last finite step, and the interrupted epoch is not added to the
    history (its averages would cover part of an epoch).
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
