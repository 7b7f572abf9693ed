"""Data generation speed: synthetic digits, each distortion, IDX loading, batching.

Prints the median of several runs in seconds (and thousands of images per second):

* glyph bank: rasterising every font x digit x stroke weight (once per process in practice);
* synthetic digits: ``synthetic_digits(n)`` with the bank already built;
* distortions: ``distort(digits, kind)`` for each kind on n digits;
* IDX: ``load_mnist_like`` of the Fashion-MNIST train split when ``--fashion-dir`` holds it;
* batching: one epoch of ``batches(..., batch_size=64, shuffle=True)`` over the RTS images.

When torch is importable it also times the RTS placement done with torch's ``affine_grid`` +
``grid_sample`` on the same theta, for the ratio (torch is never required).

Usage: python benchmarks/bench_data.py [--n 60000] [--repeats 3] [--fashion-dir DIR]
"""

import argparse
import os
import statistics
import time

import numpy as np

from stn_np.data import DISTORTIONS, batches, distort, distortion_params, glyph_bank, load_mnist_like, synthetic_digits
from timing import median_seconds


def report(what, seconds, n=None):
    rate = f"  ({n / seconds / 1000:8.1f} k images/s)" if n else ""
    print(f"{what:<44s} {seconds:8.3f} s{rate}")


def torch_rts(digits, seed):
    import torch

    torch.set_num_threads(2)
    theta = torch.from_numpy(distortion_params("RTS", len(digits), seed)["theta"].astype(np.float32))
    x = torch.from_numpy(digits[:, None].astype(np.float32))
    with torch.no_grad():
        grid = torch.nn.functional.affine_grid(theta, (len(digits), 1, 42, 42), align_corners=False)
        out = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8).numpy()[:, 0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    n = args.n

    start = time.perf_counter()
    glyph_bank()
    report("glyph bank (first call)", time.perf_counter() - start)
    report(f"synthetic_digits({n})", median_seconds(lambda: synthetic_digits(n, 0), args.repeats, warmup=0), n)
    digits = synthetic_digits(n, 0)[0]
    for kind in DISTORTIONS:
        report(f"distort({n}, {kind!r})", median_seconds(lambda: distort(digits, kind, 1), args.repeats, warmup=0), n)
    rts = distort(digits, "RTS", 1)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch not importable: no ratio")
    else:
        # interleaved, so that load from other processes hits both alike
        pairs = [(median_seconds(lambda: distort(digits, "RTS", 1), 1, warmup=0), median_seconds(lambda: torch_rts(digits, 1), 1, warmup=0))
                 for _ in range(args.repeats)]
        ours, theirs = (statistics.median(p) for p in zip(*pairs))
        report(f"distort({n}, 'RTS') again, interleaved", ours, n)
        same = np.mean(np.abs(torch_rts(digits, 1).astype(int) - rts.astype(int)) <= 1)
        report("RTS with torch affine_grid + grid_sample", theirs, n)
        print(f"ratio stn_np / torch: {ours / theirs:.1f}x; pixels within 1 of torch's: {same:.5f}")
    labels = np.zeros(n, np.int64)
    epoch = lambda: sum(1 for _ in batches(rts, labels, 64, shuffle=True, seed=0))  # noqa: E731
    report(f"one epoch of batches (64) over {n} RTS images", median_seconds(epoch, args.repeats, warmup=0), n)
    if os.path.isdir(args.fashion_dir):
        report("load_mnist_like(fashion-mnist, train)",
               median_seconds(lambda: load_mnist_like(args.fashion_dir, "train"), args.repeats, warmup=0), 60000)


if __name__ == "__main__":
    main()
