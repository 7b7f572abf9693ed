"""Normalised and pixel coordinates, and the identity grid.

Normalised coordinates run over [-1, 1] across the image, x along the width, y along the
height and, in a volume (N, C, D, H, W), z along the depth (PyTorch's ``grid_sample``
contract): a grid's last axis is (x, y) or (x, y, z), the image's spatial axes in reverse
order (:func:`axis_sizes`). Two readings of the end points, the same on every axis:

* ``align_corners=False`` (default): -1 and +1 are the outer *edges* of the image, so pixel
  centres sit at ``(2 p + 1) / S - 1``:  ``p = ((c + 1) S - 1) / 2``.
* ``align_corners=True``: -1 and +1 are the *centres* of the corner pixels:
  ``p = (c + 1) / 2 (S - 1)``.

A one-pixel axis has its single pixel centre at 0 in both readings.

This module is the one home of the scale between the two units: every sampler, grid
generator and registration utility converts through :func:`normalized_to_pixel`,
:func:`coordinate_scale` (pixels per normalised unit, the chain-rule factor of every grid
gradient) and :func:`pixel_size` (normalised length of one pixel).
"""

from fractions import Fraction

import numpy as np

from ..validation import (FLOAT_DTYPES, check_bool, check_choice, check_dtype, check_int, check_memory,
                          check_real_array, fail)

__all__ = ["SPATIAL_DIMS", "GRID_AXES", "axis_sizes", "normalized_to_pixel", "pixel_to_normalized",
           "coordinate_scale", "pixel_size", "identity_grid", "linspace_from_neg_one", "sample_points"]

#: Numbers of spatial axes the samplers take: images (N, C, H, W) and volumes (N, C, D, H, W).
SPATIAL_DIMS = (2, 3)

#: Names of a grid's coordinates, in the order of its last axis.
GRID_AXES = "xyz"


def axis_sizes(spatial_shape):
    """The number of pixels along each coordinate of a grid, in the grid's order (x, y[, z]).

    A grid's last axis runs x, y, z while the image's spatial axes run (D,) H, W: the order is
    reversed. This is the one place that says so; every sampler and converter asks it.

    Examples
    --------
    >>> axis_sizes((4, 5)), axis_sizes((3, 4, 5))   # (H, W) -> (W, H); (D, H, W) -> (W, H, D)
    ((5, 4), (5, 4, 3))
    """
    if not isinstance(spatial_shape, (tuple, list)) or len(spatial_shape) not in SPATIAL_DIMS:
        fail("axis_sizes", "spatial_shape", "(H, W) or (D, H, W)", spatial_shape)
    return tuple(check_int(s, "axis_sizes", "spatial_shape", minimum=0) for s in spatial_shape)[::-1]


def _check_size(size, name="size", function="normalized_to_pixel"):
    return check_int(size, function, name, minimum=1)


def coordinate_scale(size, align_corners=False):
    """Pixels per normalised unit along an axis of ``size`` pixels: ``d pixel / d coord``.

    ``size / 2`` (align_corners=False) or ``(size - 1) / 2`` (True; 0 for a one-pixel axis).
    The sampler's grid gradient is its pixel gradient times this factor.

    Examples
    --------
    >>> coordinate_scale(5), coordinate_scale(5, align_corners=True)
    (2.5, 2.0)
    """
    _check_size(size, function="coordinate_scale")
    align_corners = check_bool(align_corners, "coordinate_scale", "align_corners")
    return (size - 1) / 2 if align_corners else size / 2


def pixel_size(size, align_corners=False):
    """Normalised length of one pixel along an axis of ``size`` pixels: ``d coord / d pixel``.

    ``2 / size`` (align_corners=False) or ``2 / (size - 1)`` (True). A one-pixel axis with
    ``align_corners=True`` maps every coordinate to its single pixel, so no pixel step can be
    expressed there: the rule is 0 (consistent with :func:`pixel_to_normalized`).

    Examples
    --------
    >>> pixel_size(4), pixel_size(5, align_corners=True), pixel_size(1, align_corners=True)
    (0.5, 0.5, 0.0)
    """
    _check_size(size, function="pixel_size")
    if check_bool(align_corners, "pixel_size", "align_corners"):
        return 0.0 if size == 1 else 2.0 / (size - 1)
    return 2.0 / size


