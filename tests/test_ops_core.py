"""Core ops against independent NumPy derivations (broadcasting, reductions with axis/keepdims and ties, kinks)."""

import numpy as np
import pytest

import stn_np
from stn_np import Tensor


def grads_of(fn, *arrays, seed=None, rng=None):
    """Gradients of <seed, fn(*tensors)> with a random seed unless one is given."""
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    if seed is None:
        seed = rng.standard_normal(out.shape)
    out.backward(seed)
    return [t.grad for t in tensors], seed, out


def scatter_sum(values, in_shape, out_shape):
    """Independent un-broadcast: add each output element into the input element it read."""
    index = np.broadcast_to(np.arange(int(np.prod(in_shape))).reshape(in_shape), out_shape)
    return np.bincount(index.ravel(), weights=np.broadcast_to(values, out_shape).ravel(),
                       minlength=int(np.prod(in_shape))).reshape(in_shape)


# ---------------------------------------------------------------- pitfall 3: broadcasting
@pytest.mark.parametrize(
    "shape_x, shape_y",
    [((2, 3, 4, 5), (3, 1, 1)),  # a (C,1,1) bias against NCHW
     ((4,), (3, 4)),  # leading axes
     ((3, 1), (1, 4)),  # size-1 axes on both sides
     ((), (2, 3)),  # scalar tensor
     ((2, 1, 3), (5, 1))],
)
def test_broadcast_gradients_match_scatter_sums(shape_x, shape_y, rng):
    x0, y0 = rng.standard_normal(shape_x), rng.uniform(0.5, 1.5, shape_y)
    out_shape = np.broadcast_shapes(shape_x, shape_y)
    (gx, gy), g, _ = grads_of(lambda x, y: x * y + x / y - y, x0, y0, rng=rng)
    assert gx.shape == shape_x and gy.shape == shape_y
    xb, yb = np.broadcast_to(x0, out_shape), np.broadcast_to(y0, out_shape)
    np.testing.assert_allclose(gx, scatter_sum(g * (yb + 1 / yb), shape_x, out_shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gy, scatter_sum(g * (xb - xb / yb**2 - 1), shape_y, out_shape), rtol=1e-12, atol=1e-12)


def test_python_scalar_operands(rng):
    x0 = rng.standard_normal((2, 3))
    (gx,), g, out = grads_of(lambda x: 3.0 - 2 * x / 4.0 + x**2, x0, rng=rng)
    np.testing.assert_allclose(out.data, 3.0 - x0 / 2 + x0**2)
    np.testing.assert_allclose(gx, g * (-0.5 + 2 * x0), rtol=1e-14)


# ---------------------------------------------------------------- pitfall 4: reductions
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_and_mean_with_axis_and_keepdims(axis, keepdims, rng):
    x0 = rng.standard_normal((2, 3, 4))
    (gs,), g_s, s = grads_of(lambda x: x.sum(axis=axis, keepdims=keepdims), x0, rng=rng)
    (gm,), g_m, m = grads_of(lambda x: x.mean(axis=axis, keepdims=keepdims), x0, rng=rng)
    np.testing.assert_allclose(s.data, x0.sum(axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(m.data, x0.mean(axis=axis, keepdims=keepdims))
    axes = tuple(range(3)) if axis is None else np.atleast_1d(axis) % 3
    n = int(np.prod([x0.shape[a] for a in axes]))
    keep = lambda g: g if keepdims else np.expand_dims(g, tuple(int(a) for a in axes))
    np.testing.assert_allclose(gs, np.broadcast_to(keep(g_s), x0.shape))
    np.testing.assert_allclose(gm, np.broadcast_to(keep(g_m), x0.shape) / n)


@pytest.mark.parametrize("keepdims", [False, True])
def test_max_picks_the_argmax(keepdims, rng):
    x0 = rng.standard_normal((3, 5))
    (gx,), g, out = grads_of(lambda x: x.max(axis=1, keepdims=keepdims), x0, rng=rng)
    expected = np.zeros_like(x0)
    expected[np.arange(3), x0.argmax(axis=1)] = g.ravel()
    np.testing.assert_array_equal(gx, expected)
    assert out.shape == ((3, 1) if keepdims else (3,))


def test_max_ties_share_the_gradient_equally():
    x0 = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    (gx,), _, out = grads_of(lambda x: x.max(axis=1), x0, seed=np.array([0.6, 2.0]))
    np.testing.assert_allclose(gx, [[0, 0.3, 0.3, 0], [0.5, 0.5, 0.5, 0.5]])
    np.testing.assert_allclose(gx.sum(axis=1), [0.6, 2.0])  # ties conserve the upstream gradient


# ---------------------------------------------------------------- pitfall 7: kinks, on purpose
def test_relu_subgradient_at_zero_is_zero():
    x0 = np.array([-1.0, 0.0, 2.0])
    (gx,), _, out = grads_of(lambda x: x.relu(), x0, seed=np.array([5.0, 5.0, 5.0]))
    np.testing.assert_array_equal(out.data, [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(gx, [0.0, 0.0, 5.0])


def test_clip_passes_gradient_at_its_bounds():
    x0 = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    (gx,), _, out = grads_of(lambda x: x.clip(-1.0, 1.0), x0, seed=np.arange(1.0, 6.0))
    np.testing.assert_array_equal(out.data, [-1, -1, 0, 1, 1])
    np.testing.assert_array_equal(gx, [0.0, 2.0, 3.0, 4.0, 0.0])


def test_clip_with_one_bound():
    x0 = np.array([-2.0, 0.5, 3.0])
    (gx,), _, out = grads_of(lambda x: x.clip(min=0.0), x0, seed=np.ones(3))
    np.testing.assert_array_equal(out.data, [0.0, 0.5, 3.0])
    np.testing.assert_array_equal(gx, [0.0, 1.0, 1.0])


def test_pow_exponent_gradient_is_zero_where_base_is_not_positive():
    x, y = Tensor([0.0, 2.0]), Tensor([2.0, 3.0], requires_grad=True)
    (x**y).sum().backward()
    np.testing.assert_allclose(y.grad, [0.0, 8.0 * np.log(2.0)])


# ---------------------------------------------------------------- indexing
def test_advanced_index_with_repeats_accumulates(rng):
    x0 = rng.standard_normal(5)
    idx = np.array([1, 1, 1, 4, 0, 1])
    (gx,), g, out = grads_of(lambda x: x[idx], x0, rng=rng)
    expected = np.zeros(5)
    for i, gi in zip(idx, g):
        expected[i] += gi
    np.testing.assert_allclose(gx, expected, rtol=1e-15)


def test_boolean_and_tensor_indices(rng):
    x0 = rng.standard_normal((3, 4))
    mask = x0 > 0
    (gx,), g, out = grads_of(lambda x: x[mask], x0, rng=rng)
    expected = np.zeros_like(x0)
    expected[mask] = g
    np.testing.assert_array_equal(gx, expected)
    (gx2,), g2, out2 = grads_of(lambda x: x[Tensor(np.array([2, 0])), 1:], x0, rng=rng)
    assert out2.shape == (2, 3)
    expected = np.zeros_like(x0)
    expected[[2, 0], 1:] = g2
    np.testing.assert_array_equal(gx2, expected)


def test_basic_index_with_newaxis_and_ellipsis(rng):
    x0 = rng.standard_normal((2, 3, 4))
    (gx,), g, out = grads_of(lambda x: x[None, ..., 1], x0, rng=rng)
    assert out.shape == (1, 2, 3)
    expected = np.zeros_like(x0)
    expected[..., 1] = g[0]
    np.testing.assert_array_equal(gx, expected)


# ---------------------------------------------------------------- compositions vs closed forms
def test_mlp_composition_matches_hand_derivation(rng):
    """A 2-layer MLP with a softmax-free squared loss; gradients derived by hand below."""
    X, W1, b1, W2 = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 2))
    Y = rng.standard_normal((5, 2))
    (gW1, gb1, gW2), _, loss = grads_of(
        lambda w1, b, w2: (((Tensor(X) @ w1 + b).tanh() @ w2 - Y) ** 2).mean(), W1, b1, W2, seed=np.array(1.0)
    )
    H = np.tanh(X @ W1 + b1)
    R = H @ W2 - Y
    dR = 2 * R / R.size
    dZ = (dR @ W2.T) * (1 - H**2)
    np.testing.assert_allclose(loss.data, (R**2).mean(), rtol=1e-14)
    np.testing.assert_allclose(gW2, H.T @ dR, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gW1, X.T @ dZ, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gb1, dZ.sum(axis=0), rtol=1e-10, atol=1e-14)


def test_concatenate_stack_route_gradients(rng):
    a0, b0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 1))
    (ga, gb), g, out = grads_of(lambda a, b: stn_np.concatenate([a, b, a], axis=-1), a0, b0, rng=rng)
    np.testing.assert_array_equal(ga, g[:, :3] + g[:, 4:])
    np.testing.assert_array_equal(gb, g[:, 3:4])
    (ga, gb), g, out = grads_of(lambda a, b: stn_np.stack([a, b], axis=-1), a0, a0 * 2, rng=rng)
    assert out.shape == (2, 3, 2)
    np.testing.assert_array_equal(ga, g[..., 0])
    np.testing.assert_array_equal(gb, g[..., 1])


@pytest.mark.parametrize("shapes", [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 5))])
def test_matmul_shapes(shapes, rng):
    a0, b0 = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    (ga, gb), g, out = grads_of(lambda a, b: a @ b, a0, b0, rng=rng)
    np.testing.assert_allclose(out.data, a0 @ b0)
    assert ga.shape == a0.shape and gb.shape == b0.shape
    # <g, A B> is linear in each argument: the gradient pairs with A to give back the value
    np.testing.assert_allclose(np.sum(ga * a0), np.sum(g * out.data), rtol=1e-12)
    np.testing.assert_allclose(np.sum(gb * b0), np.sum(g * out.data), rtol=1e-12)
