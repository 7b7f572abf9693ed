r"""The sampler as a sparse linear operator: ``vec(V) = S vec(U)``.

For a fixed grid the sample ``V_i^c = sum_n sum_m U_pad(n, m)^c k(x_i - m) k(y_i - n)`` is
linear in the image, and because ``k`` has a small support each output point reads only a
few pixels: ``S`` has one row per output point and, per row, ``ntaps**d`` entries, the
product of one kernel weight per spatial axis, ``k(x_i - m) k(y_i - n)`` for an image
(``d = 2``: 4 for bilinear, 16 for bicubic, 1 for nearest) and ``k(x_i - m) k(y_i - n)
k(z_i - l)`` for a volume (``d = 3``: 8 for trilinear). Images and volumes are one mechanism:
every step below is a loop over the spatial axes.

The fast sampler builds ``S`` on the *framed* image (:mod:`stn_np.sampling.padding`): the
image with a thin frame of ``U_pad`` around it, in which each point's taps form one
``ntaps x ... x ntaps`` block of consecutive rows, columns (and slices), so no tap needs a
padding lookup. It is stored by taps (:class:`SamplingOperator`: one base row per point,
one offset per tap, a row of weights per tap). For many channels ``V = S @ X`` over all
channels at once (``X`` the framed image, pixels x channels), ``dL/dX = S^T @ g``, and the
grid gradient uses ``dS/dx``, ``dS/dy`` (and ``dS/dz``) with the same sparsity, built in the
backward pass (:meth:`SamplingOperator.grid_gradient`). For few channels the same sums are
taken by gathering the taps of each channel (:meth:`SamplingOperator.gather`,
:func:`tap_sum`), scattering their adjoint (:meth:`SamplingOperator.scatter`) and
contracting the gathered taps with the derivative's factors
(:meth:`SamplingOperator.gathered_grid_gradient`). :func:`sampling_matrix` folds the frame
back (``S R`` with ``R`` the framing matrix) and hands users ``S`` on the image itself.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.sparse as sp

from ..threads import map_blocks, worker_threads
from ..validation import check_grid, fail, values_of
from .coords import coordinate_scale, unnormalize
from .kernels import resolve_kernel
from .padding import check_padding, fold_coordinates, frame_width, pad_index
from .subgradients import kink_tolerance, snap_to_kinks, zero_at_bounds

try:  # scipy's compiled kernels behind ``S @ X``: see sparse_product
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - a SciPy that moved them; the public products below give the same numbers
    _sparsetools = None

__all__ = ["SamplingOperator", "build_operator", "framing_matrix", "sampling_matrix", "tap_products",
           "sparse_product", "tap_sum", "contract_taps"]


#: Points per block in the pointwise loops over taps (tap_sum and the gathered grid
#: gradient): a block's operands and temporaries stay in a core's L2 cache across the few
#: passes each block takes, where whole-array passes over a 512 x 512 grid stream through
#: memory (1.7x faster measured for the contraction of the grid gradient; blocks of 8k-64k
#: points all do better than none).
BLOCK = 32768

#: Least work a thread's share must hold for a loop over points to run on the BLAS threads
#: (:func:`stn_np.threads.map_blocks`), each thread taking one contiguous share; work counts
#: points, times channels where a loop sums over them. Every NumPy call of a share releases
#: and retakes the GIL, and waking a thread that waits for it took ~40 us on the 2-core VM
#: this was measured on, so threads pay off only for long calls; and OpenBLAS's own threads
#: spin for a while after each product (the theta gradient's), taking the second core.
#: Measured there at 2 threads, forward + backward (``benchmarks/bench_sampler.py``): two shares
#: of 4 x 3 x 256^2 (393k a share) 13.0 -> 11.6 ms, of 16 x 32 x 64^2 (1M) 15.9 -> 13.7 ms; but
#: of 1 x 1 x 512^2 (131k) 6.6 -> 7.5 ms (its gather alone 1.55 -> 1.2 ms without a BLAS product
#: before it, 1.6 -> 2.0 ms with one), of 2 x 4 x 32^3 (131k) no faster, and a 64 x 1 x 28^2
#: batch in two shares (25k) took 1.3-1.5 ms forward instead of 0.9.
MIN_SHARE = 262144


def point_blocks(P):
    """Slices of at most :data:`BLOCK` points covering ``range(P)`` (none when ``P == 0``)."""
    return [slice(start, start + BLOCK) for start in range(0, P, BLOCK)]


def thread_blocks(P, work=1):
    """One contiguous, equal share of ``range(P)`` a BLAS thread when each holds :data:`MIN_SHARE`, else one slice.

    ``work`` is the work per point in :data:`MIN_SHARE`'s units (the channels a loop sums
    over). None when ``P == 0``.
    """
    threads = worker_threads()
    count = threads if threads > 1 and P * work >= threads * MIN_SHARE else 1
    size = -(-P // count)
    return [slice(start, min(start + size, P)) for start in range(0, P, size)] if P else []


def for_point_blocks(function, P, work=1):
    """``function(block)`` over ``range(P)``: one share a thread (:func:`thread_blocks`) if worth it, else L2-sized blocks.

    For loops whose blocks write disjoint parts of their outputs.
    """
    blocks = thread_blocks(P, work)
    if len(blocks) > 1:
        map_blocks(function, blocks)
    else:
        for block in point_blocks(P):
            function(block)


class SamplingOperator:
    """The linear map of one sampling on the framed image, and its derivative by the grid.

    Stored by taps: point ``p`` reads buffer rows ``base[p] + offsets[k]`` with weights
    ``weight[k, p]`` (``K = T**d`` taps a point, in C order over the spatial axes, slowest
    first). A point's taps form one ``T x ... x T`` block of the framed buffer, so one index
    per point and one offset per tap say where they all are: tap ``k`` of every point is read
    from the buffer shifted by ``offsets[k]`` at the points' ``base`` (:meth:`gather`; no
    (K, P) index array is built or read). Each tap's weights are one long contiguous row, so
    building the operator is a few whole-array operations, and the sampler either gathers
    with it directly (:meth:`gather`, :meth:`scatter`, for few channels) or uses the sparse
    matrix :attr:`S` (for many).

    Attributes
    ----------
    base : ndarray of intp, shape (P,)
        Row of every point's first tap in the framed buffer of
        :func:`stn_np.sampling.padding.frame_image`; dead (NaN) points start at the sink, the
        buffer's last ``sink_rows`` rows, all zeros, so each of their taps reads a zero.
    offsets : ndarray of intp, shape (K,)
        Buffer rows from a point's first tap to its tap ``k`` (0 first, the largest last).
    weight : ndarray, shape (K, P), the grid's dtype
        ``k(y_p - n_i) k(x_p - m_j)`` of tap ``(i, j)`` (a volume: times ``k(z_p - l_h)``):
        the products of the per-axis weights (:func:`tap_products`), formed on first use, or
        by :meth:`gather` a block of points at a time while the block's taps are summed.
    frame : int
        Width of the frame.
    rows, sink_rows : int
        Rows of the framed buffer, ``N * prod(S_i + 2 frame) + sink_rows``, and of its sink,
        ``offsets[-1] + 1``: a dead point's last tap is the buffer's last row.
    """

    def __init__(self, base, offsets, frame, rows, taps):
        self.base = base
        self.offsets = offsets
        self.frame = frame
        self.rows = rows
        self.sink_rows = int(offsets[-1]) + 1
        self._taps = taps  # per spatial axis (slowest first): (k, k' times d(pixel)/d(coord))
        self._weight = None
        self._S = None

    @property
    def weight(self):
        """The (K, P) weights of the taps (class docstring), formed on first use."""
        if self._weight is None:
            K, P = self.offsets.shape[0], self.base.shape[0]
            weight = np.empty((K, P), dtype=self._taps[0][0].dtype)
            map_blocks(lambda block: self._tap_weights(block, weight[:, block]), thread_blocks(P))
            self._weight = weight
        return self._weight

    def _tap_weights(self, block, out=None):
        """The weights of the taps of the points in ``block`` (K, points), in ``out`` if given."""
        factors = [w[:, block] for w, _ in self._taps]
        T, points = factors[0].shape
        if out is None:
            out = np.empty((T ** len(factors), points), dtype=factors[0].dtype)
        taps = out.view()
        taps.shape = (T,) * len(factors) + (points,)  # a view of out's rows (raises rather than copy)
        tap_products(factors, taps)  # k(z - l) k(y - n) k(x - m)
        return out

    @property
    def S(self):
        """The operator as a ``scipy.sparse.csr_array`` of shape ``(P, rows)``, built on first use.

        Block-diagonal over the batch: row ``p`` holds the weights of point ``p``'s taps at
        columns ``base[p] + offsets`` (CSR keeps a row's taps together, so this transposes the
        tap-major arrays once).
        """
        if self._S is None:
            K, P = self.weight.shape
            itype = np.int32 if max(self.rows, K * P + 1) < 2**31 else np.int64
            # (P, K), CSR order, written one tap (column) at a time: long strided passes, where a
            # broadcast over the short tap axis would run a 4-element inner loop per point
            indices, data = np.empty((P, K), dtype=itype), np.empty((P, K), dtype=self.weight.dtype)

            def fill(block):  # rows of points: disjoint for every block
                for k, offset in enumerate(self.offsets):
                    np.add(self.base[block], offset, out=indices[block, k], casting="same_kind")
                    data[block, k] = self.weight[k, block]

            map_blocks(fill, thread_blocks(P))
            indptr = np.arange(0, K * P + 1, K, dtype=itype)
            self._S = sp.csr_array((data.reshape(-1), indices.reshape(-1), indptr), shape=(P, self.rows), copy=False)
        return self._S

    def gather(self, X):
        """The taps' values and their weighted sums, for a channels-first buffer ``X`` (C, rows).

        Returns ``Q`` (C, K, P), ``Q[c, k, p] = X[c, base[p] + offsets[k]]``, and ``V`` (C, P),
        ``V[c] = tap_sum(Q[c], weight)``: a block of points at a time, so that a block's
        taps are summed while still in cache.
        """
        C, K, P = X.shape[0], len(self.offsets), self.base.shape[0]
        Q = np.empty((C, K, P), dtype=X.dtype)
        V = np.empty((C, P), dtype=X.dtype)
        # the weights too are formed a block at a time, while in cache for the sum below
        fill, weight = self._weight is None, self._weight
        if fill:
            weight = np.empty((K, P), dtype=self._taps[0][0].dtype)

        def gather_block(block):
            if fill:
                self._tap_weights(block, weight[:, block])
            base = self.base[block]
            for c in range(C):
                for k, offset in enumerate(self.offsets):
                    # mode="clip" only skips the bounds check that raises: every base + offset is a buffer row
                    np.take(X[c, offset:], base, out=Q[c, k, block], mode="clip")
            tap_sum(Q[:, :, block], weight[:, block], out=V[:, block])

        for_point_blocks(gather_block, P, work=C)  # blocks write disjoint columns of weight, Q and V
        self._weight = weight
        return Q, V

    def scatter(self, G, out):
        """Add ``weight[k, p] * G[c, p]`` to ``out[c, base[p] + offsets[k]]`` for every channel, tap and point.

        The adjoint of :meth:`gather`. ``out`` (C, rows) and ``G`` (C, P) are C-contiguous, of
        the weights' dtype. Repeated rows add up (many points read one pixel): one compiled COO
        product per channel and tap, written into ``out[c]`` shifted by the tap's offset;
        SciPy's public product where that kernel is missing.
        """
        K, P = self.weight.shape
        # 32-bit indices where they fit: the compiled product reads one row and one point index
        # per entry, and halving their bytes makes it 25% faster (a cast of ``base`` costs less)
        itype = np.int32 if max(out.shape[-1], P) < 2**31 else self.base.dtype
        base, points = self.base.astype(itype, copy=False), np.arange(P, dtype=itype)
        for g, row in zip(G, out):
            for k, offset in enumerate(self.offsets):
                if _sparsetools is None:
                    tap = sp.coo_array((self.weight[k], (base, points)), shape=(row.size - offset, P))
                    row[offset:] += tap @ g
                else:
                    _sparsetools.coo_matvec(P, base, points, self.weight[k], g, row[offset:])
        return out

    def _derivative_factors(self, axis):
        """Per-axis factors of ``dS/dgrid[axis]``: ``k'`` (times the chain-rule factor) along its spatial axis."""
        d = len(self._taps)
        if any(dw is None for _, dw in self._taps):
            raise RuntimeError("grid_gradient: the operator was built without position derivatives")
        factors = [w for w, _ in self._taps]
        factors[d - 1 - axis] = self._taps[d - 1 - axis][1]  # grid coordinate ``axis`` moves along spatial axis d-1-axis
        return factors

    def grid_gradient(self, X, G):
        """``dL/dgrid`` (shape (P, d), last axis (x, y[, z])) from the framed image ``X`` (rows, C) and ``G = dL/dV`` (P, C).

        ``dL/dx_p = sum_c G[p, c] (S_x X)[p, c]`` where ``S_x`` has the sparsity of ``S`` and
        entries ``k'(x - m) dx/dgrid_x`` times the other axes' ``k`` (the chain rule through
        unnormalisation and padding folded in); ``y`` (and ``z``) alike. Each is built here
        in turn, in one buffer sharing ``S``'s indices.
        """
        S = self.S
        P, d, T = self.weight.shape[1], len(self._taps), self._taps[0][0].shape[0]
        values = np.empty((P,) + (T,) * d, dtype=S.dtype)  # point-major, as S.indices
        derivative = sp.csr_array((values.reshape(-1), S.indices, S.indptr), shape=S.shape, copy=False)
        out = np.empty((P, d), dtype=S.dtype)
        factors = [self._derivative_factors(axis) for axis in range(d)]

        def block_gradient(block):  # the block's rows of each S_x, its rows of S_x X, its rows of out
            rows = np.empty((block.stop - block.start,) + X.shape[1:], dtype=X.dtype)
            for axis in range(d):
                tap_products([f[:, block] for f in factors[axis]], np.moveaxis(values[block], 0, -1))
                out[block, axis] = np.einsum("pc,pc->p", G[block], _row_product(derivative, X, block, rows))

        map_blocks(block_gradient, thread_blocks(P, work=X.shape[1]))
        return out

    def gathered_grid_gradient(self, Q, G):
        """``dL/dgrid`` (P, d) from the gathered taps ``Q`` (C, K, P) of :meth:`gather` and ``G = dL/dV`` (C, P).

        The same sum as :meth:`grid_gradient`, taken in the other order: first over the
        channels, ``M[k, p] = sum_c G[c, p] Q[c, k, p]`` (the upstream gradient against every
        tap's value), then over the taps, ``dL/dx_p = sum_k S_x[p, k] M[k, p]``. ``S_x`` is a
        product of one factor per axis, so that sum is taken one axis at a time
        (:func:`contract_taps`) without forming ``S_x``: no sparse product at all, and ``M``
        serves every coordinate. With one channel the sum is linear in ``G``, so the taps are
        contracted first and multiplied by ``G`` once per coordinate (fewer passes than ``M``).
        """
        C, K, P = Q.shape
        d, T = len(self._taps), self._taps[0][0].shape[0]
        if C == 0:  # nothing sampled: no gradient
            return np.zeros((P, d), dtype=Q.dtype)
        out = np.empty((P, d), dtype=Q.dtype)
        factors = [self._derivative_factors(axis) for axis in range(d)]

        def contract_block(block):
            Qb, Gb = Q[..., block], G[:, block]
            if C == 1:
                M, scale = Qb[0].reshape((T,) * d + (-1,)), Gb[0]
            else:
                M, scale = Qb[0] * Gb[0], None
                for c in range(1, C):
                    M += Qb[c] * Gb[c]
                M = M.reshape((T,) * d + (-1,))
            for axis in range(d):
                part = contract_taps(M, [f[:, block] for f in factors[axis]])
                out[block, axis] = part if scale is None else np.multiply(part, scale, out=part)

        for_point_blocks(contract_block, P, work=C)  # disjoint rows of out
        return out


