"""The flat functional API, conventionally imported as ``F`` (like ``torch.nn.functional``).

Every differentiable function accepts Tensors or ndarrays and returns a Tensor; each is a
thin, validating wrapper around one op whose forward and hand-derived backward live side by
side in the module named here. The coordinate helpers (``identity_grid``,
``normalized_to_pixel``, ``pixel_to_normalized``, ``tps_control_points``) work on plain arrays.
"""

# -- coordinates (stn_np.sampling.coords)
from .sampling.coords import identity_grid, normalized_to_pixel, pixel_to_normalized

# -- samplers (stn_np.sampling)
from .sampling.grid_sample import grid_sample

# -- grid generators (stn_np.sampling.grids)
from .sampling.grids import (
    affine_grid,
    attention_grid,
    displacement_grid,
    projective_grid,
    tps_control_points,
    tps_grid,
    tps_transform_points,
)

# -- layers and losses (stn_np.nn)
from .ops.activation import log_softmax, relu
from .ops.conv import conv2d
from .ops.dropout import dropout, dropout2d
from .ops.linear import linear
from .ops.loss import cross_entropy, mse_loss, nll_loss
from .ops.pool import avg_pool2d, max_pool2d

__all__ = [
    "affine_grid", "attention_grid", "avg_pool2d", "conv2d", "cross_entropy", "displacement_grid", "dropout",
    "dropout2d", "grid_sample", "identity_grid", "linear", "log_softmax", "max_pool2d", "mse_loss", "nll_loss",
    "normalized_to_pixel", "pixel_to_normalized", "projective_grid", "relu", "tps_control_points", "tps_grid",
    "tps_transform_points",
]
