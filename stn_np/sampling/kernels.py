r"""Sampling kernels ``k`` with their derivatives ``k'``, and the paper's sampler written literally.

The paper (Jaderberg et al. 2015, eq. 3) samples the input feature map ``U`` (H x W pixels,
C channels) at source points ``(x_i^s, y_i^s)`` given in pixel units with a separable kernel::

    V_i^c = sum_n sum_m U_nm^c k(x_i^s - m) k(y_i^s - n)

and differentiates it (eqs. 6-7)::

    dV_i^c / dU_nm^c = k(x_i^s - m) k(y_i^s - n)
    dV_i^c / dx_i^s  = sum_n sum_m U_nm^c k'(x_i^s - m) k(y_i^s - n)      (and alike for y)

The paper writes these for bilinear only, and its eq. 7 is corrected here in two ways. Its
``k'`` is ``0`` for ``|m - x| >= 1``, ``+1`` for ``m >= x`` and ``-1`` for ``m < x``: at an
integer ``x = m`` that gives tap ``m`` the weight +1 and its neighbours 0, so
``dV/dx = U_m``, which is neither one-sided derivative (``U_{m+1} - U_m`` and
``U_m - U_{m-1}``) nor a difference of pixels at all. stn_np takes ``k'`` from the right (or
the central mean, :mod:`stn_np.sampling.subgradients`) instead. And the sums run over
``U_pad``, the padded image, not ``U``: with border or reflection padding the pixels outside
the image matter (docs/derivations.md, sections 3 and 5).

A kernel object holds ``k``, ``k'`` and the radius of its support. Three are built in:

========== =========================================== ================================
kernel     k(d)                                        k'(d)
========== =========================================== ================================
BILINEAR   max(0, 1 - |d|)                             -sign(d) on |d| < 1
INTEGER    [floor(d + 0.5) == 0]  (nearest pixel)      0
BICUBIC    Keys' cubic convolution, A = -0.75          its derivative (continuous)
========== =========================================== ================================

``Kernel(name, k, dk, radius)`` makes your own, and every sampler takes it: pass it as
``mode=`` to :func:`stn_np.functional.grid_sample` (the fast sparse sampler, which evaluates
only the kernel's taps) or to :func:`stn_np.sampling.reference_sample` (the double sum above
over every pixel, written literally in :mod:`stn_np.sampling.reference`).

Examples
--------
>>> import numpy as np
>>> d = np.array([-1.5, -0.5, 0.0, 0.25, 1.0])
>>> BILINEAR.k(d)
array([0.  , 0.5 , 1.  , 0.75, 0.  ])
>>> INTEGER.k(d)
array([0., 1., 1., 1., 0.])
"""

from __future__ import annotations

import math

import numpy as np

from ..validation import check_callable, check_number, describe, fail

__all__ = ["Kernel", "BilinearKernel", "IntegerKernel", "BicubicKernel", "BILINEAR", "INTEGER", "BICUBIC",
           "KERNELS", "resolve_kernel", "fraction", "tap_distances"]


