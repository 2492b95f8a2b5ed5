"""Keras-style names from per-session counters: the first ``Dense`` is ``dense``, the next ``dense_1``."""

from __future__ import annotations

from collections import defaultdict

_name_counts: defaultdict[str, int] = defaultdict(int)


def unique_name(prefix: str) -> str:
    """``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ... (Keras naming)."""
    count = _name_counts[prefix]
    _name_counts[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session() -> None:
    """Reset the name counters, as ``keras.backend.clear_session()`` does."""
    _name_counts.clear()
