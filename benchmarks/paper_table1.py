"""The paper's Table 1, measured: every zoo model on every distortion (R, RTS, P, E) of Fashion-MNIST.

Jaderberg et al. (2015), Table 1 (left) reports the % test error of an FCN, a CNN, and each with
an affine, projective or thin plate spline spatial transformer in front, on MNIST under four
distortions. This script trains the same grid with :mod:`stn_np.nn.models` (8 models x 4
distortions = 32 cells) on Fashion-MNIST, a harder data set of the same shape, and writes
``docs/paper_table1.md`` (the measured table in the paper's layout, seconds per cell, parameter
counts, the paper's table and a reading of which of its orderings hold) from a results file.

Data: the four Fashion-MNIST IDX files, e.g. from the Debian package::

    sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist   # -> /usr/share/datasets/fashion-mnist

When they are missing the script says so and exits with status 2 before training anything.

The budget (one for every cell, :data:`BUDGET`): the 60,000 training images, distorted once
with seed 0 (:func:`stn_np.data.make_dataset`), 8 epochs of Adam (lr 1e-3, batch 64, the
localisation network at the same rate) from weights seeded with 0; the error is measured once,
after the last epoch, on the 10,000 test images (distorted with their own seed). Each cell is
exactly ``stn-np train --data fashion-mnist --distortion D --model M [--transform T] --epochs 8``
(:func:`stn_np.training.train`), run in this process with one BLAS thread. Calibrated on a few
cells first: an epoch of the whole table takes about 6.6 minutes on a quiet 2-core machine, so 8
epochs make about 55 minutes, under the 75 minutes allowed with room for a shared machine (the
committed run took 62 minutes while others used the second core; the document records it).

Resumable: after every cell the results file (``--results``, strict JSON) is rewritten
atomically; a new run skips the cells it holds (and continues an interrupted cell from its
last epoch checkpoint under ``--runs``). A results file made with another budget is refused.

Usage::

    flock /tmp/stn_cpu.lock python benchmarks/paper_table1.py                 # the whole table
    python benchmarks/paper_table1.py --write-only                            # the document only
    python benchmarks/paper_table1.py --cells "ST-CNN TPS/RTS" --epochs 2 --results /tmp/r.json   # calibrate

Other options: ``--data-dir``, ``--runs`` (checkpoints, default ``runs/paper_table1``),
``--doc``, ``--train-size`` / ``--test-size`` / ``--epochs`` (a different budget, for
calibration and tests; recorded in the results file and stated in the document).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout without installing

from stn_np.data import DISTORTIONS  # noqa: E402
from stn_np.io import atomic_write  # noqa: E402
from stn_np.nn.models import build_model, count_params, zoo  # noqa: E402
from stn_np.training import TrainConfig, keep_heap, set_blas_threads, train  # noqa: E402

FORMAT = "stn_np.paper_table1/1"
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
#: The paper's columns.
COLUMNS = ("R", "RTS", "P", "E")
#: The transformation families of the paper's table and its names for them (its rows).
PAPER_TRANSFORMS = {"affine": "Aff", "projective": "Proj", "tps": "TPS"}
#: Jaderberg et al. 2015, Table 1 (left): % test error on distorted MNIST.
PAPER = {
    "FCN": (2.1, 5.2, 3.1, 3.2),
    "CNN": (1.2, 0.8, 1.5, 1.4),
    "ST-FCN Aff": (1.2, 0.8, 1.5, 2.7),
    "ST-FCN Proj": (1.3, 0.9, 1.4, 2.6),
    "ST-FCN TPS": (1.1, 0.8, 1.4, 2.4),
    "ST-CNN Aff": (0.7, 0.5, 0.8, 1.2),
    "ST-CNN Proj": (0.8, 0.6, 0.8, 1.3),
    "ST-CNN TPS": (0.7, 0.5, 0.8, 1.1),
}
#: The documented budget: TrainConfig fields shared by every cell.
BUDGET = {"epochs": 8, "batch_size": 64, "optimizer": "adam", "lr": 1e-3, "loc_lr_mult": 1.0, "seed": 0,
          "train_size": None, "test_size": None}


def rows():
    """(label, model, transform) of the paper's eight rows, in its order, e.g. ("ST-CNN TPS", "st-cnn", "tps")."""
    return [(name.upper() if transform is None else f"{name.upper()} {PAPER_TRANSFORMS[transform]}", name, transform)
            for name, transform in zoo(tuple(PAPER_TRANSFORMS))]


