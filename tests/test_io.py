"""Atomic writes and pickle-free loading."""

import io
import json
import math
import os
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from stn_np.io import (
    LOCK_NAME,
    atomic_write,
    load_npy,
    load_npz,
    lock_directory,
    remove_temporaries,
    save_files,
    save_json,
    save_npz,
)


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
    with pytest.raises(TypeError) as caught:
        save_npz(path, {"bad": np.array([{}], dtype=object)})
    assert str(caught.value) == ("save_npz: arrays: expected plain arrays (object arrays need pickle, which stn_np never "
                                 "writes), got an object array for 'bad'")


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, bad=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError) as caught:
        load_npz(path)
    assert str(caught.value) == (f"load_npz: path: expected a readable .npz archive of plain arrays, got {path} "
                                 "(ValueError: bad.npy holds Python objects, which would need pickle to load)")


def test_json_and_missing_directory(tmp_path):
    save_json(tmp_path / "m.json", {"epochs": [1, 2]})
    assert '"epochs"' in (tmp_path / "m.json").read_text()
    with pytest.raises(FileNotFoundError) as caught:
        save_json(tmp_path / "nope" / "m.json", {})
    assert str(caught.value) == (f"atomic_write: path: expected a file in an existing folder, got "
                                 f"{tmp_path / 'nope' / 'm.json'} (the folder {tmp_path / 'nope'} does not exist)")


def test_written_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        save_json(tmp_path / "m.json", {})
    finally:
        os.umask(umask)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------- strict JSON (issue 11, item 2)
