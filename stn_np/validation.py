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

The memory budget
-----------------
A size typed by mistake (``affine_grid(theta, (1, 1, 100000, 100000))``) would otherwise ask
NumPy for 149 GiB and fail with a ``MemoryError`` that names no argument, or, worse, succeed
and push the machine into swap. Grid generators, the samplers, convolution, the layers and the
data generators therefore call :func:`check_memory` with the size of what they are about to
allocate, before allocating it, and refuse anything larger than :data:`MEMORY_BUDGET` bytes
(4 GiB by default) with a ``ValueError`` naming the argument. Raise the budget for one process
with the environment variable ``STN_NP_MEMORY_BUDGET`` (bytes; suffixes K, M, G, T for
powers of 1024, e.g. ``16G``) or by assigning ``stn_np.validation.MEMORY_BUDGET``.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

__all__ = [
    "FLOAT_DTYPES", "MEMORY_BUDGET", "fail", "describe", "values_of", "shape_of", "dtype_of", "format_bytes",
    "parse_bytes", "check_choice", "check_bool", "check_int", "check_number", "check_float_array", "check_ndim",
    "check_size", "check_pair", "check_target", "check_same_dtype", "check_memory", "check_dtype",
    "check_callable", "check_mapping", "check_real_array", "check_finite", "check_join",
]

#: The floating dtypes every op computes in.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text, name):
    """A byte count from ``"4294967296"`` or ``"4G"`` (K, M, G, T are powers of 1024); ``name`` is for the message."""
    value = str(text).strip().upper().removesuffix("IB").removesuffix("B")  # "4GiB", "4GB" and "4G" alike
    unit = value[-1] if value and value[-1] in "KMGT" else ""
    try:
        number = float(value[: len(value) - len(unit)])
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        fail(name, "value", "a positive number of bytes such as 4294967296 or 4G", describe(text))
    return int(number * _UNITS[unit])


