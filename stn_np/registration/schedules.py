"""How :func:`~stn_np.registration.register` fits each transformation family: its Adam schedule.

The families themselves (parameters, identity, grid generator) live in one registry,
:mod:`stn_np.sampling.families`; every family there can be registered. This module adds only
what registration needs on top: the optimiser's step and budget per family, the dense
flow's regulariser, and how parameters carry from one pyramid level to the next.

Parameters of the normalised-coordinate (parametric) families mean the same warp at every
pyramid level and carry over unchanged; the dense flow is in pixels of the moving image at
its level, so it is resampled and rescaled when moving to a finer level.

==============  ======  ===============  ===============
family          Adam    steps per level  lr per level
==============  ======  ===============  ===============
affine          0.02    150, 40, 40      x 0.1
attention       0.02    150, 40, 40      x 0.1
projective      0.02    200, 100, 50     x 0.1
tps             0.02    200, 100, 50     x 0.1
dense           0.2     200, 150, 100    x 0.5
(any other)     0.02    150, 40, 40      x 0.1
==============  ======  ===============  ===============

With ``register(refine=True)`` (the default) a parametric family's finest level gets 0 Adam
steps unless ``steps`` is given: the bicubic Gauss-Newton refinement fits the full resolution.
Volumes (``spatial_dims=3``: ``affine`` and ``dense``) use the same schedules; their finish is
trilinear. The dense flow's default budget is the one measured on images; on the 64^3 phantom
of ``benchmarks/bench_registration.py --volume`` it lowers the MSE by 98% in about 12 s.
Since the global start (``init="auto"``) puts the descent within a few pixels, the middle
level needs 40 steps, not the 80 it took from the identity (measured on the protocol of
``benchmarks/bench_registration.py --protocol``: the same errors, 0.3 s less per 512 x 512 case).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sampling.coords import axis_sizes
from ..sampling.families import FAMILIES, TransformFamily, get_family
from .losses import diffusion_penalty
from .pyramid import resample

__all__ = ["Schedule", "SCHEDULES", "TRANSFORMS", "get_schedule"]


@dataclass(frozen=True)
class Schedule:
    """A transformation family and the optimisation defaults ``register`` fits it with.

    Attributes
    ----------
    family : TransformFamily
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
    control_points : (int, int)
        The TPS lattice (the family's option; ignored by the others).
    """

    family: TransformFamily
    lr: float = 0.02
    steps: tuple = (150, 40, 40)
    lr_per_level: float = 0.1
    control_points: tuple = (4, 4)

    @property
    def name(self):
        """The family's name."""
        return self.family.name

    @property
    def regularised(self):
        """Whether ``smoothness`` applies: the diffusion penalty of a non-parametric (dense) field."""
        return not self.family.parametric

    # ---------------------------------------------------------------- parameters
    # ``fixed`` and ``moving`` below are spatial shapes, (H, W) or (D, H, W): a volume's
    # 5-D size selects the family's volumetric form.
    def _size(self, fixed):
        return (1, 1, *fixed)

    def identity(self, fixed, dtype):
        """The identity parameters, with a batch axis of 1."""
        return self.family.identity(1, dtype, self._size(fixed), control_points=self.control_points)

    def shape(self, fixed):
        """The shape of the parameters without the batch axis, at a fixed image of spatial shape ``fixed``."""
        return self.family.shape(self._size(fixed), control_points=self.control_points)

    def grid(self, params, fixed, moving):
        """The (1, H, W, 2) or (1, D, H, W, 3) sampling grid at the fixed level's size, differentiable in ``params``."""
        return self.family.grid(params, self._size(fixed), input_size=(1, 1, *moving),
                                control_points=self.control_points)

    def penalty(self, params):
        """The regulariser (a scalar Tensor) of the dense flow; None for the parametric families."""
        return diffusion_penalty(params) if self.regularised else None

    def carry(self, params, old, new):
        """Parameters of level ``old`` = (fixed, moving) spatial shapes expressed at level ``new``.

        Normalised parameters carry over unchanged. The dense flow is resized to the new
        fixed size with the library's sampler and rescaled from old to new moving pixels
        (voxels), axis by axis.
        """
        if self.family.parametric:
            return params
        (_, old_moving), (new_fixed, new_moving) = old, new
        flow = np.moveaxis(resample(np.ascontiguousarray(np.moveaxis(params, -1, 1)), new_fixed), 1, -1)
        ratio = np.array(axis_sizes(tuple(new_moving)), dtype=params.dtype) / np.array(axis_sizes(tuple(old_moving)))
        return np.ascontiguousarray(flow * ratio.astype(params.dtype))


_TUNED = {
    "projective": dict(steps=(200, 100, 50)),
    "tps": dict(steps=(200, 100, 50)),
    "dense": dict(lr=0.2, steps=(200, 150, 100), lr_per_level=0.5),
}

#: The schedule of every family of the registry (the defaults where none was tuned).
SCHEDULES = {name: Schedule(family, **_TUNED.get(name, {})) for name, family in FAMILIES.items()}

#: The transformation families ``register`` can fit, by name.
TRANSFORMS = tuple(SCHEDULES)


def get_schedule(name, function="register"):
    """The :class:`Schedule` of the family called ``name``; ``ValueError`` listing the names otherwise."""
    return SCHEDULES[get_family(name, function).name]
