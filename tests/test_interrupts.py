"""Ctrl-C anywhere in a real (small) training run, then resume: bit-identical to an uninterrupted run.

A real SIGINT (``signal.raise_signal``) is sent at every point of interest of the run, once
(Ctrl-C) or twice (Ctrl-C Ctrl-C): inside each training step, during each epoch's test
evaluation (the last one included), during each checkpoint and metrics write (while the
temporary file is being flushed to disk), while the figures are written, when each epoch's
batches are drawn and while the data are made. Afterwards the run is resumed (or, when it
stopped before its first checkpoint, run again) until it completes; its checkpoint arrays,
its checkpoint metadata and its ``metrics.json`` must then equal the uninterrupted run's bit
for bit (wall-clock seconds aside), with the status "complete", no temporary file and no lock
left behind.

``python tests/test_interrupts.py`` runs the same sweep and prints one line per point.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from collections import Counter
from contextlib import ExitStack, contextmanager

import numpy as np
import pytest

import stn_np.functional
import stn_np.io
from stn_np.io import LOCK_NAME, TEMP_PREFIX, load_npz
from stn_np.training import TrainConfig, TrainingInterrupted, get_blas_threads, set_blas_threads, train
from stn_np.training import trainer

# 2 epochs of 2 steps; the ST-CNN has dropout, so the generator state matters on resume
TINY = TrainConfig(distortion="none", model="st-cnn", epochs=2, batch_size=32, train_size=64, test_size=32,
                   lr=2e-3, seed=3)


def _fsync_kind(fd):
    """Which file a flush belongs to, from its temporary file's suffix."""
    try:
        name = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # pragma: no cover - not Linux
        return "file write"
    return {".npz": "checkpoint write", ".json": "metrics write", ".png": "figure write"}.get(
        os.path.splitext(name)[1], "file write")


class Points:
    """Counts the run's points of interest and sends SIGINT ``presses`` times at one of them."""

    def __init__(self, target=None, presses=1):
        self.seen = Counter()
        self.order = []
        self.target, self.presses = target, presses

    def hit(self, kind):
        self.seen[kind] += 1
        point = (kind, self.seen[kind])
        self.order.append(point)
        if point == self.target:
            for _ in range(self.presses):
                signal.raise_signal(signal.SIGINT)

    @contextmanager
    def installed(self):
        def wrap(module, name, kind):
            real = getattr(module, name)

            def wrapper(*args, **kwargs):
                self.hit(kind(*args) if callable(kind) else kind)
                return real(*args, **kwargs)

            stack.callback(setattr, module, name, real)
            setattr(module, name, wrapper)

        with ExitStack() as stack:
            wrap(trainer, "load_data", "making the data")
            wrap(trainer, "batches", "drawing batches")
            wrap(stn_np.functional, "cross_entropy", "inside a step")
            wrap(trainer, "evaluate", "test evaluation")
            wrap(stn_np.io.os, "fsync", _fsync_kind)
            yield self


def quiet(config, out, **kwargs):
    return train(config, out, stdout=io.StringIO(), stderr=io.StringIO(), **kwargs)


def snapshot(out):
    """(arrays, meta without timings, metrics without timings) of a finished run."""
    arrays = load_npz(out / "checkpoint.npz")
    meta = json.loads(str(arrays.pop("meta")))
    meta["sums"].pop("seconds")
    metrics = json.loads((out / "metrics.json").read_text())
    for record in meta["history"] + metrics["epochs"]:
        record.pop("seconds")
    return arrays, meta, metrics


