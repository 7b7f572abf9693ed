"""Grid generators: PyTorch's affine_grid numbers, identities, the relations between the
generators, the TPS interpolation properties, pixel units of the displacement grid, dtypes,
gradients against finite differences and input validation."""

import os
import warnings

import numpy as np
import pytest
from scipy.interpolate import RBFInterpolator

import stn_np
import stn_np.functional as F
from stn_np import Tensor
from stn_np.sampling.coords import identity_grid, normalized_to_pixel, pixel_to_normalized
from stn_np.sampling.grid_projective import MIN_DENOMINATOR
from stn_np.sampling.families import FAMILIES, get_family
from stn_np.sampling.grid_tps import _grid_matrix

# A 1-pixel axis with align_corners=True warns (as PyTorch does); test_affine_grid_warns_... checks
# the warning, the other tests use such sizes on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:affine_grid. size. an axis of 1 pixel:UserWarning")

REFERENCE = np.load(os.path.join(os.path.dirname(__file__), "data", "grid_reference.npz"), allow_pickle=False)
REFERENCE_CASES = sorted({k.split("/")[0] for k in REFERENCE.files if "/" in k})
SIZES = [(2, 1, 3, 4), (1, 2, 1, 5), (2, 1, 4, 1), (1, 1, 1, 1), (1, 1, 5, 5)]
IDENTITY_PROJECTIVE = [1.0, 0, 0, 0, 1, 0, 0, 0]
# Every family of the registry (a new family is tested without touching this file).
GENERATORS = list(FAMILIES)


def identity_params(name, size, dtype):
    """The family's grid as a function of (params, align_corners), and its identity parameters."""
    family = FAMILIES[name]
    return (lambda p, ac: family.grid(p, size, ac)), family.identity(size[0], dtype, size)


def near_identity(name, size, rng):
    """Random float64 parameters around the family's identity."""
    return FAMILIES[name].near_identity(rng, size[0], size=size)


def test_the_registry_holds_the_documented_identities():
    # Written down independently of the registry, for the families the docs describe.
    size = (2, 1, 3, 4)
    expected = {"affine": np.eye(2, 3), "attention": [1.0, 0, 0], "projective": IDENTITY_PROJECTIVE,
                "tps": np.zeros((16, 2)), "dense": np.zeros((3, 4, 2))}
    assert set(expected) <= set(FAMILIES)
    for name, identity in expected.items():
        np.testing.assert_array_equal(FAMILIES[name].identity(size=size), identity)
    with pytest.raises(ValueError, match="get_family: transform: expected one of 'affine'"):
        get_family("rigid")
    with pytest.raises(ValueError, match="SpatialTransformer: transform: expected one of 'affine', 'attention', "
                                         "'projective', 'tps', got 'dense'"):
        get_family("dense", "SpatialTransformer", parametric=True)


# ---------------------------------------------------------------- PyTorch's affine_grid
@pytest.mark.parametrize("name", REFERENCE_CASES)
def test_affine_grid_matches_pytorch_values_and_theta_gradient(name):
    size = tuple(int(s) for s in REFERENCE[f"{name}/size"])
    theta = Tensor(REFERENCE[f"{name}/theta"], requires_grad=True)
    grid = F.affine_grid(theta, size, align_corners=name.endswith("ac1"))
    np.testing.assert_allclose(grid.data, REFERENCE[f"{name}/grid"], rtol=0, atol=1e-12)
    grid.backward(REFERENCE[f"{name}/upstream"])
    np.testing.assert_allclose(theta.grad, REFERENCE[f"{name}/theta_grad"], rtol=0, atol=1e-12)


def test_reference_covers_one_pixel_axes_and_both_conventions():
    assert {"1x1x1x1_ac0", "1x1x1x1_ac1", "1x2x1x5_ac1", "3x1x4x1_ac0"} <= set(REFERENCE_CASES)


# ---------------------------------------------------------------- identities and dtypes
@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_identity_parameters_give_the_identity_grid_exactly(name, size, align_corners, dtype):
    fn, params = identity_params(name, size, dtype)
    grid = fn(params, align_corners)
    expected = np.broadcast_to(identity_grid(size[2], size[3], align_corners, dtype), (size[0], size[2], size[3], 2))
    assert grid.dtype == dtype
    np.testing.assert_array_equal(grid.data, expected)


