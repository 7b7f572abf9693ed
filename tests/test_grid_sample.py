"""grid_sample's behaviour: identity, translations, x/y order, padding far out, duplicates,
tiny images, the adjoint, dtypes, validation, NaN and inf (pitfalls 8-10 of the design notes: sampling at integers, scatter duplicates, boundaries)."""

import itertools
import warnings

import numpy as np
import pytest

import stn_np
import stn_np.functional as F
from stn_np import Tensor
from stn_np.checks.sampling import sample_points
from stn_np.sampling import grid_sample, identity_grid, pixel_to_normalized, reference_sample, sampling_matrix
from stn_np.sampling.kernels import KERNELS

MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")
ALL = list(itertools.product(MODES, PADDINGS, (False, True)))
SMOOTH = [c for c in ALL if c[0] != "nearest"]
NUMPY_PAD = {"zeros": "constant", "border": "edge", ("reflection", False): "symmetric", ("reflection", True): "reflect"}


def ids(combos):
    return ["-".join(str(x) for x in c) for c in combos]


def batched_identity(N, H, W, align_corners, dtype=np.float64):
    return np.repeat(identity_grid(H, W, align_corners, dtype=dtype)[None], N, axis=0)


def grads(mode, padding, align, U, grid, upstream):
    Ut, gt = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)
    out = grid_sample(Ut, gt, mode, padding, align)
    out.backward(upstream)
    return out.data, Ut.grad, gt.grad


# ---------------------------------------------------------------- F and the registry
def test_functional_exports_grid_sample():
    assert F.grid_sample is grid_sample


# ---------------------------------------------------------------- identity (pitfall 8)
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_identity_grid_reproduces_the_input(mode, padding, align, rng):
    U = rng.standard_normal((2, 3, 4, 5))
    V = grid_sample(U, batched_identity(2, 4, 5, align), mode, padding, align).data
    if mode == "nearest":
        np.testing.assert_array_equal(V, U)
    else:  # identity positions are integers up to a few ulps
        np.testing.assert_allclose(V, U, rtol=0, atol=1e-13)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("align", [False, True])
def test_identity_grid_has_the_translation_gradient_of_the_image_slope(padding, align, rng):
    # An image linear along x and y has the same left and right difference at every interior
    # pixel, so the gradient of a translation at the identity (a kink of bilinear) is fixed:
    # d/dt sum(G * V) = slope * dpixel/dcoord * sum(G), G zero on the border pixels.
    H, W = 5, 6
    ys, xs = np.mgrid[0:H, 0:W]
    U = (0.7 * xs - 0.3 * ys + 2.0)[None, None] * np.array([1.0, -2.0])[None, :, None, None]
    G = rng.standard_normal((1, 2, H, W))
    G[..., [0, -1], :] = 0
    G[..., :, [0, -1]] = 0
    shift = Tensor(np.zeros(2), requires_grad=True)
    grid = Tensor(batched_identity(1, H, W, align)) + shift
    out = grid_sample(U, grid, "bilinear", padding, align)
    out.backward(G)
    scale_x = (W - 1) / 2 if align else W / 2
    scale_y = (H - 1) / 2 if align else H / 2
    weighted = (G * np.array([1.0, -2.0])[None, :, None, None]).sum()
    np.testing.assert_allclose(shift.grad, [0.7 * scale_x * weighted, -0.3 * scale_y * weighted], rtol=1e-12)
    assert np.all(np.abs(shift.grad) > 1e-3)


# ---------------------------------------------------------------- translations and x/y order (pitfall 10)
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
@pytest.mark.parametrize("dx, dy", [(2, 0), (0, -1), (-3, 2), (7, -6)])
def test_whole_pixel_translation_shifts_the_image(mode, padding, align, dx, dy, rng):
    H, W = 4, 5
    U = rng.standard_normal((2, 2, H, W))
    grid = batched_identity(2, H, W, align)
    grid[..., 0] += dx * (2 / (W - 1) if align else 2 / W)
    grid[..., 1] += dy * (2 / (H - 1) if align else 2 / H)
    V = grid_sample(U, grid, mode, padding, align).data
    # output pixel (i, j) reads U_pad(i + dy, j + dx); numpy.pad builds U_pad independently
    pad = 8
    np_mode = NUMPY_PAD.get(padding, NUMPY_PAD.get((padding, align)))
    U_pad = np.pad(U, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode=np_mode)
    expected = U_pad[:, :, pad + dy:pad + dy + H, pad + dx:pad + dx + W]
    np.testing.assert_allclose(V, expected, rtol=0, atol=1e-12)


