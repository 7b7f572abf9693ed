"""Issue 14: volumetric registration, ``register(..., spatial_dims=3)``.

The volumes: the library's Shepp-Logan-style ellipsoid phantom (smooth, 32^3) and smoothed
noise (a texture that fills the volume). Fixed volumes are made with scipy's cubic spline
(``samples.spline_warp``, 0 outside), not with the library's trilinear sampler, so a
registration does not undo its own interpolation.

Criteria: a random 3-D affine recovered to 0.5 voxel at the 8 corners; a smooth 3-D
deformation with at least 80% lower MSE and no folded voxel; content leaving the volume
handled by the overlap mask; float32 and float64 volumes alike; the 3-D diffusion penalty,
Jacobian determinant, pyramid, overlap mask, affine utilities and global start on their own;
clear errors.
"""

import numpy as np
import pytest
from scipy import ndimage

import stn_np
from stn_np.functional import affine_grid, displacement_grid, grid_sample
from stn_np.registration import jacobian_determinant, register
from stn_np.registration.initialise import global_search, overlap_mask
from stn_np.registration.jacobian import flow_to_grid
from stn_np.registration.losses import diffusion_penalty
from stn_np.registration.pyramid import blur, build_pyramid, downsample, level_sigmas, level_sizes, resample
from stn_np.registration.samples import ellipsoid_phantom, random_affine_3d, smooth_flow, spline_warp
from stn_np.registration.schedules import get_schedule
from stn_np.registration.transforms import (compose_affine, corner_error, invert_affine, pixel_to_theta,
                                            theta_to_pixel, transform_points)
from stn_np.sampling.coords import identity_grid

N = 32
SHAPE = (N, N, N)
PHANTOM = ellipsoid_phantom(N)


def affine_pair(theta, volume=PHANTOM):
    """The fixed volume: ``volume`` read at ``affine_grid(theta)`` by cubic splines."""
    return spline_warp(volume, affine_grid(theta[None], (1, 1, *volume.shape)).data[0])


def rotation_map(degrees, axis, scale=1.0, shift=(0.0, 0.0, 0.0), size=N):
    """The voxel map fixed -> moving (3 x 4): rotation about ``axis`` and scaling about the centre, then a shift."""
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.deg2rad(degrees)
    linear = scale * (np.eye(3) + np.sin(a) * cross + (1 - np.cos(a)) * cross @ cross)
    centre = np.full(3, (size - 1) / 2)
    return np.concatenate([linear, (centre - linear @ centre + np.asarray(shift))[:, None]], axis=1)


# ------------------------------------------------------------------ the acceptance criteria
@pytest.mark.parametrize("seed", [0, 1])
def test_affine_recovers_a_random_3d_affine_to_half_a_voxel_at_the_corners(seed):
    theta = random_affine_3d(np.random.default_rng(seed), SHAPE)  # up to 20 deg, scale 0.9-1.1, shift 10%
    fixed = affine_pair(theta)
    result = register(fixed, PHANTOM, spatial_dims=3)
    error = float(corner_error(result.params, theta, SHAPE))
    assert error < 0.5, f"corner error {error:.3f} voxels"
    assert result.params.shape == (3, 4) and result.grid.shape == (N, N, N, 3) and result.warped.shape == SHAPE
    assert result.spatial_dims == 3 and result.moving_size == SHAPE
    assert result.level_sizes == [((8, 8, 8), (8, 8, 8)), ((16, 16, 16), (16, 16, 16)), (SHAPE, SHAPE)]
    assert result.loss_after < 0.05 * result.loss_before
    assert len(result.refinement_history) >= 1  # the trilinear Gauss-Newton finish ran
    # the voxel matrix is theta in voxels: fixed voxel (x, y, z) reads moving voxel M (x, y, z, 1)
    assert np.allclose(result.pixel_matrix(), theta_to_pixel(result.params, SHAPE))
    assert np.allclose(result.apply(PHANTOM), result.warped)


