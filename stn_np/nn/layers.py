"""Layers: thin modules holding parameters and options around the ops of ``stn_np.functional``.

Every layer with weights takes ``dtype`` (float32 by default, the training precision; use
float64 for gradient checks) and ``rng`` (the global generator of :mod:`stn_np.rng` when
omitted) and starts from PyTorch's default initialisation (see :mod:`stn_np.nn.init`).
"""

import numpy as np

from .. import functional as F
from ..autograd.tensor import Tensor
from ..validation import (
    check_bool,
    check_dtype,
    check_int,
    check_memory,
    check_number,
    check_pair,
    check_real_array,
    fail,
)
from ..rng import resolve_rng
from . import init
from .module import Module, Parameter

__all__ = ["Conv2d", "Linear", "MaxPool2d", "AvgPool2d", "ReLU", "Dropout", "Dropout2d", "Flatten"]


def _float_dtype(dtype, layer):
    return check_dtype(dtype, layer, "dtype")


class Conv2d(Module):
    """2-D convolution layer: ``F.conv2d(x, weight, bias, stride, padding)``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size : int or (int, int)
        Kernel size (kh, kw).
    stride, padding : int or (int, int)
        As in :func:`stn_np.functional.conv2d`.
    bias : bool
        Add a learned bias per output channel.
    dtype : dtype
        Parameter dtype (float32 by default).
    rng : numpy.random.Generator, optional
        Generator for the initial weights.

    Attributes
    ----------
    weight : Parameter
        Shape (out_channels, in_channels, kh, kw).
    bias : Parameter or None
        Shape (out_channels,).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 dtype=np.float32, rng=None):
        super().__init__()
        self.in_channels = check_int(in_channels, "Conv2d", "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "Conv2d", "out_channels", minimum=1)
        self.kernel_size = check_pair(kernel_size, "Conv2d", "kernel_size", minimum=1)
        self.stride = check_pair(stride, "Conv2d", "stride", minimum=1)
        self.padding = check_pair(padding, "Conv2d", "padding", minimum=0)
        dtype = _float_dtype(dtype, "Conv2d")
        check_memory((out_channels, in_channels) + self.kernel_size, dtype, "Conv2d",
                     "out_channels" if out_channels >= in_channels else "in_channels", "a weight")
        self.weight = Parameter(np.empty((out_channels, in_channels) + self.kernel_size, dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if check_bool(bias, "Conv2d", "bias") else None
        init.default_init_(self.weight, self.bias, resolve_rng(rng, "Conv2d"))

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class Linear(Module):
    """Affine layer ``y = x W^T + b`` on the last axis (W of shape (out_features, in_features)).

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input's last axis and of the output's.
    bias : bool
        Add a learned bias.
    dtype : dtype
        Parameter dtype (float32 by default).
    rng : numpy.random.Generator, optional
        Generator for the initial weights.
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, rng=None):
        super().__init__()
        self.in_features = check_int(in_features, "Linear", "in_features", minimum=1)
        self.out_features = check_int(out_features, "Linear", "out_features", minimum=1)
        dtype = _float_dtype(dtype, "Linear")
        check_memory((out_features, in_features), dtype, "Linear",
                     "out_features" if out_features >= in_features else "in_features", "a weight")
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if check_bool(bias, "Linear", "bias") else None
        init.default_init_(self.weight, self.bias, resolve_rng(rng, "Linear"))

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = check_pair(kernel_size, name, "kernel_size", minimum=1)
        self.stride = self.kernel_size if stride is None else check_pair(stride, name, "stride", minimum=1)
        self.padding = check_pair(padding, name, "padding", minimum=0)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling layer (``F.max_pool2d``); ``stride`` defaults to ``kernel_size``."""

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Average pooling layer (``F.avg_pool2d``, padding counted); ``stride`` defaults to ``kernel_size``."""

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class ReLU(Module):
    """Elementwise ``max(x, 0)``."""

    def forward(self, x):
        return F.relu(x)


class _DropoutBase(Module):
    def __init__(self, p=0.5, rng=None):
        super().__init__()
        self.p = check_number(p, type(self).__name__, "p", minimum=0, maximum=1)
        self.rng = None if rng is None else resolve_rng(rng, type(self).__name__)

    def extra_repr(self):
        return f"p={self.p}"


class Dropout(_DropoutBase):
    """Inverted dropout of single elements while ``training``; the identity in ``eval()`` mode.

    ``rng`` fixes the generator of the masks; by default each call draws from the global one.
    """

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.rng)


class Dropout2d(_DropoutBase):
    """Inverted dropout of whole channels of NCHW inputs while ``training``; identity in ``eval()``."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training, self.rng)


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` into one (default: everything but the batch axis)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = check_int(start_dim, "Flatten", "start_dim")
        self.end_dim = check_int(end_dim, "Flatten", "end_dim")

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(check_real_array(x, "Flatten", "x", dtype=None))
        shape = x.shape
        for name, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -len(shape) <= dim < len(shape):  # an out-of-range axis must not wrap around
                fail("Flatten", name, f"an axis in [-{len(shape)}, {len(shape)}) of the input's shape {shape}", dim)
        start, end = self.start_dim % len(shape), self.end_dim % len(shape)
        if start > end:
            fail("Flatten", "start_dim", f"an axis at or before end_dim {self.end_dim} for shape {shape}",
                 self.start_dim)
        merged = int(np.prod(shape[start:end + 1]))
        return x.reshape(shape[:start] + (merged,) + shape[end + 1:])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
