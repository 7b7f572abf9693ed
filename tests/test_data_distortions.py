"""The paper's distortions: shapes, determinism, parameter distributions and the geometry of the output."""

import numpy as np
import pytest

from stn_np.data import DISTORTIONS, OUTPUT_SIZE, distort, distortion_params, synthetic_digits
from stn_np.data.distortions import CORNERS, TC_CROP, TC_CROP_RANGE


@pytest.fixture(scope="module")
def digits():
    return synthetic_digits(60, seed=7)[0]


def centre_of_mass(images):
    """(n, 2) centres of mass (x, y) in continuous pixel coordinates."""
    images = images.astype(np.float64)
    mass = images.sum(axis=(1, 2))
    cx = images.sum(axis=1) @ (np.arange(images.shape[2]) + 0.5) / mass
    cy = images.sum(axis=2) @ (np.arange(images.shape[1]) + 0.5) / mass
    return np.stack([cx, cy], axis=1)


@pytest.mark.parametrize("kind", DISTORTIONS)
def test_shape_dtype_determinism_and_chunking(digits, kind):
    out = distort(digits, kind, seed=3)
    size = OUTPUT_SIZE[kind]
    assert out.shape == (len(digits), size, size) and out.dtype == np.uint8
    np.testing.assert_array_equal(distort(digits, kind, seed=3, chunk_size=7), out)
    if kind == "none":
        np.testing.assert_array_equal(out, digits)
        assert out is not digits
    else:
        assert not np.array_equal(distort(digits, kind, seed=4), out)
        assert out.any(axis=(1, 2)).all()  # no digit vanished


def uniform_moments_ok(values, lo, hi):
    """Mean and standard deviation of ``values`` agree with U(lo, hi) to a few standard errors."""
    n, width = len(values), hi - lo
    mean_err = abs(values.mean() - (lo + hi) / 2) / (width / np.sqrt(12 * n))
    std_ok = abs(values.std() / (width / np.sqrt(12)) - 1) < 0.05
    return values.min() >= lo and values.max() <= hi and mean_err < 4 and std_ok


def test_parameter_distributions_r_and_rts():
    n = 4000
    r = distortion_params("R", n, seed=1)
    assert uniform_moments_ok(r["angle"], -90, 90)
    rts = distortion_params("RTS", n, seed=1)
    assert uniform_moments_ok(rts["angle"], -45, 45)
    assert uniform_moments_ok(rts["scale"], 0.7, 1.2)
    half = 14 * rts["scale"][:, None]
    # the scaled 28 x 28 frame stays inside the 42 x 42 canvas, at a uniform position
    assert np.all(rts["position"] - half >= 0) and np.all(rts["position"] + half <= 42)
    free = (rts["position"] - half) / (42 - 2 * half)
    assert uniform_moments_ok(free[:, 0], 0, 1) and uniform_moments_ok(free[:, 1], 0, 1)
    assert abs(np.corrcoef(free[:, 0], free[:, 1])[0, 1]) < 0.1
    assert not np.array_equal(distortion_params("RTS", n, seed=2)["angle"], rts["angle"])


def test_parameter_distributions_p_e_tc():
    n = 4000
    p = distortion_params("P", n, seed=1)
    assert uniform_moments_ok(p["scale"], 0.75, 1.0)
    noise = p["corners"] - (14 + p["scale"][:, None, None] * 14 * CORNERS)
    # N(0, 5^2) per coordinate; redrawing the rare folded quadrilaterals trims the tails a little
    assert abs(noise.mean()) < 0.2 and 4.6 < noise.std() < 5.1
    e = distortion_params("E", n, seed=1)
    assert e["offsets_px"].shape == (n, 16, 2)
    assert abs(e["offsets_px"].mean()) < 0.05 and abs(e["offsets_px"].std() - 1.5) < 0.03
    np.testing.assert_allclose(e["offsets"], e["offsets_px"] * 2 / 28)
    tc = distortion_params("TC", n, seed=1)
    assert uniform_moments_ok(tc["position"].ravel(), 14, 46)
    assert np.all(tc["clutter_source"] != np.arange(n)[:, None])  # crops come from other digits
    assert tc["clutter_crop"].min() == TC_CROP_RANGE[0] and tc["clutter_crop"].max() == TC_CROP_RANGE[1]
    assert tc["clutter_position"].min() == 0 and tc["clutter_position"].max() == 60 - TC_CROP


