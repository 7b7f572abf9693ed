"""``Tensor``: an ndarray that remembers how it was computed, and the backward pass.

The engine is deliberately small. Each op (a :class:`~stn_np.autograd.function.Function`)
leaves a node on its output naming the op, its saved context and its inputs. ``backward``
sorts the graph once, iteratively (no recursion, so graphs of any depth work), walks it from
the output to the leaves, sums the gradients of tensors used more than once, and stores the
result in ``.grad`` of the leaves.

Semantics worth knowing
-----------------------
* ``Tensor(data)`` copies ``data``; changing the caller's array later does not change the
  tensor or any gradient computed from it. Arrays passed to ops as constants are copied too.
* ``.grad`` is kept on leaves (tensors created by the user with ``requires_grad=True``) and on
  interior tensors that called :meth:`Tensor.retain_grad`. Repeated ``backward`` calls
  accumulate into ``.grad``; set it to ``None`` (or call :meth:`Tensor.zero_grad`) to reset.
* ``backward`` releases the saved arrays of the graph it walked, unless
  ``retain_graph=True``; walking a released graph again raises a ``RuntimeError``.
* Ops never change dtype silently: float32 stays float32, Python scalars take the dtype of
  the tensor they meet, and mixing float32 with float64 arrays is a ``TypeError``.
* Do not modify ``.data`` of a tensor in place between a forward pass and its backward:
  ops keep references to their inputs. Optimizers update parameters only after backward.
"""

from __future__ import annotations

import numpy as np

from ..validation import check_bool, check_dtype, fail
from . import function as _function
from ..ops import elementwise as _ew
from ..ops import linalg as _linalg
from ..ops import reduce as _reduce
from ..ops import shape as _shape

__all__ = ["Tensor", "as_tensor_like"]


