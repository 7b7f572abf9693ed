r"""A conformance battery for anyone's ``grid_sample``: :func:`check_grid_sample`.

You ported a sampler to a new framework, kernel or device and want to know whether it is
right where samplers are hardest: on kinks, ties and edges, far outside, on 1-pixel images,
with NaN, with empty batches, for images and for volumes. Wrap it in two functions with
PyTorch's layout and float64 NumPy arrays (the ``volume_`` categories call them with 5-D
inputs and grids whose last axis is (x, y, z); ``spatial_dims=[2]`` leaves them out)::

    fn(input, grid, mode, padding_mode, align_corners) -> output            # (N, C, H_out, W_out)
    vjp(input, grid, grad_output, mode, padding_mode, align_corners) -> (grad_input, grad_grid)

and run ``check_grid_sample(fn, vjp)`` (or ``stn-np conformance MODULE:FN --vjp MODULE:VJP``).
Each category of :mod:`stn_np.testing.categories` calls them on purpose-built inputs; every
call is checked against stn_np:

``values``
    against the literal double sum :func:`stn_np.sampling.reference_sample`;
``input gradient``, ``grid gradient``
    against stn_np's :func:`~stn_np.sampling.grid_sample` backward (PyTorch's conventions,
    or the ``subgradient`` you intend);
``adjoint``
    the VJP's image gradient against the sampler itself: ``<fn(D), g> = <D, grad_input>`` for
    a random ``D`` (the sampler is linear in the image, so this is a finite difference that is
    exact up to rounding);
``grid finite differences``
    the VJP's grid gradient against central differences of ``fn`` (all points at once: each
    output depends on its own grid point only), where every point keeps a tenth of a pixel
    off the kinks.

Conventions are options, and the report names the one the sampler follows: ``nearest_ties``
("half_up": ``floor(x + 0.5)``, stn_np's, the paper's and scipy's; "half_even": PyTorch's)
and ``subgradient`` ("pytorch" or "central", :mod:`stn_np.sampling.subgradients`).
Non-finite points must leave every other point, and the image gradient, untouched (their own
outputs are reported, not judged). Each category runs in a forked child process where the
platform allows it, so a sampler that crashes fails that category instead of the battery.
"""

from __future__ import annotations

import faulthandler
import json
import math
import multiprocessing
import os
import signal
import time
import traceback
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..autograd.tensor import Tensor
from ..io import atomic_write
from ..sampling.coords import (GRID_AXES, SPATIAL_DIMS, axis_sizes, coordinate_scale, normalized_to_pixel,
                              pixel_to_normalized)
from ..sampling.grid_sample import grid_sample
from ..sampling.kernels import KERNELS
from ..sampling.padding import PADDING_MODES, fold_coordinates
from ..sampling.reference import reference_sample
from ..sampling.subgradients import SUBGRADIENTS
from ..validation import check_choice, check_number, fail
from .categories import CATEGORIES, category_names

__all__ = ["check_grid_sample", "ConformanceReport", "CategoryResult", "TIE_RULES", "stn_np_sampler", "stn_np_vjp",
           "tie_adjusted_grid"]

#: The rounding rules for exact half-pixel ties of ``nearest``.
TIE_RULES = {
    "half_up": "exact half-pixel ties round up, floor(x + 0.5) (stn_np, the paper, scipy.ndimage)",
    "half_even": "exact half-pixel ties round to the even pixel (PyTorch, numpy.round)",
}

TOLERANCE = {"values": 1e-9, "gradients": 1e-9, "adjoint": 1e-9, "finite differences": 1e-6, "float32": 1e-5}
FD_STEP = 1e-4  # pixels: exact for bilinear off its kinks, 1e-8 truncation for bicubic, 1e-8 rounding at 1e4 pixels


