"""Affine and attention grid generators: the paper's linear transformations of the target grid.

Notation shared by the grid generators: ``p = (x_t, y_t)`` runs over the centres of the
OUTPUT pixels in normalised coordinates (the identity grid), flattened to P = H * W rows;
the op returns the source points ``(x_s, y_s)`` as a grid (N, H, W, 2), and ``g`` is the
upstream gradient dL/dgrid of the same shape. The affine grid is also volumetric, as
PyTorch's: ``p = (x_t, y_t, z_t)`` over the voxel centres of a D x H x W output, theta
(N, 3, 4), a grid (N, D, H, W, 3); one op for both.
"""

import warnings
from functools import lru_cache

import numpy as np

from ..autograd.function import Function
from ..validation import check_memory, fail, shape_of
from .coords import axis_sizes, linspace_from_neg_one
from .grid_common import as_parameter, base_points, check_generator_args

__all__ = ["AffineGridFunction", "AttentionGridFunction", "affine_grid", "attention_grid"]


@lru_cache(maxsize=64)
def _axis_points(spatial, align_corners, dtype):
    """The target points' coordinates along each axis, (x_t, y_t[, z_t]): read-only 1-D arrays.

    The lattice of :func:`~stn_np.sampling.grid_common.base_points` (PyTorch's rounding:
    ``linspace_from_neg_one``), one axis at a time.
    """
    axes = tuple(linspace_from_neg_one(size, align_corners, dtype) for size in axis_sizes(spatial))
    for axis in axes:
        axis.setflags(write=False)
    return axes


@lru_cache(maxsize=64)
def _backward_operands(spatial, align_corners, dtype):
    """What the backward contracts the upstream gradient with, per lattice row: read-only arrays.

    ``E`` (W d, 2 d): a row of the gradient, (W, d) flattened, times ``E`` gives
    ``(sum_j g_jk x_j, sum_j g_jk)`` for each coordinate k. ``rows`` (d, R): the homogeneous
    coordinates (y_t[, z_t], 1) of the R = P / W rows of the lattice, in C order.
    """
    d = len(spatial)
    x, *slower = _axis_points(spatial, align_corners, dtype)
    E = np.zeros((x.size, d, 2, d), dtype=dtype)
    for k in range(d):
        E[:, k, 0, k] = x
        E[:, k, 1, k] = 1
    lattice = spatial[:-1]  # (H,) or (D, H); coordinate j + 1 runs along axis d - 2 - j of it
    rows = np.ones((d,) + lattice, dtype=dtype)
    for j, axis in enumerate(slower):
        rows[j] = axis.reshape((-1,) + (1,) * j)
    E, rows = E.reshape(x.size * d, 2 * d), rows.reshape(d, -1)
    E.setflags(write=False)
    rows.setflags(write=False)
    return E, rows


