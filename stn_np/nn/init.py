"""Parameter initialisation, in place (names end in ``_``), PyTorch's formulas.

Each function overwrites ``tensor.data`` without changing its dtype and returns the tensor.
Random draws use ``rng`` or, when omitted, the global generator of :mod:`stn_np.rng`.

The default of ``Conv2d`` and ``Linear`` (PyTorch's) is ``kaiming_uniform_(w, a=sqrt(5))``:
the gain ``sqrt(2 / (1 + a^2)) = sqrt(1/3)`` makes the bound ``gain * sqrt(3 / fan_in)`` equal
to ``1 / sqrt(fan_in)``, and the bias is drawn from the same ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.
"""

import math

import numpy as np

from ..rng import resolve_rng

__all__ = [
    "calculate_gain",
    "fan_in_and_fan_out",
    "uniform_",
    "normal_",
    "constant_",
    "zeros_",
    "ones_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "xavier_uniform_",
    "xavier_normal_",
    "default_init_",
]


def _fill(tensor, values):
    tensor.data[...] = values  # cast to the tensor's dtype by the assignment
    return tensor


def calculate_gain(nonlinearity, param=None):
    """Recommended gain for ``nonlinearity``: 1 for linear/sigmoid, sqrt(2) for relu,
    5/3 for tanh, ``sqrt(2 / (1 + a^2))`` for leaky_relu with slope ``a = param`` (default 0.01)."""
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    raise ValueError(
        f"nonlinearity: expected linear, conv2d, sigmoid, relu, tanh or leaky_relu, got {nonlinearity!r}"
    )


def fan_in_and_fan_out(shape):
    """``(fan_in, fan_out)`` of a weight: (out, in) for linear, (out, in, kh, kw) for conv.

    fan_in = in * kh * kw, fan_out = out * kh * kw.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"tensor: fan in and fan out need at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape, mode):
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode: expected 'fan_in' or 'fan_out', got {mode!r}")


def uniform_(tensor, a=0.0, b=1.0, rng=None):
    """Fill with draws from U(a, b)."""
    return _fill(tensor, resolve_rng(rng).uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, rng=None):
    """Fill with draws from N(mean, std^2)."""
    return _fill(tensor, resolve_rng(rng).normal(mean, std, tensor.shape))


def constant_(tensor, value):
    """Fill with ``value`` (a scalar, or an array broadcasting to the tensor's shape)."""
    return _fill(tensor, value)


def zeros_(tensor):
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor):
    """Fill with 1."""
    return _fill(tensor, 1)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He initialisation: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor.shape, mode))
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He initialisation: N(0, std^2) with ``std = gain / sqrt(fan)``."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor.shape, mode))
    return normal_(tensor, 0.0, std, rng)


def xavier_uniform_(tensor, gain=1.0, rng=None):
    """Glorot initialisation: U(-bound, bound), ``bound = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor, gain=1.0, rng=None):
    """Glorot initialisation: N(0, std^2), ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(tensor.shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def default_init_(weight, bias=None, rng=None):
    """PyTorch's default for Conv2d and Linear: ``kaiming_uniform_(weight, a=sqrt(5))`` and the
    bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Returns ``(weight, bias)``."""
    rng = resolve_rng(rng)
    kaiming_uniform_(weight, a=math.sqrt(5), rng=rng)
    if bias is not None:
        fan_in, _ = fan_in_and_fan_out(weight.shape)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, rng)
    return weight, bias
