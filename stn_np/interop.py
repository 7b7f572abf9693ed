"""A bridge to PyTorch: the same model, the same weights, for training at scale, on GPUs, in parallel.

stn_np is a CPU teaching library; a model that outgrows it moves to PyTorch in three lines::

    from stn_np.interop import to_torch, from_torch
    module = to_torch(model)              # a torch.nn.Module: same layers, same parameter names, same weights
    from_torch(module, like=model)        # ... train it anywhere, then load its weights back into stn_np

:func:`to_torch` rebuilds ``model`` layer for layer from ``torch.nn`` (``Conv2d``, ``Linear``,
``MaxPool2d``, ``AvgPool2d``, ``ReLU``, ``Dropout``, ``Dropout2d``, ``Flatten``, ``Sequential``)
plus two small modules defined here: the spatial transformer (its grid generators written with
torch operations, ``torch.nn.functional.grid_sample`` as the sampler) and the zoo's containers
(:mod:`stn_np.nn.models`). Every parameter keeps its stn_np name, so ``state_dict()`` keys are
the same on both sides, and the module has the stn_np parameters' dtype. In eval mode its
outputs equal stn_np's to float32 rounding: the tests hold every (model, transform) pair of the
zoo, at reduced widths, to 1e-5 relative (max |a - b| / max |b|) against outputs stored from
torch, and to 1e-10 in float64; at the default widths ``tests/data/make_interop_reference.py``
measures at most 3.2e-6 on 28x28 and 42x42 inputs. Two differences are inherent: dropout masks come from
torch's generator, and the ``nearest`` kernel rounds half-pixel ties to even in torch where
stn_np rounds them up (the one documented difference of the sampler).

torch is imported lazily, only by these functions; it is never a dependency of stn_np. Without
it, :func:`to_torch` and :func:`from_torch` raise one ``ImportError`` saying so.
"""

from __future__ import annotations

import numpy as np

from .nn import layers as L
from .nn.models import Baseline, STModel
from .nn.module import Module, Sequential
from .nn.spatial_transformer import SpatialTransformer
from .sampling.grid_projective import MIN_DENOMINATOR
from .validation import fail

__all__ = ["to_torch", "from_torch", "load_torch_state_dict", "TORCH_GRIDS"]

_MESSAGE = ("stn_np.interop.{function} needs PyTorch, which is not installed (it is never a dependency of "
            "stn_np); install it, e.g. `pip install torch`, to move models between stn_np and PyTorch")

_classes = {}


def _torch(function):
    """Import torch, or raise the one ImportError of this module."""
    try:
        import torch
    except ImportError:
        raise ImportError(_MESSAGE.format(function=function)) from None
    return torch


# ---------------------------------------------------------------------- the grid generators, in torch
# Each maps the regressor's output (N, P) to a grid (N, H, W, 2) exactly as the stn_np generator of
# the same family does (stn_np.sampling.grid_affine, grid_projective, grid_tps).

def _base_points(torch, height, width, align_corners, like):
    """(H, W, 2) target pixel centres (x, y) in normalised coordinates: torch's own identity grid."""
    identity = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=like.dtype, device=like.device)
    return torch.nn.functional.affine_grid(identity, (1, 1, height, width), align_corners=align_corners)[0]


def _affine_grid(torch, theta, n, h, w, st):
    return torch.nn.functional.affine_grid(theta.view(n, 2, 3), (n, 1, h, w), align_corners=st.align_corners)


def _attention_grid(torch, params, n, h, w, st):
    """x_s = s x_t + tx, y_s = s y_t + ty with params (s, tx, ty)."""
    points = _base_points(torch, h, w, st.align_corners, params)
    return params[:, None, None, :1] * points + params[:, None, None, 1:]


def _projective_grid(torch, params, n, h, w, st):
    """x_s = (h0 x + h1 y + h2) / den, y_s = (h3 x + h4 y + h5) / den, den = h6 x + h7 y + 1."""
    points = _base_points(torch, h, w, st.align_corners, params)
    x, y = points[..., 0], points[..., 1]
    p = params[:, :, None, None]
    u = p[:, 0] * x + p[:, 1] * y + p[:, 2]
    v = p[:, 3] * x + p[:, 4] * y + p[:, 5]
    den = p[:, 6] * x + p[:, 7] * y + 1
    # stn_np's rule: a |den| below MIN_DENOMINATOR becomes that constant, keeping its sign
    clamped = torch.where(den >= 0, torch.full_like(den, MIN_DENOMINATOR), torch.full_like(den, -MIN_DENOMINATOR))
    den = torch.where(den.abs() >= MIN_DENOMINATOR, den, clamped)
    return torch.stack([u / den, v / den], dim=-1)


