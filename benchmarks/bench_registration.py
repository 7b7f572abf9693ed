"""Seconds to register a 256 x 256 pair, per transform, and the accuracy reached.

The pair: matplotlib's MRI slice (moving) and the slice warped by a known transformation of
each family (fixed). ``register`` runs with its defaults (3 levels, MSE); the median wall time
over ``--repeats`` runs is printed with the accuracy:

- affine: largest corner displacement between the true and recovered warps (px);
- attention, projective: largest sampling-grid error over all pixels (px);
- tps: largest grid error over the pixels inside the head (the slice's black corners pin
  nothing, see tests/test_registration.py), and the mean over all pixels;
- dense: MSE reduction and the fraction of folded pixels.

When ``import torch`` works, the Adam part of the same registration (the same pyramid and the
same number of Adam steps at each level as stn_np took, affine_grid / grid_sample / Adam in
PyTorch, from the identity) is timed too (one torch thread); stn_np's time also holds the
global start and the bicubic refinement, which the torch loop does not. Target: affine under 5 s
on 2 cores.

``--volume``: volumetric registration (``spatial_dims=3``) of the ellipsoid phantom
(``registration.samples.ellipsoid_phantom``, ``--size`` voxels a side, default 64) against a
copy warped by a random 3-D affine (rotation up to 20 degrees about a random axis, scale
0.9 - 1.1, shift up to 10% a side; ``random_affine_3d``) or a smooth random deformation of up
to 3 voxels (``smooth_flow``), both made with scipy's cubic spline (an interpolator other than
the library's). Prints the median seconds of ``--repeats`` runs, the accuracy (corner error
over the 8 corners; MSE reduction and folded voxels) and the target: a 64^3 affine
registration under 30 s on 2 cores.

    python benchmarks/bench_registration.py [--repeats 3] [--transforms affine,dense]
    python benchmarks/bench_registration.py --volume [--size 64] [--transforms affine,dense] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from stn_np.functional import affine_grid, attention_grid, displacement_grid, grid_sample, projective_grid, tps_grid
from stn_np.registration import jacobian_determinant, register
from stn_np.registration.samples import (ellipsoid_phantom, mri_slice, random_affine, random_affine_3d, smooth_flow,
                                        spline_warp)
from stn_np.registration.transforms import corner_error

SIZE = (1, 1, 256, 256)


def true_warp(name, rng):
    """(true params with a batch axis, true grid (256, 256, 2))."""
    if name == "affine":
        p = random_affine(rng, SIZE[2:])[None]
        return p, affine_grid(p, SIZE).data[0]
    if name == "attention":
        p = np.array([[rng.uniform(0.85, 1.15), *rng.uniform(-0.1, 0.1, 2)]])
        return p, attention_grid(p, SIZE).data[0]
    if name == "projective":
        p = (np.array([1.0, 0, 0, 0, 1, 0, 0, 0]) + rng.uniform(-0.1, 0.1, 8))[None]
        return p, projective_grid(p, SIZE).data[0]
    if name == "tps":
        p = rng.normal(0, 0.03, (1, 16, 2))
        return p, tps_grid(p, SIZE).data[0]
    y, x = np.mgrid[0:256, 0:256] / 256.0
    flow = np.stack([np.sin(2 * np.pi * (x + 0.1)) * np.cos(2 * np.pi * 0.8 * y),
                     np.cos(2 * np.pi * 1.3 * x) * np.sin(2 * np.pi * (y + 0.3))], axis=-1)
    flow *= 8.0 * (np.sin(np.pi * (x + 1 / 512)) * np.sin(np.pi * (y + 1 / 512)))[..., None]  # <= 8 px, 0 at the border
    return flow[None], displacement_grid(flow[None]).data[0]


def accuracy(name, result, params, grid, fixed, moving):
    error = np.linalg.norm((result.grid - grid) * 128.0, axis=-1)  # normalised -> pixels of 256
    if name == "affine":
        return f"corner error {float(corner_error(result.params, params[0], SIZE[2:])):.3f} px"
    if name in ("attention", "projective"):
        return f"max grid error {error.max():.3f} px"
    if name == "tps":
        head = fixed > 0.05 * fixed.max()
        return f"max grid error in the head {error[head].max():.3f} px, mean {error.mean():.3f} px"
    reduction = 1 - np.mean((result.warped - fixed) ** 2) / np.mean((moving - fixed) ** 2)
    _, folded = jacobian_determinant(result.params, kind="flow")
    return f"MSE reduced {100 * reduction:.1f}%, folded {100 * folded:.3f}%"


def torch_seconds(name, result, fixed, moving):
    """The same pyramid and step counts in PyTorch (affine and dense only); None when unavailable."""
    try:
        import torch
        import torch.nn.functional as TF
    except ImportError:
        return None
    if name not in ("affine", "dense"):
        return None
    # One thread: on a 2-core machine shared with other work, torch's thread pool stalls
    # (affine_grid alone took 8 ms a call with 2 threads while another process was busy).
    torch.set_num_threads(1)
    from stn_np.registration.pyramid import build_pyramid

    scale = fixed.std()
    start = time.perf_counter()
    fp = [torch.from_numpy(p) for p in build_pyramid(fixed[None, None] / scale, len(result.level_sizes))]
    mp = [torch.from_numpy(p) for p in build_pyramid(moving[None, None] / scale, len(result.level_sizes))]
    params = torch.eye(2, 3, dtype=torch.float64)[None] if name == "affine" else None
    for k, steps in enumerate(result.steps_run):
        h, w = fp[k].shape[-2:]
        if name == "dense":
            if params is None:
                params = torch.zeros(1, h, w, 2, dtype=torch.float64)
            else:
                params = TF.interpolate(params.permute(0, 3, 1, 2), size=(h, w), mode="bilinear").permute(0, 2, 3, 1) * 2
        params = params.detach().requires_grad_(True)
        lr = (0.02 * 0.1**k) if name == "affine" else 0.2
        opt = torch.optim.Adam([params], lr=lr)
        base = TF.affine_grid(torch.eye(2, 3, dtype=torch.float64)[None], (1, 1, h, w), align_corners=False)
        for _ in range(steps):
            opt.zero_grad()
            if name == "affine":
                grid = TF.affine_grid(params, (1, 1, h, w), align_corners=False)
            else:
                grid = base + params * torch.tensor([2.0 / w, 2.0 / h], dtype=torch.float64)
            loss = TF.mse_loss(TF.grid_sample(mp[k], grid, align_corners=False), fp[k])
            if name == "dense":
                loss = loss + 0.2 * ((params[:, :, 1:] - params[:, :, :-1]).pow(2).sum()
                                     + (params[:, 1:] - params[:, :-1]).pow(2).sum()) / (h * w)
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def protocol(tools, verbose):
    """Issue 10's protocol: print the table of every available tool and stn_np's failures."""
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import registration_protocol as rp

    from stn_np.training.runtime import get_blas_threads, set_blas_threads

    set_blas_threads(1)  # one thread for every tool (SimpleITK and OpenCV set theirs in their runners)
    names = [n for n, _ in rp.images()]
    print(f"protocol: {len(names)} images ({', '.join(names)}), {rp.CASES_PER_IMAGE} cases each, "
          f"BLAS threads {get_blas_threads()}")
    results = rp.run_protocol(selected=tools, verbose=verbose)
    print("| tool | cases | <= 0.5 px | <= 1 px | <= 2 px | median error (px) | p90 error (px) | median s |")
    print("|---|---|---|---|---|---|---|---|")
    for label, rows in results.items():
        half, one, two, median, p90, seconds = rp.summary(rows)
        print(f"| {label} | {len(rows)} | {100 * half:.0f}% | {100 * one:.0f}% | {100 * two:.0f}% | {median:.3f} | "
              f"{p90:.3f} | {seconds:.2f} |")
    for label, rows in results.items():
        if label.startswith("stn_np"):
            failures = [r for r in rows if not r[2] <= 1]
            print(f"stn_np cases above 1 px: {len(failures)}")
            for name, k, err, seconds in failures:
                print(f"  {name} case {k}: {err:.3f} px ({seconds:.2f} s)")


#: The volumetric target: seconds for a 64^3 affine registration on 2 cores.
VOLUME_TARGET_SECONDS = 30.0


def volume(size, transforms, repeats):
    """Register the phantom against known 3-D warps of it; print the medians, the accuracy and the target."""
    from stn_np.training.runtime import get_blas_threads

    moving = ellipsoid_phantom(size)
    shape = (size, size, size)
    print(f"{size}^3 ellipsoid phantom, register(spatial_dims=3) defaults, median of {repeats} runs, "
          f"BLAS threads {get_blas_threads()}")
    print(f"{'transform':<11} {'seconds':>8} {'steps per level':>16}  accuracy")
    for name in transforms:
        rng = np.random.default_rng(0)
        if name == "affine":
            theta = random_affine_3d(rng, shape)
            grid = affine_grid(theta[None], (1, 1, *shape)).data[0]
        elif name == "dense":
            flow = smooth_flow(rng, shape, 3.0)
            grid = displacement_grid(flow[None]).data[0]
        else:
            print(f"{name:<11} (2-D only: no volumetric form)")
            continue
        fixed = spline_warp(moving, grid)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = register(fixed, moving, transform=name, spatial_dims=3)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        if name == "affine":
            accuracy_text = f"corner error {float(corner_error(result.params, theta, shape)):.3f} voxels (8 corners)"
        else:
            reduction = 1 - np.mean((result.warped - fixed) ** 2) / np.mean((moving - fixed) ** 2)
            _, folded = jacobian_determinant(result.params, kind="flow")
            accuracy_text = f"MSE reduced {100 * reduction:.1f}%, folded {100 * folded:.3f}%"
        runs = ", ".join(f"{t:.2f}" for t in times)
        steps = "+".join(map(str, result.steps_run))
        print(f"{name:<11} {seconds:>8.2f} {steps:>16}  {accuracy_text}  (runs: {runs} s)", flush=True)
        if name == "affine" and size == 64:
            verdict = "met" if seconds < VOLUME_TARGET_SECONDS else "MISSED"
            print(f"target: 64^3 affine under {VOLUME_TARGET_SECONDS:.0f} s on 2 cores: {seconds:.2f} s, {verdict} "
                  f"({VOLUME_TARGET_SECONDS / seconds:.1f}x margin)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--transforms", default=None,
                        help="comma-separated (default: every family; with --volume: affine,dense)")
    parser.add_argument("--protocol", action="store_true", help="run issue 10's accuracy protocol instead")
    parser.add_argument("--tools", default=None, help="protocol: comma-separated subset of stn_np,simpleitk,opencv")
    parser.add_argument("--verbose", action="store_true", help="protocol: print every case")
    parser.add_argument("--volume", action="store_true", help="volumetric registration of the phantom instead")
    parser.add_argument("--size", type=int, default=64, help="--volume: voxels a side (default 64)")
    args = parser.parse_args()
    if args.volume:
        volume(args.size, (args.transforms or "affine,dense").split(","), args.repeats)
        return
    if args.protocol:
        protocol(None if args.tools is None else args.tools.lower().split(","), args.verbose)
        return
    moving = mri_slice()
    print(f"256 x 256 MRI slice, register() defaults, median of {args.repeats} runs")
    print(f"{'transform':<11} {'seconds':>8} {'steps per level':>16}  accuracy")
    for name in (args.transforms or "affine,attention,projective,tps,dense").split(","):
        params, grid = true_warp(name, np.random.default_rng(0))
        fixed = grid_sample(moving[None, None], grid[None]).data[0, 0]
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = register(fixed, moving, transform=name)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        line = (f"{name:<11} {seconds:>8.2f} {'+'.join(map(str, result.steps_run)):>16}  "
                f"{accuracy(name, result, params, grid, fixed, moving)}")
        reference = [torch_seconds(name, result, fixed, moving) for _ in range(args.repeats)]
        if reference[0] is not None:
            torch_median = statistics.median(reference)
            line += f"  | torch, the same Adam steps only (no global start, no refinement): {torch_median:.2f} s"
        print(line, flush=True)


if __name__ == "__main__":
    main()
