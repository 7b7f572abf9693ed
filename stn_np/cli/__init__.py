"""The ``stn-np`` command line.

Each sub-command lives in a module of this package (found automatically; modules whose
name starts with ``_`` are helpers) exposing ``add_parser(subparsers)``,
which registers its options and sets ``run=function(args) -> exit status``; this module
only builds the parser and turns errors into one line.

Every error a user can cause (bad options, unreadable files, bad data) is reported as one
line on stderr with exit status 2; set ``STN_NP_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

__all__ = ["main", "build_parser", "UsageError"]

class UsageError(Exception):
    """A bad command line or option value; reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse prints the whole usage and exits; one line is easier to read in scripts
        raise UsageError(message)


def build_parser():
    """The argument parser of ``stn-np`` (one sub-command per job)."""
    parser = _Parser(prog="stn-np", description="Spatial Transformer Networks in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}").add_parser(sub)
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
        text = str(error).strip()
        message = text.splitlines()[0] if text else type(error).__name__
        if not isinstance(error, (UsageError, ValueError, TypeError, OSError)):
            message = f"{type(error).__name__}: {message}"
        print(f"stn-np: error: {message}", file=sys.stderr)
        return 2
