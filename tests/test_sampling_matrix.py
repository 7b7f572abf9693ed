"""The sparse sampling operator S (vec(V) = S vec(U)), the adjoint, and the framed image the
fast sampler reads."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from stn_np import Tensor
from stn_np.checks.sampling import sample_points
from stn_np.sampling import grid_sample, identity_grid, sampling_matrix
from stn_np.sampling.matrix import framing_matrix
from stn_np.sampling.padding import frame_image, pad_index, unframe_gradient

ALL = list(itertools.product(("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"), (False, True)))
TAPS = {"bilinear": 4, "nearest": 1, "bicubic": 16}
NUMPY_PAD = {("zeros", False): "constant", ("zeros", True): "constant", ("border", False): "edge",
             ("border", True): "edge", ("reflection", False): "symmetric", ("reflection", True): "reflect"}


def ids(combos):
    return ["-".join(str(x) for x in c) for c in combos]


@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_matrix_reproduces_grid_sample_channel_by_channel(mode, padding, align, rng):
    N, C, H, W = 2, 3, 4, 5
    U = rng.standard_normal((N, C, H, W))
    grid = rng.uniform(-1.7, 1.7, (N, 3, 6, 2))
    S = sampling_matrix(grid, (N, C, H, W), mode, padding, align)
    assert isinstance(S, sp.csr_array) and S.shape == (N * 18, N * H * W) and S.dtype == np.float64
    assert S.has_canonical_format
    assert np.diff(S.indptr).max() <= TAPS[mode]
    V = grid_sample(U, grid, mode, padding, align).data
    for c in range(C):
        np.testing.assert_allclose(S @ U[:, c].reshape(-1), V[:, c].reshape(-1), rtol=1e-12, atol=1e-12)
    # block-diagonal over the batch: image n's rows read only image n's pixels
    dense = S.toarray().reshape(N, 18, N, H * W)
    assert np.all(dense[0, :, 1] == 0) and np.all(dense[1, :, 0] == 0)


@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_transpose_is_the_input_gradient_and_the_adjoint(mode, padding, align, rng):
    N, C, H, W = 2, 2, 3, 5
    grid = sample_points(rng, N, H, W, 4, 3, mode, align)
    S = sampling_matrix(grid, (H, W), mode, padding, align)
    u = rng.standard_normal(N * H * W)
    v = rng.standard_normal(N * 12)
    lhs, rhs = np.dot(S @ u, v), np.dot(u, S.T @ v)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))
    G = rng.standard_normal((N, C, 4, 3))
    Ut = Tensor(rng.standard_normal((N, C, H, W)), requires_grad=True)
    grid_sample(Ut, grid, mode, padding, align).backward(G)
    for c in range(C):
        np.testing.assert_allclose(Ut.grad[:, c].reshape(-1), S.T @ G[:, c].reshape(-1), rtol=1e-12, atol=1e-12)


def test_identity_grid_gives_the_identity_matrix():
    for mode, align in itertools.product(("bilinear", "nearest", "bicubic"), (False, True)):
        S = sampling_matrix(np.repeat(identity_grid(3, 4, align)[None], 2, axis=0), (2, 1, 3, 4), mode, "zeros", align)
        np.testing.assert_allclose(S.toarray(), np.eye(24), atol=1e-13)


def test_float32_grid_gives_a_float32_matrix():
    grid = np.zeros((1, 2, 2, 2), dtype=np.float32)
    assert sampling_matrix(grid, (3, 3)).dtype == np.float32


def test_nan_points_have_empty_rows():
    grid = np.array([[[[np.nan, 0.0], [0.0, 0.0]]]])
    S = sampling_matrix(grid, (2, 2))
    assert np.diff(S.indptr).tolist() == [0, 4]


@pytest.mark.parametrize("bad", [(3,), (1, 2, 3), (2, 1, 3, 3), (0, 3), (2.0, 3), "HW"])
def test_input_size_is_validated(bad):
    with pytest.raises(ValueError, match=r"sampling_matrix: input_size: expected \(H, W\) or \(N, C, H, W\)"):
        sampling_matrix(np.zeros((1, 2, 2, 2)), bad)


def test_mode_is_validated():
    with pytest.raises(ValueError, match="sampling_matrix: mode: expected one of"):
        sampling_matrix(np.zeros((1, 2, 2, 2)), (2, 2), mode="area")


# ---------------------------------------------------------------- padding and the framed image
@pytest.mark.parametrize("padding, align", list(itertools.product(("zeros", "border", "reflection"), (False, True))))
@pytest.mark.parametrize("size", [1, 2, 5])
def test_pad_index_matches_numpy_pad(padding, align, size):
    m = np.arange(-13, size + 13)
    index, inside = pad_index(m, size, padding, align)
    expected = np.pad(np.arange(size) + 1.0, 13, mode=NUMPY_PAD[padding, align])  # 0 marks zeros padding
    got = index + 1.0 if inside is None else np.where(inside, index + 1.0, 0.0)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("padding, align", list(itertools.product(("zeros", "border", "reflection"), (False, True))))
@pytest.mark.parametrize("frame", [0, 1, 3, 5])
@pytest.mark.parametrize("H, W", [(1, 1), (2, 5), (4, 3)])
def test_frame_image_is_numpy_pad_and_unframe_is_its_adjoint(padding, align, frame, H, W, rng):
    N, C = 2, 3
    U = rng.standard_normal((N, C, H, W))
    X = frame_image(U, frame, padding, align)
    assert X.shape == (N * (H + 2 * frame) * (W + 2 * frame) + 1, C) and np.all(X[-1] == 0)
    padded = np.pad(U, ((0, 0), (0, 0), (frame, frame), (frame, frame)), mode=NUMPY_PAD[padding, align])
    np.testing.assert_array_equal(X[:-1].reshape(N, H + 2 * frame, W + 2 * frame, C), padded.transpose(0, 2, 3, 1))
    gX = rng.standard_normal(X.shape)
    gU = unframe_gradient(gX.copy(), U.shape, frame, padding, align)
    assert gU.shape == U.shape
    assert abs(np.vdot(X, gX) - np.vdot(U, gU)) <= 1e-11 * max(1.0, abs(np.vdot(X, gX)))
    # and as a matrix: vec(framed) = R vec(U) for one channel
    R = framing_matrix(N, (H, W), frame, padding, align, np.float64)
    np.testing.assert_array_equal(R @ U[:, 0].reshape(-1), X[:, 0])
