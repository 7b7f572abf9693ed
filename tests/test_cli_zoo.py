"""``stn-np train --model M --transform T``, ``evaluate`` and ``--resume`` for every zoo model, at tiny sizes.

For each (model, transform) pair of ``stn_np.nn.models.zoo()``: a 2-epoch run; a 1-epoch run
continued with ``--resume --epochs 2``, which must end bit-identical to the straight run;
``evaluate`` on the resumed checkpoint, which must print the accuracy the run reported; the
transform stored in metrics.json and in the checkpoint. Also: checkpoints written before the
``transform`` field existed (and before the ST-CNN's width was matched) still evaluate and
resume, as affine models.
"""

import json

import numpy as np
import pytest

from stn_np.cli import main
from stn_np.io import load_npz, save_npz
from stn_np.nn import models
from stn_np.training import get_blas_threads, load_checkpoint, set_blas_threads

TINY = ["--distortion", "none", "--epochs", "2", "--batch-size", "32", "--train-size", "64", "--test-size", "32",
        "--seed", "3", "--no-progress"]


@pytest.fixture(scope="module", autouse=True)
def restore_blas_threads():
    """The commands set the process's BLAS threads (to 1); give the other tests their setting back."""
    before = get_blas_threads()
    yield
    if before:
        set_blas_threads(before)


def options(model, transform):
    return ["--model", model] + ([] if transform is None else ["--transform", transform])


def final_state(out):
    checkpoint = load_checkpoint(out / "checkpoint.npz")
    history = [{k: v for k, v in record.items() if k != "seconds"} for record in checkpoint.meta["history"]]
    return checkpoint, history


@pytest.mark.parametrize("model, transform", models.zoo(), ids=lambda v: str(v))
def test_every_zoo_model_trains_resumes_and_evaluates_from_the_cli(model, transform, tmp_path, capsys):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", *TINY, *options(model, transform), "--out", str(straight)]) == 0
    assert main(["train", *TINY, *options(model, transform), "--epochs", "1", "--out", str(resumed)]) == 0
    assert main(["train", *TINY, *options(model, transform), "--resume", "--out", str(resumed)]) == 0
    expected, expected_history = final_state(straight)
    got, got_history = final_state(resumed)
    assert got_history == expected_history and len(got_history) == 2
    for name, value in expected.model_state.items():
        np.testing.assert_array_equal(got.model_state[name], value, err_msg=name)
    stored = transform if models.has_transformer(model) else None
    assert got.config.model == model and got.config.transform == stored
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert metrics["config"]["model"] == model and metrics["config"]["transform"] == stored
    built = models.build_model(model, 28, stored)
    assert list(got.model_state) == list(built.state_dict())
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(resumed / "checkpoint.npz")]) == 0
    name = model if stored is None else f"{model} {stored}"
    final = metrics["final_test_accuracy"]
    assert capsys.readouterr().out.startswith(f"test accuracy {100 * final:.2f}% on 32 none digits images "
                                              f"({name} after epoch 2;")


def test_st_models_default_to_affine_and_baselines_refuse_a_transform(tmp_path, capsys):
    assert main(["train", *TINY, "--epochs", "1", "--model", "st-fcn", "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["config"]["transform"] == "affine"
    capsys.readouterr()
    assert main(["train", *TINY, "--model", "cnn", "--transform", "tps", "--out", str(tmp_path / "b")]) == 2
    assert capsys.readouterr().err.strip() == (
        "stn-np: error: --transform: expected no transform for model 'cnn' (it has no spatial transformer), got 'tps'")
    assert main(["train", *TINY, "--model", "st-cnn", "--transform", "dense", "--out", str(tmp_path / "c")]) == 2
    assert capsys.readouterr().err.startswith("stn-np: error: --transform: expected one of 'affine', ")
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_resume_refuses_another_transform(tmp_path, capsys):
    out = str(tmp_path)
    assert main(["train", *TINY, "--epochs", "1", "--model", "st-cnn", "--transform", "tps", "--out", out]) == 0
    capsys.readouterr()
    assert main(["train", *TINY, "--model", "st-cnn", "--transform", "projective", "--resume", "--out", out]) == 2
    assert "differs in: transform" in capsys.readouterr().err


def make_pre_zoo_checkpoint(out, monkeypatch):
    """A checkpoint as the code before the zoo wrote it: ST-CNN with 50 hidden units, no transform field."""
    import stn_np.training.trainer as trainer

    def old_build_model(name, input_size, transform=None, lr_mult=1.0, state=None):
        return models.st_cnn(input_size, hidden=50, lr_mult=lr_mult)

    with monkeypatch.context() as patch:
        patch.setattr(trainer, "build_model", old_build_model)
        assert main(["train", *TINY, "--epochs", "1", "--model", "st-cnn", "--out", str(out)]) == 0
    path = out / "checkpoint.npz"
    arrays = load_npz(path)
    meta = json.loads(str(arrays["meta"]))
    del meta["config"]["transform"]
    arrays["meta"] = np.array(json.dumps(meta))
    save_npz(path, arrays)
    return path


def test_checkpoints_from_before_the_zoo_load_as_affine_evaluate_and_resume(tmp_path, monkeypatch, capsys):
    path = make_pre_zoo_checkpoint(tmp_path, monkeypatch)
    checkpoint = load_checkpoint(path)
    assert "transform" not in json.loads(str(load_npz(path)["meta"]))["config"]
    assert checkpoint.config.transform == "affine" and checkpoint.model_state["classifier.8.weight"].shape == (50, 320)
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(path)]) == 0
    accuracy = checkpoint.meta["history"][-1]["test_accuracy"]
    assert capsys.readouterr().out.startswith(f"test accuracy {100 * accuracy:.2f}% on 32 none digits images "
                                              "(st-cnn affine after epoch 1;")
    assert main(["train", *TINY, "--model", "st-cnn", "--resume", "--out", str(tmp_path)]) == 0
    resumed = load_checkpoint(path)
    assert resumed.meta["position"]["epoch"] == 2 and resumed.model_state["classifier.8.weight"].shape == (50, 320)
