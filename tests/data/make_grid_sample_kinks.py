"""Regenerate ``grid_sample_kinks.npz``: PyTorch's grid_sample exactly where a sampler is hardest.

Every point here sits on a kink, a tie or an edge, on purpose (``grid_sample_reference.npz``
holds the random points that keep away from them):

``lattice``
    Every integer and half-integer pixel position from -2 to n + 1 in both x and y, on
    images of 1x1, 1x2, 2x1, 2x5, 3x3 and 4x7 pixels, for every mode x padding x
    align_corners, in float64 and float32; plus PyTorch's own identity grid
    (``affine_grid`` of the identity ``theta``), whose points all sit on pixel centres.
``sweep``
    One row (1xW) and one column (Hx1): every half-integer position from -2 to n + 1 along
    the axis, for 33 sizes from 1 to 456, every mode x padding x align_corners (float64) and
    bilinear in float32. This is where the unnormalisation's rounding decides the side of a
    kink: ``((c + 1) S - 1) / 2`` lands some integer positions an ulp off, differently for
    every size.
``affine_identity``
    PyTorch's identity grid (``affine_grid`` of the identity) along an axis of each sweep
    size and 7, 28, 42, 60, 500, 1000 pixels, float64 and float32.
``big``
    A 345x456 image: the lattice positions near its four edges and a few in the interior,
    and 100 random points, every combination; the image gradient stored sparsely.

Inputs are not random: images and upstream gradients come from :func:`pattern`, an exact,
irregular function of the indices, so the test regenerates them without storing them. Grids
are stored (they are the point). Gradients of the ``sweep`` are stored for the grid's own axis.

Run by hand where torch is installed (it is never a dependency):
    python tests/data/make_grid_sample_kinks.py
"""

import itertools
import os
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")
COMBOS = list(itertools.product(MODES, PADDINGS, (False, True)))
LATTICE_SHAPES = [(1, 1), (1, 2), (2, 1), (2, 5), (3, 3), (4, 7)]
SWEEP_SIZES = list(range(1, 25)) + [31, 32, 33, 64, 100, 128, 255, 345, 456]
BIG = (345, 456)


def pattern(shape, salt):
    """Irregular values in [-0.5, 0.5), exact in float64: a quadratic form of the indices mod 997.

    Quadratic, so that the left and right differences of the image differ at almost every
    pixel (a linear pattern would make every kink convention agree).
    """
    index = np.indices(shape).reshape(len(shape), -1).astype(np.int64)
    weights = np.array([31, 17, 7, 13, 29])[: len(shape)]
    h = (index**2 * weights[:, None]).sum(0) + index[-1] * index[0] * 11 + index.sum(0) * 5 + salt * 101
    return (h % 997 / 997 - 0.5).reshape(shape)


def combo_name(mode, padding, align_corners):
    return f"{mode}-{padding}-{'align' if align_corners else 'noalign'}"


def half_steps(size):
    """Pixel positions -2, -1.5, ..., size + 1."""
    return np.arange(-4, 2 * size + 3) / 2


def to_normalized(pixel, size, align_corners):
    """What a user writes: ((2 p + 1) / S - 1), or 2 p / (S - 1) - 1 with align_corners."""
    if align_corners:
        return pixel * (2 / (size - 1)) - 1 if size > 1 else pixel * 0.0
    return (2 * pixel + 1) / size - 1


def lattice_grid(height, width, align_corners):
    xs = to_normalized(half_steps(width), width, align_corners)
    ys = to_normalized(half_steps(height), height, align_corners)
    if align_corners and width == 1:  # a one-pixel axis maps everything to its pixel: spread it anyway
        xs = np.linspace(-2.5, 2.5, xs.size)
    if align_corners and height == 1:
        ys = np.linspace(-2.5, 2.5, ys.size)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx, gy], axis=-1)[None]


def sweep_grid(size, axis, align_corners):
    """(1, 1, P, 2): half-integer positions along ``axis`` (0: x, 1: y), the other coordinate 0."""
    coords = to_normalized(half_steps(size), size, align_corners)
    grid = np.zeros((1, 1, coords.size, 2))
    grid[0, 0, :, axis] = coords
    return grid


def big_grid(rng):
    H, W = BIG
    xs = np.r_[half_steps(W)[:9], half_steps(W)[-9:], 227.0, 227.5]
    ys = np.r_[half_steps(H)[:9], half_steps(H)[-9:], 170.0, 170.5]
    gx, gy = np.meshgrid(xs, ys)
    lattice = np.stack([gx, gy], axis=-1).reshape(-1, 2)
    random = np.stack([rng.uniform(-3, W + 2, 100), rng.uniform(-3, H + 2, 100)], axis=-1)
    return lattice, random


def run(torch, U, grid, upstream, mode, padding, align_corners):
    tU = torch.tensor(U, requires_grad=True)
    tgrid = torch.tensor(grid, requires_grad=True)
    out = torch.nn.functional.grid_sample(tU, tgrid, mode=mode, padding_mode=padding, align_corners=align_corners)
    out.backward(torch.tensor(upstream))
    return out.detach().numpy(), tU.grad.numpy(), tgrid.grad.numpy()


