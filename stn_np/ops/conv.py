"""2-D convolution (cross-correlation, as in every deep-learning library) by im2col + matmul.

For an input ``x`` (N, C, H, W), a weight ``w`` (O, C, kh, kw), stride ``(sh, sw)`` and zero
padding ``(ph, pw)``, with ``xp`` the padded input::

    z[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] * xp[n, c, sh*i + u, sw*j + v]

Writing the patches as the columns of one matrix (im2col),
``cols[(c, u, v), (i, j, n)] = xp[n, c, sh*i + u, sw*j + v]``, the forward is one matmul
``Z = W cols`` with ``W`` the weight reshaped to (O, C*kh*kw), and the backward is two more::

    dL/dW    = G cols^T                 (G: the upstream gradient as (O, Ho*Wo*N))
    dL/db[o] = sum_{n, i, j} g[n, o, i, j]
    dL/dcols = W^T G,   then col2im:  dL/dxp[n, c, sh*i + u, sw*j + v] += dL/dcols[(c, u, v), (i, j, n)]

col2im adds each kernel offset ``(u, v)`` as one strided slice: kh*kw vectorised additions, and
overlapping windows (stride < kernel) accumulate correctly because the slices of one offset
never overlap each other.

Two layouts of the same arithmetic (equal results, compared by the tests; timed by
``benchmarks/bench_layers.py``):

* General path, batch last: the columns are ordered (i, j, n), i.e. the image is worked on as
  (C, H, W, N). The sample index is then the fastest axis of ``cols``, of ``dL/dcols`` and of
  the padded gradient, so every col2im addition runs over contiguous blocks of Wo*N values
  (in NCHW they would be rows of only Wo, and the additions cost more than the matmuls).
  The price is a transpose of x, g, z and dx between NCHW and (C, H, W, N). A large batch
  is worked on as two halves, each with its own patch matrix, on two threads when
  :func:`stn_np.threads.set_blas_threads` gives two (:func:`_batch_blocks`); then
  ``dL/dW = G_1 cols_1^T + G_2 cols_2^T`` and ``dL/db`` likewise, the halves' sums added in
  order, so the result is the same at one thread and at two.
* Fast path for one input channel (the first layer on grey images): the patch matrix has only
  kh*kw rows, so one matmul over the whole batch is a skinny product that streams from memory,
  and transposing the large first-layer output back to NCHW costs more than the convolution.
  There, each sample gets its own patch matrix ``cols[n]`` (kh*kw, Ho*Wo) and its own matmul
  ``Z[n] = W cols[n]`` (NumPy's batched ``matmul``): the product comes out in NCHW order, and
  ``dL/dW = sum_n G[n] cols[n]^T`` with ``G[n] = g[n]`` as it is. The patches are built for a
  few samples at a time, about 1 MiB, used while they are in cache, and built again in the
  backward instead of being kept: with one channel they are kh*kw copies of a small image,
  cheaper to rebuild than to write to and read back from memory (25-49 times the input).
  The formulas are the same with the column index ``(i, j, n)`` split by sample.
"""

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd.function import Function
from ..threads import map_blocks
from ..validation import check_float_array, check_memory, check_ndim, check_pair, dtype_of, fail, shape_of

__all__ = ["Conv2dFunction", "conv2d", "im2col", "col2im", "conv_output_size", "conv_output_hw", "offset_slices",
           "pad_spatial"]


