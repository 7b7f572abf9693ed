"""Draw the sampler's conventions with stn_np: align_corners, padding, and the gradient at a kink.

Every picture is computed with the library's public API on one small 4x4 image ``IMAGE``:

* :func:`draw_align_corners`: where normalised -1 and +1 fall on the image under
  ``align_corners=False`` and ``True``, the pixel centres, and the identity grids of a 4x4 and
  a 2x2 output;
* :func:`draw_padding`: the image sampled far beyond its edges under ``padding_mode="zeros"``,
  ``"border"`` and ``"reflection"`` (with both ``align_corners``);
* :func:`draw_kink_gradients`: the sample ``V(x)`` and its coordinate gradient ``dV/dx`` along
  row 1 of the image, across the pixel centres and the image edges, with the value each
  convention takes at the kinks: stn_np's default (= PyTorch's), ``subgradient="central"`` and
  the paper's eq. 7 (``PAPER_EQ7``, a kernel whose ``k'`` is the paper's);
* :func:`draw_identity_start`: the coordinate gradient of every point of an identity grid,
  where every sample point sits on a kink, under the two conventions.

Run it from the repository root to refresh the committed pictures::

    python docs/figures/conventions.py      # writes docs/figures/conventions_*.png

Notebook 01 (section 11) loads these functions from this file and draws the same figures;
``docs/conventions.md`` shows the pictures and the convention table.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

import stn_np.functional as F
from stn_np import Tensor
from stn_np.data import synthetic_digits
from stn_np.sampling import BILINEAR, Kernel, coordinate_scale, normalized_to_pixel, pixel_to_normalized

HERE = Path(__file__).resolve().parent

#: The 4x4 image of every figure (row 1, drawn in the gradient figure, is 0.2, 1.0, 0.4, 0.7).
IMAGE = np.array([[0.9, 0.6, 0.3, 0.1],
                  [0.2, 1.0, 0.4, 0.7],
                  [0.5, 0.1, 0.8, 0.3],
                  [0.1, 0.3, 0.6, 0.9]])
ROW = 1  # the row the gradient figure runs along

#: The padding panels: (title, padding_mode, align_corners).
PADDINGS = [("zeros", "zeros", False), ("border", "border", False),
            ("reflection,\nalign_corners=False", "reflection", False),
            ("reflection,\nalign_corners=True", "reflection", True)]


def _paper_dk(d):
    """The paper's eq. 7 for bilinear: k'(x - m) = +1 if m >= x, -1 if m < x, 0 if |m - x| >= 1."""
    return np.where(np.abs(d) < 1, np.where(d <= 0, 1.0, -1.0), 0.0)


#: Bilinear with the derivative the paper writes in its eq. 7. At a pixel centre x = m it gives
#: tap m the weight +1 and its neighbours 0, so dV/dx = U_m: the pixel's value, not a slope.
PAPER_EQ7 = Kernel("bilinear, the paper's eq. 7", k=BILINEAR.k, dk=_paper_dk, radius=1)

#: The conventions drawn at the kinks: label, marker style, how to call grid_sample.
CONVENTIONS = [
    ("stn_np default = PyTorch", dict(marker="o", ms=7, color="C0", ls="none"),
     dict(mode="bilinear", subgradient="pytorch")),
    ('subgradient="central"', dict(marker="s", ms=10, mfc="none", mec="C1", mew=1.8, ls="none"),
     dict(mode="bilinear", subgradient="central")),
    ("paper's eq. 7", dict(marker="x", ms=9, mew=2, color="C3", ls="none"),
     dict(mode=PAPER_EQ7, subgradient="pytorch")),
]


def exact_normalised(pixel, size, align_corners):
    """Normalised coordinates that ``normalized_to_pixel`` maps back onto ``pixel`` exactly, where one exists.

    ``pixel_to_normalized`` followed by the sampler's unnormalisation can land an ulp beside the
    pixel (for -1 on a 4-pixel axis with align_corners=True it gives -0.9999999999999998): a point
    beside a kink, not on it. The figure wants the kink itself, so each coordinate is moved by up
    to 8 ulps until the round trip is exact (for the 4x4 image of these figures it always is).
    """
    coord = np.array(pixel_to_normalized(pixel, size, align_corners), dtype=np.float64)
    for _ in range(8):
        back = normalized_to_pixel(coord, size, align_corners)
        if np.all(back == pixel):
            break
        coord = np.where(back == pixel, coord, np.nextafter(coord, np.where(back < pixel, np.inf, -np.inf)))
    return coord


def row_sample(x, padding_mode="zeros", align_corners=False, mode="bilinear", subgradient="pytorch", image=IMAGE,
               row=ROW):
    """V and dV/dx (per pixel) at pixel positions ``x`` along ``row`` of ``image``, through ``F.grid_sample``.

    The points are placed exactly on ``x`` (:func:`exact_normalised`), so integer ``x`` are kinks.
    """
    H, W = image.shape
    grid = np.stack([exact_normalised(x, W, align_corners),
                     np.full(len(x), exact_normalised(float(row), H, align_corners))], axis=-1)[None, None]
    grid = Tensor(grid, requires_grad=True)
    V = F.grid_sample(image[None, None], grid, mode, padding_mode, align_corners, subgradient)
    V.backward(np.ones(V.shape))  # each point's own derivative (a sample depends on its point only)
    return V.data.ravel(), grid.grad[0, 0, :, 0] / coordinate_scale(W, align_corners)


def _pixel_axes(ax, H, W, secondary=None):
    """Label ``ax`` in pixels (x to the right, y down); ``secondary`` = align_corners adds normalised axes."""
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    if secondary is None:
        return
    for size, axis in ((W, "x"), (H, "y")):
        to_norm = (lambda p, s=size: pixel_to_normalized(p, s, secondary))
        to_pix = (lambda c, s=size: normalized_to_pixel(c, s, secondary))
        if axis == "x":
            sec = ax.secondary_xaxis("top", functions=(to_norm, to_pix))
            sec.set_xlabel("x (normalised)")
        else:
            sec = ax.secondary_yaxis("right", functions=(to_norm, to_pix))
            sec.set_ylabel("y (normalised)")
        (sec.set_xticks if axis == "x" else sec.set_yticks)([-1, -0.5, 0, 0.5, 1])


def draw_align_corners(image=IMAGE):
    """Two panels: where -1, +1, the pixel centres and the identity grids fall under each align_corners."""
    H, W = image.shape
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.7), layout="constrained")
    for ax, align in zip(axes, (False, True)):
        ax.imshow(image, cmap="gray", vmin=-0.6, vmax=1.6, extent=(-0.5, W - 0.5, H - 0.5, -0.5))
        rows, cols = np.mgrid[0:H, 0:W]
        ax.plot(cols.ravel(), rows.ravel(), "o", color="0.15", ms=4, label="pixel centres")
        for side, size in ((4, "4x4"), (2, "2x2")):
            grid = F.identity_grid(side, side, align)  # (side, side, 2), normalised (x, y)
            px, py = normalized_to_pixel(grid[..., 0], W, align), normalized_to_pixel(grid[..., 1], H, align)
            style = dict(marker="o", ms=13, mfc="none", mec="C1", mew=2) if side == 4 else \
                dict(marker="X", ms=12, color="C0", mec="white", mew=0.8)
            ax.plot(px.ravel(), py.ravel(), ls="none", label=f"identity grid of a {size} output", **style)
        for end in normalized_to_pixel(np.array([-1.0, 1.0]), W, align):  # the lines x, y = -1 and +1
            ax.axvline(end, color="C3", lw=2, ls="--")
            ax.axhline(end, color="C3", lw=2, ls="--")
        ax.set_xlim(-0.8, W - 0.2)
        ax.set_ylim(H - 0.2, -0.8)
        _pixel_axes(ax, H, W, secondary=align)
        where = "the outer edges of the image" if not align else "the centres of the corner pixels"
        ax.set_title(f"align_corners={align}{' (default)' if not align else ''}:\n-1 and +1 are {where}",
                     fontsize=11)
    axes[0].plot([], [], color="C3", lw=2, ls="--", label="normalised -1 and +1")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=10, frameon=False)
    return fig


def draw_padding(image=IMAGE, reach=(-4.0, 8.0), per_pixel=4):
    """The image and what ``grid_sample`` (nearest) reads far beyond its edges under each padding mode."""
    H, W = image.shape
    # sample positions in pixels, a quarter pixel apart and off the half-integers (no nearest ties)
    p = np.arange(reach[0], reach[1], 1 / per_pixel) + 1 / (2 * per_pixel)
    fig, axes = plt.subplots(1, 5, figsize=(14, 3.6), layout="constrained")
    kw = dict(cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    shown = axes[0].imshow(image, extent=(-0.5, W - 0.5, H - 0.5, -0.5), **kw)
    axes[0].set_facecolor("#c9dced")  # light blue: nothing there
    axes[0].set_xlim(reach)
    axes[0].set_ylim(reach[::-1])
    kw["extent"] = (reach[0], reach[1], reach[1], reach[0])  # the samples, a quarter pixel each
    axes[0].set_title(f"U ({H}x{W}): nothing outside", fontsize=11)
    for ax, (title, padding, align) in zip(axes[1:], PADDINGS):
        gx, gy = pixel_to_normalized(p, W, align), pixel_to_normalized(p, H, align)
        grid = np.stack(np.broadcast_arrays(gx[None, :], gy[:, None]), axis=-1)[None]
        V = F.grid_sample(image[None, None], grid, "nearest", padding, align).data[0, 0]
        ax.imshow(V, **kw)
        ax.set_title(title, fontsize=11)
        if padding == "reflection":  # the mirror lines
            for line in ((0, W - 1) if align else (-0.5, W - 0.5)):
                ax.axvline(line, color="C1", lw=1.2, ls=":")
                ax.axhline(line, color="C1", lw=1.2, ls=":")
    for ax in axes:
        ax.add_patch(Rectangle((-0.5, -0.5), W, H, fill=False, ec="C3", lw=1.5, ls="--"))
        ax.set_xticks(range(-4, 9, 2))
        ax.set_yticks(range(-4, 9, 2))
        _pixel_axes(ax, H, W)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.colorbar(shown, ax=axes, fraction=0.02, pad=0.01, label="value read")
    return fig


def draw_kink_gradients(image=IMAGE, row=ROW, reach=(-2.5, 5.5)):
    """V(x) and dV/dx along ``row`` for each padding, with each convention's value at the kinks."""
    H, W = image.shape
    dense = np.linspace(reach[0], reach[1], 1601)
    dense = dense[np.abs(dense - np.round(dense)) > 1e-3]  # off the kinks: the derivative exists there
    kinks = np.arange(np.ceil(reach[0]), reach[1] + 1e-9)
    fig, axes = plt.subplots(2, 4, figsize=(14, 6), sharex=True, sharey="row", layout="constrained")
    for col, (title, padding, align) in enumerate(PADDINGS):
        top, bottom = axes[0, col], axes[1, col]
        V, slope = row_sample(dense, padding, align, image=image, row=row)
        jumps = np.r_[False, np.diff(np.floor(dense)) != 0]  # break the step curve at the integers
        top.plot(dense, V, color="0.2")
        bottom.plot(dense, np.where(jumps, np.nan, slope), color="0.6", lw=2, label="dV/dx off the kinks")
        for label, style, options in CONVENTIONS:
            if label.startswith("paper") and padding != "zeros":
                continue  # the paper's sum runs over U alone: zero padding
            bottom.plot(kinks, row_sample(kinks, padding, align, image=image, row=row, **options)[1], label=label,
                        **style)
        edges = (-0.5, W - 0.5) if not (padding == "reflection" and align) else (0, W - 1)
        for ax in (top, bottom):
            ax.axvspan(reach[0], -0.5, color="0.92", zorder=0)
            ax.axvspan(W - 0.5, reach[1], color="0.92", zorder=0)
            for line in edges if padding == "reflection" else ():
                ax.axvline(line, color="C1", lw=1.2, ls=":")
            ax.axhline(0, color="0.75", lw=0.8)
            ax.set_xticks(kinks)
            ax.grid(axis="x", color="0.85", lw=0.6)
        top.set_title(title.replace(",\n", ", "), fontsize=10)
        bottom.set_xlabel(f"x (pixels) along row {row}")
    axes[0, 0].set_ylabel("V(x)")
    axes[1, 0].set_ylabel("dV/dx (per pixel)")
    handles, labels = axes[1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=10, frameon=False)
    return fig