def save(arrays, filename, torch):
    """Write ``arrays`` (and the torch version that made them) atomically to ``filename`` beside this script."""
    from stn_np.io import atomic_write

    arrays["torch_version"] = np.array(torch.__version__)
    path = os.path.join(HERE, filename)
    with atomic_write(path) as f:
        np.savez_compressed(f, **arrays)
    print(f"wrote {path} ({len(arrays)} arrays, {os.path.getsize(path)} bytes) with torch {torch.__version__}")


def main():
    import torch

    arrays = {}
    # lattice and PyTorch's identity grid, float64 and float32
    for (H, W), align in itertools.product(LATTICE_SHAPES, (False, True)):
        key = f"lattice/{H}x{W}/{'align' if align else 'noalign'}"
        grids = {"lattice": lattice_grid(H, W, align)}
        theta = torch.eye(2, 3, dtype=torch.float64)[None]
        with torch.no_grad():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PyTorch warns about 1-pixel axes with align_corners
                grids["identity"] = torch.nn.functional.affine_grid(theta, (1, 1, H, W), align_corners=align).numpy()
        for kind, grid in grids.items():
            arrays[f"{key}/{kind}/grid"] = grid
            U = pattern((1, 2, H, W), 1)
            G = pattern((1, 2) + grid.shape[1:3], 2)
            for mode, padding in itertools.product(MODES, PADDINGS):
                name = f"{key}/{kind}/{mode}-{padding}"
                out, gU, gg = run(torch, U, grid, G, mode, padding, align)
                arrays[f"{name}/output"], arrays[f"{name}/grad_input"], arrays[f"{name}/grad_grid"] = out, gU, gg
                out, gU, gg = run(torch, U.astype(np.float32), grid.astype(np.float32), G.astype(np.float32),
                                  mode, padding, align)
                arrays[f"{name}/float32/output"] = out
                arrays[f"{name}/float32/grad_input"], arrays[f"{name}/float32/grad_grid"] = gU, gg
    # sweeps along x (1 x S images) and y (S x 1 images)
    for axis, (mode, padding, align) in itertools.product((0, 1), COMBOS):
        dtypes = (np.float64, np.float32) if mode == "bilinear" else (np.float64,)
        for dtype in dtypes:
            values, grads = [], []
            for size in SWEEP_SIZES:
                shape = (1, 1, 1, size) if axis == 0 else (1, 1, size, 1)
                grid = sweep_grid(size, axis, align).astype(dtype)
                U = pattern(shape, 3).astype(dtype)
                G = pattern((1, 1, 1, grid.shape[2]), 4).astype(dtype)
                out, _, gg = run(torch, U, grid, G, mode, padding, align)
                values.append(out.ravel())
                grads.append(gg[0, 0, :, axis])
            name = f"sweep/{'xy'[axis]}/{combo_name(mode, padding, align)}/{np.dtype(dtype).name}"
            arrays[f"{name}/output"] = np.concatenate(values)
            if mode != "nearest":  # nearest's grid gradient is zero
                arrays[f"{name}/grad_grid"] = np.concatenate(grads)
    # PyTorch's identity grid along an axis of each sweep size (and more), both dtypes
    identity_sizes = np.array(SWEEP_SIZES + [7, 28, 42, 60, 500, 1000])
    for dtype, align in itertools.product((torch.float64, torch.float32), (False, True)):
        name = f"affine_identity/{str(dtype).split('.')[-1]}/{'align' if align else 'noalign'}"
        theta = torch.eye(2, 3, dtype=dtype)[None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = [torch.nn.functional.affine_grid(theta, (1, 1, 1, int(s)), align_corners=align)[0, 0, :, 0].numpy()
                    for s in identity_sizes]
        arrays[f"{name}/sizes"], arrays[f"{name}/values"] = identity_sizes, np.concatenate(rows)
    # the big image
    rng = np.random.default_rng(345456)
    lattice, random = big_grid(rng)
    H, W = BIG
    U = pattern((1, 1, H, W), 5)
    for align in (False, True):
        pixels = np.concatenate([lattice, random])
        grid = np.stack([to_normalized(pixels[:, 0], W, align), to_normalized(pixels[:, 1], H, align)], -1)
        grid = grid[None, None]
        arrays[f"big/{'align' if align else 'noalign'}/grid"] = grid
        G = pattern((1, 1, 1, grid.shape[2]), 6)
        for mode, padding in itertools.product(MODES, PADDINGS):
            name = f"big/{combo_name(mode, padding, align)}"
            out, gU, gg = run(torch, U, grid, G, mode, padding, align)
            flat = gU.ravel()
            nonzero = np.flatnonzero(flat)
            arrays[f"{name}/output"], arrays[f"{name}/grad_grid"] = out, gg
            arrays[f"{name}/grad_input_index"] = nonzero.astype(np.int32)
            arrays[f"{name}/grad_input_value"] = flat[nonzero]
    save(arrays, "grid_sample_kinks.npz", torch)


if __name__ == "__main__":
    main()
