"""A cap on the weights created while a file is being loaded.

A saved model's architecture (``config.json``) declares sizes (``units``, ``filters``, input
shapes) that decide how much memory building it takes, while the weights it stores are fixed by
the file's size. ``load_model`` builds the architecture inside ``weight_budget(n)``, ``n`` being
the number of values the file stores: ``Layer.add_weight`` claims each weight's size before
allocating it, so a small file declaring ``units=10**12`` is refused before anything large exists.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

_BUDGET: contextvars.ContextVar = contextvars.ContextVar("kerastyle_weight_budget", default=None)


class WeightBudgetExceeded(Exception):
    """Building would create more weight values than the file being loaded holds. (Not a ValueError,
    so that code which re-words configuration errors lets it through to the loader.)"""


@contextlib.contextmanager
def weight_budget(values: int, source: str):
    """Within the block, weights may total at most ``values`` numbers (``source`` names where the
    limit comes from, for the error message)."""
    token = _BUDGET.set({"left": int(values), "limit": int(values), "source": source})
    try:
        yield
    finally:
        _BUDGET.reset(token)


def claim(layer_name: str, weight_name: str, shape: tuple) -> None:
    """Called before a weight of ``shape`` is allocated; raises WeightBudgetExceeded past the budget."""
    budget = _BUDGET.get()
    if budget is None:
        return
    count = math.prod(shape)
    if count > budget["left"]:
        raise WeightBudgetExceeded(
            f"layer {layer_name!r} declares a weight {weight_name!r} of shape {tuple(shape)} ({count:,} values), "
            f"more than the {budget['limit']:,} values {budget['source']} holds in all")
    budget["left"] -= count