def test_dense_recovers_a_smooth_3d_deformation_without_folding():
    flow = smooth_flow(np.random.default_rng(0), SHAPE, amplitude=2.0)
    assert jacobian_determinant(flow, kind="flow")[1] == 0.0  # the truth does not fold
    fixed = spline_warp(PHANTOM, displacement_grid(flow[None]).data[0])
    result = register(fixed, PHANTOM, transform="dense", spatial_dims=3)
    mse_before = np.mean((PHANTOM - fixed) ** 2)
    mse_after = np.mean((result.warped - fixed) ** 2)
    det, folded = jacobian_determinant(result.params, kind="flow")
    assert mse_after <= 0.2 * mse_before, f"MSE reduced by only {1 - mse_after / mse_before:.1%}"
    assert folded == 0.0 and det.min() > 0
    assert result.params.shape == (N, N, N, 3)
    assert np.allclose(result.grid, displacement_grid(result.params[None]).data[0])
    # the flow found is the flow applied, to about a voxel on average
    assert np.linalg.norm(result.params - flow, axis=-1).mean() < 1.0


def texture(seed=0, size=N):
    """Smoothed noise that fills the volume, around 2 (far from the zero padding's value)."""
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((size,) * 3), 2.0, mode="wrap")
    return noise / noise.std() + 2.0


def test_content_leaving_the_volume_counts_only_the_overlap():
    # moving(M p) = fixed(p): a 12% zoom with a shift, so about a third of the fixed volume has no partner
    fixed = texture()
    matrix = rotation_map(8, (1, 2, 0.5), scale=1.12, shift=(3, -2, 2))
    inverse = pixel_to_theta(invert_affine(matrix), SHAPE)
    moving = grid_sample(fixed[None, None], affine_grid(inverse[None], (1, 1, *SHAPE))).data[0, 0]  # 0 outside
    theta = pixel_to_theta(matrix, SHAPE)
    assert overlap_mask(affine_grid(theta[None], (1, 1, *SHAPE)).data, SHAPE).mean() < 0.7
    masked = register(fixed, moving, spatial_dims=3)
    assert corner_error(masked.params, theta, SHAPE) < 0.5
    # the zero-padded objective pays for every voxel without a partner and zooms in to avoid them
    padded = register(fixed, moving, spatial_dims=3, masked=False)
    assert corner_error(padded.params, theta, SHAPE) > 2.0
    assert np.linalg.det(padded.params[:, :3]) / np.linalg.det(theta[:, :3]) < 0.9


def test_the_global_start_reaches_rotations_the_identity_cannot():
    theta = pixel_to_theta(rotation_map(60, (1, 0.5, 2)), SHAPE)  # the phantom's principal axes are distinct
    fixed = affine_pair(theta)
    assert corner_error(register(fixed, PHANTOM, spatial_dims=3).params, theta, SHAPE) < 0.5
    assert corner_error(register(fixed, PHANTOM, spatial_dims=3, init="identity").params, theta, SHAPE) > 2.0


def test_global_search_finds_a_large_shift_of_a_texture():
    fixed = texture(seed=1)
    theta = pixel_to_theta(rotation_map(0, (0, 0, 1), shift=(7, -5, 6)), SHAPE)  # 7, 5 and 6 voxels
    moving = np.roll(fixed, (6, -5, 7), axis=(0, 1, 2))  # moving[k + dz, i + dy, j + dx] = fixed[k, i, j]
    start = global_search(fixed[None, None], moving[None, None])
    assert start.shape == (3, 4) and corner_error(start, theta, SHAPE) < 1.0


def test_float32_and_float64_volumes_register_alike():
    theta = random_affine_3d(np.random.default_rng(2), SHAPE, max_rotation=10)
    fixed = affine_pair(theta)
    r64 = register(fixed, PHANTOM, spatial_dims=3, levels=2)
    r32 = register(fixed.astype(np.float32), PHANTOM.astype(np.float32), spatial_dims=3, levels=2)
    assert corner_error(r64.params, theta, SHAPE) < 0.5
    # registration computes in float64 whatever comes in: float32 input only rounds the values
    assert corner_error(r32.params, r64.params, SHAPE) < 1e-3
    assert r32.warped.dtype == r32.grid.dtype == np.float64


