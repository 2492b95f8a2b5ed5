"""kerastyle.utils: Keras 3 as the oracle where it has the helper, hand-computed values otherwise."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import functools
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import kerastyle as ks
from kerastyle.utils import PyDataset, Sequence, get_file, normalize, pad_sequences
from kerastyle.utils.archives import ArchiveError, extract_archive
from kerastyle.utils.file_download import DatasetNotFoundError


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


# ----------------------------------------------------------------------------
# the package keeps its old names
# ----------------------------------------------------------------------------


def test_old_names_stay_importable_from_kerastyle_utils():
    from kerastyle.utils import compute_class_weight, set_random_seed, to_categorical

    assert ks.utils.to_categorical is to_categorical
    np.testing.assert_array_equal(to_categorical([0, 2]), [[1, 0, 0], [0, 0, 1]])
    assert compute_class_weight([0, 0, 0, 1]) == {0: 4 / 6, 1: 4 / 2}
    set_random_seed(3)
    a = torch.rand(2)
    set_random_seed(3)
    assert torch.equal(a, torch.rand(2))
    assert ks.utils.Progbar is ks.progbar.Progbar


# ----------------------------------------------------------------------------
# normalize
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("axis,order", [(-1, 2), (-2, 2), (1, 1), (-1, np.inf)])
def test_normalize_matches_keras(keras, axis, order):
    x = np.random.default_rng(0).normal(size=(4, 3))
    x[2] = 0.0  # a zero vector stays zero
    expected = keras.utils.normalize(x, axis=axis, order=order)
    np.testing.assert_allclose(normalize(x, axis=axis, order=order), expected, rtol=1e-12)


def test_normalize_by_hand_and_on_tensors():
    np.testing.assert_allclose(normalize(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0.0, 0.0]])
    # axis=0 (Keras 3.15 turns axis 0 into -1 by `axis or -1` and fails; Keras 2 normalized columns)
    np.testing.assert_allclose(normalize(np.array([[3.0, 1.0], [4.0, 0.0]]), axis=0), [[0.6, 1.0], [0.8, 0.0]])
    out = normalize(torch.tensor([[3.0, 4.0]]), order=np.int64(1))
    assert torch.is_tensor(out)
    torch.testing.assert_close(out, torch.tensor([[3 / 7, 4 / 7]]))
    with pytest.raises(ValueError, match=r"`axis`=2 is out of range for `x` of shape \(1, 2\)"):
        normalize(np.ones((1, 2)), axis=2)
    with pytest.raises(TypeError, match="`order` must be a number"):
        normalize(np.ones(2), order="l2")


# ----------------------------------------------------------------------------
# pad_sequences
# ----------------------------------------------------------------------------


SEQS = [[1, 2, 3, 4], [5], [], [6, 7]]


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 2, 3, 6])
def test_pad_sequences_matches_keras(keras, padding, truncating, maxlen):
    expected = keras.utils.pad_sequences(SEQS, maxlen=maxlen, padding=padding, truncating=truncating, value=-1)
    got = pad_sequences(SEQS, maxlen=maxlen, padding=padding, truncating=truncating, value=-1)
    assert got.dtype == expected.dtype == np.int32
    np.testing.assert_array_equal(got, expected)


def test_pad_sequences_vectors_floats_and_the_preprocessing_alias(keras):
    seqs = [np.ones((2, 3)), np.arange(9.0).reshape(3, 3)]
    expected = keras.utils.pad_sequences(seqs, maxlen=4, dtype="float32", padding="post", value=0.5)
    np.testing.assert_array_equal(ks.preprocessing.sequence.pad_sequences(seqs, maxlen=4, dtype="float32",
                                                                          padding="post", value=0.5), expected)
    # by hand: Keras's defaults pad and cut at the front
    np.testing.assert_array_equal(pad_sequences([[1, 2, 3], [4]], maxlen=2), [[2, 3], [0, 4]])
    assert pad_sequences([[1], [2, 3]], maxlen=0).shape == (2, 0)


def test_pad_sequences_refuses_bad_arguments():
    with pytest.raises(ValueError, match="`padding` must be 'pre' or 'post', got 'left'"):
        pad_sequences(SEQS, padding="left")
    with pytest.raises(ValueError, match="`maxlen` must be None or an integer >= 0, got -1"):
        pad_sequences(SEQS, maxlen=-1)
    with pytest.raises(ValueError, match="item 1 is 5"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match=r"sequence 1 has items of shape \(3,\), expected \(2,\)"):
        pad_sequences([np.ones((1, 2)), np.ones((1, 3))])
    with pytest.raises(ValueError, match="use dtype=object"):
        pad_sequences([["a"]], value="x")


# ----------------------------------------------------------------------------
# PyDataset / Sequence
# ----------------------------------------------------------------------------


class Squares(PyDataset):
    def __init__(self, n, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x = np.arange(n, dtype="float32")
        self.batch_size = batch_size
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        xb = self.x[index * self.batch_size:(index + 1) * self.batch_size]
        return xb, xb ** 2

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_py_dataset_contract_and_keras3_arguments(keras):
    data = Squares(5, 2, workers=2, use_multiprocessing=False, max_queue_size=4)
    assert (len(data), data.num_batches, data.workers, data.max_queue_size) == (3, 3, 2, 4)
    batches = list(data)
    np.testing.assert_array_equal(batches[-1][1], [16.0])
    data.on_epoch_end()
    assert data.epochs_ended == 1
    # the same arguments are the ones Keras 3 accepts
    import inspect

    assert set(inspect.signature(keras.utils.PyDataset.__init__).parameters) - {"self"} == {
        "workers", "use_multiprocessing", "max_queue_size"}


def test_keras2_sequence_without_super_init_gets_defaults():
    class Old(Sequence):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return np.zeros(1), np.zeros(1)

    old = Old()
    assert Sequence is PyDataset
    assert (old.workers, old.use_multiprocessing, old.max_queue_size) == (1, False, 10)
    with pytest.raises(NotImplementedError, match="must define __len__"):
        len(PyDataset())


def test_py_dataset_refuses_unknown_and_bad_arguments():
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) 'worker'; valid ones are workers"):
        Squares(4, 2, worker=2)
    with pytest.raises(ValueError, match="`workers` must be an integer >= 1, got 0"):
        Squares(4, 2, workers=0)
    with pytest.raises(ValueError, match="`use_multiprocessing` must be True or False, got 1"):
        Squares(4, 2, use_multiprocessing=1)


# ----------------------------------------------------------------------------
# Progbar, standalone
# ----------------------------------------------------------------------------


def test_progbar_standalone_averages_values_over_steps():
    stream = io.StringIO()
    bar = ks.utils.Progbar(10, stream=stream, stateful_metrics=["acc"])
    bar.update(4, values=[("loss", 3.0), ("acc", 0.1)])
    bar.add(6, values=[("loss", 1.0), ("acc", 0.9)])
    # loss is averaged with weights 4 and 6: (3*4 + 1*6) / 10 = 1.8; acc (stateful) is the last value.
    assert stream.getvalue().count("\n") == 1
    line = stream.getvalue()
    assert line.startswith("10/10 [" + "=" * 30 + "]") and line.endswith(" - loss: 1.8000 - acc: 0.9000\n"), line
    bar.update(10)  # already finished: nothing more printed
    assert stream.getvalue() == line


def test_progbar_verbose2_unknown_target_and_width():
    stream = io.StringIO()
    bar = ks.utils.Progbar(None, verbose=2, stream=stream, unit_name="batch")
    bar.update(3, values=[("loss", 2.0)])
    bar.update(5, values=[("loss", 5.0)], finalize=True)  # (2*3 + 5*2) / 5 = 3.2
    assert stream.getvalue().startswith("5/5 - ") and " - loss: 3.2000 - " in stream.getvalue()
    assert "/batch" in stream.getvalue()

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    bar = ks.utils.Progbar(4, stream=term, width=8, interval=0.0)
    bar.update(2, values=[("loss", 1.0)])
    assert term.getvalue().startswith("\r2/4 [===>....] - ETA:")
    with pytest.raises(ValueError, match="`target` must be None or an integer >= 0, got -1"):
        ks.utils.Progbar(-1)


# ----------------------------------------------------------------------------
# get_file (served over loopback HTTP)
# ----------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch, tmp_path):
    for var in ("KERASTYLE_DATA", "KERASTYLE_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KERASTYLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERASTYLE_DOWNLOAD_TIMEOUT", "2")
    return tmp_path


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_port}", hits
    httpd.shutdown()
    httpd.server_close()


def test_get_file_downloads_once_into_the_cache_and_checks_hashes(env, server, capsys):
    root, url, hits = server
    payload = b"some bytes" * 100
    (root / "data.bin").write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    md5 = hashlib.md5(payload).hexdigest()

    path = get_file("data.bin", origin=f"{url}/data.bin", file_hash=sha)
    assert Path(path) == env / "cache" / "data.bin" and Path(path).read_bytes() == payload
    assert f"Downloading data from {url}/data.bin" in capsys.readouterr().out
    assert get_file("data.bin", origin=f"{url}/data.bin", md5_hash=md5) == path  # md5 via Keras 2's argument
    assert len(hits) == 1  # the cached copy was used

    Path(path).write_bytes(b"stale")  # a damaged cached copy is fetched again
    get_file("data.bin", origin=f"{url}/data.bin", file_hash=sha)
    assert Path(path).read_bytes() == payload and len(hits) == 2

    other = get_file(origin=f"{url}/data.bin", cache_dir=env / "mine", cache_subdir="sub")
    assert Path(other) == env / "mine" / "sub" / "data.bin"

    with pytest.raises(ValueError, match="its sha256 hash is .* expected 0{64}. Nothing was kept"):
        get_file("bad.bin", origin=f"{url}/data.bin", file_hash="0" * 64)
    assert not (env / "cache" / "bad.bin").exists()
    assert not [p for p in (env / "cache").iterdir() if p.name.startswith(".")]  # no scratch files left


def test_get_file_offline_and_failed_download_give_the_loaders_error(env, monkeypatch):
    monkeypatch.setenv("KERASTYLE_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError) as info:
        get_file("thing.npz", origin="http://127.0.0.1:9/thing.npz")
    message = str(info.value)
    target = env / "cache" / "thing.npz"
    assert message.startswith("thing.npz not found. Looked in, in this order:\n")
    assert f"  - {target} (cache, KERASTYLE_CACHE): no such file" in message
    assert "Download: from http://127.0.0.1:9/thing.npz skipped because KERASTYLE_OFFLINE is set." in message
    assert f"copy it (from http://127.0.0.1:9/thing.npz) to {target}" in message
    assert isinstance(info.value, FileNotFoundError)

    monkeypatch.delenv("KERASTYLE_OFFLINE")
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    with pytest.raises(DatasetNotFoundError, match=r"Download: from .* failed \(URLError") as info:
        get_file("thing.npz", origin=f"http://127.0.0.1:{port}/thing.npz")
    assert info.value.__cause__ is info.value.download_error is not None
    assert not target.exists()


def test_get_file_extracts_archives_as_keras_names_them(env, server):
    root, url, _ = server
    with tarfile.open(root / "pack.tar.gz", "w:gz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("pack/inner.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    out = get_file("pack.tar.gz", origin=f"{url}/pack.tar.gz", extract=True)
    assert Path(out) == env / "cache" / "pack_extracted"
    assert (Path(out) / "pack" / "inner.txt").read_bytes() == b"hello"
    out = get_file("pk", origin=f"{url}/pack.tar.gz", untar=True)
    assert Path(out) == env / "cache" / "pk" and (env / "cache" / "pk_archive").is_file()
    with pytest.raises(ValueError, match="must be a file name, got the path"):
        get_file("a/b.txt", origin=f"{url}/pack.tar.gz")
    with pytest.raises(ValueError, match="`hash_algorithm` must be 'auto', 'sha256' or 'md5'"):
        get_file("x", origin=f"{url}/pack.tar.gz", file_hash="ab", hash_algorithm="sha1")
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        get_file("x", origin=f"{url}/pack.tar.gz", md5="ab")


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "ok/../../evil.txt"])
def test_archives_with_escaping_members_are_refused(tmp_path, name):
    bad_zip = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad_zip, "w") as zf:
        zf.writestr("fine.txt", "ok")
        zf.writestr(name, "evil")
    with pytest.raises(ArchiveError, match="outside the extraction folder"):
        extract_archive(bad_zip, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()

    bad_tar = tmp_path / "link.tar"
    with tarfile.open(bad_tar, "w") as tar:
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(ArchiveError, match="is a link or special file"):
        extract_archive(bad_tar, tmp_path / "out2")
    assert extract_archive(bad_zip.with_suffix(".txt").write_text("x") and bad_zip.with_suffix(".txt"),
                           tmp_path / "o3") is False
