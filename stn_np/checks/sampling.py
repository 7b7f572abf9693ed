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

Volumes (names with ``_3d``): the same samplers on (N, C, D, H, W) = (2, 2, 2, 3, 4) sampled
at (N, 2, 2, 3, 3) grids, for PyTorch's two volumetric modes (bilinear is trilinear there)
and a kernel of the user's own.
"""

import numpy as np

from ..autograd.tensor import Tensor
from ..sampling import KERNELS, Kernel, grid_sample, reference_sample, sample_points
from . import register

SHAPE = (2, 2, 3, 4)  # N, C, H, W
OUT = (2, 3)  # H_out, W_out
SHAPE_3D = (2, 2, 2, 3, 4)  # N, C, D, H, W
OUT_3D = (2, 2, 3)  # D_out, H_out, W_out
MODES_3D = ("bilinear", "nearest")  # PyTorch's volumetric modes


def _inputs(mode, align_corners, volume=False):
    def make(rng):
        if volume:
            N, C, D, H, W = SHAPE_3D
            U = rng.standard_normal(SHAPE_3D)
            grid = sample_points(rng, N, H, W, *OUT_3D[1:], mode, align_corners, D=D, D_out=OUT_3D[0])
        else:
            N, C, H, W = SHAPE
            U = rng.standard_normal(SHAPE)
            grid = sample_points(rng, N, H, W, *OUT, mode, align_corners)
        if mode == "nearest":
            return U, Tensor(grid)  # the grid is a constant: its gradient is zero, not checked here
        return U, grid

    return make


for _volume, _modes in ((False, KERNELS), (True, MODES_3D)):
    for _mode in _modes:
        for _padding in ("zeros", "border", "reflection"):
            for _align in (False, True):
                _suffix = ("3d_" if _volume else "") + f"{_mode}_{_padding}" + ("_align_corners" if _align else "")
                register(f"grid_sample_{_suffix}", _inputs(_mode, _align, _volume))(
                    lambda U, grid, m=_mode, p=_padding, a=_align: grid_sample(U, grid, m, p, a)
                )
                register(f"reference_sample_{_suffix}", _inputs(_mode, _align, _volume))(
                    lambda U, grid, m=_mode, p=_padding, a=_align: reference_sample(U, grid, m, p, a)
                )

# The central subgradient: off the kinks it is the derivative, through the wider window of taps.
for _mode in ("bilinear", "bicubic"):
    for _padding in ("zeros", "reflection"):
        register(f"grid_sample_{_mode}_{_padding}_central", _inputs(_mode, True))(
            lambda U, grid, m=_mode, p=_padding: grid_sample(U, grid, m, p, True, subgradient="central")
        )
register("grid_sample_3d_bilinear_border_central", _inputs("bilinear", False, volume=True))(
    lambda U, grid: grid_sample(U, grid, "bilinear", "border", False, subgradient="central")
)
register("reference_sample_bilinear_border_central", _inputs("bilinear", False))(
    lambda U, grid: reference_sample(U, grid, "bilinear", "border", False, subgradient="central")
)

# A kernel of the user's own, through both samplers: a triangle of radius 2, halved so it sums to
# one, with right derivatives at its kinks (the integers, which the points avoid).
WIDE_TRIANGLE = Kernel(
    "wide triangle",
    k=lambda d: np.maximum(1 - np.abs(d) / 2, 0) / 2,
    dk=lambda d: np.where((d >= -2) & (d < 0), 0.25, np.where((d >= 0) & (d < 2), -0.25, 0.0)).astype(d.dtype),
    radius=2,
)
for _padding in ("zeros", "border", "reflection"):
    register(f"grid_sample_custom_kernel_{_padding}", _inputs("bilinear", False))(
        lambda U, grid, p=_padding: grid_sample(U, grid, WIDE_TRIANGLE, p, False)
    )
register("reference_sample_custom_kernel_border", _inputs("bilinear", False))(
    lambda U, grid: reference_sample(U, grid, WIDE_TRIANGLE, "border", False)
)
register("grid_sample_3d_custom_kernel_reflection", _inputs("bilinear", True, volume=True))(
    lambda U, grid: grid_sample(U, grid, WIDE_TRIANGLE, "reflection", True)
)
