"""``stn-np gradcheck``: every registered op against central finite differences, as a table."""

from ..checks import all_cases, get_case, run_case


def add_parser(subparsers):
    p = subparsers.add_parser("gradcheck", help="check every registered op's gradient against finite differences")
    p.add_argument("--op", metavar="NAME", help="check only this op (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default: 0)")
    p.add_argument("-v", "--verbose", action="store_true", help="print the report of each failure")
    p.set_defaults(run=run)


def run(args):
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
