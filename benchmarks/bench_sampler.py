"""grid_sample forward + backward (gradients for the image and the grid), stn_np vs PyTorch CPU.

Workloads, float32, a random rotation-scale-translation grid reaching a little outside the image:

* large: N=16, C=32, 64x64 -> 64x64, bilinear, zeros padding   (target: within 3x of PyTorch)
* small: N=64, C=1, 28x28 -> 28x28, bilinear, zeros padding    (target: within 6x of PyTorch)
* large, bicubic, zeros padding (for information)

Prints the median of several repeats in milliseconds, and the ratio to PyTorch with
``torch.set_num_threads(2)`` when torch is importable (it is never required).

Most of the arrays here are a few hundred kilobytes, which glibc serves from memory it maps
fresh (and returns to the system when freed), so on a VM a large part of the small
workload's time can be first-touch page faults rather than arithmetic. ``--keep-heap`` asks
glibc (``mallopt``) to keep freed memory for reuse, for both libraries alike, to separate the two.
glibc raises those thresholds after freeing big blocks, so a workload run after the large one
(as here) faults less than the same workload alone in a fresh process (``--only C=1``).
Usage: python benchmarks/bench_sampler.py [--repeats 15] [--forward-only] [--keep-heap] [--only TEXT]
"""

import argparse

import numpy as np

from stn_np import Tensor
from stn_np.sampling import grid_sample, identity_grid
from stn_np.training import keep_heap
from timing import median_seconds

WORKLOADS = [
    ("bilinear zeros N=16 C=32 64x64", 16, 32, 64, 64, "bilinear", 3.0),
    ("bilinear zeros N=64 C=1 28x28", 64, 1, 28, 28, "bilinear", 6.0),
    ("bicubic zeros N=16 C=32 64x64", 16, 32, 64, 64, "bicubic", None),
]


def make_inputs(N, C, H, W, seed=0):
    """Image, a rotated/scaled/shifted grid (slightly outside the image in places), upstream grad."""
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((N, C, H, W)).astype(np.float32)
    base = identity_grid(H, W).reshape(-1, 2)
    angle = rng.uniform(-0.5, 0.5, N)
    scale = rng.uniform(0.8, 1.2, N)
    rot = np.stack([np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)], -1).reshape(N, 2, 2)
    grid = np.einsum("pj,nij->npi", base, rot * scale[:, None, None]) + rng.uniform(-0.2, 0.2, (N, 1, 2))
    g = rng.standard_normal((N, C, H, W)).astype(np.float32)
    return U, grid.reshape(N, H, W, 2).astype(np.float32), g


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
    for label, N, C, H, W, mode, target in WORKLOADS:
        if args.only not in label:
            continue
        U, grid, g = make_inputs(N, C, H, W)
        ours = 1e3 * median_seconds(stn_np_step(U, grid, g, mode, args.forward_only), args.repeats)
        row = f"{label:<34}{ours:>10.2f}"
        if have_torch:
            theirs = 1e3 * median_seconds(torch_step(U, grid, g, mode, args.forward_only), args.repeats)
            row += f"{theirs:>10.2f}{ours / theirs:>8.2f}"
            row += f"{'<= ' + format(target, 'g') + 'x':>8}" if target else f"{'info':>8}"
        print(row)


if __name__ == "__main__":
    main()
