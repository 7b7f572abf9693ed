"""Regenerate ``grid_sample_3d.npz``: PyTorch's volumetric grid_sample and affine_grid, at random
points and exactly where a sampler is hardest.

Volumes (N, C, D, H, W) sampled at grids (N, D_out, H_out, W_out, 3), last axis (x, y, z), for
PyTorch's two volumetric modes (bilinear, i.e. trilinear, and nearest) x every padding mode x
both align_corners:

``random``
    Points drawn as ``integer + offset`` in voxel units (offset in [0.1, 0.9], nearest
    [-0.4, 0.4]) up to 3 voxels outside, so none sits on a kink or a tie: a 4x5x6 volume
    (N=2, C=3) onto 3x4x5, and the degenerate 1x1x1, Dx1x1, 1xHx1 and 1x1xW volumes.
``lattice``
    Every integer and half-integer voxel position from -2 to n + 1 along all three axes of
    1x1x1, 1x2x3, 2x1x1, 2x3x4 and 3x3x3 volumes, float64 and (bilinear) float32; plus
    PyTorch's own identity grid (``affine_grid`` of the identity ``theta``), every point on a
    voxel centre. Grids come from :func:`lattice_grid` (not stored); the identity's are.
``sweep``
    A row along x (1x1xS), y (1xSx1) and z (Sx1x1): every half-integer position from -2 to
    S + 1 along the axis for 33 sizes S from 1 to 456. PyTorch's volumetric kernel rounds the
    unnormalisation differently from its 2-D one (no fused multiply-add), so the side of a
    kink differs between them at some sizes: this pins the 3-D rounding down on every axis
    (float64; bilinear along z in float32 too).
``big``
    A 17x33x64 volume: positions on and between the voxel centres near all six faces and in
    the middle (10 a side), and 100 random points; the image gradient stored sparsely.
``torch_test``
    The shapes of PyTorch's own ``test_grid_sample_3d`` (``test/test_nn.py``), which compares
    its CPU and CUDA kernels and gradchecks at ``torch.randn`` grids: output as large as the
    input, larger, smaller, a 1x1x1 input, an empty grid, no channels and an empty batch, with
    the random sizes of that test fixed once (small, within its ranges); one grid per shape
    drawn from a standard normal (stored).
``affine_grid``
    ``affine_grid`` with random ``theta`` (N, 3, 4) near the identity, its values and the
    gradient of ``theta`` for a random upstream gradient, for several 5-D sizes (1-voxel axes
    included) and both ``align_corners``.
``affine_identity``
    PyTorch's identity grid of a few 5-D sizes, float64 and float32: ``identity_grid(...,
    depth=D)`` must equal it bit for bit.

Images and upstream gradients come from the 2-D kink generator's :func:`pattern` (an exact,
irregular function of the indices), so the tests regenerate them without storing them.

Run by hand where torch is installed (it is never a dependency):
    python tests/data/make_grid_sample_3d.py
"""

import importlib.util
import itertools
import os
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("make_grid_sample_kinks", os.path.join(HERE, "make_grid_sample_kinks.py"))
KINKS = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(KINKS)
pattern, half_steps, to_normalized, combo_name, run, SWEEP_SIZES = (
    KINKS.pattern, KINKS.half_steps, KINKS.to_normalized, KINKS.combo_name, KINKS.run, KINKS.SWEEP_SIZES)

MODES = ("bilinear", "nearest")  # PyTorch's volumetric modes
PADDINGS = ("zeros", "border", "reflection")
COMBOS = list(itertools.product(MODES, PADDINGS, (False, True)))
# (tag, N, C, D, H, W, D_out, H_out, W_out)
RANDOM_SHAPES = [
    ("main", 2, 3, 4, 5, 6, 3, 4, 5),
    ("1x1x1", 2, 2, 1, 1, 1, 2, 3, 2),
    ("Dx1x1", 1, 2, 5, 1, 1, 2, 2, 3),
    ("1xHx1", 2, 1, 1, 4, 1, 3, 2, 2),
    ("1x1xW", 1, 2, 1, 1, 6, 2, 3, 2),
]
LATTICE_SHAPES = [(1, 1, 1), (1, 2, 3), (2, 1, 1), (2, 3, 4), (3, 3, 3)]
BIG = (17, 33, 64)
# PyTorch's test_grid_sample_3d: (tag, N, C, ID, IH, IW, D, H, W), its random.randint sizes fixed once
TORCH_TEST_SHAPES = [
    ("same size", 2, 2, 2, 3, 4, 2, 3, 4),
    ("larger output", 2, 2, 2, 3, 2, 3, 4, 3),
    ("smaller output", 2, 3, 4, 3, 5, 2, 2, 3),
    ("1x1x1 input", 2, 2, 1, 1, 1, 3, 2, 2),
    ("empty grid", 2, 2, 3, 4, 5, 4, 0, 5),
    ("empty channel", 3, 0, 3, 4, 5, 4, 5, 6),
    ("empty batch", 0, 3, 4, 3, 5, 5, 3, 4),
]
AFFINE_SIZES = [(2, 1, 2, 3, 4), (1, 1, 1, 1, 1), (1, 2, 1, 4, 5), (2, 1, 5, 1, 3), (1, 1, 4, 3, 1), (3, 2, 3, 3, 3)]
IDENTITY_SIZES = [(3, 5, 7), (1, 4, 6), (6, 1, 9), (5, 7, 1), (11, 3, 13)]


