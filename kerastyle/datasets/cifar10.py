"""CIFAR-10 (60,000 32x32 colour images, 10 classes), in the format of ``keras.datasets.cifar10``.

Reads either distribution of the dataset from a local copy: the python version
(``cifar-10-batches-py/``: ``data_batch_1`` .. ``data_batch_5``, ``test_batch``, as Keras and
torchvision download it) through a restricted unpickler (numpy arrays, lists and bytes only;
torchvision's reader would run ``pickle.load`` on them), or the binary version
(``cifar-10-batches-bin/``: ``data_batch_1.bin`` .. ``test_batch.bin``, no pickle at all).

Search order: ``path=`` (alone when given: a folder holding the batch files or one of those
sub-folders); ``$KERASTYLE_DATA/cifar10/``; the cache ``$KERASTYLE_CACHE/cifar10/``; then a
download of Keras's ``cifar-10-python.tar.gz`` (sha256-checked, safely extracted) unless
``KERASTYLE_OFFLINE=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kerastyle.datasets._files import InvalidDatasetFileError
from kerastyle.datasets._safe_pickle import restricted_loads
from kerastyle.utils.archives import extract_archive
from kerastyle.utils.file_download import (
    ENV_CACHE,
    ENV_DATA,
    DownloadFailed,
    cache_root,
    cache_source,
    download,
    not_found_error,
)

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
_PER_BATCH = 10000
_RECORD = 1 + 32 * 32 * 3

#: Label ``i`` names class ``CLASS_NAMES[i]``.
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _layout(folder):
    """('py'|'bin', folder with the batch files) if ``folder`` holds a complete copy, else None."""
    for sub in ("", "cifar-10-batches-py", "cifar-10-batches-bin"):
        base = Path(folder) / sub if sub else Path(folder)
        if all((base / name).is_file() for name in _BATCHES):
            return "py", base
        if all((base / f"{name}.bin").is_file() for name in _BATCHES):
            return "bin", base
    return None


def _read_python_batch(path):
    data = restricted_loads(Path(path).read_bytes(), path, encoding="bytes")
    if not isinstance(data, dict):
        raise InvalidDatasetFileError(f"{path}: holds a {type(data).__name__}, expected a CIFAR-10 batch dict.")
    data = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in data.items()}
    images, labels = data.get("data"), data.get("labels")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.shape != (_PER_BATCH, 3072):
        raise InvalidDatasetFileError(f"{path}: 'data' must be a uint8 array of shape ({_PER_BATCH}, 3072).")
    if not isinstance(labels, list) or len(labels) != _PER_BATCH or not all(
            isinstance(v, int) and 0 <= v < 10 for v in labels):
        raise InvalidDatasetFileError(f"{path}: 'labels' must be a list of {_PER_BATCH} integers in 0..9.")
    return images.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.uint8)


def _read_binary_batch(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size != _PER_BATCH * _RECORD:
        raise InvalidDatasetFileError(f"{path}: {raw.size} bytes, expected {_PER_BATCH * _RECORD} "
                                      f"({_PER_BATCH} records of {_RECORD} bytes).")
    records = raw.reshape(_PER_BATCH, _RECORD)
    labels = records[:, 0].copy()
    if labels.max() > 9:
        raise InvalidDatasetFileError(f"{path}: label {int(labels.max())} out of range 0..9.")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _read(kind, base):
    reader, suffix = (_read_python_batch, "") if kind == "py" else (_read_binary_batch, ".bin")
    parts = [reader(base / f"{name}{suffix}") for name in _BATCHES]
    x_train = np.concatenate([p[0] for p in parts[:5]]).transpose(0, 2, 3, 1)
    y_train = np.concatenate([p[1] for p in parts[:5]]).reshape(-1, 1)
    x_test, y_test = parts[5][0].transpose(0, 2, 3, 1), parts[5][1].reshape(-1, 1)
    return (np.ascontiguousarray(x_train), y_train), (np.ascontiguousarray(x_test), y_test)


def load_data(path=None):
    """Load CIFAR-10: ``(x_train, y_train), (x_test, y_test)`` as Keras returns them.

    ``x_train`` is uint8 ``(50000, 32, 32, 3)`` (channels last), ``y_train`` uint8 ``(50000, 1)``;
    the test set has 10,000 of each. See the module docstring for where files are looked for.
    """
    wanted = ", ".join(_BATCHES) + " (python version) or the same names + .bin (binary version)"
    if path is not None:
        folder = Path(path).expanduser()
        found = _layout(folder) if folder.is_dir() else None
        if found:
            return _read(*found)
        state = "no such folder" if not folder.is_dir() else "no complete CIFAR-10 batch files"
        raise not_found_error("CIFAR-10", [(folder, "path= argument", state)],
                              "not attempted because path= was given",
                              f"To supply it: pass path= a folder holding {wanted}.")
    places = []
    if os.environ.get(ENV_DATA):
        places.append((Path(os.environ[ENV_DATA]).expanduser() / "cifar10", ENV_DATA))
    cache = cache_root() / "cifar10"
    places.append((cache, cache_source()))
    searched = []
    for folder, source in places:
        found = _layout(folder) if folder.is_dir() else None
        if found:
            return _read(*found)
        searched.append((folder, source, "no complete CIFAR-10 batch files" if folder.is_dir() else "no such folder"))
    archive = cache / "cifar-10-python.tar.gz"
    try:
        if not archive.is_file():
            download(ORIGIN, archive, SHA256)
    except DownloadFailed as failure:
        hint = (f"To supply the files ({wanted}): pass load_data(path=FOLDER), or set {ENV_DATA} to a folder with a "
                f"'cifar10/' sub-folder holding them, or put them (or {archive.name}) into the cache folder {cache} "
                f"({ENV_CACHE} overrides the cache root).")
        raise not_found_error("CIFAR-10", searched, f"from {ORIGIN} {failure.note}", hint,
                              failure.__cause__) from failure.__cause__
    extract_archive(archive, cache, "tar")
    found = _layout(cache)
    if not found:
        raise InvalidDatasetFileError(f"{archive}: extracted, but the CIFAR-10 batch files are not all there.")
    return _read(*found)