def tap_sum(Q, weight, out=None):
    """``sum_k Q[..., k, p] weight[k, p]``: every point's taps summed with their weights, ``Q`` (..., K, P).

    The taps are added in order (C order over the spatial axes, slowest first), as PyTorch adds
    a bilinear sample's four corners: ``nw + ne + sw + se``. Returns (..., P), in ``out`` if given.
    """
    if out is None:
        out = np.empty(Q.shape[:-2] + Q.shape[-1:], dtype=Q.dtype)
    for block in point_blocks(Q.shape[-1]):
        total = np.multiply(Q[..., 0, block], weight[0, block], out=out[..., block])
        term = np.empty_like(total)
        for k in range(1, weight.shape[0]):
            total += np.multiply(Q[..., k, block], weight[k, block], out=term)
    return out


def contract_taps(M, factors):
    """``sum_{j_0, ..., j_{d-1}} M[j_0, ..., j_{d-1}, p] factors[0][j_0, p] ... factors[d-1][j_{d-1}, p]``.

    The sum against the tap weights of a separable kernel (:func:`tap_products`), one axis at a
    time from the fastest (``T**d + T**(d-1) + ...`` products a point instead of ``2 T**d``).
    ``M`` is (T, ..., T, P), ``factors`` are (T, P) arrays (rows may be broadcast). Returns (P,).

    A two-tap factor that is ``(-s, s)`` at every point (bilinear's ``k'`` times the pixel
    scale) is contracted first, as the difference ``M[..., 1, ...] - M[..., 0, ...]``: one
    subtraction instead of two products and a sum, over the largest array, and ``s`` is applied
    once at the end.
    """
    scale = None
    for axis, factor in enumerate(factors):
        constant = factor.shape[0] == 2 and factor.shape[1] > 0 and factor.strides[-1] == 0
        if constant and factor[0, 0] == -factor[1, 0]:
            index = (slice(None),) * axis
            M, scale = np.subtract(M[index + (1,)], M[index + (0,)]), factor[1, 0]
            factors = factors[:axis] + factors[axis + 1:]
            break
    for factor in reversed(factors):
        T = factor.shape[0]
        reduced = M[..., 0, :] * factor[0]
        term = np.empty_like(reduced)
        for j in range(1, T):
            reduced += np.multiply(M[..., j, :], factor[j], out=term)
        M = reduced
    return M if scale is None else np.multiply(M, scale, out=M)


