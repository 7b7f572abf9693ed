"""The transformation families ``register`` can fit: parameters -> sampling grid, per family.

Every model maps its parameters (with a leading batch axis of 1) to a grid at the fixed
image's level size through one of the library's grid generators, so the registration
gradient flows through the same ops a spatial transformer trains with. Parameters of the
normalised-coordinate families (affine, attention, projective, TPS) mean the same warp at
every pyramid level and carry over unchanged; the dense flow is in pixels of the moving
image at its level and is resampled and rescaled when moving to a finer level.

==============  ======================  =====================================================
transform       params (no batch axis)  meaning
==============  ======================  =====================================================
``affine``      theta (2, 3)            ``affine_grid``: output-normalised -> input-normalised
``attention``   (3,) = (s, tx, ty)      ``attention_grid``: isotropic scale + translation
``projective``  (8,) = (h0, ..., h7)    ``projective_grid``: homography with h33 = 1
``tps``         offsets (K, 2)          ``tps_grid``: control-point offsets, normalised units
``dense``       flow (H, W, 2)          ``displacement_grid``: per fixed pixel, (dx, dy) in
                                        pixels of the moving image, H x W the fixed image's
==============  ======================  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sampling.grids import (
    affine_grid,
    attention_grid,
    displacement_grid,
    projective_grid,
    tps_grid,
)
from .losses import diffusion_penalty
from .pyramid import resample

__all__ = ["Model", "MODELS", "TRANSFORMS", "get_model"]


@dataclass(frozen=True)
class Model:
    """One transformation family and its optimisation defaults.

    Attributes
    ----------
    name : str
    lr : float
        Adam's step at the coarsest level (parameter units per step, see ``register``).
    steps : tuple of int
        Maximum Adam steps per level, finest level LAST; fewer levels use the last entries.
    lr_per_level : float
        Factor applied to ``lr`` at each finer level (0.1 for normalised-coordinate
        parameters: a finer level only refines what the coarser one found, to a fraction of
        its smaller pixel; 0.5 for the dense flow: it is in pixels of its level, but a fresh
        Adam's first steps move every component by about ``lr`` whatever its gradient, and at
        the full step they undid the carried flow so that a level could stop, by patience,
        where it started).
    regularised : bool
        Whether ``smoothness`` applies (the diffusion penalty of the dense flow).
    """

    name: str
    lr: float
    steps: tuple
    lr_per_level: float = 0.1
    regularised: bool = False
    control_points: tuple = (4, 4)

    # ---------------------------------------------------------------- parameters
    def identity(self, fixed_hw, moving_hw, dtype):
        """The identity parameters, with a batch axis of 1."""
        if self.name == "affine":
            return np.eye(2, 3, dtype=dtype)[None]
        if self.name == "attention":
            return np.array([[1.0, 0.0, 0.0]], dtype=dtype)
        if self.name == "projective":
            return np.array([[1.0, 0, 0, 0, 1.0, 0, 0, 0]], dtype=dtype)
        if self.name == "tps":
            rows, cols = self.control_points
            return np.zeros((1, rows * cols, 2), dtype=dtype)
        return np.zeros((1, *fixed_hw, 2), dtype=dtype)

    def shape(self, fixed_hw):
        """The shape of the parameters without the batch axis, at a fixed image of ``fixed_hw``."""
        return self.identity(fixed_hw, fixed_hw, np.float64).shape[1:]

    def grid(self, params, fixed_hw, moving_hw):
        """The (1, H, W, 2) sampling grid at the fixed level's size, differentiable in ``params``."""
        size = (1, 1, *fixed_hw)
        if self.name == "affine":
            return affine_grid(params, size)
        if self.name == "attention":
            return attention_grid(params, size)
        if self.name == "projective":
            return projective_grid(params, size)
        if self.name == "tps":
            return tps_grid(params, size, control_points=self.control_points)
        return displacement_grid(params, size=(1, 1, *moving_hw))

    def penalty(self, params):
        """The regulariser (a scalar Tensor) of the dense flow; None for the parametric families."""
        return diffusion_penalty(params) if self.regularised else None

    def carry(self, params, old, new):
        """Parameters of level ``old`` = (fixed_hw, moving_hw) expressed at level ``new``.

        Normalised parameters carry over unchanged. The dense flow is resized to the new
        fixed size with the library's sampler and rescaled from old to new moving pixels.
        """
        if self.name != "dense":
            return params
        (_, old_moving), (new_fixed, new_moving) = old, new
        flow = resample(np.ascontiguousarray(params.transpose(0, 3, 1, 2)), new_fixed).transpose(0, 2, 3, 1)
        ratio = np.array([new_moving[1] / old_moving[1], new_moving[0] / old_moving[0]], dtype=params.dtype)
        return np.ascontiguousarray(flow * ratio)


MODELS = {
    m.name: m
    for m in (
        Model("affine", lr=0.02, steps=(150, 80, 40)),
        Model("attention", lr=0.02, steps=(150, 80, 40)),
        Model("projective", lr=0.02, steps=(200, 100, 50)),
        Model("tps", lr=0.02, steps=(200, 100, 50)),
        Model("dense", lr=0.2, steps=(200, 150, 100), lr_per_level=0.5, regularised=True),
    )
}

#: The transformation families, by name.
TRANSFORMS = tuple(MODELS)


def get_model(name):
    """The :class:`Model` called ``name``; ``ValueError`` listing the names otherwise."""
    if name not in MODELS:
        raise ValueError(f"transform: expected one of {', '.join(map(repr, TRANSFORMS))}, got {name!r}")
    return MODELS[name]
