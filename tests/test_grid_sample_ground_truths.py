"""PyTorch's own hand-written ground truths for grid_sample, written down as data.

From ``test_grid_sample`` in PyTorch's ``test/test_nn.py`` (TestNN): the "known input" — the
2x5 image ``arange(1, 11)`` read at ten points chosen to be awkward (far outside, exactly on
the corners, on half-pixel ties, 1e-6 off a pixel row) — with its expected output for every
mode x padding x align_corners, and the "gradient edge cases" — a 5x5 image whose rows are
``0, 1, 2, 3, 4``, read exactly on the corners (``+-1``) and at ``+-0.8``, with the grid
gradient of ``sum(output)``. PyTorch asserts them to ``atol=1e-5`` (the numbers are printed
from float32 runs); so do we.

Everything passes except the one deliberate difference, asserted as such: ``nearest`` with
zeros padding and ``align_corners=False`` reads the point (1, -1), i.e. x = 4.5 on the 5-pixel
row, a half-pixel tie. PyTorch rounds it to even (pixel 4, value 5); stn_np rounds it up, as
the paper's ``floor(x + 0.5)``, to pixel 5, outside the image: 0.
"""

import itertools

import numpy as np
import pytest

from stn_np import Tensor
from stn_np.sampling import grid_sample, reference_sample

KNOWN_INPUT = np.arange(1.0, 11.0).reshape(1, 1, 2, 5)
KNOWN_GRID = np.array([[[-0.9, -4.1], [0, 0.2000], [1, -1], [-0.333, 1e-6], [0.5, 1.0]],
                       [[-1.0, -0.5], [0, 0.3333], [1, -1], [-0.200, 1e-6], [1.5, 0.5]]]).reshape(1, 2, 5, 2)

# (mode, padding_mode, align_corners) -> expected output (2 x 5), as in test_nn.py
KNOWN_OUTPUT = {
    ("bilinear", "zeros", True): [[0.0000, 6.0000000000, 5.0000, 4.8340, 9.0000],
                                  [2.2500, 6.3332500450, 5.0000, 5.1000, 0.0000]],
    ("bilinear", "zeros", False): [[0.0000, 6.5000000000, 1.2500, 4.6675000191, 4.6250],
                                   [0.5000, 7.1665000916, 1.2500, 5.0000000000, 0.0000]],
    ("bilinear", "border", True): [[1.2000, 6.0000000000, 5.0000, 4.8340, 9.0000],
                                   [2.2500, 6.3332500450, 5.0000, 5.1000, 8.7500]],
    ("bilinear", "border", False): [[1.0000, 6.5000000000, 5.0000, 4.6675000191, 9.2500],
                                    [1.0000, 7.1665000916, 5.0000, 5.0000000000, 10.0000]],
    ("bilinear", "reflection", True): [[3.4500, 6.0000000000, 5.0000, 4.8340, 9.0000],
                                       [2.2500, 6.3332500450, 5.0000, 5.1000, 7.7500]],
    ("bilinear", "reflection", False): [[3.0000004768, 6.5000000000, 5.0000, 4.6675000191, 9.2500],
                                        [1.0000000000, 7.1665000916, 5.0000, 5.0000000000, 9.2500]],
    ("nearest", "zeros", True): [[0., 8., 5., 7., 9.], [1., 8., 5., 8., 0.]],
    ("nearest", "zeros", False): [[0., 8., 5., 7., 0.], [1., 8., 5., 8., 0.]],
    ("nearest", "border", True): [[1., 8., 5., 7., 9.], [1., 8., 5., 8., 10.]],
    ("nearest", "border", False): [[1., 8., 5., 7., 9.], [1., 8., 5., 8., 10.]],
    ("nearest", "reflection", True): [[1., 8., 5., 7., 9.], [1., 8., 5., 8., 9.]],
    ("nearest", "reflection", False): [[1., 8., 5., 7., 9.], [1., 8., 5., 8., 9.]],
    ("bicubic", "zeros", True): [[-0.10424726, 7.1400003, 5.0000, 5.7842274, 9.0000],
                                 [2.4492188, 7.4814040, 5.0000, 6.0277520, 0.0000]],
    ("bicubic", "zeros", False): [[0.00000, 7.6287503, 1.0625, 5.5977230, 5.3270264],
                                  [0.40625, 8.0288770, 1.0625, 5.9375067, -0.3515625]],
    ("bicubic", "border", True): [[1.1520010, 6.0599990, 5.0000, 4.870930, 9.0000000],
                                  [2.1328125, 6.4258375, 5.0000, 5.076003, 8.8671875]],
    ("bicubic", "border", False): [[0.894531, 6.6050020, 4.625, 4.7138715, 9.800781],
                                   [0.906250, 7.2822485, 4.625, 5.0000052, 10.00000]],
    ("bicubic", "reflection", True): [[3.1822524, 6.239998, 5.0000, 4.8709273, 9.00000],
                                      [1.7812500, 6.703594, 5.0000, 5.0760007, 8.21875]],
    ("bicubic", "reflection", False): [[2.7993753, 6.6050020, 4.25, 4.7138715, 10.269531],
                                       [0.8125000, 7.2822485, 4.25, 5.0000052, 9.332031]],
}

# the deliberate difference: (mode, padding, align_corners) -> {(row, column): stn_np's value}
HALF_PIXEL_TIES = {("nearest", "zeros", False): {(0, 2): 0.0, (1, 2): 0.0}}

