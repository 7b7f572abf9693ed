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

Interrupts. Ctrl-C is honoured at the next point where the state is complete: the end of the
current step (a half-applied optimizer step could not be resumed), or the end of the current
epoch's evaluation and checkpoint. The loop then writes a checkpoint at that position and
raises :class:`TrainingInterrupted`; ``train(..., resume=True)`` continues it to exactly the
result of an uninterrupted run. After the last epoch the run is complete (checkpoint and
metrics say so): an interrupt there only skips the figures, which a resume writes. A second
Ctrl-C stops at once; the last checkpoint written stays as it was (it is always complete:
files are replaced atomically).

Divergence. A loss that is not finite (too high a learning rate) stops the run before the
step that produced it is applied: :class:`TrainingDiverged` names the epoch and batch,
``metrics.json`` says ``"status": "diverged"``, and the checkpoint on disk, the last one with
finite parameters, is kept. NumPy's overflow warnings are silenced during the steps: the loss
check reports the problem once, clearly.

The output folder is locked for the run (:func:`stn_np.io.lock_directory`): a second run into
the same folder is refused, and an unwritable folder is found before any work. Temporary
files a killed run left there are removed.
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
from ..data.batching import check_images
from ..io import check_path, lock_directory, remove_temporaries, save_json
from ..nn.models import build_model
from ..nn.module import Module
from ..optim import SGD, Adam
from ..rng import get_rng, manual_seed
from ..validation import check_bool, check_callable, check_int, fail
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .progress import ProgressBar, format_duration

__all__ = ["train", "evaluate", "make_optimizer", "load_data", "TrainResult", "TrainingInterrupted",
           "TrainingDiverged", "StepInfo", "CHECKPOINT", "METRICS", "EVAL_BATCH"]

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
    """Training stopped by Ctrl-C (or a ``KeyboardInterrupt`` from ``on_step``); ``str()`` is one line.

    ``checkpoint`` is the checkpoint written at the stop (None when a second Ctrl-C left the
    last one as it was); ``complete`` says whether every epoch was done (only the figures were
    skipped). Either way, resuming continues to the result of an uninterrupted run.
    """

    def __init__(self, message, checkpoint=None, complete=False):
        super().__init__(message)
        self.message, self.checkpoint, self.complete = message, checkpoint, complete

    def __str__(self):
        return self.message


class TrainingDiverged(ValueError):
    """The loss stopped being finite; ``str()`` is one line naming the epoch, the batch and ``lr``.

    A ``ValueError`` in the library's convention (``"train: lr: expected ..., got ..."``): the
    learning rate was too high for this run. ``exit_status`` (3) is what ``stn-np train``
    exits with, distinct from other errors (2) and interrupts (130).
    """

    exit_status = 3

    def __init__(self, message, epoch, batch, step):
        super().__init__(message)
        self.epoch, self.batch, self.step = epoch, batch, step


