"""Mini-batches for training: uint8 images in, float32 (B, 1, H, W) in [0, 1] out."""

from __future__ import annotations

import numpy as np

__all__ = ["batches", "to_float"]


def _check_images(images, name="images"):
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise TypeError(f"{name}: expected uint8 of shape (n, H, W), got {images.dtype} {images.shape}")
    return images


def to_float(images):
    """uint8 images (n, H, W) -> float32 (n, 1, H, W) scaled to [0, 1] (divided by 255).

    Examples
    --------
    >>> import numpy as np
    >>> to_float(np.array([[[0, 255]]], np.uint8))
    array([[[[0., 1.]]]], dtype=float32)
    """
    images = _check_images(images)
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

    Yields
    ------
    x : ndarray, float32, shape (B, 1, H, W), in [0, 1]
    y : ndarray, int64, shape (B,)

    Examples
    --------
    >>> import numpy as np
    >>> images, labels = np.zeros((5, 2, 2), np.uint8), np.arange(5)
    >>> [y.tolist() for _, y in batches(images, labels, 2)]
    [[0, 1], [2, 3], [4]]
    >>> [x.shape for x, _ in batches(images, labels, 2, drop_last=True)]
    [(2, 1, 2, 2), (2, 1, 2, 2)]
    """
    images = _check_images(images)
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(images):
        raise TypeError(
            f"labels: expected integers of shape ({len(images)},), got {labels.dtype} {labels.shape}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    n = len(images)
    order = np.random.default_rng(int(seed)).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        yield to_float(images[index]), labels[index].astype(np.int64)
