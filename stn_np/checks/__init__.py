"""The gradient-check registry: every differentiable op, with random float64 inputs.

Each op family registers its cases in a module of this package (``core`` for the autodiff
core, one module per later family); every module here is loaded automatically. A case is a function of
tensors plus a recipe for random inputs that keeps away from kinks (ReLU at 0, clip bounds,
max ties, integer sampling coordinates), where finite differences are meaningless.

Both ``stn-np gradcheck`` (the table) and the test suite (one test per case) read this
registry, and a test checks that the cases together apply every ``Function`` subclass.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..autograd.gradcheck import gradcheck_report

__all__ = ["Case", "CaseResult", "all_cases", "get_case", "register", "run_case", "off_kink", "normal_inputs"]

_REGISTRY: dict[str, "Case"] = {}


@dataclass(frozen=True)
class Case:
    """A registered gradient check: ``fn(*make_inputs(rng))`` is gradchecked."""

    name: str
    fn: Callable
    make_inputs: Callable[[np.random.Generator], tuple]
    mode: str = "full"
    eps: float = 1e-6
    atol: float = 1e-6
    rtol: float = 1e-5


@dataclass(frozen=True)
class CaseResult:
    """Outcome of one case: the worst errors over all its comparisons."""

    name: str
    input_shapes: tuple
    max_abs: float
    max_rel: float
    ok: bool
    messages: tuple


def register(name, make_inputs, *, mode="full", eps=1e-6, atol=1e-6, rtol=1e-5):
    """Decorator registering ``fn`` as the gradient check called ``name``."""

    def decorator(fn):
        if name in _REGISTRY:
            raise ValueError(f"register: name: expected a new case name, got {name!r}, which is registered already")
        _REGISTRY[name] = Case(name, fn, make_inputs, mode, eps, atol, rtol)
        return fn

    return decorator


def all_cases():
    """Every registered case, in registration order."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return list(_REGISTRY.values())


def get_case(name):
    """The case called ``name``; ``ValueError`` listing the names when there is none."""
    cases = {c.name: c for c in all_cases()}
    if name not in cases:
        raise ValueError(f"get_case: op: expected one of {', '.join(sorted(cases))}, got {name!r}")
    return cases[name]


def run_case(case, seed=0):
    """Gradcheck ``case`` on inputs drawn with ``seed``; returns a :class:`CaseResult`."""
    rng = np.random.default_rng(seed)
    inputs = case.make_inputs(rng)
    comparisons = gradcheck_report(
        case.fn, inputs, eps=case.eps, atol=case.atol, rtol=case.rtol, mode=case.mode, seed=seed
    )
    shapes = tuple(np.shape(x) for x in inputs if isinstance(x, np.ndarray) and x.dtype.kind == "f")
    return CaseResult(
        case.name,
        shapes,
        max(c.max_abs for c in comparisons),
        max(c.max_rel for c in comparisons),
        all(c.ok for c in comparisons),
        tuple(c.message for c in comparisons if not c.ok),
    )


def off_kink(rng, shape, margin=0.1, scale=1.0):
    """Random values with ``|x| >= margin``: standard normal pushed away from 0."""
    x = rng.standard_normal(shape) * scale
    return np.where(x >= 0, x + margin, x - margin)


def normal_inputs(*shapes):
    """An input recipe: one standard normal array per shape."""
    return lambda rng: tuple(rng.standard_normal(s) for s in shapes)
