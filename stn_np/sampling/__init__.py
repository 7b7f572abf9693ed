"""Differentiable image sampling: coordinates, grids, kernels and samplers."""

from .coords import identity_grid, normalized_to_pixel, pixel_to_normalized

__all__ = ["identity_grid", "normalized_to_pixel", "pixel_to_normalized"]
