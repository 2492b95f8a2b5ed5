"""``LambdaCallback``: a callback made of plain functions."""

from __future__ import annotations

from .callback import Callback


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks):
        super().__init__()
        valid = sorted(name for name in vars(Callback) if name.startswith("on_"))
        unknown = {name: fn for name, fn in hooks.items() if name not in valid}
        if unknown:
            raise TypeError(f"LambdaCallback: Argument(s) not recognized: {sorted(unknown)}. Valid arguments (the "
                            f"hooks): {', '.join(valid)}.")
        for name, fn in hooks.items():
            if fn is not None and not callable(fn):
                raise TypeError(f"LambdaCallback: argument `{name}` must be a function, got {fn!r}.")
            if fn is not None:
                setattr(self, name, fn)
