"""Registration on real images (matplotlib's MRI slice and Grace Hopper photograph): warp with a
known random transformation, register back, compare the recovered transformation with the truth.

Criteria (all at the fixed image's resolution, in its pixels):
- affine: the four image corners mapped by the true and the recovered transform agree to
  within 0.5 px, at full resolution 256 x 256, three random warps per image;
- attention, projective, TPS (their own families): the largest distance between the true and
  the recovered sampling grids, over every pixel, is below 0.5 px;
- dense: MSE to the fixed image reduced by at least 80 % and fewer than 0.1 % folded pixels.
"""

import numpy as np
import pytest

from stn_np.functional import affine_grid, attention_grid, displacement_grid, grid_sample, projective_grid, tps_grid
from stn_np.registration import jacobian_determinant, register
from stn_np.registration.schedules import get_schedule
from stn_np.registration.pyramid import downsample
from stn_np.registration.samples import grace_hopper, mri_slice, random_affine
from stn_np.registration.transforms import corner_error, pixel_to_theta, theta_to_pixel

MRI = mri_slice()
GRACE = grace_hopper()  # (3, 256, 256) RGB
GRACE_128 = downsample(GRACE[None])[0]
MRI_128 = downsample(MRI[None, None])[0, 0]


def warp(image, grid):
    """Sample a 2-D or (C, H, W) image on a (1, H, W, 2) grid; same layout back."""
    batch = image[None, None] if image.ndim == 2 else image[None]
    out = grid_sample(batch, grid).data[0]
    return out[0] if image.ndim == 2 else out


def grid_error_px(grid_a, grid_b, moving_hw):
    """Largest distance between two normalised grids, in moving-image pixels."""
    h, w = moving_hw
    d = (np.asarray(grid_a) - np.asarray(grid_b)).reshape(-1, 2) * (w / 2, h / 2)
    return float(np.linalg.norm(d, axis=1).max())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", ["mri", "grace_hopper_rgb"])
def test_affine_recovers_random_warp_to_half_a_pixel_at_full_resolution(name, seed):
    moving = MRI if name == "mri" else GRACE
    rng = np.random.default_rng(seed)
    theta = random_affine(rng, (256, 256))
    fixed = warp(moving, affine_grid(theta[None], (1, 1, 256, 256)))
    result = register(fixed, moving)  # the defaults: affine, MSE, 3 levels
    error = corner_error(result.params, theta, (256, 256))
    assert error < 0.5, f"corner error {error:.3f} px"
    assert result.warped.shape == moving.shape and result.grid.shape == (256, 256, 2)
    assert result.loss_after < 1e-2 * result.loss_before


def test_affine_with_ncc_ignores_gain_and_offset_and_fixed_noise():
    rng = np.random.default_rng(7)
    theta = random_affine(rng, (256, 256))
    fixed = 0.6 * warp(MRI, affine_grid(theta[None], (1, 1, 256, 256))) + 40.0
    fixed = fixed + 2.0 * rng.standard_normal(fixed.shape)  # noise ~3% of the slice's std
    assert corner_error(register(fixed, MRI, loss="ncc").params, theta, (256, 256)) < 0.5
    # MSE cannot explain the gain: it fits a worse transform
    assert corner_error(register(fixed, MRI, loss="mse").params, theta, (256, 256)) > 0.5


def test_affine_between_images_of_different_sizes_and_aspect():
    # fixed 160 x 200 made from the 256 x 256 slice by a known pixel map (fixed pixel -> moving pixel)
    matrix = np.array([[1.1, 0.15, 20.0], [-0.12, 1.05, 40.0]])
    theta = pixel_to_theta(matrix, in_size=(256, 256), out_size=(160, 200))
    fixed = warp(MRI, affine_grid(theta[None], (1, 1, 160, 200)))
    result = register(fixed, MRI)
    recovered = result.pixel_matrix()
    corners = np.array([[0, 0, 1], [199, 0, 1], [0, 159, 1], [199, 159, 1]], dtype=float)
    assert np.abs(corners @ recovered.T - corners @ matrix.T).max() < 0.5
    assert np.allclose(recovered, theta_to_pixel(result.params, (256, 256), (160, 200)))
    assert result.warped.shape == (160, 200)
    assert result.level_sizes == [((40, 50), (64, 64)), ((80, 100), (128, 128)), ((160, 200), (256, 256))]


def test_attention_recovers_scale_and_translation():
    params = np.array([[0.9, 0.08, -0.06]])
    fixed = warp(MRI_128, attention_grid(params, (1, 1, 128, 128)))
    result = register(fixed, MRI_128, transform="attention")
    assert result.params.shape == (3,)
    assert grid_error_px(result.grid, attention_grid(params, (1, 1, 128, 128)).data[0], (128, 128)) < 0.5


@pytest.mark.parametrize("name", ["mri", "grace_hopper_rgb"])
def test_projective_recovers_a_homography(name):
    moving = MRI_128 if name == "mri" else GRACE_128
    rng = np.random.default_rng(3)
    h = np.array([1.0, 0, 0, 0, 1, 0, 0, 0]) + rng.uniform(-0.1, 0.1, 8)
    true_grid = projective_grid(h[None], (1, 1, 128, 128))
    result = register(warp(moving, true_grid), moving, transform="projective")
    assert grid_error_px(result.grid, true_grid.data[0], (128, 128)) < 0.5