class Kernel:
    """A 1-D interpolation kernel ``k(d)`` and its derivative ``k'(d)``, applied separably.

    Every sampler takes a Kernel as its ``mode``: :func:`~stn_np.functional.grid_sample`
    evaluates it only at the taps near each point (:meth:`taps`) through the fast sparse
    operator, :func:`~stn_np.sampling.reference_sample` over every pixel; both differentiate
    through ``k'``.

    Parameters
    ----------
    name : str
        Shown in reprs and error messages.
    k : callable
        ``k(d)`` for an ndarray ``d`` of distances ``x - m``; returns an array of ``d``'s shape
        and dtype. It must vanish outside ``[-radius, radius)`` and, for the padding modes to
        mean what they say, be *even* (``k(-d) = k(d)``: reflection mirrors positions) and a
        *partition of unity* (``sum_m k(x - m) = 1`` for every ``x``: a constant image samples
        to itself, which ``border`` padding relies on far outside the image).
    dk : callable
        ``k'(d)``, same contract. Where ``k`` has a kink, return the derivative from the right,
        ``lim_{h -> 0+} (k(d + h) - k(d)) / h``: the convention of the built-in kernels and of
        PyTorch, which the fast sampler's taps ``floor(x) + j`` assume.
    radius : float
        Half-width of the support, in (0, 64).

    Attributes
    ----------
    has_position_gradient : bool
        False when ``k'`` is identically zero (the integer kernel), so samplers can skip it.

    Examples
    --------
    A triangle twice as wide as bilinear's, halved so that it sums to one (a blurring
    interpolator), with its derivative taken from the right at the kinks d = -2, 0, 2:

    >>> import numpy as np
    >>> wide = Kernel("wide triangle", radius=2,
    ...               k=lambda d: np.maximum(1 - np.abs(d) / 2, 0) / 2,
    ...               dk=lambda d: np.where((d >= -2) & (d < 0), 0.25, np.where((d >= 0) & (d < 2), -0.25, 0.0)))
    >>> wide.k(np.array([-1.0, 0.0, 1.0, 2.0]))
    array([0.25, 0.5 , 0.25, 0.  ])
    >>> x = 0.3; m = np.arange(-3, 5)
    >>> float(wide.k(x - m).sum())                  # a partition of unity
    1.0
    >>> wide.dk(np.array([-2.0, 0.0, 2.0]))         # right derivatives at the kinks
    array([ 0.25, -0.25,  0.  ])
    >>> h = 1e-7; d = np.array([-2.0, 0.0, 2.0])
    >>> np.round((wide.k(d + h) - wide.k(d)) / h, 6)  # agree with one-sided differences
    array([ 0.25, -0.25,  0.  ])
    """

    has_position_gradient = True

    def __init__(self, name, k, dk, radius):
        radius = check_number(radius, "Kernel", "radius", minimum=0, maximum=64, strict_low=True)
        if not isinstance(name, str):
            fail("Kernel", "name", "a str", describe(name), TypeError)
        if type(self).k is Kernel.k:  # the built-in kernels override k and dk as methods
            k, dk = check_callable(k, "Kernel", "k"), check_callable(dk, "Kernel", "dk")
        self.name = name
        self._k = k
        self._dk = dk
        self.radius = radius

    def __repr__(self):
        return f"<Kernel {self.name}, radius {self.radius}>"

    def k(self, d):
        """The kernel ``k(d)``."""
        return self._k(d)

    def dk(self, d):
        """Its derivative ``k'(d)``."""
        return self._dk(d)

    @property
    def ntaps(self):
        """Integer positions a sample can touch along one axis."""
        return 2 * math.ceil(self.radius)

    def taps(self, x, index_dtype=np.int64):
        """The integer positions ``m`` near each ``x`` with ``k(x - m)`` and ``k'(x - m)``.

        This is what the fast sampler evaluates instead of the whole sum: only the taps
        where ``k`` can be non-zero. Built-in kernels override it with closed forms in the
        fraction ``t = x - floor(x)``; this general version evaluates ``k`` and ``k'``.

        Parameters
        ----------
        x : ndarray, shape (P,)
            Finite positions in pixel units.
        index_dtype : dtype
            Integer type of ``first``.

        Returns
        -------
        first : ndarray of ``index_dtype``, shape (P,)
            The taps of point ``p`` are ``first[p] + j`` for ``j`` in ``range(ntaps)``.
        weights, derivatives : ndarray, shape (ntaps, P), x's dtype
            ``k(x - first - j)`` and ``k'(x - first - j)`` (taps first, so that every row is
            one long contiguous array; ``derivatives`` may be a read-only broadcast view).
        """
        reach = math.ceil(self.radius)
        floor, d = tap_distances(x, 1 - reach, 2 * reach, reach)
        return floor.astype(index_dtype) + (1 - reach), self.k(d), self.dk(d)

    def central_dk(self, d):
        """The mean of the derivatives from the left and from the right, ``(k'(d-) + k'(d+)) / 2``.

        For an even kernel the left derivative at ``d`` is ``-k'(-d)`` taken from the right,
        so this is ``(k'(d) - k'(-d)) / 2`` with the contract's ``k'``: equal to ``k'`` off the
        kinks, the average of the two slopes on them (bilinear: ``k'(0) = 0``,
        ``k'(+-1) = -+1/2``).
        """
        return (self.dk(d) - self.dk(-d)) / 2

    def central_taps(self, x, at, index_dtype=np.int64):
        """Taps with ``k`` at ``x`` and the central derivative ``central_dk`` at ``at``.

        ``at`` is ``x`` moved onto a kink where it lies within rounding of one
        (:func:`stn_np.sampling.subgradients.snap_to_kinks`). The central derivative at a
        kink reads one pixel more than the kernel's own taps: bilinear at a pixel centre
        ``m`` needs ``U(m - 1)`` and ``U(m + 1)`` while its taps are ``floor(x)`` and
        ``floor(x) + 1``. So the window is widened by one tap on each side, which also holds
        the taps of ``at`` when it lies on the other side of an integer than ``x``.

        Returns
        -------
        first : ndarray, shape (P,)
            The taps are ``first + j`` for ``j`` in ``range(ntaps + 2)``.
        weights, derivatives : ndarray, shape (ntaps + 2, P)
            ``k(x - first - j)`` (zero on the two extra taps) and ``central_dk(at - first - j)``.
        """
        reach = math.ceil(self.radius)
        start, count = -reach, 2 * reach + 2
        floor, d = tap_distances(x, start, count, reach + 1)
        # the same taps seen from ``at``: floor(at) is floor(x) or one off it
        offset = floor - np.floor(at)
        _, d_at = tap_distances(at, start, count, reach + 1)
        d_at = d_at - offset
        return floor.astype(index_dtype) + start, self.k(d), self.central_dk(d_at)