def test_positive_x_translation_moves_content_left_and_y_up():
    U = np.zeros((1, 1, 5, 6))
    U[0, 0, 2, 3] = 1.0
    grid = batched_identity(1, 5, 6, False)
    right = grid.copy()
    right[..., 0] += 2 / 6  # one pixel along x
    down = grid.copy()
    down[..., 1] += 2 / 5  # one pixel along y
    assert np.argwhere(grid_sample(U, right).data[0, 0]).tolist() == [[2, 2]]
    assert np.argwhere(grid_sample(U, down).data[0, 0]).tolist() == [[1, 3]]


# ---------------------------------------------------------------- far outside (pitfall 10)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", ["zeros", "border"])
@pytest.mark.parametrize("align", [False, True])
def test_far_outside_zeros_and_border(mode, padding, align, rng):
    U = rng.standard_normal((1, 2, 3, 4))
    far = np.array([[[[1e6, 0.0], [-1e6, 0.3], [0.2, 1e6], [-0.6, -1e6]]]])
    G = rng.standard_normal((1, 2, 1, 4))
    V, gU, gg = grads(mode, padding, align, U, far, G)
    Ut, gt = Tensor(U, requires_grad=True), Tensor(far, requires_grad=True)
    reference_sample(Ut, gt, KERNELS[mode], padding, align).backward(G)  # the literal sum
    np.testing.assert_allclose(V, reference_sample(U, far, KERNELS[mode], padding, align).data, atol=1e-12)
    np.testing.assert_allclose(gU, Ut.grad, atol=1e-12)
    np.testing.assert_allclose(gg, gt.grad, atol=1e-9)
    # constant along the far coordinate out there (zeros, or the edge): no gradient along it
    assert np.all(gg[..., :2, 0] == 0) and np.all(gg[..., 2:, 1] == 0)
    if padding == "zeros":
        assert np.all(V == 0) and np.all(gU == 0) and np.all(gg == 0)
    else:
        np.testing.assert_allclose(V[..., 0, 0], U[:, :, 1, -1], atol=1e-12)  # the right edge, middle row


@pytest.mark.parametrize("mode", MODES)
def test_huge_coordinates_reach_the_corner_with_border_padding(mode, rng):
    U = rng.standard_normal((1, 2, 3, 4))
    G = rng.standard_normal((1, 2, 1, 1))
    V, gU, gg = grads(mode, "border", False, U, np.array([[[[1e300, -1e300]]]]), G)
    np.testing.assert_allclose(V[..., 0, 0], U[:, :, 0, -1], atol=1e-12)  # top-right corner: constant
    expected = np.zeros_like(U)
    expected[:, :, 0, -1] = G[:, :, 0, 0]
    np.testing.assert_allclose(gU, expected, atol=1e-12)
    assert np.all(gg == 0)
    V, gU, gg = grads(mode, "zeros", False, U, np.array([[[[1e300, -1e300]]]]), G)
    assert np.all(V == 0) and np.all(gU == 0) and np.all(gg == 0)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align", [False, True])
def test_far_outside_reflection_equals_the_reduced_position(mode, align, rng):
    H, W = 3, 4
    U = rng.standard_normal((1, 2, H, W))
    period_x = 2 * (W - 1) if align else 2 * W  # in pixels
    pixel = np.array([1.3, 2.6, -0.4])
    for k in (10**6, -(10**6)):
        far = pixel + k * period_x
        grid = np.zeros((1, 1, 3, 2))
        grid[0, 0, :, 0] = pixel_to_normalized(far, W, align)
        near = np.zeros((1, 1, 3, 2))
        near[0, 0, :, 0] = pixel_to_normalized(pixel, W, align)
        G = rng.standard_normal((1, 2, 1, 3))
        V, gU, gg = grads(mode, "reflection", align, U, grid, G)
        V0, gU0, gg0 = grads(mode, "reflection", align, U, near, G)
        # the far coordinate is only known to about 1e6 * eps pixels
        np.testing.assert_allclose(V, V0, atol=1e-8)
        np.testing.assert_allclose(gU, gU0, atol=1e-8)
        np.testing.assert_allclose(gg[..., 0], gg0[..., 0], rtol=1e-6, atol=1e-8)


