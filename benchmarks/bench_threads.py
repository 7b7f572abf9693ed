"""What a second thread buys on this machine: kinds of NumPy work, and the training step with its convolutions split.

Issue 16 asks for a training step within 1.5x of PyTorch at two threads. PyTorch's step nearly
halves from one thread to two; stn_np's gains little, because only the multi-channel matmuls
use OpenBLAS's second thread. This script measures whether splitting more of the work over
two Python threads (:func:`stn_np.threads.map_blocks`, which NumPy allows by releasing the
GIL inside its loops) would close that gap. It runs, as the same code at one and at two
threads (at one thread ``map_blocks`` runs the blocks inline, in order):

* ``sgemm``: ``A @ B`` of 1024 x 512 by 512 x 512 float32, its output rows in two halves
  (compute-bound: the reference for what two cores can give);
* ``add``: ``x + y`` of two 16 MiB float32 arrays in two halves (streams memory);
* ``im2col``: the patches of the CNN's second convolution ((64, 10, 19, 19), 5 x 5 kernel),
  each half of the batch copied into its own patch matrix (strided copies);
* ``conv f+b``: that convolution's forward and backward with the batch split in two halves
  that run on the two threads (``halves`` below), timed back to back;
* ``cnn step``, ``st-cnn step``: one training step of each model (batch 64, 42 x 42, Adam), as
  ``benchmarks/bench_train.py`` times it.

Configurations, each a worker subprocess timed in interleaved rounds (:func:`timing.interleave`):
1 and 2 threads (``set_blas_threads``), each with the library's convolution and with
``halves``: the general convolution path (more than one input channel) rewritten here to run
its two batch halves through ``map_blocks``, OpenBLAS at one thread inside each (two threads
both calling a 2-thread OpenBLAS queue on each other). The split is not in the library: in
the runs quoted in issue 16's closing note only the compute-bound ``sgemm`` gained from the
second thread (1.7x); the memory-bound ``add`` and ``im2col`` ran no faster at two threads
than at one (one core already streams about 19 GB/s, what the machine gives two), the split
convolution 0.9x, and both training steps ran slower with the split than with the library's
path. Printed: the medians and the speedup from one thread to two of each workload (the
``add``, ``sgemm`` and ``im2col`` columns of both modes run the same code: their difference
is the noise).

Usage: python benchmarks/bench_threads.py [--rounds 7] [--calls 5]
Run it under ``flock /tmp/stn_cpu.lock`` on the shared machine.
"""

import argparse
import functools
import sys

from timing import Worker, interleave, load_average, serve

KEYS = ("sgemm", "add", "im2col", "conv f+b", "cnn step", "st-cnn step")
CONFIGS = [(threads, conv) for conv in ("library", "halves") for threads in (1, 2)]