def _tps_matrix(torch, height, width, align_corners, control_points):
    """The float64 (P, K) matrix M of ``grid = p + M d`` (derivation: stn_np.sampling.grid_tps)."""
    f64 = torch.float64
    rows, cols = control_points
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, rows, dtype=f64), torch.linspace(-1, 1, cols, dtype=f64),
                            indexing="ij")
    c = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)  # (K, 2) control points, row by row

    def radial(a, b):  # U(r) = r^2 log r^2, 0 at r = 0
        r2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return torch.where(r2 > 0, r2 * torch.log(torch.where(r2 > 0, r2, torch.ones_like(r2))), torch.zeros_like(r2))

    k = len(c)
    affine = torch.cat([torch.ones(k, 1, dtype=f64), c], dim=1)
    system = torch.zeros(k + 3, k + 3, dtype=f64)
    system[:k, :k], system[:k, k:], system[k:, :k] = radial(c, c), affine, affine.T
    rhs = torch.zeros(k + 3, k, dtype=f64)
    rhs[:k] = torch.eye(k, dtype=f64)
    points = _base_points(torch, height, width, align_corners, torch.zeros((), dtype=f64)).reshape(-1, 2)
    q = torch.cat([radial(points, c), torch.ones(len(points), 1, dtype=f64), points], dim=1)
    return q @ torch.linalg.solve(system, rhs)


def _tps_grid(torch, offsets, n, h, w, st):
    key = (h, w, offsets.dtype, offsets.device)
    if key not in st.tps_matrices:  # fixed for a size: computed once, kept out of the state_dict
        matrix = _tps_matrix(torch, h, w, st.align_corners, st.control_points)
        st.tps_matrices[key] = matrix.to(dtype=offsets.dtype, device=offsets.device)
    points = _base_points(torch, h, w, st.align_corners, offsets).reshape(h * w, 2)
    return (points + st.tps_matrices[key] @ offsets.view(n, -1, 2)).view(n, h, w, 2)


#: The torch grid generator of each transformation family (a test holds it to the registry's families).
TORCH_GRIDS = {"affine": _affine_grid, "attention": _attention_grid, "projective": _projective_grid,
               "tps": _tps_grid}


def _torch_classes(torch):
    """The torch modules of this bridge, defined once torch is imported."""
    if _classes:
        return _classes
    nn = torch.nn

    class SpatialTransformer(nn.Module):
        """stn_np's SpatialTransformer in torch: localization -> regressor -> grid -> grid_sample."""

        def __init__(self, localization, regressor, transform, out_size, mode, padding_mode, align_corners,
                     control_points):
            super().__init__()
            self.localization, self.regressor = localization, regressor
            self.transform, self.out_size = transform, out_size
            self.mode, self.padding_mode, self.align_corners = mode, padding_mode, align_corners
            self.control_points = control_points
            self.tps_matrices = {}

        def forward(self, x):
            n, _, h, w = x.shape
            theta = self.regressor(self.localization(x))
            out_h, out_w = self.out_size or (h, w)
            grid = TORCH_GRIDS[self.transform](torch, theta, n, out_h, out_w, self)
            return nn.functional.grid_sample(x, grid, mode=self.mode, padding_mode=self.padding_mode,
                                             align_corners=self.align_corners)

        def extra_repr(self):
            return (f"transform={self.transform!r}, out_size={self.out_size}, mode={self.mode!r}, "
                    f"padding_mode={self.padding_mode!r}, align_corners={self.align_corners}")

    class Classifier(nn.Module):
        """A zoo model: ``classifier(transformer(x))``, or ``classifier(x)`` for a baseline."""

        def __init__(self, classifier, transformer=None):
            super().__init__()
            if transformer is not None:
                self.transformer = transformer
            self.classifier = classifier

        def forward(self, x):
            if hasattr(self, "transformer"):
                x = self.transformer(x)
            return self.classifier(x)

    _classes.update(SpatialTransformer=SpatialTransformer, Classifier=Classifier)
    return _classes


