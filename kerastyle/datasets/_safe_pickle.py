"""Reading Keras's pickled dataset files without executing anything from them.

Keras's ``imdb.npz`` and ``reuters.npz`` hold ragged sequences as numpy object arrays, which
numpy stores as pickles; CIFAR-10's python batches are pickled dicts. ``np.load(allow_pickle=True)``
or ``pickle.load`` would run whatever a crafted file names. The :class:`RestrictedUnpickler`
here resolves only numpy's array reconstruction (``_reconstruct``, ``ndarray``, ``dtype``) and
latin1 text-to-bytes (how protocol-2 pickles written by Python 3 store bytes); lists, dicts,
ints, strings and bytes need no lookup. Any other name in the file is refused
with :class:`UnsafeDatasetFileError`, and the loaded values are checked for the expected types.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np

from kerastyle.datasets._files import InvalidDatasetFileError

_ALLOWED = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class UnsafeDatasetFileError(InvalidDatasetFileError):
    """A dataset file's pickle names something other than numpy's array reconstruction."""


def _latin1_bytes(text, encoding="latin1", errors="strict"):
    """How Python 3's protocol-2 pickles spell bytes: ``_codecs.encode(str, 'latin1')``; nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeDatasetFileError(f"refused to load: _codecs.encode called with encoding {encoding!r} "
                                     "(only latin1 text-to-bytes is allowed).")
    return text.encode("latin1")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays, lists, dicts and numbers, and nothing else."""

    def __init__(self, file, source, **kwargs):
        super().__init__(file, **kwargs)
        self._source = source

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise UnsafeDatasetFileError(
            f"{self._source}: refused to load: its pickle names {module}.{name}, but only numpy arrays, "
            "lists and numbers are allowed in a dataset file (nothing from a file is executed).")


def restricted_loads(data, source, encoding="ASCII"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler`; damaged data is an InvalidDatasetFileError."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source, encoding=encoding).load()
    except UnsafeDatasetFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure means a damaged file
        raise InvalidDatasetFileError(f"{source}: cannot be read as a pickled array ({type(exc).__name__}: {exc})") \
            from exc


def load_npz(path):
    """All arrays of an ``.npz`` file as a dict; object arrays go through the restricted unpickler."""
    arrays = {}
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidDatasetFileError(f"{path}: not an .npz (zip) file ({exc})") from exc
    with archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            key = member[: -len(".npy")]
            source = f"{path}[{key}]"
            with archive.open(member) as fh:
                try:
                    version = np.lib.format.read_magic(fh)
                    shape, fortran, dtype = (np.lib.format.read_array_header_1_0(fh) if version == (1, 0)
                                             else np.lib.format.read_array_header_2_0(fh))
                except ValueError as exc:
                    raise InvalidDatasetFileError(f"{source}: not a .npy array ({exc})") from exc
                payload = fh.read()
            if dtype.hasobject:
                value = restricted_loads(payload, source, encoding="latin1")
                if not isinstance(value, np.ndarray):
                    raise InvalidDatasetFileError(f"{source}: holds a {type(value).__name__}, expected an array.")
                arrays[key] = value
                continue
            count = int(np.prod(shape))
            if len(payload) != count * dtype.itemsize:
                raise InvalidDatasetFileError(f"{source}: {len(payload)} bytes of data, expected "
                                              f"{count * dtype.itemsize} for shape {shape} of {dtype}.")
            array = np.frombuffer(payload, dtype=dtype, count=count)
            arrays[key] = array.reshape(shape, order="F" if fortran else "C").copy()
    return arrays


def int_sequences(array, source):
    """Check that ``array`` holds sequences of integers; return a 1-D object array of int lists."""
    if array.dtype != object and array.dtype.kind not in "iu":
        raise InvalidDatasetFileError(f"{source}: holds {array.dtype} values, expected integer sequences.")
    out = np.empty(len(array), dtype=object)
    for i, seq in enumerate(array):
        values = np.asarray(seq)
        if values.ndim != 1 or (values.size and values.dtype.kind not in "iu"):
            raise InvalidDatasetFileError(f"{source}: item {i} is not a sequence of integers.")
        out[i] = [int(v) for v in values]
    return out