# ---------------------------------------------------------------------------- the experiment
def halves_convolution():
    """Replace the general convolution path of :mod:`stn_np.ops.conv` by one that runs two batch halves in parallel.

    Same arithmetic per half as the library's path; the weight and bias gradients add the two
    halves' partial sums.
    """
    import numpy as np

    from stn_np import threads
    from stn_np.ops import conv

    setters = list(threads._openblas_functions(threads._SETTERS))  # found once: the search reads /proc

    def with_single_blas(function, blocks):  # each thread's matmuls on its own thread
        count = threads.worker_threads()
        for setter in setters if count > 1 else ():
            setter(1)
        try:
            return threads.map_blocks(function, blocks)
        finally:
            for setter in setters if count > 1 else ():
                setter(count)

    def halves(n):
        return [slice(0, n // 2), slice(n // 2, n)] if n >= 2 else [slice(0, n)]

    def forward(x, w, b, stride, padding):
        (sh, sw), (ph, pw), (o, _, kh, kw) = stride, padding, w.shape
        (ho, wo), n = conv.conv_output_hw(x.shape, (kh, kw), stride, padding), x.shape[0]
        z = np.empty((n, o, ho, wo), dtype=x.dtype)

        def block(s):
            cols = conv.im2col(conv._to_batch_last(x[s], ph, pw), kh, kw, sh, sw)
            zs = w.reshape(o, -1) @ cols
            if b is not None:
                zs += b[:, None]
            z[s] = zs.reshape(o, ho, wo, -1).transpose(3, 0, 1, 2)
            return cols

        return z, with_single_blas(block, halves(n))

    def backward(g, cols, w, x_shape, stride, padding, needs):
        (sh, sw), (ph, pw), (o, c, kh, kw), (n, _, h, wd) = stride, padding, w.shape, x_shape
        gx = np.empty(x_shape, dtype=g.dtype) if needs[0] else None
        blocks = halves(n)

        def block(i):
            s = blocks[i]
            gt = np.ascontiguousarray(g[s].transpose(1, 2, 3, 0)).reshape(o, -1)
            if needs[0]:
                dxt = conv.col2im(w.reshape(o, -1).T @ gt, (c, h + 2 * ph, wd + 2 * pw, s.stop - s.start),
                                  kh, kw, sh, sw)
                gx[s] = dxt[:, ph:ph + h, pw:pw + wd].transpose(3, 0, 1, 2)
            return (cols[i] @ gt.T if needs[1] else None), (gt.sum(axis=1) if needs[2] else None)

        parts = with_single_blas(block, range(len(blocks)))
        gw = functools.reduce(np.add, [p[0] for p in parts]).T.reshape(w.shape) if needs[1] else None
        gb = functools.reduce(np.add, [p[1] for p in parts]) if needs[2] else None
        return gx, gw, gb

    class Saved(list):  # the two halves' patches, passed through save_for_backward as one object
        pass

    function = conv.Conv2dFunction
    original_forward, original_backward = function.forward, function.backward

    def patched_forward(ctx, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        if x.shape[1] == 1:
            return original_forward(ctx, x, w, b, stride, padding)
        z, cols = forward(x, w, b, stride, padding)
        ctx.save_for_backward(w)
        ctx.halves, ctx.geometry = Saved(cols), (x.shape, stride, padding, False)
        return z

    def patched_backward(ctx, g):
        if ctx.geometry[3] or not hasattr(ctx, "halves"):
            return original_backward(ctx, g)
        (w,), (x_shape, stride, padding, _) = ctx.saved_arrays, ctx.geometry
        needs = tuple(ctx.needs_input_grad) + (False,) * (3 - len(ctx.needs_input_grad))
        gx, gw, gb = backward(g, ctx.halves, w, x_shape, stride, padding, needs)
        return (gx, gw) if len(ctx.needs_input_grad) == 2 else (gx, gw, gb)

    function.forward, function.backward = staticmethod(patched_forward), staticmethod(patched_backward)
    return forward, backward


# ---------------------------------------------------------------------------- workers
def workloads(conv_mode):
    import numpy as np

    from bench_train import stn_step
    from stn_np.ops import conv
    from stn_np.threads import map_blocks

    rng = np.random.default_rng(0)
    forward, backward = halves_convolution() if conv_mode == "halves" else (conv._forward, conv._backward)
    a, bm = rng.random((1024, 512), dtype=np.float32), rng.random((512, 512), dtype=np.float32)
    product = np.empty((1024, 512), dtype=np.float32)
    x, y = rng.random(1 << 22, dtype=np.float32), rng.random(1 << 22, dtype=np.float32)
    total = np.empty_like(x)
    images = rng.random((64, 10, 19, 19), dtype=np.float32)
    weight, bias = rng.random((20, 10, 5, 5), dtype=np.float32), np.zeros(20, np.float32)
    upstream = rng.random((64, 20, 15, 15), dtype=np.float32)
    halves = [slice(0, 32), slice(32, 64)]

    def convolution():
        _, cols = forward(images, weight, bias, (1, 1), (0, 0))
        backward(upstream, cols, weight, images.shape, (1, 1), (0, 0), (True, True, True))

    rows, elements = [slice(0, 512), slice(512, 1024)], [slice(0, 1 << 21), slice(1 << 21, None)]
    return {
        "sgemm": lambda: map_blocks(lambda s: np.matmul(a[s], bm, out=product[s]), rows),
        "add": lambda: map_blocks(lambda s: np.add(x[s], y[s], out=total[s]), elements),
        "im2col": lambda: map_blocks(lambda s: conv.im2col(conv._to_batch_last(images[s], 0, 0), 5, 5, 1, 1), halves),
        "conv f+b": convolution,
        "cnn step": stn_step("cnn"),
        "st-cnn step": stn_step("st-cnn"),
    }


def worker(threads, conv_mode):
    from stn_np.training import keep_heap, set_blas_threads

    set_blas_threads(threads)
    keep_heap()
    serve(workloads(conv_mode))


def name(threads, conv):
    return f"{threads} thread{'s' if threads > 1 else ''}, {conv}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per configuration, workload and round")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(int(args.worker[0]), args.worker[1])

    load_before = load_average()
    workers = {name(t, c): Worker(name(t, c), [__file__, "--worker", str(t), c]) for t, c in CONFIGS}
    pairs = [(name(1, c), name(2, c)) for c in ("library", "halves")]
    try:
        medians, ratios = interleave(workers, list(KEYS), args.rounds, args.calls, pairs=pairs)
    finally:
        for w in workers.values():
            w.close()
    print(f"ms per call, float32; medians of {args.rounds} interleaved rounds x {args.calls} calls; "
          "speedup = 1 thread / 2 threads (median of within-round ratios)")
    header = f"{'workload':<14}" + "".join(f"{name(t, c):>20}" for t, c in CONFIGS)
    print(header + f"{'speedup library':>18}{'speedup halves':>17}")
    for key in KEYS:
        row = f"{key:<14}" + "".join(f"{1e3 * medians[name(t, c), key]:>20.2f}" for t, c in CONFIGS)
        print(row + "".join(f"{ratios[a, b, key]:>17.2f}x" for a, b in pairs))
    print(f"load average before / after: {load_before} / {load_average()} (2 cores: the 2-thread columns assume "
          "nothing else runs)")


if __name__ == "__main__":
    sys.exit(main())
