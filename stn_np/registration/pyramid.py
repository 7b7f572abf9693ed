"""Image pyramids and resizing: a Gaussian low-pass, then halving with the library's own sampler.

Everything here takes images (N, C, H, W) and volumes (N, C, D, H, W) alike; "pixel" below
means a voxel of a volume, and every statement holds per axis.

Resizing an image to H' x W' (a volume to D' x H' x W') is sampling it on the identity grid of
the new size (normalised coordinates, ``align_corners=False``, so both span the same [-1, 1]
square or cube). Halving is then a box filter for free: output pixel p of a half-size axis
has its centre at input pixel coordinate ``2 p + 1/2``, exactly between input pixels 2p and
2p + 1, so bilinear sampling averages each 2 x 2 block (trilinear: each 2 x 2 x 2 block).

Before each halving the image is low-passed by a Gaussian of ``SIGMA = 1`` pixel of the
finer level along each axis (:func:`blur`: separable, truncated at 4 sigma, edges
replicated so the image does not darken toward its border). Together with the block average
(variance 1/4 px^2 along each axis) each halving filters with a variance of ``1.25``
finer-level px^2 per axis, so the level ``k`` halvings below the full resolution has seen a
total blur, along every axis of an image or a volume, of

    sigma_k = sqrt(1.25 (4^k - 1) / 3)  full-resolution pixels:  1.12 (k=1), 2.50 (k=2), 5.12 (k=3), 10.3 (k=4)

i.e. about 0.56 - 0.64 of its own pixels: enough to suppress aliasing (content above a
level's Nyquist frequency is damped by at least exp(-2 (pi sigma / 2)^2) ~ 0.05) while keeping
edges for the fit. :func:`level_sigmas` returns these numbers.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import no_grad
from ..sampling.coords import SPATIAL_DIMS, identity_grid
from ..sampling.grid_sample import grid_sample
from ..validation import check_size, fail

__all__ = ["resample", "blur", "downsample", "build_pyramid", "level_sizes", "level_sigmas", "SIGMA"]

#: Standard deviation, in pixels of the finer level, of the Gaussian applied before each halving.
SIGMA = 1.0

_LAYOUTS = {2: "(height, width)", 3: "(depth, height, width)"}


def _check_batch(image, function):
    image = np.asarray(image)
    if image.ndim - 2 not in SPATIAL_DIMS or image.dtype.kind != "f":
        fail(function, "image", "a float (N, C, H, W) image or (N, C, D, H, W) volume", f"{image.dtype} {image.shape}")
    return image


def resample(image, out_size):
    """Resize an (N, C, H, W) image to ``out_size`` = (H', W') by bilinear sampling on the identity grid.

    A volume (N, C, D, H, W) takes ``out_size`` = (D', H', W') and is sampled trilinearly.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> resample(image, (2, 2))[0, 0]          # halving averages each 2 x 2 block
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    image = _check_batch(image, "resample")
    d = image.ndim - 2
    out_size = check_size(out_size, "resample", "out_size", length=d, layout=_LAYOUTS[d])
    depth = out_size[0] if d == 3 else None
    grid = identity_grid(*out_size[-2:], dtype=image.dtype, depth=depth)
    grid = np.broadcast_to(grid, (image.shape[0],) + grid.shape)
    with no_grad():
        return grid_sample(image, np.ascontiguousarray(grid), padding_mode="border").data


def blur(image, sigma=SIGMA):
    """Gaussian low-pass of standard deviation ``sigma`` pixels along each spatial axis of an image or volume.

    Separable (``scipy.ndimage.gaussian_filter1d`` along W, H and, for a volume, D; truncated
    at 4 sigma), edges replicated.
    """
    from scipy.ndimage import gaussian_filter1d

    image = _check_batch(image, "blur")
    if sigma <= 0:
        return image.copy()
    out = image
    for axis in range(2, image.ndim):
        out = gaussian_filter1d(out, sigma, axis=axis, mode="nearest", truncate=4.0)
    return out


def level_sigmas(levels):
    """The total blur of each pyramid level, coarsest first, in full-resolution pixels (0 for the image).

    The same along every axis, of images and volumes alike.

    Examples
    --------
    >>> [round(s, 2) for s in level_sigmas(4)]
    [5.12, 2.5, 1.12, 0.0]
    """
    return [float(np.sqrt((SIGMA**2 + 0.25) * (4**k - 1) / 3)) for k in range(levels - 1, -1, -1)]


def level_sizes(shape, levels):
    """The spatial shape of each pyramid level, coarsest first: each level halves the one below (floor).

    Examples
    --------
    >>> level_sizes((20, 9), 3), level_sizes((16, 33, 64), 2)
    ([(5, 2), (10, 4), (20, 9)], [(8, 16, 32), (16, 33, 64)])
    """
    sizes = [tuple(shape)]
    for _ in range(levels - 1):
        sizes.insert(0, tuple(max(s // 2, 1) for s in sizes[0]))
    return sizes


def downsample(image, smooth=True):
    """Halve every spatial axis of an image or volume (floor of odd sizes), after a Gaussian blur when ``smooth``."""
    image = _check_batch(image, "downsample")
    return resample(blur(image) if smooth else image, tuple(max(s // 2, 1) for s in image.shape[2:]))


def build_pyramid(image, levels, smooth=True):
    """The list of ``levels`` images (or volumes), coarsest first, the last being ``image`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> [p.shape for p in build_pyramid(np.zeros((1, 3, 20, 9)), 3)]
    [(1, 3, 5, 2), (1, 3, 10, 4), (1, 3, 20, 9)]
    """
    image = _check_batch(image, "build_pyramid")
    pyramid = [image]
    for _ in range(levels - 1):
        pyramid.insert(0, downsample(pyramid[0], smooth))
    return pyramid
