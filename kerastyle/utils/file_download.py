"""``get_file``: fetch a file into the local cache once, verify it, and unpack it on request.

Shared by :mod:`kerastyle.datasets`: the cache location (``~/.kerastyle/datasets``, or
``$KERASTYLE_CACHE``), the offline switch (``KERASTYLE_OFFLINE=1``), the download timeout
(``KERASTYLE_DOWNLOAD_TIMEOUT`` seconds) and :class:`DatasetNotFoundError`, the one error that
says where a file was looked for and how to supply it. Downloads stream into a hidden
scratch file beside the target, are hashed on the way, and are renamed into place only when
complete and (if a hash was given) verified.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from kerastyle.utils.archives import extract_archive

ENV_DATA = "KERASTYLE_DATA"
ENV_CACHE = "KERASTYLE_CACHE"
ENV_OFFLINE = "KERASTYLE_OFFLINE"
ENV_TIMEOUT = "KERASTYLE_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 5.0
_CHUNK = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """The dataset files were found nowhere and could not be downloaded.

    Attributes:
        searched: list of ``(folder, source, missing_file_names)`` in search order.
        download_error: the exception of the failed download, or ``None``.
    """

    def __init__(self, message, searched=(), download_error=None, summary=""):
        super().__init__(message)
        self.searched = list(searched)
        self.download_error = download_error
        self.summary = summary or message.splitlines()[0]

    def __str__(self):
        return self.args[0]


class DownloadFailed(Exception):
    """A download was not possible; ``note`` says why in a few words (for the not-found message)."""

    def __init__(self, note):
        super().__init__(note)
        self.note = note


# ----------------------------------------------------------------------------
# Environment
# ----------------------------------------------------------------------------


def is_offline():
    """True when ``KERASTYLE_OFFLINE`` is set to a true-ish value (1, true, yes, on)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


def cache_root():
    """Folder holding the cached datasets (``KERASTYLE_CACHE`` overrides ``~/.kerastyle/datasets``)."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    return Path("~/.kerastyle/datasets").expanduser()


def cache_source():
    """How the cache folder was chosen, for messages."""
    return f"cache, {ENV_CACHE}" if os.environ.get(ENV_CACHE) else "cache"


def download_timeout():
    """Seconds a download may stall (connect or read) before it is given up."""
    try:
        return float(os.environ.get(ENV_TIMEOUT, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


# ----------------------------------------------------------------------------
# Hashes
# ----------------------------------------------------------------------------


def resolve_hash_algorithm(file_hash, hash_algorithm="auto"):
    """``'sha256'`` or ``'md5'``: ``'auto'`` picks sha256 for 64 hex digits, md5 otherwise (as Keras)."""
    if hash_algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f"get_file: argument `hash_algorithm` must be 'auto', 'sha256' or 'md5', "
                         f"got {hash_algorithm!r}.")
    if not isinstance(file_hash, str) or not re.fullmatch(r"[0-9a-fA-F]+", file_hash):
        raise ValueError(f"get_file: argument `file_hash` must be a hexadecimal digest string, got {file_hash!r}.")
    if hash_algorithm == "auto":
        return "sha256" if len(file_hash) == 64 else "md5"
    return hash_algorithm


def file_digest(path, algorithm):
    """Hex digest of a file's bytes, read in chunks."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(path, file_hash, algorithm="auto"):
    """True when the file at ``path`` has the digest ``file_hash`` (sha256 or md5)."""
    algorithm = resolve_hash_algorithm(file_hash, algorithm)
    return file_digest(path, algorithm) == file_hash.lower()


# ----------------------------------------------------------------------------
# Download
# ----------------------------------------------------------------------------


