"""The training loop end to end: it learns, writes its files, and resumes to bit-identical results."""

import io
import json
import os
import signal
import warnings

import numpy as np
import pytest

from stn_np.io import load_npz
from stn_np.nn.models import build_model
from stn_np.optim import Adam
from stn_np.training import (
    StepInfo,
    TrainConfig,
    TrainingDiverged,
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


# ---------------------------------------------------------------- divergence (issue 11, item 2)
def _nan_loss_at(monkeypatch, step):
    """Make the loss of training step ``step`` (1-based) NaN, as a too-high learning rate would."""
    import stn_np.functional as F

    real, calls = F.cross_entropy, []

    def cross_entropy(logits, target, **kwargs):
        calls.append(1)
        loss = real(logits, target, **kwargs)
        if len(calls) == step:
            loss.data[...] = np.nan
        return loss

    monkeypatch.setattr(F, "cross_entropy", cross_entropy)


def _strict_json(path):
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))


def test_a_non_finite_loss_stops_training_and_keeps_the_last_finite_checkpoint(tmp_path, monkeypatch):
    one = TrainConfig(**dict(TINY.to_dict(), epochs=1))
    quiet_train(one, tmp_path, figures=False)
    finite = (tmp_path / "checkpoint.npz").read_bytes()
    _nan_loss_at(monkeypatch, 2)  # the resumed run's 2nd step: epoch 2, batch 2 (6 steps an epoch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning reaches the user
        with pytest.raises(TrainingDiverged) as caught:
            quiet_train(TINY, tmp_path, resume=True)
    assert str(caught.value) == ("train: lr: expected a learning rate at which training stays finite, got 0.002 (the "
                                 "loss became nan at epoch 2, batch 2: lower it)")
    assert isinstance(caught.value, ValueError) and caught.value.exit_status == 3
    assert (caught.value.epoch, caught.value.batch, caught.value.step) == (2, 2, 8)
    metrics = _strict_json(tmp_path / "metrics.json")
    assert metrics["status"] == "diverged" and len(metrics["epochs"]) == 1
    assert metrics["diverged"] == {"epoch": 2, "batch": 2, "step": 8, "loss": None}
    assert (tmp_path / "checkpoint.npz").read_bytes() == finite  # the last finite checkpoint, untouched


def test_parameters_that_stop_being_finite_are_never_checkpointed(tmp_path, monkeypatch):
    from stn_np.optim import Adam

    real = Adam.step

    def step(self):  # the last step of epoch 1 leaves an inf weight (its loss was still finite)
        real(self)
        if self.state[0]["step"] == 6:
            self.param_groups[0]["params"][0].data[0] = np.inf

    monkeypatch.setattr(Adam, "step", step)
    with pytest.raises(TrainingDiverged) as caught:
        quiet_train(TINY, tmp_path)
    assert str(caught.value) == ("train: lr: expected a learning rate at which training stays finite, got 0.002 "
                                 "(parameter classifier.0.weight stopped being finite at epoch 1, batch 6: lower it)")
    assert not (tmp_path / "checkpoint.npz").exists()
    assert _strict_json(tmp_path / "metrics.json")["status"] == "diverged"


# ---------------------------------------------------------------- the output folder (items 5, 9)
def test_a_second_run_into_a_locked_folder_is_refused(tmp_path):
    from stn_np.io import lock_directory

    with lock_directory(tmp_path, "train"):  # another run holds the folder
        with pytest.raises(ValueError, match=r"^train: out_dir: expected a folder no other run is writing, got "):
            quiet_train(TINY, tmp_path)
    assert os.listdir(tmp_path) == []  # nothing was written by the refused run


def test_leftover_temporaries_are_removed_and_reported(tmp_path):
    config = TrainConfig(**dict(TINY.to_dict(), epochs=1, model="cnn"))
    (tmp_path / ".tmp-k3j2.npz").write_bytes(b"half a checkpoint")  # what a SIGKILL mid-write leaves
    out = io.StringIO()
    train(config, tmp_path, stdout=out, stderr=io.StringIO(), figures=False)
    assert f"note: removed 1 temporary file(s) a killed run left in {tmp_path}" in out.getvalue()
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "metrics.json"]


