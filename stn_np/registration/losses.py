"""Registration losses: image similarity (MSE, NCC, Mattes mutual information) and the diffusion penalty.

Unmasked MSE is the library's :func:`~stn_np.functional.mse_loss`. The three ops below are
new, each with its forward and hand-derived backward side by side; ``g`` is the upstream
gradient of the scalar loss.

Overlap masks. Every similarity takes an optional ``weight`` (a constant array of 0/1, or
any non-negative values, broadcast to the images' shape): only weighted elements count and
each measure is normalised by the total weight, as ITK's metrics normalise by the number of
valid samples. ``register`` passes the overlap mask (1 where a fixed pixel's sample lies
inside the moving image); the mask is piecewise constant in the transformation, so it
enters the gradient only through the weights (``docs/derivations.md``, "The overlap mask").

Volumes. Every similarity reduces over all the elements of a sample, so (N, C, D, H, W) batches
with a (N, 1, D, H, W) mask need nothing new; the diffusion penalty takes volume flows
(N, D, H, W, 3) with a third axis of differences (section 11.4).
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..validation import check_choice, check_float_array, check_int, check_number, describe, fail, shape_of, values_of
from ..ops.loss import mse_loss

__all__ = ["NCCLossFunction", "MattesMutualInformationFunction", "DiffusionPenaltyFunction", "ncc_loss",
           "masked_mse_loss", "mi_loss", "diffusion_penalty", "similarity_loss", "LOSSES", "MI_BINS"]

#: Names accepted by :func:`similarity_loss` (and ``register(loss=...)``).
LOSSES = ("mse", "ncc", "mi")
#: Default number of histogram bins of :func:`mi_loss` per image (including 2 padding bins at each end).
MI_BINS = 32


class NCCLossFunction(Function):
    r"""Global normalised cross-correlation loss, ``L = mean_n (1 - r_n)``, for x, y of shape (N, ...).

    Per sample n, over all its D elements (channels and pixels), with weights ``w_i >= 0``
    (all 1 without a mask), weighted means ``mean_w(x) = sum w x / sum w``, centred values
    ``a = x - mean_w(x)``, ``b = y - mean_w(y)`` and the weighted sums ``S_ab = sum w a b``,
    ``S_aa = sum w a^2``, ``S_bb = sum w b^2``::

        r = S_ab / sqrt((S_aa + eps) (S_bb + eps))

    ``r`` is 1 when y is an increasing affine function of x (any gain and offset) on the
    weighted elements, which is why NCC suits images whose brightness differs; ``eps`` keeps
    a constant image finite. Elements of weight 0 (outside the overlap) do not count at all.

    Backward. Differentiating through the centring gives a term proportional to
    ``sum_i w_i b_i`` (or ``sum_i w_i a_i``), which is 0 because weighted-centred values have a
    weighted sum of 0; what remains is::

        dr/dx_i = w_i (b_i / sqrt((S_aa + eps)(S_bb + eps)) - r a_i / (S_aa + eps))
        dr/dy_i = w_i (a_i / sqrt((S_aa + eps)(S_bb + eps)) - r b_i / (S_bb + eps))
        dL/dx   = -(g / N) dr/dx,    dL/dy = -(g / N) dr/dy
    """

    @staticmethod
    def forward(ctx, x, y, eps=1e-8, weight=None):
        n = x.shape[0]
        a = x.reshape(n, -1)
        b = y.reshape(n, -1)
        w = np.ones_like(a) if weight is None else np.broadcast_to(weight, x.shape).reshape(n, -1)
        total = w.sum(axis=1, keepdims=True)
        a = a - np.einsum("nd,nd->n", w, a)[:, None] / total
        b = b - np.einsum("nd,nd->n", w, b)[:, None] / total
        wa, wb = w * a, w * b
        s_aa = np.einsum("nd,nd->n", wa, a) + eps
        s_bb = np.einsum("nd,nd->n", wb, b) + eps
        denominator = np.sqrt(s_aa * s_bb)
        r = np.einsum("nd,nd->n", wa, b) / denominator
        ctx.save_for_backward(wa, wb, s_aa, s_bb, denominator, r)
        ctx.shape = x.shape
        return np.asarray(np.mean(1 - r), dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        wa, wb, s_aa, s_bb, denominator, r = ctx.saved_arrays
        scale = -g / wa.shape[0]
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = (scale * (wb / denominator[:, None] - (r / s_aa)[:, None] * wa)).reshape(ctx.shape)
        if ctx.needs_input_grad[1]:
            gy = (scale * (wa / denominator[:, None] - (r / s_bb)[:, None] * wb)).reshape(ctx.shape)
        return gx, gy


def _bspline3(t):
    """The cubic B-spline ``beta(t)`` (support |t| < 2, sums to 1 over integer shifts) and ``beta'(t)``."""
    u = np.abs(t)
    inner = u < 1
    outer = (u >= 1) & (u < 2)
    value = np.where(inner, 2 / 3 - u**2 + 0.5 * u**3, np.where(outer, (2 - u) ** 3 / 6, 0.0))
    derivative = np.where(inner, -2 * t + 1.5 * t * u, np.where(outer, -np.sign(t) * (2 - u) ** 2 / 2, 0.0))
    return value, derivative


