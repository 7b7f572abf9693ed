"""Image registration through the differentiable sampler.

Align a moving image to a fixed one by gradient descent on a transformation's parameters,
through the same grid generators, sampler and hand-derived backwards a spatial transformer
trains with: ``grid_sample(moving, result.grid)`` approximates ``fixed``.

Modules: :mod:`~.register` (the coarse-to-fine driver and its result), :mod:`~.schedules` (how each
transformation family of :mod:`stn_np.sampling.families` is fitted), :mod:`~.pyramid` (image pyramids built with the sampler),
:mod:`~.losses` (MSE, NCC and the diffusion penalty), :mod:`~.transforms` (affine utilities
and OpenCV pixel matrices), :mod:`~.jacobian` (Jacobian determinants and folds).
"""

from .jacobian import flow_to_grid, jacobian_determinant
from .losses import diffusion_penalty, ncc_loss
from .schedules import TRANSFORMS
from .register import RegistrationResult, register
from .transforms import compose_affine, invert_affine, pixel_to_theta, theta_to_pixel

__all__ = [
    "RegistrationResult",
    "TRANSFORMS",
    "compose_affine",
    "diffusion_penalty",
    "flow_to_grid",
    "invert_affine",
    "jacobian_determinant",
    "ncc_loss",
    "pixel_to_theta",
    "register",
    "theta_to_pixel",
]
