"""The fast sampler's two paths and its fallbacks give the same samples and gradients.

``GridSampleFunction`` gathers the taps channel by channel for few channels
(``GATHER_CHANNELS``) and multiplies all channels by the sparse operator for many; both read
the same :class:`~stn_np.sampling.matrix.SamplingOperator` (one base row per point plus one
offset per tap, dead points starting in a zero sink as long as a block of taps). Here both
paths, and the public-SciPy fallback of the compiled products, meet the hard points on
purpose: whole and half pixels, the image's edges, far outside, NaN and inf positions,
non-finite image values, empty shapes; float32 and float64; images and volumes; every kernel,
padding and subgradient convention. The literal double sum (``reference_sample``) is the
anchor in float64.
"""

import itertools
import sys

import numpy as np
import pytest

import stn_np.sampling.grid_sample  # noqa: F401  (the module, not the function of that name)
import stn_np.sampling.matrix  # noqa: F401
import stn_np.sampling.padding  # noqa: F401
from stn_np import Tensor
from stn_np.sampling import grid_sample, pixel_to_normalized, reference_sample

GRID_SAMPLE = sys.modules["stn_np.sampling.grid_sample"]
MATRIX = sys.modules["stn_np.sampling.matrix"]
PADDINGS = ("zeros", "border", "reflection")
CASES_2D = list(itertools.product(("bilinear", "nearest", "bicubic"), PADDINGS, (False, True)))
CASES_3D = list(itertools.product(("bilinear", "nearest"), PADDINGS, (False, True)))


def hard_pixels(size, count, rng):
    """Pixel positions along an axis of ``size``: whole and half pixels, edges, outside, then random ones."""
    special = [0.0, 1.0, size - 1.0, 0.5, -0.5, size - 0.5, -1.0, float(size), -1.5, size + 0.5, -7.0, size + 6.0]
    special += list(np.arange(size, dtype=float)) + list(np.arange(size, dtype=float) + 0.5)
    return np.concatenate([special, rng.uniform(-2, size + 1, count)])[:count]


def hard_grid(N, out, spatial, align, dtype, rng, dead=True):
    """A grid of shape (N,) + out + (d,) whose coordinates sit on the hard positions (shuffled per axis).

    Axis ``x`` of the grid runs along the last spatial side; with ``dead``, a few points are
    NaN (on one coordinate or all) and a few infinite.
    """
    d = len(spatial)
    P = N * int(np.prod(out))
    columns = []
    for axis in range(d):  # grid coordinate ``axis`` reads spatial side d - 1 - axis
        size = spatial[d - 1 - axis]
        columns.append(pixel_to_normalized(rng.permutation(hard_pixels(size, P, rng)), size, align))
    grid = np.stack(columns, -1).reshape((N,) + tuple(out) + (d,))
    if dead and P >= 6:
        flat = grid.reshape(P, d)
        flat[1, 0] = np.nan
        flat[3] = np.nan
        flat[4, -1] = np.inf
        flat[5, 0] = -np.inf
    return grid.astype(dtype)


def run(U, grid, mode, padding, align, subgradient, upstream):
    Ut, gt = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)
    out = grid_sample(Ut, gt, mode, padding, align, subgradient=subgradient)
    out.backward(upstream)
    return out.data, Ut.grad, gt.grad


def both_paths(monkeypatch, *args):
    """(gathered, sparse) results of :func:`run`: the same call with the gather path on and off."""
    monkeypatch.setattr(GRID_SAMPLE, "GATHER_CHANNELS", 1000)
    gathered = run(*args)
    monkeypatch.setattr(GRID_SAMPLE, "GATHER_CHANNELS", -1)
    sparse = run(*args)
    monkeypatch.undo()
    return gathered, sparse


def assert_same(a, b, dtype, what):
    """Samples agree bit for bit (both add a point's taps in the same order); gradients to rounding."""
    tol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_array_equal(a[0], b[0], err_msg=f"{what}: samples")
    for x, y, name in zip(a[1:], b[1:], ("image", "grid")):
        scale = max(1.0, float(np.max(np.abs(y), initial=0)))
        np.testing.assert_allclose(x, y, rtol=0, atol=tol * scale, err_msg=f"{what}: {name} gradient")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("subgradient", ["pytorch", "central"])
