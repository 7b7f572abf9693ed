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


@pytest.mark.parametrize(
    "bad, message",
    [(np.zeros(3, np.int64), "int64"), (np.zeros(3, bool), "bool"), (np.zeros(3, np.uint16), "uint16")],
)
def test_save_rejects_types_idx_cannot_hold(tmp_path, bad, message):
    with pytest.raises(TypeError, match=message):
        save_idx(tmp_path / "x", bad)
    with pytest.raises(ValueError, match="dimensions"):
        save_idx(tmp_path / "x", np.uint8(3))


@pytest.mark.parametrize(
    "payload, message",
    [
        (idx_bytes(0x08, [2, 3], bytes(5)), "truncated"),
        (idx_bytes(0x08, [2, 3], bytes(7)), "extra bytes"),
        (idx_bytes(0x0D, [2], bytes(7)), "truncated"),
        (idx_bytes(0x08, [2**32 - 1] * 3, bytes(8)), "truncated"),
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
    assert "broken-file" in str(info.value)
    # the same damage inside a gzip wrapper is found too
    path = write_raw(tmp_path / "broken-gz", gzip.compress(payload))
    with pytest.raises(ValueError, match=message):
        load_idx(path)


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
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "nope")


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
    with pytest.raises(ValueError, match="5 images.*but 4 labels"):
        load_mnist_like(tmp_path, "train")


def test_mnist_files_must_have_the_right_rank_and_type(tmp_path):
    write_split(tmp_path, "train", np.zeros((5, 784), np.uint8), np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="train-images.*3-d unsigned byte"):
        load_mnist_like(tmp_path, "train")
    write_split(tmp_path, "train", np.zeros((5, 28, 28), np.uint8), np.zeros(5, np.int32))
    with pytest.raises(ValueError, match="train-labels.*1-d unsigned byte"):
        load_mnist_like(tmp_path, "train")


def test_mnist_missing_files_and_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_mnist_like(tmp_path / "absent")
    save_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz"):
        load_mnist_like(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist_like(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_mnist_like(tmp_path, "validation")
