"""Running independent parts of an op in threads: NumPy releases the GIL inside its array loops
and BLAS calls, so two threads working on two halves of a batch use two cores.

Only the per-sample work that BLAS does not already spread over its own threads uses this: the
one-channel convolution path (small matmuls per chunk of samples) and the reshape path of
pooling. Each part writes only its own samples, and results are combined in a fixed order, so
a given thread count always gives the same numbers. The count is process-wide and 1 by default
(everything runs in the calling thread, as if this module did not exist);
:func:`stn_np.training.set_blas_threads` sets it together with BLAS's, as the process's thread
budget.
"""

from __future__ import annotations

import concurrent.futures

__all__ = ["set_threads", "get_threads", "parallel_map", "batch_slices"]

_threads = 1
_executor = None


def set_threads(n):
    """Let :func:`parallel_map` use ``n`` threads (the caller's and ``n - 1`` workers)."""
    global _threads, _executor
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_threads: n: expected an int >= 1, got {n!r}")
    if _executor is not None:
        _executor.shutdown(wait=True)
    _threads = n
    _executor = concurrent.futures.ThreadPoolExecutor(n - 1, thread_name_prefix="stn_np-op") if n > 1 else None


def get_threads():
    """The thread count :func:`parallel_map` uses."""
    return _threads


def parallel_map(fn, items):
    """``[fn(item) for item in items]``, spread over the threads set with :func:`set_threads`.

    The calling thread takes every ``_threads``-th item itself; the order of the results is the
    order of ``items`` whatever the thread count.
    """
    items = list(items)
    if _executor is None or len(items) < 2:
        return [fn(item) for item in items]
    futures = {i: _executor.submit(fn, item) for i, item in enumerate(items) if i % _threads}
    mine = {i: fn(item) for i, item in enumerate(items) if i % _threads == 0}
    return [mine[i] if i in mine else futures[i].result() for i in range(len(items))]


def batch_slices(n, parts=None):
    """``parts`` (default: the thread count) consecutive slices covering ``range(n)``, none empty."""
    parts = max(1, min(n, _threads if parts is None else parts))
    return [slice(i * n // parts, (i + 1) * n // parts) for i in range(parts)]
