"""The Jacobian determinant of a deformation: where it stretches, shrinks or folds.

A sampling grid maps each OUTPUT pixel to the INPUT point it reads. In pixel units of each
image (integer pixel centres, x along the width, y down) that map is

    (j, i)  ->  (u, v) = (normalized_to_pixel(grid_x, W_in), normalized_to_pixel(grid_y, H_in))

and its Jacobian determinant ``det [[du/dj, du/di], [dv/dj, dv/di]]`` is the area, in input
pixels, that one output pixel reads: 1 for the identity (and any rigid motion), ``s^2`` for
a map that scales distances by ``s``, and ``<= 0`` where the map folds (neighbouring output
pixels read the input in the wrong order; a physically impossible deformation). Derivatives
are finite differences between neighbouring pixels (``numpy.gradient``: central inside,
one-sided on the border), so the determinant is exact for affine maps.
"""

from __future__ import annotations

import numpy as np

from ..sampling.coords import identity_grid, normalized_to_pixel, pixel_size
from ..validation import check_bool, check_choice, check_size, fail, values_of

__all__ = ["jacobian_determinant", "flow_to_grid"]


def _as_field(field, name, function):
    array = values_of(field)
    if array.dtype.kind not in "fiu":
        fail(function, name, "a real array", f"dtype {array.dtype}", TypeError)
    if array.ndim not in (3, 4) or array.shape[-1] != 2:
        fail(function, name, "shape (H, W, 2) or (N, H, W, 2)", f"shape {array.shape}")
    if not np.all(np.isfinite(array)):
        fail(function, name, "finite values", "NaN or inf")
    return array.astype(np.float64)


def _check_input_size(input_size, default, function):
    if input_size is None:
        return default
    return check_size(input_size, function, "input_size", length=2, layout="(height, width)")


def flow_to_grid(flow, input_size=None, align_corners=False):
    """The normalised grid of a displacement field in input pixels (as ``displacement_grid``).

    Parameters
    ----------
    flow : array_like, shape (H, W, 2) or (N, H, W, 2)
        Per output pixel, the displacement (dx, dy) in pixels of the input image.
    input_size : (height, width), optional
        Size of the input image; default the flow's own H, W.
    align_corners : bool

    Returns
    -------
    ndarray of the flow's shape, float64
    """
    flow = _as_field(flow, "flow", "flow_to_grid")
    h, w = flow.shape[-3:-1]
    h_in, w_in = _check_input_size(input_size, (h, w), "flow_to_grid")
    align_corners = check_bool(align_corners, "flow_to_grid", "align_corners")
    scale = np.array([pixel_size(w_in, align_corners), pixel_size(h_in, align_corners)])
    return identity_grid(h, w, align_corners) + flow * scale


def jacobian_determinant(field, kind="grid", input_size=None, align_corners=False):
    """Per-pixel Jacobian determinant of a deformation, and the fraction of folded pixels.

    Parameters
    ----------
    field : array_like or Tensor, shape (H, W, 2) or (N, H, W, 2)
        Either a sampling grid (normalised source points, ``kind="grid"``, as
        ``RegistrationResult.grid``) or a displacement field in input pixels (``kind="flow"``,
        as the ``dense`` transform's ``params`` and ``displacement_grid``'s ``flow``).
    kind : {"grid", "flow"}
    input_size : (height, width), optional
        Size of the input (moving) image the field reads, which sets the pixel units; default
        the field's own H, W.
    align_corners : bool
        The convention of the grid (or of the flow's grid).

    Returns
    -------
    det : ndarray, shape (H, W) or (N, H, W), float64
        The determinant of the map output pixel -> input pixel (input pixels of area per
        output pixel; see the module docstring): 1 for the identity, s**2 for a uniform
        scaling by s, <= 0 where the deformation folds.
    folded : float
        The fraction of pixels with ``det <= 0``.

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
    """
    check_choice(kind, ("grid", "flow"), "jacobian_determinant", "kind")
    align_corners = check_bool(align_corners, "jacobian_determinant", "align_corners")
    grid = _as_field(field, "field", "jacobian_determinant")
    h, w = grid.shape[-3:-1]
    h_in, w_in = _check_input_size(input_size, (h, w), "jacobian_determinant")
    if kind == "flow":
        grid = flow_to_grid(grid, (h_in, w_in), align_corners)
    if align_corners and (h_in == 1 or w_in == 1):
        fail("jacobian_determinant", "input_size", "axes of at least 2 pixels with align_corners=True "
             "(a one-pixel axis has no pixel scale)", f"({h_in}, {w_in})")
    if h < 2 or w < 2:
        fail("jacobian_determinant", "field", "at least 2 x 2 points for finite differences", f"{h} x {w}")
    u = normalized_to_pixel(grid[..., 0], w_in, align_corners)
    v = normalized_to_pixel(grid[..., 1], h_in, align_corners)
    # Output pixels are one unit apart, so plain index differences are derivatives per output pixel.
    du_di, du_dj = np.gradient(u, axis=(-2, -1))
    dv_di, dv_dj = np.gradient(v, axis=(-2, -1))
    det = du_dj * dv_di - du_di * dv_dj
    return det, float(np.mean(det <= 0))
