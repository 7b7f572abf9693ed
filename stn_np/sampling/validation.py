"""Argument checks shared by the samplers: clear errors naming the argument and what was expected."""

import numpy as np

from ..autograd.tensor import Tensor
from .padding import PADDING_MODES

__all__ = ["check_sampler_inputs", "check_padding", "check_grid", "values_of"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def values_of(x):
    """The ndarray behind a Tensor, or ``x`` as an ndarray."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _check_float(name, dtype, fname):
    if dtype not in _FLOATS:
        raise TypeError(f"{fname}: {name} must be float32 or float64, got dtype {dtype}")


def check_grid(grid, fname, batch=None):
    """Check a sampling grid's shape (N, H_out, W_out, 2) and dtype; return it as Tensor or ndarray."""
    if not isinstance(grid, Tensor):
        grid = np.asarray(grid)
    shape, dtype = grid.shape, grid.dtype
    n = "N" if batch is None else f"N={batch}"
    if len(shape) != 4 or shape[3] != 2 or min(shape[:3]) < 1 or (batch is not None and shape[0] != batch):
        what = "" if batch is None else " (N is the input's batch size)"
        raise ValueError(
            f"{fname}: grid must have shape ({n}, H_out, W_out, 2) with H_out, W_out >= 1 and the last "
            f"axis (x, y){what}, got shape {tuple(shape)}"
        )
    _check_float("grid", dtype, fname)
    return grid


def check_sampler_inputs(input, grid, fname):
    """Check an (N, C, H, W) image and its (N, H_out, W_out, 2) grid; return them unchanged.

    Raises ``ValueError`` for wrong shapes and ``TypeError`` for dtypes other than float32 and
    float64 or for an image and grid of different dtypes.
    """
    if not isinstance(input, Tensor):
        input = np.asarray(input)
    if input.ndim != 4 or min(input.shape) < 1:
        raise ValueError(
            f"{fname}: input must have shape (N, C, H, W) with every size >= 1, got shape {tuple(input.shape)}"
        )
    _check_float("input", input.dtype, fname)
    grid = check_grid(grid, fname, batch=input.shape[0])
    if grid.dtype != input.dtype:
        raise TypeError(
            f"{fname}: input and grid must share a dtype, got input {input.dtype} and grid {grid.dtype}; "
            "cast one explicitly"
        )
    return input, grid


def check_padding(padding_mode, align_corners, fname):
    """Check ``padding_mode`` and ``align_corners``."""
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{fname}: padding_mode must be one of {', '.join(map(repr, PADDING_MODES))}, got {padding_mode!r}")
    if not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"{fname}: align_corners must be a bool, got {align_corners!r}")