def test_channels_and_the_default_meaning_of_a_3d_array():
    rng = np.random.default_rng(3)
    volume = np.stack([PHANTOM, texture()])[:, :16, :16, :16]  # (C, D, H, W)
    result = register(volume, volume, spatial_dims=3, levels=1, steps=2, init="identity", refine=False)
    assert result.warped.shape == (2, 16, 16, 16) and result.grid.shape == (16, 16, 16, 3)
    assert result.apply(volume[0]).shape == (16, 16, 16)
    # without spatial_dims a 3-D array keeps meaning (C, H, W): here 16 channels of 16 x 16 images
    image = rng.random((16, 16, 16))
    flat = register(image, image, levels=1, steps=2, init="identity", refine=False)
    assert flat.params.shape == (2, 3) and flat.warped.shape == (16, 16, 16) and flat.grid.shape == (16, 16, 2)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(spatial_dims=4), ValueError, "register: spatial_dims: expected one of 2, 3, got 4"),
        (dict(spatial_dims="3"), TypeError, "register: spatial_dims: expected an int, got '3'"),
        (dict(transform="tps"), ValueError,
         r"register: transform: expected 'affine' or 'dense' with spatial_dims=3 \(the tps family is 2-D only\), got 'tps'"),
        (dict(transform="attention"), ValueError, "the attention family is 2-D only"),
        (dict(transform="projective"), ValueError, "the projective family is 2-D only"),
        (dict(fixed=np.zeros((16, 16))), ValueError,
         r"register: fixed: expected a non-empty 3-D \(D, H, W\) or 4-D \(C, D, H, W\) volume, got shape \(16, 16\)"),
        (dict(moving=np.zeros((1, 1, 16, 16, 16))), ValueError, "register: moving: expected a non-empty 3-D"),
        (dict(moving=np.zeros((2, 16, 16, 16))), ValueError,
         r"register: moving: expected 1 channel\(s\), as fixed has, got 2 channel\(s\)"),
        (dict(moving=np.random.default_rng(0).random((6, 16, 16))), ValueError,
         "register: fixed: expected fixed and moving volumes of at least 8 x 8 x 8 voxels, got 16 x 16 x 16 and 6 x 16 x 16"),
        (dict(levels=3), ValueError,
         r"register: levels: expected at most 2 levels \(the coarsest keeps >= 8 voxels a side\)"),
        (dict(moving=np.full((16, 16, 16), np.nan)), ValueError, "register: moving: expected finite values, got NaN or inf"),
        (dict(init=np.eye(2, 3)), ValueError, r"register: init: expected 'auto', 'identity' or a real array of shape \(3, 4\)"),
        (dict(transform="dense", init=np.zeros((16, 16, 2))), ValueError, r"of shape \(8, 8, 8, 3\) for transform .dense."),
        (dict(fixed=np.full((16, 16, 16), "a")), TypeError, "register: fixed: expected real"),
    ],
)
def test_register_refuses_bad_volumes_clearly(kwargs, error, message):
    rng = np.random.default_rng(0)
    arguments = dict(fixed=rng.random((16, 16, 16)), moving=rng.random((16, 16, 16)), spatial_dims=3, levels=2)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        register(arguments.pop("fixed"), arguments.pop("moving"), **arguments)


# ------------------------------------------------------------------ the 3-D diffusion penalty
def test_diffusion_penalty_3d_values_by_hand_and_its_gradient(rng):
    assert diffusion_penalty(np.full((1, 3, 4, 5, 3), 2.0)).item() == 0.0  # translations are free
    field = np.zeros((1, 3, 4, 5, 3))
    field[..., 2] = 0.5 * np.arange(3)[:, None, None]  # dz/dk = 0.5: 2 x 4 x 5 differences of 0.5
    assert np.isclose(diffusion_penalty(field).item(), 40 * 0.25 / 60)
    assert stn_np.gradcheck(lambda f: diffusion_penalty(f) * 1.7, (rng.standard_normal((2, 3, 4, 5, 3)),))


def test_diffusion_penalty_is_one_mechanism_for_images_and_volumes(rng):
    # an image flow is a one-slice volume flow with no z component: the same penalty and gradient
    flow = rng.standard_normal((2, 5, 6, 2))
    volume_flow = np.concatenate([flow, np.zeros((2, 5, 6, 1))], axis=-1)[:, None]
    image_field, volume_field = stn_np.Tensor(flow, requires_grad=True), stn_np.Tensor(volume_flow, requires_grad=True)
    a, b = diffusion_penalty(image_field), diffusion_penalty(volume_field)
    assert np.isclose(a.item(), b.item())
    a.backward(), b.backward()
    assert np.allclose(volume_field.grad[:, 0, ..., :2], image_field.grad) and not volume_field.grad[..., 2].any()


