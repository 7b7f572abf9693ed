"""Normalised and pixel coordinates, and the identity grid.

Normalised coordinates run over [-1, 1] across the image, x along the width and y along the
height (PyTorch's ``grid_sample`` contract). Two readings of the end points:

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

import numpy as np

from ..validation import check_bool, check_int, check_memory, check_real_array, fail

__all__ = ["normalized_to_pixel", "pixel_to_normalized", "coordinate_scale", "pixel_size", "identity_grid",
           "sample_points"]


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


def normalized_to_pixel(coord, size, align_corners=False):
    """Map normalised coordinates to pixel units along an axis of ``size`` pixels.

    Parameters
    ----------
    coord : array_like
        Normalised coordinates (-1 and +1 at the image's edges or corner centres).
    size : int
        Number of pixels along the axis.
    align_corners : bool
        See the module docstring.

    Returns
    -------
    ndarray
        Pixel coordinates, where pixel ``p`` covers ``[p - 0.5, p + 0.5]``; same dtype as a
        floating input.
    """
    _check_size(size)
    check_bool(align_corners, "normalized_to_pixel", "align_corners")
    coord = check_real_array(coord, "normalized_to_pixel", "coord", dtype=None)
    # PyTorch's arithmetic, operation for operation: an algebraically equal formula rounds
    # differently and can land a point on the other side of a kink.
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


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


def identity_grid(height, width, align_corners=False, dtype=np.float64):
    """The identity sampling grid of shape (height, width, 2), last axis (x, y).

    Entry ``[i, j]`` holds the normalised coordinates of the centre of output pixel
    (row i, column j), so sampling an image of the same size with it reproduces the image.
    Equals PyTorch's ``affine_grid`` with the identity ``theta`` (a one-pixel axis gives 0).
    """
    _check_size(height, "height", "identity_grid")
    _check_size(width, "width", "identity_grid")
    check_bool(align_corners, "identity_grid", "align_corners")
    check_memory((height, width, 2), np.float64, "identity_grid", "height" if height >= width else "width")
    xs = pixel_to_normalized(np.arange(width, dtype=dtype), width, align_corners).astype(dtype, copy=False)
    ys = pixel_to_normalized(np.arange(height, dtype=dtype), height, align_corners).astype(dtype, copy=False)
    grid = np.empty((height, width, 2), dtype=dtype)
    grid[..., 0] = xs[None, :]
    grid[..., 1] = ys[:, None]
    return grid


def sample_points(rng, N, H, W, H_out, W_out, mode="bilinear", align_corners=False, margin=3):
    """A random grid (N, H_out, W_out, 2) of points kept off the kinks of ``mode``.

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

    Returns
    -------
    ndarray, float64, shape (N, H_out, W_out, 2), last axis (x, y) normalised

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
    N, H, W, H_out, W_out = (check_int(v, "sample_points", name, minimum=1)
                             for v, name in zip((N, H, W, H_out, W_out), ("N", "H", "W", "H_out", "W_out")))
    margin = check_int(margin, "sample_points", "margin", minimum=0)
    check_memory((N, H_out, W_out, 4), np.float64, "sample_points", "W_out" if W_out >= H_out else "H_out", "a grid")
    if mode == "nearest":
        offsets = rng.uniform(-0.4, 0.4, (N, H_out, W_out, 2))
    else:
        offsets = rng.uniform(0.1, 0.9, (N, H_out, W_out, 2))
    px = rng.integers(-margin, W + margin, (N, H_out, W_out)) + offsets[..., 0]
    py = rng.integers(-margin, H + margin, (N, H_out, W_out)) + offsets[..., 1]
    return np.stack([pixel_to_normalized(px, W, align_corners), pixel_to_normalized(py, H, align_corners)], axis=-1)
