"""``PyDataset`` (Keras 3) and ``Sequence`` (its Keras 2 name): batches served by index.

A subclass defines ``__len__`` (batches per epoch) and ``__getitem__(index)`` (one batch:
``x``, ``(x, y)`` or ``(x, y, sample_weight)``); ``on_epoch_end`` runs after each epoch, e.g.
to reshuffle. Keras 3's constructor arguments ``workers``, ``use_multiprocessing`` and
``max_queue_size`` are accepted and validated; the trainer reads them as attributes.
Keras 2 subclasses that never call ``super().__init__()`` get the defaults.
"""

from __future__ import annotations

import numbers

_DEFAULTS = {"workers": 1, "use_multiprocessing": False, "max_queue_size": 10}


class PyDataset:
    """Base class for datasets that produce whole batches by index (``fit(dataset)``)."""

    def __init__(self, **kwargs):
        unknown = sorted(set(kwargs) - set(_DEFAULTS))
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                            f"valid ones are {', '.join(_DEFAULTS)}.")
        workers = kwargs.get("workers", 1)
        if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
            raise ValueError(f"{type(self).__name__}: argument `workers` must be an integer >= 1, got {workers!r}.")
        queue = kwargs.get("max_queue_size", 10)
        if isinstance(queue, bool) or not isinstance(queue, numbers.Integral) or queue < 1:
            raise ValueError(f"{type(self).__name__}: argument `max_queue_size` must be an integer >= 1, "
                             f"got {queue!r}.")
        multi = kwargs.get("use_multiprocessing", False)
        if not isinstance(multi, bool):
            raise ValueError(f"{type(self).__name__}: argument `use_multiprocessing` must be True or False, "
                             f"got {multi!r}.")
        self._workers, self._use_multiprocessing, self._max_queue_size = int(workers), multi, int(queue)

    # Keras 2 subclasses may skip super().__init__(): fall back to the defaults.
    @property
    def workers(self) -> int:
        return getattr(self, "_workers", _DEFAULTS["workers"])

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        return getattr(self, "_use_multiprocessing", _DEFAULTS["use_multiprocessing"])

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        return getattr(self, "_max_queue_size", _DEFAULTS["max_queue_size"])

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches per epoch).")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning one batch.")

    @property
    def num_batches(self):
        """Batches per epoch (``len(self)``), as Keras 3 names it."""
        return len(self)

    def on_epoch_begin(self):
        """Called before each epoch; override to prepare it."""

    def on_epoch_end(self):
        """Called after each epoch; override to reshuffle or refresh the data."""

    def __iter__(self):
        """All batches of one epoch in order (the Keras 2 ``Sequence`` iteration)."""
        for index in range(len(self)):
            yield self[index]


#: The Keras 2 name of :class:`PyDataset` (``keras.utils.Sequence``).
Sequence = PyDataset
