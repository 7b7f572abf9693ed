"""2-D convolution (cross-correlation, as in every deep-learning library) by im2col + one matmul.

For an input ``x`` (N, C, H, W), a weight ``w`` (O, C, kh, kw), stride ``(sh, sw)`` and zero
padding ``(ph, pw)``, with ``xp`` the padded input::

    z[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] * xp[n, c, sh*i + u, sw*j + v]

Writing the patches as the columns of one matrix (im2col), ``cols[(c, u, v), (n, i, j)] =
xp[n, c, sh*i + u, sw*j + v]``, the whole forward is one BLAS matmul ``Z = W cols`` with
``W`` the weight reshaped to (O, C*kh*kw), and the backward is two more::

    dL/dW    = G cols^T                 (G: the upstream gradient as (O, N*Ho*Wo))
    dL/db[o] = sum_{n, i, j} g[n, o, i, j]
    dL/dcols = W^T G,   then col2im:  dL/dxp[n, c, sh*i + u, sw*j + v] += dL/dcols[(c, u, v), (n, i, j)]

col2im adds each kernel offset ``(u, v)`` as one strided slice: kh*kw vectorised additions, and
overlapping windows (stride < kernel) accumulate correctly because the slices of one offset
never overlap each other.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd.function import Function
from ..validation import check_float_array, check_memory, check_ndim, check_pair, dtype_of, fail, shape_of

__all__ = ["Conv2dFunction", "conv2d", "im2col", "col2im", "conv_output_size", "pad_spatial"]


def conv_output_size(size, kernel, stride, padding):
    """Output length along one axis: ``(size + 2 padding - kernel) // stride + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def pad_spatial(x, ph, pw, value=0):
    """``x`` (N, C, H, W) with ``ph`` rows and ``pw`` columns of ``value`` on each side (``x`` itself if none)."""
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def im2col(xp, kh, kw, sh, sw):
    """Patches of the padded input ``xp`` (N, C, Hp, Wp) as a (C*kh*kw, N*Ho*Wo) matrix.

    The sliding-window view costs nothing; the single reshape is the only copy. Rows are
    ordered (c, u, v) like a flattened weight, columns (n, i, j), so ``W @ cols`` has the
    output channels first and needs one transpose to become NCHW.
    """
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    n, c, ho, wo = windows.shape[:4]
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * ho * wo)


def col2im(dcols, xp_shape, kh, kw, sh, sw):
    """Adjoint of :func:`im2col`: add every patch gradient back to the padded input's shape."""
    n, c, hp, wp = xp_shape
    ho, wo = conv_output_size(hp, kh, sh, 0), conv_output_size(wp, kw, sw, 0)
    patches = dcols.reshape(c, kh, kw, n, ho, wo)
    # accumulate in (C, N, H, W) order so each addition reads a contiguous block of dcols
    dxp = np.zeros((c, n, hp, wp), dtype=dcols.dtype)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + sh * (ho - 1) + 1:sh, v:v + sw * (wo - 1) + 1:sw] += patches[:, u, v]
    return dxp.transpose(1, 0, 2, 3)


class Conv2dFunction(Function):
    """z = conv2d(x, w) + b (NCHW; see the module docstring for the formulas).

    Forward:  cols = im2col(pad(x));  Z = W cols + b  (one matmul), reshaped to (N, O, Ho, Wo).
    Backward: dW = G cols^T,  db = sum of g over (n, i, j),  dx = crop(col2im(W^T G)).

    The im2col matrix is kept for the backward (C*kh*kw times the output's spatial size):
    recomputing it would cost a second copy of every patch.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        (sh, sw), (ph, pw) = stride, padding
        o, c, kh, kw = w.shape
        xp = pad_spatial(x, ph, pw)
        cols = im2col(xp, kh, kw, sh, sw)
        n = x.shape[0]
        ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
        z = w.reshape(o, -1) @ cols
        if b is not None:
            z += b[:, None]
        ctx.save_for_backward(cols, w)
        ctx.geometry = (xp.shape, (ph, pw), (sh, sw))
        return np.ascontiguousarray(z.reshape(o, n, ho, wo).transpose(1, 0, 2, 3))

    @staticmethod
    def backward(ctx, g):
        cols, w = ctx.saved_arrays
        xp_shape, (ph, pw), (sh, sw) = ctx.geometry
        o, c, kh, kw = w.shape
        g2 = g.transpose(1, 0, 2, 3).reshape(o, -1)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            dxp = col2im(w.reshape(o, -1).T @ g2, xp_shape, kh, kw, sh, sw)
            gx = np.ascontiguousarray(dxp[:, :, ph:xp_shape[2] - ph, pw:xp_shape[3] - pw])
        if ctx.needs_input_grad[1]:
            gw = (g2 @ cols.T).reshape(w.shape)
        if len(ctx.needs_input_grad) == 3 and ctx.needs_input_grad[2]:
            gb = g2.sum(axis=1)
        return (gx, gw) if len(ctx.needs_input_grad) == 2 else (gx, gw, gb)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution of NCHW images (cross-correlation, PyTorch's ``conv2d``).

    Parameters
    ----------
    x : Tensor or ndarray
        Input of shape (N, C, H, W).
    weight : Tensor or ndarray
        Kernels of shape (O, C, kh, kw).
    bias : Tensor or ndarray, optional
        Shape (O,).
    stride : int or (int, int)
        Step between windows along (H, W).
    padding : int or (int, int)
        Zeros added on both sides of (H, W).

    Returns
    -------
    Tensor
        Shape (N, O, Ho, Wo) with ``Ho = (H + 2 ph - kh) // sh + 1`` (and likewise ``Wo``).

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np.functional import conv2d
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 2, 2)), stride=2).numpy()[0, 0]
    array([[10., 18.],
           [42., 50.]])
    """
    here = "conv2d"
    xs, ws = check_ndim(x, 4, here, "x", "(N, C, H, W)"), check_ndim(weight, 4, here, "weight", "(O, C, kh, kw)")
    check_float_array(x, here, "x")
    check_float_array(weight, here, "weight")
    stride = check_pair(stride, here, "stride", minimum=1)
    padding = check_pair(padding, here, "padding", minimum=0)
    if xs[1] != ws[1]:
        fail(here, "weight", f"{xs[1]} input channels to match x of shape {xs}", f"shape {ws}")
    if min(ws[2:]) < 1:  # a 0 x 0 kernel would silently give bias-only outputs
        fail(here, "weight", "a kernel of at least 1 x 1", f"shape {ws}")
    for axis, (size, k, s, p) in enumerate(zip(xs[2:], ws[2:], stride, padding)):
        if conv_output_size(size, k, s, p) < 1:
            fail(here, "weight", f"a kernel that fits in x of spatial size {xs[2:]} with padding {padding}",
                 f"kernel {ws[2:]}")
    check_memory((xs[0], *(conv_output_size(n, k, s, p) for n, k, s, p in zip(xs[2:], ws[2:], stride, padding)),
                  xs[1] * ws[2] * ws[3] + ws[0]), dtype_of(x), here, "x", "an im2col matrix and output")
    if bias is None:
        return Conv2dFunction.apply(x, weight, stride=stride, padding=padding)
    if shape_of(bias) != (ws[0],):
        fail(here, "bias", f"shape ({ws[0]},)", f"shape {shape_of(bias)}")
    check_float_array(bias, here, "bias")
    return Conv2dFunction.apply(x, weight, bias, stride=stride, padding=padding)
