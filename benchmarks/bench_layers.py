"""Layer speed: forward and forward+backward milliseconds of the layers an STN classifier uses.

Workloads (float32, batch 64, the sizes of the paper's MNIST classifier on 42x42 inputs):

* conv1: conv2d 1 -> 10 channels, 5x5 kernel, on 42x42;
* conv2: conv2d 10 -> 20 channels, 5x5 kernel, on 19x19;
* pool1 / pool2: max_pool2d 2x2 on the conv outputs (38x38 with 10 channels, 15x15 with 20);
* linear: 320 -> 50 features (plus bias).

Every backward uses a fixed random upstream gradient and computes the gradients of the input
and of the parameters. Prints medians of several repeats, then the same for PyTorch
(``torch.set_num_threads(2)``) and the ratio when torch is importable. stn_np is timed first and
torch only imported afterwards, so the two thread pools never compete inside one process.

Two switches show where time goes besides arithmetic (both must act before NumPy loads):
``--blas-threads N`` sets OPENBLAS_NUM_THREADS (NumPy's BLAS), and ``--keep-heap`` asks glibc
(``mallopt``) to serve large arrays from a heap it never trims, so the multi-megabyte im2col
buffers freed by one step are reused by the next instead of being returned to the OS and
page-faulted in again (that costs about half of conv1's time on a small VM).

Usage: python benchmarks/bench_layers.py [--repeats 15] [--blas-threads N] [--keep-heap]
"""

import argparse
import os
import sys
from timing import median_seconds

BATCH = 64
WORKLOADS = [
    # name, input shape, kind, options
    ("conv1 1->10 k5 42x42", (BATCH, 1, 42, 42), "conv", dict(out=10, k=5)),
    ("conv2 10->20 k5 19x19", (BATCH, 10, 19, 19), "conv", dict(out=20, k=5)),
    ("max_pool2d k2 10x38x38", (BATCH, 10, 38, 38), "pool", dict(k=2)),
    ("max_pool2d k2 20x15x15", (BATCH, 20, 15, 15), "pool", dict(k=2)),
    ("linear 320->50", (BATCH, 320), "linear", dict(out=50)),
]


def arrays(shape, kind, options):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    if kind == "conv":
        w = rng.standard_normal((options["out"], shape[1], options["k"], options["k"])).astype(np.float32) * 0.1
        return [x, w, np.zeros(options["out"], np.float32)]
    if kind == "linear":
        return [x, rng.standard_normal((options["out"], shape[1])).astype(np.float32) * 0.1,
                np.zeros(options["out"], np.float32)]
    return [x]


def time_stn(repeats):
    import stn_np.functional as F
    from stn_np import Tensor

    ops = {"conv": F.conv2d, "pool": lambda x: F.max_pool2d(x, 2), "linear": F.linear}
    results = {}
    for name, shape, kind, options in WORKLOADS:
        inputs = [Tensor(a, requires_grad=True) for a in arrays(shape, kind, options)]
        op = ops[kind]
        out_shape = op(*inputs).shape
        g = np.random.default_rng(1).standard_normal(out_shape).astype(np.float32)

        def both():
            op(*inputs).backward(g)

        results[name] = (1e3 * median_seconds(lambda: op(*inputs), repeats), 1e3 * median_seconds(both, repeats))
    return results


def time_torch(repeats):
    import torch

    torch.set_num_threads(2)
    tf = torch.nn.functional
    ops = {"conv": tf.conv2d, "pool": lambda x: tf.max_pool2d(x, 2), "linear": tf.linear}
    results = {}
    for name, shape, kind, options in WORKLOADS:
        inputs = [torch.tensor(a, requires_grad=True) for a in arrays(shape, kind, options)]
        op = ops[kind]
        g = torch.tensor(np.random.default_rng(1).standard_normal(tuple(op(*inputs).shape)).astype(np.float32))

        def forward():
            with torch.no_grad():
                op(*inputs)

        def both():
            op(*inputs).backward(g)

        results[name] = (1e3 * median_seconds(forward, repeats), 1e3 * median_seconds(both, repeats))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--blas-threads", type=int, default=None)
    parser.add_argument("--keep-heap", action="store_true")
    args = parser.parse_args()
    if args.blas_threads is not None:
        if "numpy" in sys.modules:
            raise RuntimeError("--blas-threads must be applied before NumPy is imported")
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)  # NumPy's BLAS only, not torch's OpenMP
    global np
    import numpy as np

    from stn_np.training import keep_heap  # imports NumPy: only after OPENBLAS_NUM_THREADS is set

    if args.keep_heap:
        print(f"keep-heap: {'on' if keep_heap() else 'unavailable'}")

    ours = time_stn(args.repeats)
    try:
        theirs = time_torch(args.repeats)
    except ImportError:
        theirs = None
    header = f"{'workload (float32, batch 64)':<28}{'fwd ms':>9}{'fwd+bwd ms':>12}"
    if theirs:
        header += f"{'torch fwd':>11}{'torch f+b':>11}{'ratio f+b':>11}"
    print(header)
    for name, (fwd, both) in ours.items():
        line = f"{name:<28}{fwd:>9.2f}{both:>12.2f}"
        if theirs:
            t_fwd, t_both = theirs[name]
            line += f"{t_fwd:>11.2f}{t_both:>11.2f}{both / t_both:>10.2f}x"
        print(line)
    if not theirs:
        print("(torch is not importable: no ratio)")


if __name__ == "__main__":
    main()
