"""Data sets in the MNIST file layout (MNIST, Fashion-MNIST, KMNIST, ...)."""

from __future__ import annotations

import os

import numpy as np

from ..io import check_path
from ..validation import check_choice, check_int, fail
from .idx import load_idx

__all__ = ["load_mnist_like", "MNIST_FILES", "NUM_CLASSES"]

#: Classes of the MNIST-layout data sets (MNIST, Fashion-MNIST, KMNIST): labels 0 to 9.
NUM_CLASSES = 10

#: split -> (images file, labels file), each found raw or with a ``.gz`` suffix.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(directory, name, function, argument):
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"{function}: {argument}: expected a folder holding {name} or {name}.gz, "
                            f"got {directory} (neither found)")


def load_mnist_like(directory, split="train", num_classes=NUM_CLASSES):
    """Load one split of a data set stored in the MNIST layout.

    Parameters
    ----------
    directory : str or os.PathLike
        Folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or gzipped (a
        raw file is preferred when both exist).
    split : {"train", "test"}
        Which pair of files to read.
    num_classes : int
        Labels must lie in ``[0, num_classes)`` (10 for the MNIST-layout sets); a label out of
        range is refused here, naming the file, rather than failing later in training.

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
        rank, holds a label outside ``[0, num_classes)``, or the images and labels disagree in
        count.
    """
    check_choice(split, tuple(MNIST_FILES), "load_mnist_like", "split")
    num_classes = check_int(num_classes, "load_mnist_like", "num_classes", minimum=1)
    return read_split(directory, split, num_classes, "load_mnist_like", "directory")


def read_split(directory, split, num_classes, function, argument):
    """:func:`load_mnist_like` with the messages naming ``function`` and its ``argument`` (the folder)."""
    directory = check_path(directory, function, argument)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{function}: {argument}: expected a folder of MNIST-layout files, got {directory} "
                                "(not a directory)")
    image_path, label_path = (_find(directory, name, function, argument) for name in MNIST_FILES[split])
    images = load_idx(image_path)
    labels = load_idx(label_path)
    if images.dtype != np.uint8 or images.ndim != 3 or 0 in images.shape[1:]:
        fail(function, argument, "MNIST-layout files", f"{image_path}, which holds {images.ndim}-d {images.dtype} "
             f"of shape {images.shape}, not (n, rows, cols) unsigned bytes")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        fail(function, argument, "MNIST-layout files", f"{label_path}, which holds {labels.ndim}-d {labels.dtype}, "
             "not 1-d unsigned byte labels")
    if len(images) != len(labels):
        fail(function, argument, f"as many labels as images in the {split} split",
             f"{len(images)} images ({os.path.basename(image_path)}) but {len(labels)} labels "
             f"({os.path.basename(label_path)}) in {directory}")
    out_of_range = np.flatnonzero(labels >= num_classes)
    if out_of_range.size:
        i = int(out_of_range[0])
        fail(function, argument, f"labels in [0, {num_classes})",
             f"label {int(labels[i])} at index {i} of {label_path} ({out_of_range.size} out of range)")
    return images, labels.astype(np.int64)
