"""Training checkpoints: one ``.npz`` written atomically and read back without pickle.

Layout of the archive:

=====================  ==================================================================
key                    content
=====================  ==================================================================
``model.<name>``       every parameter (``Module.state_dict``), e.g. ``model.classifier.0.weight``
``optimizer.<name>``   the optimizer state, flattened (:func:`stn_np.optim.flatten_state_dict`)
``meta``               a 0-d unicode array holding JSON: format version, the config, the
                       position (epoch, batch), the global generator's state, the epoch's
                       running sums, the finished epochs' metrics, the input size
=====================  ==================================================================

The NumPy generator state (``bit_generator.state``, a dict of ints and strings) is exact in
JSON: Python ints have no size limit, and floats round-trip through ``repr``.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..io import check_path, load_npz, save_npz, to_json
from ..optim import flatten_state_dict
from ..validation import check_float_array, fail
from .config import TrainConfig

__all__ = ["save_checkpoint", "load_checkpoint", "Checkpoint", "FORMAT", "STATUSES"]

#: Identifies the archive layout; bumped if it changes.
FORMAT = "stn_np.checkpoint/1"
#: What ``meta["status"]`` (and ``metrics.json``'s "status") may say.
STATUSES = ("running", "interrupted", "complete", "diverged")


class Checkpoint(dict):
    """A loaded checkpoint: ``config`` (TrainConfig), ``model_state``, ``optimizer_state`` (flat),
    ``meta`` (the JSON dict), as keys and attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None  # hasattr() and copy() expect AttributeError


def save_checkpoint(path, model, optimizer, config, meta):
    """Write ``model``'s and ``optimizer``'s state, ``config`` and ``meta`` to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
    model : Module
    optimizer : Optimizer
    config : TrainConfig
    meta : dict
        JSON-ready values (position, generator state, running sums, history, ...); written as
        strict JSON (a non-finite number becomes null, see :func:`stn_np.io.to_json`).
    """
    arrays = {f"model.{name}": value for name, value in model.state_dict().items()}
    arrays.update({f"optimizer.{name}": value for name, value in flatten_state_dict(optimizer.state_dict()).items()})
    document = to_json(dict(meta, format=FORMAT, config=config.to_dict()), "save_checkpoint", "meta")
    arrays["meta"] = np.array(json.dumps(document, allow_nan=False))
    save_npz(path, arrays)


def _is_int(value, minimum=0):
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _meta_problem(meta):
    """What is wrong with a meta record (a short text), or None when it is usable."""
    position = meta.get("position")
    if not isinstance(position, dict) or not all(_is_int(position.get(k)) for k in ("epoch", "batch", "step")):
        return "its position is not {epoch, batch, step} of ints >= 0"
    if meta.get("status") not in STATUSES:
        return f"its status is not one of {', '.join(STATUSES)}"
    state = meta.get("rng_state")
    try:
        np.random.default_rng().bit_generator.state = state
    except (TypeError, ValueError, KeyError):
        return "it holds no valid random generator state"
    sums = meta.get("sums")
    if not isinstance(sums, dict) or not all(_is_number(sums.get(k)) for k in ("loss", "correct", "seen", "seconds")):
        return "its running sums are not {loss, correct, seen, seconds} numbers"
    history = meta.get("history")
    fields = ("epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds")
    if not isinstance(history, list) or not all(isinstance(r, dict) and all(_is_number(r.get(k)) for k in fields)
                                                for r in history):
        return f"its history is not a list of {{{', '.join(fields)}}} records"
    if len(history) != position["epoch"]:
        return f"its history has {len(history)} epochs but its position says {position['epoch']}"
    if not _is_int(meta.get("input_size"), 1):
        return "its input size is not an int >= 1"
    return None


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`, checking everything it holds.

    Raises
    ------
    OSError
        When the file cannot be read (missing, a folder, no permission).
    ValueError
        ``"load_checkpoint: path: expected a stn_np checkpoint, got <path> (<what is wrong>)"``
        for anything else: not an ``.npz`` (or a corrupt, truncated or pickled one), no or a
        corrupt ``meta`` record, a config or meta fields that do not validate (hand-edited
        metadata), non-finite parameters or optimizer state.
    """
    path = check_path(path, "load_checkpoint")
    bad = lambda why: fail("load_checkpoint", "path", "a stn_np checkpoint", f"{path} ({why})")  # noqa: E731
    if os.path.isdir(path):
        raise IsADirectoryError(f"load_checkpoint: path: expected a checkpoint file, got the folder {path}")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as error:
        raise type(error)(f"load_checkpoint: path: expected a readable checkpoint, got {path} "
                          f"({error.strerror or error})") from None
    if magic != b"PK\x03\x04":  # every .npz is a zip archive
        bad("not an .npz archive")
    arrays = load_npz(path, function="load_checkpoint")
    if "meta" not in arrays or arrays["meta"].dtype.kind != "U" or arrays["meta"].ndim != 0:
        bad("no meta record")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as error:
        bad(f"a corrupt meta record: {error}")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        bad(f"not in the {FORMAT} format")
    if "config" not in meta:
        bad("its meta record has no config")
    try:
        config = TrainConfig.from_dict(meta["config"])
    except (TypeError, ValueError) as error:
        bad(f"its config does not validate: {error}")
    problem = _meta_problem(meta)
    if problem:
        bad(problem)
    for name, value in arrays.items():
        if name == "meta":
            continue
        if not (name.startswith("model.") or name.startswith("optimizer.")):
            bad(f"an unexpected array {name!r}")
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            bad(f"{name} holds NaN or infinite values")
        if name.startswith("model."):
            try:
                check_float_array(value, "load_checkpoint", name)
            except TypeError:
                bad(f"{name} holds {value.dtype} values, not float32 or float64")
    model_state = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    optimizer_state = {k[len("optimizer."):]: v for k, v in arrays.items() if k.startswith("optimizer.")}
    return Checkpoint(config=config, model_state=model_state, optimizer_state=optimizer_state, meta=meta)
