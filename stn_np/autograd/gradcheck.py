"""Gradient checking: hand-derived backward passes against central finite differences.

Two comparisons are offered:

``full``
    The whole Jacobian of every output with respect to every differentiable input, numerically
    (one pair of forward passes per input element) and analytically (one backward pass per
    output element), plus the vector-Jacobian product with a random upstream gradient ``u``
    against ``u^T J`` from finite differences. The random ``u`` is what catches a backward that
    ignores its upstream gradient: with a seed of 1 such a bug is invisible.

``directional``
    For large inputs: random ``u`` (output-shaped) and ``v`` (input-shaped), and
    ``<u, J v>`` from two forward passes at ``x +- eps v`` against ``<J^T u, v>`` from one
    backward pass. Cheap at any size; a wrong backward almost surely changes the number.
    The step ``eps v`` moves every input element at once, so with thousands of elements some
    may cross a kink (a bilinear sample crossing a pixel centre, a ReLU crossing 0) and the
    check fails although the backward is right: draw inputs away from kinks, or shrink eps.

Both modes also check two properties of the backward itself, as PyTorch's ``gradcheck`` does:
it is *reentrant* (two backward passes through the same graph with the same upstream
gradient give the same result, bit for bit: no hidden state) and *linear in the upstream
gradient* (``backward(c u) = c backward(u)``: a backward that ignores or squares ``g`` fails).

Central differences have truncation error O(eps^2) and rounding error O(macheps / eps); in
float64 the default ``eps=1e-6`` balances them. In float32 no eps gives more than about three
correct digits, so inputs should be float64 (a warning says so otherwise).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from ..validation import check_callable, check_choice, check_int, check_number, fail
from .function import no_grad
from .tensor import Tensor

__all__ = ["Comparison", "GradcheckError", "gradcheck", "gradcheck_report", "numerical_jacobian", "analytical_jacobian"]


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when analytical and numerical gradients disagree."""


def _check_call(fn, inputs, eps, function):
    """Validate what every checker takes: a callable, a sequence (or one array) of inputs, a step."""
    check_callable(fn, function, "fn")
    if not isinstance(inputs, (tuple, list, Tensor, np.ndarray)):
        fail(function, "inputs", "a tuple or list of arguments (or one array)", f"a {type(inputs).__name__}",
             TypeError)
    return check_number(eps, function, "eps", minimum=0, strict_low=True)


def _split_inputs(inputs):
    """Return (values, differentiable positions) with floating inputs as Tensors.

    A Tensor is differentiated when it requires grad; a floating-point ndarray is always
    differentiated; anything else (ints, shapes, None, integer arrays) passes through.
    """
    if isinstance(inputs, (Tensor, np.ndarray)):
        inputs = (inputs,)
    values, positions = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            values.append(x.data)
            if x.requires_grad:
                positions.append(i)
        elif isinstance(x, np.ndarray) and x.dtype.kind == "f":
            values.append(x)
            positions.append(i)
        else:
            values.append(x)
    return values, positions


def _as_tensors(values, positions, requires_grad):
    """Build the argument list for ``fn``: fresh Tensors at the differentiable positions."""
    args = list(values)
    for i in positions:
        args[i] = Tensor(values[i], requires_grad=requires_grad)
    return args


def _outputs(result):
    """Normalise what ``fn`` returned to a tuple of Tensors."""
    outs = result if isinstance(result, (tuple, list)) else (result,)
    for k, out in enumerate(outs):
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: fn: expected a function returning a Tensor or a tuple of Tensors, got "
                            f"output {k} of type {type(out).__name__}")
    return tuple(outs)


def _evaluate(fn, values, positions):
    with no_grad():
        return [out.data.astype(np.float64) for out in _outputs(fn(*_as_tensors(values, positions, False)))]


def numerical_jacobian(fn, inputs, eps=1e-6):
    """Jacobians of ``fn`` at ``inputs`` by central finite differences.

    Parameters
    ----------
    fn : callable
        Takes the inputs, returns a Tensor or a tuple of Tensors. Must be deterministic.
    inputs : sequence
        Tensors, arrays or other arguments; see :func:`gradcheck` for which are differentiated.
    eps : float
        Step of the central difference ``(f(x + eps e_j) - f(x - eps e_j)) / (2 eps)``.

    Returns
    -------
    list of list of ndarray
        ``J[k][i]`` has shape ``(outputs[k].size, inputs[i].size)`` for the i-th
        differentiable input; ``J[k][i][r, c] = d out_k.flat[r] / d in_i.flat[c]``.
    """
    eps = _check_call(fn, inputs, eps, "numerical_jacobian")
    values, positions = _split_inputs(inputs)
    base = _evaluate(fn, values, positions)
    jac = [[np.zeros((out.size, values[i].size)) for i in positions] for out in base]
    for col, i in enumerate(positions):
        x = values[i]
        for j in range(x.size):
            shifted = list(values)
            plus = x.copy()
            plus.flat[j] += eps
            shifted[i] = plus
            f_plus = _evaluate(fn, shifted, positions)
            minus = x.copy()
            minus.flat[j] -= eps
            shifted[i] = minus
            f_minus = _evaluate(fn, shifted, positions)
            for k in range(len(base)):
                jac[k][col][:, j] = ((f_plus[k] - f_minus[k]) / (2 * eps)).ravel()
    return jac