def _is_basic_index(index):
    """True when ``index`` selects by ints, slices, None and Ellipsis only (no repeats possible)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items
    )


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Parameters
    ----------
    data : array_like
        Values; copied.
    requires_grad : bool, optional
        Record operations on this tensor so that :meth:`backward` can compute its gradient.
        Only floating-point tensors can require gradients.
    dtype : dtype, optional
        Convert ``data`` to this dtype (default: NumPy's choice, float64 for Python floats).

    Attributes
    ----------
    data : ndarray
        The values.
    grad : ndarray or None
        The accumulated gradient after :meth:`backward` (leaves and retained tensors only).
    requires_grad : bool
        Whether gradients flow to this tensor.

    Examples
    --------
    >>> import stn_np
    >>> x = stn_np.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_retains_grad", "__weakref__")
    # NumPy defers to Tensor's reflected operators, so ``ndarray * Tensor`` is a Tensor.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        requires_grad = check_bool(requires_grad, "Tensor", "requires_grad")
        if dtype is not None:
            dtype = check_dtype(dtype, "Tensor", "dtype", kinds="biuf")
        try:
            array = np.array(data, dtype=dtype, copy=True)
        except (TypeError, ValueError) as error:
            fail("Tensor", "data", "numbers in a regular (non-ragged) nesting", f"{type(data).__name__} ({error})")
        if array.dtype.kind not in "biuf":
            fail("Tensor", "data", "boolean, integer or floating-point values",
                 f"dtype {array.dtype} from a {type(data).__name__}", TypeError)
        if requires_grad and array.dtype.kind != "f":
            fail("Tensor", "requires_grad", "False for non-floating data (only floating-point tensors have "
                 "gradients)", f"True with dtype {array.dtype}", TypeError)
        self.data = array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._node = None
        self._retains_grad = False

    @classmethod
    def _from_op(cls, data, requires_grad):
        """Wrap an op's fresh output without copying it."""
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._node = None
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------ array facts
    @property
    def shape(self):
        """Tuple of array dimensions."""
        return self.data.shape

    @property
    def dtype(self):
        """Data type of the values."""
        return self.data.dtype

    @property
    def ndim(self):
        """Number of dimensions."""
        return self.data.ndim

    @property
    def size(self):
        """Number of elements."""
        return self.data.size

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded op (they keep ``.grad``)."""
        return self._node is None

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.data.dtype != np.float64:
            extra = f", dtype={self.data.dtype}" + extra
        return f"Tensor({body}{extra})"

    def __array__(self, dtype=None, copy=None):
        # Lets plotting and NumPy functions read a Tensor; the result is outside the graph.
        return np.asarray(self.data, dtype=dtype)

    def numpy(self):
        """Return a copy of the values as an ndarray (outside the graph)."""
        return self.data.copy()

    def item(self):
        """Return the single value of a one-element tensor as a Python scalar."""
        if self.data.size != 1:
            raise ValueError(f"Tensor.item: self: expected exactly 1 element, got {self.data.size}")
        return self.data.item()

    def detach(self):
        """Return a tensor sharing the values but cut from the graph (no gradient flows back)."""
        return Tensor._from_op(self.data, False)

    def retain_grad(self):
        """Keep ``.grad`` on this interior tensor during :meth:`backward` (leaves always do)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad(): the tensor does not require gradients")
        self._retains_grad = True
        return self

    def zero_grad(self):
        """Forget the accumulated gradient (sets ``.grad`` to None)."""
        self.grad = None

    # ------------------------------------------------------------------ backward
    def backward(self, grad=None, retain_graph=False):
        """Compute gradients of this tensor with respect to every leaf that requires them.

        Parameters
        ----------
        grad : array_like, optional
            Upstream gradient dL/dself, same shape as this tensor. May be omitted only for
            a one-element tensor (the seed is then 1).
        retain_graph : bool, optional
            Keep the saved arrays so that backward can run through this graph again.

        Raises
        ------
        RuntimeError
            If the tensor does not require gradients, if ``grad`` is omitted for a
            non-scalar tensor, or if the graph was already released by an earlier backward.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): the tensor does not require gradients (no graph was recorded)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): the output has shape {self.shape}; pass `grad` of that shape "
                    "(only a one-element output gets the implicit seed 1)"
                )
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"Tensor.backward: grad: expected shape {self.shape}, got shape {grad.shape}")

        grads = {self: grad}
        for t in self._topological_order():
            g = grads.pop(t, None)
            if g is None:
                continue
            node = t._node
            if node is None or t._retains_grad:
                # copy: g may be shared with other tensors or be the caller's seed array
                t.grad = g.copy() if t.grad is None else t.grad + g
            if node is None:
                continue
            if node.released:
                raise RuntimeError(
                    f"backward(): the graph through {node.function.__name__} was already released by "
                    "an earlier backward; pass retain_graph=True to the first backward to walk it again"
                )
            input_grads = node.function._input_grads(node.ctx, node.inputs, g)
            for inp, ig in zip(node.inputs, input_grads):
                if ig is not None:
                    previous = grads.get(inp)
                    # never `+=`: `previous` may alias an array another tensor also holds
                    grads[inp] = ig if previous is None else previous + ig
            if not retain_graph:
                node.release()

    def _topological_order(self):
        """Tensors that require grad reachable from self, outputs before their inputs."""
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            t, expanded = stack.pop()
            if expanded:
                order.append(t)
                continue
            if t in visited:
                continue
            visited.add(t)
            stack.append((t, True))
            node = t._node
            if node is not None:
                for inp in node.inputs:
                    if inp.requires_grad and inp not in visited:
                        stack.append((inp, False))
        order.reverse()
        return order

    # ------------------------------------------------------------------ operators
    def __add__(self, other):
        return _ew.AddFunction.apply(self, other)

    def __radd__(self, other):
        return _ew.AddFunction.apply(other, self)

    def __sub__(self, other):
        return _ew.SubFunction.apply(self, other)

    def __rsub__(self, other):
        return _ew.SubFunction.apply(other, self)

    def __mul__(self, other):
        return _ew.MulFunction.apply(self, other)

    def __rmul__(self, other):
        return _ew.MulFunction.apply(other, self)

    def __truediv__(self, other):
        return _ew.DivFunction.apply(self, other)

    def __rtruediv__(self, other):
        return _ew.DivFunction.apply(other, self)

    def __pow__(self, other):
        return _ew.PowFunction.apply(self, other)

    def __rpow__(self, other):
        return _ew.PowFunction.apply(other, self)

    def __matmul__(self, other):
        return _linalg.MatMulFunction.apply(self, other)

    def __rmatmul__(self, other):
        return _linalg.MatMulFunction.apply(other, self)

    def __neg__(self):
        return _ew.NegFunction.apply(self)

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return _shape.GetItemFunction.apply(self, index=index, basic=_is_basic_index(index))

    # ------------------------------------------------------------------ methods
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (all axes by default)."""
        return _reduce.SumFunction.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis`` (all axes by default)."""
        return _reduce.MeanFunction.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``; tied maxima share the gradient equally."""
        return _reduce.MaxFunction.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None):
        """Indices of the maxima as an ndarray (not differentiable)."""
        return self.data.argmax(axis=axis)

    def reshape(self, *shape):
        """Return the values with a new shape (``reshape(2, 3)`` or ``reshape((2, 3))``)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _shape.ReshapeFunction.apply(self, shape=shape)

    def transpose(self, *axes):
        """Permute the axes (reverse them when none are given)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _shape.TransposeFunction.apply(self, axes=axes or None)

    @property
    def T(self):
        """The tensor with its axes reversed."""
        return _shape.TransposeFunction.apply(self, axes=None)

    def exp(self):
        """Elementwise e**x."""
        return _ew.ExpFunction.apply(self)

    def log(self):
        """Elementwise natural logarithm."""
        return _ew.LogFunction.apply(self)

    def relu(self):
        """Elementwise max(x, 0)."""
        return _ew.ReLUFunction.apply(self)

    def tanh(self):
        """Elementwise hyperbolic tangent."""
        return _ew.TanhFunction.apply(self)

    def sigmoid(self):
        """Elementwise logistic function 1 / (1 + e**-x)."""
        return _ew.SigmoidFunction.apply(self)

    def clip(self, min=None, max=None):
        """Elementwise clip to [min, max]; the gradient passes where min <= x <= max."""
        return _ew.ClipFunction.apply(self, low=min, high=max)

    def astype(self, dtype):
        """Return the values cast to ``dtype``; the gradient is cast back."""
        return _ew.CastFunction.apply(self, dtype=np.dtype(dtype))


