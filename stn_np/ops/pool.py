"""2-D max and average pooling over NCHW images.

Both ops visit the kh*kw kernel offsets ``(u, v)`` one at a time: for a fixed offset, the
input pixels it touches across all windows form one strided slice
``xp[:, :, u : u + sh*(Ho-1) + 1 : sh, v : v + sw*(Wo-1) + 1 : sw]`` of output shape, so each
step is one vectorised NumPy operation and nothing is indexed element by element.

Max pooling, ``z[n, c, i, j] = max_{u, v} xp[n, c, sh*i + u, sw*j + v]`` with ``xp`` padded by
-inf. Its gradient goes to ONE input per window: the first maximum in row-major scan order of
the window (PyTorch's convention, so tied inputs, e.g. flat image regions, behave the same
as there). Overlapping windows (stride < kernel) may pick the same input several times; its
gradients then add up.

Average pooling, ``z[n, c, i, j] = (1 / (kh kw)) sum_{u, v} xp[n, c, sh*i + u, sw*j + v]`` with
``xp`` padded by zeros, which count in the divisor (PyTorch's default
``count_include_pad=True``); ``dL/dxp`` receives ``g / (kh kw)`` from every window.
"""

import numpy as np

from ..autograd.function import Function
from ..validation import check_float_array, check_ndim, check_pair, fail
from .conv import conv_output_size, pad_spatial

__all__ = ["MaxPool2dFunction", "AvgPool2dFunction", "max_pool2d", "avg_pool2d"]


def _offsets(kernel, stride, out_hw):
    """Yield ``(k, (u, v), index)``: the slice of the padded input that offset (u, v) reads."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_hw
    for u in range(kh):
        for v in range(kw):
            yield u * kw + v, (slice(None), slice(None), slice(u, u + sh * (ho - 1) + 1, sh),
                               slice(v, v + sw * (wo - 1) + 1, sw))


def _tiles(kernel, stride, padding):
    """True when windows tile the input without overlap or padding (the reshape fast path)."""
    return kernel == stride and padding == (0, 0)


def _scatter(parts, x_shape, kernel, stride, padding, out_hw):
    """Sum per-offset gradients ``parts(k)`` (output-shaped) back into the input's shape."""
    (ph, pw), (n, c, h, w) = padding, x_shape
    first = parts(0)
    if _tiles(kernel, stride, padding):
        # windows tile the input: view it as (N, C, Ho, kh, Wo, kw) and assign each offset once
        (kh, kw), (ho, wo) = kernel, out_hw
        tiled = np.empty((n, c, ho, kh, wo, kw), dtype=first.dtype)
        for k in range(kh * kw):
            tiled[:, :, :, k // kw, :, k % kw] = first if k == 0 else parts(k)
        if (ho * kh, wo * kw) == (h, w):
            return tiled.reshape(x_shape)
        gx = np.zeros(x_shape, dtype=first.dtype)  # rows/columns no window reached get 0
        gx[:, :, : ho * kh, : wo * kw] = tiled.reshape(n, c, ho * kh, wo * kw)
        return gx
    gxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=first.dtype)
    for k, index in _offsets(kernel, stride, out_hw):
        gxp[index] += first if k == 0 else parts(k)
    return gxp[:, :, ph : ph + h, pw : pw + w]


class MaxPool2dFunction(Function):
    """z = max over each window;  dL/dx = g routed to the first maximum of each window.

    Forward: a running ``np.maximum`` over the kernel offsets gives z; a second pass in reverse
    scan order records, per window, the lowest offset k whose input equals z (the first maximum).
    Backward: dL/dxp[window (i, j) at offset k] += g[i, j] * [k == argmax(i, j)].
    """

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        xp = pad_spatial(x, *padding, value=-np.inf)
        out_hw = tuple(conv_output_size(s, k, st, 0) for s, k, st in zip(xp.shape[2:], kernel, stride))
        slices = [xp[index] for _, index in _offsets(kernel, stride, out_hw)]
        z = slices[0].copy()
        for s in slices[1:]:
            np.maximum(z, s, out=z)
        # smallest dtype that holds every offset: the saved index costs 1 byte per output here
        argmax = np.full(z.shape, len(slices) - 1, dtype=np.min_scalar_type(len(slices) - 1))
        for k in range(len(slices) - 2, -1, -1):
            np.copyto(argmax, k, where=slices[k] == z)
        ctx.save_for_backward(argmax)
        ctx.geometry = (x.shape, kernel, stride, padding, out_hw)
        return z

    @staticmethod
    def backward(ctx, g):
        (argmax,) = ctx.saved_arrays
        return _scatter(lambda k: g * (argmax == k), *ctx.geometry)


class AvgPool2dFunction(Function):
    """z = mean over each window (padding counts as zeros);  dL/dx += g / (kh kw) per window."""

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        xp = pad_spatial(x, *padding, value=0)
        out_hw = tuple(conv_output_size(s, k, st, 0) for s, k, st in zip(xp.shape[2:], kernel, stride))
        offsets = _offsets(kernel, stride, out_hw)
        _, index = next(offsets)
        z = xp[index].copy()
        for _, index in offsets:
            z += xp[index]
        z *= 1.0 / (kernel[0] * kernel[1])
        ctx.geometry = (x.shape, kernel, stride, padding, out_hw)
        return z

    @staticmethod
    def backward(ctx, g):
        kernel = ctx.geometry[1]
        share = g * (1.0 / (kernel[0] * kernel[1]))
        return _scatter(lambda k: share, *ctx.geometry)


def _pool_args(x, kernel_size, stride, padding, name):
    shape = check_ndim(x, 4, name, "x", "(N, C, H, W)")
    check_float_array(x, name, "x")
    kernel = check_pair(kernel_size, name, "kernel_size", minimum=1)
    stride = kernel if stride is None else check_pair(stride, name, "stride", minimum=1)
    padding = check_pair(padding, name, "padding", minimum=0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        fail(name, "padding", f"at most half the kernel {kernel}", f"{padding}")
    if any(size + 2 * p < k for size, k, p in zip(shape[2:], kernel, padding)):
        fail(name, "kernel_size", f"a window that fits in x of spatial size {shape[2:]} with padding {padding}",
             f"{kernel}")
    return dict(kernel=kernel, stride=stride, padding=padding)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling of NCHW images (PyTorch's ``max_pool2d``, floor mode).

    Parameters
    ----------
    x : Tensor or ndarray
        Input of shape (N, C, H, W).
    kernel_size : int or (int, int)
        Window size.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size``.
    padding : int or (int, int)
        Implicit -inf padding on both sides, at most half the kernel.

    Returns
    -------
    Tensor
        Shape (N, C, Ho, Wo), ``Ho = (H + 2 ph - kh) // sh + 1``. The gradient of each window
        goes to its first maximum in row-major order (ties: see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np.functional import max_pool2d
    >>> max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2).numpy()[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return MaxPool2dFunction.apply(x, **_pool_args(x, kernel_size, stride, padding, "max_pool2d"))


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling of NCHW images (PyTorch's ``avg_pool2d`` with ``count_include_pad=True``).

    Parameters
    ----------
    x : Tensor or ndarray
        Input of shape (N, C, H, W).
    kernel_size : int or (int, int)
        Window size.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size``.
    padding : int or (int, int)
        Zero padding on both sides (counted in the average), at most half the kernel.

    Returns
    -------
    Tensor
        Shape (N, C, Ho, Wo).
    """
    return AvgPool2dFunction.apply(x, **_pool_args(x, kernel_size, stride, padding, "avg_pool2d"))
