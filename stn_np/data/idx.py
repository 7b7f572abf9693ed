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

from ..io import atomic_write, check_input_size, check_path
from ..validation import check_bool, describe, fail

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


def _header(payload, path, function):
    """(dims, dtype, header length) of an IDX header at the start of ``payload``.

    ``payload`` may hold just the header (the first ``4 + 4 * 255`` bytes suffice).
    """
    bad = lambda got: fail(function, "path", "an IDX file", f"{path} ({got})")  # noqa: E731
    if len(payload) < 4:
        bad(f"{len(payload)} bytes, shorter than the 4-byte magic")
    if payload[0] != 0 or payload[1] != 0:
        bad(f"not an IDX file: magic starts with {payload[:2].hex()}, expected 0000")
    code, ndim = payload[2], payload[3]
    if code not in IDX_TYPES:
        bad(f"unknown IDX type code 0x{code:02X}; known: {', '.join(f'0x{c:02X}' for c in IDX_TYPES)}")
    if ndim == 0:
        bad("the IDX header declares 0 dimensions, expected at least 1")
    header_end = 4 + 4 * ndim
    if len(payload) < header_end:
        bad(f"truncated IDX header: {ndim} dimensions need {header_end} bytes, the file has {len(payload)}")
    dims = tuple(int(d) for d in np.frombuffer(payload, dtype=">u4", count=ndim, offset=4))
    return dims, IDX_TYPES[code], header_end


def _check_length(dims, dtype, actual, path, function):
    """Refuse ``actual`` data bytes other than the header's dimensions need."""
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow on absurd headers
    if actual != expected:
        what = "truncated" if actual < expected else "extra bytes after the data"
        fail(function, "path", "an IDX file", f"{path} ({what}: dimensions {dims} of {dtype.name} need {expected} "
             f"data bytes, the file has {actual})")


def parse_idx(payload, path="<bytes>", function="parse_idx"):
    """Decode the bytes of an uncompressed IDX file (see the module docstring).

    Parameters
    ----------
    payload : bytes
        The whole file.
    path : str
        Named in error messages.
    function : str
        The public function named in error messages.

    Returns
    -------
    ndarray
        The items in native byte order, shaped by the header's dimensions.
    """
    dims, dtype, header_end = _header(payload, path, function)
    _check_length(dims, dtype, len(payload) - header_end, path, function)
    items = np.frombuffer(payload, dtype=dtype, offset=header_end).reshape(dims)
    # astype copies: the result owns writable memory in native byte order.
    return items.astype(dtype.newbyteorder("="))


def load_idx(path, max_bytes=None):
    """Read an IDX file, raw or gzip-compressed, within a size cap.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Compression is detected from the gzip magic bytes, not the name.
    max_bytes : int, optional
        Largest amount of data accepted (default :data:`stn_np.io.MAX_INPUT_BYTES`, 1 GiB). The
        size the header declares is checked first, so a small gzip file declaring gigabytes is
        refused without being decompressed.

    Returns
    -------
    ndarray
        Native byte order; dtype uint8, int8, int16, int32, float32 or float64 per the type code.

    Raises
    ------
    ValueError
        Naming the file and the problem: wrong magic, unknown type code, a truncated header,
        too few or too many data bytes, corrupt gzip data, more data than ``max_bytes``.
    FileNotFoundError
        When the file does not exist.
    """
    path = check_path(path, "load_idx")
    if os.path.isdir(path):
        raise IsADirectoryError(f"load_idx: path: expected an IDX file, got the folder {path}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_idx: path: expected an existing IDX file, got {path} (no such file)")
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        try:
            head = stream.read(4)
            head += stream.read(4 * head[3]) if len(head) == 4 else b""
            dims, dtype, header_end = _header(head, path, "load_idx")
            if not compressed:  # the true size is known: a wrong one is damage, whatever the cap
                _check_length(dims, dtype, os.fstat(raw.fileno()).st_size - header_end, path, "load_idx")
            declared = math.prod(dims) * dtype.itemsize
            check_input_size(declared, "load_idx", path, max_bytes, f"{' x '.join(map(str, dims))} {dtype.name}")
            payload = head + stream.read(declared + 1)  # one byte more than declared: finds extra data
        except (OSError, EOFError, zlib.error) as exc:
            # gzip raises BadGzipFile (an OSError), EOFError when truncated, zlib.error when corrupt.
            fail("load_idx", "path", "an IDX file", f"{path} (corrupt or truncated gzip data: {exc})")
    return parse_idx(payload, path, "load_idx")


def encode_idx(array):
    """The bytes of an uncompressed IDX file holding ``array`` (see :func:`save_idx`)."""
    if not isinstance(array, (np.ndarray, np.generic, list, tuple)):
        fail("save_idx", "array", "an array of uint8, int8, int16, int32, float32 or float64", describe(array),
             TypeError)
    array = np.asarray(array)
    code = _CODE_OF_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if code is None or array.dtype.kind == "b":
        fail("save_idx", "array", "uint8, int8, int16, int32, float32 or float64 values (what IDX stores)",
             f"dtype {array.dtype}", TypeError)
    if array.ndim < 1 or array.ndim > 255:
        fail("save_idx", "array", "1 to 255 dimensions", f"{array.ndim} dimensions")
    if any(d >= 2**32 for d in array.shape):
        fail("save_idx", "array", "every dimension < 2**32", f"shape {array.shape}")
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
    path = check_path(path, "save_idx")
    data = encode_idx(array)
    compress = path.endswith(".gz") if compress is None else check_bool(compress, "save_idx", "compress")
    if compress:
        data = gzip.compress(data, mtime=0)  # mtime=0: identical input, identical file
    with atomic_write(path) as fh:
        fh.write(data)
