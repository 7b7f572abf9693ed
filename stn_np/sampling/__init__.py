"""Differentiable image sampling: coordinates, grids, kernels and samplers."""

from .coords import identity_grid, normalized_to_pixel, pixel_to_normalized
from .grids import (
    affine_grid,
    attention_grid,
    displacement_grid,
    projective_grid,
    tps_control_points,
    tps_grid,
    tps_transform_points,
)
from .grid_sample import GridSampleFunction, grid_sample
from .kernels import BICUBIC, BILINEAR, INTEGER, Kernel, ReferenceSampleFunction, reference_sample
from .matrix import sampling_matrix

__all__ = ["identity_grid", "normalized_to_pixel", "pixel_to_normalized"]
__all__ += [
    "affine_grid",
    "attention_grid",
    "displacement_grid",
    "projective_grid",
    "tps_control_points",
    "tps_grid",
    "tps_transform_points",
]
__all__ += ["BICUBIC", "BILINEAR", "INTEGER", "GridSampleFunction", "Kernel", "ReferenceSampleFunction", "grid_sample",
            "reference_sample", "sampling_matrix"]
