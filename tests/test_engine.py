"""The backward pass: order, accumulation, graph lifetime, dtype and aliasing (reuse, repeated backward, aliasing, precision)."""

import numpy as np
import pytest

import stn_np
from stn_np import Function, Tensor


# ---------------------------------------------------------------- pitfall 1: reuse and diamonds
def test_tensor_used_twice_accumulates(rng):
    x0 = rng.standard_normal(5)
    x = Tensor(x0, requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x0, rtol=0, atol=1e-15)


def test_diamond_visits_each_node_once(rng):
    a0, b0 = rng.standard_normal(4), rng.standard_normal(4)
    a, b = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
    s = a + b  # shared interior node feeding two branches
    y = (s * a + s.exp()).sum()
    y.backward()
    # d/da [(a+b) a + e^(a+b)] = 2a + b + e^(a+b);  d/db = a + e^(a+b)
    np.testing.assert_allclose(a.grad, 2 * a0 + b0 + np.exp(a0 + b0), rtol=1e-14)
    np.testing.assert_allclose(b.grad, a0 + np.exp(a0 + b0), rtol=1e-14)


def test_each_backward_called_once_per_node():
    calls = []

    class Spy(Function):
        """z = x; records its backward calls."""

        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            calls.append(g.copy())
            return g

    x = Tensor([1.0, 2.0], requires_grad=True)
    s = Spy.apply(x)
    (s * s + s * 3).sum().backward()
    assert len(calls) == 1  # the two upstream contributions arrive summed
    np.testing.assert_allclose(calls[0], 2 * np.array([1.0, 2.0]) + 3)


def test_deep_graph_has_no_recursion_limit():
    x = Tensor(np.array(0.5), requires_grad=True)
    y = x
    for _ in range(12000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0)


def test_long_reuse_chain_stays_linear():
    # y_{k+1} = y_k + y_k doubles the gradient each step; exponential blow-up in work would hang.
    x = Tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(60):
        y = y + y
    y.backward()
    assert x.grad == 2.0**60


# ---------------------------------------------------------------- pitfall 2: backward twice, leaves
def test_second_backward_through_released_graph_is_refused():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="already released.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_accumulation_then_zero_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])  # accumulated: 2 * 2x
    x.zero_grad()
    assert x.grad is None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_released_graph_frees_saved_arrays():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x.exp()
    z = y.sum()
    z.backward()
    assert y._node.released and y._node.ctx is None and y._node.inputs == ()


def test_interior_tensors_keep_grad_only_when_asked():
    x = Tensor([1.0, -2.0], requires_grad=True)
    h = x * 3
    k = (x * 2).retain_grad()
    (h * k).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(k.grad, h.data)
    np.testing.assert_array_equal(x.grad, 12 * x.data)


def test_non_scalar_backward_needs_a_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="pass `grad`"):
        y.backward()
    with pytest.raises(ValueError, match=r"Tensor.backward: grad: expected shape \(2,\), got shape \(3,\)"):
        y.backward(np.ones(3))
    y.backward(np.array([0.5, -1.0]))
    np.testing.assert_array_equal(x.grad, [1.0, -2.0])


def test_backward_on_constant_is_refused():
    with pytest.raises(RuntimeError, match="does not require gradients"):
        Tensor([1.0]).sum().backward()


def test_only_inputs_that_require_grad_receive_one():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


# ---------------------------------------------------------------- no_grad
def test_no_grad_records_nothing_and_restores_on_exception():
    x = Tensor([1.0], requires_grad=True)
    with stn_np.no_grad():
        assert not (x * 2).requires_grad
        with stn_np.enable_grad():
            assert (x * 2).requires_grad
        assert not stn_np.is_grad_enabled()
    assert stn_np.is_grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with stn_np.no_grad():
            1 / 0
    assert stn_np.is_grad_enabled()

    @stn_np.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and stn_np.is_grad_enabled()


# ---------------------------------------------------------------- pitfall 5: aliasing
def test_constant_array_mutated_after_forward_does_not_change_gradient():
    w = np.array([2.0, 3.0])
    x = Tensor([1.0, 1.0], requires_grad=True)
    y = (x * w).sum()
    w[:] = 100.0  # the op copied its constant operand
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 3.0])


def test_leaf_grads_are_independent_arrays():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    seed = np.array([1.0, -1.0])
    (a + b).backward(seed)  # AddFunction returns the same upstream array for both inputs
    a.grad *= 10
    np.testing.assert_array_equal(b.grad, [1.0, -1.0])
    np.testing.assert_array_equal(seed, [1.0, -1.0])  # the caller's seed is untouched
    assert not np.shares_memory(a.grad, seed)


def test_gradient_from_broadcast_view_is_writable_and_owned():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    x.sum().backward()  # SumFunction returns a broadcast (read-only, zero-stride) view
    x.grad[0, 0] = 5.0
    assert x.grad.flags.writeable and x.grad.sum() == 10.0


def test_accumulation_never_writes_into_an_upstream_array():
    upstream = np.array([1.0, 2.0])
    x = Tensor([1.0, 1.0], requires_grad=True)
    y = x + x  # x receives the same array object twice
    y.backward(upstream)
    np.testing.assert_array_equal(upstream, [1.0, 2.0])
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


# ---------------------------------------------------------------- pitfall 6: dtype
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved_through_forward_and_backward(dtype, rng):
    x = Tensor(rng.standard_normal((3, 4)).astype(dtype), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 2)).astype(dtype), requires_grad=True)
    h = (x @ w).tanh().sigmoid() * 2.0 - 1
    y = ((h**2).mean(axis=0) + h.max(axis=0) + (x.exp().log().relu() / 3).sum() + x[0, 1:].clip(-0.1, 0.1).sum()).sum()
    assert y.dtype == dtype
    y.backward()
    assert x.grad.dtype == dtype and w.grad.dtype == dtype


def test_wrong_gradient_shape_or_dtype_names_the_op():
    class BadShape(Function):
        """z = 2x with a backward returning the wrong shape."""

        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return np.ones(g.shape + (1,), g.dtype)

    class BadDtype(Function):
        """z = 2x with a backward returning float32 for float64."""

        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return (2 * g).astype(np.float32)

    class TooMany(Function):
        """z = x with a backward returning two gradients."""

        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            return g, g

    for op, pattern in [(BadShape, "BadShape.backward returned a gradient of shape"),
                        (BadDtype, "BadDtype.backward returned .* dtype float32"),
                        (TooMany, "TooMany.backward returned 2 gradients for 1 inputs")]:
        x = Tensor(np.ones(3), requires_grad=True)
        with pytest.raises(RuntimeError, match=pattern):
            op.apply(x).sum().backward()


def test_non_broadcasting_op_does_not_get_silently_unbroadcast():
    class Sloppy(Function):
        """z = x[0] for x of shape (1, n), with a backward that forgets the leading axis."""

        @staticmethod
        def forward(ctx, x):
            return x[0].copy()

        @staticmethod
        def backward(ctx, g):
            return np.stack([g, g])  # shape (2, n): summing it would hide the bug

    x = Tensor(np.ones((1, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="Sloppy"):
        Sloppy.apply(x).sum().backward()
