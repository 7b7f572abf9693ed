r"""The transformation families ``T_theta``: the one place that knows each family.

A spatial transformer, ``register``, the gradient-check registry and the tests all ask this
registry (never their own lists) what a family's parameters look like, what its identity is
and which grid generator it uses. Adding a family means adding one :class:`TransformFamily`
to :data:`FAMILIES` here; everything that iterates over the families picks it up.

==============  ============================  ==================================  ===========
family          parameters (no batch axis)    identity                            generator
==============  ============================  ==================================  ===========
``affine``      theta (2, 3); 3-D: (3, 4)     [[1, 0, 0], [0, 1, 0]]; eye(3, 4)   affine_grid
``attention``   (3,) = (s, tx, ty)            (1, 0, 0)                           attention_grid
``projective``  (8,) = (h0, ..., h7)          (1, 0, 0, 0, 1, 0, 0, 0)            projective_grid
``tps``         offsets (K, 2), K = rows*cols zeros                               tps_grid
``dense``       flow (H_out, W_out, 2);       zeros                               displacement_grid
                3-D: (D_out, H_out, W_out, 3)
==============  ============================  ==================================  ===========

The first four are *parametric*: a fixed number of parameters in normalised coordinates,
meaning the same warp at every output size (a spatial transformer's regressor predicts
them). ``dense`` is a field with one displacement per output pixel, in pixels of the input
image, so its shape follows the output size and its grid needs the input's size.

``affine`` and ``dense`` are volumetric too (:attr:`TransformFamily.spatial_dims`): a 5-D
``size`` (N, C, D, H, W), or ``spatial_dims=3`` where no size is given, selects the 3-D form;
the others are 2-D only and say so.

Examples
--------
>>> import numpy as np
>>> family = get_family("affine")
>>> family.identity(batch=2).shape, family.num_params()
((2, 2, 3), 6)
>>> grid = family.grid(family.identity(batch=1), (1, 1, 3, 4))
>>> from stn_np.sampling import identity_grid
>>> bool(np.array_equal(grid.data[0], identity_grid(3, 4)))
True
>>> [f.name for f in FAMILIES.values() if f.parametric]
['affine', 'attention', 'projective', 'tps']
>>> family.identity(spatial_dims=3).shape, FAMILIES["dense"].shape((1, 1, 4, 5, 6))
((3, 4), (4, 5, 6, 3))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..validation import check_bool, check_choice, check_dtype, check_int, check_memory, fail
from .coords import SPATIAL_DIMS
from .grid_affine import affine_grid, attention_grid
from .grid_displacement import displacement_grid
from .grid_projective import projective_grid
from .grid_tps import check_control_points, tps_grid

__all__ = ["TransformFamily", "FAMILIES", "PARAMETRIC", "get_family"]


@dataclass(frozen=True)
class TransformFamily:
    """One transformation family: parameter shape, identity, grid generator, test parameters.

    Attributes
    ----------
    name : str
        The family's name (``transform=`` everywhere).
    generator : callable
        The grid generator, ``generator(params, size, align_corners, **options)`` for parametric
        families and ``generator(params, input_size, align_corners)`` for ``dense``.
    parametric : bool
        True when the parameters are a fixed-size vector in normalised coordinates.
    options : tuple of str
        Keyword options the family takes (``control_points`` for ``tps``); others are ignored,
        so callers may pass one set of options to every family.
    description : str
        The parameters as the documentation names them.
    spatial_dims : tuple of int
        The grids it makes: (2,) for images only, (2, 3) for images and volumes. Every method
        takes ``spatial_dims``; where it is not given, a ``size`` of 5 ints means 3 and
        otherwise it is 2.
    """

    name: str
    generator: Callable
    parametric: bool
    description: str
    _shape: Callable
    _identity_row: Callable
    _perturb: Callable
    options: tuple = ()
    spatial_dims: tuple = (2,)

    def _dims(self, spatial_dims, size, function):
        """The number of spatial axes asked for: ``spatial_dims``, else from ``size``, else 2; checked."""
        here = f"TransformFamily({self.name!r}).{function}"
        argument = "spatial_dims"
        if spatial_dims is None:
            argument = "size"
            spatial_dims = 3 if isinstance(size, (tuple, list)) and len(size) == 5 else 2
        check_choice(spatial_dims, SPATIAL_DIMS, here, argument)
        if spatial_dims not in self.spatial_dims:
            expected = "(N, C, H_out, W_out)" if argument == "size" else "2"
            fail(here, argument, f"{expected}: the {self.name} family is 2-D only",
                 size if argument == "size" else spatial_dims)
        return spatial_dims

    def _own(self, options):
        own = {k: v for k, v in options.items() if k in self.options}
        if "control_points" in own:
            own["control_points"] = check_control_points(own["control_points"], "TransformFamily")
        return own

    def shape(self, size=None, spatial_dims=None, **options):
        """Shape of one sample's parameters; ``size`` = (N, C, [D_out,] H_out, W_out) for ``dense``."""
        if not self.parametric and size is None:
            fail(f"TransformFamily({self.name!r}).shape", "size", "(N, C, H_out, W_out) for a dense family", size)
        d = self._dims(spatial_dims, size, "shape")
        if not self.parametric and (not isinstance(size, (tuple, list)) or len(size) != d + 2):
            fail(f"TransformFamily({self.name!r}).shape", "size",
                 "(N, C, H_out, W_out)" if d == 2 else "(N, C, D_out, H_out, W_out)", size)
        return tuple(self._shape(size, d, **self._own(options)))

    def num_params(self, size=None, spatial_dims=None, **options):
        """Number of parameters per sample (a spatial transformer's regressor outputs)."""
        return math.prod(self.shape(size, spatial_dims, **options))

    def identity(self, batch=None, dtype=np.float64, size=None, spatial_dims=None, **options):
        """The identity parameters, shape ``shape()`` or ``(batch,) + shape()`` (a new array)."""
        shape = self.shape(size, spatial_dims, **options)
        here = f"TransformFamily({self.name!r}).identity"
        batch = None if batch is None else check_int(batch, here, "batch", minimum=0)
        check_memory((batch or 1, *shape), check_dtype(dtype, here, "dtype"), here, "batch", "parameters")
        row = np.asarray(self._identity_row(shape), dtype=dtype).reshape(shape)
        return row.copy() if batch is None else np.tile(row, (batch,) + (1,) * len(shape))

    def grid(self, params, size, align_corners=False, input_size=None, **options):
        """The sampling grid (N, H_out, W_out, 2) of ``params`` for an output of ``size``.

        ``input_size`` (N, C, H_in, W_in) is used by ``dense`` only, whose flow is in input
        pixels (default: the output's size); the parametric families are in normalised units.
        A 5-D ``size`` (N, C, D_out, H_out, W_out) gives a volumetric grid (N, D_out, H_out,
        W_out, 3), for the families that have one.
        """
        self._dims(None, size, "grid")
        if self.parametric:
            return self.generator(params, size, align_corners=align_corners, **self._own(options))
        return self.generator(params, input_size=input_size, align_corners=align_corners)

    def near_identity(self, rng, batch, scale=1.0, size=None, spatial_dims=None, **options):
        """Random float64 parameters around the identity, for tests and gradient checks.

        ``scale`` multiplies the perturbation (1: a visible warp that keeps every grid
        well defined, e.g. a projective denominator within [0.6, 1.4]).
        """
        shape = self.shape(size, spatial_dims, **options)
        identity = self.identity(batch, np.float64, size, spatial_dims, **options)
        return identity + scale * self._perturb(rng, (batch,) + shape)


