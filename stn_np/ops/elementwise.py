"""Elementwise ops: each forward beside its hand-derived backward.

``g`` is the upstream gradient dL/dz of the output ``z``. Binary ops broadcast; the engine
sums their gradients back to each input's shape (see ``Function.broadcasts``).
"""

import numpy as np
from scipy.special import expit

from ..autograd.function import Function


class AddFunction(Function):
    """z = x + y;  dL/dx = g,  dL/dy = g."""

    broadcasts = True

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, g):
        return g, g


class SubFunction(Function):
    """z = x - y;  dL/dx = g,  dL/dy = -g."""

    broadcasts = True

    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class MulFunction(Function):
    """z = x * y;  dL/dx = g * y,  dL/dy = g * x."""

    broadcasts = True

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        gx = g * y if ctx.needs_input_grad[0] else None
        gy = g * x if ctx.needs_input_grad[1] else None
        return gx, gy


class DivFunction(Function):
    """z = x / y;  dL/dx = g / y,  dL/dy = -g * x / y**2 = -g * z / y."""

    broadcasts = True

    @staticmethod
    def forward(ctx, x, y):
        z = x / y
        ctx.save_for_backward(y, z)
        return z

    @staticmethod
    def backward(ctx, g):
        y, z = ctx.saved_arrays
        gx = g / y
        gy = -gx * z if ctx.needs_input_grad[1] else None
        return gx, gy


class PowFunction(Function):
    """z = x ** y;  dL/dx = g * y * x**(y - 1),  dL/dy = g * z * log(x).

    The exponent gradient is defined as 0 where x <= 0 (log x is not real there), the
    convention PyTorch uses for ``x ** y`` at x = 0.
    """

    broadcasts = True

    @staticmethod
    def forward(ctx, x, y):
        z = x**y
        ctx.save_for_backward(x, y, z)
        return z

    @staticmethod
    def backward(ctx, g):
        x, y, z = ctx.saved_arrays
        gx = g * y * x ** (y - 1) if ctx.needs_input_grad[0] else None
        gy = None
        if ctx.needs_input_grad[1]:
            positive = x > 0
            gy = g * np.where(positive, z * np.log(np.where(positive, x, 1)), 0)
        return gx, gy


class NegFunction(Function):
    """z = -x;  dL/dx = -g."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class ExpFunction(Function):
    """z = e**x;  dL/dx = g * z."""

    @staticmethod
    def forward(ctx, x):
        z = np.exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_arrays
        return g * z


class LogFunction(Function):
    """z = log(x);  dL/dx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return g / x


class ReLUFunction(Function):
    """z = max(x, 0);  dL/dx = g * [x > 0].

    At the kink x = 0 the subgradient 0 is used (as PyTorch does), so an input sitting exactly
    at 0 receives no gradient.
    """

    @staticmethod
    def forward(ctx, x):
        positive = x > 0
        ctx.save_for_backward(positive)
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx, g):
        (positive,) = ctx.saved_arrays
        return g * positive


class TanhFunction(Function):
    """z = tanh(x);  dL/dx = g * (1 - z**2)."""

    @staticmethod
    def forward(ctx, x):
        z = np.tanh(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_arrays
        return g * (1 - z * z)


class SigmoidFunction(Function):
    """z = 1 / (1 + e**-x);  dL/dx = g * z * (1 - z).

    ``scipy.special.expit`` evaluates it without overflow for large |x|.
    """

    @staticmethod
    def forward(ctx, x):
        z = expit(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_arrays
        return g * z * (1 - z)


class ClipFunction(Function):
    """z = min(max(x, low), high);  dL/dx = g * [low <= x <= high].

    The bounds are inclusive: an input exactly at a bound passes its gradient (PyTorch's
    ``clamp`` convention). Either bound may be None.
    """

    @staticmethod
    def forward(ctx, x, low=None, high=None):
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.save_for_backward(inside)
        if low is None and high is None:
            return x.copy()
        return np.clip(x, low, high).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_arrays
        return g * inside


class CastFunction(Function):
    """z = x converted to ``dtype``;  dL/dx = g converted back to x's dtype."""

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.in_dtype)
