"""Argument checks for every public function: one home, one message convention.

Every error a caller can cause names the function, the argument, what was expected and what
came, in this one form::

    grid_sample: padding_mode: expected one of 'zeros', 'border', 'reflection', got 'wrap'

``ValueError`` for a wrong value or shape, ``TypeError`` for a wrong type or dtype. The
checks return the validated value (normalised where that is useful: a tuple of ints, a
bool), so a caller writes ``size = check_size(size, "affine_grid")``. Library messages never
name command-line flags; :mod:`stn_np.cli` translates argument names to its options.

This module imports nothing from the rest of the package (it reads tensors by duck typing:
anything with ``.data``, ``.shape`` and ``.dtype``), so every layer may use it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "FLOAT_DTYPES", "fail", "describe", "values_of", "shape_of", "dtype_of",
    "check_choice", "check_bool", "check_int", "check_number", "check_float_array", "check_ndim",
    "check_size", "check_pair", "check_target", "check_same_dtype",
]

#: The floating dtypes every op computes in.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def describe(value, limit=60):
    """A short description of ``value`` for an error message (``repr``, or its type and shape)."""
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, np.generic):
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {getattr(value, 'dtype', '?')}"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(function, argument, expected, got, error=ValueError):
    """Raise ``error("function: argument: expected <expected>, got <got>")``.

    ``got`` is used as given when it is a str (a description such as ``"shape (2, 3)"``), and
    described with :func:`describe` otherwise; pass ``describe(value)`` for a user's string.
    """
    got = got if isinstance(got, str) else describe(got)
    raise error(f"{function}: {argument}: expected {expected}, got {got}")


def values_of(x):
    """The ndarray behind a Tensor (anything with ``.data`` holding an ndarray), or ``np.asarray(x)``."""
    data = getattr(x, "data", None)
    return data if isinstance(data, np.ndarray) else np.asarray(x)


def shape_of(x):
    """Shape of a Tensor, ndarray or nested sequence."""
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else np.shape(x)


def dtype_of(x):
    """dtype of a Tensor or ndarray (NumPy's choice for other array-likes)."""
    dtype = getattr(x, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.asarray(x).dtype


def _is_int(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_choice(value, choices, function, argument):
    """``value`` if it is one of ``choices`` (strings or other hashables), else ``ValueError``.

    Unhashable values (a list passed by mistake) are refused with the same message.
    """
    try:
        ok = value in choices
    except TypeError:
        ok = False
    if not ok or not isinstance(value, type(next(iter(choices)))):
        fail(function, argument, "one of " + ", ".join(map(repr, choices)), describe(value))
    return value


def check_bool(value, function, argument):
    """``bool(value)`` for a Python or NumPy bool, else ``TypeError`` (an int usually means a misplaced argument)."""
    if not isinstance(value, (bool, np.bool_)):
        fail(function, argument, "a bool", value, TypeError)
    return bool(value)


def check_int(value, function, argument, minimum=None, maximum=None):
    """``int(value)`` for an integer (not a bool) within ``[minimum, maximum]``."""
    if not _is_int(value):
        fail(function, argument, "an int" + _range_text(minimum, maximum), value,
             TypeError if not isinstance(value, (numbers.Number, np.number)) else ValueError)
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        fail(function, argument, "an int" + _range_text(minimum, maximum), value)
    return value


def _range_text(minimum, maximum, strict_low=False):
    low = ">" if strict_low else ">="
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]" if not strict_low else f" in ({minimum}, {maximum}]"
    if minimum is not None:
        return f" {low} {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def check_number(value, function, argument, minimum=None, maximum=None, strict_low=False):
    """``float(value)`` for a finite real number within the bounds (NaN and inf are refused).

    ``strict_low`` makes the lower bound exclusive (``> minimum``).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        fail(function, argument, "a finite number" + _range_text(minimum, maximum, strict_low), value, TypeError)
    value = float(value)
    bad = not math.isfinite(value)
    bad = bad or (minimum is not None and (value <= minimum if strict_low else value < minimum))
    bad = bad or (maximum is not None and value > maximum)
    if bad:
        fail(function, argument, "a finite number" + _range_text(minimum, maximum, strict_low), value)
    return value


def check_float_array(x, function, argument):
    """Refuse anything but float32/float64 values (``TypeError``); returns ``x`` unchanged."""
    dtype = dtype_of(x)
    if dtype not in FLOAT_DTYPES:
        fail(function, argument, "float32 or float64 values", f"dtype {dtype}", TypeError)
    return x


def check_same_dtype(a, b, function, names=("input", "grid")):
    """Refuse two arrays of different dtypes (ops never cast silently)."""
    if dtype_of(a) != dtype_of(b):
        raise TypeError(
            f"{function}: {names[1]}: expected the dtype of {names[0]} ({dtype_of(a)}), got {dtype_of(b)}; "
            "cast one explicitly"
        )


def check_ndim(x, ndim, function, argument, layout):
    """The shape of ``x`` after checking it has ``ndim`` axes (``layout`` names them, e.g. "(N, C, H, W)")."""
    shape = shape_of(x)
    if len(shape) != ndim:
        fail(function, argument, f"a {ndim}-D array {layout}", f"shape {shape}")
    return shape


def check_size(size, function, argument="size", length=4, layout="(N, C, H, W)", minimum=1):
    """``size`` as a tuple of ``length`` ints ``>= minimum`` (``layout`` names them)."""
    ok = isinstance(size, (tuple, list)) and len(size) == length and all(_is_int(s) and s >= minimum for s in size)
    if not ok:
        fail(function, argument, f"{layout}, {length} ints >= {minimum}", size)
    return tuple(int(s) for s in size)


def check_pair(value, function, argument, minimum):
    """``value`` as a pair of ints ``>= minimum`` (an int means the same on both axes)."""
    if _is_int(value):
        pair = (value, value)
    elif isinstance(value, (tuple, list)):
        pair = tuple(value)
    else:
        pair = None
    if pair is None or len(pair) != 2 or not all(_is_int(v) for v in pair) or min(pair) < minimum:
        fail(function, argument, f"an int >= {minimum} or a pair of them", value)
    return int(pair[0]), int(pair[1])


def check_target(target, n, num_classes, function, argument="target"):
    """Integer class labels of shape (n,) in [0, num_classes); returned as an int64 ndarray."""
    array = values_of(target)
    if array.dtype.kind not in "iu":
        fail(function, argument, "integer class indices", f"dtype {array.dtype}", TypeError)
    if array.shape != (n,):
        fail(function, argument, f"shape ({n},) to match the batch", f"shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        bad = array[(array < 0) | (array >= num_classes)][0]
        fail(function, argument, f"class indices in [0, {num_classes})", f"{bad}")
    return array.astype(np.int64, copy=False)


def _array_or_tensor(x):
    """A Tensor as it is (its graph kept), anything else as an ndarray."""
    return x if isinstance(getattr(x, "data", None), np.ndarray) else np.asarray(x)


def check_grid(grid, function, batch=None):
    """A sampling grid (N, H_out, W_out, 2), float32/float64; returned as Tensor or ndarray.

    ``batch`` is the input's N, when there is an input to match. Empty grids (N, H_out or
    W_out of 0) are valid, as in PyTorch: they sample nothing.
    """
    grid = _array_or_tensor(grid)
    shape = tuple(grid.shape)
    n = "N" if batch is None else f"N = {batch}, the input's batch size"
    if len(shape) != 4 or shape[3] != 2 or (batch is not None and shape[0] != batch):
        fail(function, "grid", f"shape (N, H_out, W_out, 2) with {n} and the last axis (x, y)", f"shape {shape}")
    check_float_array(grid, function, "grid")
    return grid


def check_image_and_grid(input, grid, function):
    """An (N, C, H, W) image and its (N, H_out, W_out, 2) grid of one float dtype; returned as given.

    As in PyTorch, N, C, H_out and W_out may be 0 (an empty result); an image with no pixels
    (H or W of 0) is refused: there is nothing to sample.
    """
    input = _array_or_tensor(input)
    if input.ndim != 4 or min(input.shape[2:]) < 1:
        fail(function, "input", "shape (N, C, H, W) with H, W >= 1", f"shape {tuple(input.shape)}")
    check_float_array(input, function, "input")
    grid = check_grid(grid, function, batch=input.shape[0])
    check_same_dtype(input, grid, function)
    return input, grid
