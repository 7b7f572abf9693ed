"""Gradient checks of the grid generators: small sizes, both align_corners, parameters near
the identity (where a spatial transformer starts training), float64.

The grids are linear in theta, (s, t), offsets and flow, and smooth in the homography's
parameters while its denominator stays away from 0 (here it stays within [0.6, 1.4]).
"""

import numpy as np

from ..sampling.grids import (
    affine_grid,
    attention_grid,
    displacement_grid,
    projective_grid,
    tps_grid,
    tps_transform_points,
)
from . import register

SIZE = (2, 1, 3, 4)  # N, C, H_out, W_out
IDENTITY_PROJECTIVE = np.array([1.0, 0, 0, 0, 1, 0, 0, 0])
# Fixed, not random: constants of the function being checked must not move between evaluations.
TPS_POINTS = np.array([[-0.9, -0.3], [0.2, 0.7], [0.55, -1.0], [1.2, 0.4], [-0.35, 0.05]])


def _theta(rng):
    return (np.eye(2, 3) + 0.2 * rng.standard_normal((SIZE[0], 2, 3)),)


def _attention(rng):
    return (np.array([1.0, 0.0, 0.0]) + 0.2 * rng.standard_normal((SIZE[0], 3)),)


def _projective(rng):
    h = IDENTITY_PROJECTIVE + 0.15 * rng.standard_normal((SIZE[0], 8))
    h[:, 6:] = rng.uniform(-0.2, 0.2, (SIZE[0], 2))  # |h6 x + h7 y| <= 0.4 keeps w in [0.6, 1.4]
    return (h,)


def _offsets(k):
    return lambda rng: (0.1 * rng.standard_normal((SIZE[0], k, 2)),)


def _flow(h, w):
    return lambda rng: (rng.standard_normal((SIZE[0], h, w, 2)),)


for ac in (False, True):
    suffix = "_align_corners" if ac else ""
    register(f"affine_grid{suffix}", _theta)(lambda t, ac=ac: affine_grid(t, SIZE, ac))
    register(f"attention_grid{suffix}", _attention)(lambda p, ac=ac: attention_grid(p, SIZE, ac))
    register(f"projective_grid{suffix}", _projective)(lambda h, ac=ac: projective_grid(h, SIZE, ac))

register("tps_grid", _offsets(16))(lambda d: tps_grid(d, SIZE))
register("tps_grid_2x3_align_corners", _offsets(6))(lambda d: tps_grid(d, SIZE, (2, 3), align_corners=True))
register("tps_transform_points", _offsets(9))(lambda d: tps_transform_points(d, TPS_POINTS, (3, 3)))
register("displacement_grid", _flow(3, 4))(lambda f: displacement_grid(f))
register("displacement_grid_input_size_align_corners", _flow(3, 4))(
    lambda f: displacement_grid(f, (SIZE[0], 1, 6, 5), align_corners=True)
)