def align_name(align_corners):
    return "align" if align_corners else "noalign"


def axis_points(size, align_corners, count):
    """Normalised half-integer positions -2 ... size + 1 along an axis (spread over [-2.5, 2.5] on a
    one-voxel axis with align_corners, which maps every coordinate to its voxel)."""
    if align_corners and size == 1:
        return np.linspace(-2.5, 2.5, count)
    return to_normalized(half_steps(size), size, align_corners)


def lattice_grid(depth, height, width, align_corners):
    """(1, Pz, Py, Px, 3): every half-integer position of the three axes, last axis (x, y, z)."""
    xs, ys, zs = (axis_points(s, align_corners, half_steps(s).size) for s in (width, height, depth))
    gz, gy, gx = np.meshgrid(zs, ys, xs, indexing="ij")
    return np.stack([gx, gy, gz], axis=-1)[None]


def sweep_grid(size, axis, align_corners):
    """(1, 1, 1, P, 3): half-integer positions along grid ``axis`` (0: x, 1: y, 2: z), the others 0."""
    coords = to_normalized(half_steps(size), size, align_corners)
    grid = np.zeros((1, 1, 1, coords.size, 3))
    grid[..., axis] = coords
    return grid


def sweep_shape(size, axis):
    """The 1-channel volume whose ``axis`` (0: x = W, 1: y = H, 2: z = D) has ``size`` voxels."""
    spatial = [1, 1, 1]
    spatial[2 - axis] = size
    return (1, 1) + tuple(spatial)


def random_axis(rng, shape, size, mode, align_corners):
    if align_corners and size == 1:
        return rng.uniform(-3, 3, shape)
    offset = rng.uniform(-0.4, 0.4, shape) if mode == "nearest" else rng.uniform(0.1, 0.9, shape)
    return to_normalized(rng.integers(-3, size + 3, shape) + offset, size, align_corners)


