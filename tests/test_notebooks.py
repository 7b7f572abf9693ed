"""The teaching notebooks: each runs top to bottom without an error, and is committed with its
figures (so that they show on a code host without running anything).

Every ``notebooks/*.ipynb`` is picked up, so a new notebook joins these tests by being added.
The notebooks run in a kernel started with the interpreter running the tests (through a
kernelspec written to a temporary directory), so the test does not depend on which ``python``
an installed ``python3`` kernelspec would find on the PATH.
"""

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds, per cell
MAX_BYTES = 1024 * 1024  # committed outputs stay modest: figures at ~80 dpi


def outputs(nb):
    return [output for cell in nb.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def this_interpreter(tmp_path):
    """A kernel manager for kernel ``python3`` whose kernelspec runs ``sys.executable``."""
    kernels = tmp_path / "kernels"
    write_kernel_spec(path=str(kernels / "python3"))  # argv: [sys.executable, "-m", "ipykernel_launcher", ...]
    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))


def scratch_notebook_dir(tmp_path):
    """An empty ``notebooks/`` beside a copy of ``docs/``, for a notebook to run in.

    Notebooks read ``../docs`` (the glossary, the figure scripts) and notebook 03 writes its GIF
    to ``../docs/figures``; running them here keeps a test run from rewriting the committed GIF.
    """
    tree = tmp_path / "tree"
    shutil.copytree(NOTEBOOK_DIR.parent / "docs", tree / "docs")
    (tree / "notebooks").mkdir()
    return tree / "notebooks"


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_without_errors(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, km=this_interpreter(tmp_path), timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(scratch_notebook_dir(tmp_path))}})
    # figures go to the notebook's inline backend whatever MPLBACKEND this shell sets (e.g. Agg)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    client.execute(cleanup_kc=True, env=env)  # raises CellExecutionError naming the cell on any error
    errors = [o for o in outputs(nb) if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    assert any("image/png" in o.get("data", {}) for o in outputs(nb)), f"{path.name} drew no figure when run"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_executed_with_its_figures(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]
    assert code, f"{path.name} has no code cells"
    unrun = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and cell.source.strip() and cell.execution_count is None]
    assert not unrun, f"{path.name} is committed with unexecuted code cells {unrun}: run it and save the outputs"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), (
        f"{path.name}: cells were not run once each, top to bottom, in a fresh kernel"
    )
    assert any("image/png" in o.get("data", {}) for o in outputs(nb)), (
        f"{path.name} is committed without a stored image/png output: run it and save the outputs"
    )
    assert not [o for o in outputs(nb) if o.output_type == "error"], f"{path.name} is committed with an error output"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{path.name}: kernelspec must be python3"
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{path.name} is {size / 1024:.0f} KiB; keep it under {MAX_BYTES // 1024} KiB (lower the dpi)"


def test_the_kernel_is_this_interpreter(tmp_path):
    km = this_interpreter(tmp_path)
    assert km.kernel_spec.argv[0] == sys.executable