def _parzen(values, low, high, bins):
    """Continuous bin positions of ``values`` and their 4 taps: (taps, beta, beta', d position / d value).

    A value ``v`` sits at ``xi = 2 + (v - low) / delta`` with ``delta = (high - low) / (bins - 5)``,
    clipped to ``[2, bins - 3]`` so that the four taps ``floor(xi) - 1 .. floor(xi) + 2`` are
    bins; the derivative of a clipped position is 0.
    """
    delta = (high - low) / (bins - 5)
    xi = 2 + (values - low) / delta
    inside = (xi >= 2) & (xi <= bins - 3)
    xi = np.clip(xi, 2, bins - 3)
    first = np.minimum(np.floor(xi).astype(np.int64) - 1, bins - 4)
    taps = first[:, None] + np.arange(4)
    beta, dbeta = _bspline3(xi[:, None] - taps)
    return taps, beta, dbeta, inside / delta


class MattesMutualInformationFunction(Function):
    r"""Negative Mattes mutual information ``L = -MI(x, y)`` of two images from a Parzen joint histogram.

    All elements of x and y (any equal shapes; the batch is pooled into one histogram) are
    samples ``n`` with weights ``w_n`` (the overlap mask, all 1 by default), total ``W``.
    Each value is placed at a continuous bin position ``xi = 2 + (v - low) / delta`` among
    ``B`` bins (``delta = (high - low) / (B - 5)``: two padding bins at each end, so every
    window's four taps are bins; positions are clipped to [2, B - 3]). With the cubic
    B-spline window ``beta`` (a partition of unity), the joint histogram and its marginals are::

        P[a, b] = (1 / W) sum_n w_n beta(xi_x[n] - a) beta(xi_y[n] - b),   sum_ab P = 1
        p[a] = sum_b P[a, b],   q[b] = sum_a P[a, b]
        MI = sum_ab P[a, b] log(P[a, b] / (p[a] q[b])),   L = -MI

    MI is 0 for independent images and largest when one image determines the other through
    ANY function of intensity (not only a linear one, as for NCC): images of different
    modalities, or an inverted or non-monotonic intensity remap.

    Backward. With ``P`` normalised, ``dMI/dP[a, b] = log(P[a, b] / (p[a] q[b])) + 1 - 1 - 1``;
    since ``sum_a beta'(xi - a) = 0`` (the windows sum to 1 for every xi) the constants add
    nothing, leaving ``G[a, b] = log(P[a, b] / (p[a] q[b]))`` (0 where P = 0, where every
    window derivative that could reach it is 0 as well)::

        dL/dx_n = -(g w_n / (W delta_x)) sum_ab G[a, b] beta'(xi_x[n] - a) beta(xi_y[n] - b)
        dL/dy_n = -(g w_n / (W delta_y)) sum_ab G[a, b] beta(xi_x[n] - a) beta'(xi_y[n] - b)

    (0 for a value whose position was clipped). The ranges ``(low, high)`` are constants of
    the op: ``register`` takes them from the whole images, not from the current warp.
    """

    @staticmethod
    def forward(ctx, x, y, weight=None, bins=MI_BINS, x_range=(0.0, 1.0), y_range=(0.0, 1.0)):
        xs, ys = x.reshape(-1), y.reshape(-1)
        w = np.ones_like(xs) if weight is None else np.broadcast_to(weight, x.shape).reshape(-1)
        total = w.sum()
        tx, bx, dbx, sx = _parzen(xs, *x_range, bins)
        ty, by, dby, sy = _parzen(ys, *y_range, bins)
        cells = (tx[:, :, None] * bins + ty[:, None, :]).reshape(-1)
        mass = ((w / total)[:, None, None] * bx[:, :, None] * by[:, None, :]).reshape(-1)
        joint = np.bincount(cells, mass, minlength=bins * bins).reshape(bins, bins)
        p, q = joint.sum(axis=1), joint.sum(axis=0)
        ratio = np.zeros_like(joint)
        nonzero = joint > 0
        ratio[nonzero] = np.log(joint[nonzero] / np.outer(p, q)[nonzero])
        mi = float(np.sum(joint * ratio))
        ctx.save_for_backward(ratio, w, tx, bx, dbx, sx, ty, by, dby, sy)
        ctx.total, ctx.shape = total, x.shape
        ctx.joint = joint
        return np.asarray(-mi, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        ratio, w, tx, bx, dbx, sx, ty, by, dby, sy = ctx.saved_arrays
        G = ratio[tx[:, :, None], ty[:, None, :]]  # (n, 4, 4): G at every pair of taps
        scale = -g * w / ctx.total
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = (scale * sx * np.einsum("nab,na,nb->n", G, dbx, by)).reshape(ctx.shape)
        if ctx.needs_input_grad[1]:
            gy = (scale * sy * np.einsum("nab,na,nb->n", G, bx, dby)).reshape(ctx.shape)
        return gx, gy


class DiffusionPenaltyFunction(Function):
    r"""Diffusion regulariser of a displacement field: mean squared finite differences.

    A field u of shape (N, H, W, 2) (an image's flow) or (N, D, H, W, 3) (a volume's), i.e.
    (N, *spatial, d) with d spatial axes. With the forward differences along each spatial axis
    a, ``d_a = u[.., k+1 along a, ..] - u[.., k, ..]`` (all components), and ``P = N H W`` (or
    ``N D H W``) the number of field points::

        R = (sum_a sum d_a^2) / P          2-D: (sum dx^2 + sum dy^2) / P;  3-D: + sum dz^2

    Backward: each difference ``d = u_k - u_l`` adds ``2 d / P`` to its end point and takes it
    from its start, so ``dR/du = -(2 / P) Laplacian(u)`` with the free (Neumann) boundary of
    the differences; along each axis a::

        dR/du[.., k, ..] += (2 g / P) (d_a[.., k - 1, ..] - d_a[.., k, ..])   (missing terms at the ends are 0)

    R is 0 for any constant field (a translation costs nothing) and, in the continuum,
    approximates the mean of ``|grad u|^2`` (in pixels or voxels per pixel or voxel), which is
    why it is comparable across pyramid levels. One op for both: a volume's penalty is the
    image's with one more axis of differences (``docs/derivations.md`` section 11.4).
    """

    @staticmethod
    def forward(ctx, u):
        differences = [np.diff(u, axis=axis) for axis in range(1, u.ndim - 1)]
        ctx.save_for_backward(*differences)
        ctx.shape = u.shape
        ctx.points = int(np.prod(u.shape[:-1]))
        # einsum's own loop over the flat views: np.vdot of an n-D array copies it (1 ms at 32^3 x 3), and
        # BLAS's threaded dot stalled for up to 13 ms a call on a busy 2-core machine (0.02 ms here, steadily)
        total = sum(np.einsum("i,i->", d.ravel(), d.ravel()) for d in differences)
        return np.asarray(total / ctx.points, dtype=u.dtype)

    @staticmethod
    def backward(ctx, g):
        differences = ctx.saved_arrays
        grad = np.zeros(ctx.shape, dtype=differences[0].dtype)
        for axis, d in enumerate(differences, start=1):
            end = [slice(None)] * grad.ndim
            start = [slice(None)] * grad.ndim
            end[axis], start[axis] = slice(1, None), slice(None, -1)
            grad[tuple(end)] += d
            grad[tuple(start)] -= d
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


def _check_weight(weight, shape, function):
    """A constant, finite, non-negative weight broadcastable to ``shape`` with a positive total, or None."""
    if weight is None:
        return None
    array = np.asarray(values_of(weight))
    if array.dtype.kind not in "fiub":
        fail(function, "weight", "a real or boolean array", f"dtype {array.dtype}", TypeError)
    try:
        array = np.broadcast_to(array, shape)
    except ValueError:
        fail(function, "weight", f"an array broadcastable to {shape}", f"shape {array.shape}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        fail(function, "weight", "finite values >= 0", "a negative, NaN or inf value")
    if not array.reshape(shape[0], -1).sum(axis=1).all():
        fail(function, "weight", "a positive total weight in every sample (some overlap)", "a total of 0")
    return array


def ncc_loss(x, y, eps=1e-8, weight=None):
    """``mean_n (1 - NCC(x_n, y_n))``: 0 for a perfect linear match, up to 2 (see :class:`NCCLossFunction`).

    Parameters
    ----------
    x, y : Tensor or ndarray, shape (N, ...)
        Batches of images (or any arrays); each sample is correlated over all its elements.
    eps : float
        Added to each sum of squares, so a constant sample gives r = 0 instead of NaN.
    weight : array_like, optional
        Constant non-negative weights broadcastable to x's shape (an overlap mask): only
        weighted elements count, means and sums are weighted.

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
    >>> y = x.copy(); y[..., 0] = 5.0                  # a wrong column, masked out
    >>> mask = np.ones_like(x); mask[..., 0] = 0
    >>> round(ncc_loss(x, 2 * y, weight=mask).item(), 6)
    0.0
    """
    _check_pair(x, y, "ncc_loss")
    eps = check_number(eps, "ncc_loss", "eps", minimum=0)
    weight = _check_weight(weight, shape_of(x), "ncc_loss")
    return NCCLossFunction.apply(x, y, eps=eps, weight=weight)


def masked_mse_loss(x, y, weight=None):
    """Weighted mean squared error ``sum w (x - y)^2 / sum w`` (the mean of ``mse_loss`` without ``weight``).

    Built from the library's elementwise ops (difference, square, product with the constant
    weight, sum, division by the constant total), so its gradient is theirs:
    ``dL/dx = 2 w (x - y) / sum w``. ``weight`` broadcasts to x's shape (a (N, 1, H, W) mask
    weighs every channel of a pixel).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((1, 1, 2, 2)); y = np.array([[[[1.0, 1.0], [3.0, 9.0]]]])
    >>> masked_mse_loss(x, y, weight=np.array([[[[1, 1], [1, 0]]]])).item()   # (1 + 1 + 9) / 3
    3.6666666666666665
    """
    _check_pair(x, y, "masked_mse_loss")
    weight = _check_weight(weight, shape_of(x), "masked_mse_loss")
    if weight is None:
        return mse_loss(x, y)
    x = x if isinstance(x, Tensor) else Tensor(x)
    difference = x - y
    return (difference * difference * weight).sum() / float(weight.sum())


def _value_range(values, given, function, argument):
    if given is None:
        low, high = float(np.min(values)), float(np.max(values))
    else:
        if not isinstance(given, (tuple, list)) or len(given) != 2:
            fail(function, argument, "a (low, high) pair", describe(given))
        low = check_number(given[0], function, argument)
        high = check_number(given[1], function, argument)
    if not high > low:
        fail(function, argument, "low < high (an image with some contrast)", f"({low}, {high})")
    return low, high


def mi_loss(x, y, weight=None, bins=MI_BINS, x_range=None, y_range=None):
    """Negative Mattes mutual information of x and y (see :class:`MattesMutualInformationFunction`).

    Parameters
    ----------
    x, y : Tensor or ndarray, same shape (N, ...)
        Two images (the batch is pooled into one joint histogram).
    weight : array_like, optional
        Constant non-negative weights (an overlap mask), broadcast to x's shape.
    bins : int
        Histogram bins per image, >= 8 (default 32; two at each end pad the windows).
    x_range, y_range : (low, high), optional
        The intensity range mapped onto the bins (values outside are clipped, with zero
        gradient). Default: the input's own min and max. Pass fixed ranges when the loss is
        differentiated: the op treats them as constants.

    Returns
    -------
    Tensor
        A scalar ``-MI`` (nats) of x's dtype: 0 for independent images, ``-H(x)`` at best.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((1, 1, 64, 64))
    >>> remapped = np.cos(6 * x)                      # non-monotonic: NCC is near 0
    >>> bool(mi_loss(x, remapped).item() < mi_loss(x, np.random.default_rng(1).random(x.shape)).item() - 1)
    True
    """
    _check_pair(x, y, "mi_loss")
    weight = _check_weight(weight, shape_of(x), "mi_loss")
    bins = check_int(bins, "mi_loss", "bins", minimum=8)
    x_range = _value_range(values_of(x), x_range, "mi_loss", "x_range")
    y_range = _value_range(values_of(y), y_range, "mi_loss", "y_range")
    return MattesMutualInformationFunction.apply(x, y, weight=weight, bins=bins, x_range=x_range, y_range=y_range)


def diffusion_penalty(field):
    """Mean squared forward differences of a (N, H, W, 2) or (N, D, H, W, 3) field (:class:`DiffusionPenaltyFunction`).

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.zeros((1, 2, 3, 2)); ramp[..., 0] = np.arange(3)   # dx/dj = 1 on 2 x 2 differences
    >>> float(diffusion_penalty(ramp).item())   # 4 differences of 1, over 6 points
    0.6666666666666666
    >>> shear = np.zeros((1, 2, 2, 2, 3)); shear[..., 0] = np.arange(2)[:, None, None]   # dx/dz = 1
    >>> float(diffusion_penalty(shear).item())   # 4 differences of 1 along the depth, over 8 points
    0.5
    """
    shape = shape_of(field)
    check_float_array(field, "diffusion_penalty", "field")
    if len(shape) not in (4, 5) or shape[-1] != len(shape) - 2:
        fail("diffusion_penalty", "field", "shape (N, H, W, 2) or (N, D, H, W, 3)", f"shape {shape}")
    return DiffusionPenaltyFunction.apply(field)


def similarity_loss(name, warped, fixed, weight=None, ranges=None):
    """The dissimilarity called ``name`` ("mse", "ncc" or "mi") between two (N, C, H, W) or (N, C, D, H, W) batches.

    ``weight`` is the overlap mask (see the module docstring); ``ranges`` = (warped range,
    fixed range) the intensity ranges of ``mi`` (default: each input's own).
    """
    if name == "mse":
        return masked_mse_loss(warped, fixed, weight)
    if name == "ncc":
        return ncc_loss(warped, fixed, weight=weight)
    if name == "mi":
        x_range, y_range = (None, None) if ranges is None else ranges
        return mi_loss(warped, fixed, weight=weight, x_range=x_range, y_range=y_range)
    check_choice(name, LOSSES, "similarity_loss", "loss")
