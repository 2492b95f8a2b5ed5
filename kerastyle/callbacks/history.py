"""``History``: the per-epoch logs of a ``fit``, returned by it and kept as ``model.history``."""

from __future__ import annotations

from .callback import Callback


class History(Callback):
    """Records the logs of every epoch: ``history.history['val_loss'][i]``."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, metrics=None, path=None):
        """Loss and metrics per epoch, training and validation (see ``plot_history``)."""
        from ..plotting import plot_history
        return plot_history(self, metrics=metrics, path=path)

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"<History epochs={len(self.epoch)} final={last}>"
