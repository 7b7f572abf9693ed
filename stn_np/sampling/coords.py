"""Normalised and pixel coordinates, and the identity grid.

Normalised coordinates run over [-1, 1] across the image, x along the width and y along the
height (PyTorch's ``grid_sample`` contract). Two readings of the end points:

* ``align_corners=False`` (default): -1 and +1 are the outer *edges* of the image, so pixel
  centres sit at ``(2 p + 1) / S - 1``:  ``p = ((c + 1) S - 1) / 2``.
* ``align_corners=True``: -1 and +1 are the *centres* of the corner pixels:
  ``p = (c + 1) / 2 (S - 1)``.

A one-pixel axis has its single pixel centre at 0 in both readings.
"""

import numpy as np

__all__ = ["normalized_to_pixel", "pixel_to_normalized", "identity_grid"]


def _check_size(size, name="size"):
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{name}: expected a positive int, got {size!r}")


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
    coord = np.asarray(coord)
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def pixel_to_normalized(pixel, size, align_corners=False):
    """Inverse of :func:`normalized_to_pixel` (for ``size == 1`` with ``align_corners=True``,
    where every coordinate maps to pixel 0, it returns 0)."""
    _check_size(size)
    pixel = np.asarray(pixel)
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
    _check_size(height, "height")
    _check_size(width, "width")
    xs = pixel_to_normalized(np.arange(width, dtype=dtype), width, align_corners).astype(dtype, copy=False)
    ys = pixel_to_normalized(np.arange(height, dtype=dtype), height, align_corners).astype(dtype, copy=False)
    grid = np.empty((height, width, 2), dtype=dtype)
    grid[..., 0] = xs[None, :]
    grid[..., 1] = ys[:, None]
    return grid