def test_huge_reflection_coordinates_are_finite(rng):
    U = rng.standard_normal((1, 1, 3, 4))
    grid = np.array([[[[1e300, -1e300], [-3e307, 2e307]]]])
    for mode in MODES:
        V, gU, gg = grads(mode, "reflection", False, U, grid, np.ones((1, 1, 1, 2)))
        assert np.isfinite(V).all() and np.isfinite(gU).all() and np.isfinite(gg).all()


# ---------------------------------------------------------------- duplicates (pitfall 9)
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_many_points_in_one_pixel_accumulate(mode, padding, align, rng):
    H, W = 4, 5
    U = rng.standard_normal((2, 3, H, W))
    # 30 points per image inside pixel (1.x, 2.x), plus a few outside the image
    px = 2 + rng.uniform(-0.4, 0.4, (2, 5, 6))
    py = 1 + rng.uniform(-0.4, 0.4, (2, 5, 6))
    px[:, 0, :2] = -1.3
    grid = np.stack([pixel_to_normalized(px, W, align), pixel_to_normalized(py, H, align)], -1)
    G = rng.standard_normal((2, 3, 5, 6))
    _, gU, gg = grads(mode, padding, align, U, grid, G)
    Ut, gt = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)
    reference_sample(Ut, gt, KERNELS[mode], padding, align).backward(G)  # dense: no scatter at all
    np.testing.assert_allclose(gU, Ut.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gg, gt.grad, rtol=1e-12, atol=1e-12)
    if mode == "nearest":  # every inside point reads pixel (1, 2): its gradient is the sum of theirs
        inside = np.ones((2, 5, 6), bool)
        inside[:, 0, :2] = False
        np.testing.assert_allclose(gU[:, :, 1, 2], (G * inside[:, None]).sum(axis=(2, 3)), rtol=1e-12)


# ---------------------------------------------------------------- tiny images (pitfall 10)
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
@pytest.mark.parametrize("H, W", [(1, 1), (1, 6), (5, 1)])
def test_one_pixel_axes_match_the_reference(mode, padding, align, H, W, rng):
    U = rng.standard_normal((2, 2, H, W))
    grid = rng.uniform(-2.5, 2.5, (2, 3, 4, 2))
    G = rng.standard_normal((2, 2, 3, 4))
    V, gU, gg = grads(mode, padding, align, U, grid, G)
    Ut, gt = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)
    Vr = reference_sample(Ut, gt, KERNELS[mode], padding, align)
    Vr.backward(G)
    np.testing.assert_allclose(V, Vr.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gU, Ut.grad, rtol=1e-12, atol=1e-12)
    if mode != "nearest":  # random points may sit near nearest's jumps, where both are 0 anyway
        np.testing.assert_allclose(gg, gt.grad, rtol=1e-10, atol=1e-10)
    if align and W == 1:  # a one-pixel axis with align_corners ignores x entirely
        assert np.all(gg[..., 0] == 0)