def sparse_product(S, X, transpose=False):
    """``S @ X`` (or ``S.T @ X``) of a ``csr_array`` and a C-contiguous ndarray X, (n,) or (n, C), of S's dtype.

    The same numbers as scipy's ``@``, computed by the compiled kernel that ``@`` ends in, called
    directly: on the small batches of a training step, ``S @ X``'s Python layer (dispatch,
    checks, a transposed view's construction) costs as much as the arithmetic. Falls back to
    ``@`` where that kernel is not importable. ``S @ X`` runs blocks of rows on the BLAS threads
    (each writes its own rows); ``S.T @ X`` adds many rows of ``S`` into one output row, so it
    stays on one thread, in one order.
    """
    n_row, n_col = S.shape
    shape = ((n_col if transpose else n_row),) + X.shape[1:]
    if _sparsetools is None or X.dtype != S.dtype:
        return (S.T if transpose else S) @ X
    if not transpose:
        out = np.empty(shape, dtype=X.dtype)
        work = X.shape[1] if X.ndim > 1 else 1  # channels summed a row
        map_blocks(lambda rows: _row_product(S, X, rows, out[rows]), thread_blocks(n_row, work))
        return out
    out = np.zeros(shape, dtype=X.dtype)
    if X.ndim == 1:
        _sparsetools.csc_matvec(n_col, n_row, S.indptr, S.indices, S.data, X, out)
    else:
        _sparsetools.csc_matvecs(n_col, n_row, X.shape[1], S.indptr, S.indices, S.data, X.reshape(-1), out.reshape(-1))
    return out