def as_tensor_like(values, opname):
    """Convert op inputs to Tensors of one floating dtype.

    Tensors pass through. Python and NumPy scalars take the floating dtype of the tensor or
    array operands; other arrays are copied (an op keeps its inputs for backward, and the
    caller's array must not change them). Operands of two different floating dtypes raise
    ``TypeError`` naming the op, because silently promoting float32 to float64 doubles memory
    and hides mistakes.
    """
    dtype = None
    all_tensors = True
    for v in values:
        if isinstance(v, Tensor):
            d = v.data.dtype
        elif isinstance(v, np.ndarray):
            all_tensors = False
            d = v.dtype
        else:
            all_tensors = False
            continue
        if d.kind == "f":
            if dtype is None:
                dtype = d
            elif d != dtype:
                raise TypeError(
                    f"{opname}: operands: expected one floating dtype, got {dtype} and {d}; cast one explicitly "
                    "(ops never change dtype silently)"
                )
    if all_tensors:
        return values
    converted = []
    for v in values:
        if isinstance(v, Tensor):
            converted.append(v)
            continue
        target = dtype
        if isinstance(v, np.ndarray) and v.dtype.kind not in "biuf":
            target = None
        try:
            array = np.array(v, dtype=target, copy=True)
        except (TypeError, ValueError):
            array = np.empty((), dtype=object)
        if array.dtype == object:
            raise TypeError(f"{opname}: operand: expected a Tensor, an array or a number, got a {type(v).__name__}")
        converted.append(Tensor._from_op(array, False))
    return tuple(converted)


# Function.apply wraps its outputs in Tensors; function.py cannot import this module (the ops it
# serves are imported here), so the class is handed over once, now that it exists.
_function._use_tensor_class(Tensor, as_tensor_like)
