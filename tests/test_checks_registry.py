"""Every registered gradient check passes, and together they exercise every op."""

import numpy as np
import pytest

from stn_np import Function, Tensor
from stn_np.autograd import trace_functions
from stn_np.checks import all_cases, get_case, run_case

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_registered_case_passes_gradcheck(case):
    result = run_case(case, seed=0)
    assert result.ok, "\n".join(result.messages)


def _all_subclasses(cls):
    found = set()
    stack = [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def test_every_function_in_the_library_is_exercised_by_a_case():
    with trace_functions() as used:
        for case in CASES:
            inputs = case.make_inputs(np.random.default_rng(0))
            case.fn(*[Tensor(x, requires_grad=True) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x
                      for x in inputs])
    library_ops = {f for f in _all_subclasses(Function) if f.__module__.startswith("stn_np.")}
    missing = sorted(f.__name__ for f in library_ops - used)
    assert not missing, f"ops without a registered gradient check: {missing}"


def test_unknown_case_lists_the_known_ones():
    with pytest.raises(ValueError, match="get_case: op: expected one of .*matmul.*, got 'nope'"):
        get_case("nope")


def test_functions_and_layers_have_distinct_names():
    # One convention: every op class is named ``<Op>Function``; layers (``stn_np.nn``) never are.
    import stn_np.nn as nn

    ops = {f.__name__ for f in _all_subclasses(Function) if f.__module__.startswith("stn_np.")}
    assert ops and all(name.endswith("Function") for name in ops), sorted(n for n in ops if not n.endswith("Function"))
    layers = {name for name in dir(nn) if isinstance(getattr(nn, name), type)}
    assert not ops & layers
