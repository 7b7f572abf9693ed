"""Draw the spatial transformer's architecture (after Fig. 2 of Jaderberg et al. 2015) with stn_np.

Every picture in the diagram is computed with the library: a synthetic digit is rotated, shrunk
and moved into a 40x40 input ``U``; ``theta`` is the affine map that undoes it (what a trained
localisation network would regress); ``F.affine_grid`` makes the sampling grid ``T_theta(G)``,
whose points are drawn over ``U``; ``F.grid_sample`` reads ``V`` there, on the regular grid ``G``.

Run it from the repository root to refresh the committed picture::

    python docs/figures/architecture.py          # writes docs/figures/architecture.png

Notebook 01 loads :func:`draw_architecture` from this file and draws the same figure.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

import stn_np.functional as F
from stn_np.data import synthetic_digits
from stn_np.registration import invert_affine

HERE = Path(__file__).resolve().parent
IN_SIDE, OUT_SIDE = 40, 28  # H = W of U, H_out = W_out of V: the output size is free
EVERY = 3  # draw every 3rd grid point of the 28 x 28 grid


def example():
    """U (1, 1, 40, 40), theta (1, 2, 3), grid (1, 28, 28, 2) and V (1, 1, 28, 28), all computed."""
    images, labels = synthetic_digits(10, seed=0)
    digit = images[labels == 7][0].astype(np.float64)[None, None] / 255
    angle = np.deg2rad(30)
    # where each pixel of U reads the digit (pull-back): rotated, enlarged 1.8x (so the digit
    # looks 1.8x smaller) and shifted; the digit lands rotated, small and off-centre in U
    distort = 1.8 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    distort = np.concatenate([distort, [[-0.25], [-0.2]]], axis=1)[None]
    U = F.grid_sample(digit, F.affine_grid(distort, (1, 1, IN_SIDE, IN_SIDE))).data
    theta = invert_affine(distort)  # the transform that undoes it: V reads U where the digit went
    grid = F.affine_grid(theta, (1, 1, OUT_SIDE, OUT_SIDE)).data
    V = F.grid_sample(U, grid).data
    return U, theta, grid, V


def _box(ax, x, y, w, h, title, code, colour):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", facecolor=colour, edgecolor="0.25", lw=1.2))
    ax.text(x + w / 2, y + h * 0.68, title, ha="center", va="center", fontsize=11, weight="bold")
    ax.text(x + w / 2, y + h * 0.28, code, ha="center", va="center", fontsize=10, family="monospace")


def _arrow(ax, start, end, label=None, offset=(0, 0.18)):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=16, lw=1.6, color="0.2"))
    if label:
        mid = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*mid, label, ha="center", va="center", fontsize=12)


def _image(ax, image, left, bottom, side):
    """Show ``image`` in the square [left, left + side] x [bottom, bottom + side]; map pixels there."""
    h, w = image.shape
    ax.imshow(image, cmap="gray", extent=(left, left + side, bottom, bottom + side), vmin=0, vmax=1,
              interpolation="nearest", zorder=1)
    ax.add_patch(Rectangle((left, bottom), side, side, fill=False, edgecolor="0.3", lw=1))

    def to_axes(px, py):  # pixel centres (column, row) -> diagram coordinates, rows downwards
        return left + (px + 0.5) / w * side, bottom + side - (py + 0.5) / h * side
    return to_axes


def draw_architecture(fig=None):
    """Draw the diagram into ``fig`` (a new 11.5 x 4.6 inch figure by default) and return the figure."""
    U, theta, grid, V = example()
    fig = fig or plt.figure(figsize=(11.5, 4.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 13.2)
    ax.set_ylim(0, 5.2)
    ax.set_axis_off()

    # the spatial transformer module, dashed, as in the paper's figure
    ax.add_patch(FancyBboxPatch((3.45, 0.75), 6.1, 3.85, boxstyle="round,pad=0.05", fill=False, ls="--",
                                edgecolor="0.45", lw=1.2))
    ax.text(6.5, 4.8, "spatial transformer:  nn.SpatialTransformer(localization, loc_features, 'affine')",
            ha="center", fontsize=9, color="0.3", family="monospace")

    # U with the sampling grid T_theta(G) drawn where it reads
    to_u = _image(ax, U[0, 0], 0.25, 0.95, 2.8)
    ax.text(1.65, 4.55, r"$U$: input feature map", ha="center", fontsize=11, weight="bold")
    ax.text(1.65, 4.35, "(N, C, H, W)\n= (1, 1, 40, 40)", ha="center", va="top", fontsize=9, family="monospace")
    px = F.normalized_to_pixel(grid[0, ::EVERY, ::EVERY, 0], IN_SIDE)
    py = F.normalized_to_pixel(grid[0, ::EVERY, ::EVERY, 1], IN_SIDE)
    ax.plot(*to_u(px, py), ".", color="#ff7f0e", ms=3.5, zorder=3)
    corners = F.affine_grid(theta, (1, 1, 2, 2), align_corners=True).data[0].reshape(4, 2)[[0, 1, 3, 2, 0]]
    ax.plot(*to_u(F.normalized_to_pixel(corners[:, 0], IN_SIDE), F.normalized_to_pixel(corners[:, 1], IN_SIDE)),
            "-", color="#ff7f0e", lw=1.4, zorder=3)
    ax.text(1.65, 0.5, "orange: the source points\n" r"$(x_i^s, y_i^s) = \mathcal{T}_\theta(G_i)$", ha="center", va="center",
            fontsize=9, color="#c45a00")

    # localisation network -> theta -> grid generator
    _box(ax, 3.7, 3.05, 2.2, 1.05, r"localisation net $f_\mathrm{loc}$", ".localization\n+ .regressor", "#dbe9f6")
    _box(ax, 7.15, 3.05, 2.2, 1.05, r"grid generator $\mathcal{T}_\theta$", "F.affine_grid(\ntheta, size)", "#e2f0d9")
    _arrow(ax, (3.1, 3.58), (3.65, 3.58))
    _arrow(ax, (5.95, 3.58), (7.1, 3.58), r"$\theta$", offset=(0, 0.22))
    ax.text(6.52, 3.42, "(N, 2, 3)\n.last_theta", ha="center", va="top", fontsize=9, family="monospace")

    # the sampler: reads U at the grid, writes V
    _box(ax, 4.3, 1.05, 2.5, 1.05, r"sampler, kernel $k$", "F.grid_sample(\nU, grid, mode)", "#fce4d6")
    _arrow(ax, (3.1, 1.58), (4.25, 1.58), r"$U$", offset=(0, 0.2))
    _arrow(ax, (7.8, 3.0), (6.6, 2.15))
    ax.text(7.45, 2.38, "grid = T_theta(G)\n(N, H_out, W_out, 2)\nlast axis (x, y)", ha="left", va="center",
            fontsize=9, family="monospace")
    _arrow(ax, (6.85, 1.58), (10.05, 1.58), r"$V$", offset=(1.0, 0.2))

    # V on the regular grid G
    to_v = _image(ax, V[0, 0], 10.15, 0.95, 2.8)
    gy, gx = np.mgrid[0:OUT_SIDE:EVERY, 0:OUT_SIDE:EVERY]
    ax.plot(*to_v(gx, gy), ".", color="#ff7f0e", ms=3.5, zorder=3)
    ax.text(11.55, 4.55, r"$V$: output", ha="center", fontsize=11, weight="bold")
    ax.text(11.55, 4.35, "(N, C, H_out, W_out)\n= (1, 1, 28, 28)", ha="center", va="top", fontsize=9,
            family="monospace")
    ax.text(11.55, 0.5, "orange: the regular grid\n" r"$G_i = (x_i^t, y_i^t)$", ha="center", va="center", fontsize=9,
            color="#c45a00")
    return fig


if __name__ == "__main__":
    figure = draw_architecture()
    figure.savefig(HERE / "architecture.png", dpi=100)
    print("wrote", HERE / "architecture.png")
