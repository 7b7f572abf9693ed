"""The ``stn-np`` command line.

Each sub-command lives in a module of this package (found automatically; modules whose
name starts with ``_`` are helpers) exposing ``add_parser(subparsers)``,
which registers its options and sets ``run=function(args) -> exit status``; this module
only builds the parser and turns errors into one line.

Every error a user can cause (bad options, unreadable files, bad data) is reported as one
line on stderr with exit status 2; set ``STN_NP_DEBUG=1`` to see the traceback instead. The
library's errors name Python arguments ("register: levels: expected ..."); :func:`option_error`
spells them as the sub-command's options ("--levels: expected ...") in this one place.

Exit statuses: 0 success, 1 a failed check (``gradcheck``), 2 an error in one line, 3 a
training that diverged (an error's ``exit_status`` attribute), 130 interrupted (Ctrl-C).
Once a command has returned, a late Ctrl-C no longer changes its status or prints a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import signal
import sys
import threading

__all__ = ["main", "build_parser", "option_error", "UsageError"]

# "function: argument: rest" (the library's convention) or "argument: rest"
_MESSAGE = re.compile(r"^(?:(?P<function>[\w.()'\"=-]+): )?(?P<argument>\w+): (?P<rest>.*)$", re.S)
#: Library argument names that a sub-command's option spells differently (argument -> option dest).
_ALIASES = {"out_dir": "out"}

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
    argument = _ALIASES.get(match["argument"], match["argument"])
    for action in parser._actions:
        if action.dest != argument:
            continue
        if action.option_strings:
            name = max(action.option_strings, key=len)
        else:
            name = action.metavar or action.dest.upper()
            value = getattr(args, action.dest, None)
            name += f" ({value})" if value is not None else ""
        # the same kind of error; a subclass that takes other arguments becomes its base class
        kind = type(error) if type(error) in (ValueError, TypeError) or isinstance(error, OSError) \
            else ValueError if isinstance(error, ValueError) else TypeError
        return kind(f"{name}: {match['rest']}")
    return error


def _subcommand(parser, name):
    """The parser of sub-command ``name``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


class _LateInterrupts:
    """Ctrl-C raises KeyboardInterrupt while a command runs, and is ignored once it has returned.

    Installed only when ``main`` runs as the program (``argv`` None, main thread): then a Ctrl-C
    just after the last line of output cannot turn a finished run into a traceback or an exit
    status of -2 while the interpreter shuts down.
    """

    def __init__(self, active):
        self.active, self.done = active, False

    def _handler(self, signum, frame):
        if not self.done:
            raise KeyboardInterrupt

    def __enter__(self):
        if self.active:
            signal.signal(signal.SIGINT, self._handler)
        return self


def main(argv=None):
    """Entry point of ``stn-np``; returns the exit status."""
    parser = args = None
    late = _LateInterrupts(argv is None and threading.current_thread() is threading.main_thread()).__enter__()
    try:
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            return args.run(args)
        finally:
            late.done = True
    except KeyboardInterrupt:
        print("stn-np: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI promises one line, never a traceback
        if os.environ.get("STN_NP_DEBUG"):
            raise
        if args is not None and isinstance(error, (ValueError, TypeError, OSError)):
            status = getattr(error, "exit_status", 2)
            error = option_error(error, _subcommand(parser, args.command), args)
        else:
            status = 2
        text = str(error).strip()
        message = text.splitlines()[0] if text else type(error).__name__
        if not isinstance(error, (UsageError, ValueError, TypeError, OSError)):
            message = f"{type(error).__name__}: {message}"
        print(f"stn-np: error: {message}", file=sys.stderr)
        return status
