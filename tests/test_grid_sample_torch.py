"""grid_sample (and the literal reference_sample) against PyTorch 2.13, values and both gradients.

The PyTorch numbers are stored in ``data/grid_sample_reference.npz`` (regenerate with
``data/make_grid_sample_reference.py``), so this comparison runs without torch: every mode x
padding x align_corners combination, float64, on a non-square 5x7 image sampled onto 4x6
with N=2 and C=3, and on 1x1, 1xW and Hx1 images; points off kinks and off nearest's
half-pixel ties (the one place where stn_np deliberately differs).
"""

import os

import numpy as np
import pytest

from stn_np import Tensor
from stn_np.sampling import grid_sample, reference_sample
from stn_np.sampling.kernels import KERNELS

REFERENCE = np.load(os.path.join(os.path.dirname(__file__), "data", "grid_sample_reference.npz"), allow_pickle=False)
CASES = [str(name) for name in REFERENCE["cases"]]


def test_reference_file_covers_every_combination():
    combos = {tuple(name.split("-")[:3]) for name in CASES}
    assert len(combos) == 3 * 3 * 2
    assert {name.split("-")[3] for name in CASES} == {"main", "1x1", "1xW", "Hx1"}
    assert str(REFERENCE["torch_version"]).startswith("2.")


def _run(sampler, name):
    mode, padding, align, _ = name.split("-")
    U = Tensor(REFERENCE[f"{name}/input"], requires_grad=True)
    grid = Tensor(REFERENCE[f"{name}/grid"], requires_grad=True)
    out = sampler(U, grid, mode, padding, align == "align")
    out.backward(REFERENCE[f"{name}/upstream"])
    return out.data, U.grad, grid.grad


def _fast(U, grid, mode, padding, align):
    return grid_sample(U, grid, mode=mode, padding_mode=padding, align_corners=align)


def _literal(U, grid, mode, padding, align):
    return reference_sample(U, grid, KERNELS[mode], padding_mode=padding, align_corners=align)


@pytest.mark.parametrize("sampler", [_fast, _literal], ids=["grid_sample", "reference_sample"])
@pytest.mark.parametrize("name", CASES)
def test_values_and_gradients_match_pytorch(name, sampler):
    value, grad_input, grad_grid = _run(sampler, name)
    tol = dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(value, REFERENCE[f"{name}/output"], **tol, err_msg="output")
    np.testing.assert_allclose(grad_input, REFERENCE[f"{name}/grad_input"], **tol, err_msg="input gradient")
    np.testing.assert_allclose(grad_grid, REFERENCE[f"{name}/grad_grid"], **tol, err_msg="grid gradient")
