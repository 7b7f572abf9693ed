"""What every grid generator shares: argument validation and the cached base grid.

A grid generator maps each pixel centre ``(x_t, y_t)`` of the OUTPUT (target) image, in
normalised coordinates, to the point ``(x_s, y_s)`` of the input (source) image that the
sampler reads (in a volume, voxel centres ``(x_t, y_t, z_t)`` to ``(x_s, y_s, z_s)``). The
target points are :func:`~stn_np.sampling.coords.identity_grid`; this module hands them out
once per (spatial shape, align_corners, dtype), read-only.
"""

from functools import lru_cache

import numpy as np

from ..autograd.tensor import Tensor
from ..validation import check_bool, check_float_array, check_size, describe, fail
from .coords import identity_grid

__all__ = ["check_generator_args", "as_parameter", "base_points"]


def check_generator_args(size, align_corners, function, spatial_dims=(2,)):
    """A grid generator's ``size`` (N, C, H_out, W_out) as ints and ``align_corners`` as a bool.

    With ``spatial_dims=(2, 3)`` (generators that make volumetric grids too) ``size`` may also
    be (N, C, D_out, H_out, W_out). Any side may be 0, giving an empty grid (and an empty or
    zero parameter gradient): an empty batch flows through a spatial transformer. (PyTorch's
    ``affine_grid`` refuses zero sizes; its ``grid_sample`` accepts the empty grids.)
    """
    layouts = {2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
    if isinstance(size, (tuple, list)) and len(size) - 2 in spatial_dims:
        d = len(size) - 2
    elif len(spatial_dims) == 1:
        d = spatial_dims[0]  # check_size says what is wrong
    else:
        fail(function, "size", " or ".join(layouts[d] for d in spatial_dims) + ", 4 or 5 ints >= 0", describe(size))
    size = check_size(size, function, length=d + 2, layout=layouts[d], minimum=0)
    return size, check_bool(align_corners, function, "align_corners")


def as_parameter(value, function, name, shape, described):
    """Return ``value`` as a float32/float64 Tensor of ``shape`` (None matches any length, 0 included).

    Tensors pass through untouched, so the graph behind them is kept; anything else is copied
    into a new Tensor that does not require grad. ``described`` is the expected shape as the
    error message shows it, e.g. ``"(N, 2, 3) with N = size[0] = 4"``.
    """
    tensor = value if isinstance(value, Tensor) else None
    if tensor is None:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            fail(function, name, "a float32 or float64 array or Tensor", f"a {type(value).__name__}", TypeError)
    else:
        array = tensor.data
    check_float_array(array, function, name)
    if array.ndim != len(shape) or any(e is not None and n != e for e, n in zip(shape, array.shape)):
        fail(function, name, f"shape {described}", f"shape {tuple(array.shape)}")
    return tensor if tensor is not None else Tensor(array)


@lru_cache(maxsize=64)
def base_points(spatial, align_corners, dtype):
    """The target pixel centres as a read-only (prod(spatial), d) array of (x_t, y_t[, z_t]).

    ``spatial`` is (height, width) or (depth, height, width). Row ``i * width + j`` is output
    pixel (row i, column j) (a volume: row ``(k * height + i) * width + j``, voxel (k, i, j)):
    the identity grid, flattened.
    """
    *depth, height, width = spatial
    grid = identity_grid(height, width, align_corners, np.dtype(dtype), depth=depth[0] if depth else None)
    points = grid.reshape(-1, len(spatial))
    points.setflags(write=False)
    return points