def test_tps_recovers_control_point_offsets():
    # Grace Hopper, not the MRI slice: its corners are black background, where nothing pins
    # the corner control points. Two levels: 32 x 32 is too coarse for 16 control points.
    rng = np.random.default_rng(1)
    offsets = rng.normal(0, 0.03, (1, 16, 2))  # ~2 px standard deviation at 128 px
    true_grid = tps_grid(offsets, (1, 1, 128, 128))
    result = register(warp(GRACE_128, true_grid), GRACE_128, transform="tps", levels=2)
    assert result.params.shape == (16, 2)
    assert grid_error_px(result.grid, true_grid.data[0], (128, 128)) < 0.5


def smooth_flow(rng, h, w, amplitude):
    """A smooth random displacement field (pixels), tapering to 0 at the image border."""
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    flow = np.zeros((h, w, 2))
    for k in range(2):
        for _ in range(3):
            fx, fy, phase = rng.uniform(0.5, 2, 3)
            flow[..., k] += rng.uniform(1, 2) * np.sin(2 * np.pi * (fx * x + phase)) * np.cos(2 * np.pi * fy * y)
    envelope = np.sin(np.pi * (x + 0.5 / w)) * np.sin(np.pi * (y + 0.5 / h))
    return flow * (amplitude / np.abs(flow).max()) * envelope[..., None]


@pytest.mark.parametrize("name", ["mri", "grace_hopper_rgb"])
def test_dense_recovers_a_smooth_deformation_without_folding(name):
    moving = MRI_128 if name == "mri" else GRACE_128
    rng = np.random.default_rng(4)
    flow = smooth_flow(rng, 128, 128, amplitude=4.0)
    fixed = warp(moving, displacement_grid(flow[None]))
    result = register(fixed, moving, transform="dense")
    mse_before = np.mean((moving - fixed) ** 2)
    mse_after = np.mean((result.warped - fixed) ** 2)
    _, folded = jacobian_determinant(result.params, kind="flow")
    assert mse_after <= 0.2 * mse_before, f"MSE reduced by only {1 - mse_after / mse_before:.1%}"
    assert folded < 1e-3
    assert result.params.shape == (128, 128, 2)
    # every level improves on the flow it was handed (none stops where it started)
    for level, history in enumerate(result.loss_history):
        assert history.min() < 0.99 * history[0], f"level {level} did not improve"
    # the fitted flow and the grid agree: the grid is the flow's displacement grid
    assert np.allclose(result.grid, displacement_grid(result.params[None]).data[0])


def test_dense_flow_is_carried_to_the_next_level_in_its_new_pixels():
    model = get_schedule("dense")
    flow = np.zeros((1, 8, 10, 2))
    flow[..., 0], flow[..., 1] = 1.5, -0.5  # a uniform shift, in pixels of a 16 x 20 moving image
    carried = model.carry(flow, ((8, 10), (16, 20)), ((16, 20), (32, 40)))
    assert carried.shape == (1, 16, 20, 2)
    assert np.allclose(carried[..., 0], 3.0) and np.allclose(carried[..., 1], -1.0)
    # normalised parameters are the same warp at every level
    theta = np.eye(2, 3)[None] * 1.1
    assert get_schedule("affine").carry(theta, ((8, 10), (8, 10)), ((16, 20), (16, 20))) is theta


def test_loss_history_has_one_array_per_level_and_early_stopping_is_optional():
    rng = np.random.default_rng(0)
    theta = random_affine(rng, (64, 64))
    fixed = warp(MRI_128[::2, ::2], affine_grid(theta[None], (1, 1, 64, 64)))
    full = register(fixed, MRI_128[::2, ::2], levels=2, steps=[30, 10], patience=None, init="identity")
    assert [len(h) for h in full.loss_history] == [30, 10] == full.steps_run
    assert all(h.dtype == np.float64 and np.all(np.isfinite(h)) for h in full.loss_history)
    assert full.loss_history[0][-1] < full.loss_history[0][0]
    stopped = register(fixed, MRI_128[::2, ::2], levels=2, steps=[400, 400], patience=5, tol=0.5)
    for h in stopped.loss_history:  # stopped once 5 steps in a row missed a 50% improvement
        assert 6 <= len(h) < 400 and h[-5:].min() >= 0.5 * h[-6]
    none = register(fixed, MRI_128[::2, ::2], levels=2, steps=0, init="identity", refine=False)
    assert none.steps_run == [0, 0] and np.allclose(none.params, np.eye(2, 3))
    assert len(none.refinement_history) == 0 and len(full.refinement_history) >= 1


def test_result_apply_and_warped_agree_and_keep_the_layout():
    rng = np.random.default_rng(5)
    theta = random_affine(rng, (64, 64))
    moving = GRACE_128[:, ::2, ::2]
    fixed = warp(moving, affine_grid(theta[None], (1, 1, 64, 64)))
    result = register(fixed, moving, levels=2)
    assert result.warped.shape == (3, 64, 64)
    assert np.allclose(result.apply(moving), result.warped)
    assert result.apply(moving[0]).shape == (64, 64)
    # a label map warped with nearest sampling keeps its labels
    labels = (moving[0] > 0.5).astype(float)
    assert set(np.unique(result.apply(labels, mode="nearest"))) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="RegistrationResult.pixel_matrix: transform: expected .affine., got .attention."):
        register(fixed, moving, transform="attention", levels=1, steps=1).pixel_matrix()
