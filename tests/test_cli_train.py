"""``stn-np train`` and ``stn-np evaluate``: files, output, Ctrl-C and resume, and one-line errors."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from stn_np.cli import main

TINY = ["--distortion", "RTS", "--model", "st-cnn", "--epochs", "2", "--batch-size", "32", "--train-size", "192",
        "--test-size", "64", "--seed", "5"]


pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-run")
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


def metrics_without_seconds(path):
    metrics = json.loads(path.read_text())
    for record in metrics["epochs"]:
        del record["seconds"]
    return metrics


def test_train_writes_its_files_and_prints_summaries(tmp_path, capsys):
    assert main(["train", *TINY, "--epochs", "1", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "curves.png", "metrics.json", "transformed.png"]
    lines = captured.out.splitlines()
    assert lines[0].startswith("data: 192 train / 64 test RTS synthetic digits, 42x42")
    assert lines[1].startswith("epoch 1/1: train loss ") and "test acc" in lines[1]
    assert lines[-1].startswith("done in ") and str(tmp_path) in lines[-1]
    progress = captured.err.splitlines()
    assert progress and all(line.startswith("epoch 1/1  batch ") for line in progress)
    config = json.loads((tmp_path / "metrics.json").read_text())["config"]
    assert config["distortion"] == "RTS" and config["train_size"] == 192 and config["seed"] == 5


def test_evaluate_rebuilds_the_model_and_matches_the_run(trained, capsys):
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(trained / "checkpoint.npz")]) == 0
    out = capsys.readouterr().out
    final = json.loads((trained / "metrics.json").read_text())["final_test_accuracy"]
    assert out.startswith(f"test accuracy {100 * final:.2f}% on 64 RTS digits images (st-cnn affine after epoch 2;")
    assert main(["evaluate", "--checkpoint", str(trained / "checkpoint.npz"), "--test-size", "30", "--seed", "9"]) == 0
    assert "on 30 RTS digits images" in capsys.readouterr().out


def test_resume_of_a_finished_run_changes_nothing(trained, capsys):
    before = metrics_without_seconds(trained / "metrics.json")
    assert main(["train", *TINY, "--out", str(trained), "--resume"]) == 0
    assert "resuming a run whose 2 epochs are done" in capsys.readouterr().out
    assert metrics_without_seconds(trained / "metrics.json") == before


def _errors(trained, tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not a checkpoint")
    empty = tmp_path / "empty"
    empty.mkdir()
    good = str(trained / "checkpoint.npz")
    return [
        (["train", "--epochs", "0"], "--epochs: expected an int >= 1, got 0"),
        (["train", "--batch-size", "-1"], "--batch-size: expected an int >= 1, got -1"),
        (["train", "--data", "cifar"], "--data: expected one of 'digits', 'mnist', 'fashion-mnist', got 'cifar'"),
        (["train", "--data", "mnist"], "--data-dir: expected a folder with the four MNIST-layout files for data 'mnist'"),
        (["train", "--data-dir", str(empty)], "--data-dir: expected None with data 'digits'"),
        (["train", "--distortion", "XY"], "--distortion: expected one of"),
        (["train", "--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
        (["train", "--lr", "-1"], "--lr: expected a finite number > 0, got -1.0"),
        (["train", "--blas-threads", "0", *TINY, "--out", str(tmp_path / "b")], "--blas-threads: expected an int >= 1"),
        (["train", "--data", "mnist", "--data-dir", str(empty), *TINY[:2], "--out", str(tmp_path / "m")], str(empty)),
        (["train", *TINY, "--out", str(empty), "--resume"], "--resume: expected a checkpoint at"),
        (["train", *TINY, "--lr", "0.5", "--out", str(trained), "--resume"], "differs in: lr), got another config"),
        (["evaluate"], "the following arguments are required: --checkpoint"),
        (["evaluate", "--checkpoint", str(garbage)],
         f"load_checkpoint: path: expected a stn_np checkpoint, got {garbage} (not an .npz archive)"),
        (["evaluate", "--checkpoint", str(tmp_path / "missing.npz")],
         f"load_checkpoint: path: expected a readable checkpoint, got {tmp_path / 'missing.npz'} (No such file or "
         "directory)"),
        (["evaluate", "--checkpoint", good, "--distortion", "R"],
         "--distortion: expected a test set of 42x42 images, the size the checkpoint's model takes, got 28x28 images"),
        (["evaluate", "--checkpoint", good, "--test-size", "0"], "--test-size: expected an int >= 1"),
    ]


def test_errors_are_one_line_with_status_two(trained, tmp_path, capsys):
    for argv, expected in _errors(trained, tmp_path):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("stn-np: error: ") and err.count("\n") == 1, (argv, err)
        assert expected in err, (argv, err)


def test_errors_print_no_traceback_from_the_console_script(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stn_np.cli", "train", "--epochs", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr == "stn-np: error: --epochs: expected an int >= 1, got 0\n"


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_identically(tmp_path):
    """A real SIGINT to a training process mid-epoch, then --resume, equals an uninterrupted run."""
    argv = ["--distortion", "none", "--model", "st-cnn", "--epochs", "3", "--batch-size", "16", "--train-size",
            "640", "--test-size", "32", "--seed", "2", "--no-progress"]
    interrupted, uninterrupted = tmp_path / "interrupted", tmp_path / "uninterrupted"
    proc = subprocess.Popen([sys.executable, "-m", "stn_np.cli", "train", *argv, "--out", str(interrupted)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # wait for the end of epoch 1, then interrupt epoch 2
            if line.startswith("epoch 1/3:"):
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    # the signal lands just after epoch 1's summary or early in epoch 2, as the scheduler decides
    assert err.count("\n") == 1 and re.match(r"stn-np: interrupted (after epoch 1 of 3|at epoch 2, batch \d+); ", err)
    assert err.rstrip().endswith("; --resume continues it") and "checkpoint saved to" in err and "Traceback" not in err
    metrics = json.loads((interrupted / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and len(metrics["epochs"]) == 1
    assert main(["train", *argv, "--out", str(interrupted), "--resume"]) == 0
    assert main(["train", *argv, "--out", str(uninterrupted)]) == 0
    assert metrics_without_seconds(interrupted / "metrics.json") == metrics_without_seconds(uninterrupted / "metrics.json")


def test_divergence_exits_three_with_one_line_and_strict_json(tmp_path):
    """``--optimizer sgd --lr 1e6`` used to exit 0 with "train loss nan", RuntimeWarnings and NaN in metrics.json."""
    argv = ["--optimizer", "sgd", "--lr", "1e6", "--distortion", "none", "--model", "cnn", "--epochs", "2",
            "--batch-size", "32", "--train-size", "128", "--test-size", "32", "--no-progress"]
    proc = subprocess.run([sys.executable, "-m", "stn_np.cli", "train", *argv, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3
    assert re.fullmatch(r"stn-np: error: --lr: expected a learning rate at which training stays finite, got 1e\+06 "
                        r"\(the loss became (nan|inf) at epoch 1, batch \d: lower it\)\n", proc.stderr), proc.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert metrics["status"] == "diverged" and metrics["diverged"]["loss"] is None
    assert "nan" not in proc.stdout.lower()


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, capsys):
    from stn_np.io import lock_directory

    with lock_directory(tmp_path, "train") as lock:  # a run is writing the folder
        assert main(["train", *TINY, "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"stn-np: error: --out: expected a folder no other run is writing, got {tmp_path} "
                                       f"(locked by process {os.getpid()}; {lock} is removed when that run ends)\n")


def test_ctrl_c_just_after_done_exits_cleanly(tmp_path):
    """A Ctrl-C after "done in" used to exit -2 or print a traceback: the run is complete, the status 0.

    The program here spends half a second shutting down (an atexit handler), so the presses land
    after ``main`` has returned, where they used to raise KeyboardInterrupt.
    """
    program = ("import atexit, sys, time; atexit.register(time.sleep, 0.5); from stn_np.cli import main; "
               "sys.exit(main())")
    argv = ["--distortion", "none", "--model", "cnn", "--epochs", "1", "--batch-size", "32", "--train-size", "64",
            "--test-size", "32", "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-c", program, "train", *argv, "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("done in "):
                time.sleep(0.2)  # main has returned: the interpreter is shutting down
                for _ in range(3):  # impatient: three presses
                    proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0 and err == "", (proc.returncode, err)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "complete"
