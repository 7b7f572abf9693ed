"""Property tests over shapes and broadcastable pairs (Hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stn_np import Tensor

OPS = {
    "add": (lambda a, b: a + b, lambda a, b, g: (g, g)),
    "sub": (lambda a, b: a - b, lambda a, b, g: (g, -g)),
    "mul": (lambda a, b: a * b, lambda a, b, g: (g * b, g * a)),
    "div": (lambda a, b: a / b, lambda a, b, g: (g / b, -g * a / b**2)),
}


def reduce_to(g, shape):
    """Independent un-broadcast: sum g over the output positions that read each input element."""
    index = np.broadcast_to(np.arange(int(np.prod(shape))).reshape(shape), g.shape)
    return np.bincount(index.ravel(), weights=g.ravel(), minlength=int(np.prod(shape))).reshape(shape)


@settings(max_examples=60, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
    op=st.sampled_from(sorted(OPS)),
    seed=st.integers(0, 2**32 - 1),
)
def test_broadcast_binary_op_gradients(shapes, op, seed):
    rng = np.random.default_rng(seed)
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    a0 = rng.standard_normal(sa)
    b0 = rng.uniform(0.5, 2.0, sb) * rng.choice([-1, 1], sb)
    forward, derivative = OPS[op]
    a, b = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
    out = forward(a, b)
    assert out.shape == out_shape
    g = rng.standard_normal(out_shape)
    out.backward(g)
    ga, gb = derivative(np.broadcast_to(a0, out_shape), np.broadcast_to(b0, out_shape), g)
    np.testing.assert_allclose(a.grad, reduce_to(np.broadcast_to(ga, out_shape), sa), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, reduce_to(np.broadcast_to(gb, out_shape), sb), rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=4),
                 elements=st.floats(-10, 10, allow_nan=False)),
    data=st.data(),
)
def test_reductions_gradient_shape_and_total(x, data):
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1))
    keepdims = data.draw(st.booleans())
    t = Tensor(x, requires_grad=True)
    s = t.sum(axis=axis, keepdims=keepdims)
    m = t.mean(axis=axis, keepdims=keepdims)
    mx = t.max(axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(s.data, x.sum(axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(mx.data, x.max(axis=axis, keepdims=keepdims))
    g = np.random.default_rng(0).standard_normal(s.shape)
    (s + m + mx).backward(g)
    assert t.grad.shape == x.shape
    # every reduction distributes its upstream gradient without creating or losing any:
    # sum passes g to each of n elements, mean g/n to each, max g in total over its ties
    n = x.size // max(s.size, 1)
    np.testing.assert_allclose(t.grad.sum(), g.sum() * (n + 1 + 1), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), seed=st.integers(0, 1000))
def test_reshape_transpose_roundtrip_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(shape)
    perm = tuple(rng.permutation(len(shape)))
    t = Tensor(x0, requires_grad=True)
    out = t.transpose(perm).reshape(-1)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    # the gradient is the upstream gradient put back where each element came from
    np.testing.assert_array_equal(t.grad, g.reshape(x0.transpose(perm).shape).transpose(np.argsort(perm)))