def assert_identical(out, reference):
    arrays, meta, metrics = snapshot(out)
    ref_arrays, ref_meta, ref_metrics = reference
    assert sorted(arrays) == sorted(ref_arrays)
    for name, value in arrays.items():
        assert value.dtype == ref_arrays[name].dtype and np.array_equal(value, ref_arrays[name]), name
    assert meta == ref_meta and meta["status"] == "complete"
    assert metrics == ref_metrics and metrics["status"] == "complete"
    assert not [f for f in os.listdir(out) if f.startswith(TEMP_PREFIX) or f == LOCK_NAME]
    for name in ("curves.png", "transformed.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def interrupt_and_resume(out, point, presses):
    """Run with SIGINT at ``point``, then resume until complete; returns how the first run ended."""
    before = signal.getsignal(signal.SIGINT)
    with Points(point, presses).installed():
        try:
            quiet(TINY, out)
            how = "completed"
        except TrainingInterrupted as stop:
            how = str(stop)
            assert "\n" not in str(stop)
        except KeyboardInterrupt:
            how = "stopped before the loop (nothing saved)"
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored however the run ends
    assert not (out / LOCK_NAME).exists()  # and the folder unlocked
    if how != "completed":
        quiet(TINY, out, resume=(out / "checkpoint.npz").exists())
    return how


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    before = get_blas_threads()
    set_blas_threads(1)  # bit-identical results need the same summation order in every run
    yield
    if before:
        set_blas_threads(before)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, and every point of interest it passes, in order."""
    out = tmp_path_factory.mktemp("reference")
    with Points().installed() as points:
        quiet(TINY, out)
    return snapshot(out), points.order


def test_the_sweep_covers_every_kind_of_point(reference):
    _, order = reference
    kinds = Counter(kind for kind, _ in order)
    # 4 steps, 2 evaluations, a checkpoint and a metrics file per epoch, two figures
    assert kinds["inside a step"] == 4 and kinds["test evaluation"] == 2
    assert kinds["checkpoint write"] == 2 and kinds["metrics write"] == 2 and kinds["figure write"] == 2
    assert kinds["making the data"] == 1 and kinds["drawing batches"] >= 2


@pytest.mark.parametrize("presses", [1, 2], ids=["ctrl-c", "ctrl-c twice"])
def test_sigint_at_every_point_resumes_to_bit_identical_results(reference, tmp_path, presses):
    expected, order = reference
    outcomes = {}
    for i, point in enumerate(order):
        out = tmp_path / f"{i}"
        outcomes[point] = interrupt_and_resume(out, point, presses)
        assert_identical(out, expected)
    # the interesting cases did happen: a stop with a checkpoint, and one during the last evaluation
    last_evaluation = outcomes[("test evaluation", 2)]
    assert any(o.startswith("interrupted at epoch") or o.startswith("interrupted after epoch")
               for o in outcomes.values())
    if presses == 1:
        assert last_evaluation.startswith("interrupted after the last epoch: the run is complete")
        assert outcomes[("inside a step", 3)].startswith("interrupted at epoch 2, batch 1; checkpoint saved")
        assert outcomes[("test evaluation", 1)].startswith("interrupted after epoch 1 of 2; checkpoint saved")
        assert outcomes[("figure write", 2)] == "completed"  # Ctrl-C while the last figure is flushed
    else:
        assert outcomes[("inside a step", 3)].startswith("interrupted inside a step")


def test_an_interrupt_in_the_last_evaluation_completes_the_run(reference, tmp_path):
    """Issue 11, item 1: the run is complete, not "interrupted at epoch 3, batch 0" for good."""
    with Points(("test evaluation", 2)).installed():
        with pytest.raises(TrainingInterrupted) as caught:
            quiet(TINY, tmp_path)
    assert str(caught.value) == (f"interrupted after the last epoch: the run is complete ({tmp_path / 'checkpoint.npz'})"
                                 " but its figures were not written")
    assert caught.value.complete
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "complete"
    assert not (tmp_path / "curves.png").exists()
    out = io.StringIO()
    train(TINY, tmp_path, resume=True, stdout=out, stderr=io.StringIO())
    assert "resuming a run whose 2 epochs are done" in out.getvalue()
    assert_identical(tmp_path, reference[0])


def main():  # pragma: no cover - the sweep as a script, one line per point
    import tempfile
    from pathlib import Path

    set_blas_threads(1)
    root = Path(tempfile.mkdtemp(prefix="stn-np-interrupts-"))
    with Points().installed() as points:
        quiet(TINY, root / "reference")
    expected = snapshot(root / "reference")
    total = identical = 0
    for presses in (1, 2):
        for i, point in enumerate(points.order):
            out = root / f"{presses}-{i}"
            how = interrupt_and_resume(out, point, presses)
            try:
                assert_identical(out, expected)
                same = True
            except AssertionError:
                same = False
            total, identical = total + 1, identical + same
            print(f"{'Ctrl-C' if presses == 1 else 'Ctrl-C x2':9} at {point[0]} #{point[1]}: {how[:90]} -> "
                  f"{'bit-identical' if same else 'DIFFERENT'}")
    print(f"{identical} / {total} interrupted runs resumed to bit-identical checkpoints and metrics")
    return 0 if identical == total else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
