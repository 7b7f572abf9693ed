"""Volumes: grid_sample, reference_sample and affine_grid in 3-D against PyTorch, at random points
and on every kink, tie and edge, on purpose (the 2-D tests' twin: test_grid_sample_kinks.py).

The numbers are PyTorch 2.13's, stored in ``data/grid_sample_3d.npz`` by
``data/make_grid_sample_3d.py`` (images and upstream gradients come from its exact
``pattern``; grids are stored where they are random or PyTorch's). For every mode x padding x
align_corners of PyTorch's volumetric sampler (bilinear, i.e. trilinear, and nearest), values
and both gradients must equal PyTorch's to 1e-12 relative in float64 (1e-5 in float32): at
random points, at every integer and half-integer voxel position of small volumes, along rows in
x, y and z of 33 sizes up to 456 voxels (where PyTorch's volumetric kernel rounds the
unnormalisation its own way), near the faces of a 17x33x64 volume, at PyTorch's identity grid,
and on the shapes of PyTorch's own ``test_grid_sample_3d``. As in 2-D, the one deliberate
difference is nearest's exact half-voxel ties (stn_np rounds them up, PyTorch to even); they
are checked against the rule, and nearest equals PyTorch everywhere else.

``python tests/test_grid_sample_3d.py`` prints the agreement table (the largest error per mode x
padding x align_corners over every stored point).
"""

import itertools
import math
import warnings

import numpy as np
import pytest
import scipy.ndimage

import stn_np
from stn_np import Tensor
from stn_np.sampling import affine_grid, grid_sample, identity_grid, normalized_to_pixel, reference_sample
from torch_references import (TOLERANCE, check_nearest, load_data, load_generator, nearest_expectations,
                              relative_error, run)

DATA = load_data("grid_sample_3d")
MAKE = load_generator("make_grid_sample_3d")  # the generator's pattern() and grids; it imports torch only when run
MODES, PADDINGS, COMBOS = MAKE.MODES, MAKE.PADDINGS, MAKE.COMBOS
SAMPLERS = {"fast": grid_sample, "reference": reference_sample}
pytestmark = pytest.mark.filterwarnings("ignore:affine_grid. size. an axis of 1 pixel:UserWarning")


def compare(name, U, grid, upstream, mode, padding, align, dtype, samplers=("fast", "reference"), errors=None):
    """Both samplers against the stored PyTorch output and gradients of ``name``; returns the worst errors."""
    tol = TOLERANCE[dtype]
    U, grid, upstream = U.astype(dtype), grid.astype(dtype), upstream.astype(dtype)
    worst = {}
    for sampler in samplers:
        out, gU, gg = run(SAMPLERS[sampler], U, grid, upstream, mode, padding, align)
        assert out.dtype == gU.dtype == gg.dtype == dtype
        expected = {"output": DATA[f"{name}/output"], "grad_input": DATA[f"{name}/grad_input"]}
        if mode == "nearest":
            ties = check_nearest(sampler, out, gg, expected["output"], U, grid, padding, align)
            if not np.any(ties):  # the image gradient too is PyTorch's where no tie moves a sample
                worst["grad_input"] = relative_error(gU, expected["grad_input"])
            worst["output"] = relative_error(np.where(ties[:, None], 0, out), np.where(ties[:, None], 0,
                                                                                       expected["output"]))
        else:
            expected["grad_grid"] = DATA[f"{name}/grad_grid"]
            got = {"output": out, "grad_input": gU, "grad_grid": gg}
            worst = {what: relative_error(got[what], expected[what]) for what in expected}
        for what, error in worst.items():
            assert error <= tol, f"{sampler} {name} {what}: relative error {error:.2e}"
            if errors is not None:
                errors.append(error)
    return worst


