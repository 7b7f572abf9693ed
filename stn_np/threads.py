"""One thread count for the whole process: OpenBLAS's, and the sampler's pointwise loops follow it.

:func:`set_blas_threads` -- OpenBLAS's worker threads spin while they wait for each other, so
a 2-thread matmul slows down enormously when another process occupies the second core (one
epoch took 18x longer in a measurement; a training step 2-7x longer in
``benchmarks/bench_train.py`` while other jobs ran), while a second thread speeds up only the
matmuls: the multi-channel convolutions by 15-25% in ``benchmarks/bench_layers.py``, pooling
and the one-channel convolutions not at all. The command line therefore uses 1 BLAS thread by
default. OpenBLAS's thread count can only be changed after NumPy has loaded through its own
``openblas_set_num_threads``, which this finds in the libraries mapped into the process (Linux;
a no-op elsewhere).

:func:`map_blocks` -- the sampler's per-point work (gathering taps, summing them with their
weights, contracting them for the grid gradient) splits into blocks of points that read shared
inputs and write disjoint slices of the outputs. NumPy releases the GIL inside ``take``,
``multiply`` and ``add`` on large arrays, so such blocks run in parallel on Python threads.
They use as many threads as OpenBLAS (one knob: :func:`set_blas_threads`), on one pool created
on first use; at one thread they run inline, in order, with no pool at all. Every block
computes the same numbers whichever thread runs it, so results do not depend on the count.
Handing work to a thread costs tens of microseconds here, so the sampler splits only large
loops (:data:`stn_np.sampling.matrix.MIN_SHARE`).
"""

from __future__ import annotations

import contextvars
import ctypes
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from .validation import check_int

__all__ = ["get_blas_threads", "set_blas_threads", "map_blocks", "worker_threads"]

#: Names of OpenBLAS's setter in the builds NumPy ships (plain, 64-bit-int, scipy-openblas).
_SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_", "scipy_openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads")
_GETTERS = tuple(name.replace("_set_", "_get_") for name in _SETTERS)


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
    """Set the thread count of every OpenBLAS loaded in this process (NumPy's, SciPy's), and of :func:`map_blocks`.

    Parameters
    ----------
    n : int
        Threads, >= 1.

    Returns
    -------
    int
        How many OpenBLAS libraries were set (0: none found, e.g. another BLAS or OS; then
        :func:`map_blocks` stays at one thread).
    """
    global _threads
    n = check_int(n, "set_blas_threads", "n", minimum=1)
    count = 0
    for setter in _openblas_functions(_SETTERS):
        setter.argtypes, setter.restype = (ctypes.c_int,), None
        setter(n)
        count += 1
    _threads = n if count else 1
    return count


# The thread count map_blocks uses: OpenBLAS's, read once (reading it scans /proc/self/maps,
# too slow for every call) and kept up to date by set_blas_threads.
_threads = None
_pool, _pool_workers = None, 0
_pool_lock = threading.Lock()
_local = threading.local()  # .inside: this thread is running blocks of map_blocks


def worker_threads():
    """The threads :func:`map_blocks` uses: OpenBLAS's count (1 when no OpenBLAS is loaded)."""
    global _threads
    if _threads is None:
        _threads = get_blas_threads() or 1
    return _threads


def _get_pool(workers):
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=False)  # its running tasks finish; a new count gets a new pool
            _pool, _pool_workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stn_np"), workers
        return _pool


def map_blocks(function, blocks):
    """``[function(b) for b in blocks]``, the calls spread over :func:`worker_threads` threads.

    For independent blocks of work (each reads shared inputs and writes its own part of the
    outputs), run in the caller's context (``numpy.errstate`` holds). With one thread, one
    block, or when called from inside another ``map_blocks`` (no nesting: a pool thread never
    waits for the pool), the calls run inline in order. Else the calling thread and
    ``threads - 1`` pool threads take the next block in turn until none is left, so blocks of
    uneven cost even out.

    Parameters
    ----------
    function : callable
        Called once per block.
    blocks : sequence
        The blocks (e.g. slices of points).

    Returns
    -------
    list
        The results, in the order of ``blocks``.

    Raises
    ------
    Exception
        The first exception (in block order) that a call raised, after every started call has
        ended.
    """
    blocks = list(blocks)
    threads = min(worker_threads(), len(blocks))
    if threads <= 1 or getattr(_local, "inside", False):
        return [function(block) for block in blocks]
    results, errors = [None] * len(blocks), {}
    turns = itertools.count()  # next() on a count is atomic under the GIL: each block is taken once

    def drain():
        _local.inside = True
        try:
            for i in turns:
                if i >= len(blocks) or errors:
                    return
                try:
                    results[i] = function(blocks[i])
                except BaseException as error:  # noqa: B036 - re-raised below in the caller's thread
                    errors[i] = error
        finally:
            _local.inside = False

    pool = _get_pool(worker_threads() - 1)
    # each pool thread runs in a copy of the caller's context, so numpy.errstate (a context
    # variable) and any other context setting of the caller hold in the blocks it runs
    futures = [pool.submit(contextvars.copy_context().run, drain) for _ in range(threads - 1)]
    drain()
    for future in futures:
        future.result()
    if errors:
        raise errors[min(errors)]
    return results
