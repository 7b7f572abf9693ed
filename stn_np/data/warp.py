"""Image warps for data generation, done with the library's own grid generators and sampler.

Pixel geometry used throughout ``stn_np.data``: a point's *continuous pixel coordinates*
``(u, v)`` run over ``[0, W] x [0, H]``, with pixel ``(row i, column j)`` covering
``[j, j + 1] x [i, i + 1]`` and its centre at ``(j + 0.5, i + 0.5)``. With
``align_corners=False`` (used here everywhere) the normalised coordinate is then simply
``x = 2 u / W - 1``, ``y = 2 v / H - 1``: -1 and +1 are the outer edges of each image, and each
image — input or output — has its own normalised frame.

A warp is described in pixels as a map from output to input (where does output point ``q``
read from?)::

    u_in = P q_out + t          P: (2, 2), t: (2,), both in pixels

and :func:`theta_from_pixel_map` turns it into the ``theta`` that ``affine_grid`` expects.
With ``D_in = diag(W_in / 2, H_in / 2)``, ``D_out = diag(W_out / 2, H_out / 2)`` and ``1 = (1, 1)``,
substituting ``q = D_out (x_out + 1)`` and ``x_in = D_in^-1 u - 1``::

    theta[:, :2] = D_in^-1 P D_out
    theta[:, 2]  = D_in^-1 (P D_out 1 + t) - 1

For example, pasting a 28 x 28 image unchanged at column 7, row 7 of a 42 x 42 canvas is
``P = I, t = (-7, -7)``, i.e. ``theta = [[1.5, 0, 0], [0, 1.5, 0]]``.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..validation import check_pair, check_real_array

__all__ = ["rotation_matrix", "theta_from_pixel_map", "warp_affine", "warp_grid"]


def rotation_matrix(degrees):
    """(N, 2, 2) matrices turning (x, y) pixel vectors counter-clockwise *on screen* by ``degrees``.

    The y axis points down, so on screen counter-clockwise is ``[[cos, sin], [-sin, cos]]``.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(rotation_matrix([90.0])[0] @ [1.0, 0.0], 12)  # "right" turns to "up" (-y)
    array([ 0., -1.])
    """
    a = np.deg2rad(check_real_array(degrees, "rotation_matrix", "degrees"))
    c, s = np.cos(a), np.sin(a)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)


def theta_from_pixel_map(matrix, offset, in_hw, out_hw):
    """Convert output-to-input pixel maps ``u_in = P q_out + t`` to normalised ``theta``.

    Parameters
    ----------
    matrix : array_like, shape (N, 2, 2)
        ``P`` for each sample, acting on (x, y) pixel coordinates.
    offset : array_like, shape (N, 2)
        ``t`` for each sample, in input pixels.
    in_hw, out_hw : (int, int)
        (height, width) of the input and of the output image.

    Returns
    -------
    ndarray, shape (N, 2, 3), float64
        ``theta`` for ``affine_grid(theta, (N, C, H_out, W_out), align_corners=False)``.

    Examples
    --------
    >>> import numpy as np
    >>> theta_from_pixel_map(np.eye(2)[None], np.array([[-7.0, -7.0]]), (28, 28), (42, 42))
    array([[[1.5, 0. , 0. ],
            [0. , 1.5, 0. ]]])
    """
    here = "theta_from_pixel_map"
    matrix = check_real_array(matrix, here, "matrix", shape=(None, 2, 2), layout="(N, 2, 2)")
    offset = check_real_array(offset, here, "offset", shape=(len(matrix), 2),
                              layout=f"(N, 2) with N = {len(matrix)}, as matrix")
    in_hw = check_pair(in_hw, here, "in_hw", minimum=1)
    out_hw = check_pair(out_hw, here, "out_hw", minimum=1)
    d_in = np.array([in_hw[1] / 2, in_hw[0] / 2])
    d_out = np.array([out_hw[1] / 2, out_hw[0] / 2])
    linear = matrix * d_out[None, None, :] / d_in[None, :, None]
    shift = (matrix @ d_out + offset) / d_in - 1
    return np.concatenate([linear, shift[:, :, None]], axis=2)


#: Images per call of the sampler: its sparse operator is fastest at a few hundred images
#: (measured on 2 cores: 20k RTS digits in 0.7 s in blocks of 128, 1.5 s in blocks of 512).
BLOCK = 128


def warp_grid(images, grid):
    """Sample float images (N, H, W) at a grid (N, H_out, W_out, 2): bilinear, zero padding.

    A thin wrapper over ``stn_np.functional.grid_sample`` (``align_corners=False``) without
    graph recording, in blocks of :data:`BLOCK` images; returns an ndarray of the images'
    dtype, shape (N, H_out, W_out).
    """
    images = np.asarray(images)
    grid = np.asarray(grid, dtype=images.dtype)
    out = np.empty(grid.shape[:3], dtype=images.dtype)
    with no_grad():
        for start in range(0, len(images), BLOCK):
            block = slice(start, start + BLOCK)
            sampled = F.grid_sample(images[block, None], grid[block], mode="bilinear", padding_mode="zeros",
                                    align_corners=False)
            out[block] = sampled.data[:, 0]
    return out


def warp_affine(images, theta, out_hw):
    """Warp float images (N, H, W) by normalised ``theta`` (N, 2, 3) into (N, *out_hw)."""
    images = np.asarray(images)
    theta = np.asarray(theta, dtype=images.dtype)
    out = np.empty((len(images),) + tuple(out_hw), dtype=images.dtype)
    for start in range(0, len(images), BLOCK):
        block = slice(start, start + BLOCK)
        with no_grad():
            grid = F.affine_grid(theta[block], (len(theta[block]), 1, int(out_hw[0]), int(out_hw[1])),
                                 align_corners=False).data
        out[block] = warp_grid(images[block], grid)
    return out
