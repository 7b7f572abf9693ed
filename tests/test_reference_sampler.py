"""The kernels and the literal sampler V = sum_n sum_m U_nm k(x - m) k(y - n), and the fast
sampler against it in values and both gradients."""

import itertools
import math

import numpy as np
import pytest

import stn_np
from stn_np import Tensor
from stn_np.checks.sampling import WIDE_TRIANGLE, sample_points
from stn_np.sampling import BICUBIC, BILINEAR, INTEGER, Kernel, grid_sample, reference_sample
from stn_np.sampling.coords import normalized_to_pixel
from stn_np.sampling.kernels import KERNELS

ALL = list(itertools.product(("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"), (False, True)))


def ids(combos):
    return ["-".join(str(x) for x in c) for c in combos]


# ---------------------------------------------------------------- kernels
def test_bilinear_kernel_and_its_derivative():
    d = np.array([-1.5, -1.0, -0.25, 0.0, 0.5, 0.999, 1.0, 2.0])
    np.testing.assert_allclose(BILINEAR.k(d), [0, 0, 0.75, 1, 0.5, 0.001, 0, 0], atol=1e-15)
    # -sign(d) inside, with the derivative from the right at the kinks -1, 0 and 1
    np.testing.assert_array_equal(BILINEAR.dk(d), [0, 1, 1, -1, -1, -1, 0, 0])


