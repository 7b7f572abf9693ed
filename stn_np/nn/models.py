"""The model zoo of the paper's Table 1: an FCN, a CNN, and each behind a spatial transformer.

Four builders for square images of side ``S`` (28 for the R, P and E distortions, 42 for RTS,
60 for TC); PyTorch's default initialisation, float32 by default; ``forward`` returns logits.

``fcn(S)``, the fully connected baseline (three weight layers, as the paper's classifiers)::

    flatten (S^2), linear(-> 128), relu, linear(128 -> 128), relu, linear(128 -> 10)

``cnn(S)``, the convolutional baseline. Its design, layer for layer, is the ``Net`` of
PyTorch's spatial transformer tutorial (Ghassen Hamrouni), which the reference runs of this
project used; the localisation network of ``st_cnn`` is that tutorial's too::

    conv(1 -> 10, k5), maxpool 2, relu, conv(10 -> 20, k5), dropout2d(0.5), maxpool 2, relu,
    flatten (20 * s2^2), linear(-> 50), relu, dropout(0.5), linear(50 -> 10)

with ``s2 = ((S - 4) // 2 - 4) // 2``: 320 features on 28 x 28, 980 on 42 x 42.

``st_fcn(S, transform=...)`` and ``st_cnn(S, transform=...)``: a
:class:`~stn_np.nn.SpatialTransformer` on the input, then the baseline's classifier on the
transformer's ``T x T`` output (``transformer_size``: 28 by default, the input's side when that
is smaller). The localisation networks (replaceable with ``localization=``)::

    st_fcn:  flatten, linear(S^2 -> 32), relu, linear(32 -> 32), relu
    st_cnn:  conv(1 -> 8, k7), maxpool 2, relu, conv(8 -> 10, k5), maxpool 2, relu,
             flatten (10 * l2^2), linear(-> 32), relu,       l2 = ((S - 6) // 2 - 4) // 2

each followed by the transformer's regressor ``linear(32 -> P)``, initialised to the identity
transform, P being the family's parameter count (:mod:`stn_np.sampling.families`; any
parametric family: affine, attention, projective or tps). Sampling is bilinear with zero
padding; ``lr_mult`` scales the localisation network's learning rate (:func:`param_groups`).

Matched parameter counts. The paper compares models of (about) equal size, so that a spatial
transformer's gain is not bought with parameters. Here every ST model has, within 1%, the
parameter count of its baseline on the same input: the width of its classifier's hidden layers
(``hidden``) is chosen to make it so (:func:`matched_hidden`). A transformer that shrinks a
42 x 42 canvas to 28 x 28 leaves its classifier fewer inputs, so the width grows; on 28 x 28
inputs the localisation network's parameters are taken from the classifier, so it shrinks.
:func:`parameter_table` prints the counts (stated in the README): e.g. on 42 x 42 the CNN has
54,840 parameters and the affine ST-CNN 54,724 (hidden 94); before the zoo, the ST-CNN kept the
CNN's 50 hidden units and had 40,160 (``st_cnn(42, hidden=50)`` still builds it, and
:func:`build_model` rebuilds it from such a checkpoint's weights).
"""

from __future__ import annotations

import numpy as np

from ..rng import resolve_rng
from ..sampling.families import PARAMETRIC, get_family
from ..validation import FLOAT_DTYPES, check_choice, check_dtype, check_int, check_memory, check_number, describe, fail
from .layers import Conv2d, Dropout, Dropout2d, Flatten, Linear, MaxPool2d, ReLU
from .module import Module, Sequential
from .spatial_transformer import SpatialTransformer, param_groups

__all__ = ["Baseline", "STModel", "fcn", "cnn", "st_fcn", "st_cnn", "build_model", "check_model", "has_transformer",
           "MODELS", "KINDS", "zoo", "matched_hidden", "classifier_params", "count_params", "parameter_table",
           "classifier_features", "localization_features", "FCN_HIDDEN", "CNN_HIDDEN", "LOC_HIDDEN",
           "TRANSFORMER_SIZE"]

#: Side of the spatial transformer's output in the benchmark protocol.
TRANSFORMER_SIZE = 28
#: Hidden widths of the baselines' classifiers and of the localisation networks' last layer.
FCN_HIDDEN, CNN_HIDDEN, LOC_HIDDEN = 128, 50, 32
#: The two classifier kinds; "st-<kind>" puts a spatial transformer in front of one.
KINDS = ("fcn", "cnn")
#: Largest hidden width :func:`matched_hidden` considers.
_MAX_HIDDEN = 1 << 14