@pytest.mark.parametrize("mode, padding, align", SMOOTH, ids=ids(SMOOTH))
@pytest.mark.parametrize("H, W", [(1, 1), (1, 4), (3, 1)])
def test_gradcheck_on_one_pixel_axes(mode, padding, align, H, W, rng):
    grid = sample_points(rng, 1, H, W, 2, 3, mode, align)
    if align:  # a one-pixel axis with align_corners maps everything to its pixel
        grid[..., 0] = rng.uniform(-2, 2, grid.shape[:3]) if W == 1 else grid[..., 0]
        grid[..., 1] = rng.uniform(-2, 2, grid.shape[:3]) if H == 1 else grid[..., 1]
    U = rng.standard_normal((1, 2, H, W))
    assert stn_np.gradcheck(lambda u, g: grid_sample(u, g, mode, padding, align), (U, grid), atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------- gradcheck on bigger inputs
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_directional_gradcheck_non_square_batched(mode, padding, align, rng):
    N, C, H, W = 3, 4, 6, 5
    U = rng.standard_normal((N, C, H, W))
    grid = sample_points(rng, N, H, W, 4, 7, mode, align)
    if mode == "nearest":
        fn = lambda u: grid_sample(u, Tensor(grid), mode, padding, align)  # noqa: E731
        inputs = (U,)
    else:
        fn = lambda u, g: grid_sample(u, g, mode, padding, align)  # noqa: E731
        inputs = (U, grid)
    for seed in range(3):
        assert stn_np.gradcheck(fn, inputs, mode="directional", seed=seed, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("align", [False, True])
def test_nearest_grid_gradient_is_exactly_zero(padding, align, rng):
    U = rng.standard_normal((2, 3, 4, 5))
    grid = rng.uniform(-1.5, 1.5, (2, 3, 3, 2))
    _, gU, gg = grads("nearest", padding, align, U, grid, rng.standard_normal((2, 3, 3, 3)))
    assert gg.shape == grid.shape and np.all(gg == 0)
    assert np.any(gU != 0)


def test_nearest_rounds_exact_half_pixel_ties_up():
    U = np.arange(5.0).reshape(1, 1, 1, 5)
    pixels = np.array([0.5, 1.5, 2.5, 0.49])  # PyTorch (half to even) would read 0, 2, 2, 0
    grid = np.stack([pixel_to_normalized(pixels, 5), np.zeros(4)], -1)[None, None]
    assert grid_sample(U, grid, "nearest").data.ravel().tolist() == [1.0, 2.0, 3.0, 0.0]


# ---------------------------------------------------------------- adjoint (linear in U)
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_backward_is_the_adjoint_of_sampling(mode, padding, align, rng):
    N, C, H, W = 2, 3, 5, 4
    grid = rng.uniform(-1.6, 1.6, (N, 6, 3, 2))
    u = rng.standard_normal((N, C, H, W))
    v = rng.standard_normal((N, C, 6, 3))
    Ut = Tensor(u, requires_grad=True)
    out = grid_sample(Ut, grid, mode, padding, align)
    out.backward(v)
    lhs, rhs = np.vdot(out.data, v), np.vdot(u, Ut.grad)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_float32_stays_float32_and_agrees_with_float64(mode, padding, align, rng):
    U = rng.standard_normal((2, 3, 5, 6))
    grid = sample_points(rng, 2, 5, 6, 4, 3, mode, align)
    G = rng.standard_normal((2, 3, 4, 3))
    V64, gU64, gg64 = grads(mode, padding, align, U, grid, G)
    V32, gU32, gg32 = grads(mode, padding, align, U.astype(np.float32), grid.astype(np.float32), G.astype(np.float32))
    assert V32.dtype == gU32.dtype == gg32.dtype == np.float32
    np.testing.assert_allclose(V32, V64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gU32, gU64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gg32, gg64, rtol=1e-3, atol=1e-3)


def test_accepts_tensors_ndarrays_and_lists():
    U = [[[[1.0, 2.0], [3.0, 4.0]]]]
    grid = [[[[0.0, 0.0]]]]
    assert grid_sample(U, grid).item() == 2.5
    assert grid_sample(np.array(U), Tensor(grid)).item() == 2.5


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "U_shape, grid_shape, match",
    [
        ((3, 4, 5), (1, 2, 2, 2), r"grid_sample: input: expected shape \(N, C, H, W\).*got shape \(3, 4, 5\)"),
            ((1, 1, 0, 5), (1, 2, 2, 2), r"grid_sample: input: expected shape \(N, C, H, W\) with H, W >= 1, got shape \(1, 1, 0, 5\)"),
            ((0, 2, 4, 0), (0, 2, 2, 2), r"grid_sample: input: expected shape \(N, C, H, W\) with H, W >= 1, got shape \(0, 2, 4, 0\)"),
        ((2, 1, 4, 5), (2, 2, 2, 3), r"grid_sample: grid: expected shape \(N, H_out, W_out, 2\) with N = 2.*got shape \(2, 2, 2, 3\)"),
        ((2, 1, 4, 5), (3, 2, 2, 2), r"grid_sample: grid: expected shape \(N, H_out, W_out, 2\) with N = 2, the input\'s batch size"),
        ((2, 1, 4, 5), (2, 4, 2), r"grid_sample: grid: expected shape"),
    ],
)
def test_shape_errors_name_the_argument_and_the_expected_shape(U_shape, grid_shape, match):
    with pytest.raises(ValueError, match=match):
        grid_sample(np.zeros(U_shape), np.zeros(grid_shape))


def test_dtype_errors():
    U, grid = np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 2))
    with pytest.raises(TypeError, match=r"grid_sample: grid: expected the dtype of input \(float32\), got float64; cast one explicitly"):
        grid_sample(U.astype(np.float32), grid)
    with pytest.raises(TypeError, match="grid_sample: input: expected float32 or float64 values, got dtype int64"):
        grid_sample(U.astype(np.int64), grid)
    with pytest.raises(TypeError, match="grid_sample: grid: expected float32 or float64 values, got dtype float16"):
        grid_sample(U, grid.astype(np.float16))