# ----------------------------------------------------------------------------- stn_np as a sampler under test
def stn_np_sampler(input, grid, mode, padding_mode, align_corners):
    """stn_np's own sampler in the battery's calling convention (an adapter, and a self-check)."""
    return grid_sample(input, grid, mode, padding_mode, align_corners).data


def stn_np_vjp(input, grid, grad_output, mode, padding_mode, align_corners):
    """The VJP of :func:`stn_np_sampler`: ``(grad_input, grad_grid)``."""
    U, g = Tensor(input, requires_grad=True), Tensor(grid, requires_grad=True)
    grid_sample(U, g, mode, padding_mode, align_corners).backward(grad_output)
    return U.grad, g.grad


# ----------------------------------------------------------------------------- the report
@dataclass
class CheckResult:
    """One comparison: which, on which case, its error, and where it was worst."""

    category: str
    case: str
    mode: str
    padding_mode: str
    align_corners: bool
    check: str
    passed: bool
    error: float
    example: dict | None = None


@dataclass
class CategoryResult:
    """A category's checks: counts, the worst error, the first failure and the conventions seen."""

    name: str
    description: str
    results: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def checks(self):
        return len(self.results)

    @property
    def passed(self):
        return sum(r.passed for r in self.results)

    @property
    def ok(self):
        return self.passed == self.checks

    @property
    def worst_error(self):
        errors = [r.error for r in self.results if not math.isnan(r.error)]
        return max(errors) if errors else 0.0

    @property
    def first_failure(self):
        return next((r for r in self.results if not r.passed), None)


