"""Figures of a training run: learning curves, and inputs beside the spatial transformer's outputs."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..validation import check_real_array, describe, fail

#: What each record of ``curves_figure``'s history must hold.
RECORD_FIELDS = ("epoch", "train_loss", "train_accuracy", "test_accuracy")

__all__ = ["curves_figure", "transformed_figure"]


def _values(history, key):
    """One metric over the epochs as floats; a null (a non-finite value in strict JSON) is NaN, a gap in the line."""
    return np.array([np.nan if r[key] is None else r[key] for r in history], dtype=np.float64)


def curves_figure(history, title=None):
    """Train loss, and train / test accuracy, per epoch.

    Parameters
    ----------
    history : list of dict
        One record per epoch with ``epoch``, ``train_loss``, ``train_accuracy`` and
        ``test_accuracy`` (fractions), as in ``metrics.json`` (None, JSON's null, is a gap).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(history, (list, tuple)):
        fail("curves_figure", "history", "a list of epoch records (dicts)", describe(history), TypeError)
    if not history:
        fail("curves_figure", "history", "at least one epoch record", "none")
    for i, record in enumerate(history):
        if not isinstance(record, dict) or any(key not in record for key in RECORD_FIELDS):
            fail("curves_figure", "history", f"records with {', '.join(RECORD_FIELDS)}", f"{describe(record)} at {i}")
        if any(record[key] is not None and not isinstance(record[key], (int, float)) for key in RECORD_FIELDS):
            fail("curves_figure", "history", "numbers in every record", f"{describe(record)} at {i}", TypeError)
    epochs = [r["epoch"] for r in history]
    figure = Figure(figsize=(9, 3.5))
    loss_ax, acc_ax = figure.subplots(1, 2)
    loss_ax.plot(epochs, _values(history, "train_loss"), "o-", label="train")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    loss_ax.legend()
    acc_ax.plot(epochs, 100 * _values(history, "train_accuracy"), "o-", label="train")
    acc_ax.plot(epochs, 100 * _values(history, "test_accuracy"), "s-", label="test")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    acc_ax.legend()
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.set_xticks(epochs if len(epochs) <= 12 else epochs[:: max(1, len(epochs) // 10)])
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def transformed_figure(inputs, outputs, titles=("input", "transformed")):
    """Each input image above the spatial transformer's output for it.

    Parameters
    ----------
    inputs : ndarray, shape (N, 1, H, W) or (N, H, W)
    outputs : ndarray, shape (N, 1, H', W') or (N, H', W')
        Same N; the sizes may differ (the transformer's output size is its own).
    titles : (str, str)
        Row labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = [check_real_array(a, "transformed_figure", name) for a, name in ((inputs, "inputs"), (outputs, "outputs"))]
    rows = [a[:, 0] if a.ndim == 4 and a.shape[1] == 1 else a for a in rows]
    for a, name in zip(rows, ("inputs", "outputs")):
        if a.ndim != 3 or len(a) == 0:
            fail("transformed_figure", name, "(N, 1, H, W) or (N, H, W) single-channel images, N >= 1",
                 f"shape {np.shape(inputs if name == 'inputs' else outputs)}")
    if len(rows[0]) != len(rows[1]):
        fail("transformed_figure", "outputs", f"{len(rows[0])} images, one per input", f"{len(rows[1])}")
    n = len(rows[0])
    figure = Figure(figsize=(1.1 * n, 2.6))
    axes = figure.subplots(2, n, squeeze=False)
    for r, (images, label) in enumerate(zip(rows, titles)):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label)
    figure.tight_layout()
    return figure
