"""Volumes without PyTorch: what sampling (N, C, D, H, W) must do whatever the reference says.

The identity reproduces the volume, whole-voxel translations read the padded volume (numpy.pad
builds it independently) and move along the right axis (x along W, y along H, z along D), the
fast sampler equals the literal triple sum (and on 1-voxel axes), gradients equal finite
differences off the kinks, the image gradient is the adjoint of sampling, many points in one
voxel accumulate, float32 stays float32, NaN and inf and empty shapes behave as in 2-D; the
sampling matrix, the framed volume, the volumetric displacement grid and the transform
families' 3-D forms; and a 2-D sampling is the 3-D one of a one-slice volume.
"""

import itertools

import numpy as np
import pytest

import stn_np
from stn_np import Tensor
from stn_np.sampling import (FAMILIES, axis_sizes, displacement_grid, grid_sample, identity_grid, pixel_size,
                             pixel_to_normalized, reference_sample, sample_points, sampling_matrix)
from stn_np.sampling.matrix import framing_matrix
from stn_np.sampling.padding import frame_image, unframe_gradient

MODES = ("bilinear", "nearest")
PADDINGS = ("zeros", "border", "reflection")
ALL = list(itertools.product(MODES, PADDINGS, (False, True)))
NUMPY_PAD = {("zeros", False): "constant", ("zeros", True): "constant", ("border", False): "edge",
             ("border", True): "edge", ("reflection", False): "symmetric", ("reflection", True): "reflect"}


def ids(combos):
    return ["-".join(str(x) for x in c) for c in combos]


def volume_identity(N, D, H, W, align, dtype=np.float64):
    return np.repeat(identity_grid(H, W, align, dtype, depth=D)[None], N, axis=0)


def grads(mode, padding, align, U, grid, upstream, sampler=grid_sample):
    Ut, gt = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)
    out = sampler(Ut, gt, mode, padding, align)
    out.backward(upstream)
    return out.data, Ut.grad, gt.grad


# ---------------------------------------------------------------- coordinates
def test_axis_sizes_reverse_the_spatial_shape_and_the_identity_grid_follows():
    assert axis_sizes((4, 5, 6)) == (6, 5, 4)
    grid = identity_grid(5, 6, depth=4)
    assert grid.shape == (4, 5, 6, 3)
    np.testing.assert_array_equal(grid[0, 0, :, 0], identity_grid(1, 6)[0, :, 0])  # x along W
    np.testing.assert_array_equal(grid[0, :, 0, 1], identity_grid(5, 1)[:, 0, 1])  # y along H
    np.testing.assert_array_equal(grid[:, 0, 0, 2], identity_grid(4, 1)[:, 0, 1])  # z along D
    assert identity_grid(0, 3, depth=2).shape == (2, 0, 3, 3)


def test_identity_grid_refuses_a_bad_depth():
    with pytest.raises(ValueError, match="identity_grid: depth: expected an int >= 0, got -1"):
        identity_grid(2, 3, depth=-1)
    with pytest.raises(TypeError, match="identity_grid: depth: expected an int >= 0, got '2'"):
        identity_grid(2, 3, depth="2")


def test_sample_points_in_a_volume_keep_off_the_kinks(rng):
    grid = sample_points(rng, 2, 4, 5, 3, 2, "bilinear", False, D=6, D_out=3)
    assert grid.shape == (2, 3, 3, 2, 3)
    for axis, size in enumerate((5, 4, 6)):
        p = (grid[..., axis] + 1) * size / 2 - 0.5
        assert np.all(np.abs(p - np.round(p)) >= 0.1 - 1e-9)


# ---------------------------------------------------------------- identity and translations
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_identity_grid_reproduces_the_volume(mode, padding, align, rng):
    U = rng.standard_normal((2, 3, 4, 5, 6))
    V = grid_sample(U, volume_identity(2, 4, 5, 6, align), mode, padding, align).data
    if mode == "nearest":
        np.testing.assert_array_equal(V, U)
    else:
        np.testing.assert_allclose(V, U, rtol=0, atol=1e-13)


