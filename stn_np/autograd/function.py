"""The ``Function`` base class: one differentiable op = one forward and its hand-derived backward.

An op is written as a subclass with two static methods side by side::

    class MulFunction(Function):
        '''z = x * y;  dL/dx = g * y,  dL/dy = g * x.'''
        broadcasts = True

        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_arrays
            return g * y, g * x

``forward`` receives plain ndarrays (the ``.data`` of the tensor inputs) and any keyword
arguments; ``backward`` receives the upstream gradient ``g`` (same shape and dtype as the
output) and returns one gradient per tensor input (``None`` where no gradient is needed).

What every op gets for free from :meth:`Function.apply`, so that no op repeats it:

* conversion of array-likes and Python scalars to tensors (scalars take the dtype of the
  tensor operands, so ``x * 2`` keeps float32 float32);
* a refusal to mix float32 and float64 operands silently (``TypeError``);
* un-broadcasting of the returned gradients, done once here for ops that declare
  ``broadcasts = True``;
* a check that every returned gradient has exactly the shape and dtype of its input, with
  an error naming the op when it does not;
* ``ctx.needs_input_grad`` all False while gradients are disabled (``no_grad``), so
  ``forward`` can skip work kept only for ``backward`` by reading its context alone;
* saved arrays handed back read-only (:meth:`Context.save_for_backward`), so a backward cannot
  corrupt an input it shares memory with; with :func:`detect_mutation` on, an array changed in
  place between forward and backward is reported instead of silently giving a wrong gradient.

Imports point one way: the ops import this module, and ``tensor.py`` imports this module and
the core ops; this module imports neither. ``Function.apply`` still makes Tensors: ``tensor.py``
hands over its class when it loads (:func:`_use_tensor_class`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Function", "Context", "no_grad", "enable_grad", "is_grad_enabled", "trace_functions",
           "detect_mutation"]

_grad_enabled = True
# When not None, the set of Function classes applied (see trace_functions); lets the test
# suite prove that every op is exercised by a registered gradient check.
_traced = None
# When True, save_for_backward keeps a copy of each saved array to compare at backward.
_detect_mutation = False
# The Tensor class and its input converter, handed over by tensor.py as it loads: tensor.py
# imports this module, never the reverse, so the engine has no import cycle.
_Tensor = None
_as_tensor_like = None


def _use_tensor_class(tensor_class, as_tensor_like):
    """Called once by ``tensor.py``: the class ``Function.apply`` wraps its outputs in."""
    global _Tensor, _as_tensor_like
    _Tensor, _as_tensor_like = tensor_class, as_tensor_like


class no_grad:
    """Context manager and decorator that disables graph recording.

    Inside the block, ops compute their values but record no graph, so results never
    require gradients. The previous state is restored on exit, also when an exception
    propagates, and blocks nest.

    Examples
    --------
    >>> import stn_np
    >>> x = stn_np.Tensor([1.0, 2.0], requires_grad=True)
    >>> with stn_np.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    _enable = False

    def __enter__(self):
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = self._enable
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Context manager and decorator that re-enables graph recording inside ``no_grad``."""

    _enable = True


def is_grad_enabled():
    """Return True when ops currently record the graph for backward."""
    return _grad_enabled


class trace_functions:
    """Context manager collecting the ``Function`` classes applied inside the block.

    Used by the test suite to check that the gradient-check registry exercises every op.

    Examples
    --------
    >>> import stn_np
    >>> with stn_np.autograd.trace_functions() as used:
    ...     _ = stn_np.Tensor([1.0]) * 3
    >>> sorted(f.__name__ for f in used)
    ['MulFunction']
    """

    def __enter__(self):
        global _traced
        self._previous = _traced
        self.functions = set() if _traced is None else _traced
        _traced = self.functions
        return self.functions

    def __exit__(self, *exc):
        global _traced
        _traced = self._previous
        return False


class detect_mutation(no_grad):
    """Context manager and decorator: report saved arrays changed in place before backward.

    An op keeps references to the arrays it saved (often a tensor's own ``.data``); changing
    one in place between forward and backward silently gives a wrong gradient. Inside this
    block every :meth:`Context.save_for_backward` also keeps a copy, and the backward pass
    raises ``RuntimeError`` naming the op and the array when they differ. It costs a copy of
    every saved array and a comparison per backward (measured in
    ``benchmarks/bench_autograd.py``), so it is off by default: a debugging switch.

    Examples
    --------
    >>> import numpy as np, stn_np
    >>> x = stn_np.Tensor([1.0, 2.0], requires_grad=True)
    >>> with stn_np.autograd.detect_mutation():
    ...     y = (x * x).sum()
    ...     x.data[0] = 5.0                      # changed after forward
    ...     y.backward()
    Traceback (most recent call last):
    ...
    RuntimeError: MulFunction.backward: saved array 0 (shape (2,)) was modified in place after the forward pass; recompute the forward after changing inputs
    """

    def __enter__(self):
        global _detect_mutation
        self._previous = _detect_mutation
        _detect_mutation = True
        return self

    def __exit__(self, *exc):
        global _detect_mutation
        _detect_mutation = self._previous
        return False


def _read_only(array):
    """A read-only view of ``array`` (non-arrays pass through): backward cannot write into it."""
    if isinstance(array, np.ndarray) and array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


class Context:
    """Per-call storage handed to ``forward`` and ``backward``.

    Attributes
    ----------
    needs_input_grad : tuple of bool
        For each tensor input, whether its gradient is needed; ``backward`` may skip the
        work for the others and return ``None``. All False while gradients are disabled.
    saved_arrays : tuple of ndarray
        What ``forward`` passed to :meth:`save_for_backward`, as read-only views.

    ``forward`` may also set any other attribute (shapes, axes, masks) for ``backward``.
    """

    __slots__ = ("needs_input_grad", "saved_arrays", "_copies", "__dict__")

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_arrays = ()
        self._copies = None

    def save_for_backward(self, *arrays):
        """Keep arrays for ``backward`` (as read-only views); released after the backward pass."""
        self.saved_arrays = tuple(_read_only(a) for a in arrays)
        if _detect_mutation:
            self._copies = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in arrays)

    def check_unchanged(self, opname):
        """Raise ``RuntimeError`` if a saved array differs from its copy (only under :class:`detect_mutation`)."""
        if self._copies is None:
            return
        for i, (array, copy) in enumerate(zip(self.saved_arrays, self._copies)):
            if copy is not None and not np.array_equal(array, copy, equal_nan=array.dtype.kind in "fc"):
                raise RuntimeError(
                    f"{opname}.backward: saved array {i} (shape {array.shape}) was modified in place after the "
                    "forward pass; recompute the forward after changing inputs"
                )


class Node:
    """The record an op leaves on its output: which op, its context and its inputs."""

    __slots__ = ("function", "ctx", "inputs", "released")

    def __init__(self, function, ctx, inputs):
        self.function = function
        self.ctx = ctx
        self.inputs = inputs
        self.released = False

    def release(self):
        """Drop saved arrays and input references so their memory can be freed."""
        self.ctx = None
        self.inputs = ()
        self.released = True


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting.

    Leading axes that broadcasting added are summed away, then axes where ``shape`` has
    size 1 are summed with ``keepdims``. Returns ``grad`` unchanged when the shapes match.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        return grad  # cannot be un-broadcast; the shape check reports it
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


class Function:
    """Base class of every differentiable op; see the module docstring for the contract.

    Class attributes
    ----------------
    broadcasts : bool
        True for ops whose tensor inputs broadcast against each other (elementwise binary
        ops, batched matmul). Their gradients are un-broadcast centrally; for every other op
        a gradient must already have the exact shape of its input.
    """

    broadcasts = False

    @staticmethod
    def forward(ctx, *arrays, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run the op on tensor-like ``inputs`` (keyword arguments are constants).

        Returns a new :class:`~stn_np.Tensor` that records this op when gradients are
        enabled and any input requires a gradient.
        """
        tensors = _as_tensor_like(inputs, cls.__name__)
        if _traced is not None:
            _traced.add(cls)
        needs = tuple(t.requires_grad for t in tensors) if _grad_enabled else (False,) * len(tensors)
        record = any(needs)
        ctx = Context(needs)
        out = cls.forward(ctx, *[t.data for t in tensors], **kwargs)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
        result = _Tensor._from_op(out, record)
        if record:
            result._node = Node(cls, ctx, tensors)
        return result

    @classmethod
    def _input_grads(cls, ctx, inputs, grad):
        """Call ``backward`` and check what it returns; used by ``Tensor.backward``."""
        ctx.check_unchanged(cls.__name__)
        grads = cls.backward(ctx, grad)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(inputs):
            raise RuntimeError(
                f"{cls.__name__}.backward returned {len(grads)} gradients for {len(inputs)} inputs"
            )
        checked = []
        for i, (g, t) in enumerate(zip(grads, inputs)):
            if g is None or not t.requires_grad:
                checked.append(None)
                continue
            g = np.asarray(g)
            if cls.broadcasts:
                g = unbroadcast(g, t.shape)
            if g.shape != t.shape or g.dtype != t.dtype:
                raise RuntimeError(
                    f"{cls.__name__}.backward returned a gradient of shape {g.shape} and dtype "
                    f"{g.dtype} for input {i}, which has shape {t.shape} and dtype {t.dtype}"
                )
            checked.append(g)
        return checked

