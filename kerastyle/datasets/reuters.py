"""Reuters newswire topics (46 classes), in the format of ``keras.datasets.reuters``.

11,228 newswires as lists of word indices, split into training and test sets by
``test_split``. Keras's ``reuters.npz`` is looked up and read safely as for :mod:`imdb`.
"""

from __future__ import annotations

import numbers

import numpy as np

from kerastyle.datasets import _word_sequences as ws
from kerastyle.datasets._files import InvalidDatasetFileError
from kerastyle.datasets._npz_lookup import locate
from kerastyle.datasets._safe_pickle import int_sequences, load_npz

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"

_LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee", "sugar",
    "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
    "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel",
    "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog",
    "lead",
)


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113,
              start_char=1, oov_char=2, index_from=3):
    """Load Reuters as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Same arguments as :func:`kerastyle.datasets.imdb.load_data`, plus ``test_split``: the
    fraction of the (shuffled, filtered) newswires that forms the test set.
    """
    ws.check_arguments("reuters.load_data", num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)
    if isinstance(test_split, bool) or not isinstance(test_split, numbers.Real) or not 0 <= test_split <= 1:
        raise ValueError(f"reuters.load_data: argument `test_split` must be a number in [0, 1], got {test_split!r}.")
    file = locate("reuters", "Reuters", path, "reuters.npz", _ORIGIN + "reuters.npz", _HASH)
    arrays = load_npz(file)
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise InvalidDatasetFileError(f"{file}: missing the array(s) {', '.join(missing)} of Keras's reuters.npz.")
    xs, labels = int_sequences(arrays["x"], f"{file}[x]"), arrays["y"]
    if len(labels) != len(xs):
        raise InvalidDatasetFileError(f"{file}: {len(xs)} newswires but {len(labels)} labels.")

    order = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(order)
    xs, labels = xs[order], labels[order]
    xs = ws.shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = ws.drop_long(maxlen, xs, labels)
    xs = ws.limit_vocabulary(xs, num_words, skip_top, oov_char)
    split = int(len(xs) * (1 - test_split))
    return ((ws.as_object_array(xs[:split]), np.array(labels[:split])),
            (ws.as_object_array(xs[split:]), np.array(labels[split:])))


def get_word_index(path="reuters_word_index.json"):
    """The ``{word: index}`` dictionary of Reuters (indices before the ``index_from`` offset)."""
    file = locate("reuters", "Reuters word index", path, "reuters_word_index.json",
                  _ORIGIN + "reuters_word_index.json", _INDEX_HASH)
    return ws.read_word_index(file)


def get_label_names():
    """The 46 topic names; label ``i`` is ``get_label_names()[i]`` (as Keras 3)."""
    return _LABEL_NAMES
