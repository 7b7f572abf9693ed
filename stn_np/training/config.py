"""``TrainConfig``: every setting that decides a training run's result, validated in one place.

The config is stored in ``metrics.json`` and in the checkpoint, so a run can be resumed or its
model rebuilt (``stn-np evaluate``) from the file alone. Its defaults are the README's main job
(``stn-np train`` with no options): the ST-CNN on RTS synthetic digits.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from ..data import DATASETS, DISTORTIONS
from ..nn.models import MODELS

__all__ = ["TrainConfig", "OPTIMIZERS", "DEFAULT_DIGITS_SIZES"]

OPTIMIZERS = ("sgd", "adam")
#: (train, test) sizes of the synthetic digits when none are given (files default to all).
DEFAULT_DIGITS_SIZES = (30000, 10000)


def _positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def _number(value, name, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name}: expected a {'positive' if positive else 'non-negative'} number, got {value!r}")
    return value


def _choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (all validated on construction; ``ValueError`` names the field).

    Parameters
    ----------
    data : {"digits", "mnist", "fashion-mnist"}
        Synthetic digits (rendered, no files) or MNIST-layout files in ``data_dir``.
    data_dir : str, optional
        Folder of the four MNIST-layout files; required for "mnist" and "fashion-mnist".
    distortion : {"none", "R", "RTS", "P", "E", "TC"}
        The paper's distortion applied to both splits (RTS gives 42 x 42 images).
    model : {"cnn", "st-cnn"}
        See :mod:`stn_np.nn.models`.
    epochs, batch_size : int
        Passes over the training set, and samples per step.
    optimizer : {"sgd", "adam"}
    lr : float
        Learning rate of the classifier (and of everything in "cnn").
    loc_lr_mult : float
        Multiplier of ``lr`` for the ST-CNN's localisation network and regressor.
    momentum : float
        SGD momentum (ignored by Adam).
    seed : int
        Seeds the data, the initial weights, the dropout masks and the shuffling.
    train_size, test_size : int, optional
        Samples per split; None: the defaults of :meth:`resolved`.
    """

    data: str = "digits"
    data_dir: str | None = None
    distortion: str = "RTS"
    model: str = "st-cnn"
    epochs: int = 6
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    loc_lr_mult: float = 1.0
    momentum: float = 0.9
    seed: int = 0
    train_size: int | None = None
    test_size: int | None = None

    def __post_init__(self):
        fix = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        _choice(self.data, "data", DATASETS)
        _choice(self.distortion, "distortion", DISTORTIONS)
        _choice(self.model, "model", tuple(MODELS))
        _choice(self.optimizer, "optimizer", OPTIMIZERS)
        if self.data == "digits" and self.data_dir is not None:
            raise ValueError("data_dir: only used with --data mnist or fashion-mnist, not digits")
        if self.data != "digits":
            if self.data_dir is None:
                raise ValueError(f"data_dir: required with --data {self.data} (a folder with the four MNIST-layout files)")
            fix("data_dir", os.fspath(self.data_dir))
        fix("epochs", _positive_int(self.epochs, "epochs"))
        fix("batch_size", _positive_int(self.batch_size, "batch_size"))
        fix("lr", _number(self.lr, "lr", positive=True))
        fix("loc_lr_mult", _number(self.loc_lr_mult, "loc_lr_mult"))
        fix("momentum", _number(self.momentum, "momentum"))
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed: expected a non-negative int, got {self.seed!r}")
        fix("seed", int(self.seed))
        fix("train_size", _positive_int(self.train_size, "train_size", allow_none=True))
        fix("test_size", _positive_int(self.test_size, "test_size", allow_none=True))

    def resolved(self):
        """A copy with the split sizes filled in for synthetic digits (:data:`DEFAULT_DIGITS_SIZES`).

        Files keep None, meaning every sample of the split.
        """
        if self.data != "digits":
            return self
        train, test = DEFAULT_DIGITS_SIZES
        return dataclasses.replace(self, train_size=self.train_size or train, test_size=self.test_size or test)

    def to_dict(self):
        """The fields as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Rebuild from :meth:`to_dict` output; ``ValueError`` for unknown or invalid fields."""
        if not isinstance(values, dict):
            raise ValueError(f"config: expected a dict, got {type(values).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"config: unknown fields {', '.join(unknown)}")
        return cls(**values)

    def differences(self, other, ignore=("epochs", "data_dir")):
        """Names of the fields whose values differ from ``other``'s, except those in ``ignore``."""
        return [f.name for f in dataclasses.fields(self)
                if f.name not in ignore and getattr(self, f.name) != getattr(other, f.name)]