def normalized_to_pixel(coord, size, align_corners=False, spatial_dims=2):
    """Map normalised coordinates to pixel units along an axis of ``size`` pixels.

    PyTorch's arithmetic, rounding for rounding, because a position an ulp to one side of a
    pixel centre gets a different bilinear gradient (the derivative from the right or from
    the left of a kink). PyTorch's CPU samplers of images (2-D) and of volumes (3-D) round
    ``align_corners=False`` differently, so ``spatial_dims`` chooses the kernel whose
    rounding to reproduce:

    * ``align_corners=True``: ``(c + 1) / 2 * (S - 1)``, two roundings (``(c + 1)`` and the
      product; halving is exact).
    * ``align_corners=False``: ``a = c + 1`` rounded, then ``(a S - 1) / 2`` rounded *once*.
      PyTorch writes ``((c + 1) * S - 1) / 2``, and its CPU kernel computes it as
      ``(c + 1) * (S / 2) - 0.5`` with the multiply and the subtract fused into one
      operation (a fused multiply-add, as the compiler contracts it); so does its CUDA
      kernel. NumPy has no fused multiply-add, so :func:`_fused_unnormalize` forms the
      exact ``a S - 1`` from error-free products and sums and rounds it once. Its 3-D
      (volumetric) CPU kernel is scalar code without the fused operation: ``(c + 1) S - 1``
      and its halving are rounded as written (``spatial_dims=3``). The two differ by an ulp
      at some positions, which decides the side of a kink there.

    Parameters
    ----------
    coord : array_like
        Normalised coordinates (-1 and +1 at the image's edges or corner centres).
    size : int
        Number of pixels along the axis.
    align_corners : bool
        See the module docstring.
    spatial_dims : {2, 3}
        The sampler whose rounding to reproduce: 2 for images (the default), 3 for volumes.
        Only ``align_corners=False`` depends on it.

    Returns
    -------
    ndarray
        Pixel coordinates, where pixel ``p`` covers ``[p - 0.5, p + 0.5]``; same dtype as a
        floating input. A coordinate so large that its pixel position overflows the dtype
        (float32 beyond about ``3e38 / size``) maps to +-inf, without a RuntimeWarning.

    Examples
    --------
    PyTorch's rounding, not an algebraically equal one: ``-0.8`` on a 5-pixel axis lands just
    left of pixel 0, as in PyTorch, not on it; and the centre of pixel 2 of 3 in PyTorch's
    identity grid lands an ulp left of 2.

    >>> float(normalized_to_pixel(-0.8, 5)), float(-0.8 * 5 / 2 + (5 - 1) / 2)
    (-1.1102230246251565e-16, 0.0)
    >>> float(normalized_to_pixel(2 / 3, 3)), float(((2 / 3 + 1) * 3 - 1) / 2)
    (1.9999999999999998, 2.0)

    The volumetric sampler rounds as written:

    >>> float(normalized_to_pixel(2 / 3, 3, spatial_dims=3))
    2.0
    """
    _check_size(size)
    check_bool(align_corners, "normalized_to_pixel", "align_corners")
    check_choice(spatial_dims, SPATIAL_DIMS, "normalized_to_pixel", "spatial_dims")
    coord = check_real_array(coord, "normalized_to_pixel", "coord", dtype=None)
    with np.errstate(over="ignore", invalid="ignore"):
        return unnormalize(coord, size, align_corners, spatial_dims)


def unnormalize(coord, size, align_corners, spatial_dims):
    """:func:`normalized_to_pixel` without its argument checks, for the samplers' inner loop.

    ``coord`` is a float ndarray (any layout; the result is a new contiguous array), the other
    arguments are valid. Overflow to inf is not silenced here: callers wrap it in
    ``numpy.errstate(over="ignore", invalid="ignore")``.
    """
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    if spatial_dims == 3:
        return ((coord + 1) * size - 1) / 2
    a = coord + 1
    if size >= 2 and size & (size - 1) == 0 and a.dtype.kind == "f":
        return _scaled_unnormalize(a, size)
    return _fused_unnormalize(a, size)