def fraction(x, reach):
    """``floor(x)`` and the fraction ``t = x - floor(x)``, kept on the side of every integer.

    ``t`` is rounded *down* onto a grid of spacing ``q`` (a few ulps) on which ``t - j`` is
    exact for every integer ``j`` with ``|t - j| <= reach + 1``, and held below 1. Without
    that, ``x`` an ulp below an integer can round ``t`` up to exactly 1, and ``t - 2`` can
    round up onto ``-1``: a distance on the wrong side of a kink of ``k`` (the bilinear
    derivative from the right is +1 at ``-1`` and 0 just left of it). Rounding down keeps
    every distance within its interval ``[i, i + 1)``, so a derivative from the right stays
    one; the position moves by less than ``q`` (``4e-16`` pixel for bilinear in float64).

    Returns
    -------
    floor, t : ndarray, x's shape and dtype
    """
    dtype = x.dtype
    q = dtype.type(np.finfo(dtype).eps * 2.0 ** (math.ceil(math.log2(reach + 2)) - 1))
    floor = np.floor(x)
    t = np.minimum(np.floor((x - floor) / q) * q, dtype.type(1) - q)
    return floor, t


def tap_distances(x, start, count, reach):
    """``floor(x)`` and the distances ``x - (floor(x) + j)`` for ``j = start, ..., start + count - 1``.

    Computed as ``t - j`` from :func:`fraction`, so that no distance within ``reach + 1`` of
    0 lies on the wrong side of an integer (where the built-in kernels have their kinks).

    Returns
    -------
    floor : ndarray, x's shape and dtype
    d : ndarray, shape (count,) + x.shape
    """
    floor, t = fraction(x, reach)
    return floor, t - np.arange(start, start + count, dtype=x.dtype).reshape((-1,) + (1,) * x.ndim)


class BilinearKernel(Kernel):
    """Bilinear: ``k(d) = max(0, 1 - |d|)``, ``k'(d) = -sign(d)`` on ``|d| < 1``.

    At the kinks ``dk`` is the derivative from the right: ``k'(0) = -1``, ``k'(-1) = +1``,
    ``k'(1) = 0``. So a sample exactly on a pixel inside the image gets the forward difference
    ``U(m + 1) - U(m)`` as its position gradient, as PyTorch computes it (at the image's
    bounds under border and reflection padding PyTorch, and stn_np by default, give 0:
    :mod:`stn_np.sampling.subgradients`). ``central_dk`` gives ``k'(0) = 0``,
    ``k'(+-1) = -+1/2``: the central difference ``(U(m + 1) - U(m - 1)) / 2``.
    """

    def __init__(self):
        super().__init__("bilinear", None, None, 1)

    def k(self, d):
        return np.maximum(1 - np.abs(d), 0)

    def dk(self, d):
        one = d.dtype.type(1)
        return np.where((d >= 0) & (d < 1), -one, np.where((d >= -1) & (d < 0), one, 0 * one))

    def taps(self, x, index_dtype=np.int64):
        # taps floor(x) and floor(x) + 1 at distances t and t - 1, t = x - floor(x) in [0, 1):
        # k = (1 - t, t), k' = (-1, +1); written in place, as this runs on every point
        w = np.empty((2,) + x.shape, dtype=x.dtype)
        floor = np.floor(x, out=w[0])
        first = floor.astype(index_dtype)
        np.subtract(x, floor, out=w[1])
        np.subtract(1, w[1], out=w[0])
        dw = np.broadcast_to(np.array([[-1], [1]], dtype=x.dtype), w.shape)
        return first, w, dw


class IntegerKernel(Kernel):
    """The paper's integer (nearest-pixel) kernel: ``k(d) = [floor(d + 0.5) == 0]``, ``k' = 0``.

    ``V_i = U at m = floor(x_i + 0.5)``: exact half-pixel ties round up (PyTorch's ``nearest``
    rounds them to even). The sample is piecewise constant in the position, so the position
    gradient is zero wherever it exists; that is why the paper trains with bilinear sampling.

    The rule is evaluated exactly, as ``-0.5 <= d < 0.5`` and ``floor(x) + [x - floor(x) >= 0.5]``:
    computing ``x + 0.5`` first would round ``x = 0.5 - 2**-54`` up to 1 and read the wrong
    pixel.

    >>> import numpy as np
    >>> x = np.array([0.49999999999999994, 0.5, 2.5, -0.5])
    >>> INTEGER.taps(x)[0], np.floor(x + 0.5).astype(int)  # exact, against the naive formula
    (array([0, 1, 3, 0]), array([1, 1, 3, 0]))
    """

    has_position_gradient = False

    def __init__(self):
        super().__init__("integer", None, None, 0.5)

    def k(self, d):
        return ((d >= -0.5) & (d < 0.5)).astype(d.dtype)

    def dk(self, d):
        return np.zeros_like(d)

    @property
    def ntaps(self):
        return 1

    def taps(self, x, index_dtype=np.int64):
        # One tap with weight exactly 1: evaluating k(x - m) in floating point could lose or
        # double the sample when x - m rounds onto a half-integer.
        ones = np.broadcast_to(np.ones((1, 1), dtype=x.dtype), (1,) + x.shape)
        floor = np.floor(x)
        nearest = floor.astype(index_dtype) + (x - floor >= 0.5)  # x - floor(x) is exact
        return nearest, ones, np.zeros_like(ones)


