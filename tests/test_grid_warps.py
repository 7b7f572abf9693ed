"""Grids through the sampler: warping an image with a displacement, TPS or projective grid
moves its content as the parameters say, and gradients reach the parameters."""

import numpy as np
import pytest

import stn_np
import stn_np.functional as F


H, W = 5, 6


def shifted_left(image, pixels):
    """The image read ``pixels`` columns to the right: content moves left, zeros enter."""
    out = np.zeros_like(image)
    out[..., : W - pixels] = image[..., pixels:]
    return out


def warps_by_one_pixel(align_corners):
    """Each generator's parameters for 'read one input pixel to the right' on an H x W image."""
    step = 2 / (W - 1) if align_corners else 2 / W  # one pixel in normalised units
    flow = np.zeros((1, H, W, 2))
    flow[..., 0] = 1.0
    h = np.array([[1.0, 0, step, 0, 1, 0, 0, 0]])
    offsets = np.tile([step, 0.0], (1, 16, 1))
    size = (1, 2, H, W)
    return {
        "displacement": lambda: F.displacement_grid(flow, align_corners=align_corners),
        "projective": lambda: F.projective_grid(h, size, align_corners),
        "tps": lambda: F.tps_grid(offsets, size, align_corners=align_corners),
    }


@pytest.mark.parametrize("generator", ["displacement", "projective", "tps"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_one_pixel_warp_shifts_the_image(generator, align_corners, rng):
    image = rng.standard_normal((1, 2, H, W))
    grid = warps_by_one_pixel(align_corners)[generator]()
    out = F.grid_sample(image, grid, align_corners=align_corners)
    np.testing.assert_allclose(out.data, shifted_left(image, 1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("generator", ["projective", "tps"])
def test_gradients_reach_the_parameters_through_the_sampler(generator, rng):
    image = rng.standard_normal((2, 2, H, W))
    if generator == "projective":
        params = np.array([1.0, 0, 0, 0, 1, 0, 0, 0]) + 0.1 * rng.standard_normal((2, 8))
        make = lambda p: F.projective_grid(p, (2, 2, 4, 3))
    else:
        params = 0.1 * rng.standard_normal((2, 16, 2))
        make = lambda p: F.tps_grid(p, (2, 2, 4, 3))
    # Generic parameters put no sampling point on a pixel boundary, where bilinear has kinks.
    grid = make(params).data
    for pixels in (F.normalized_to_pixel(grid[..., 0], W), F.normalized_to_pixel(grid[..., 1], H)):
        assert np.abs(pixels - np.round(pixels)).min() > 1e-4
    assert stn_np.gradcheck(lambda im, p: F.grid_sample(im, make(p)), (image, params), atol=1e-6, rtol=1e-4)