class _Interrupts:
    """Turn Ctrl-C (SIGINT) into a request honoured at the next safe point.

    The first Ctrl-C sets ``requested``; the loop checks it at the end of each step and each
    epoch. A second one raises ``KeyboardInterrupt`` at once. Only the main thread can install
    signal handlers; elsewhere this does nothing (a KeyboardInterrupt raised by ``on_step`` is
    still handled at the step boundary).
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
    if not isinstance(config, TrainConfig):
        fail("load_data", "config", "a TrainConfig", f"a {type(config).__name__}", TypeError)
    config = config.resolved()
    return make_dataset(config.data, config.data_dir, config.distortion, config.train_size, config.test_size,
                        config.seed)


def evaluate(model, images, labels, batch_size=EVAL_BATCH):
    """Accuracy (a fraction) of ``model`` on uint8 ``images`` (n, H, W) and ``labels``, in eval mode.

    Labels must lie in ``[0, classes)``, ``classes`` being the model's number of outputs (a
    label it can never predict would silently count as wrong). The model's training flag is
    restored afterwards.
    """
    if not isinstance(model, Module):
        fail("evaluate", "model", "a Module", f"a {type(model).__name__}", TypeError)
    images = check_images(images, "evaluate")
    if len(images) == 0:
        fail("evaluate", "images", "at least one image", "none")
    stream = batches(images, labels, check_int(batch_size, "evaluate", "batch_size", minimum=1))
    labels = np.asarray(labels)
    was_training = model.training
    model.eval()
    correct, checked = 0, False
    try:
        with no_grad():
            for x, y in stream:
                logits = model(x).data
                if not checked and (labels.min() < 0 or labels.max() >= logits.shape[1]):
                    bad = labels[(labels < 0) | (labels >= logits.shape[1])][0]
                    fail("evaluate", "labels", f"class indices in [0, {logits.shape[1]}), the model's outputs",
                         f"{bad}")
                checked = True
                correct += int((logits.argmax(axis=1) == y).sum())
    finally:
        model.train(was_training)
    return correct / len(labels)


def _epoch_seed(seed, epoch):
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _describe(config, splits):
    rows, cols = splits.train_images.shape[1:]
    what = {"digits": "synthetic digits", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}[config.data]
    distortion = "" if config.distortion == "none" else f"{config.distortion} "
    return f"{len(splits.train_labels)} train / {len(splits.test_labels)} test {distortion}{what}, {rows}x{cols}"


class _Run:
    """The state of one run between steps: everything a checkpoint holds, plus the files."""

    def __init__(self, config, out_dir, stdout, stderr, progress):
        self.config, self.out_dir = config, out_dir
        self.stdout, self.stderr, self.progress = stdout, stderr, progress
        self.epoch, self.batch = 0, 0  # position: next batch to run (0-based)
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.history = []
        self.step = 0
        # False while the state is between two consistent positions (inside a step, or while an
        # epoch's results are being recorded): a checkpoint written then could not be resumed
        self.consistent = True
        self.saved = None  # (status, position) of the last checkpoint written
        self.started = time.perf_counter()

    def path(self, name):
        return os.path.join(self.out_dir, name)

    def position(self):
        return {"epoch": self.epoch, "batch": self.batch, "step": self.step}

    def meta(self, status):
        return {
            "status": status,
            "position": self.position(),
            "rng_state": get_rng().bit_generator.state,
            "sums": dict(self.sums),
            "history": self.history,
            "input_size": self.input_size,
        }

    def metrics(self, status, **extra):
        document = {"config": self.config.to_dict(), "status": status, "input_size": self.input_size,
                    "epochs": self.history}
        if self.history:
            document["final_test_accuracy"] = self.history[-1]["test_accuracy"]
        document.update(extra)
        return document

    def save(self, status):
        for name, p in self.model.named_parameters():  # never replace a good checkpoint by a broken one
            if not np.all(np.isfinite(p.data)):  # after the last step taken
                epoch, batch = (self.epoch + 1, self.batch) if self.batch else (self.epoch, self.batches_per_epoch)
                raise self.diverged(f"parameter {name} stopped being finite", epoch, batch, self.step)
        save_checkpoint(self.path(CHECKPOINT), self.model, self.optimizer, self.config, self.meta(status))
        save_json(self.path(METRICS), self.metrics(status))
        self.saved = (status, self.position())

    def diverged(self, what, epoch=None, batch=None, step=None):
        """:class:`TrainingDiverged`: ``what`` went wrong at a step (default: the step about to run)."""
        epoch = self.epoch + 1 if epoch is None else epoch
        batch = self.batch + 1 if batch is None else batch
        return TrainingDiverged(
            f"train: lr: expected a learning rate at which training stays finite, got {self.config.lr:g} ({what} "
            f"at epoch {epoch}, batch {batch}: lower it)", epoch, batch, self.step + 1 if step is None else step)

    def restore(self, checkpoint, path):
        meta = checkpoint.meta
        try:
            self.model.load_state_dict(checkpoint.model_state)
            self.optimizer.load_state_dict(checkpoint.optimizer_state)
        except (TypeError, ValueError) as error:
            fail("train", "resume", "a checkpoint of this run's model and optimizer", f"{path} ({error})")
        get_rng().bit_generator.state = meta["rng_state"]
        self.epoch, self.batch = meta["position"]["epoch"], meta["position"]["batch"]
        self.step = meta["position"]["step"]
        self.sums = dict(meta["sums"])
        self.history = list(meta["history"])
        self.saved = None  # a resumed run writes its checkpoint and metrics at least once, at the end

    def say(self, text):
        print(text, file=self.stdout, flush=True)

    def run_epoch(self, splits, interrupts, on_step):
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
                self.consistent = False
                logits = self.model(x)
                loss = F.cross_entropy(logits, y)
                value = float(loss.item())
                if not math.isfinite(value):  # stop before this step changes anything
                    self.consistent = True
                    raise self.diverged(f"the loss became {value}")
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                # the step is complete: from here on the state is consistent and resumable
                self.sums["loss"] += value * len(y)
                self.sums["correct"] += int((logits.data.argmax(axis=1) == y).sum())
                self.sums["seen"] += len(y)
                self.batch += 1
                self.step += 1
                self.consistent = True
                if bar:
                    bar.update(self.batch, len(y), self.sums["loss"] / self.sums["seen"],
                               self.sums["correct"] / self.sums["seen"])
                if on_step is not None:
                    on_step(StepInfo(self.epoch + 1, self.batch, total, self.step, value))
                if interrupts.requested:
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
            "train_loss": self.sums["loss"] / self.sums["seen"],
            "train_accuracy": self.sums["correct"] / self.sums["seen"],
            "test_accuracy": test_accuracy,
            "seconds": seconds,
        }
        self.consistent = False  # recording the epoch: several attributes change together
        self.history.append(record)
        self.epoch, self.batch = self.epoch + 1, 0
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.consistent = True
        last = self.epoch == cfg.epochs
        self.save("complete" if last else "interrupted" if interrupts.requested else "running")
        self.say(f"epoch {record['epoch']}/{cfg.epochs}: train loss {record['train_loss']:.4f}, "
                 f"train acc {100 * record['train_accuracy']:.2f}%, test acc {100 * test_accuracy:.2f}%, "
                 f"{seconds:.1f} s")
        if interrupts.requested and not last:
            raise KeyboardInterrupt


def _check_stream(stream, default, name):
    stream = default if stream is None else stream
    if not callable(getattr(stream, "write", None)):
        fail("train", name, "a file-like object with write()", f"a {type(stream).__name__}", TypeError)
    return stream


def train(config=None, out_dir="runs/stn-np-train", resume=False, on_step=None, progress=True, figures=True,
          stdout=None, stderr=None):
    """Train ``config``'s model, writing metrics, a checkpoint and figures to ``out_dir``.

    Parameters
    ----------
    config : TrainConfig, optional
        The run's settings (default: ``TrainConfig()``, the README's main job).
    out_dir : str or os.PathLike
        Created if needed; receives ``metrics.json``, ``checkpoint.npz`` (after every epoch and
        on interruption), ``curves.png`` and, for the ST-CNN, ``transformed.png``. Locked for
        the run (a second run into it is refused); temporary files a killed run left are
        removed.
    resume : bool
        Continue from ``out_dir/checkpoint.npz``. Its config must equal ``config`` except for
        ``epochs`` (which may grow, to train further) and ``data_dir`` (the folder may move).
        Resuming a complete run only writes what is missing (its status, the figures).
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
        After saving a resumable checkpoint, when interrupted (see the module docstring).
    TrainingDiverged
        When the loss stops being finite (a ``ValueError`` naming ``lr``, the epoch and the
        batch); ``metrics.json`` then says "diverged" and the last finite checkpoint is kept.
    ValueError
        For a bad ``resume`` (no checkpoint, another config, more epochs done than asked), an
        ``out_dir`` another run is writing or that cannot be written.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        fail("train", "config", "a TrainConfig", f"a {type(config).__name__}", TypeError)
    config = config.resolved()
    out_dir = check_path(out_dir, "train", "out_dir")
    resume = check_bool(resume, "train", "resume")
    on_step = None if on_step is None else check_callable(on_step, "train", "on_step")
    progress, figures = check_bool(progress, "train", "progress"), check_bool(figures, "train", "figures")
    stdout, stderr = _check_stream(stdout, sys.stdout, "stdout"), _check_stream(stderr, sys.stderr, "stderr")
    with lock_directory(out_dir, "train", "out_dir"):
        return _train(config, out_dir, resume, on_step, progress, figures, stdout, stderr)


