"""``make_dataset``: the one call the training CLI makes to get train and test arrays."""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from ..validation import check_choice, check_int, check_memory, describe, fail
from .digits import IMAGE_SIZE, synthetic_digits
from .distortions import DISTORTIONS, distort
from .mnist import NUM_CLASSES, read_split

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
    value = check_int(value, "make_dataset", name, minimum=1)
    check_memory((value, IMAGE_SIZE, IMAGE_SIZE), np.uint8, "make_dataset", name, "images")
    return value


def _take(images, labels, size, name, split, source):
    if len(images) == 0:
        fail("make_dataset", "data_dir", f"at least one sample in the {split} split",
             f"an empty {split} split in {source}")
    if size is None:
        return images, labels
    if size > len(images):
        fail("make_dataset", name, f"at most the {len(images)} images of the {split} split in {source}", size)
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
        42 (RTS) or 60 (TC) (files of another size keep it, with ``distortion="none"``), labels
        int64 in [0, 10).

    Raises
    ------
    ValueError
        Naming the argument: an unknown name or distortion, a bad size or seed, a folder whose
        files are malformed, hold labels outside [0, 10), or an empty split.
    """
    here = "make_dataset"
    check_choice(name, DATASETS, here, "name")
    check_choice(distortion, DISTORTIONS, here, "distortion")
    train_size = _check_size(train_size, "train_size")
    test_size = _check_size(test_size, "test_size")
    seed = check_int(seed, here, "seed", minimum=0)
    digits_train, digits_test, distort_train, distort_test = (
        int(s) for s in np.random.SeedSequence(int(seed)).generate_state(4)
    )
    if name == "digits":
        if data_dir is not None:
            fail(here, "data_dir", "None with name 'digits' (a folder is only read for 'mnist' or 'fashion-mnist')",
                 describe(data_dir))
        x_train, y_train = synthetic_digits(DIGITS_SIZES[0] if train_size is None else train_size, digits_train)
        x_test, y_test = synthetic_digits(DIGITS_SIZES[1] if test_size is None else test_size, digits_test)
    else:
        if data_dir is None:
            fail(here, "data_dir", f"a folder with the four MNIST-layout files for name {name!r}", "None")
        split = lambda which: read_split(data_dir, which, NUM_CLASSES, here, "data_dir")  # noqa: E731
        data_dir = os.fspath(data_dir) if isinstance(data_dir, (str, os.PathLike)) else data_dir
        x_train, y_train = _take(*split("train"), train_size, "train_size", "train", data_dir)
        x_test, y_test = _take(*split("test"), test_size, "test_size", "test", data_dir)
        if x_test.shape[1:] != x_train.shape[1:]:
            fail(here, "data_dir", f"test images of the training images' size {x_train.shape[1:]}",
                 f"{x_test.shape[1:]} in {data_dir}")
        if x_train.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) and distortion != "none":
            fail(here, "distortion", f"'none' for images other than {IMAGE_SIZE} x {IMAGE_SIZE} (the paper's "
                 "distortions are defined on 28 x 28 digits)", f"{distortion!r} with {data_dir}'s "
                 f"{x_train.shape[1]} x {x_train.shape[2]} images")
    return Splits(
        distort(x_train, distortion, distort_train),
        y_train,
        distort(x_test, distortion, distort_test),
        y_test,
    )
