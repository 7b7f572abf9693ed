"""The grid_sample conformance battery: it passes stn_np's own sampler, and catches each of a
set of deliberately wrong samplers in the category made for its mistake.

The wrong samplers are kept here, each a small change of stn_np's sampler (written with stn_np
tensors, so that their VJPs are exactly their own gradients and only the intended mistake is
wrong): the classic bugs of ported samplers.
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import stn_np
from stn_np import Tensor
from stn_np.cli import main
from stn_np.sampling import axis_sizes, grid_sample, normalized_to_pixel, pixel_to_normalized, sampling_matrix
from stn_np.sampling.padding import fold_coordinates
from stn_np.testing import CATEGORIES, check_grid_sample, stn_np_sampler, stn_np_vjp

HERE = os.path.dirname(os.path.abspath(__file__))


def tensor_sampler(body):
    """fn and vjp of a sampler written as ``body(U, grid, mode, padding, align) -> Tensor``."""

    def fn(input, grid, mode, padding, align):
        return body(Tensor(input), Tensor(grid), mode, padding, align).data

    def vjp(input, grid, grad_output, mode, padding, align):
        U, g = Tensor(input, requires_grad=True), Tensor(grid, requires_grad=True)
        body(U, g, mode, padding, align).backward(grad_output)
        return U.grad, g.grad

    return fn, vjp


def _half_pixel(U, grid, mode, padding, align):
    # x = (c + 1) W / 2 without the "- 1/2" (align_corners=False): every point half a pixel off
    if not align:
        H, W = U.shape[2:]
        grid = grid + np.array([1.0 / W, 1.0 / H])
    return grid_sample(U, grid, mode, padding, align)


def _xy_swapped(U, grid, mode, padding, align):
    return grid_sample(U, grid[..., np.array([1, 0])], mode, padding, align)


def _last_row_never_read(U, grid, mode, padding, align):
    # an off-by-one in the row clamp: the last row is replaced by the one above it
    return grid_sample(stn_np.concatenate([U[:, :, :-1], U[:, :, -2:-1]], axis=2), grid, mode, padding, align)


def _border_as_zeros(U, grid, mode, padding, align):
    return grid_sample(U, grid, mode, "zeros" if padding == "border" else padding, align)


def _reflection_as_border(U, grid, mode, padding, align):
    return grid_sample(U, grid, mode, "border" if padding == "reflection" else padding, align)


def _nearest_half_to_even(U, grid, mode, padding, align):
    # a nearest written with numpy.round (exact ties to the even pixel), otherwise right: each
    # tie is moved onto the centre of the pixel numpy.round picks (reflection first mirrors)
    if mode != "nearest":
        return grid_sample(U, grid, mode, padding, align)
    d = U.ndim - 2
    moved = grid.data.copy()
    for axis, size in enumerate(axis_sizes(U.shape[2:])):
        pixel = normalized_to_pixel(grid.data[..., axis], size, align, d)
        folded, _, _ = fold_coordinates(pixel.copy(), size, 0.5, padding, align)
        tie = folded - np.floor(folded) == 0.5
        moved[..., axis] = np.where(tie, pixel_to_normalized(np.round(folded), size, align), moved[..., axis])
    with np.errstate(invalid="ignore"):
        delta = np.where(np.isfinite(grid.data), moved - grid.data, 0.0)
    return grid_sample(U, grid + delta, mode, padding, align)


def _zy_swapped(U, grid, mode, padding, align):
    # a volumetric sampler that reads the grid's last axis as (x, z, y)
    return grid_sample(U, grid[..., np.array([0, 2, 1])] if U.ndim == 5 else grid, mode, padding, align)


def _depth_scaled_by_width(U, grid, mode, padding, align):
    # a volumetric sampler that unnormalises z with the width W instead of the depth D
    if U.ndim != 5:
        return grid_sample(U, grid, mode, padding, align)
    D, W = U.shape[2], U.shape[4]
    with np.errstate(invalid="ignore"):
        z = pixel_to_normalized(normalized_to_pixel(grid.data[..., 2], W, align, 3), D, align)
        delta = np.where(np.isfinite(grid.data[..., 2]), z - grid.data[..., 2], 0.0)
    return grid_sample(U, grid + np.stack([np.zeros_like(delta), np.zeros_like(delta), delta], -1), mode, padding,
                       align)


def _fn_vjp(body):
    return tensor_sampler(body)


def _wrong_grid_scale():
    def vjp(input, grid, grad_output, mode, padding, align):
        grad_input, grad_grid = stn_np_vjp(input, grid, grad_output, mode, padding, align)
        return grad_input, 2 * grad_grid  # d pixel / d coord taken as W instead of W / 2

    return stn_np_sampler, vjp


def _drops_duplicates():
    def vjp(input, grid, grad_output, mode, padding, align):
        _, grad_grid = stn_np_vjp(input, grid, grad_output, mode, padding, align)
        N, C, H, W = input.shape
        S = sampling_matrix(grid, input.shape, mode, padding, align).tocoo()
        grad_input = np.zeros((C, N * H * W))
        G = grad_output.transpose(1, 0, 2, 3).reshape(C, -1)
        grad_input[:, S.col] += S.data * G[:, S.row]  # fancy-index +=: a repeated pixel keeps one term
        return grad_input.reshape(C, N, H, W).transpose(1, 0, 2, 3), grad_grid

    return stn_np_sampler, vjp


# name -> ((fn, vjp), modes to run, the category that must catch it, the check that fails there)
WRONG = {
    "half-pixel unnormalisation": (_fn_vjp(_half_pixel), ["bilinear"], "identity", "values"),
    "x/y swapped": (_fn_vjp(_xy_swapped), ["bilinear"], "xy_order", "values"),
    "last row never read": (_fn_vjp(_last_row_never_read), ["bilinear"], "edges", "values"),
    "border as zeros": (_fn_vjp(_border_as_zeros), ["bilinear"], "padding_near", "values"),
    "reflection as border": (_fn_vjp(_reflection_as_border), ["bilinear"], "padding_near", "values"),
    "nearest rounds half to even": (_fn_vjp(_nearest_half_to_even), ["nearest"], "ties", "values"),
    "grid gradient of the wrong scale": (_wrong_grid_scale(), ["bilinear"], "random", "grid gradient"),
    "input gradient drops duplicates": (_drops_duplicates(), ["bilinear"], "accumulation", "input gradient"),
    "volumes: z/y swapped": (_fn_vjp(_zy_swapped), ["bilinear"], "volume_xy_order", "values"),
    "volumes: depth unnormalised with the width": (_fn_vjp(_depth_scaled_by_width), ["bilinear"], "volume_identity",
                                                   "values"),
}


def test_stn_np_passes_every_category():
    report = check_grid_sample(stn_np_sampler, stn_np_vjp)
    assert report.ok, report.table()
    assert [c.name for c in report.categories] == list(CATEGORIES)
    assert all(c.checks > 0 for c in report.categories)
    assert sum(c.checks for c in report.categories) > 1500
    notes = " ".join(n for c in report.categories for n in c.notes)
    assert "nearest's tie rule: half_up (checked against half_up)" in notes
    assert "the grid gradient at kinks: pytorch (checked against pytorch)" in notes


@pytest.mark.parametrize("name", WRONG)
def test_each_wrong_sampler_is_caught_in_its_category(name):
    (fn, vjp), modes, category, check = WRONG[name]
    report = check_grid_sample(fn, vjp, modes=modes, isolate=False, spatial_dims=[CATEGORIES[category].spatial_dims])
    failed = {c.name: c for c in report.categories if not c.ok}
    assert category in failed, f"{name}: not caught by {category}\n{report.table()}"
    assert any(r.check.startswith(check) and not r.passed for r in failed[category].results)
    assert not report.ok


def test_the_tie_rule_is_a_named_convention_and_an_option():
    # A sampler that rounds ties to even fails where exact ties occur -- the ties category, and
    # the categories whose points include an image edge (x = W - 0.5) -- and nowhere else; and
    # nowhere at all when that is the rule the user intends.
    fn, vjp = WRONG["nearest rounds half to even"][0]
    report = check_grid_sample(fn, vjp, modes=["nearest"], isolate=False)
    failing = {c.name for c in report.categories if not c.ok}
    edges = {"ties", "align_corners", "padding_near", "edges"}
    assert {"ties", "volume_ties"} <= failing <= edges | {f"volume_{name}" for name in edges}
    for name in ("ties", "volume_ties"):
        ties = next(c for c in report.categories if c.name == name)
        assert "nearest's tie rule: half_even (checked against half_up)" in ties.notes
    assert check_grid_sample(fn, vjp, modes=["nearest"], nearest_ties="half_even", isolate=False).ok
    assert not check_grid_sample(stn_np_sampler, stn_np_vjp, modes=["nearest"], categories=["ties"],
                                 nearest_ties="half_even").ok


def test_the_subgradient_is_an_option_and_reported():
    def central_vjp(input, grid, grad_output, mode, padding, align):
        U, g = Tensor(input, requires_grad=True), Tensor(grid, requires_grad=True)
        grid_sample(U, g, mode, padding, align, subgradient="central").backward(grad_output)
        return U.grad, g.grad

    kinks = ["identity", "kinks", "edges"]
    report = check_grid_sample(stn_np_sampler, central_vjp, modes=["bilinear"], categories=kinks)
    assert not report.ok and all(r.check == "grid gradient" for c in report.categories for r in c.results
                                 if not r.passed)
    assert any("the grid gradient at kinks: central (checked against pytorch)" in n
               for c in report.categories for n in c.notes)
    assert check_grid_sample(stn_np_sampler, central_vjp, modes=["bilinear"], categories=kinks,
                             subgradient="central").ok


def _crash_on_nan(input, grid, mode, padding, align):
    if np.isnan(grid).any() and padding == "border":
        os.kill(os.getpid(), signal.SIGSEGV)  # what PyTorch 2.13's CPU kernel does here
    return stn_np_sampler(input, grid, mode, padding, align)


def test_a_crash_fails_its_category_only_and_names_the_case():
    report = check_grid_sample(_crash_on_nan, stn_np_vjp, modes=["bilinear"],
                               categories=["nonfinite", "random"])
    nonfinite, random = report.categories
    assert random.ok and not nonfinite.ok
    crash = nonfinite.first_failure
    assert crash.check == "crash" and crash.padding_mode == "border" and "SIGSEGV" in crash.example["message"]
    assert nonfinite.passed == 6  # the zeros cases ran before it


def test_values_only_without_a_vjp():
    report = check_grid_sample(stn_np_sampler, modes=["bicubic"], categories=["random", "edges"])
    assert report.ok and all(r.check in ("values",) for c in report.categories for r in c.results)
    assert "no VJP given: gradients not checked" in report.categories[0].notes


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="check_grid_sample: fn: expected a callable"):
        check_grid_sample(None)
    with pytest.raises(ValueError, match="check_grid_sample: nearest_ties: expected one of 'half_up', 'half_even'"):
        check_grid_sample(stn_np_sampler, nearest_ties="up")
    with pytest.raises(ValueError, match="check_grid_sample: categories: expected one of 'random'"):
        check_grid_sample(stn_np_sampler, categories=["nope"])


# ---------------------------------------------------------------- the command line
def test_cli_passes_stn_np_and_writes_strict_json(tmp_path, capsys):
    path = tmp_path / "report.json"
    status = main(["conformance", "stn_np.testing:stn_np_sampler", "--vjp", "stn_np.testing:stn_np_vjp",
                   "--modes", "bilinear", "--categories", "edges", "empty", "nonfinite", "--json", str(path)])
    out = capsys.readouterr().out
    assert status == 0
    assert out.splitlines()[0].split() == ["category", "checks", "passed", "worst", "error", "first", "failure"]
    assert "3/3 categories passed" in out and out.rstrip().endswith("OK")
    text = path.read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["ok"] is True and [c["name"] for c in data["categories"]] == ["edges", "empty", "nonfinite"]
    assert all("error" in r for c in data["categories"] for r in c["results"])


def test_cli_exits_one_on_failure_and_prints_the_first_failing_example(tmp_path, capsys):
    module = tmp_path / "wrong_sampler.py"
    module.write_text("import numpy as np\n"
                      "from stn_np.testing import stn_np_sampler\n"
                      "def fn(input, grid, mode, padding_mode, align_corners):\n"
                      "    return stn_np_sampler(input, grid[..., ::-1].copy(), mode, padding_mode, align_corners)\n")
    path = tmp_path / "report.json"
    status = main(["conformance", f"{module}:fn", "--modes", "bilinear", "--categories", "xy_order",
                   "--json", str(path)])
    out = capsys.readouterr().out
    assert status == 1
    row = next(line for line in out.splitlines() if line.startswith("xy_order"))
    assert "values (input [1, 2, 3, 6], grid [1, 3, 6, 2]) at output [" in row and "expected" in row and "got" in row
    data = json.loads(path.read_text())
    assert data["ok"] is False and data["categories"][0]["first_failure"]["check"] == "values"


def test_spatial_dims_choose_images_volumes_or_both(tmp_path, capsys):
    report = check_grid_sample(stn_np_sampler, stn_np_vjp, modes=["bilinear"], spatial_dims=[3],
                               categories=["edges", "volume_edges", "volume_kinks"], isolate=False)
    assert [c.name for c in report.categories] == ["volume_edges", "volume_kinks"] and report.ok
    # bicubic has no volumetric form: its volume categories have nothing to try and are left out
    report = check_grid_sample(stn_np_sampler, modes=["bicubic"], categories=["edges", "volume_edges"], isolate=False)
    assert [c.name for c in report.categories] == ["edges"]
    with pytest.raises(ValueError, match=r"check_grid_sample: spatial_dims: expected one of 2, 3, got 4"):
        check_grid_sample(stn_np_sampler, spatial_dims=[4])
    # the command line: a sampler that swaps z and y fails the volumes and passes the images
    module = tmp_path / "zy_sampler.py"
    module.write_text("from stn_np.testing import stn_np_sampler\n"
                      "def fn(input, grid, mode, padding_mode, align_corners):\n"
                      "    grid = grid[..., [0, 2, 1]] if input.ndim == 5 else grid\n"
                      "    return stn_np_sampler(input, grid, mode, padding_mode, align_corners)\n")
    args = ["conformance", f"{module}:fn", "--modes", "bilinear", "--categories", "xy_order", "volume_xy_order"]
    assert main(args + ["--spatial-dims", "2"]) == 0
    assert main(args + ["--spatial-dims", "3"]) == 1
    out = capsys.readouterr().out
    assert "volume_xy_order" in out and "values (input [1, 2, 3, 4, 6], grid [1, 3, 4, 6, 3])" in out


def test_cli_errors_are_one_line_with_status_two(capsys):
    assert main(["conformance", "no_such_module_here:fn"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stn-np: error: MODULE:FUNCTION (no_such_module_here:fn): cannot import") and err.count("\n") == 1
    assert main(["conformance", "stn_np.testing"]) == 2
    assert "expected MODULE:FUNCTION" in capsys.readouterr().err
    assert main(["conformance", "stn_np.testing:stn_np_sampler", "--vjp", "stn_np.testing:nothing"]) == 2
    assert "--vjp: expected a callable 'nothing'" in capsys.readouterr().err


def test_console_script_runs_the_battery():
    proc = subprocess.run([sys.executable, "-m", "stn_np.cli", "conformance", "stn_np.testing:stn_np_sampler",
                           "--modes", "nearest", "--categories", "ties"], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=os.path.dirname(HERE)))
    assert proc.returncode == 0, proc.stderr
    assert "nearest's tie rule: half_up" in proc.stdout


# ---------------------------------------------------------------- the README's PyTorch adapter
def test_the_readme_pytorch_adapter_passes_all_but_pytorchs_nan_crash(tmp_path):
    # Needs torch (never a dependency: CI has none). The adapter is the README's, verbatim.
    pytest.importorskip("torch")
    readme = open(os.path.join(os.path.dirname(HERE), "README.md")).read()
    start = readme.index("# torch_sampler.py")
    code = readme[start:readme.index("```", start)]
    (tmp_path / "torch_sampler.py").write_text(code)
    sys.path.insert(0, str(tmp_path))
    try:
        import torch_sampler
    finally:
        sys.path.remove(str(tmp_path))
    report = check_grid_sample(torch_sampler.fn, torch_sampler.vjp, nearest_ties="half_even")
    failing = [c.name for c in report.categories if not c.ok]
    # PyTorch's volumetric reflection counts mirror flips in a 32-bit int: beyond 2**31 spans
    # (1e10 voxels on a 5-voxel axis) it overflows and reads the wrong voxel
    assert set(failing) <= {"nonfinite", "volume_large_coordinates"}, report.table()