def _strict(text):
    """Parse as a strict RFC 8259 parser would: NaN and Infinity are not JSON."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_json_is_strict_non_finite_numbers_become_null(tmp_path):
    save_json(tmp_path / "m.json", {"loss": float("nan"), "best": -math.inf, "x": np.float32(0.5),
                                   "curve": np.array([1.0, np.inf]), "shape": (2, 3)})
    assert _strict((tmp_path / "m.json").read_text()) == {"loss": None, "best": None, "x": 0.5,
                                                           "curve": [1.0, None], "shape": [2, 3]}
    for obj, message in [
        ({"a": {1, 2}}, "save_json: obj: expected JSON values (dicts with str keys, lists, str, numbers, bools, None), "
                        "got a set at obj['a']"),
        ({(1, 2): 3}, "save_json: obj: expected dicts with str keys, got the key (1, 2) at obj"),
    ]:
        with pytest.raises(TypeError) as caught:
            save_json(tmp_path / "bad.json", obj)
        assert str(caught.value) == message
    assert not (tmp_path / "bad.json").exists()


# ---------------------------------------------------------------- reading within a cap (item 8)
def _zip(tmp_path, name, members, method=zipfile.ZIP_DEFLATED):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", method) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def test_npz_bomb_is_refused_from_its_headers(tmp_path, monkeypatch):
    """A small npz whose member declares (100000, 100000) float64 (75 GiB) is refused before decompressing."""
    monkeypatch.setattr("stn_np.io.MAX_INPUT_BYTES", 2**30)  # the default, whatever the environment says
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)})
    path = _zip(tmp_path, "bomb.npz", {"x.npy": buffer.getvalue() + bytes(1 << 20)})
    assert path.stat().st_size < 10_000
    read = []
    real = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: read.append(1) or real(*a, **k))
    with pytest.raises(ValueError) as caught:
        load_npz(path)
    assert str(caught.value) == (f"load_npz: path: expected a file of at most 1.0 GiB of data (max_bytes; default "
                                 f"stn_np.io.MAX_INPUT_BYTES), got {path}, which declares 74.5 GiB of array data")
    assert not read  # no array was read
    small = tmp_path / "small.npz"
    save_npz(small, {"a": np.zeros(10)})
    assert load_npz(small, max_bytes=80)["a"].shape == (10,)
    with pytest.raises(ValueError, match="at most 79 B of data"):
        load_npz(small, max_bytes=79)


@pytest.mark.parametrize("make, detail", [
    (lambda p: p.write_bytes(b"PK\x03\x04 truncated"), "BadZipFile"),
    (lambda p: p.write_bytes(b"hello"), "BadZipFile"),
    (lambda p: _aes(p), "NotImplementedError: That compression method is not supported"),
    (lambda p: _corrupt_header(p), "TokenError"),
], ids=["truncated", "not a zip", "unsupported compression", "corrupt npy header"])
def test_a_corrupt_npz_is_a_value_error_naming_the_file(tmp_path, make, detail):
    """NotImplementedError, tokenize errors and BadZipFile used to leak out (issue 11, item 7)."""
    path = tmp_path / "broken.npz"
    make(path)
    with pytest.raises(ValueError) as caught:
        load_npz(path)
    message = str(caught.value)
    assert message.startswith(f"load_npz: path: expected a readable .npz archive of plain arrays, got {path} (")
    assert detail in message and "\n" not in message


def _aes(path):
    raw = bytearray(_zip(path.parent, "plain.npz", {"a.npy": b"\x93NUMPY" + bytes(40)}, zipfile.ZIP_STORED).read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = raw.find(signature)
        raw[start + offset:start + offset + 2] = (99).to_bytes(2, "little")  # compression method 99
    path.write_bytes(bytes(raw))


def _corrupt_header(path):
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, '"
    header += b" " * (118 - len(header)) + b"\n"
    path.write_bytes(_zip(path.parent, "h.npz", {"a.npy": b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                                  + header + bytes(16)}).read_bytes())


def test_load_npy_checks_the_header_against_the_file(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(load_npy(path), np.arange(6.0).reshape(2, 3))
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(ValueError) as caught:
        load_npy(path)
    assert str(caught.value) == (f"load_npy: path: expected a readable .npy file of a plain array, got {path} "
                                 "(ValueError: truncated: its header declares 48 bytes of data, it holds 40)")


# ---------------------------------------------------------------- sets of files, locks, leftovers (items 5, 9)
def test_save_files_writes_all_or_nothing(tmp_path, monkeypatch):
    save_files({tmp_path / "a": b"old a", tmp_path / "b": b"old b"})
    calls = []
    real = os.fsync

    def failing_fsync(fd):  # the disk fills up while the third file is written
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        save_files({tmp_path / "a": b"new a", tmp_path / "b": b"new b", tmp_path / "c": b"new c"})
    assert (tmp_path / "a").read_bytes() == b"old a" and (tmp_path / "b").read_bytes() == b"old b"
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]  # no new file, no temporary
    monkeypatch.setattr(os, "fsync", real)
    save_files({tmp_path / "a": b"new a", tmp_path / "c": b"new c"})
    assert (tmp_path / "a").read_bytes() == b"new a" and (tmp_path / "c").read_bytes() == b"new c"


def test_lock_directory_admits_one_writer_and_releases_on_exit(tmp_path):
    with lock_directory(tmp_path / "out", "train") as lock:
        assert open(lock).read() == f"{os.getpid()}\n"
        with pytest.raises(ValueError) as caught:
            with lock_directory(tmp_path / "out", "train"):
                pass
        assert str(caught.value) == (f"train: out_dir: expected a folder no other run is writing, got "
                                     f"{tmp_path / 'out'} (locked by process {os.getpid()}; {lock} is removed when "
                                     "that run ends)")
    assert not os.path.exists(lock)
    with pytest.raises(RuntimeError):
        with lock_directory(tmp_path / "out", "train"):
            raise RuntimeError("a crash inside the run")
    assert os.listdir(tmp_path / "out") == []  # released on the way out of an exception too


def test_a_lock_left_by_a_killed_process_is_stale(tmp_path):
    """The lock file stays after a SIGKILL, but the kernel has dropped the lock: the next run takes it."""
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from stn_np.io import lock_directory\n"
                               f"with lock_directory({str(out)!r}, 'train'):\n print('locked', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match=f"locked by process {holder.pid};"):
            with lock_directory(out, "train"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (out / LOCK_NAME).read_text() == f"{holder.pid}\n"  # left behind by the killed process
    with lock_directory(out, "train") as lock:
        assert open(lock).read() == f"{os.getpid()}\n"


def test_an_unwritable_folder_is_refused_at_once(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError) as caught:
        with lock_directory(blocker / "out", "train"):
            pass
    assert str(caught.value) == f"train: out_dir: expected a folder that can be created, got {blocker / 'out'} (Not a directory)"
    real_open = os.open

    def read_only(path, flags, *args):  # what a read-only folder does to a non-root process
        if str(path).endswith(LOCK_NAME):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(ValueError) as caught:
        with lock_directory(tmp_path / "ro", "train"):
            pass
    assert str(caught.value) == f"train: out_dir: expected a folder this process can write, got {tmp_path / 'ro'} (Permission denied)"


def test_remove_temporaries_removes_only_leftovers(tmp_path):
    for name in (".tmp-abc.npz", ".tmp-x.json", "checkpoint.npz", "notes.tmp-keep"):
        (tmp_path / name).write_text("x")
    assert remove_temporaries(tmp_path) == [".tmp-abc.npz", ".tmp-x.json"]
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "notes.tmp-keep"]
