"""Optimizers (SGD, Adam) with PyTorch's exact update rules, and the StepLR schedule.

Parameters are updated in place after ``backward`` (never between a forward and its
backward: ops keep references to their inputs); parameters whose ``grad`` is None are
skipped, and float32 parameters and states stay float32.

An optimizer takes either a list of tensors or a list of parameter groups, dicts with
``"params"`` and any per-group options overriding the defaults::

    opt = Adam([{"params": loc_net.parameters(), "lr": 1e-4},
                {"params": classifier.parameters()}], lr=1e-3)

Every option is checked when an optimizer is made and again when ``load_state_dict`` restores
one (so a checkpoint holding ``lr = NaN`` is refused, not resumed): learning rates, momenta,
dampening, weight decay and ``eps`` are finite numbers >= 0, Adam's ``betas`` two numbers in
[0, 1), ``nesterov`` a bool; a ``StepLR``'s ``gamma`` is finite and > 0.

``state_dict()`` holds plain numbers, tuples and ndarrays only; :func:`flatten_state_dict`
turns it into ``{name: ndarray}`` for a pickle-free ``numpy.savez`` checkpoint and
:func:`unflatten_state_dict` turns that back into something ``load_state_dict`` accepts
(``load_state_dict`` also accepts the flat form directly).
"""

from __future__ import annotations

import numpy as np

from .autograd.tensor import Tensor
from .validation import (
    check_bool,
    check_finite,
    check_int,
    check_mapping,
    check_number,
    check_real_array,
    describe,
    fail,
)

