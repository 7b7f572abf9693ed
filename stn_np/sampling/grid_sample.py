r"""The fast differentiable sampler: ``grid_sample`` as one sparse product forward and backward.

The math is the paper's (see :mod:`stn_np.sampling.kernels`); the mechanism is the sparse
operator ``S`` of :mod:`stn_np.sampling.matrix`, built from each kernel's taps and weights
(:meth:`Kernel.taps`) on the image framed with its padding (:mod:`stn_np.sampling.padding`).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..validation import check_image_and_grid, check_memory
from .kernels import BILINEAR, resolve_kernel
from .matrix import build_operator, sparse_product
from .padding import channels_first, check_padding, frame_image, unframe_gradient
from .subgradients import check_subgradient

__all__ = ["GridSampleFunction", "grid_sample", "GATHER_CHANNELS"]

#: Channel counts up to which grid_sample gathers the taps channel by channel (the fast path of
#: GridSampleFunction) rather than multiplying all channels by the sparse operator at once:
#: below it the sparse product's short inner loop over the channels and the transposes into
#: and out of the (pixels, channels) layout cost more than gathering. Measured on N16 64x64
#: bilinear, 1 thread, forward + backward (forward alone): gathering is 40% (30%) faster at
#: C = 3, 25% (14%) at 4, 18% (0%) at 6, and 5% (27%) slower at 8.
GATHER_CHANNELS = 6


class GridSampleFunction(Function):
    r"""``V = grid_sample(U, grid)`` with a kernel ``k`` and a padding mode, as a sparse operator.

    Forward: ``x_i = unnormalise(grid_i,x)``, ``y_i = unnormalise(grid_i,y)`` in pixel units, then::

        V_i^c = sum_n sum_m U_pad(n, m)^c k(x_i - m) k(y_i - n) = (S X^c)_i

    where ``X`` is the image with a frame of ``U_pad`` around it (``padding.frame_image``) and
    ``S`` (one row per output point, ``ntaps**2`` entries a row) holds the kernel weights. Many
    channels go through one sparse product ``S @ X``, ``X`` laid out (pixels, channels); up to
    ``GATHER_CHANNELS`` the taps of each channel are gathered from ``X`` laid out (channels,
    pixels) and summed with their weights instead (the same sum, in the same order).

    Backward, with ``g`` the upstream gradient ``dL/dV``::

        dL/dX^c   = S^T g^c                                   (the adjoint of sampling)
        dL/dU     = frame pixels' gradients added onto the pixels they copy (adjoint of framing)
        dL/dx_i   = sum_c g_i^c sum_{n,m} U_pad(n,m)^c k'(x_i - m) k(y_i - n) = sum_c g_i^c (S_x X^c)_i
        dL/dgrid_i,x = dL/dx_i * dx_i/dgrid_i,x               (W/2, or (W-1)/2 with align_corners)

    ``S_x`` has ``S``'s sparsity with ``k'`` in place of ``k`` along x and the chain-rule
    factor folded in (0 where padding clipped the position, -1 where reflection mirrored it);
    ``y`` alike (:meth:`SamplingOperator.grid_gradient`). Inputs: U (N, C, H, W), grid
    (N, H_out, W_out, 2); keyword constants ``kernel``, ``padding_mode``, ``align_corners``.

    Volumes are the same op one axis up: U (N, C, D, H, W), grid (N, D_out, H_out, W_out, 3)
    with the last axis (x, y, z), ``V_i^c = sum_l sum_n sum_m U_pad(l, n, m)^c k(x_i - m)
    k(y_i - n) k(z_i - l)``, ``ntaps**3`` entries a row of ``S``, and ``S_z`` beside ``S_x``
    and ``S_y``: every step loops over the spatial axes.
    """

    @staticmethod
    def forward(ctx, U, grid, kernel=BILINEAR, padding_mode="zeros", align_corners=False, subgradient="pytorch"):
        N, C, *spatial = U.shape
        out = grid.shape[1:-1]
        points = math.prod(out)
        position_derivatives = ctx.needs_input_grad[1] and kernel.has_position_gradient
        op = build_operator(grid, spatial, kernel, padding_mode, align_corners, position_derivatives, subgradient)
        ctx.op, ctx.grid_shape, ctx.image_shape = op, grid.shape, U.shape
        ctx.padding, ctx.kernel = (padding_mode, align_corners), kernel
        ctx.gather = C <= GATHER_CHANNELS
        if ctx.gather:
            # Fast path for few channels (one-channel digits, masks and grey images; RGB): the
            # image stays channels-first (no transposes), each channel's taps are gathered at
            # once (np.take) and summed with their weights (S is never built), and the gathered
            # taps, kept, give the grid gradient without another product. For many channels
            # one sparse product over all of them at once is faster (the general path below).
            X = frame_image(U, op.frame, padding_mode, align_corners, channels_last=False, sink_rows=op.sink_rows)
            with np.errstate(over="ignore", invalid="ignore"):  # inf pixels give inf/NaN silently, as S @ X does
                Q, V = op.gather(X)  # (C, K, N * points), (C, N * points)
            if position_derivatives:
                ctx.save_for_backward(Q)
            return V.reshape(C, N, points).transpose(1, 0, 2).reshape((N, C) + out)
        X = frame_image(U, op.frame, padding_mode, align_corners, sink_rows=op.sink_rows)  # (rows, C)
        Y = sparse_product(op.S, X)  # (N * points, C)
        if position_derivatives:
            ctx.save_for_backward(X)
        return channels_first(Y.reshape(N, points, C)).reshape((N, C) + out)

    @staticmethod
    def backward(ctx, g):
        N, C = ctx.image_shape[:2]
        op = ctx.op
        points = math.prod(ctx.grid_shape[1:-1])
        dtype = op.weight.dtype
        gU = ggrid = None
        if ctx.gather:  # the fast path of the forward: channels first
            G = np.ascontiguousarray(g.reshape(N, C, points).transpose(1, 0, 2), dtype=dtype).reshape(C, N * points)
            if ctx.needs_input_grad[0]:
                gX = op.scatter(G, np.zeros((C, op.rows), dtype=dtype))
                gU = unframe_gradient(gX, ctx.image_shape, op.frame, *ctx.padding, channels_last=False)
        else:
            G = np.ascontiguousarray(g.reshape(N, C, points).transpose(0, 2, 1), dtype=dtype).reshape(N * points, C)
            if ctx.needs_input_grad[0]:
                gU = unframe_gradient(sparse_product(op.S, G, transpose=True), ctx.image_shape, op.frame, *ctx.padding)
        if ctx.needs_input_grad[1]:
            if not ctx.kernel.has_position_gradient:  # nearest: the sample is piecewise constant in the position
                ggrid = np.zeros(ctx.grid_shape, dtype=g.dtype)
            elif ctx.gather:
                (Q,) = ctx.saved_arrays
                with np.errstate(over="ignore", invalid="ignore"):
                    ggrid = op.gathered_grid_gradient(Q, G).reshape(ctx.grid_shape)
            else:
                (X,) = ctx.saved_arrays
                ggrid = op.grid_gradient(X, G).reshape(ctx.grid_shape)
        return gU, ggrid


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=False, subgradient="pytorch"):
    r"""Sample images at the points of a grid, differentiably (PyTorch's ``grid_sample`` contract).

    The paper's sampler (Jaderberg et al. 2015, eq. 3)::

        V_i^c = sum_n sum_m U_nm^c k(x_i^s - m) k(y_i^s - n)

    where ``U`` is the input, ``(x_i^s, y_i^s)`` the i-th grid point in pixel units and ``k``
    the kernel chosen by ``mode``. The grid holds normalised coordinates ``c`` in [-1, 1]
    (x along the width, y along the height), unnormalised to pixels as::

        x^s = ((c_x + 1) W - 1) / 2      (align_corners=False: -1, +1 are the image's outer edges)
        x^s = (c_x + 1) (W - 1) / 2      (align_corners=True: -1, +1 are the corner pixel centres)

    and alike for y with H, with PyTorch's rounding (:func:`stn_np.sampling.normalized_to_pixel`:
    the first as one fused multiply-add). Outside the image the sum reads the padded image
    ``U_pad``: 0 (``zeros``), the nearest edge pixel (``border``) or the image mirrored at its
    edges, repeated (``reflection``) — see :func:`stn_np.sampling.reference_sample` for why this
    equals PyTorch's clipping and reflecting of coordinates.

    Gradients (hand-derived; ``g`` = dL/dV)::

        dL/dU   = S^T g,  S the sparse sampling operator with S_{i,(n,m)} = k(x_i^s - m) k(y_i^s - n)
        dL/dx^s_i = sum_c g_i^c sum_{n,m} U_pad(n,m)^c k'(x_i^s - m) k(y_i^s - n)
        dL/dgrid_x = dL/dx^s * W/2   (or (W-1)/2 with align_corners; y alike)

    Through padding: ``border`` clips, so beyond the edge the sample is constant and its
    position gradient 0; ``reflection`` mirrors, so each reflection flips the gradient's sign.

    Where the sample has a kink (bilinear at a pixel centre; the bounds of ``border`` and
    ``reflection``) the derivative does not exist and ``subgradient`` chooses
    (:mod:`stn_np.sampling.subgradients`). The default, ``"pytorch"``, is PyTorch's exactly:
    the derivative from the right at a pixel centre (from the left where reflection mirrors
    the image), and 0 at and beyond the first and last pixel centre under ``border`` and
    ``reflection`` for bilinear and nearest. ``"central"`` takes the mean of the two one-sided
    derivatives, the central difference ``(U[m+1] - U[m-1]) / 2`` at a pixel centre: at the
    identity grid every point sits on a kink, so this choice alone decides the gradient that
    starts a spatial transformer's training.

    Volumes, as in PyTorch: a 5-D input (N, C, D, H, W) is sampled at a grid (N, D_out, H_out,
    W_out, 3) whose last axis is (x, y, z), z along the depth, with the triple sum
    ``V_i^c = sum_l sum_n sum_m U_lnm^c k(x_i^s - m) k(y_i^s - n) k(z_i^s - l)``: "bilinear"
    is trilinear there (8 taps), "nearest" the nearest voxel, and the padding modes,
    ``align_corners``, the subgradient conventions and empty shapes mean what they mean in
    2-D, axis by axis. PyTorch's volumetric kernel rounds the unnormalisation as written
    (no fused multiply-add), and so does this one for 5-D inputs. There is no 3-D bicubic
    (PyTorch has none); a Kernel of your own works.

    Parameters
    ----------
    input : Tensor or ndarray, shape (N, C, H, W) or (N, C, D, H, W)
        float32 or float64; spatial sides >= 1; N or C may be 0 (an empty result, as in PyTorch).
    grid : Tensor or ndarray, shape (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3)
        Same dtype as ``input``; last axis (x, y) or (x, y, z); output sides may be 0. A
        positive x translation of the grid moves the content left.
    mode : {"bilinear", "nearest", "bicubic"} or Kernel
        ``bilinear``: ``k(d) = max(0, 1 - |d|)``, ``k'(d) = -sign(d)`` (at the kinks as
        ``subgradient`` says). ``nearest``: the paper's integer kernel, ``V = U at
        floor(x^s + 0.5)`` (evaluated exactly); exact half-pixel ties round *up* (PyTorch rounds
        them to even: the one deliberate difference). Its grid gradient is zero: the integer
        kernel is piecewise constant in the position, which is why the paper trains with
        bilinear sampling; the input gradient is the usual ``S^T g``. ``bicubic``: Keys' cubic
        convolution with A = -0.75 over 4 x 4 taps, each tap padded separately, exactly as
        PyTorch does (C^1: no kinks). A :class:`~stn_np.sampling.Kernel` of your own works too.
    padding_mode : {"zeros", "border", "reflection"}
    align_corners : bool
    subgradient : {"pytorch", "central"}
        The derivative at kinks (above). Values never depend on it.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (N, C, D_out, H_out, W_out), the input's dtype
        Equal to PyTorch 2.x's ``torch.nn.functional.grid_sample`` in values and in both
        gradients (with ``subgradient="pytorch"``), apart from the ``nearest`` ties above:
        to 1e-12 relative in float64 at every point of the stored references, kinks, edges,
        ties and PyTorch's own identity grid included (``tests/test_grid_sample_kinks.py``;
        volumes: ``tests/test_grid_sample_3d.py``).

    Notes
    -----
    Non-finite grid points have a defined result (PyTorch 2.13's CPU kernel returns NaN for
    them, or crashes). NaN (in x or y) samples 0 with zero gradient for the input and the
    grid. +-inf is "far outside": 0 with zero gradients for ``zeros``; for ``border`` the edge
    (its limit), with zero gradient along the infinite coordinate (moving along the edge still
    counts); for ``reflection`` 0 with zero gradients, as a mirrored image has no limit at
    infinity. Huge finite coordinates (1e6, 1e300) behave as their padding mode says; a float32
    coordinate whose pixel position overflows (beyond ~3e38 / W) counts as infinite.
    Non-finite *image* values reach only the samples whose taps read them. No RuntimeWarning
    is raised for any of these.

    With ``nearest`` and ``reflection``, positions are mirrored into the image before
    rounding (as in PyTorch), so the round-half-up rule applies to the mirrored position.

    Cost: one sparse product with ``ntaps**d`` non-zeros per output point forward (``d`` = 2
    or 3 spatial axes: 4 or 8 for bilinear); one for the input gradient and ``d`` for the grid
    gradient backward (with ``"central"`` the window
    is one tap wider on each side); no dense (output x input) array is made. Computation stays
    in the input's dtype.

    Raises
    ------
    ValueError
        For wrong shapes (naming the argument and the expected shape), an unknown ``mode``
        (or "bicubic" for a volume),
        ``padding_mode`` or ``subgradient``.
    TypeError
        For dtypes other than float32/float64, or an input and grid of different dtypes.

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np.sampling import identity_grid
    >>> U = np.arange(12.0).reshape(1, 1, 3, 4)
    >>> grid = identity_grid(3, 4)[None]
    >>> bool(np.allclose(grid_sample(U, grid).data, U))
    True
    >>> grid[..., 0] += 2 / 4     # shift the sampling grid right by one pixel: content moves left
    >>> grid_sample(U, grid).data[0, 0, 0]
    array([1., 2., 3., 0.])

    At a pixel centre the two conventions differ (the row 0, 1, 3, 6 has slopes 1, 2, 3):

    >>> from stn_np import Tensor
    >>> row = np.array([[[[0.0, 1.0, 3.0, 6.0]]]])
    >>> for subgradient in ("pytorch", "central"):
    ...     point = Tensor(np.array([[[[0.25, 0.0]]]]), requires_grad=True)  # pixel x = 2 exactly
    ...     grid_sample(row, point, subgradient=subgradient).backward(np.ones((1, 1, 1, 1)))
    ...     print(subgradient, point.grad[0, 0, 0, 0] / 2)                   # per pixel (W / 2 = 2)
    pytorch 3.0
    central 2.5
    """
    padding_mode, align_corners = check_padding(padding_mode, align_corners, "grid_sample")
    subgradient = check_subgradient(subgradient, "grid_sample")
    input, grid = check_image_and_grid(input, grid, "grid_sample")
    d = grid.ndim - 2
    kernel = resolve_kernel(mode, "grid_sample", d)
    C, K = input.shape[1], kernel.ntaps**d
    gathered = C * K if C <= GATHER_CHANNELS else 0  # the gather path keeps every channel's taps
    check_memory(grid.shape[:-1] + (C + 2 * K + gathered,), input.dtype, "grid_sample", "grid",
                 "an output and its sampling operator")
    return GridSampleFunction.apply(input, grid, kernel=kernel, padding_mode=padding_mode, align_corners=align_corners,
                                    subgradient=subgradient)
