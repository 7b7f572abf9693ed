"""grid_sample and reference_sample against PyTorch where a sampler is hardest: on every kink,
tie and edge, on purpose.

The numbers are PyTorch 2.13's, stored in ``data/grid_sample_kinks.npz`` by
``data/make_grid_sample_kinks.py`` (inputs come from its exact ``pattern``; the grids are
stored): every integer and half-integer pixel position from -2 to n + 1 on small images and
along rows and columns of 33 sizes from 1 to 456 pixels, PyTorch's own identity grid, the
edges of a 345x456 image, float64 and float32. The default subgradient ("pytorch") must
reproduce PyTorch there to 1e-12 (float64): the zero coordinate gradient at the bounds under
border and reflection padding, the derivative from the right inside, from the left where
reflection mirrors, and the side of every kink that PyTorch's unnormalisation rounds to.

The one difference is deliberate: ``nearest`` rounds exact half-pixel ties up. Those points
are checked against the rule instead (stn_np reads the pixel above the tie, PyTorch the even
one), and everywhere else nearest must equal PyTorch too.
"""

import itertools

import numpy as np
import pytest

from stn_np import Tensor
from stn_np.sampling import grid_sample, normalized_to_pixel, reference_sample
from torch_references import (TOLERANCE, check_nearest, load_data, load_generator, nearest_expectations,
                              relative_error, run)

DATA = load_data("grid_sample_kinks")
MAKE = load_generator("make_grid_sample_kinks")  # the generator's pattern() and grids; it imports torch only when run
MODES, PADDINGS = MAKE.MODES, MAKE.PADDINGS


def check_against_torch(name, U, grid, upstream, mode, padding, align, dtype, samplers=("fast", "reference")):
    """Compare both samplers with the stored PyTorch output and gradients of ``name``."""
    tol = TOLERANCE[dtype]
    U, grid, upstream = U.astype(dtype), grid.astype(dtype), upstream.astype(dtype)
    expected = [DATA[f"{name}/{what}"] for what in ("output", "grad_input", "grad_grid")]
    for sampler in samplers:
        fn = grid_sample if sampler == "fast" else reference_sample
        out, gU, gg = run(fn, U, grid, upstream, mode, padding, align)
        assert out.dtype == gU.dtype == gg.dtype == dtype
        if mode == "nearest":
            check_nearest(sampler, out, gg, expected[0], U, grid, padding, align)
            continue
        for got, want, what in zip((out, gU, gg), expected, ("output", "grad_input", "grad_grid")):
            error = relative_error(got, want)
            assert error <= tol, f"{sampler} {name} {what}: relative error {error:.2e}"


