"""Inverted dropout: zero inputs at random during training and rescale the survivors.

``z = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)``, so ``E[z] = x`` and evaluation needs no
rescaling. The same mask is used by the backward: ``dL/dx = g * m / (1 - p)``. ``dropout``
draws one mask entry per element; ``dropout2d`` one per (sample, channel), dropping whole
feature maps (neighbouring pixels are correlated, so per-pixel dropout barely regularises
convolutional features).
"""

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..rng import resolve_rng
from ..validation import check_bool, check_float_array, check_ndim, check_number, dtype_of, shape_of

__all__ = ["DropoutFunction", "dropout", "dropout2d"]


class DropoutFunction(Function):
    """z = x * mask;  dL/dx = g * mask.

    ``mask`` (a keyword constant, already scaled by 1 / (1 - p) and in x's dtype) either has
    x's shape or broadcasts against it, e.g. (N, C, 1, 1) for whole channels.
    """

    @staticmethod
    def forward(ctx, x, mask=None):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_arrays
        return g * mask


def _apply(x, p, training, rng, mask_shape):
    if not training or p == 0:
        return x if isinstance(x, Tensor) else Tensor(x)
    keep = resolve_rng(rng).random(mask_shape, dtype=np.float32) >= p
    dtype = dtype_of(x)
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    mask = np.where(keep, dtype.type(scale), dtype.type(0))  # built in x's dtype: no float64 temporary
    return DropoutFunction.apply(x, mask=mask)


def dropout(x, p=0.5, training=True, rng=None):
    """Zero each element of ``x`` with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Parameters
    ----------
    x : Tensor or ndarray
        Floating-point input of any shape.
    p : float
        Drop probability in [0, 1]; ``p = 1`` returns zeros.
    training : bool
        When False (evaluation) or when ``p == 0`` the input is returned unchanged.
    rng : numpy.random.Generator, optional
        Source of the mask; defaults to the global generator (see :mod:`stn_np.rng`).

    Returns
    -------
    Tensor
        Same shape and dtype as ``x``.
    """
    p = check_number(p, "dropout", "p", minimum=0, maximum=1)
    check_float_array(x, "dropout", "x")
    return _apply(x, p, check_bool(training, "dropout", "training"), rng, shape_of(x))


def dropout2d(x, p=0.5, training=True, rng=None):
    """Zero whole channels of NCHW ``x`` with probability ``p``, scaling the rest by ``1 / (1 - p)``.

    Parameters as for :func:`dropout`; ``x`` must have shape (N, C, H, W) and one mask entry is
    drawn per (sample, channel).
    """
    p = check_number(p, "dropout2d", "p", minimum=0, maximum=1)
    shape = check_ndim(x, 4, "dropout2d", "x", "(N, C, H, W)")
    check_float_array(x, "dropout2d", "x")
    return _apply(x, p, check_bool(training, "dropout2d", "training"), rng, shape[:2] + (1, 1))
