"""grid_sample forward + backward (gradients for the image and the grid), stn_np vs PyTorch CPU.

Workloads, float32, a random rotation-scale-translation grid reaching a little outside the image:

* large: N=16, C=32, 64x64 -> 64x64, bilinear, zeros padding   (target: within 3x of PyTorch)
* small: N=64, C=1, 28x28 -> 28x28, bilinear, zeros padding    (target: within 6x of PyTorch)
* large, bicubic, zeros padding (for information)
* volume: N=2, C=4, 32^3 -> 32^3, trilinear ("bilinear" on 5-D), zeros padding, a random
  rotation-scale-translation in 3-D                           (target: within 4x of PyTorch)

Prints the median of several repeats in milliseconds, and the ratio to PyTorch with
``torch.set_num_threads(2)`` when torch is importable (it is never required): then the two
run interleaved, one call of each per repeat, so that a load that comes and goes on a shared
machine slows both alike.

Most of the arrays here are a few hundred kilobytes, which glibc serves from memory it maps
fresh (and returns to the system when freed), so on a VM a large part of the small
workload's time can be first-touch page faults rather than arithmetic. ``--keep-heap`` asks
glibc (``mallopt``) to keep freed memory for reuse, for both libraries alike, to separate the two.
glibc raises those thresholds after freeing big blocks, so a workload run after the large one
(as here) faults less than the same workload alone in a fresh process (``--only C=1``).
Usage: python benchmarks/bench_sampler.py [--repeats 15] [--forward-only] [--keep-heap] [--only TEXT]
"""

import argparse
import statistics
import time

import numpy as np

from stn_np import Tensor
from stn_np.sampling import grid_sample, identity_grid
from stn_np.training import keep_heap
from timing import median_seconds

# (label, N, C, spatial shape, mode, target ratio or None)
WORKLOADS = [
    ("bilinear zeros N=16 C=32 64x64", 16, 32, (64, 64), "bilinear", 3.0),
    ("bilinear zeros N=64 C=1 28x28", 64, 1, (28, 28), "bilinear", 6.0),
    ("bicubic zeros N=16 C=32 64x64", 16, 32, (64, 64), "bicubic", None),
    ("trilinear zeros N=2 C=4 32^3", 2, 4, (32, 32, 32), "bilinear", 4.0),
]


def make_inputs(N, C, spatial, seed=0):
    """Image (or volume), a rotated/scaled/shifted grid (slightly outside in places), upstream grad."""
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((N, C) + spatial).astype(np.float32)
    d = len(spatial)
    base = identity_grid(*spatial[-2:], depth=spatial[0] if d == 3 else None).reshape(-1, d)
    angle = rng.uniform(-0.5, 0.5, N)
    scale = rng.uniform(0.8, 1.2, N)
    rot = np.stack([np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)], -1).reshape(N, 2, 2)
    if d == 3:  # the same rotation in the x-y plane, then a tilt of the z axis
        tilt = rng.uniform(-0.3, 0.3, N)
        rot3 = np.zeros((N, 3, 3))
        rot3[:, :2, :2] = rot
        rot3[:, 2, 2] = 1
        cos, sin = np.cos(tilt), np.sin(tilt)
        tilt3 = np.zeros((N, 3, 3))
        tilt3[:, 0, 0] = 1
        tilt3[:, 1, 1], tilt3[:, 1, 2], tilt3[:, 2, 1], tilt3[:, 2, 2] = cos, -sin, sin, cos
        rot = rot3 @ tilt3
    grid = np.einsum("pj,nij->npi", base, rot * scale[:, None, None]) + rng.uniform(-0.2, 0.2, (N, 1, d))
    g = rng.standard_normal((N, C) + spatial).astype(np.float32)
    return U, grid.reshape((N,) + spatial + (d,)).astype(np.float32), g


def stn_np_step(U, grid, g, mode, forward_only):
    Ut, gt = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)

    def run():
        out = grid_sample(Ut, gt, mode=mode)
        if not forward_only:
            out.backward(g)
            Ut.grad = gt.grad = None

    return run


def torch_step(U, grid, g, mode, forward_only):
    import torch

    Ut = torch.tensor(U, requires_grad=True)
    gt = torch.tensor(grid, requires_grad=True)
    gg = torch.tensor(g)

    def run():
        out = torch.nn.functional.grid_sample(Ut, gt, mode=mode, padding_mode="zeros", align_corners=False)
        if not forward_only:
            out.backward(gg)
            Ut.grad = gt.grad = None

    return run


def interleaved_medians(fns, repeats, warmup=1):
    """Median seconds of each of ``fns``, called in turn within every repeat."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--forward-only", action="store_true")
    parser.add_argument("--keep-heap", action="store_true", help="keep freed memory mapped (see above)")
    parser.add_argument("--only", default="", help="run only the workloads whose label contains this text")
    args = parser.parse_args()
    if args.keep_heap:
        print(f"keep-heap: {'on' if keep_heap() else 'unavailable'}")
    try:
        import torch

        torch.set_num_threads(2)
        have_torch = True
    except ImportError:
        have_torch = False
        print("torch not importable: printing stn_np figures only")
    what = "forward" if args.forward_only else "forward + backward"
    print(f"{what}, float32, median of {args.repeats} runs, milliseconds")
    print(f"{'workload':<34}{'stn_np':>10}{'torch':>10}{'ratio':>8}{'target':>8}")
    for label, N, C, spatial, mode, target in WORKLOADS:
        if args.only not in label:
            continue
        U, grid, g = make_inputs(N, C, spatial)
        ours_step = stn_np_step(U, grid, g, mode, args.forward_only)
        if not have_torch:
            print(f"{label:<34}{1e3 * median_seconds(ours_step, args.repeats):>10.2f}")
            continue
        ours, theirs = (1e3 * t for t in interleaved_medians(
            [ours_step, torch_step(U, grid, g, mode, args.forward_only)], args.repeats))
        target_text = f"{'<= ' + format(target, 'g') + 'x':>8}" if target else f"{'info':>8}"
        print(f"{label:<34}{ours:>10.2f}{theirs:>10.2f}{ours / theirs:>8.2f}{target_text}")


if __name__ == "__main__":
    main()