__all__ = ["Optimizer", "SGD", "Adam", "StepLR", "flatten_state_dict", "unflatten_state_dict"]


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``step`` and the state of each parameter.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The tensors to optimise, or groups ``{"params": [...], option: value, ...}``.
    defaults : dict
        Option values for groups that do not set them.

    Attributes
    ----------
    param_groups : list of dict
        Each with "params" (a list of Tensors) and every option.
    state : dict
        Per-parameter state (momentum buffers, moments, step counts), keyed by the
        parameter's position in the flattened groups.
    """

    #: Options that are finite numbers >= 0 (lr, momentum, ...); subclasses extend it.
    _NUMBERS = ("lr",)

    def __init__(self, params, defaults):
        here = type(self).__name__
        self.defaults = self._check_options(dict(defaults), here, "")
        if isinstance(params, Tensor):
            fail(here, "params", "an iterable of Tensors or of dicts", "a single Tensor", TypeError)
        if isinstance(params, (str, bytes, dict)) or not hasattr(params, "__iter__"):
            fail(here, "params", "an iterable of Tensors or of dicts", f"a {type(params).__name__}", TypeError)
        groups = list(params)
        if not groups:
            fail(here, "params", "at least one Tensor to optimise", "an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups = []
        self.state = {}
        seen = set()
        for i, group in enumerate(groups):
            where = f"params[{i}]"
            if not isinstance(group, dict) or "params" not in group:
                fail(here, where, "a dict with a 'params' entry (every group, when the first is a dict)",
                     describe(group), TypeError)
            unknown = set(group) - set(self.defaults) - {"params"}
            if unknown:
                fail(here, where, f"options among {sorted(self.defaults)}", f"unknown options {sorted(unknown)}")
            members = group["params"]
            if not isinstance(members, Tensor) and not hasattr(members, "__iter__"):
                fail(here, where, "a 'params' entry holding Tensors", f"a {type(members).__name__}", TypeError)
            tensors = [members] if isinstance(members, Tensor) else list(members)
            for p in tensors:
                if not isinstance(p, Tensor):
                    fail(here, where, "Tensors", f"a {type(p).__name__}", TypeError)
                if not p.requires_grad:
                    fail(here, where, "tensors that require grad", f"a tensor of shape {p.shape} that does not")
                if id(p) in seen:
                    fail(here, where, "each tensor once", f"a tensor of shape {p.shape} more than once")
                seen.add(id(p))
            full = dict(self.defaults)
            full.update(self._check_options({k: v for k, v in group.items() if k != "params"}, here, where))
            self._check_group(full, here, lambda key, g=group, w=where: f"{w}[{key!r}]" if key in g else key)
            full["params"] = tensors
            self.param_groups.append(full)

    def _check_options(self, options, function, where):
        """``options`` validated and normalised: finite numbers >= 0 as Python floats, bools as bools.

        ``where`` prefixes the option's name in messages (``params[1]``, a saved group, or ""
        for the constructor's own arguments).
        """
        for key, value in options.items():
            name = f"{where}[{key!r}]" if where else key
            if isinstance(value, np.ndarray) and value.ndim == 0 or isinstance(value, np.generic):
                value = value.item()  # a NumPy scalar would promote float32 updates
            if key in self._NUMBERS:
                value = check_number(value, function, name, minimum=0)
            options[key] = value
        return options

    def _check_group(self, group, function, name_of):
        """Checks across the options of one group (none in the base class); ``name_of(option)`` names it."""

    def _indexed_params(self):
        """Yield ``(index, group, parameter)`` over every parameter, numbered across groups."""
        index = 0
        for group in self.param_groups:
            for p in group["params"]:
                yield index, group, p
                index += 1

    def zero_grad(self):
        """Forget the gradients of every parameter (``.grad = None``)."""
        for _, _, p in self._indexed_params():
            p.grad = None

    def step(self):
        """Update every parameter that has a gradient, in place."""
        for index, group, p in self._indexed_params():
            if p.grad is not None:
                self._update(p, p.grad, self.state.setdefault(index, {}), group)

    def _update(self, p, grad, state, group):  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def state_dict(self):
        """``{"state": {index: {name: ndarray or int}}, "param_groups": [{option: value, "params": [indices]}]}``.

        Arrays are copies; parameters are referred to by their index across the groups.
        """
        state = {i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                 for i, s in self.state.items()}
        groups, start = [], 0
        for group in self.param_groups:
            entry = {k: v for k, v in group.items() if k != "params"}
            entry["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(entry)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore options and per-parameter state from :meth:`state_dict` (nested or flattened).

        Everything is checked before anything changes: the options as the constructor checks
        them (a checkpoint holding ``lr = NaN`` is refused), and every state array (its
        parameter's shape, finite values).

        Raises
        ------
        ValueError
            When the groups or their sizes differ, an option is out of range, or a state
            array's shape does not match its parameter or holds NaN or inf.
        TypeError
            When ``state_dict`` is not a mapping or holds the wrong types.
        """
        here = f"{type(self).__name__}.load_state_dict"
        check_mapping(state_dict, here, "state_dict", "a dict with 'state' and 'param_groups'")
        if "param_groups" not in state_dict:
            state_dict = unflatten_state_dict(state_dict, here, "state_dict")
        groups, saved_state = state_dict.get("param_groups"), state_dict.get("state", {})
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, dict) for g in groups):
            fail(here, "state_dict", "a 'param_groups' list of dicts", describe(groups), TypeError)
        check_mapping(saved_state, here, "state_dict['state']", "a dict of parameter index to state")
        if len(groups) != len(self.param_groups):
            fail(here, "state_dict", f"{len(self.param_groups)} parameter groups, as the optimizer has",
                 f"{len(groups)}")
        options = []
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            where = f"state_dict['param_groups'][{i}]"
            count = len(saved.get("params", ()))
            if count != len(own["params"]):
                fail(here, where, f"{len(own['params'])} parameters, as group {i} of the optimizer has",
                     f"{count} (group {i} has {count} parameters)")
            unknown = set(saved) - set(self.defaults) - {"params"}
            if unknown:
                fail(here, where, f"options among {sorted(self.defaults)}", f"unknown options {sorted(unknown)}")
            values = {k: (tuple(v) if isinstance(own.get(k), tuple) and hasattr(v, "__iter__") else v)
                      for k, v in saved.items() if k != "params"}
            merged = dict(own, **self._check_options(values, here, where))
            self._check_group(merged, here, lambda key, w=where: f"{w}[{key!r}]")
            options.append(merged)
        params = {index: p for index, _, p in self._indexed_params()}
        state = {}
        for index, entries in saved_state.items():
            where = f"state_dict['state'][{index!r}]"
            try:
                index = int(index)
            except (TypeError, ValueError):
                fail(here, where, "an int parameter index", describe(index))
            if index not in params:
                fail(here, where, f"state of one of the optimizer's {len(params)} parameters",
                     f"state for parameter {index}")
            check_mapping(entries, here, where)
            p = params[index]
            state[index] = {}
            for name, value in entries.items():
                if name == "step":
                    state[index][name] = check_int(np.asarray(value).item() if np.ndim(value) == 0 and
                                                   isinstance(value, np.ndarray) else value,
                                                   here, f"{where}['step']", minimum=0)
                    continue
                value = check_real_array(value, here, f"{where}[{name!r}]", dtype=None)
                if value.shape != p.shape:
                    fail(here, f"{where}[{name!r}]", f"shape {p.shape}, as parameter {index} has",
                         f"shape {value.shape} ({name} of parameter {index} has shape {value.shape})")
                check_finite(value, here, f"{where}[{name!r}]")
                state[index][name] = value.astype(p.dtype, copy=True)
        for own, merged in zip(self.param_groups, options):
            own.update({k: v for k, v in merged.items() if k != "params"})
        self.state = state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            options = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} tensors, {options}")
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    PyTorch's rule, for gradient ``g`` of parameter ``p`` at step t::

        d = g + weight_decay * p
        b = d                                       (first step)
        b = momentum * b + (1 - dampening) * d      (later steps; only when momentum != 0)
        d = d + momentum * b  if nesterov  else  b
        p = p - lr * d

    Parameters
    ----------
    params : iterable of Tensor or of dict
        See :class:`Optimizer`.
    lr : float
        Learning rate.
    momentum, dampening, weight_decay : float
        As in the rule above (all 0 by default).
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    """

    _NUMBERS = ("lr", "momentum", "dampening", "weight_decay")

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))

    def _check_options(self, options, function, where):
        options = super()._check_options(options, function, where)
        if "nesterov" in options:
            options["nesterov"] = check_bool(options["nesterov"], function,
                                             f"{where}['nesterov']" if where else "nesterov")
        return options

    def _check_group(self, group, function, name_of):
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            fail(function, name_of("nesterov"),
                 "False unless momentum > 0 and dampening == 0 (Nesterov momentum needs both)",
                 f"True with momentum {group['momentum']:g} and dampening {group['dampening']:g}")

    def _update(self, p, grad, state, group):
        d = grad
        if group["weight_decay"] != 0:
            d = d + group["weight_decay"] * p.data
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * d
            d = d + momentum * buf if group["nesterov"] else buf
        p.data -= group["lr"] * d


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's rule and bias corrections::

        g = g + weight_decay * p                   (L2 penalty, as torch.optim.Adam)
        m = m + (1 - beta1) * (g - m)              (first moment)
        v = beta2 * v + (1 - beta2) * g * g        (second moment)
        p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Parameters
    ----------
    params : iterable of Tensor or of dict
        See :class:`Optimizer`.
    lr : float
        Learning rate (1e-3).
    betas : (float, float)
        Decay rates of the two moments (0.9, 0.999).
    eps : float
        Added to the denominator (1e-8).
    weight_decay : float
        L2 penalty coefficient (0).
    """

    _NUMBERS = ("lr", "eps", "weight_decay")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _check_options(self, options, function, where):
        options = super()._check_options(options, function, where)
        if "betas" in options:
            betas = options["betas"]
            values = np.asarray(betas) if isinstance(betas, (tuple, list, np.ndarray)) else None
            if (values is None or values.shape != (2,) or values.dtype.kind not in "iuf"
                    or not np.all((values >= 0) & (values < 1))):
                shown = tuple(values.tolist()) if values is not None and values.dtype.kind in "iuf" else betas
                fail(function, f"{where}['betas']" if where else "betas", "two numbers in [0, 1)", describe(shown))
            options["betas"] = tuple(float(b) for b in values)
        return options

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        beta1, beta2 = group["betas"]
        state["step"] += 1
        t = state["step"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (grad - m)
        v *= beta2
        v += (1 - beta2) * (grad * grad)
        step_size = group["lr"] / (1 - beta1**t)
        denom = np.sqrt(v) / (1 - beta2**t) ** 0.5
        denom += group["eps"]
        p.data -= step_size * (m / denom)


class StepLR:
    """Multiply each group's learning rate by ``gamma`` every ``step_size`` calls of :meth:`step`.

    Call ``scheduler.step()`` once per epoch, after ``optimizer.step()``. After e epochs the
    rate is ``initial_lr * gamma ** (e // step_size)`` (applied by multiplication, as PyTorch
    does, so changes made to a group's lr in between are kept).

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np import Tensor
    >>> from stn_np.optim import SGD, StepLR
    >>> opt = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> for _ in range(4):
    ...     sched.step()
    ...     print(sched.get_last_lr())
    [1.0]
    [0.5]
    [0.5]
    [0.25]
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        if not isinstance(optimizer, Optimizer):
            fail("StepLR", "optimizer", "an Optimizer", f"a {type(optimizer).__name__}", TypeError)
        self.optimizer = optimizer
        self.step_size = check_int(step_size, "StepLR", "step_size", minimum=1)
        self.gamma = check_number(gamma, "StepLR", "gamma", minimum=0, strict_low=True)
        self.last_epoch = 0
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]

    def step(self):
        """Advance one epoch, decaying the learning rates when a multiple of ``step_size`` is reached."""
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            for group in self.optimizer.param_groups:
                group["lr"] = group["lr"] * self.gamma

    def get_last_lr(self):
        """The current learning rate of each group."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """``{"step_size", "gamma", "last_epoch", "base_lrs"}`` as plain numbers."""
        return {"step_size": self.step_size, "gamma": self.gamma, "last_epoch": self.last_epoch,
                "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned (0-d or 1-d arrays too), checked as the constructor checks."""
        here = "StepLR.load_state_dict"
        check_mapping(state_dict, here, "state_dict")
        missing = [k for k in ("step_size", "gamma", "last_epoch", "base_lrs") if k not in state_dict]
        if missing:
            fail(here, "state_dict", "the keys step_size, gamma, last_epoch and base_lrs", f"no {', '.join(missing)}")
        scalar = lambda key: np.asarray(state_dict[key]).item() if isinstance(state_dict[key], np.ndarray) \
            else state_dict[key]  # noqa: E731 - 0-d arrays from an npz file
        step_size = check_int(scalar("step_size"), here, "state_dict['step_size']", minimum=1)
        gamma = check_number(scalar("gamma"), here, "state_dict['gamma']", minimum=0, strict_low=True)
        last_epoch = check_int(scalar("last_epoch"), here, "state_dict['last_epoch']", minimum=0)
        base_lrs = check_finite(np.atleast_1d(check_real_array(state_dict["base_lrs"], here, "state_dict['base_lrs']")),
                                here, "state_dict['base_lrs']")
        self.step_size, self.gamma, self.last_epoch = step_size, gamma, last_epoch
        self.base_lrs = [float(v) for v in base_lrs]


def flatten_state_dict(state_dict, prefix=""):
    """Flatten nested dicts/lists of numbers and arrays to ``{dotted name: ndarray}``.

    ``{"state": {0: {"exp_avg": a}}, "param_groups": [{"lr": 0.1, "params": [0]}]}`` becomes
    ``{"state.0.exp_avg": a, "param_groups.0.lr": array(0.1), "param_groups.0.params": array([0])}``;
    list entries are numbered. Lists and tuples of plain numbers are stored as one array.

    Examples
    --------
    >>> sorted(flatten_state_dict({"a": {"b": 1.5}, "c": [{"d": (1, 2)}]}))
    ['a.b', 'c.0.d']
    """
    check_mapping(state_dict, "flatten_state_dict", "state_dict")
    if not isinstance(prefix, str):
        fail("flatten_state_dict", "prefix", "a str", describe(prefix), TypeError)
    flat = {}
    for key, value in state_dict.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_state_dict(value, name + "."))
        elif isinstance(value, (list, tuple)) and value and isinstance(value[0], dict):
            flat.update(flatten_state_dict({str(i): v for i, v in enumerate(value)}, name + "."))
        else:
            flat[name] = np.array(value)
    return flat


