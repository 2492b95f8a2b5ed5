"""The kerastyle file container: one checked, atomically written zip of JSON and safetensors entries.

A kerastyle file is a zip archive whose entries are stored (not compressed):

* ``metadata.json``: format name and version, kind (``model``, ``weights`` or ``backup``),
  kerastyle version, date, and the model's weight-bearing layers in order;
* ``config.json`` (models): architecture and compile settings, shaped like Keras's;
* ``model.safetensors``: the weights under Keras names and layout (``layers/dense/vars/0`` is
  the ``(in, out)`` kernel);
* ``optimizer.json`` + ``optimizer.safetensors`` (models, backups): hyper-parameters, step
  counter and slot tensors;
* ``training.json`` (backups): completed epochs, the history, the random generators' states.

The zip comment is ``kerastyle-sha256:<hex>``, the SHA-256 of every byte before the hex digits,
so a truncated or altered file is refused before any entry is parsed. Loading parses only JSON
and safetensors (no pickle, no code from the file) and rebuilds objects by class name from
kerastyle's own registries. Everything is checked against the model before anything is assigned,
and files are written atomically (temporary file in the same directory, fsync, rename).
docs/saving.md describes the format and its guarantees.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import time
import zipfile

import safetensors.torch
import torch

FORMAT = "kerastyle"
FORMAT_VERSION = 1
KINDS = ("model", "weights", "backup")
_TRAILER = b"kerastyle-sha256:"
_DIGEST_LEN = 64


class SavedFileError(ValueError):
    """A file is not a kerastyle file, is damaged or too new, or does not fit the model."""


# -- the container ---------------------------------------------------------------
def pack(entries: dict[str, bytes]) -> bytes:
    """A stored zip of ``entries`` whose comment ends with the SHA-256 of all bytes before it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        archive.comment = _TRAILER + b"0" * _DIGEST_LEN
    data = bytearray(buffer.getvalue())
    data[-_DIGEST_LEN:] = hashlib.sha256(data[:-_DIGEST_LEN]).hexdigest().encode()
    return bytes(data)


def write_atomic(filepath, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``filepath``, fsync it, then rename it into place,
    so a crash at any moment leaves either the old file or the new one, never a mix."""
    path = check_path(filepath, "filepath")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save to {path!r}: directory {directory!r} does not exist.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot save to {path!r}: it is a directory.")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} already exists and overwrite=False.")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def fsync_dir(directory) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_path(filepath, arg) -> str:
    if not isinstance(filepath, (str, os.PathLike)) or not os.fspath(filepath):
        raise TypeError(f"Argument `{arg}` must be a non-empty path (str or os.PathLike), got {filepath!r}.")
    return os.fspath(filepath)


def unpack(filepath, kinds: tuple[str, ...]) -> tuple[str, dict, dict[str, bytes]]:
    """Verify the checksum, format and version of a kerastyle file; return its metadata and entries."""
    path = check_path(filepath, "filepath")
    with open(path, "rb") as handle:
        return _parse(handle.read(), path, kinds)


def _parse(data: bytes, path: str, kinds: tuple[str, ...]) -> tuple[str, dict, dict[str, bytes]]:
    """``_unpack``'s checks on the file's bytes: checksum first, then zip, format, version and kind."""
    if not data.startswith(b"PK\x03\x04"):
        what = "it is empty" if not data else "it is not a zip archive"
        raise SavedFileError(f"{path!r} is not a kerastyle file: {what}. Nothing was loaded.")
    tail = data[-(len(_TRAILER) + _DIGEST_LEN):]
    if not tail.startswith(_TRAILER):
        raise SavedFileError(f"{path!r} has no kerastyle checksum at its end: the file is truncated, or it "
                             f"was not written by kerastyle. "
                             f"Nothing was loaded.")
    if hashlib.sha256(data[:-_DIGEST_LEN]).hexdigest().encode() != tail[len(_TRAILER):]:
        raise SavedFileError(f"{path!r} is corrupted: its SHA-256 checksum does not match its contents (the "
                             f"file was truncated, damaged or modified after saving). Nothing was loaded.")
    entries = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if info.compress_type != zipfile.ZIP_STORED:
                    raise SavedFileError(f"{path!r}: entry {info.filename!r} is compressed; kerastyle files "
                                         f"store entries uncompressed. Nothing was loaded.")
                entries[info.filename] = archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise SavedFileError(f"{path!r} is not a readable zip archive ({err}). Nothing was loaded.") from None
    metadata = json_entry(entries, "metadata.json", path)
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise SavedFileError(f"{path!r} is not a kerastyle file: metadata.json names format {found!r}, "
                             f"expected {FORMAT!r}. Nothing was loaded.")
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SavedFileError(f"{path!r} has an unknown format version {version!r}; this kerastyle reads format "
                             f"version {FORMAT_VERSION}. Nothing was loaded.")
    if version > FORMAT_VERSION:
        raise SavedFileError(f"{path!r} was written by a newer kerastyle ({metadata.get('kerastyle_version')!r}, "
                             f"file format version {version}); kerastyle {_version()} reads format version "
                             f"{FORMAT_VERSION}. Upgrade kerastyle to load it. Nothing was loaded.")
    kind = metadata.get("kind")
    if kind not in kinds:
        hint = " It holds weights only: build the model, then call model.load_weights()." if kind == "weights" else ""
        raise SavedFileError(f"{path!r} is a kerastyle {kind!r} file; expected {' or '.join(map(repr, kinds))}."
                             f"{hint} Nothing was loaded.")
    return path, metadata, entries


def json_entry(entries, name, path):
    if name not in entries:
        raise SavedFileError(f"{path!r} has no {name!r} entry. Nothing was loaded.")
    try:
        return json.loads(entries[name].decode("utf-8"))
    except (ValueError, RecursionError) as err:
        raise SavedFileError(f"{path!r}: entry {name!r} is not valid JSON ({err}). Nothing was loaded.") from None


def tensor_entry(entries, name, path) -> dict[str, torch.Tensor]:
    if name not in entries:
        raise SavedFileError(f"{path!r} has no {name!r} entry. Nothing was loaded.")
    try:
        return safetensors.torch.load(entries[name])
    except Exception as err:  # safetensors raises its own SafetensorError
        raise SavedFileError(f"{path!r}: entry {name!r} is not valid safetensors ({err}). "
                             f"Nothing was loaded.") from None


def metadata(kind: str, layout) -> bytes:
    return dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
                   "kerastyle_version": _version(), "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
                   "layers_with_weights": layout})


def dumps(obj) -> bytes:
    return json.dumps(obj, indent=1).encode("utf-8")


def _version() -> str:
    from .. import __version__
    return __version__
