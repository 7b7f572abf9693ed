"""Writing files atomically and reading them without pickle.

Every file stn_np writes goes through :func:`atomic_write`: the bytes go to a temporary file
in the destination's directory, which is then renamed over the destination with
``os.replace``. A reader therefore sees either the old file or the complete new one, never a
half-written file, even if the process is killed mid-write (a checkpoint interrupted by
Ctrl-C stays loadable). Arrays are stored as ``.npz`` and read back with
``allow_pickle=False``, so loading a file can never execute code.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile

import numpy as np

__all__ = ["atomic_write", "save_json", "save_npz", "load_npz", "save_figure"]


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Context manager yielding a file object whose contents replace ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its directory must exist.
    mode : {"wb", "w"}
        Binary or text (UTF-8) mode.

    On an exception inside the block the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> with atomic_write(path, "w") as f:
    ...     _ = f.write("hello")
    >>> open(path).read()
    'hello'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode: expected 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    try:
        os.chmod(tmp, _new_file_mode())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _new_file_mode():
    """The mode ``open()`` would give a new file: 0o666 minus the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_json(path, obj):
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")


def save_npz(path, arrays, compressed=False):
    """Write a mapping name -> array as ``.npz``, atomically.

    Only numeric, boolean and string arrays are accepted (object arrays would need pickle).
    """
    checked = {}
    for name, value in arrays.items():
        value = np.asarray(value)
        if value.dtype == object:
            raise TypeError(f"save_npz: {name!r} is an object array; only plain arrays can be saved without pickle")
        checked[name] = value
    with atomic_write(path, "wb") as f:
        (np.savez_compressed if compressed else np.savez)(f, **checked)


def load_npz(path):
    """Read an ``.npz`` file into a dict of arrays, refusing pickled content."""
    with np.load(os.fspath(path), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def save_figure(figure, path, dpi=100):
    """Save a matplotlib ``Figure`` atomically; the format follows the file extension."""
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".") or "png"
    with atomic_write(path, "wb") as f:
        figure.savefig(f, format=fmt, dpi=dpi, bbox_inches="tight")
