"""Registration losses: image similarity (MSE, NCC) and the diffusion smoothness penalty.

MSE is the library's :func:`~stn_np.functional.mse_loss`. The two ops below are new, each
with its forward and hand-derived backward side by side; ``g`` is the upstream gradient of
the scalar loss.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..validation import check_choice, check_float_array, check_number, fail, shape_of
from ..ops.loss import mse_loss

__all__ = ["NCCLossFunction", "DiffusionPenaltyFunction", "ncc_loss", "diffusion_penalty", "similarity_loss", "LOSSES"]

#: Names accepted by :func:`similarity_loss` (and ``register(loss=...)``).
LOSSES = ("mse", "ncc")


class NCCLossFunction(Function):
    r"""Global normalised cross-correlation loss, ``L = mean_n (1 - r_n)``, for x, y of shape (N, ...).

    Per sample n, over all its D elements (channels and pixels), with centred values
    ``a = x - mean(x)``, ``b = y - mean(y)`` and the sums ``S_ab = sum a b``,
    ``S_aa = sum a^2``, ``S_bb = sum b^2``::

        r = S_ab / sqrt((S_aa + eps) (S_bb + eps))

    ``r`` is 1 when y is an increasing affine function of x (any gain and offset), which is
    why NCC suits images whose brightness differs; ``eps`` keeps a constant image finite.

    Backward. Differentiating through the centring gives a term proportional to
    ``sum_i (b_i / D' - r a_i / (S_aa + eps))`` which is 0 because centred values sum to 0;
    what remains is::

        dr/dx_i = b_i / sqrt((S_aa + eps)(S_bb + eps)) - r a_i / (S_aa + eps)
        dr/dy_i = a_i / sqrt((S_aa + eps)(S_bb + eps)) - r b_i / (S_bb + eps)
        dL/dx   = -(g / N) dr/dx,    dL/dy = -(g / N) dr/dy
    """

    @staticmethod
    def forward(ctx, x, y, eps=1e-8):
        n = x.shape[0]
        a = x.reshape(n, -1)
        b = y.reshape(n, -1)
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
        s_aa = np.einsum("nd,nd->n", a, a) + eps
        s_bb = np.einsum("nd,nd->n", b, b) + eps
        denominator = np.sqrt(s_aa * s_bb)
        r = np.einsum("nd,nd->n", a, b) / denominator
        ctx.save_for_backward(a, b, s_aa, s_bb, denominator, r)
        ctx.shape = x.shape
        return np.asarray(np.mean(1 - r), dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        a, b, s_aa, s_bb, denominator, r = ctx.saved_arrays
        scale = -g / a.shape[0]
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = (scale * (b / denominator[:, None] - (r / s_aa)[:, None] * a)).reshape(ctx.shape)
        if ctx.needs_input_grad[1]:
            gy = (scale * (a / denominator[:, None] - (r / s_bb)[:, None] * b)).reshape(ctx.shape)
        return gx, gy


class DiffusionPenaltyFunction(Function):
    r"""Diffusion regulariser of a displacement field u (N, H, W, 2): mean squared finite differences.

    With the forward differences ``dx = u[:, :, j+1] - u[:, :, j]`` (along the width) and
    ``dy = u[:, i+1, :] - u[:, i, :]`` (along the height), both components summed, and
    ``P = N H W`` the number of field points::

        R = (sum dx^2 + sum dy^2) / P

    Backward: each difference ``d = u_k - u_l`` adds ``2 d / P`` to its end point and takes it
    from its start, so ``dR/du = -(2 / P) Laplacian(u)`` with the free (Neumann) boundary of
    the differences::

        dR/du[.., j] = (2 g / P) (dx[.., j - 1] - dx[.., j])   (missing terms at the ends are 0)

    and alike along the height. R is 0 for any constant field (a translation costs nothing)
    and, in the continuum, approximates the mean of ``|grad u|^2`` in pixels per pixel, which
    is why it is comparable across pyramid levels.
    """

    @staticmethod
    def forward(ctx, u):
        dx = np.diff(u, axis=2)
        dy = np.diff(u, axis=1)
        ctx.save_for_backward(dx, dy)
        ctx.shape = u.shape
        points = u.shape[0] * u.shape[1] * u.shape[2]
        ctx.points = points
        return np.asarray((np.vdot(dx, dx) + np.vdot(dy, dy)) / points, dtype=u.dtype)

    @staticmethod
    def backward(ctx, g):
        dx, dy = ctx.saved_arrays
        grad = np.zeros(ctx.shape, dtype=dx.dtype)
        grad[:, :, 1:] += dx
        grad[:, :, :-1] -= dx
        grad[:, 1:] += dy
        grad[:, :-1] -= dy
        grad *= 2 * g / ctx.points
        return grad


def _check_pair(x, y, function):
    shape = shape_of(x)
    check_float_array(x, function, "x")
    check_float_array(y, function, "y")
    if shape != shape_of(y):
        fail(function, "y", f"the shape of x, {shape}", f"shape {shape_of(y)}")
    if len(shape) < 2:
        fail(function, "x", "shape (N, ...) with at least 2 axes", f"shape {shape}")


def ncc_loss(x, y, eps=1e-8):
    """``mean_n (1 - NCC(x_n, y_n))``: 0 for a perfect linear match, up to 2 (see :class:`NCCLossFunction`).

    Parameters
    ----------
    x, y : Tensor or ndarray, shape (N, ...)
        Batches of images (or any arrays); each sample is correlated over all its elements.
    eps : float
        Added to each sum of squares, so a constant sample gives r = 0 instead of NaN.

    Returns
    -------
    Tensor
        A scalar of x's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((1, 1, 4, 4))
    >>> round(ncc_loss(x, 3 * x + 1).item(), 6)       # gain and offset do not matter
    0.0
    >>> round(ncc_loss(x, -x).item(), 6)
    2.0
    """
    _check_pair(x, y, "ncc_loss")
    eps = check_number(eps, "ncc_loss", "eps", minimum=0)
    return NCCLossFunction.apply(x, y, eps=eps)


def diffusion_penalty(field):
    """Mean squared forward differences of a (N, H, W, 2) field (see :class:`DiffusionPenaltyFunction`).

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.zeros((1, 2, 3, 2)); ramp[..., 0] = np.arange(3)   # dx/dj = 1 on 2 x 2 differences
    >>> float(diffusion_penalty(ramp).item())   # 4 differences of 1, over 6 points
    0.6666666666666666
    """
    shape = shape_of(field)
    check_float_array(field, "diffusion_penalty", "field")
    if len(shape) != 4 or shape[-1] != 2:
        fail("diffusion_penalty", "field", "shape (N, H, W, 2)", f"shape {shape}")
    return DiffusionPenaltyFunction.apply(field)


def similarity_loss(name, warped, fixed):
    """The image dissimilarity called ``name`` ("mse" or "ncc") between two (N, C, H, W) batches."""
    if name == "mse":
        return mse_loss(warped, fixed)
    if name == "ncc":
        return ncc_loss(warped, fixed)
    check_choice(name, LOSSES, "similarity_loss", "loss")
