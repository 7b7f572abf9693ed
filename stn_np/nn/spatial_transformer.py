"""The spatial transformer module: localisation network, identity-initialised regressor, grid, sampler.

The paper's three parts, in order (Jaderberg et al. 2015, section 3)::

    features = localization(U)                    (N, loc_features)   any Module, e.g. convs + ReLU
    theta    = regressor(features)                (N, P)              Linear(loc_features, P)
    grid     = T_theta(identity grid of out_size) (N, H_out, W_out, 2)
    V        = sample(U, grid)                    (N, C, H_out, W_out)

The localisation network is given by the caller and ends in flat features (N, loc_features);
the final regressor to the P parameters of the transform belongs to the transformer, because
it is always the same layer and must start as the IDENTITY transform: zero weights, and the
identity as bias, so that at initialisation ``V == U`` (when ``out_size`` is the input's) and
training starts from "look at the whole image". ``loc_features`` is required rather than
inferred, so that every parameter exists as soon as the module is built (an optimizer or
``load_state_dict`` can be used before the first forward).

The transform families, their parameter shapes and identities live in one registry,
:mod:`stn_np.sampling.families` (affine: 6 parameters, identity (1, 0, 0, 0, 1, 0);
attention: 3, (1, 0, 0); projective: 8, (1, 0, 0, 0, 1, 0, 0, 0); tps: 2K, zeros).

With zero regressor weights the localisation network receives no gradient at the very first
step (``dL/dfeatures = W^T dL/dtheta = 0``); from the second step on it does, once the
regressor's weights have moved. The paper trains the localisation network with a smaller
learning rate than the rest; ``lr_mult`` records that factor and :func:`param_groups` turns
a model into optimizer parameter groups that apply it.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd.tensor import Tensor
from ..rng import resolve_rng
from ..sampling.families import PARAMETRIC, get_family
from ..sampling.kernels import resolve_kernel
from ..sampling.padding import check_padding
from ..sampling.subgradients import check_subgradient
from ..validation import check_dtype, check_int, check_memory, check_number, check_pair, fail
from .layers import Linear
from .module import Module

__all__ = ["SpatialTransformer", "TRANSFORMS", "param_groups"]

#: The transforms a spatial transformer can regress: the parametric families.
TRANSFORMS = PARAMETRIC


class SpatialTransformer(Module):
    """A spatial transformer: ``V = sample(U, T_theta(grid))`` with ``theta = regressor(localization(U))``.

    Parameters
    ----------
    localization : Module
        Maps the input (N, C, H, W) to flat features (N, loc_features), e.g. convolutions, pooling,
        ReLU, ``Flatten`` and a hidden ``Linear`` + ReLU. It must not include the final regressor.
    loc_features : int
        Number of features the localisation network produces (the regressor's ``in_features``).
    transform : {"affine", "attention", "projective", "tps"}
        The transformation family (:data:`stn_np.sampling.families.FAMILIES`, parametric ones).
    out_size : int or (int, int), optional
        (H_out, W_out) of the output; by default the input's (H, W). Independent of the input size:
        a smaller output down-samples the attended region.
    mode : {"bilinear", "nearest", "bicubic"}
        Sampling kernel of :func:`~stn_np.functional.grid_sample`. Only bilinear and bicubic pass
        gradients to the grid (the integer kernel's position gradient is zero).
    padding_mode : {"zeros", "border", "reflection"}
        What the sampler reads outside the input.
    align_corners : bool
        Coordinate convention of the grid and the sampler (False: -1/+1 are the image's edges).
    subgradient : {"pytorch", "central"}
        The sampler's derivative at kinks (:mod:`stn_np.sampling.subgradients`). It matters most
        right here: at the identity initialisation every sample point sits on a pixel centre,
        a kink of bilinear sampling, so this convention alone decides the gradient of the first
        training step (PyTorch's forward difference, or the central difference).
    control_points : (int, int)
        TPS control lattice (rows, cols); ignored by the other transforms.
    lr_mult : float
        Learning-rate multiplier for the localisation network and the regressor, applied by
        :func:`param_groups` (1: no change). Non-negative.
    dtype : dtype
        Dtype of the regressor's parameters (float32 by default).
    rng : numpy.random.Generator, optional
        Generator of the regressor's default initialisation (the global one when None). Its
        values are then replaced by the identity; the draws are still taken, so the generator
        advances exactly as for any other ``Linear`` of that shape.

    Attributes
    ----------
    localization : Module
    regressor : Linear
        ``Linear(loc_features, P)`` with zero weight and the identity as bias.
    last_theta : ndarray or None
        The transform parameters of the last forward, detached: (N, 2, 3) affine, (N, 3)
        attention, (N, 8) projective, (N, K, 2) TPS offsets.

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np import nn
    >>> loc = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU())
    >>> st = nn.SpatialTransformer(loc, loc_features=8, transform="affine")
    >>> x = np.random.default_rng(0).random((2, 1, 4, 4), dtype=np.float32)
    >>> bool(np.array_equal(st(x).numpy(), x))  # the identity at initialisation
    True
    >>> st.last_theta[0]
    array([[1., 0., 0.],
           [0., 1., 0.]], dtype=float32)
    """

    def __init__(self, localization, loc_features, transform="affine", out_size=None, mode="bilinear",
                 padding_mode="zeros", align_corners=False, control_points=(4, 4), lr_mult=1.0,
                 dtype=np.float32, rng=None, subgradient="pytorch"):
        super().__init__()
        here = "SpatialTransformer"
        if not isinstance(localization, Module):
            fail(here, "localization", "a Module", f"a {type(localization).__name__}", TypeError)
        self.family = get_family(transform, here, parametric=True)
        resolve_kernel(mode, here)
        padding_mode, align_corners = check_padding(padding_mode, align_corners, here)
        self.subgradient = check_subgradient(subgradient, here)
        self.lr_mult = check_number(lr_mult, here, "lr_mult", minimum=0)
        self.control_points = check_pair(control_points, here, "control_points", minimum=2)
        self.transform = transform
        self.out_size = None if out_size is None else check_pair(out_size, here, "out_size", minimum=1)
        self.mode, self.padding_mode, self.align_corners = mode, padding_mode, align_corners
        identity = self.family.identity(control_points=control_points).reshape(-1)
        self.localization = localization
        loc_features = check_int(loc_features, here, "loc_features", minimum=1)
        dtype = check_dtype(dtype, here, "dtype")
        check_memory((identity.size, loc_features), dtype, here, "loc_features", "a regressor weight")
        self.regressor = Linear(loc_features, identity.size, dtype=dtype, rng=resolve_rng(rng, here))
        self.regressor.weight.data[...] = 0
        self.regressor.bias.data[...] = identity
        self.last_theta = None

    @property
    def loc_features(self):
        """Features the localisation network produces (the regressor's ``in_features``)."""
        return self.regressor.in_features

    def localization_parameters(self):
        """The parameters of the localisation network and the regressor (those ``lr_mult`` scales)."""
        seen = set()
        for module in (self.localization, self.regressor):
            for p in module.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield p

    def theta(self, x):
        """The transform parameters for input ``x``, shaped for the grid generator (a Tensor)."""
        features = self.localization(x)
        if features.ndim != 2 or features.shape[1] != self.loc_features:
            fail("SpatialTransformer", "localization",
                 f"a network ending in features of shape (N, {self.loc_features}) (loc_features; end it with "
                 "Flatten/Linear)", f"features of shape {features.shape}")
        theta = self.regressor(features)
        return theta.reshape((theta.shape[0],) + self.family.shape(control_points=self.control_points))

    def grid(self, theta, size):
        """Sampling grid (N, H_out, W_out, 2) of ``theta`` for an output of ``size`` (N, C, H_out, W_out)."""
        return self.family.grid(theta, size, self.align_corners, control_points=self.control_points)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim != 4:
            fail("SpatialTransformer", "x", "images of shape (N, C, H, W)", f"shape {x.shape}")
        n, c, h, w = x.shape
        theta = self.theta(x)
        self.last_theta = theta.data.copy()
        out_h, out_w = self.out_size or (h, w)
        grid = self.grid(theta, (n, c, out_h, out_w))
        return F.grid_sample(x, grid, self.mode, self.padding_mode, self.align_corners, self.subgradient)

    def extra_repr(self):
        size = "input" if self.out_size is None else self.out_size
        text = (f"transform={self.transform!r}, loc_features={self.loc_features}, out_size={size}, "
                f"mode={self.mode!r}, padding_mode={self.padding_mode!r}, align_corners={self.align_corners}")
        if self.transform == "tps":
            text += f", control_points={self.control_points}"
        if self.subgradient != "pytorch":
            text += f", subgradient={self.subgradient!r}"
        return text + (f", lr_mult={self.lr_mult}" if self.lr_mult != 1 else "")


def param_groups(model, lr):
    """Optimizer parameter groups of ``model`` applying each spatial transformer's ``lr_mult``.

    Every :class:`SpatialTransformer` inside ``model`` contributes one group with its
    localisation network's and regressor's parameters at ``lr * lr_mult``; all other parameters
    form the first group at ``lr``. Empty groups are left out.

    Parameters
    ----------
    model : Module
    lr : float
        The base learning rate.

    Returns
    -------
    list of dict
        ``[{"params": [...], "lr": lr}, {"params": [...], "lr": lr * lr_mult}, ...]``, ready for
        ``stn_np.optim.SGD`` / ``Adam``. Parameters are listed once, in ``model.parameters()``
        order within each group.

    Examples
    --------
    >>> from stn_np import nn
    >>> from stn_np.optim import Adam
    >>> st = nn.SpatialTransformer(nn.Sequential(nn.Flatten(), nn.Linear(16, 4)), 4, lr_mult=0.1)
    >>> model = nn.Sequential(st, nn.Flatten(), nn.Linear(16, 2))
    >>> [(len(g["params"]), g["lr"]) for g in param_groups(model, 1e-3)]
    [(2, 0.001), (4, 0.0001)]
    >>> opt = Adam(param_groups(model, 1e-3))
    """
    if not isinstance(model, Module):
        fail("param_groups", "model", "a Module", f"a {type(model).__name__}", TypeError)
    lr = check_number(lr, "param_groups", "lr", minimum=0)
    owner = {}
    transformers = [m for m in model.modules() if isinstance(m, SpatialTransformer)]
    for index, st in enumerate(transformers):
        for p in st.localization_parameters():
            owner.setdefault(id(p), index)
    base = [p for p in model.parameters() if id(p) not in owner]
    groups = [{"params": base, "lr": lr}] if base else []
    for index, st in enumerate(transformers):
        params = [p for p in model.parameters() if owner.get(id(p)) == index]
        if params:
            groups.append({"params": params, "lr": lr * st.lr_mult})
    return groups
