"""What every grid generator shares: argument validation and the cached base grid.

A grid generator maps each pixel centre ``(x_t, y_t)`` of the OUTPUT (target) image, in
normalised coordinates, to the point ``(x_s, y_s)`` of the input (source) image that the
sampler reads. The target points are :func:`~stn_np.sampling.coords.identity_grid`; this
module hands them out once per (height, width, align_corners, dtype), read-only.
"""

from functools import lru_cache

import numpy as np

from ..autograd.tensor import Tensor
from .coords import identity_grid

__all__ = ["check_size", "check_align_corners", "as_parameter", "base_points"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def check_size(size, name="size"):
    """Validate ``size`` = (N, C, H, W) of positive ints; return it as a tuple of ints."""
    ok = isinstance(size, (tuple, list)) and len(size) == 4
    ok = ok and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in size)
    if not ok:
        raise ValueError(f"{name}: expected (N, C, H, W), four positive ints, got {size!r}")
    return tuple(int(s) for s in size)


def check_align_corners(align_corners):
    """``align_corners`` must be a bool (a stray int or string usually means a misplaced argument)."""
    if not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"align_corners: expected a bool, got {align_corners!r}")
    return bool(align_corners)


def as_parameter(value, name, shape, described):
    """Return ``value`` as a float32/float64 Tensor of ``shape`` (None matches any length >= 1).

    Tensors pass through untouched, so the graph behind them is kept; anything else is copied
    into a new Tensor that does not require grad. ``described`` is the expected shape as the
    error message shows it, e.g. ``"(N, 2, 3) with N = size[0] = 4"``.
    """
    tensor = value if isinstance(value, Tensor) else None
    if tensor is None:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}: expected a float32 or float64 array or Tensor, got {type(value).__name__}") from exc
    else:
        array = tensor.data
    if array.dtype not in _FLOATS:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {array.dtype}")
    if array.ndim != len(shape) or any(n != e if e is not None else n < 1 for e, n in zip(shape, array.shape)):
        raise ValueError(f"{name}: expected shape {described}, got {tuple(array.shape)}")
    return tensor if tensor is not None else Tensor(array)


@lru_cache(maxsize=64)
def base_points(height, width, align_corners, dtype):
    """The target pixel centres as a read-only (height * width, 2) array of (x_t, y_t).

    Row ``i * width + j`` is output pixel (row i, column j): the identity grid, flattened.
    """
    points = identity_grid(height, width, align_corners, np.dtype(dtype)).reshape(height * width, 2)
    points.setflags(write=False)
    return points
