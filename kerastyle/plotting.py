"""Plots of training history, in the style of R keras's ``plot(history)``.

One panel per quantity (``loss``, ``accuracy``, ...), stacked vertically and
sharing the epoch axis, with the training series and its ``val_`` counterpart
drawn together so over-fitting is visible at a glance.

The figure is built with the object API (:class:`matplotlib.figure.Figure`)
rather than :mod:`matplotlib.pyplot`, so plotting works on headless machines,
never touches the global backend or pyplot's figure registry, and never blocks
on ``plt.show()``. Callers get the figure back and may save or display it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["plot_history"]

_VAL_PREFIX = "val_"
# ggplot2's default two-colour palette, as used by R keras's history plots.
_TRAIN_COLOR = "#F8766D"
_VAL_COLOR = "#00BFC4"
_PANEL_HEIGHT = 2.2  # inches per panel
_FIG_WIDTH = 6.4


def _history_dict(history: Any) -> tuple[dict[str, list[float]], list[int] | None]:
    """Return ``(metrics, epochs)`` from a History-like object or a plain dict."""
    if isinstance(history, Mapping):
        raw, epochs = history, None
    elif hasattr(history, "history"):
        raw, epochs = history.history, getattr(history, "epoch", None)
        if not isinstance(raw, Mapping):
            raise TypeError(
                f"history.history must be a dict of metric name -> list of values, "
                f"got {type(raw).__name__}"
            )
    else:
        raise TypeError(
            "history must be a History-like object with a .history dict or a dict "
            f"of metric name -> list of per-epoch values, got {type(history).__name__}"
        )

    metrics: dict[str, list[float]] = {}
    for key, values in raw.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]  # a single scalar: one epoch's worth
        try:
            metrics[str(key)] = [float(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"history[{key!r}] must contain numbers, got {values!r}"
            ) from exc
    return metrics, (list(epochs) if epochs is not None else None)


def _quantities(keys: Iterable[str]) -> list[str]:
    """Panel names: ``loss`` first, then other quantities in first-seen order.

    ``val_x`` shares the panel of ``x``; a ``val_x`` without ``x`` still yields
    a panel named ``x`` (showing only the validation series).
    """
    order: list[str] = []
    for key in keys:
        base = key.removeprefix(_VAL_PREFIX)
        if base and base not in order:
            order.append(base)
    if "loss" in order:
        order.remove("loss")
        order.insert(0, "loss")
    return order


def _select(available: list[str], metrics: str | Iterable[str] | None) -> list[str]:
    """Validate ``metrics`` against the available quantities, keeping its order."""
    if metrics is None:
        return available
    requested = [metrics] if isinstance(metrics, str) else list(metrics)
    chosen: list[str] = []
    for requested_name in requested:
        name = str(requested_name)
        # Accept "val_loss" as a request for the "loss" panel.
        if name not in available:
            name = name.removeprefix(_VAL_PREFIX)
        if name not in available:
            raise ValueError(
                f"Unknown metric {requested_name!r}; "
                f"available metrics: {', '.join(available)}"
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise ValueError(
            f"No metrics selected; available metrics: {', '.join(available)}"
        )
    return chosen


def _epoch_axis(epochs: list[int] | None, n: int) -> list[int]:
    """1-based epoch numbers (as Keras prints them) for ``n`` recorded epochs."""
    if epochs and len(epochs) >= n:
        return [int(e) + 1 for e in epochs[:n]]
    start = int(epochs[0]) + 1 if epochs else 1
    return list(range(start, start + n))


def plot_history(
    history: Any,
    metrics: str | Iterable[str] | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Plot per-epoch training and validation metrics, one panel per quantity.

    Args:
        history: a History-like object (``.history`` dict of name -> list of
            per-epoch values, optional ``.epoch`` list of 0-based epoch
            indices) or such a dict itself.
        metrics: a name or list of names to plot (e.g. ``"loss"`` or
            ``["loss", "accuracy"]``); ``None`` plots all. Names are the
            training names; a ``val_`` name selects the same panel.
        path: if given, the figure is also saved there as a PNG (parent
            directories are created).

    Returns:
        The :class:`matplotlib.figure.Figure`; nothing is shown.

    Raises:
        ValueError: the history is empty, or a requested metric is unknown
            (the message lists the available ones).
    """
    data, epochs = _history_dict(history)
    data = {k: v for k, v in data.items() if v}  # keys with no values: nothing to draw
    n_epochs = max((len(v) for v in data.values()), default=0)
    if n_epochs == 0:
        raise ValueError(
            "Cannot plot an empty history: no metrics were recorded "
            "(was the model trained for at least one epoch?)"
        )
    names = _select(_quantities(data), metrics)
    x = _epoch_axis(epochs, n_epochs)

    height = 1.0 + _PANEL_HEIGHT * len(names)
    fig = Figure(figsize=(_FIG_WIDTH, height), layout="constrained")
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, names, strict=True):
        series = (
            ("training", name, _TRAIN_COLOR),
            ("validation", _VAL_PREFIX + name, _VAL_COLOR),
        )
        for label, key, color in series:
            values = data.get(key)
            if values is not None:
                ax.plot(
                    x[: len(values)],
                    values,
                    marker="o",
                    markersize=4,
                    linewidth=1.5,
                    color=color,
                    label=label,
                )
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", frameon=False)
    axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))

    if path is not None:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png", dpi=100)
    return fig
