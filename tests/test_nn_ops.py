"""Layer and loss ops: independent references, gradchecks, ties, dtype, validation, dropout."""

import numpy as np
import pytest

import stn_np
import stn_np.functional as F
from stn_np import Tensor
from stn_np.ops import conv as conv_ops
from stn_np.ops import pool as pool_ops
from stn_np.rng import manual_seed


def direct_conv2d(x, w, b, stride, padding):
    """The convolution sum written out with loops over output pixels (independent of im2col)."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, hp, wp = xp.shape
    o, _, kh, kw = w.shape
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.zeros((n, o, ho, wo), dtype=np.float64)
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    return out + (0 if b is None else b[None, :, None, None])


def grads(fn, arrays, rng):
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    g = rng.standard_normal(out.shape).astype(out.dtype)
    out.backward(g)
    return out, [t.grad for t in tensors], g


CONV_CONFIGS = [((2, 3, 6, 7), (4, 3, 3, 3), 1, 0), ((1, 2, 9, 8), (3, 2, 2, 4), (2, 3), (1, 2)),
                ((3, 1, 5, 5), (2, 1, 5, 5), 1, 2), ((2, 2, 6, 6), (1, 2, 1, 1), 2, 0)]


@pytest.mark.parametrize("xs, ws, stride, padding", CONV_CONFIGS)
def test_conv2d_matches_the_direct_sum_in_float32(xs, ws, stride, padding, rng):
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    out = F.conv2d(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), stride, padding)
    assert out.dtype == np.float32
    pair = lambda v: (v, v) if isinstance(v, int) else v
    np.testing.assert_allclose(out.data, direct_conv2d(x, w, b, pair(stride), pair(padding)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("xs, ws, stride, padding", CONV_CONFIGS)
def test_conv2d_gradcheck_random_upstream(xs, ws, stride, padding, rng):
    arrays = (rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0]))
    assert stn_np.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), arrays, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 1, 3500], ids=["one chunk", "sample by sample", "uneven chunks"])
@pytest.mark.parametrize("xs, ws, stride, padding", CONV_CONFIGS + [((3, 1, 9, 7), (3, 1, 4, 2), (2, 1), (1, 0))])
def test_conv2d_one_channel_fast_path_equals_the_general_path(xs, ws, stride, padding, chunk_bytes, rng, monkeypatch):
    # both layouts on the same inputs (any channel count): values and all three gradients, with
    # the fast path's patches built in one chunk, per sample, or in chunks that do not divide N
    monkeypatch.setattr(conv_ops, "_CHUNK_BYTES", chunk_bytes)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    pair = lambda v: (v, v) if isinstance(v, int) else v
    stride, padding = pair(stride), pair(padding)
    z_general, cols = conv_ops._forward(x, w, b, stride, padding)
    z_fast, xp = conv_ops._per_sample_forward(x, w, b, stride, padding)
    np.testing.assert_allclose(z_fast, z_general, rtol=1e-12, atol=1e-12)
    assert z_fast.shape == z_general.shape and z_fast.flags.c_contiguous
    g = rng.standard_normal(z_general.shape)
    general = conv_ops._backward(g, cols, w, xs, stride, padding, (True, True, True))
    fast = conv_ops._per_sample_backward(g, xp, w, xs, stride, padding, (True, True, True))
    for a, e in zip(fast, general):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
    assert conv_ops._per_sample_backward(g, xp, w, xs, stride, padding, (False, True, False))[::2] == (None, None)


HALVES_CONFIGS = [((2, 3, 6, 7), (4, 3, 3, 3), 1, 0), ((3, 2, 9, 8), (3, 2, 2, 4), (2, 3), (1, 2)),
                  ((5, 2, 6, 6), (1, 2, 1, 1), 2, 0)]


@pytest.mark.parametrize("xs, ws, stride, padding", HALVES_CONFIGS)
def test_conv2d_batch_halves_gradcheck_random_upstream(xs, ws, stride, padding, rng, monkeypatch):
    # the general path on two halves of the batch (forced by a zero threshold), odd N included:
    # the weight and bias gradients are the sums of the halves' parts
    monkeypatch.setattr(conv_ops, "_MIN_BLOCK_BYTES", 0)
    assert len(conv_ops._batch_blocks(xs[0], 1)) == 2
    arrays = (rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0]))
    assert stn_np.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), arrays, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("xs, ws, stride, padding", HALVES_CONFIGS)
def test_conv2d_batch_halves_equal_one_block(xs, ws, stride, padding, rng, monkeypatch):
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    pair = lambda v: (v, v) if isinstance(v, int) else v
    stride, padding = pair(stride), pair(padding)
    g = None
    results = []
    for threshold, blocks in ((1 << 60, 1), (0, 2)):
        monkeypatch.setattr(conv_ops, "_MIN_BLOCK_BYTES", threshold)
        z, cols = conv_ops._forward(x, w, b, stride, padding)
        assert len(cols) == blocks
        g = rng.standard_normal(z.shape) if g is None else g
        results.append((z, *conv_ops._backward(g, cols, w, xs, stride, padding, (True, True, True))))
        np.testing.assert_allclose(z, direct_conv2d(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)
    for one, two in zip(*results):
        np.testing.assert_allclose(two, one, rtol=1e-12, atol=1e-12)
    assert conv_ops._backward(g, cols, w, xs, stride, padding, (False, True, False))[::2] == (None, None)


def test_conv2d_splits_the_models_batches_in_halves_and_small_ones_not():
    # shipped threshold: each half must hold 1 MiB of patches; the CNN's second convolution
    # (64 x 10 x 19 x 19, 5 x 5 kernel, float32) holds 7.2 MB a half, the ST-CNN classifier's
    # (64 x 10 x 12 x 12) 2 MB; a batch of 4 of the first, or of 16 of the second, does not split
    per_sample = 10 * 5 * 5 * 15 * 15 * 4
    assert conv_ops._batch_blocks(64, per_sample) == [slice(0, 32), slice(32, 64)]
    assert conv_ops._batch_blocks(65, per_sample) == [slice(0, 32), slice(32, 65)]
    assert conv_ops._batch_blocks(64, 10 * 5 * 5 * 8 * 8 * 4) == [slice(0, 32), slice(32, 64)]
    assert conv_ops._batch_blocks(16, 10 * 5 * 5 * 8 * 8 * 4) == [slice(0, 16)]
    assert conv_ops._batch_blocks(4, per_sample) == [slice(0, 4)]
    assert conv_ops._batch_blocks(1, 1 << 30) == [slice(0, 1)]
    assert conv_ops._batch_blocks(0, per_sample) == [slice(0, 0)]


def test_conv2d_float32_takes_either_path_and_stays_float32(rng):
    for channels in (1, 3):  # the one-channel fast path and the general path
        x = rng.standard_normal((2, channels, 7, 6)).astype(np.float32)
        w = rng.standard_normal((4, channels, 3, 3)).astype(np.float32)
        out, (gx, gw, gb), _ = grads(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, np.zeros(4, np.float32)), rng)
        assert out.dtype == gx.dtype == gw.dtype == gb.dtype == np.float32
        direct = direct_conv2d(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (1, 1))
        np.testing.assert_allclose(out.data, direct, rtol=1e-4, atol=1e-4)


def test_conv2d_input_gradient_is_the_adjoint_of_the_forward(rng):
    # conv is linear in x: <conv(x), u> == <x, conv^T(u)> for the bias-free op
    x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2))
    out, (gx, _), u = grads(lambda x, w: F.conv2d(x, w, stride=2, padding=1), (x, w), rng)
    assert np.isclose(np.sum(out.data * u), np.sum(x * gx), rtol=1e-12)


def distinct(rng, shape):
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 + 0.01


POOL_CONFIGS = [(2, None, 0), (3, 2, 1), (3, 1, 0), ((2, 3), (1, 2), (1, 1)), (2, 2, 0)]


@pytest.mark.parametrize("kernel, stride, padding", POOL_CONFIGS)
@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_pool_gradcheck_random_upstream(pool, kernel, stride, padding, rng):
    x = distinct(rng, (2, 2, 5, 7))
    assert stn_np.gradcheck(lambda t: pool(t, kernel, stride, padding), (x,), atol=1e-6, rtol=1e-5)


def test_max_pool_ties_send_the_whole_gradient_to_the_first_maximum_in_scan_order():
    x = np.array([[[[1.0, 3.0, 2.0, 2.0],
                    [3.0, 0.0, 2.0, 2.0]]]])
    g = np.array([[[[0.7, -1.3]]]])
    x_t = Tensor(x, requires_grad=True)
    out = F.max_pool2d(x_t, 2)
    out.backward(g)
    np.testing.assert_array_equal(out.data, [[[[3.0, 2.0]]]])
    # window 1: the 3 at (0, 1) comes before the 3 at (1, 0); window 2: all tied, (0, 2) wins
    np.testing.assert_array_equal(x_t.grad, [[[[0.0, 0.7, -1.3, 0.0], [0.0, 0.0, 0.0, 0.0]]]])


def test_max_pool_overlapping_windows_accumulate_on_a_shared_maximum():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0
    x_t = Tensor(x, requires_grad=True)
    out = F.max_pool2d(x_t, 2, stride=1)  # all four windows contain the centre
    out.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(x_t.grad, expected)


def test_max_pool_padding_never_wins_and_odd_sizes_drop_the_last_row():
    x = -np.arange(1.0, 26.0).reshape(1, 1, 5, 5)  # all negative: -inf padding must still lose
    out = F.max_pool2d(x, 3, stride=2, padding=1)
    np.testing.assert_array_equal(out.data[0, 0], [[-1, -2, -4], [-6, -7, -9], [-16, -17, -19]])
    x_t = Tensor(np.arange(25.0).reshape(1, 1, 5, 5), requires_grad=True)
    F.max_pool2d(x_t, 2).sum().backward()
    assert x_t.grad[0, 0, 4].sum() == 0 and x_t.grad[0, 0, :, 4].sum() == 0 and x_t.grad.sum() == 4


TILE_CASES = [((2, 3, 8, 6), (2, 2)), ((2, 2, 7, 9), (2, 2)), ((1, 3, 9, 8), (3, 2)), ((2, 1, 5, 6), (1, 3)),
              ((1, 2, 6, 6), (1, 1)), ((1, 1, 4, 5), (4, 5))]


@pytest.mark.parametrize("shape, kernel", TILE_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_reshape_path_equals_the_strided_path_ties_included(shape, kernel, dtype, rng):
    # values from {0, 1, 2}: most windows hold tied maxima, so the first-maximum rule is exercised everywhere
    x = rng.integers(0, 3, shape).astype(dtype)
    z_tile, am_tile = pool_ops._tile_max(x, kernel)
    z_strided, am_strided = pool_ops._strided_max(x, kernel, kernel, (0, 0))
    np.testing.assert_array_equal(z_tile, z_strided)
    np.testing.assert_array_equal(am_tile, am_strided)
    assert z_tile.dtype == dtype and am_tile.dtype == np.uint8
    g = rng.standard_normal(z_tile.shape).astype(dtype)
    g_tile = pool_ops._tile_max_backward(g, am_tile, shape, kernel)
    g_strided = pool_ops._scatter(lambda k: g * (am_strided == k), shape, kernel, kernel, (0, 0), z_tile.shape[2:])
    np.testing.assert_array_equal(g_tile, g_strided)
    assert g_tile.dtype == dtype and g_tile.shape == shape


@pytest.mark.parametrize("shape, kernel", TILE_CASES)
def test_avg_pool_reshape_path_equals_the_strided_path(shape, kernel, rng):
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(pool_ops._tile_view(x, kernel).sum(axis=(3, 5)),
                               pool_ops._strided_sum(x, kernel, kernel, (0, 0)), rtol=1e-13, atol=1e-13)
    out_hw = (shape[2] // kernel[0], shape[3] // kernel[1])
    g = rng.standard_normal(shape[:2] + out_hw)
    np.testing.assert_array_equal(pool_ops._tile_sum_backward(g, shape, kernel),
                                  pool_ops._scatter(lambda k: g, shape, kernel, kernel, (0, 0), out_hw))


def test_max_pool_reshape_path_takes_the_row_major_first_maximum():
    # the maximum 5 sits at offsets 1 (row 0) and 2 (row 1) of the 2x2 window: row-major picks 1;
    # the 3x2 window holds its 7 at (1, 1) = offset 3 and (2, 0) = offset 4: row-major picks 3,
    # a column-first scan would pick 4
    x = np.array([[[[0.0, 5.0], [5.0, 1.0]]]])
    assert pool_ops._tile_max(x, (2, 2))[1].item() == 1
    y = np.array([[[[0.0, 1.0], [2.0, 7.0], [7.0, 3.0]]]])
    assert pool_ops._tile_max(y, (3, 2))[1].item() == 3
    flat = np.full((1, 1, 3, 3), 2.0)
    assert pool_ops._tile_max(flat, (3, 3))[1].item() == 0


def test_avg_pool_counts_padding_in_the_divisor():
    out = F.avg_pool2d(np.ones((1, 1, 2, 2)), 2, stride=1, padding=1)
    np.testing.assert_allclose(out.data[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


FLOAT32_CASES = {
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [(2, 3, 6, 6), (4, 3, 3, 3), (4,)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1), [(2, 3, 6, 6)]),
    "max_pool2d_fast": (lambda x: F.max_pool2d(x, 2), [(2, 3, 6, 6)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2), [(2, 3, 6, 6)]),
    "linear": (F.linear, [(5, 3), (4, 3), (4,)]),
    "relu": (F.relu, [(3, 4)]),
    "log_softmax": (F.log_softmax, [(3, 4)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, np.array([0, 3, 1])), [(3, 4)]),
    "cross_entropy_none": (lambda x: F.cross_entropy(x, np.array([0, 3, 1]), reduction="none"), [(3, 4)]),
    "nll_loss": (lambda x: F.nll_loss(x, np.array([0, 3, 1])), [(3, 4)]),
    "mse_loss": (F.mse_loss, [(3, 4), (3, 4)]),
    "dropout": (lambda x: F.dropout(x, 0.3), [(3, 4)]),
    "dropout2d": (lambda x: F.dropout2d(x, 0.3), [(2, 3, 2, 2)]),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_float32_stays_float32_in_values_and_gradients(name, rng):
    fn, shapes = FLOAT32_CASES[name]
    out, gs, _ = grads(fn, [rng.standard_normal(s).astype(np.float32) for s in shapes], rng)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in gs)


def test_log_softmax_and_cross_entropy_are_stable_for_huge_logits():
    x = np.array([[1e4, 0.0, -1e4], [-1e30, 1e30, 0.0]], dtype=np.float32)
    lp = F.log_softmax(x)
    np.testing.assert_allclose(lp.data[:, :2], [[0.0, -1e4], [-2e30, 0.0]], rtol=1e-6)
    x_t = Tensor(x, requires_grad=True)
    loss = F.cross_entropy(x_t, np.array([0, 0]), reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, 2e30], rtol=1e-6)
    loss.sum().backward()
    assert np.all(np.isfinite(x_t.grad))
    np.testing.assert_allclose(x_t.grad, [[0, 0, 0], [-1, 1, 0]], atol=1e-6)


def test_nll_of_log_softmax_equals_cross_entropy(rng):
    x, t = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    for reduction in ("mean", "sum", "none"):
        a = F.cross_entropy(x, t, reduction)
        b = F.nll_loss(F.log_softmax(x), t, reduction)
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)
    x_t = Tensor(x, requires_grad=True)
    F.nll_loss(F.log_softmax(x_t), t).backward()
    x_u = Tensor(x, requires_grad=True)
    F.cross_entropy(x_u, t).backward()
    np.testing.assert_allclose(x_t.grad, x_u.grad, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.conv2d(np.ones((1, 4, 4)), np.ones((1, 1, 2, 2))), ValueError, "conv2d: x: expected a 4-D"),
    (lambda: F.conv2d(np.ones((1, 2, 4, 4)), np.ones((1, 3, 2, 2))), ValueError, "conv2d: weight: expected 2 input channels"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 2, 2)), np.ones(3)), ValueError, r"conv2d: bias: expected shape \(2,\)"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), stride=0), ValueError, "conv2d: stride"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), padding=-1), ValueError, "conv2d: padding"),
    (lambda: F.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))), ValueError, "conv2d: weight: expected a kernel that fits"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4), dtype=int), np.ones((1, 1, 2, 2))), TypeError, "conv2d: x: expected float32 or float64"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 2, 2))), TypeError, "float32 and float64"),
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=2), ValueError, "max_pool2d: padding: expected at most half the kernel"),
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), (2, 2, 2)), ValueError, "max_pool2d: kernel_size"),
    (lambda: F.avg_pool2d(np.ones((1, 4, 4)), 2), ValueError, "avg_pool2d: x: expected a 4-D"),
    (lambda: F.avg_pool2d(np.ones((1, 1, 1, 4)), 2), ValueError, "avg_pool2d: kernel_size: expected a window that fits"),
    (lambda: F.linear(np.ones((2, 3)), np.ones((4, 2))), ValueError, r"linear: x: expected shape \(\.\.\., 2\)"),
    (lambda: F.linear(np.ones((2, 3)), np.ones(3)), ValueError, "linear: weight: expected a 2-D"),
    (lambda: F.linear(np.ones((2, 3)), np.ones((4, 3)), np.ones(3)), ValueError, "linear: bias"),
    (lambda: F.log_softmax(np.ones((2, 3)), axis=2), ValueError, "log_softmax: axis"),
    (lambda: F.cross_entropy(np.ones((2, 3)), np.array([0, 3])), ValueError, r"cross_entropy: target: expected class indices in \[0, 3\), got 3"),
    (lambda: F.cross_entropy(np.ones((2, 3)), np.array([0, -1])), ValueError, r"cross_entropy: target: expected class indices in \[0, 3\), got -1"),
    (lambda: F.cross_entropy(np.ones((2, 3)), np.array([0.0, 1.0])), TypeError, "cross_entropy: target: expected integer"),
    (lambda: F.cross_entropy(np.ones((2, 3)), np.array([0, 1, 2])), ValueError, r"cross_entropy: target: expected shape \(2,\)"),
    (lambda: F.cross_entropy(np.ones(3), np.array([0])), ValueError, "cross_entropy: logits: expected a 2-D"),
    (lambda: F.cross_entropy(np.ones((2, 3)), np.array([0, 1]), reduction="avg"), ValueError, "cross_entropy: reduction"),
    (lambda: F.nll_loss(np.ones((2, 3, 1)), np.array([0, 1])), ValueError, "nll_loss: log_probs: expected a 2-D"),
    (lambda: F.mse_loss(np.ones((2, 3)), np.ones((3, 2))), ValueError, "mse_loss: target: expected the shape"),
    (lambda: F.dropout(np.ones(3), p=1.5), ValueError, r"dropout: p: expected a finite number in \[0, 1\]"),
    (lambda: F.dropout(np.ones(3), p=-0.1), ValueError, r"dropout: p: expected a finite number in \[0, 1\]"),
    (lambda: F.dropout2d(np.ones((2, 3)), p=0.5), ValueError, "dropout2d: x: expected a 4-D"),
    (lambda: F.dropout(np.ones(3), rng=42), TypeError, "rng"),
])
def test_bad_arguments_raise_errors_naming_them(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- dropout
def test_dropout_scales_survivors_and_uses_the_same_mask_backward(rng):
    x0 = rng.uniform(1, 2, (200, 50))
    x = Tensor(x0, requires_grad=True)
    out = F.dropout(x, p=0.3, rng=np.random.default_rng(5))
    kept = out.data != 0
    np.testing.assert_allclose(out.data[kept], x0[kept] / 0.7, rtol=1e-14)
    assert abs(kept.mean() - 0.7) < 0.02
    g = rng.standard_normal(x0.shape)
    out.backward(g)
    np.testing.assert_allclose(x.grad, g * kept / 0.7, rtol=1e-14)


def test_dropout2d_zeroes_whole_channels(rng):
    x = Tensor(rng.uniform(1, 2, (16, 8, 3, 3)), requires_grad=True)
    out = F.dropout2d(x, p=0.5, rng=np.random.default_rng(1))
    per_channel = (out.data != 0).reshape(16, 8, 9)
    assert np.all(per_channel.all(axis=2) | ~per_channel.any(axis=2))  # each map all kept or all dropped
    assert 0 < per_channel.all(axis=2).mean() < 1
    out.backward(np.ones(x.shape) * 3.0)
    np.testing.assert_allclose(x.grad, 3.0 * (out.data != 0) / 0.5)


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
def test_dropout_is_the_identity_for_p0_and_in_eval(fn, rng):
    x = Tensor(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
    assert fn(x, p=0.0) is x
    assert fn(x, p=0.9, training=False) is x
    np.testing.assert_array_equal(fn(x.data, p=0.9, training=False).data, x.data)
    np.testing.assert_array_equal(fn(x, p=1.0).data, np.zeros(x.shape))


def test_dropout_masks_follow_the_global_seed(rng):
    x = rng.standard_normal((10, 10))
    manual_seed(3)
    a = F.dropout(x, 0.5).data
    b = F.dropout(x, 0.5).data
    manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, a)
    assert not np.array_equal(a, b)