def _side(input_size, function, name="input_size"):
    return check_int(input_size, function, name, minimum=1)


def _after(size, kernels, function, name, minimum_note):
    for kernel in kernels:
        size = (size - kernel + 1) // 2  # valid convolution, then 2 x 2 max pooling (floor)
        if size < 1:
            fail(function, name, f"a side large enough for {minimum_note}", size)
    return size


def classifier_features(input_size):
    """Flattened features of the CNN classifier's convolutions on ``input_size`` x ``input_size``: 20 * s2^2."""
    side = _after(_side(input_size, "cnn"), (5, 5), "cnn", "input_size",
                  "the classifier (two k5 convs + 2x2 pools)")
    return 20 * side * side


def localization_features(input_size):
    """Flattened features of the ST-CNN's localisation convolutions on ``input_size`` x ``input_size``: 10 * l2^2."""
    side = _after(_side(input_size, "st_cnn"), (7, 5), "st_cnn", "input_size",
                  "the localisation net (k7 and k5 convs + 2x2 pools)")
    return 10 * side * side


def _classifier(kind, side, hidden, num_classes, in_channels, dtype, rng):
    """The FCN or CNN classifier (a :class:`Sequential`) for ``side`` x ``side`` inputs."""
    if kind == "fcn":
        return Sequential(
            Flatten(), Linear(in_channels * side * side, hidden, dtype=dtype, rng=rng), ReLU(),
            Linear(hidden, hidden, dtype=dtype, rng=rng), ReLU(),
            Linear(hidden, num_classes, dtype=dtype, rng=rng),
        )
    features = classifier_features(side)
    return Sequential(
        Conv2d(in_channels, 10, 5, dtype=dtype, rng=rng), MaxPool2d(2), ReLU(),
        Conv2d(10, 20, 5, dtype=dtype, rng=rng), Dropout2d(0.5), MaxPool2d(2), ReLU(),
        Flatten(), Linear(features, hidden, dtype=dtype, rng=rng), ReLU(), Dropout(0.5),
        Linear(hidden, num_classes, dtype=dtype, rng=rng),
    )


def classifier_params(kind, input_size, hidden, num_classes=10, in_channels=1):
    """Parameter count of the ``kind`` classifier with ``hidden`` units on ``input_size`` x ``input_size``.

    The closed form the matching searches over (the tests hold it to the built layers):
    FCN ``(F + 1) h + (h + 1) h + (h + 1) c`` with ``F = in_channels * S^2``; CNN
    ``(25 in_channels + 1) 10 + 5020 + (F + 1) h + (h + 1) c`` with ``F = 20 * s2^2``.
    """
    kind = check_choice(kind, KINDS, "classifier_params", "kind")
    side = _side(input_size, "classifier_params")
    hidden = check_int(hidden, "classifier_params", "hidden", minimum=1)
    if kind == "fcn":
        features = in_channels * side * side
        return (features + 1) * hidden + (hidden + 1) * hidden + (hidden + 1) * num_classes
    convs = (in_channels * 25 + 1) * 10 + (10 * 25 + 1) * 20
    return convs + (classifier_features(side) + 1) * hidden + (hidden + 1) * num_classes


def _localization(kind, side, in_channels, dtype, rng):
    """The ``st_<kind>`` localisation network (up to its last ReLU; the regressor is the transformer's)."""
    if kind == "fcn":
        return Sequential(
            Flatten(), Linear(in_channels * side * side, LOC_HIDDEN, dtype=dtype, rng=rng), ReLU(),
            Linear(LOC_HIDDEN, LOC_HIDDEN, dtype=dtype, rng=rng), ReLU(),
        )
    features = localization_features(side)
    return Sequential(
        Conv2d(in_channels, 8, 7, dtype=dtype, rng=rng), MaxPool2d(2), ReLU(),
        Conv2d(8, 10, 5, dtype=dtype, rng=rng), MaxPool2d(2), ReLU(),
        Flatten(), Linear(features, LOC_HIDDEN, dtype=dtype, rng=rng), ReLU(),
    )


def count_params(model):
    """Number of scalar parameters of ``model``."""
    return sum(p.size for p in model.parameters())


