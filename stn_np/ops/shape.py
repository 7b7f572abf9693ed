"""Ops that move values without arithmetic: reshape, transpose, indexing, concatenate, stack."""

import numpy as np

from ..autograd.function import Function
from ..validation import check_join


class ReshapeFunction(Function):
    """z = x viewed with a new shape;  dL/dx = g reshaped to x's shape."""

    @staticmethod
    def forward(ctx, x, shape=None):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: shape: expected a shape of {x.size} elements (x has shape {x.shape}), "
                             f"got {shape}") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class TransposeFunction(Function):
    """z = x with axes permuted by ``axes`` (reversed when None);  dL/dx = g permuted back."""

    @staticmethod
    def forward(ctx, x, axes=None):
        if axes is not None and sorted(int(a) % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes: expected a permutation of the {x.ndim} axes, got {axes}")
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, g):
        if ctx.axes is None:
            return np.transpose(g)
        return np.transpose(g, np.argsort([int(a) % g.ndim for a in ctx.axes]))


class GetItemFunction(Function):
    """z = x[index];  dL/dx = scatter-add of g into zeros shaped like x.

    With advanced (array) indices an element of x can be picked several times, and every
    pick must contribute: ``np.add.at`` accumulates repeated indices, where ``out[index] += g``
    would keep only one of them. Basic indices (ints, slices) cannot repeat, so plain
    assignment is enough there.
    """

    @staticmethod
    def forward(ctx, x, index=None, basic=False):
        ctx.index = index
        ctx.basic = basic
        ctx.shape = x.shape
        ctx.dtype = x.dtype
        return x[index]

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=ctx.dtype)
        if ctx.basic:
            out[ctx.index] = g
        else:
            np.add.at(out, ctx.index, g)
        return out


class ConcatenateFunction(Function):
    """z = concatenate([x_1, ..., x_k], axis);  dL/dx_j = the slice of g where x_j landed."""

    @staticmethod
    def forward(ctx, *xs, axis=0):
        z = np.concatenate(xs, axis=axis)
        axis = axis % z.ndim
        ctx.axis = axis
        ctx.splits = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return z

    @staticmethod
    def backward(ctx, g):
        return tuple(np.split(g, ctx.splits, axis=ctx.axis))


class StackFunction(Function):
    """z = stack([x_1, ..., x_k], axis);  dL/dx_j = g taken at position j along ``axis``."""

    @staticmethod
    def forward(ctx, *xs, axis=0):
        z = np.stack(xs, axis=axis)
        ctx.axis = axis % z.ndim
        return z

    @staticmethod
    def backward(ctx, g):
        return tuple(np.moveaxis(g, ctx.axis, 0))


def concatenate(tensors, axis=0):
    """Join a sequence of tensors along an existing axis (differentiable ``np.concatenate``)."""
    tensors, axis = check_join(tensors, axis, "concatenate")
    return ConcatenateFunction.apply(*tensors, axis=axis)


def stack(tensors, axis=0):
    """Join a sequence of equally shaped tensors along a new axis (differentiable ``np.stack``)."""
    tensors, axis = check_join(tensors, axis, "stack", new_axis=True)
    return StackFunction.apply(*tensors, axis=axis)
