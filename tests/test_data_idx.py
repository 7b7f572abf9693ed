"""IDX reader/writer and the MNIST-layout loader, on files the tests write themselves."""

import gzip
import os
import struct

import numpy as np
import pytest

from stn_np.data import load_idx, load_mnist_like, save_idx
from stn_np.data.idx import IDX_TYPES


def write_raw(path, payload):
    with open(path, "wb") as fh:
        fh.write(payload)
    return str(path)


def idx_bytes(code, dims, data):
    """An IDX file built by hand from the format description, not with save_idx."""
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def test_handwritten_raw_file_is_read_big_endian(tmp_path):
    data = struct.pack(">3h", 1, -2, 300)
    path = write_raw(tmp_path / "a", idx_bytes(0x0B, [3], data))
    out = load_idx(path)
    assert out.dtype == np.int16 and out.dtype.isnative
    np.testing.assert_array_equal(out, [1, -2, 300])


def test_handwritten_gzip_file_detected_by_magic_not_name(tmp_path):
    payload = idx_bytes(0x08, [2, 3], bytes(range(6)))
    path = write_raw(tmp_path / "no-suffix.idx", gzip.compress(payload))
    np.testing.assert_array_equal(load_idx(path), np.arange(6, dtype=np.uint8).reshape(2, 3))
    # and a raw file named .gz is still read raw
    path = write_raw(tmp_path / "raw.gz", payload)
    np.testing.assert_array_equal(load_idx(path), np.arange(6).reshape(2, 3))


@pytest.mark.parametrize("code", sorted(IDX_TYPES))
@pytest.mark.parametrize("compress", [False, True])
def test_every_type_code_round_trips(tmp_path, rng, code, compress):
    dtype = IDX_TYPES[code].newbyteorder("=")
    if dtype.kind == "f":
        array = rng.standard_normal((3, 4, 5)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=(3, 4, 5), endpoint=True).astype(dtype)
    path = str(tmp_path / "x.idx")
    save_idx(path, array, compress=compress)
    with open(path, "rb") as fh:
        head = fh.read(4)
    if compress:
        assert head[:2] == b"\x1f\x8b"
    else:
        assert head == bytes([0, 0, code, 3])
        assert os.path.getsize(path) == 4 + 3 * 4 + array.nbytes
    out = load_idx(path)
    assert out.dtype == dtype and out.shape == array.shape and out.flags.writeable
    np.testing.assert_array_equal(out, array)


def test_save_compresses_by_suffix_and_leaves_no_temp_file(tmp_path):
    save_idx(tmp_path / "a.gz", np.zeros(3, np.uint8))
    save_idx(tmp_path / "b", np.zeros(3, np.uint8))
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "b").read_bytes()[:2] == b"\x00\x00"
    assert sorted(os.listdir(tmp_path)) == ["a.gz", "b"]


@pytest.mark.parametrize("dtype", [np.int64, bool, np.uint16])
def test_save_rejects_types_idx_cannot_hold(tmp_path, dtype):
    with pytest.raises(TypeError) as caught:
        save_idx(tmp_path / "x", np.zeros(3, dtype))
    assert str(caught.value) == ("save_idx: array: expected uint8, int8, int16, int32, float32 or float64 values (what "
                                 f"IDX stores), got dtype {np.dtype(dtype)}")
    with pytest.raises(ValueError) as caught:
        save_idx(tmp_path / "x", np.uint8(3))
    assert str(caught.value) == "save_idx: array: expected 1 to 255 dimensions, got 0 dimensions"


