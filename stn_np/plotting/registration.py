"""Figures of a registration: the images before and after (checkerboards, overlays), orthogonal slices
of volumes before and after, the loss curve."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..validation import check_int, check_real_array, describe, fail

__all__ = ["checkerboard", "draw_tiles", "overlay", "registration_figure", "orthogonal_slices",
           "orthogonal_slices_figure", "PLANES", "loss_curve_figure"]

#: The three orthogonal planes through a (D, H, W) volume: (name, the axis held fixed, the plane's
#: horizontal and vertical axis labels). The grid's x, y, z run along W, H, D.
PLANES = (("axial (z = const)", 0, "x (voxels)", "y (voxels)"),
          ("coronal (y = const)", 1, "x (voxels)", "z (voxels)"),
          ("sagittal (x = const)", 2, "y (voxels)", "z (voxels)"))


def _as_display(image, name, function="registration_figure"):
    """A 2-D or (C, H, W) image as (H, W) (one channel or several averaged) or (H, W, 3) (three channels)."""
    image = check_real_array(image, function, name)
    if image.ndim == 2 and image.size:
        return image
    if image.ndim != 3 or not image.size:
        fail(function, name, "a non-empty 2-D or (C, H, W) image", f"shape {image.shape}")
    if image.shape[0] == 3:
        return image.transpose(1, 2, 0)
    return image.mean(axis=0)


def _gray(image):
    return image.mean(axis=-1) if image.ndim == 3 else image


def _normalise(images):
    """Scale images jointly to [0, 1] (one range for all, so they stay comparable)."""
    low = min(float(i.min()) for i in images)
    high = max(float(i.max()) for i in images)
    span = high - low if high > low else 1.0
    return [np.clip((i - low) / span, 0, 1) for i in images]


def checkerboard(a, b, tiles=8):
    """Alternate square tiles of ``a`` and ``b`` (same shape, (H, W) or (H, W, 3)).

    Edges that continue straight across tile borders mean the images are aligned.

    Examples
    --------
    >>> import numpy as np
    >>> checkerboard(np.zeros((4, 4)), np.ones((4, 4)), tiles=2)
    array([[0., 0., 1., 1.],
           [0., 0., 1., 1.],
           [1., 1., 0., 0.],
           [1., 1., 0., 0.]])
    """
    a = check_real_array(a, "checkerboard", "a", dtype=None)
    b = check_real_array(b, "checkerboard", "b", dtype=None)
    if a.ndim not in (2, 3):
        fail("checkerboard", "a", "an (H, W) or (H, W, 3) image", f"shape {a.shape}")
    if a.shape != b.shape:
        fail("checkerboard", "b", f"the shape of a, {a.shape}", f"shape {b.shape}")
    tiles = check_int(tiles, "checkerboard", "tiles", minimum=1)
    h, w = a.shape[:2]
    rows = (np.arange(h) * tiles // h)[:, None]
    cols = (np.arange(w) * tiles // w)[None, :]
    mask = (rows + cols) % 2 == 1
    if a.ndim == 3:
        mask = mask[..., None]
    return np.where(mask, b, a)


def draw_tiles(ax, shape, tiles=8, color="C1"):
    """Thin lines on ``ax`` at the tile borders of a :func:`checkerboard` of ``shape`` = (H, W)."""
    h, w = shape
    for k in range(1, tiles):
        edge_x = np.ceil(k * w / tiles) - 0.5  # first column of tile k sits at ceil(k W / tiles)
        edge_y = np.ceil(k * h / tiles) - 0.5
        ax.axvline(edge_x, color=color, lw=0.6, alpha=0.7)
        ax.axhline(edge_y, color=color, lw=0.6, alpha=0.7)


def overlay(fixed, other):
    """Fixed in magenta, ``other`` in green, both (H, W) in [0, 1]: gray where they agree.

    Examples
    --------
    >>> import numpy as np
    >>> overlay(np.ones((1, 1)), np.zeros((1, 1)))[0, 0]    # only in fixed: magenta
    array([1., 0., 1.])
    """
    fixed, other = check_real_array(fixed, "overlay", "fixed"), check_real_array(other, "overlay", "other")
    if fixed.ndim != 2 or other.shape != fixed.shape:
        fail("overlay", "other" if fixed.ndim == 2 else "fixed", "two (H, W) images of one shape",
             f"shapes {fixed.shape} and {other.shape}")
    return np.stack([fixed, other, fixed], axis=-1)


def registration_figure(fixed, moving_before, warped, tiles=8, title=None):
    """The registration at a glance: images, checkerboards and overlays before and after.

    Parameters
    ----------
    fixed : ndarray, 2-D or (C, H, W)
    moving_before : ndarray
        The moving image resampled on the fixed image's H x W without any transformation
        (the identity grid), so that "before" compares like with like.
    warped : ndarray
        The registered moving image (``RegistrationResult.warped``), same shape.
    tiles : int
        Checkerboard tiles per side.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Top row: fixed, moving, warped, |fixed - warped| (with a colour bar). Bottom row:
        checkerboard (tile borders drawn) and overlay (fixed magenta, moving green), before
        and after. Axes in pixels.
    """
    images = [_as_display(x, n) for x, n in ((fixed, "fixed"), (moving_before, "moving_before"), (warped, "warped"))]
    if not images[0].shape == images[1].shape == images[2].shape:
        fail("registration_figure", "warped", "fixed, moving_before and warped of one shape",
             f"shapes {[i.shape for i in images]}")
    tiles = check_int(tiles, "registration_figure", "tiles", minimum=1)
    fixed_d, before_d, warped_d = _normalise(images)
    gray = [_gray(i) for i in (fixed_d, before_d, warped_d)]
    cmap = None if fixed_d.ndim == 3 else "gray"
    panels = [
        (fixed_d, "fixed", cmap), (before_d, "moving (before)", cmap), (warped_d, "warped (after)", cmap),
        (np.abs(gray[0] - gray[2]), f"|fixed - warped| (max {np.abs(gray[0] - gray[2]).max():.2g})", "magma"),
        (checkerboard(fixed_d, before_d, tiles), "checkerboard before", cmap),
        (checkerboard(fixed_d, warped_d, tiles), "checkerboard after", cmap),
        (overlay(gray[0], gray[1]), "overlay before", None),
        (overlay(gray[0], gray[2]), "overlay after", None),
    ]
    figure = Figure(figsize=(12, 7.2))
    axes = figure.subplots(2, 4)
    for k, (ax, (image, label, colours)) in enumerate(zip(axes.ravel(), panels)):
        shown = ax.imshow(image, cmap=colours, vmin=0 if colours == "gray" else None,
                          vmax=1 if colours == "gray" else None, interpolation="nearest")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("x (pixels)", fontsize=8)
        ax.set_ylabel("y (pixels)", fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 3:  # the difference image gets its scale
            figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=7)
        if k in (4, 5):  # tile borders, so the tiles show even where the images agree
            draw_tiles(ax, image.shape[:2], tiles)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def _as_volume(volume, name, function):
    """A (D, H, W) or (C, D, H, W) volume as (D, H, W) (channels averaged)."""
    volume = check_real_array(volume, function, name)
    if volume.ndim == 4 and volume.size:
        return volume.mean(axis=0)
    if volume.ndim != 3 or not volume.size:
        fail(function, name, "a non-empty (D, H, W) or (C, D, H, W) volume", f"shape {volume.shape}")
    return volume


def orthogonal_slices(volume, index=None):
    """The three orthogonal planes through voxel ``index`` (default the centre) of a (D, H, W) volume.

    Returns the axial plane ``volume[k]`` (H, W), the coronal ``volume[:, i]`` (D, W) and the
    sagittal ``volume[:, :, j]`` (D, H), in the order of :data:`PLANES`; a (C, D, H, W) volume
    is averaged over its channels first.

    Examples
    --------
    >>> import numpy as np
    >>> [s.shape for s in orthogonal_slices(np.zeros((4, 5, 6)))]
    [(5, 6), (4, 6), (4, 5)]
    """
    volume = _as_volume(volume, "volume", "orthogonal_slices")
    if index is None:
        index = tuple(s // 2 for s in volume.shape)
    if not isinstance(index, (tuple, list)) or len(index) != 3:
        fail("orthogonal_slices", "index", "(k, i, j), 3 ints", describe(index))
    k, i, j = (check_int(v, "orthogonal_slices", "index", minimum=0, maximum=s - 1)
               for v, s in zip(index, volume.shape))
    return [volume[k], volume[:, i], volume[:, :, j]]


def orthogonal_slices_figure(fixed, moving_before, warped, title=None, index=None):
    """A volume registration at a glance: three orthogonal planes of each volume, before and after.

    Parameters
    ----------
    fixed : ndarray, (D, H, W) or (C, D, H, W)
    moving_before : ndarray
        The moving volume resampled on the fixed volume's D x H x W without any
        transformation (the identity grid), so that "before" compares like with like.
    warped : ndarray
        The registered moving volume (``RegistrationResult.warped``), same shape.
    title : str, optional
    index : (k, i, j), optional
        The voxel the planes pass through; default the centre.

    Returns
    -------
    matplotlib.figure.Figure
        One row per plane (axial, coronal, sagittal); columns: fixed, moving (before), warped
        (after) on one gray scale, then |fixed - moving| and |fixed - warped| on one shared
        colour scale with a colour bar each. Axes in voxels; channels are averaged.
    """
    volumes = [_as_volume(v, n, "orthogonal_slices_figure")
               for v, n in ((fixed, "fixed"), (moving_before, "moving_before"), (warped, "warped"))]
    if not volumes[0].shape == volumes[1].shape == volumes[2].shape:
        fail("orthogonal_slices_figure", "warped", "fixed, moving_before and warped of one shape",
             f"shapes {[v.shape for v in volumes]}")
    fixed_d, before_d, warped_d = _normalise(volumes)
    differences = [np.abs(fixed_d - before_d), np.abs(fixed_d - warped_d)]
    top = max(float(d.max()) for d in differences) or 1.0
    columns = [(fixed_d, "fixed"), (before_d, "moving (before)"), (warped_d, "warped (after)"),
               (differences[0], f"|fixed - moving| (max {differences[0].max():.2g})"),
               (differences[1], f"|fixed - warped| (max {differences[1].max():.2g})")]
    planes = [orthogonal_slices(v, index) for v, _ in columns]
    # 64 levels a colour map: indistinguishable on screen, and the 15-panel PNG is a good third smaller
    gray, heat = (colormaps[name].resampled(64) for name in ("gray", "magma"))
    figure = Figure(figsize=(14, 8.4))
    axes = figure.subplots(3, 5)
    for row, (plane, _, xlabel, ylabel) in enumerate(PLANES):
        for col, (_, label) in enumerate(columns):
            ax = axes[row, col]
            shown = ax.imshow(planes[col][row], cmap=gray if col < 3 else heat, vmin=0, vmax=1 if col < 3 else top,
                              interpolation="nearest")
            ax.set_title(f"{label}\n{plane}", fontsize=9)
            ax.set_xlabel(xlabel, fontsize=8)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.tick_params(labelsize=7)
            if col >= 3:
                figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=7)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def loss_curve_figure(loss_history, level_sizes=None, title=None, refinement=None, refinement_mode="bicubic"):
    """The objective per Adam step, the pyramid levels one after another (coarsest first).

    Parameters
    ----------
    loss_history : list of 1-D arrays
        ``RegistrationResult.loss_history``.
    level_sizes : list, optional
        ``RegistrationResult.level_sizes``, to label each level with its fixed image's size.
    title : str, optional
    refinement : 1-D array, optional
        ``RegistrationResult.refinement_history``: drawn after the levels, one point per
        accepted step of the full-resolution refinement.
    refinement_mode : str
        How the refinement sampled, for its legend: "bicubic" (images) or "trilinear" (volumes).

    Returns
    -------
    matplotlib.figure.Figure
        A log-scale y axis when every value is positive.
    """
    if not isinstance(loss_history, (list, tuple)):
        fail("loss_curve_figure", "loss_history", "a list of 1-D arrays (one per level)", describe(loss_history),
             TypeError)
    loss_history = [check_real_array(h, "loss_curve_figure", "loss_history").reshape(-1) for h in loss_history]
    refinement = check_real_array([] if refinement is None else refinement, "loss_curve_figure",
                                  "refinement").reshape(-1)
    if not any(len(h) for h in loss_history) and not len(refinement):
        fail("loss_curve_figure", "loss_history", "at least one level (or refinement) with at least one step",
             "none")
    if level_sizes is not None and len(level_sizes) != len(loss_history):
        fail("loss_curve_figure", "level_sizes", f"{len(loss_history)} entries, one per level",
             f"{len(level_sizes)}")
    figure = Figure(figsize=(7, 3.8))
    ax = figure.subplots()
    start = 0
    for k, values in enumerate(loss_history):
        values = np.asarray(values, dtype=np.float64)
        steps = np.arange(start, start + len(values))
        label = f"level {k}"
        if level_sizes is not None:
            label += f" ({'x'.join(map(str, level_sizes[k][0]))})"
        if len(values):
            ax.plot(steps, values, label=label)
        start += len(values)
    if len(refinement):
        ax.plot(np.arange(start, start + len(refinement)), refinement, "o-", ms=3,
                label=f"{refinement_mode} refinement (full size)")
    everything = np.concatenate([np.asarray(v, dtype=np.float64) for v in loss_history] + [refinement])
    if np.all(everything > 0):
        ax.set_yscale("log")
    xlabel = "Adam step (levels coarse to fine" + (", then the refinement)" if len(refinement) else ")")
    ax.set(xlabel=xlabel, ylabel="objective", title=title or "registration loss")
    ax.grid(alpha=0.3)
    ax.legend()
    figure.tight_layout()
    return figure
