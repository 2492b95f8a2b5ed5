"""Finding one dataset file (``imdb.npz``, ``reuters.npz``, word-index JSON) like the IDX loaders.

``path`` follows Keras's meaning (a file name, ``'imdb.npz'``) and kerastyle's (a folder or
file): a bare file name is searched in ``$KERASTYLE_DATA/<name>/``, then the cache
``$KERASTYLE_CACHE/<name>/`` (default ``~/.kerastyle/datasets/<name>/``), then downloaded into
the cache (checked against Keras's published hash) unless ``KERASTYLE_OFFLINE=1``. A path
with a folder part is explicit: that file (or that folder's file) is used, or the error
names it; nothing else is searched and nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

from kerastyle.utils.file_download import (
    ENV_CACHE,
    ENV_DATA,
    DownloadFailed,
    cache_root,
    cache_source,
    download,
    not_found_error,
)


def locate(name, title, path, default_fname, origin, file_hash):
    """Return the local path of the dataset file, downloading it if allowed; else DatasetNotFoundError."""
    path = os.fspath(path) if path is not None else default_fname
    if os.path.dirname(path) or Path(path).expanduser().is_dir():
        explicit = Path(path).expanduser()
        candidate = explicit / default_fname if explicit.is_dir() else explicit
        if candidate.is_file():
            return candidate
        state = "no such file" if explicit.parent.is_dir() or explicit.is_dir() else "no such folder"
        raise not_found_error(
            f"{title} file", [(candidate, "path= argument", state)], "not attempted because path= was given",
            f"To supply it: pass path= the {default_fname} file (or a folder holding it).")
    fname = path
    places = []
    data_env = os.environ.get(ENV_DATA)
    if data_env:
        places.append((Path(data_env).expanduser() / name / fname, ENV_DATA))
    target = cache_root() / name / fname
    places.append((target, cache_source()))
    searched = []
    for place, source in places:
        if place.is_file():
            return place
        searched.append((place, source, "no such file" if place.parent.is_dir() else "no such folder"))
    try:
        return download(origin, target, file_hash)
    except DownloadFailed as failure:
        hint = (f"To supply the file ({fname}): pass load_data(path=FILE), or set {ENV_DATA} to a folder with a "
                f"'{name}/' sub-folder holding it, or copy it into the cache folder {target.parent} "
                f"({ENV_CACHE} overrides the cache root).")
        raise not_found_error(f"{title} file {fname}", searched, f"from {origin} {failure.note}", hint,
                              failure.__cause__) from failure.__cause__
