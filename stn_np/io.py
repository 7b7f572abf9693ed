"""Writing files atomically, reading them without pickle and within a size cap, locking output folders.

Writing. Every file stn_np writes goes through :func:`atomic_write` (or :func:`save_files` for
a set of files): the bytes go to a temporary file ``.tmp-*`` in the destination's directory,
which is then renamed over the destination with ``os.replace``. A reader therefore sees either
the old file or the complete new one, never a half-written file, even if the process is killed
mid-write (a checkpoint interrupted by Ctrl-C stays loadable). Only a kill (SIGKILL, power
loss) between writing and renaming leaves a ``.tmp-*`` file behind; the next run that locks
the folder removes it (:func:`remove_temporaries`).

JSON. Every JSON file is strict JSON (RFC 8259, which has no NaN or Infinity): non-finite
numbers are written as ``null``, NumPy scalars and arrays as plain numbers and lists
(:func:`to_json`). A reader that finds ``null`` where a number belongs is reading a value that
was not finite.

Reading. Arrays are stored as ``.npz`` and read back with ``allow_pickle=False``, so loading a
file can never execute code. Readers check the size a file *declares* (the ``.npy`` headers of
an ``.npz``, an IDX header, an image's dimensions) against :data:`MAX_INPUT_BYTES` (1 GiB by
default) before decompressing anything, so a 3 MB "bomb" that would expand to gigabytes is
refused with a ``ValueError`` naming the file. Raise the cap per call with ``max_bytes=``, for
a process with the environment variable ``STN_NP_MAX_INPUT_BYTES`` (bytes, or with a K, M, G,
T suffix), or by assigning ``stn_np.io.MAX_INPUT_BYTES``.

Locking. :func:`lock_directory` makes one run the only writer of an output folder: it holds an
exclusive lock (``flock``) on ``.stn-np.lock`` holding the owner's PID, and removes the file on
exit. A run killed without cleaning up leaves the file but not the lock (the kernel drops it
with the process), so the next run recognises it as stale and takes it over.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import zipfile

import numpy as np

from .validation import (
    check_bool,
    check_choice,
    check_int,
    check_mapping,
    check_number,
    describe,
    fail,
    format_bytes,
    parse_bytes,
)

try:  # POSIX: the kernel releases the lock when its process dies
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["atomic_write", "save_files", "save_json", "dumps_json", "to_json", "save_npz", "load_npz", "load_npy",
           "save_figure", "figure_bytes",
           "lock_directory", "remove_temporaries", "check_path", "check_input_size", "MAX_INPUT_BYTES",
           "TEMP_PREFIX", "LOCK_NAME"]

#: Largest amount of data (bytes, after decompression) a reader accepts from one file.
MAX_INPUT_BYTES = parse_bytes(os.environ.get("STN_NP_MAX_INPUT_BYTES", "1G"), "STN_NP_MAX_INPUT_BYTES")
#: Name prefix of the temporary files behind atomic writes.
TEMP_PREFIX = ".tmp-"
#: The lock file :func:`lock_directory` keeps in a folder while a run writes it.
LOCK_NAME = ".stn-np.lock"


def check_path(path, function, argument="path"):
    """``os.fspath(path)`` for a str or path-like, else ``TypeError``."""
    if not isinstance(path, (str, os.PathLike)):
        fail(function, argument, "a file path (str or os.PathLike)", describe(path), TypeError)
    return os.fspath(path)


def _max_bytes(max_bytes, function):
    return MAX_INPUT_BYTES if max_bytes is None else check_int(max_bytes, function, "max_bytes", minimum=1)


def check_input_size(nbytes, function, path, max_bytes=None, what="data", argument="path"):
    """Refuse a file that declares ``nbytes`` of ``what``, more than ``max_bytes`` (default :data:`MAX_INPUT_BYTES`).

    Call it with the size a header declares, before reading or decompressing the data.
    """
    limit = _max_bytes(max_bytes, function)
    if nbytes > limit:
        fail(function, argument, f"a file of at most {format_bytes(limit)} of data (max_bytes; default "
             "stn_np.io.MAX_INPUT_BYTES)", f"{path}, which declares {format_bytes(nbytes)} of {what}")


# --------------------------------------------------------------------------- writing
def _temporary(path, function):
    """Open a new temporary file beside ``path``: ``(fd, temporary path)``."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{function}: path: expected a file in an existing folder, got {path} "
                                f"(the folder {directory} does not exist)")
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=os.path.splitext(path)[1], dir=directory)
    os.chmod(tmp, _new_file_mode())  # mkstemp makes 0600; give the usual permissions
    return fd, tmp


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
    check_choice(mode, ("wb", "w"), "atomic_write", "mode")
    path = check_path(path, "atomic_write")
    fd, tmp = _temporary(path, "atomic_write")
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_files(files, function="save_files"):
    """Write several files as one set: all of them or, if any write fails, none.

    Parameters
    ----------
    files : mapping of path to bytes
        Destinations (in existing folders) and their contents.

    Every content is written to its own temporary file and flushed to disk first; only when
    all succeeded are they renamed over their destinations, one ``os.replace`` each. A failed
    write (a full disk, a missing folder, Ctrl-C) removes the temporary files and leaves every
    destination as it was. Only a crash during the renames themselves (microseconds) could
    leave a mix of old and new files.
    """
    check_mapping(files, function, "files", "a dict of paths to bytes")
    written = []
    try:
        for path, content in files.items():
            path = check_path(path, function)
            if not isinstance(content, (bytes, bytearray, memoryview)):
                fail(function, "files", "bytes for every path", f"a {type(content).__name__} for {path}", TypeError)
            fd, tmp = _temporary(path, function)
            written.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in written:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise


def _new_file_mode():
    """The mode ``open()`` would give a new file: 0o666 minus the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def to_json(obj, function="to_json", argument="obj"):
    """``obj`` with every value strict JSON can hold: non-finite floats become None (``null``).

    NumPy scalars become Python numbers, arrays and tuples lists. ``TypeError`` names the
    first value JSON cannot hold (a set, an object, a non-str key) and where it is.

    Examples
    --------
    >>> to_json({"loss": float("nan"), "sizes": (1, 2), "x": np.float32(0.5)})
    {'loss': None, 'sizes': [1, 2], 'x': 0.5}
    """
    def convert(value, where):
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, dict):
            bad = [k for k in value if not isinstance(k, str)]
            if bad:
                fail(function, argument, "dicts with str keys", f"the key {bad[0]!r} at {where}", TypeError)
            return {k: convert(v, f"{where}[{k!r}]") for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v, f"{where}[{i}]") for i, v in enumerate(value)]
        fail(function, argument, "JSON values (dicts with str keys, lists, str, numbers, bools, None)",
             f"a {type(value).__name__} at {where}", TypeError)

    return convert(obj, argument)


def dumps_json(obj, function="dumps_json"):
    """``obj`` as indented strict JSON text (see :func:`to_json`: NaN and inf become ``null``)."""
    return json.dumps(to_json(obj, function), indent=2, allow_nan=False) + "\n"


def save_json(path, obj):
    """Write ``obj`` as indented strict JSON (see :func:`to_json`: NaN and inf become ``null``), atomically."""
    text = dumps_json(obj, "save_json")
    with atomic_write(check_path(path, "save_json"), "w") as f:
        f.write(text)


def save_npz(path, arrays, compressed=False):
    """Write a mapping name -> array as ``.npz``, atomically.

    Only numeric, boolean and string arrays are accepted (object arrays would need pickle).
    """
    path = check_path(path, "save_npz")
    check_mapping(arrays, "save_npz", "arrays", "a dict of names to arrays")
    compressed = check_bool(compressed, "save_npz", "compressed")
    checked = {}
    for name, value in arrays.items():
        if not isinstance(name, str):
            fail("save_npz", "arrays", "str names", describe(name), TypeError)
        value = np.asarray(value)
        if value.dtype.hasobject:
            fail("save_npz", "arrays", "plain arrays (object arrays need pickle, which stn_np never writes)",
                 f"an object array for {name!r}", TypeError)
        checked[name] = value
    with atomic_write(path, "wb") as f:
        (np.savez_compressed if compressed else np.savez)(f, **checked)


def load_npz(path, max_bytes=None, function="load_npz"):
    """Read an ``.npz`` file into a dict of arrays, refusing pickled content and oversized data.

    Parameters
    ----------
    path : str or os.PathLike
    max_bytes : int, optional
        Largest total of array data accepted (default :data:`MAX_INPUT_BYTES`); checked against
        the sizes the members' headers declare, before any is decompressed.
    function : str
        The public function named in error messages (a caller such as ``load_checkpoint``).

    Raises
    ------
    ValueError
        For anything that is not a readable, pickle-free ``.npz`` within the cap (a corrupt or
        truncated archive, an unsupported compression, a broken ``.npy`` header, object arrays).
    OSError
        When the file cannot be opened (missing, a directory, no permission).
    """
    path = check_path(path, function)
    limit = _max_bytes(max_bytes, function)

    def read():
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if m.filename.endswith(".npy")]
            total = 0
            for member in members:  # every header first: the cap is checked before any data is read
                with archive.open(member) as f:
                    shape, dtype = _npy_header(f, member.filename)
                total += math.prod(shape) * dtype.itemsize
                check_input_size(total, function, path, limit, "array data")
            arrays = {}
            for member in members:
                with archive.open(member) as f:
                    arrays[member.filename[:-len(".npy")]] = np.lib.format.read_array(f, allow_pickle=False)
            return arrays

    return _read(path, function, "path", ".npz archive of plain arrays", read)


def _read(path, function, argument, what, reader):
    """``reader()``, its failures turned into errors in the convention naming ``path``.

    A missing, unreadable or directory path stays an ``OSError``; anything else a corrupt file
    can raise (``BadZipFile``, ``NotImplementedError`` for an unknown compression, tokenizer
    errors from a broken ``.npy`` header, ...) becomes a ``ValueError``.
    """
    try:
        return reader()
    except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
        raise type(error)(f"{function}: {argument}: expected a readable {what}, got {path} "
                          f"({error.strerror or error})") from None
    except ValueError as error:
        if str(error).startswith(f"{function}:"):  # already in the convention (e.g. the size cap)
            raise
        detail = error
    except Exception as error:  # noqa: BLE001 - zipfile and numpy raise many types for a corrupt file
        detail = error
    text = str(detail).splitlines()[0] if str(detail) else "unreadable"
    fail(function, argument, f"a readable {what}", f"{path} ({type(detail).__name__}: {text})")


def _npy_header(f, name):
    """(shape, dtype) from the header of an ``.npy`` stream, without reading its data."""
    version = np.lib.format.read_magic(f)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f"{name}: unsupported .npy version {version}")
    shape, _, dtype = read(f)
    if dtype.hasobject:
        raise ValueError(f"{name} holds Python objects, which would need pickle to load")
    return shape, dtype


def load_npy(path, max_bytes=None, function="load_npy", argument="path"):
    """Read one ``.npy`` array without pickle, checking its declared size against the cap first.

    Raises ``ValueError`` (naming ``function``) for a file that is not a plain ``.npy`` array,
    declares more than ``max_bytes`` (default :data:`MAX_INPUT_BYTES`) or holds less data than
    its header declares; ``OSError`` when it cannot be opened. ``argument`` names the path in
    messages (a caller's own argument).
    """
    path = check_path(path, function, argument)
    limit = _max_bytes(max_bytes, function)

    def read():
        with open(path, "rb") as f:
            shape, dtype = _npy_header(f, os.path.basename(path))
            declared = math.prod(shape) * dtype.itemsize
            check_input_size(declared, function, path, limit, f"{dtype} of shape {shape}", argument)
            available = os.fstat(f.fileno()).st_size - f.tell()
            if available < declared:
                raise ValueError(f"truncated: its header declares {declared} bytes of data, it holds {available}")
            f.seek(0)
            return np.load(f, allow_pickle=False)

    return _read(path, function, argument, ".npy file of a plain array", read)


def figure_bytes(figure, fmt="png", dpi=100, function="figure_bytes"):
    """A matplotlib ``Figure`` rendered to bytes (``bbox_inches="tight"``), e.g. for :func:`save_files`."""
    if not callable(getattr(figure, "savefig", None)):
        fail(function, "figure", "a matplotlib Figure", f"a {type(figure).__name__}", TypeError)
    dpi = check_number(dpi, function, "dpi", minimum=0, strict_low=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def save_figure(figure, path, dpi=100):
    """Save a matplotlib ``Figure`` atomically; the format follows the file extension."""
    path = check_path(path, "save_figure")
    data = figure_bytes(figure, os.path.splitext(path)[1].lstrip(".") or "png", dpi, "save_figure")
    with atomic_write(path, "wb") as f:
        f.write(data)


# --------------------------------------------------------------------------- output folders
def remove_temporaries(directory):
    """Remove the ``.tmp-*`` files a killed run left in ``directory``; returns their names.

    Call it only while holding the folder's lock (:func:`lock_directory`): another writer's
    temporary files are not leftovers.
    """
    removed = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.startswith(TEMP_PREFIX) and os.path.isfile(path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                removed.append(name)
    return removed


@contextlib.contextmanager
def lock_directory(directory, function, argument="out_dir"):
    """Be the only writer of ``directory`` (created if missing) while the block runs.

    Yields the lock file's path. Entering checks that the folder can be written (the lock
    file is the first file written there), so an unwritable folder is reported before any work
    starts.

    Raises
    ------
    ValueError
        ``"<function>: <argument>: expected a folder no other run is writing, got <dir>
        (locked by process <pid>, ...)"`` when another process holds the lock; or naming the
        folder when it cannot be created or written.
    """
    directory = check_path(directory, function, argument)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        fail(function, argument, "a folder that can be created", f"{directory} ({error.strerror or error})")
    if not os.path.isdir(directory):
        fail(function, argument, "a folder", f"{directory}, which is a file")
    path = os.path.join(directory, LOCK_NAME)
    fd = _acquire(path, directory, function, argument)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # unlink while still locked: a waiting run then makes a new file
        os.close(fd)


def _acquire(path, directory, function, argument):
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | (0 if fcntl else os.O_EXCL), 0o644)
        except FileExistsError:  # pragma: no cover - only without fcntl
            if _holder_alive(path):
                _refuse(path, directory, function, argument)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # stale: its process is gone
            continue
        except OSError as error:
            fail(function, argument, "a folder this process can write", f"{directory} ({error.strerror or error})")
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                _refuse(path, directory, function, argument)
            try:  # the holder we waited for may have unlinked the file we opened: lock the current one
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd


def _holder(path):
    try:
        with open(path, encoding="utf-8") as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _holder_alive(path):  # pragma: no cover - only without fcntl
    pid = _holder(path)
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _refuse(path, directory, function, argument):
    pid = _holder(path)
    fail(function, argument, "a folder no other run is writing",
         f"{directory} (locked by process {pid or '?'}; {path} is removed when that run ends)")
