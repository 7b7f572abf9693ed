"""Optimizers (SGD, Adam) with PyTorch's exact update rules, and the StepLR schedule.

Parameters are updated in place after ``backward`` (never between a forward and its
backward: ops keep references to their inputs); parameters whose ``grad`` is None are
skipped, and float32 parameters and states stay float32.

An optimizer takes either a list of tensors or a list of parameter groups, dicts with
``"params"`` and any per-group options overriding the defaults::

    opt = Adam([{"params": loc_net.parameters(), "lr": 1e-4},
                {"params": classifier.parameters()}], lr=1e-3)

``state_dict()`` holds plain numbers, tuples and ndarrays only; :func:`flatten_state_dict`
turns it into ``{name: ndarray}`` for a pickle-free ``numpy.savez`` checkpoint and
:func:`unflatten_state_dict` turns that back into something ``load_state_dict`` accepts
(``load_state_dict`` also accepts the flat form directly).
"""

from __future__ import annotations

import numpy as np

from .autograd.tensor import Tensor

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

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        if isinstance(params, Tensor):
            raise TypeError("params: expected an iterable of Tensors or of dicts, got a single Tensor")
        groups = list(params)
        if not groups:
            raise ValueError("params: the optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups = []
        self.state = {}
        seen = set()
        for i, group in enumerate(groups):
            if not isinstance(group, dict) or "params" not in group:
                raise TypeError(f"params: group {i} must be a dict with a 'params' entry")
            unknown = set(group) - set(self.defaults) - {"params"}
            if unknown:
                raise ValueError(f"params: group {i} has unknown options {sorted(unknown)}; known: {sorted(self.defaults)}")
            tensors = [group["params"]] if isinstance(group["params"], Tensor) else list(group["params"])
            for p in tensors:
                if not isinstance(p, Tensor):
                    raise TypeError(f"params: group {i} holds a {type(p).__name__}, expected Tensors")
                if not p.requires_grad:
                    raise ValueError(f"params: group {i} holds a tensor of shape {p.shape} that does not require grad")
                if id(p) in seen:
                    raise ValueError(f"params: a tensor of shape {p.shape} appears more than once")
                seen.add(id(p))
            full = dict(self.defaults)
            full.update(group)
            full["params"] = tensors
            self._check_options(full, i)
            self.param_groups.append(full)

    def _check_options(self, group, index):
        # NumPy scalars become Python numbers: a np.float64 option would promote float32 updates
        for key, value in group.items():
            if isinstance(value, np.generic):
                group[key] = value.item()
            elif isinstance(value, tuple):  # e.g. Adam's betas restored from an array
                group[key] = tuple(v.item() if isinstance(v, np.generic) else v for v in value)
        lr = group["lr"]
        if not isinstance(lr, (int, float)) or lr < 0:
            raise ValueError(f"lr: expected a non-negative number in group {index}, got {lr!r}")

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

        Raises
        ------
        ValueError
            When the groups or their sizes differ, or a state array's shape does not match
            its parameter.
        """
        if "param_groups" not in state_dict:
            state_dict = unflatten_state_dict(state_dict)
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"state_dict: has {len(groups)} parameter groups, the optimizer {len(self.param_groups)}"
            )
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"state_dict: group {i} has {len(saved['params'])} parameters, the optimizer's {len(own['params'])}"
                )
        params = {index: p for index, _, p in self._indexed_params()}
        state = {}
        for index, entries in state_dict["state"].items():
            index = int(index)
            if index not in params:
                raise ValueError(f"state_dict: state for parameter {index}, but the optimizer has {len(params)}")
            p = params[index]
            state[index] = {}
            for name, value in entries.items():
                if name == "step":
                    state[index][name] = int(value)
                    continue
                value = np.asarray(value)
                if value.shape != p.shape:
                    raise ValueError(
                        f"state_dict: {name} of parameter {index} has shape {value.shape}, the parameter {p.shape}"
                    )
                state[index][name] = value.astype(p.dtype, copy=True)
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            for key, value in saved.items():
                if key != "params":
                    own[key] = tuple(value) if isinstance(own.get(key), tuple) else value
            self._check_options(own, i)
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

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"momentum, weight_decay: expected non-negative values, got {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0 and dampening == 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))

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

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        betas = tuple(float(b) for b in betas)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas: expected two values in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"eps, weight_decay: expected non-negative values, got {eps}, {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

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
            raise TypeError(f"optimizer: expected an Optimizer, got {type(optimizer).__name__}")
        if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)) or step_size < 1:
            raise ValueError(f"step_size: expected a positive int, got {step_size!r}")
        self.optimizer = optimizer
        self.step_size = int(step_size)
        self.gamma = float(gamma)
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
        """Restore what :meth:`state_dict` returned (0-d or 1-d arrays are accepted)."""
        self.step_size = int(state_dict["step_size"])
        self.gamma = float(state_dict["gamma"])
        self.last_epoch = int(state_dict["last_epoch"])
        self.base_lrs = [float(v) for v in np.atleast_1d(state_dict["base_lrs"])]


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


def unflatten_state_dict(flat):
    """Inverse of :func:`flatten_state_dict` for optimizer state dicts.

    Numbered levels become lists under "param_groups" and int keys under "state"; 0-d arrays
    become Python numbers, 1-d option arrays tuples (e.g. Adam's ``betas``), "params" lists.
    """
    nested = {}
    for name, value in flat.items():
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

    state = {int(i): {k: restore(v, k) for k, v in entries.items()}
             for i, entries in nested.get("state", {}).items()}
    groups = []
    for i in sorted(nested.get("param_groups", {}), key=int):
        group = nested["param_groups"][i]
        groups.append({k: (tuple(restore(v, k)) if np.ndim(v) == 1 and k != "params" else restore(v, k))
                       for k, v in group.items()})
    return {"state": state, "param_groups": groups}