def _backward_grads(outs, args, positions, k, seed):
    """Gradients of <seed, out_k> with respect to the differentiable inputs (zeros if none)."""
    for i in positions:
        args[i].grad = None
    if outs[k].requires_grad:
        outs[k].backward(seed.astype(outs[k].dtype), retain_graph=True)
    return [
        np.zeros(args[i].shape) if args[i].grad is None else args[i].grad.astype(np.float64)
        for i in positions
    ]


def analytical_jacobian(fn, inputs):
    """Jacobians of ``fn`` at ``inputs`` from its backward pass, one backward per output element.

    Returns the same layout as :func:`numerical_jacobian`.
    """
    _check_call(fn, inputs, 1.0, "analytical_jacobian")
    values, positions = _split_inputs(inputs)
    args = _as_tensors(values, positions, True)
    outs = _outputs(fn(*args))
    jac = [[np.zeros((out.size, values[i].size)) for i in positions] for out in outs]
    for k, out in enumerate(outs):
        for r in range(out.size):
            seed = np.zeros(out.shape)
            seed.flat[r] = 1.0
            for col, g in enumerate(_backward_grads(outs, args, positions, k, seed)):
                jac[k][col][r] = g.ravel()
    return jac


def _compare(analytical, numerical, atol, rtol):
    """Return (ok, report dict) for two arrays of the same shape."""
    diff = np.abs(analytical - numerical)
    allowed = atol + rtol * np.abs(numerical)
    excess = diff - allowed
    worst = np.unravel_index(np.argmax(excess), excess.shape) if excess.size else ()
    # relative to |numerical|, but not below atol: near-zero entries would give meaningless ratios
    rel = diff / np.maximum(np.abs(numerical), max(atol, np.finfo(np.float64).tiny))
    ok = bool(np.all(excess <= 0)) and bool(np.all(np.isfinite(analytical)))
    return ok, {
        "worst": worst,
        "analytical": analytical[worst] if excess.size else np.nan,
        "numerical": numerical[worst] if excess.size else np.nan,
        "max_abs": float(diff.max()) if diff.size else 0.0,
        "max_rel": float(rel.max()) if rel.size else 0.0,
    }


def _describe(shape_in, shape_out, worst):
    """Name the worst Jacobian entry as (output index, input index) in array coordinates."""
    if len(worst) < 2:
        return "an empty Jacobian"
    out_idx = np.unravel_index(worst[0], shape_out) if shape_out else ()
    in_idx = np.unravel_index(worst[1], shape_in) if shape_in else ()
    return f"output element {tuple(int(i) for i in out_idx)}, input element {tuple(int(i) for i in in_idx)}"


class Comparison(NamedTuple):
    """One comparison made by :func:`gradcheck_report`.

    ``what`` is "Jacobian", "random upstream gradient", "directional derivative <u, J v>",
    "reentrant backward" or "linear in the upstream gradient"; ``output`` and ``input`` are
    positions in the outputs of ``fn`` and in ``inputs``.
    """

    what: str
    output: int
    input: int
    ok: bool
    max_abs: float
    max_rel: float
    message: str


