"""The thin plate spline (TPS) grid generator: the paper's 16-point non-rigid transformation.

Control points. ``control_points = (rows, cols)`` places K = rows * cols control points
``c_k`` on a regular lattice spanning the whole target square [-1, 1] x [-1, 1] in
normalised coordinates: x over ``linspace(-1, 1, cols)``, y over ``linspace(-1, 1, rows)``,
numbered row by row (k = r * cols + c, y outer, x inner: the order of the grid itself).
They sit at the same normalised positions whatever the output size and ``align_corners``,
so one set of offsets describes one geometric warp at every resolution; with
``align_corners=True`` the outer ones are the corner pixel centres, with ``False`` the image
edges (just outside the outermost pixel centres).

The warp. The network predicts an offset ``d_k = (dx_k, dy_k)`` per control point: control
point ``c_k`` of the target maps to the source point ``c_k + d_k``. The displacement field
between the control points is the interpolating thin plate spline, independently for x and y:

    f(p) = a_0 + a_1 x + a_2 y + sum_k w_k U(|p - c_k|),     U(r) = r^2 log r^2,  U(0) = 0

with the K + 3 conditions  f(c_j) = d_j  (interpolation)  and
sum_k w_k = sum_k w_k x_k = sum_k w_k y_k = 0  (no affine part in the radial terms). In
matrix form, with R_jk = U(|c_j - c_k|) (K x K) and C = [1, x_k, y_k] (K x 3):

    L [w; a] = [d; 0],   L = [[R, C], [C^T, 0]]   =>   [w; a] = L^-1[:, :K] d

Evaluating f at the P target points, with Q = [U(|p - c_k|)_k, 1, x_p, y_p] (P x (K + 3)):

    f = Q L^-1[:, :K] d = M d,     M = Q L^-1[:, :K]   (P x K)

M depends only on the control points and the target points (size, align_corners), never on
the offsets, so it is computed once and cached, and the grid generator is linear:

    grid = p + M d            (forward, per sample and per coordinate)
    dL/dd = M^T g             (backward: the adjoint of a fixed linear map)

Properties that follow, and that the tests check: d = 0 gives the identity grid exactly
(``p + M 0``); at a target point equal to c_j, row j of Q equals row j of L's first K rows,
so M's row is e_j and c_j maps to c_j + d_j (to rounding); an affine offset field
d_k = B c_k + b is reproduced everywhere (w = 0, a = (b, B) solves the system). L is
invertible because the lattice, with at least 2 x 2 points, is not collinear.
"""

from functools import lru_cache

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..validation import check_dtype, check_memory, check_pair, fail
from .grid_common import as_parameter, base_points, check_generator_args

__all__ = ["TPSGridFunction", "tps_grid", "tps_control_points", "tps_matrix", "tps_transform_points"]


def check_control_points(control_points, function="tps_grid"):
    """``control_points`` must be (rows, cols), ints >= 2 (an int means a square lattice); returns a tuple."""
    return check_pair(control_points, function, "control_points", minimum=2)


def tps_control_points(control_points=(4, 4), dtype=np.float64):
    """The (K, 2) control points (x, y): a rows x cols lattice over [-1, 1]^2, row by row.

    Examples
    --------
    >>> tps_control_points((2, 3))
    array([[-1., -1.],
           [ 0., -1.],
           [ 1., -1.],
           [-1.,  1.],
           [ 0.,  1.],
           [ 1.,  1.]])
    """
    rows, cols = check_control_points(control_points, "tps_control_points")
    check_memory((rows * cols, 2), check_dtype(dtype, "tps_control_points", "dtype"), "tps_control_points",
                 "control_points", "control points")
    ys, xs = np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols), indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(dtype)


def _radial(a, b):
    """U(|a_i - b_k|) = r^2 log r^2 for every pair, with U = 0 at r = 0 (its limit)."""
    r2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)
    positive = r2 > 0
    return np.where(positive, r2 * np.log(np.where(positive, r2, 1.0)), 0.0)


def tps_matrix(points, control_points=(4, 4)):
    """The float64 (P, K) matrix M with ``f(points) = M d`` for the spline interpolating ``d``.

    Parameters
    ----------
    points : array_like, shape (P, 2)
        Target points (x, y) in normalised coordinates where the spline is evaluated.
    control_points : (rows, cols)
        The control lattice (see the module docstring).

    Returns
    -------
    ndarray, shape (P, K), float64
        Row p holds the weights of the K control-point offsets at point p; each row sums to
        1 (a constant field is affine, hence reproduced).
    """
    c = tps_control_points(control_points)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        fail("tps_matrix", "points", "shape (P, 2)", f"shape {points.shape}")
    k = len(c)
    affine = np.concatenate([np.ones((k, 1)), c], axis=1)  # C, (K, 3)
    system = np.zeros((k + 3, k + 3))
    system[:k, :k] = _radial(c, c)
    system[:k, k:] = affine
    system[k:, :k] = affine.T
    # Only the first K columns of L^-1 are needed: the right-hand side is [d; 0].
    rhs = np.zeros((k + 3, k))
    rhs[:k] = np.eye(k)
    weights = np.linalg.solve(system, rhs)  # L^-1[:, :K], (K + 3, K)
    q = np.concatenate([_radial(points, c), np.ones((len(points), 1)), points], axis=1)
    return q @ weights


