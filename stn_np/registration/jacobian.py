"""The Jacobian determinant of a deformation: where it stretches, shrinks or folds.

A sampling grid maps each OUTPUT pixel to the INPUT point it reads. In pixel units of each
image (integer pixel centres, x along the width, y down) that map is

    (j, i)  ->  (u, v) = (normalized_to_pixel(grid_x, W_in), normalized_to_pixel(grid_y, H_in))

and its Jacobian determinant ``det [[du/dj, du/di], [dv/dj, dv/di]]`` is the area, in input
pixels, that one output pixel reads: 1 for the identity (and any rigid motion), ``s^2`` for
a map that scales distances by ``s``, and ``<= 0`` where the map folds (neighbouring output
pixels read the input in the wrong order; a physically impossible deformation).

Volumes alike, one axis up: voxel (k, i, j) -> (u, v, w) with ``w`` along the input's depth,
and the 3 x 3 determinant ``det [d(u, v, w) / d(j, i, k)]`` is the volume, in input voxels, that
one output voxel reads (``s^3`` for a scaling by ``s``, ``<= 0`` where the map folds).

Derivatives are finite differences between neighbouring pixels (``numpy.gradient``: central
inside, one-sided on the border), so the determinant is exact for affine maps. The 2 x 2 and
3 x 3 determinants are written out (the rule of Sarrus for 3 x 3), one value per pixel.
"""

from __future__ import annotations

import numpy as np

from ..sampling.coords import axis_sizes, identity_grid, normalized_to_pixel, pixel_size
from ..validation import check_bool, check_choice, check_size, fail, values_of

__all__ = ["jacobian_determinant", "flow_to_grid"]

_FIELDS = "(H, W, 2), (N, H, W, 2), (D, H, W, 3) or (N, D, H, W, 3)"
_LAYOUTS = {2: "(height, width)", 3: "(depth, height, width)"}


def _as_field(field, name, function):
    """The field as float64 and its number of spatial dimensions d (its last axis: 2 or 3)."""
    array = values_of(field)
    if array.dtype.kind not in "fiu":
        fail(function, name, "a real array", f"dtype {array.dtype}", TypeError)
    d = array.shape[-1] if array.ndim else 0
    if d not in (2, 3) or array.ndim not in (d + 1, d + 2):
        fail(function, name, f"shape {_FIELDS}", f"shape {array.shape}")
    if not np.all(np.isfinite(array)):
        fail(function, name, "finite values", "NaN or inf")
    return array.astype(np.float64), d


def _check_input_size(input_size, default, function):
    if input_size is None:
        return default
    d = len(default)
    return check_size(input_size, function, "input_size", length=d, layout=_LAYOUTS[d])


def _identity(spatial, align_corners):
    """The identity grid of a spatial shape (H, W) or (D, H, W)."""
    return identity_grid(*spatial[-2:], align_corners, depth=spatial[0] if len(spatial) == 3 else None)


def flow_to_grid(flow, input_size=None, align_corners=False):
    """The normalised grid of a displacement field in input pixels (as ``displacement_grid``).

    Parameters
    ----------
    flow : array_like, shape (H, W, 2), (N, H, W, 2), (D, H, W, 3) or (N, D, H, W, 3)
        Per output pixel, the displacement (dx, dy) in pixels of the input image (per output
        voxel, (dx, dy, dz) in voxels of the input volume).
    input_size : (height, width) or (depth, height, width), optional
        Size of the input image; default the flow's own spatial shape.
    align_corners : bool

    Returns
    -------
    ndarray of the flow's shape, float64
    """
    flow, d = _as_field(flow, "flow", "flow_to_grid")
    spatial = flow.shape[-d - 1:-1]
    input_size = _check_input_size(input_size, spatial, "flow_to_grid")
    align_corners = check_bool(align_corners, "flow_to_grid", "align_corners")
    scale = np.array([pixel_size(s, align_corners) for s in axis_sizes(input_size)])
    return _identity(spatial, align_corners) + flow * scale


