"""The training loop end to end: it learns, writes its files, and resumes to bit-identical results."""

import io
import json
import os
import signal

import numpy as np
import pytest

from stn_np.io import load_npz
from stn_np.nn.models import build_model
from stn_np.optim import Adam
from stn_np.training import (
    StepInfo,
    TrainConfig,
    TrainingInterrupted,
    evaluate,
    load_checkpoint,
    load_data,
    train,
)

# 6 steps an epoch; the ST-CNN with dropout, so that the generator state matters on resume
TINY = TrainConfig(distortion="RTS", model="st-cnn", epochs=3, batch_size=32, train_size=192, test_size=64,
                   lr=2e-3, loc_lr_mult=0.5, seed=3)


def quiet_train(config, out_dir, **kwargs):
    return train(config, out_dir, stdout=io.StringIO(), stderr=io.StringIO(), **kwargs)


def interrupt_at(*steps):
    def on_step(info):
        assert isinstance(info, StepInfo)
        if info.step in steps:
            raise KeyboardInterrupt

    return on_step


def without_seconds(history):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted tiny run, shared by the resume tests."""
    out = tmp_path_factory.mktemp("reference")
    result = quiet_train(TINY, out, figures=True)
    return result, out


def test_a_short_training_clearly_learns(tmp_path):
    config = TrainConfig(distortion="none", model="cnn", epochs=3, batch_size=32, train_size=1200, test_size=300,
                         lr=3e-3, seed=0)
    out = io.StringIO()
    result = train(config, tmp_path, stdout=out, stderr=io.StringIO(), figures=False)
    losses = [r["train_loss"] for r in result.history]
    assert losses[0] > 1.5 and losses[-1] < 0.6 * losses[0], losses
    assert result.test_accuracy > 0.6, result.history  # chance is 0.1
    assert result.test_accuracy == result.history[-1]["test_accuracy"]
    text = out.getvalue()
    assert "data: 1200 train / 300 test synthetic digits, 28x28" in text
    assert [line.split(":")[0] for line in text.splitlines() if line.startswith("epoch")] == \
        ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert "done in" in text and "test accuracy" in text


def test_metrics_json_and_figures(reference):
    result, out = reference
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"] == TINY.resolved().to_dict()
    assert metrics["status"] == "complete" and metrics["input_size"] == 42
    assert [r["epoch"] for r in metrics["epochs"]] == [1, 2, 3]
    for record in metrics["epochs"]:
        assert set(record) == {"epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds"}
        assert record["train_loss"] > 0 and record["seconds"] > 0
        assert 0 <= record["train_accuracy"] <= 1 and 0 <= record["test_accuracy"] <= 1
        # accuracies are counts over the split sizes
        assert round(record["train_accuracy"] * 192) == pytest.approx(record["train_accuracy"] * 192, abs=1e-9)
        assert round(record["test_accuracy"] * 64) == pytest.approx(record["test_accuracy"] * 64, abs=1e-9)
    assert metrics["epochs"] == result.history
    assert metrics["final_test_accuracy"] == result.test_accuracy
    for name in ("curves.png", "transformed.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [f for f in os.listdir(out) if f.startswith(".tmp")]  # atomic writes leave no temporaries


def test_checkpoint_round_trip(reference):
    result, out = reference
    path = out / "checkpoint.npz"
    arrays = load_npz(path)  # allow_pickle=False throughout
    assert arrays["meta"].dtype.kind == "U"
    checkpoint = load_checkpoint(path)
    assert checkpoint.config == TINY.resolved()
    assert checkpoint.meta["position"] == {"epoch": 3, "batch": 0, "step": 18}
    assert checkpoint.meta["status"] == "complete" and checkpoint.meta["history"] == result.history
    state = result.model.state_dict()
    assert list(checkpoint.model_state) == list(state)
    for name, value in state.items():
        np.testing.assert_array_equal(checkpoint.model_state[name], value)
    # the optimizer state loads into a fresh optimizer of the same model, Adam's step counts included
    model = build_model("st-cnn", 42)
    model.load_state_dict(checkpoint.model_state)
    optimizer = Adam(model.param_groups(TINY.lr))
    optimizer.load_state_dict(checkpoint.optimizer_state)
    assert {s["step"] for s in optimizer.state.values()} == {18}
    assert [g["lr"] for g in optimizer.param_groups] == [TINY.lr, TINY.lr * TINY.loc_lr_mult]
    # and the rebuilt model scores what the run reported
    splits = load_data(TINY)
    assert evaluate(model, splits.test_images, splits.test_labels) == result.test_accuracy


@pytest.mark.parametrize("stops", [(8,), (6,), (2, 13)], ids=["mid-epoch", "epoch-boundary", "twice"])
def test_interrupt_and_resume_give_bit_identical_results(reference, tmp_path, stops):
    expected, _ = reference
    for stop in stops:
        with pytest.raises(TrainingInterrupted) as caught:
            quiet_train(TINY, tmp_path, resume=stop != stops[0], on_step=interrupt_at(stop), figures=False)
        assert "checkpoint saved" in str(caught.value) and "\n" not in str(caught.value)
        checkpoint = load_checkpoint(tmp_path / "checkpoint.npz")
        assert checkpoint.meta["status"] == "interrupted"
        # after the last step of an epoch the position is (epoch, 6): its evaluation is still to do
        epoch, batch = (stop - 1) // 6, (stop - 1) % 6 + 1
        assert checkpoint.meta["position"] == {"epoch": epoch, "batch": batch, "step": stop}
        metrics = json.loads((tmp_path / "metrics.json").read_text())
        assert metrics["status"] == "interrupted" and len(metrics["epochs"]) == epoch
    result = quiet_train(TINY, tmp_path, resume=True, figures=False)
    assert without_seconds(result.history) == without_seconds(expected.history)
    reference_state = expected.model.state_dict()
    for name, value in result.model.state_dict().items():
        np.testing.assert_array_equal(value, reference_state[name], err_msg=name)
    final = load_checkpoint(tmp_path / "checkpoint.npz")
    assert final.meta["status"] == "complete" and final.meta["position"]["step"] == 18


def test_resume_with_more_epochs_continues_the_same_run(reference, tmp_path):
    """Training 2 epochs, then resuming with --epochs 3, equals training 3 epochs at once."""
    expected, _ = reference
    two = TrainConfig(**dict(TINY.to_dict(), epochs=2))
    quiet_train(two, tmp_path, figures=False)
    result = quiet_train(TINY, tmp_path, resume=True, figures=False)
    assert without_seconds(result.history) == without_seconds(expected.history)
    with pytest.raises(ValueError, match="train: epochs: expected at least the 3 epochs the checkpoint has already done, got 2"):
        quiet_train(two, tmp_path, resume=True)


def test_sigint_is_deferred_to_the_end_of_the_step(tmp_path):
    seen = []

    def on_step(info):
        seen.append(info.step)
        if info.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the handler only sets a flag; the step is complete

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted):
        quiet_train(TINY, tmp_path, on_step=on_step, figures=False)
    assert seen == [1, 2, 3]
    assert load_checkpoint(tmp_path / "checkpoint.npz").meta["position"]["batch"] == 3
    assert signal.getsignal(signal.SIGINT) is before


def test_resume_errors_name_the_problem(reference, tmp_path):
    _, out = reference
    with pytest.raises(ValueError, match="train: resume: expected a checkpoint at .*, got none"):
        quiet_train(TINY, tmp_path, resume=True)
    other = TrainConfig(**dict(TINY.to_dict(), lr=1e-3, seed=4))
    with pytest.raises(ValueError, match=r"train: resume: expected a checkpoint written by this config \(.* differs in: lr, seed\), got another"):
        quiet_train(other, out, resume=True)
    (tmp_path / "checkpoint.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an .npz archive"):
        quiet_train(TINY, tmp_path, resume=True)


def test_progress_goes_to_stderr_and_summaries_to_stdout(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    config = TrainConfig(**dict(TINY.to_dict(), epochs=1, model="cnn"))
    train(config, tmp_path, stdout=out, stderr=err)
    progress = err.getvalue().splitlines()
    assert len(progress) == 4  # not a terminal: one line per quarter of the epoch
    assert progress[-1].startswith("epoch 1/1  batch 6/6  loss ") and "img/s" in progress[-1] and "ETA" in progress[-1]
    assert "batch" not in out.getvalue() and "epoch 1/1: train loss" in out.getvalue()
    assert "transformed.png: skipped (the cnn model has no spatial transformer)" in out.getvalue()
    assert not (tmp_path / "transformed.png").exists() and (tmp_path / "curves.png").exists()


def test_evaluate_restores_the_mode_and_counts_correct_answers(rng):
    model = build_model("cnn", 28)
    images = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 50)
    model.train()
    accuracy = evaluate(model, images, labels, batch_size=16)
    assert model.training
    model.eval()
    predictions = model(images[:, None].astype(np.float32) / 255).numpy().argmax(axis=1)
    assert accuracy == np.mean(predictions == labels)
