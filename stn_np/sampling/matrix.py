r"""The sampler as a sparse linear operator: ``vec(V) = S vec(U)``.

For a fixed grid the sample ``V_i^c = sum_n sum_m U_pad(n, m)^c k(x_i - m) k(y_i - n)`` is
linear in the image, and because ``k`` has a small support each output point reads only a
few pixels: ``S`` has one row per output point and, per row, ``ntaps**2`` entries
``k(x_i - m) k(y_i - n)`` (4 for bilinear, 16 for bicubic, 1 for nearest).

The fast sampler builds ``S`` on the *framed* image (:mod:`stn_np.sampling.padding`): the
image with a thin frame of ``U_pad`` around it, in which each point's taps form one
``ntaps x ntaps`` block of consecutive rows and columns, so no tap needs a padding lookup.
Then ``V = S @ X`` over all channels at once (``X`` the framed image, pixels x channels),
``dL/dX = S^T @ g``, and the grid gradient uses ``dS/dx`` and ``dS/dy`` with the same
sparsity, built in the backward pass (:meth:`SamplingOperator.grid_gradient`). :func:`sampling_matrix` folds the frame back (``S R`` with ``R`` the
framing matrix) and hands users ``S`` on the image itself.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..validation import check_grid, fail, values_of
from .coords import coordinate_scale, normalized_to_pixel
from .kernels import resolve_kernel
from .padding import check_padding, fold_coordinates, frame_width, pad_index
from .subgradients import kink_tolerance, snap_to_kinks, zero_at_bounds

__all__ = ["SamplingOperator", "build_operator", "framing_matrix", "sampling_matrix"]


class SamplingOperator:
    """The linear map of one sampling on the framed image, and its derivative by the grid.

    Attributes
    ----------
    S : scipy.sparse.csr_array
        Shape ``(N * H_out * W_out, N * (H + 2 f) * (W + 2 f) + 1)``, block-diagonal over the
        batch: its columns are the rows of the framed buffer of
        :func:`stn_np.sampling.padding.frame_image` (``f = frame``), the last one the zero
        sink that dead (NaN) points read. Entry ``(p, tap (i, j))`` is
        ``k(y_p - n_i) k(x_p - m_j)``.
    frame : int
        Width of the frame.
    """

    def __init__(self, S, frame, taps):
        self.S = S
        self.frame = frame
        self._taps = taps  # (wx, dwx, wy, dwy): per-axis k and k' times d(pixel)/d(coord)

    def grid_gradient(self, X, G):
        """``dL/dgrid`` (shape (P, 2)) from the framed image ``X`` and ``G = dL/dV`` (P, C).

        ``dL/dx_p = sum_c G[p, c] (S_x X)[p, c]`` where ``S_x`` has the sparsity of ``S`` and
        entries ``k(y - n) k'(x - m) dx/dgrid_x`` (the chain rule through unnormalisation and
        padding folded in); ``y`` alike with ``S_y``. Both are built here, one after the other
        in one buffer, sharing ``S``'s indices.
        """
        wx, dwx, wy, dwy = self._taps
        if dwx is None:
            raise RuntimeError("grid_gradient: the operator was built without position derivatives")
        S = self.S
        P, T = wx.shape[1], wx.shape[0]
        values = np.empty((P, T, T), dtype=S.dtype)
        derivative = sp.csr_array((values.reshape(-1), S.indices, S.indptr), shape=S.shape, copy=False)
        out = np.empty((P, 2), dtype=S.dtype)
        for axis, (a, b) in enumerate(((wy, dwx), (dwy, wx))):
            for i in range(T):
                for j in range(T):
                    np.multiply(a[i], b[j], out=values[:, i, j])
            out[:, axis] = np.einsum("pc,pc->p", G, derivative @ X)
        return out


def _axis_taps(coord, size, kernel, padding_mode, align_corners, subgradient, position_derivatives, itype):
    """Taps along one axis: the first tap's position, k, and k' times d(pixel)/d(coord).

    Returns ``first`` ((P,), ``itype``, in pixels of the image, not the frame), ``live``
    ((P,) bool or None when all points are live), ``w`` and ``dw`` ((T, P), coord's dtype;
    ``dw`` is None unless asked for). Tap arrays are (taps, points) so that each row is one
    long contiguous array. With the "central" subgradient and derivatives the window has
    ``T = ntaps + 2`` taps (:meth:`Kernel.central_taps`), else ``T = ntaps``.
    """
    dtype = coord.dtype
    scale = coordinate_scale(size, align_corners)
    pixel = normalized_to_pixel(coord, size, align_corners)
    if scale == 0:  # a one-pixel axis with align_corners: keep +-inf infinite (inf * 0 is NaN)
        pixel = np.where(np.isinf(coord), coord, pixel)
    central = position_derivatives and subgradient == "central"
    tolerance = kink_tolerance(pixel, size) if central else None
    pixel, live, slope = fold_coordinates(pixel, size, kernel.radius, padding_mode, align_corners,
                                          zero_at_bounds=position_derivatives
                                          and zero_at_bounds(kernel, padding_mode, subgradient))
    if central:
        first, w, dw = kernel.central_taps(pixel, snap_to_kinks(pixel, tolerance), itype)
    else:
        first, w, dw = kernel.taps(pixel, itype)
    if not position_derivatives:
        return first, live, w, None
    if slope is None and dw.strides[-1] == 0:  # k' constant over the points (bilinear): stay a view
        dw = np.broadcast_to(dw[:, :1] * dtype.type(scale), dw.shape)
    else:
        dw = dw * (dtype.type(scale) if slope is None else slope * dtype.type(scale))
    return first, live, w, dw


def build_operator(grid, height, width, kernel, padding_mode, align_corners, position_derivatives=False,
                   subgradient="pytorch"):
    """Build the :class:`SamplingOperator` of ``grid`` (ndarray (N, H_out, W_out, 2)) on H x W images.

    With ``position_derivatives`` it keeps what :meth:`SamplingOperator.grid_gradient` needs,
    under the ``subgradient`` convention (:mod:`stn_np.sampling.subgradients`; "central"
    widens every point's window by one tap on each side). No array bigger than
    ``N H_out W_out T**2`` is made (``T`` taps per axis).
    """
    N, Ho, Wo, _ = grid.shape
    P = N * Ho * Wo
    wide = position_derivatives and subgradient == "central"
    T = kernel.ntaps + (2 if wide else 0)
    frame = frame_width(kernel.radius, padding_mode) + (1 if wide else 0)
    Hp, Wp = height + 2 * frame, width + 2 * frame
    sink = N * Hp * Wp
    nnz = P * T * T
    itype = np.int32 if max(sink + 1, nnz + 1) < 2**31 else np.int64
    flat = grid.reshape(P, 2)
    args = (kernel, padding_mode, align_corners, subgradient, position_derivatives, itype)
    first_x, live_x, wx, dwx = _axis_taps(flat[:, 0], width, *args)
    base, live_y, wy, dwy = _axis_taps(flat[:, 1], height, *args)

    # In the framed buffer the taps of a point form a T x T block: tap (i, j) of point p is
    # buffer row base[p] + i * Wp + j, with base the first tap of image batch(p).
    base += itype(frame)
    base *= itype(Wp)
    base += first_x
    base += itype(frame)
    if N > 1:
        base.reshape(N, Ho * Wo)[...] += np.arange(0, sink, Hp * Wp, dtype=itype)[:, None]
    # CSR order: row p holds its taps (i, j); one long strided pass per tap
    indices = np.empty((P, T, T), dtype=itype)
    data = np.empty((P, T, T), dtype=grid.dtype)
    for i in range(T):
        for j in range(T):
            np.add(base, itype(i * Wp + j), out=indices[:, i, j])
            np.multiply(wy[i], wx[j], out=data[:, i, j])  # k(y - n) k(x - m)
    if live_x is not None or live_y is not None:
        dead = ~live_x if live_y is None else (~live_y if live_x is None else ~(live_x & live_y))
        indices[dead] = sink  # NaN points read only the zero sink
    indptr = np.arange(0, nnz + 1, T * T, dtype=itype)
    S = sp.csr_array((data.reshape(nnz), indices.reshape(nnz), indptr), shape=(P, sink + 1), copy=False)
    return SamplingOperator(S, frame, (wx, dwx, wy, dwy))


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
    ok = size is not None and len(size) in (2, 4) and all(isinstance(s, (int, np.integer)) for s in size)
    ok = ok and min(size[-2:]) >= 1 and min(size) >= 0 and (len(size) == 2 or size[0] == batch)
    if not ok:
        fail("sampling_matrix", "input_size",
             f"(H, W) or (N, C, H, W) of ints with H, W >= 1 and N = {batch}, the grid's batch size", input_size)
    return int(size[-2]), int(size[-1])


def sampling_matrix(grid, input_size, mode="bilinear", padding_mode="zeros", align_corners=False):
    r"""The sparse matrix ``S`` of a sampling: ``vec(V) = S vec(U)`` for every channel.

    ``grid_sample`` is linear in the image: for a fixed grid, every output value is a
    weighted sum of a few input pixels. This returns those weights as one block-diagonal
    matrix over the batch.

    Parameters
    ----------
    grid : Tensor or ndarray, shape (N, H_out, W_out, 2)
        Normalised coordinates, last axis (x, y), float32 or float64. N, H_out, W_out may be 0.
    input_size : tuple
        ``(H, W)`` or ``(N, C, H, W)`` of the images to be sampled (H, W >= 1).
    mode : {"bilinear", "nearest", "bicubic"} or Kernel
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
    >>> S = sampling_matrix(identity_grid(2, 4)[None], (2, 4))
    >>> S.shape, S.nnz, bool(np.array_equal(S.toarray(), np.eye(8)))
    ((8, 8), 8, True)

    (On a 3-pixel axis PyTorch's identity grid, and so ours, puts a point an ulp off its
    pixel centre: its row then holds a weight of about 1e-16 on the neighbour too.)
    """
    kernel = resolve_kernel(mode, "sampling_matrix")
    padding_mode, align_corners = check_padding(padding_mode, align_corners, "sampling_matrix")
    grid = values_of(check_grid(grid, "sampling_matrix"))
    height, width = _input_hw(input_size, grid.shape[0])
    op = build_operator(grid, height, width, kernel, padding_mode, align_corners)
    R = framing_matrix(grid.shape[0], height, width, op.frame, padding_mode, align_corners, grid.dtype)
    S = sp.csr_array(op.S @ R)
    S.sum_duplicates()
    S.eliminate_zeros()
    return S
