"""The flat functional API, conventionally imported as ``F`` (like ``torch.nn.functional``).

Every differentiable function accepts Tensors or ndarrays and returns a Tensor; each is a
thin, validating wrapper around one op whose forward and hand-derived backward live side by
side in the module named here. The sampling names are exactly :mod:`stn_np.sampling`'s
public API (samplers, grid generators, kernels, ``sampling_matrix``, ``reference_sample``,
the coordinate helpers), imported from there rather than listed twice.
"""

from . import sampling as _sampling
from .sampling import *  # noqa: F401,F403 - the sampling API, as listed in stn_np.sampling.__all__

# -- layers and losses (the ops behind stn_np.nn's layers)
from .ops.activation import log_softmax, relu
from .ops.conv import conv2d
from .ops.dropout import dropout, dropout2d
from .ops.linear import linear
from .ops.loss import cross_entropy, mse_loss, nll_loss
from .ops.pool import avg_pool2d, max_pool2d

__all__ = _sampling.__all__ + [
    "avg_pool2d", "conv2d", "cross_entropy", "dropout", "dropout2d", "linear", "log_softmax", "max_pool2d",
    "mse_loss", "nll_loss", "relu",
]