def test_rts_places_scales_and_preserves_mass(digits):
    params = distortion_params("RTS", len(digits), seed=9)
    out = distort(digits, "RTS", seed=9)
    s, angle = params["scale"], np.deg2rad(params["angle"])
    # mass scales with the area: s^2 (bilinear resampling is not exactly area-preserving)
    ratio = out.sum(axis=(1, 2), dtype=np.float64) / digits.sum(axis=(1, 2), dtype=np.float64)
    assert np.all(np.abs(ratio / s**2 - 1) < 0.12), ratio / s**2
    assert abs(np.median(ratio / s**2) - 1) < 0.04
    # the centre of mass moves as q = position + s R (u - 14)
    u = centre_of_mass(digits) - 14
    c, si = np.cos(angle), np.sin(angle)
    expected = params["position"] + s[:, None] * np.stack([c * u[:, 0] + si * u[:, 1], -si * u[:, 0] + c * u[:, 1]], 1)
    np.testing.assert_allclose(centre_of_mass(out), expected, atol=0.35)


def test_r_rotates_about_the_centre_and_keeps_mass(digits):
    params = distortion_params("R", len(digits), seed=5)
    out = distort(digits, "R", seed=5)
    ratio = out.sum(axis=(1, 2), dtype=np.float64) / digits.sum(axis=(1, 2), dtype=np.float64)
    assert np.all(np.abs(ratio - 1) < 0.08)
    # the angle turned by the centre of mass about (14, 14) matches the drawn angle
    before, after = centre_of_mass(digits) - 14, centre_of_mass(out) - 14
    far = np.linalg.norm(before, axis=1) > 1.0  # direction is meaningless near the centre
    turn = np.rad2deg(np.arctan2(-after[:, 1], after[:, 0]) - np.arctan2(-before[:, 1], before[:, 0]))
    turn = (turn + 180) % 360 - 180
    assert far.sum() > 5
    np.testing.assert_allclose(turn[far], params["angle"][far], atol=8)


def shoelace(quads):
    x, y = quads[..., 0], quads[..., 1]
    return 0.5 * np.abs((x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y).sum(axis=1))


def test_p_sends_the_frame_to_the_moved_corners():
    n = 40
    params = distortion_params("P", n, seed=2)
    h = params["homography"]
    # the homography maps each moved corner (normalised) to the frame's corner
    x, y = (params["corners"] / 14 - 1).transpose(2, 0, 1)
    w = h[:, 6, None] * x + h[:, 7, None] * y + 1
    xs = (h[:, 0, None] * x + h[:, 1, None] * y + h[:, 2, None]) / w
    ys = (h[:, 3, None] * x + h[:, 4, None] * y + h[:, 5, None]) / w
    np.testing.assert_allclose(np.stack([xs, ys], -1), np.broadcast_to(CORNERS, (n, 4, 2)), atol=1e-9)
    # A white central 14 x 14 square lands on the quadrilateral that the inverse homography
    # (input -> output) makes of its corners: compare the white mass with the shoelace area.
    square = np.zeros((n, 28, 28), np.uint8)
    square[:, 7:21, 7:21] = 255
    out = distort(square, "P", seed=2)
    matrix = np.concatenate([h, np.ones((n, 1))], axis=1).reshape(n, 3, 3)
    corners_in = np.concatenate([0.5 * CORNERS, np.ones((4, 1))], axis=1)  # normalised, homogeneous
    mapped = np.einsum("nij,kj->nki", np.linalg.inv(matrix), corners_in)
    mapped = (mapped[..., :2] / mapped[..., 2:] + 1) * 14  # output pixels
    inside = np.all((mapped > 0.5) & (mapped < 27.5), axis=(1, 2))
    assert inside.sum() >= 30
    area = out.sum(axis=(1, 2), dtype=np.float64) / 255
    np.testing.assert_allclose(area[inside], shoelace(mapped[inside]), rtol=0.04)