def test_an_unwritable_folder_is_found_before_the_data(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = io.StringIO()
    with pytest.raises(ValueError, match="^train: out_dir: expected a folder that can be created"):
        train(TINY, blocker / "run", stdout=out, stderr=io.StringIO())
    assert out.getvalue() == ""  # refused before making the data or building the model


# ---------------------------------------------------------------- checkpoints that cannot be trusted (item 7)
@pytest.mark.parametrize("edit, why", [
    (lambda meta: meta.pop("config"), "its meta record has no config"),
    (lambda meta: meta.update(config=3), "its config does not validate: TrainConfig.from_dict: values: expected a dict, "
                                          "got a int"),
    (lambda meta: meta["config"].update(lr=float("nan")),
     "its config does not validate: TrainConfig: lr: expected a finite number > 0, got nan"),
    (lambda meta: meta.pop("position"), "its position is not {epoch, batch, step} of ints >= 0"),
    (lambda meta: meta.update(rng_state={"bit_generator": "nope"}), "it holds no valid random generator state"),
    (lambda meta: meta.update(history=[]), "its history has 0 epochs but its position says 3"),
    (lambda meta: meta.update(status="finished"), "its status is not one of running, interrupted, complete, diverged"),
], ids=["no config", "config not a dict", "config lr nan", "no position", "bad rng", "short history", "bad status"])
def test_hand_edited_metadata_is_refused_naming_the_file(reference, tmp_path, edit, why):
    arrays = load_npz(reference[1] / "checkpoint.npz")
    meta = json.loads(str(arrays["meta"]))
    edit(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    path = tmp_path / "edited.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError) as caught:
        load_checkpoint(path)
    assert str(caught.value) == f"load_checkpoint: path: expected a stn_np checkpoint, got {path} ({why})"


def test_a_checkpoint_with_non_finite_values_is_refused(reference, tmp_path):
    arrays = load_npz(reference[1] / "checkpoint.npz")
    arrays["optimizer.param_groups.0.lr"] = np.array(np.nan)  # lr = NaN (issue 11, item 3)
    np.savez(tmp_path / "nan-lr.npz", **arrays)
    with pytest.raises(ValueError) as caught:
        load_checkpoint(tmp_path / "nan-lr.npz")
    assert str(caught.value) == (f"load_checkpoint: path: expected a stn_np checkpoint, got {tmp_path / 'nan-lr.npz'} "
                                 "(optimizer.param_groups.0.lr holds NaN or infinite values)")


def test_resuming_a_checkpoint_holding_a_bad_learning_rate_is_refused(reference, tmp_path):
    """Not only NaN: an lr the optimizer refuses (negative) stops the resume, naming the file."""
    arrays = load_npz(reference[1] / "checkpoint.npz")
    arrays["optimizer.param_groups.0.lr"] = np.array(-1.0)
    np.savez(tmp_path / "checkpoint.npz", **arrays)
    with pytest.raises(ValueError) as caught:
        quiet_train(TINY, tmp_path, resume=True)
    assert str(caught.value) == (
        f"train: resume: expected a checkpoint of this run's model and optimizer, got {tmp_path / 'checkpoint.npz'} "
        "(Adam.load_state_dict: state_dict['param_groups'][0]['lr']: expected a finite number >= 0, got -1.0)")


# ---------------------------------------------------------------- evaluation and data (items 4, 6, 9)
def test_evaluate_refuses_labels_the_model_cannot_predict_and_empty_sets(rng):
    model = build_model("cnn", 28)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    with pytest.raises(ValueError) as caught:
        evaluate(model, images, np.array([1, 2, 200, 3, 4]))
    assert str(caught.value) == "evaluate: labels: expected class indices in [0, 10), the model's outputs, got 200"
    with pytest.raises(ValueError) as caught:
        evaluate(model, images[:0], np.zeros(0, int))
    assert str(caught.value) == "evaluate: images: expected at least one image, got none"


def test_training_on_32x32_files_without_a_distortion(tmp_path, rng):
    """MNIST-layout files need not be 28 x 28 when nothing distorts them (issue 11, item 9)."""
    from stn_np.data import save_idx

    data = tmp_path / "data"
    data.mkdir()
    for prefix, n in (("train", 64), ("t10k", 32)):
        save_idx(data / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 32, 32), dtype=np.uint8))
        save_idx(data / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    config = TrainConfig(data="mnist", data_dir=str(data), distortion="none", model="st-cnn", epochs=1, batch_size=32)
    result = quiet_train(config, tmp_path / "run", figures=False)
    assert result.history[0]["epoch"] == 1
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz").meta["input_size"] == 32
