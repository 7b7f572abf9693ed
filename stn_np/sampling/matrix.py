r"""The sampler as a sparse linear operator: ``vec(V) = S vec(U)``.

For a fixed grid the sample ``V_i^c = sum_n sum_m U_pad(n, m)^c k(x_i - m) k(y_i - n)`` is
linear in the image, and because ``k`` has a small support each output point reads only a
few pixels: ``S`` has one row per output point and, per row, ``ntaps**2`` entries
``k(x_i - m) k(y_i - n)`` (4 for bilinear, 16 for bicubic, 1 for nearest).

The fast sampler builds ``S`` on the *framed* image (:mod:`stn_np.sampling.padding`): the
image with a thin frame of ``U_pad`` around it, in which each point's taps form one
``ntaps x ntaps`` block of consecutive rows and columns, so no tap needs a padding lookup.
Then ``V = S @ X`` over all channels at once (``X`` the framed image, pixels x channels),
``dL/dX = S^T @ g``, and the grid gradient uses ``dS/dx`` and ``dS/dy``, built alongside
with the same sparsity. :func:`sampling_matrix` folds the frame back (``S R`` with ``R`` the
framing matrix) and hands users ``S`` on the image itself.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .kernels import KERNELS
from .padding import fold_coordinates, frame_width, pad_index
from .validation import check_grid, check_padding, values_of

__all__ = ["SamplingOperator", "build_operator", "framing_matrix", "sampling_matrix"]


class SamplingOperator(NamedTuple):
    """The linear map of one sampling on the framed image, and its derivatives by the grid.

    ``S`` has shape ``(N * H_out * W_out, N * (H + 2 f) * (W + 2 f) + 1)``, block-diagonal
    over the batch: its columns are the rows of the framed buffer of
    :func:`stn_np.sampling.padding.frame_image` (frame ``f = frame``), the last one the zero
    sink that dead (NaN) points read. ``Sx``/``Sy`` (or None) share its sparsity and hold
    ``k'(x - m) k(y - n) dx/dgrid_x`` and ``k(x - m) k'(y - n) dy/dgrid_y``: the chain rule
    through unnormalisation and padding is already applied.
    """

    S: sp.csr_array
    Sx: sp.csr_array | None
    Sy: sp.csr_array | None
    frame: int


def _axis_taps(coord, size, kernel, padding_mode, align_corners, position_derivatives, itype):
    """Taps along one axis: the first tap's position, k, and k' times d(pixel)/d(coord).

    Returns ``first`` ((P,), ``itype``, in pixels of the image, not the frame), ``live``
    ((P,) bool or None when all points are live), ``w`` and ``dw`` ((T, P), coord's dtype;
    ``dw`` is None unless asked for). Tap arrays are (taps, points) so that each row is one
    long contiguous array.
    """
    dtype = coord.dtype
    # normalised -> pixel units as one multiply-add (coords.normalized_to_pixel, expanded)
    if align_corners:
        scale = offset = (size - 1) / 2
    else:
        scale, offset = size / 2, (size - 1) / 2
    with np.errstate(invalid="ignore"):
        pixel = coord * dtype.type(scale) + dtype.type(offset)
    if scale == 0:  # a one-pixel axis with align_corners: keep +-inf infinite (inf * 0 is NaN)
        pixel = np.where(np.isinf(coord), coord, pixel)
    pixel, live, slope = fold_coordinates(pixel, size, kernel.radius, padding_mode, align_corners)
    first, w, dw = kernel.taps(pixel)
    first = first.astype(itype)
    if not position_derivatives:
        return first, live, w, None
    dw = dw * (dtype.type(scale) if slope is None else slope * dtype.type(scale))
    return first, live, w, dw


def build_operator(grid, height, width, kernel, padding_mode, align_corners, position_derivatives=False):
    """Build the :class:`SamplingOperator` of ``grid`` (ndarray (N, H_out, W_out, 2)) on H x W images.

    No array bigger than ``N H_out W_out ntaps**2`` is made.
    """
    N, Ho, Wo, _ = grid.shape
    P = N * Ho * Wo
    T = kernel.ntaps
    frame = frame_width(kernel.radius, padding_mode)
    Hp, Wp = height + 2 * frame, width + 2 * frame
    sink = N * Hp * Wp
    nnz = P * T * T
    itype = np.int32 if max(sink + 1, nnz + 1) < 2**31 else np.int64
    flat = grid.reshape(P, 2)
    args = (kernel, padding_mode, align_corners, position_derivatives, itype)
    first_x, live_x, wx, dwx = _axis_taps(flat[:, 0], width, *args)
    first_y, live_y, wy, dwy = _axis_taps(flat[:, 1], height, *args)

    # In the framed buffer the taps of a point form a T x T block: tap (i, j) of point p is
    # buffer row base[p] + i * Wp + j, with base the first tap of image batch(p).
    base = (first_y + itype(frame)) * itype(Wp) + first_x + itype(frame)
    if N > 1:
        base += np.repeat(np.arange(N, dtype=itype) * itype(Hp * Wp), Ho * Wo)
    # CSR order: row p holds its taps (i, j); one long strided pass per tap
    indices = np.empty((P, T, T), dtype=itype)
    data = np.empty((P, T, T), dtype=grid.dtype)
    dx = np.empty_like(data) if position_derivatives else None
    dy = np.empty_like(data) if position_derivatives else None
    for i in range(T):
        for j in range(T):
            np.add(base, itype(i * Wp + j), out=indices[:, i, j])
            np.multiply(wy[i], wx[j], out=data[:, i, j])  # k(y - n) k(x - m)
            if position_derivatives:
                np.multiply(wy[i], dwx[j], out=dx[:, i, j])  # k(y - n) k'(x - m) dx/dgrid_x
                np.multiply(dwy[i], wx[j], out=dy[:, i, j])  # k'(y - n) k(x - m) dy/dgrid_y
    if live_x is not None or live_y is not None:
        dead = ~live_x if live_y is None else (~live_y if live_x is None else ~(live_x & live_y))
        indices[dead] = sink  # NaN points read only the zero sink
    indptr = np.arange(0, nnz + 1, T * T, dtype=itype)
    indices = indices.reshape(nnz)

    def csr(values):
        return sp.csr_array((values.reshape(nnz), indices, indptr), shape=(P, sink + 1), copy=False)

    if not position_derivatives:
        return SamplingOperator(csr(data), None, None, frame)
    return SamplingOperator(csr(data), csr(dx), csr(dy), frame)


def framing_matrix(batch, height, width, frame, padding_mode, align_corners, dtype):
    """The sparse 0/1 matrix R with ``vec(framed buffer) = R vec(U)`` (one channel).

    Row ``(n, a, b)`` of the framed buffer copies pixel ``pad_index(a - frame, b - frame)`` of
    image ``n`` (no pixel for zeros padding outside the image, nor for the final sink row).
    """
    rows, inside_r = pad_index(np.arange(-frame, height + frame), height, padding_mode, align_corners)
    cols, inside_c = pad_index(np.arange(-frame, width + frame), width, padding_mode, align_corners)
    pixel = (np.arange(batch)[:, None, None] * (height * width) + rows[None, :, None] * width + cols[None, None, :])
    keep = np.ones(pixel.shape, dtype=bool)
    if inside_r is not None:
        keep &= inside_r[None, :, None] & inside_c[None, None, :]
    framed = np.flatnonzero(keep.ravel())
    shape = (pixel.size + 1, batch * height * width)
    return sp.csr_array((np.ones(framed.size, dtype=dtype), (framed, pixel.ravel()[framed])), shape=shape)


def _input_hw(input_size, batch):
    size = tuple(input_size) if isinstance(input_size, (tuple, list)) else None
    ok = size is not None and len(size) in (2, 4) and all(isinstance(s, (int, np.integer)) and s >= 1 for s in size)
    if ok and len(size) == 4 and size[0] != batch:
        ok = False
    if not ok:
        raise ValueError(
            f"sampling_matrix: input_size must be (H, W) or (N, C, H, W) of positive ints with N = {batch} "
            f"(the grid's batch size), got {input_size!r}"
        )
    return int(size[-2]), int(size[-1])


def sampling_matrix(grid, input_size, mode="bilinear", padding_mode="zeros", align_corners=False):
    r"""The sparse matrix ``S`` of a sampling: ``vec(V) = S vec(U)`` for every channel.

    ``grid_sample`` is linear in the image: for a fixed grid, every output value is a
    weighted sum of a few input pixels. This returns those weights as one block-diagonal
    matrix over the batch.

    Parameters
    ----------
    grid : Tensor or ndarray, shape (N, H_out, W_out, 2)
        Normalised coordinates, last axis (x, y), float32 or float64.
    input_size : tuple
        ``(H, W)`` or ``(N, C, H, W)`` of the images to be sampled.
    mode : {"bilinear", "nearest", "bicubic"}
    padding_mode : {"zeros", "border", "reflection"}
    align_corners : bool
        As in :func:`stn_np.functional.grid_sample`.

    Returns
    -------
    scipy.sparse.csr_array, shape (N * H_out * W_out, N * H * W), the grid's dtype
        Row ``(n, i, j)`` (flattened in C order) holds the weights
        ``k(x - m) k(y - r)`` of output pixel ``(i, j)`` of image ``n`` on input pixels
        ``(n, r, m)``, summed where padding maps several taps onto one pixel; at most 4
        non-zeros a row for bilinear, 16 for bicubic, 1 for nearest. The same ``S`` serves
        every channel: ``V[:, c].reshape(-1) == S @ U[:, c].reshape(-1)``, and the gradient of
        ``<V, G>`` with respect to ``U[:, c]`` is ``S.T @ G[:, c].reshape(-1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np.sampling import identity_grid
    >>> S = sampling_matrix(identity_grid(2, 3)[None], (2, 3))
    >>> S.shape, S.nnz, bool(np.allclose(S.toarray(), np.eye(6)))
    ((6, 6), 6, True)
    """
    if mode not in KERNELS:
        raise ValueError(f"sampling_matrix: mode must be one of {', '.join(map(repr, KERNELS))}, got {mode!r}")
    check_padding(padding_mode, align_corners, "sampling_matrix")
    grid = values_of(check_grid(grid, "sampling_matrix"))
    height, width = _input_hw(input_size, grid.shape[0])
    op = build_operator(grid, height, width, KERNELS[mode], padding_mode, bool(align_corners))
    R = framing_matrix(grid.shape[0], height, width, op.frame, padding_mode, bool(align_corners), grid.dtype)
    S = sp.csr_array(op.S @ R)
    S.sum_duplicates()
    S.eliminate_zeros()
    return S
