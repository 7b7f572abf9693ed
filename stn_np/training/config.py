"""``TrainConfig``: every setting that decides a training run's result, validated in one place.

The config is stored in ``metrics.json`` and in the checkpoint, so a run can be resumed or its
model rebuilt (``stn-np evaluate``) from the file alone. Its defaults are the README's main job
(``stn-np train`` with no options): the ST-CNN on RTS synthetic digits.
"""

from __future__ import annotations

import dataclasses
import os

from ..data import DATASETS, DISTORTIONS
from ..nn.models import MODELS, check_model, has_transformer
from ..validation import check_choice, check_int, check_number, fail

__all__ = ["TrainConfig", "OPTIMIZERS", "DEFAULT_DIGITS_SIZES"]

OPTIMIZERS = ("sgd", "adam")
#: (train, test) sizes of the synthetic digits when none are given (files default to all).
DEFAULT_DIGITS_SIZES = (30000, 10000)


_HERE = "TrainConfig"


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
    model : {"fcn", "cnn", "st-fcn", "st-cnn"}
        See :mod:`stn_np.nn.models`.
    transform : str, optional
        The spatial transformer's family for "st-fcn" / "st-cnn", one of the parametric families
        of :mod:`stn_np.sampling.families` (None: "affine", which the config then holds; configs
        stored before this field existed load as "affine"). The baselines have none: for them it
        is stored as None whatever is given.
    epochs, batch_size : int
        Passes over the training set, and samples per step.
    optimizer : {"sgd", "adam"}
    lr : float
        Learning rate of the classifier (and of everything in "cnn").
    loc_lr_mult : float
        Multiplier of ``lr`` for an ST model's localisation network and regressor.
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
    transform: str | None = None
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
        check_choice(self.data, DATASETS, _HERE, "data")
        check_choice(self.distortion, DISTORTIONS, _HERE, "distortion")
        check_choice(self.model, tuple(MODELS), _HERE, "model")
        # a baseline has no transformer: its transform is dropped, so that a config can switch models
        # (dataclasses.replace); `stn-np train` rejects --transform for one instead
        transform = self.transform if has_transformer(self.model) else None
        fix("transform", check_model(self.model, transform, _HERE))
        check_choice(self.optimizer, OPTIMIZERS, _HERE, "optimizer")
        if self.data == "digits" and self.data_dir is not None:
            fail(_HERE, "data_dir", "None with data 'digits' (it is only for 'mnist' or 'fashion-mnist')",
                 self.data_dir)
        if self.data != "digits":
            if self.data_dir is None:
                fail(_HERE, "data_dir", f"a folder with the four MNIST-layout files for data {self.data!r}", "None")
            fix("data_dir", os.fspath(self.data_dir))
        fix("epochs", check_int(self.epochs, _HERE, "epochs", minimum=1))
        fix("batch_size", check_int(self.batch_size, _HERE, "batch_size", minimum=1))
        fix("lr", check_number(self.lr, _HERE, "lr", minimum=0, strict_low=True))
        fix("loc_lr_mult", check_number(self.loc_lr_mult, _HERE, "loc_lr_mult", minimum=0))
        fix("momentum", check_number(self.momentum, _HERE, "momentum", minimum=0))
        fix("seed", check_int(self.seed, _HERE, "seed", minimum=0))
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None:
                fix(name, check_int(getattr(self, name), _HERE, name, minimum=1))

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
            fail("TrainConfig.from_dict", "values", "a dict", f"a {type(values).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            fail("TrainConfig.from_dict", "values", f"fields among {', '.join(sorted(names))}",
                 f"unknown fields {', '.join(unknown)}")
        return cls(**values)

    def differences(self, other, ignore=("epochs", "data_dir")):
        """Names of the fields whose values differ from ``other``'s, except those in ``ignore``."""
        return [f.name for f in dataclasses.fields(self)
                if f.name not in ignore and getattr(self, f.name) != getattr(other, f.name)]
