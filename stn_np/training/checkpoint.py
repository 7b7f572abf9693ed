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
import zipfile

import numpy as np

from ..io import load_npz, save_npz
from ..optim import flatten_state_dict
from .config import TrainConfig

__all__ = ["save_checkpoint", "load_checkpoint", "Checkpoint", "FORMAT"]

#: Identifies the archive layout; bumped if it changes.
FORMAT = "stn_np.checkpoint/1"


class Checkpoint(dict):
    """A loaded checkpoint: ``config`` (TrainConfig), ``model_state``, ``optimizer_state`` (flat),
    ``meta`` (the JSON dict), as keys and attributes."""

    __getattr__ = dict.__getitem__


def save_checkpoint(path, model, optimizer, config, meta):
    """Write ``model``'s and ``optimizer``'s state, ``config`` and ``meta`` to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
    model : Module
    optimizer : Optimizer
    config : TrainConfig
    meta : dict
        JSON-ready values (position, generator state, running sums, history, ...).
    """
    arrays = {f"model.{name}": value for name, value in model.state_dict().items()}
    arrays.update({f"optimizer.{name}": value for name, value in flatten_state_dict(optimizer.state_dict()).items()})
    document = dict(meta, format=FORMAT, config=config.to_dict())
    arrays["meta"] = np.array(json.dumps(document))
    save_npz(path, arrays)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    OSError
        When the file cannot be read.
    ValueError
        When it is not a stn_np checkpoint (not an npz, no or bad ``meta``, pickled content).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as error:
        raise OSError(f"checkpoint: cannot read {path}: {error.strerror or error}") from None
    if magic != b"PK\x03\x04":  # every .npz is a zip archive
        raise ValueError(f"checkpoint: {path} is not an .npz archive; not a stn_np checkpoint")
    try:
        arrays = load_npz(path)
    except OSError as error:
        raise OSError(f"checkpoint: cannot read {path}: {error.strerror or error}") from None
    except (ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"checkpoint: {path} is not a readable stn_np checkpoint ({error})") from None
    if "meta" not in arrays or arrays["meta"].dtype.kind != "U" or arrays["meta"].ndim != 0:
        raise ValueError(f"checkpoint: {path} has no meta record; not a stn_np checkpoint")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as error:
        raise ValueError(f"checkpoint: {path} has a corrupt meta record ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint: {path} is not in the {FORMAT} format")
    config = TrainConfig.from_dict(meta["config"])
    model_state = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    optimizer_state = {k[len("optimizer."):]: v for k, v in arrays.items() if k.startswith("optimizer.")}
    return Checkpoint(config=config, model_state=model_state, optimizer_state=optimizer_state, meta=meta)
