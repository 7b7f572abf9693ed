"""Regenerate ``grid_sample_reference.npz``: PyTorch's grid_sample values and gradients.

For every mode x padding_mode x align_corners combination, float64, random images, grids and
upstream gradients: one main case (N=2, C=3, a non-square 5x7 image sampled onto 4x6) and the
degenerate images 1x1, 1xW and Hx1. Sample points are drawn in pixel units as integers from a
few pixels outside the image to a few pixels past it plus an offset in [0.1, 0.9] (nearest:
[-0.4, 0.4]), so no point sits on a kink or, for nearest, on a half-pixel tie where PyTorch
rounds half to even and stn_np rounds half up. A one-pixel axis with align_corners=True maps
every coordinate to its pixel, so there the normalised coordinates are drawn directly.

Run by hand where torch is installed (it is never a dependency):
    python tests/data/make_grid_sample_reference.py
"""

import itertools
import os

import numpy as np
import torch

from stn_np.io import atomic_write

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")
# (tag, N, C, H, W, H_out, W_out)
SHAPES = [
    ("main", 2, 3, 5, 7, 4, 6),
    ("1x1", 2, 2, 1, 1, 3, 2),
    ("1xW", 1, 2, 1, 6, 2, 5),
    ("Hx1", 2, 1, 4, 1, 3, 3),
]


def normalise(pixel, size, align_corners):
    if align_corners:
        return pixel * (2 / (size - 1)) - 1
    return (2 * pixel + 1) / size - 1


def axis_coords(rng, shape, size, mode, align_corners):
    if align_corners and size == 1:
        return rng.uniform(-3, 3, shape)
    offset = rng.uniform(-0.4, 0.4, shape) if mode == "nearest" else rng.uniform(0.1, 0.9, shape)
    pixel = rng.integers(-3, size + 3, shape) + offset
    return normalise(pixel, size, align_corners)


def main():
    rng = np.random.default_rng(2015)
    arrays, names = {}, []
    for mode, padding, align, (tag, N, C, H, W, Ho, Wo) in itertools.product(MODES, PADDINGS, (False, True), SHAPES):
        name = f"{mode}-{padding}-{'align' if align else 'noalign'}-{tag}"
        U = rng.standard_normal((N, C, H, W))
        grid = np.stack([axis_coords(rng, (N, Ho, Wo), W, mode, align),
                         axis_coords(rng, (N, Ho, Wo), H, mode, align)], axis=-1)
        upstream = rng.standard_normal((N, C, Ho, Wo))
        tU = torch.tensor(U, requires_grad=True)
        tgrid = torch.tensor(grid, requires_grad=True)
        out = torch.nn.functional.grid_sample(tU, tgrid, mode=mode, padding_mode=padding, align_corners=align)
        out.backward(torch.tensor(upstream))
        names.append(name)
        arrays[f"{name}/input"] = U
        arrays[f"{name}/grid"] = grid
        arrays[f"{name}/upstream"] = upstream
        arrays[f"{name}/output"] = out.detach().numpy()
        arrays[f"{name}/grad_input"] = tU.grad.numpy()
        arrays[f"{name}/grad_grid"] = tgrid.grad.numpy()
    arrays["cases"] = np.array(names)
    arrays["torch_version"] = np.array(torch.__version__)
    path = os.path.join(HERE, "grid_sample_reference.npz")
    with atomic_write(path) as f:
        np.savez_compressed(f, **arrays)
    print(f"wrote {path} ({len(names)} cases, {os.path.getsize(path)} bytes) with torch {torch.__version__}")


if __name__ == "__main__":
    main()
