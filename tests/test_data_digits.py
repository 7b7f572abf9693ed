"""The embedded synthetic digits: format, balance, determinism, layout and honest difficulty."""

import numpy as np
import pytest

from stn_np.data import digit_params, glyph_bank, synthetic_digits
from stn_np.data.digits import CHUNK, JITTER, STROKE_WEIGHTS


@pytest.fixture(scope="module")
def train():
    return synthetic_digits(2000, seed=0)


@pytest.fixture(scope="module")
def test_set():
    return synthetic_digits(1000, seed=1)


def test_shape_dtype_and_exact_balance(train):
    images, labels = train
    assert images.shape == (2000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (2000,) and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, 200))
    # every block of 10 consecutive samples holds each digit once
    assert np.all(np.sort(labels.reshape(-1, 10), axis=1) == np.arange(10))


def test_balance_within_one_for_any_n():
    _, labels = synthetic_digits(37, seed=5)
    counts = np.bincount(labels, minlength=10)
    assert counts.min() >= 3 and counts.max() <= 4


def test_deterministic_prefix_consistent_and_seed_dependent(train):
    images, labels = train
    again, again_labels = synthetic_digits(CHUNK + 7, seed=0)  # crosses a chunk boundary
    np.testing.assert_array_equal(again, images[: CHUNK + 7])
    np.testing.assert_array_equal(again_labels, labels[: CHUNK + 7])
    other, other_labels = synthetic_digits(50, seed=2)
    assert not np.array_equal(other_labels, labels[:50])
    assert np.mean(other != images[:50]) > 0.05


def test_empty_and_bad_arguments():
    images, labels = synthetic_digits(0)
    assert images.shape == (0, 28, 28) and labels.shape == (0,)
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="n:"):
            synthetic_digits(bad)
    with pytest.raises(ValueError, match="seed:"):
        synthetic_digits(3, seed=-1)


def test_layout_is_mnist_like(train):
    images = train[0].astype(np.float64)
    # black background: the frame's outer two pixels carry almost no ink
    border = images.copy()
    border[:, 2:-2, 2:-2] = 0
    assert border.sum() < 2e-3 * images.sum()
    assert np.mean(border.max(axis=(1, 2)) > 64) < 0.05
    # centre of mass within ~1.5 pixels of the centre (14, 14) in continuous pixel units
    mass = images.sum(axis=(1, 2))
    centre = np.arange(28) + 0.5
    cx = images.sum(axis=1) @ centre / mass
    cy = images.sum(axis=2) @ centre / mass
    assert np.all(np.abs(cx - 14) < 1.8) and np.all(np.abs(cy - 14) < 1.8)
    # the digit's larger side (ink above a third of the peak) spans roughly 12..24 pixels
    ink = images > images.max(axis=(1, 2), keepdims=True) / 3
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    span = lambda m: m.shape[1] - np.argmax(m[:, ::-1], axis=1) - np.argmax(m, axis=1)  # noqa: E731
    extent = np.maximum(span(rows), span(cols))
    assert 12 <= extent.min() and extent.max() <= 24
    assert 16 <= np.median(extent) <= 21
    # peak intensity between 70 % and 100 % of white, the noise aside
    peak = images.max(axis=(1, 2))
    assert peak.min() >= 0.6 * 255 and np.median(peak) > 0.8 * 255


def test_parameters_cover_their_ranges():
    params = digit_params(3000, seed=4)
    for key in ("size", "rotation", "shear", "log_aspect", "blur", "ink"):
        lo, hi = JITTER[key]
        values = params[key]
        assert lo <= values.min() and values.max() <= hi
        assert values.min() < lo + 0.05 * (hi - lo) and values.max() > hi - 0.05 * (hi - lo)
    bank = glyph_bank()
    assert set(np.unique(params["font"])) == set(range(len(bank.fonts)))
    assert set(np.unique(params["weight"])) == set(range(len(STROKE_WEIGHTS)))
    np.testing.assert_array_equal(params["label"], synthetic_digits(3000, seed=4)[1])


def test_glyph_bank_has_many_fonts_with_ink_and_weights_that_order_the_ink():
    bank = glyph_bank()
    f, d, w, s, _ = bank.images.shape
    assert f >= 15 and d == 10 and w == len(STROKE_WEIGHTS)
    ink = bank.images.sum(axis=(3, 4))
    assert np.all(ink > 20)
    # thicker outline strokes mean more ink, for every font and digit
    assert np.all(np.diff(ink, axis=2) > 0)
    assert not bank.images.flags.writeable


def nearest_centroid_accuracy(train, test):
    (x, y), (xt, yt) = train, test
    x = x.reshape(len(x), -1).astype(np.float64)
    xt = xt.reshape(len(xt), -1).astype(np.float64)
    centroids = np.stack([x[y == k].mean(axis=0) for k in range(10)])
    d = (xt**2).sum(1)[:, None] - 2 * xt @ centroids.T + (centroids**2).sum(1)[None]
    return np.mean(d.argmin(axis=1) == yt)


def test_learnable_but_not_trivial(train, test_set):
    # On MNIST a nearest-centroid classifier scores about 82 %: the digits should be in the
    # same regime, far above chance (10 %) and far from solved.
    accuracy = nearest_centroid_accuracy(train, test_set)
    assert 0.6 < accuracy < 0.95, accuracy
    # and no two images are identical: the jitter really varies every sample
    flat = train[0].reshape(len(train[0]), -1)
    assert len(np.unique(flat, axis=0)) == len(flat)