def conv_output_size(size, kernel, stride, padding):
    """Output length along one axis: ``(size + 2 padding - kernel) // stride + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def pad_spatial(x, ph, pw, value=0):
    """``x`` (N, C, H, W) with ``ph`` rows and ``pw`` columns of ``value`` on each side (``x`` itself if none)."""
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def conv_output_hw(x_shape, kernel, stride, padding):
    """(Ho, Wo) of a convolution or pooling of an (N, C, H, W) input: :func:`conv_output_size` per axis."""
    return tuple(conv_output_size(s, k, st, p) for s, k, st, p in zip(x_shape[2:], kernel, stride, padding))


def offset_slices(u, v, out_hw, stride):
    """(rows, columns) slices of the padded input that kernel offset (u, v) reads for every output pixel."""
    (ho, wo), (sh, sw) = out_hw, stride
    return slice(u, u + sh * (ho - 1) + 1, sh), slice(v, v + sw * (wo - 1) + 1, sw)


def im2col(xt, kh, kw, sh, sw):
    """Patches of the padded input ``xt`` in the batch-last layout (C, Hp, Wp, N), as (C*kh*kw, Ho*Wo*N).

    The sliding-window view costs nothing; the single reshape is the only copy. Rows are
    ordered (c, u, v) like a flattened weight, columns (i, j, n).
    """
    windows = sliding_window_view(xt, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # (C, Ho, Wo, N, kh, kw)
    c, ho, wo, n = windows.shape[:4]
    return windows.transpose(0, 4, 5, 1, 2, 3).reshape(c * kh * kw, ho * wo * n)


def col2im(dcols, xt_shape, kh, kw, sh, sw):
    """Adjoint of :func:`im2col`: add every patch gradient back to the padded shape (C, Hp, Wp, N)."""
    c, hp, wp, n = xt_shape
    out = conv_output_size(hp, kh, sh, 0), conv_output_size(wp, kw, sw, 0)
    patches = dcols.reshape(c, kh, kw, *out, n)
    dxt = np.zeros(xt_shape, dtype=dcols.dtype)
    for u in range(kh):
        for v in range(kw):
            rows, columns = offset_slices(u, v, out, (sh, sw))
            dxt[:, rows, columns] += patches[:, u, v]  # contiguous blocks of Wo*N values when sw == 1
    return dxt


def _to_batch_last(x, ph, pw):
    """NCHW ``x`` as the zero-padded (C, H + 2 ph, W + 2 pw, N) array (one copy)."""
    n, c, h, w = x.shape
    xt = np.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype)
    xt[:, ph:ph + h, pw:pw + w] = x.transpose(1, 2, 3, 0)
    return xt


def _per_sample_im2col(xp, kh, kw, sh, sw):
    """The one-channel fast path's patches: padded NCHW ``xp`` as N matrices (C*kh*kw, Ho*Wo)."""
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]  # (N, C, Ho, Wo, kh, kw)
    n, c, ho, wo = windows.shape[:4]
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)


def _per_sample_col2im(dcols, dxp, kh, kw, sh, sw):
    """Adjoint of :func:`_per_sample_im2col`: add N matrices (C*kh*kw, Ho*Wo) into padded NCHW ``dxp``."""
    n, c, hp, wp = dxp.shape
    out = conv_output_size(hp, kh, sh, 0), conv_output_size(wp, kw, sw, 0)
    patches = dcols.reshape(n, c, kh, kw, *out)
    for u in range(kh):
        for v in range(kw):
            rows, columns = offset_slices(u, v, out, (sh, sw))
            dxp[:, :, rows, columns] += patches[:, :, u, v]


#: Bytes of patches the one-channel path builds at a time: well inside a core's L2 cache.
_CHUNK_BYTES = 1 << 20


