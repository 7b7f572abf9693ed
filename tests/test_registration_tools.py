"""The registration toolbox: affine utilities and OpenCV matrices, Jacobian determinants, the
NCC / MSE / diffusion losses (gradchecks), the sampler-built pyramid, and input validation."""

import numpy as np
import pytest
from scipy import ndimage

import stn_np
from stn_np.functional import affine_grid, grid_sample, mse_loss
from stn_np.registration import jacobian_determinant, register
from stn_np.registration.jacobian import flow_to_grid
from stn_np.registration.losses import diffusion_penalty, ncc_loss
from stn_np.registration.pyramid import blur, build_pyramid, downsample, resample
from stn_np.registration.transforms import (
    compose_affine,
    corner_error,
    invert_affine,
    pixel_to_theta,
    theta_to_pixel,
    transform_points,
)
from stn_np.sampling.coords import identity_grid, normalized_to_pixel


def random_thetas(rng, n):
    return np.eye(2, 3) + 0.2 * rng.standard_normal((n, 2, 3))


# ------------------------------------------------------------------ affine utilities
def test_compose_matches_applying_one_map_after_the_other(rng):
    a, b = random_thetas(rng, 4), random_thetas(rng, 4)
    points = rng.standard_normal((4, 7, 2))
    assert np.allclose(transform_points(compose_affine(a, b), points), transform_points(a, transform_points(b, points)))
    assert np.allclose(compose_affine(a, np.eye(2, 3)), a) and np.allclose(compose_affine(np.eye(2, 3), a), a)


def test_compose_is_sampling_twice(rng):
    # sampling with theta1 then theta2 == sampling once with compose(theta1, theta2), away from the border
    image = ndimage.gaussian_filter(rng.standard_normal((1, 1, 64, 64)), (0, 0, 3, 3))
    t1 = np.array([[[0.9, 0.1, 0.05], [-0.1, 0.95, 0.0]]])
    t2 = np.array([[[1.05, 0.0, -0.03], [0.05, 1.0, 0.04]]])
    size = (1, 1, 64, 64)
    twice = grid_sample(grid_sample(image, affine_grid(t1, size)), affine_grid(t2, size)).data
    once = grid_sample(image, affine_grid(compose_affine(t1, t2), size)).data
    inner = (slice(None), slice(None), slice(12, -12), slice(12, -12))
    assert np.abs(twice[inner] - once[inner]).max() < 0.02 * np.abs(once[inner]).max()


def test_invert_round_trips_and_rejects_singular(rng):
    theta = random_thetas(rng, 5)
    assert np.allclose(compose_affine(theta, invert_affine(theta)), np.eye(2, 3), atol=1e-12)
    assert np.allclose(invert_affine(invert_affine(theta)), theta)
    assert invert_affine(theta.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="singular"):
        invert_affine(np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 1.0]]))


@pytest.mark.parametrize("align_corners", [False, True])
def test_pixel_matrix_round_trip_batched_and_of_different_sizes(rng, align_corners):
    theta = random_thetas(rng, 3)
    matrix = theta_to_pixel(theta, in_size=(30, 50), out_size=(20, 24), align_corners=align_corners)
    assert matrix.shape == (3, 2, 3)
    back = pixel_to_theta(matrix, in_size=(30, 50), out_size=(20, 24), align_corners=align_corners)
    assert np.allclose(back, theta)
    # same size by default; the identity is the identity in both conventions
    assert np.allclose(theta_to_pixel(np.eye(2, 3), (7, 9), align_corners=align_corners), np.eye(2, 3))


@pytest.mark.parametrize("align_corners", [False, True])
def test_pixel_matrix_against_the_grid_converted_pixel_by_pixel(rng, align_corners):
    theta = random_thetas(rng, 1)
    in_hw, out_hw = (13, 17), (9, 11)
    grid = affine_grid(theta, (1, 1, *out_hw), align_corners).data[0]
    matrix = theta_to_pixel(theta[0], in_hw, out_hw, align_corners)
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            u = normalized_to_pixel(grid[i, j, 0], in_hw[1], align_corners)
            v = normalized_to_pixel(grid[i, j, 1], in_hw[0], align_corners)
            assert np.allclose(matrix @ [j, i, 1.0], [u, v])


