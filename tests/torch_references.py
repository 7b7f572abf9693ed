"""What the tests against stored PyTorch references share (images and volumes alike).

``test_grid_sample_kinks.py`` and ``test_grid_sample_3d.py`` compare both samplers with numbers
that ``data/make_*.py`` stored from PyTorch: they load the generator for its exact ``pattern`` and
grids (it imports torch only when run), measure errors the same way, run a sampler with its
gradients the same way, and hold ``nearest`` to the same tie rule.
"""

import importlib.util
import os

import numpy as np

from stn_np import Tensor
from stn_np.sampling import grid_sample
from stn_np.testing import tie_adjusted_grid

HERE = os.path.dirname(os.path.abspath(__file__))
#: Largest relative error allowed against PyTorch, per dtype.
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def load_generator(name):
    """The module ``data/<name>.py`` (the script that made the references), without running it."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "data", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_data(name):
    """The stored references ``data/<name>.npz``."""
    return np.load(os.path.join(HERE, "data", f"{name}.npz"), allow_pickle=False)


def relative_error(got, expected):
    """max |got - expected| / max(|expected|, 1), elementwise: relative where values exceed 1."""
    if expected.size == 0:
        return 0.0
    return float(np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1)))


def run(sampler, U, grid, upstream, mode, padding, align, gradients=True):
    """``sampler``'s output and, with ``gradients``, its image and grid gradients for ``upstream``."""
    Ut, gt = Tensor(U, requires_grad=gradients), Tensor(grid, requires_grad=gradients)
    out = sampler(Ut, gt, mode, padding, align)
    if not gradients:
        return out.data, None, None
    out.backward(upstream)
    return out.data, Ut.grad, gt.grad


def nearest_expectations(U, grid, padding, align):
    """stn_np's nearest values under its rule (half up) and under PyTorch's (half to even), and the tie points.

    Exact half-pixel ties are moved a quarter pixel to the side each rule picks
    (:func:`stn_np.testing.tie_adjusted_grid`), where no rule can disagree.
    """
    with np.errstate(all="ignore"):
        up, even = (tie_adjusted_grid(grid, U.shape, padding, align, rule) for rule in ("half_up", "half_even"))
        values = [grid_sample(U, g, "nearest", padding, align).data for g in (up, even)]
    return values[0], values[1], np.any(up != grid, axis=-1)


def check_nearest(sampler, out, grid_gradient, torch_output, U, grid, padding, align):
    """Hold a nearest result to the tie rules: stn_np's half up, PyTorch's half to even, equal elsewhere.

    Returns the tie points (N, *spatial_out).
    """
    rule, torch_rule, ties = nearest_expectations(U, grid, padding, align)
    np.testing.assert_array_equal(out, rule, err_msg=f"{sampler}: round half up")
    np.testing.assert_array_equal(torch_output, torch_rule, err_msg="PyTorch: round half to even")
    assert not np.any(np.any(out != torch_output, axis=1) & ~ties), \
        f"{sampler}: nearest differs from PyTorch away from a tie"
    assert np.all(grid_gradient == 0)
    return ties
