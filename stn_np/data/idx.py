"""IDX files (the MNIST format): a strict reader and an atomic writer.

Layout, all big-endian::

    bytes 0-1   0x00 0x00
    byte  2     type code: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double
    byte  3     number of dimensions d (>= 1)
    4 * d       each dimension as an unsigned 32-bit integer
    ...         the items, row-major, exactly prod(dims) of them

A file may also be gzip-compressed as a whole (as MNIST is distributed); the reader tells the two
apart by the gzip magic bytes ``1f 8b``, never by the file name.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np

from ..io import atomic_write

__all__ = ["load_idx", "save_idx", "IDX_TYPES"]

#: IDX type code -> big-endian dtype of the items.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def _decompress(raw, path):
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        # gzip raises BadGzipFile (an OSError), EOFError when truncated, zlib.error when corrupt.
        raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from None


def parse_idx(payload, path="<bytes>"):
    """Decode the bytes of an uncompressed IDX file (see the module docstring).

    Parameters
    ----------
    payload : bytes
        The whole file.
    path : str
        Named in error messages.

    Returns
    -------
    ndarray
        The items in native byte order, shaped by the header's dimensions.
    """
    if len(payload) < 4:
        raise ValueError(f"{path}: not an IDX file: {len(payload)} bytes, shorter than the 4-byte magic")
    if payload[0] != 0 or payload[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: magic starts with {payload[:2].hex()}, expected 0000"
        )
    code, ndim = payload[2], payload[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions, expected at least 1")
    header_end = 4 + 4 * ndim
    if len(payload) < header_end:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header_end} bytes, file has {len(payload)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(payload, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[code]
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow on absurd headers
    actual = len(payload) - header_end
    if actual != expected:
        what = "truncated" if actual < expected else "extra bytes after the data"
        raise ValueError(
            f"{path}: {what}: dimensions {dims} of {dtype.name} need {expected} data bytes, "
            f"file has {actual}"
        )
    items = np.frombuffer(payload, dtype=dtype, offset=header_end).reshape(dims)
    # astype copies: the result owns writable memory in native byte order.
    return items.astype(dtype.newbyteorder("="))


def load_idx(path):
    """Read an IDX file, raw or gzip-compressed.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Compression is detected from the gzip magic bytes, not the name.

    Returns
    -------
    ndarray
        Native byte order; dtype uint8, int8, int16, int32, float32 or float64 per the type code.

    Raises
    ------
    ValueError
        Naming the file and the problem: wrong magic, unknown type code, a truncated header,
        too few or too many data bytes, corrupt gzip data.
    FileNotFoundError
        When the file does not exist.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == _GZIP_MAGIC:
        raw = _decompress(raw, path)
    return parse_idx(raw, path)


def encode_idx(array):
    """The bytes of an uncompressed IDX file holding ``array`` (see :func:`save_idx`)."""
    array = np.asarray(array)
    code = _CODE_OF_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if code is None or array.dtype.kind == "b":
        raise TypeError(
            f"array: IDX stores uint8, int8, int16, int32, float32 or float64, got {array.dtype}"
        )
    if array.ndim < 1 or array.ndim > 255:
        raise ValueError(f"array: IDX needs 1 to 255 dimensions, got {array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"array: every dimension must be < 2**32, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()


def save_idx(path, array, compress=None):
    """Write ``array`` as an IDX file, atomically (a temporary file, then ``os.replace``).

    Parameters
    ----------
    path : str or os.PathLike
        Destination.
    array : array_like
        uint8, int8, int16, int32, float32 or float64, with 1 to 255 dimensions.
    compress : bool or None
        gzip the file; ``None`` (default) compresses when ``path`` ends in ``.gz``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from stn_np.data import load_idx, save_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "x-idx2-short.gz")
    >>> save_idx(path, np.array([[1, -2], [3, 4]], dtype=np.int16))
    >>> load_idx(path)
    array([[ 1, -2],
           [ 3,  4]], dtype=int16)
    """
    path = os.fspath(path)
    data = encode_idx(array)
    if compress is None:
        compress = path.endswith(".gz")
    if compress:
        data = gzip.compress(data, mtime=0)  # mtime=0: identical input, identical file
    with atomic_write(path) as fh:
        fh.write(data)