@pytest.mark.parametrize(
    "payload, message",
    [
        (idx_bytes(0x08, [2, 3], bytes(5)), "truncated"),
        (idx_bytes(0x08, [2, 3], bytes(7)), "extra bytes"),
        (idx_bytes(0x0D, [2], bytes(7)), "truncated"),
        (idx_bytes(0x08, [2**32 - 1] * 3, bytes(8)), r"truncated: dimensions \(4294967295, 4294967295, 4294967295\)"),
        (b"\x00\x00\x08\x02\x00\x00", "truncated IDX header"),
        (b"\x00\x00", "shorter than the 4-byte magic"),
        (b"", "shorter than the 4-byte magic"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "magic"),
        (b"PK\x03\x04....", "magic"),
        (idx_bytes(0x0A, [1], bytes(1)), "unknown IDX type code 0x0A"),
        (idx_bytes(0x08, [], b""), "0 dimensions"),
    ],
)
def test_corrupt_files_raise_value_error_naming_the_file(tmp_path, payload, message):
    path = write_raw(tmp_path / "broken-file", payload)
    with pytest.raises(ValueError, match=message) as info:
        load_idx(path)
    assert str(info.value).startswith(f"load_idx: path: expected an IDX file, got {path} (")
    # the same damage inside a gzip wrapper is found too (a header declaring more than the cap
    # is refused for that, before anything is decompressed)
    path = write_raw(tmp_path / "broken-gz", gzip.compress(payload))
    with pytest.raises(ValueError, match="which declares" if "4294967295" in message else message):
        load_idx(path)


def test_declared_size_is_checked_against_the_cap_before_decompressing(tmp_path, monkeypatch):
    """A 1 MB gzip file declaring 93 GiB is refused from its header (issue 11, item 8)."""
    monkeypatch.setattr("stn_np.io.MAX_INPUT_BYTES", 2**30)  # the default, whatever the environment says
    bomb = write_raw(tmp_path / "bomb.gz", gzip.compress(idx_bytes(0x08, [100000, 1000, 1000], bytes(1 << 20))))
    inflated = []
    real = gzip.GzipFile.read
    monkeypatch.setattr(gzip.GzipFile, "read", lambda self, size=-1: inflated.append(size) or real(self, size))
    with pytest.raises(ValueError) as caught:
        load_idx(bomb)
    assert str(caught.value) == (f"load_idx: path: expected a file of at most 1.0 GiB of data (max_bytes; default "
                                 f"stn_np.io.MAX_INPUT_BYTES), got {bomb}, which declares 93.1 GiB of "
                                 "100000 x 1000 x 1000 uint8")
    assert sum(inflated) <= 4 + 4 * 3  # only the header was decompressed
    # the cap is per call (max_bytes) or process-wide (stn_np.io.MAX_INPUT_BYTES)
    small = write_raw(tmp_path / "small.gz", gzip.compress(idx_bytes(0x08, [100], bytes(100))))
    assert load_idx(small, max_bytes=100).shape == (100,)
    with pytest.raises(ValueError, match="at most 99 B of data"):
        load_idx(small, max_bytes=99)
    monkeypatch.setattr("stn_np.io.MAX_INPUT_BYTES", 50)
    with pytest.raises(ValueError, match="at most 50 B of data .* which declares 100 B of 100 uint8"):
        load_idx(small)
    with pytest.raises(ValueError, match="load_idx: max_bytes: expected an int >= 1, got 0"):
        load_idx(small, max_bytes=0)


@pytest.mark.parametrize("cut", [5, 20, -9])
def test_truncated_or_corrupt_gzip_is_a_value_error(tmp_path, cut):
    packed = gzip.compress(idx_bytes(0x08, [100], bytes(range(100))))
    path = write_raw(tmp_path / "cut.gz", packed[:cut])
    with pytest.raises(ValueError, match="cut.gz.*gzip"):
        load_idx(path)


def test_gzip_with_flipped_payload_byte_fails_its_checksum(tmp_path):
    packed = bytearray(gzip.compress(idx_bytes(0x08, [100], bytes(range(100)))))
    packed[-9] ^= 0xFF  # last byte of the CRC32
    path = write_raw(tmp_path / "crc.gz", bytes(packed))
    with pytest.raises(ValueError, match="gzip"):
        load_idx(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        load_idx(tmp_path / "nope")
    assert str(caught.value) == f"load_idx: path: expected an existing IDX file, got {tmp_path / 'nope'} (no such file)"
    with pytest.raises(IsADirectoryError, match="load_idx: path: expected an IDX file, got the folder"):
        load_idx(tmp_path)
    with pytest.raises(TypeError, match="load_idx: path: expected a file path \\(str or os.PathLike\\), got 3"):
        load_idx(3)


# -- load_mnist_like ---------------------------------------------------------------------------


def write_split(directory, prefix, images, labels, gz=True):
    suffix = ".gz" if gz else ""
    save_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images)
    save_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels)


