"""``stn-np register``: the files it writes, what they hold, and one-line errors with status 2."""

import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib import image as mpimg

from stn_np.cli import main
from stn_np.functional import affine_grid, grid_sample
from stn_np.registration.pyramid import downsample
from stn_np.registration.samples import grace_hopper, mri_slice
from stn_np.registration.transforms import corner_error

THETA = np.array([[0.95, 0.12, 0.08], [-0.1, 1.02, -0.05]])


def _warp(image, theta):
    batch = image[None, None] if image.ndim == 2 else image[None]
    out = grid_sample(batch, affine_grid(theta[None], (1, 1, *image.shape[-2:]))).data[0]
    return out[0] if image.ndim == 2 else out


@pytest.fixture(scope="module")
def npy_pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("npy")
    moving = downsample(mri_slice()[None, None])[0, 0]  # 128 x 128
    np.save(folder / "fixed.npy", _warp(moving, THETA))
    np.save(folder / "moving.npy", moving)
    return folder / "fixed.npy", folder / "moving.npy"


@pytest.fixture(scope="module")
def image_pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    moving = grace_hopper(128)  # (3, 128, 128) in [0, 1]
    fixed = np.clip(_warp(moving, THETA), 0, 1)
    mpimg.imsave(folder / "fixed.png", fixed.mean(axis=0), cmap="gray", vmin=0, vmax=1)  # RGBA gray PNG
    mpimg.imsave(folder / "moving.jpg", moving.transpose(1, 2, 0))  # colour JPEG
    return folder / "fixed.png", folder / "moving.jpg"


def test_affine_from_npy_writes_every_file(npy_pair, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["register", str(npy_pair[0]), str(npy_pair[1]), "--out", str(out), "--levels", "2"]) == 0
    printed = capsys.readouterr().out
    assert "affine, mse loss, start auto, 2 levels" in printed and "theta:" in printed and "wrote warped.png" in printed
    assert sorted(p.name for p in out.iterdir()) == ["loss.png", "params.json", "registration.png", "warped.npy", "warped.png"]
    params = json.loads((out / "params.json").read_text())
    theta = np.array(params["params"])
    assert corner_error(theta, THETA, (128, 128)) < 0.5
    assert np.array(params["pixel_matrix"]).shape == (2, 3) and params["loss_after"] < params["loss_before"]
    warped = np.load(out / "warped.npy", allow_pickle=False)
    fixed = np.load(npy_pair[0])
    assert warped.shape == (128, 128) and np.mean((warped - fixed) ** 2) < 1e-2 * np.mean((np.load(npy_pair[1]) - fixed) ** 2)
    for name in ("warped.png", "registration.png", "loss.png"):
        assert mpimg.imread(out / name).ndim == 3  # a real, readable PNG


