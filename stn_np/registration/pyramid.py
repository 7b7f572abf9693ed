"""Image pyramids and resizing, built with the library's own grid generator and sampler.

Resizing an image to H' x W' is sampling it on the identity grid of H' x W' (normalised
coordinates, ``align_corners=False``, so both images span the same [-1, 1] square).
Halving is then a box filter for free: output pixel p of a half-size axis has its centre at
input pixel coordinate ``2 p + 1/2``, exactly between input pixels 2p and 2p + 1, so bilinear
sampling averages each 2 x 2 block.

The blur before halving is the sampler too: averaging the image sampled at the four
half-pixel shifts ``(+-1/2, +-1/2)`` applies the binomial kernel ``[1, 2, 1] / 4`` along each
axis; followed by the 2 x 2 block average the overall anti-aliasing kernel is
``[1, 3, 3, 1] / 8`` per axis. Edges use ``border`` padding, so the image does not darken
toward its border.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import no_grad
from ..sampling.coords import identity_grid, pixel_size
from ..sampling.grid_sample import grid_sample
from ..validation import check_size, fail

__all__ = ["resample", "blur", "downsample", "build_pyramid", "level_sizes"]


def _check_batch(image, function):
    image = np.asarray(image)
    if image.ndim != 4 or image.dtype.kind != "f":
        fail(function, "image", "a float (N, C, H, W) array", f"{image.dtype} {image.shape}")
    return image


def resample(image, out_hw):
    """Resize an (N, C, H, W) image to ``out_hw`` = (H', W') by bilinear sampling on the identity grid.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> resample(image, (2, 2))[0, 0]          # halving averages each 2 x 2 block
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    image = _check_batch(image, "resample")
    out_hw = check_size(out_hw, "resample", "out_hw", length=2, layout="(height, width)")
    grid = np.broadcast_to(identity_grid(*out_hw, dtype=image.dtype), (image.shape[0], *out_hw, 2))
    with no_grad():
        return grid_sample(image, np.ascontiguousarray(grid), padding_mode="border").data


def blur(image):
    """Binomial ``[1, 2, 1] / 4`` blur along each axis, as the mean of four half-pixel-shifted samples."""
    image = _check_batch(image, "blur")
    n, _, h, w = image.shape
    base = identity_grid(h, w, dtype=image.dtype)
    half = 0.5 * np.array([pixel_size(w), pixel_size(h)], dtype=image.dtype)  # half a pixel, normalised
    out = np.zeros_like(image)
    with no_grad():
        for sx in (-1, 1):
            for sy in (-1, 1):
                grid = np.broadcast_to(base + half * (sx, sy), (n, h, w, 2))
                out += grid_sample(image, np.ascontiguousarray(grid), padding_mode="border").data
    return out / 4


def level_sizes(height, width, levels):
    """The (H, W) of each pyramid level, coarsest first: each level halves the one below (floor)."""
    sizes = [(height, width)]
    for _ in range(levels - 1):
        h, w = sizes[0]
        sizes.insert(0, (max(h // 2, 1), max(w // 2, 1)))
    return sizes


def downsample(image, smooth=True):
    """Halve an (N, C, H, W) image (floor of odd sizes), after a binomial blur when ``smooth``."""
    image = _check_batch(image, "downsample")
    h, w = image.shape[-2:]
    return resample(blur(image) if smooth else image, (max(h // 2, 1), max(w // 2, 1)))


def build_pyramid(image, levels, smooth=True):
    """The list of ``levels`` images, coarsest first, the last being ``image`` itself.

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