@lru_cache(maxsize=16)
def _grid_matrix(height, width, control_points, align_corners, dtype):
    """M for the target pixel centres of an H x W grid, cached read-only in ``dtype``."""
    points = base_points((height, width), align_corners, np.float64)
    matrix = tps_matrix(points, control_points).astype(dtype)
    matrix.setflags(write=False)
    return matrix


class TPSGridFunction(Function):
    """grid = p + M d, with M the fixed (P, K) spline matrix (derivation in the module docstring).

        forward:   grid[n] = points + M @ offsets[n]       (P, 2) = (P, 2) + (P, K) @ (K, 2)
        backward:  dL/doffsets[n] = M^T @ g[n]            (K, 2)
    """

    @staticmethod
    def forward(ctx, offsets, matrix, points, shape):
        ctx.save_for_backward(matrix)
        grid = points + np.matmul(matrix, offsets)  # (N, P, 2)
        return grid.reshape(offsets.shape[0], *shape, 2)

    @staticmethod
    def backward(ctx, g):
        (matrix,) = ctx.saved_arrays
        g = g.reshape(g.shape[0], matrix.shape[0], 2)
        return np.matmul(matrix.T, g)


def tps_grid(offsets, size, control_points=(4, 4), align_corners=False):
    """Sampling grid of a thin plate spline warp (16 control points by default, as in the paper).

    Control point ``c_k`` of the target maps to source point ``c_k + offsets[n, k]``; in
    between, the displacement is the interpolating thin plate spline (radial basis
    ``U(r) = r^2 log r^2`` plus an affine part). The control points form a rows x cols lattice
    spanning [-1, 1]^2 in normalised coordinates, numbered row by row
    (:func:`tps_control_points`). See :mod:`stn_np.sampling.grid_tps` for the derivation.

    Parameters
    ----------
    offsets : Tensor or ndarray, shape (N, K, 2)
        Per-sample offsets (dx, dy) of the K = rows * cols control points, in normalised
        coordinates; zeros give the identity grid. float32 or float64.
    size : tuple of 4 ints
        (N, C, H, W) of the OUTPUT.
    control_points : (rows, cols), each >= 2
        The control lattice; default (4, 4).
    align_corners : bool
        Whether -1 and +1 are the corner pixel centres (True) or the image edges (False).

    Returns
    -------
    Tensor, shape (N, H, W, 2)
        Source points (x_s, y_s), offsets' dtype.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.full((1, 4, 2), 0.25)  # move every control point by (0.25, 0.25)
    >>> g = tps_grid(d, (1, 1, 2, 2), control_points=(2, 2), align_corners=True)
    >>> np.allclose(g.data[0, 0, 0], [-0.75, -0.75])  # a translation is reproduced
    True
    """
    (n, _, h, w), align_corners = check_generator_args(size, align_corners, "tps_grid")
    rows, cols = check_control_points(control_points, "tps_grid")
    check_memory((rows * cols, h * w), np.float64, "tps_grid", "control_points" if rows * cols > h * w else "size",
                 "a spline matrix")
    k = rows * cols
    offsets = as_parameter(offsets, "tps_grid", "offsets", (n, k, 2),
                           f"(N, K, 2) with N = size[0] = {n} and K = {rows} * {cols} = {k}")
    check_memory((h * w, 2 * n + k + 3), offsets.dtype, "tps_grid", "size", "a grid and its spline matrix")
    matrix = _grid_matrix(h, w, (rows, cols), align_corners, offsets.dtype)
    points = base_points((h, w), align_corners, offsets.dtype)
    return TPSGridFunction.apply(offsets, matrix=matrix, points=points, shape=(h, w))


def tps_transform_points(offsets, points, control_points=(4, 4)):
    """Evaluate the TPS warp of ``offsets`` at arbitrary target ``points`` (differentiable).

    The same spline as :func:`tps_grid` (which evaluates it at the pixel centres): handy to
    check where given points go, e.g. the control points themselves.

    Parameters
    ----------
    offsets : Tensor or ndarray, shape (N, K, 2)
        Control-point offsets, float32 or float64.
    points : array_like, shape (P, 2)
        Target points (x, y) in normalised coordinates (constants, not differentiated).
    control_points : (rows, cols), each >= 2

    Returns
    -------
    Tensor, shape (N, P, 2)
        The source points ``points + M offsets``, offsets' dtype.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.random.default_rng(0).normal(size=(1, 16, 2))
    >>> out = tps_transform_points(d, tps_control_points())
    >>> np.allclose(out.data[0], tps_control_points() + d[0])
    True
    """
    rows, cols = check_control_points(control_points, "tps_transform_points")
    k = rows * cols
    offsets = as_parameter(offsets, "tps_transform_points", "offsets", (None, k, 2), f"(N, K, 2) with K = {rows} * {cols} = {k}")
    if isinstance(points, Tensor):
        points = points.data
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 2 or points.dtype.kind not in "fiu":
        fail("tps_transform_points", "points", "a real array of shape (P, 2)", f"{points.dtype} {points.shape}")
    dtype = offsets.dtype
    matrix = tps_matrix(points, (rows, cols)).astype(dtype)
    return TPSGridFunction.apply(offsets, matrix=matrix, points=points.astype(dtype), shape=(len(points),))
