"""Padding: what the image holds outside its pixels, and how the fast sampler realises it.

Every sampler here reads the *padded, infinitely extended* image ``U_pad``: for integer
pixel positions ``m`` (along one axis of ``S`` pixels) inside the image ``U_pad(m) = U(m)``;
outside, the padding mode defines it:

``zeros``
    ``U_pad(m) = 0``.
``border``
    ``U_pad(m) = U(clip(m, 0, S - 1))``: the edge pixel repeats.
``reflection``
    ``U_pad`` mirrors the image at two mirror lines and so repeats with period ``2 S`` when
    ``align_corners=False`` (mirror lines at the image edges -0.5 and S - 0.5:
    ``U_pad(-1) = U(0)``) and period ``2 (S - 1)`` when ``align_corners=True`` (mirror lines
    through the corner pixel centres 0 and S - 1: ``U_pad(-1) = U(1)``). A one-pixel axis
    with ``align_corners=True`` is constant.

The fast sampler never needs more of ``U_pad`` than a thin *frame* around the image:

1. :func:`fold_coordinates` moves each sample position to an equivalent one near the image.
   Beyond the kernel's reach ``U_pad`` is constant (``border``) or zero (``zeros``), so
   positions farther out are clipped; ``U_pad`` is symmetric about each mirror line, so a
   ``reflection`` position is mirrored into the image (its derivative flips sign each time),
   with PyTorch's arithmetic. It also carries PyTorch's rule at the image's bounds: zero
   position gradient at and beyond the first and last pixel centre under ``border`` and
   ``reflection`` (``zero_at_bounds``; :mod:`stn_np.sampling.subgradients`).
2. :func:`frame_image` copies the image into a buffer with a frame of ``frame_width`` pixels
   holding ``U_pad`` (it is :func:`numpy.pad` with the matching mode), laid out
   (pixels, channels) for the sparse product or (channels, pixels) for gathering; every tap
   then reads the buffer directly.
3. :func:`unframe_gradient` is the adjoint of framing: a gradient on the framed buffer is
   summed back onto the pixels the frame copied.

:func:`pad_index` is the map behind all three: which pixel ``U_pad(m)`` reads.
"""

import math

import numpy as np

from ..validation import check_bool, check_choice

__all__ = ["PADDING_MODES", "check_padding", "reflection_period", "pad_index", "fold_coordinates", "frame_width",
           "frame_image", "unframe_gradient", "channels_first"]

#: Points per block of :func:`channels_first`: a block's ``C`` channels stay in the L1 cache
#: while its ``C`` output rows are written (for (16, 4096, 32) float32 twice as fast as one
#: strided copy of the whole array; blocks of 128-256 points do best).
TRANSPOSE_BLOCK = 256

#: The padding modes every sampler takes (PyTorch's names).
PADDING_MODES = ("zeros", "border", "reflection")


def check_padding(padding_mode, align_corners, function):
    """Validate a sampler's ``padding_mode`` and ``align_corners``; returns them (align_corners as bool)."""
    check_choice(padding_mode, PADDING_MODES, function, "padding_mode")
    return padding_mode, check_bool(align_corners, function, "align_corners")


def reflection_period(size, align_corners):
    """Period of the reflected image along an axis of ``size`` pixels (0 for a constant axis)."""
    if align_corners:
        return 2 * (size - 1)
    return 2 * size


