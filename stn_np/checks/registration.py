"""Gradient checks of the registration losses: NCC (plain and overlap-weighted), Mattes mutual
information, masked MSE and the diffusion penalty (of image and volume flows), plus NCC and MI
through the sampler and an affine grid (the registration objective's own chain, also for
volumes), in float64.

Images are random (no sampling point on a pixel boundary: theta is drawn near the identity
with a shift that keeps the affine grid's points off the integers with probability one). The
MI cases fix the histogram ranges (the op's constants) a margin outside the values, so no
position is clipped and no finite-difference step crosses a range.
"""

import numpy as np

from ..registration.losses import diffusion_penalty, masked_mse_loss, mi_loss, ncc_loss
from ..sampling.grid_affine import affine_grid
from ..sampling.grid_sample import grid_sample
from . import register


def _pair(shape):
    def make(rng):
        x = rng.standard_normal(shape)
        return x, 0.6 * x + 0.8 * rng.standard_normal(shape)  # correlated, so r is away from 0 and 1

    return make


def _theta_and_images(rng):
    theta = np.eye(2, 3)[None] + 0.05 * rng.standard_normal((1, 2, 3))
    return theta, rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((1, 2, 4, 5))


def _theta_and_volumes(rng):
    theta = np.eye(3, 4)[None] + 0.05 * rng.standard_normal((1, 3, 4))
    return theta, rng.standard_normal((1, 2, 4, 5, 6)), rng.standard_normal((1, 2, 3, 4, 5))


def _mask(shape, seed=7):
    """A fixed 0/1 overlap mask with some zeros (drawn from its own seed: a constant, not an input)."""
    return (np.random.default_rng(seed).random(shape) > 0.3).astype(np.float64)


def _mi_pair(shape):
    def make(rng):
        x = rng.uniform(0.05, 0.95, shape)
        return x, np.cos(5 * x) + 0.2 * rng.uniform(-1, 1, shape)  # a non-monotonic relation plus noise

    return make


register("ncc_loss", _pair((2, 1, 3, 4)))(lambda x, y: ncc_loss(x, y))
register("ncc_loss_multichannel_eps", _pair((1, 3, 2, 3)))(lambda x, y: ncc_loss(x, y, eps=0.5))
register("ncc_loss_masked", _pair((2, 1, 4, 5)))(lambda x, y: ncc_loss(x, y, weight=_mask((2, 1, 4, 5))))
register("masked_mse_loss", _pair((1, 2, 4, 5)))(lambda x, y: masked_mse_loss(x, y, weight=_mask((1, 1, 4, 5))))
register("mi_loss", _mi_pair((1, 1, 6, 7)))(
    lambda x, y: mi_loss(x, y, bins=12, x_range=(0.0, 1.0), y_range=(-1.3, 1.3)))
register("mi_loss_masked", _mi_pair((1, 1, 6, 7)))(
    lambda x, y: mi_loss(x, y, weight=_mask((1, 1, 6, 7)), bins=10, x_range=(0.0, 1.0), y_range=(-1.3, 1.3)))
register("diffusion_penalty", lambda rng: (rng.standard_normal((2, 3, 4, 2)),))(diffusion_penalty)
register("diffusion_penalty_one_row", lambda rng: (rng.standard_normal((1, 1, 5, 2)),))(diffusion_penalty)
register("diffusion_penalty_3d", lambda rng: (rng.standard_normal((2, 3, 4, 5, 3)),))(diffusion_penalty)
register("diffusion_penalty_3d_one_slice", lambda rng: (rng.standard_normal((1, 1, 3, 4, 3)),))(diffusion_penalty)
register("masked_mse_loss_3d", _pair((1, 2, 3, 4, 5)))(
    lambda x, y: masked_mse_loss(x, y, weight=_mask((1, 1, 3, 4, 5))))
register("ncc_registration_objective_3d_masked", _theta_and_volumes)(
    lambda theta, moving, fixed: ncc_loss(grid_sample(moving, affine_grid(theta, (1, 2, 3, 4, 5))), fixed,
                                          weight=_mask((1, 1, 3, 4, 5))))
register("ncc_registration_objective", _theta_and_images)(
    lambda theta, moving, fixed: ncc_loss(grid_sample(moving, affine_grid(theta, (1, 2, 4, 5))), fixed)
)
register("mi_registration_objective_masked", _theta_and_images)(
    lambda theta, moving, fixed: mi_loss(grid_sample(moving, affine_grid(theta, (1, 2, 4, 5))), fixed,
                                         weight=_mask((1, 1, 4, 5)), bins=10, x_range=(-4.0, 4.0), y_range=(-4.0, 4.0))
)
