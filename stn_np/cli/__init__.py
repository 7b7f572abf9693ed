"""The ``stn-np`` command line.

Each sub-command lives in a module of this package (found automatically; modules whose
name starts with ``_`` are helpers) exposing ``add_parser(subparsers)``,
which registers its options and sets ``run=function(args) -> exit status``; this module
only builds the parser and turns errors into one line.

Every error a user can cause (bad options, unreadable files, bad data) is reported as one
line on stderr with exit status 2; set ``STN_NP_DEBUG=1`` to see the traceback instead. The
library's errors name Python arguments ("register: levels: expected ..."); :func:`option_error`
spells them as the sub-command's options ("--levels: expected ...") in this one place.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import sys

__all__ = ["main", "build_parser", "option_error", "UsageError"]

# "function: argument: rest" (the library's convention) or "argument: rest"
_MESSAGE = re.compile(r"^(?:(?P<function>[\w.()'\"=]+): )?(?P<argument>\w+): (?P<rest>.*)$", re.S)

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


def option_error(error, parser, args=None):
    """``error`` with the library argument it names spelt as ``parser``'s option, when it has one.

    ``train_size: ...`` or ``TrainConfig: train_size: ...`` becomes ``--train-size: ...``; a
    positional argument becomes its metavar and value (``FIXED (a.png): ...``). Other errors
    are returned unchanged.
    """
    match = _MESSAGE.match(str(error))
    if not match or parser is None:
        return error
    for action in parser._actions:
        if action.dest != match["argument"]:
            continue
        if action.option_strings:
            name = max(action.option_strings, key=len)
        else:
            name = action.metavar or action.dest.upper()
            value = getattr(args, action.dest, None)
            name += f" ({value})" if value is not None else ""
        return type(error)(f"{name}: {match['rest']}")
    return error


def _subcommand(parser, name):
    """The parser of sub-command ``name``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


def main(argv=None):
    """Entry point of ``stn-np``; returns the exit status."""
    parser = args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return args.run(args)
    except KeyboardInterrupt:
        print("stn-np: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI promises one line, never a traceback
        if os.environ.get("STN_NP_DEBUG"):
            raise
        if args is not None and isinstance(error, (ValueError, TypeError)):
            error = option_error(error, _subcommand(parser, args.command), args)
        text = str(error).strip()
        message = text.splitlines()[0] if text else type(error).__name__
        if not isinstance(error, (UsageError, ValueError, TypeError, OSError)):
            message = f"{type(error).__name__}: {message}"
        print(f"stn-np: error: {message}", file=sys.stderr)
        return 2
