"""How many bad inputs the public API rejects cleanly: the figure of issue 11 (target >= 97%).

Runs every case of ``tests/fuzz_cases.py`` (each public function of ``stn_np``,
``stn_np.functional``, ``stn_np.nn``, ``stn_np.optim``, ``stn_np.data``, ``stn_np.registration``,
``stn_np.io`` and the training entry points, called with one bad argument) and prints the
number handled cleanly: a ``ValueError``/``TypeError`` in the form
``"function: argument: expected ..., got ..."`` naming the bad argument, no warning, no input
changed. Every case that is not clean is listed with what happened.

The process runs with an address-space limit (``--memory-gib``, default 6), so a case that
tries to allocate a huge array fails with ``MemoryError`` (counted as not clean) instead of
taxing the machine, and each case with a time limit (``--seconds``, default 20).

Usage::

    python benchmarks/fuzz_api.py            # the figure and the list of unclean cases
    python benchmarks/fuzz_api.py --quiet    # the figure only

To measure another checkout (e.g. before a change), put it first on ``PYTHONPATH``: the case
table is read from this script's ``tests/`` folder, the library from wherever Python finds it.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print the figure only")
    parser.add_argument("--memory-gib", type=float, default=6.0, help="address-space limit of this process")
    parser.add_argument("--seconds", type=int, default=20, help="time limit of one case")
    args = parser.parse_args(argv)
    limit = int(args.memory_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))

    import stn_np
    from fuzz_cases import KNOWN, Outcome, cases, run_case

    signal.signal(signal.SIGALRM, _alarm)
    outcomes = []
    for case in cases():
        signal.alarm(args.seconds)
        try:
            outcome = run_case(case)
        except _Timeout:
            outcome = Outcome(case, False, f"no answer within {args.seconds} s")
        except MemoryError:
            outcome = Outcome(case, False, "MemoryError while preparing the case")
        finally:
            signal.alarm(0)
        outcomes.append(outcome)

    clean = sum(o.clean for o in outcomes)
    total = len(outcomes)
    if not args.quiet:
        by_target = collections.defaultdict(list)
        for o in outcomes:
            if not o.clean:
                by_target[o.case.target.name].append(o)
        for name, items in by_target.items():
            print(f"{name}:")
            for o in items:
                print(f"  {o.case.argument}={o.case.label}: {o.why}")
        print()
    functions = len({o.case.target.name for o in outcomes})
    print(f"stn_np {os.path.dirname(stn_np.__file__)}")
    print(f"bad inputs rejected cleanly: {clean} / {total} = {100 * clean / total:.1f}% "
          f"({functions} public callables; target >= 97%)")
    owners = collections.defaultdict(lambda: [0, 0])
    for o in outcomes:
        owner = KNOWN.get((o.case.target.name, o.case.argument), "the rest")
        owners[owner][0] += o.clean
        owners[owner][1] += 1
    print("by the area whose arguments they are (tests/fuzz_cases.py KNOWN):")
    for owner, (good, count) in sorted(owners.items(), key=lambda item: -item[1][1]):
        print(f"  {owner:24} {good:5} / {count:<5} = {100 * good / count:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
