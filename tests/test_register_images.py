"""``stn-np register``'s inputs and outputs: every PIL mode's grey values, sizes, huge values, a set of files."""

import os
import warnings

import numpy as np
import pytest
from PIL import Image

from stn_np.cli import main
from stn_np.cli.register import read_image
from stn_np.io import lock_directory
from stn_np.registration import register
from stn_np.registration.samples import mri_slice
from stn_np.registration.pyramid import downsample

LUMA = np.array([0.299, 0.587, 0.114])


def _grey(shape=(3, 4)):
    return np.linspace(0, 1, np.prod(shape)).reshape(shape)


def _rgb(shape=(3, 4)):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, shape + (3,), dtype=np.uint8)


def _mode_cases():
    """(PIL image in each mode, the grey values read_image must give, tolerance)."""
    g = _grey()
    g8 = np.round(g * 255).astype(np.uint8)
    rgb = _rgb()
    alpha = np.full(g8.shape, 128, np.uint8)
    rgb_grey = rgb.astype(float) @ LUMA / 255
    u16 = np.round(g * 65535).astype(np.uint16)
    i32 = (np.round(g * 2e9) - 1e9).astype(np.int32)  # signed, negative values included
    f32 = (g * 7 - 3).astype(np.float32)  # any real values
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    palette_grey = np.asarray(palette.convert("RGB")).astype(float) @ LUMA / 255
    return {
        "1": (Image.fromarray(g8 > 127), (g8 > 127).astype(float), 0),
        "L": (Image.fromarray(g8), g8 / 255, 0),
        "LA": (Image.fromarray(np.dstack([g8, alpha]), "LA"), g8 / 255, 0),
        "La": (Image.frombytes("La", (4, 3), np.dstack([(g8.astype(int) * 128 // 255).astype(np.uint8), alpha])
                               .tobytes()), g8 / 255, 2.5 / 255),  # premultiplied by 128/255: rounding
        "P": (palette, palette_grey, 1e-12),
        "PA": (palette.convert("PA"), palette_grey, 1e-12),
        "RGB": (Image.fromarray(rgb), rgb_grey, 1e-12),
        "RGBA": (Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), rgb_grey, 1e-12),
        "RGBX": (Image.fromarray(rgb).convert("RGBX"), rgb_grey, 1e-12),
        "RGBa": (Image.fromarray(np.dstack([rgb, np.full(g8.shape, 255, np.uint8)]), "RGBA").convert("RGBa"),
                 rgb_grey, 1e-12),
        "CMYK": (Image.fromarray(rgb).convert("CMYK"), rgb_grey, 1e-12),
        "YCbCr": (Image.fromarray(rgb).convert("YCbCr"), rgb_grey, 3 / 255),  # JPEG's colour space: rounding
        "I;16": (Image.fromarray(u16), u16 / 65535, 0),
        "I;16L": (Image.frombytes("I;16L", (4, 3), u16.astype("<u2").tobytes()), u16 / 65535, 0),
        "I;16B": (Image.frombytes("I;16B", (4, 3), u16.astype(">u2").tobytes()), u16 / 65535, 0),
        "I;16N": (Image.frombytes("I;16N", (4, 3), u16.tobytes()), u16 / 65535, 0),
        "I": (Image.fromarray(i32), i32 / (2**31 - 1), 0),
        "F": (Image.fromarray(f32), f32.astype(float), 0),
    }


REFUSED = {"HSV": "hue, saturation, value", "LAB": "CIE L*a*b*"}


def test_every_pil_mode_is_covered():
    assert set(_mode_cases()) | set(REFUSED) == set(Image.MODES)


@pytest.mark.parametrize("mode", sorted(_mode_cases()))
def test_every_pil_mode_gives_the_right_grey_values(mode, monkeypatch, tmp_path):
    image, expected, tolerance = _mode_cases()[mode]
    assert image.mode == mode
    monkeypatch.setattr(Image, "open", lambda path: image)  # some modes have no file format: read it from memory
    path = tmp_path / "image.png"
    path.write_bytes(b"")
    grey, to_warp = read_image(str(path), "FIXED")
    assert grey.dtype == np.float64 and grey.shape == (3, 4)
    np.testing.assert_allclose(grey, expected, rtol=0, atol=tolerance)
    if image.mode in ("RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "P", "PA"):
        assert to_warp.shape == (3, 3, 4)  # the colour channels are warped
        np.testing.assert_allclose(to_warp.transpose(1, 2, 0) @ LUMA, grey, atol=1e-12)
    else:
        assert to_warp is grey


@pytest.mark.parametrize("mode", sorted(REFUSED))
def test_modes_without_a_luminance_are_refused(mode, monkeypatch, tmp_path):
    monkeypatch.setattr(Image, "open", lambda path: Image.new(mode, (4, 3)))
    (tmp_path / "x.tif").write_bytes(b"")
    with pytest.raises(ValueError) as caught:
        read_image(str(tmp_path / "x.tif"), "MOVING")
    assert str(caught.value) == (f"register: moving: expected an image file (PNG, JPEG, TIFF, ...) or .npy, got a {mode} "
                                 f"({REFUSED[mode]}) image, which has no luminance to register on; convert it to RGB or "
                                 "grayscale first")


@pytest.mark.parametrize("array, expected", [
    (np.array([[0, 1_000_000_000, 2_147_483_647, -5]], np.int32), np.array([[0, 1e9, 2**31 - 1, -5]]) / (2**31 - 1)),
    (np.array([[0.25, -3.5, 1e6, 0.0]], np.float32), np.array([[0.25, -3.5, 1e6, 0.0]])),
    (np.array([[0, 5000, 65535, 7]], np.uint16), np.array([[0, 5000, 65535, 7]]) / 65535),
], ids=["32-bit int TIFF (mode I)", "32-bit float TIFF (mode F)", "16-bit TIFF"])
def test_32_bit_tiff_files_read_the_right_values(tmp_path, array, expected):
    """matplotlib's reader turned modes I and F into a clipped 8-bit RGBA (issue 11, item 6)."""
    path = tmp_path / "image.tif"
    Image.fromarray(array).save(path)
    grey, _ = read_image(str(path), "FIXED")
    np.testing.assert_array_equal(grey, expected)


def test_multi_frame_files_and_huge_images_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "stack.tif"
    frames = [Image.fromarray(np.full((4, 4), v, np.uint8)) for v in (0, 128)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.raises(ValueError, match="got an image of 2 frames \\(only single images are registered\\)$"):
        read_image(str(path), "FIXED")
    monkeypatch.setattr("stn_np.io.MAX_INPUT_BYTES", 40)  # the dimensions are checked before decoding
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(ValueError) as caught:
        read_image(str(tmp_path / "big.png"), "FIXED")
    assert str(caught.value) == (f"register: fixed: expected a file of at most 40 B of data (max_bytes; default "
                                 f"stn_np.io.MAX_INPUT_BYTES), got {tmp_path / 'big.png'}, which declares 64 B of "
                                 "8 x 8 L pixels")


def test_images_with_values_beyond_1e154_register_like_unit_images():
    """Their standard deviation used to overflow: identity and an overflow warning (issue 11, item 6)."""
    moving = downsample(mri_slice()[None, None])[0, 0][:64, :64]
    fixed = np.roll(moving, (2, -3), axis=(0, 1))
    plain = register(fixed, moving, levels=2, steps=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        huge = register(fixed * 1e200, moving * 1e200, levels=2, steps=20)
    np.testing.assert_allclose(huge.params, plain.params, rtol=0, atol=1e-12)
    assert huge.loss_after == pytest.approx(plain.loss_after, rel=1e-9)
    assert not np.allclose(plain.params, np.eye(2, 3))  # it did move


# ---------------------------------------------------------------- outputs: all or nothing, locked (issue 11, item 9)
@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    moving = downsample(mri_slice()[None, None])[0, 0][:64, :64]
    np.save(folder / "fixed.npy", np.roll(moving, (2, -3), axis=(0, 1)))
    np.save(folder / "moving.npy", moving)
    return str(folder / "fixed.npy"), str(folder / "moving.npy")


def test_a_failed_write_leaves_the_previous_outputs_whole(pair, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    argv = ["register", *pair, "--out", str(out), "--levels", "1", "--steps", "5"]
    assert main(argv) == 0
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    assert sorted(before) == ["loss.png", "params.json", "registration.png", "warped.npy", "warped.png"]
    calls = []
    real = os.fsync

    def disk_full_at_the_fourth_file(fd):
        calls.append(fd)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", disk_full_at_the_fourth_file)
    capsys.readouterr()
    assert main([*argv, "--steps", "7"]) == 2
    assert capsys.readouterr().err == "stn-np: error: [Errno 28] No space left on device\n"
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before  # nothing changed, no temporary


def test_a_second_registration_into_a_locked_folder_is_refused(pair, tmp_path, capsys):
    out = tmp_path / "out"
    with lock_directory(out, "train") as lock:
        assert main(["register", *pair, "--out", str(out), "--levels", "1", "--steps", "2"]) == 2
    assert capsys.readouterr().err == (f"stn-np: error: --out: expected a folder no other run is writing, got {out} "
                                       f"(locked by process {os.getpid()}; {lock} is removed when that run ends)\n")
    assert os.listdir(out) == []
