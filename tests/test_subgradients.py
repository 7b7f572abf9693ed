"""The subgradient conventions at kinks: "pytorch" (the default) and "central".

At a kink the one-sided derivatives of the sample differ; these tests measure them with
one-sided finite differences (exact for the piecewise linear bilinear sample, a tiny step for
bicubic) and hold each convention to its definition, at every integer and half-integer pixel
position from -2 to n + 1, for every mode x padding x align_corners, in both samplers. That
"pytorch" is PyTorch's own gradient there is tested against stored PyTorch numbers in
``test_grid_sample_kinks.py`` and ``test_grid_sample_ground_truths.py``.
"""

import itertools

import numpy as np
import pytest

from stn_np import Tensor, nn
from stn_np.sampling import (BILINEAR, coordinate_scale, grid_sample, identity_grid, normalized_to_pixel,
                             pixel_to_normalized, reference_sample)
from stn_np.sampling.subgradients import SUBGRADIENTS, kink_tolerance, snap_to_kinks

PADDINGS = ("zeros", "border", "reflection")
COMBOS = list(itertools.product(("bilinear", "bicubic"), PADDINGS, (False, True)))
SAMPLERS = {"grid_sample": grid_sample, "reference_sample": reference_sample}
STEP = 1e-7  # pixels


def ids(combo):
    return "-".join(str(v) for v in combo)


def lattice(H, W, align):
    """(1, P, 1, 2) grid of every half-integer pixel position -2 ... n + 1 (x, y pairs)."""
    xs = np.arange(-4, 2 * W + 3) / 2
    ys = np.arange(-4, 2 * H + 3) / 2
    px, py = np.meshgrid(xs, ys)
    grid = np.stack([pixel_to_normalized(px.ravel(), W, align), pixel_to_normalized(py.ravel(), H, align)], -1)
    return grid[None, :, None, :]


def one_sided(U, grid, upstream, mode, padding, align, axis):
    """Slopes of <upstream, V> along ``axis`` left and right of the kink each point sits on.

    Returns ``(left, right, pixel)`` in grid units per point: one-sided finite differences about
    ``k = round(pixel)`` (the lattice's integers and half-integers, exact), and the pixel
    position the sampler computed, which rounding may put an ulp to one side of ``k``.
    """
    size = U.shape[3 - axis]
    scale = coordinate_scale(size, align)
    pixel = normalized_to_pixel(grid[..., axis], size, align)
    if scale == 0:
        zero = np.zeros(grid.shape[:3])
        return zero, zero, pixel
    kink = np.round(2 * pixel) / 2
    values = {}
    for side in (-1, 0, 1):
        moved = grid.copy()
        moved[..., axis] = pixel_to_normalized(kink + side * STEP, size, align)
        values[side] = (grid_sample(U, moved, mode, padding, align).data * upstream).sum(axis=1)
    return (values[0] - values[-1]) / STEP * scale, (values[1] - values[0]) / STEP * scale, pixel


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("combo", COMBOS, ids=ids)
@pytest.mark.parametrize("H, W", [(1, 1), (3, 1), (4, 5)], ids=str)
def test_central_is_the_mean_of_the_one_sided_derivatives_at_every_kink(combo, H, W, sampler, rng):
    mode, padding, align = combo
    grid = lattice(H, W, align)
    U = rng.standard_normal((1, 2, H, W))
    G = rng.standard_normal((1, 2) + grid.shape[1:3])
    gt = Tensor(grid, requires_grad=True)
    SAMPLERS[sampler](U, gt, mode, padding, align, subgradient="central").backward(G)
    for axis in (0, 1):
        left, right, _ = one_sided(U, grid, G, mode, padding, align, axis)
        np.testing.assert_allclose(gt.grad[..., axis], (left + right) / 2, rtol=0, atol=1e-5)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("combo", COMBOS, ids=ids)
def test_pytorch_convention_is_one_sided_inside_and_zero_at_the_bounds(combo, sampler, rng):
    # Inside the image, the derivative from the right of the (mirrored) position; at and beyond
    # the first and last pixel centre, 0 under border and reflection for bilinear (PyTorch's
    # clip of the coordinate), the one-sided derivative for bicubic (PyTorch pads its taps).
    mode, padding, align = combo
    H, W = 4, 5
    grid = lattice(H, W, align)
    U = rng.standard_normal((1, 2, H, W))
    G = rng.standard_normal((1, 2) + grid.shape[1:3])
    gt = Tensor(grid, requires_grad=True)
    SAMPLERS[sampler](U, gt, mode, padding, align).backward(G)
    for axis, size in ((0, W), (1, H)):
        left, right, pixel = one_sided(U, grid, G, mode, padding, align, axis)
        # one-sided derivatives *of the computed position*: where rounding put it an ulp below
        # the kink (as it does in PyTorch), the slope right of it is the kink's left slope
        kink_at = np.round(2 * pixel) / 2
        left, right = np.where(pixel > kink_at, right, left), np.where(pixel < kink_at, left, right)
        got = gt.grad[..., axis]
        kink = np.abs(pixel - np.round(pixel)) < 1e-9
        smooth = np.isclose(left, right, rtol=0, atol=1e-5)
        if padding == "zeros" or mode == "bicubic":
            np.testing.assert_allclose(got, right, rtol=0, atol=1e-5)  # from the right, everywhere
            continue
        if padding == "border":
            bound = (pixel <= 0) | (pixel >= size - 1)
            np.testing.assert_allclose(got[~bound], right[~bound], rtol=0, atol=1e-5)
        else:  # mirror lines low and low + span; the mirrored half of each period reads backwards
            low, span = (0.0, size - 1) if align else (-0.5, size)
            r = np.mod(pixel - low, 2 * span)
            mirrored = r > span
            position = low + np.where(mirrored, 2 * span - r, r)
            bound = (position <= 0) | (position >= size - 1)
            for where, expected in ((~bound & ~mirrored, right), (~bound & mirrored, left)):
                np.testing.assert_allclose(got[where], expected[where], rtol=0, atol=1e-5)
        assert np.all(got[bound] == 0)
        assert np.any(bound & kink & ~smooth)  # the zero is a choice here, not the derivative