def _sample_chunks(xp, kh, kw, sh, sw):
    """Slices of samples whose patch matrices take about :data:`_CHUNK_BYTES` together."""
    n, c, hp, wp = xp.shape
    per_sample = c * kh * kw * conv_output_size(hp, kh, sh, 0) * conv_output_size(wp, kw, sw, 0) * xp.itemsize
    step = max(1, _CHUNK_BYTES // max(per_sample, 1))
    return [slice(start, start + step) for start in range(0, n, step)]


#: The general path splits the batch in two when each half holds at least this many bytes of
#: patches (:func:`_batch_blocks`). At batch 64 that splits the second convolution of the CNN
#: (6.9 MiB a half), of the localisation network (4.8 MiB) and of the ST-CNN's classifier
#: (2 MB); in ``benchmarks/bench_train.py`` (two runs, interleaved with a 4 MiB threshold that
#: leaves the last one whole) the ST-CNN's step was 2-4% faster at one thread and 3-8% at two.
_MIN_BLOCK_BYTES = 1 << 20


def _batch_blocks(n, per_sample_bytes):
    """``range(n)`` as two halves when each holds :data:`_MIN_BLOCK_BYTES` of patches or more, else one slice.

    The split depends on the shapes only, never on the thread count: every block computes the
    same numbers, and their partial sums are added in block order, so the results are the
    same however many threads :func:`~stn_np.threads.map_blocks` uses. Two halves are the
    fewest blocks two threads can share: on the layers of the CNNs (batch 64), smaller blocks
    (four or eight) ran slower at one thread and gained less at two.
    """
    if n < 2 or per_sample_bytes * (n // 2) < _MIN_BLOCK_BYTES:
        return [slice(0, n)]
    return [slice(0, n // 2), slice(n // 2, n)]


def _forward(x, w, b, stride, padding):
    """The general path (batch last): ``(z, cols)`` with ``cols`` the patches of each block of samples."""
    (sh, sw), (ph, pw), (o, c, kh, kw) = stride, padding, w.shape
    (ho, wo), n = conv_output_hw(x.shape, (kh, kw), stride, padding), x.shape[0]
    z = np.empty((n, o, ho, wo), dtype=x.dtype)

    def block(s):
        cols = im2col(_to_batch_last(x[s], ph, pw), kh, kw, sh, sw)
        zs = w.reshape(o, -1) @ cols
        if b is not None:
            zs += b[:, None]
        z[s] = zs.reshape(o, ho, wo, s.stop - s.start).transpose(3, 0, 1, 2)
        return cols

    return z, map_blocks(block, _batch_blocks(n, c * kh * kw * ho * wo * x.itemsize))


def _backward(g, cols, w, x_shape, stride, padding, needs):
    """The general path's ``(dx, dW, db)`` (None where ``needs`` is False), block by block of samples.

    ``cols`` holds the patches of each block (:func:`_forward`); a block's samples are its
    columns divided by Ho*Wo.
    """
    (sh, sw), (ph, pw), (o, c, kh, kw), (n, _, h, wd) = stride, padding, w.shape, x_shape
    gx = np.empty(x_shape, dtype=g.dtype) if needs[0] else None
    bounds = np.cumsum([0] + [block.shape[1] // (g.shape[2] * g.shape[3]) for block in cols])

    def block(i):
        s = slice(bounds[i], bounds[i + 1])
        gt = np.ascontiguousarray(g[s].transpose(1, 2, 3, 0)).reshape(o, -1)  # G (O, Ho*Wo*Ns)
        if needs[0]:
            dxt = col2im(w.reshape(o, -1).T @ gt, (c, h + 2 * ph, wd + 2 * pw, s.stop - s.start), kh, kw, sh, sw)
            gx[s] = dxt[:, ph:ph + h, pw:pw + wd].transpose(3, 0, 1, 2)
        # cols G^T: BLAS ran this orientation faster than G cols^T
        return (cols[i] @ gt.T if needs[1] else None), (gt.sum(axis=1) if needs[2] else None)

    parts = map_blocks(block, range(len(cols)))
    # the blocks' partial sums, added in block order: the same at any thread count
    gw = functools.reduce(np.add, [p[0] for p in parts]).T.reshape(w.shape) if needs[1] else None
    gb = functools.reduce(np.add, [p[1] for p in parts]) if needs[2] else None
    return gx, gw, gb


def _per_sample_forward(x, w, b, stride, padding):
    """The one-channel fast path: ``(z, xp)``, keeping the padded input instead of the patches (module docstring)."""
    (sh, sw), (ph, pw), (o, _, kh, kw) = stride, padding, w.shape
    xp = pad_spatial(x, ph, pw)
    (ho, wo), n = conv_output_hw(x.shape, (kh, kw), stride, padding), x.shape[0]
    z = np.empty((n, o, ho * wo), dtype=x.dtype)  # (N, O, Ho*Wo): NCHW already
    for s in _sample_chunks(xp, kh, kw, sh, sw):
        np.matmul(w.reshape(o, -1), _per_sample_im2col(xp[s], kh, kw, sh, sw), out=z[s])  # Z[n] = W cols[n]
    if b is not None:
        z += b[:, None]
    return z.reshape(n, o, ho, wo), xp


def _per_sample_backward(g, xp, w, x_shape, stride, padding, needs):
    """The one-channel fast path's ``(dx, dW, db)`` (None where ``needs`` is False); patches rebuilt per chunk."""
    (sh, sw), (ph, pw), (o, c, kh, kw), (n, _, h, wd) = stride, padding, w.shape, x_shape
    g3 = g.reshape(n, o, g.shape[2] * g.shape[3])  # G[n] = g[n]
    gx = gw = gb = None
    dxp = np.zeros(xp.shape, dtype=g.dtype) if needs[0] else None
    gw_t = np.zeros((c * kh * kw, o), dtype=g.dtype) if needs[1] else None
    for s in _sample_chunks(xp, kh, kw, sh, sw):
        if needs[0]:
            _per_sample_col2im(np.matmul(w.reshape(o, -1).T, g3[s]), dxp[s], kh, kw, sh, sw)  # W^T G[n]
        if needs[1]:
            gw_t += np.matmul(_per_sample_im2col(xp[s], kh, kw, sh, sw), g3[s].transpose(0, 2, 1)).sum(axis=0)
    if needs[0]:
        gx = np.ascontiguousarray(dxp[:, :, ph:ph + h, pw:pw + wd])
    if needs[1]:
        gw = gw_t.T.reshape(w.shape)  # sum_n cols[n] G[n]^T, transposed
    if needs[2]:
        gb = g3.sum(axis=(0, 2))
    return gx, gw, gb


class Conv2dFunction(Function):
    """z = conv2d(x, w) + b (NCHW; see the module docstring for the formulas and the two layouts).

    Forward:  cols = im2col(pad(x));  Z = W cols + b  (one matmul), back to (N, O, Ho, Wo).
    Backward: dW = G cols^T,  db = sum of g over (n, i, j),  dx = crop(col2im(W^T G)).

    The general path keeps the im2col matrix for the backward (C*kh*kw times the output's
    spatial size): recomputing it would cost a second copy of every patch. The one-channel
    path keeps the padded input and rebuilds its patches chunk by chunk.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        # fast path for one input channel (per-sample matmuls; why: module docstring)
        per_sample = x.shape[1] == 1
        z, saved = (_per_sample_forward if per_sample else _forward)(x, w, b, stride, padding)
        ctx.save_for_backward(w, *([saved] if per_sample else saved))  # the padded input, or each block's patches
        ctx.geometry = (x.shape, stride, padding, per_sample)
        return z

    @staticmethod
    def backward(ctx, g):
        w, *saved = ctx.saved_arrays
        x_shape, stride, padding, per_sample = ctx.geometry
        needs = tuple(ctx.needs_input_grad) + (False,) * (3 - len(ctx.needs_input_grad))
        if per_sample:
            gx, gw, gb = _per_sample_backward(g, saved[0], w, x_shape, stride, padding, needs)
        else:
            gx, gw, gb = _backward(g, saved, w, x_shape, stride, padding, needs)
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

    Notes
    -----
    Empty shapes: N = 0 gives an empty output and zero weight and bias gradients, as in
    PyTorch. C = 0 gives the bias in every output pixel (a sum over no channels is 0), with an
    empty weight gradient; PyTorch 2.13 returns an (N, 0, Ho, Wo) tensor there instead, which
    loses the O output channels, so this one case deliberately differs. O = 0 is an error, as
    in PyTorch; so are H = 0 or W = 0 (no window fits).

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
    if ws[0] < 1:
        fail(here, "weight", "at least one output channel (as PyTorch)", f"shape {ws}")
    if min(xs[2:]) < 1:
        fail(here, "x", "a non-empty image (H, W >= 1)", f"shape {xs}")
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