# ---------------------------------------------------------------- random points off the kinks
@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: MAKE.combo_name(*c))
@pytest.mark.parametrize("shape", MAKE.RANDOM_SHAPES, ids=lambda s: s[0])
def test_random_points_match_pytorch(combo, shape):
    mode, padding, align = combo
    tag, N, C, D, H, W, Do, Ho, Wo = shape
    name = f"random/{MAKE.combo_name(*combo)}/{tag}"
    U, G = MAKE.pattern((N, C, D, H, W), 11), MAKE.pattern((N, C, Do, Ho, Wo), 12)
    compare(name, U, DATA[f"{name}/grid"], G, mode, padding, align, np.float64)


# ---------------------------------------------------------------- every integer and half-integer position
LATTICE = [(f"{D}x{H}x{W}", kind, align) for (D, H, W) in MAKE.LATTICE_SHAPES for kind in ("lattice", "identity")
           for align in (False, True)]


def lattice_case(shape, kind, align):
    D, H, W = map(int, shape.split("x"))
    key = f"lattice/{shape}/{MAKE.align_name(align)}/{kind}"
    grid = MAKE.lattice_grid(D, H, W, align) if kind == "lattice" else DATA[f"{key}/grid"]
    return key, MAKE.pattern((1, 2, D, H, W), 1), grid, MAKE.pattern((1, 2) + grid.shape[1:4], 2)


# float32 references are stored for bilinear only (nearest reads voxels: no arithmetic to round)
LATTICE_OPTIONS = [(mode, padding, dtype) for mode, padding in itertools.product(MODES, PADDINGS)
                   for dtype in ((np.float64, np.float32) if mode == "bilinear" else (np.float64,))]


