"""A reader's own Kernel is a real extension point: passed as ``mode=`` it runs through the fast
sparse sampler (its general ``taps``), agrees with the built-in kernel it re-implements in values
and both gradients (at kinks too), and gradchecks."""

import itertools

import numpy as np
import pytest

import stn_np
from stn_np import Tensor
from stn_np.functional import Kernel, grid_sample, reference_sample, sample_points, sampling_matrix
from stn_np.sampling import BICUBIC, pixel_to_normalized

# Bilinear written as a user would: k and its right derivative as plain functions; no closed-form taps.
MY_BILINEAR = Kernel(
    "my bilinear", radius=1,
    k=lambda d: np.maximum(1 - np.abs(d), 0),
    dk=lambda d: np.where((d >= -1) & (d < 0), 1.0, np.where((d >= 0) & (d < 1), -1.0, 0.0)).astype(d.dtype),
)

CASES = list(itertools.product(("zeros", "border", "reflection"), (False, True)))


def _sample_and_grads(mode, U, grid, padding, align, G):
    U, grid = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)
    V = grid_sample(U, grid, mode, padding, align)
    V.backward(G)
    return V.data, U.grad, grid.grad


def _on_kinks(H, W, align):
    """Every integer and half-integer pixel position from -2 to n + 1, as one (1, h, w, 2) grid."""
    xs = pixel_to_normalized(np.arange(-2, W + 1.5, 0.5), W, align)
    ys = pixel_to_normalized(np.arange(-2, H + 1.5, 0.5), H, align)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx, gy], axis=-1)[None]


@pytest.mark.parametrize("padding, align", CASES)
@pytest.mark.parametrize("where", ["random", "kinks"])
def test_a_user_kernel_equals_the_builtin_bilinear_in_values_and_both_gradients(padding, align, where, rng):
    N, C, H, W = 1, 2, 4, 5
    U = rng.standard_normal((N, C, H, W))
    grid = sample_points(rng, N, H, W, 3, 4, "bilinear", align) if where == "random" else _on_kinks(H, W, align)
    G = rng.standard_normal((N, C) + grid.shape[1:3])
    ours = _sample_and_grads(MY_BILINEAR, U, grid, padding, align, G)
    builtin = _sample_and_grads("bilinear", U, grid, padding, align, G)
    for a, b in zip(ours, builtin):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding, align", CASES)
def test_a_user_kernel_gradchecks_through_the_fast_sampler(padding, align, rng):
    U = rng.standard_normal((2, 1, 3, 4))
    grid = sample_points(rng, 2, 3, 4, 2, 3, "bilinear", align)
    assert stn_np.gradcheck(lambda u, g: grid_sample(u, g, MY_BILINEAR, padding, align), (U, grid))


def test_a_user_kernel_builds_the_same_sparse_operator_and_reference_sum(rng):
    grid = sample_points(rng, 1, 4, 5, 3, 3, "bilinear", False)
    np.testing.assert_allclose(sampling_matrix(grid, (4, 5), MY_BILINEAR).toarray(),
                               sampling_matrix(grid, (4, 5), "bilinear").toarray(), atol=1e-15)
    U = rng.standard_normal((1, 1, 4, 5))
    np.testing.assert_allclose(reference_sample(U, grid, MY_BILINEAR).data, grid_sample(U, grid).data, atol=1e-13)


def test_a_wider_user_kernel_matches_its_literal_sum(rng):
    # Keys' cubic through the general taps (a plain Kernel of BICUBIC's k and k') against the built-in
    cubic = Kernel("my cubic", BICUBIC.k, BICUBIC.dk, radius=2)
    U = rng.standard_normal((1, 2, 5, 6))
    grid = sample_points(rng, 1, 5, 6, 3, 4, "bicubic", True)
    G = rng.standard_normal((1, 2, 3, 4))
    for a, b in zip(_sample_and_grads(cubic, U, grid, "border", True, G),
                    _sample_and_grads("bicubic", U, grid, "border", True, G)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