def matched_hidden(kind, target, fixed, classifier_size, num_classes=10, in_channels=1):
    """The hidden width ``h`` that brings ``fixed + classifier_params(kind, classifier_size, h)`` closest to ``target``.

    Parameters
    ----------
    kind : {"fcn", "cnn"}
    target : int
        The parameter count to match (the baseline's).
    fixed : int
        Parameters outside the classifier (the localisation network and the regressor).
    classifier_size : int
        Side of the classifier's input (the transformer's output).

    Returns
    -------
    int
        At least 1; ties go to the smaller width.
    """
    best, best_gap = 1, None
    for hidden in range(1, _MAX_HIDDEN + 1):
        total = fixed + classifier_params(kind, classifier_size, hidden, num_classes, in_channels)
        gap = abs(total - target)
        if best_gap is None or gap < best_gap:
            best, best_gap = hidden, gap
        if total > target:  # the count grows with the width: nothing further is closer
            break
    return best


class Baseline(Module):
    """The FCN or CNN baseline (see the module docstring); ``forward`` returns logits (N, num_classes).

    Attributes
    ----------
    classifier : Sequential
        FCN: parameters ``classifier.{1,3,5}.*``; CNN: ``classifier.{0,3,8,11}.*``.
    kind : {"fcn", "cnn"}
    input_size, hidden : int
    transformer : None
        (Baselines have no spatial transformer.)
    """

    transformer = None

    def __init__(self, kind, input_size=42, *, hidden=None, num_classes=10, in_channels=1, dtype=np.float32,
                 rng=None):
        super().__init__()
        here = kind if kind in KINDS else "Baseline"
        self.kind = check_choice(kind, KINDS, "Baseline", "kind")
        self.input_size = _side(input_size, here)
        default = FCN_HIDDEN if kind == "fcn" else CNN_HIDDEN
        self.hidden = default if hidden is None else check_int(hidden, here, "hidden", minimum=1)
        self.classifier = _classifier(kind, self.input_size, self.hidden, num_classes, in_channels, dtype,
                                      resolve_rng(rng))

    def forward(self, x):
        return self.classifier(x)

    def param_groups(self, lr):
        """One optimizer parameter group at ``lr`` (the interface :class:`STModel` shares)."""
        return param_groups(self, lr)

    def extra_repr(self):
        return f"kind={self.kind!r}, input_size={self.input_size}, hidden={self.hidden}"


class STModel(Module):
    """A spatial transformer, then the FCN or CNN classifier on its output (see the module docstring).

    Attributes
    ----------
    transformer : SpatialTransformer
        Localisation parameters ``transformer.localization.*``, regressor ``transformer.regressor.*``
        (identity-initialised).
    classifier : Sequential
        As in :class:`Baseline`, on ``transformer_size`` x ``transformer_size`` images.
    kind : {"fcn", "cnn"}
    transform : str
        The transformer's family.
    input_size, transformer_size, hidden : int
    """

    def __init__(self, kind, input_size=42, *, transform="affine", transformer_size=None, hidden=None,
                 localization=None, loc_features=None, lr_mult=1.0, num_classes=10, in_channels=1,
                 dtype=np.float32, rng=None):
        super().__init__()
        self.kind = check_choice(kind, KINDS, "STModel", "kind")
        here = f"st_{kind}"
        get_family(transform, here, parametric=True)
        self.transform = transform
        self.input_size = _side(input_size, here)
        if transformer_size is None:
            transformer_size = min(TRANSFORMER_SIZE, self.input_size)
        self.transformer_size = _side(transformer_size, here, "transformer_size")
        rng = resolve_rng(rng)
        if localization is None:
            if loc_features is not None:
                fail(here, "loc_features", "None unless a localization network is given", loc_features)
            localization, loc_features = _localization(kind, self.input_size, in_channels, dtype, rng), LOC_HIDDEN
        elif loc_features is None:
            fail(here, "loc_features", "the number of features the given localization network ends in", None)
        self.transformer = SpatialTransformer(localization, loc_features, transform, out_size=self.transformer_size,
                                              lr_mult=lr_mult, dtype=dtype, rng=rng)
        if hidden is None:
            baseline = classifier_params(kind, self.input_size, FCN_HIDDEN if kind == "fcn" else CNN_HIDDEN,
                                         num_classes, in_channels)
            hidden = matched_hidden(kind, baseline, count_params(self.transformer), self.transformer_size,
                                    num_classes, in_channels)
        self.hidden = check_int(hidden, here, "hidden", minimum=1)
        self.classifier = _classifier(kind, self.transformer_size, self.hidden, num_classes, in_channels, dtype, rng)

    def forward(self, x):
        return self.classifier(self.transformer(x))

    def param_groups(self, lr):
        """Optimizer groups: the classifier at ``lr``, the localisation network at ``lr * lr_mult``."""
        return param_groups(self, lr)

    def extra_repr(self):
        return (f"kind={self.kind!r}, transform={self.transform!r}, input_size={self.input_size}, "
                f"transformer_size={self.transformer_size}, hidden={self.hidden}")