class AffineGridFunction(Function):
    """grid = [x_t, y_t, 1] @ theta^T per point, i.e. with theta = [A | t] (A 2x2, t of length 2):

        (x_s, y_s) = A (x_t, y_t) + t

    and for a volume, theta (3, 4) = [A | t] with A 3x3: (x_s, y_s, z_s) = A (x_t, y_t, z_t) + t.

    The target points form a lattice (x_t depends on the column only, y_t on the row, z_t on
    the slice), so coordinate k of the grid is computed as ``(t_k + A_k2 z_t + A_k1 y_t) +
    A_k0 x_t``: the slower axes' terms once per row (slice), then one broadcast sum per
    coordinate over the whole grid.

    Backward, with p~ = (x_t, y_t, 1) (a volume: (x_t, y_t, z_t, 1)) and summing over the P
    target points:

        dL/dtheta = sum_p g_p p~^T      (a 2x3 / 3x4 outer-product sum: dL/dA = sum g p^T, dL/dt = sum g)

    summed along the rows of the lattice first (x_t is the only coordinate that changes within
    a row): one product of the gradient, (rows, W d), with a (W d, 2 d) matrix gives each row's
    ``sum_j g_j x_j`` and ``sum_j g_j``, and the rows' sums are then weighted by (y_t[, z_t], 1).
    """

    @staticmethod
    def forward(ctx, theta, spatial, align_corners):
        d = len(spatial)
        axes = _axis_points(spatial, align_corners, theta.dtype)  # x_t, y_t[, z_t]
        grid = np.empty((theta.shape[0],) + tuple(spatial) + (d,), dtype=theta.dtype)
        per_sample = (-1,) + (1,) * d  # theta entries broadcast over the spatial axes
        # coordinate j's points run along spatial axis d - 1 - j (axis_sizes)
        points = [axis.reshape((1,) * (d - j) + (-1,) + (1,) * j) for j, axis in enumerate(axes)]
        for k in range(d):
            # the slice and row terms are small; one broadcast sum per coordinate writes the grid
            # (a (d, d + 1) @ (d + 1, P) BLAS product per sample, a tiny matrix against a long one, is 1.6x slower)
            slower = theta[:, k, d].reshape(per_sample)
            for j in reversed(range(1, d)):
                slower = slower + theta[:, k, j].reshape(per_sample) * points[j]
            np.add(slower, theta[:, k, 0].reshape(per_sample) * points[0], out=grid[..., k])
        ctx.spatial, ctx.align_corners = tuple(spatial), align_corners
        return grid

    @staticmethod
    def backward(ctx, g):
        N, d = g.shape[0], g.shape[-1]
        E, rows = _backward_operands(ctx.spatial, ctx.align_corners, g.dtype)
        # (N, R, W d) @ (W d, 2 d): one BLAS product over the whole gradient, where (d + 1, P) @ (P, d)
        # per sample (tiny matrices against a long axis) runs 2-5x slower
        R = np.matmul(g.reshape(N, rows.shape[1], E.shape[0]), E)
        grad = np.empty((N, d, d + 1), dtype=g.dtype)
        grad[:, :, 0] = R[..., :d].sum(axis=1)
        grad[:, :, 1:] = np.matmul(rows, R[..., d:]).transpose(0, 2, 1)
        return grad


class AttentionGridFunction(Function):
    """The paper's attention: isotropic scale s and translation (tx, ty), params = (s, tx, ty).

        x_s = s x_t + tx,   y_s = s y_t + ty

    Backward, summing over the P target points p = (x_t, y_t):

        dL/ds  = sum_p (g_x x_t + g_y y_t)
        dL/dtx = sum_p g_x,   dL/dty = sum_p g_y
    """

    @staticmethod
    def forward(ctx, params, height, width, align_corners):
        points = base_points((height, width), align_corners, params.dtype)
        ctx.save_for_backward(points)
        s, t = params[:, 0], params[:, 1:]
        grid = s[:, None, None] * points + t[:, None, :]
        return grid.reshape(params.shape[0], height, width, 2)

    @staticmethod
    def backward(ctx, g):
        (points,) = ctx.saved_arrays
        n = g.shape[0]
        grad = np.empty((n, 3), dtype=g.dtype)
        # Both sums over the points as BLAS products: a strided g.sum(axis=1) is ~20x slower.
        grad[:, 0] = g.reshape(n, points.size) @ points.reshape(-1)
        grad[:, 1:] = np.ones(len(points), dtype=g.dtype) @ g.reshape(n, len(points), 2)
        return grad


