"""Unpacking downloaded files safely: bounded gunzip and archive extraction without escapes.

``gunzip_bounded`` stops a ``.gz`` at the first byte beyond the size the caller expects (a
small file that would inflate to gigabytes is refused after reading ``limit + 1`` bytes).
``extract_archive`` unpacks tar and zip archives into a folder, refusing members that would
land outside it (absolute paths, ``..``, links, devices), and publishes the folder only when
every member was written.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

_CHUNK = 1 << 20


class ArchiveError(ValueError):
    """An archive or ``.gz`` file is damaged, too large, or holds unsafe member names."""


def gunzip_bounded(src, dst, limit):
    """Inflate ``src`` (gzip) into ``dst``; raise :class:`ArchiveError` past ``limit`` bytes.

    Returns the number of bytes written. Reading stops as soon as ``limit + 1`` bytes came out,
    so the work done on a hostile file is bounded by ``limit``, not by what it would inflate to.
    """
    written = 0
    try:
        with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
            while True:
                chunk = fin.read(min(_CHUNK, limit + 1 - written))
                if not chunk:
                    break
                written += len(chunk)
                if written > limit:
                    raise ArchiveError(f"{src}: inflates to more than the expected {limit} bytes "
                                       "(stopped at the first byte too many); the file is not the expected data.")
                fout.write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"{src}: cannot decompress ({exc})") from exc
    return written


def _safe_member(name, target):
    """The destination of archive member ``name`` inside ``target``, or an ArchiveError."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise ArchiveError(f"archive member {name!r} would be written outside the extraction folder; refused.")
    return Path(target, *[p for p in pure.parts if p not in ("", ".")])


def _archive_kind(path, archive_format):
    kinds = {"tar": tarfile.is_tarfile, "zip": zipfile.is_zipfile}
    if archive_format == "auto":
        wanted = ["tar", "zip"]
    elif isinstance(archive_format, str):
        wanted = [archive_format]
    else:
        wanted = list(archive_format or [])
    for kind in wanted:
        if kind not in kinds:
            raise ValueError(f"extract_archive: archive format {kind!r} is not supported; use 'tar', 'zip' or 'auto'.")
        if kinds[kind](path):
            return kind
    return None


def extract_archive(path, target, archive_format="auto"):
    """Unpack a tar (plain, gz, bz2, xz) or zip archive into folder ``target``.

    Returns False when ``path`` is not an archive of the requested format (as Keras does),
    True after a complete extraction. Members are written into a scratch folder beside
    ``target`` and moved into place only when all of them were written.
    """
    kind = _archive_kind(path, archive_format)
    if kind is None:
        return False
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.extract-", dir=target.parent))
    try:
        if kind == "tar":
            with tarfile.open(path) as archive:
                for member in archive:
                    dest = _safe_member(member.name, scratch)
                    if member.isdir():
                        dest.mkdir(parents=True, exist_ok=True)
                    elif member.isfile():
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        with archive.extractfile(member) as fin, open(dest, "wb") as fout:
                            shutil.copyfileobj(fin, fout, _CHUNK)
                    else:
                        raise ArchiveError(f"archive member {member.name!r} is a link or special file; refused.")
        else:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    dest = _safe_member(info.filename, scratch)
                    if info.is_dir():
                        dest.mkdir(parents=True, exist_ok=True)
                        continue
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as fin, open(dest, "wb") as fout:
                        shutil.copyfileobj(fin, fout, _CHUNK)
        target.mkdir(exist_ok=True)
        for entry in scratch.iterdir():
            final = target / entry.name
            if final.is_dir() and not final.is_symlink():
                shutil.rmtree(final)
            elif final.exists() or final.is_symlink():
                final.unlink()
            os.replace(entry, final)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ArchiveError(f"{path}: damaged archive ({exc})") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return True