def _determinant(m):
    """det of (..., d, d) matrices written out: 2 x 2 by the cross product, 3 x 3 by the rule of Sarrus."""
    if m.shape[-1] == 2:
        return m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
    return (m[..., 0, 0] * (m[..., 1, 1] * m[..., 2, 2] - m[..., 1, 2] * m[..., 2, 1])
            - m[..., 0, 1] * (m[..., 1, 0] * m[..., 2, 2] - m[..., 1, 2] * m[..., 2, 0])
            + m[..., 0, 2] * (m[..., 1, 0] * m[..., 2, 1] - m[..., 1, 1] * m[..., 2, 0]))


def jacobian_determinant(field, kind="grid", input_size=None, align_corners=False):
    """Per-pixel (per-voxel) Jacobian determinant of a deformation, and the fraction of folded pixels.

    Parameters
    ----------
    field : array_like or Tensor, shape (H, W, 2), (N, H, W, 2), (D, H, W, 3) or (N, D, H, W, 3)
        Either a sampling grid (normalised source points, ``kind="grid"``, as
        ``RegistrationResult.grid``) or a displacement field in input pixels (``kind="flow"``,
        as the ``dense`` transform's ``params`` and ``displacement_grid``'s ``flow``). The last
        axis says whether it deforms an image (2) or a volume (3).
    kind : {"grid", "flow"}
    input_size : (height, width) or (depth, height, width), optional
        Size of the input (moving) image the field reads, which sets the pixel units; default
        the field's own spatial shape.
    align_corners : bool
        The convention of the grid (or of the flow's grid).

    Returns
    -------
    det : ndarray, the field's shape without its last axis, float64
        The determinant of the map output pixel -> input pixel (input pixels of area, or input
        voxels of volume, per output pixel or voxel; see the module docstring): 1 for the
        identity, s**2 (s**3 in a volume) for a uniform scaling by s, <= 0 where the
        deformation folds.
    folded : float
        The fraction of pixels (voxels) with ``det <= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> flow = np.zeros((5, 5, 2))
    >>> det, folded = jacobian_determinant(flow, kind="flow")
    >>> float(det.min()), float(det.max()), folded
    (1.0, 1.0, 0.0)
    >>> from stn_np.sampling import identity_grid
    >>> det, _ = jacobian_determinant(0.5 * identity_grid(4, 6))   # reads a region half as wide and high
    >>> bool(np.allclose(det, 0.25))
    True
    >>> det, _ = jacobian_determinant(0.5 * identity_grid(4, 6, depth=5))   # and half as deep
    >>> det.shape, bool(np.allclose(det, 0.125))
    ((5, 4, 6), True)
    """
    check_choice(kind, ("grid", "flow"), "jacobian_determinant", "kind")
    align_corners = check_bool(align_corners, "jacobian_determinant", "align_corners")
    grid, d = _as_field(field, "field", "jacobian_determinant")
    spatial = grid.shape[-d - 1:-1]
    input_size = _check_input_size(input_size, spatial, "jacobian_determinant")
    if kind == "flow":
        grid = flow_to_grid(grid, input_size, align_corners)
    if align_corners and min(input_size) == 1:
        fail("jacobian_determinant", "input_size", "axes of at least 2 pixels with align_corners=True "
             "(a one-pixel axis has no pixel scale)", f"{tuple(input_size)}")
    if min(spatial) < 2:
        fail("jacobian_determinant", "field", f"at least {' x '.join(['2'] * d)} points for finite differences",
             " x ".join(map(str, spatial)))
    sizes = axis_sizes(input_size)  # (W, H[, D]): the grid's coordinate order
    axes = tuple(range(-d, 0))  # the spatial axes of one coordinate, ordered (D,) H, W
    # rows: the input coordinates (u, v[, w]); columns: the output's (x = j, y = i[, z = k]).
    # Output pixels are one unit apart, so plain index differences are derivatives per output pixel.
    rows = []
    for a in range(d):
        pixels = normalized_to_pixel(grid[..., a], sizes[a], align_corners, spatial_dims=d)
        rows.append(np.gradient(pixels, axis=axes)[::-1])  # d/d(D, H, W) reversed: d/d(x, y, z)
    det = _determinant(np.stack([np.stack(r, axis=-1) for r in rows], axis=-2))
    return det, float(np.mean(det <= 0))