def fcn(input_size=42, *, hidden=FCN_HIDDEN, num_classes=10, in_channels=1, dtype=np.float32, rng=None):
    """The fully connected baseline for square inputs of side ``input_size`` (see :class:`Baseline`).

    Examples
    --------
    >>> from stn_np.nn.models import count_params, fcn
    >>> count_params(fcn(28))  # 785 * 128 + 129 * 128 + 129 * 10
    118282
    """
    return Baseline("fcn", input_size, hidden=hidden, num_classes=num_classes, in_channels=in_channels,
                    dtype=dtype, rng=rng)


def cnn(input_size=42, *, hidden=CNN_HIDDEN, num_classes=10, in_channels=1, dtype=np.float32, rng=None):
    """The convolutional baseline for square inputs of side ``input_size`` (see :class:`Baseline`).

    Examples
    --------
    >>> from stn_np.nn.models import cnn, count_params
    >>> count_params(cnn(42))  # 260 + 5020 + 49050 + 510
    54840
    """
    return Baseline("cnn", input_size, hidden=hidden, num_classes=num_classes, in_channels=in_channels,
                    dtype=dtype, rng=rng)


def st_fcn(input_size=42, *, transform="affine", transformer_size=None, hidden=None, localization=None,
           loc_features=None, lr_mult=1.0, num_classes=10, in_channels=1, dtype=np.float32, rng=None):
    """A spatial transformer, then the FCN classifier (see :class:`STModel` and the module docstring).

    ``hidden=None`` matches the parameter count of ``fcn(input_size)`` (:func:`matched_hidden`).

    Examples
    --------
    >>> from stn_np.nn.models import count_params, st_fcn
    >>> model = st_fcn(28, transform="tps")
    >>> model.hidden, count_params(model)  # the FCN: 118,282
    (101, 117839)
    """
    return STModel("fcn", input_size, transform=transform, transformer_size=transformer_size, hidden=hidden,
                   localization=localization, loc_features=loc_features, lr_mult=lr_mult,
                   num_classes=num_classes, in_channels=in_channels, dtype=dtype, rng=rng)


def st_cnn(input_size=42, *, transform="affine", transformer_size=None, hidden=None, localization=None,
           loc_features=None, lr_mult=1.0, num_classes=10, in_channels=1, dtype=np.float32, rng=None):
    """A spatial transformer, then the CNN classifier (see :class:`STModel` and the module docstring).

    ``hidden=None`` matches the parameter count of ``cnn(input_size)`` (:func:`matched_hidden`).

    Examples
    --------
    >>> from stn_np.nn.models import count_params, st_cnn
    >>> model = st_cnn(42)
    >>> model.transformer.out_size, model.hidden, count_params(model)  # the CNN: 54,840
    ((28, 28), 94, 54724)
    """
    return STModel("cnn", input_size, transform=transform, transformer_size=transformer_size, hidden=hidden,
                   localization=localization, loc_features=loc_features, lr_mult=lr_mult,
                   num_classes=num_classes, in_channels=in_channels, dtype=dtype, rng=rng)


#: Builders by the names the command line uses.
MODELS = {"fcn": fcn, "cnn": cnn, "st-fcn": st_fcn, "st-cnn": st_cnn}


def _kind(name):
    """("fcn" | "cnn", has a spatial transformer) of a model name."""
    return name.removeprefix("st-"), name.startswith("st-")


def has_transformer(name):
    """Whether zoo model ``name`` has a spatial transformer ("st-fcn", "st-cnn")."""
    check_choice(name, tuple(MODELS), "has_transformer", "model")
    return _kind(name)[1]