def _row_product(S, X, rows, out):
    """``out = S[rows] @ X`` (``rows`` a slice within S's rows, ``out`` C-contiguous), by the compiled kernel.

    Rows are computed one by one, each summing its entries in order, so any split gives the
    numbers of one whole product.
    """
    start, stop = rows.start, rows.stop
    if _sparsetools is None:
        out[...] = S[start:stop] @ X
        return out
    lo, hi = int(S.indptr[start]), int(S.indptr[stop])
    indptr = S.indptr[start:stop + 1] - S.indptr[start] if lo else S.indptr[start:stop + 1]
    out[...] = 0  # the kernels add into out
    if X.ndim == 1:
        _sparsetools.csr_matvec(stop - start, S.shape[1], indptr, S.indices[lo:hi], S.data[lo:hi], X, out)
    else:
        _sparsetools.csr_matvecs(stop - start, S.shape[1], X.shape[1], indptr, S.indices[lo:hi], S.data[lo:hi],
                                 X.reshape(-1), out.reshape(-1))
    return out


def tap_products(factors, out):
    """``out[j_0, ..., j_{d-1}, p] = factors[0][j_0, p] * ... * factors[d-1][j_{d-1}, p]``.

    The separable kernel's weight of every tap of every point, as one product per axis: the
    partial products of the slower axes are formed once per tap of theirs, then each is
    multiplied by the fastest axis's weights straight into ``out`` (4 products a point for
    bilinear in 2-D, 4 + 8 in 3-D). ``factors`` are (T, P) arrays, ``out`` is (T, ..., T, P)
    (any strides: a transposed view writes point-major).
    """
    *slower, fastest = factors
    T = fastest.shape[0]
    partials = {(): None}
    for factor in slower:  # products over the slower axes, keyed by their tap indices
        partials = {key + (j,): factor[j] if part is None else part * factor[j]
                    for key, part in partials.items() for j in range(T)}
    for key, part in partials.items():
        for j in range(T):
            if part is None:
                out[key + (j,)] = fastest[j]
            else:
                np.multiply(part, fastest[j], out=out[key + (j,)])


