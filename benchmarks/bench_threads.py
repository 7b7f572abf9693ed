"""What a second thread buys on this machine: kinds of NumPy work, the split convolution, the training steps.

stn_np computes on ``n`` threads (``stn_np.threads.set_blas_threads``) by splitting its own
loops over a pool (``map_blocks``: the sampler's blocks of points, the general convolution's
two halves of the batch), while OpenBLAS runs each matmul on the thread that calls it. This
script measures what that buys, and why OpenBLAS stays on one thread. Workloads (float32):

* ``sgemm``: ``A @ B`` of 1024 x 512 by 512 x 512, its output rows in two halves through
  ``map_blocks`` (compute-bound);
* ``add``: ``x + y`` of two 16 MiB arrays in two halves (streams memory);
* ``im2col``: the patches of the CNN's second convolution ((64, 10, 19, 19), 5 x 5 kernel),
  each half of the batch copied into its own patch matrix (strided copies);
* ``conv f+b``: that convolution's forward and backward (``stn_np.ops.conv``: two halves);
* ``cnn step``, ``st-cnn step``: one training step of each model (batch 64, 42 x 42, Adam), as
  ``benchmarks/bench_train.py`` times it.

Configurations, each a worker subprocess timed in interleaved rounds (:func:`timing.interleave`):
``set_blas_threads(1)``; ``set_blas_threads(2)``; and ``set_blas_threads(2)`` with OpenBLAS then
put back on two threads as well ("+ OpenBLAS 2": the pool's halves with OpenBLAS's own threads
on top): OpenBLAS's workers spin for a while after each multi-threaded call, on the cores the
pool's threads need. (``bench_train.py --compare`` times the library as it was before the
convolution halves.)
Printed: the medians, and the speedup from one thread to each two-thread configuration (median
of the within-round ratios). Each block of timed calls follows ``--warmup`` untimed ones, as
in ``bench_train.py``.

Usage: python benchmarks/bench_threads.py [--rounds 7] [--calls 5] [--warmup 3]
Run it under ``flock /tmp/stn_cpu.lock`` on the shared machine.
"""

import argparse
import sys

from timing import Worker, interleave, load_average, serve

KEYS = ("sgemm", "add", "im2col", "conv f+b", "cnn step", "st-cnn step")
CONFIGS = {"1 thread": (1, False), "2 threads": (2, False), "2 threads + OpenBLAS 2": (2, True)}


# ---------------------------------------------------------------------------- workers
def workloads():
    import numpy as np

    from bench_train import stn_step
    from stn_np.ops import conv
    from stn_np.threads import map_blocks

    rng = np.random.default_rng(0)
    a, bm = rng.random((1024, 512), dtype=np.float32), rng.random((512, 512), dtype=np.float32)
    product = np.empty((1024, 512), dtype=np.float32)
    x, y = rng.random(1 << 22, dtype=np.float32), rng.random(1 << 22, dtype=np.float32)
    total = np.empty_like(x)
    images = rng.random((64, 10, 19, 19), dtype=np.float32)
    weight, bias = rng.random((20, 10, 5, 5), dtype=np.float32), np.zeros(20, np.float32)
    upstream = rng.random((64, 20, 15, 15), dtype=np.float32)
    halves, rows, elements = [slice(0, 32), slice(32, 64)], [slice(0, 512), slice(512, 1024)], \
        [slice(0, 1 << 21), slice(1 << 21, None)]

    def convolution():
        _, cols = conv._forward(images, weight, bias, (1, 1), (0, 0))
        conv._backward(upstream, cols, weight, images.shape, (1, 1), (0, 0), (True, True, True))

    return {
        "sgemm": lambda: map_blocks(lambda s: np.matmul(a[s], bm, out=product[s]), rows),
        "add": lambda: map_blocks(lambda s: np.add(x[s], y[s], out=total[s]), elements),
        "im2col": lambda: map_blocks(lambda s: conv.im2col(conv._to_batch_last(images[s], 0, 0), 5, 5, 1, 1), halves),
        "conv f+b": convolution,
        "cnn step": stn_step("cnn"),
        "st-cnn step": stn_step("st-cnn"),
    }


def worker(threads, openblas_too):
    from stn_np import threads as library_threads
    from stn_np.training import keep_heap, set_blas_threads

    set_blas_threads(threads)
    if openblas_too:
        for setter in library_threads._openblas_functions(library_threads._SETTERS):
            setter(threads)
    keep_heap()
    serve(workloads())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per configuration, workload and round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before each block of timed ones")
    parser.add_argument("--worker", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], bool(args.worker[1]))

    load_before = load_average()
    workers = {name: Worker(name, [__file__, "--worker", str(t), str(int(too))]) for name, (t, too) in CONFIGS.items()}
    pairs = [("1 thread", name) for name in CONFIGS if name != "1 thread"]
    try:
        medians, ratios = interleave(workers, list(KEYS), args.rounds, args.calls, pairs=pairs, warmup=args.warmup)
    finally:
        for w in workers.values():
            w.close()
    print(f"ms per call, float32; medians of {args.rounds} interleaved rounds x {args.calls} calls after "
          f"{args.warmup} untimed; "
          "speedup = 1 thread / 2 threads (median of within-round ratios)")
    print(f"{'workload':<14}" + "".join(f"{name:>24}" for name in CONFIGS)
          + "".join(f"{'speedup, ' + b:>34}" for _, b in pairs))
    for key in KEYS:
        print(f"{key:<14}" + "".join(f"{1e3 * medians[name, key]:>24.2f}" for name in CONFIGS)
              + "".join(f"{ratios[a, b, key]:>33.2f}x" for a, b in pairs))
    print(f"load average before / after: {load_before} / {load_average()} (2 cores: the 2-thread columns assume "
          "nothing else runs)")


if __name__ == "__main__":
    sys.exit(main())