def format_bytes(count):
    """``count`` bytes as a short text: ``"512 B"``, ``"3.0 MiB"``, ``"149.0 GiB"``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


#: Bytes one call may allocate for its largest array (see "The memory budget" above).
MEMORY_BUDGET = parse_bytes(os.environ.get("STN_NP_MEMORY_BUDGET", "4G"), "STN_NP_MEMORY_BUDGET")


def describe(value, limit=60):
    """A short description of ``value`` for an error message (``repr``, or its type and shape)."""
    if isinstance(value, type):  # a class such as np.int32 (its .shape is a descriptor, not a shape)
        return value.__name__
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and not isinstance(value, np.generic):
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
        fail(function, argument, "a bool", describe(value), TypeError)
    return bool(value)


def check_int(value, function, argument, minimum=None, maximum=None):
    """``int(value)`` for an integer (not a bool) within ``[minimum, maximum]``."""
    if not _is_int(value):
        fail(function, argument, "an int" + _range_text(minimum, maximum), describe(value),
             TypeError if not isinstance(value, (numbers.Number, np.number)) else ValueError)
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        fail(function, argument, "an int" + _range_text(minimum, maximum), describe(value))
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
        fail(function, argument, "a finite number" + _range_text(minimum, maximum, strict_low), describe(value),
             TypeError)
    value = float(value)
    bad = not math.isfinite(value)
    bad = bad or (minimum is not None and (value <= minimum if strict_low else value < minimum))
    bad = bad or (maximum is not None and value > maximum)
    if bad:
        fail(function, argument, "a finite number" + _range_text(minimum, maximum, strict_low), describe(value))
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
        fail(function, argument, f"{layout}, {length} ints >= {minimum}", describe(size))
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
        fail(function, argument, f"an int >= {minimum} or a pair of them", describe(value))
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


#: The image layouts the samplers take, by number of spatial axes: (image, grid, grid's last axis).
SAMPLING_LAYOUTS = {
    2: ("(N, C, H, W) with H, W >= 1", "(N, H_out, W_out, 2)", "(x, y)"),
    3: ("(N, C, D, H, W) with D, H, W >= 1", "(N, D_out, H_out, W_out, 3)", "(x, y, z)"),
}


def check_grid(grid, function, batch=None, spatial_dims=None):
    """A sampling grid (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3), float32/float64; returned as given.

    ``batch`` is the input's N and ``spatial_dims`` its number of spatial axes (2 or 3), when
    there is an input to match. Empty grids (N or an output side of 0) are valid, as in
    PyTorch: they sample nothing.
    """
    grid = _array_or_tensor(grid)
    shape = tuple(grid.shape)
    dims = (spatial_dims,) if spatial_dims is not None else tuple(SAMPLING_LAYOUTS)
    n = "N" if batch is None else f"N = {batch}, the input's batch size"
    if not any(len(shape) == d + 2 and shape[-1] == d for d in dims) or (batch is not None and shape[0] != batch):
        expected = " or ".join(SAMPLING_LAYOUTS[d][1] for d in dims)
        axes = " or ".join(SAMPLING_LAYOUTS[d][2] for d in dims)
        fail(function, "grid", f"shape {expected} with {n} and the last axis {axes}", f"shape {shape}")
    check_float_array(grid, function, "grid")
    return grid


def check_image_and_grid(input, grid, function):
    """An (N, C, H, W) or (N, C, D, H, W) image and its grid of one float dtype; returned as given.

    The input decides: its grid is (N, H_out, W_out, 2) for an image, (N, D_out, H_out, W_out,
    3) for a volume. As in PyTorch, N, C and the output sides may be 0 (an empty result); an
    image with no pixels (a spatial side of 0) is refused: there is nothing to sample.
    """
    input = _array_or_tensor(input)
    dims = input.ndim - 2
    if dims not in SAMPLING_LAYOUTS or min(input.shape[2:]) < 1:
        expected = SAMPLING_LAYOUTS[dims][0] if dims in SAMPLING_LAYOUTS else " or ".join(
            layout[0] for layout in SAMPLING_LAYOUTS.values())
        fail(function, "input", f"shape {expected}", f"shape {tuple(input.shape)}")
    check_float_array(input, function, "input")
    grid = check_grid(grid, function, batch=input.shape[0], spatial_dims=dims)
    check_same_dtype(input, grid, function)
    return input, grid


def check_memory(shape, dtype, function, argument, what="an output"):
    """Refuse, before allocating it, an array of ``shape`` and ``dtype`` larger than :data:`MEMORY_BUDGET`.

    ``shape`` is a sequence of non-negative ints (multiplied exactly, as Python ints, so an
    absurd size cannot overflow); ``argument`` names what the caller passed that decides the
    size, ``what`` the array, e.g. ``"a grid"``. Returns the number of bytes.

    Examples
    --------
    >>> check_memory((2, 5, 6, 2), np.float64, "affine_grid", "size")
    960
    >>> check_memory((1, 100000, 100000, 2), np.float64, "affine_grid", "size", "a grid")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: affine_grid: size: expected a grid within the memory budget of ... \
