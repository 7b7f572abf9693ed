"""The training loop behind ``stn-np train``: data, model, optimizer, epochs, checkpoints, metrics.

One step is the textbook one::

    logits = model(x);  loss = cross_entropy(logits, y)
    optimizer.zero_grad();  loss.backward();  optimizer.step()

Everything random is derived from ``config.seed``: the data (:func:`stn_np.data.make_dataset`),
the initial weights and the dropout masks (the global generator, :func:`stn_np.manual_seed`)
and each epoch's order (``SeedSequence([seed, epoch])``). A checkpoint therefore only needs
the parameters, the optimizer state, the global generator's state, the position (epoch,
batch) and the epoch's running sums to continue exactly where it stopped: a resumed run
computes the same floating-point numbers, in the same order, as an uninterrupted one.

Ctrl-C is deferred to the end of the current step (a half-applied optimizer step could not be
resumed): the loop then writes a checkpoint at that position and raises
:class:`TrainingInterrupted`. A second Ctrl-C interrupts at once, leaving the last
checkpoint (the previous epoch's) in place.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from itertools import islice
from typing import NamedTuple

import numpy as np

from .. import functional as F
from ..autograd.function import no_grad
from ..data import batches, make_dataset
from ..io import save_json
from ..nn.models import build_model
from ..optim import SGD, Adam
from ..rng import get_rng, manual_seed
from ..validation import fail
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .progress import ProgressBar, format_duration

__all__ = ["train", "evaluate", "make_optimizer", "load_data", "TrainResult", "TrainingInterrupted", "StepInfo",
           "CHECKPOINT", "METRICS", "EVAL_BATCH"]

CHECKPOINT, METRICS, CURVES, TRANSFORMED = "checkpoint.npz", "metrics.json", "curves.png", "transformed.png"
#: Batch size of evaluation (no gradients, so larger than training batches costs little).
EVAL_BATCH = 256


class StepInfo(NamedTuple):
    """What ``on_step`` receives after each finished step (``batch`` counts from 1)."""

    epoch: int
    batch: int
    batches: int
    step: int
    loss: float


class TrainResult(NamedTuple):
    """The outcome of :func:`train`: the trained model, the per-epoch metrics and the files."""

    model: object
    history: list
    test_accuracy: float
    out_dir: str


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C (or a ``KeyboardInterrupt`` from ``on_step``); ``str()`` is one line."""

    def __init__(self, message, checkpoint=None):
        super().__init__(message)
        self.message, self.checkpoint = message, checkpoint

    def __str__(self):
        return self.message


class _DeferredInterrupt:
    """Turn the first SIGINT into a flag checked between steps; a second one interrupts at once.

    Only the main thread can install signal handlers; elsewhere this does nothing (a
    KeyboardInterrupt raised by ``on_step`` is still handled at the step boundary).
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def make_optimizer(model, config):
    """The optimizer of ``config`` over ``model``'s parameter groups (localisation at ``lr * loc_lr_mult``)."""
    groups = model.param_groups(config.lr)
    if config.optimizer == "adam":
        return Adam(groups, lr=config.lr)
    return SGD(groups, lr=config.lr, momentum=config.momentum)


def load_data(config):
    """The train and test splits of ``config`` (:func:`stn_np.data.make_dataset`, sizes resolved)."""
    config = config.resolved()
    return make_dataset(config.data, config.data_dir, config.distortion, config.train_size, config.test_size,
                        config.seed)


def evaluate(model, images, labels, batch_size=EVAL_BATCH):
    """Accuracy (a fraction) of ``model`` on uint8 ``images`` (n, H, W) and ``labels``, in eval mode.

    The model's training flag is restored afterwards.
    """
    was_training = model.training
    model.eval()
    correct = 0
    try:
        with no_grad():
            for x, y in batches(images, labels, batch_size):
                correct += int((model(x).data.argmax(axis=1) == y).sum())
    finally:
        model.train(was_training)
    return correct / max(len(labels), 1)


def _epoch_seed(seed, epoch):
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _describe(config, splits):
    side = splits.train_images.shape[1]
    what = {"digits": "synthetic digits", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}[config.data]
    distortion = "" if config.distortion == "none" else f"{config.distortion} "
    return f"{len(splits.train_labels)} train / {len(splits.test_labels)} test {distortion}{what}, {side}x{side}"


