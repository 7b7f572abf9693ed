"""``stn-np train``: train a zoo model (FCN, CNN, ST-FCN, ST-CNN) on distorted digits, with checkpoints.

With no options it runs the README's main job: the ST-CNN on RTS synthetic digits (see
:class:`stn_np.training.TrainConfig` for the defaults), writing to ``runs/stn-np-train``.
"""

from __future__ import annotations

import sys

from ..data import DATASETS, DISTORTIONS
from ..nn.models import MODELS, check_model
from ..sampling.families import PARAMETRIC
from ..training import DEFAULT_DIGITS_SIZES, OPTIMIZERS, TrainConfig, TrainingInterrupted, train
from ._options import add_runtime_options, apply_runtime_options

DEFAULT_OUT = "runs/stn-np-train"


def add_parser(subparsers):
    d = TrainConfig()
    p = subparsers.add_parser(
        "train", help="train a zoo model on distorted digits (no options: affine ST-CNN on RTS synthetic digits)",
        description="Train a model, printing a progress line (stderr) and a summary per epoch (stdout); writes "
                    "metrics.json, checkpoint.npz, curves.png and transformed.png to --out. Exit status: 0 done, "
                    "2 bad options or files (one line on stderr), 3 diverged (the loss stopped being finite: lower "
                    "--lr), 130 interrupted (Ctrl-C; --resume continues).")
    p.add_argument("--data", default=d.data, help=f"{' | '.join(DATASETS)} (default: {d.data})")
    p.add_argument("--data-dir", metavar="DIR", help="folder of the four MNIST-layout files (mnist, fashion-mnist)")
    p.add_argument("--distortion", default=d.distortion, help=f"{' | '.join(DISTORTIONS)} (default: {d.distortion})")
    p.add_argument("--model", default=d.model, help=f"{' | '.join(MODELS)} (default: {d.model})")
    p.add_argument("--transform", help=f"the spatial transformer's family for st-fcn and st-cnn: "
                                       f"{' | '.join(PARAMETRIC)} (default: affine)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"passes over the training set (default: {d.epochs})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"default: {d.batch_size}")
    p.add_argument("--optimizer", default=d.optimizer, help=f"{' | '.join(OPTIMIZERS)} (default: {d.optimizer})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"learning rate (default: {d.lr:g})")
    p.add_argument("--loc-lr-mult", type=float, default=d.loc_lr_mult,
                   help=f"learning-rate multiplier of the localisation network (default: {d.loc_lr_mult:g})")
    p.add_argument("--momentum", type=float, default=d.momentum, help=f"SGD momentum (default: {d.momentum:g})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seeds data, weights, dropout, order (default: {d.seed})")
    p.add_argument("--train-size", type=int, metavar="N",
                   help=f"training samples (default: {DEFAULT_DIGITS_SIZES[0]} digits, or every file sample)")
    p.add_argument("--test-size", type=int, metavar="N",
                   help=f"test samples (default: {DEFAULT_DIGITS_SIZES[1]} digits, or every file sample)")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.npz (same options)")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    add_runtime_options(p)
    p.set_defaults(run=run)


def config_from_args(args):
    """The :class:`TrainConfig` of parsed ``stn-np train`` options (ValueError names the bad field).

    A ``--transform`` given for a model without a spatial transformer is an error here (the
    config itself would drop it).
    """
    check_model(args.model, args.transform, "train")
    return TrainConfig(data=args.data, data_dir=args.data_dir, distortion=args.distortion, model=args.model,
                       transform=args.transform, epochs=args.epochs, batch_size=args.batch_size,
                       optimizer=args.optimizer, lr=args.lr, loc_lr_mult=args.loc_lr_mult, momentum=args.momentum,
                       seed=args.seed, train_size=args.train_size, test_size=args.test_size)


def run(args):
    config = config_from_args(args)
    apply_runtime_options(args)
    try:
        train(config, args.out, resume=args.resume, progress=not args.no_progress)
    except TrainingInterrupted as stop:
        hint = ("" if stop.checkpoint is None else "; --resume writes them" if stop.complete
                else "; --resume continues it")
        print(f"stn-np: {stop}{hint}", file=sys.stderr)
        return 130
    return 0