class BicubicKernel(Kernel):
    """Keys' cubic convolution kernel with ``A = -0.75`` (PyTorch's and OpenCV's choice).

    With ``a = |d|``::

        k(d) = (A + 2) a^3 - (A + 3) a^2 + 1           for a <= 1      ("inner" piece)
             = A a^3 - 5 A a^2 + 8 A a - 4 A            for 1 < a < 2   ("outer" piece)
             = 0                                        otherwise
        k'(d) = sign(d) (3 (A + 2) a^2 - 2 (A + 3) a)   for a <= 1
              = sign(d) (3 A a^2 - 10 A a + 8 A)        for 1 < a < 2

    ``k`` is C^1 (k'(0) = 0, both pieces give k'(1) = A and k'(2) = 0), so its derivative has
    no kinks to choose at.
    """

    def __init__(self, A=-0.75):
        super().__init__(f"bicubic (A={A})", None, None, 2)
        self.A = float(A)

    def _inner(self, a):
        A = self.A
        return ((A + 2) * a - (A + 3)) * a * a + 1

    def _outer(self, a):
        A = self.A
        return ((A * a - 5 * A) * a + 8 * A) * a - 4 * A

    def _dinner(self, a):
        A = self.A
        return (3 * (A + 2) * a - 2 * (A + 3)) * a

    def _douter(self, a):
        A = self.A
        return (3 * A * a - 10 * A) * a + 8 * A

    def k(self, d):
        a = np.abs(d)
        return np.where(a <= 1, self._inner(a), np.where(a < 2, self._outer(a), np.zeros_like(a)))

    def dk(self, d):
        a = np.abs(d)
        return np.sign(d) * np.where(a <= 1, self._dinner(a), np.where(a < 2, self._douter(a), np.zeros_like(a)))

    def taps(self, x, index_dtype=np.int64):
        # taps floor(x) - 1 .. floor(x) + 2 at distances t + 1, t, -(1 - t), -(2 - t) with
        # t = x - floor(x) in [0, 1): outer, inner, inner, outer pieces, no branches needed
        floor = np.floor(x)
        t = x - floor
        s = 1 - t
        w = np.stack([self._outer(t + 1), self._inner(t), self._inner(s), self._outer(s + 1)])
        dw = np.stack([self._douter(t + 1), self._dinner(t), -self._dinner(s), -self._douter(s + 1)])
        return floor.astype(index_dtype) - 1, w, dw


BILINEAR = BilinearKernel()
INTEGER = IntegerKernel()
BICUBIC = BicubicKernel(-0.75)

#: ``mode`` names (PyTorch's) of the built-in kernels: the registry a sampler's ``mode`` reads.
KERNELS = {"bilinear": BILINEAR, "nearest": INTEGER, "bicubic": BICUBIC}


def resolve_kernel(mode, function, spatial_dims=2):
    """The :class:`Kernel` a sampler's ``mode`` names: a key of :data:`KERNELS` or a Kernel itself.

    For volumes (``spatial_dims=3``) PyTorch's ``grid_sample`` has "bilinear" (trilinear) and
    "nearest" only; bicubic is refused here as there (stn_np's samplers would compute a
    tricubic sample, but no reference defines it). A Kernel of your own works in 3-D too.

    Raises
    ------
    ValueError
        When ``mode`` is neither (the message names ``function`` and the known modes), or is
        bicubic for a volume.
    """
    if isinstance(mode, Kernel):
        kernel = mode
    elif isinstance(mode, str) and mode in KERNELS:
        kernel = KERNELS[mode]
    else:
        fail(function, "mode", f"one of {', '.join(map(repr, KERNELS))} or a Kernel", describe(mode))
    if spatial_dims == 3 and isinstance(kernel, BicubicKernel):
        fail(function, "mode", "'bilinear' (trilinear), 'nearest' or a Kernel of your own for a volume "
             "(N, C, D, H, W): PyTorch has no 3-D bicubic", describe(mode))
    return kernel