def test_mnist_layout_both_splits_raw_and_gzip(tmp_path, rng):
    train_x = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    train_y = rng.integers(0, 10, 7).astype(np.uint8)
    test_x = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    test_y = np.array([9, 0, 4], np.uint8)
    write_split(tmp_path, "train", train_x, train_y, gz=True)
    write_split(tmp_path, "t10k", test_x, test_y, gz=False)
    x, y = load_mnist_like(tmp_path, "train")
    np.testing.assert_array_equal(x, train_x)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, train_y)
    x, y = load_mnist_like(str(tmp_path), split="test")
    np.testing.assert_array_equal(x, test_x)
    np.testing.assert_array_equal(y, [9, 0, 4])


def test_mnist_counts_must_agree(tmp_path):
    write_split(tmp_path, "train", np.zeros((5, 28, 28), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(ValueError) as caught:
        load_mnist_like(tmp_path, "train")
    assert str(caught.value) == ("load_mnist_like: directory: expected as many labels as images in the train split, got "
                                 "5 images (train-images-idx3-ubyte.gz) but 4 labels (train-labels-idx1-ubyte.gz) in "
                                 f"{tmp_path}")


def test_mnist_files_must_have_the_right_rank_and_type(tmp_path):
    write_split(tmp_path, "train", np.zeros((5, 784), np.uint8), np.zeros(5, np.uint8))
    with pytest.raises(ValueError) as caught:
        load_mnist_like(tmp_path, "train")
    assert str(caught.value) == ("load_mnist_like: directory: expected MNIST-layout files, got "
                                 f"{tmp_path / 'train-images-idx3-ubyte.gz'}, which holds 2-d uint8 of shape (5, 784), "
                                 "not (n, rows, cols) unsigned bytes")
    write_split(tmp_path, "train", np.zeros((5, 28, 28), np.uint8), np.zeros(5, np.int32))
    with pytest.raises(ValueError) as caught:
        load_mnist_like(tmp_path, "train")
    assert str(caught.value) == ("load_mnist_like: directory: expected MNIST-layout files, got "
                                 f"{tmp_path / 'train-labels-idx1-ubyte.gz'}, which holds 1-d int32, not 1-d unsigned "
                                 "byte labels")


def test_mnist_missing_files_and_folders(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        load_mnist_like(tmp_path / "absent")
    assert str(caught.value) == (f"load_mnist_like: directory: expected a folder of MNIST-layout files, got "
                                 f"{tmp_path / 'absent'} (not a directory)")
    save_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError) as caught:
        load_mnist_like(tmp_path, "test")
    assert str(caught.value) == ("load_mnist_like: directory: expected a folder holding t10k-labels-idx1-ubyte or "
                                 f"t10k-labels-idx1-ubyte.gz, got {tmp_path} (neither found)")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist_like(tmp_path, "train")
    with pytest.raises(ValueError) as caught:
        load_mnist_like(tmp_path, "validation")
    assert str(caught.value) == "load_mnist_like: split: expected one of 'train', 'test', got 'validation'"


def test_mnist_labels_are_range_checked_naming_the_file(tmp_path):
    write_split(tmp_path, "train", np.zeros((3, 28, 28), np.uint8), np.array([0, 10, 3], np.uint8))
    with pytest.raises(ValueError) as caught:
        load_mnist_like(tmp_path, "train")
    assert str(caught.value) == ("load_mnist_like: directory: expected labels in [0, 10), got label 10 at index 1 of "
                                 f"{tmp_path / 'train-labels-idx1-ubyte.gz'} (1 out of range)")
    images, labels = load_mnist_like(tmp_path, "train", num_classes=11)
    assert labels.tolist() == [0, 10, 3]