def test_pixel_matrix_reproduces_the_sampler_with_an_independent_interpolator(rng):
    # scipy's map_coordinates (order 1) with integer pixel centres is what cv2.warpAffine with
    # WARP_INVERSE_MAP computes: reading src at M @ (x, y, 1) for every dst pixel.
    image = rng.random((1, 1, 40, 50))
    theta = np.array([[[0.8, 0.2, 0.1], [-0.15, 0.9, -0.05]]])
    out_hw = (30, 36)
    sampled = grid_sample(image, affine_grid(theta, (1, 1, *out_hw))).data[0, 0]
    matrix = theta_to_pixel(theta[0], (40, 50), out_hw)
    y, x = np.mgrid[0:out_hw[0], 0:out_hw[1]]
    src = np.einsum("ij,jhw->ihw", matrix, np.stack([x, y, np.ones_like(x)]).astype(float))
    direct = ndimage.map_coordinates(image[0, 0], [src[1], src[0]], order=1, mode="constant", cval=0.0)
    inside = (src[0] >= 0) & (src[0] <= 49) & (src[1] >= 0) & (src[1] <= 39)
    assert inside.mean() > 0.8
    assert np.allclose(sampled[inside], direct[inside])


def test_pixel_conversion_rejects_one_pixel_axes_with_align_corners_and_bad_shapes():
    with pytest.raises(ValueError, match="theta_to_pixel: in_size: expected axes of at least 2 pixels with align_corners=True"):
        theta_to_pixel(np.eye(2, 3), (1, 5), align_corners=True)
    assert np.allclose(theta_to_pixel(np.eye(2, 3), (1, 5)), np.eye(2, 3))  # fine without align_corners
    with pytest.raises(ValueError, match=r"theta_to_pixel: theta: expected shape \(\.\.\., 2, 3\)"):
        theta_to_pixel(np.eye(3), (4, 4))
    with pytest.raises(ValueError, match=r"theta_to_pixel: out_size: expected \(height, width\)"):
        theta_to_pixel(np.eye(2, 3), (4, 4), out_size=(0, 3))
    with pytest.raises(ValueError, match="invert_affine: affine: expected finite values, got NaN or inf"):
        invert_affine(np.full((2, 3), np.nan))


def test_corner_error_in_pixels():
    shifted = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.05]])  # 0.05 normalised of 80 rows = 2 px down
    assert np.isclose(corner_error(shifted, np.eye(2, 3), (80, 60)), 2.0)
    zoom = np.array([[1.01, 0.0, 0.0], [0.0, 1.01, 0.0]])  # the corners move by 1% of their distance from the centre
    expected = 0.01 * np.hypot(127.5, 127.5)
    assert np.isclose(corner_error(zoom, np.eye(2, 3), (256, 256)), expected)


# ------------------------------------------------------------------ Jacobian determinant
def test_jacobian_of_the_identity_is_one():
    det, folded = jacobian_determinant(identity_grid(6, 7))
    assert det.shape == (6, 7) and np.allclose(det, 1.0) and folded == 0.0
    det, folded = jacobian_determinant(np.zeros((2, 5, 4, 2)), kind="flow")
    assert det.shape == (2, 5, 4) and np.allclose(det, 1.0)


@pytest.mark.parametrize("s", [0.5, 1.3])
def test_uniform_scale_gives_s_squared(s):
    h, w = 20, 30
    y, x = np.mgrid[0:h, 0:w].astype(float)
    flow = np.stack([(s - 1) * (x - 9.0), (s - 1) * (y - 4.0)], axis=-1)  # pixel map p -> s p + c
    assert np.allclose(jacobian_determinant(flow, kind="flow")[0], s**2)
    theta = np.array([[[s, 0, 0.1], [0, s, -0.2]]])
    assert np.allclose(jacobian_determinant(affine_grid(theta, (1, 1, h, w)))[0], s**2)
    # rotations keep areas
    a = np.deg2rad(25)
    rotation = np.array([[[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0]]])
    assert np.allclose(jacobian_determinant(affine_grid(rotation, (1, 1, 16, 16)))[0], 1.0)


def test_a_fold_has_a_negative_determinant():
    h, w = 10, 20
    x = np.arange(w, dtype=float)
    flow = np.zeros((h, w, 2))
    flow[..., 0] = np.where((x >= 8) & (x <= 12), -2.5 * (x - 8), np.where(x > 12, -10.0, 0.0))  # u = x - 2.5 (x - 8)
    det, folded = jacobian_determinant(flow, kind="flow")
    assert np.all(det[:, 9:12] < 0) and np.allclose(det[:, :7], 1.0)
    assert folded == pytest.approx(np.mean(det <= 0)) and 0.1 < folded < 0.4


