"""Differentiable image sampling: coordinates, kernels, samplers, grid generators and transform families.

The public names below are also the sampling part of :mod:`stn_np.functional` (which imports
this list rather than repeating it). The ops behind them (``GridSampleFunction``,
``AffineGridFunction``, ...) stay in their modules.
"""

from .coords import (axis_sizes, coordinate_scale, identity_grid, normalized_to_pixel, pixel_size, pixel_to_normalized,
                     sample_points)
from .families import FAMILIES, TransformFamily, get_family
from .grid_sample import grid_sample
from .grids import (
    affine_grid,
    attention_grid,
    displacement_grid,
    projective_grid,
    tps_control_points,
    tps_grid,
    tps_transform_points,
)
from .kernels import BICUBIC, BILINEAR, INTEGER, KERNELS, Kernel
from .matrix import sampling_matrix
from .padding import PADDING_MODES
from .reference import reference_sample

__all__ = [
    "BICUBIC", "BILINEAR", "FAMILIES", "INTEGER", "KERNELS", "Kernel", "PADDING_MODES", "TransformFamily",
    "affine_grid", "attention_grid", "axis_sizes", "coordinate_scale", "displacement_grid", "get_family", "grid_sample",
    "identity_grid", "normalized_to_pixel", "pixel_size", "pixel_to_normalized", "projective_grid",
    "reference_sample", "sample_points", "sampling_matrix", "tps_control_points", "tps_grid", "tps_transform_points",
]
