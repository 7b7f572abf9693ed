"""Modules and layers: ``Module``/``Parameter``/``Sequential``, convolution, pooling, linear,
activation and dropout layers, and their initialisation (:mod:`stn_np.nn.init`)."""

from . import init
from .layers import AvgPool2d, Conv2d, Dropout, Dropout2d, Flatten, Linear, MaxPool2d, ReLU
from .module import LoadResult, Module, ModuleList, Parameter, Sequential

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
    "init",
]
