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

:func:`set_blas_threads` and :func:`get_blas_threads` -- the threads stn_np computes with (its
own pool; OpenBLAS on one thread); they live in :mod:`stn_np.threads` (with the measurements
behind the command line's default of 1) and are re-exported here beside :func:`keep_heap`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

from ..threads import get_blas_threads, set_blas_threads

__all__ = ["keep_heap", "set_blas_threads", "get_blas_threads"]

# mallopt parameter numbers from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Largest block served from the heap: 1 GiB (accepted and effective on glibc 2.36), else the
#: 32 MiB that mallopt(3) documents as the maximum on 64-bit systems.
_THRESHOLDS = (1 << 30, 32 << 20)


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
