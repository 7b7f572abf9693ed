"""Matrix product."""

import numpy as np

from ..autograd.function import Function


class MatMulFunction(Function):
    """z = x @ y (NumPy ``matmul`` semantics, batched and 1-D operands included).

    dL/dx = g @ y^T,  dL/dy = x^T @ g  (transposes of the last two axes). A 1-D operand is
    treated as a row (x) or column (y) vector, exactly as ``matmul`` does; the batch axes that
    broadcasting added are summed away by the engine.
    """

    broadcasts = True

    @staticmethod
    def forward(ctx, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError("matmul: x, y: expected arrays of at least one dimension, got a scalar")
        ctx.save_for_backward(x, y)
        try:
            return np.matmul(x, y)
        except ValueError:
            raise ValueError(f"matmul: y: expected a shape aligned with x's {x.shape}, got {y.shape}") from None

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        if x.ndim == 1 and y.ndim == 1:  # inner product: g is a scalar
            return g * y, g * x
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        if x.ndim == 1:
            g = np.expand_dims(g, -2)
        if y.ndim == 1:
            g = np.expand_dims(g, -1)
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = np.matmul(g, np.swapaxes(y2, -1, -2))
            if x.ndim == 1:
                gx = gx[..., 0, :]
        if ctx.needs_input_grad[1]:
            gy = np.matmul(np.swapaxes(x2, -1, -2), g)
            if y.ndim == 1:
                gy = gy[..., :, 0]
        return gx, gy
