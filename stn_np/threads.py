"""One thread count for the whole process: the threads stn_np computes with, and OpenBLAS's.

:func:`set_blas_threads` -- ``n`` threads for stn_np's own parallel loops (:func:`map_blocks`),
and OpenBLAS on one thread, so that every matmul runs on the thread that calls it. OpenBLAS's
own workers would compete for the same cores: after a multi-threaded call they spin for a
while waiting for the next one, and a pool thread of :func:`map_blocks` sharing a core with a
spinning worker ran its blocks at half speed (``benchmarks/bench_threads.py``: the CNN's
training step at two threads took 12.6-14.3 ms with OpenBLAS on one thread, 15.0-17.0 ms with
OpenBLAS on two as well). The price: a matmul outside the pool's loops, e.g. in a convolution too
small to split, runs on one thread. The knob keeps its historical name (it used to set
OpenBLAS's count to ``n``); the command line's ``--blas-threads`` is the same setting. Until it
is called, stn_np computes on one thread of its own and leaves OpenBLAS as it found it. The
command line uses 1 thread by default: on a 2-core machine shared with another process, a
second thread of either kind slows everything down (one epoch took 18x longer in a measurement
with two OpenBLAS threads). OpenBLAS's thread count can only be changed after NumPy has loaded,
through its own ``openblas_set_num_threads``, which this finds in the libraries mapped into the
process (Linux; a no-op elsewhere).

:func:`map_blocks` -- independent blocks of work that read shared inputs and write disjoint
outputs: the sampler's blocks of points (gathering taps, summing them, contracting them for the
grid gradient) and the general convolution's two halves of the batch. NumPy releases the GIL
inside its loops and OpenBLAS's matmuls, so such blocks run in parallel on Python threads, on
one pool created on first use; at one thread they run inline, in order, with no pool at all.
Every block computes the same numbers whichever thread runs it, and the blocks depend on the
shapes only, so results do not depend on the count. Handing work to a thread costs tens of
microseconds here, so only large loops split (:data:`stn_np.sampling.matrix.MIN_SHARE`,
:data:`stn_np.ops.conv._MIN_BLOCK_BYTES`). The one-channel convolution and the pooling are
memory-bound passes and stay on one thread: split in halves the same way, they did not make
either training step faster in a measurement on the development machine.
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


def _openblas_threads():
    """The thread count of the first OpenBLAS loaded in this process, or None when none is found."""
    for getter in _openblas_functions(_GETTERS):
        getter.argtypes, getter.restype = (), ctypes.c_int
        return int(getter())
    return None


def get_blas_threads():
    """The thread count set by :func:`set_blas_threads`; before any call, OpenBLAS's own (None: no OpenBLAS found)."""
    return _threads if _threads is not None else _openblas_threads()


def set_blas_threads(n):
    """Compute on ``n`` threads: stn_np's parallel loops on ``n``, OpenBLAS (NumPy's, SciPy's) on one.

    Parameters
    ----------
    n : int
        Threads, >= 1.

    Returns
    -------
    int
        How many OpenBLAS libraries were set to one thread (0: none found, e.g. another BLAS
        or OS, whose own threads cannot be set from here; then :func:`map_blocks` stays at one
        thread too, as two pools would compete for the cores).

    Notes
    -----
    See the module docstring for why OpenBLAS stays on one thread: the matmuls that gain from
    two cores (the general convolution's) run in the two halves of :func:`map_blocks` instead.
    """
    global _threads
    n = check_int(n, "set_blas_threads", "n", minimum=1)
    count = 0
    for setter in _openblas_functions(_SETTERS):
        setter.argtypes, setter.restype = (ctypes.c_int,), None
        setter(1)
        count += 1
    _threads = n if count else 1
    return count


# The thread count map_blocks uses: set by set_blas_threads, one until then.
_threads = None
_pool, _pool_workers = None, 0
_pool_lock = threading.Lock()
_local = threading.local()  # .inside: this thread is running blocks of map_blocks


def worker_threads():
    """The threads :func:`map_blocks` uses: :func:`set_blas_threads`'s count, 1 before it is called."""
    return _threads if _threads is not None else 1


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
