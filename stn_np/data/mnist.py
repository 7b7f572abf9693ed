"""Data sets in the MNIST file layout (MNIST, Fashion-MNIST, KMNIST, ...)."""

from __future__ import annotations

import os

import numpy as np

from .idx import load_idx

__all__ = ["load_mnist_like", "MNIST_FILES"]

#: split -> (images file, labels file), each found raw or with a ``.gz`` suffix.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(directory, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"data_dir {directory!r}: neither {name} nor {name}.gz found")


def load_mnist_like(directory, split="train"):
    """Load one split of a data set stored in the MNIST layout.

    Parameters
    ----------
    directory : str or os.PathLike
        Folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or gzipped (a
        raw file is preferred when both exist).
    split : {"train", "test"}
        Which pair of files to read.

    Returns
    -------
    images : ndarray, uint8, shape (n, rows, cols)
    labels : ndarray, int64, shape (n,)

    Raises
    ------
    FileNotFoundError
        When the folder or a file is missing.
    ValueError
        When a file is malformed (see :func:`~stn_np.data.load_idx`), has the wrong dtype or
        rank, or the images and labels disagree in count.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"data_dir {directory!r} is not a directory")
    image_path, label_path = (_find(directory, name) for name in MNIST_FILES[split])
    images = load_idx(image_path)
    labels = load_idx(label_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"{image_path}: expected 3-d unsigned byte images, got {images.ndim}-d {images.dtype}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{label_path}: expected 1-d unsigned byte labels, got {labels.ndim}-d {labels.dtype}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{directory}: {split} split has {len(images)} images ({os.path.basename(image_path)}) "
            f"but {len(labels)} labels ({os.path.basename(label_path)})"
        )
    return images, labels.astype(np.int64)