@pytest.mark.parametrize("mode, padding, dtype", LATTICE_OPTIONS,
                         ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
@pytest.mark.parametrize("shape, kind, align", LATTICE, ids=str)
def test_every_integer_and_half_integer_position_matches_pytorch(shape, kind, align, mode, padding, dtype):
    key, U, grid, G = lattice_case(shape, kind, align)
    name = f"{key}/{mode}-{padding}" + ("/float32" if dtype == np.float32 else "")
    compare(name, U, grid, G, mode, padding, align, dtype)


def test_the_lattice_sits_on_kinks_and_the_convention_shows():
    # Worth something only if the points are where conventions differ: on the 2x3x4 lattice
    # with border padding the central convention misses PyTorch's grid gradient at most voxel
    # centres, and PyTorch's zero at the bounds is there, along z as along x.
    key, U, grid, G = lattice_case("2x3x4", "lattice", False)
    torch_grad = DATA[f"{key}/bilinear-border/grad_grid"]
    gt = Tensor(grid, requires_grad=True)
    grid_sample(U, gt, "bilinear", "border", False, subgradient="central").backward(G)
    for axis, size in enumerate((4, 3, 2)):
        p = normalized_to_pixel(grid[..., axis], size, spatial_dims=3)
        on_kink = (np.abs(p - np.round(p)) < 1e-12) & (p > 0) & (p < size - 1)
        if on_kink.any():
            assert np.mean(np.abs(gt.grad - torch_grad)[..., axis][on_kink] > 1e-6) > 0.5
        assert np.all(torch_grad[..., axis][(p <= 0) | (p >= size - 1)] == 0)  # borders are out of bounds
        assert np.any(torch_grad[..., axis] != 0)


def test_pytorchs_volumetric_identity_grid_lands_off_voxel_centres_and_its_rounding_is_not_the_2d_one():
    identity = DATA["lattice/3x3x3/noalign/identity/grid"]
    z = normalized_to_pixel(identity[..., 2], 3, spatial_dims=3)
    assert np.all(np.abs(z - np.round(z)) < 1e-15)
    # the 2-D kernel's fused rounding puts PyTorch's point 2/3 an ulp left of pixel 2; the
    # volumetric kernel's puts it on the pixel
    assert normalized_to_pixel(2 / 3, 3) != normalized_to_pixel(2 / 3, 3, spatial_dims=3) == 2.0


# ---------------------------------------------------------------- rows along x, y and z of 33 sizes
SWEEP = [(axis, mode, padding, align, dtype) for axis in "xyz" for (mode, padding, align) in COMBOS
         for dtype in ((np.float64, np.float32) if mode == "bilinear" and axis == "z" else (np.float64,))]


@pytest.mark.parametrize("axis, mode, padding, align, dtype", SWEEP,
                         ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_unnormalisation_rounds_like_pytorchs_volumetric_kernel_for_33_sizes_up_to_456(axis, mode, padding, align,
                                                                                       dtype):
    a = "xyz".index(axis)
    values, grads = [], []
    for size in MAKE.SWEEP_SIZES:
        grid = MAKE.sweep_grid(size, a, align).astype(dtype)
        U = MAKE.pattern(MAKE.sweep_shape(size, a), 3).astype(dtype)
        G = MAKE.pattern((1, 1, 1, 1, grid.shape[3]), 4).astype(dtype)
        out, _, gg = run(grid_sample, U, grid, G, mode, padding, align)
        values.append(out.ravel())
        grads.append(gg[0, 0, 0, :, a])
        if mode == "nearest":
            rule, _, _ = nearest_expectations(U, grid, padding, align)
            np.testing.assert_array_equal(out, rule)
    name = f"sweep/{axis}/{MAKE.combo_name(mode, padding, align)}/{np.dtype(dtype).name}"
    if mode == "nearest":  # ties differ by design (checked above); the rest is PyTorch's to the bit
        assert np.mean(np.concatenate(values) == DATA[f"{name}/output"]) > 0.6
        return
    assert relative_error(np.concatenate(values), DATA[f"{name}/output"]) <= TOLERANCE[dtype]
    assert relative_error(np.concatenate(grads), DATA[f"{name}/grad_grid"]) <= TOLERANCE[dtype]


def test_the_2d_rounding_would_miss_pytorchs_volumetric_gradients():
    # the sweep is only a test of the rounding if the 2-D (fused) one fails it somewhere
    misses = 0
    for size in MAKE.SWEEP_SIZES:
        coords = MAKE.sweep_grid(size, 2, False)[0, 0, 0, :, 2]
        misses += np.sum(normalized_to_pixel(coords, size) != normalized_to_pixel(coords, size, spatial_dims=3))
    assert misses > 20


# ---------------------------------------------------------------- the faces of a 17x33x64 volume
@pytest.mark.parametrize("mode, padding, align", COMBOS, ids=lambda v: str(v))
def test_faces_of_a_17x33x64_volume_match_pytorch(mode, padding, align):
    D, H, W = MAKE.BIG
    grid = DATA[f"big/{MAKE.align_name(align)}/grid"]
    U = MAKE.pattern((1, 1, D, H, W), 5)
    G = MAKE.pattern((1, 1, 1, 1, grid.shape[3]), 6)
    name = f"big/{MAKE.combo_name(mode, padding, align)}"
    out, gU, gg = run(grid_sample, U, grid, G, mode, padding, align)
    expected_gU = np.zeros(D * H * W)
    expected_gU[DATA[f"{name}/grad_input_index"]] = DATA[f"{name}/grad_input_value"]
    literal, _, _ = run(reference_sample, U, grid, G, mode, padding, align, gradients=False)
    if mode == "nearest":
        rule, _, ties = nearest_expectations(U, grid, padding, align)
        np.testing.assert_array_equal(out, rule)
        np.testing.assert_array_equal(literal, rule)
        np.testing.assert_array_equal(out[:, :, ~ties[0]], DATA[f"{name}/output"][:, :, ~ties[0]])
        return
    assert relative_error(out, DATA[f"{name}/output"]) <= 1e-12
    assert relative_error(literal, DATA[f"{name}/output"]) <= 1e-12
    assert relative_error(gU.ravel(), expected_gU) <= 1e-12
    assert relative_error(gg, DATA[f"{name}/grad_grid"]) <= 1e-12


# ---------------------------------------------------------------- PyTorch's own test_grid_sample_3d
@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: MAKE.combo_name(*c))
@pytest.mark.parametrize("shape", MAKE.TORCH_TEST_SHAPES, ids=lambda s: s[0])
def test_pytorchs_test_grid_sample_3d_shapes(combo, shape):
    # Its shapes (same size, larger, smaller, a 1x1x1 input, an empty grid, no channels, an
    # empty batch) at torch.randn grids: the output shape and PyTorch's CPU numbers.
    mode, padding, align = combo
    tag, N, C, D, H, W, Do, Ho, Wo = shape
    grid = DATA[f"torch_test/{tag}/grid"]
    U, G = MAKE.pattern((N, C, D, H, W), 7), MAKE.pattern((N, C, Do, Ho, Wo), 8)
    out, gU, gg = run(grid_sample, U, grid, G, mode, padding, align)
    assert out.shape == (N, C, Do, Ho, Wo) and gU.shape == U.shape and gg.shape == grid.shape
    compare(f"torch_test/{tag}/{MAKE.combo_name(*combo)}", U, grid, G, mode, padding, align, np.float64)


@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: MAKE.combo_name(*c))
def test_pytorchs_test_grid_sample_3d_gradcheck(combo):
    # Its gradcheck at a torch.randn grid, for the image and the grid, and the grid alone.
    mode, padding, align = combo
    tag, N, C, D, H, W, Do, Ho, Wo = MAKE.TORCH_TEST_SHAPES[1]
    grid = DATA[f"torch_test/{tag}/grid"]
    U = MAKE.pattern((N, C, D, H, W), 7)
    fn = lambda u, g: grid_sample(u, g, mode, padding, align)  # noqa: E731
    if mode == "nearest":  # piecewise constant in the grid: only the image gradient exists
        assert stn_np.gradcheck(lambda u: fn(u, grid), (U,))
    else:
        assert stn_np.gradcheck(fn, (U, grid))
        assert stn_np.gradcheck(lambda g: fn(U, g), (grid,))


