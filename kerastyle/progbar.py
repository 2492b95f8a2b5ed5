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


def format_time_per_step(seconds: float) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """Progress for ``target`` steps at Keras verbosity 1 or 2 (0 prints nothing)."""

    def __init__(self, target: int, verbose: int = 1, stream=None, interval: float = 0.05):
        self.target = target
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.interval = interval
        self.dynamic = verbose == 1 and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._width = 0

    def update(self, current: int, values=None) -> None:
        """Show step ``current``; ``values`` is a function returning the running logs."""
        if not self.dynamic:
            return
        now = time.perf_counter()
        if now - self._last_draw < self.interval:
            return
        self._last_draw = now
        elapsed = now - self.start
        eta = elapsed / current * (self.target - current) if current else 0.0
        line = f"{self._bar(current)} - ETA: {_format_eta(eta)}{format_logs(values() if values else {})}"
        self._write("\r" + line.ljust(self._width))
        self._width = len(line)

    def finish(self, logs: dict | None = None) -> None:
        """Print the end-of-run line with the final ``logs``."""
        if self.verbose == 0:
            return
        elapsed = time.perf_counter() - self.start
        per_step = format_time_per_step(elapsed / max(self.target, 1))
        logs = logs or {}
        if self.verbose == 1:
            line = f"{self._bar(self.target)} - {elapsed:.0f}s {per_step}{format_logs(logs)}"
            prefix = "\r" if self.dynamic else ""
            self._write(prefix + line.ljust(self._width) + "\n")
        else:
            digits = len(str(self.target))
            line = (f"{self.target:>{digits}}/{self.target} - {elapsed:.0f}s{format_logs(logs)}"
                    f" - {elapsed:.0f}s/epoch - {per_step}")
            self._write(line + "\n")

    def _bar(self, current: int) -> str:
        digits = int(math.log10(max(self.target, 1))) + 1
        filled = int(BAR_WIDTH * current / max(self.target, 1))
        bar = "=" * max(filled - 1, 0)
        if filled:
            bar += ">" if current < self.target else "="
        return f"{current:>{digits}}/{self.target} [{bar.ljust(BAR_WIDTH, '.')}]"

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
