"""Process-wide settings that make the training loop fast and steady on a small CPU machine.

Both were measured on a 2-core VM (``benchmarks/bench_train.py``, ``benchmarks/bench_layers.py``)
and both change the whole process, so library users opt in; ``stn-np train`` and
``stn-np evaluate`` apply them by default (``--no-keep-heap``, ``--blas-threads N``).

:func:`keep_heap` -- each training step allocates the same multi-megabyte buffers (im2col
matrices, activations) and frees them again. By default glibc serves blocks above 128 KiB with
``mmap`` and returns them to the OS on ``free``, so the next step page-faults every page in
again; keeping them made a step 10-20% faster in ``benchmarks/bench_train.py --default-malloc``
(CNN 24.4 -> 19.3 ms, ST-CNN 25.2 -> 23.0 ms). Raising ``M_MMAP_THRESHOLD`` and
``M_TRIM_THRESHOLD`` (``mallopt``) makes glibc keep those blocks for reuse. Memory is kept,
not leaked: the peak stays the peak of one step. A no-op without glibc.

:func:`set_blas_threads` -- OpenBLAS's worker threads spin while they wait for each other, so
a 2-thread matmul slows down enormously when another process occupies the second core (one
epoch took 18x longer in a measurement; a training step 2-7x longer in
``benchmarks/bench_train.py`` while other jobs ran), while a second thread speeds up only the
matmuls: the multi-channel convolutions by 15-25% in ``benchmarks/bench_layers.py``, pooling
and the one-channel convolutions not at all. The command line therefore uses 1 BLAS thread by
default. OpenBLAS's thread count can only be changed after NumPy has loaded through its own
``openblas_set_num_threads``, which this finds in the libraries mapped into the process (Linux;
a no-op elsewhere).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

from ..validation import check_int

__all__ = ["keep_heap", "set_blas_threads", "get_blas_threads"]

# mallopt parameter numbers from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Largest block served from the heap: 1 GiB (accepted and effective on glibc 2.36), else the
#: 32 MiB that mallopt(3) documents as the maximum on 64-bit systems.
_THRESHOLDS = (1 << 30, 32 << 20)
#: Names of OpenBLAS's setter in the builds NumPy ships (plain, 64-bit-int, scipy-openblas).
_SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_", "scipy_openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads")
_GETTERS = tuple(name.replace("_set_", "_get_") for name in _SETTERS)


def keep_heap():
    """Ask glibc to keep freed blocks for reuse instead of returning them to the OS.

    Returns
    -------
    bool
        True when both thresholds were raised; False where glibc's ``mallopt`` is unavailable
        or refused (nothing changed then).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    for threshold in _THRESHOLDS:
        if mallopt(_M_MMAP_THRESHOLD, threshold) == 1:
            return mallopt(_M_TRIM_THRESHOLD, threshold) == 1
    return False


def _loaded_openblas():
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(maxsplit=5)[-1].strip() for line in f if "openblas" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/"))


def _openblas_functions(names):
    """Yield the first function found among ``names`` in each OpenBLAS mapped into the process."""
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            function = getattr(lib, name, None)
            if function is not None:
                yield function
                break


def get_blas_threads():
    """The thread count of the first OpenBLAS loaded in this process, or None when none is found."""
    for getter in _openblas_functions(_GETTERS):
        getter.argtypes, getter.restype = (), ctypes.c_int
        return int(getter())
    return None


def set_blas_threads(n):
    """Set the thread count of every OpenBLAS loaded in this process (NumPy's, SciPy's).

    Parameters
    ----------
    n : int
        Threads, >= 1.

    Returns
    -------
    int
        How many OpenBLAS libraries were set (0: none found, e.g. another BLAS or OS).
    """
    n = check_int(n, "set_blas_threads", "n", minimum=1)
    count = 0
    for setter in _openblas_functions(_SETTERS):
        setter.argtypes, setter.restype = (ctypes.c_int,), None
        setter(n)
        count += 1
    return count
