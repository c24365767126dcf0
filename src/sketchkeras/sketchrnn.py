"""Safe reader for sketch-rnn ``.npz`` files.

sketch-rnn stores each split (``train``, ``valid``, ``test``) as a NumPy
object array of int16 ``(n, 3)`` stroke-3 arrays: (dx, dy, pen_lifted).
Object arrays can only be saved pickled, and ``np.load(allow_pickle=True)``
runs whatever a pickle asks for. This module opens the zip itself, parses
each ``.npy`` header with ``numpy.lib.format``, reads plain arrays straight
from their bytes, and unpickles object arrays with an unpickler that can
only rebuild ndarrays and dtypes.
"""

import math
import pickle
import zipfile

import numpy as np
from numpy.lib import format as npy_format

_RECONSTRUCT = np.empty(0).__reduce__()[0]

# Everything a pickled object array of ndarrays refers to. NumPy 1 writes
# the rebuild function as numpy.core.multiarray._reconstruct, NumPy 2 as
# numpy._core.multiarray._reconstruct.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}

_INT16 = np.iinfo(np.int16)
MAX_NPZ_BYTES = 512 * 2**20  # refused above this many uncompressed bytes, before anything is inflated


class UnsafePickleError(ValueError):
    """A pickled member asked for something other than ndarrays and dtypes."""


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in ``_ALLOWED_GLOBALS``."""

    def __init__(self, file, where):
        # Google's own files were pickled by Python 2: latin1 keeps their bytes.
        super().__init__(file, encoding="latin1")
        self.where = where

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[module, name]
        except KeyError:
            raise UnsafePickleError(f"{self.where}: refused pickle global {module}.{name}") from None


def load_sketchrnn_npz(path, max_bytes=MAX_NPZ_BYTES):
    """Read a sketch-rnn ``.npz`` file: split name -> list of int16 (n, 3) arrays.

    Raises ``UnsafePickleError`` when a pickle asks for anything beyond
    ndarrays and dtypes, and ``ValueError`` for a corrupt file, a drawing
    that is not an integer (n, 3) array, or a file whose zip directory
    declares more than ``max_bytes`` uncompressed bytes (checked before
    anything is inflated; a member never inflates past its declared size).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "cat.npz")
    >>> drawings = np.empty(1, dtype=object)
    >>> drawings[0] = np.array([[0, 0, 0], [5, -3, 1]], dtype=np.int16)
    >>> np.savez(path, train=drawings)
    >>> load_sketchrnn_npz(path)["train"][0].tolist()
    [[0, 0, 0], [5, -3, 1]]
    """
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
            if declared > max_bytes:
                raise ValueError(
                    f"{path}: declares {declared:,} uncompressed bytes, over the {max_bytes:,}-byte cap; not read"
                )
            splits = {}
            for info in archive.infolist():
                split = info.filename.removesuffix(".npy")
                if split == info.filename:
                    raise ValueError(f"{path}: member {info.filename} is not an .npy file")
                array = _read_member(archive, info, f"{path}, member {info.filename}")
                splits[split] = [_drawing(element, f"{path}: {split}[{index}]") for index, element in enumerate(array)]
            return splits
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path}: not a readable .npz file ({error})") from error


def _read_member(archive, info, where):
    """One ``.npy`` member as an array of at least one dimension."""
    try:
        with archive.open(info) as file:
            version = npy_format.read_magic(file)
            if version == (1, 0):
                shape, fortran_order, dtype = npy_format.read_array_header_1_0(file)
            else:
                shape, fortran_order, dtype = npy_format.read_array_header_2_0(file)
            if dtype.hasobject:
                array = _ArrayUnpickler(file, where).load()
                if not isinstance(array, np.ndarray) or array.shape != shape:
                    raise ValueError(f"the pickle does not hold a {shape} array")
            else:
                size = math.prod(shape) * dtype.itemsize
                if size > info.file_size:
                    raise ValueError(f"its header declares {size:,} data bytes in a {info.file_size:,}-byte member")
                data = file.read(size)
                if len(data) != size:
                    raise ValueError(f"{len(data)} of {size} data bytes")
                order = "F" if fortran_order else "C"
                array = np.frombuffer(data, dtype=dtype).reshape(shape, order=order)
    except UnsafePickleError:
        raise
    except Exception as error:  # any failure to decode untrusted bytes
        raise ValueError(f"{where}: corrupt .npy data ({error!r})") from error
    if array.ndim == 0:
        raise ValueError(f"{where}: holds a scalar, not a list of drawings")
    return array


def _drawing(element, where):
    """Check one drawing and return it as an int16 (n, 3) array."""
    if not (
        isinstance(element, np.ndarray)
        and element.ndim == 2
        and element.shape[1] == 3
        and np.issubdtype(element.dtype, np.integer)
    ):
        got = (
            f"{element.dtype} array of shape {element.shape}"
            if isinstance(element, np.ndarray)
            else type(element).__name__
        )
        raise ValueError(f"{where} is not an integer (n, 3) array: got {got}")
    if element.dtype != np.int16 and element.size and (element.min() < _INT16.min or element.max() > _INT16.max):
        raise ValueError(f"{where} has values outside int16")
    return element.astype(np.int16, copy=False)
