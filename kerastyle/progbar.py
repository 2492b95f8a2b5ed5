"""Keras 2 style progress output (the ASCII-era bar the lectures show).

verbose=1: ``1875/1875 [==============================] - 2s 1ms/step - loss: 0.2950 - accuracy: 0.9144``,
redrawn in place on a terminal (at most every ``interval`` seconds) and printed
once per epoch otherwise, so logs stay readable. verbose=2: one line per epoch,
``1875/1875 - 2s - loss: ... - 2s/epoch - 1ms/step``.

``update`` takes the running values as a function, called only when a line is
actually drawn, so the fit loop pays a clock read per batch and nothing more.
"""

from __future__ import annotations

import math
import numbers
import sys
import time

BAR_WIDTH = 30


def format_value(value: float) -> str:
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_logs(logs: dict) -> str:
    return "".join(f" - {key}: {format_value(value)}" for key, value in logs.items())


def _format_eta(seconds: float) -> str:
    seconds = int(seconds)
    if seconds > 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if seconds > 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"


def format_time_per_step(seconds: float, unit_name: str = "step") -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


class Progbar:
    """Progress for ``target`` steps at Keras verbosity 1 or 2 (0 prints nothing).

    Two ways to drive it. The trainer passes ``values`` as a function returning the running
    logs and calls :meth:`finish` itself. Standalone, as ``keras.utils.Progbar``:
    ``update(current, values=[("loss", 0.3), ...])`` or ``add(steps, values)``; each value is
    averaged over the steps it was reported for (weighted by the steps since the previous
    update), except names in ``stateful_metrics``, shown as last reported; reaching
    ``target`` (or ``finalize=True``) prints the final line. ``target=None`` means unknown.
    ``width``, ``stateful_metrics`` and ``unit_name`` are keyword-only here because the
    second positional argument is ``verbose``.
    """

    def __init__(self, target, verbose: int = 1, stream=None, interval: float = 0.05, *, width: int = BAR_WIDTH,
                 stateful_metrics=None, unit_name: str = "step"):
        if target is not None and (isinstance(target, bool) or not isinstance(target, numbers.Integral)
                                   or target < 0):
            raise ValueError(f"Progbar: argument `target` must be None or an integer >= 0, got {target!r}.")
        if verbose not in (0, 1, 2) or isinstance(verbose, bool):
            raise ValueError(f"Progbar: argument `verbose` must be 0, 1 or 2, got {verbose!r}.")
        if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
            raise ValueError(f"Progbar: argument `width` must be an integer >= 1, got {width!r}.")
        self.target = None if target is None else int(target)
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.interval = interval
        self.width = int(width)
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.dynamic = verbose == 1 and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._width = 0
        self._seen_so_far = 0
        self._sums: dict = {}  # name -> [weighted sum, weight] (stateful: [last value, 1])
        self._finished = False

    def _averaged(self) -> dict:
        return {name: total / max(weight, 1) for name, (total, weight) in self._sums.items()}

    def update(self, current: int, values=None, finalize=None) -> None:
        """Show step ``current``; ``values`` is a list of ``(name, value)`` or a function returning logs."""
        if callable(values):
            logs_of = values
        else:
            step_weight = max(current - self._seen_so_far, 1)
            for name, value in values or ():
                value = float(value)
                if name in self.stateful_metrics:
                    self._sums[name] = [value, 1]
                else:
                    total, weight = self._sums.get(name, [0.0, 0])
                    self._sums[name] = [total + value * step_weight, weight + step_weight]
            logs_of = self._averaged
            if finalize is None:
                finalize = self.target is not None and current >= self.target
        self._seen_so_far = current
        if finalize:
            if not self._finished:
                if self.target is None:
                    self.target = current
                self.finish(logs_of())
            return
        if not self.dynamic:
            return
        now = time.perf_counter()
        if now - self._last_draw < self.interval:
            return
        self._last_draw = now
        elapsed = now - self.start
        if self.target is not None:
            eta = elapsed / current * (self.target - current) if current else 0.0
            timing = f"ETA: {_format_eta(eta)}"
        else:
            timing = f"{elapsed:.0f}s"
        line = f"{self._bar(current)} - {timing}{format_logs(logs_of() if logs_of else {})}"
        self._write("\r" + line.ljust(self._width))
        self._width = len(line)

    def add(self, n: int, values=None) -> None:
        """Advance by ``n`` steps (``update(seen + n, values)``)."""
        self.update(self._seen_so_far + n, values)

    def finish(self, logs: dict | None = None) -> None:
        """Print the end-of-run line with the final ``logs``."""
        self._finished = True
        if self.verbose == 0:
            return
        target = self.target if self.target is not None else self._seen_so_far
        elapsed = time.perf_counter() - self.start
        per_step = format_time_per_step(elapsed / max(target, 1), self.unit_name)
        logs = logs or {}
        if self.verbose == 1:
            line = f"{self._bar(target)} - {elapsed:.0f}s {per_step}{format_logs(logs)}"
            prefix = "\r" if self.dynamic else ""
            self._write(prefix + line.ljust(self._width) + "\n")
        else:
            digits = len(str(target))
            line = (f"{target:>{digits}}/{target} - {elapsed:.0f}s{format_logs(logs)}"
                    f" - {elapsed:.0f}s/epoch - {per_step}")
            self._write(line + "\n")

    def _bar(self, current: int) -> str:
        if self.target is None:
            return f"{current}/Unknown"
        digits = int(math.log10(max(self.target, 1))) + 1
        filled = int(self.width * current / max(self.target, 1))
        bar = "=" * max(filled - 1, 0)
        if filled:
            bar += ">" if current < self.target else "="
        return f"{current:>{digits}}/{self.target} [{bar.ljust(self.width, '.')}]"

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
