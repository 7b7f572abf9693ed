"""Mini-batches and make_dataset (the training CLI's entry point), including their errors."""

import numpy as np
import pytest

from stn_np.data import batches, make_dataset, save_idx, synthetic_digits, to_float


@pytest.fixture
def small(rng):
    return rng.integers(0, 256, (23, 5, 4), dtype=np.uint8), rng.integers(0, 10, 23)


def test_batches_cover_every_sample_once_scaled_to_unit_range(small):
    images, labels = small
    seen = []
    for x, y in batches(images, labels, 5, shuffle=True, seed=3):
        assert x.dtype == np.float32 and x.ndim == 4 and x.shape[1:] == (1, 5, 4)
        assert y.dtype == np.int64 and len(y) == len(x) <= 5
        assert 0 <= x.min() and x.max() <= 1
        seen.append((x, y))
    assert [len(y) for _, y in seen] == [5, 5, 5, 5, 3]
    x = np.concatenate([b[0] for b in seen])
    y = np.concatenate([b[1] for b in seen])
    # every (image, label) pair comes out exactly once, images divided by 255
    order = [int(np.flatnonzero((images == np.rint(xi[0] * 255)).all(axis=(1, 2)))[0]) for xi in x]
    assert sorted(order) == list(range(23)) and order != list(range(23))
    np.testing.assert_array_equal(y, labels[order])
    np.testing.assert_allclose(x[:, 0], images[order] / 255, rtol=1e-6)


def test_batches_are_deterministic_given_the_seed(small):
    images, labels = small
    first = [y for _, y in batches(images, labels, 4, shuffle=True, seed=1)]
    again = [y for _, y in batches(images, labels, 4, shuffle=True, seed=1)]
    other = [y for _, y in batches(images, labels, 4, shuffle=True, seed=2)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    plain = np.concatenate([y for _, y in batches(images, labels, 4)])
    np.testing.assert_array_equal(plain, labels)


def test_drop_last(small):
    images, labels = small
    sizes = [len(y) for _, y in batches(images, labels, 5, shuffle=True, drop_last=True)]
    assert sizes == [5, 5, 5, 5]


def test_to_float_exact_values():
    out = to_float(np.array([[[0, 51, 255]]], np.uint8))
    assert out.dtype == np.float32 and out.shape == (1, 1, 1, 3)
    np.testing.assert_array_equal(out, np.array([[[[0, 0.2, 1]]]], np.float32))


def test_batches_errors(small):
    images, labels = small
    with pytest.raises(TypeError, match="images: expected uint8"):
        next(batches(images.astype(np.float32), labels, 2))
    with pytest.raises(TypeError, match="labels"):
        next(batches(images, labels[:-1], 2))
    with pytest.raises(TypeError, match="labels"):
        next(batches(images, labels.astype(float), 2))
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="batch_size"):
            next(batches(images, labels, bad))
    with pytest.raises(ValueError, match="seed"):
        next(batches(images, labels, 2, shuffle=True, seed=-1))


# -- make_dataset ------------------------------------------------------------------------------


def test_digits_with_distortion_shapes_and_determinism():
    s = make_dataset("digits", distortion="RTS", train_size=30, test_size=20, seed=4)
    assert s.train_images.shape == (30, 42, 42) and s.test_images.shape == (20, 42, 42)
    assert s.train_images.dtype == np.uint8 and s.train_labels.dtype == np.int64
    again = make_dataset("digits", distortion="RTS", train_size=30, test_size=20, seed=4)
    for a, b in zip(s, again):
        np.testing.assert_array_equal(a, b)
    other = make_dataset("digits", distortion="RTS", train_size=30, test_size=20, seed=5)
    assert not np.array_equal(other.train_images, s.train_images)
    # train and test are drawn independently (not the same digits)
    plain = make_dataset("digits", train_size=20, test_size=20, seed=4)
    assert not np.array_equal(plain.train_images, plain.test_images)
    assert not np.array_equal(plain.train_labels, plain.test_labels)
    # undistorted, the splits are synthetic digits under the first two seeds derived from seed
    train_seed, test_seed = (int(v) for v in np.random.SeedSequence(4).generate_state(4)[:2])
    np.testing.assert_array_equal(plain.train_images, synthetic_digits(20, train_seed)[0])
    np.testing.assert_array_equal(plain.test_labels, synthetic_digits(20, test_seed)[1])


def write_mnist_layout(directory, n_train, n_test, rng):
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        save_idx(directory / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        save_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_files_are_read_cut_and_distorted(tmp_path, rng, name):
    write_mnist_layout(tmp_path, 12, 6, rng)
    s = make_dataset(name, data_dir=tmp_path, distortion="TC", train_size=10, seed=1)
    assert s.train_images.shape == (10, 60, 60) and s.test_images.shape == (6, 60, 60)
    np.testing.assert_array_equal(s.train_labels, np.arange(10) % 10)
    plain = make_dataset(name, data_dir=str(tmp_path), test_size=4)
    assert plain.train_images.shape == (12, 28, 28) and plain.test_images.shape == (4, 28, 28)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"name": "cifar"}, ValueError, "name: expected one of digits, mnist, fashion-mnist, got 'cifar'"),
        ({"distortion": "XYZ"}, ValueError, "distortion: expected one of none, R, RTS, P, E, TC"),
        ({"train_size": 0}, ValueError, "train_size"),
        ({"test_size": 2.5}, ValueError, "test_size"),
        ({"seed": -1}, ValueError, "seed"),
        ({"name": "digits", "data_dir": "/tmp"}, ValueError, "data_dir: only used with"),
        ({"name": "mnist"}, ValueError, "data_dir: required"),
        ({"name": "fashion-mnist", "data_dir": "/nonexistent/stn-np-data"}, FileNotFoundError, "not a directory"),
    ],
)
def test_make_dataset_errors_name_the_option(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_dataset(**{"train_size": 10, "test_size": 10, **kwargs})


def test_asking_for_more_than_the_files_hold(tmp_path, rng):
    write_mnist_layout(tmp_path, 5, 3, rng)
    with pytest.raises(ValueError, match="train_size: asked for 6 images but .* has only 5"):
        make_dataset("mnist", data_dir=tmp_path, train_size=6)
    with pytest.raises(ValueError, match="test_size: asked for 4 images but .* has only 3"):
        make_dataset("mnist", data_dir=tmp_path, test_size=4)
