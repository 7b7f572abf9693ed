"""Modules and layers: ``Module``/``Parameter``/``Sequential``, convolution, pooling, linear,
activation and dropout layers, and their initialisation (:mod:`stn_np.nn.init`); the
``SpatialTransformer`` module and the benchmark models (:mod:`stn_np.nn.models`)."""

from . import init
from .layers import AvgPool2d, Conv2d, Dropout, Dropout2d, Flatten, Linear, MaxPool2d, ReLU
from .module import LoadResult, Module, ModuleList, Parameter, Sequential
from .spatial_transformer import SpatialTransformer, param_groups
from . import models  # noqa: E402  (after the layers it builds on)

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Dropout",
    "Dropout2d",
    "Flatten",
    "Linear",
    "LoadResult",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "SpatialTransformer",
    "init",
    "models",
    "param_groups",
]
