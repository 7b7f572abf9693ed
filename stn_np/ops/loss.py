"""Losses: cross-entropy on logits, negative log-likelihood, mean squared error.

Each reduces the per-sample (or per-element) losses ``l`` by ``reduction``: "mean" (the
default), "sum" or "none". The backward scales by the upstream gradient ``g`` accordingly:
``g / n`` for "mean", ``g`` for "sum", ``g[i]`` per sample for "none".

Empty batches behave as in PyTorch: with no losses, "mean" is NaN (0 / 0; NumPy's warning
is not raised), "sum" is 0, "none" is empty, and the input gradient is empty.
"""

import numpy as np

from ..autograd.function import Function
from .activation import log_softmax_array
from ..validation import check_choice, check_float_array, check_ndim, check_target, fail, shape_of

__all__ = ["CrossEntropyFunction", "NLLLossFunction", "MSELossFunction", "cross_entropy", "nll_loss", "mse_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(losses, reduction):
    if reduction == "mean":
        return losses.mean() if losses.size else np.full((), np.nan, dtype=losses.dtype)
    if reduction == "sum":
        return losses.sum()
    return losses


def _upstream(g, reduction, n):
    """The upstream gradient of each of the ``n`` unreduced losses (a scalar unless "none")."""
    return g / n if reduction == "mean" and n else g  # n = 0: nothing to scale


class CrossEntropyFunction(Function):
    """l_i = -log softmax(x_i)[t_i] = log sum_c exp(x_ic) - x_{i t_i}  for logits x (N, C).

    dL/dx_ic = g_i (softmax(x_i)_c - [c == t_i]): the softmax minus the one-hot target, one
    fused op instead of log-softmax followed by a gather.
    """

    @staticmethod
    def forward(ctx, x, target=None, reduction="mean"):
        log_p = log_softmax_array(x, 1)
        rows = np.arange(x.shape[0])
        ctx.save_for_backward(np.exp(log_p))
        ctx.target, ctx.reduction = target, reduction
        return _reduce(-log_p[rows, target], reduction)

    @staticmethod
    def backward(ctx, g):
        (p,) = ctx.saved_arrays
        grad = p.copy()
        grad[np.arange(p.shape[0]), ctx.target] -= 1
        scale = _upstream(g, ctx.reduction, p.shape[0])
        return grad * (scale[:, None] if ctx.reduction == "none" else scale)


class NLLLossFunction(Function):
    """l_i = -y_{i t_i}  for log-probabilities y (N, C);  dL/dy_ic = -g_i [c == t_i]."""

    @staticmethod
    def forward(ctx, y, target=None, reduction="mean"):
        ctx.target, ctx.reduction, ctx.shape = target, reduction, y.shape
        return _reduce(-y[np.arange(y.shape[0]), target], reduction)

    @staticmethod
    def backward(ctx, g):
        n = ctx.shape[0]
        grad = np.zeros(ctx.shape, dtype=g.dtype)
        grad[np.arange(n), ctx.target] = -np.broadcast_to(_upstream(g, ctx.reduction, n), (n,))
        return grad


class MSELossFunction(Function):
    """l = (x - y)**2 elementwise;  dL/dx = 2 (x - y) g_l,  dL/dy = -dL/dx."""

    @staticmethod
    def forward(ctx, x, y, reduction="mean"):
        diff = x - y
        ctx.save_for_backward(diff)
        ctx.reduction = reduction
        return _reduce(diff * diff, reduction)

    @staticmethod
    def backward(ctx, g):
        (diff,) = ctx.saved_arrays
        gx = diff * (2 * _upstream(g, ctx.reduction, diff.size))
        return gx, (-gx if ctx.needs_input_grad[1] else None)


def _check_scores(scores, target, name, function):
    shape = check_ndim(scores, 2, function, name, "(N, C)")
    check_float_array(scores, function, name)  # C = 0 is caught by the target check unless N = 0
    return check_target(target, shape[0], shape[1], function)


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy between ``logits`` (N, C) and integer class ``target`` (N,).

    Parameters
    ----------
    logits : Tensor or ndarray
        Unnormalised scores, shape (N, C).
    target : ndarray or Tensor of ints
        Class indices in [0, C), shape (N,); not differentiated.
    reduction : {"mean", "sum", "none"}
        How the N per-sample losses are combined.

    Returns
    -------
    Tensor
        A scalar, or shape (N,) for ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np.functional import cross_entropy
    >>> loss = cross_entropy(np.zeros((2, 4)), np.array([0, 3]))  # uniform scores: log(4)
    >>> round(loss.item(), 6)
    1.386294
    """
    check_choice(reduction, _REDUCTIONS, "cross_entropy", "reduction")
    target = _check_scores(logits, target, "logits", "cross_entropy")
    return CrossEntropyFunction.apply(logits, target=target, reduction=reduction)


def nll_loss(log_probs, target, reduction="mean"):
    """Negative log-likelihood of integer ``target`` (N,) under ``log_probs`` (N, C).

    Use with :func:`~stn_np.functional.log_softmax`; ``nll_loss(log_softmax(x), t)`` equals
    ``cross_entropy(x, t)``. Parameters and result as for :func:`cross_entropy`.
    """
    check_choice(reduction, _REDUCTIONS, "nll_loss", "reduction")
    target = _check_scores(log_probs, target, "log_probs", "nll_loss")
    return NLLLossFunction.apply(log_probs, target=target, reduction=reduction)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error ``(input - target)**2``, reduced by ``reduction``.

    Parameters
    ----------
    input, target : Tensor or ndarray
        Same shape, same floating dtype; both are differentiated when they require grad.
    reduction : {"mean", "sum", "none"}
        "none" returns the elementwise squares.

    Returns
    -------
    Tensor
    """
    check_choice(reduction, _REDUCTIONS, "mse_loss", "reduction")
    check_float_array(input, "mse_loss", "input")
    check_float_array(target, "mse_loss", "target")
    if shape_of(input) != shape_of(target):
        fail("mse_loss", "target", f"the shape of input {shape_of(input)}", f"shape {shape_of(target)}")
    return MSELossFunction.apply(input, target, reduction=reduction)
