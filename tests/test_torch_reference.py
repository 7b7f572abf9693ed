"""Gradients of compositions with reuse and broadcasting against PyTorch's, to 1e-10 in float64.

The PyTorch numbers are stored in ``data/torch_autograd_reference.npz`` (regenerate with
``data/make_torch_reference.py``), so this comparison runs without torch installed.
"""

import os

import numpy as np
import pytest

from stn_np import Tensor

from reference_compositions import COMPOSITIONS

REFERENCE = np.load(os.path.join(os.path.dirname(__file__), "data", "torch_autograd_reference.npz"), allow_pickle=False)


@pytest.mark.parametrize("name, shapes, fn", COMPOSITIONS, ids=[c[0] for c in COMPOSITIONS])
def test_composition_matches_pytorch(name, shapes, fn):
    tensors = [Tensor(REFERENCE[f"{name}/input{i}"], requires_grad=True) for i in range(len(shapes))]
    out = fn(*tensors)
    np.testing.assert_allclose(out.data, REFERENCE[f"{name}/output"], rtol=1e-10, atol=1e-12)
    out.backward(REFERENCE[f"{name}/upstream"])
    for i, t in enumerate(tensors):
        np.testing.assert_allclose(t.grad, REFERENCE[f"{name}/grad{i}"], rtol=1e-10, atol=1e-12, err_msg=f"input {i}")
