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
and files are written atomically (temporary file in the same directory, fsync, rename; link-or-fail
when an existing file must not be replaced).
docs/saving.md describes the format and its guarantees.
"""

from __future__ import annotations

import contextlib
import errno
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


# -- writing: temporary file, fsync, rename (or link, to refuse an existing target) --------------
TEMP_MARK = ".kerastyle-tmp-"
STALE_AFTER_S = 15 * 60
"""A temporary file whose writer is still alive is left alone unless it is older than this (a writer
on another machine sharing the folder cannot be asked whether it is alive)."""


def temp_path(path: str) -> str:
    """``.<name>.kerastyle-tmp-<pid>-<hex>`` beside ``path``: hidden, recognisable, and naming its writer."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(6)}")


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError, ValueError):
        return True  # exists (owned by someone else), or cannot tell: keep it
    return True


def remove_stale_temps(filepath) -> list[str]:
    """Delete the temporary files a killed writer left for ``filepath`` (same target only): those whose
    writer process is gone, or older than ``STALE_AFTER_S``. Returns the paths removed; never raises
    (a read-only folder or a file removed meanwhile just leaves things as they are)."""
    directory, name = os.path.split(os.path.abspath(os.fspath(filepath)))
    prefix = f".{name}{TEMP_MARK}"
    removed = []
    try:
        candidates = [entry for entry in os.listdir(directory) if entry.startswith(prefix)]
    except OSError:
        return removed
    now = time.time()
    for entry in candidates:
        pid_text, _, token = entry[len(prefix):].partition("-")
        if not pid_text.isdigit() or not token:
            continue
        full = os.path.join(directory, entry)
        try:
            old = now - os.lstat(full).st_mtime > STALE_AFTER_S
            if old or not _writer_alive(int(pid_text)):
                os.unlink(full)
                removed.append(full)
        except OSError:
            continue
    return removed


def target_error(err: OSError, path: str, action: str = "save to") -> OSError:
    """``err`` (about a temporary file or the folder) re-said about the file the user named."""
    directory = os.path.dirname(os.path.abspath(path))
    if isinstance(err, PermissionError):
        reason = f"the folder {directory!r} is not writable ({err.strerror})"
    elif isinstance(err, FileNotFoundError):
        reason = f"the folder {directory!r} does not exist"
    else:
        reason = err.strerror or str(err)
    new = type(err)(err.errno, f"Cannot {action} {path!r}: {reason}.") if err.errno is not None \
        else type(err)(f"Cannot {action} {path!r}: {reason}.")
    return new


def check_target(filepath, arg="filepath", action="save to") -> str:
    """The path to write, after the checks that can be made before any work: its folder exists and it
    is not a folder itself."""
    path = check_path(filepath, arg)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot {action} {path!r}: the folder {directory!r} does not exist.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot {action} {path!r}: it is a directory.")
    return path


def publish(tmp: str, path: str, overwrite: bool = True) -> None:
    """Move the finished temporary file ``tmp`` to ``path`` in one atomic step: a rename when
    replacing is allowed; otherwise a hard link, which fails if ``path`` exists (so two processes
    saving with ``overwrite=False`` cannot both succeed), then the temporary name is removed.
    Removes ``tmp`` on failure."""
    try:
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(f"{path!r} already exists and overwrite=False.") from None
            except (AttributeError, NotImplementedError, PermissionError, OSError) as err:
                if isinstance(err, OSError) and not _no_hard_links(err):
                    raise
                _publish_exclusive(tmp, path)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, FileExistsError):
            raise target_error(err, path) from None
        raise
    fsync_dir(os.path.dirname(os.path.abspath(path)))


def _no_hard_links(err: OSError) -> bool:
    return err.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK) \
        or err.errno is None


def _publish_exclusive(tmp: str, path: str) -> None:
    """Where the file system has no hard links: claim ``path`` with an exclusive create (fails if it
    exists), then rename the finished file over the claim."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        raise FileExistsError(f"{path!r} already exists and overwrite=False.") from None
    os.replace(tmp, path)


def write_atomic(filepath, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``filepath``, fsync it, then publish it (rename, or
    link-or-fail when ``overwrite=False``), so a crash at any moment leaves either the old file or the
    new one, never a mix; stale temporary files of the same target are removed first."""
    path = check_target(filepath)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(f"{path!r} already exists and overwrite=False.")
    remove_stale_temps(path)
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as err:
        raise target_error(err, path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise target_error(err, path) from None
        raise
    publish(tmp, path, overwrite)


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
    remove_stale_temps(path)
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


_ITEM_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def stored_values(entries, name, path) -> int:
    """The number of values the safetensors entry ``name`` holds, read from its header alone (no
    tensor is loaded). Every tensor's declared shape and dtype must account for exactly the bytes it
    occupies, so the count is bounded by the entry's size: a file cannot declare more than it stores."""
    data = entries.get(name)
    if data is None:
        raise SavedFileError(f"{path!r} has no {name!r} entry. Nothing was loaded.")

    def bad(why):
        return SavedFileError(f"{path!r}: entry {name!r} is not valid safetensors ({why}). Nothing was loaded.")
    if len(data) < 8:
        raise bad("shorter than its 8-byte header size")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise bad(f"its header declares {size} bytes, the entry has {len(data) - 8}")
    try:
        header = json.loads(data[8:8 + size].decode("utf-8"))
    except (ValueError, RecursionError) as err:
        raise bad(f"its header is not JSON: {err}") from None
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    payload = len(data) - 8 - size
    total = 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        shape = info.get("shape") if isinstance(info, dict) else None
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        item = _ITEM_SIZES.get(info.get("dtype")) if isinstance(info, dict) else None
        if item is None or not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape) \
                or not isinstance(offsets, list) or len(offsets) != 2 or not all(
                isinstance(o, int) and not isinstance(o, bool) for o in offsets):
            raise bad(f"tensor {key!r} has a malformed description")
        count = 1
        for d in shape:
            count *= d
        begin, end = offsets
        if not 0 <= begin <= end <= payload or end - begin != count * item:
            raise bad(f"tensor {key!r} declares shape {shape} of {info['dtype']} ({count * item} bytes), but "
                      f"occupies bytes {begin} to {end} of {payload}")
        total += count
    return total


def metadata(kind: str, layout) -> bytes:
    return dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
                   "kerastyle_version": _version(), "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
                   "layers_with_weights": layout})


def dumps(obj) -> bytes:
    return json.dumps(obj, indent=1).encode("utf-8")


def _version() -> str:
    from .. import __version__
    return __version__