def download(origin, target, file_hash=None, hash_algorithm="auto"):
    """Stream ``origin`` into ``target`` (atomic rename), checking ``file_hash`` when given.

    Raises :class:`DownloadFailed` when offline or the transfer fails (the cause chained),
    and ``ValueError`` when the downloaded bytes do not match ``file_hash``.
    """
    if is_offline():
        raise DownloadFailed(f"skipped because {ENV_OFFLINE} is set")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    algorithm = resolve_hash_algorithm(file_hash, hash_algorithm) if file_hash is not None else "sha256"
    hasher = hashlib.new(algorithm)
    fd, scratch = tempfile.mkstemp(prefix=f".{target.name}.download-", dir=target.parent)
    try:
        print(f"Downloading data from {origin}")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(origin, timeout=download_timeout()) as resp:
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    hasher.update(chunk)
                    out.write(chunk)
        except (OSError, ValueError, urllib.error.URLError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DownloadFailed(f"failed ({type(exc).__name__}: {first})") from exc
        if file_hash is not None and hasher.hexdigest() != file_hash.lower():
            raise ValueError(f"Incomplete or corrupted file downloaded from {origin}: its {algorithm} hash is "
                             f"{hasher.hexdigest()}, expected {file_hash}. Nothing was kept.")
        os.replace(scratch, target)
    finally:
        if os.path.exists(scratch):
            os.remove(scratch)
    return target


def not_found_error(title, searched, download_note, supply_hint, download_error=None):
    """The loaders' not-found error: every place searched, the download outcome, how to supply.

    ``searched`` holds ``(folder_or_file, source, state)``; ``state`` says what was wrong there.
    """
    lines = [f"{title} not found. Looked in, in this order:"]
    lines += [f"  - {place} ({source}): {state}" for place, source, state in searched]
    lines.append(f"Download: {download_note}.")
    lines.append(supply_hint)
    summary = f"looked in {'; '.join(f'{p}: {s}' for p, _src, s in searched)}; download {download_note}"
    info = [(Path(p), src, (state,)) for p, src, state in searched]
    return DatasetNotFoundError("\n".join(lines), info, download_error, summary)


# ----------------------------------------------------------------------------
# get_file
# ----------------------------------------------------------------------------

def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False):
    """Return the local path of ``origin``'s file, downloading it into the cache if needed.

    Keras's arguments and results: the file lives in ``cache_dir/cache_subdir/fname``
    (default ``~/.kerastyle/datasets/``, or ``$KERASTYLE_CACHE``); a cached copy whose
    ``file_hash`` (sha256 or md5; ``md5_hash`` is the Keras 2 spelling) does not match is
    fetched again; ``extract=True`` (or ``untar=True``) unpacks a tar/zip archive and
    returns the extracted folder. With no network (``KERASTYLE_OFFLINE=1`` or a failed
    download) raises :class:`DatasetNotFoundError` saying where the file was looked for.
    """
    if origin is None or not isinstance(origin, str) or not origin:
        raise ValueError(f"get_file: argument `origin` must be the URL of the file to download, got {origin!r}.")
    for flag, value in (("untar", untar), ("extract", extract), ("force_download", force_download)):
        if not isinstance(value, bool):
            raise TypeError(f"get_file: argument `{flag}` must be True or False, got {value!r}.")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    if file_hash is not None:
        hash_algorithm = resolve_hash_algorithm(file_hash, hash_algorithm)
    if not isinstance(cache_subdir, str):
        raise TypeError(f"get_file: argument `cache_subdir` must be a string, got {cache_subdir!r}.")
    if cache_dir is None:
        datadir = cache_root() if cache_subdir == "datasets" else Path("~/.kerastyle").expanduser() / cache_subdir
    else:
        datadir = Path(cache_dir).expanduser() / cache_subdir
    given_name = fname is not None and str(fname) != ""
    fname = os.fspath(fname) if given_name else Path(urllib.parse.urlsplit(origin).path).name
    if not fname:
        raise ValueError(f"get_file: cannot take a file name from `origin`={origin!r}; pass `fname`.")
    if "/" in fname or os.sep in fname:
        raise ValueError(f"get_file: argument `fname` must be a file name, got the path {fname!r}; "
                         "use `cache_dir` to choose the folder.")

    if extract or untar:
        if given_name and "." in fname:
            download_target = datadir / fname
            extraction_dir = datadir / f"{fname[: fname.find('.')]}_extracted"
        else:
            download_target = datadir / f"{fname}_archive"
            extraction_dir = datadir / fname
    else:
        download_target, extraction_dir = datadir / fname, None

    state = None
    if force_download:
        state = "download forced"
    elif not download_target.is_file():
        state = "no such file"
    elif file_hash is not None and not validate_file(download_target, file_hash, hash_algorithm):
        state = f"{hash_algorithm} hash does not match {file_hash}"
    if state is not None:
        try:
            download(origin, download_target, file_hash, hash_algorithm)
        except DownloadFailed as failure:
            hint = (f"To supply the file: copy it (from {origin}) to {download_target}"
                    f" ({ENV_CACHE} overrides the cache root).")
            raise not_found_error(fname, [(download_target, cache_source(), state)],
                                  f"from {origin} {failure.note}", hint, failure.__cause__) from failure.__cause__
    if extraction_dir is not None:
        if not extract_archive(download_target, extraction_dir, "tar" if untar else archive_format):
            raise ValueError(f"get_file: {download_target} is not a {'tar' if untar else archive_format} archive, "
                             "so it cannot be extracted.")
        return str(extraction_dir)
    return str(download_target)