def pad_index(m, size, padding_mode, align_corners):
    """Map integer positions ``m`` to the pixels that ``U_pad(m)`` reads.

    Parameters
    ----------
    m : ndarray of int
        Integer pixel positions, any shape, any range.
    size : int
        Number of pixels along the axis.
    padding_mode : {"zeros", "border", "reflection"}
    align_corners : bool
        Chooses the mirror lines of ``reflection`` (see the module docstring).

    Returns
    -------
    index : ndarray of int
        A pixel in ``[0, size)`` for every position.
    inside : ndarray of bool or None
        For ``zeros``, where the position is a real pixel (``U_pad(m) = inside * U(index)``);
        None for the other modes, where every position reads a pixel.

    Examples
    --------
    >>> import numpy as np
    >>> pad_index(np.arange(-3, 6), 3, "reflection", False)[0]
    array([2, 1, 0, 0, 1, 2, 2, 1, 0])
    >>> pad_index(np.arange(-3, 6), 3, "reflection", True)[0]
    array([1, 2, 1, 0, 1, 2, 1, 0, 1])
    >>> pad_index(np.arange(-2, 4), 2, "border", False)[0]
    array([0, 0, 0, 1, 1, 1])
    """
    if padding_mode == "zeros":
        inside = (m >= 0) & (m < size)
        return np.where(inside, m, 0), inside
    if padding_mode == "border":
        return np.minimum(np.maximum(m, 0), size - 1), None
    period = reflection_period(size, align_corners)
    if period == 0:
        return np.zeros_like(m), None
    r = np.mod(m, period)
    mirror = period - 1 - r if not align_corners else period - r
    return np.where(r < size, r, mirror), None


def fold_coordinates(pixel, size, radius, padding_mode, align_corners, zero_at_bounds=False):
    """Move sample positions to equivalent ones near the image; settle NaN and inf.

    ``zeros`` and ``border``: positions are clipped to ``[-R - 1, S + R]`` (``R`` the kernel's
    reach, ``ceil(radius)``). Farther out every tap reads zeros, or the edge, so the sample
    is unchanged (for kernels that sum to one over integer shifts, as the built-in ones do)
    and its gradient is zero: the slope of the clip.

    ``reflection``: ``U_pad`` is symmetric about each mirror line ``L`` and the kernel is
    even, so ``V(x) = V(2 L - x)``; positions are mirrored into the stretch between the two
    lines, with slope -1 where mirrored. The arithmetic is PyTorch's, operation for
    operation (distance past the first line, its absolute value reduced by whole double
    spans with ``trunc``, one more flip where past the middle), because near a mirror line an
    algebraically equal formula can round to the other side of it.

    Non-finite positions: NaN is *dead* (it samples 0 and gets zero gradient) in every mode;
    +-inf is far outside, so it samples 0 for ``zeros``, the edge for ``border``, and is dead
    for ``reflection``, whose mirrored image has no limit at infinity.

    Parameters
    ----------
    pixel : ndarray
        Sample positions in pixel units (float32 or float64); may be overwritten.
    size : int
        Pixels along the axis.
    radius : float
        Support radius of the kernel: ``k(d) = 0`` for ``|d| >= radius``.
    padding_mode : {"zeros", "border", "reflection"}
    align_corners : bool
        Chooses the mirror lines.
    zero_at_bounds : bool
        Make the slope 0 where the (mirrored) position is at or beyond the first or the last
        pixel centre, ``x <= 0`` or ``x >= S - 1``: PyTorch's clip of the coordinate for
        kernels of radius <= 1 under ``border`` and ``reflection``
        (:func:`stn_np.sampling.subgradients.zero_at_bounds`).

    Returns
    -------
    pixel : ndarray
        Finite positions within the frame's reach, same dtype, sampling the same value.
    live : ndarray of bool or None
        False for dead points, whose taps must read nothing; None when every point is live.
    slope : ndarray or None
        d(returned pixel)/d(input pixel), same dtype: +-1, or 0 where clipped, dead or at a
        bound; None where it may be taken as 1 everywhere (with zeros padding a clipped
        position's taps read only the zero frame, so its gradient is 0 without a slope).
    """
    dtype = pixel.dtype
    if pixel.size == 0:
        return pixel, None, None
    # min and max tell at once whether anything needs doing (NaN makes both NaN)
    lowest, highest = pixel.min(), pixel.max()
    live = None
    if not (np.isfinite(lowest) and np.isfinite(highest)):
        live = ~np.isnan(pixel)
        if padding_mode == "reflection":
            live &= np.isfinite(pixel)
        pixel = np.where(live, pixel, dtype.type(0))
    if padding_mode == "reflection":
        pixel, slope = _reflect(pixel, size, align_corners)
        if live is not None:
            slope = slope * live
    else:
        reach = math.ceil(radius) + 1
        low, high = -reach, size - 1 + reach
        slope = None
        if live is not None or lowest < low or highest > high:
            if padding_mode == "border" or live is not None:
                slope = (pixel >= low) & (pixel <= high)
                if live is not None:
                    slope &= live
                slope = slope.astype(dtype)
            pixel = np.clip(pixel, dtype.type(low), dtype.type(high), out=pixel)  # one pass, in place (no NaN is left)
    if zero_at_bounds:
        inside = ((pixel > 0) & (pixel < size - 1)).astype(dtype)
        slope = inside if slope is None else slope * inside
    return pixel, live, slope