def test_jacobian_units_are_input_pixels_per_output_pixel():
    # a 32 x 32 output reading the whole of a 64 x 64 input: each output pixel covers 4 input pixels
    det, _ = jacobian_determinant(identity_grid(32, 32), input_size=(64, 64))
    assert np.allclose(det, 4.0)
    flow = np.zeros((32, 32, 2))
    assert np.allclose(jacobian_determinant(flow, kind="flow", input_size=(64, 64))[0], 4.0)
    assert np.allclose(flow_to_grid(flow, (64, 64)), identity_grid(32, 32))


def test_jacobian_rejects_bad_fields():
    with pytest.raises(ValueError, match="jacobian_determinant: kind: expected one of .grid., .flow., got .map."):
        jacobian_determinant(np.zeros((4, 4, 2)), kind="map")
    with pytest.raises(ValueError, match=r"jacobian_determinant: field: expected shape \(H, W, 2\)"):
        jacobian_determinant(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="jacobian_determinant: field: expected at least 2 x 2 points"):
        jacobian_determinant(np.zeros((1, 4, 2)), kind="flow")
    with pytest.raises(ValueError, match="jacobian_determinant: field: expected finite values, got NaN or inf"):
        jacobian_determinant(np.full((3, 3, 2), np.inf))


# ------------------------------------------------------------------ losses
def test_ncc_gradcheck_with_random_upstream(rng):
    x = rng.standard_normal((2, 2, 3, 4))
    y = 0.5 * x + rng.standard_normal((2, 2, 3, 4))
    assert stn_np.gradcheck(lambda a, b: ncc_loss(a, b) * 3.7, (x, y))


def test_mse_and_ncc_registration_objectives_gradcheck_through_sampler_and_grid(rng):
    moving, fixed = rng.standard_normal((1, 1, 7, 8)), rng.standard_normal((1, 1, 6, 6))
    theta = np.eye(2, 3)[None] + 0.05 * rng.standard_normal((1, 2, 3))
    for loss in (mse_loss, ncc_loss):
        assert stn_np.gradcheck(lambda t, m: loss(grid_sample(m, affine_grid(t, (1, 1, 6, 6))), fixed), (theta, moving))


def test_ncc_values():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 1, 5, 5))
    assert np.isclose(ncc_loss(x, 2.5 * x - 4).item(), 0.0)
    assert np.isclose(ncc_loss(x, -x).item(), 2.0)
    y = rng.standard_normal((3, 1, 5, 5))
    assert np.isclose(ncc_loss(x, y).item(), ncc_loss(y, x).item())
    r = [np.corrcoef(x[i].ravel(), y[i].ravel())[0, 1] for i in range(3)]
    assert np.isclose(ncc_loss(x, y, eps=0).item(), np.mean(1 - np.array(r)))
    assert np.isfinite(ncc_loss(np.ones((1, 1, 3, 3)), y[:1, :, :3, :3]).item())  # constant: r = 0, not NaN
    assert ncc_loss(x.astype(np.float32), y.astype(np.float32)).dtype == np.float32


def test_diffusion_penalty_values_and_gradcheck(rng):
    assert diffusion_penalty(np.full((1, 4, 5, 2), 3.0)).item() == 0.0  # translations are free
    field = np.zeros((1, 4, 5, 2))
    field[..., 1] = 0.5 * np.arange(4)[:, None]  # dy/di = 0.5: 3 x 5 differences of 0.5
    assert np.isclose(diffusion_penalty(field).item(), 15 * 0.25 / 20)
    assert stn_np.gradcheck(lambda f: diffusion_penalty(f) * 2.3, (rng.standard_normal((2, 3, 4, 2)),))


def test_loss_argument_errors():
    with pytest.raises(ValueError, match="y: expected the shape of x"):
        ncc_loss(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3)))
    with pytest.raises(ValueError, match="eps: expected"):
        ncc_loss(np.zeros((1, 2)), np.zeros((1, 2)), eps=-1)
    with pytest.raises(ValueError, match=r"field: expected shape \(N, H, W, 2\)"):
        diffusion_penalty(np.zeros((4, 5, 2)))


# ------------------------------------------------------------------ pyramid
def test_halving_with_the_sampler_averages_each_2x2_block(rng):
    image = rng.random((2, 3, 8, 10))
    blocks = image.reshape(2, 3, 4, 2, 5, 2).mean(axis=(3, 5))
    assert np.allclose(downsample(image, smooth=False), blocks)
    assert np.allclose(resample(image, (8, 10)), image)  # the identity grid reproduces the image


