"""2-D max and average pooling over NCHW images.

Max pooling, ``z[n, c, i, j] = max_{u, v} xp[n, c, sh*i + u, sw*j + v]`` with ``xp`` padded by
-inf. Its gradient goes to ONE input per window: the first maximum in row-major scan order of
the window (PyTorch's convention, so tied inputs, e.g. flat image regions, behave the same
as there). Overlapping windows (stride < kernel) may pick the same input several times; its
gradients then add up.

Average pooling, ``z[n, c, i, j] = (1 / (kh kw)) sum_{u, v} xp[n, c, sh*i + u, sw*j + v]`` with
``xp`` padded by zeros, which count in the divisor (PyTorch's default
``count_include_pad=True``); ``dL/dxp`` receives ``g / (kh kw)`` from every window.

Two ways to visit the windows, chosen by :func:`_tiles`:

* the general (strided) path visits the kh*kw kernel offsets ``(u, v)`` one at a time: for a
  fixed offset, the input pixels it touches across all windows form one strided slice
  ``xp[:, :, u : u + sh*(Ho-1) + 1 : sh, v : v + sw*(Wo-1) + 1 : sw]`` of output shape, so each
  step is one vectorised NumPy operation and nothing is indexed element by element;
* the reshape (tile) path, when stride == kernel and there is no padding (every 2x2 pooling
  of a CNN): the windows tile the input, which is then the free view (N, C, Ho, kh, Wo, kw).
  The maximum is taken over v within each window row first, then over u (the row-major first
  maximum, as above), and the gradient is written straight into the tiles, one kernel offset
  at a time. On the 2x2 poolings of the CNNs (``benchmarks/bench_layers.py``) forward and
  backward ran 1.3-2x faster than the strided path they replaced; the tests compare the two
  paths on the same inputs, ties included.
"""

import numpy as np

from ..autograd.function import Function
from ..validation import check_float_array, check_ndim, check_pair, fail
from .conv import conv_output_hw, offset_slices, pad_spatial

__all__ = ["MaxPool2dFunction", "AvgPool2dFunction", "max_pool2d", "avg_pool2d"]


def _tiles(kernel, stride, padding):
    """True when windows tile the input without overlap or padding (the reshape path)."""
    return kernel == stride and padding == (0, 0)


# ------------------------------------------------------------------ the general (strided) path
def _offsets(kernel, stride, out_hw):
    """Yield ``(k, index)``: the slice of the padded input that offset ``k = u * kw + v`` reads."""
    kh, kw = kernel
    for u in range(kh):
        for v in range(kw):
            yield u * kw + v, (slice(None), slice(None), *offset_slices(u, v, out_hw, stride))


def _scatter(parts, x_shape, kernel, stride, padding, out_hw):
    """Sum per-offset gradients ``parts(k)`` (output-shaped) back into the input's shape."""
    (ph, pw), (n, c, h, w) = padding, x_shape
    first = parts(0)
    gxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=first.dtype)
    for k, index in _offsets(kernel, stride, out_hw):
        gxp[index] += first if k == 0 else parts(k)
    return gxp[:, :, ph : ph + h, pw : pw + w]


# ------------------------------------------------------------------ the reshape (tile) path
def _tile_view(x, kernel):
    """``x`` (N, C, H, W) as the view (N, C, Ho, kh, Wo, kw) of its non-overlapping windows.

    Rows and columns that no whole window reaches (H or W not a multiple of the kernel) are
    left out, as in floor mode.
    """
    (kh, kw), (n, c, h, w) = kernel, x.shape
    ho, wo = h // kh, w // kw
    return x[:, :, : ho * kh, : wo * kw].reshape(n, c, ho, kh, wo, kw)


def _untile(tiles, x_shape):
    """Gradient tiles (N, C, Ho, kh, Wo, kw) as an array of the input's shape (0 where no window reached)."""
    n, c, ho, kh, wo, kw = tiles.shape
    if (ho * kh, wo * kw) == x_shape[2:]:
        return tiles.reshape(x_shape)
    gx = np.zeros(x_shape, dtype=tiles.dtype)
    gx[:, :, : ho * kh, : wo * kw] = tiles.reshape(n, c, ho * kh, wo * kw)
    return gx


def _first_max(parts, labels, dtype):
    """Elementwise maximum of the equal-shape arrays ``parts`` and the label of the first maximum.

    ``labels[k]`` (a number, or an array of the parts' shape) must exceed every earlier label,
    as scan offsets do. The label changes only where a part is strictly greater than the best
    so far, so a tie keeps the earlier label; and as labels increase, the label of the last
    strict improvement is ``max_k(label_k * [part_k > best before k])``, two fast uint8 passes
    per part (``np.where`` and ``np.copyto(where=)`` ran 5-8x slower). The maximum itself comes
    from ``np.maximum`` (a NaN propagates to the output, as in PyTorch).
    """
    best = parts[0]
    label = np.empty(best.shape, dtype=dtype)
    label[...] = labels[0]
    for part, value in zip(parts[1:], labels[1:]):
        improved = (part > best).view(np.uint8)  # 0 or 1
        best = np.maximum(best, part)
        np.maximum(label, np.multiply(improved, value, dtype=dtype), out=label)
    return (best.copy() if best is parts[0] else best), label