def _scaled_unnormalize(a, size):
    """``(a * size - 1) / 2`` rounded once, for a power-of-two ``size`` (2, 4, 8, ...): ``a * (size / 2) - 0.5``.

    Multiplying by the power of two ``size / 2`` is exact in ``a``'s own dtype (where the
    product overflows, so does the exact result), so subtracting 0.5 is the one rounding: the
    fused multiply-add's result in two plain operations (in place for an array), without
    the float64 detour or the error-free split of :func:`_fused_unnormalize`.
    """
    half, offset = a.dtype.type(size // 2), a.dtype.type(0.5)
    if isinstance(a, np.ndarray):
        np.multiply(a, half, out=a)
        return np.subtract(a, offset, out=a)
    return a * half - offset


def _fused_unnormalize(a, size):
    """``(a * size - 1) / 2`` rounded once, as ``fma(a, size / 2, -0.5)`` rounds it.

    float32: ``a * size - 1`` is exact in float64 (24 + 26 bits), so one cast rounds it; it is
    computed as ``a * (size / 2) - 0.5`` (the same exact number halved) in two operations that
    cast on the fly, without a float64 copy of ``a``.
    float64: Veltkamp's split writes ``a = hi + lo`` with halves of 26 and 27 bits, so
    ``hi * size`` and ``lo * size`` are exact (``size < 2**26``); Knuth's two-sum then
    carries the rounding errors of ``hi size - 1`` and of adding ``lo size`` exactly, and
    the final sum rounds once. Huge and non-finite ``a`` (where the split would overflow,
    and a rounding cannot matter) take the plain formula.
    """
    if a.dtype == np.float32:
        exact = np.multiply(a, size / 2, dtype=np.float64)
        if isinstance(a, np.ndarray):
            return np.subtract(exact, 0.5, out=a, casting="same_kind")  # the one rounding, into a's buffer
        return np.float32(exact - 0.5)
    if a.dtype != np.float64:
        return (a * size - 1) / 2
    split = 134217729.0 * a  # 2**27 + 1
    hi = split - (split - a)
    lo = a - hi
    low_part = lo * size
    s1 = hi * size - 1.0
    e1 = (hi * size - (s1 - (s1 - hi * size))) + (-1.0 - (s1 - hi * size))  # two-sum error of hi*size + (-1)
    s2 = s1 + low_part
    b = s2 - s1
    e2 = (s1 - (s2 - b)) + (low_part - b)  # two-sum error of s1 + low_part
    fused = (s2 + (e1 + e2)) / 2
    plain = np.abs(a) > 2.0**900
    if np.any(plain) or not np.all(np.isfinite(fused)):
        plain |= ~np.isfinite(fused)
        fused = np.where(plain, (a * size - 1) / 2, fused)
    return fused


def pixel_to_normalized(pixel, size, align_corners=False):
    """Inverse of :func:`normalized_to_pixel` (for ``size == 1`` with ``align_corners=True``,
    where every coordinate maps to pixel 0, it returns 0)."""
    _check_size(size, function="pixel_to_normalized")
    check_bool(align_corners, "pixel_to_normalized", "align_corners")
    pixel = check_real_array(pixel, "pixel_to_normalized", "pixel", dtype=None)
    if align_corners:
        if size == 1:
            return pixel * 0
        return pixel * (2 / (size - 1)) - 1
    return (2 * pixel + 1) / size - 1


def identity_grid(height, width, align_corners=False, dtype=np.float64, depth=None):
    """The identity sampling grid: (height, width, 2), last axis (x, y); with ``depth``, (depth, height, width, 3).

    Entry ``[i, j]`` holds the normalised coordinates of the centre of output pixel
    (row i, column j) (in a volume, entry ``[k, i, j]`` those of voxel (slice k, row i,
    column j), last axis (x, y, z)), so sampling an image of the same size with it reproduces
    the image. Equal, bit for bit, to PyTorch's ``affine_grid`` with the identity ``theta``
    (:func:`linspace_from_neg_one`), because that grid puts every point on a kink of the
    bilinear sample: a coordinate an ulp away would get a different gradient. A one-pixel
    axis gives 0; a side of 0 gives an empty grid; ``dtype`` must be float32 or float64.

    Examples
    --------
    >>> identity_grid(1, 4)[0, :, 0]
    array([-0.75, -0.25,  0.25,  0.75])
    >>> identity_grid(2, 3, depth=4).shape, identity_grid(2, 3, depth=4)[:, 0, 0, 2]  # z along the depth
    ((4, 2, 3, 3), array([-0.75, -0.25,  0.25,  0.75]))
    """
    spatial = (height, width) if depth is None else (depth, height, width)
    names = ("height", "width") if depth is None else ("depth", "height", "width")
    for value, name in zip(spatial, names):
        check_int(value, "identity_grid", name, minimum=0)
    check_bool(align_corners, "identity_grid", "align_corners")
    dtype = check_dtype(dtype, "identity_grid", "dtype", choices=FLOAT_DTYPES)
    d = len(spatial)
    check_memory(spatial + (d,), dtype, "identity_grid", names[int(np.argmax(spatial))])
    grid = np.empty(spatial + (d,), dtype=dtype)
    for axis, size in enumerate(axis_sizes(spatial)):  # coordinate ``axis`` varies along spatial axis d - 1 - axis
        shape = [1] * d
        shape[d - 1 - axis] = size
        grid[..., axis] = linspace_from_neg_one(size, align_corners, dtype).reshape(shape)
    return grid


def linspace_from_neg_one(size, align_corners=False, dtype=np.float64):
    """The normalised pixel centres of an axis of ``size`` pixels, rounded as PyTorch rounds them.

    Mathematically ``pixel_to_normalized(arange(size))``. PyTorch's ``affine_grid`` builds
    them as ``linspace(-1, 1, size)``, times ``(size - 1) / size`` (two roundings) when
    ``align_corners=False``; its CPU ``linspace`` computes ``-1 + step i`` for the first half
    and ``1 - step (size - 1 - i)`` for the second, ``step = 2 / (size - 1)``, each as one
    fused multiply-add (a single rounding). This reproduces those roundings exactly: in
    float32 the product and the sum are exact in float64 and rounded once; in float64 they
    are computed exactly with rationals (cached by the grid generators). A one-pixel axis
    gives 0.

    Examples
    --------
    >>> float(linspace_from_neg_one(7)[3]), float(pixel_to_normalized(3, 7))  # the centre of 7 pixels
    (4.7580986769649563e-17, 0.0)
    """
    dtype = np.dtype(dtype)
    if size <= 1:
        return np.zeros(size, dtype=dtype)
    step = dtype.type(2) / dtype.type(size - 1)
    half = size // 2
    # (start, sign, multiplier) of each point: -1 + step i, then 1 - step (size - 1 - i)
    start = np.where(np.arange(size) < half, -1, 1)
    count = np.where(np.arange(size) < half, np.arange(size), np.arange(size) - (size - 1))
    if dtype == np.float32:
        values = (np.float64(step) * count + start).astype(np.float32)  # exact in float64, rounded once
    else:
        exact = Fraction(float(step))
        values = np.array([float(exact * int(k) + int(s)) for k, s in zip(count, start)], dtype=np.float64)
    if not align_corners:
        values = values * dtype.type(size - 1) / dtype.type(size)
    return values


def sample_points(rng, N, H, W, H_out, W_out, mode="bilinear", align_corners=False, margin=3, D=None, D_out=None):
    """A random grid (N, H_out, W_out, 2) of points off the kinks of ``mode``; with ``D``, (N, D_out, H_out, W_out, 3).

    Points are drawn in pixel units as ``integer + offset`` and then normalised, so they never
    sit where a sample has a kink or a jump: bilinear and bicubic points keep 0.1 pixel away
    from the integers (the kinks of ``max(0, 1 - |d|)``, the clip of ``border``/``zeros`` and
    the mirror lines of ``reflection`` with ``align_corners``), nearest points keep 0.1 pixel
    away from the half-integers (its jumps). The integers run ``margin`` pixels past the image
    on each side, so every padding mode is exercised. This is the point set of every finite-
    difference gradient check of the samplers; the kinks themselves are tested separately.

    Parameters
    ----------
    rng : numpy.random.Generator
    N, H, W : int
        Batch size and the size of the image to be sampled.
    H_out, W_out : int
        Size of the grid.
    mode : str
        ``"nearest"`` keeps off the half-integers, anything else off the integers.
    align_corners : bool
    margin : int
        How many pixels outside the image the points may reach.
    D, D_out : int, optional
        Depth of the volume to be sampled and of the grid (both or neither): a volumetric grid.

    Returns
    -------
    ndarray, float64, shape (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3), last axis (x, y[, z]) normalised

    Examples
    --------
    >>> import numpy as np
    >>> grid = sample_points(np.random.default_rng(0), 1, 4, 5, 3, 3, margin=0)
    >>> x = normalized_to_pixel(grid[..., 0], 5)
    >>> bool(np.all(np.abs(x - np.round(x)) >= 0.1 - 1e-12))
    True
    """
    check_bool(align_corners, "sample_points", "align_corners")
    if not isinstance(rng, np.random.Generator):
        fail("sample_points", "rng", "a numpy.random.Generator", f"a {type(rng).__name__}", TypeError)
    names = ("N", "H", "W", "H_out", "W_out")
    values = (N, H, W, H_out, W_out)
    if D is not None or D_out is not None:
        names, values = names + ("D", "D_out"), values + (D, D_out)
    N, H, W, H_out, W_out, *depths = (check_int(v, "sample_points", name, minimum=1) for v, name in zip(values, names))
    margin = check_int(margin, "sample_points", "margin", minimum=0)
    spatial, out = ((H, W), (H_out, W_out)) if not depths else ((depths[0], H, W), (depths[1], H_out, W_out))
    d = len(spatial)
    shape = (N,) + out
    check_memory(shape + (2 * d,), np.float64, "sample_points", "W_out" if W_out >= H_out else "H_out", "a grid")
    low, high = (-0.4, 0.4) if mode == "nearest" else (0.1, 0.9)
    offsets = rng.uniform(low, high, shape + (d,))
    sizes = axis_sizes(spatial)
    pixels = [rng.integers(-margin, size + margin, shape) + offsets[..., axis] for axis, size in enumerate(sizes)]
    return np.stack([pixel_to_normalized(p, size, align_corners) for p, size in zip(pixels, sizes)], axis=-1)