def _train(config, out_dir, resume, on_step, progress, figures, stdout, stderr):
    run = _Run(config, out_dir, stdout, stderr, progress)
    removed = remove_temporaries(out_dir)
    if removed:
        run.say(f"note: removed {len(removed)} temporary file(s) a killed run left in {out_dir}")
    path = run.path(CHECKPOINT)
    checkpoint = None
    if resume:
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
    elif os.path.exists(path):
        run.say(f"note: {path} will be replaced (resuming would continue it instead)")
    clock = time.perf_counter()
    splits = load_data(config)
    run.say(f"data: {_describe(config, splits)} ({time.perf_counter() - clock:.1f} s)")
    rows, cols = splits.train_images.shape[1:]
    if rows != cols:
        fail("train", "data_dir", "square images (the models take S x S inputs)",
             f"{rows} x {cols} images in {config.data_dir}")
    run.input_size = int(rows)
    run.batches_per_epoch = math.ceil(len(splits.train_labels) / config.batch_size)
    if checkpoint is not None and checkpoint.meta["input_size"] != run.input_size:
        fail("train", "resume", f"a checkpoint of a model for {run.input_size} x {run.input_size} images",
             f"{path}, built for {checkpoint.meta['input_size']}")
    manual_seed(config.seed)
    run.model = build_model(config.model, run.input_size, config.transform, lr_mult=config.loc_lr_mult,
                            state=None if checkpoint is None else checkpoint.model_state)
    run.optimizer = make_optimizer(run.model, config)
    if checkpoint is not None:
        run.restore(checkpoint, path)
        run.say(f"resuming at epoch {run.epoch + 1}, batch {run.batch} (step {run.step})"
                if run.epoch < config.epochs else f"resuming a run whose {run.epoch} epochs are done")

    # The loop checks every loss: NumPy's overflow warnings would only repeat it, many times.
    with _Interrupts() as interrupts, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            _epochs(run, splits, interrupts, on_step, figures)
        except TrainingDiverged as stop:
            save_json(run.path(METRICS), run.metrics(
                "diverged", diverged={"epoch": stop.epoch, "batch": stop.batch, "step": stop.step, "loss": None}))
            raise
        total = time.perf_counter() - run.started
        accuracy = run.history[-1]["test_accuracy"]
        run.say(f"done in {format_duration(total)}: test accuracy {100 * accuracy:.2f}%; wrote {out_dir}")
    return TrainResult(run.model, run.history, accuracy, out_dir)


