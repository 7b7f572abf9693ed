"""Atomic writes and pickle-free loading."""

import os

import numpy as np
import pytest

from stn_np.io import atomic_write, load_npz, save_json, save_npz


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.npz"
    save_npz(path, {"a": np.arange(3)})
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write(b"partial")
            raise RuntimeError("killed mid-write")
    np.testing.assert_array_equal(load_npz(path)["a"], [0, 1, 2])
    assert os.listdir(tmp_path) == ["state.npz"]


def test_npz_round_trip_refuses_objects(tmp_path):
    path = tmp_path / "x.npz"
    save_npz(path, {"w": np.ones((2, 2), np.float32), "name": np.array("digits")}, compressed=True)
    loaded = load_npz(path)
    assert loaded["w"].dtype == np.float32 and str(loaded["name"]) == "digits"
    with pytest.raises(TypeError, match="object array"):
        save_npz(path, {"bad": np.array([{}], dtype=object)})


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, bad=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        load_npz(path)["bad"]


def test_json_and_missing_directory(tmp_path):
    save_json(tmp_path / "m.json", {"epochs": [1, 2]})
    assert '"epochs"' in (tmp_path / "m.json").read_text()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_json(tmp_path / "nope" / "m.json", {})


def test_written_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        save_json(tmp_path / "m.json", {})
    finally:
        os.umask(umask)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