def _reflect(pixel, size, align_corners):
    """Reflection's fold with PyTorch's arithmetic: the mirrored position and its slope +-1.

    The mirror lines are ``low`` and ``low + S'`` (``low`` = -0.5 and ``S' = S`` with
    ``align_corners=False``, 0 and ``S - 1`` with True); the pattern repeats every ``2 S'``.
    """
    dtype = pixel.dtype
    if align_corners and size == 1:  # no span: every position is the one pixel, slope 0
        return np.zeros_like(pixel), np.zeros_like(pixel)
    low = dtype.type(0 if align_corners else -0.5)
    twice_span = dtype.type(2 * (size - 1) if align_corners else 2 * size)
    shifted = pixel - low
    negative = shifted < 0
    distance = np.abs(shifted)
    extra = distance - np.trunc(distance / twice_span) * twice_span
    reflected = twice_span - extra
    flip = extra > reflected
    folded = np.where(flip, reflected, extra) + low
    # beyond 2**53 pixels the reduction is not exact; keep the taps inside the frame anyway
    np.clip(folded, low, low + twice_span / 2, out=folded)
    slope = np.where(flip ^ negative, dtype.type(-1), dtype.type(1))
    return folded, slope


def frame_width(radius, padding_mode):
    """Pixels of ``U_pad`` needed around the image for the taps of folded positions.

    A folded position lies in ``[-R - 1, S + R]`` (zeros, border; ``R = ceil(radius)``),
    whose taps reach ``2 R + 1`` pixels out, or between the mirror lines (reflection), whose
    taps reach ``R`` pixels out.
    """
    reach = math.ceil(radius)
    return reach if padding_mode == "reflection" else 2 * reach + 1


def _frame_sources(size, frame, padding_mode, align_corners):
    """Frame positions along one axis of the framed buffer, and the buffer positions they copy."""
    outside = np.r_[-frame:0, size:size + frame]
    source, _ = pad_index(outside, size, padding_mode, align_corners)
    return outside + frame, source + frame


def _framed_view(X, shape, frame, channels_last):
    """The framed buffer ``X`` without its sink, as (N, S_0 + 2 f, ..., S_{d-1} + 2 f, C) or (C, N, ...)."""
    N, C, *spatial = shape
    framed = tuple(s + 2 * frame for s in spatial)
    count = N * math.prod(framed)
    if channels_last:
        return X[:count].reshape((N,) + framed + (C,))
    return X[:, :count].reshape((C, N) + framed)


