"""Gradient checks of the registration losses: NCC and the diffusion penalty, plus NCC through
the sampler and an affine grid (the registration objective's own chain), in float64.

Images are random (no sampling point on a pixel boundary: theta is drawn near the identity
with a shift that keeps the affine grid's points off the integers with probability one).
"""

import numpy as np

from ..registration.losses import diffusion_penalty, ncc_loss
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


register("ncc_loss", _pair((2, 1, 3, 4)))(lambda x, y: ncc_loss(x, y))
register("ncc_loss_multichannel_eps", _pair((1, 3, 2, 3)))(lambda x, y: ncc_loss(x, y, eps=0.5))
register("diffusion_penalty", lambda rng: (rng.standard_normal((2, 3, 4, 2)),))(diffusion_penalty)
register("diffusion_penalty_one_row", lambda rng: (rng.standard_normal((1, 1, 5, 2)),))(diffusion_penalty)
register("ncc_registration_objective", _theta_and_images)(
    lambda theta, moving, fixed: ncc_loss(grid_sample(moving, affine_grid(theta, (1, 2, 4, 5))), fixed)
)
