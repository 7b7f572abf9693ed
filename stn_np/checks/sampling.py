"""Gradient checks of the samplers: the fast ``grid_sample`` and the literal ``reference_sample``.

Every mode x padding x align_corners combination, on small non-square images with N = 2 and
C = 2. Sample points are drawn in pixel units as ``integer + offset`` and then normalised, so
they never sit where the sample has a kink or a jump: bilinear and bicubic points keep 0.1
pixel away from the integers (the kinks of ``max(0, 1 - |d|)``, and where the clip of
``border``/``zeros`` and the mirror lines of ``reflection`` with ``align_corners`` sit), and
nearest points keep 0.1 pixel away from the half-integers (its jumps). The integers run a few
pixels past the image on each side, so every padding mode is exercised.

Nearest has a zero grid gradient (the integer kernel is piecewise constant); its cases check
the input gradient only (``tests/test_grid_sample.py`` asserts the zero separately).
"""

import numpy as np

from ..autograd.tensor import Tensor
from ..sampling.coords import pixel_to_normalized
from ..sampling.grid_sample import grid_sample
from ..sampling.kernels import KERNELS, Kernel, reference_sample
from . import register

SHAPE = (2, 2, 3, 4)  # N, C, H, W
OUT = (2, 3)  # H_out, W_out


def sample_points(rng, N, H, W, H_out, W_out, mode, align_corners, margin=3):
    """A grid (N, H_out, W_out, 2) of points off the kinks of ``mode``, up to ``margin`` pixels outside."""
    if mode == "nearest":
        offsets = rng.uniform(-0.4, 0.4, (N, H_out, W_out, 2))
    else:
        offsets = rng.uniform(0.1, 0.9, (N, H_out, W_out, 2))
    px = rng.integers(-margin, W + margin, (N, H_out, W_out)) + offsets[..., 0]
    py = rng.integers(-margin, H + margin, (N, H_out, W_out)) + offsets[..., 1]
    return np.stack([pixel_to_normalized(px, W, align_corners), pixel_to_normalized(py, H, align_corners)], axis=-1)


def _inputs(mode, align_corners):
    def make(rng):
        N, C, H, W = SHAPE
        U = rng.standard_normal(SHAPE)
        grid = sample_points(rng, N, H, W, *OUT, mode, align_corners)
        if mode == "nearest":
            return U, Tensor(grid)  # the grid is a constant: its gradient is zero, not checked here
        return U, grid

    return make


for _mode in ("bilinear", "bicubic", "nearest"):
    for _padding in ("zeros", "border", "reflection"):
        for _align in (False, True):
            _suffix = f"{_mode}_{_padding}" + ("_align_corners" if _align else "")
            register(f"grid_sample_{_suffix}", _inputs(_mode, _align))(
                lambda U, grid, m=_mode, p=_padding, a=_align: grid_sample(U, grid, m, p, a)
            )
            register(f"reference_sample_{_suffix}", _inputs(_mode, _align))(
                lambda U, grid, k=KERNELS[_mode], p=_padding, a=_align: reference_sample(U, grid, k, p, a)
            )

# A kernel of the user's own, through the literal sampler: a triangle of radius 2 (its kinks are
# at the integers, which the points avoid).
WIDE_TRIANGLE = Kernel(
    "wide triangle",
    k=lambda d: np.maximum(1 - np.abs(d) / 2, 0) / 2,
    dk=lambda d: np.where(np.abs(d) < 2, -np.sign(d) / 4, 0.0).astype(d.dtype),
    radius=2,
)
register("reference_sample_custom_kernel_border", _inputs("bilinear", False))(
    lambda U, grid: reference_sample(U, grid, WIDE_TRIANGLE, "border", False)
)
