"""The ``stn-np`` command line.

Every error a user can cause (bad options, unreadable files, bad data) is reported as one
line on stderr with exit status 2; set ``STN_NP_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main", "build_parser"]


class UsageError(Exception):
    """A bad command line; reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse prints the whole usage and exits; one line is easier to read in scripts
        raise UsageError(message)


def _cmd_gradcheck(args):
    from .checks import all_cases, get_case, run_case

    cases = [get_case(args.op)] if args.op else all_cases()
    rows = []
    failed = 0
    for case in cases:
        result = run_case(case, seed=args.seed)
        failed += not result.ok
        shapes = ", ".join(str(s) for s in result.input_shapes)
        rows.append((result.name, shapes, f"{result.max_abs:.2e}", f"{result.max_rel:.2e}", "OK" if result.ok else "FAIL"))
        if not result.ok and args.verbose:
            rows.extend(("", "  " + m, "", "", "") for m in result.messages)
    header = ("op", "input shapes", "max abs err", "max rel err", "result")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    widths[1] = min(widths[1], 40)
    for row in [header] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"\n{len(cases) - failed}/{len(cases)} ops passed (seed {args.seed})")
    return 1 if failed else 0


def build_parser():
    """The argument parser of ``stn-np`` (one sub-command per job)."""
    parser = _Parser(prog="stn-np", description="Spatial Transformer Networks in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("gradcheck", help="check every registered op's gradient against finite differences")
    p.add_argument("--op", metavar="NAME", help="check only this op (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default: 0)")
    p.add_argument("-v", "--verbose", action="store_true", help="print the report of each failure")
    p.set_defaults(run=_cmd_gradcheck)
    return parser


def main(argv=None):
    """Entry point of ``stn-np``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except KeyboardInterrupt:
        print("stn-np: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI promises one line, never a traceback
        if os.environ.get("STN_NP_DEBUG"):
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if not isinstance(error, (UsageError, ValueError, TypeError, OSError)):
            message = f"{type(error).__name__}: {message}"
        print(f"stn-np: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