def cell_key(label, column):
    return f"{label}/{column}"


def slug(key):
    return re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-").lower()


def missing_data(data_dir):
    """The IDX files (raw or .gz) missing from ``data_dir``."""
    return [name for name in FILES
            if not any(os.path.exists(os.path.join(data_dir, name + ext)) for ext in ("", ".gz"))]


def load_results(path, budget=None):
    """The results file at ``path`` (a new one when absent); SystemExit if it was made with another budget.

    ``budget`` None accepts the file's own budget (a new file then gets the documented one).
    """
    budget = dict(BUDGET) if budget is None and not os.path.exists(path) else budget
    if not os.path.exists(path):
        return {"format": FORMAT, "budget": budget, "cells": {}, "runs": []}
    with open(path, encoding="utf-8") as f:
        results = json.load(f)
    if results.get("format") != FORMAT:
        raise SystemExit(f"paper_table1: {path} is not a results file of this script ({FORMAT})")
    if budget is not None and results["budget"] != budget:
        raise SystemExit(f"paper_table1: {path} holds cells made with another budget ({results['budget']}); "
                         f"choose another --results file or delete it")
    return results


def save_results(path, results):
    """Rewrite the results file atomically, as strict JSON (no NaN or infinity)."""
    with atomic_write(path, "w") as f:
        json.dump(results, f, indent=1, allow_nan=False)
        f.write("\n")