def big_grid(rng):
    D, H, W = BIG
    axes = []
    for size in (W, H, D):
        steps = half_steps(size)
        axes.append(np.r_[steps[2:6], steps[-6:-2], (size - 1) // 2, (size - 1) // 2 + 0.5])
    gz, gy, gx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    lattice = np.stack([gx, gy, gz], axis=-1).reshape(-1, 3)
    random = np.stack([rng.uniform(-3, W + 2, 100), rng.uniform(-3, H + 2, 100), rng.uniform(-3, D + 2, 100)], -1)
    return np.concatenate([lattice, random])


def store(arrays, name, mode, result, grid_gradient=True):
    """Output and image gradient always; the grid gradient unless nearest (PyTorch's is zero there)."""
    out, gU, gg = result
    arrays[f"{name}/output"], arrays[f"{name}/grad_input"] = out, gU
    if mode != "nearest" and grid_gradient:
        arrays[f"{name}/grad_grid"] = gg
    elif mode == "nearest":
        assert not np.any(gg), "PyTorch's nearest grid gradient is zero"


def main():
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(20153)
    arrays = {}
    # random points off the kinks
    for (mode, padding, align), (tag, N, C, D, H, W, Do, Ho, Wo) in itertools.product(COMBOS, RANDOM_SHAPES):
        name = f"random/{combo_name(mode, padding, align)}/{tag}"
        shape = (N, Do, Ho, Wo)
        grid = np.stack([random_axis(rng, shape, s, mode, align) for s in (W, H, D)], axis=-1)
        arrays[f"{name}/grid"] = grid
        store(arrays, name, mode, run(torch, pattern((N, C, D, H, W), 11), grid, pattern((N, C) + shape[1:], 12),
                                      mode, padding, align))
    # the lattice and PyTorch's identity grid
    for (D, H, W), align in itertools.product(LATTICE_SHAPES, (False, True)):
        key = f"lattice/{D}x{H}x{W}/{align_name(align)}"
        theta = torch.eye(3, 4, dtype=torch.float64)[None]
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch warns about 1-voxel axes with align_corners
            identity = torch.nn.functional.affine_grid(theta, (1, 1, D, H, W), align_corners=align).numpy()
        arrays[f"{key}/identity/grid"] = identity
        for kind, grid in (("lattice", lattice_grid(D, H, W, align)), ("identity", identity)):
            U, G = pattern((1, 2, D, H, W), 1), pattern((1, 2) + grid.shape[1:4], 2)
            for mode, padding in itertools.product(MODES, PADDINGS):
                name = f"{key}/{kind}/{mode}-{padding}"
                store(arrays, name, mode, run(torch, U, grid, G, mode, padding, align))
                if mode == "bilinear":
                    store(arrays, f"{name}/float32", mode, run(torch, U.astype(np.float32), grid.astype(np.float32),
                                                               G.astype(np.float32), mode, padding, align))
    # sweeps along x, y and z
    for axis, (mode, padding, align) in itertools.product((0, 1, 2), COMBOS):
        for dtype in (np.float64, np.float32) if mode == "bilinear" and axis == 2 else (np.float64,):
            values, grads = [], []
            for size in SWEEP_SIZES:
                grid = sweep_grid(size, axis, align).astype(dtype)
                U = pattern(sweep_shape(size, axis), 3).astype(dtype)
                G = pattern((1, 1, 1, 1, grid.shape[3]), 4).astype(dtype)
                out, _, gg = run(torch, U, grid, G, mode, padding, align)
                values.append(out.ravel())
                grads.append(gg[0, 0, 0, :, axis])
            name = f"sweep/{'xyz'[axis]}/{combo_name(mode, padding, align)}/{np.dtype(dtype).name}"
            arrays[f"{name}/output"] = np.concatenate(values)
            if mode != "nearest":
                arrays[f"{name}/grad_grid"] = np.concatenate(grads)
    # the big volume
    pixels = big_grid(rng)
    D, H, W = BIG
    U = pattern((1, 1, D, H, W), 5)
    for align in (False, True):
        grid = np.stack([to_normalized(pixels[:, axis], size, align) for axis, size in enumerate((W, H, D))], -1)
        grid = grid[None, None, None]
        arrays[f"big/{align_name(align)}/grid"] = grid
        G = pattern((1, 1, 1, 1, grid.shape[3]), 6)
        for mode, padding in itertools.product(MODES, PADDINGS):
            name = f"big/{combo_name(mode, padding, align)}"
            out, gU, gg = run(torch, U, grid, G, mode, padding, align)
            flat = gU.ravel()
            nonzero = np.flatnonzero(flat)
            arrays[f"{name}/output"] = out
            if mode != "nearest":
                arrays[f"{name}/grad_grid"] = gg
            arrays[f"{name}/grad_input_index"] = nonzero.astype(np.int32)
            arrays[f"{name}/grad_input_value"] = flat[nonzero]
    # PyTorch's test_grid_sample_3d shapes, torch.randn grids (one per shape)
    for tag, N, C, D, H, W, Do, Ho, Wo in TORCH_TEST_SHAPES:
        grid = rng.standard_normal((N, Do, Ho, Wo, 3))
        arrays[f"torch_test/{tag}/grid"] = grid
        for mode, padding, align in COMBOS:
            store(arrays, f"torch_test/{tag}/{combo_name(mode, padding, align)}", mode,
                  run(torch, pattern((N, C, D, H, W), 7), grid, pattern((N, C, Do, Ho, Wo), 8), mode, padding, align))
    # affine_grid: values and theta gradients
    for size, align in itertools.product(AFFINE_SIZES, (False, True)):
        name = f"affine_grid/{'x'.join(map(str, size))}/{align_name(align)}"
        theta = np.eye(3, 4) + 0.3 * rng.standard_normal((size[0], 3, 4))
        t = torch.tensor(theta, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grid = torch.nn.functional.affine_grid(t, list(size), align_corners=align)
        upstream = pattern(tuple(grid.shape), 9)
        grid.backward(torch.tensor(upstream))
        arrays[f"{name}/theta"], arrays[f"{name}/grid"], arrays[f"{name}/theta_grad"] = (
            theta, grid.detach().numpy(), t.grad.numpy())
    # PyTorch's identity grid, bit for bit
    for (D, H, W), dtype, align in itertools.product(IDENTITY_SIZES, (torch.float64, torch.float32), (False, True)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grid = torch.nn.functional.affine_grid(torch.eye(3, 4, dtype=dtype)[None], (1, 1, D, H, W),
                                                   align_corners=align)
        arrays[f"affine_identity/{str(dtype).split('.')[-1]}/{align_name(align)}/{D}x{H}x{W}"] = grid[0].numpy()
    KINKS.save(arrays, "grid_sample_3d.npz", torch)


if __name__ == "__main__":
    main()