@dataclass
class ConformanceReport:
    """What :func:`check_grid_sample` found: one :class:`CategoryResult` per category.

    ``report.ok`` is True when every check passed; ``report.table()`` is the printed table;
    ``report.save_json(path)`` writes the whole report (every check) as strict JSON.
    """

    categories: list
    options: dict

    @property
    def ok(self):
        return all(c.ok for c in self.categories)

    def table(self):
        """The report as a text table: category, checks, passed, worst error, first failure."""
        header = ("category", "checks", "passed", "worst error", "first failure")
        rows = []
        for c in self.categories:
            failure = c.first_failure
            rows.append((c.name, str(c.checks), str(c.passed), _format_error(c.worst_error),
                         describe_failure(failure) if failure else ""))
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
        lines = ["  ".join([header[0].ljust(widths[0])] + [h.rjust(w) for h, w in zip(header[1:4], widths[1:])]
                           + [header[4]])]
        for row in rows:
            lines.append("  ".join([row[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(row[1:4], widths[1:])]
                                   + [row[4]]).rstrip())
        notes = [f"{c.name}: {note}" for c in self.categories for note in c.notes]
        if notes:
            lines += ["", "conventions and notes:"] + [f"  {n}" for n in notes]
        passed = sum(c.ok for c in self.categories)
        scale = self.options.get("rtol_scale", 1.0)
        lines += ["", "worst error: the largest of max|got - expected| / max(1, max|expected|) over the category's checks; "
                      f"allowed: {TOLERANCE['values'] * scale:.0e} against stn_np, "
                      f"{TOLERANCE['finite differences'] * scale:.0e} against finite differences, "
                      f"{TOLERANCE['float32'] * scale:.0e} in float32"]
        lines += ["", f"{passed}/{len(self.categories)} categories passed "
                      f"({sum(c.passed for c in self.categories)}/{sum(c.checks for c in self.categories)} checks): "
                      + ("OK" if self.ok else "FAILED")]
        return "\n".join(lines)

    def to_dict(self):
        """The whole report as plain, strictly JSON-serialisable data (non-finite numbers as strings)."""
        return _json_safe({
            "ok": self.ok,
            "options": self.options,
            "categories": [{
                "name": c.name, "description": c.description, "checks": c.checks, "passed": c.passed,
                "worst_error": c.worst_error, "notes": c.notes,
                "first_failure": asdict(c.first_failure) if c.first_failure else None,
                "results": [asdict(r) for r in c.results],
            } for c in self.categories],
        })

    def save_json(self, path):
        """Write :meth:`to_dict` to ``path`` atomically, as strict JSON."""
        with atomic_write(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1, allow_nan=False)
            f.write("\n")


def describe_failure(r):
    """One line: the case, the check, where it was worst, expected and got."""
    text = f"{r.mode}/{r.padding_mode}/align_corners={r.align_corners}, {r.case}: {r.check}"
    ex = r.example or {}
    if "message" in ex:
        return f"{text}: {ex['message']}"
    if "shapes" in ex:
        text += f" (input {ex['shapes']['input']}, grid {ex['shapes']['grid']})"
    if "where" in ex:
        text += f" at {ex['where']}"
    if "expected" in ex:
        text += f": expected {_format_value(ex['expected'])}, got {_format_value(ex['got'])}"
    return text


def _format_error(error):
    return "0" if error == 0 else f"{error:.1e}"


def _format_value(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# ----------------------------------------------------------------------------- the oracles
def tie_adjusted_grid(grid, image_shape, padding_mode, align_corners, rule):
    """``grid`` with every exact half-pixel tie of ``nearest`` moved a quarter pixel to the side ``rule`` picks.

    Ties are found where the sampler sees them: on each axis's position after unnormalising
    (with the rounding of the image's or the volume's sampler: ``image_shape`` is (N, C, H, W)
    or (N, C, D, H, W)) and folding (reflection mirrors before rounding, PyTorch too). The
    moved points round the same way under every rule, so stn_np's samplers give the rule's
    answer there.
    """
    spatial = tuple(image_shape[2:])
    adjusted = grid.copy()
    for axis, size in enumerate(axis_sizes(spatial)):
        with np.errstate(invalid="ignore"):
            pixel = normalized_to_pixel(grid[..., axis], size, align_corners, len(spatial))
            folded, _, _ = fold_coordinates(np.array(pixel, copy=True), size, 0.5, padding_mode, align_corners)
            tie = np.isfinite(pixel) & (folded - np.floor(folded) == 0.5)
        if not np.any(tie):
            continue
        lower_even = np.floor(folded) % 2 == 0
        shift = 0.25 if rule == "half_up" else np.where(lower_even, -0.25, 0.25)
        moved = pixel_to_normalized(folded + shift, size, align_corners)
        adjusted[..., axis] = np.where(tie, moved, grid[..., axis])
    return adjusted


def _oracle_values(case, options):
    grid = case.grid
    if case.mode == "nearest":
        grid = tie_adjusted_grid(grid, case.input.shape, case.padding_mode, case.align_corners, options["nearest_ties"])
    U = case.input.astype(np.float64)
    return reference_sample(U, grid.astype(np.float64), KERNELS[case.mode], case.padding_mode, case.align_corners).data


def _oracle_gradients(case, options, upstream, subgradient=None, grid=None):
    grid = case.grid if grid is None else grid
    if case.mode == "nearest":
        grid = tie_adjusted_grid(grid, case.input.shape, case.padding_mode, case.align_corners, options["nearest_ties"])
    U, g = Tensor(case.input.astype(np.float64), requires_grad=True), Tensor(grid.astype(np.float64), requires_grad=True)
    out = grid_sample(U, g, case.mode, case.padding_mode, case.align_corners,
                      subgradient or options["subgradient"])
    out.backward(upstream.astype(np.float64))
    return U.grad, g.grad


# ----------------------------------------------------------------------------- comparisons
def _relative(got, expected):
    """max |got - expected| / max(1, max |expected|); a NaN on one side only counts as infinite."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if expected.size == 0:
        return 0.0, None
    with np.errstate(invalid="ignore"):
        diff = np.abs(got - expected)
    both_nan = np.isnan(got) & np.isnan(expected)
    diff = np.where(both_nan, 0.0, np.where(np.isnan(diff), np.inf, diff))
    scale = max(1.0, float(np.max(np.abs(np.where(np.isfinite(expected), expected, 0)))))
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return float(diff[worst]) / scale, worst


class _Recorder:
    """Collects the CheckResults of one category."""

    def __init__(self, category, rtol_scale):
        self.result = CategoryResult(category.name, category.description)
        self.scale = rtol_scale

    def add(self, case, check, error, tolerance, example=None):
        passed = bool(error <= tolerance * self.scale)
        self.result.results.append(CheckResult(self.result.name, case.description, case.mode, case.padding_mode,
                                               case.align_corners, check, passed, float(error),
                                               None if passed else example))
        return passed

    def fail(self, case, check, message):
        self.result.results.append(CheckResult(self.result.name, case.description, case.mode, case.padding_mode,
                                               case.align_corners, check, False, math.inf, {"message": message}))

    def compare(self, case, check, got, expected, tolerance, layout):
        """Compare arrays; on failure describe the worst element: its index, grid point, values."""
        got = np.asarray(got)
        if got.shape != expected.shape:
            self.fail(case, check, f"shape {got.shape}, expected {expected.shape}")
            return False
        error, worst = _relative(got, expected)
        example = None
        if worst is not None:
            example = {"shapes": {"input": list(case.input.shape), "grid": list(case.grid.shape)},
                       "where": _where(case, layout, worst), "expected": float(expected[worst]),
                       "got": float(got[worst]), "index": [int(i) for i in worst]}
        return self.add(case, check, error, tolerance, example)


def _where(case, layout, index):
    """Name an element: the output point or grid point with its coordinates, or the input pixel."""
    if layout == "input":
        return f"input pixel {tuple(int(i) for i in index)}"
    if layout == "output":
        n, point = index[0], tuple(int(i) for i in index[2:])
    else:  # "grid": (n, ..., axis)
        n, point = index[0], tuple(int(i) for i in index[1:-1])
    coords = case.grid[(n,) + point]
    d = case.input.ndim - 2
    pixels = [float(normalized_to_pixel(c, s, case.align_corners, d))
              for c, s in zip(coords, axis_sizes(case.input.shape[2:]))]
    axis = f", axis {GRID_AXES[index[-1]]}" if layout == "grid" else ""
    text = f"{layout} [{int(n)}, {', '.join(map(str, point))}]{axis}"
    return text + f", point ({', '.join(f'{c:.6g}' for c in coords)}) = pixel ({', '.join(f'{p:.6g}' for p in pixels)})"


def _call(recorder, case, check, function, *args):
    try:
        return function(*args)
    except Exception as error:  # noqa: BLE001 - any error of the code under test is a finding
        recorder.fail(case, check, f"raised {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        return None


# ----------------------------------------------------------------------------- running one case
def _run_case(recorder, case, fn, vjp, options, notes):
    args = (case.mode, case.padding_mode, case.align_corners)
    upstream = case.upstream
    if case.kind == "nonfinite":
        finite = np.all(np.isfinite(case.grid), axis=-1)
        upstream = upstream * finite[:, None]  # no gradient flows from the non-finite points
    out = _call(recorder, case, "values", fn, case.input, case.grid, *args)
    if out is None:
        return
    out = np.asarray(out)
    expected_shape = case.input.shape[:2] + case.grid.shape[1:-1]
    if out.shape != expected_shape or out.dtype != case.input.dtype:
        recorder.fail(case, "values", f"output of shape {out.shape} and dtype {out.dtype}, expected shape "
                                      f"{expected_shape} and dtype {case.input.dtype}")
        return
    _check_values(recorder, case, out, options, notes)
    if vjp is None:
        return
    grads = _call(recorder, case, "gradients", vjp, case.input, case.grid, upstream, *args)
    if grads is None:
        return
    try:
        grad_input, grad_grid = (np.asarray(g) for g in grads)
    except (TypeError, ValueError):
        recorder.fail(case, "gradients", "the VJP must return (grad_input, grad_grid)")
        return
    for name, grad, reference in (("input gradient", grad_input, case.input), ("grid gradient", grad_grid, case.grid)):
        if grad.shape != reference.shape or grad.dtype != reference.dtype:
            recorder.fail(case, name, f"shape {grad.shape} and dtype {grad.dtype}, expected {reference.shape} and "
                                      f"{reference.dtype}")
            return
    _check_gradients(recorder, case, grad_input, grad_grid, upstream, options, notes)
    if case.kind in ("standard", "kinks", "float32", "ties"):
        _check_adjoint(recorder, case, fn, grad_input, upstream)
    if case.smooth and case.kind in ("standard", "float32"):
        _check_finite_differences(recorder, case, fn, grad_grid, upstream)


def _check_values(recorder, case, out, options, notes):
    if case.kind == "empty":
        recorder.add(case, "values", 0.0 if out.size == 0 else math.inf, 1.0)
        return
    if case.kind == "nonfinite":
        finite = np.all(np.isfinite(case.grid), axis=-1)
        placeholder = np.where(np.isfinite(case.grid), case.grid, 0.0)
        expected = _oracle_values(replace(case, grid=placeholder), options)
        recorder.compare(case, "values at the finite points", np.where(finite[:, None], out, 0.0),
                         np.where(finite[:, None], expected, 0.0), TOLERANCE["values"], "output")
        for label, mask in (("NaN", np.any(np.isnan(case.grid), axis=-1)),
                            ("inf", np.any(np.isinf(case.grid), axis=-1) & ~np.any(np.isnan(case.grid), axis=-1))):
            values = np.moveaxis(out, 1, -1)[mask]  # (points, channels)
            kind = ("0" if np.all(values == 0) else "NaN" if np.all(np.isnan(values))
                    else "finite values" if np.all(np.isfinite(values)) else "NaN and finite values")
            notes.add(f"{label} points sample {kind} ({case.mode}, {case.padding_mode} padding)")
        return
    if case.kind == "float32":
        expected = _oracle_values(case, options)
        recorder.compare(case, "values", out, expected, TOLERANCE["float32"], "output")
        return
    expected = _oracle_values(case, options)
    if case.kind == "ties":
        consistent = [rule for rule in TIE_RULES
                      if np.array_equal(out, _oracle_values(case, dict(options, nearest_ties=rule)))]
        notes.narrow("ties", consistent, TIE_RULES)
    recorder.compare(case, "values", out, expected, TOLERANCE["values"], "output")


def _check_gradients(recorder, case, grad_input, grad_grid, upstream, options, notes):
    if case.kind == "empty":
        for name, grad in (("input gradient", grad_input), ("grid gradient", grad_grid)):
            recorder.add(case, name, 0.0 if not np.any(grad) else math.inf, 1.0)
        return
    grid = np.where(np.isfinite(case.grid), case.grid, 0.0) if case.kind == "nonfinite" else None
    expected_input, expected_grid = _oracle_gradients(case, options, upstream, grid=grid)
    tolerance = TOLERANCE["float32"] * 10 if case.kind == "float32" else TOLERANCE["gradients"]
    recorder.compare(case, "input gradient", grad_input, expected_input, tolerance, "input")
    if case.kind == "nonfinite":
        finite = np.all(np.isfinite(case.grid), axis=-1)[..., None]
        recorder.compare(case, "grid gradient at the finite points", np.where(finite, grad_grid, 0.0),
                         np.where(finite, expected_grid, 0.0), tolerance, "grid")
        return
    recorder.compare(case, "grid gradient", grad_grid, expected_grid, tolerance, "grid")
    if case.kind == "kinks" and case.mode == "bilinear":  # bicubic has no kinks, nearest no gradient
        consistent = [s for s in SUBGRADIENTS
                      if _relative(grad_grid, _oracle_gradients(case, options, upstream, subgradient=s)[1])[0]
                      <= tolerance * recorder.scale]
        notes.narrow("subgradient", consistent, SUBGRADIENTS)


def _check_adjoint(recorder, case, fn, grad_input, upstream):
    # the sampler is linear in the image: <fn(D), g> = <D, grad_input> for any D
    D = np.random.default_rng(7).standard_normal(case.input.shape).astype(case.input.dtype)
    out = _call(recorder, case, "adjoint", fn, D, case.grid, case.mode, case.padding_mode, case.align_corners)
    if out is None:
        return
    lhs = float(np.vdot(np.asarray(out, dtype=np.float64), upstream.astype(np.float64)))
    rhs = float(np.vdot(D.astype(np.float64), grad_input.astype(np.float64)))
    scale = max(1.0, float(np.abs(D.astype(np.float64) * grad_input).sum()))
    tolerance = TOLERANCE["float32"] if case.kind == "float32" else TOLERANCE["adjoint"]
    recorder.add(case, "adjoint: <fn(D), g> = <D, grad_input>", abs(lhs - rhs) / scale, tolerance,
                 {"shapes": {"input": list(case.input.shape), "grid": list(case.grid.shape)},
                  "where": "the inner products", "expected": lhs, "got": rhs})


def _check_finite_differences(recorder, case, fn, grad_grid, upstream):
    if case.kind == "float32":  # finite differences need float64
        return
    fd = np.zeros(case.grid.shape)
    for axis, size in enumerate(axis_sizes(case.input.shape[2:])):
        scale = coordinate_scale(size, case.align_corners)
        if scale == 0:
            continue
        step = FD_STEP / scale
        values = []
        for sign in (1, -1):
            moved = case.grid.copy()
            moved[..., axis] += sign * step
            out = _call(recorder, case, "grid finite differences", fn, case.input, moved, case.mode,
                        case.padding_mode, case.align_corners)
            if out is None:
                return
            values.append(np.asarray(out, dtype=np.float64))
        fd[..., axis] = ((values[0] - values[1]) * upstream).sum(axis=1) / (2 * step)
    recorder.compare(case, "grid gradient against central differences", grad_grid, fd,
                     TOLERANCE["finite differences"], "grid")


# ----------------------------------------------------------------------------- running a category
class _Notes:
    """Notes of a category: plain ones, and conventions narrowed down case by case."""

    def __init__(self):
        self.items = []
        self.conventions = {}

    def add(self, note):
        if note not in self.items:
            self.items.append(note)

    def narrow(self, what, consistent, choices):
        """Keep the conventions ``what`` that every case so far is consistent with."""
        self.conventions[what] = self.conventions.get(what, set(choices)) & set(consistent)

    def final(self, options):
        notes = list(self.items)
        intended = {"ties": options["nearest_ties"], "subgradient": options["subgradient"]}
        labels = {"ties": "nearest's tie rule", "subgradient": "the grid gradient at kinks"}
        for what, seen in self.conventions.items():
            order = TIE_RULES if what == "ties" else SUBGRADIENTS
            found = [c for c in order if c in seen]
            text = " and ".join(found) if found else "neither " + " nor ".join(order)
            notes.append(f"{labels[what]}: {text} (checked against {intended[what]})")
        return notes


def _run_category(category, fn, vjp, options, before=None, after=None):
    """Run every case of ``category``; ``before(case)`` and ``after(new_results, notes)`` report progress."""
    rng = np.random.default_rng([options["seed"], category_names().index(category.name)])
    recorder = _Recorder(category, options["rtol_scale"])
    notes = _Notes()
    for case in category.build(rng, options):
        if before is not None:
            before(case)
        done = len(recorder.result.results)
        _run_case(recorder, case, fn, vjp, options, notes)
        if after is not None:
            after(recorder.result.results[done:], notes.final(options))
    if vjp is None:
        notes.add("no VJP given: gradients not checked")
    recorder.result.notes = notes.final(options)
    return recorder.result


def _describe_case(case):
    return {"case": case.description, "mode": case.mode, "padding_mode": case.padding_mode,
            "align_corners": case.align_corners, "input": list(case.input.shape), "grid": list(case.grid.shape)}


def _child(category, fn, vjp, options, connection):
    if faulthandler.is_enabled():  # a crash is reported by the parent; no traceback dump on the terminal
        faulthandler.disable()
    try:
        result = _run_category(category, fn, vjp, options,
                               before=lambda case: connection.send(("case", _describe_case(case))),
                               after=lambda results, notes: connection.send(("results", (results, notes))))
        connection.send(("done", result.notes))
    except BaseException:  # noqa: BLE001 - report the battery's own failure to the parent
        connection.send(("error", traceback.format_exc()))
    finally:
        connection.close()


def _run_isolated(category, fn, vjp, options, timeout):
    """Run a category in a forked child; a crash or a hang fails the category, naming the case.

    The child sends each case before running it and its results after, so the results of the
    cases before a crash are kept.
    """
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(category, fn, vjp, options, writer), daemon=True)
    process.start()
    writer.close()
    result = CategoryResult(category.name, category.description)
    current, message = None, None
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not reader.poll(remaining):
                message = f"timed out after {timeout:g} s"
                break
            try:
                kind, payload = reader.recv()
            except EOFError:
                process.join(5)
                code = process.exitcode
                name = signal.Signals(-code).name if code is not None and code < 0 else f"exit status {code}"
                message = f"the process died ({name})"
                break
            if kind == "case":
                current = payload
            elif kind == "results":
                result.results.extend(payload[0])
                result.notes = payload[1]
            elif kind == "done":
                result.notes = payload
                return result
            else:
                raise RuntimeError(f"check_grid_sample: category {category.name!r} failed inside the battery:\n{payload}")
    finally:
        reader.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    where = current or {"case": "before the first case", "mode": "", "padding_mode": "", "align_corners": False}
    example = {"message": f"{message} while running this case" + (
        f" (input {tuple(current['input'])}, grid {tuple(current['grid'])})" if current else "")}
    result.results.append(CheckResult(category.name, where["case"], where["mode"], where["padding_mode"],
                                      where["align_corners"], "crash", False, math.inf, example))
    result.notes.append(f"the category stopped at that case: {message}")
    return result


def check_grid_sample(fn, vjp=None, *, modes=tuple(KERNELS), padding_modes=PADDING_MODES, nearest_ties="half_up",
                      subgradient="pytorch", categories=None, spatial_dims=SPATIAL_DIMS, seed=0, rtol_scale=1.0,
                      isolate=None, timeout=600.0, progress=None):
    """Run the conformance battery on a ``grid_sample`` implementation; returns a :class:`ConformanceReport`.

    Parameters
    ----------
    fn : callable
        ``fn(input, grid, mode, padding_mode, align_corners) -> output``: float64 (or, in the
        ``float32`` category, float32) NumPy arrays in PyTorch's layout, input (N, C, H, W),
        grid (N, H_out, W_out, 2) with the last axis (x, y), output (N, C, H_out, W_out) of the
        input's dtype; in the ``volume_`` categories input (N, C, D, H, W), grid (N, D_out,
        H_out, W_out, 3) with the last axis (x, y, z), output (N, C, D_out, H_out, W_out).
        Anything array-like is accepted back.
    vjp : callable, optional
        ``vjp(input, grid, grad_output, mode, padding_mode, align_corners) -> (grad_input,
        grad_grid)``. Without it only values are checked.
    modes : sequence of {"bilinear", "nearest", "bicubic"}
    padding_modes : sequence of {"zeros", "border", "reflection"}
    nearest_ties : {"half_up", "half_even"}
        The rounding rule you intend for exact half-pixel ties of ``nearest`` (:data:`TIE_RULES`);
        the report names the one the sampler follows.
    subgradient : {"pytorch", "central"}
        The gradient you intend at kinks (:mod:`stn_np.sampling.subgradients`).
    categories : sequence of str, optional
        Names from :data:`stn_np.testing.categories.CATEGORIES` (default: all, in order).
    spatial_dims : sequence of {2, 3}
        Run the categories of images (2), of volumes (3: the ``volume_`` categories, with the
        modes among ``modes`` that PyTorch has for volumes, bilinear and nearest), or both
        (the default).
    seed : int
        Seed of the random images, points and upstream gradients.
    rtol_scale : float
        Multiplies every tolerance (1e-9 for values and gradients in float64, 1e-6 against
        finite differences, 1e-5 in float32), for samplers that sum in another order.
    isolate : bool, optional
        Run each category in a forked child process (default: where the platform can fork),
        so that a crash fails the category, naming the case it was running.
    timeout : float
        Seconds a category may take when isolated.
    progress : callable, optional
        Called with each :class:`CategoryResult` as it finishes.

    Returns
    -------
    ConformanceReport

    Examples
    --------
    >>> from stn_np.testing import check_grid_sample, stn_np_sampler, stn_np_vjp
    >>> report = check_grid_sample(stn_np_sampler, stn_np_vjp, modes=["bilinear"], categories=["kinks", "edges"])
    >>> report.ok, [c.name for c in report.categories]
    (True, ['kinks', 'edges'])
    """
    here = "check_grid_sample"
    if not callable(fn):
        fail(here, "fn", "a callable fn(input, grid, mode, padding_mode, align_corners)", fn, TypeError)
    if vjp is not None and not callable(vjp):
        fail(here, "vjp", "a callable or None", vjp, TypeError)
    modes = [check_choice(m, tuple(KERNELS), here, "modes") for m in modes]
    padding_modes = [check_choice(p, PADDING_MODES, here, "padding_modes") for p in padding_modes]
    if not modes or not padding_modes:
        fail(here, "modes", "at least one mode and one padding mode", (modes, padding_modes))
    check_choice(nearest_ties, tuple(TIE_RULES), here, "nearest_ties")
    check_choice(subgradient, SUBGRADIENTS, here, "subgradient")
    if not isinstance(spatial_dims, (tuple, list)):
        spatial_dims = [spatial_dims]
    spatial_dims = [check_choice(d, SPATIAL_DIMS, here, "spatial_dims") for d in spatial_dims]
    names = category_names() if categories is None else [check_choice(c, tuple(CATEGORIES), here, "categories")
                                                          for c in categories]
    names = [name for name in names if CATEGORIES[name].spatial_dims in spatial_dims]
    rtol_scale = check_number(rtol_scale, here, "rtol_scale", minimum=0, strict_low=True)
    timeout = check_number(timeout, here, "timeout", minimum=0, strict_low=True)
    if isolate is None:
        isolate = "fork" in multiprocessing.get_all_start_methods() and os.name == "posix"
    options = {"modes": modes, "padding_modes": padding_modes, "nearest_ties": nearest_ties,
               "subgradient": subgradient, "spatial_dims": spatial_dims, "seed": int(seed), "rtol_scale": rtol_scale}
    results = []
    for name in names:
        category = CATEGORIES[name]
        result = (_run_isolated(category, fn, vjp, options, timeout) if isolate
                  else _run_category(category, fn, vjp, options))
        if not result.results:  # nothing to try with these modes (ties without nearest, volumes with bicubic)
            continue
        results.append(result)
        if progress is not None:
            progress(result)
    return ConformanceReport(results, dict(options, categories=[r.name for r in results], vjp=vjp is not None,
                                           isolate=bool(isolate)))
