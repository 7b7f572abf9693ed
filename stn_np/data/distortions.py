"""The paper's distorted-MNIST protocols (Jaderberg et al. 2015, section 4.1), for 28 x 28 uint8 digits.

=====  ====================================================================  ==========
kind   what                                                                  output
=====  ====================================================================  ==========
none   identity (a copy)                                                     28 x 28
R      rotation by U(-90, 90) degrees about the centre                       28 x 28
RTS    rotation U(-45, 45) deg and scale U(0.7, 1.2) about the digit's        42 x 42
       centre, placed at a uniform position on the canvas that keeps the
       scaled 28 x 28 frame inside
P      scale U(0.75, 1.0) about the centre, then each of the four corners     28 x 28
       moved by N(0, 5^2) pixels per axis; the projective warp that takes
       the frame's corners there
E      elastic: thin plate spline whose 4 x 4 control points (a lattice        28 x 28
       over the whole image) are moved by N(0, 1.5^2) pixels per axis
TC     translated: placed at a uniform position inside a 60 x 60 canvas,      60 x 60
       with six 6 x 6 crops of other digits pasted at uniform positions as
       clutter (the pixel-wise maximum of clutter and digit)
=====  ====================================================================  ==========

Every warp runs on the library's own ops: ``affine_grid`` (R, RTS, TC), ``projective_grid`` (P)
or ``tps_grid`` (E), then ``grid_sample`` (bilinear, zero padding, ``align_corners=False``),
in float32 and in chunks so that memory stays bounded; the result is rounded back to uint8.

Geometry. Maps are written in continuous pixel coordinates (see :mod:`stn_np.data.warp`), the
input frame's centre being ``c_in = (14, 14)``. For R, RTS and TC the forward map
input -> output is ``q = position + s R(angle) (u - c_in)``, with ``R`` counter-clockwise on
screen (:func:`~stn_np.data.warp.rotation_matrix`); the grid needs its inverse
``u = c_in + R(angle)^T (q - position) / s``, which :func:`~stn_np.data.warp.theta_from_pixel_map`
turns into normalised coordinates (each image in its own frame: for RTS the linear part is
scaled by 42 / 28). With angle 0 and scale 1, a ``position`` of ``(14 + a, 14 + b)`` for whole
numbers ``a, b`` copies the digit exactly to rows ``b .. b + 27`` and columns ``a .. a + 27``.

For P the homography maps output points to input points in normalised coordinates and is
solved from the four corner correspondences; a draw whose moved corners do not form a convex
quadrilateral (the warp would fold the image through its horizon) is drawn again. For E the
offsets are converted from pixels to normalised units (times 2 / 28).

Randomness: every parameter comes from ``numpy.random.default_rng(seed)`` (a fresh generator
per call, so results depend only on the arguments); :func:`distortion_params` returns them.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..validation import check_choice, check_int, check_memory, check_real_array, fail
from .batching import check_images
from .warp import rotation_matrix, theta_from_pixel_map, warp_affine, warp_grid

__all__ = ["distort", "distortion_params", "similarity_theta", "DISTORTIONS", "OUTPUT_SIZE"]

DISTORTIONS = ("none", "R", "RTS", "P", "E", "TC")
#: Side of each distortion's output image.
OUTPUT_SIZE = {"none": 28, "R": 28, "RTS": 42, "P": 28, "E": 28, "TC": 60}

SIZE = 28  # side of the input digits
CENTRE = SIZE / 2
R_ANGLE = 90.0
RTS_ANGLE, RTS_SCALE = 45.0, (0.7, 1.2)
P_SCALE, P_CORNER_SIGMA = (0.75, 1.0), 5.0
E_SIGMA, E_CONTROL = 1.5, (4, 4)
TC_CLUTTER, TC_CROP = 6, 6
#: Crops for clutter start within the central 20 x 20 box, where digits have ink.
TC_CROP_RANGE = (4, SIZE - 4 - TC_CROP)
#: The frame's corners (x, y) in the input's normalised coordinates, in cyclic order.
CORNERS = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


def _check_kind(kind, function):
    return check_choice(kind, DISTORTIONS, function, "kind")


def similarity_theta(angle, scale, position, out_size):
    """``theta`` (N, 2, 3) that rotates and scales 28 x 28 digits about their centre, then places them.

    The forward map (input pixel ``u`` -> output pixel ``q``) is
    ``q = position + scale * R(angle) (u - (14, 14))`` (see the module docstring).

    Parameters
    ----------
    angle : array_like, shape (N,)
        Degrees, counter-clockwise on screen.
    scale : array_like, shape (N,)
    position : array_like, shape (N, 2)
        Where the input's centre lands, (x, y) in continuous output pixels.
    out_size : int
        Side of the square output.

    Examples
    --------
    >>> theta = similarity_theta([0.0], [1.0], [[21.0, 21.0]], 42)  # centred on a 42 x 42 canvas
    >>> theta[0] + 0.0  # (+ 0.0 turns -0.0 into 0.0)
    array([[1.5, 0. , 0. ],
           [0. , 1.5, 0. ]])
    """
    here = "similarity_theta"
    angle = check_real_array(angle, here, "angle", shape=(None,), layout="(N,)")
    n = len(angle)
    scale = check_real_array(scale, here, "scale", shape=(n,), layout=f"(N,) with N = {n}, as angle")
    position = check_real_array(position, here, "position", shape=(n, 2), layout=f"(N, 2) with N = {n}, as angle")
    if not np.all(np.isfinite(scale) & (scale != 0)):
        fail(here, "scale", "finite non-zero scales", f"{scale[~(np.isfinite(scale) & (scale != 0))][0]}")
    out_size = check_int(out_size, here, "out_size", minimum=1)
    inverse = np.swapaxes(rotation_matrix(angle), 1, 2) / scale[:, None, None]  # R^T / s
    offset = CENTRE - (inverse @ position[:, :, None])[:, :, 0]
    return theta_from_pixel_map(inverse, offset, (SIZE, SIZE), (out_size, out_size))


def _homography(src, dst):
    """params (N, 8) of the homographies taking points src[n, k] to dst[n, k] (4 pairs each).

    ``X = (h0 x + h1 y + h2) / (h6 x + h7 y + 1)``, ``Y = (h3 x + h4 y + h5) / (h6 x + h7 y + 1)``,
    rearranged into two linear equations per pair.
    """
    n = len(src)
    x, y = src[..., 0], src[..., 1]
    X, Y = dst[..., 0], dst[..., 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    rows_x = np.stack([x, y, one, zero, zero, zero, -x * X, -y * X], -1)
    rows_y = np.stack([zero, zero, zero, x, y, one, -x * Y, -y * Y], -1)
    system = np.concatenate([rows_x, rows_y], axis=1)  # (N, 8, 8)
    rhs = np.concatenate([X, Y], axis=1)
    return np.linalg.solve(system, rhs[:, :, None])[:, :, 0] if n else np.zeros((0, 8))


def _convex(quads):
    """Whether each quadrilateral (N, 4, 2), corners in cyclic order, is strictly convex."""
    edges = np.roll(quads, -1, axis=1) - quads
    turn = edges[:, :, 0] * np.roll(edges, -1, axis=1)[:, :, 1] - edges[:, :, 1] * np.roll(edges, -1, axis=1)[:, :, 0]
    return np.all(turn > 0, axis=1) | np.all(turn < 0, axis=1)


def distortion_params(kind, n, seed=0):
    """Draw the random parameters of ``n`` distortions of type ``kind``.

    Parameters
    ----------
    kind : {"none", "R", "RTS", "P", "E", "TC"}
    n : int
        Number of images.
    seed : int
        Non-negative; the same ``(kind, n, seed)`` always gives the same parameters.

    Returns
    -------
    dict of ndarray
        Per kind (pixels are input pixels unless said otherwise):

        * R: ``angle`` (n,) degrees; ``theta`` (n, 2, 3).
        * RTS: ``angle`` (n,), ``scale`` (n,), ``position`` (n, 2) canvas pixels of the
          digit frame's centre (x, y); ``theta`` (n, 2, 3).
        * P: ``scale`` (n,), ``corners`` (n, 4, 2) where the frame's corners go, in output
          pixels, in the order top-left, top-right, bottom-right, bottom-left;
          ``homography`` (n, 8) for ``projective_grid``.
        * E: ``offsets_px`` (n, 16, 2) control-point displacements in pixels;
          ``offsets`` (n, 16, 2) the same in normalised units for ``tps_grid``.
        * TC: ``position`` (n, 2); ``theta`` (n, 2, 3); ``clutter_source`` (n, 6) indices
          of the other images the crops come from; ``clutter_crop`` (n, 6, 2) the crops'
          top-left (x, y) in their source; ``clutter_position`` (n, 6, 2) top-left (x, y) on
          the canvas.
        * none: nothing.
    """
    _check_kind(kind, "distortion_params")
    n = check_int(n, "distortion_params", "n", minimum=0)
    check_memory((n, 64), np.float64, "distortion_params", "n", "parameters")  # at most ~64 numbers a sample
    rng = np.random.default_rng(check_int(seed, "distortion_params", "seed", minimum=0))
    if kind == "none":
        return {}
    if kind == "R":
        angle = rng.uniform(-R_ANGLE, R_ANGLE, n)
        theta = similarity_theta(angle, np.ones(n), np.full((n, 2), CENTRE), SIZE)
        return {"angle": angle, "theta": theta}
    if kind == "RTS":
        angle = rng.uniform(-RTS_ANGLE, RTS_ANGLE, n)
        scale = rng.uniform(*RTS_SCALE, n)
        half = CENTRE * scale[:, None]  # half the scaled frame
        canvas = OUTPUT_SIZE["RTS"]
        position = half + rng.uniform(0, 1, (n, 2)) * (canvas - 2 * half)
        theta = similarity_theta(angle, scale, position, canvas)
        return {"angle": angle, "scale": scale, "position": position, "theta": theta}
    if kind == "P":
        scale = rng.uniform(*P_SCALE, n)
        corners = CENTRE + scale[:, None, None] * CENTRE * CORNERS + rng.normal(0, P_CORNER_SIGMA, (n, 4, 2))
        folded = ~_convex(corners)
        while folded.any():  # redraw the noise of folded quadrilaterals only
            count = int(folded.sum())
            corners[folded] = CENTRE + scale[folded, None, None] * CENTRE * CORNERS + rng.normal(
                0, P_CORNER_SIGMA, (count, 4, 2)
            )
            folded = ~_convex(corners)
        # The grid maps output points to input points: moved corners -> the frame's corners.
        homography = _homography(corners / CENTRE - 1, np.broadcast_to(CORNERS, (n, 4, 2)))
        return {"scale": scale, "corners": corners, "homography": homography}
    if kind == "E":
        offsets_px = rng.normal(0, E_SIGMA, (n, E_CONTROL[0] * E_CONTROL[1], 2))
        return {"offsets_px": offsets_px, "offsets": offsets_px / CENTRE}
    # TC
    canvas = OUTPUT_SIZE["TC"]
    position = rng.uniform(CENTRE, canvas - CENTRE, (n, 2))
    theta = similarity_theta(np.zeros(n), np.ones(n), position, canvas)
    # Another image: shift by 1 .. n-1 (mod n); a lone image can only clutter itself.
    shift = rng.integers(1, n, (n, TC_CLUTTER)) if n > 1 else np.zeros((n, TC_CLUTTER), np.int64)
    source = (np.arange(n)[:, None] + shift) % max(n, 1)
    crop = rng.integers(TC_CROP_RANGE[0], TC_CROP_RANGE[1], (n, TC_CLUTTER, 2), endpoint=True)
    where = rng.integers(0, canvas - TC_CROP, (n, TC_CLUTTER, 2), endpoint=True)
    return {"position": position, "theta": theta, "clutter_source": source, "clutter_crop": crop, "clutter_position": where}


def _clutter(images, params, rows):
    """The clutter canvases (len(rows), 60, 60) float32 for the samples ``rows``."""
    canvas = OUTPUT_SIZE["TC"]
    out = np.zeros((len(rows), canvas, canvas), dtype=np.float32)
    offsets = np.arange(TC_CROP)
    for piece in range(TC_CLUTTER):
        src = params["clutter_source"][rows, piece]
        cx, cy = params["clutter_crop"][rows, piece].T
        px, py = params["clutter_position"][rows, piece].T
        # (len(rows), 6, 6) crops by fancy indexing: rows cy.., columns cx..
        crops = images[src[:, None, None], (cy[:, None] + offsets)[:, :, None], (cx[:, None] + offsets)[:, None, :]]
        k = np.arange(len(rows))[:, None, None]
        target_r = (py[:, None] + offsets)[:, :, None]
        target_c = (px[:, None] + offsets)[:, None, :]
        out[k, target_r, target_c] = np.maximum(out[k, target_r, target_c], crops)
    return out


def _warp_chunk(kind, x, params, rows):
    """Apply distortion ``kind`` to float32 images ``x`` (the samples ``rows``)."""
    size = OUTPUT_SIZE[kind]
    if kind in ("R", "RTS", "TC"):
        return warp_affine(x, params["theta"][rows], (size, size))
    shape = (len(x), 1, size, size)
    with no_grad():
        if kind == "P":
            grid = F.projective_grid(params["homography"][rows].astype(np.float32), shape, align_corners=False)
        else:
            grid = F.tps_grid(params["offsets"][rows].astype(np.float32), shape, control_points=E_CONTROL,
                              align_corners=False)
    return warp_grid(x, grid.data)


def distort(images, kind, seed=0, chunk_size=1024):
    """Apply one of the paper's distortions to 28 x 28 digits.

    Parameters
    ----------
    images : ndarray, uint8, shape (n, 28, 28)
        (any (n, H, W) for ``kind="none"``, which returns a copy)
    kind : {"none", "R", "RTS", "P", "E", "TC"}
        See the module docstring.
    seed : int
        Non-negative; the parameters are ``distortion_params(kind, n, seed)``.
    chunk_size : int
        Images warped at a time (bounds the float32 temporaries; does not change the result).

    Returns
    -------
    ndarray, uint8, shape (n, S, S)
        ``S = OUTPUT_SIZE[kind]``: 28, or 42 for RTS, 60 for TC.

    Examples
    --------
    >>> import numpy as np
    >>> digits = np.zeros((2, 28, 28), np.uint8); digits[:, 10:18, 12:16] = 255
    >>> distort(digits, "RTS", seed=0).shape
    (2, 42, 42)
    """
    _check_kind(kind, "distort")
    images = check_images(images, "distort")
    if kind == "none":  # any image size: nothing is warped
        return images.copy()
    if images.shape[1:] != (SIZE, SIZE):
        fail("distort", "images", f"(n, {SIZE}, {SIZE}) images for kind {kind!r} (only 'none' takes other sizes)",
             f"shape {images.shape}")
    chunk_size = check_int(chunk_size, "distort", "chunk_size", minimum=1)
    params = distortion_params(kind, len(images), check_int(seed, "distort", "seed", minimum=0))
    size = OUTPUT_SIZE[kind]
    out = np.empty((len(images), size, size), dtype=np.uint8)
    for start in range(0, len(images), chunk_size):
        rows = np.arange(start, min(start + chunk_size, len(images)))
        warped = _warp_chunk(kind, images[rows].astype(np.float32), params, rows)
        if kind == "TC":
            warped = np.maximum(warped, _clutter(images, params, rows))
        out[rows] = np.clip(np.rint(warped), 0, 255).astype(np.uint8)
    return out
