"""``Callback``, the base of every callback, and ``CallbackList``, which dispatches the hooks.

Batch hooks cost something on the hot path, so ``CallbackList`` calls them only for callbacks
that override them.
"""

from __future__ import annotations

import functools
import inspect


class Callback:
    """Base class. Override any hook; ``self.model`` and ``self.params`` are set by fit, evaluate and predict.

    ``self.params`` is the run's dictionary (``epochs``, ``steps``, ``verbose``, ...); a callback may set
    ``params["initial_epoch"]`` in ``on_train_begin`` to resume a run (BackupAndRestore does)."""

    def __init__(self, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: Argument(s) not recognized: {sorted(kwargs)}. It takes no "
                            f"arguments.")
        self.model = None
        self.params = {}

    def __init_subclass__(cls, **kwargs):
        """Each subclass's ``__init__`` refuses unknown keyword arguments by listing the valid ones
        (Python's own message names the argument but not the alternatives)."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = _refusing_unknown_arguments(cls.__name__, init)

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass

    # Keras 2 names of the training batch hooks
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass


def _refusing_unknown_arguments(owner: str, init):
    try:
        parameters = list(inspect.signature(init).parameters.values())[1:]
    except (TypeError, ValueError):
        return init
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return init  # takes any keyword (LambdaCallback checks its own)
    valid = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @functools.wraps(init)
    def checked(self, *args, **kwargs):
        unknown = sorted(k for k in kwargs if k not in valid)
        if unknown:
            raise TypeError(f"{owner}: Argument(s) not recognized: {unknown}. Valid arguments: "
                            f"{', '.join(valid) or '(none)'}.")
        init(self, *args, **kwargs)
    return checked


def _overrides(callback, hook: str) -> bool:
    return hook in vars(callback) or getattr(type(callback), hook) is not getattr(Callback, hook)


class CallbackList:
    """Dispatches hooks to callbacks; knows once which ones want training batch hooks (the hot path)."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Argument `callbacks` must hold Callback instances, got {cb!r}.")
            cb.set_model(model)
            cb.set_params(params)
        self.batch_begin = [_hook(cb, "on_train_batch_begin", "on_batch_begin") for cb in self.callbacks
                            if _overrides(cb, "on_train_batch_begin") or _overrides(cb, "on_batch_begin")]
        self.batch_end = [_hook(cb, "on_train_batch_end", "on_batch_end") for cb in self.callbacks
                          if _overrides(cb, "on_train_batch_end") or _overrides(cb, "on_batch_end")]

    def call(self, hook: str, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


def _hook(callback, name, keras2_name):
    """The bound training batch hook, or Keras 2's ``on_batch_*`` when only that one is overridden."""
    if _overrides(callback, name) or not _overrides(callback, keras2_name):
        return getattr(callback, name)
    return getattr(callback, keras2_name)