def test_blur_is_a_gaussian_of_sigma_one_with_edge_replication(rng):
    image = rng.random((1, 2, 19, 17))
    taps = np.arange(-4, 5)
    kernel = np.exp(-taps**2 / 2.0)
    kernel /= kernel.sum()  # sigma = 1 pixel, truncated at 4 sigma
    expected = ndimage.convolve1d(ndimage.convolve1d(image, kernel, axis=2, mode="nearest"), kernel, axis=3, mode="nearest")
    assert np.allclose(blur(image), expected)
    assert np.allclose(blur(np.full((1, 1, 9, 9), 3.0)), 3.0)  # no darkening at the edges


def test_pyramid_sizes_coarsest_first(rng):
    levels = build_pyramid(rng.random((1, 1, 33, 64)), 3)
    assert [p.shape[-2:] for p in levels] == [(8, 16), (16, 32), (33, 64)]


# ------------------------------------------------------------------ validation
@pytest.fixture
def pair(rng):
    return rng.random((32, 32)), rng.random((32, 32))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(fixed=np.zeros(32)), ValueError, r"register: fixed: expected a non-empty 2-D \(H, W\) or 3-D \(C, H, W\) image"),
        (dict(moving=np.zeros((1, 1, 32, 32))), ValueError, "register: moving: expected a non-empty 2-D"),
        (dict(moving=np.zeros((3, 32, 32))), ValueError, r"register: moving: expected 1 channel\(s\), as fixed has, got 3 channel\(s\)"),
        (dict(moving=np.full((32, 32), np.nan)), ValueError, "register: moving: expected finite values, got NaN or inf"),
        (dict(fixed=np.full((32, 32), np.inf)), ValueError, "register: fixed: expected finite values, got NaN or inf"),
        (dict(fixed=np.full((32, 32), "a")), TypeError, "register: fixed: expected real"),
        (dict(fixed=np.ones((32, 32))), ValueError, "register: fixed: expected an image with some contrast.*got a constant image"),
        (dict(levels=4), ValueError, "register: levels: expected at most 3 levels .*got 4 levels, which shrink the smallest side .32 px. to 4 px"),
        (dict(moving=np.random.rand(6, 40)), ValueError, "register: fixed: expected fixed and moving images of at least 8 x 8 pixels, got 32 x 32 and 6 x 40"),
        (dict(levels=0), ValueError, "register: levels: expected an int >= 1, got 0"),
        (dict(transform="rigid"), ValueError, "register: transform: expected one of 'affine'"),
        (dict(loss="l1"), ValueError, "register: loss: expected one of 'mse', 'ncc', 'mi'"),
        (dict(steps=[10, 10]), ValueError, "register: steps: expected an int >= 0 or 3 such ints"),
        (dict(steps=-1), ValueError, "register: steps: expected an int >= 0"),
        (dict(lr=0), ValueError, "register: lr: expected a finite number > 0, got 0.0"),
        (dict(lr=float("nan")), ValueError, "register: lr: expected a finite number > 0, got nan"),
        (dict(smoothness=0.5), ValueError, "register: smoothness: expected None for a parametric transform .only 'dense' is regularised."),
        (dict(transform="dense", smoothness=-1.0), ValueError, "register: smoothness: expected a finite number >= 0, got -1.0"),
        (dict(padding_mode="wrap"), ValueError, "register: padding_mode: expected one of"),
        (dict(patience=0), ValueError, "register: patience: expected an int >= 1, got 0"),
        (dict(init=np.eye(3)), ValueError, r"register: init: expected 'auto', 'identity' or a real array of shape \(2, 3\)"),
        (dict(transform="tps", control_points=(1, 4)), ValueError, "control_points: expected"),
    ],
)
def test_register_validates_its_inputs(pair, kwargs, error, message):
    fixed, moving = pair
    arguments = dict(fixed=fixed, moving=moving)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        register(arguments.pop("fixed"), arguments.pop("moving"), **arguments)


def test_register_accepts_integer_images_and_an_initial_transform(rng):
    image = (ndimage.gaussian_filter(rng.random((48, 48)), 2) * 60000).astype(np.uint16)
    theta = np.array([[1.0, 0.0, 0.1], [0.0, 1.0, 0.0]])
    fixed = grid_sample(image[None, None].astype(float), affine_grid(theta[None], (1, 1, 48, 48))).data[0, 0]
    result = register(fixed, image, levels=2, init=theta, steps=0, refine=False)
    assert np.allclose(result.params, theta) and result.loss_after < 1e-12
    assert result.warped.dtype == np.float64
