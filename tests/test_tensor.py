"""The Tensor's own surface: construction, properties, conversions and their errors."""

import numpy as np
import pytest

import stn_np
from stn_np import Tensor


def test_construction_copies_and_reports_array_facts():
    source = np.arange(6.0).reshape(2, 3)
    t = Tensor(source, requires_grad=True)
    source[0, 0] = 100.0
    assert t.data[0, 0] == 0.0
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.dtype == np.float64
    assert len(t) == 2 and t.is_leaf and t.grad is None


def test_dtype_argument_and_python_lists():
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert Tensor([1.5, 2.0]).dtype == np.float64
    assert Tensor([1, 2]).dtype.kind == "i"


@pytest.mark.parametrize("bad", [np.arange(3), [True, False]])
def test_only_floating_tensors_require_grad(bad):
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(bad, requires_grad=True)


def test_object_data_is_rejected():
    with pytest.raises(TypeError, match="Tensor: data: expected boolean, integer or floating-point values, got dtype object"):
        Tensor([object()])
    with pytest.raises(TypeError, match="Tensor: data: expected boolean, integer or floating-point values, got dtype <U3"):
        Tensor("abc")
    with pytest.raises(ValueError, match=r"Tensor: data: expected numbers in a regular \(non-ragged\) nesting"):
        Tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="Tensor: requires_grad: expected a bool, got 'yes'"):
        Tensor([1.0], requires_grad="yes")
    with pytest.raises(TypeError, match="Tensor: dtype: expected a boolean, integer or floating-point dtype, got 'no-such-dtype'"):
        Tensor([1.0], dtype="no-such-dtype")


def test_numpy_returns_a_copy_and_item_a_scalar():
    t = Tensor([[3.0]])
    copy = t.numpy()
    copy[0, 0] = -1.0
    assert t.data[0, 0] == 3.0
    assert t.item() == 3.0 and isinstance(t.item(), float)
    with pytest.raises(ValueError, match="exactly 1"):
        Tensor([1.0, 2.0]).item()


def test_detach_cuts_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf
    z = (y * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_ndarray_on_the_left_defers_to_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, Tensor) and y.requires_grad
    assert isinstance(np.array([1.0, 1.0]) - x, Tensor)
    assert isinstance(np.eye(2) @ x, Tensor)


def test_repr_and_array_protocol():
    t = Tensor(np.ones(2, np.float32), requires_grad=True)
    assert "float32" in repr(t) and "requires_grad=True" in repr(t)
    np.testing.assert_array_equal(np.asarray(t), [1.0, 1.0])


def test_mixing_float32_and_float64_is_refused():
    a = Tensor(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="MulFunction: operands: expected one floating dtype, got float32 and float64; cast one explicitly"):
        a * np.ones(3)
    with pytest.raises(TypeError, match="AddFunction: operands: expected one floating dtype, got float32 and float64"):
        a + Tensor(np.ones(3))


def test_python_and_numpy_scalars_take_the_tensor_dtype():
    a = Tensor(np.ones(3, np.float32), requires_grad=True)
    for y in (a * 2, a + np.float64(2.5), 1.0 / a, a**2, 2.0**a, a - 1, a.clip(0.5, np.float64(2))):
        assert y.dtype == np.float32
    integer_mask = np.array([1, 0, 1])
    assert (a * integer_mask).dtype == np.float32


def test_reshape_transpose_argument_forms():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(6, 4).shape == x.reshape((6, 4)).shape == (6, 4)
    assert x.transpose(1, 0, 2).shape == x.transpose((1, 0, 2)).shape == (3, 2, 4)
    assert x.T.shape == x.transpose().shape == (4, 3, 2)
    with pytest.raises(ValueError, match=r"reshape: shape: expected a shape of 24 elements \(x has shape \(2, 3, 4\)\), got \(5, 5\)"):
        x.reshape(5, 5)
    with pytest.raises(ValueError, match="transpose: axes: expected a permutation of the 3 axes"):
        x.transpose(0, 0, 1)


def test_reduction_axis_errors_name_the_argument():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"sum: axis: expected axes in \[-2, 2\), got 2"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match=r"mean: axis: expected distinct axes, got \(0, 0\)"):
        x.mean(axis=(0, 0))


def test_matmul_shape_errors():
    with pytest.raises(ValueError, match="matmul: y: expected a shape aligned with"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="at least one dimension"):
        Tensor(np.ones(())) @ Tensor(np.ones(3))


def test_concatenate_and_stack_need_tensors():
    with pytest.raises(ValueError, match="non-empty"):
        stn_np.concatenate([])
    with pytest.raises(ValueError, match="non-empty"):
        stn_np.stack([])


def test_argmax_is_a_plain_array():
    x = Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]])
    np.testing.assert_array_equal(x.argmax(axis=1), [1, 0])
