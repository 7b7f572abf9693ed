"""stn_np: Spatial Transformer Networks in NumPy, on a small reverse-mode autodiff core.

The public surface at the top level is the autodiff core; sampling, layers and training
live in the submodules (``stn_np.functional``, ``stn_np.nn``, ``stn_np.optim``, ...).
"""

from .autograd import (
    Function,
    GradcheckError,
    Tensor,
    analytical_jacobian,
    enable_grad,
    gradcheck,
    gradcheck_report,
    is_grad_enabled,
    no_grad,
    numerical_jacobian,
)
from .ops.shape import concatenate, stack
from .rng import manual_seed

__version__ = "0.1.0"

__all__ = [
    "Function",
    "GradcheckError",
    "Tensor",
    "analytical_jacobian",
    "concatenate",
    "enable_grad",
    "gradcheck",
    "gradcheck_report",
    "is_grad_enabled",
    "manual_seed",
    "no_grad",
    "numerical_jacobian",
    "stack",
]
