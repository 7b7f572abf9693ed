"""The one timing rule every benchmark script here uses: warm up, then the median of repeats.

Medians, not means: the machines are shared, and a run that another process slowed down
should not move the figure.
"""

import statistics
import time


def median_seconds(fn, repeats, inner=1, warmup=1):
    """Median over ``repeats`` of the mean wall time of ``inner`` back-to-back calls of ``fn``.

    ``warmup`` untimed calls come first (caches, lazily built tables, allocator state).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)