def _axis_taps(coord, size, kernel, padding_mode, align_corners, subgradient, position_derivatives, spatial_dims):
    """Taps along one axis: the first tap's position, k, and k' times d(pixel)/d(coord).

    Returns ``first`` ((P,) intp, in pixels of the image, not the frame), ``live``
    ((P,) bool or None when all points are live), ``w`` and ``dw`` ((T, P), coord's dtype;
    ``dw`` is None unless asked for). Tap arrays are (taps, points) so that each row is one
    long contiguous array. With the "central" subgradient and derivatives the window has
    ``T = ntaps + 2`` taps (:meth:`Kernel.central_taps`), else ``T = ntaps``. Call it under
    ``numpy.errstate(over="ignore", invalid="ignore")`` (huge coordinates overflow to inf).
    """
    dtype = coord.dtype
    scale = coordinate_scale(size, align_corners)
    pixel = unnormalize(coord, size, align_corners, spatial_dims)
    if scale == 0:  # a one-pixel axis with align_corners: keep +-inf infinite (inf * 0 is NaN)
        pixel = np.where(np.isinf(coord), coord, pixel)
    central = position_derivatives and subgradient == "central"
    tolerance = kink_tolerance(pixel, size) if central else None
    pixel, live, slope = fold_coordinates(pixel, size, kernel.radius, padding_mode, align_corners,
                                          zero_at_bounds=position_derivatives
                                          and zero_at_bounds(kernel, padding_mode, subgradient))
    if central:
        first, w, dw = kernel.central_taps(pixel, snap_to_kinks(pixel, tolerance), np.intp)
    else:
        first, w, dw = kernel.taps(pixel, np.intp)
    if not position_derivatives:
        return first, live, w, None
    if slope is None and dw.strides[-1] == 0:  # k' constant over the points (bilinear): stay a view
        dw = np.broadcast_to(dw[:, :1] * dtype.type(scale), dw.shape)
    else:
        dw = dw * (dtype.type(scale) if slope is None else slope * dtype.type(scale))
    return first, live, w, dw