@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
@pytest.mark.parametrize("shift", [(2, 0, 0), (0, -1, 0), (0, 0, 1), (-3, 2, -2), (7, -6, 5)])
def test_whole_voxel_translation_shifts_the_volume(mode, padding, align, shift, rng):
    D, H, W = 3, 4, 5
    U = rng.standard_normal((2, 2, D, H, W))
    grid = volume_identity(2, D, H, W, align)
    for axis, (step, size) in enumerate(zip(shift, (W, H, D))):
        grid[..., axis] += step * pixel_size(size, align)
    V = grid_sample(U, grid, mode, padding, align).data
    # output voxel (k, i, j) reads U_pad(k + dz, i + dy, j + dx); numpy.pad builds U_pad independently
    dx, dy, dz = shift
    p = 8
    U_pad = np.pad(U, ((0, 0), (0, 0), (p, p), (p, p), (p, p)), mode=NUMPY_PAD[padding, align])
    expected = U_pad[:, :, p + dz:p + dz + D, p + dy:p + dy + H, p + dx:p + dx + W]
    np.testing.assert_allclose(V, expected, rtol=0, atol=1e-12)


def test_positive_z_translation_moves_content_towards_the_front():
    U = np.zeros((1, 1, 4, 5, 6))
    U[0, 0, 2, 3, 1] = 1.0
    grid = volume_identity(1, 4, 5, 6, False)
    deeper = grid.copy()
    deeper[..., 2] += 2 / 4  # one voxel along z
    assert np.argwhere(grid_sample(U, deeper).data[0, 0]).tolist() == [[1, 3, 1]]


# ---------------------------------------------------------------- the literal triple sum
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_sampler_equals_the_triple_sum(mode, padding, align, dtype, rng):
    N, C, D, H, W = 2, 2, 3, 5, 4
    U = rng.standard_normal((N, C, D, H, W)).astype(dtype)
    grid = sample_points(rng, N, H, W, 3, 2, mode, align, margin=6, D=D, D_out=2).astype(dtype)
    G = rng.standard_normal((N, C, 2, 3, 2)).astype(dtype)
    fast = grads(mode, padding, align, U, grid, G)
    literal = grads(mode, padding, align, U, grid, G, sampler=reference_sample)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for a, b, what in zip(fast, literal, ("output", "input gradient", "grid gradient")):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, **tol, err_msg=what)


def test_the_triple_sum_by_loops(rng):
    # the literal sum, written as the loops it is, at one point of a reflected volume
    U = rng.standard_normal((1, 1, 3, 4, 5))
    x, y, z = 1.3, -0.6, 2.8  # voxels
    grid = np.array([pixel_to_normalized(v, s) for v, s in ((x, 5), (y, 4), (z, 3))]).reshape(1, 1, 1, 1, 3)
    mirror = lambda m, s: m if 0 <= m < s else (-m - 1 if m < 0 else 2 * s - m - 1)  # noqa: E731
    k = lambda d: max(0.0, 1 - abs(d))  # noqa: E731
    expected = sum(U[0, 0, mirror(l, 3), mirror(n, 4), mirror(m, 5)] * k(x - m) * k(y - n) * k(z - l)
                   for l in range(-2, 6) for n in range(-2, 6) for m in range(-2, 7))
    for sampler in (grid_sample, reference_sample):
        assert abs(sampler(U, grid, "bilinear", "reflection").item() - expected) < 1e-13


