"""The benchmark's two models: a small CNN and the same CNN behind an affine spatial transformer.

Both follow the distorted-MNIST protocol of the benchmark exactly (PyTorch default
initialisation, float32 by default). For a square input of side ``S``:

CNN (``cnn``)::

    conv(1 -> 10, k5), maxpool 2, relu,
    conv(10 -> 20, k5), dropout2d(0.5), maxpool 2, relu,
    flatten (20 * s2^2), linear(-> 50), relu, dropout(0.5), linear(50 -> 10)

with ``s2 = ((S - 4) // 2 - 4) // 2``: 980 features on 42 x 42, 320 on 28 x 28, 2880 on 60 x 60.

ST-CNN (``st_cnn``): an affine :class:`~stn_np.nn.SpatialTransformer` on the input whose
localisation network is::

    conv(1 -> 8, k7), maxpool 2, relu, conv(8 -> 10, k5), maxpool 2, relu,
    flatten (10 * l2^2), linear(-> 32), relu          then the regressor linear(32 -> 6), identity

with ``l2 = ((S - 6) // 2 - 4) // 2`` (490 features on 42 x 42), sampling a ``T x T`` output
(``transformer_size``; 28 by default, the input's side when that is smaller), followed by
the CNN's classifier on ``T x T`` (320 features for T = 28).
"""

from __future__ import annotations

import numpy as np

from ..rng import resolve_rng
from ..validation import check_choice, check_int, fail
from .layers import Conv2d, Dropout, Dropout2d, Flatten, Linear, MaxPool2d, ReLU
from .module import Module, Sequential
from .spatial_transformer import SpatialTransformer, param_groups

__all__ = ["CNN", "STCNN", "cnn", "st_cnn", "build_model", "MODELS", "classifier_features", "localization_features"]

#: Side of the spatial transformer's output in the benchmark protocol.
TRANSFORMER_SIZE = 28


def _side(input_size, function, name="input_size"):
    return check_int(input_size, function, name, minimum=1)


def _after(size, convs_and_pools, function, name, minimum_note):
    for kernel in convs_and_pools:
        size = (size - kernel + 1) // 2  # valid convolution, then 2 x 2 max pooling (floor)
        if size < 1:
            fail(function, name, f"a side large enough for {minimum_note}", size)
    return size


def classifier_features(input_size):
    """Flattened features of the classifier's convolutions on ``input_size`` x ``input_size``: 20 * s2^2."""
    side = _after(_side(input_size, "cnn"), (5, 5), "cnn", "input_size",
                  "the classifier (two k5 convs + 2x2 pools)")
    return 20 * side * side


def localization_features(input_size):
    """Flattened features of the localisation convolutions on ``input_size`` x ``input_size``: 10 * l2^2."""
    side = _after(_side(input_size, "st_cnn"), (7, 5), "st_cnn", "input_size",
                  "the localisation net (k7 and k5 convs + 2x2 pools)")
    return 10 * side * side


def classifier(input_size, num_classes=10, in_channels=1, dtype=np.float32, rng=None):
    """The benchmark's classifier as a :class:`Sequential` for square inputs of side ``input_size``."""
    rng = resolve_rng(rng)
    features = classifier_features(input_size)
    return Sequential(
        Conv2d(in_channels, 10, 5, dtype=dtype, rng=rng), MaxPool2d(2), ReLU(),
        Conv2d(10, 20, 5, dtype=dtype, rng=rng), Dropout2d(0.5), MaxPool2d(2), ReLU(),
        Flatten(), Linear(features, 50, dtype=dtype, rng=rng), ReLU(), Dropout(0.5),
        Linear(50, num_classes, dtype=dtype, rng=rng),
    )


def localization(input_size, in_channels=1, hidden=32, dtype=np.float32, rng=None):
    """The ST-CNN's localisation network (up to the hidden ReLU; the regressor is the transformer's)."""
    rng = resolve_rng(rng)
    features = localization_features(input_size)
    return Sequential(
        Conv2d(in_channels, 8, 7, dtype=dtype, rng=rng), MaxPool2d(2), ReLU(),
        Conv2d(8, 10, 5, dtype=dtype, rng=rng), MaxPool2d(2), ReLU(),
        Flatten(), Linear(features, hidden, dtype=dtype, rng=rng), ReLU(),
    )


