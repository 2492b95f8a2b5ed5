"""``pad_sequences``: ragged lists of sequences to one rectangular array, as Keras does it."""

from __future__ import annotations

import numbers

import numpy as np

_SIDES = ("pre", "post")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or cut) each sequence to ``maxlen`` items; returns shape ``(len(sequences), maxlen, ...)``.

    ``padding``/``truncating`` say on which side (``'pre'``, the default, or ``'post'``) values
    are added or removed; ``maxlen=None`` uses the longest sequence. Items may themselves be
    vectors: the item shape is taken from the first non-empty sequence and must agree.
    """
    if padding not in _SIDES:
        raise ValueError(f"pad_sequences: argument `padding` must be 'pre' or 'post', got {padding!r}.")
    if truncating not in _SIDES:
        raise ValueError(f"pad_sequences: argument `truncating` must be 'pre' or 'post', got {truncating!r}.")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral) or maxlen < 0):
        raise ValueError(f"pad_sequences: argument `maxlen` must be None or an integer >= 0, got {maxlen!r}.")
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences: argument `sequences` must be a list of sequences, "
                         f"got {type(sequences).__name__}.")
    lengths, item_shape, have_shape = [], (), False
    for position, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
            raise ValueError(f"pad_sequences: argument `sequences` must hold sequences (lists or arrays); "
                             f"item {position} is {seq!r}.")
        lengths.append(len(seq))
        if not have_shape and len(seq):
            item_shape, have_shape = np.asarray(seq).shape[1:], True
    if maxlen is None:
        maxlen = max(lengths, default=0)
    is_text = np.issubdtype(np.dtype(dtype), np.str_) or np.issubdtype(np.dtype(dtype), np.bytes_)
    if isinstance(value, str) and np.dtype(dtype) != np.dtype(object) and not is_text:
        raise ValueError(f"pad_sequences: `value`={value!r} is a string but `dtype` is {dtype!r}; "
                         "use dtype=object (or a string dtype) for text.")
    out = np.full((len(lengths), int(maxlen), *item_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for position, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = np.asarray(seq[-maxlen:] if truncating == "pre" else seq[:maxlen], dtype=dtype)
        if kept.shape[1:] != item_shape:
            raise ValueError(f"pad_sequences: sequence {position} has items of shape {kept.shape[1:]}, "
                             f"expected {item_shape} (the shape of the first non-empty sequence's items).")
        if padding == "post":
            out[position, : len(kept)] = kept
        else:
            out[position, -len(kept):] = kept
    return out