@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
@pytest.mark.parametrize("spatial", [(1, 1, 1), (1, 4, 1), (3, 1, 1), (1, 1, 5)], ids=str)
def test_one_voxel_axes_match_the_triple_sum(mode, padding, align, spatial, rng):
    U = rng.standard_normal((2, 2) + spatial)
    grid = rng.uniform(-2.5, 2.5, (2, 2, 3, 2, 3))
    G = rng.standard_normal((2, 2, 2, 3, 2))
    fast = grads(mode, padding, align, U, grid, G)
    literal = grads(mode, padding, align, U, grid, G, sampler=reference_sample)
    for a, b in zip(fast[:2], literal[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    if mode != "nearest":
        np.testing.assert_allclose(fast[2], literal[2], rtol=1e-10, atol=1e-10)
    for axis, size in enumerate(axis_sizes(spatial)):
        if align and size == 1:  # a one-voxel axis with align_corners ignores its coordinate
            assert np.all(fast[2][..., axis] == 0)


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_directional_gradcheck_batched(mode, padding, align, rng):
    N, C, D, H, W = 2, 3, 4, 3, 5
    U = rng.standard_normal((N, C, D, H, W))
    grid = sample_points(rng, N, H, W, 3, 4, mode, align, D=D, D_out=2)
    if mode == "nearest":
        fn, inputs = (lambda u: grid_sample(u, Tensor(grid), mode, padding, align)), (U,)
    else:
        fn, inputs = (lambda u, g: grid_sample(u, g, mode, padding, align)), (U, grid)
    for seed in range(2):
        assert stn_np.gradcheck(fn, inputs, mode="directional", seed=seed, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_backward_is_the_adjoint_of_sampling(mode, padding, align, rng):
    grid = rng.uniform(-1.6, 1.6, (2, 3, 2, 4, 3))
    u = rng.standard_normal((2, 3, 4, 5, 3))
    v = rng.standard_normal((2, 3, 3, 2, 4))
    Ut = Tensor(u, requires_grad=True)
    out = grid_sample(Ut, grid, mode, padding, align)
    out.backward(v)
    lhs, rhs = np.vdot(out.data, v), np.vdot(u, Ut.grad)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_many_points_in_one_voxel_accumulate(mode, padding, align, rng):
    D, H, W = 3, 4, 5
    U = rng.standard_normal((2, 2, D, H, W))
    low, high = (-0.4, 0.4) if mode == "nearest" else (0.1, 0.9)
    pixels = [c + rng.uniform(low, high, (2, 3, 4, 5)) for c in (2, 1, 1)]  # 60 points near voxel (1, 1, 2)
    pixels[0][:, 0, 0, :2] = -1.3  # and a few outside
    grid = np.stack([pixel_to_normalized(p, s, align) for p, s in zip(pixels, (W, H, D))], -1)
    G = rng.standard_normal((2, 2, 3, 4, 5))
    fast = grads(mode, padding, align, U, grid, G)
    literal = grads(mode, padding, align, U, grid, G, sampler=reference_sample)  # dense: no scatter at all
    for a, b in zip(fast[1:], literal[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", PADDINGS)
def test_the_translation_gradient_at_the_identity_is_the_slope_of_a_linear_volume(padding, rng):
    # a volume linear in x, y and z has equal left and right differences inside, so the
    # gradient of a translation at the identity (a kink in all three axes) is fixed
    D, H, W = 4, 5, 6
    zs, ys, xs = np.mgrid[0:D, 0:H, 0:W]
    U = (0.7 * xs - 0.3 * ys + 0.4 * zs + 2.0)[None, None]
    G = np.zeros((1, 1, D, H, W))
    G[..., 1:-1, 1:-1, 1:-1] = rng.standard_normal((D - 2, H - 2, W - 2))
    shift = Tensor(np.zeros(3), requires_grad=True)
    grid_sample(U, Tensor(volume_identity(1, D, H, W, False)) + shift, "bilinear", padding).backward(G)
    expected = np.array([0.7 * W / 2, -0.3 * H / 2, 0.4 * D / 2]) * G.sum()
    np.testing.assert_allclose(shift.grad, expected, rtol=1e-12)


@pytest.mark.parametrize("sampler", [grid_sample, reference_sample], ids=["grid_sample", "reference_sample"])
@pytest.mark.parametrize("padding, align", list(itertools.product(PADDINGS, (False, True))), ids=str)
def test_central_is_the_mean_of_the_one_sided_derivatives_at_every_kink(padding, align, sampler, rng):
    # every half-integer voxel position from -2 to n + 1 of a 2x3x4 volume; one-sided finite
    # differences of the trilinear sample are exact (it is linear between kinks)
    spatial = (2, 3, 4)
    sizes = axis_sizes(spatial)
    axes = [np.arange(-4, 2 * s + 3) / 2 for s in sizes]
    mesh = np.meshgrid(*axes[::-1], indexing="ij")[::-1]
    pixels = [m.ravel() for m in mesh]
    grid = np.stack([pixel_to_normalized(p, s, align) for p, s in zip(pixels, sizes)], -1)[None, :, None, None]
    U = rng.standard_normal((1, 2) + spatial)
    G = rng.standard_normal((1, 2) + grid.shape[1:4])
    gt = Tensor(grid, requires_grad=True)
    sampler(U, gt, "bilinear", padding, align, subgradient="central").backward(G)
    step = 1e-7
    for axis, size in enumerate(sizes):
        values = {}
        for side in (-1, 0, 1):
            moved = grid.copy()
            moved[..., axis] = pixel_to_normalized(pixels[axis] + side * step, size, align)[None, :, None, None]
            values[side] = (grid_sample(U, moved, "bilinear", padding, align).data * G).sum(axis=1)
        scale = size / 2 if not align else (size - 1) / 2
        mean = ((values[1] - values[-1]) / (2 * step)) * scale
        np.testing.assert_allclose(gt.grad[..., axis], mean, rtol=0, atol=1e-5)


# ---------------------------------------------------------------- dtypes, NaN and inf, empty shapes
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_float32_stays_float32_and_agrees_with_float64(mode, padding, align, rng):
    U = rng.standard_normal((2, 3, 4, 5, 6))
    grid = sample_points(rng, 2, 5, 6, 4, 3, mode, align, D=4, D_out=2)
    G = rng.standard_normal((2, 3, 2, 4, 3))
    a = grads(mode, padding, align, U, grid, G)
    b = grads(mode, padding, align, U.astype(np.float32), grid.astype(np.float32), G.astype(np.float32))
    for x64, x32, tol in zip(a, b, (1e-5, 1e-5, 1e-3)):
        assert x32.dtype == np.float32
        np.testing.assert_allclose(x32, x64, rtol=tol, atol=tol)


@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_nan_and_inf_points_leave_the_others_alone(mode, padding, align, rng):
    U = rng.standard_normal((1, 2, 3, 4, 5))
    grid = sample_points(rng, 1, 4, 5, 2, 3, mode, align, D=3, D_out=2)
    bad = grid.copy()
    bad[0, 0, 0, 0, 2] = np.nan  # NaN in z
    bad[0, 0, 0, 1] = (np.inf, 0.0, -np.inf)
    G = rng.standard_normal((1, 2, 2, 2, 3))
    clean = np.ones(grid.shape[:4], bool)
    clean[0, 0, 0, :2] = False
    with np.errstate(all="raise"):  # no RuntimeWarning either
        V, gU, gg = grads(mode, padding, align, U, bad, G * clean[:, None])
    V0, gU0, gg0 = grads(mode, padding, align, U, grid, G * clean[:, None])
    np.testing.assert_allclose(V[:, :, clean[0]], V0[:, :, clean[0]], rtol=0, atol=1e-13)
    np.testing.assert_allclose(gU, gU0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(gg[clean], gg0[clean], rtol=0, atol=1e-13)
    assert np.all(V[0, :, 0, 0, 0] == 0) and np.all(gg[0, 0, 0, 0] == 0)  # NaN samples 0, gradient 0


@pytest.mark.parametrize("U_shape, grid_shape", [((0, 2, 3, 4, 5), (0, 2, 2, 2, 3)), ((2, 0, 3, 4, 5), (2, 2, 2, 2, 3)),
                                                  ((2, 2, 3, 4, 5), (2, 0, 2, 2, 3)), ((2, 2, 3, 4, 5), (2, 2, 0, 2, 3)),
                                                  ((2, 2, 3, 4, 5), (2, 2, 2, 0, 3))], ids=str)
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_empty_batch_channels_or_output_as_in_pytorch(U_shape, grid_shape, mode, padding, align, rng):
    U = rng.standard_normal(U_shape)
    grid = rng.uniform(-1, 1, grid_shape)
    out_shape = U_shape[:2] + grid_shape[1:4]
    for sampler in (grid_sample, reference_sample):
        V, gU, gg = grads(mode, padding, align, U, grid, np.zeros(out_shape), sampler=sampler)
        assert V.shape == out_shape and gU.shape == U_shape and gg.shape == grid_shape
        assert not np.any(gU) and not np.any(gg)


# ---------------------------------------------------------------- a 2-D sampling is a one-slice volume's
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_a_one_slice_volume_samples_like_its_image(mode, padding, align, rng):
    U = rng.standard_normal((2, 3, 4, 5))
    grid = sample_points(rng, 2, 4, 5, 3, 6, mode, align)
    G = rng.standard_normal((2, 3, 3, 6))
    image = grads(mode, padding, align, U, grid, G)
    z = 0.0 if align else rng.uniform(-0.9, 0.9)  # inside the one slice: its weight is 1
    if padding == "zeros" and not align:
        z = 0.0  # a one-slice volume's slice is centred at z = 0; off it, zeros padding fades it
    volume_grid = np.concatenate([grid, np.full(grid.shape[:3] + (1,), z)], -1)[:, None]
    volume = grads(mode, padding, align, U[:, :, None], volume_grid, G[:, :, None])
    np.testing.assert_allclose(volume[0][:, :, 0], image[0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(volume[1][:, :, 0], image[1], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(volume[2][:, 0, ..., :2], image[2], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- the sampling matrix and the framed volume
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_matrix_reproduces_grid_sample_channel_by_channel(mode, padding, align, rng):
    N, C, D, H, W = 2, 3, 3, 4, 5
    U = rng.standard_normal((N, C, D, H, W))
    grid = rng.uniform(-1.7, 1.7, (N, 2, 3, 4, 3))
    S = sampling_matrix(grid, (N, C, D, H, W), mode, padding, align)
    assert S.shape == (N * 24, N * D * H * W) and np.max(np.diff(S.indptr)) <= (8 if mode == "bilinear" else 1)
    V = grid_sample(U, grid, mode, padding, align).data
    for c in range(C):
        np.testing.assert_allclose(S @ U[:, c].reshape(-1), V[:, c].reshape(-1), rtol=1e-12, atol=1e-12)
    assert sampling_matrix(grid, (D, H, W), mode, padding, align).shape == S.shape
    # (PyTorch's identity lands an ulp off the centres of a 3-voxel axis: weights of 1 - 1e-16 and 1e-16)
    identity = sampling_matrix(volume_identity(2, D, H, W, align), (D, H, W), align_corners=align)
    np.testing.assert_allclose(identity.toarray(), np.eye(N * D * H * W), rtol=0, atol=1e-15)


@pytest.mark.parametrize("bad", [(3, 4), (1, 2, 3, 4), (2, 1, 0, 3, 3), (1, 1, 3, 3, 3)], ids=str)
def test_the_matrix_validates_a_volumes_size(bad):
    with pytest.raises(ValueError, match=r"sampling_matrix: input_size: expected \(D, H, W\) or \(N, C, D, H, W\)"):
        sampling_matrix(np.zeros((2, 1, 2, 2, 3)), bad)


@pytest.mark.parametrize("padding, align", list(itertools.product(PADDINGS, (False, True))))
@pytest.mark.parametrize("frame", [0, 1, 3])
@pytest.mark.parametrize("spatial", [(1, 1, 1), (2, 3, 4), (3, 1, 2)], ids=str)
def test_frame_volume_is_numpy_pad_and_unframe_is_its_adjoint(padding, align, frame, spatial, rng):
    N, C = 2, 3
    U = rng.standard_normal((N, C) + spatial)
    X = frame_image(U, frame, padding, align)
    framed = tuple(s + 2 * frame for s in spatial)
    padded = np.pad(U, ((0, 0), (0, 0)) + ((frame, frame),) * 3, mode=NUMPY_PAD[padding, align])
    np.testing.assert_array_equal(X[:-1].reshape((N,) + framed + (C,)), padded.transpose(0, 2, 3, 4, 1))
    assert np.all(X[-1] == 0)
    gX = rng.standard_normal(X.shape)
    gU = unframe_gradient(gX.copy(), U.shape, frame, padding, align)
    assert abs(np.vdot(X, gX) - np.vdot(U, gU)) <= 1e-11 * max(1.0, abs(np.vdot(X, gX)))
    R = framing_matrix(N, spatial, frame, padding, align, np.float64)
    np.testing.assert_array_equal(R @ U[:, 0].reshape(-1), X[:, 0])


# ---------------------------------------------------------------- the volumetric displacement grid and families
@pytest.mark.parametrize("align", [False, True])
def test_a_flow_is_in_voxels_of_the_input_volume(align, rng):
    D, H, W = 3, 4, 5
    U = rng.standard_normal((1, 2, D, H, W))
    flow = np.zeros((1, D, H, W, 3))
    flow[..., 0], flow[..., 1], flow[..., 2] = 1.0, -1.0, 2.0  # read voxel (k + 2, i - 1, j + 1)
    V = grid_sample(U, displacement_grid(flow, align_corners=align), "nearest", "zeros", align).data
    expected = np.zeros_like(U)
    expected[:, :, :D - 2, 1:, :W - 1] = U[:, :, 2:, :H - 1, 1:]
    np.testing.assert_array_equal(V, expected)
    # an output of another size: the flow is still in voxels of the input
    flow = rng.standard_normal((2, 2, 3, 2, 3))
    grid = displacement_grid(flow, (2, 1, D, H, W), align).data
    base = identity_grid(3, 2, align, depth=2)
    for axis, size in enumerate((W, H, D)):
        np.testing.assert_allclose(grid[..., axis], base[..., axis] + flow[..., axis] * pixel_size(size, align))


def test_the_displacement_grid_validates_a_volume():
    with pytest.raises(ValueError, match=r"displacement_grid: flow: expected shape \(N, D, H, W, 3\) with N = "
                                         r"input_size\[0\] = 2"):
        displacement_grid(np.zeros((2, 2, 3, 4, 2)), (2, 1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"displacement_grid: input_size: expected \(N, C, D_in, H_in, W_in\) with "
                                         r"D_in, H_in, W_in >= 1"):
        displacement_grid(np.zeros((2, 2, 3, 4, 3)), (2, 1, 0, 3, 4))
    with pytest.raises(ValueError, match=r"displacement_grid: input_size: expected \(N, C, D_in, H_in, W_in\), 5 ints"):
        displacement_grid(np.zeros((2, 2, 3, 4, 3)), (2, 1, 3, 4))


@pytest.mark.parametrize("name", [n for n, f in FAMILIES.items() if 3 in f.spatial_dims])
@pytest.mark.parametrize("align", [False, True])
def test_families_with_a_volumetric_form(name, align, rng):
    family = FAMILIES[name]
    size = (2, 1, 3, 4, 5)
    grid = family.grid(family.identity(2, size=size), size, align)
    np.testing.assert_array_equal(grid.data, volume_identity(2, 3, 4, 5, align))
    params = Tensor(family.near_identity(rng, 2, size=size), requires_grad=True)
    assert stn_np.gradcheck(lambda p: family.grid(p, size, align), (params.data,))
    assert family.shape(size) == family.identity(size=size).shape == family.identity(spatial_dims=3, size=size).shape


def test_families_without_one_say_so():
    assert {n for n, f in FAMILIES.items() if 3 in f.spatial_dims} == {"affine", "dense"}
    assert FAMILIES["affine"].identity(spatial_dims=3).tolist() == np.eye(3, 4).tolist()
    for name in ("attention", "projective", "tps"):
        with pytest.raises(ValueError, match=rf"TransformFamily\('{name}'\).shape: spatial_dims: expected 2: the "
                                             rf"{name} family is 2-D only, got 3"):
            FAMILIES[name].shape(spatial_dims=3)
        with pytest.raises(ValueError, match=rf"TransformFamily\('{name}'\).grid: size: expected \(N, C, H_out, "
                                             r"W_out\)"):
            FAMILIES[name].grid(FAMILIES[name].identity(1), (1, 1, 2, 3, 4))