def identity_example(size=28):
    """A synthetic digit 3 (float64, (1, 1, size, size)) for the identity-start figure and printout."""
    images, labels = synthetic_digits(10, seed=0)
    digit = images[labels == 3][0].astype(np.float64) / 255
    return digit[None, None, :size, :size]


def identity_slopes(U, subgradient):
    """dV/dx^s (per pixel) of every point of the identity grid: each sits on a pixel centre, a kink."""
    H, W = U.shape[-2:]
    grid = Tensor(F.identity_grid(H, W)[None], requires_grad=True)
    F.grid_sample(U, grid, subgradient=subgradient).backward(np.ones((1, 1, H, W)))
    return grid.grad[0, :, :, 0] / coordinate_scale(W)


def draw_identity_start(U=None):
    """U, the per-point x-gradients of its identity grid under both conventions, and their difference."""
    U = identity_example() if U is None else U
    H, W = U.shape[-2:]
    slopes = {s: identity_slopes(U, s) for s in ("pytorch", "central")}
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.7), layout="constrained")
    axes[0].imshow(U[0, 0], cmap="gray")
    axes[0].set_title(f"U ({H}x{W}), sampled at the identity", fontsize=10)
    limit = max(np.abs(s).max() for s in slopes.values())
    difference = slopes["pytorch"] - slopes["central"]
    panels = [(slopes["pytorch"], 'dV/dx^s, "pytorch" (default)', limit),
              (slopes["central"], 'dV/dx^s, "central"', limit),
              (difference, '"pytorch" - "central"', np.abs(difference).max())]
    for ax, (image, title, scale) in zip(axes[1:], panels):
        shown = ax.imshow(image, cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(title, fontsize=10)
        fig.colorbar(shown, ax=ax, fraction=0.046, label="per pixel")
    for ax in axes:
        ax.set_xlabel("x (column)")
    axes[0].set_ylabel("y (row)")
    return fig


def as_png(fig, dpi=80):
    """``fig`` as PNG bytes with a 256-colour palette (a third of the bytes, the same picture); closes it."""
    import io

    from PIL import Image  # matplotlib's own dependency

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    buffer.seek(0)
    out = io.BytesIO()
    Image.open(buffer).convert("RGB").quantize(256).save(out, format="png", optimize=True)
    return out.getvalue()


if __name__ == "__main__":
    for name, draw in [("align_corners", draw_align_corners), ("padding", draw_padding),
                       ("kinks", draw_kink_gradients), ("identity", draw_identity_start)]:
        path = HERE / f"conventions_{name}.png"
        path.write_bytes(as_png(draw()))
        print("wrote", path)