class _Run:
    """The state of one run between steps: everything a checkpoint holds, plus the files."""

    def __init__(self, config, out_dir, stdout, stderr, progress):
        self.config, self.out_dir = config, out_dir
        self.stdout, self.stderr, self.progress = stdout, stderr, progress
        self.epoch, self.batch = 0, 0  # position: next batch to run (0-based)
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.history = []
        self.step = 0
        self.in_step = False  # True between a step's forward and its optimizer update
        self.started = time.perf_counter()

    def path(self, name):
        return os.path.join(self.out_dir, name)

    def meta(self, status):
        return {
            "status": status,
            "position": {"epoch": self.epoch, "batch": self.batch, "step": self.step},
            "rng_state": get_rng().bit_generator.state,
            "sums": dict(self.sums),
            "history": self.history,
            "input_size": self.input_size,
        }

    def save(self, status):
        save_checkpoint(self.path(CHECKPOINT), self.model, self.optimizer, self.config, self.meta(status))
        document = {"config": self.config.to_dict(), "status": status, "input_size": self.input_size,
                    "epochs": self.history}
        if self.history:
            document["final_test_accuracy"] = self.history[-1]["test_accuracy"]
        save_json(self.path(METRICS), document)

    def restore(self, checkpoint):
        meta = checkpoint.meta
        self.model.load_state_dict(checkpoint.model_state)
        self.optimizer.load_state_dict(checkpoint.optimizer_state)
        get_rng().bit_generator.state = meta["rng_state"]
        self.epoch, self.batch = meta["position"]["epoch"], meta["position"]["batch"]
        self.step = meta["position"]["step"]
        self.sums = dict(meta["sums"])
        self.history = list(meta["history"])

    def say(self, text):
        print(text, file=self.stdout, flush=True)

    def run_epoch(self, splits, guard, on_step):
        cfg = self.config
        n = len(splits.train_labels)
        total = math.ceil(n / cfg.batch_size)
        label = f"epoch {self.epoch + 1}/{cfg.epochs}"
        bar = ProgressBar(total, label, self.stderr, start=self.batch) if self.progress else None
        stream = batches(splits.train_images, splits.train_labels, cfg.batch_size, shuffle=True,
                         seed=_epoch_seed(cfg.seed, self.epoch))
        self.model.train()
        clock = time.perf_counter()
        try:
            for x, y in islice(stream, self.batch, None):
                self.in_step = True
                logits = self.model(x)
                loss = F.cross_entropy(logits, y)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                # the step is complete: from here on the state is consistent and resumable
                value = float(loss.item())
                self.sums["loss"] += value * len(y)
                self.sums["correct"] += int((logits.data.argmax(axis=1) == y).sum())
                self.sums["seen"] += len(y)
                self.batch += 1
                self.step += 1
                self.in_step = False
                if bar:
                    bar.update(self.batch, len(y), self.sums["loss"] / self.sums["seen"],
                               self.sums["correct"] / self.sums["seen"])
                if on_step is not None:
                    on_step(StepInfo(self.epoch + 1, self.batch, total, self.step, value))
                if guard.requested:
                    raise KeyboardInterrupt
        finally:
            self.sums["seconds"] += time.perf_counter() - clock
            if bar:
                bar.close()
        clock = time.perf_counter()
        test_accuracy = evaluate(self.model, splits.test_images, splits.test_labels)
        seconds = self.sums["seconds"] + time.perf_counter() - clock
        record = {
            "epoch": self.epoch + 1,
            "train_loss": self.sums["loss"] / max(self.sums["seen"], 1),
            "train_accuracy": self.sums["correct"] / max(self.sums["seen"], 1),
            "test_accuracy": test_accuracy,
            "seconds": seconds,
        }
        self.history.append(record)
        self.epoch, self.batch = self.epoch + 1, 0
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.save("running" if self.epoch < cfg.epochs else "complete")
        self.say(f"epoch {record['epoch']}/{cfg.epochs}: train loss {record['train_loss']:.4f}, "
                 f"train acc {100 * record['train_accuracy']:.2f}%, test acc {100 * test_accuracy:.2f}%, "
                 f"{seconds:.1f} s")