@pytest.mark.parametrize("mode, padding, align", CASES_2D, ids=["-".join(map(str, c)) for c in CASES_2D])
def test_gather_and_sparse_paths_agree_on_images(mode, padding, align, subgradient, dtype, monkeypatch, rng):
    N, C, spatial, out = 2, 3, (4, 5), (3, 7)
    U = rng.standard_normal((N, C) + spatial).astype(dtype)
    grid = hard_grid(N, out, spatial, align, dtype, rng)
    upstream = rng.standard_normal((N, C) + out).astype(dtype)
    gathered, sparse = both_paths(monkeypatch, U, grid, mode, padding, align, subgradient, upstream)
    assert all(x.dtype == dtype for x in gathered + sparse)
    assert_same(gathered, sparse, dtype, f"{mode} {padding} {align}")
    assert np.isfinite(gathered[2]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode, padding, align", CASES_3D, ids=["-".join(map(str, c)) for c in CASES_3D])
def test_gather_and_sparse_paths_agree_on_volumes(mode, padding, align, dtype, monkeypatch, rng):
    N, C, spatial, out = 2, 2, (3, 4, 2), (2, 3, 3)
    U = rng.standard_normal((N, C) + spatial).astype(dtype)
    grid = hard_grid(N, out, spatial, align, dtype, rng)
    upstream = rng.standard_normal((N, C) + out).astype(dtype)
    for subgradient in ("pytorch", "central"):
        gathered, sparse = both_paths(monkeypatch, U, grid, mode, padding, align, subgradient, upstream)
        assert_same(gathered, sparse, dtype, f"{mode} {padding} {align} {subgradient}")


LITERAL = [(False,) + c for c in CASES_2D] + [(True,) + c for c in CASES_3D]


@pytest.mark.parametrize("volume, mode, padding, align", LITERAL, ids=["-".join(map(str, c)) for c in LITERAL])
def test_both_paths_match_the_literal_sum_at_hard_points(volume, mode, padding, align, monkeypatch, rng):
    spatial, out = ((3, 4, 2), (2, 2, 3)) if volume else ((4, 5), (3, 7))
    U = rng.standard_normal((2, 2) + spatial)
    grid = hard_grid(2, out, spatial, align, np.float64, rng, dead=False)  # the literal sum takes finite points
    upstream = rng.standard_normal((2, 2) + out)
    for subgradient in ("pytorch", "central"):
        Ut, gt = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)
        literal = reference_sample(Ut, gt, mode, padding, align, subgradient=subgradient)
        literal.backward(upstream)
        expected = (literal.data, Ut.grad, gt.grad)
        for result in both_paths(monkeypatch, U, grid, mode, padding, align, subgradient, upstream):
            for x, y, name in zip(result, expected, ("sample", "image gradient", "grid gradient")):
                np.testing.assert_allclose(x, y, rtol=0, atol=1e-12, err_msg=f"{subgradient}: {name}")


@pytest.mark.parametrize("channels", [1, 3, 8])
def test_dead_points_read_zeros_beside_non_finite_pixels(channels, monkeypatch, rng):
    # every tap of a NaN point reads the zero sink: an inf or NaN in the image must not reach it
    U = rng.standard_normal((2, channels, 4, 5))
    U[:, :, 0, 0] = np.inf
    U[:, :, 3, 4] = np.nan
    grid = hard_grid(2, (3, 7), (4, 5), False, np.float64, rng)
    dead = np.isnan(grid).any(-1)
    upstream = rng.standard_normal((2, channels, 3, 7))
    for mode in ("bilinear", "nearest", "bicubic"):
        for V, gU, gg in both_paths(monkeypatch, U, grid, mode, "zeros", False, "pytorch", upstream):
            assert np.all(V.transpose(0, 2, 3, 1)[dead] == 0)
            assert np.all(gg[dead] == 0)


