"""``Parameter``, ``Module`` and the containers ``Sequential`` and ``ModuleList``.

A ``Module`` registers what is assigned to its attributes: a :class:`Parameter` becomes one of
its parameters and a ``Module`` one of its children, in assignment order. Everything else
(``parameters()``, dotted names, ``train()``/``eval()``, ``state_dict()``) walks that tree.

State dicts map dotted names to ndarray copies (``"features.0.weight"``), so a checkpoint
is a plain ``numpy.savez`` archive that loads without pickle.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from ..autograd.tensor import Tensor
from ..validation import check_bool, check_dtype, check_mapping, check_real_array, fail

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "LoadResult"]


class Parameter(Tensor):
    """A leaf Tensor that a :class:`Module` registers as trainable (``requires_grad=True``).

    Parameters
    ----------
    data : array_like
        Initial values (copied).
    requires_grad : bool
        Set False to freeze it.
    dtype : dtype, optional
        Convert the values to this dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np.nn import Parameter
    >>> Parameter(np.zeros(2, dtype=np.float32))
    Parameter([0., 0.], dtype=float32, requires_grad=True)
    """

    def __init__(self, data, requires_grad=True, dtype=None):
        data = check_real_array(data, "Parameter", "data", dtype=None)
        dtype = None if dtype is None else check_dtype(dtype, "Parameter", "dtype")
        if dtype is None and data.dtype.kind != "f":
            fail("Parameter", "data", "floating-point values (or a float dtype)", f"dtype {data.dtype}", TypeError)
        super().__init__(data, requires_grad=check_bool(requires_grad, "Parameter", "requires_grad"), dtype=dtype)

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("Tensor"):]


class LoadResult(NamedTuple):
    """What :meth:`Module.load_state_dict` could not match (empty lists when strict)."""

    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of layers and models: override :meth:`forward`, call the module itself.

    Assigning a :class:`Parameter` or a ``Module`` to an attribute registers it; the
    ``training`` flag (True after construction) is switched recursively by :meth:`train`
    and :meth:`eval` and read by layers such as dropout.

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np import nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(4, 8)
    ...         self.out = nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())
    >>> model = TwoLayer()
    >>> [name for name, _ in model.named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    >>> model(np.zeros((3, 4), dtype=np.float32)).shape
    (3, 2)
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal
    def named_children(self):
        """Yield ``(name, module)`` for the direct submodules, in assignment order."""
        yield from self._modules.items()

    def children(self):
        """Yield the direct submodules."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix=""):
        """Yield ``(dotted name, module)`` for this module (name ``prefix``) and every descendant."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self):
        """Yield this module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix=""):
        """Yield ``(dotted name, Parameter)``: own parameters first, then each child's, in order.

        A parameter shared by several modules is reported once, under its first name.
        """
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self):
        """Yield every parameter once, in :meth:`named_parameters` order."""
        for _, p in self.named_parameters():
            yield p

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode=True):
        """Set ``training`` on this module and all descendants; returns self."""
        mode = check_bool(mode, f"{type(self).__name__}.train", "mode")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Switch to evaluation mode (``train(False)``); returns self."""
        return self.train(False)

    def zero_grad(self):
        """Forget every parameter's accumulated gradient (``.grad = None``)."""
        for p in self.parameters():
            p.grad = None

    def astype(self, dtype):
        """Convert every parameter to ``dtype`` in place (e.g. float64 for gradient checks); returns self.

        The Parameter objects stay the same (an optimizer holding them still works) and their
        gradients are dropped.
        """
        dtype = check_dtype(dtype, f"{type(self).__name__}.astype", "dtype")
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        return self

    # ------------------------------------------------------------------ state
    def state_dict(self):
        """An ordered ``{dotted name: ndarray copy}`` of every parameter."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` (name -> array) into the parameters, in place.

        Parameters
        ----------
        state_dict : mapping
            Dotted names to ndarrays (or Tensors), as returned by :meth:`state_dict`.
        strict : bool
            When True, missing and unexpected names are errors; when False they are returned.

        Returns
        -------
        LoadResult
            ``(missing_keys, unexpected_keys)``.

        Raises
        ------
        ValueError
            Listing every missing, unexpected (when strict), shape-mismatched and
            dtype-mismatched name; nothing is loaded when it is raised.
        TypeError
            When ``state_dict`` is not a mapping or a value is not a real array.
        """
        here = f"{type(self).__name__}.load_state_dict"
        check_mapping(state_dict, here, "state_dict", "a dict of parameter names to arrays")
        strict = check_bool(strict, here, "strict")
        own = OrderedDict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        values = {}
        for name, p in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.dtype.kind not in "biuf":
                problems.append(f"{name}: {value.dtype} values in the state dict, not numbers")
            elif value.shape != p.shape:
                problems.append(f"{name}: shape {value.shape} in the state dict, {p.shape} in the model")
            elif value.dtype != p.dtype:
                problems.append(
                    f"{name}: dtype {value.dtype} in the state dict, {p.dtype} in the model "
                    "(convert one with astype first)"
                )
            values[name] = value
        if problems:
            fail(here, "state_dict", "the model's parameter names, shapes and dtypes", "; ".join(problems))
        for name, value in values.items():
            np.copyto(own[name].data, value)
        return LoadResult(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self):
        """The arguments shown inside this module's parentheses by ``repr``."""
        return ""

    def __repr__(self):
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n" + "\n".join(lines) + "\n)"


class ModuleList(Module):
    """A list of modules registered under the names "0", "1", ...

    Examples
    --------
    >>> from stn_np import nn
    >>> heads = nn.ModuleList([nn.Linear(3, 1), nn.Linear(3, 1)])
    >>> len(heads), [n for n, _ in heads.named_parameters()][:2]
    (2, ['0.weight', '0.bias'])
    """

    def __init__(self, modules=()):
        super().__init__()
        if not isinstance(modules, (list, tuple)) and not hasattr(modules, "__iter__"):
            fail(type(self).__name__, "modules", "an iterable of Modules", f"a {type(modules).__name__}", TypeError)
        for m in modules:
            if not isinstance(m, Module):
                fail(type(self).__name__, "modules", "Modules only", f"a {type(m).__name__} among them", TypeError)
            self.append(m)

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        if not isinstance(module, Module):
            fail(f"{type(self).__name__}.append", "module", "a Module", f"a {type(module).__name__}", TypeError)
        setattr(self, str(len(self._modules)), module)
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return type(self)(items[index])
        return items[index]


class Sequential(ModuleList):
    """Modules applied one after another: ``Sequential(a, b)(x) == b(a(x))``.

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np import nn
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> net(np.ones((5, 4), dtype=np.float32)).shape
    (5, 2)
    >>> net
    Sequential(
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): ReLU()
      (2): Linear(in_features=3, out_features=2, bias=True)
    )
    """

    def __init__(self, *modules):
        super().__init__(modules)

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*items[index])
        return items[index]

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x
