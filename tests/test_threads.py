"""One thread count for the whole process, and the sampler and the convolution give the same bits at any count.

``stn_np.threads.set_blas_threads(n)`` runs stn_np's own parallel loops (``map_blocks``) on n
threads and OpenBLAS on one. The sampler's per-point blocks and the convolution's two batch
halves each write their own outputs (the convolution's weight and bias gradients add the
halves' parts in order), so the results must be bit-identical at one and at two threads: for
the sampler on the hard points (whole and half pixels, edges, far outside, NaN and inf), both
paths, every kernel and padding, float32 and float64, images and volumes, empty shapes. A
small ``MIN_SHARE`` (patched) makes even small grids run on the pool; one large batch runs
with the shipped block sizes, and so does the CNN's second convolution.
"""

import itertools
import sys
import threading
import warnings

import numpy as np
import pytest

import stn_np.sampling.grid_sample  # noqa: F401  (the module, not the function of that name)
import stn_np.ops.conv  # noqa: F401
import stn_np.sampling.matrix  # noqa: F401
import stn_np.threads as threads
from stn_np import Tensor
from stn_np.functional import conv2d
from stn_np.sampling import grid_sample
from stn_np.training import get_blas_threads as training_get, set_blas_threads as training_set
from stn_np.training.runtime import get_blas_threads as runtime_get, set_blas_threads as runtime_set
from test_grid_sample_paths import hard_grid

GRID_SAMPLE = sys.modules["stn_np.sampling.grid_sample"]
CONV = sys.modules["stn_np.ops.conv"]
MATRIX = sys.modules["stn_np.sampling.matrix"]
PADDINGS = ("zeros", "border", "reflection")
CASES = ([(2, mode, padding) for mode, padding in itertools.product(("bilinear", "nearest", "bicubic"), PADDINGS)]
         + [(3, mode, padding) for mode, padding in itertools.product(("bilinear", "nearest"), PADDINGS)])
needs_openblas = pytest.mark.skipif(threads.get_blas_threads() is None,
                                    reason="no OpenBLAS in this process: the thread count cannot be set")


@pytest.fixture
def restore_threads():
    """Give the rest of the suite its thread count back, whatever the test set."""
    before = threads.get_blas_threads()
    yield
    if before:
        threads.set_blas_threads(before)


