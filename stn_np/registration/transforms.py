"""Affine utilities: compose and invert ``theta``, and convert it to and from pixel matrices.

Two descriptions of one affine warp appear in practice:

* ``theta`` (2x3, normalised): the ``affine_grid`` convention. It maps an OUTPUT point in
  normalised coordinates to the INPUT point the sampler reads,
  ``(x_in, y_in) = theta @ (x_out, y_out, 1)``; each image has its own [-1, 1] frame.
* ``matrix`` (2x3, pixels): the OpenCV convention of ``cv2.warpAffine(src, M, dsize,
  flags=WARP_INVERSE_MAP)``: ``dst(x, y) = src(M @ (x, y, 1))``, i.e. M maps a DESTINATION
  (output) pixel to the SOURCE (input) pixel it reads. Pixel ``(row i, column j)`` has its
  centre at ``(x, y) = (j, i)``: integer pixel centres, x to the right, y down.

Both describe the same direction (output -> input), which is the direction a sampler needs.
The forward map that ``cv2.warpAffine`` takes *without* ``WARP_INVERSE_MAP`` (source pixel ->
destination pixel) is ``invert_affine(matrix)``.

Volumes alike, one axis up: ``theta`` and ``matrix`` are 3x4 and act on ``(x, y, z, 1)``, z
along the depth, voxel ``(slice k, row i, column j)`` centred at ``(x, y, z) = (j, i, k)``;
sizes are ``(depth, height, width)``. (OpenCV has no volumes; in ``scipy.ndimage``'s index
order (k, i, j) the same voxel matrix is the one with its axes reversed.) Every function takes
either kind; the number of spatial dimensions d is read from the shape, (..., d, d + 1).

Per axis, a pixel coordinate ``p`` of an axis of ``S`` pixels and the normalised coordinate
``c`` are related by ``c = a p + b`` (see :mod:`stn_np.sampling.coords`)::

    align_corners=False:  a = 2 / S,        b = 1 / S - 1     (-1, +1 are the image's edges)
    align_corners=True:   a = 2 / (S - 1),  b = -1            (-1, +1 are the corner centres)

Writing ``N = [[a_x, 0, b_x], [0, a_y, b_y], [0, 0, 1]]`` for each image (in 3-D the 4x4
diagonal alike, with ``a_z, b_z``), the two matrices (as homogeneous matrices) are conjugates::

    matrix = N_in^-1  theta  N_out          theta = N_in  matrix  N_out^-1

With ``align_corners=True`` an axis of one pixel has no such map (both -1 and +1 are its
single centre), so those conversions raise ``ValueError``.

All functions are batched: ``(..., d, d + 1)`` in, ``(..., d, d + 1)`` out, float64 unless the
input is float32. They work on plain arrays (no gradients): they are for setting up and
reading back registrations, not for training.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..sampling.coords import axis_sizes, pixel_size, pixel_to_normalized
from ..validation import check_bool, check_size, fail, values_of

__all__ = [
    "compose_affine",
    "invert_affine",
    "theta_to_pixel",
    "pixel_to_theta",
    "transform_points",
    "to_homogeneous",
    "corner_error",
]


_SHAPES = "(..., 2, 3) or (..., 3, 4)"
_LAYOUTS = {2: "(height, width)", 3: "(depth, height, width)"}


def _as_affine(value, name, function):
    """``value`` as a float array of shape (..., d, d + 1), d = 2 or 3."""
    array = values_of(value)
    if array.dtype.kind not in "fiu":
        fail(function, name, f"a real array of shape {_SHAPES}", f"dtype {array.dtype}", TypeError)
    if array.ndim < 2 or array.shape[-2:] not in ((2, 3), (3, 4)):
        fail(function, name, f"shape {_SHAPES}", f"shape {array.shape}")
    if array.dtype != np.float32:
        array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        fail(function, name, "finite values", "NaN or inf")
    return array


def _dims(affine):
    """The number of spatial dimensions d of a (..., d, d + 1) affine array."""
    return affine.shape[-2]


def to_homogeneous(affine):
    """(..., d, d + 1) affine matrices as (..., d + 1, d + 1) homogeneous ones (last row ``[0, ..., 0, 1]``)."""
    affine = _as_affine(affine, "affine", "to_homogeneous")
    d = _dims(affine)
    bottom = np.zeros(affine.shape[:-2] + (1, d + 1), dtype=affine.dtype)
    bottom[..., 0, d] = 1
    return np.concatenate([affine, bottom], axis=-2)


def compose_affine(outer, inner):
    """The affine map ``x -> outer(inner(x))``, i.e. ``[outer; 0 .. 0 1] @ [inner; 0 .. 0 1]``.

    Warping reading: sampling image ``I`` with ``theta_1`` gives ``J(x) = I(theta_1 x)``;
    sampling ``J`` with ``theta_2`` gives ``K(x) = J(theta_2 x) = I(theta_1 theta_2 x)``, so
    ``K`` is ``I`` sampled once with ``compose_affine(theta_1, theta_2)`` (the first warp's
    matrix is the OUTER one, because grids map output -> input).

    Parameters
    ----------
    outer, inner : array_like, shape (..., 2, 3) or (..., 3, 4)
        Batches broadcast against each other; both of one dimension.

    Returns
    -------
    ndarray, shape (..., d, d + 1)

    Examples
    --------
    >>> import numpy as np
    >>> shift = np.array([[1.0, 0, 0.5], [0, 1, 0]]); zoom = np.array([[2.0, 0, 0], [0, 2, 0]])
    >>> compose_affine(shift, zoom)   # zoom first, then shift: 2 x + 0.5
    array([[2. , 0. , 0.5],
           [0. , 2. , 0. ]])
    """
    outer = _as_affine(outer, "outer", "compose_affine")
    inner = _as_affine(inner, "inner", "compose_affine")
    d = _dims(outer)
    if _dims(inner) != d:
        fail("compose_affine", "inner", f"the dimension of outer, (..., {d}, {d + 1})", f"shape {inner.shape}")
    linear = outer[..., :, :d] @ inner[..., :, :d]
    shift = (outer[..., :, :d] @ inner[..., :, d:])[..., 0] + outer[..., :, d]
    return np.concatenate([linear, shift[..., None]], axis=-1)


def invert_affine(affine):
    """The inverse affine map: ``[A | t]^-1 = [A^-1 | -A^-1 t]``, batched.

    Raises
    ------
    ValueError
        When some ``A`` is singular (its determinant is 0 or tiny relative to its entries).

    Examples
    --------
    >>> import numpy as np
    >>> theta = np.array([[2.0, 0, 1], [0, 4, -2]])
    >>> invert_affine(theta)
    array([[ 0.5 ,  0.  , -0.5 ],
           [ 0.  ,  0.25,  0.5 ]])
    """
    affine = _as_affine(affine, "affine", "invert_affine")
    d = _dims(affine)
    linear = affine[..., :, :d].astype(np.float64)
    det = np.linalg.det(linear)
    size = np.abs(linear).max(axis=(-2, -1))
    if np.any(np.abs(det) <= 1e-12 * np.maximum(size, np.finfo(np.float64).tiny) ** d):
        fail("invert_affine", "affine", f"invertible {d}x{d} linear parts", "a singular one (the map has no inverse)")
    inverse = np.linalg.inv(linear)
    shift = -(inverse @ affine[..., :, d:])[..., 0]
    return np.concatenate([inverse, shift[..., None]], axis=-1).astype(affine.dtype, copy=False)


def _pixel_to_normalized_matrix(shape, d, align_corners, name, function):
    """The (d+1)x(d+1) ``N`` with ``(c_x, c_y[, c_z], 1) = N (p_x, p_y[, p_z], 1)`` for an image of ``shape``."""
    shape = check_size(shape, function, name, length=d, layout=_LAYOUTS[d])
    align_corners = check_bool(align_corners, function, "align_corners")
    if align_corners and min(shape) == 1:
        fail(function, name, "axes of at least 2 pixels with align_corners=True (a one-pixel axis has no "
             "pixel <-> normalised map)", f"{shape}")
    # c = a p + b per axis: a the normalised length of a pixel, b where pixel 0 sits
    sizes = axis_sizes(shape)
    matrix = np.diag([pixel_size(s, align_corners) for s in sizes] + [1.0])
    matrix[:d, d] = [float(pixel_to_normalized(0.0, s, align_corners)) for s in sizes]
    return matrix


def theta_to_pixel(theta, in_size, out_size=None, align_corners=False):
    """Convert normalised ``theta`` (``affine_grid``) to an OpenCV pixel matrix (dst -> src).

    Parameters
    ----------
    theta : array_like, shape (..., 2, 3) or (..., 3, 4)
        Output-normalised -> input-normalised maps (images or volumes).
    in_size : (height, width) or (depth, height, width)
        Size of the input (source, sampled) image or volume.
    out_size : optional
        Size of the output (destination); default ``in_size``.
    align_corners : bool
        The convention ``theta`` was written for.

    Returns
    -------
    ndarray, shape (..., d, d + 1)
        ``M`` with ``src_pixel = M @ (dst_x, dst_y, 1)``, integer pixel centres: what
        ``cv2.warpAffine(src, M, (W_out, H_out), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)``
        takes to produce the same image as ``grid_sample(src, affine_grid(theta, ...))``. For
        volumes, voxel ``(x, y, z)`` of the output reads voxel ``M @ (x, y, z, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> theta = np.array([[1.0, 0, 0.5], [0, 1, 0]])  # read a quarter width to the right
    >>> theta_to_pixel(theta, (4, 8))                # 0.5 normalised = 2 pixels of 8
    array([[1., 0., 2.],
           [0., 1., 0.]])
    """
    theta = _as_affine(theta, "theta", "theta_to_pixel")
    d = _dims(theta)
    out_size = in_size if out_size is None else out_size
    n_in = _pixel_to_normalized_matrix(in_size, d, align_corners, "in_size", "theta_to_pixel")
    n_out = _pixel_to_normalized_matrix(out_size, d, align_corners, "out_size", "theta_to_pixel")
    matrix = np.linalg.inv(n_in) @ to_homogeneous(theta) @ n_out
    return matrix[..., :d, :].astype(theta.dtype, copy=False)


def pixel_to_theta(matrix, in_size, out_size=None, align_corners=False):
    """Convert an OpenCV pixel matrix (dst pixel -> src pixel) to normalised ``theta``.

    The inverse of :func:`theta_to_pixel` (same arguments, see there; volumes alike). To
    convert a forward map (src -> dst, ``cv2.warpAffine`` without ``WARP_INVERSE_MAP``) pass
    ``invert_affine(forward)``.

    Examples
    --------
    >>> import numpy as np
    >>> pixel_to_theta(np.array([[1.0, 0, 2], [0, 1, 0]]), (4, 8))
    array([[1. , 0. , 0.5],
           [0. , 1. , 0. ]])
    """
    matrix = _as_affine(matrix, "matrix", "pixel_to_theta")
    d = _dims(matrix)
    out_size = in_size if out_size is None else out_size
    n_in = _pixel_to_normalized_matrix(in_size, d, align_corners, "in_size", "pixel_to_theta")
    n_out = _pixel_to_normalized_matrix(out_size, d, align_corners, "out_size", "pixel_to_theta")
    theta = n_in @ to_homogeneous(matrix) @ np.linalg.inv(n_out)
    return theta[..., :d, :].astype(matrix.dtype, copy=False)


def transform_points(affine, points):
    """Apply (..., d, d + 1) affine maps to points (..., P, d) given as (x, y[, z]) rows.

    Examples
    --------
    >>> import numpy as np
    >>> transform_points(np.array([[2.0, 0, 1], [0, 1, 0]]), np.array([[1.0, 3.0]]))
    array([[3., 3.]])
    """
    affine = _as_affine(affine, "affine", "transform_points")
    d = _dims(affine)
    points = np.asarray(values_of(points), dtype=affine.dtype)
    if points.ndim < 2 or points.shape[-1] != d:
        fail("transform_points", "points", f"shape (..., P, {d})", f"shape {points.shape}")
    return points @ np.swapaxes(affine[..., :, :d], -1, -2) + affine[..., None, :, d]


def corner_error(theta, reference, in_size, out_size=None, align_corners=False):
    """Largest distance, in input pixels, between where two affine warps send the image corners.

    The corners are the centres of the OUTPUT image's corner pixels: four, ``(0, 0)``,
    ``(W - 1, 0)``, ``(0, H - 1)`` and ``(W - 1, H - 1)``, or the eight corner voxels of a
    volume; each is mapped to the input by ``theta`` and by ``reference`` (both normalised, as
    ``affine_grid``) and the largest of the distances is returned, per batch element. Since an
    affine map's error is largest at a corner of a convex region, this bounds the error at
    every pixel.

    Examples
    --------
    >>> import numpy as np
    >>> shifted = np.array([[1.0, 0, 0.02], [0, 1, 0]])      # 0.02 normalised of 100 px = 1 px
    >>> float(corner_error(shifted, np.eye(2, 3), (100, 100)))
    1.0
    """
    d = _dims(_as_affine(theta, "theta", "corner_error"))
    out_size = in_size if out_size is None else out_size
    out_size = check_size(out_size, "corner_error", "out_size", length=d, layout=_LAYOUTS[d])
    ends = [(0, s - 1) for s in axis_sizes(out_size)]  # (x, y[, z]) of the first and last pixel of each axis
    corners = np.array(list(itertools.product(*ends)), dtype=np.float64)
    a = transform_points(theta_to_pixel(theta, in_size, out_size, align_corners), corners)
    b = transform_points(theta_to_pixel(reference, in_size, out_size, align_corners), corners)
    return np.linalg.norm(a - b, axis=-1).max(axis=-1)
