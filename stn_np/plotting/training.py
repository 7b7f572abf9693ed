"""Figures of a training run: learning curves, and inputs beside the spatial transformer's outputs."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["curves_figure", "transformed_figure"]


def curves_figure(history, title=None):
    """Train loss, and train / test accuracy, per epoch.

    Parameters
    ----------
    history : list of dict
        One record per epoch with ``epoch``, ``train_loss``, ``train_accuracy`` and
        ``test_accuracy`` (fractions), as in ``metrics.json``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not history:
        raise ValueError("history: expected at least one epoch record")
    epochs = [r["epoch"] for r in history]
    figure = Figure(figsize=(9, 3.5))
    loss_ax, acc_ax = figure.subplots(1, 2)
    loss_ax.plot(epochs, [r["train_loss"] for r in history], "o-", label="train")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    loss_ax.legend()
    acc_ax.plot(epochs, [100 * r["train_accuracy"] for r in history], "o-", label="train")
    acc_ax.plot(epochs, [100 * r["test_accuracy"] for r in history], "s-", label="test")
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
    rows = [np.asarray(a) for a in (inputs, outputs)]
    rows = [a[:, 0] if a.ndim == 4 else a for a in rows]
    if any(a.ndim != 3 for a in rows) or len(rows[0]) != len(rows[1]) or len(rows[0]) == 0:
        raise ValueError(
            f"inputs, outputs: expected the same number (>= 1) of single-channel images, "
            f"got shapes {np.shape(inputs)} and {np.shape(outputs)}"
        )
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
