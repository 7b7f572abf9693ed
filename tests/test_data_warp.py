"""Pixel maps -> normalised theta: the coordinate conventions every data warp relies on."""

import numpy as np
import pytest

from stn_np import functional as F
from stn_np.data import rotation_matrix, similarity_theta, theta_from_pixel_map
from stn_np.data.warp import warp_affine


@pytest.mark.parametrize("in_hw, out_hw", [((28, 28), (42, 42)), ((64, 64), (28, 28)), ((5, 9), (7, 3))])
def test_theta_reproduces_the_pixel_map_at_every_output_pixel_centre(rng, in_hw, out_hw):
    n = 3
    matrix = rng.standard_normal((n, 2, 2))
    offset = rng.standard_normal((n, 2)) * 5
    theta = theta_from_pixel_map(matrix, offset, in_hw, out_hw)
    grid = F.affine_grid(theta, (n, 1) + out_hw, align_corners=False).data
    # Pixel centres of the output in continuous pixel coordinates (x, y).
    qx, qy = np.meshgrid(np.arange(out_hw[1]) + 0.5, np.arange(out_hw[0]) + 0.5)
    q = np.stack([qx, qy], axis=-1)
    expected = np.einsum("nij,hwj->nhwi", matrix, q) + offset[:, None, None, :]
    # ...and the grid read back in input pixels: u = (x + 1) W / 2.
    got = np.stack([(grid[..., 0] + 1) * in_hw[1] / 2, (grid[..., 1] + 1) * in_hw[0] / 2], axis=-1)
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_theta_shape_errors():
    with pytest.raises(ValueError, match="matrix"):
        theta_from_pixel_map(np.eye(2), np.zeros((1, 2)), (2, 2), (2, 2))
    with pytest.raises(ValueError, match="offset"):
        theta_from_pixel_map(np.eye(2)[None], np.zeros(2), (2, 2), (2, 2))


def test_rotation_is_counter_clockwise_on_screen_and_orthonormal(rng):
    r = rotation_matrix(rng.uniform(-180, 180, 5))
    np.testing.assert_allclose(r @ np.swapaxes(r, 1, 2), np.broadcast_to(np.eye(2), (5, 2, 2)), atol=1e-12)
    # y points down: a small positive turn moves the point (1, 0) upwards, to negative y.
    assert (rotation_matrix([10.0])[0] @ [1.0, 0.0])[1] < 0


def test_similarity_theta_maps_the_centre_to_position_with_scale(rng):
    n = 4
    angle, scale = rng.uniform(-90, 90, n), rng.uniform(0.5, 2, n)
    position = rng.uniform(10, 30, (n, 2))
    theta = similarity_theta(angle, scale, position, 42)
    # The output point `position` must read the input centre (normalised 0, 0); one output
    # pixel step along x reads 1 / scale input pixels away.
    grid_at = lambda q: np.einsum("nij,nj->ni", theta, np.concatenate([q / 21 - 1, np.ones((n, 1))], 1))  # noqa: E731
    np.testing.assert_allclose(grid_at(position), 0, atol=1e-12)
    step = (grid_at(position + [1.0, 0.0]) - grid_at(position)) * 14  # input pixels
    np.testing.assert_allclose(np.linalg.norm(step, axis=1), 1 / scale)


def test_a_whole_pixel_placement_copies_the_image_exactly(rng):
    image = rng.integers(0, 256, (1, 28, 28)).astype(np.float32)
    a, b = 5, 11  # columns a..a+27, rows b..b+27
    theta = similarity_theta([0.0], [1.0], [[14.0 + a, 14.0 + b]], 42)
    out = warp_affine(image, theta, (42, 42))
    np.testing.assert_allclose(out[0, b : b + 28, a : a + 28], image[0], atol=1e-3)
    mask = np.ones((42, 42), bool)
    mask[b : b + 28, a : a + 28] = False
    assert np.abs(out[0][mask]).max() < 1e-2  # float32 rounding only: 0 once stored as uint8