def run(U, grid, mode, padding, align, upstream):
    Ut, gt = Tensor(U, requires_grad=True), Tensor(grid, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NaN and inf points warn in no thread (errstate reaches the pool)
        out = grid_sample(Ut, gt, mode, padding, align)
        out.backward(upstream)
    return out.data, Ut.grad, gt.grad


def at_threads(count, *args):
    threads.set_blas_threads(count)
    assert threads.worker_threads() == count
    return run(*args)


def assert_identical(one, two, what):
    for name, a, b in zip(("samples", "image gradient", "grid gradient"), one, two):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {name}"
        np.testing.assert_array_equal(a, b, err_msg=f"{what}: {name}")


@needs_openblas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d, mode, padding", CASES)
def test_one_and_two_threads_give_the_same_bits(d, mode, padding, dtype, restore_threads, monkeypatch, rng):
    monkeypatch.setattr(MATRIX, "MIN_SHARE", 5)  # small grids split too: one share a thread
    spatial, out = ((3, 4, 5), (3, 2, 5)) if d == 3 else ((5, 6), (4, 9))
    for channels, align in ((1, False), (3, True), (9, False)):  # gather path (one and three channels), sparse path
        U = rng.standard_normal((2, channels) + spatial).astype(dtype)
        grid = hard_grid(2, out, spatial, align, dtype, rng)
        upstream = rng.standard_normal((2, channels) + out).astype(dtype)
        args = (U, grid, mode, padding, align, upstream)
        assert_identical(at_threads(1, *args), at_threads(2, *args), f"{d}-D {mode} {padding} C={channels}")


@needs_openblas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [1, 8])
def test_a_large_batch_splits_for_two_threads_with_the_same_bits(channels, dtype, restore_threads, rng):
    # 32 x 128 x 128 points with the shipped share: two threads' worth (MIN_SHARE each)
    N, spatial = 32, (128, 128)
    P = N * 128 * 128
    threads.set_blas_threads(2)
    assert MATRIX.thread_blocks(P) == [slice(0, P // 2), slice(P // 2, P)]
    U = rng.standard_normal((N, channels) + spatial).astype(dtype)
    grid = hard_grid(N, spatial, spatial, False, dtype, rng)
    upstream = rng.standard_normal((N, channels) + spatial).astype(dtype)
    args = (U, grid, "bilinear", "zeros", False, upstream)
    assert_identical(at_threads(1, *args), at_threads(2, *args), f"{N} x 128 x 128, C={channels}")


@needs_openblas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_convolution_halves_give_the_same_bits_at_one_and_two_threads(dtype, restore_threads, rng):
    # the CNN's second convolution at batch 64: two halves of the batch (shipped threshold),
    # on two threads at two; output and all three gradients bit for bit
    x = rng.standard_normal((64, 10, 19, 19)).astype(dtype)
    w, b = rng.standard_normal((20, 10, 5, 5)).astype(dtype), rng.standard_normal(20).astype(dtype)
    upstream = rng.standard_normal((64, 20, 15, 15)).astype(dtype)
    assert len(CONV._batch_blocks(64, 10 * 5 * 5 * 15 * 15 * x.itemsize)) == 2

    def run_at(count):
        threads.set_blas_threads(count)
        tensors = [Tensor(a, requires_grad=True) for a in (x, w, b)]
        out = conv2d(*tensors)
        out.backward(upstream)
        return [out.data] + [t.grad for t in tensors]

    for one, two in zip(run_at(1), run_at(2)):
        assert one.dtype == two.dtype == dtype
        np.testing.assert_array_equal(one, two)


@needs_openblas
def test_two_threads_are_the_librarys_and_openblas_stays_on_one(restore_threads):
    # OpenBLAS's idle workers spin on the cores the pool needs: at n threads the pool runs n
    # and OpenBLAS one (benchmarks/bench_threads.py measures why)
    assert threads.set_blas_threads(2) >= 1
    assert threads.worker_threads() == threads.get_blas_threads() == 2
    assert threads._openblas_threads() == 1
    threads.map_blocks(lambda b: np.ones((64, 64)) @ np.ones((64, 64)), range(4))
    assert threads._openblas_threads() == 1


@needs_openblas
def test_small_grids_stay_on_one_thread(restore_threads):
    # handing a block to another thread costs more than it saves below MIN_SHARE a thread
    threads.set_blas_threads(2)
    limit = 2 * MATRIX.MIN_SHARE
    assert MATRIX.thread_blocks(limit - 1) == [slice(0, limit - 1)]
    assert MATRIX.thread_blocks(limit + 1) == [slice(0, limit // 2 + 1), slice(limit // 2 + 1, limit + 1)]
    assert MATRIX.thread_blocks(0) == []
    assert MATRIX.thread_blocks(limit // 2, work=2) == [slice(0, limit // 4), slice(limit // 4, limit // 2)]
    assert MATRIX.thread_blocks(limit // 2, work=1) == [slice(0, limit // 2)]
    threads.set_blas_threads(1)
    assert MATRIX.thread_blocks(10 * limit) == [slice(0, 10 * limit)]


def test_map_blocks_runs_inline_at_one_thread(restore_threads):
    if threads.get_blas_threads() is not None:
        threads.set_blas_threads(1)
    seen = []
    assert threads.map_blocks(lambda b: seen.append(threading.current_thread()) or b * 2, range(5)) == [0, 2, 4, 6, 8]
    assert seen == [threading.current_thread()] * 5


@needs_openblas
def test_map_blocks_keeps_order_uses_the_pool_and_raises(restore_threads):
    threads.set_blas_threads(2)
    names = set()

    def square(b):
        names.add(threading.current_thread().name)
        np.sin(np.ones(200_000))  # long enough for the pool thread to take some blocks
        return b * b

    assert threads.map_blocks(square, range(40)) == [b * b for b in range(40)]
    assert any(name.startswith("stn_np") for name in names)
    assert threads.map_blocks(square, []) == [] and threads.map_blocks(square, [3]) == [9]

    def fail_at_seven(b):
        if b == 7:
            raise KeyError(b)
        return b

    with pytest.raises(KeyError, match="7"):
        threads.map_blocks(fail_at_seven, range(20))
    # nested calls run inline in the thread that made them (a pool thread never waits for the pool)
    inner = threads.map_blocks(lambda b: threads.map_blocks(lambda c: threading.current_thread().name, range(3)),
                               range(4))
    assert all(len(set(names)) == 1 for names in inner)


@needs_openblas
def test_the_pool_follows_set_blas_threads(restore_threads):
    for count in (1, 2, 1):
        threads.set_blas_threads(count)
        assert threads.worker_threads() == count == threads.get_blas_threads()


def test_the_thread_helpers_keep_both_import_paths(restore_threads):
    assert training_get is runtime_get is threads.get_blas_threads
    assert training_set is runtime_set is threads.set_blas_threads
    with pytest.raises(ValueError, match="set_blas_threads: n: expected"):
        training_set(0)
    with pytest.raises(ValueError, match="blas_threads"):
        threads.set_blas_threads(0)