def unflatten_state_dict(flat, function="unflatten_state_dict", argument="flat"):
    """Inverse of :func:`flatten_state_dict` for optimizer state dicts.

    Numbered levels become lists under "param_groups" and int keys under "state"; 0-d arrays
    become Python numbers, 1-d option arrays tuples (e.g. Adam's ``betas``), "params" lists.
    ``function`` and ``argument`` name the caller in error messages.
    """
    check_mapping(flat, function, argument, "a dict of dotted names to arrays")
    nested = {}
    for name, value in flat.items():
        if not isinstance(name, str) or not (name.startswith("state.") or name.startswith("param_groups.")):
            fail(function, argument, "names starting with 'state.' or 'param_groups.'", describe(name))
        keys = name.split(".")
        node = nested
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value

    def restore(value, key):
        value = np.asarray(value)
        if key == "params":
            return [int(i) for i in value]
        if value.ndim == 0:
            return value.item()
        return value

    for level in ("state", "param_groups"):
        for i in nested.get(level, {}):
            if not i.isdigit():
                fail(function, argument, f"numbered entries under {level!r}", describe(f"{level}.{i}"))
    state = {int(i): {k: restore(v, k) for k, v in entries.items()}
             for i, entries in nested.get("state", {}).items()}
    groups = []
    for i in sorted(nested.get("param_groups", {}), key=int):
        group = nested["param_groups"][i]
        groups.append({k: (tuple(restore(v, k)) if np.ndim(v) == 1 and k != "params" else restore(v, k))
                       for k, v in group.items()})
    return {"state": state, "param_groups": groups}