def _strided_max(x, kernel, stride, padding):
    """Max of each window and the offset ``u * kw + v`` of its first maximum (the general path)."""
    xp, out_hw = pad_spatial(x, *padding, value=-np.inf), conv_output_hw(x.shape, kernel, stride, padding)
    slices = [xp[index] for _, index in _offsets(kernel, stride, out_hw)]
    return _first_max(slices, range(len(slices)), np.min_scalar_type(len(slices) - 1))


def _strided_sum(x, kernel, stride, padding):
    """Sum of each window, zero padding included (the general path)."""
    xp, out_hw = pad_spatial(x, *padding, value=0), conv_output_hw(x.shape, kernel, stride, padding)
    offsets = _offsets(kernel, stride, out_hw)
    _, index = next(offsets)
    z = xp[index].copy()
    for _, index in offsets:
        z += xp[index]
    return z


def _tile_max(x, kernel):
    """Max of each tile and the row-major offset ``u * kw + v`` of its first maximum (the tile path).

    Over v within every window row first (first maximum of each row), then over u: the first
    row holding the window's maximum, and that row's first maximum, are the row-major first.
    """
    (kh, kw), tiles = kernel, _tile_view(x, kernel)
    dtype = np.min_scalar_type(kh * kw - 1)
    rows, column = _first_max([tiles[..., v] for v in range(kw)], range(kw), dtype)  # (N, C, Ho, kh, Wo)
    return _first_max([rows[:, :, :, u] for u in range(kh)],
                      [column[:, :, :, u] + dtype.type(u * kw) for u in range(kh)], dtype)


def _tile_max_backward(g, argmax, x_shape, kernel):
    """Gradient of :func:`_tile_max`: offset (u, v) of every tile gets g where it is the argmax, else 0."""
    (kh, kw), (n, c, ho, wo) = kernel, g.shape
    tiles = np.empty((n, c, ho, kh, wo, kw), dtype=g.dtype)
    for u in range(kh):
        for v in range(kw):
            np.multiply(g, argmax == u * kw + v, out=tiles[:, :, :, u, :, v])  # straight into the tile view
    return _untile(tiles, x_shape)


def _tile_sum_backward(g, x_shape, kernel):
    """Gradient of a sum over each tile: every input of a tile receives its window's g."""
    (kh, kw), (n, c, ho, wo) = kernel, g.shape
    tiles = np.empty((n, c, ho, kh, wo, kw), dtype=g.dtype)
    tiles[...] = g[:, :, :, None, :, None]
    return _untile(tiles, x_shape)


# ------------------------------------------------------------------ the ops
class MaxPool2dFunction(Function):
    """z = max over each window;  dL/dx = g routed to the first maximum of each window.

    Forward: a running maximum over the window's inputs in row-major order records, per
    window, the offset k = u * kw + v of its first maximum (``argmax``, 1 byte per output for
    kernels up to 16x16).
    Backward: dL/dxp[window (i, j) at offset k] += g[i, j] * [k == argmax(i, j)].
    """

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        if _tiles(kernel, stride, padding):
            # fast path: the windows tile the input, a free 6-D view read row by row (faster
            # than kh*kw strided slices; same result, ties included)
            z, argmax = _tile_max(x, kernel)
        else:
            z, argmax = _strided_max(x, kernel, stride, padding)
        ctx.save_for_backward(argmax)
        ctx.geometry = (x.shape, kernel, stride, padding, z.shape[2:])
        return z

    @staticmethod
    def backward(ctx, g):
        (argmax,) = ctx.saved_arrays
        x_shape, kernel, stride, padding, _ = ctx.geometry
        if _tiles(kernel, stride, padding):
            return _tile_max_backward(g, argmax, x_shape, kernel)  # fast path, as in forward
        return _scatter(lambda k: g * (argmax == k), *ctx.geometry)


class AvgPool2dFunction(Function):
    """z = mean over each window (padding counts as zeros);  dL/dx += g / (kh kw) per window."""

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        if _tiles(kernel, stride, padding):
            # fast path: the windows are the free view (N, C, Ho, kh, Wo, kw); sum its window axes
            z = _tile_view(x, kernel).sum(axis=(3, 5))
        else:
            z = _strided_sum(x, kernel, stride, padding)
        z *= 1.0 / (kernel[0] * kernel[1])
        ctx.geometry = (x.shape, kernel, stride, padding, z.shape[2:])
        return z

    @staticmethod
    def backward(ctx, g):
        x_shape, (kh, kw), stride, padding, _ = ctx.geometry
        share = g * (1.0 / (kh * kw))
        if _tiles((kh, kw), stride, padding):
            return _tile_sum_backward(share, x_shape, (kh, kw))  # fast path, as in forward
        return _scatter(lambda k: share, *ctx.geometry)


def _pool_args(x, kernel_size, stride, padding, name):
    shape = check_ndim(x, 4, name, "x", "(N, C, H, W)")
    check_float_array(x, name, "x")
    kernel = check_pair(kernel_size, name, "kernel_size", minimum=1)
    stride = kernel if stride is None else check_pair(stride, name, "stride", minimum=1)
    padding = check_pair(padding, name, "padding", minimum=0)
    if min(shape[2:]) < 1:
        fail(name, "x", "a non-empty image (H, W >= 1)", f"shape {shape}")
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

    Notes
    -----
    N = 0 gives an empty output and an empty gradient, as in PyTorch; so does C = 0 (where
    PyTorch 2.13 raises). H = 0 or W = 0 is an error.

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

    Notes
    -----
    Empty shapes as for :func:`max_pool2d`.
    """
    return AvgPool2dFunction.apply(x, **_pool_args(x, kernel_size, stride, padding, "avg_pool2d"))