def _convert(module, torch):
    """The torch module equivalent to stn_np ``module`` (parameters not yet copied)."""
    nn = torch.nn
    if isinstance(module, L.Conv2d):
        return nn.Conv2d(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                         module.padding, bias=module.bias is not None)
    if isinstance(module, L.Linear):
        return nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    if isinstance(module, L.MaxPool2d):
        return nn.MaxPool2d(module.kernel_size, module.stride, module.padding)
    if isinstance(module, L.AvgPool2d):
        return nn.AvgPool2d(module.kernel_size, module.stride, module.padding, count_include_pad=True)
    if isinstance(module, L.ReLU):
        return nn.ReLU()
    if isinstance(module, L.Dropout2d):
        return nn.Dropout2d(module.p)
    if isinstance(module, L.Dropout):
        return nn.Dropout(module.p)
    if isinstance(module, L.Flatten):
        return nn.Flatten(module.start_dim, module.end_dim)
    if isinstance(module, Sequential):
        return nn.Sequential(*(_convert(child, torch) for child in module))
    classes = _torch_classes(torch)
    if isinstance(module, SpatialTransformer):
        if module.transform not in TORCH_GRIDS:
            fail("to_torch", "model", f"a spatial transformer of a family among {', '.join(TORCH_GRIDS)}",
                 repr(module.transform))
        return classes["SpatialTransformer"](
            _convert(module.localization, torch), _convert(module.regressor, torch), module.transform,
            module.out_size, module.mode, module.padding_mode, module.align_corners, module.control_points)
    if isinstance(module, Baseline):
        return classes["Classifier"](_convert(module.classifier, torch))
    if isinstance(module, STModel):
        return classes["Classifier"](_convert(module.classifier, torch), _convert(module.transformer, torch))
    fail("to_torch", "model", "a zoo model or a module built from stn_np.nn layers (Conv2d, Linear, pooling, "
         "ReLU, dropout, Flatten, Sequential, SpatialTransformer)", f"a {type(module).__name__} inside it",
         TypeError)


def to_torch(model):
    """A ``torch.nn.Module`` of ``model``'s architecture holding copies of its weights.

    Parameters
    ----------
    model : Module
        A zoo model (:mod:`stn_np.nn.models`) or any module built from the layers listed in the
        module docstring.

    Returns
    -------
    torch.nn.Module
        Same parameter names (``state_dict()`` keys) and values, in the parameters' dtype; in the
        training mode of ``model``. Its forward equals ``model``'s in eval mode (float32: 1e-5
        relative).

    Raises
    ------
    ImportError
        When torch is not installed.
    TypeError
        For a module this bridge does not know.
    """
    torch = _torch("to_torch")
    if not isinstance(model, Module):
        fail("to_torch", "model", "an stn_np Module", f"a {type(model).__name__}", TypeError)
    params = list(model.parameters())
    dtypes = {p.dtype for p in params}
    if len(dtypes) > 1:
        fail("to_torch", "model", "parameters of one dtype", ", ".join(sorted(map(str, dtypes))), TypeError)
    module = _convert(model, torch)
    if dtypes:
        module = module.to(getattr(torch, np.dtype(dtypes.pop()).name))
    state = {name: torch.from_numpy(np.array(value)) for name, value in model.state_dict().items()}
    module.load_state_dict(state, strict=True)
    return module.train(model.training)


def load_torch_state_dict(model, state):
    """Load a torch ``state_dict`` (tensors, or arrays) into the stn_np ``model``; returns ``model``.

    The work of :func:`from_torch` that needs no torch: tensors are read through their NumPy
    view, every name must be one of ``model``'s and every shape and dtype must match
    (``ValueError`` listing what does not, nothing loaded then).
    """
    if not isinstance(model, Module):
        fail("load_torch_state_dict", "model", "an stn_np Module", f"a {type(model).__name__}", TypeError)
    arrays = {}
    for name, value in dict(state).items():
        if hasattr(value, "detach"):  # a torch tensor, possibly on a GPU or requiring grad
            value = value.detach().cpu().numpy()
        arrays[name] = np.asarray(value)
    model.load_state_dict(arrays, strict=True)
    return model


def from_torch(module, like):
    """Load the weights of a torch ``module`` (e.g. from :func:`to_torch`, trained) into ``like``.

    Parameters
    ----------
    module : torch.nn.Module
        Parameter names, shapes and dtypes as ``like``'s (what :func:`to_torch` produces).
    like : Module
        The stn_np model to load into (in place).

    Returns
    -------
    Module
        ``like``, now holding ``module``'s weights.

    Raises
    ------
    ImportError
        When torch is not installed.
    ValueError
        When names, shapes or dtypes differ (nothing is loaded then).
    """
    _torch("from_torch")
    if not hasattr(module, "state_dict"):
        fail("from_torch", "module", "a torch.nn.Module", f"a {type(module).__name__}", TypeError)
    return load_torch_state_dict(like, module.state_dict())