LATTICE = [(f"{H}x{W}", kind, align) for (H, W) in MAKE.LATTICE_SHAPES for kind in ("lattice", "identity")
           for align in (False, True)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("mode, padding", list(itertools.product(MODES, PADDINGS)), ids=lambda v: str(v))
@pytest.mark.parametrize("shape, kind, align", LATTICE, ids=lambda v: str(v))
def test_every_integer_and_half_integer_position_matches_pytorch(shape, kind, align, mode, padding, dtype):
    H, W = map(int, shape.split("x"))
    key = f"lattice/{shape}/{'align' if align else 'noalign'}/{kind}"
    grid = DATA[f"{key}/grid"]
    U = MAKE.pattern((1, 2, H, W), 1)
    G = MAKE.pattern((1, 2) + grid.shape[1:3], 2)
    name = f"{key}/{mode}-{padding}" + ("/float32" if dtype == np.float32 else "")
    check_against_torch(name, U, grid, G, mode, padding, align, dtype)


def test_the_lattice_sits_on_kinks_and_the_convention_shows():
    # The test above is only worth something if the points are where the conventions differ:
    # on the 4x7 lattice with border padding, the grid gradient differs from what the
    # central convention gives at most points, and PyTorch's zero at the bounds is there.
    key = "lattice/4x7/noalign/lattice"
    grid = DATA[f"{key}/grid"]
    U, G = MAKE.pattern((1, 2, 4, 7), 1), MAKE.pattern((1, 2) + grid.shape[1:3], 2)
    torch_grad = DATA[f"{key}/bilinear-border/grad_grid"]
    gt = Tensor(grid, requires_grad=True)
    grid_sample(U, gt, "bilinear", "border", False, subgradient="central").backward(G)
    x = normalized_to_pixel(grid[..., 0], 7)
    on_kink = (np.abs(x - np.round(x)) < 1e-12) & (x >= 0) & (x <= 6)
    assert np.mean(np.abs(gt.grad - torch_grad)[..., 0][on_kink] > 1e-6) > 0.9
    assert np.all(torch_grad[..., 0][(x <= 0) | (x >= 6)] == 0)  # borders are out of bounds
    assert np.any(torch_grad[..., 0][(x > 0) & (x < 6)] != 0)


SWEEP = [(axis, mode, padding, align, dtype) for axis in "xy" for (mode, padding, align) in MAKE.COMBOS
         for dtype in ((np.float64, np.float32) if mode == "bilinear" else (np.float64,))]


@pytest.mark.parametrize("axis, mode, padding, align, dtype", SWEEP,
                         ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_unnormalisation_rounds_like_pytorch_for_33_sizes_up_to_456(axis, mode, padding, align, dtype):
    a = "xy".index(axis)
    values, grads = [], []
    for size in MAKE.SWEEP_SIZES:
        shape = (1, 1, 1, size) if a == 0 else (1, 1, size, 1)
        grid = MAKE.sweep_grid(size, a, align).astype(dtype)
        U = MAKE.pattern(shape, 3).astype(dtype)
        G = MAKE.pattern((1, 1, 1, grid.shape[2]), 4).astype(dtype)
        out, _, gg = run(grid_sample, U, grid, G, mode, padding, align)
        values.append(out.ravel())
        grads.append(gg[0, 0, :, a])
        if mode == "nearest":
            rule, _, _ = nearest_expectations(U, grid, padding, align)
            np.testing.assert_array_equal(out, rule)
    name = f"sweep/{axis}/{MAKE.combo_name(mode, padding, align)}/{np.dtype(dtype).name}"
    if mode == "nearest":
        # ties differ by design (checked above); the rest is PyTorch's to the bit
        got, want = np.concatenate(values), DATA[f"{name}/output"]
        assert np.mean(got == want) > 0.6
        return
    assert relative_error(np.concatenate(values), DATA[f"{name}/output"]) <= TOLERANCE[dtype]
    assert relative_error(np.concatenate(grads), DATA[f"{name}/grad_grid"]) <= TOLERANCE[dtype]


@pytest.mark.parametrize("mode, padding, align", MAKE.COMBOS, ids=lambda v: str(v))
def test_edges_of_a_345x456_image_match_pytorch(mode, padding, align):
    H, W = MAKE.BIG
    grid = DATA[f"big/{'align' if align else 'noalign'}/grid"]
    U = MAKE.pattern((1, 1, H, W), 5)
    G = MAKE.pattern((1, 1, 1, grid.shape[2]), 6)
    name = f"big/{MAKE.combo_name(mode, padding, align)}"
    out, gU, gg = run(grid_sample, U, grid, G, mode, padding, align)
    expected_gU = np.zeros(H * W)
    expected_gU[DATA[f"{name}/grad_input_index"]] = DATA[f"{name}/grad_input_value"]
    literal, _, _ = run(reference_sample, U, grid, G, mode, padding, align, gradients=False)
    if mode == "nearest":
        rule, _, ties = nearest_expectations(U, grid, padding, align)
        np.testing.assert_array_equal(out, rule)
        np.testing.assert_array_equal(literal, rule)
        same = ~ties[:, None]
        np.testing.assert_array_equal(out[same], DATA[f"{name}/output"][same])
        return
    assert relative_error(out, DATA[f"{name}/output"]) <= 1e-12
    assert relative_error(literal, DATA[f"{name}/output"]) <= 1e-12
    assert relative_error(gU.ravel(), expected_gU) <= 1e-12
    assert relative_error(gg, DATA[f"{name}/grad_grid"]) <= 1e-12


def test_the_reference_file_is_complete():
    assert str(DATA["torch_version"]).startswith("2.")
    for (H, W), align, (mode, padding) in itertools.product(MAKE.LATTICE_SHAPES, ("align", "noalign"),
                                                            itertools.product(MODES, PADDINGS)):
        for kind in ("lattice", "identity"):
            assert f"lattice/{H}x{W}/{align}/{kind}/{mode}-{padding}/float32/grad_grid" in DATA.files
    identity = DATA["lattice/4x7/noalign/identity/grid"]  # PyTorch's identity lands off some pixel centres
    x = normalized_to_pixel(identity[..., 0], 7)
    assert np.any(x != np.round(x)) and np.all(np.abs(x - np.round(x)) < 1e-15)
