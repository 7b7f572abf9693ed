r"""Sampling kernels ``k`` with their derivatives ``k'``, and the paper's sampler written literally.

The paper (Jaderberg et al. 2015, eq. 3) samples the input feature map ``U`` (H x W pixels,
C channels) at source points ``(x_i^s, y_i^s)`` given in pixel units with a separable kernel::

    V_i^c = sum_n sum_m U_nm^c k(x_i^s - m) k(y_i^s - n)

and differentiates it (eqs. 6-7)::

    dV_i^c / dU_nm^c = k(x_i^s - m) k(y_i^s - n)
    dV_i^c / dx_i^s  = sum_n sum_m U_nm^c k'(x_i^s - m) k(y_i^s - n)      (and alike for y)

A kernel object holds ``k``, ``k'`` and the radius of its support. Three are built in:

========== =========================================== ================================
kernel     k(d)                                        k'(d)
========== =========================================== ================================
BILINEAR   max(0, 1 - |d|)                             -sign(d) on |d| < 1
INTEGER    [floor(d + 0.5) == 0]  (nearest pixel)      0
BICUBIC    Keys' cubic convolution, A = -0.75          its derivative (continuous)
========== =========================================== ================================

``Kernel(name, k, dk, radius)`` makes your own. :func:`reference_sample` evaluates the
double sum above over every pixel, exactly as written (slow; for tests and teaching), and
differentiates through it; :func:`stn_np.functional.grid_sample` is the fast sampler that
must agree with it.

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

from ..autograd.function import Function
from .coords import normalized_to_pixel
from .padding import reflection_period
from .validation import check_padding, check_sampler_inputs, values_of

__all__ = ["Kernel", "BilinearKernel", "IntegerKernel", "BicubicKernel", "BILINEAR", "INTEGER", "BICUBIC",
           "KERNELS", "ReferenceSampleFunction", "reference_sample"]


class Kernel:
    """A 1-D interpolation kernel ``k(d)`` and its derivative ``k'(d)``, applied separably.

    Parameters
    ----------
    name : str
        Shown in reprs and error messages.
    k : callable
        ``k(d)`` for an ndarray ``d`` of distances ``x - m``; returns an array of ``d``'s shape
        and dtype. Must vanish outside ``[-radius, radius)``.
    dk : callable
        ``k'(d)``, same contract. Where ``k`` has a kink, return the derivative from the right
        (the convention the fast sampler's taps ``floor(x) + j`` produce).
    radius : float
        Half-width of the support.

    Attributes
    ----------
    has_position_gradient : bool
        False when ``k'`` is identically zero (the integer kernel), so samplers can skip it.

    Examples
    --------
    A triangle twice as wide as bilinear's (a blurring kernel of area 2):

    >>> import numpy as np
    >>> wide = Kernel("wide triangle", k=lambda d: np.maximum(1 - np.abs(d) / 2, 0),
    ...               dk=lambda d: np.where(np.abs(d) < 2, -np.sign(d) / 2, 0.0), radius=2)
    >>> wide.k(np.array([0.0, 1.0, 2.0]))
    array([1. , 0.5, 0. ])
    """

    has_position_gradient = True

    def __init__(self, name, k, dk, radius):
        if not (isinstance(radius, (int, float, np.integer, np.floating)) and 0 < radius < 64):
            raise ValueError(f"Kernel: radius must be a number in (0, 64), got {radius!r}")
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
        floor = np.floor(x)
        d = x - (floor + np.arange(1 - reach, reach + 1, dtype=x.dtype)[:, None])
        return floor.astype(index_dtype) + (1 - reach), self.k(d), self.dk(d)


class BilinearKernel(Kernel):
    """Bilinear: ``k(d) = max(0, 1 - |d|)``, ``k'(d) = -sign(d)`` on ``|d| < 1``.

    At the kinks the derivative from the right is used: ``k'(0) = -1``, ``k'(-1) = +1``,
    ``k'(1) = 0``. So a sample exactly on a pixel gets the forward difference
    ``U(m + 1) - U(m)`` as its position gradient (as PyTorch computes), never 0.
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
    """

    has_position_gradient = False

    def __init__(self):
        super().__init__("integer", None, None, 0.5)

    def k(self, d):
        return (np.floor(d + 0.5) == 0).astype(d.dtype)

    def dk(self, d):
        return np.zeros_like(d)

    @property
    def ntaps(self):
        return 1

    def taps(self, x, index_dtype=np.int64):
        # One tap with weight exactly 1: evaluating k(x - m) in floating point could lose or
        # double the sample when x - m rounds onto a half-integer.
        ones = np.broadcast_to(np.ones((1, 1), dtype=x.dtype), (1,) + x.shape)
        return np.floor(x + 0.5).astype(index_dtype), ones, np.zeros_like(ones)


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

# grid_sample's ``mode`` names (PyTorch's) for the built-in kernels.
KERNELS = {"bilinear": BILINEAR, "nearest": INTEGER, "bicubic": BICUBIC}

# numpy.pad modes that extend an axis the way each padding mode defines U_pad.
_NUMPY_PAD = {
    ("zeros", False): "constant", ("zeros", True): "constant",
    ("border", False): "edge", ("border", True): "edge",
    ("reflection", False): "symmetric",  # mirror at the image edge: U_pad(-1) = U(0)
    ("reflection", True): "reflect",  # mirror through the corner pixel centre: U_pad(-1) = U(1)
}


def _window(pixel, size, radius, padding_mode, align_corners):
    """Shift positions to equivalent ones near the image; return them and the padding needed.

    The padded image is infinite, but the sum only needs the pixels within ``radius`` of each
    position. ``zeros``: only the image's own pixels are non-zero, so no padding at all.
    ``reflection``: U_pad repeats with its period, so positions move by whole periods.
    ``border``: U_pad is constant beyond the edges, so positions farther out move by whole
    pixels to just beyond them. Every shift is by a constant, so the gradient passes unchanged.
    """
    reach = math.ceil(radius)
    if padding_mode == "zeros":
        return pixel, 0
    if padding_mode == "reflection":
        period = reflection_period(size, align_corners)
        if period:
            pixel = pixel - period * np.floor(pixel / period)
        return pixel, period + reach + 1
    low, high = -reach - 1, size + reach
    pixel = np.where(pixel > high, pixel - np.floor(pixel - high), pixel)
    pixel = np.where(pixel < low, pixel + np.floor(low - pixel), pixel)
    return pixel, 2 * reach + 3


def _padding_matrix(size, pad, padding_mode, align_corners, dtype):
    """R with ``U_pad = R @ U`` along one axis: ``numpy.pad`` applied to the identity matrix.

    Row ``r`` holds the pixel that padded position ``r - pad`` reads (a zero row for zeros
    padding outside the image), so ``R.T`` folds a gradient on the padded image back onto the
    pixels it came from (the adjoint of padding).
    """
    eye = np.eye(size, dtype=dtype)
    return np.pad(eye, ((pad, pad), (0, 0)), mode=_NUMPY_PAD[padding_mode, bool(align_corners)])


class ReferenceSampleFunction(Function):
    r"""The sampler as the paper writes it, summed over every pixel of the padded image.

    Forward, with ``x, y`` the source points in pixel units and ``U_pad`` the padded,
    infinitely extended image (see ``stn_np.sampling.padding``)::

        V_i^c = sum_{n, m in Z} U_pad(n, m)^c k(x_i - m) k(y_i - n)

    The sum is finite because ``k`` vanishes beyond its radius: the padded image is
    materialised as ``U_pad = R_y U R_x^T`` over a window wide enough for every point (``R``
    from :func:`numpy.pad` of the identity), after shifting points by whole periods
    (reflection) or whole pixels beyond the edge (border), which leaves ``V`` unchanged.

    Backward, with ``g`` the upstream gradient::

        dL/dU_pad(n, m)^c = sum_i g_i^c k(x_i - m) k(y_i - n);   dL/dU = R_y^T (dL/dU_pad) R_x
        dL/dx_i = sum_c g_i^c sum_{n, m} U_pad(n, m)^c k'(x_i - m) k(y_i - n)   (y alike)

    and ``dL/dgrid = dL/dx * dx/dgrid`` with ``dx/dgrid = W/2`` (or ``(W-1)/2`` with
    ``align_corners``). Dense: O(N C H_out W_out H W) time and memory, for small inputs.
    """

    @staticmethod
    def forward(ctx, U, grid, kernel=BILINEAR, padding_mode="zeros", align_corners=False):
        N, C, H, W = U.shape
        _, Ho, Wo, _ = grid.shape
        dtype = U.dtype
        x = normalized_to_pixel(grid[..., 0].reshape(N, Ho * Wo), W, align_corners).astype(dtype, copy=False)
        y = normalized_to_pixel(grid[..., 1].reshape(N, Ho * Wo), H, align_corners).astype(dtype, copy=False)
        x, pad_x = _window(x, W, kernel.radius, padding_mode, align_corners)
        y, pad_y = _window(y, H, kernel.radius, padding_mode, align_corners)
        Rx = _padding_matrix(W, pad_x, padding_mode, align_corners, dtype)
        Ry = _padding_matrix(H, pad_y, padding_mode, align_corners, dtype)
        U_pad = np.einsum("ah,nchw,bw->ncab", Ry, U, Rx, optimize=True)
        # distances from every point to every (padded) pixel column m and row n
        dx = x[..., None] - np.arange(-pad_x, W + pad_x, dtype=dtype)
        dy = y[..., None] - np.arange(-pad_y, H + pad_y, dtype=dtype)
        Kx, Ky = kernel.k(dx), kernel.k(dy)
        V = np.einsum("ncab,npa,npb->ncp", U_pad, Ky, Kx, optimize=True)
        ctx.save_for_backward(U_pad, Kx, Ky, dx, dy, Rx, Ry)
        ctx.kernel = kernel
        ctx.scale = (W - 1) / 2 if align_corners else W / 2, (H - 1) / 2 if align_corners else H / 2
        ctx.grid_shape = grid.shape
        return V.reshape(N, C, Ho, Wo)

    @staticmethod
    def backward(ctx, g):
        U_pad, Kx, Ky, dx, dy, Rx, Ry = ctx.saved_arrays
        N, C = g.shape[:2]
        g = g.reshape(N, C, -1)
        gU = ggrid = None
        if ctx.needs_input_grad[0]:
            gU_pad = np.einsum("ncp,npa,npb->ncab", g, Ky, Kx, optimize=True)
            gU = np.einsum("ah,ncab,bw->nchw", Ry, gU_pad, Rx, optimize=True)
        if ctx.needs_input_grad[1]:
            gUk = np.einsum("ncp,ncab->npab", g, U_pad, optimize=True)
            gx = np.einsum("npab,npa,npb->np", gUk, Ky, ctx.kernel.dk(dx), optimize=True)
            gy = np.einsum("npab,npa,npb->np", gUk, ctx.kernel.dk(dy), Kx, optimize=True)
            scale_x, scale_y = ctx.scale
            ggrid = np.stack([gx * scale_x, gy * scale_y], axis=-1).reshape(ctx.grid_shape).astype(g.dtype, copy=False)
        return gU, ggrid


def reference_sample(U, grid, kernel=BILINEAR, padding_mode="zeros", align_corners=False):
    r"""Sample ``U`` at ``grid`` with ``kernel`` by the paper's double sum over all pixels.

    ``V_i^c = sum_n sum_m U_nm^c k(x_i^s - m) k(y_i^s - n)``, with ``(x_i^s, y_i^s)`` the grid
    point unnormalised to pixel units (see :mod:`stn_np.sampling.coords`) and the sum taken
    over the padded, infinitely extended image ``U_pad``.

    Padding, the clean formulation: ``U_pad(n, m)`` equals ``U(n, m)`` inside the image and,
    outside it, 0 (``zeros``), the nearest edge pixel (``border``), or the mirrored image
    (``reflection``; mirror lines at the image edges -0.5 and S - 0.5 with
    ``align_corners=False``, through the corner pixel centres 0 and S - 1 with ``True``).
    This is exactly PyTorch's bicubic, which pads each of its 16 integer taps. PyTorch's
    bilinear and nearest instead clip or reflect the *coordinate*; interpolating ``U_pad`` at
    the raw coordinate gives the same values and gradients: beyond a border ``U_pad`` is
    constant, so the sample equals the edge and its gradient is 0 (the clip), and the mirrored
    ``U_pad`` interpolated at ``x`` equals ``U`` interpolated at the mirrored ``x``, whose
    derivative is the sign flip of the reflection.

    Parameters
    ----------
    U : Tensor or ndarray, shape (N, C, H, W)
    grid : Tensor or ndarray, shape (N, H_out, W_out, 2), last axis (x, y), finite
        Normalised coordinates, same dtype as ``U``.
    kernel : Kernel
        ``BILINEAR``, ``INTEGER``, ``BICUBIC`` or your own :class:`Kernel`.
    padding_mode : {"zeros", "border", "reflection"}
    align_corners : bool

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out)
        Differentiable with respect to ``U`` and ``grid`` (through ``k'``).

    Examples
    --------
    >>> import numpy as np
    >>> U = np.arange(6.0).reshape(1, 1, 2, 3)
    >>> grid = np.array([[[[0.0, 0.0]]]])          # the centre of the image
    >>> reference_sample(U, grid, BILINEAR).data   # mean of the middle column
    array([[[[2.5]]]])
    """
    if not isinstance(kernel, Kernel):
        raise TypeError(f"reference_sample: kernel must be a Kernel (e.g. BILINEAR), got {type(kernel).__name__}")
    check_padding(padding_mode, align_corners, "reference_sample")
    U, grid = check_sampler_inputs(U, grid, "reference_sample")
    if not np.all(np.isfinite(values_of(grid))):
        raise ValueError("reference_sample: grid must be finite (grid_sample defines NaN and inf)")
    return ReferenceSampleFunction.apply(U, grid, kernel=kernel, padding_mode=padding_mode, align_corners=bool(align_corners))
