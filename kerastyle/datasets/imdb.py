"""IMDB movie-review sentiment, in the format of ``keras.datasets.imdb``.

25,000 training and 25,000 test reviews as lists of word indices (words ranked by frequency),
labels 1 (positive) / 0 (negative). The file is Keras's ``imdb.npz``, looked up like the other
loaders (see :mod:`kerastyle.datasets._npz_lookup`) and read without ``allow_pickle``: its
ragged arrays go through a restricted unpickler that rebuilds numpy arrays of integer lists
and refuses anything else (:mod:`kerastyle.datasets._safe_pickle`).
"""

from __future__ import annotations

import numpy as np

from kerastyle.datasets import _word_sequences as ws
from kerastyle.datasets._files import InvalidDatasetFileError
from kerastyle.datasets._npz_lookup import locate
from kerastyle.datasets._safe_pickle import int_sequences, load_npz

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
_INDEX_HASH = "bfafd718b763782e994055a2d397834f"


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3):
    """Load IMDB as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Args (Keras's): ``path`` the file name in the cache (or a file/folder path, searched
    alone); ``num_words`` keep indices below it (others become ``oov_char``); ``skip_top``
    also replace the most frequent indices; ``maxlen`` drop sequences of ``maxlen`` items or
    more; ``seed`` the shuffle; ``start_char`` marks each start; ``index_from`` offset of the
    word indices (0 pad, 1 start, 2 out-of-vocabulary by default).

    Returns:
        ``x_*``: 1-D object arrays of lists of int; ``y_*``: integer label arrays.
    """
    ws.check_arguments("imdb.load_data", num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)
    file = locate("imdb", "IMDB", path, "imdb.npz", _ORIGIN + "imdb.npz", _HASH)
    arrays = load_npz(file)
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise InvalidDatasetFileError(f"{file}: missing the array(s) {', '.join(missing)} of Keras's imdb.npz.")
    x_train, x_test = (int_sequences(arrays[k], f"{file}[{k}]") for k in ("x_train", "x_test"))
    y_train, y_test = arrays["y_train"], arrays["y_test"]
    if len(y_train) != len(x_train) or len(y_test) != len(x_test):
        raise InvalidDatasetFileError(f"{file}: {len(x_train)}/{len(x_test)} reviews but {len(y_train)}/"
                                      f"{len(y_test)} labels.")

    rng = np.random.RandomState(seed)  # Keras's shuffle: one generator, training order first
    order = np.arange(len(x_train))
    rng.shuffle(order)
    x_train, y_train = x_train[order], y_train[order]
    order = np.arange(len(x_test))
    rng.shuffle(order)
    x_test, y_test = x_test[order], y_test[order]

    x_train, x_test = ws.shift(x_train, start_char, index_from), ws.shift(x_test, start_char, index_from)
    if maxlen:
        x_train, y_train = ws.drop_long(maxlen, x_train, y_train)
        x_test, y_test = ws.drop_long(maxlen, x_test, y_test)
        if not x_train or not x_test:
            raise ValueError(f"imdb.load_data: no review is shorter than maxlen={maxlen} in the "
                             f"{'training' if not x_train else 'test'} set; increase `maxlen`.")
    xs = ws.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    split = len(x_train)
    return (ws.as_object_array(xs[:split]), y_train), (ws.as_object_array(xs[split:]), y_test)


def get_word_index(path="imdb_word_index.json"):
    """The ``{word: index}`` dictionary of IMDB (indices before the ``index_from`` offset)."""
    file = locate("imdb", "IMDB word index", path, "imdb_word_index.json", _ORIGIN + "imdb_word_index.json",
                  _INDEX_HASH)
    return ws.read_word_index(file)