def run_cell(label, model, transform, column, args, budget):
    """Train one cell through :func:`stn_np.training.train`; returns its JSON record."""
    config = TrainConfig(data="fashion-mnist", data_dir=args.data_dir, distortion=column, model=model,
                         transform=transform, **budget)
    out = os.path.join(args.runs, slug(cell_key(label, column)))
    resume = os.path.exists(os.path.join(out, "checkpoint.npz"))
    started = time.perf_counter()
    result = train(config, out, resume=resume, progress=False, figures=False)
    history = result.history
    return {
        "model": model, "transform": transform, "distortion": column,
        "test_error": 1.0 - result.test_accuracy,
        "test_errors_per_epoch": [1.0 - h["test_accuracy"] for h in history],
        "train_errors_per_epoch": [1.0 - h["train_accuracy"] for h in history],  # dropout on, during the epoch
        "final_train_loss": history[-1]["train_loss"] if math.isfinite(history[-1]["train_loss"]) else None,
        "seconds": sum(h["seconds"] for h in history),  # training + per-epoch evaluation, across resumptions
        "wall_seconds_this_run": time.perf_counter() - started,
        "resumed": resume,
        "params": count_params(result.model),
        "hidden": result.model.hidden,
        "input_size": int(result.model.input_size),
        "load_average": round(os.getloadavg()[0], 2),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


# ---------------------------------------------------------------------------------------------- the document
def _fmt(value, digits=1):
    return "—" if value is None else f"{value:.{digits}f}"


def _table(header, body):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def _error(cells, label, column):
    cell = cells.get(cell_key(label, column))
    return None if cell is None else 100 * cell["test_error"]


def _standard_error(percent, n):
    """Binomial standard error (in points) of a % error measured on ``n`` test images."""
    p = percent / 100
    return 100 * math.sqrt(max(p * (1 - p), 1e-12) / n)


def orderings(cells, n_test):
    """The paper's orderings, each checked per column on the measured and on the paper's numbers.

    Returns a list of (claim, comparisons): each comparison (column, better, worse, measured holds?,
    measured difference in points, within 2 standard errors?, paper holds?).
    """
    labels = [label for label, _, _ in rows()]
    st = {kind: [lab for lab in labels if lab.startswith(f"ST-{kind} ")] for kind in ("FCN", "CNN")}
    claims = [
        ("an ST-FCN beats the FCN", [(lab, "FCN") for lab in st["FCN"]]),
        ("an ST-CNN beats the CNN", [(lab, "CNN") for lab in st["CNN"]]),
        ("the CNN beats the FCN", [("CNN", "FCN")]),
        ("each ST-CNN beats the ST-FCN with its transform", list(zip(st["CNN"], st["FCN"]))),
        ("the ST-FCNs match or beat the CNN", [(lab, "CNN") for lab in st["FCN"]]),
        ("TPS matches or beats affine (ST-FCN, ST-CNN)", [("ST-FCN TPS", "ST-FCN Aff"), ("ST-CNN TPS", "ST-CNN Aff")]),
    ]
    out = []
    for claim, pairs in claims:
        ties_allowed = "match" in claim
        comparisons = []
        for column in COLUMNS:
            for better, worse in pairs:
                a, b = _error(cells, better, column), _error(cells, worse, column)
                p_a, p_b = PAPER[better][COLUMNS.index(column)], PAPER[worse][COLUMNS.index(column)]
                paper = p_a <= p_b if ties_allowed else p_a < p_b
                if a is None or b is None:
                    comparisons.append((column, better, worse, None, None, None, paper))
                    continue
                noise = 2 * math.hypot(_standard_error(a, n_test), _standard_error(b, n_test))
                holds = a <= b if ties_allowed else a < b
                comparisons.append((column, better, worse, holds, b - a, abs(b - a) < noise, paper))
        out.append((claim, comparisons))
    return out


def _params(label):
    """Parameter count and classifier width of row ``label`` on 28x28 and on 42x42 inputs."""
    _, model, transform = next(row for row in rows() if row[0] == label)
    built = [build_model(model, size, transform, rng=np.random.default_rng(0)) for size in (28, 42)]
    return [f"{count_params(m):,} ({m.hidden})" for m in built]


def still_improving(cells):
    """Cells whose test error fell in their last epoch (the budget stopped them while they were learning)."""
    return [key for key, c in cells.items()
            if len(c["test_errors_per_epoch"]) > 1 and c["test_errors_per_epoch"][-1] < c["test_errors_per_epoch"][-2]]


def write_document(results, path, results_path):
    cells, budget = results["cells"], results["budget"]
    labels = [label for label, _, _ in rows()]
    n_test = budget["test_size"] or 10000
    done = sum(cell_key(lab, col) in cells for lab in labels for col in COLUMNS)
    link = os.path.relpath(results_path, os.path.dirname(os.path.abspath(path)))
    lines = ["# The paper's Table 1, measured on Fashion-MNIST", ""]
    lines += [
        f"Generated by `benchmarks/paper_table1.py` from [`{link}`]({link}) (the results, per cell and per "
        f"epoch); do not edit by hand. {done} of {len(labels) * len(COLUMNS)} cells measured.",
        "",
        "Jaderberg et al. (2015), Table 1, compares a fully connected network (FCN), a CNN, and each "
        "of them behind a spatial transformer with an affine (Aff), projective (Proj) or 16-point "
        "thin plate spline (TPS) transformation, on MNIST rotated (R), rotated, scaled and translated "
        "onto a 42x42 canvas (RTS), projectively warped (P) and elastically warped (E). Here the same "
        "eight models of `stn_np.nn.models` are trained on **Fashion-MNIST** under the same four "
        "distortions (`stn_np.data.distortions`), on a CPU budget far below the paper's.",
        "",
        "## Protocol and budget",
        "",
        f"- Data: Fashion-MNIST (the Debian package `dataset-fashion-mnist`), "
        f"{budget['train_size'] or 60000:,} training and {n_test:,} test images, each distorted once "
        f"(train and test with their own seeds derived from seed {budget['seed']}).",
        f"- One budget for every cell: {budget['epochs']} epochs of {budget['optimizer'].capitalize()} "
        f"(learning rate {budget['lr']:g}, batch {budget['batch_size']}, the localisation network at "
        f"{budget['loc_lr_mult']:g} x that rate, no schedule), weights seeded with {budget['seed']}, PyTorch's "
        "default initialisation, the regressor starting at the identity transform. The error is "
        "measured once, after the last epoch (no selection on the test set).",
        "- A cell is `stn-np train --data fashion-mnist --data-dir DIR --distortion D --model M "
        f"[--transform T] --epochs {budget['epochs']}` (`stn_np.training.train`), one BLAS thread.",
        "- Parameter counts are matched within each family, as in the paper: every ST-FCN has the "
        "FCN's count and every ST-CNN the CNN's, within 1% (the width of the classifier's hidden "
        "layers absorbs the localisation network; table below).",
    ]
    if budget != BUDGET:
        lines.append(f"- **Not the documented budget**: this run used {budget}.")
    for run in results.get("runs", []):
        lines.append(f"- Run: `{run['command']}` on {run['machine']}, started {run['started']}: "
                     f"{run['cells_run']} cells in {run['wall_seconds'] / 60:.1f} min of wall time "
                     f"(1-minute load average at the end of each cell {run['load_min']:.2f}-{run['load_max']:.2f}; "
                     "this run alone keeps it near 1)." + (f" {run['note']}" if run.get("note") else ""))
    lines += ["", "## Measured: % test error on Fashion-MNIST", ""]
    lines.append(_table(["model", *COLUMNS], [[lab] + [_fmt(_error(cells, lab, c)) for c in COLUMNS]
                                               for lab in labels]))
    errors = [100 * c["test_error"] for c in cells.values()]
    if errors:
        typical = float(np.median(errors))
        lines += ["", f"The binomial standard error of an error rate of {typical:.0f}% (the median cell) on "
                  f"{n_test:,} test images is {_standard_error(typical, n_test):.2f} points; a single seed "
                  "adds the spread between training runs on top, so differences of a point or less are "
                  "not resolved here."]
        improving = still_improving(cells)
        lines += ["", f"{len(improving)} of the {len(cells)} cells were still improving in their last epoch "
                  "(the test error fell from epoch to epoch): the budget stops the models before they converge."]
    lines += ["", "## The paper: % test error on MNIST", ""]
    lines.append(_table(["model", *COLUMNS], [[lab] + [f"{v:.1f}" for v in PAPER[lab]] for lab in labels]))
    lines += ["", "## Seconds per cell", "",
              "Training plus the per-epoch test evaluation, from the run's own per-epoch timings (data "
              "loading and distortion, about 2 s a cell, excluded).", ""]
    lines.append(_table(["model", *COLUMNS],
                        [[lab] + [_fmt(cells[cell_key(lab, c)]["seconds"], 0) if cell_key(lab, c) in cells else "—"
                                  for c in COLUMNS] for lab in labels]))
    total = sum(c["seconds"] for c in cells.values())
    lines += ["", f"Sum over the measured cells: {total / 60:.1f} min.", "", "## Parameter counts", "",
              "Each model on 28x28 inputs (R, P, E) and on the 42x42 RTS canvas (where the transformer "
              "samples a 28x28 output); in brackets the width of the classifier's hidden layers "
              "(`stn_np.nn.models.parameter_table()` prints them for every transform).", ""]
    lines.append(_table(["model", "28x28", "42x42"], [[lab] + _params(lab) for lab in labels]))
    lines += ["", "## Which of the paper's orderings hold here", "",
              "Each claim is checked in every column; 'within noise' counts the measured differences "
              f"smaller than two standard errors of a difference on {n_test:,} test images.", ""]
    body = []
    for claim, comparisons in orderings(cells, n_test):
        measured = [c for c in comparisons if c[3] is not None]
        holds = sum(c[3] for c in measured)
        paper = sum(c[6] for c in comparisons)
        fails = [f"{better} vs {worse} on {column} ({-difference:+.2f})"
                 for column, better, worse, ok, difference, _, _ in measured if not ok]
        close = sum(c[5] for c in measured)
        body.append([claim, f"{paper}/{len(comparisons)}", f"{holds}/{len(measured)}", f"{close}",
                     "; ".join(fails) or "none"])
    lines.append(_table(["claim (per column)", "paper", "measured", "within noise",
                         "exceptions (first minus second, % error)"], body))
    lines += ["", reading(cells, n_test), ""]
    with atomic_write(path, "w") as f:
        f.write("\n".join(lines))


def reading(cells, n_test):
    """A short reading of the orderings, every number computed from ``cells`` (so that it cannot disagree)."""
    if not cells:
        return "Nothing measured yet."
    lines = ["**Reading.** Every figure below is computed from the tables above.", ""]
    for claim, comparisons in orderings(cells, n_test):
        measured = [c for c in comparisons if c[3] is not None]
        if not measured:
            continue
        holds = sum(c[3] for c in measured)
        paper = sum(c[6] for c in comparisons)
        resolved = sum(not c[5] for c in measured)
        mean = float(np.mean([c[4] for c in measured]))  # second minus first: positive when the first is better
        verdict = ("holds in every comparison" if holds == len(measured) else
                   "fails in every comparison" if holds == 0 else f"holds in {holds} of {len(measured)} comparisons")
        lines.append(f"- *{claim[0].upper() + claim[1:]}*: {verdict} here (the paper: {paper} of "
                     f"{len(comparisons)}), the first {'ahead' if mean > 0 else 'behind'} by {abs(mean):.1f} points "
                     f"on average; differences beyond two standard errors: {resolved} of {len(measured)}.")
    gains = []
    for column in COLUMNS:
        pairs = [(_error(cells, label, column), _error(cells, label.split()[0][3:], column))
                 for label, _, transform in rows() if transform is not None]
        pairs = [(st, base) for st, base in pairs if st is not None and base is not None]
        if pairs:
            gains.append(f"{column} {np.mean([base - st for st, base in pairs]):+.1f}")
    if gains:
        lines.append("- Mean gain of the ST models over their own baseline (baseline minus ST error, points), per "
                     f"column: {', '.join(gains)}.")
    families = {"FCN": [], "CNN": []}
    for key, cell in cells.items():
        families["CNN" if "CNN" in key else "FCN"].append(cell)
    above = {kind: sum(c["train_errors_per_epoch"][-1] > c["test_error"]
                       for c in group if "train_errors_per_epoch" in c)
             for kind, group in families.items()}
    lines.append(f"- The training error (averaged over the last epoch, dropout on) is above the test error in "
                 f"{above['CNN']} of the {len(families['CNN'])} cells of the CNN family, whose classifier has "
                 f"dropout (p = 0.5 on its convolution and on its hidden layer), and in {above['FCN']} of the "
                 f"{len(families['FCN'])} cells of the FCN family, which has none: at this budget the CNN family "
                 "is still far from fitting its training set.")
    lines += ["", "The paper's numbers are for MNIST, after a far longer training schedule; these are for a harder "
              "data set after a few epochs on a CPU. The table shows which of the paper's orderings survive "
              "such a budget, not whether its error rates reproduce."]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=DEFAULT_DATA,
                        help=f"the Fashion-MNIST IDX files (default: {DEFAULT_DATA})")
    parser.add_argument("--results", default=os.path.join(ROOT, "docs", "paper_table1.json"))
    parser.add_argument("--doc", default=os.path.join(ROOT, "docs", "paper_table1.md"))
    parser.add_argument("--runs", default=os.path.join("runs", "paper_table1"), help="per-cell checkpoints")
    parser.add_argument("--cells", nargs="+", metavar="LABEL/COLUMN", help='only these cells, e.g. "CNN/RTS"')
    parser.add_argument("--epochs", type=int, help=f"another budget: epochs (documented: {BUDGET['epochs']})")
    parser.add_argument("--train-size", type=int, help="another budget: training images (documented: all)")
    parser.add_argument("--test-size", type=int, help="another budget: test images (documented: all)")
    parser.add_argument("--note", help="a sentence for the document about this run (e.g. whether the machine was "
                                       "shared); with --write-only, about the last run")
    parser.add_argument("--write-only", action="store_true", help="only rewrite the document from the results")
    args = parser.parse_args(argv)

    budget = dict(BUDGET)
    for name in ("epochs", "train_size", "test_size"):
        if getattr(args, name) is not None:
            budget[name] = getattr(args, name)
    results = load_results(args.results, None if args.write_only else budget)
    if args.write_only:
        if args.note and results["runs"]:
            results["runs"][-1]["note"] = args.note
            save_results(args.results, results)
        write_document(results, args.doc, args.results)
        print(f"wrote {args.doc} ({len(results['cells'])} cells)")
        return 0

    missing = missing_data(args.data_dir)
    if missing:
        print(f"paper_table1: the Fashion-MNIST files are missing from {args.data_dir}: {', '.join(missing)} "
              "(raw or .gz).\nInstall them with\n    sudo apt-get update && sudo apt-get install -y "
              f"dataset-fashion-mnist\n(which puts them in {DEFAULT_DATA}), or download the four IDX files "
              "from https://github.com/zalandoresearch/fashion-mnist into a folder and pass --data-dir.",
              file=sys.stderr)
        return 2
    assert set(COLUMNS) <= set(DISTORTIONS)
    wanted = [(lab, model, transform, column) for lab, model, transform in rows() for column in COLUMNS]
    if args.cells:
        known = {cell_key(lab, col) for lab, _, _, col in wanted}
        unknown = [c for c in args.cells if c not in known]
        if unknown:
            parser.error(f"--cells: unknown {', '.join(unknown)}; e.g. {', '.join(sorted(known)[:3])}")
        wanted = [w for w in wanted if cell_key(w[0], w[3]) in args.cells]
    todo = [w for w in wanted if cell_key(w[0], w[3]) not in results["cells"]]
    print(f"{len(wanted) - len(todo)} of {len(wanted)} cells already in {args.results}; {len(todo)} to run",
          flush=True)

    set_blas_threads(1)
    keep_heap()
    started, loads = time.perf_counter(), [os.getloadavg()[0]]
    run = {"command": " ".join(["python", "benchmarks/paper_table1.py", *(argv if argv is not None else sys.argv[1:])]),
           "machine": f"{platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}, "
                      f"NumPy {np.__version__}",
           "started": time.strftime("%Y-%m-%d %H:%M:%S"), "cells_run": 0, "wall_seconds": 0.0}
    if args.note:
        run["note"] = args.note
    results["runs"].append(run)
    for label, model, transform, column in todo:
        key = cell_key(label, column)
        print(f"== {key}", flush=True)
        record = run_cell(label, model, transform, column, args, budget)
        results["cells"][key] = record
        loads.append(record["load_average"])
        run.update(cells_run=run["cells_run"] + 1, wall_seconds=time.perf_counter() - started,
                   load_min=min(loads), load_max=max(loads))
        save_results(args.results, results)
        print(f"{key}: {100 * record['test_error']:.2f}% error, {record['seconds']:.0f} s, "
              f"{record['params']:,} parameters; {time.perf_counter() - started:.0f} s so far", flush=True)
    if not todo:
        results["runs"].pop()
    else:
        save_results(args.results, results)
    write_document(results, args.doc, args.results)
    print(f"wrote {args.doc}; {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
