r"""The paper's sampler written literally: the double sum over every pixel, and its backward.

:func:`reference_sample` evaluates ::

    V_i^c = sum_n sum_m U_pad(n, m)^c k(x_i^s - m) k(y_i^s - n)

over the whole padded image for any :class:`~stn_np.sampling.kernels.Kernel` (for a volume
the triple sum ``sum_l sum_n sum_m U_pad(l, n, m)^c k(x - m) k(y - n) k(z - l)``), dense and
slow (O(N C H_out W_out H W)), for tests and teaching. The fast sampler
(:func:`stn_np.functional.grid_sample`) must agree with it in values and both gradients; the
tests hold the two to each other.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..validation import check_image_and_grid, fail, values_of
from .coords import coordinate_scale, normalized_to_pixel
from .kernels import BILINEAR, fraction, resolve_kernel
from .padding import check_padding, fold_coordinates, frame_width
from .subgradients import check_subgradient, kink_tolerance, snap_to_kinks, zero_at_bounds

__all__ = ["ReferenceSampleFunction", "reference_sample"]


# numpy.pad modes that extend an axis the way each padding mode defines U_pad.
_NUMPY_PAD = {
    ("zeros", False): "constant", ("zeros", True): "constant",
    ("border", False): "edge", ("border", True): "edge",
    ("reflection", False): "symmetric",  # mirror at the image edge: U_pad(-1) = U(0)
    ("reflection", True): "reflect",  # mirror through the corner pixel centre: U_pad(-1) = U(1)
}


def _padding_matrix(size, pad, padding_mode, align_corners, dtype):
    """R with ``U_pad = R @ U`` along one axis: ``numpy.pad`` applied to the identity matrix.

    Row ``r`` holds the pixel that padded position ``r - pad`` reads (a zero row for zeros
    padding outside the image), so ``R.T`` folds a gradient on the padded image back onto the
    pixels it came from (the adjoint of padding).
    """
    eye = np.eye(size, dtype=dtype)
    return np.pad(eye, ((pad, pad), (0, 0)), mode=_NUMPY_PAD[padding_mode, bool(align_corners)])


def _distances(x, pixels, reach):
    """``x - m`` for every position (..., P) and pixel ``m`` of ``pixels``: shape (..., P, M).

    Taken as ``t - (m - floor(x))`` with :func:`~stn_np.sampling.kernels.fraction`, so that no
    distance within the kernel's reach rounds across a kink.
    """
    floor, t = fraction(x, reach)
    return t[..., None] - (pixels - floor[..., None])


def _axis(coord, size, kernel, padding_mode, align_corners, subgradient, spatial_dims):
    """One axis of the sum: kernel weights and derivatives over a window of padded pixels.

    Returns ``K`` and ``dK`` of shape (N, P, M) — ``k(x_i - m)`` and the coordinate
    derivative ``dx_i/dc_i k'(x_i - m)`` under the convention, for the M window positions
    ``m`` — and the padding matrix R (M, size).
    """
    dtype = coord.dtype
    pixel = normalized_to_pixel(coord, size, align_corners, spatial_dims)
    if not np.all(np.isfinite(pixel)):
        fail("reference_sample", "grid", "coordinates whose pixel positions are finite (grid_sample defines the "
             "others)", "a coordinate beyond the dtype's range")
    # The conventions live in the fold (section 5.2 of docs/derivations.md): reflection
    # mirrors with PyTorch's arithmetic, and the slope is 0 at the bounds where PyTorch clips.
    folded, _, slope = fold_coordinates(pixel.copy(), size, kernel.radius, padding_mode, align_corners,
                                        zero_at_bounds=zero_at_bounds(kernel, padding_mode, subgradient))
    pad = 0 if padding_mode == "zeros" else frame_width(kernel.radius, padding_mode) + 1
    pixels = np.arange(-pad, size + pad, dtype=dtype)
    reach = math.ceil(kernel.radius)
    d = _distances(folded, pixels, reach)
    K = kernel.k(d)
    if subgradient == "central":
        dK = kernel.central_dk(_distances(snap_to_kinks(folded, kink_tolerance(pixel, size)), pixels, reach))
    else:
        dK = kernel.dk(d)
    factor = dtype.type(coordinate_scale(size, align_corners))
    dK = dK * (factor if slope is None else (slope * factor)[..., None])
    return K, dK, _padding_matrix(size, pad, padding_mode, align_corners, dtype)


# einsum letters: a, b, e run over the padded window of spatial axes 0, 1, 2 (slowest first),
# i, j, k over the image's pixels along them; n batch, c channel, p output point.
_PADDED, _PIXELS = "abe", "ijk"


class ReferenceSampleFunction(Function):
    r"""The sampler as the paper writes it, summed over every pixel of the padded image.

    Forward, with ``x, y`` the source points in pixel units and ``U_pad`` the padded,
    infinitely extended image (see ``stn_np.sampling.padding``)::

        V_i^c = sum_{n, m in Z} U_pad(n, m)^c k(x_i - m) k(y_i - n)

    and for a volume, with ``z`` along the depth, the triple sum::

        V_i^c = sum_{l, n, m in Z} U_pad(l, n, m)^c k(x_i - m) k(y_i - n) k(z_i - l)

    The sum is finite because ``k`` vanishes beyond its radius: the padded image is
    materialised as ``U_pad = R_y U R_x^T`` (a volume: ``R_z``, ``R_y``, ``R_x`` applied along
    its three axes) over a window wide enough for every point (``R`` from :func:`numpy.pad`
    of the identity), after moving each position to an equivalent one near the image with
    the fast sampler's fold (clip beyond the border, mirror for reflection), which leaves
    ``V`` unchanged and carries the slope ``sigma`` of the fold.

    Backward, with ``g`` the upstream gradient::

        dL/dU_pad(n, m)^c = sum_i g_i^c k(x_i - m) k(y_i - n);   dL/dU = R_y^T (dL/dU_pad) R_x
        dL/dx_i = sum_c g_i^c sum_{n, m} U_pad(n, m)^c k'(x_i - m) k(y_i - n)   (y alike)

    (a volume: one more factor ``k(z_i - l)`` and one more sum everywhere, and ``dL/dz_i``
    beside them) and ``dL/dgrid = dL/dx * sigma * dx/dgrid`` with ``dx/dgrid = W/2`` (or
    ``(W-1)/2`` with ``align_corners``). At kinks ``k'`` follows the ``subgradient``
    convention. Dense: O(N C P prod(S_i)) time and memory (``P`` output points), for small
    inputs.
    """

    @staticmethod
    def forward(ctx, U, grid, kernel=BILINEAR, padding_mode="zeros", align_corners=False, subgradient="pytorch"):
        N, C, *spatial = U.shape
        d = len(spatial)
        P = math.prod(grid.shape[1:-1])
        coords = grid.reshape(N, P, d)
        # spatial axis i is read by grid coordinate d - 1 - i: (K, dK, R) per spatial axis, slowest first
        axes = [_axis(coords[..., d - 1 - i], spatial[i], kernel, padding_mode, align_corners, subgradient, d)
                for i in range(d)]
        K, dK, R = (list(t) for t in zip(*axes))
        padded, pixels = _PADDED[:d], _PIXELS[:d]
        U_pad = np.einsum(",".join(a + i for a, i in zip(padded, pixels)) + f",nc{pixels}->nc{padded}", *R, U,
                          optimize=True)
        V = np.einsum(f"nc{padded}," + ",".join(f"np{a}" for a in padded) + "->ncp", U_pad, *K, optimize=True)
        ctx.save_for_backward(U_pad, *K, *dK, *R)
        ctx.grid_shape = grid.shape
        return V.reshape((N, C) + grid.shape[1:-1])

    @staticmethod
    def backward(ctx, g):
        d = ctx.grid_shape[-1]
        U_pad, saved = ctx.saved_arrays[0], ctx.saved_arrays[1:]
        K, dK, R = saved[:d], saved[d:2 * d], saved[2 * d:]
        N, C = g.shape[:2]
        g = g.reshape(N, C, math.prod(ctx.grid_shape[1:-1]))
        padded, pixels = _PADDED[:d], _PIXELS[:d]
        weights = ",".join(f"np{a}" for a in padded)
        gU = ggrid = None
        if ctx.needs_input_grad[0]:
            gU_pad = np.einsum(f"ncp,{weights}->nc{padded}", g, *K, optimize=True)
            gU = np.einsum(",".join(a + i for a, i in zip(padded, pixels)) + f",nc{padded}->nc{pixels}", *R, gU_pad,
                           optimize=True)
        if ctx.needs_input_grad[1]:
            gUk = np.einsum(f"ncp,nc{padded}->np{padded}", g, U_pad, optimize=True)
            grads = []
            for axis in range(d):  # grid coordinate ``axis``: k' along spatial axis d - 1 - axis
                factors = [dK[i] if i == d - 1 - axis else K[i] for i in range(d)]
                grads.append(np.einsum(f"np{padded},{weights}->np", gUk, *factors, optimize=True))
            ggrid = np.stack(grads, axis=-1).reshape(ctx.grid_shape).astype(g.dtype, copy=False)
        return gU, ggrid


def reference_sample(U, grid, mode=BILINEAR, padding_mode="zeros", align_corners=False, subgradient="pytorch"):
    r"""Sample ``U`` at ``grid`` with the kernel ``mode`` by the paper's double sum over all pixels.

    ``V_i^c = sum_n sum_m U_nm^c k(x_i^s - m) k(y_i^s - n)``, with ``(x_i^s, y_i^s)`` the grid
    point unnormalised to pixel units (see :mod:`stn_np.sampling.coords`) and the sum taken
    over the padded, infinitely extended image ``U_pad``.

    Padding, the clean formulation: ``U_pad(n, m)`` equals ``U(n, m)`` inside the image and,
    outside it, 0 (``zeros``), the nearest edge pixel (``border``), or the mirrored image
    (``reflection``; mirror lines at the image edges -0.5 and S - 0.5 with
    ``align_corners=False``, through the corner pixel centres 0 and S - 1 with ``True``).
    This is exactly PyTorch's bicubic, which pads each of its 16 integer taps. PyTorch's
    bilinear and nearest instead clip or reflect the *coordinate*; interpolating ``U_pad`` at
    the raw coordinate gives the same values (beyond a border ``U_pad`` is constant, and the
    mirrored ``U_pad`` interpolated at ``x`` equals ``U`` interpolated at the mirrored ``x``),
    and the gradients differ only at kinks, where ``subgradient`` decides
    (:mod:`stn_np.sampling.subgradients`; the default is PyTorch's, like ``grid_sample``'s).

    A volume (N, C, D, H, W) sampled at a grid (N, D_out, H_out, W_out, 3), last axis
    (x, y, z), is the triple sum ``V_i^c = sum_l sum_n sum_m U_lnm^c k(x - m) k(y - n)
    k(z - l)``, with the volumetric sampler's rounding (:func:`grid_sample`).

    Parameters
    ----------
    U : Tensor or ndarray, shape (N, C, H, W) or (N, C, D, H, W)
        N and C may be 0; the spatial sides may not.
    grid : Tensor or ndarray, shape (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3), finite
        Normalised coordinates, last axis (x, y) or (x, y, z), same dtype as ``U``.
    mode : Kernel or {"bilinear", "nearest", "bicubic"}
        ``BILINEAR``, ``INTEGER``, ``BICUBIC``, your own :class:`~stn_np.sampling.kernels.Kernel`,
        or a mode name as ``grid_sample`` takes it (no bicubic for a volume).
    padding_mode : {"zeros", "border", "reflection"}
    align_corners : bool
    subgradient : {"pytorch", "central"}

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (N, C, D_out, H_out, W_out)
        Differentiable with respect to ``U`` and ``grid`` (through ``k'``).

    Examples
    --------
    >>> import numpy as np
    >>> U = np.arange(6.0).reshape(1, 1, 2, 3)
    >>> grid = np.array([[[[0.0, 0.0]]]])          # the centre of the image
    >>> reference_sample(U, grid, BILINEAR).data   # mean of the middle column
    array([[[[2.5]]]])
    """
    padding_mode, align_corners = check_padding(padding_mode, align_corners, "reference_sample")
    subgradient = check_subgradient(subgradient, "reference_sample")
    U, grid = check_image_and_grid(U, grid, "reference_sample")
    kernel = resolve_kernel(mode, "reference_sample", grid.ndim - 2)
    if not np.all(np.isfinite(values_of(grid))):
        fail("reference_sample", "grid", "finite coordinates (grid_sample defines NaN and inf)", "NaN or inf")
    return ReferenceSampleFunction.apply(U, grid, kernel=kernel, padding_mode=padding_mode,
                                         align_corners=align_corners, subgradient=subgradient)
