"""Reductions over axes: sum, mean, max.

Each backward first restores the reduced axes as size-1 axes (``_keep``) so that the
upstream gradient broadcasts back over the elements that were reduced.
"""

import numpy as np

from ..autograd.function import Function


def _normalize_axis(axis, ndim, function):
    """Return the reduced axes as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    normalized = set()
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ValueError(f"{function}: axis: expected axes in [-{ndim}, {ndim}), got {axis!r}")
        if a % ndim in normalized:
            raise ValueError(f"{function}: axis: expected distinct axes, got {axis!r}")
        normalized.add(int(a) % ndim)
    return tuple(sorted(normalized))


def _keep(g, axes, keepdims):
    """Reinsert the reduced axes of ``g`` as size-1 axes (no-op when keepdims was True)."""
    return g if keepdims else np.expand_dims(g, axes)


class SumFunction(Function):
    """z = sum_{i in axes} x_i;  dL/dx = g broadcast back over the summed axes."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.axes = _normalize_axis(axis, x.ndim, "sum")
        ctx.keepdims = keepdims
        ctx.shape = x.shape
        return np.sum(x, axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return np.broadcast_to(_keep(g, ctx.axes, ctx.keepdims), ctx.shape)


class MeanFunction(Function):
    """z = (1/n) sum_{i in axes} x_i with n the number of reduced elements;  dL/dx = g / n."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.axes = _normalize_axis(axis, x.ndim, "mean")
        ctx.keepdims = keepdims
        ctx.shape = x.shape
        ctx.count = int(np.prod([x.shape[a] for a in ctx.axes]))
        return np.mean(x, axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return np.broadcast_to(_keep(g, ctx.axes, ctx.keepdims) / ctx.count, ctx.shape)


class MaxFunction(Function):
    """z = max_{i in axes} x_i;  dL/dx_i = g * [x_i == z] / (number of maxima).

    Ties share the gradient equally, so the gradients of the tied elements sum to g (the
    average of the subgradients; PyTorch's ``amax`` uses the same convention).
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _normalize_axis(axis, x.ndim, "max")
        if x.size == 0:
            raise ValueError("max: x: expected a non-empty array, got an empty one")
        z = np.max(x, axis=axes, keepdims=True)
        is_max = x == z
        ctx.save_for_backward(is_max, is_max.sum(axis=axes, keepdims=True).astype(x.dtype))
        ctx.axes = axes
        ctx.keepdims = keepdims
        return z if keepdims else np.squeeze(z, axis=axes)

    @staticmethod
    def backward(ctx, g):
        is_max, count = ctx.saved_arrays
        return is_max * (_keep(g, ctx.axes, ctx.keepdims) / count)
