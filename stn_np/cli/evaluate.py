"""``stn-np evaluate``: test accuracy of a training checkpoint, on its own test set or another one.

The model is rebuilt from the config stored in the checkpoint; ``--data``, ``--data-dir``,
``--distortion``, ``--test-size`` and ``--seed`` default to the checkpoint's values and pick
another test set when given (its images must have the size the model was built for).
"""

from __future__ import annotations

import dataclasses
import time

from ..data import make_dataset
from ..nn.models import build_model
from ..training import evaluate, load_checkpoint
from ..validation import fail
from ._options import add_runtime_options, apply_runtime_options


def add_parser(subparsers):
    p = subparsers.add_parser("evaluate", help="print the test accuracy of a checkpoint written by stn-np train",
                              description="Rebuild the model of a checkpoint and print its test accuracy.")
    p.add_argument("--checkpoint", required=True, metavar="FILE", help="a checkpoint.npz written by stn-np train")
    p.add_argument("--data", help="digits | mnist | fashion-mnist (default: the checkpoint's)")
    p.add_argument("--data-dir", metavar="DIR", help="folder of the MNIST-layout files (default: the checkpoint's)")
    p.add_argument("--distortion", help="none | R | RTS | P | E | TC (default: the checkpoint's)")
    p.add_argument("--test-size", type=int, metavar="N", help="test samples (default: the checkpoint's)")
    p.add_argument("--seed", type=int, help="seed of the test set (default: the checkpoint's)")
    add_runtime_options(p)
    p.set_defaults(run=run)


def _test_config(saved, args):
    """The checkpoint's config with the options given on the command line replacing its data settings."""
    changes = {}
    if args.data is not None:
        changes["data"] = args.data
        if args.data_dir is None and args.data != saved.data:
            changes["data_dir"] = None
    for name in ("data_dir", "distortion", "test_size", "seed"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    return dataclasses.replace(saved, **changes).resolved()


def run(args):
    checkpoint = load_checkpoint(args.checkpoint)
    config = _test_config(checkpoint.config, args)
    apply_runtime_options(args)
    started = time.perf_counter()
    # make_dataset always builds both splits; one training sample keeps that cheap, and the test
    # split depends only on (data, distortion, test_size, seed), not on the training size
    splits = make_dataset(config.data, config.data_dir, config.distortion, 1, config.test_size, config.seed)
    size = checkpoint.meta["input_size"]
    rows, cols = splits.test_images.shape[1:]
    if (rows, cols) != (size, size):
        fail("evaluate", "distortion", f"a test set of {size}x{size} images, the size the checkpoint's model takes",
             f"{rows}x{cols} images")
    saved = checkpoint.config
    model = build_model(saved.model, size, saved.transform, lr_mult=saved.loc_lr_mult,
                        state=checkpoint.model_state)  # the state's hidden width: older checkpoints load too
    model.load_state_dict(checkpoint.model_state)
    accuracy = evaluate(model, splits.test_images, splits.test_labels)
    position = checkpoint.meta["position"]
    where = f"epoch {position['epoch']}" + (f", batch {position['batch']}" if position["batch"] else "")
    name = saved.model if saved.transform is None else f"{saved.model} {saved.transform}"
    print(f"test accuracy {100 * accuracy:.2f}% on {len(splits.test_labels)} {config.distortion} {config.data} "
          f"images ({name} after {where}; {time.perf_counter() - started:.1f} s)")
    return 0