def build_operator(grid, spatial, kernel, padding_mode, align_corners, position_derivatives=False,
                   subgradient="pytorch"):
    """Build the :class:`SamplingOperator` of ``grid`` (ndarray (N, ..., d)) on images of spatial shape ``spatial``.

    ``spatial`` is (H, W) for a grid (N, H_out, W_out, 2) and (D, H, W) for a grid
    (N, D_out, H_out, W_out, 3): one mechanism for both, a loop over the spatial axes. With
    ``position_derivatives`` it keeps what :meth:`SamplingOperator.grid_gradient` needs,
    under the ``subgradient`` convention (:mod:`stn_np.sampling.subgradients`; "central"
    widens every point's window by one tap on each side). Every step is a whole-array
    operation on contiguous (taps, points) arrays; none is bigger than ``N prod(out) T**d``
    (``T`` taps per axis).
    """
    N, *out, d = grid.shape
    P = N * math.prod(out)
    wide = position_derivatives and subgradient == "central"
    T = kernel.ntaps + (2 if wide else 0)
    frame = frame_width(kernel.radius, padding_mode) + (1 if wide else 0)
    framed = [s + 2 * frame for s in spatial]
    strides = [math.prod(framed[i + 1:]) for i in range(d)]  # buffer rows per step along each spatial axis
    sink = N * math.prod(framed)
    flat = grid.reshape(P, d)
    args = (kernel, padding_mode, align_corners, subgradient, position_derivatives, d)
    with np.errstate(over="ignore", invalid="ignore"):
        # spatial axis i is read by grid coordinate d - 1 - i (axis_sizes): slowest axis first
        taps = [_axis_taps(flat[:, d - 1 - i], spatial[i], *args) for i in range(d)]

    # In the framed buffer the taps of a point form a T x ... x T block: tap (j_0, ..., j_{d-1})
    # of point p is buffer row base[p] + sum_i j_i strides[i], with base the first tap of image batch(p).
    # base = sum_i (first_i + frame) strides[i] + n prod(framed), the constants added in one pass
    base = taps[0][0]
    for i in range(1, d):
        base *= framed[i]
        base += taps[i][0]
    shift = frame * sum(strides)
    if N > 1:
        base.reshape(N, P // N)[...] += np.arange(shift, sink + shift, sink // N, dtype=base.dtype)[:, None]
    else:
        base += shift
    offsets = [sum(j * stride for j, stride in zip(tap, strides)) for tap in itertools.product(range(T), repeat=d)]
    lives = [live for _, live, _, _ in taps if live is not None]
    if lives:
        base[~np.logical_and.reduce(lives)] = sink  # NaN points read only the zero sink
    return SamplingOperator(base, np.array(offsets, dtype=base.dtype), frame, sink + offsets[-1] + 1,
                            [(w, dw) for _, _, w, dw in taps])


def framing_matrix(batch, spatial, frame, padding_mode, align_corners, dtype):
    """The sparse 0/1 matrix R with ``vec(framed buffer) = R vec(U)`` (one channel; ``spatial`` = (H, W) or (D, H, W)).

    Row ``(n, a, b)`` of the framed buffer copies pixel ``pad_index(a - frame, b - frame)`` of
    image ``n`` (no pixel for zeros padding outside the image, nor for the final sink row);
    a volume alike with three indices.
    """
    d = len(spatial)
    pixel = np.arange(batch).reshape((batch,) + (1,) * d) * math.prod(spatial)
    keep = np.ones((1,) * (d + 1), dtype=bool)
    for i, size in enumerate(spatial):
        index, inside = pad_index(np.arange(-frame, size + frame), size, padding_mode, align_corners)
        shape = [1] * (d + 1)
        shape[i + 1] = index.size
        pixel = pixel + index.reshape(shape) * math.prod(spatial[i + 1:])
        if inside is not None:
            keep = keep & inside.reshape(shape)
    keep = np.broadcast_to(keep, pixel.shape)
    framed = np.flatnonzero(keep.ravel())
    shape = (pixel.size + 1, batch * math.prod(spatial))
    return sp.csr_array((np.ones(framed.size, dtype=dtype), (framed, pixel.ravel()[framed])), shape=shape)


def _input_spatial(input_size, batch, d):
    layouts = {2: "(H, W) or (N, C, H, W) of ints with H, W >= 1", 3: "(D, H, W) or (N, C, D, H, W) of ints with "
                                                                     "D, H, W >= 1"}
    size = tuple(input_size) if isinstance(input_size, (tuple, list)) else None
    ok = size is not None and len(size) in (d, d + 2) and all(isinstance(s, (int, np.integer)) for s in size)
    ok = ok and min(size[-d:]) >= 1 and min(size) >= 0 and (len(size) == d or size[0] == batch)
    if not ok:
        fail("sampling_matrix", "input_size",
             f"{layouts[d]} and N = {batch}, the grid's batch size", input_size)
    return tuple(int(s) for s in size[-d:])


def sampling_matrix(grid, input_size, mode="bilinear", padding_mode="zeros", align_corners=False):
    r"""The sparse matrix ``S`` of a sampling: ``vec(V) = S vec(U)`` for every channel.

    ``grid_sample`` is linear in the image: for a fixed grid, every output value is a
    weighted sum of a few input pixels. This returns those weights as one block-diagonal
    matrix over the batch.

    Parameters
    ----------
    grid : Tensor or ndarray, shape (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3)
        Normalised coordinates, last axis (x, y) or (x, y, z), float32 or float64. N and the
        output sides may be 0.
    input_size : tuple
        ``(H, W)`` or ``(N, C, H, W)`` of the images to be sampled (H, W >= 1); for a
        volumetric grid ``(D, H, W)`` or ``(N, C, D, H, W)``.
    mode : {"bilinear", "nearest", "bicubic"} or Kernel
        (no "bicubic" for volumes, as in PyTorch)
    padding_mode : {"zeros", "border", "reflection"}
    align_corners : bool
        As in :func:`stn_np.functional.grid_sample`.

    Returns
    -------
    scipy.sparse.csr_array, shape (N * H_out * W_out, N * H * W), the grid's dtype
        Row ``(n, i, j)`` (flattened in C order) holds the weights
        ``k(x - m) k(y - r)`` of output pixel ``(i, j)`` of image ``n`` on input pixels
        ``(n, r, m)``, summed where padding maps several taps onto one pixel; at most 4
        non-zeros a row for bilinear, 16 for bicubic, 1 for nearest. A volume alike:
        (N * D_out * H_out * W_out, N * D * H * W), rows ``(n, h, i, j)``, weights
        ``k(x - m) k(y - r) k(z - l)``, at most 8 non-zeros a row for trilinear. The same ``S`` serves
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
    padding_mode, align_corners = check_padding(padding_mode, align_corners, "sampling_matrix")
    grid = values_of(check_grid(grid, "sampling_matrix"))
    d = grid.ndim - 2
    kernel = resolve_kernel(mode, "sampling_matrix", d)
    spatial = _input_spatial(input_size, grid.shape[0], d)
    op = build_operator(grid, spatial, kernel, padding_mode, align_corners)
    R = framing_matrix(grid.shape[0], spatial, op.frame, padding_mode, align_corners, grid.dtype)
    S = sp.csr_array(op.S[:, : R.shape[0]] @ R)  # the sink's further rows are zeros: no pixel of U
    S.sum_duplicates()
    S.eliminate_zeros()
    return S