def test_the_identity_start_of_a_spatial_transformer_is_decided_by_the_convention(rng):
    # An affine transformer at its identity initialisation samples every pixel centre: a kink
    # in x and in y. The gradient of its x translation is then sum_i G_i dV_i/dx * W / 2, with
    # dV/dx the forward difference U(m+1) - U(m) under PyTorch's convention and the central
    # difference (U(m+1) - U(m-1)) / 2 under "central" -- nothing else decides it.
    H, W = 6, 7
    U = rng.standard_normal((1, 1, H, W))
    G = np.zeros((1, 1, H, W))
    G[0, 0, 1:5, 1:6] = rng.standard_normal((4, 5))  # interior pixels, so no padding is read
    row = U[0, 0]
    forward = np.zeros((H, W))
    forward[:, :-1] = row[:, 1:] - row[:, :-1]
    backward = np.zeros((H, W))
    backward[:, 1:] = row[:, 1:] - row[:, :-1]
    # PyTorch's identity grid (bit for bit ours) puts some points an ulp *left* of their pixel
    # centre; the derivative from the right there is the backward difference, in PyTorch too
    x = normalized_to_pixel(identity_grid(H, W)[None, :, :, 0], W)[0]
    assert np.any(x < np.round(x))
    expected = {
        "pytorch": (G[0, 0] * np.where(x < np.round(x), backward, forward)).sum() * W / 2,
        "central": (G[0, 0] * (forward + backward) / 2).sum() * W / 2,
    }
    assert abs(expected["pytorch"] - expected["central"]) > 0.1
    for subgradient in SUBGRADIENTS:
        loc = nn.Sequential(nn.Flatten(), nn.Linear(H * W, 3, dtype=np.float64))
        st = nn.SpatialTransformer(loc, 3, dtype=np.float64, subgradient=subgradient)
        st(U).backward(G)
        assert st.regressor.bias.grad.reshape(2, 3)[0, 2] == pytest.approx(expected[subgradient], rel=1e-12)
    assert "subgradient='central'" in repr(nn.SpatialTransformer(nn.Flatten(), 4, subgradient="central"))


def test_near_kink_positions_snap_for_central_only():
    x = np.array([3.0 - 4e-16, 3.0 + 4e-16, 3.0 + 1e-9, -1e-17])
    snapped = snap_to_kinks(x, kink_tolerance(x, 7))
    assert snapped.tolist() == [3.0, 3.0, 3.0 + 1e-9, 0.0]
    assert kink_tolerance(np.float32([1.0]), 456)[0] == pytest.approx(8 * 2.0**-23 * 456)
    # at the point an ulp below 3, "pytorch" takes the derivative from its right (the left
    # slope of the kink at 3), "central" the mean of the slopes at 3
    U = np.array([[[[0.0, 1.0, 3.0, 6.0, 10.0, 15.0, 21.0]]]])
    grid = np.array([[[[pixel_to_normalized(2.9999999999999996, 7), 0.0]]]])
    slopes = {}
    for subgradient in SUBGRADIENTS:
        gt = Tensor(grid, requires_grad=True)
        grid_sample(U, gt, subgradient=subgradient).backward(np.ones((1, 1, 1, 1)))
        slopes[subgradient] = gt.grad[0, 0, 0, 0] / 3.5
    assert slopes == {"pytorch": pytest.approx(3.0), "central": pytest.approx(3.5)}


def test_values_and_the_image_gradient_do_not_depend_on_the_convention(rng):
    U = rng.standard_normal((2, 3, 4, 5))
    grid = np.concatenate([lattice(4, 5, False), lattice(4, 5, False)])[:, :40]
    G = rng.standard_normal((2, 3, 40, 1))
    results = []
    for subgradient in SUBGRADIENTS:
        Ut, gt = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)
        out = grid_sample(Ut, gt, "bilinear", "reflection", False, subgradient)
        out.backward(G)
        results.append((out.data, Ut.grad))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=0, atol=1e-15)


def test_bad_subgradient_names_the_function_and_the_choices():
    U, grid = np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 2))
    for fn in (grid_sample, reference_sample):
        name = fn.__name__
        with pytest.raises(ValueError, match=f"^{name}: subgradient: expected one of 'pytorch', 'central', got 'left'$"):
            fn(U, grid, BILINEAR if fn is reference_sample else "bilinear", subgradient="left")
    with pytest.raises(ValueError, match="SpatialTransformer: subgradient: expected one of"):
        nn.SpatialTransformer(nn.Flatten(), 4, subgradient=None)