def check_model(model, transform=None, function="build_model"):
    """Validate a model name and its transform; returns the transform (None for a baseline).

    ``transform`` None means "affine" for a model with a spatial transformer; a baseline takes
    none (``ValueError`` otherwise, so that a transform is never silently ignored).
    """
    check_choice(model, tuple(MODELS), function, "model")
    if not _kind(model)[1]:
        if transform is not None:
            fail(function, "transform", f"no transform for model {model!r} (it has no spatial transformer)",
                 describe(transform))
        return None
    transform = "affine" if transform is None else transform
    get_family(transform, function, parametric=True)
    return transform


def _saved_hidden(name, state):
    """The classifier's hidden width stored in ``state`` (the first classifier Linear's out_features)."""
    for key, value in state.items():
        if key.startswith("classifier.") and key.endswith(".weight") and np.ndim(value) == 2:
            return int(np.shape(value)[0])
    fail("build_model", "state", f"the weights of a {name!r} model (classifier.*.weight)", "none")


def build_model(name, input_size, transform=None, lr_mult=1.0, state=None, dtype=np.float32, rng=None):
    """Build zoo model ``name`` ("fcn", "cnn", "st-fcn" or "st-cnn") for square inputs of side ``input_size``.

    Parameters
    ----------
    transform : str, optional
        The family of "st-fcn" / "st-cnn" (default "affine"); must be None for the baselines.
    lr_mult : float
        The localisation's learning-rate multiplier (ST models only).
    state : dict, optional
        A state dict (e.g. a checkpoint's weights) the model will load: its classifier's hidden
        width is read from it, so that models saved with another width (the ST-CNN before the
        zoo matched parameter counts) are rebuilt exactly. The weights are not loaded here.
    """
    transform = check_model(name, transform)
    kind, has_transformer = _kind(name)
    # checked here, not only in the layers they reach, so that errors name this function's arguments:
    # a baseline ignores lr_mult, and a huge input_size would first fail in a Linear's weight
    side = _side(input_size, "build_model")
    dtype = check_dtype(dtype, "build_model", "dtype", choices=FLOAT_DTYPES)
    check_memory((1, 1, side, side), dtype, "build_model", "input_size", "an input image")
    lr_mult = check_number(lr_mult, "build_model", "lr_mult", minimum=0)
    hidden = None if state is None else _saved_hidden(name, state)
    if not has_transformer:
        return Baseline(kind, input_size, hidden=hidden, dtype=dtype, rng=rng)
    return STModel(kind, input_size, transform=transform, hidden=hidden, lr_mult=lr_mult, dtype=dtype, rng=rng)


def zoo(transforms=PARAMETRIC):
    """The (model, transform) pairs of the zoo: both baselines, then each ST model with each transform."""
    for name in transforms:
        get_family(name, "zoo", parametric=True)
    pairs = [(kind, None) for kind in KINDS]
    return pairs + [(f"st-{kind}", t) for kind in KINDS for t in transforms]


def parameter_table(input_sizes=(28, 42), transforms=PARAMETRIC):
    """The parameter count of every zoo model as a Markdown table, one column per input size.

    Each cell reads ``count (hidden h, +x.x%)``: the hidden width of the classifier, and the
    difference from the baseline of the same kind on the same input.

    Examples
    --------
    >>> print(parameter_table((28,), ("affine",)))  # doctest: +NORMALIZE_WHITESPACE
    | model | transform | 28 x 28 |
    |---|---|---|
    | fcn | — | 118,282 (hidden 128) |
    | cnn | — | 21,840 (hidden 50) |
    | st-fcn | affine | 117,980 (hidden 102, -0.26%) |
    | st-cnn | affine | 21,733 (hidden 33, -0.49%) |
    """
    sizes = [_side(s, "parameter_table", "input_sizes") for s in input_sizes]
    lines = ["| model | transform | " + " | ".join(f"{s} x {s}" for s in sizes) + " |",
             "|---|---|" + "---|" * len(sizes)]
    for name, transform in zoo(transforms):
        cells = []
        for size in sizes:
            model = build_model(name, size, transform, rng=np.random.default_rng(0))
            text = f"{count_params(model):,} (hidden {model.hidden}"
            if transform is not None:
                base = count_params(build_model(_kind(name)[0], size, rng=np.random.default_rng(0)))
                text += f", {100 * (count_params(model) - base) / base:+.2f}%"
            cells.append(text + ")")
        lines.append(f"| {name} | {transform or '—'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
