"""Gradient checks of the grid generators: small sizes, both align_corners, parameters near
the identity (where a spatial transformer starts training), float64.

One case per transform family of :mod:`stn_np.sampling.families` and align_corners, with the
family's own near-identity parameters (a new family is checked without touching this file),
one more per volumetric form (``_3d``: families with a 3-D form, on a 2 x 3 x 4 output), plus
the generators' other options. The grids are linear in theta, (s, t), offsets and flow,
and smooth in the homography's parameters while its denominator stays away from 0 (the
family's sampler keeps it within [0.6, 1.4]).
"""

import numpy as np

from ..sampling.families import FAMILIES
from ..sampling.grids import displacement_grid, tps_grid, tps_transform_points
from . import register

SIZE = (2, 1, 3, 4)  # N, C, H_out, W_out
SIZE_3D = (2, 1, 2, 3, 4)  # N, C, D_out, H_out, W_out
# Fixed, not random: constants of the function being checked must not move between evaluations.
TPS_POINTS = np.array([[-0.9, -0.3], [0.2, 0.7], [0.55, -1.0], [1.2, 0.4], [-0.35, 0.05]])


def _near_identity(family, size=SIZE, **options):
    return lambda rng: (family.near_identity(rng, size[0], size=size, **options),)


for _family in FAMILIES.values():
    for _size in (SIZE, SIZE_3D) if 3 in _family.spatial_dims else (SIZE,):
        for _ac in (False, True):
            _name = _family.generator.__name__ + ("_3d" if len(_size) == 5 else "") + ("_align_corners" if _ac else "")
            register(_name, _near_identity(_family, _size))(lambda p, f=_family, s=_size, ac=_ac: f.grid(p, s, ac))


def _offsets(k):
    return lambda rng: (0.1 * rng.standard_normal((SIZE[0], k, 2)),)


register("tps_grid_2x3_align_corners", _offsets(6))(lambda d: tps_grid(d, SIZE, (2, 3), align_corners=True))
register("tps_transform_points", _offsets(9))(lambda d: tps_transform_points(d, TPS_POINTS, (3, 3)))
register("displacement_grid_input_size_align_corners", _near_identity(FAMILIES["dense"]))(
    lambda f: displacement_grid(f, (SIZE[0], 1, 6, 5), align_corners=True)
)
register("displacement_grid_3d_input_size", _near_identity(FAMILIES["dense"], SIZE_3D))(
    lambda f: displacement_grid(f, (SIZE_3D[0], 1, 3, 6, 5))
)