def test_e_moves_ink_a_little_and_keeps_mass(digits):
    out = distort(digits, "E", seed=1)
    ratio = out.sum(axis=(1, 2), dtype=np.float64) / digits.sum(axis=(1, 2), dtype=np.float64)
    # neighbouring control points move ~2 px apart over ~9 px, so single digits can grow or
    # shrink by tens of percent; not on average
    assert abs(np.median(ratio) - 1) < 0.08 and np.quantile(np.abs(ratio - 1), 0.8) < 0.3
    assert ratio.min() > 0.4 and ratio.max() < 2.5
    shift = np.linalg.norm(centre_of_mass(out) - centre_of_mass(digits), axis=1)
    assert np.median(shift) < 1.5 and shift.max() < 4
    assert np.mean(out != digits) > 0.05


def test_tc_composes_the_translated_digit_with_six_crops_of_other_digits():
    # Digit j is the constant j + 1 on its central 20 x 20 box, so every clutter crop (taken
    # inside that box) is a constant 6 x 6 block naming its source.
    n = 12
    images = np.zeros((n, 28, 28), np.uint8)
    for j in range(n):
        images[j, 4:24, 4:24] = 10 * (j + 1)
    params = distortion_params("TC", n, seed=4)
    out = distort(images, "TC", seed=4)
    for i in range(n):
        clutter = np.zeros((60, 60), np.uint8)
        for src, (px, py) in zip(params["clutter_source"][i], params["clutter_position"][i]):
            block = clutter[py : py + TC_CROP, px : px + TC_CROP]
            np.maximum(block, np.uint8(10 * (src + 1)), out=block)
        # outside the translated digit's box (one pixel margin for the bilinear edge) only clutter
        x0, y0 = np.floor(params["position"][i] - 14).astype(int) - 1
        mask = np.ones((60, 60), bool)
        mask[max(y0, 0) : y0 + 31, max(x0, 0) : x0 + 31] = False
        np.testing.assert_array_equal(out[i][mask], clutter[mask])
        assert np.count_nonzero(clutter) >= 36  # clutter is really there
        # inside the digit's central box the digit (or brighter clutter) shows
        cx, cy = np.rint(params["position"][i]).astype(int)
        assert np.all(out[i, cy - 8 : cy + 8, cx - 8 : cx + 8] >= 10 * (i + 1) - 1)


def test_tc_with_real_digits_has_clutter_outside_the_digit(digits):
    out = distort(digits, "TC", seed=0)
    params = distortion_params("TC", len(digits), seed=0)
    outside = []
    for i in range(len(digits)):
        x0, y0 = np.floor(params["position"][i] - 14).astype(int) - 1
        mask = np.ones((60, 60), bool)
        mask[max(y0, 0) : y0 + 31, max(x0, 0) : x0 + 31] = False
        outside.append(np.count_nonzero(out[i][mask]))
    assert np.median(outside) > 20


def test_errors(digits):
    n = len(digits)
    for call, error, message in [
        (lambda: distort(digits, "rts"), ValueError,
         "distort: kind: expected one of 'none', 'R', 'RTS', 'P', 'E', 'TC', got 'rts'"),
        (lambda: distort(digits.astype(np.float32), "R"), TypeError,
         "distort: images: expected uint8 images of shape (n, H, W), got dtype float32"),
        (lambda: distort(digits[:, :20], "R"), ValueError,
         f"distort: images: expected (n, 28, 28) images for kind 'R' (only 'none' takes other sizes), got shape "
         f"({n}, 20, 28)"),
        (lambda: distort(digits, "R", chunk_size=0), ValueError, "distort: chunk_size: expected an int >= 1, got 0"),
        (lambda: distort(digits, "R", seed=-2), ValueError, "distort: seed: expected an int >= 0, got -2"),
        (lambda: distortion_params("R", -1), ValueError, "distortion_params: n: expected an int >= 0, got -1"),
    ]:
        with pytest.raises(error) as caught:
            call()
        assert str(caught.value) == message
    # "none" copies images of any size (MNIST-layout files need not be 28 x 28)
    np.testing.assert_array_equal(distort(digits[:, :20], "none"), digits[:, :20])
