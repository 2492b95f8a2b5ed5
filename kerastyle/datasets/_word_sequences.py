"""The word-index sequence arithmetic shared by :mod:`imdb` and :mod:`reuters` (Keras's rules)."""

from __future__ import annotations

import json
import numbers

import numpy as np

from kerastyle.datasets._files import InvalidDatasetFileError


def check_arguments(loader, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from):
    """Refuse argument values that Keras's loaders would mis-handle silently."""
    def integer(name, value, low, optional):
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            allowed = "None or " if optional else ""
            raise ValueError(f"{loader}: argument `{name}` must be {allowed}an integer >= {low}, got {value!r}.")

    integer("num_words", num_words, 1, True)
    integer("skip_top", skip_top, 0, False)
    integer("maxlen", maxlen, 1, True)
    integer("seed", seed, 0, False)
    integer("start_char", start_char, 0, True)
    integer("oov_char", oov_char, 0, True)
    integer("index_from", index_from, 0, False)


def shift(sequences, start_char, index_from):
    """Add ``index_from`` to every index and prepend ``start_char`` (when not None)."""
    head = [] if start_char is None else [start_char]
    return [head + [w + index_from for w in seq] for seq in sequences]


def drop_long(maxlen, sequences, labels):
    """Keep the sequences shorter than ``maxlen`` (Keras keeps ``len < maxlen``) and their labels."""
    kept = [i for i, seq in enumerate(sequences) if len(seq) < maxlen]
    return [sequences[i] for i in kept], np.asarray(labels)[kept]


def limit_vocabulary(sequences, num_words, skip_top, oov_char):
    """Indices outside ``[skip_top, num_words)`` become ``oov_char`` (or are dropped when it is None)."""
    if not num_words:
        num_words = max((max(seq) for seq in sequences if seq), default=0)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in seq] for seq in sequences]
    return [[w for w in seq if skip_top <= w < num_words] for seq in sequences]


def as_object_array(sequences):
    """A 1-D object array of lists (also when all sequences have the same length)."""
    out = np.empty(len(sequences), dtype=object)
    for i, seq in enumerate(sequences):
        out[i] = seq
    return out


def read_word_index(path):
    """A word-index JSON file as ``{word: index}``, checked to be exactly that."""
    try:
        with open(path, encoding="utf-8") as fh:
            index = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidDatasetFileError(f"{path}: not a JSON word index ({exc})") from exc
    if not isinstance(index, dict) or not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                                              for k, v in index.items()):
        raise InvalidDatasetFileError(f"{path}: expected a JSON object mapping words to integer indices.")
    return index
