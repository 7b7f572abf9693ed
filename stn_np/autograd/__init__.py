"""The reverse-mode autodiff core: ``Tensor``, ``Function`` and ``gradcheck``."""

from .function import Context, Function, detect_mutation, enable_grad, is_grad_enabled, no_grad, trace_functions
from .tensor import Tensor
from .gradcheck import (
    Comparison,
    GradcheckError,
    analytical_jacobian,
    gradcheck,
    gradcheck_report,
    numerical_jacobian,
)

__all__ = [
    "Comparison",
    "Context",
    "Function",
    "GradcheckError",
    "Tensor",
    "analytical_jacobian",
    "detect_mutation",
    "enable_grad",
    "gradcheck",
    "gradcheck_report",
    "is_grad_enabled",
    "no_grad",
    "numerical_jacobian",
    "trace_functions",
]