def test_colour_jpeg_onto_gray_png_keeps_the_colours_of_moving(image_pair, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["register", str(image_pair[0]), str(image_pair[1]), "--out", str(out), "--levels", "2", "--loss", "ncc"]
    assert main(argv) == 0
    warped = np.load(out / "warped.npy", allow_pickle=False)
    assert warped.shape == (3, 128, 128)
    assert corner_error(np.array(json.loads((out / "params.json").read_text())["params"]), THETA, (128, 128)) < 0.5
    png = mpimg.imread(out / "warped.png")
    assert png.shape[:2] == (128, 128) and np.abs(png[..., 0] - png[..., 2]).max() > 0.1  # still in colour


def test_dense_writes_the_flow_and_the_folded_fraction(npy_pair, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["register", str(npy_pair[0]), str(npy_pair[1]), "--out", str(out), "--transform", "dense",
            "--levels", "2", "--steps", "20,10", "--smoothness", "0.5", "--lr", "0.1"]
    assert main(argv) == 0
    assert "folded pixels:" in capsys.readouterr().out
    params = json.loads((out / "params.json").read_text())
    assert params["steps_run"][0] <= 20 and params["steps_run"][1] <= 10 and 0 <= params["folded_fraction"] <= 1
    assert np.load(out / "flow.npy", allow_pickle=False).shape == (128, 128, 2)


def test_init_identity_file_and_mutual_information(npy_pair, tmp_path, capsys):
    fixed, moving = str(npy_pair[0]), str(npy_pair[1])
    inverted = tmp_path / "inverted.npy"
    np.save(inverted, np.cos(3 * np.pi * np.load(npy_pair[1]) / np.load(npy_pair[1]).max()))  # non-monotonic remap
    out = tmp_path / "mi"
    assert main(["register", fixed, str(inverted), "--out", str(out), "--levels", "2", "--loss", "mi"]) == 0
    params = json.loads((out / "params.json").read_text())
    assert params["loss"] == "mi" and params["init"] == "auto" and params["masked"] is True
    assert corner_error(np.array(params["params"]), THETA, (128, 128)) < 1.0
    start = tmp_path / "start.npy"
    np.save(start, THETA + 0.01)
    out = tmp_path / "file"
    assert main(["register", fixed, moving, "--out", str(out), "--levels", "2", "--init", str(start), "--steps", "0"]) == 0
    assert "start array" in capsys.readouterr().out
    out = tmp_path / "identity"
    assert main(["register", fixed, moving, "--out", str(out), "--levels", "2", "--init", "identity", "--no-mask"]) == 0
    params = json.loads((out / "params.json").read_text())
    assert params["init"] == "identity" and params["masked"] is False


def _error_line(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("stn-np: error: ") and err.count("\n") == 1, err
    return err


def test_bad_inputs_fail_in_one_line_with_status_two(npy_pair, tmp_path, capsys):
    fixed, moving = str(npy_pair[0]), str(npy_pair[1])
    out = str(tmp_path / "out")
    assert _error_line(capsys, ["register", "nope.png", moving, "--out", out]) == \
        "stn-np: error: FIXED (nope.png): expected an existing file, got 'nope.png', which does not exist\n"
    text = tmp_path / "text.png"
    text.write_text("not an image")
    assert _error_line(capsys, ["register", fixed, str(text), "--out", out]) == (
        f"stn-np: error: MOVING ({text}): expected an image file (PNG, JPEG, TIFF, ...) or .npy, got a file PIL "
        "cannot read as an image (UnidentifiedImageError)\n")
    pickled = tmp_path / "objects.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert _error_line(capsys, ["register", str(pickled), moving, "--out", out]) == (
        f"stn-np: error: FIXED ({pickled}): expected a readable .npy file of a plain array, got {pickled} "
        "(ValueError: objects.npy holds Python objects, which would need pickle to load)\n")
    np.save(tmp_path / "vector.npy", np.zeros(5))
    assert _error_line(capsys, ["register", fixed, str(tmp_path / "vector.npy"), "--out", out]) == (
        f"stn-np: error: MOVING ({tmp_path / 'vector.npy'}): expected a .npy file holding a real 2-D or (C, H, W) "
        "array, got float64 of shape (5,)\n")
    assert "--levels: expected at most" in _error_line(capsys, ["register", fixed, moving, "--out", out, "--levels", "6"])
    assert "--transform: expected one of" in _error_line(capsys, ["register", fixed, moving, "--out", out, "--transform", "x"])
    assert "--loss: expected one of" in _error_line(capsys, ["register", fixed, moving, "--out", out, "--loss", "x"])
    assert "--steps: expected" in _error_line(capsys, ["register", fixed, moving, "--out", out, "--steps", "a,b"])
    assert "--lr: expected a finite number > 0" in _error_line(capsys, ["register", fixed, moving, "--out", out, "--lr", "-1"])
    assert "--smoothness: expected None for a parametric transform" in _error_line(
        capsys, ["register", fixed, moving, "--out", out, "--smoothness", "0.1"])
    assert "--init: expected auto, identity or an existing .npy file" in _error_line(
        capsys, ["register", fixed, moving, "--out", out, "--init", "centre"])
    np.save(tmp_path / "wrong.npy", np.eye(3))
    assert "--init: expected 'auto', 'identity' or a real array of shape (2, 3)" in _error_line(
        capsys, ["register", fixed, moving, "--out", out, "--init", str(tmp_path / "wrong.npy")])
    assert "--out" in _error_line(capsys, ["register", fixed, moving])  # required
    assert "--out: " in _error_line(capsys, ["register", fixed, moving, "--out", fixed])  # a file, not a folder
    np.save(tmp_path / "flat.npy", np.ones((64, 64)))
    assert "FIXED (" in _error_line(capsys, ["register", str(tmp_path / "flat.npy"), moving, "--out", out])
    assert not (tmp_path / "out").exists()  # nothing written on failure


def test_console_entry_point_reports_a_missing_file():
    proc = subprocess.run([sys.executable, "-m", "stn_np.cli", "register", "a.png", "b.png", "--out", "x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr == \
        "stn-np: error: FIXED (a.png): expected an existing file, got 'a.png', which does not exist\n"


# ------------------------------------------------------------------ volumes (--spatial-dims 3)
@pytest.fixture(scope="module")
def volume_pair(tmp_path_factory):
    from stn_np.registration.samples import ellipsoid_phantom, random_affine_3d, spline_warp

    folder = tmp_path_factory.mktemp("volumes")
    moving = ellipsoid_phantom(24)
    theta = random_affine_3d(np.random.default_rng(5), (24, 24, 24), max_rotation=15)
    np.save(folder / "fixed.npy", spline_warp(moving, affine_grid(theta[None], (1, 1, 24, 24, 24)).data[0]))
    np.save(folder / "moving.npy", moving)
    return folder / "fixed.npy", folder / "moving.npy", theta


def test_volumes_from_npy_write_the_warped_volume_and_orthogonal_slices(volume_pair, tmp_path, capsys):
    fixed, moving, theta = volume_pair
    out = tmp_path / "affine"
    assert main(["register", str(fixed), str(moving), "--out", str(out), "--spatial-dims", "3", "--levels", "2"]) == 0
    printed = capsys.readouterr().out
    assert "trilinear refinement" in printed and "of the fixed volume" in printed
    assert sorted(p.name for p in out.iterdir()) == ["loss.png", "params.json", "registration.png", "warped.npy"]
    params = json.loads((out / "params.json").read_text())
    assert params["spatial_dims"] == 3 and np.array(params["pixel_matrix"]).shape == (3, 4)
    assert corner_error(np.array(params["params"]), theta, (24, 24, 24)) < 0.5
    warped = np.load(out / "warped.npy", allow_pickle=False)
    assert warped.shape == (24, 24, 24)
    assert np.mean((warped - np.load(fixed)) ** 2) < 0.05 * np.mean((np.load(moving) - np.load(fixed)) ** 2)
    figure = mpimg.imread(out / "registration.png")
    assert figure.ndim == 3 and figure.shape[1] > figure.shape[0]  # a readable PNG, planes in rows, volumes across
    out = tmp_path / "dense"
    argv = ["register", str(fixed), str(moving), "--out", str(out), "--spatial-dims", "3", "--transform", "dense",
            "--levels", "2", "--steps", "30,20"]
    assert main(argv) == 0
    assert "folded voxels:" in capsys.readouterr().out
    assert np.load(out / "flow.npy", allow_pickle=False).shape == (24, 24, 24, 3)
    assert json.loads((out / "params.json").read_text())["folded_fraction"] == 0.0


def test_volume_errors_fail_in_one_line(volume_pair, npy_pair, image_pair, tmp_path, capsys):
    fixed, moving, _ = volume_pair
    out = str(tmp_path / "out")
    volume = ["register", str(fixed), str(moving), "--out", out, "--spatial-dims"]
    assert _error_line(capsys, volume + ["4"]) == "stn-np: error: --spatial-dims: expected one of 2, 3, got 4\n"
    assert _error_line(capsys, volume + ["3", "--transform", "projective"]) == (
        "stn-np: error: --transform: expected 'affine' or 'dense' with spatial_dims=3 (the projective family is "
        "2-D only), got 'projective'\n")
    assert _error_line(capsys, ["register", str(npy_pair[0]), str(moving), "--out", out, "--spatial-dims", "3"]) == (
        f"stn-np: error: FIXED ({npy_pair[0]}): expected a .npy file holding a real (D, H, W) or (C, D, H, W) array, "
        "got float64 of shape (128, 128)\n")
    assert _error_line(capsys, ["register", str(fixed), str(image_pair[1]), "--out", out, "--spatial-dims", "3"]) == (
        f"stn-np: error: MOVING ({image_pair[1]}): expected a .npy file holding a (D, H, W) or (C, D, H, W) volume "
        "for spatial_dims=3, got 'moving.jpg', which is not .npy\n")
    # without --spatial-dims a (D, H, W) array is (C, H, W): 24 channels, against a 2-D image they do not match
    assert "MOVING (" in _error_line(capsys, ["register", str(npy_pair[0]), str(moving), "--out", out])
    assert not (tmp_path / "out").exists()
