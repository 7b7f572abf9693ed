r"""The paper's sampler written literally: the double sum over every pixel, and its backward.

:func:`reference_sample` evaluates ::

    V_i^c = sum_n sum_m U_pad(n, m)^c k(x_i^s - m) k(y_i^s - n)

over the whole padded image for any :class:`~stn_np.sampling.kernels.Kernel`, dense and slow
(O(N C H_out W_out H W)), for tests and teaching. The fast sampler
(:func:`stn_np.functional.grid_sample`) must agree with it in values and both gradients; the
tests hold the two to each other.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..validation import check_image_and_grid, fail, values_of
from .coords import coordinate_scale, normalized_to_pixel
from .kernels import BILINEAR, resolve_kernel
from .padding import check_padding, reflection_period

__all__ = ["ReferenceSampleFunction", "reference_sample"]


# numpy.pad modes that extend an axis the way each padding mode defines U_pad.
_NUMPY_PAD = {
    ("zeros", False): "constant", ("zeros", True): "constant",
    ("border", False): "edge", ("border", True): "edge",
    ("reflection", False): "symmetric",  # mirror at the image edge: U_pad(-1) = U(0)
    ("reflection", True): "reflect",  # mirror through the corner pixel centre: U_pad(-1) = U(1)
}


def _window(pixel, size, radius, padding_mode, align_corners):
    """Shift positions to equivalent ones near the image; return them and the padding needed.

    The padded image is infinite, but the sum only needs the pixels within ``radius`` of each
    position. ``zeros``: only the image's own pixels are non-zero, so no padding at all.
    ``reflection``: U_pad repeats with its period, so positions move by whole periods.
    ``border``: U_pad is constant beyond the edges, so positions farther out move by whole
    pixels to just beyond them. Every shift is by a constant, so the gradient passes unchanged.
    """
    reach = math.ceil(radius)
    if padding_mode == "zeros":
        return pixel, 0
    if padding_mode == "reflection":
        period = reflection_period(size, align_corners)
        if period:
            pixel = pixel - period * np.floor(pixel / period)
        return pixel, period + reach + 1
    low, high = -reach - 1, size + reach
    pixel = np.where(pixel > high, pixel - np.floor(pixel - high), pixel)
    pixel = np.where(pixel < low, pixel + np.floor(low - pixel), pixel)
    return pixel, 2 * reach + 3


def _padding_matrix(size, pad, padding_mode, align_corners, dtype):
    """R with ``U_pad = R @ U`` along one axis: ``numpy.pad`` applied to the identity matrix.

    Row ``r`` holds the pixel that padded position ``r - pad`` reads (a zero row for zeros
    padding outside the image), so ``R.T`` folds a gradient on the padded image back onto the
    pixels it came from (the adjoint of padding).
    """
    eye = np.eye(size, dtype=dtype)
    return np.pad(eye, ((pad, pad), (0, 0)), mode=_NUMPY_PAD[padding_mode, bool(align_corners)])


class ReferenceSampleFunction(Function):
    r"""The sampler as the paper writes it, summed over every pixel of the padded image.

    Forward, with ``x, y`` the source points in pixel units and ``U_pad`` the padded,
    infinitely extended image (see ``stn_np.sampling.padding``)::

        V_i^c = sum_{n, m in Z} U_pad(n, m)^c k(x_i - m) k(y_i - n)

    The sum is finite because ``k`` vanishes beyond its radius: the padded image is
    materialised as ``U_pad = R_y U R_x^T`` over a window wide enough for every point (``R``
    from :func:`numpy.pad` of the identity), after shifting points by whole periods
    (reflection) or whole pixels beyond the edge (border), which leaves ``V`` unchanged.

    Backward, with ``g`` the upstream gradient::

        dL/dU_pad(n, m)^c = sum_i g_i^c k(x_i - m) k(y_i - n);   dL/dU = R_y^T (dL/dU_pad) R_x
        dL/dx_i = sum_c g_i^c sum_{n, m} U_pad(n, m)^c k'(x_i - m) k(y_i - n)   (y alike)

    and ``dL/dgrid = dL/dx * dx/dgrid`` with ``dx/dgrid = W/2`` (or ``(W-1)/2`` with
    ``align_corners``). Dense: O(N C H_out W_out H W) time and memory, for small inputs.
    """

    @staticmethod
    def forward(ctx, U, grid, kernel=BILINEAR, padding_mode="zeros", align_corners=False):
        N, C, H, W = U.shape
        _, Ho, Wo, _ = grid.shape
        dtype = U.dtype
        x = normalized_to_pixel(grid[..., 0].reshape(N, Ho * Wo), W, align_corners).astype(dtype, copy=False)
        y = normalized_to_pixel(grid[..., 1].reshape(N, Ho * Wo), H, align_corners).astype(dtype, copy=False)
        x, pad_x = _window(x, W, kernel.radius, padding_mode, align_corners)
        y, pad_y = _window(y, H, kernel.radius, padding_mode, align_corners)
        Rx = _padding_matrix(W, pad_x, padding_mode, align_corners, dtype)
        Ry = _padding_matrix(H, pad_y, padding_mode, align_corners, dtype)
        U_pad = np.einsum("ah,nchw,bw->ncab", Ry, U, Rx, optimize=True)
        # distances from every point to every (padded) pixel column m and row n
        dx = x[..., None] - np.arange(-pad_x, W + pad_x, dtype=dtype)
        dy = y[..., None] - np.arange(-pad_y, H + pad_y, dtype=dtype)
        Kx, Ky = kernel.k(dx), kernel.k(dy)
        V = np.einsum("ncab,npa,npb->ncp", U_pad, Ky, Kx, optimize=True)
        ctx.save_for_backward(U_pad, Kx, Ky, dx, dy, Rx, Ry)
        ctx.kernel = kernel
        ctx.scale = coordinate_scale(W, align_corners), coordinate_scale(H, align_corners)
        ctx.grid_shape = grid.shape
        return V.reshape(N, C, Ho, Wo)

    @staticmethod
    def backward(ctx, g):
        U_pad, Kx, Ky, dx, dy, Rx, Ry = ctx.saved_arrays
        N, C = g.shape[:2]
        g = g.reshape(N, C, -1)
        gU = ggrid = None
        if ctx.needs_input_grad[0]:
            gU_pad = np.einsum("ncp,npa,npb->ncab", g, Ky, Kx, optimize=True)
            gU = np.einsum("ah,ncab,bw->nchw", Ry, gU_pad, Rx, optimize=True)
        if ctx.needs_input_grad[1]:
            gUk = np.einsum("ncp,ncab->npab", g, U_pad, optimize=True)
            gx = np.einsum("npab,npa,npb->np", gUk, Ky, ctx.kernel.dk(dx), optimize=True)
            gy = np.einsum("npab,npa,npb->np", gUk, ctx.kernel.dk(dy), Kx, optimize=True)
            scale_x, scale_y = ctx.scale
            ggrid = np.stack([gx * scale_x, gy * scale_y], axis=-1).reshape(ctx.grid_shape).astype(g.dtype, copy=False)
        return gU, ggrid


def reference_sample(U, grid, mode=BILINEAR, padding_mode="zeros", align_corners=False):
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
    the raw coordinate gives the same values and gradients: beyond a border ``U_pad`` is
    constant, so the sample equals the edge and its gradient is 0 (the clip), and the mirrored
    ``U_pad`` interpolated at ``x`` equals ``U`` interpolated at the mirrored ``x``, whose
    derivative is the sign flip of the reflection.

    Parameters
    ----------
    U : Tensor or ndarray, shape (N, C, H, W)
    grid : Tensor or ndarray, shape (N, H_out, W_out, 2), last axis (x, y), finite
        Normalised coordinates, same dtype as ``U``.
    mode : Kernel or {"bilinear", "nearest", "bicubic"}
        ``BILINEAR``, ``INTEGER``, ``BICUBIC``, your own :class:`~stn_np.sampling.kernels.Kernel`,
        or a mode name as ``grid_sample`` takes it.
    padding_mode : {"zeros", "border", "reflection"}
    align_corners : bool

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out)
        Differentiable with respect to ``U`` and ``grid`` (through ``k'``).

    Examples
    --------
    >>> import numpy as np
    >>> U = np.arange(6.0).reshape(1, 1, 2, 3)
    >>> grid = np.array([[[[0.0, 0.0]]]])          # the centre of the image
    >>> reference_sample(U, grid, BILINEAR).data   # mean of the middle column
    array([[[[2.5]]]])
    """
    kernel = resolve_kernel(mode, "reference_sample")
    padding_mode, align_corners = check_padding(padding_mode, align_corners, "reference_sample")
    U, grid = check_image_and_grid(U, grid, "reference_sample")
    if not np.all(np.isfinite(values_of(grid))):
        fail("reference_sample", "grid", "finite coordinates (grid_sample defines NaN and inf)", "NaN or inf")
    return ReferenceSampleFunction.apply(U, grid, kernel=kernel, padding_mode=padding_mode, align_corners=align_corners)
