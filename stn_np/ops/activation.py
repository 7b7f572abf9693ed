"""Activations for layers: ReLU (the core op) and a numerically stable log-softmax."""

import numpy as np

from ..autograd.function import Function
from .elementwise import ReLUFunction
from ..validation import check_float_array, check_real_array, fail, shape_of

__all__ = ["LogSoftmaxFunction", "log_softmax", "relu", "log_softmax_array"]


def log_softmax_array(x, axis):
    """``x - log sum exp(x)`` along ``axis`` of an ndarray, as ``(x - m) - log sum exp(x - m)``, ``m = max x``.

    The shift keeps every exponential <= 1 (no overflow) and the largest term of the sum exactly
    1. An empty ``x`` gives an empty result (a maximum over an empty axis has no value).
    """
    if x.size == 0:
        return x.copy()
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmaxFunction(Function):
    """z_i = x_i - log sum_j exp(x_j)  along ``axis``;  dL/dx_i = g_i - softmax(x)_i sum_j g_j.

    Evaluated stably by :func:`log_softmax_array`; the softmax ``exp(z)`` is kept for the backward.
    """

    @staticmethod
    def forward(ctx, x, axis=-1):
        z = log_softmax_array(x, axis)
        ctx.save_for_backward(np.exp(z))
        ctx.axis = axis
        return z

    @staticmethod
    def backward(ctx, g):
        (p,) = ctx.saved_arrays
        return g - p * g.sum(axis=ctx.axis, keepdims=True)


def relu(x):
    """Elementwise ``max(x, 0)`` (the core ``ReLUFunction`` op; subgradient 0 at 0)."""
    check_real_array(x, "relu", "x", dtype=None)
    return ReLUFunction.apply(x)


def log_softmax(x, axis=-1):
    """Logarithm of the softmax of ``x`` along ``axis``, computed stably.

    Parameters
    ----------
    x : Tensor or ndarray
        Floating-point scores, at least 1-D.
    axis : int
        The axis normalised over (the classes).

    Returns
    -------
    Tensor
        Same shape as ``x``; ``exp`` of it sums to 1 along ``axis``. An empty ``x`` (no rows,
        or an empty ``axis``) gives an empty result and gradient, as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np.functional import log_softmax
    >>> np.exp(log_softmax(np.array([1000.0, 1000.0])).numpy())
    array([0.5, 0.5])
    """
    shape = shape_of(x)
    check_float_array(x, "log_softmax", "x")
    if not isinstance(axis, (int, np.integer)) or not -len(shape) <= axis < max(len(shape), 1) or not shape:
        fail("log_softmax", "axis", f"an axis of x with shape {shape}", axis)
    return LogSoftmaxFunction.apply(x, axis=int(axis))
