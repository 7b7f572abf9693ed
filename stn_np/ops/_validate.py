"""Argument checks shared by the layer and loss wrappers; each error names the argument."""

import numpy as np


def shape_of(x):
    """Shape of a Tensor, ndarray or nested sequence."""
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else np.shape(x)


def dtype_of(x):
    """dtype of a Tensor or ndarray (NumPy's choice for other array-likes)."""
    dtype = getattr(x, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.asarray(x).dtype


def check_ndim(x, ndim, name, layout):
    """Return the shape of ``x`` after checking it has ``ndim`` axes (``layout`` names them)."""
    shape = shape_of(x)
    if len(shape) != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array {layout}, got shape {shape}")
    return shape


def check_float_dtype(x, name):
    """Raise ``TypeError`` unless ``x`` holds floating-point values."""
    dtype = dtype_of(x)
    if dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point array, got dtype {dtype}")


def as_pair(value, name, minimum):
    """``value`` as a pair of ints ``>= minimum`` (an int means the same on both axes)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value) if isinstance(value, (tuple, list)) else None
    if (
        pair is None
        or len(pair) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)
        or min(pair) < minimum
    ):
        raise ValueError(f"{name}: expected an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def check_target(target, n, num_classes, name="target"):
    """Integer class labels of shape (n,) in [0, num_classes); returned as an int64 ndarray."""
    array = np.asarray(getattr(target, "data", target))
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class indices, got dtype {array.dtype}")
    if array.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},) to match the batch, got {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        bad = array[(array < 0) | (array >= num_classes)][0]
        raise ValueError(f"{name}: class index {bad} is out of range [0, {num_classes})")
    return array.astype(np.int64, copy=False)