def _epochs(run, splits, interrupts, on_step, figures):
    """Run the remaining epochs and the figures, turning Ctrl-C into a checkpoint and :class:`TrainingInterrupted`."""
    config, path = run.config, run.path(CHECKPOINT)
    try:
        while run.epoch < config.epochs:
            run.run_epoch(splits, interrupts, on_step)
        if run.saved != ("complete", run.position()):
            run.save("complete")
        if interrupts.requested:  # during the last epoch's evaluation or checkpoint
            raise KeyboardInterrupt
        if figures:
            _write_figures(run, splits)
    except KeyboardInterrupt:
        if isinstance(sys.exc_info()[1], TrainingInterrupted):
            raise
        if not run.consistent:  # a second Ctrl-C in the middle of a change: keep what is on disk
            raise TrainingInterrupted(f"interrupted inside a step; {path} (if any) was left as it was") from None
        status = "complete" if run.epoch == config.epochs else "interrupted"
        if run.saved != (status, run.position()):
            run.save(status)
        if status == "complete":
            raise TrainingInterrupted(f"interrupted after the last epoch: the run is complete ({path}) but its figures "
                                      "were not written", path, complete=True) from None
        where = (f"at epoch {run.epoch + 1}, batch {run.batch}" if run.batch
                 else f"after epoch {run.epoch} of {config.epochs}" if run.epoch else "before the first step")
        raise TrainingInterrupted(f"interrupted {where}; checkpoint saved to {path}", path) from None


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
