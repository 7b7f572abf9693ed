"""``make_dataset``: the one call the training CLI makes to get train and test arrays."""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from .digits import synthetic_digits
from .distortions import DISTORTIONS, distort
from .mnist import load_mnist_like

__all__ = ["make_dataset", "Splits", "DATASETS", "DIGITS_SIZES"]

DATASETS = ("digits", "mnist", "fashion-mnist")
#: Default (train, test) sizes of the synthetic digits: MNIST's.
DIGITS_SIZES = (60000, 10000)


class Splits(NamedTuple):
    """Train and test arrays: uint8 images (n, S, S) and int64 labels (n,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def _check_size(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive int or None, got {value!r}")
    return int(value)


def _take(images, labels, size, name, split, source):
    if size is None:
        return images, labels
    if size > len(images):
        raise ValueError(f"{name}: asked for {size} images but {source} has only {len(images)} in its {split} split")
    return images[:size], labels[:size]


def make_dataset(name="digits", data_dir=None, distortion="none", train_size=None, test_size=None, seed=0):
    """Build the train and test sets: load or render the digits, then distort them.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion-mnist"}
        ``"digits"`` renders :func:`~stn_np.data.synthetic_digits` (no files needed); the
        others read the four MNIST-layout files from ``data_dir``.
    data_dir : str or os.PathLike, optional
        Required for ``"mnist"`` and ``"fashion-mnist"``; not accepted for ``"digits"``.
    distortion : {"none", "R", "RTS", "P", "E", "TC"}
        Applied to both splits (see :mod:`stn_np.data.distortions`).
    train_size, test_size : int, optional
        Number of samples per split. For ``"digits"`` the defaults are 60000 and 10000; for
        files, the first ``train_size`` / ``test_size`` samples (default: all).
    seed : int
        Non-negative; four independent seeds are derived from it (digits and distortion, for
        train and test), so the result depends only on the arguments.

    Returns
    -------
    Splits
        ``(train_images, train_labels, test_images, test_labels)``; images uint8 of side 28,
        42 (RTS) or 60 (TC), labels int64.
    """
    if name not in DATASETS:
        raise ValueError(f"name: expected one of {', '.join(DATASETS)}, got {name!r}")
    if distortion not in DISTORTIONS:
        raise ValueError(f"distortion: expected one of {', '.join(DISTORTIONS)}, got {distortion!r}")
    train_size = _check_size(train_size, "train_size")
    test_size = _check_size(test_size, "test_size")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    digits_train, digits_test, distort_train, distort_test = (
        int(s) for s in np.random.SeedSequence(int(seed)).generate_state(4)
    )
    if name == "digits":
        if data_dir is not None:
            raise ValueError("data_dir: only used with name='mnist' or 'fashion-mnist', not 'digits'")
        x_train, y_train = synthetic_digits(DIGITS_SIZES[0] if train_size is None else train_size, digits_train)
        x_test, y_test = synthetic_digits(DIGITS_SIZES[1] if test_size is None else test_size, digits_test)
    else:
        if data_dir is None:
            raise ValueError(f"data_dir: required for name={name!r} (a folder with the four MNIST-layout files)")
        data_dir = os.fspath(data_dir)
        x_train, y_train = _take(*load_mnist_like(data_dir, "train"), train_size, "train_size", "train", data_dir)
        x_test, y_test = _take(*load_mnist_like(data_dir, "test"), test_size, "test_size", "test", data_dir)
        if x_train.shape[1:] != (28, 28) and distortion != "none":
            raise ValueError(f"distortion: {distortion!r} needs 28 x 28 images, {data_dir} has {x_train.shape[1:]}")
    return Splits(
        distort(x_train, distortion, distort_train),
        y_train,
        distort(x_test, distortion, distort_test),
        y_test,
    )
