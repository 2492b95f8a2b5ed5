"""``LambdaCallback``: a callback made of plain functions."""

from __future__ import annotations

from .callback import Callback

HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end", "on_train_batch_begin",
         "on_train_batch_end", "on_batch_begin", "on_batch_end", "on_test_begin", "on_test_end",
         "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
         "on_predict_batch_begin", "on_predict_batch_end")


class LambdaCallback(Callback):
    """A callback from plain functions, any hook by its name: ``LambdaCallback(on_epoch_end=lambda epoch,
    logs: ...)``. Epoch and batch hooks take ``(index, logs)``, the others ``(logs)``; None leaves a
    hook out."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        unknown = sorted(set(kwargs) - set(HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback: unexpected keyword argument(s) {', '.join(map(repr, unknown))}; valid "
                            f"hooks are {', '.join(HOOKS)}.")
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: argument `{name}` must be a function, got {fn!r}.")
            setattr(self, name, fn)