def test_integer_kernel_is_the_nearest_pixel_indicator():
    d = np.array([-0.75, -0.5, -0.2, 0.0, 0.49, 0.5, 0.9])
    np.testing.assert_array_equal(INTEGER.k(d), [0, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(INTEGER.dk(d), 0)
    assert not INTEGER.has_position_gradient and BILINEAR.has_position_gradient


def test_bicubic_kernel_values_by_hand():
    A = -0.75
    d = np.array([0.0, 0.5, -1.0, 1.5, -2.0, 2.5])
    expected = [1.0, (A + 2) / 8 - (A + 3) / 4 + 1, 0.0, A * (3.375 - 11.25 + 12 - 4), 0.0, 0.0]
    np.testing.assert_allclose(BICUBIC.k(d), expected, atol=1e-15)
    assert BICUBIC.A == -0.75


@pytest.mark.parametrize("kernel", [BILINEAR, BICUBIC, WIDE_TRIANGLE], ids=lambda k: k.name)
def test_derivative_matches_finite_differences_off_the_kinks(kernel, rng):
    d = rng.integers(-3, 3, 200) + rng.uniform(0.05, 0.95, 200)
    eps = 1e-6
    numerical = (kernel.k(d + eps) - kernel.k(d - eps)) / (2 * eps)
    np.testing.assert_allclose(kernel.dk(d), numerical, atol=1e-8)


@pytest.mark.parametrize("kernel", [BILINEAR, INTEGER, BICUBIC, WIDE_TRIANGLE], ids=lambda k: k.name)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_taps_are_k_and_dk_at_the_taps(kernel, dtype, rng):
    x = (rng.integers(-5, 9, 300) + rng.uniform(0.0, 1.0, 300)).astype(dtype)
    x[:4] = [0.0, -2.0, 3.0, 0.5]  # on integers and on a half-pixel too
    first, w, dw = kernel.taps(x)
    assert w.shape == dw.shape == (kernel.ntaps, 300) and w.dtype == dw.dtype == dtype
    d = x.astype(np.float64) - (first.astype(np.float64) + np.arange(kernel.ntaps)[:, None])
    np.testing.assert_allclose(w, kernel.k(d), atol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_allclose(dw, kernel.dk(d), atol=1e-5 if dtype == np.float32 else 1e-13)
    # every tap with a non-zero weight is among the taps
    m = np.arange(-10, 15)
    outside = (m[:, None] < first) | (m[:, None] >= first + kernel.ntaps)
    assert np.all(kernel.k(x.astype(np.float64) - m[:, None])[outside] == 0)


@pytest.mark.parametrize("kernel", [BILINEAR, INTEGER, BICUBIC], ids=lambda k: k.name)
def test_built_in_kernels_are_partitions_of_unity(kernel, rng):
    # sum_m k(x - m) = 1 for every x: a constant image samples to itself, also via border padding
    _, w, dw = kernel.taps(rng.uniform(-5, 5, 500))
    np.testing.assert_allclose(w.sum(axis=0), 1, atol=1e-14)
    np.testing.assert_allclose(dw.sum(axis=0), 0, atol=1e-14)


def test_kernel_rejects_a_bad_radius():
    with pytest.raises(ValueError, match=r"Kernel: radius: expected a finite number in \(0, 64\], got 0.0"):
        Kernel("bad", np.abs, np.sign, radius=0)
    with pytest.raises(TypeError, match="Kernel: radius: expected a finite number"):
        Kernel("bad", np.abs, np.sign, radius="1")


# ---------------------------------------------------------------- the literal formula, by loops
def literal_by_loops(U, grid, kernel, padding, align):
    """V_i^c = sum over integer (n, m) near the point of U_pad(n, m) k(x - m) k(y - n), in plain Python."""
    N, C, H, W = U.shape

    def u_pad(img, n, m):
        if padding == "zeros":
            return img[:, n, m] if 0 <= n < H and 0 <= m < W else np.zeros(C)
        if padding == "border":
            return img[:, min(max(n, 0), H - 1), min(max(m, 0), W - 1)]
        return img[:, mirror(n, H), mirror(m, W)]

    def mirror(m, size):  # walk back and forth until inside
        low, high = (0, size - 1) if align else (-0.5, size - 0.5)
        if size == 1:
            return 0
        while m < low or m > high:
            m = 2 * low - m if m < low else 2 * high - m
        return int(m)

    out = np.zeros((N, C) + grid.shape[1:3])
    reach = math.ceil(kernel.radius) + 1
    for b, i, j in itertools.product(range(N), range(grid.shape[1]), range(grid.shape[2])):
        x = float(normalized_to_pixel(grid[b, i, j, 0], W, align))
        y = float(normalized_to_pixel(grid[b, i, j, 1], H, align))
        for n in range(math.floor(y) - reach, math.floor(y) + reach + 1):
            for m in range(math.floor(x) - reach, math.floor(x) + reach + 1):
                weight = kernel.k(np.array(x - m)) * kernel.k(np.array(y - n))
                out[b, :, i, j] += u_pad(U[b], n, m) * weight
    return out


@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
def test_reference_is_the_double_sum(mode, padding, align, rng):
    U = rng.standard_normal((1, 2, 3, 4))
    grid = sample_points(rng, 1, 3, 4, 2, 3, mode, align, margin=6)
    V = reference_sample(U, grid, KERNELS[mode], padding, align).data
    np.testing.assert_allclose(V, literal_by_loops(U, grid, KERNELS[mode], padding, align), atol=1e-13)


def test_custom_kernel_through_the_reference(rng):
    U = rng.standard_normal((1, 1, 4, 5))
    grid = sample_points(rng, 1, 4, 5, 2, 2, "bilinear", False)
    V = reference_sample(U, grid, WIDE_TRIANGLE, "reflection", False).data
    np.testing.assert_allclose(V, literal_by_loops(U, grid, WIDE_TRIANGLE, "reflection", False), atol=1e-13)
    assert stn_np.gradcheck(lambda u, g: reference_sample(u, g, WIDE_TRIANGLE, "zeros", True), (U, grid))


# ---------------------------------------------------------------- fast == literal
@pytest.mark.parametrize("mode, padding, align", ALL, ids=ids(ALL))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_sampler_equals_the_reference(mode, padding, align, dtype, rng):
    N, C, H, W = 2, 3, 5, 4
    U = rng.standard_normal((N, C, H, W)).astype(dtype)
    grid = sample_points(rng, N, H, W, 3, 6, mode, align, margin=9).astype(dtype)
    G = rng.standard_normal((N, C, 3, 6)).astype(dtype)
    samplers = (
        lambda u, g: grid_sample(u, g, mode, padding, align),
        lambda u, g: reference_sample(u, g, KERNELS[mode], padding, align),
    )
    results = []
    for sampler in samplers:
        Ut, gt = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)
        out = sampler(Ut, gt)
        out.backward(G)
        assert out.dtype == Ut.grad.dtype == gt.grad.dtype == dtype
        results.append((out.data, Ut.grad, gt.grad))
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for fast, literal, what in zip(results[0], results[1], ("output", "input gradient", "grid gradient")):
        np.testing.assert_allclose(fast, literal, **tol, err_msg=what)


# ---------------------------------------------------------------- validation
def test_reference_validates_its_arguments():
    U, grid = np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 2))
    with pytest.raises(ValueError, match="reference_sample: mode: expected one of .* or a Kernel, got 3"):
        reference_sample(U, grid, 3)
    with pytest.raises(ValueError, match="reference_sample: grid: expected finite coordinates"):
        reference_sample(U, np.full((1, 1, 1, 2), np.nan), BILINEAR)
    with pytest.raises(ValueError, match="reference_sample: grid: expected shape"):
        reference_sample(U, np.zeros((1, 1, 2)), BILINEAR)
    with pytest.raises(ValueError, match="reference_sample: padding_mode: expected one of"):
        reference_sample(U, grid, BILINEAR, padding_mode="wrap")