def test_a_volume_broadcast_along_the_depth_samples_like_its_copy(rng):
    # PyTorch's "zero-dimensional input strides don't error out": an input expanded from one slice
    base = rng.standard_normal((2, 3, 1, 4, 5))
    expanded = np.broadcast_to(base, (2, 3, 6, 4, 5))
    grid = rng.uniform(-1.2, 1.2, (2, 3, 2, 4, 3))
    G = rng.standard_normal((2, 3, 3, 2, 4))
    for mode, padding, align in COMBOS:
        a = run(grid_sample, expanded, grid, G, mode, padding, align)
        b = run(grid_sample, expanded.copy(), grid, G, mode, padding, align)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------- affine_grid in 3-D
AFFINE = [(tuple(int(s) for s in size.split("x")), align == "align")
          for size, align in itertools.product(["x".join(map(str, s)) for s in MAKE.AFFINE_SIZES], ("noalign", "align"))]


@pytest.mark.parametrize("size, align", AFFINE, ids=str)
def test_affine_grid_matches_pytorch_values_and_theta_gradient(size, align):
    name = f"affine_grid/{'x'.join(map(str, size))}/{MAKE.align_name(align)}"
    theta = Tensor(DATA[f"{name}/theta"], requires_grad=True)
    grid = affine_grid(theta, size, align_corners=align)
    assert grid.shape == (size[0],) + size[2:] + (3,)
    np.testing.assert_allclose(grid.data, DATA[f"{name}/grid"], rtol=0, atol=1e-12)
    grid.backward(MAKE.pattern(grid.shape, 9))
    np.testing.assert_allclose(theta.grad, DATA[f"{name}/theta_grad"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("key", [k for k in DATA.files if k.startswith("affine_identity/")])
def test_identity_grid_is_pytorchs_to_the_bit(key):
    _, dtype, align, size = key.split("/")
    D, H, W = map(int, size.split("x"))
    mine = identity_grid(H, W, align == "align", np.dtype(dtype), depth=D)
    np.testing.assert_array_equal(mine, DATA[key])
    theta = np.eye(3, 4, dtype=np.dtype(dtype))[None]
    np.testing.assert_array_equal(affine_grid(theta, (1, 1, D, H, W), align == "align").data[0], DATA[key])


def test_pytorchs_affine_grid_3d_known_input():
    # test_affine_grid_3d in PyTorch's test/test_nn.py: theta = arange(1, 13) on a 2x2x2 output
    theta = np.arange(1.0, 13).reshape(1, 3, 4)
    aligned = [[[[[-2., -10., -18.], [0., 0., 0.]], [[2., 2., 2.], [4., 12., 20.]]],
                [[[4., 4., 4.], [6., 14., 22.]], [[8., 16., 24.], [10., 26., 42.]]]]]
    unaligned = [[[[[1., -1., -3.], [2., 4., 6.]], [[3., 5., 7.], [4., 10., 16.]]],
                  [[[4., 6., 8.], [5., 11., 17.]], [[6., 12., 18.], [7., 17., 27.]]]]]
    np.testing.assert_array_equal(affine_grid(theta, (1, 1, 2, 2, 2), True).data, np.reshape(aligned, (1, 2, 2, 2, 3)))
    np.testing.assert_array_equal(affine_grid(theta, (1, 1, 2, 2, 2), False).data,
                                  np.reshape(unaligned, (1, 2, 2, 2, 3)))


@pytest.mark.parametrize("align", [False, True])
def test_pytorchs_affine_grid_3d_gradcheck(align, rng):
    for size in [(3, 2, 4, 1, 5), (1, 1, 2, 3, 2)]:  # its random 1..8 sizes, fixed
        theta = rng.standard_normal((size[0], 3, 4))
        assert stn_np.gradcheck(lambda t: affine_grid(t, size, align), (theta,))


# ---------------------------------------------------------------- test_affine_3d_rotateRandom (against scipy)
def _equivalent_affine_transforms_3d(input_size, output_size, angle, axis_vector):
    """PyTorch's _buildEquivalentAffineTransforms3d: the same rotation about a unit axis as a
    theta for affine_grid (align_corners=True), as scipy's voxel-to-voxel matrix, and as a
    matrix from output voxel (i, r, c, 1) to the grid's (x, y, z)."""
    in_c = [(s - 1) / 2 for s in input_size[2:]]
    out_c = [(s - 1) / 2 for s in output_size[2:]]
    s, c = math.sin(angle), math.cos(angle)
    c1 = 1 - c

    def rotation(a, b, e):  # Rodrigues' rotation about the unit vector (a, b, e), homogeneous
        return np.array([[a * a * c1 + c, b * a * c1 - e * s, e * a * c1 + b * s, 0],
                         [a * b * c1 + e * s, b * b * c1 + c, e * b * c1 - a * s, 0],
                         [a * e * c1 - b * s, b * e * c1 + a * s, e * e * c1 + c, 0], [0, 0, 0, 1]])

    scipy_rotation = rotation(*axis_vector)
    torch_rotation = rotation(*axis_vector[::-1])  # PyTorch's axes run (x, y, z), scipy's (z, y, x)
    to_input = np.diag(in_c + [1.0])
    to_input[:3, 3] = in_c
    from_output = np.diag([1 / v for v in out_c] + [1.0]) @ np.block([[np.eye(3), -np.array(out_c)[:, None]],
                                                                      [np.zeros((1, 3)), np.ones((1, 1))]])
    inverse = np.linalg.inv(scipy_rotation)
    transform = to_input @ inverse @ from_output
    reorder = np.eye(4)[[2, 1, 0, 3]]
    grid_matrix = reorder @ inverse @ from_output
    return torch_rotation[:3][None], transform, grid_matrix


@pytest.mark.parametrize("input_size", [(1, 1, 2, 2, 2), (1, 1, 2, 3, 4), (1, 1, 3, 3, 3), (1, 1, 4, 4, 4),
                                        (1, 1, 3, 4, 5)], ids=str)
def test_pytorchs_affine_3d_rotate_random_against_scipy(input_size):
    # test_affine_3d_rotateRandom: trilinear sampling of a rotated volume with border padding
    # and align_corners equals scipy.ndimage.affine_transform(order=1, mode="nearest"), and
    # affine_grid puts every output voxel where the rotation says; its random angle and axis
    # fixed once. PyTorch checks float32 to 1e-5; in float64 this holds to 1e-12.
    rng = np.random.default_rng(3)
    t = rng.random(3)
    angles = [r * 2 * math.pi for r in (0.0, 0.5, 0.25, 0.125, 0.3183)]
    axes = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), tuple(t / np.linalg.norm(t))]
    outputs = [(1, 1, 2, 2, 2), (1, 1, 3, 3, 3), (1, 1, 3, 4, 5), (1, 1, 4, 3, 2), (1, 1, 5, 5, 5), (1, 1, 6, 6, 6)]
    U = rng.random(input_size)
    U[0, 0, 0, 0, 0], U[0, 0, 0, 0, -1], U[0, 0, 0, -1, 0], U[0, 0, 0, -1, -1] = 2, 3, 4, 5
    U[0, 0, -1, 0, 0], U[0, 0, -1, 0, -1], U[0, 0, -1, -1, 0], U[0, 0, -1, -1, -1] = 6, 7, 8, 9
    for angle, axis, output_size in itertools.product(angles, axes, outputs):
        theta, transform, grid_matrix = _equivalent_affine_transforms_3d(input_size, output_size, angle, axis)
        expected = scipy.ndimage.affine_transform(U[0, 0], transform, output_shape=output_size[2:], order=1,
                                                  mode="nearest", prefilter=False)
        grid = affine_grid(theta, output_size, align_corners=True)
        voxels = np.stack(np.meshgrid(*[np.arange(s) for s in output_size[2:]], indexing="ij"), -1)
        homogeneous = np.concatenate([voxels, np.ones(voxels.shape[:-1] + (1,))], -1)
        np.testing.assert_allclose(grid.data[0], (homogeneous @ grid_matrix.T)[..., :3], rtol=0, atol=1e-12)
        out = grid_sample(U, grid, "bilinear", "border", True).data
        np.testing.assert_allclose(out[0, 0], expected, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- nearest: the same rounding in 2-D and 3-D
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("align", [False, True])
def test_nearest_rounds_alike_along_every_axis_of_images_and_volumes(padding, align, rng):
    # PyTorch's test_grid_sample_nearest_neighbor_rounding_mode_consistency: positions 0, 0.1,
    # ..., 9 (float32) along a 10-pixel axis read the same pixels along x and y of an image and
    # x, y and z of a volume.
    size, other = 10, 9
    pixels = np.arange(0, size - 1 + 0.1, 0.1, dtype=np.float32)
    coords = (2 * pixels / np.float32(size - 1) - 1) if align else ((pixels * 2 + 1) / np.float32(size) - 1)
    fixed = np.full_like(coords, 0.5)
    data = rng.random(size).astype(np.float32)
    image = np.broadcast_to(data, (1, 1, other, size)).copy()
    volume = np.broadcast_to(data, (1, 1, other, other, size)).copy()
    along_x = grid_sample(image, np.stack([coords, fixed], -1)[None, None], "nearest", padding, align).data.ravel()
    results = {"y (2-D)": grid_sample(image.transpose(0, 1, 3, 2), np.stack([fixed, coords], -1)[None, None],
                                      "nearest", padding, align).data.ravel()}
    for axis, name in enumerate("xyz"):
        grid = np.stack([fixed, fixed, fixed], -1)
        grid[:, axis] = coords
        moved = np.moveaxis(volume, 4, 4 - axis)
        results[f"{name} (3-D)"] = grid_sample(np.ascontiguousarray(moved), grid[None, None, None], "nearest", padding,
                                               align).data.ravel()
    for name, values in results.items():
        np.testing.assert_array_equal(values, along_x, err_msg=name)


# ---------------------------------------------------------------- PyTorch's 3-D error checks
def test_pytorchs_3d_error_checks():
    # test_grid_sample_error_checking and test_affine_grid_error_checking, the 3-D part
    with pytest.raises(ValueError, match=r"grid_sample: mode: expected 'bilinear' \(trilinear\), 'nearest' or a "
                                         r"Kernel of your own for a volume .*PyTorch has no 3-D bicubic, got 'bicubic'"):
        grid_sample(np.zeros((1, 1, 2, 2, 2)), np.zeros((1, 1, 1, 1, 3)), mode="bicubic")
    with pytest.raises(ValueError, match=r"grid_sample: grid: expected shape \(N, H_out, W_out, 2\) .*got shape "
                                         r"\(1, 1, 1, 1, 3\)"):
        grid_sample(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 1, 3)))
    with pytest.raises(ValueError, match=r"grid_sample: grid: expected shape \(N, D_out, H_out, W_out, 3\) with N = 1"
                                         r".*last axis \(x, y, z\), got shape \(1, 1, 1, 2\)"):
        grid_sample(np.zeros((1, 1, 2, 2, 2)), np.zeros((1, 1, 1, 2)))
    with pytest.raises(ValueError, match=r"grid_sample: grid: expected shape \(N, D_out, H_out, W_out, 3\) with "
                                         r"N = 1, the input's batch size"):
        grid_sample(np.zeros((1, 1, 2, 2, 2)), np.zeros((2, 1, 1, 1, 3)))
    with pytest.raises(ValueError, match=r"grid_sample: input: expected shape \(N, C, D, H, W\) with D, H, W >= 1, "
                                         r"got shape \(1, 1, 2, 0, 2\)"):
        grid_sample(np.zeros((1, 1, 2, 0, 2)), np.zeros((1, 1, 1, 1, 3)))
    with pytest.raises(ValueError, match=r"grid_sample: input: expected shape \(N, C, H, W\) with H, W >= 1 or "
                                         r"\(N, C, D, H, W\) with D, H, W >= 1, got shape \(1, 1, 2, 2, 2, 2\)"):
        grid_sample(np.zeros((1, 1, 2, 2, 2, 2)), np.zeros((1, 1, 1, 1, 3)))
    theta = np.zeros((1, 3, 4))
    for bad in (theta[0], theta[None], np.tile(theta, (1, 2, 1)), np.tile(theta, (1, 1, 2))):
        with pytest.raises(ValueError, match=r"affine_grid: theta: expected shape \(N, 3, 4\) with N = size\[0\] = 1 "
                                             r"\(a volumetric size\)"):
            affine_grid(bad, (1, 1, 2, 2, 2))
    for size in [(1, 2, 2), (1, 1, 2, 2, 2, 2)]:
        with pytest.raises(ValueError, match=r"affine_grid: size: expected \(N, C, H, W\) or \(N, C, D, H, W\), "
                                             r"4 or 5 ints >= 0"):
            affine_grid(theta, size)
    with pytest.raises(ValueError, match=r"affine_grid: size: expected \(N, C, D, H, W\) to match theta of shape "
                                         r"\(N, 3, 4\), got \(1, 1, 2, 2\)"):
        affine_grid(theta, (1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"affine_grid: size: expected \(N, C, H, W\) to match theta of shape "
                                         r"\(N, 2, 3\), got \(1, 1, 2, 2, 2\)"):
        affine_grid(np.zeros((1, 2, 3)), (1, 1, 2, 2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        affine_grid(theta, (1, 1, 3, 2, 1), align_corners=False)  # no warning
    with pytest.warns(UserWarning, match=r"affine_grid: size: an axis of 1 pixel with align_corners=True"):
        affine_grid(theta, (1, 1, 3, 2, 1), align_corners=True)


# ---------------------------------------------------------------- the agreement table of the report
def agreement_table():
    """The largest relative error against PyTorch per mode x padding x align_corners over every stored point."""
    rows = []
    for mode, padding, align in COMBOS:
        errors, points = [], 0
        combo = MAKE.combo_name(mode, padding, align)
        for shape in MAKE.RANDOM_SHAPES:
            name = f"random/{combo}/{shape[0]}"
            tag, N, C, D, H, W, Do, Ho, Wo = shape
            compare(name, MAKE.pattern((N, C, D, H, W), 11), DATA[f"{name}/grid"], MAKE.pattern((N, C, Do, Ho, Wo), 12),
                    mode, padding, align, np.float64, errors=errors)
            points += N * Do * Ho * Wo
        for D, H, W in MAKE.LATTICE_SHAPES:
            for kind in ("lattice", "identity"):
                key, U, grid, G = lattice_case(f"{D}x{H}x{W}", kind, align)
                compare(f"{key}/{mode}-{padding}", U, grid, G, mode, padding, align, np.float64, errors=errors)
                points += grid[..., 0].size
        for shape in MAKE.TORCH_TEST_SHAPES:
            tag, N, C, D, H, W, Do, Ho, Wo = shape
            grid = DATA[f"torch_test/{tag}/grid"]
            compare(f"torch_test/{tag}/{combo}", MAKE.pattern((N, C, D, H, W), 7), grid,
                    MAKE.pattern((N, C, Do, Ho, Wo), 8), mode, padding, align, np.float64, errors=errors)
            points += grid[..., 0].size
        for a, axis in enumerate("xyz"):  # the sweeps: values and the grid gradient along the row
            values, grads = [], []
            for size in MAKE.SWEEP_SIZES:
                grid = MAKE.sweep_grid(size, a, align)
                out, _, gg = run(grid_sample, MAKE.pattern(MAKE.sweep_shape(size, a), 3), grid,
                                 MAKE.pattern((1, 1, 1, 1, grid.shape[3]), 4), mode, padding, align)
                values.append(out.ravel())
                grads.append(gg[0, 0, 0, :, a])
                points += grid.shape[3]
            name = f"sweep/{axis}/{combo}/float64"
            if mode == "bilinear":
                errors += [relative_error(np.concatenate(values), DATA[f"{name}/output"]),
                           relative_error(np.concatenate(grads), DATA[f"{name}/grad_grid"])]
        D, H, W = MAKE.BIG  # the faces of the big volume
        grid = DATA[f"big/{MAKE.align_name(align)}/grid"]
        out, gU, gg = run(grid_sample, MAKE.pattern((1, 1, D, H, W), 5), grid, MAKE.pattern((1, 1, 1, 1, grid.shape[3]), 6),
                          mode, padding, align)
        points += grid.shape[3]
        if mode == "bilinear":
            expected_gU = np.zeros(D * H * W)
            expected_gU[DATA[f"big/{combo}/grad_input_index"]] = DATA[f"big/{combo}/grad_input_value"]
            errors += [relative_error(out, DATA[f"big/{combo}/output"]), relative_error(gU.ravel(), expected_gU),
                       relative_error(gg, DATA[f"big/{combo}/grad_grid"])]
        rows.append((combo, points, max(errors)))
    return rows


if __name__ == "__main__":
    print("stn_np against PyTorch 2.13 in 3-D (float64): the largest relative error over output, image and grid\n"
          "gradients at the random, lattice, identity, test_grid_sample_3d, sweep and big-volume points (nearest:\n"
          "away from the half-voxel ties, which round up by design, checked against the rule by the tests)")
    print(f"{'mode-padding-align_corners':<32}{'points':>8}{'max error':>12}")
    for combo, points, error in agreement_table():
        print(f"{combo:<32}{points:>8}{error:>12.1e}")
