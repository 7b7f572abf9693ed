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
from ..validation import check_choice, check_float_array, check_int, check_number, describe, fail

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


#: The names :func:`calculate_gain` knows.
NONLINEARITIES = ("linear", "conv2d", "sigmoid", "relu", "tanh", "leaky_relu")


def _check_tensor(tensor, function, argument="tensor", min_ndim=0):
    """A Tensor (anything whose ``.data`` is a float ndarray) with at least ``min_ndim`` axes."""
    data = getattr(tensor, "data", None)
    if not isinstance(data, np.ndarray):
        fail(function, argument, "a Tensor or Parameter", f"a {type(tensor).__name__}", TypeError)
    check_float_array(data, function, argument)
    if data.ndim < min_ndim:
        fail(function, argument, f"a weight of at least {min_ndim} dimensions (fan in and fan out)",
             f"shape {data.shape}")
    return tensor


def _fill(tensor, values):
    tensor.data[...] = values  # cast to the tensor's dtype by the assignment
    return tensor


def calculate_gain(nonlinearity, param=None):
    """Recommended gain for ``nonlinearity``: 1 for linear/sigmoid, sqrt(2) for relu,
    5/3 for tanh, ``sqrt(2 / (1 + a^2))`` for leaky_relu with slope ``a = param`` (default 0.01)."""
    check_choice(nonlinearity, NONLINEARITIES, "calculate_gain", "nonlinearity")
    if param is not None:
        param = check_number(param, "calculate_gain", "param")
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    slope = 0.01 if param is None else param
    return math.sqrt(2.0 / (1.0 + slope**2))


def fan_in_and_fan_out(shape, function="fan_in_and_fan_out", argument="shape"):
    """``(fan_in, fan_out)`` of a weight: (out, in) for linear, (out, in, kh, kw) for conv.

    fan_in = in * kh * kw, fan_out = out * kh * kw. ``function`` and ``argument`` name the
    caller in error messages.
    """
    ok = isinstance(shape, (tuple, list)) and len(shape) >= 2
    if ok:
        try:
            shape = tuple(check_int(s, function, argument, minimum=0) for s in shape)
        except (TypeError, ValueError):
            ok = False
    if not ok:
        fail(function, argument, "the shape of a weight, at least 2 ints >= 0", describe(shape))
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor, mode, function):
    _check_tensor(tensor, function, min_ndim=2)
    fan_in, fan_out = fan_in_and_fan_out(tensor.shape, function, "tensor")
    fan = fan_in if check_choice(mode, ("fan_in", "fan_out"), function, "mode") == "fan_in" else fan_out
    if fan == 0:
        fail(function, "tensor", f"a weight with a non-zero {mode}", f"shape {tensor.shape}")
    return fan


def uniform_(tensor, a=0.0, b=1.0, rng=None):
    """Fill with draws from U(a, b)."""
    return _uniform(tensor, a, b, rng, "uniform_")


def _uniform(tensor, a, b, rng, function):
    _check_tensor(tensor, function)
    a = check_number(a, function, "a")
    b = check_number(b, function, "b", minimum=a)
    return _fill(tensor, resolve_rng(rng, function).uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, rng=None):
    """Fill with draws from N(mean, std^2)."""
    return _normal(tensor, mean, std, rng, "normal_")


def _normal(tensor, mean, std, rng, function):
    _check_tensor(tensor, function)
    mean = check_number(mean, function, "mean")
    std = check_number(std, function, "std", minimum=0)
    return _fill(tensor, resolve_rng(rng, function).normal(mean, std, tensor.shape))


def constant_(tensor, value):
    """Fill with ``value`` (a real scalar, or an array broadcasting to the tensor's shape)."""
    _check_tensor(tensor, "constant_")
    array = np.asarray(value) if not isinstance(value, (str, bytes)) else None
    if array is None or array.dtype.kind not in "biuf":
        fail("constant_", "value", "a real number or array", describe(value), TypeError)
    try:
        np.broadcast_shapes(array.shape, tensor.shape)
    except ValueError:
        fail("constant_", "value", f"a scalar or an array broadcasting to {tensor.shape}", f"shape {array.shape}")
    return _fill(tensor, array)


def zeros_(tensor):
    """Fill with 0."""
    return _fill(_check_tensor(tensor, "zeros_"), 0)


def ones_(tensor):
    """Fill with 1."""
    return _fill(_check_tensor(tensor, "ones_"), 1)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He initialisation: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``."""
    fan = _fan(tensor, mode, "kaiming_uniform_")
    bound = _gain(nonlinearity, a, "kaiming_uniform_") * math.sqrt(3.0 / fan)
    return _uniform(tensor, -bound, bound, rng, "kaiming_uniform_")


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He initialisation: N(0, std^2) with ``std = gain / sqrt(fan)``."""
    fan = _fan(tensor, mode, "kaiming_normal_")
    std = _gain(nonlinearity, a, "kaiming_normal_") / math.sqrt(fan)
    return _normal(tensor, 0.0, std, rng, "kaiming_normal_")


def _gain(nonlinearity, a, function):
    """:func:`calculate_gain` with the messages naming ``function`` and its ``a``."""
    check_choice(nonlinearity, NONLINEARITIES, function, "nonlinearity")
    return calculate_gain(nonlinearity, check_number(a, function, "a"))


def _xavier_bound(tensor, gain, function, factor):
    _check_tensor(tensor, function, min_ndim=2)
    fan_in, fan_out = fan_in_and_fan_out(tensor.shape, function, "tensor")
    if fan_in + fan_out == 0:
        fail(function, "tensor", "a weight with non-zero fans", f"shape {tensor.shape}")
    return check_number(gain, function, "gain", minimum=0) * math.sqrt(factor / (fan_in + fan_out))


def xavier_uniform_(tensor, gain=1.0, rng=None):
    """Glorot initialisation: U(-bound, bound), ``bound = gain * sqrt(6 / (fan_in + fan_out))``."""
    bound = _xavier_bound(tensor, gain, "xavier_uniform_", 6.0)
    return _uniform(tensor, -bound, bound, rng, "xavier_uniform_")


def xavier_normal_(tensor, gain=1.0, rng=None):
    """Glorot initialisation: N(0, std^2), ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    return _normal(tensor, 0.0, _xavier_bound(tensor, gain, "xavier_normal_", 2.0), rng, "xavier_normal_")


def default_init_(weight, bias=None, rng=None):
    """PyTorch's default for Conv2d and Linear: ``kaiming_uniform_(weight, a=sqrt(5))`` and the
    bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Returns ``(weight, bias)``."""
    rng = resolve_rng(rng, "default_init_")
    _check_tensor(weight, "default_init_", "weight", min_ndim=2)
    if bias is not None:
        _check_tensor(bias, "default_init_", "bias")
    fan_in, _ = fan_in_and_fan_out(weight.shape, "default_init_", "weight")
    if fan_in > 0:
        kaiming_uniform_(weight, a=math.sqrt(5), rng=rng)
    if bias is not None:
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        _uniform(bias, -bound, bound, rng, "default_init_")
    return weight, bias
