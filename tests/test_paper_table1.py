"""benchmarks/paper_table1.py: its rows, its data check, resumable strict-JSON results and its document.

The real run takes most of an hour; here the same code runs on small fake IDX files in the
MNIST layout with a tiny budget (which the document then flags as not the documented one).
"""

import importlib.util
import json
import os

import numpy as np
import pytest

from stn_np.data import save_idx
from stn_np.training import get_blas_threads, set_blas_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = importlib.util.spec_from_file_location("paper_table1", os.path.join(ROOT, "benchmarks", "paper_table1.py"))
table1 = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(table1)

LABELS = ["FCN", "CNN", "ST-FCN Aff", "ST-FCN Proj", "ST-FCN TPS", "ST-CNN Aff", "ST-CNN Proj", "ST-CNN TPS"]


@pytest.fixture(autouse=True)
def restore_blas_threads():
    before = get_blas_threads()
    yield
    if before:
        set_blas_threads(before)


@pytest.fixture
def fake_data(tmp_path):
    folder = tmp_path / "fashion"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("t10k", 20)):
        save_idx(folder / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        save_idx(folder / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    return folder


def strict_json(path):
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")

    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_constant=refuse)


def args(tmp_path, data, *extra):
    return ["--data-dir", str(data), "--results", str(tmp_path / "r.json"), "--doc", str(tmp_path / "t.md"),
            "--runs", str(tmp_path / "runs"), "--epochs", "1", "--train-size", "32", "--test-size", "16", *extra]


def test_rows_are_the_papers_in_its_order():
    assert [label for label, _, _ in table1.rows()] == LABELS == list(table1.PAPER)
    assert table1.COLUMNS == ("R", "RTS", "P", "E")
    assert [(m, t) for _, m, t in table1.rows()][2:5] == [("st-fcn", "affine"), ("st-fcn", "projective"),
                                                          ("st-fcn", "tps")]


def test_missing_data_is_explained_and_nothing_runs(tmp_path, capsys):
    assert table1.main(args(tmp_path, tmp_path / "nowhere")) == 2
    err = capsys.readouterr().err
    assert "the Fashion-MNIST files are missing from" in err and "apt-get install -y dataset-fashion-mnist" in err
    assert "Traceback" not in err and not (tmp_path / "r.json").exists() and not (tmp_path / "runs").exists()


def test_cells_run_resume_and_write_the_document(tmp_path, fake_data, capsys):
    cells = ["FCN/R", "ST-CNN TPS/RTS"]
    assert table1.main(args(tmp_path, fake_data, "--cells", *cells)) == 0
    results = strict_json(tmp_path / "r.json")
    assert sorted(results["cells"]) == sorted(cells)
    cell = results["cells"]["ST-CNN TPS/RTS"]
    assert cell["model"] == "st-cnn" and cell["transform"] == "tps" and cell["input_size"] == 42
    assert 0 <= cell["test_error"] <= 1 and len(cell["test_errors_per_epoch"]) == 1 and cell["seconds"] > 0
    assert results["budget"]["epochs"] == 1 and len(results["runs"]) == 1
    first = results["cells"]["FCN/R"]
    # a second run skips what the file holds and adds the new cell
    capsys.readouterr()
    assert table1.main(args(tmp_path, fake_data, "--cells", *cells, "CNN/E")) == 0
    assert capsys.readouterr().out.startswith("2 of 3 cells already in")
    results = strict_json(tmp_path / "r.json")
    assert sorted(results["cells"]) == sorted(cells + ["CNN/E"]) and results["cells"]["FCN/R"] == first
    doc = (tmp_path / "t.md").read_text()
    assert "| model | R | RTS | P | E |" in doc and "3 of 32 cells measured" in doc
    assert "**Not the documented budget**" in doc
    for label in LABELS:
        assert f"\n| {label} |" in doc
    assert f"| FCN | {100 * first['test_error']:.1f} | — | — | — |" in doc
    # another budget is refused rather than mixed into the same file
    with pytest.raises(SystemExit, match="another budget"):
        table1.main(args(tmp_path, fake_data, "--epochs", "2"))
    with pytest.raises(SystemExit):
        table1.main(args(tmp_path, fake_data, "--cells", "LeNet/R"))


def fake_cells(error):
    """A full table of cells whose % error is error(label, column)."""
    cells = {}
    for label, model, transform in table1.rows():
        for column in table1.COLUMNS:
            e = error(label, column) / 100
            cells[table1.cell_key(label, column)] = {
                "model": model, "transform": transform, "distortion": column, "test_error": e,
                "test_errors_per_epoch": [e + 0.01, e], "seconds": 10.0}
    return cells


def test_orderings_are_counted_per_column_with_the_noise():
    paper = fake_cells(lambda label, column: table1.PAPER[label][table1.COLUMNS.index(column)])
    for claim, comparisons in table1.orderings(paper, 10000):
        assert all(c[3] == c[6] for c in comparisons), claim  # the paper's own numbers reproduce its verdicts
    flipped = fake_cells(lambda label, column: 30.0 if label.startswith("ST-") else 20.0)
    verdicts = {claim: comparisons for claim, comparisons in table1.orderings(flipped, 10000)}
    st_fcn = verdicts["an ST-FCN beats the FCN"]
    assert len(st_fcn) == 12 and not any(c[3] for c in st_fcn) and not any(c[5] for c in st_fcn)
    assert all(c[4] == pytest.approx(-10.0) for c in st_fcn)
    text = table1.reading(flipped, 10000)
    assert "*An ST-FCN beats the FCN*: fails in every comparison here (the paper: 12 of 12)" in text


def test_write_only_renders_a_full_table(tmp_path):
    results = {"format": table1.FORMAT, "budget": dict(table1.BUDGET), "runs": [],
               "cells": fake_cells(lambda label, column: 10.0 + len(label) / 10)}
    table1.save_results(tmp_path / "r.json", results)
    assert table1.main(["--write-only", "--results", str(tmp_path / "r.json"), "--doc", str(tmp_path / "t.md")]) == 0
    doc = (tmp_path / "t.md").read_text()
    assert "32 of 32 cells measured" in doc and "Not the documented budget" not in doc
    assert "| ST-CNN TPS | 11.0 | 11.0 | 11.0 | 11.0 |" in doc
    assert "| ST-CNN TPS | 0.7 | 0.5 | 0.8 | 1.1 |" in doc  # the paper's row
    assert "| ST-CNN Aff | 21,733 (33) | 54,724 (94) |" in doc
    assert "32 of the 32 cells were still improving" in doc