def test_diffusion_penalty_keeps_float32(rng):
    field = stn_np.Tensor(rng.standard_normal((1, 3, 4, 5, 3)).astype(np.float32), requires_grad=True)
    value = diffusion_penalty(field)
    value.backward()
    assert value.dtype == np.float32 and field.grad.dtype == np.float32


@pytest.mark.parametrize("shape", [(3, 4, 5, 3), (1, 4, 4, 3), (1, 2, 3, 4, 5, 3), (1, 3, 4, 5, 2)])
def test_diffusion_penalty_refuses_fields_of_the_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"diffusion_penalty: field: expected shape \(N, H, W, 2\) or \(N, D, H, W, 3\)"):
        diffusion_penalty(np.zeros(shape))


# ------------------------------------------------------------------ the 3-D Jacobian determinant
def test_jacobian_3d_of_affine_maps_is_their_volume_ratio():
    det, folded = jacobian_determinant(identity_grid(5, 6, depth=4))
    assert det.shape == (4, 5, 6) and np.allclose(det, 1.0) and folded == 0.0
    for s in (0.7, 1.2):
        theta = np.array([[[s, 0, 0, 0.1], [0, s, 0, -0.2], [0, 0, s, 0.05]]])
        assert np.allclose(jacobian_determinant(affine_grid(theta, (1, 1, 6, 7, 8)))[0], s**3)
    rotation = pixel_to_theta(rotation_map(35, (1, 2, 3), size=12), (12, 12, 12))
    assert np.allclose(jacobian_determinant(affine_grid(rotation[None], (1, 1, 12, 12, 12)))[0], 1.0)
    # an anisotropic voxel map by hand: det = 1.5 * 0.8 * 1.1 in input voxels per output voxel
    matrix = np.array([[1.5, 0.2, 0.0, 1.0], [0.0, 0.8, 0.3, 0.0], [0.0, 0.0, 1.1, -2.0]])
    theta = pixel_to_theta(matrix, (10, 11, 12), (8, 9, 7))
    det, _ = jacobian_determinant(affine_grid(theta[None], (1, 1, 8, 9, 7)), input_size=(10, 11, 12))
    assert det.shape == (1, 8, 9, 7) and np.allclose(det, 1.5 * 0.8 * 1.1)


def test_jacobian_3d_units_and_flows():
    # an 8^3 output reading the whole of a 16^3 input: each output voxel covers 8 input voxels
    assert np.allclose(jacobian_determinant(identity_grid(8, 8, depth=8), input_size=(16, 16, 16))[0], 8.0)
    flow = np.zeros((8, 8, 8, 3))
    assert np.allclose(jacobian_determinant(flow, kind="flow", input_size=(16, 16, 16))[0], 8.0)
    assert np.allclose(flow_to_grid(flow, (16, 16, 16)), identity_grid(8, 8, depth=8))
    # the flow's z component is in voxels of the input's depth
    flow[..., 2] = 1.0
    assert np.allclose(flow_to_grid(flow, (4, 16, 16))[..., 2] - identity_grid(8, 8, depth=8)[..., 2], 0.5)


def test_a_3d_fold_has_a_negative_determinant_and_is_counted():
    d, h, w = 6, 7, 20
    x = np.arange(w, dtype=float)
    flow = np.zeros((d, h, w, 3))
    flow[..., 0] = np.where((x >= 8) & (x <= 12), -2.5 * (x - 8), np.where(x > 12, -10.0, 0.0))  # u = x - 2.5 (x - 8)
    det, folded = jacobian_determinant(flow, kind="flow")
    assert np.all(det[..., 9:12] < 0) and np.allclose(det[..., :7], 1.0)
    assert folded == pytest.approx(np.mean(det <= 0)) and 0.1 < folded < 0.4
    # the same fold along z, through the determinant's other rows
    z = np.arange(20, dtype=float)[:, None, None]
    along_z = np.zeros((20, 5, 6, 3))
    along_z[..., 2] = np.where((z >= 8) & (z <= 12), -2.5 * (z - 8), np.where(z > 12, -10.0, 0.0))
    det_z, folded_z = jacobian_determinant(along_z, kind="flow")
    assert np.all(det_z[9:12] < 0) and folded_z == pytest.approx(folded)