@pytest.mark.parametrize("U_shape, grid_shape", [((0, 3, 4, 5), (0, 2, 3, 2)), ((2, 0, 4, 5), (2, 2, 3, 2)),
                                                 ((2, 3, 4, 5), (2, 0, 3, 2)), ((2, 3, 2, 3, 4), (2, 0, 1, 2, 3)),
                                                 ((0, 2, 2, 3, 4), (0, 1, 1, 2, 3))], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_both_paths_take_empty_shapes(U_shape, grid_shape, dtype, monkeypatch, rng):
    U = rng.standard_normal(U_shape).astype(dtype)
    grid = rng.uniform(-1.2, 1.2, grid_shape).astype(dtype)
    upstream = np.ones(U_shape[:2] + grid_shape[1:-1], dtype=dtype)
    for V, gU, gg in both_paths(monkeypatch, U, grid, "bilinear", "border", False, "pytorch", upstream):
        assert V.shape == upstream.shape and gU.shape == U_shape and gg.shape == grid_shape
        assert V.dtype == gU.dtype == gg.dtype == dtype
        assert not gU.any() and not gg.any()


@pytest.mark.parametrize("channels", [2, 9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_public_scipy_fallback_gives_the_same_numbers(channels, dtype, monkeypatch, rng):
    # The compiled SciPy kernels are private API: without them the public products must agree.
    U = rng.standard_normal((2, channels, 4, 5)).astype(dtype)
    grid = hard_grid(2, (3, 7), (4, 5), True, dtype, rng)
    upstream = rng.standard_normal((2, channels, 3, 7)).astype(dtype)
    for mode, padding in (("bilinear", "reflection"), ("bicubic", "zeros")):
        compiled = run(U, grid, mode, padding, True, "pytorch", upstream)
        monkeypatch.setattr(MATRIX, "_sparsetools", None)
        public = run(U, grid, mode, padding, True, "pytorch", upstream)
        monkeypatch.undo()
        assert_same(compiled, public, dtype, f"{mode} {padding}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("volume", [False, True])
def test_blocks_of_points_change_no_number(volume, dtype, monkeypatch, rng):
    # the pointwise tap loops run over blocks of points (matrix.BLOCK); blocks of 7 points,
    # the last one short, must give the very numbers of one block for everything
    spatial, out = ((3, 4, 2), (2, 3, 3)) if volume else ((4, 5), (3, 7))
    for channels in (1, 3):
        U = rng.standard_normal((2, channels) + spatial).astype(dtype)
        grid = hard_grid(2, out, spatial, False, dtype, rng)
        upstream = rng.standard_normal((2, channels) + out).astype(dtype)
        for mode in ("bilinear", "bicubic") if not volume else ("bilinear",):
            whole = run(U, grid, mode, "border", False, "pytorch", upstream)
            monkeypatch.setattr(MATRIX, "BLOCK", 7)
            blocked = run(U, grid, mode, "border", False, "pytorch", upstream)
            monkeypatch.undo()
            for x, y in zip(blocked, whole):
                np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_power_of_two_sizes_unnormalise_exactly_as_the_fused_formula(dtype, rng):
    # (a * S - 1) / 2 rounded once: a power-of-two S takes a * (S / 2) - 0.5 in a's dtype,
    # every other S the float64 detour (float32) or the error-free split (float64); on the
    # same values both must give the same bits (the stored PyTorch references check the rest)
    from stn_np.sampling.coords import _fused_unnormalize, _scaled_unnormalize

    info = np.finfo(dtype)
    one = dtype(1)
    hard = [0.0, 1.0, 2.0, 0.5, 1.5, np.nextafter(one, 0), np.nextafter(one, 2), np.nextafter(dtype(2), 0),
            info.tiny, info.tiny / 4, info.eps, -info.eps, 1e-30, -3.0, 7.25, 1e6 + 0.5, np.inf, -np.inf, np.nan]
    if dtype == np.float32:
        hard += [float(info.max), float(info.max) / 3, -float(info.max)]
    a = np.concatenate([np.array(hard, dtype=dtype), rng.uniform(-1, 3, 20000).astype(dtype),
                        (rng.integers(0, 2**20, 2000) / dtype(2**19)).astype(dtype)])  # dyadic: many ties
    for size in (2, 4, 8, 64, 256, 512, 1024, 2**20):
        with np.errstate(over="ignore", invalid="ignore"):
            fast = _scaled_unnormalize(a.copy(), size)
            general = _fused_unnormalize(a.copy(), size)
        assert fast.dtype == general.dtype == dtype
        np.testing.assert_array_equal(fast, general, err_msg=f"size {size}")
        assert _scaled_unnormalize(a[5], size) == general[5]  # a scalar alike


@pytest.mark.parametrize("shape", [(2, 5, 3), (3, 7, 4, 5), (2, 3, 2, 4, 6), (0, 4, 3), (2, 0, 3, 3), (2, 4, 0), (3, 6)],
                         ids=str)
def test_channels_first_is_moveaxis_in_blocks(shape, monkeypatch, rng):
    from stn_np.sampling.padding import channels_first

    padding = sys.modules["stn_np.sampling.padding"]
    big = rng.standard_normal(tuple(s + 2 for s in shape))
    A = big[tuple(slice(1, 1 + s) for s in shape)]  # a strided view, as unframe_gradient passes
    expected = np.ascontiguousarray(np.moveaxis(A, -1, 1))
    for block in (1, 3, 256):
        monkeypatch.setattr(padding, "TRANSPOSE_BLOCK", block)
        got = channels_first(A)
        assert got.flags.c_contiguous and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [2, 3])
def test_contract_taps_takes_an_antisymmetric_constant_factor_as_a_difference(d, dtype, rng):
    # bilinear's k' is (-s, s) at every point: contracted as M[.., 1, ..] - M[.., 0, ..] times s.
    # Against the literal product sum, for that factor on every axis, a constant factor that is
    # not antisymmetric (the general loop) and the point-varying factors around it
    P = 37
    M = rng.standard_normal((2,) * d + (P,)).astype(dtype)
    varying = [rng.standard_normal((2, P)).astype(dtype) for _ in range(d)]
    for constant in ([-2.5, 2.5], [-1.0, 3.0], [0.75, 0.75]):
        for axis in range(d):
            factors = list(varying)
            factors[axis] = np.broadcast_to(np.array(constant, dtype=dtype)[:, None], (2, P))
            expected = M.astype(np.float64)
            for factor in reversed(factors):  # one axis at a time, the fastest first
                expected = np.einsum("...jp,jp->...p", expected, factor.astype(np.float64))
            got = MATRIX.contract_taps(M, factors)
            assert got.dtype == dtype and got.shape == (P,)
            np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-13,
                                       atol=1e-5 if dtype == np.float32 else 1e-13)
    empty = [np.broadcast_to(np.array([-1.0, 1.0], dtype=dtype)[:, None], (2, 0))] * d  # no point: no difference
    assert MATRIX.contract_taps(np.zeros((2,) * d + (0,), dtype=dtype), empty).shape == (0,)


@pytest.mark.parametrize("channels", [1, 3])
def test_gather_forms_the_weights_of_the_operator(channels, monkeypatch, rng):
    # gather forms SamplingOperator.weight a block of points at a time; the same weights as the
    # operator forms on first use, bit for bit, with blocks of 5 points (the last one short)
    from stn_np.sampling.kernels import BILINEAR

    spatial = (4, 6)
    grid = hard_grid(2, (3, 7), spatial, False, np.float64, rng)
    U = rng.standard_normal((2, channels) + spatial)
    monkeypatch.setattr(MATRIX, "BLOCK", 5)
    for padding in PADDINGS:
        gathered = MATRIX.build_operator(grid, spatial, BILINEAR, padding, False, True)
        X = stn_np.sampling.padding.frame_image(U, gathered.frame, padding, False, channels_last=False,
                                                sink_rows=gathered.sink_rows)
        _, V = gathered.gather(X)
        fresh = MATRIX.build_operator(grid, spatial, BILINEAR, padding, False, True)
        np.testing.assert_array_equal(gathered.weight, fresh.weight)
        assert fresh.weight.shape == (4, grid[..., 0].size)
        np.testing.assert_array_equal(V, MATRIX.tap_sum(np.stack([X[:, fresh.base + o] for o in fresh.offsets], 1),
                                                       fresh.weight))