def train(config=None, out_dir="runs/stn-np-train", resume=False, on_step=None, progress=True, figures=True,
          stdout=None, stderr=None):
    """Train ``config``'s model, writing metrics, a checkpoint and figures to ``out_dir``.

    Parameters
    ----------
    config : TrainConfig, optional
        The run's settings (default: ``TrainConfig()``, the README's main job).
    out_dir : str or os.PathLike
        Created if needed; receives ``metrics.json``, ``checkpoint.npz`` (after every epoch and
        on interruption), ``curves.png`` and, for the ST-CNN, ``transformed.png``.
    resume : bool
        Continue from ``out_dir/checkpoint.npz``. Its config must equal ``config`` except for
        ``epochs`` (which may grow, to train further) and ``data_dir`` (the folder may move).
    on_step : callable, optional
        Called with a :class:`StepInfo` after every finished step. A ``KeyboardInterrupt`` it
        raises is handled like Ctrl-C (checkpoint at that position, then
        :class:`TrainingInterrupted`).
    progress : bool
        Show the progress line on ``stderr``.
    figures : bool
        Write ``curves.png`` and ``transformed.png`` at the end.
    stdout, stderr : file, optional
        Streams of the per-epoch summaries and of the progress line (default ``sys.stdout`` /
        ``sys.stderr``).

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingInterrupted
        After saving a resumable checkpoint, when interrupted between steps.
    ValueError
        For a bad ``resume`` (no checkpoint, another config, more epochs done than asked).
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        fail("train", "config", "a TrainConfig", f"a {type(config).__name__}", TypeError)
    config = config.resolved()
    out_dir = os.fspath(out_dir)
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    checkpoint = None
    if resume:
        path = os.path.join(out_dir, CHECKPOINT)
        if not os.path.exists(path):
            fail("train", "resume", f"a checkpoint at {path}", "none")
        checkpoint = load_checkpoint(path)
        differences = config.differences(checkpoint.config)
        if differences:
            fail("train", "resume", f"a checkpoint written by this config ({path} differs in: "
                 f"{', '.join(differences)})", "another config's")
        done = checkpoint.meta["position"]["epoch"]
        if done > config.epochs:
            fail("train", "epochs", f"at least the {done} epochs the checkpoint has already done", config.epochs)
    os.makedirs(out_dir, exist_ok=True)

    run = _Run(config, out_dir, stdout, stderr, progress)
    if checkpoint is None and os.path.exists(run.path(CHECKPOINT)):
        run.say(f"note: {run.path(CHECKPOINT)} will be replaced (--resume continues it instead)")
    clock = time.perf_counter()
    splits = load_data(config)
    run.say(f"data: {_describe(config, splits)} ({time.perf_counter() - clock:.1f} s)")
    run.input_size = int(splits.train_images.shape[1])
    manual_seed(config.seed)
    run.model = build_model(config.model, run.input_size, config.transform, lr_mult=config.loc_lr_mult,
                            state=None if checkpoint is None else checkpoint.model_state)
    run.optimizer = make_optimizer(run.model, config)
    if checkpoint is not None:
        run.restore(checkpoint)
        run.say(f"resuming at epoch {run.epoch + 1}, batch {run.batch} (step {run.step})")

    with _DeferredInterrupt() as guard:
        try:
            while run.epoch < config.epochs:
                run.run_epoch(splits, guard, on_step)
                if guard.requested:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            path = run.path(CHECKPOINT)
            if run.in_step:  # a second Ctrl-C inside a step: that state cannot be resumed
                raise TrainingInterrupted(f"interrupted inside a step; {path} (if any) was left as it was") from None
            run.save("interrupted")
            raise TrainingInterrupted(
                f"interrupted at epoch {run.epoch + 1}, batch {run.batch}; checkpoint saved to {path} "
                f"(continue with --resume)", path) from None
    if not run.history:  # resumed a finished run with nothing left to do
        run.save("complete")
    if figures:
        _write_figures(run, splits)
    total = time.perf_counter() - run.started
    accuracy = run.history[-1]["test_accuracy"]
    run.say(f"done in {format_duration(total)}: test accuracy {100 * accuracy:.2f}%; wrote {out_dir}")
    return TrainResult(run.model, run.history, accuracy, out_dir)


def _write_figures(run, splits, count=10):
    from ..io import save_figure
    from ..plotting.training import curves_figure, transformed_figure

    save_figure(curves_figure(run.history, title=f"{run.config.model} on {run.config.distortion} {run.config.data}"),
                run.path(CURVES))
    transformer = getattr(run.model, "transformer", None)
    if transformer is None:
        run.say(f"{TRANSFORMED}: skipped (the {run.config.model} model has no spatial transformer)")
        return
    x = next(batches(splits.test_images[:count], splits.test_labels[:count], count))[0]
    run.model.eval()
    with no_grad():
        out = transformer(x).data
    save_figure(transformed_figure(x, out), run.path(TRANSFORMED))