def gradcheck_report(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, mode="full", seed=0):
    """Run the comparisons of :func:`gradcheck` and return them all, passing or not.

    Same parameters as :func:`gradcheck`; returns a list of :class:`Comparison`. Useful
    for tables of errors (``stn-np gradcheck`` prints one).
    """
    check_choice(mode, ("full", "directional"), "gradcheck", "mode")
    eps = _check_call(fn, inputs, eps, "gradcheck")
    atol = check_number(atol, "gradcheck", "atol", minimum=0)
    rtol = check_number(rtol, "gradcheck", "rtol", minimum=0)
    seed = check_int(seed, "gradcheck", "seed", minimum=0)
    values, positions = _split_inputs(inputs)
    if not positions:
        raise ValueError("gradcheck: inputs: expected at least one differentiable input (a float array or a "
                         "Tensor with requires_grad=True), got none")
    for i in positions:
        if values[i].dtype != np.float64:
            warnings.warn(
                f"gradcheck: input {i} has dtype {values[i].dtype}; finite differences are only "
                "reliable in float64",
                stacklevel=3,
            )
    rng = np.random.default_rng(seed)
    args = _as_tensors(values, positions, True)
    outs = _outputs(fn(*args))
    results = []

    def compare(analytical, numerical, k, i, what):
        ok, rep = _compare(analytical, numerical, atol, rtol)
        where = (
            _describe(values[i].shape, outs[k].shape, rep["worst"])
            if what == "Jacobian"
            else f"element {tuple(int(j) for j in rep['worst'])}"
        )
        message = (
            f"{what} of output {k} (shape {outs[k].shape}) w.r.t. input {i} (shape {values[i].shape}): "
            f"worst at {where}: numerical {rep['numerical']:.6g}, analytical {rep['analytical']:.6g}; "
            f"max abs error {rep['max_abs']:.3g}, max rel error {rep['max_rel']:.3g} "
            f"(atol={atol:g}, rtol={rtol:g})"
        )
        results.append(Comparison(what, k, i, ok, rep["max_abs"], rep["max_rel"], message))

    def check_backward_itself(k, u, vjp):
        """Reentrancy (a second pass agrees bit for bit) and linearity in the upstream gradient."""
        again = _backward_grads(outs, args, positions, k, u)
        scaled = _backward_grads(outs, args, positions, k, 2.5 * u)
        for col, i in enumerate(positions):
            same = bool(np.array_equal(vjp[col], again[col], equal_nan=True))
            diff = float(np.max(np.abs(vjp[col] - again[col]), initial=0.0))
            results.append(Comparison(
                "reentrant backward", k, i, same, diff, 0.0 if same else np.inf,
                f"reentrant backward of output {k} w.r.t. input {i}: two backward passes with the same upstream "
                + ("gradient agree bit for bit" if same else
                   f"gradient differ by up to {diff:.3g} (the backward keeps state between calls)")))
            # the same tolerances as the finite-difference comparisons: a backward that ignores or
            # squares g is off by a factor, far beyond them; rounding is far below them
            ok, rep = _compare(scaled[col], 2.5 * vjp[col], atol, rtol)
            results.append(Comparison(
                "linear in the upstream gradient", k, i, ok, rep["max_abs"], rep["max_rel"],
                f"linear in the upstream gradient, output {k} w.r.t. input {i}: backward(2.5 g) differs from "
                f"2.5 backward(g) by up to {rep['max_abs']:.3g} (atol={atol:g}, rtol={rtol:g})"
                + ("" if ok else ": the backward does not scale with its upstream gradient")))

    if mode == "full":
        num = numerical_jacobian(fn, inputs, eps=eps)
        ana = analytical_jacobian(fn, inputs)
        for k, out in enumerate(outs):
            for col, i in enumerate(positions):
                compare(ana[k][col], num[k][col], k, i, "Jacobian")
            u = rng.standard_normal(out.shape)
            vjp = _backward_grads(outs, args, positions, k, u)
            for col, i in enumerate(positions):
                expected = (u.ravel() @ num[k][col]).reshape(values[i].shape)
                compare(vjp[col], expected, k, i, "random upstream gradient")
            check_backward_itself(k, u, vjp)
    else:
        for k, out in enumerate(outs):
            u = rng.standard_normal(out.shape)
            vjp = _backward_grads(outs, args, positions, k, u)
            for col, i in enumerate(positions):
                v = rng.standard_normal(values[i].shape)
                shifted = list(values)
                shifted[i] = values[i] + eps * v
                f_plus = _evaluate(fn, shifted, positions)[k]
                shifted[i] = values[i] - eps * v
                f_minus = _evaluate(fn, shifted, positions)[k]
                numerical = np.array([np.sum(u * (f_plus - f_minus)) / (2 * eps)])
                analytical = np.array([np.sum(vjp[col] * v)])
                compare(analytical, numerical, k, i, "directional derivative <u, J v>")
            check_backward_itself(k, u, vjp)
    return results


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, mode="full", seed=0, raise_exception=True):
    """Check the analytical gradients of ``fn`` against central finite differences.

    Parameters
    ----------
    fn : callable
        Takes ``*inputs`` and returns a Tensor or a tuple of Tensors. Must be deterministic.
    inputs : sequence
        Arguments of ``fn``. Differentiated: Tensors with ``requires_grad=True`` and floating
        ndarrays. Passed through unchanged: everything else (Tensors without gradients, integer
        arrays, shapes, flags).
    eps : float
        Finite-difference step.
    atol, rtol : float
        An element passes when ``|analytical - numerical| <= atol + rtol * |numerical|``.
    mode : {"full", "directional"}
        Whole Jacobians plus a random vector-Jacobian product, or the random directional
        test ``<u, J v>`` for large inputs (see the module docstring).
    seed : int
        Seed of the random upstream gradients and directions.
    raise_exception : bool
        Raise :class:`GradcheckError` on failure (default) instead of returning False.

    Returns
    -------
    bool
        True when every comparison passes; False on failure if ``raise_exception`` is False.

    Raises
    ------
    GradcheckError
        With a report naming the output and input, the worst element, its numerical and
        analytical values and the maximum absolute and relative errors.

    Examples
    --------
    >>> import numpy as np, stn_np
    >>> x = np.random.default_rng(0).standard_normal((3, 4))
    >>> stn_np.gradcheck(lambda t: (t * t).tanh(), (x,))
    True
    """
    results = gradcheck_report(fn, inputs, eps=eps, atol=atol, rtol=rtol, mode=mode, seed=seed)
    failures = [r.message for r in results if not r.ok]
    if failures:
        if raise_exception:
            raise GradcheckError("gradcheck failed:\n  " + "\n  ".join(failures))
        return False
    return True