def _projective_perturbation(rng, shape):
    p = 0.15 * rng.standard_normal(shape)
    p[..., 6:] = rng.uniform(-0.2, 0.2, shape[:-1] + (2,))  # |h6 x + h7 y| <= 0.4 keeps w in [0.6, 1.4]
    return p


FAMILIES = {
    f.name: f
    for f in (
        TransformFamily("affine", affine_grid, True, "theta (N, 2, 3), or (N, 3, 4) for volumes",
                        lambda size, d: (d, d + 1), lambda shape: np.eye(*shape),
                        lambda rng, shape: 0.2 * rng.standard_normal(shape), spatial_dims=(2, 3)),
        TransformFamily("attention", attention_grid, True, "(N, 3) = (s, tx, ty)",
                        lambda size, d: (3,), lambda shape: [1.0, 0.0, 0.0],
                        lambda rng, shape: 0.2 * rng.standard_normal(shape)),
        TransformFamily("projective", projective_grid, True, "(N, 8) = (h0, ..., h7)",
                        lambda size, d: (8,), lambda shape: [1.0, 0, 0, 0, 1.0, 0, 0, 0],
                        _projective_perturbation),
        TransformFamily("tps", tps_grid, True, "offsets (N, K, 2), K = rows * cols",
                        lambda size, d, control_points=(4, 4): (control_points[0] * control_points[1], 2),
                        np.zeros, lambda rng, shape: 0.1 * rng.standard_normal(shape),
                        options=("control_points",)),
        TransformFamily("dense", displacement_grid, False,
                        "flow (N, H_out, W_out, 2) in input pixels, or (N, D_out, H_out, W_out, 3) in voxels",
                        lambda size, d: tuple(size[2:]) + (d,), np.zeros,
                        lambda rng, shape: rng.standard_normal(shape), spatial_dims=(2, 3)),
    )
}

#: Names of the parametric families (those a spatial transformer can regress).
PARAMETRIC = tuple(name for name, f in FAMILIES.items() if f.parametric)


def get_family(name, function="get_family", parametric=False):
    """The :class:`TransformFamily` called ``name`` (only parametric ones when ``parametric``).

    Raises
    ------
    ValueError
        Naming ``function`` (the caller, for the message) and the known families, when there is
        none called ``name``.
    """
    parametric = check_bool(parametric, function, "parametric")
    return FAMILIES[check_choice(name, PARAMETRIC if parametric else tuple(FAMILIES), function, "transform")]