def test_option_errors():
    U, grid = np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 2))
    with pytest.raises(ValueError, match="grid_sample: mode: expected one of 'bilinear', 'nearest', 'bicubic' or a Kernel, got 'cubic'"):
        grid_sample(U, grid, mode="cubic")
    with pytest.raises(ValueError, match="grid_sample: padding_mode: expected one of 'zeros', 'border', 'reflection', got 'mirror'"):
        grid_sample(U, grid, padding_mode="mirror")
    with pytest.raises(TypeError, match="grid_sample: align_corners: expected a bool, got None"):
        grid_sample(U, grid, align_corners=None)
    with pytest.raises(ValueError, match=r"grid_sample: mode: expected one of .* or a Kernel, got \['bilinear'\]"):
        grid_sample(U, grid, mode=["bilinear"])  # unhashable: still the one clear message


# ---------------------------------------------------------------- NaN and inf
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_nan_points_sample_zero_with_zero_gradient(mode, padding, align, rng):
    U = rng.standard_normal((2, 2, 3, 4))
    grid = sample_points(rng, 2, 3, 4, 2, 3, mode, align)
    G = rng.standard_normal((2, 2, 2, 3))
    dead = np.zeros((2, 2, 3), bool)
    dead[0, 0, 1] = dead[1, 1, 2] = dead[1, 0, 0] = True
    bad = grid.copy()
    bad[0, 0, 1, 0] = np.nan  # x only
    bad[1, 1, 2, 1] = np.nan  # y only
    bad[1, 0, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning either
        V, gU, gg = grads(mode, padding, align, U, bad, G)
    V0, gU0, gg0 = grads(mode, padding, align, U, grid, G * ~dead[:, None])
    assert np.all(V[dead.nonzero()[0], :, dead.nonzero()[1], dead.nonzero()[2]] == 0)
    np.testing.assert_array_equal(V * ~dead[:, None], V)
    np.testing.assert_allclose(V, V0 * ~dead[:, None], atol=1e-14)
    np.testing.assert_allclose(gU, gU0, atol=1e-14)  # dead points send nothing to the image
    assert np.all(gg[dead] == 0) and np.isfinite(gg).all()
    np.testing.assert_allclose(gg[~dead], gg0[~dead], atol=1e-14)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("align", [False, True])
def test_infinite_points_are_far_outside(mode, align, rng):
    U = rng.standard_normal((1, 2, 3, 4))
    grid = np.array([[[[np.inf, 0.0], [-np.inf, 0.0], [0.0, np.inf], [np.inf, -np.inf]]]])
    G = rng.standard_normal((1, 2, 1, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = {p: grads(mode, p, align, U, grid, G) for p in PADDINGS}
    for padding in ("zeros", "reflection"):  # 0 outside; a mirrored image has no limit at infinity
        V, gU, gg = results[padding]
        assert np.all(V == 0) and np.all(gU == 0) and np.all(gg == 0)
    V, gU, gg = results["border"]  # the edge: the limit of border padding
    finite = np.array([[[[1e9, 0.0], [-1e9, 0.0], [0.0, 1e9], [1e9, -1e9]]]])
    np.testing.assert_allclose(V, grid_sample(U, finite, mode, "border", align).data, atol=1e-12)
    np.testing.assert_allclose(V[..., 0, 3], U[:, :, 0, -1], atol=1e-12)
    _, gU_finite, gg_finite = grads(mode, "border", align, U, finite, G)
    np.testing.assert_allclose(gU, gU_finite, atol=1e-12)
    np.testing.assert_allclose(gg, gg_finite, atol=1e-12)  # moving along the edge still counts
    assert np.all(gg[..., :2, 0] == 0) and np.all(gg[..., 2, 1] == 0) and np.all(gg[..., 3, :] == 0)


def test_nonfinite_image_values_reach_only_the_samples_that_read_them():
    U = np.arange(20.0).reshape(1, 1, 4, 5)
    U[0, 0, 0, 0] = np.nan
    pixels_x = np.array([-3.0, 2.5, 3.2, 10.0])
    pixels_y = np.array([0.0, 2.5, 1.7, 0.0])
    grid = np.stack([pixel_to_normalized(pixels_x, 5), pixel_to_normalized(pixels_y, 4)], -1)[None, None]
    for mode in MODES:
        V = grid_sample(U, grid, mode, "zeros").data.ravel()
        assert V[0] == 0 and V[3] == 0 and np.isfinite(V[1:3]).all()
    assert np.isnan(grid_sample(U, np.array([[[[-1.0, -1.0]]]]), "bilinear", "zeros").item())


# ---------------------------------------------------------------- empty shapes (pitfall 11)
EMPTY = [((0, 3, 4, 5), (0, 2, 3, 2)), ((2, 0, 4, 5), (2, 2, 3, 2)), ((2, 3, 4, 5), (2, 0, 3, 2)),
         ((2, 3, 4, 5), (2, 2, 0, 2)), ((0, 0, 1, 1), (0, 0, 0, 2))]


@pytest.mark.parametrize("subgradient", ["pytorch", "central"])
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
@pytest.mark.parametrize("U_shape, grid_shape", EMPTY, ids=str)
def test_empty_batch_channels_or_output_as_in_pytorch(U_shape, grid_shape, mode, padding, align, subgradient, rng):
    # PyTorch returns an empty output (N, C, H_out, W_out) and gradients of the inputs' shapes:
    # empty, or zero where nothing was sampled (C = 0 leaves a grid whose points read nothing).
    for sampler in (grid_sample, reference_sample):
        U = Tensor(rng.standard_normal(U_shape), requires_grad=True)
        grid = Tensor(rng.uniform(-1.2, 1.2, grid_shape), requires_grad=True)
        out = sampler(U, grid, mode, padding, align, subgradient=subgradient)
        assert out.shape == (U_shape[0], U_shape[1]) + grid_shape[1:3] and out.dtype == np.float64
        out.backward(rng.standard_normal(out.shape))
        assert U.grad.shape == U_shape and grid.grad.shape == grid_shape
        assert not U.grad.any() and not grid.grad.any()


def test_empty_sampling_matrix_has_the_right_shape():
    assert sampling_matrix(np.zeros((0, 3, 2, 2)), (0, 1, 4, 5)).shape == (0, 0)
    assert sampling_matrix(np.zeros((2, 0, 3, 2)), (2, 3, 4, 5)).shape == (0, 40)
    assert sampling_matrix(np.zeros((2, 3, 1, 2)), (2, 0, 4, 5)).shape == (6, 40)
    with pytest.raises(ValueError, match=r"sampling_matrix: input_size: expected .* H, W >= 1"):
        sampling_matrix(np.zeros((1, 3, 1, 2)), (1, 1, 0, 5))


def test_float32_coordinates_near_the_dtype_limit_give_no_warning(rng):
    # (c + 1) * W overflows float32 beyond ~3e38 / W: the position is then infinite and follows
    # the rule for infinite coordinates, with no RuntimeWarning, as the docstring promises.
    U = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    big = np.float32(3e38)
    grid = np.array([[[[big, 0.0], [-big, 0.2], [0.1, big], [big, -big], [3.4e38, 3.4e38]]]], dtype=np.float32)
    G = rng.standard_normal((1, 2, 1, 5)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode, padding, align in ALL:
            V, gU, gg = grads(mode, padding, align, U, grid, G)
            assert np.isfinite(V).all() and np.isfinite(gU).all() and np.isfinite(gg).all()
            if padding == "border":  # the edge, as for +-inf
                np.testing.assert_allclose(V[..., 0, 0], U[:, :, 1, -1], atol=1e-6)
                np.testing.assert_allclose(V[..., 0, 4], U[:, :, -1, -1], atol=1e-6)
            elif padding == "zeros":
                assert np.all(V == 0)
        sampling_matrix(grid, (3, 4))
