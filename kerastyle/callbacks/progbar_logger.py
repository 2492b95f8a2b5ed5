"""``ProgbarLogger``: the progress bar as a callback (Keras 2 and 3).

``fit`` draws its own bar when ``verbose`` is on; given this callback explicitly, ``fit`` leaves the
drawing to it (as Keras does: one bar, never two) with the verbosity of the ``fit`` call (1 when
``verbose=0``, so that passing the callback shows progress).
"""

from __future__ import annotations

from ..progbar import Progbar
from .callback import Callback


class ProgbarLogger(Callback):
    """Print a progress bar per epoch and the epoch's logs. ``count_mode`` (Keras 2) is 'steps' or
    'samples'; kerastyle counts steps either way (the bar's numbers are batches)."""

    def __init__(self, count_mode="steps", stateful_metrics=None):
        super().__init__()
        if count_mode not in ("steps", "samples"):
            raise ValueError(f"ProgbarLogger: argument `count_mode` must be 'steps' or 'samples', got {count_mode!r}.")
        self.count_mode = count_mode
        self.stateful_metrics = set(stateful_metrics or ())
        self._bar = None
        self._seen = 0

    def _verbose(self):
        return self.params.get("verbose") or 1

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs")
        if epochs is not None:
            print(f"Epoch {epoch + 1}/{epochs}")
        self._bar = Progbar(self.params.get("steps"), self._verbose())
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self._bar is not None:
            current = dict(logs or {})
            self._bar.update(self._seen, lambda: current)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.finish(dict(logs or {}))
            self._bar = None

    def on_test_begin(self, logs=None):
        if self._bar is None:  # evaluate(), not fit's validation
            self._test_bar = Progbar(self.params.get("steps"), self._verbose())

    def on_test_end(self, logs=None):
        bar = getattr(self, "_test_bar", None)
        if bar is not None:
            bar.finish(dict(logs or {}))
            self._test_bar = None
