"""Image registration through the differentiable sampler.

Align a moving image to a fixed one by gradient descent on a transformation's parameters,
through the same grid generators, sampler and hand-derived backwards a spatial transformer
trains with: ``grid_sample(moving, result.grid)`` approximates ``fixed``.

Images (H, W) or (C, H, W) by default; volumes (D, H, W) or (C, D, H, W) with
``register(..., spatial_dims=3)`` (affine and dense).

Modules: :mod:`~.register` (the driver: global start, coarse-to-fine Adam, bicubic
Gauss-Newton finish, and its result), :mod:`~.schedules` (each family's optimisation
defaults), :mod:`~.initialise` (the global start and the overlap mask), :mod:`~.pyramid`
(Gaussian image pyramids), :mod:`~.losses` (MSE, NCC, Mattes mutual information, each
overlap-weighted, and the diffusion penalty), :mod:`~.transforms` (affine utilities and
OpenCV pixel matrices), :mod:`~.jacobian` (Jacobian determinants and folds),
:mod:`~.samples` (matplotlib's test images, the ellipsoid phantom volume, random warps).
"""

from .jacobian import flow_to_grid, jacobian_determinant
from .initialise import global_search, overlap_mask
from .losses import diffusion_penalty, masked_mse_loss, mi_loss, ncc_loss
from .schedules import TRANSFORMS
from .register import RegistrationResult, register
from .transforms import compose_affine, invert_affine, pixel_to_theta, theta_to_pixel

__all__ = [
    "RegistrationResult",
    "TRANSFORMS",
    "compose_affine",
    "diffusion_penalty",
    "flow_to_grid",
    "global_search",
    "invert_affine",
    "jacobian_determinant",
    "masked_mse_loss",
    "mi_loss",
    "ncc_loss",
    "overlap_mask",
    "pixel_to_theta",
    "register",
    "theta_to_pixel",
]
