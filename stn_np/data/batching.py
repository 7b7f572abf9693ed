"""Mini-batches for training: uint8 images in, float32 (B, 1, H, W) in [0, 1] out."""

from __future__ import annotations

import numpy as np

from ..validation import check_bool, check_int, describe, fail

__all__ = ["batches", "to_float", "check_images"]


def check_images(images, function, argument="images"):
    """``images`` as a uint8 ndarray (n, H, W), H, W >= 1 (``TypeError``: another dtype; ``ValueError``: a shape)."""
    array = images if isinstance(images, np.ndarray) else None
    if array is None and isinstance(images, (list, tuple)):
        array = np.asarray(images)
    if array is None or array.dtype != np.uint8:
        got = f"dtype {array.dtype}" if array is not None else describe(images)
        fail(function, argument, "uint8 images of shape (n, H, W)", got, TypeError)
    if array.ndim != 3 or min(array.shape[1:]) < 1:
        fail(function, argument, "uint8 images of shape (n, H, W) with H, W >= 1", f"shape {array.shape}")
    return array


def to_float(images):
    """uint8 images (n, H, W) -> float32 (n, 1, H, W) scaled to [0, 1] (divided by 255).

    Examples
    --------
    >>> import numpy as np
    >>> to_float(np.array([[[0, 255]]], np.uint8))
    array([[[[0., 1.]]]], dtype=float32)
    """
    images = check_images(images, "to_float")
    return images[:, None].astype(np.float32) / np.float32(255)


def batches(images, labels, batch_size, shuffle=False, seed=0, drop_last=False):
    """Iterate over mini-batches once (one epoch).

    Parameters
    ----------
    images : ndarray, uint8, shape (n, H, W)
    labels : ndarray of ints, shape (n,)
    batch_size : int
        Samples per batch; the last batch is smaller unless ``drop_last``.
    shuffle : bool
        Visit the samples in a random order drawn from ``numpy.random.default_rng(seed)``;
        pass a different seed per epoch (e.g. ``seed=base + epoch``) for a new order.
    seed : int
        Non-negative; ignored without ``shuffle``.
    drop_last : bool
        Skip a final batch smaller than ``batch_size``.

    Returns
    -------
    iterator of (x, y)
        ``x`` float32 (B, 1, H, W) in [0, 1], ``y`` int64 (B,). The arguments are checked when
        ``batches`` is called, not when the first batch is drawn.

    Examples
    --------
    >>> import numpy as np
    >>> images, labels = np.zeros((5, 2, 2), np.uint8), np.arange(5)
    >>> [y.tolist() for _, y in batches(images, labels, 2)]
    [[0, 1], [2, 3], [4]]
    >>> [x.shape for x, _ in batches(images, labels, 2, drop_last=True)]
    [(2, 1, 2, 2), (2, 1, 2, 2)]
    """
    # checked here, not on the first next(): a bad argument is reported where it was passed
    images = check_images(images, "batches")
    labels = np.asarray(labels) if isinstance(labels, (np.ndarray, list, tuple)) else None
    if labels is None or labels.dtype.kind not in "iu":
        got = describe(labels) if labels is None else f"dtype {labels.dtype}"
        fail("batches", "labels", "integer class labels", got, TypeError)
    if labels.shape != (len(images),):
        fail("batches", "labels", f"shape ({len(images)},), one label per image", f"shape {labels.shape}")
    batch_size = check_int(batch_size, "batches", "batch_size", minimum=1)
    seed = check_int(seed, "batches", "seed", minimum=0)
    shuffle = check_bool(shuffle, "batches", "shuffle")
    drop_last = check_bool(drop_last, "batches", "drop_last")
    n = len(images)
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return _batches(images, labels, order, stop, batch_size)


def _batches(images, labels, order, stop, batch_size):
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        yield to_float(images[index]), labels[index].astype(np.int64)
