"""Affine map of the last axis, PyTorch's ``linear`` (weight stored as (out, in))."""

import math

from ..autograd.function import Function
from ..validation import check_float_array, fail, shape_of

__all__ = ["LinearFunction", "linear"]


class LinearFunction(Function):
    """z = x W^T + b  for x (..., in), W (out, in), b (out,).

    With X and G the input and upstream gradient flattened to (M, in) and (M, out):
    dL/dx = G W,  dL/dW = G^T X,  dL/db = sum of G over its rows. One fused op instead of a
    transpose, a matmul and a broadcast add keeps the graph (and its overhead) small.
    """

    @staticmethod
    def forward(ctx, x, w, b=None):
        ctx.save_for_backward(x, w)
        z = x @ w.T
        if b is not None:
            z += b
        return z

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_arrays
        needs = ctx.needs_input_grad
        rows = math.prod(x.shape[:-1])  # M, given explicitly: reshape(-1, 0) fails when a size is 0
        g2 = g.reshape(rows, g.shape[-1])
        gx = (g @ w) if needs[0] else None
        gw = (g2.T @ x.reshape(rows, x.shape[-1])) if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if needs[2] else None)


def linear(x, weight, bias=None):
    """Apply ``x @ weight.T + bias`` to the last axis of ``x``.

    Parameters
    ----------
    x : Tensor or ndarray
        Shape (..., in_features), at least 1-D.
    weight : Tensor or ndarray
        Shape (out_features, in_features) (PyTorch's layout).
    bias : Tensor or ndarray, optional
        Shape (out_features,).

    Returns
    -------
    Tensor
        Shape (..., out_features).

    Notes
    -----
    Empty shapes as in PyTorch: no rows (e.g. N = 0) give an empty output and zero weight and
    bias gradients; ``in_features = 0`` gives the bias; ``out_features = 0`` an empty output
    and a zero input gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np.functional import linear
    >>> linear(np.array([[1.0, 2.0]]), np.array([[1.0, 1.0], [0.0, 3.0]]), np.array([0.5, 0.0])).numpy()
    array([[3.5, 6. ]])
    """
    xs, ws = shape_of(x), shape_of(weight)
    check_float_array(x, "linear", "x")
    check_float_array(weight, "linear", "weight")
    if len(ws) != 2:
        fail("linear", "weight", "a 2-D array (out_features, in_features)", f"shape {ws}")
    if len(xs) < 1 or xs[-1] != ws[1]:
        fail("linear", "x", f"shape (..., {ws[1]}) to match weight of shape {ws}", f"shape {xs}")
    if bias is None:
        return LinearFunction.apply(x, weight)
    if shape_of(bias) != (ws[0],):
        fail("linear", "bias", f"shape ({ws[0]},)", f"shape {shape_of(bias)}")
    return LinearFunction.apply(x, weight, bias)