@pytest.mark.parametrize("name", GENERATORS)
def test_float32_parameters_give_float32_grids_and_gradients(name, rng):
    size = (2, 1, 3, 4)
    fn, _ = identity_params(name, size, np.float32)
    params = Tensor(near_identity(name, size, rng).astype(np.float32), requires_grad=True)
    grid = fn(params, False)
    assert grid.dtype == np.float32 and grid.shape == (2, 3, 4, 2)
    grid.backward(rng.standard_normal(grid.shape).astype(np.float32))
    assert params.grad.dtype == np.float32
    # The float32 forward agrees with the float64 one to float32 precision.
    grid64 = fn(params.data.astype(np.float64), False)
    np.testing.assert_allclose(grid.data, grid64.data, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("size", [(2, 1, 3, 4), (1, 1, 1, 3), (2, 1, 2, 1)], ids=str)
@pytest.mark.parametrize("align_corners", [False, True])
def test_gradients_match_finite_differences(name, size, align_corners, rng):
    fn, _ = identity_params(name, size, np.float64)
    # gradcheck compares whole Jacobians and a random upstream gradient (never all ones).
    assert stn_np.gradcheck(lambda p: fn(p, align_corners), (near_identity(name, size, rng),),
                            atol=1e-6, rtol=1e-5, seed=int(rng.integers(1000)))


@pytest.mark.parametrize("name", GENERATORS)
def test_a_tensor_argument_keeps_its_graph(name, rng):
    size = (2, 1, 3, 4)
    fn, _ = identity_params(name, size, np.float64)
    leaf = Tensor(near_identity(name, size, rng), requires_grad=True)
    grid = fn(leaf * 1.0, True)  # an interior tensor: the gradient must flow back through MulFunction
    assert grid.requires_grad
    g = rng.standard_normal(grid.shape)
    grid.backward(g)
    direct = Tensor(leaf.data, requires_grad=True)
    fn(direct, True).backward(g)
    np.testing.assert_allclose(leaf.grad, direct.grad, rtol=1e-14, atol=1e-14)


# ---------------------------------------------------------------- affine, attention, projective
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("spatial", [(4, 5), (1, 6), (3, 4, 5), (2, 1, 3)], ids=str)
def test_affine_grid_is_theta_times_homogeneous_points(spatial, align_corners, rng):
    # the op sums over the lattice of target points one axis at a time; the literal formula
    # grid_p = theta p~ and its adjoint dL/dtheta = sum_p g_p p~^T, in float64
    d = len(spatial)
    theta = Tensor(rng.standard_normal((3, d, d + 1)), requires_grad=True)
    grid = F.affine_grid(theta, (3, 2) + spatial, align_corners)
    *depth, height, width = spatial
    base = identity_grid(height, width, align_corners, depth=depth[0] if depth else None)
    homogeneous = np.concatenate([base, np.ones(spatial + (1,))], axis=-1).reshape(-1, d + 1)
    expected = np.einsum("nab,pb->npa", theta.data, homogeneous).reshape(grid.shape)
    np.testing.assert_allclose(grid.data, expected, rtol=1e-14, atol=1e-14)
    g = rng.standard_normal(grid.shape)
    grid.backward(g)
    np.testing.assert_allclose(theta.grad, np.einsum("npa,pb->nab", g.reshape(3, -1, d), homogeneous),
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("align_corners", [False, True])
def test_attention_equals_the_affine_grid_of_scale_and_translation(align_corners, rng):
    params = Tensor(np.array([1.0, 0, 0]) + 0.3 * rng.standard_normal((3, 3)), requires_grad=True)
    s, tx, ty = params.data.T
    theta = Tensor(np.stack([np.stack([s, 0 * s, tx], 1), np.stack([0 * s, s, ty], 1)], 1), requires_grad=True)
    size = (3, 1, 4, 6)
    att, aff = F.attention_grid(params, size, align_corners), F.affine_grid(theta, size, align_corners)
    np.testing.assert_allclose(att.data, aff.data, rtol=1e-15, atol=1e-15)
    g = rng.standard_normal(att.shape)
    att.backward(g)
    aff.backward(g)
    # Chain rule through theta(s, tx, ty): ds = dtheta00 + dtheta11, dtx = dtheta02, dty = dtheta12.
    gt = theta.grad
    np.testing.assert_allclose(params.grad, np.stack([gt[:, 0, 0] + gt[:, 1, 1], gt[:, 0, 2], gt[:, 1, 2]], 1),
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("align_corners", [False, True])
def test_projective_without_perspective_row_equals_the_affine_grid(align_corners, rng):
    theta = np.eye(2, 3) + 0.3 * rng.standard_normal((2, 2, 3))
    h = np.concatenate([theta.reshape(2, 6), np.zeros((2, 2))], axis=1)
    size = (2, 3, 5, 4)
    np.testing.assert_allclose(F.projective_grid(h, size, align_corners).data,
                               F.affine_grid(theta, size, align_corners).data, rtol=1e-15, atol=1e-15)


def test_projective_grid_is_the_homography_in_homogeneous_coordinates(rng):
    h = np.array(IDENTITY_PROJECTIVE) + 0.3 * rng.standard_normal((2, 8))
    h[:, 6:] = rng.uniform(-0.3, 0.3, (2, 2))
    grid = F.projective_grid(h, (2, 1, 3, 5), align_corners=True).data
    base = identity_grid(3, 5, True)
    for n in range(2):
        H = np.append(h[n], 1.0).reshape(3, 3)
        for i in range(3):
            for j in range(5):
                x, y, w = H @ np.array([base[i, j, 0], base[i, j, 1], 1.0])
                np.testing.assert_allclose(grid[n, i, j], [x / w, y / w], rtol=1e-14, atol=1e-14)


def test_projective_denominator_near_zero_is_clamped_with_its_sign(rng):
    # w = h6 x + 1 on x = (-1, 0, 1) (align_corners=True): h6 = 1 puts w = 0 at x = -1, h6 = 1 + 1e-9
    # puts w = -1e-9 there, h6 = 3 puts w = -2 there (beyond the horizon, finite, unclamped).
    h = np.tile(np.array(IDENTITY_PROJECTIVE), (3, 1))
    h[:, 2] = 0.5  # u = x + 0.5, so u = -0.5 at x = -1
    h[:, 6] = [1.0, 1.0 + 1e-9, 3.0]
    params = Tensor(h, requires_grad=True)
    grid = F.projective_grid(params, (3, 1, 1, 3), align_corners=True)
    assert np.isfinite(grid.data).all()
    np.testing.assert_allclose(grid.data[:, 0, 0, 0], [-0.5 / MIN_DENOMINATOR, -0.5 / -MIN_DENOMINATOR, -0.5 / -2.0])
    np.testing.assert_allclose(grid.data[:, 0, 2, 0], 1.5 / (h[:, 6] + 1))  # x = 1: the formula as is
    g = np.zeros(grid.shape)
    g[:, 0, 0, 0] = rng.uniform(1, 2, 3)  # upstream gradient only at x = -1
    grid.backward(g)
    np.testing.assert_array_equal(params.grad[:2, 6:], 0.0)  # clamped w is a constant: no h6, h7 gradient
    assert params.grad[2, 6] != 0  # unclamped negative w passes its gradient
    np.testing.assert_allclose(params.grad[:2, 2], g[:2, 0, 0, 0] / [MIN_DENOMINATOR, -MIN_DENOMINATOR])


# ---------------------------------------------------------------- thin plate spline
@pytest.mark.parametrize("control_points", [(4, 4), (2, 3), (3, 5)])
def test_tps_maps_every_control_point_to_itself_plus_its_offset(control_points, rng):
    k = control_points[0] * control_points[1]
    offsets = 0.3 * rng.standard_normal((2, k, 2))
    c = F.tps_control_points(control_points)
    out = F.tps_transform_points(offsets, c, control_points).data
    np.testing.assert_allclose(out, c + offsets, rtol=0, atol=1e-12)


@pytest.mark.parametrize("control_points", [(4, 4), (3, 2)])
def test_tps_grid_pixel_centres_on_control_points_get_their_offsets(control_points, rng):
    # With align_corners=True and (n - 1) * 3 + 1 pixels along an axis of n control points,
    # every third pixel centre is a control point.
    rows, cols = control_points
    h, w = 3 * (rows - 1) + 1, 3 * (cols - 1) + 1
    offsets = 0.3 * rng.standard_normal((2, rows * cols, 2))
    grid = F.tps_grid(offsets, (2, 1, h, w), control_points, align_corners=True).data
    on_controls = grid[:, ::3, ::3].reshape(2, rows * cols, 2)
    np.testing.assert_allclose(on_controls, F.tps_control_points(control_points) + offsets, rtol=0, atol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
def test_tps_equals_scipys_thin_plate_interpolant(align_corners, rng):
    # scipy's kernel r^2 log r is half of r^2 log r^2: the same interpolant, solved independently.
    offsets = 0.3 * rng.standard_normal((2, 16, 2))
    grid = F.tps_grid(offsets, (2, 1, 5, 7), align_corners=align_corners).data
    points = identity_grid(5, 7, align_corners).reshape(-1, 2)
    for n in range(2):
        spline = RBFInterpolator(F.tps_control_points(), offsets[n], kernel="thin_plate_spline", degree=1)
        np.testing.assert_allclose(grid[n].reshape(-1, 2), points + spline(points), rtol=0, atol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
def test_tps_reproduces_an_affine_offset_field_everywhere(align_corners, rng):
    B, b = 0.3 * rng.standard_normal((2, 2)), 0.3 * rng.standard_normal(2)
    c = F.tps_control_points((3, 4))
    offsets = (c @ B.T + b)[None]
    grid = F.tps_grid(offsets, (1, 1, 6, 9), (3, 4), align_corners).data[0]
    base = identity_grid(6, 9, align_corners)
    np.testing.assert_allclose(grid, base + base @ B.T + b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("direction", [(1.0, 0.0), (0.0, 1.0), (0.6, 0.8)])
def test_tps_is_smooth_across_control_points(direction, rng):
    # On a line through control points: first differences shrink like h (no jump, slope
    # bounded) and second differences like h^2 up to the log factor of r^2 log r^2 (a kink
    # would make them shrink only like h, doubling second_difference / h^2 per halving).
    offsets = 0.2 * rng.standard_normal((1, 16, 2))
    slopes, curvatures = [], []
    for h in (0.02, 0.01, 0.005):
        t = np.arange(-1.2, 1.2 + h / 2, h)
        points = np.array([-1 / 3, -1 / 3]) + t[:, None] * np.array(direction)
        f = F.tps_transform_points(offsets, points).data[0]
        slopes.append(np.abs(np.diff(f, axis=0)).max() / h)
        curvatures.append(np.abs(np.diff(f, 2, axis=0)).max() / h**2)
    assert max(slopes) < 1.05 * min(slopes)
    assert curvatures[1] < 1.5 * curvatures[0] and curvatures[2] < 1.5 * curvatures[1]


def test_tps_matrix_is_cached_read_only_per_size_and_dtype():
    a = _grid_matrix(3, 4, (4, 4), False, np.dtype(np.float32))
    F.tps_grid(np.zeros((1, 16, 2), np.float32), (1, 1, 3, 4))
    assert _grid_matrix(3, 4, (4, 4), False, np.dtype(np.float32)) is a
    assert a.dtype == np.float32 and not a.flags.writeable
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)  # constant fields are reproduced


def test_tps_backward_is_the_transposed_matrix(rng):
    offsets = Tensor(rng.standard_normal((2, 16, 2)), requires_grad=True)
    grid = F.tps_grid(offsets, (2, 1, 3, 4))
    g = rng.standard_normal(grid.shape)
    grid.backward(g)
    M = _grid_matrix(3, 4, (4, 4), False, np.dtype(np.float64))
    np.testing.assert_allclose(offsets.grad, np.einsum("pk,npc->nkc", M, g.reshape(2, 12, 2)), rtol=1e-13, atol=1e-13)


# ---------------------------------------------------------------- displacement
@pytest.mark.parametrize("align_corners", [False, True])
def test_whole_pixel_flow_translates_the_identity_grid(align_corners):
    h, w = 5, 6
    flow = np.zeros((1, h, w, 2))
    flow[..., 0], flow[..., 1] = 2.0, -1.0  # read 2 pixels right and 1 pixel up
    grid = F.displacement_grid(flow, align_corners=align_corners).data[0]
    base = identity_grid(h, w, align_corners)
    np.testing.assert_allclose(grid[1:, :-2], base[:-1, 2:], rtol=0, atol=1e-15)
    # ... and points past the border continue the pixel lattice.
    np.testing.assert_allclose(grid[..., 0], np.broadcast_to(pixel_to_normalized(np.arange(w) + 2.0, w, align_corners), (h, w)),
                               atol=1e-15)
    np.testing.assert_allclose(grid[..., 1], np.broadcast_to(pixel_to_normalized(np.arange(h) - 1.0, h, align_corners)[:, None], (h, w)),
                               atol=1e-15)


@pytest.mark.parametrize("align_corners", [False, True])
def test_flow_is_in_pixels_of_the_input_image(align_corners, rng):
    size = (2, 3, 8, 10)  # input 8 x 10, flow (and output) 3 x 4
    flow = rng.standard_normal((2, 3, 4, 2))
    grid = F.displacement_grid(flow, size, align_corners).data
    base = identity_grid(3, 4, align_corners)
    # In the input's pixel units, each grid point is its identity point moved by the flow.
    for axis, extent in ((0, 10), (1, 8)):
        moved = normalized_to_pixel(grid[..., axis], extent, align_corners)
        np.testing.assert_allclose(moved, normalized_to_pixel(base[..., axis], extent, align_corners) + flow[..., axis],
                                   rtol=0, atol=1e-13)


def test_one_pixel_axis_with_align_corners_ignores_that_flow_component(rng):
    flow = Tensor(rng.standard_normal((1, 3, 4, 2)), requires_grad=True)
    grid = F.displacement_grid(flow, (1, 1, 5, 1), align_corners=True)
    np.testing.assert_array_equal(grid.data[0, ..., 0], identity_grid(3, 4, True)[..., 0])
    grid.backward(rng.standard_normal(grid.shape))
    np.testing.assert_array_equal(flow.grad[..., 0], 0.0)
    assert np.all(flow.grad[..., 1] != 0)
    # Without align_corners a one-pixel axis is ordinary: one pixel is 2 normalised units.
    grid = F.displacement_grid(flow.data, (1, 1, 5, 1)).data
    np.testing.assert_allclose(grid[..., 0], identity_grid(3, 4)[..., 0] + 2 * flow.data[..., 0])


# ---------------------------------------------------------------- validation
def test_wrong_theta_shape_names_the_argument_and_the_expected_shape():
    with pytest.raises(ValueError, match=r"^affine_grid: theta: expected shape \(N, 2, 3\) with N = size\[0\] = 4, got shape \(4, 3, 3\)$"):
        F.affine_grid(np.zeros((4, 3, 3)), (4, 1, 5, 5))
    with pytest.raises(ValueError, match=r"affine_grid: theta: .* N = size\[0\] = 2, got shape \(3, 2, 3\)"):
        F.affine_grid(np.zeros((3, 2, 3)), (2, 1, 5, 5))


@pytest.mark.parametrize("call, message", [
    (lambda: F.attention_grid(np.zeros((2, 4)), (2, 1, 3, 3)), r"attention_grid: params: expected shape \(N, 3\)"),
    (lambda: F.projective_grid(np.zeros((2, 9)), (2, 1, 3, 3)), r"projective_grid: params: expected shape \(N, 8\)"),
    (lambda: F.tps_grid(np.zeros((2, 9, 2)), (2, 1, 3, 3)), r"tps_grid: offsets: expected shape \(N, K, 2\) .* K = 4 \* 4 = 16"),
    (lambda: F.tps_grid(np.zeros((2, 4, 2)), (2, 1, 3, 3), control_points=(1, 4)), r"tps_grid: control_points: expected an int >= 2 or a pair of them, got \(1, 4\)"),
    (lambda: F.tps_grid(np.zeros((2, 4, 2)), (2, 1, 3, 3), control_points=(2,)), r"control_points"),
    (lambda: F.tps_transform_points(np.zeros((1, 16, 2)), np.zeros((3, 3))), r"tps_transform_points: points: expected .* \(P, 2\)"),
    (lambda: F.displacement_grid(np.zeros((2, 3, 3, 3))), r"displacement_grid: flow: expected shape \(N, H, W, 2\)"),
    (lambda: F.displacement_grid(np.zeros((2, 3, 3, 2)), (3, 1, 4, 4)), r"displacement_grid: flow: .* N = input_size\[0\] = 3"),
    (lambda: F.displacement_grid(np.zeros((2, 3, 3, 2)), (2, 1, 0, 4)), r"displacement_grid: input_size: expected \(N, C, H_in, W_in\) with H_in, W_in >= 1"),
    (lambda: F.affine_grid(np.zeros((1, 2, 3)), (1, 1, -1, 3)), r"affine_grid: size: expected \(N, C, H, W\), 4 ints >= 0"),
    (lambda: F.affine_grid(np.zeros((1, 2, 3)), (1, 3, 3)), r"affine_grid: size: expected \(N, C, H, W\)"),
    (lambda: F.affine_grid(np.zeros((1, 2, 3)), (1, 1, 2.0, 3)), r"affine_grid: size: expected \(N, C, H, W\)"),
])
def test_bad_shapes_and_sizes_raise_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_dtypes_and_flags_raise_type_errors():
    with pytest.raises(TypeError, match="affine_grid: theta: expected float32 or float64 values, got dtype int64"):
        F.affine_grid(np.zeros((1, 2, 3), dtype=np.int64), (1, 1, 2, 2))
    with pytest.raises(TypeError, match="tps_grid: offsets: expected float32 or float64 values, got dtype float16"):
        F.tps_grid(np.zeros((1, 16, 2), dtype=np.float16), (1, 1, 2, 2))
    with pytest.raises(TypeError, match="attention_grid: align_corners: expected a bool, got 1"):
        F.attention_grid(np.zeros((1, 3)), (1, 1, 2, 2), 1)


# ---------------------------------------------------------------- empty shapes, the 1-pixel warning, dtypes
@pytest.mark.parametrize("family", list(FAMILIES), ids=str)
@pytest.mark.parametrize("size", [(0, 1, 3, 4), (2, 0, 3, 4), (2, 1, 0, 4), (2, 1, 3, 0), (0, 0, 0, 0)], ids=str)
def test_empty_sizes_give_empty_grids_and_gradients_of_the_parameters_shape(family, size, rng):
    fam = FAMILIES[family]
    params = Tensor(fam.near_identity(rng, size[0], size=size), requires_grad=True)
    grid = fam.grid(params, size)
    assert grid.shape == (size[0], size[2], size[3], 2) and grid.dtype == np.float64
    grid.backward(rng.standard_normal(grid.shape))
    assert params.grad.shape == params.shape
    if grid.size == 0:  # nothing was sampled: the gradient is zero (or itself empty)
        assert not params.grad.any()


def test_affine_grid_warns_for_a_one_pixel_axis_with_align_corners():
    theta = np.eye(2, 3)[None]
    for size in [(1, 1, 1, 5), (1, 1, 4, 1)]:
        with pytest.warns(UserWarning, match=r"affine_grid: size: an axis of 1 pixel with align_corners=True"):
            grid = F.affine_grid(theta, size, align_corners=True)
        assert np.all(grid.data[..., 1 if size[2] == 1 else 0] == 0)  # its coordinate is 0, as in PyTorch >= 1.3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.affine_grid(theta, (1, 1, 1, 5), align_corners=False)
        F.affine_grid(theta, (1, 1, 2, 5), align_corners=True)
        F.affine_grid(np.zeros((0, 2, 3)), (0, 1, 0, 5), align_corners=True)


def test_identity_grid_refuses_integer_dtypes():
    for dtype in (int, np.int32, np.float16, "text"):
        with pytest.raises(TypeError, match=r"^identity_grid: dtype: expected float32 or float64, got "):
            identity_grid(2, 3, dtype=dtype)
    assert identity_grid(2, 3, dtype=np.float32).dtype == np.float32
    assert identity_grid(0, 3).shape == (0, 3, 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("align_corners", [False, True])
def test_identity_grid_is_pytorchs_to_the_bit(dtype, align_corners):
    # PyTorch's affine_grid builds the identity with linspace, whose fused multiply-adds round
    # differently from (2 p + 1) / S - 1: many points are an ulp off that formula, and on a
    # kink an ulp decides the gradient. Stored: PyTorch's identity along an axis of each size.
    kinks = np.load(os.path.join(os.path.dirname(__file__), "data", "grid_sample_kinks.npz"), allow_pickle=False)
    name = f"affine_identity/{np.dtype(dtype).name}/{'align' if align_corners else 'noalign'}"
    sizes, expected = kinks[f"{name}/sizes"], kinks[f"{name}/values"]
    got = np.concatenate([identity_grid(1, int(size), align_corners, dtype)[0, :, 0] for size in sizes])
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    differs = got != np.concatenate([pixel_to_normalized(np.arange(s, dtype=dtype), int(s), align_corners) for s in sizes])
    assert differs.mean() > 0.1  # the formula alone would not do
