"""Training: the loop behind ``stn-np train``, its config, checkpoints and progress line.

``train(TrainConfig(...), out_dir)`` builds the data and the model, runs the epochs and
writes ``metrics.json``, ``checkpoint.npz``, ``curves.png`` and ``transformed.png``;
``train(..., resume=True)`` continues a checkpoint to exactly the result of an uninterrupted
run. ``evaluate`` measures a model's accuracy; ``keep_heap`` and ``set_blas_threads`` are the
process-wide settings the command line applies (see :mod:`stn_np.training.runtime`).
"""

from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import DEFAULT_DIGITS_SIZES, OPTIMIZERS, TrainConfig
from .runtime import get_blas_threads, keep_heap, set_blas_threads
from .progress import ProgressBar, format_duration
from .trainer import (
    StepInfo,
    TrainingDiverged,
    TrainingInterrupted,
    TrainResult,
    evaluate,
    load_data,
    make_optimizer,
    train,
)

__all__ = [
    "Checkpoint",
    "DEFAULT_DIGITS_SIZES",
    "OPTIMIZERS",
    "ProgressBar",
    "StepInfo",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "TrainingInterrupted",
    "evaluate",
    "format_duration",
    "get_blas_threads",
    "keep_heap",
    "load_checkpoint",
    "load_data",
    "make_optimizer",
    "save_checkpoint",
    "set_blas_threads",
    "train",
]
