"""The plane projective (homography) grid generator: the paper's 8-parameter transformation.

Notation as in :mod:`stn_np.sampling.grid_affine`: ``(x, y)`` = ``(x_t, y_t)`` is a target
pixel centre in normalised coordinates and ``g = (g_x, g_y)`` the upstream gradient there.
"""

import numpy as np

from ..autograd.function import Function
from ..validation import check_memory
from .grid_common import as_parameter, base_points, check_generator_args

__all__ = ["ProjectiveGridFunction", "projective_grid", "MIN_DENOMINATOR"]

#: Smallest magnitude the homography's denominator is allowed to take (see ProjectiveGrid).
MIN_DENOMINATOR = 1e-6


class ProjectiveGridFunction(Function):
    """Homography with h33 = 1, params h = (h0, ..., h7); the identity is (1, 0, 0, 0, 1, 0, 0, 0).

        u = h0 x + h1 y + h2,   v = h3 x + h4 y + h5,   w = h6 x + h7 y + 1
        x_s = u / w,            y_s = v / w

    Backward: with gu = g_x / w, gv = g_y / w and gw = -(g_x x_s + g_y y_s) / w,
    summing over the target points (x, y):

        dL/d(h0, h1, h2) = sum (gu x, gu y, gu)
        dL/d(h3, h4, h5) = sum (gv x, gv y, gv)
        dL/d(h6, h7)     = sum (gw x, gw y)

    Near-zero denominator (the rule). Where ``w`` is 0 the point maps to infinity: the line
    w = 0 is the image of the horizon, and points beyond it (w < 0) come back mirrored. So that
    no grid ever holds an inf or a NaN, ``w`` is clamped away from 0 keeping its sign:
    ``w <- max(w, MIN_DENOMINATOR)`` where ``w >= 0`` and ``w <- min(w, -MIN_DENOMINATOR)`` where
    ``w < 0`` (``MIN_DENOMINATOR = 1e-6``). The clamped points land about ``|u| / 1e-6`` away,
    far outside [-1, 1], so a sampler reads padding there. As for any clamp, the clamped
    ``w`` is a constant: those points pass no gradient to h6, h7 (they still pass
    ``g / w`` to h0 ... h5). Points with ``|w| >= MIN_DENOMINATOR`` are exactly the formula.
    """

    @staticmethod
    def forward(ctx, h, height, width, align_corners):
        points = base_points((height, width), align_corners, h.dtype)
        x, y = points[:, 0], points[:, 1]  # (P,)
        h = h[:, :, None]  # (N, 8, 1) so that h[:, k] broadcasts over the points
        u = h[:, 0] * x + h[:, 1] * y + h[:, 2]
        v = h[:, 3] * x + h[:, 4] * y + h[:, 5]
        w = h[:, 6] * x + h[:, 7] * y + 1
        free = np.abs(w) >= MIN_DENOMINATOR
        w = np.where(free, w, np.where(w >= 0, MIN_DENOMINATOR, -MIN_DENOMINATOR)).astype(h.dtype, copy=False)
        xs, ys = u / w, v / w  # (N, P)
        ctx.save_for_backward(points, w, xs, ys, free)
        return np.stack([xs, ys], axis=-1).reshape(h.shape[0], height, width, 2)

    @staticmethod
    def backward(ctx, g):
        points, w, xs, ys, free = ctx.saved_arrays
        # B = [x, y, 1] per point, contiguous: the three sums of each row pair become one BLAS
        # product (a product with the strided column points[:, 0] is ~1000x slower)
        B = np.empty((points.shape[0], 3), dtype=points.dtype)
        B[:, :2] = points
        B[:, 2] = 1
        g = g.reshape(g.shape[0], g.shape[1] * g.shape[2], 2)
        gx, gy = g[..., 0], g[..., 1]
        gu, gv = gx / w, gy / w
        gw = -(gx * xs + gy * ys) / w * free
        grad = np.empty((g.shape[0], 8), dtype=g.dtype)
        grad[:, 0:3] = gu @ B
        grad[:, 3:6] = gv @ B
        grad[:, 6:8] = gw @ B[:, :2]
        return grad


def projective_grid(params, size, align_corners=False):
    """Sampling grid of a plane projective transformation (homography with h33 = 1).

    ``x_s = (h0 x + h1 y + h2) / (h6 x + h7 y + 1)``, ``y_s = (h3 x + h4 y + h5) / (h6 x + h7 y + 1)``
    for every target pixel centre (x, y) in normalised coordinates. With h6 = h7 = 0 it is the
    affine grid of ``theta = [[h0, h1, h2], [h3, h4, h5]]``. A denominator of magnitude below
    ``MIN_DENOMINATOR`` (1e-6) is clamped to it, keeping its sign, so the grid never holds
    inf or NaN (see :class:`ProjectiveGridFunction`).

    Parameters
    ----------
    params : Tensor or ndarray, shape (N, 8)
        (h0, ..., h7) per sample; the identity is (1, 0, 0, 0, 1, 0, 0, 0). float32 or float64.
    size : tuple of 4 ints
        (N, C, H, W) of the OUTPUT.
    align_corners : bool
        Whether -1 and +1 are the corner pixel centres (True) or the image edges (False).

    Returns
    -------
    Tensor, shape (N, H, W, 2)
        Source points (x_s, y_s), params' dtype.

    Examples
    --------
    >>> import numpy as np
    >>> h = np.array([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.5, 0.0]])  # w = 1 + x / 2
    >>> projective_grid(h, (1, 1, 1, 3), align_corners=True).data[0, 0, :, 0]  # x = -1, 0, 1
    array([-2.        ,  0.        ,  0.66666667])
    """
    (n, _, h, w), align_corners = check_generator_args(size, align_corners, "projective_grid")
    params = as_parameter(params, "projective_grid", "params", (n, 8), f"(N, 8) = (h0, ..., h7) with N = size[0] = {n}")
    check_memory((n, h, w, 2), params.dtype, "projective_grid", "size", "a grid")
    return ProjectiveGridFunction.apply(params, height=h, width=w, align_corners=align_corners)