EDGE_INPUT = np.broadcast_to(np.arange(0.0, 5.0), (1, 1, 5, 5)).copy()
EDGE_GRID = np.array([[[1.0, 1.0], [1.0, -1.0], [0.8, 0.8], [0.8, -0.8]],
                      [[-1.0, -1.0], [-1.0, 1.0], [-0.8, -0.8], [-0.8, 0.8]]]).reshape(1, 2, 4, 2)

_ZERO = [[[0.0, 0.0]] * 4] * 2
# (mode, padding_mode, align_corners) -> d sum(output) / d grid (2 x 4 x 2), as in test_nn.py
EDGE_GRADIENT = {
    ("bilinear", "zeros", True): [[[-8., -8.], [-8., 0.], [2., 0.], [2., 0.]],
                                  [[2., 0.], [2., 0.], [2., 0.], [2., 0.]]],
    ("bilinear", "zeros", False): [[[-5., -5.], [-5., 5.], [-10., -10.], [-10., 10.]],
                                   [[0., 0.], [0., 0.], [0., 0.], [0., 0.]]],
    ("bilinear", "border", True): [[[-0., -0.], [-0., 0.], [2., 0.], [2., 0.]],
                                   [[0., 0.], [0., 0.], [2., 0.], [2., 0.]]],
    ("bilinear", "border", False): _ZERO,
    ("bilinear", "reflection", True): [[[-0., -0.], [-0., 0.], [2., 0.], [2., 0.]],
                                       [[0., 0.], [0., 0.], [2., 0.], [2., 0.]]],
    ("bilinear", "reflection", False): _ZERO,
    ("bicubic", "zeros", True): [[[-4.5, -6.], [-4.5, 6.], [2.725679, 0.740878], [2.725679, -0.740878]],
                                 [[1.5, 0.], [1.5, 0.], [1.927921, -0.05688], [1.927921, 0.05688]]],
    ("bicubic", "zeros", False): [[[-5.859375, -5.888672], [-5.859375, 5.888672], [-5.6250, -7.5000], [-5.6250, 7.5000]],
                                  [[-0.234375, -0.263672], [-0.234375, 0.263672], [1.8750, 0.], [1.8750, 0.]]],
    ("bicubic", "border", True): [[[1.5, 0.], [1.5, 0.], [1.74, 0.], [1.74, 0.]],
                                  [[1.5, 0.], [1.5, 0.], [1.74, 0.], [1.74, 0.]]],
    ("bicubic", "border", False): [[[-0.46875, 0.], [-0.46875, 0.], [1.8750, 0.], [1.8750, 0.]],
                                   [[-0.46875, 0.], [-0.46875, 0.], [1.8750, 0.], [1.8750, 0.]]],
    ("bicubic", "reflection", True): [[[0., 0.], [0., 0.], [1.92, 0.], [1.92, 0.]],
                                      [[0., 0.], [0., 0.], [1.92, 0.], [1.92, 0.]]],
    ("bicubic", "reflection", False): [[[0., 0.], [0., 0.], [1.875, 0.], [1.875, 0.]],
                                       [[0., 0.], [0., 0.], [1.875, 0.], [1.875, 0.]]],
}
for _padding, _align in itertools.product(("zeros", "border", "reflection"), (True, False)):
    EDGE_GRADIENT["nearest", _padding, _align] = _ZERO

COMBOS = sorted(KNOWN_OUTPUT)
SAMPLERS = {"grid_sample": grid_sample, "reference_sample": reference_sample}


def ids(combo):
    return "-".join(str(v) for v in combo)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("combo", COMBOS, ids=ids)
def test_known_input(combo, sampler):
    mode, padding, align = combo
    out = SAMPLERS[sampler](KNOWN_INPUT, KNOWN_GRID, mode, padding, align).data[0, 0]
    expected = np.array(KNOWN_OUTPUT[combo])
    ties = HALF_PIXEL_TIES.get(combo, {})
    for (row, col), ours in ties.items():
        assert expected[row, col] != ours and out[row, col] == ours  # the documented rule, not PyTorch's
        expected[row, col] = ours
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("combo", COMBOS, ids=ids)
def test_gradient_edge_cases(combo, sampler):
    mode, padding, align = combo
    grid = Tensor(EDGE_GRID, requires_grad=True)
    SAMPLERS[sampler](EDGE_INPUT, grid, mode, padding, align).sum().backward()
    np.testing.assert_allclose(grid.grad, np.array(EDGE_GRADIENT[combo]).reshape(1, 2, 4, 2), rtol=0, atol=1e-5)


def test_every_combination_has_its_ground_truth():
    assert len(KNOWN_OUTPUT) == len(EDGE_GRADIENT) == 18


def test_the_edge_cases_decide_the_convention():
    # These points sit on kinks (the corners, +-1, are pixel centres with align_corners and
    # image edges without): the convention decides the numbers. The central one, the mean of
    # the two one-sided derivatives, misses PyTorch's ground truth in 5 of the 6 bilinear
    # combinations (with reflection and align_corners the mirror makes both sides agree).
    misses = []
    for combo in COMBOS:
        mode, padding, align = combo
        if mode != "bilinear":
            continue
        grid = Tensor(EDGE_GRID, requires_grad=True)
        grid_sample(EDGE_INPUT, grid, mode, padding, align, subgradient="central").sum().backward()
        if not np.allclose(grid.grad, np.array(EDGE_GRADIENT[combo]).reshape(1, 2, 4, 2), atol=1e-5):
            misses.append(combo)
    assert len(misses) == 5 and ("bilinear", "reflection", True) not in misses
