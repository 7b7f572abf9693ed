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


def test_batches_errors_are_raised_by_the_call(small):
    """Checked when batches() is called, not when the first batch is drawn."""
    images, labels = small
    n = len(labels)
    for call, error, message in [
        (lambda: batches(images.astype(np.float32), labels, 2), TypeError,
         "batches: images: expected uint8 images of shape (n, H, W), got dtype float32"),
        (lambda: batches(images, labels[:-1], 2), ValueError,
         f"batches: labels: expected shape ({n},), one label per image, got shape ({n - 1},)"),
        (lambda: batches(images, labels.astype(float), 2), TypeError,
         "batches: labels: expected integer class labels, got dtype float64"),
        (lambda: batches(images, labels, 0), ValueError, "batches: batch_size: expected an int >= 1, got 0"),
        (lambda: batches(images, labels, 2.0), ValueError, "batches: batch_size: expected an int >= 1, got 2.0"),
        (lambda: batches(images, labels, True), ValueError, "batches: batch_size: expected an int >= 1, got True"),
        (lambda: batches(images, labels, 2, shuffle=True, seed=-1), ValueError,
         "batches: seed: expected an int >= 0, got -1"),
        (lambda: batches(images, labels, 2, shuffle="yes"), TypeError, "batches: shuffle: expected a bool, got 'yes'"),
    ]:
        with pytest.raises(error) as caught:
            call()
        assert str(caught.value) == message


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
        ({"name": "cifar"}, ValueError,
         "make_dataset: name: expected one of 'digits', 'mnist', 'fashion-mnist', got 'cifar'"),
        ({"distortion": "XYZ"}, ValueError,
         "make_dataset: distortion: expected one of 'none', 'R', 'RTS', 'P', 'E', 'TC', got 'XYZ'"),
        ({"train_size": 0}, ValueError, "make_dataset: train_size: expected an int >= 1, got 0"),
        ({"test_size": 2.5}, ValueError, "make_dataset: test_size: expected an int >= 1, got 2.5"),
        ({"seed": -1}, ValueError, "make_dataset: seed: expected an int >= 0, got -1"),
        ({"train_size": 10**12}, ValueError,
         "make_dataset: train_size: expected images within the memory budget of 4.0 GiB "
         "(stn_np.validation.MEMORY_BUDGET), got shape (1000000000000, 28, 28) of uint8, 713.0 TiB"),
        ({"name": "digits", "data_dir": "/tmp"}, ValueError,
         "make_dataset: data_dir: expected None with name 'digits' (a folder is only read for 'mnist' or "
         "'fashion-mnist'), got '/tmp'"),
        ({"name": "mnist"}, ValueError,
         "make_dataset: data_dir: expected a folder with the four MNIST-layout files for name 'mnist', got None"),
        ({"name": "fashion-mnist", "data_dir": "/nonexistent/stn-np-data"}, FileNotFoundError,
         "make_dataset: data_dir: expected a folder of MNIST-layout files, got /nonexistent/stn-np-data "
         "(not a directory)"),
    ],
)
def test_make_dataset_errors_name_the_option(kwargs, error, message, monkeypatch):
    monkeypatch.setattr("stn_np.validation.MEMORY_BUDGET", 4 * 2**30)
    with pytest.raises(error) as caught:
        make_dataset(**{"train_size": 10, "test_size": 10, **kwargs})
    assert str(caught.value) == message


def test_asking_for_more_than_the_files_hold(tmp_path, rng):
    write_mnist_layout(tmp_path, 5, 3, rng)
    with pytest.raises(ValueError) as caught:
        make_dataset("mnist", data_dir=tmp_path, train_size=6)
    assert str(caught.value) == f"make_dataset: train_size: expected at most the 5 images of the train split in {tmp_path}, got 6"
    with pytest.raises(ValueError) as caught:
        make_dataset("mnist", data_dir=tmp_path, test_size=4)
    assert str(caught.value) == f"make_dataset: test_size: expected at most the 3 images of the test split in {tmp_path}, got 4"


def test_an_empty_split_is_refused(tmp_path, rng):
    """An empty training split used to "train" and report an accuracy (issue 11, item 6)."""
    write_mnist_layout(tmp_path, 0, 3, rng)
    with pytest.raises(ValueError) as caught:
        make_dataset("mnist", data_dir=tmp_path)
    assert str(caught.value) == f"make_dataset: data_dir: expected at least one sample in the train split, got an " \
                                f"empty train split in {tmp_path}"
    write_mnist_layout(tmp_path, 4, 0, rng)
    with pytest.raises(ValueError, match="expected at least one sample in the test split, got an empty test split"):
        make_dataset("mnist", data_dir=tmp_path)


def test_labels_out_of_range_are_refused_naming_the_file(tmp_path, rng):
    """A label of 200 used to give "test accuracy 0.00%" (issue 11, item 4)."""
    write_mnist_layout(tmp_path, 5, 3, rng)
    save_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 200, 12], np.uint8))
    with pytest.raises(ValueError) as caught:
        make_dataset("mnist", data_dir=tmp_path)
    assert str(caught.value) == (f"make_dataset: data_dir: expected labels in [0, 10), got label 200 at index 1 of "
                                 f"{tmp_path / 't10k-labels-idx1-ubyte.gz'} (2 out of range)")


def test_files_of_another_size_work_without_a_distortion(tmp_path, rng):
    """Non-28x28 MNIST-layout files (here 20 x 24) are read as they are with distortion 'none' (issue 11, item 9)."""
    save_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (6, 20, 24), dtype=np.uint8))
    save_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(6, dtype=np.uint8))
    save_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (2, 20, 24), dtype=np.uint8))
    save_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(2, dtype=np.uint8))
    splits = make_dataset("mnist", data_dir=tmp_path)
    assert splits.train_images.shape == (6, 20, 24) and splits.test_images.shape == (2, 20, 24)
    with pytest.raises(ValueError) as caught:
        make_dataset("mnist", data_dir=tmp_path, distortion="R")
    assert str(caught.value) == ("make_dataset: distortion: expected 'none' for images other than 28 x 28 (the paper's "
                                 f"distortions are defined on 28 x 28 digits), got 'R' with {tmp_path}'s 20 x 24 images")
