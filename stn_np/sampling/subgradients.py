r"""Subgradient conventions: which derivative a sampler reports where its sample has a kink.

Along one axis a sample is ``V(x) = sum_m U_pad(m) k(x - m)``, a function of the position
``x`` (in pixels) that is only piecewise smooth: bilinear's ``k(d) = max(0, 1 - |d|)`` has
kinks at ``d = -1, 0, 1``, so ``V`` has a kink wherever ``x`` is an integer (a pixel centre),
and the padding adds its own at the image's bounds. There the derivative does not exist and
a sampler has to choose a number. Every sampler here takes ``subgradient=``:

``"pytorch"`` (the default): PyTorch 2.x's choice, exactly.
    * Inside the image, the derivative **from the right**, ``lim_{h -> 0+} (V(x + h) - V(x)) / h``:
      a bilinear sample at a pixel centre ``m`` gets the forward difference
      ``U(m + 1) - U(m)``.
    * Through ``reflection`` the position is first mirrored into the image (with PyTorch's
      arithmetic) and the derivative is taken from the right of the *mirrored* position,
      times the sign of the mirror: where the image is mirrored, that is the derivative from
      the left.
    * At and beyond the bounds of the image (the first and the last pixel centre, ``x <= 0``
      or ``x >= S - 1`` after mirroring) under ``border`` and ``reflection`` padding, **zero**,
      for kernels whose support reaches at most one pixel (bilinear, nearest; radius <= 1).
      PyTorch clips their coordinate into ``[0, S - 1]`` and counts the bounds themselves as
      outside ("borders are out of bounds"). For those kernels the clip changes no value: the
      sample is constant beyond the bound. Wider kernels (bicubic) read padding inside the
      image too; PyTorch pads each of their taps instead of clipping, and so does stn_np,
      keeping the one-sided derivative.

``"central"``: the mean of the derivatives from the left and from the right,
    ``(V'(x-) + V'(x+)) / 2`` at every kink, bounds included (a symmetric choice: what a
    central finite difference across the kink measures). A bilinear sample at a pixel centre
    ``m`` gets ``(U_pad(m + 1) - U_pad(m - 1)) / 2``; at the first pixel under border padding
    ``(U(1) - U(0)) / 2``, under reflection with ``align_corners=True`` 0 (the mirror is
    symmetric). A position within rounding of an integer (:func:`kink_tolerance`) is taken
    *at* the integer, where the built-in kernels have their kinks, so that the rounding of
    the unnormalisation cannot pick a side.

Off the kinks both are the derivative. Values never depend on the convention; neither does
the nearest kernel's zero position gradient, nor bicubic's (it is C^1 and has no kinks).

Why it matters: the identity grid with ``align_corners=False`` puts every sample point on a
pixel centre, a kink of bilinear in both ``x`` and ``y`` (``align_corners=True`` and any
whole-pixel translation do the same). A spatial transformer starts training at the identity,
so the gradient of its very first step is decided by the convention alone: the forward
difference of the image ("pytorch"), or the central difference ("central"). And with
PyTorch's unnormalisation some identity points land an ulp to the *left* of their pixel
centre (``((c + 1) W - 1) / 2`` is not exact for every ``W``), where "pytorch" takes the
derivative from the left, exactly as PyTorch does; "central" is immune to that.
"""

from __future__ import annotations

import numpy as np

from ..validation import check_choice

__all__ = ["SUBGRADIENTS", "check_subgradient", "zero_at_bounds", "kink_tolerance", "snap_to_kinks"]

#: The subgradient conventions every sampler takes (the module docstring defines them).
SUBGRADIENTS = ("pytorch", "central")

#: How many units in the last place of ``max(|x|, S)`` a position may be off an integer and
#: still count as on it, for "central". The unnormalisation ``((c + 1) S - 1) / 2`` of a
#: coordinate exact to half an ulp is off by at most a few ulps of ``S``.
KINK_ULPS = 8


def check_subgradient(subgradient, function):
    """Validate a sampler's ``subgradient``; returns it."""
    return check_choice(subgradient, SUBGRADIENTS, function, "subgradient")


def zero_at_bounds(kernel, padding_mode, subgradient):
    """Whether the position gradient is zero at and beyond the bounds ``[0, S - 1]``.

    True for PyTorch's convention with ``border`` or ``reflection`` padding and a kernel of
    radius at most 1 (whose coordinate PyTorch clips; see the module docstring).
    """
    return subgradient == "pytorch" and padding_mode != "zeros" and kernel.radius <= 1


def kink_tolerance(pixel, size):
    """How far (in pixels) a position may lie from an integer and still count as on it.

    ``KINK_ULPS`` units in the last place of ``max(|pixel|, size)`` in the positions' dtype:
    about ``2e-13`` pixel on a 100-pixel float64 axis, ``1e-4`` in float32.
    """
    eps = np.finfo(pixel.dtype).eps
    return (KINK_ULPS * eps) * np.maximum(np.abs(pixel), pixel.dtype.type(size))


def snap_to_kinks(pixel, tolerance):
    """``pixel`` with every position within ``tolerance`` of an integer moved onto it.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([2.0 - 4e-16, 2.3, -1e-17])
    >>> snap_to_kinks(x, kink_tolerance(x, 5)).tolist()
    [2.0, 2.3, 0.0]
    """
    nearest = np.round(pixel) + pixel.dtype.type(0)  # + 0 turns -0.0 into 0.0
    return np.where(np.abs(pixel - nearest) <= tolerance, nearest, pixel)