@pytest.mark.parametrize("field, message", [
    (np.zeros((4, 4, 3)), r"expected shape \(H, W, 2\), \(N, H, W, 2\), \(D, H, W, 3\) or \(N, D, H, W, 3\)"),
    (np.zeros((1, 1, 4, 4, 4, 3)), r"expected shape \(H, W, 2\)"),
    (np.zeros((1, 4, 4, 3)), "expected at least 2 x 2 x 2 points for finite differences, got 1 x 4 x 4"),
])
def test_jacobian_3d_refuses_bad_fields(field, message):
    with pytest.raises(ValueError, match="jacobian_determinant: field: " + message):
        jacobian_determinant(field)
    with pytest.raises(ValueError, match=r"jacobian_determinant: input_size: expected \(depth, height, width\)"):
        jacobian_determinant(np.zeros((3, 4, 5, 3)), input_size=(4, 5))


# ------------------------------------------------------------------ pyramid, mask, affine utilities, carry
def test_pyramid_3d_halves_by_2x2x2_blocks_and_blurs_every_axis(rng):
    volume = rng.random((2, 1, 8, 6, 10))
    blocks = volume.reshape(2, 1, 4, 2, 3, 2, 5, 2).mean(axis=(3, 5, 7))
    assert np.allclose(downsample(volume, smooth=False), blocks)
    assert np.allclose(resample(volume, (8, 6, 10)), volume)  # the identity grid reproduces the volume
    expected = ndimage.gaussian_filter(volume, sigma=(0, 0, 1, 1, 1), mode="nearest", truncate=4.0)
    assert np.allclose(blur(volume), expected)  # sigma = 1 voxel along D, H and W
    assert [p.shape[2:] for p in build_pyramid(rng.random((1, 1, 17, 33, 64)), 3)] == [(4, 8, 16), (8, 16, 32),
                                                                                      (17, 33, 64)]
    assert level_sizes((17, 33, 64), 3) == [(4, 8, 16), (8, 16, 32), (17, 33, 64)]
    # the documented per-axis blur of each level: a point's spread at level k, in full-resolution voxels
    impulse = np.zeros((1, 1, 64, 64, 64))
    impulse[0, 0, 32, 32, 32] = 1.0
    coarse = build_pyramid(impulse, 2)[0][0, 0]
    profile = coarse.sum(axis=(0, 1))  # along W, in level pixels of 2 voxels
    centres = 2 * np.arange(32) + 0.5
    mean = (profile * centres).sum() / profile.sum()
    sigma = np.sqrt((profile * (centres - mean) ** 2).sum() / profile.sum())
    assert np.isclose(sigma, level_sigmas(2)[0], rtol=0.15)


def test_overlap_mask_3d_is_the_box_of_voxel_centres():
    grid = np.zeros((1, 1, 1, 4, 3))
    grid[0, 0, 0, :, 2] = [0.0, 1 - 1 / 8, 1 - 1 / 8 + 1e-9, -1.0]  # z inside, on the last centre, past it, edge
    assert overlap_mask(grid, (8, 5, 5))[0, 0, 0, 0].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert overlap_mask(grid, (8, 5, 5)).shape == (1, 1, 1, 1, 4)


