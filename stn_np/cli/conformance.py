"""``stn-np conformance``: run the grid_sample conformance battery on anyone's sampler.

    stn-np conformance MODULE:FUNCTION [--vjp MODULE:FUNCTION] [--modes ...] [--spatial-dims 2 3] [--json FILE]

``MODULE`` is imported as ``python -m`` would (the current directory first on the path), or
loaded from a file when it ends in ``.py``. Prints the table of
:meth:`stn_np.testing.ConformanceReport.table`; exits 0 when every check passes, 1 otherwise
(2 for a bad command line, as every sub-command).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from ..sampling.coords import SPATIAL_DIMS
from ..sampling.kernels import KERNELS
from ..sampling.padding import PADDING_MODES
from ..sampling.subgradients import SUBGRADIENTS
from ..testing import CATEGORIES, TIE_RULES, check_grid_sample


def add_parser(subparsers):
    p = subparsers.add_parser(
        "conformance", help="check anyone's grid_sample against stn_np on kinks, ties, edges, NaN, empty shapes...",
        description="Run the grid_sample conformance battery (stn_np.testing.check_grid_sample) on FUNCTION(input, "
                    "grid, mode, padding_mode, align_corners) -> output, with float64 NumPy arrays in PyTorch's layout.")
    p.add_argument("function", metavar="MODULE:FUNCTION", help="the sampler under test, e.g. my_adapters:torch_sampler")
    p.add_argument("--vjp", metavar="MODULE:FUNCTION",
                   help="its VJP(input, grid, grad_output, mode, padding_mode, align_corners) -> (grad_input, "
                        "grad_grid); without it only values are checked")
    p.add_argument("--modes", nargs="+", choices=tuple(KERNELS), default=list(KERNELS), metavar="MODE",
                   help="modes to check (default: %(default)s)")
    p.add_argument("--padding-modes", nargs="+", choices=PADDING_MODES, default=list(PADDING_MODES),
                   metavar="PADDING", help="padding modes to check (default: %(default)s)")
    p.add_argument("--categories", nargs="+", choices=tuple(CATEGORIES), metavar="NAME",
                   help="categories to run (default: all): " + ", ".join(CATEGORIES))
    p.add_argument("--spatial-dims", nargs="+", type=int, choices=SPATIAL_DIMS, default=list(SPATIAL_DIMS),
                   metavar="D", help="run the categories of images (2: input N, C, H, W), of volumes (3: the volume_ "
                                     "categories, input N, C, D, H, W), or both (default: %(default)s)")
    p.add_argument("--nearest-ties", choices=tuple(TIE_RULES), default="half_up",
                   help="the rounding rule you intend for exact half-pixel ties of nearest: half_up is stn_np's and "
                        "the paper's floor(x + 0.5), half_even PyTorch's (default: %(default)s)")
    p.add_argument("--subgradient", choices=SUBGRADIENTS, default="pytorch",
                   help="the gradient you intend at kinks (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default: 0)")
    p.add_argument("--rtol-scale", type=float, default=1.0, metavar="X",
                   help="multiply every tolerance by X (default: 1)")
    p.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="run in this process (default: each category in a forked process, so a crash fails only it)")
    p.add_argument("--json", metavar="FILE", help="also write the whole report, every check, as JSON")
    p.set_defaults(run=run)


def load(spec, argument):
    """The callable named ``MODULE:FUNCTION`` (MODULE a module name or a .py file)."""
    module_name, sep, attribute = spec.rpartition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{argument}: expected MODULE:FUNCTION, got {spec!r}")
    try:
        if module_name.endswith(".py"):
            location = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(module_name))[0],
                                                              module_name)
            if location is None or not os.path.isfile(module_name):
                raise ImportError(f"no file {module_name}")
            module = importlib.util.module_from_spec(location)
            location.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"{argument}: cannot import {module_name!r} ({error})") from None
    function = module
    for part in attribute.split("."):
        function = getattr(function, part, None)
    if not callable(function):
        raise ValueError(f"{argument}: expected a callable {attribute!r} in {module_name!r}, got "
                         f"{type(function).__name__}")
    return function


def run(args):
    fn = load(args.function, "function")
    vjp = load(args.vjp, "vjp") if args.vjp else None
    print(f"stn-np conformance: {args.function}" + (f" with VJP {args.vjp}" if vjp else " (values only: no --vjp)"),
          file=sys.stderr)
    report = check_grid_sample(fn, vjp, modes=args.modes, padding_modes=args.padding_modes,
                               nearest_ties=args.nearest_ties, subgradient=args.subgradient,
                               categories=args.categories, spatial_dims=args.spatial_dims, seed=args.seed,
                               rtol_scale=args.rtol_scale,
                               isolate=None if args.isolate else False,
                               progress=lambda c: print(f"  {c.name}: {c.passed}/{c.checks}", file=sys.stderr))
    print(report.table())
    if args.json:
        report.save_json(args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0 if report.ok else 1