def frame_image(U, frame, padding_mode, align_corners, channels_last=True, sink_rows=1):
    """Copy ``U`` (N, C, H, W) or (N, C, D, H, W) into a framed buffer ``X`` for the sampling operator.

    ``X`` has ``R = N * (H + 2 frame) * (W + 2 frame) + sink_rows`` rows (a factor
    ``D + 2 frame`` more for a volume): row ``(n, a, b)`` holds ``U_pad(a - frame, b - frame)``
    of image ``n`` for every channel (the same values as ``numpy.pad`` with the matching
    mode), and the last ``sink_rows`` rows are a zero *sink* for taps that must read nothing
    (as many rows as a point's block of taps spans: the taps of a dead point start there,
    :class:`~stn_np.sampling.matrix.SamplingOperator`). Laid out (R, C), channels last, for
    the sparse product over all channels at once, or (C, R), channels first, for gathering one
    channel at a time (for C = 1 the two are the same array). The frame is filled one spatial
    axis at a time, the fastest first, each over the inner part of the slower axes and the
    whole (already framed) extent of the faster ones, so edges and corners come out right.
    """
    N, C, *spatial = U.shape
    d = len(spatial)
    count = N * math.prod(s + 2 * frame for s in spatial)
    rows = count + sink_rows
    X = np.empty((rows, C) if channels_last else (C, rows), dtype=U.dtype)
    if channels_last:
        X[count:] = 0
        order = (0,) + tuple(range(2, d + 2)) + (1,)
    else:
        X[:, count:] = 0
        order = (1, 0) + tuple(range(2, d + 2))
    Xp = _framed_view(X, U.shape, frame, channels_last)
    lead = (slice(None),) * (1 if channels_last else 2)
    inner = tuple(slice(frame, frame + s) for s in spatial)
    Xp[lead + inner] = U.transpose(order)
    if frame == 0:
        return X
    for axis in reversed(range(d)):
        before = lead + inner[:axis]
        if padding_mode == "zeros":
            Xp[before + (slice(0, frame),)] = 0
            Xp[before + (slice(frame + spatial[axis], None),)] = 0
        else:
            target, source = _frame_sources(spatial[axis], frame, padding_mode, align_corners)
            Xp[before + (target,)] = Xp[before + (source,)]
    return X


def unframe_gradient(gX, shape, frame, padding_mode, align_corners, channels_last=True):
    """The adjoint of :func:`frame_image`: a gradient on the framed buffer, summed onto ``U``.

    ``gX`` has the buffer's shape and layout (``channels_last`` as in :func:`frame_image`);
    every frame pixel's gradient is added to the pixel it copied (in reverse order of the
    copies: the slowest axis first), the sink's are dropped, and the result is laid out
    (N, C, H, W) or (N, C, D, H, W) like ``U`` (``shape``). ``gX`` may be overwritten.
    """
    N, C, *spatial = shape
    d = len(spatial)
    gXp = _framed_view(gX, shape, frame, channels_last)
    lead = (slice(None),) * (1 if channels_last else 2)
    inner = tuple(slice(frame, frame + s) for s in spatial)
    if frame and padding_mode != "zeros":
        # one frame slab at a time: several may copy the same pixels, and all must add up
        for axis in range(d):
            before = lead + inner[:axis]
            for target, source in zip(*_frame_sources(spatial[axis], frame, padding_mode, align_corners)):
                gXp[before + (source,)] += gXp[before + (target,)]
    if channels_last:
        return channels_first(gXp[lead + inner])
    return np.ascontiguousarray(gXp[lead + inner].transpose((1, 0) + tuple(range(2, d + 2))))


def channels_first(A):
    """A C-contiguous copy of ``A`` (N, S_1, ..., S_k, C) (any strides) laid out (N, C, S_1, ..., S_k).

    The same values as ``numpy.ascontiguousarray(numpy.moveaxis(A, -1, 1))``, copied in blocks
    of about :data:`TRANSPOSE_BLOCK` points along ``S_1``: one strided copy of the whole array
    reads each channel's values from a different cache line for every point it writes.
    """
    N, *inner, C = A.shape
    out = np.empty((N, C, *inner), dtype=A.dtype)
    order = (0, A.ndim - 1) + tuple(range(1, A.ndim - 1))
    if not inner:
        out[...] = A
        return out
    step = max(1, TRANSPOSE_BLOCK // max(1, math.prod(inner[1:])))
    for start in range(0, inner[0], step):
        out[:, :, start:start + step] = A[:, start:start + step].transpose(order)
    return out