def test_affine_utilities_3d(rng):
    theta = np.eye(3, 4) + 0.1 * rng.standard_normal((2, 3, 4))
    # round trips between normalised thetas and voxel matrices, volumes of different shapes
    matrix = theta_to_pixel(theta, (9, 10, 11), (5, 6, 7))
    assert matrix.shape == (2, 3, 4) and np.allclose(pixel_to_theta(matrix, (9, 10, 11), (5, 6, 7)), theta)
    inverse = invert_affine(theta)
    assert np.allclose(compose_affine(theta, inverse), np.eye(3, 4)) and np.allclose(compose_affine(inverse, theta),
                                                                                       np.eye(3, 4))
    # the voxel matrix against scipy's resampler: fixed voxel (x, y, z) reads moving voxel M (x, y, z, 1)
    volume = ndimage.gaussian_filter(rng.random((12, 13, 14)), 1.5)
    theta_1 = np.eye(3, 4) + 0.04 * rng.standard_normal((3, 4))
    sampled = grid_sample(volume[None, None], affine_grid(theta_1[None], (1, 1, 12, 13, 14))).data[0, 0]
    m = theta_to_pixel(theta_1, (12, 13, 14))
    reverse = np.eye(4)[[2, 1, 0, 3]]  # (x, y, z) <-> scipy's index order (k, i, j)
    index_matrix = (reverse @ np.vstack([m, [0, 0, 0, 1]]) @ reverse)[:3]
    direct = ndimage.affine_transform(volume, index_matrix[:, :3], index_matrix[:, 3], order=1, mode="nearest")
    points = transform_points(m, np.stack(np.meshgrid(np.arange(14), np.arange(13), np.arange(12), indexing="xy"),
                                          axis=-1).transpose(2, 0, 1, 3).reshape(-1, 3))
    inside = np.all((points >= 0) & (points <= np.array([13, 12, 11])), axis=1).reshape(12, 13, 14)
    assert inside.mean() > 0.5 and np.allclose(sampled[inside], direct[inside])
    # eight corners: a shift of 0.05 normalised along z of 40 voxels moves every corner by 1 voxel
    shifted = np.eye(3, 4)
    shifted[2, 3] = 0.05
    assert np.isclose(corner_error(shifted, np.eye(3, 4), (40, 20, 10)), 1.0)
    with pytest.raises(ValueError, match=r"compose_affine: inner: expected the dimension of outer, \(\.\.\., 3, 4\)"):
        compose_affine(np.eye(3, 4), np.eye(2, 3))
    with pytest.raises(ValueError, match=r"theta_to_pixel: in_size: expected \(depth, height, width\)"):
        theta_to_pixel(np.eye(3, 4), (4, 4))
    with pytest.raises(ValueError, match="invert_affine: affine: expected invertible 3x3 linear parts"):
        invert_affine(np.zeros((3, 4)))


def test_dense_flow_of_a_volume_is_carried_to_the_next_level_in_its_new_voxels():
    flow = np.zeros((1, 4, 5, 6, 3))
    flow[..., 0], flow[..., 1], flow[..., 2] = 1.5, -0.5, 0.25  # voxels of an 8 x 10 x 12 moving volume
    carried = get_schedule("dense").carry(flow, ((4, 5, 6), (8, 10, 12)), ((8, 10, 12), (16, 10, 24)))
    assert carried.shape == (1, 8, 10, 12, 3)
    # x doubles (12 -> 24 voxels), y stays (10 -> 10), z doubles (8 -> 16)
    assert np.allclose(carried[..., 0], 3.0) and np.allclose(carried[..., 1], -0.5) and np.allclose(carried[..., 2], 0.5)


# ------------------------------------------------------------------ figures
def test_orthogonal_slices_and_their_figure():
    from stn_np.plotting.registration import orthogonal_slices, orthogonal_slices_figure

    k, i, j = np.meshgrid(np.arange(4), np.arange(5), np.arange(6), indexing="ij")
    volume = 100.0 * k + 10.0 * i + j
    axial, coronal, sagittal = orthogonal_slices(volume, (1, 2, 3))
    assert np.array_equal(axial, volume[1]) and np.array_equal(coronal, volume[:, 2])
    assert np.array_equal(sagittal, volume[:, :, 3])
    assert np.array_equal(orthogonal_slices(np.stack([volume, 3 * volume]))[0], 2 * volume[2])  # channels averaged
    figure = orthogonal_slices_figure(volume, volume + 5, volume, title="t")
    images = [ax for ax in figure.axes if ax.images and ax.get_title()]
    assert len(images) == 15 and len(figure.axes) == 15 + 6  # 5 columns x 3 planes, a colour bar per difference
    assert all(ax.get_xlabel().endswith("(voxels)") and ax.get_ylabel().endswith("(voxels)") for ax in images)
    assert "|fixed - warped| (max 0)" in images[4].get_title()
    with pytest.raises(ValueError, match=r"orthogonal_slices: index: expected an int in \[0, 3\], got 4"):
        orthogonal_slices(volume, (4, 0, 0))
    with pytest.raises(ValueError, match="orthogonal_slices_figure: warped: expected fixed, moving_before and warped of one shape"):
        orthogonal_slices_figure(volume, volume, volume[:3])
    with pytest.raises(ValueError, match=r"orthogonal_slices_figure: fixed: expected a non-empty \(D, H, W\) or \(C, D, H, W\) volume"):
        orthogonal_slices_figure(volume[0], volume, volume)