def affine_grid(theta, size, align_corners=False):
    """Sampling grid of an affine transformation, as PyTorch's ``affine_grid`` (2-D and 3-D).

    Parameters
    ----------
    theta : Tensor or ndarray, shape (N, 2, 3), or (N, 3, 4) for a volume
        Per-sample matrices ``[A | t]`` mapping target to source points in normalised
        coordinates; the identity is ``[[1, 0, 0], [0, 1, 0]]`` (``numpy.eye(3, 4)`` for a
        volume). float32 or float64.
    size : tuple of 4 or 5 ints
        (N, C, H, W) of the OUTPUT, or (N, C, D, H, W) for a volumetric grid; the grid has
        H x W (D x H x W) points whatever the input image's size. Sizes of 0 give an empty
        grid (PyTorch's ``affine_grid`` refuses them; an empty batch then flows through a
        spatial transformer here).
    align_corners : bool
        Whether -1 and +1 are the corner pixel centres (True) or the image edges (False).
        With True and a 1-pixel axis a ``UserWarning`` says that the axis has no extent, as
        PyTorch warns.

    Returns
    -------
    Tensor, shape (N, H, W, 2) or (N, D, H, W, 3)
        ``grid[n, i, j] = theta[n] @ (x_j, y_i, 1)``, last axis (x, y) (a volume:
        ``grid[n, k, i, j] = theta[n] @ (x_j, y_i, z_k, 1)``, last axis (x, y, z)); theta's
        dtype. For the identity ``theta`` this is
        :func:`~stn_np.sampling.coords.identity_grid`, PyTorch's identity grid bit for bit.

    Examples
    --------
    >>> import numpy as np
    >>> theta = np.array([[[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]])  # shift the sampling points right
    >>> affine_grid(theta, (1, 1, 1, 2)).data[0, 0]
    array([[0., 0.],
           [1., 0.]])
    >>> affine_grid(np.eye(3, 4)[None], (1, 1, 2, 1, 1)).data[0, :, 0, 0]  # z runs along the depth
    array([[ 0. ,  0. , -0.5],
           [ 0. ,  0. ,  0.5]])
    """
    size, align_corners = check_generator_args(size, align_corners, "affine_grid", spatial_dims=(2, 3))
    n, spatial = size[0], size[2:]
    d = len(spatial)
    theta_dims = _theta_dims(theta)
    if theta_dims not in (None, d):  # a well-formed theta of the other kind: the size is the odd one out
        layout = "(N, C, H, W)" if theta_dims == 2 else "(N, C, D, H, W)"
        fail("affine_grid", "size", f"{layout} to match theta of shape (N, {theta_dims}, {theta_dims + 1})", size)
    if align_corners and min(spatial) == 1:
        warnings.warn(f"affine_grid: size: an axis of 1 pixel with align_corners=True (size {tuple(size)}) has no "
                      "extent in normalised coordinates: -1 and +1 both name its one pixel centre, whose base "
                      "coordinate is 0 (as in PyTorch since 1.3.0; it was -1 before). align_corners=False gives "
                      "the axis its usual extent.", UserWarning, stacklevel=2)
    described = f"(N, {d}, {d + 1}) with N = size[0] = {n}" + (" (a volumetric size)" if d == 3 else "")
    theta = as_parameter(theta, "affine_grid", "theta", (n, d, d + 1), described)
    check_memory((n,) + spatial + (d,), theta.dtype, "affine_grid", "size", "a grid")
    return AffineGridFunction.apply(theta, spatial=spatial, align_corners=align_corners)


def _theta_dims(theta):
    """2 or 3 when ``theta`` has the shape (N, 2, 3) or (N, 3, 4), else None (``as_parameter`` says what is wrong)."""
    try:
        shape = shape_of(theta)
    except (TypeError, ValueError):
        return None
    return next((d for d in (2, 3) if len(shape) == 3 and tuple(shape[1:]) == (d, d + 1)), None)


def attention_grid(params, size, align_corners=False):
    """Sampling grid of the paper's attention transformation (isotropic scale + translation).

    ``x_s = s x_t + tx``, ``y_s = s y_t + ty``: the affine grid with
    ``theta = [[s, 0, tx], [0, s, ty]]``, three parameters per sample instead of six.

    Parameters
    ----------
    params : Tensor or ndarray, shape (N, 3)
        ``(s, tx, ty)`` per sample; the identity is ``(1, 0, 0)``. float32 or float64.
    size : tuple of 4 ints
        (N, C, H, W) of the OUTPUT.
    align_corners : bool
        See :func:`affine_grid`.

    Returns
    -------
    Tensor, shape (N, H, W, 2)
        Source points (x_s, y_s) in normalised coordinates, params' dtype.

    Examples
    --------
    >>> import numpy as np
    >>> attention_grid(np.array([[0.5, 0.0, 0.0]]), (1, 1, 1, 2)).data[0, 0]  # zoom in 2x
    array([[-0.25,  0.  ],
           [ 0.25,  0.  ]])
    """
    (n, _, h, w), align_corners = check_generator_args(size, align_corners, "attention_grid")
    params = as_parameter(params, "attention_grid", "params", (n, 3), f"(N, 3) = (s, tx, ty) with N = size[0] = {n}")
    check_memory((n, h, w, 2), params.dtype, "attention_grid", "size", "a grid")
    return AttentionGridFunction.apply(params, height=h, width=w, align_corners=align_corners)