(stn_np.validation.MEMORY_BUDGET), got shape (1, 100000, 100000, 2) of float64, 149.0 GiB
    """
    count = math.prod(int(s) for s in shape) * np.dtype(dtype).itemsize
    if count > MEMORY_BUDGET:
        fail(function, argument, f"{what} within the memory budget of {format_bytes(MEMORY_BUDGET)} "
             "(stn_np.validation.MEMORY_BUDGET)",
             f"shape {tuple(int(s) for s in shape)} of {np.dtype(dtype)}, {format_bytes(count)}")
    return count


def check_dtype(dtype, function, argument, kinds="f", choices=None):
    """``np.dtype(dtype)`` for a dtype of one of ``kinds`` (NumPy kind letters, "f": floating), else ``TypeError``.

    ``choices`` (e.g. :data:`FLOAT_DTYPES`) narrows it to those dtypes.
    """
    try:
        resolved = np.dtype(dtype)
    except (TypeError, ValueError):
        resolved = None
    bad = resolved is None or dtype is None or resolved.kind not in kinds
    if bad or (choices is not None and resolved not in choices):
        names = {"f": "a floating-point dtype", "fiu": "a real dtype",
                 "biuf": "a boolean, integer or floating-point dtype"}.get(kinds, f"a dtype of kind {kinds!r}")
        if choices is not None:
            names = " or ".join(str(np.dtype(c)) for c in choices)
        fail(function, argument, names, describe(dtype) if resolved is None else str(resolved), TypeError)
    return resolved


def check_callable(value, function, argument):
    """``value`` when it is callable, else ``TypeError``."""
    if not callable(value):
        fail(function, argument, "a callable", f"a {type(value).__name__}", TypeError)
    return value


def check_mapping(value, function, argument, what="a dict"):
    """``value`` when it is a mapping (has ``keys``, ``items`` and item access), else ``TypeError``."""
    if not all(hasattr(value, name) for name in ("keys", "items", "__getitem__")):
        fail(function, argument, what, f"a {type(value).__name__}", TypeError)
    return value


def check_real_array(x, function, argument, dtype=np.float64, shape=None, layout=None):
    """``x`` as an ndarray of ``dtype`` when it holds real numbers (ints or floats, not bools).

    ``TypeError`` for anything else (None, strings, objects, complex or boolean values);
    ``ValueError`` when ``shape`` is given (ints, None for any size) and does not match,
    ``layout`` naming the expected shape in the message. A Tensor gives its values.
    """
    try:
        array = values_of(x)
    except (TypeError, ValueError):
        array = None
    if array is None or array.dtype.kind not in "iuf":
        got = f"a {type(x).__name__}" if array is None or array.dtype == object else f"dtype {array.dtype}"
        fail(function, argument, "real (integer or float) values", got, TypeError)
    if shape is not None and (array.ndim != len(shape) or
                              any(e is not None and n != e for e, n in zip(shape, array.shape))):
        fail(function, argument, f"shape {layout or tuple(shape)}", f"shape {array.shape}")
    return array.astype(dtype, copy=False) if dtype is not None else array


def check_finite(x, function, argument):
    """``x`` unchanged when every value is finite (no NaN, no inf), else ``ValueError``."""
    array = values_of(x)
    if array.size and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        fail(function, argument, "finite values", f"{bad} NaN or infinite value{'s' if bad > 1 else ''}")
    return x


def check_join(tensors, axis, function, new_axis=False):
    """``(tuple(tensors), axis)`` when ``np.concatenate`` (``np.stack`` if ``new_axis``) can join them along ``axis``.

    ``tensors`` must be a non-empty sequence of real arrays or Tensors of one rank, of equal
    shapes (stack) or equal apart from ``axis`` (concatenate); ``axis`` an int within the
    result's axes.
    """
    if isinstance(tensors, (str, bytes)) or not hasattr(tensors, "__iter__"):
        fail(function, "tensors", "a sequence of arrays or Tensors", describe(tensors), TypeError)
    tensors = tuple(tensors)
    if not tensors:
        fail(function, "tensors", "a non-empty sequence", "an empty one")
    shapes = []
    for i, tensor in enumerate(tensors):
        try:
            values = values_of(tensor)
        except (TypeError, ValueError):
            values = None
        if values is None or values.dtype.kind not in "biuf":
            fail(function, "tensors", "real arrays or Tensors", f"{describe(tensor)} at position {i}", TypeError)
        shapes.append(tuple(values.shape))
    if len({len(s) for s in shapes}) > 1 or not shapes[0]:
        fail(function, "tensors", "arrays of one rank, at least 1-D", f"shapes {shapes}")
    ndim = len(shapes[0]) + bool(new_axis)
    axis = check_int(axis, function, "axis", minimum=-ndim, maximum=ndim - 1)
    if new_axis:
        compared = set(shapes)
    else:
        cut = axis % ndim
        compared = {s[:cut] + s[cut + 1:] for s in shapes}
    if len(compared) > 1:
        fail(function, "tensors", "equal shapes" if new_axis else f"shapes equal apart from axis {axis}",
             f"shapes {shapes}")
    return tensors, axis