class CNN(Module):
    """The benchmark CNN (see the module docstring); ``forward`` returns logits (N, num_classes).

    Attributes
    ----------
    classifier : Sequential
        The twelve layers, parameters named ``classifier.{0,3,8,11}.{weight,bias}``.
    input_size : int
    """

    def __init__(self, input_size=42, num_classes=10, in_channels=1, dtype=np.float32, rng=None):
        super().__init__()
        self.input_size = _side(input_size, type(self).__name__)
        self.classifier = classifier(self.input_size, num_classes, in_channels, dtype, rng)

    def forward(self, x):
        return self.classifier(x)

    def param_groups(self, lr):
        """One optimizer parameter group at ``lr`` (the interface :class:`STCNN` shares)."""
        return param_groups(self, lr)

    def extra_repr(self):
        return f"input_size={self.input_size}"


class STCNN(Module):
    """The benchmark ST-CNN: an affine spatial transformer, then the CNN classifier on its output.

    Attributes
    ----------
    transformer : SpatialTransformer
        Localisation parameters ``transformer.localization.{0,3,7}.*``, regressor
        ``transformer.regressor.*`` (identity-initialised).
    classifier : Sequential
        As in :class:`CNN`, on ``transformer_size`` x ``transformer_size`` images.
    input_size, transformer_size : int
    """

    def __init__(self, input_size=42, transformer_size=None, num_classes=10, in_channels=1, lr_mult=1.0,
                 dtype=np.float32, rng=None):
        super().__init__()
        self.input_size = _side(input_size, type(self).__name__)
        if transformer_size is None:
            transformer_size = min(TRANSFORMER_SIZE, self.input_size)
        self.transformer_size = _side(transformer_size, type(self).__name__, "transformer_size")
        rng = resolve_rng(rng)
        loc = localization(self.input_size, in_channels, 32, dtype, rng)
        self.transformer = SpatialTransformer(loc, 32, "affine", out_size=self.transformer_size,
                                              lr_mult=lr_mult, dtype=dtype, rng=rng)
        self.classifier = classifier(self.transformer_size, num_classes, in_channels, dtype, rng)

    def forward(self, x):
        return self.classifier(self.transformer(x))

    def param_groups(self, lr):
        """Optimizer groups: the classifier at ``lr``, the localisation at ``lr * lr_mult``."""
        return param_groups(self, lr)

    def extra_repr(self):
        return f"input_size={self.input_size}, transformer_size={self.transformer_size}"


def cnn(input_size=42, num_classes=10, in_channels=1, dtype=np.float32, rng=None):
    """Build the benchmark CNN for square inputs of side ``input_size`` (see :class:`CNN`).

    Examples
    --------
    >>> from stn_np.nn.models import cnn
    >>> sum(p.size for p in cnn(42).parameters())  # 260 + 5020 + 49050 + 510
    54840
    """
    return CNN(input_size, num_classes, in_channels, dtype, rng)


def st_cnn(input_size=42, transformer_size=None, num_classes=10, in_channels=1, lr_mult=1.0,
           dtype=np.float32, rng=None):
    """Build the benchmark ST-CNN for square inputs of side ``input_size`` (see :class:`STCNN`).

    Examples
    --------
    >>> from stn_np.nn.models import st_cnn
    >>> model = st_cnn(42)
    >>> model.transformer.out_size, sum(p.size for p in model.parameters())
    ((28, 28), 40160)
    """
    return STCNN(input_size, transformer_size, num_classes, in_channels, lr_mult, dtype, rng)


#: Builders by the names the command line uses.
MODELS = {"cnn": cnn, "st-cnn": st_cnn}


def build_model(name, input_size, lr_mult=1.0, dtype=np.float32, rng=None):
    """Build model ``name`` ("cnn" or "st-cnn") for square inputs of side ``input_size``.

    ``lr_mult`` (the localisation's learning-rate multiplier) only applies to "st-cnn".
    """
    check_choice(name, tuple(MODELS), "build_model", "model")
    if name == "cnn":
        return cnn(input_size, dtype=dtype, rng=rng)
    return st_cnn(input_size, lr_mult=lr_mult, dtype=dtype, rng=rng)
