"""The categories of the grid_sample conformance battery: which inputs each one tries.

A category is a function ``build(rng, options) -> list of Case`` registered in
:data:`CATEGORIES`, in the order the table prints them. A :class:`Case` is one call of the
sampler under test: an image, a grid, the options, the upstream gradient for its VJP and the
checks that apply (:mod:`stn_np.testing.conformance` runs them against stn_np's samplers).

Images and points are built in *pixel units* and normalised with
:func:`stn_np.sampling.pixel_to_normalized`, so a category says exactly where its points are:
on a pixel centre (a kink of bilinear), on a half-pixel tie (of nearest), a tenth of a pixel
off both (where finite differences are meaningful), just or far outside the image.

Images and volumes: every builder here is written once over the spatial axes of its image
(``spatial`` = (H, W) or (D, H, W); a grid's coordinates run x, y, z over the reversed axes,
:func:`stn_np.sampling.axis_sizes`) and registered twice, as a 2-D category and as its
volumetric twin named ``volume_...`` (N, C, D, H, W inputs, (N, D_out, H_out, W_out, 3) grids,
PyTorch's volumetric modes bilinear and nearest). Adding a category means adding one function
here and listing it below.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from ..sampling.coords import GRID_AXES, axis_sizes, identity_grid, pixel_to_normalized, sample_points

__all__ = ["Case", "Category", "CATEGORIES", "VOLUME_MODES", "category_names"]

#: The modes a volumetric category tries (PyTorch has no 3-D bicubic).
VOLUME_MODES = ("bilinear", "nearest")


@dataclass
class Case:
    """One call of the sampler under test and the checks that apply to it.

    Attributes
    ----------
    description : str
        What the case is, for the report ("identity 4x5", "1e6 pixels outside", ...).
    input, grid, upstream : ndarray
        (N, C, H, W), (N, H_out, W_out, 2) and (N, C, H_out, W_out), one float dtype; or
        (N, C, D, H, W), (N, D_out, H_out, W_out, 3) and (N, C, D_out, H_out, W_out).
    mode, padding_mode, align_corners
        The sampler's options.
    smooth : bool
        Every point keeps at least a tenth of a pixel off the kinks (integers for bilinear and
        bicubic, half-integers for nearest), so central finite differences of the grid are
        meaningful there.
    kind : {"standard", "ties", "kinks", "nonfinite", "empty", "float32"}
        How the runner checks it (see :mod:`stn_np.testing.conformance`).
    """

    description: str
    input: np.ndarray
    grid: np.ndarray
    upstream: np.ndarray
    mode: str
    padding_mode: str
    align_corners: bool
    smooth: bool = False
    kind: str = "standard"


@dataclass(frozen=True)
class Category:
    """A named group of cases: ``build(rng, options)`` returns them; ``spatial_dims`` is 2 or 3."""

    name: str
    description: str
    build: object
    spatial_dims: int = 2


# ----------------------------------------------------------------------------- helpers over the spatial axes
def _size_text(spatial):
    return "x".join(map(str, spatial))


def _grid(pixels, spatial, align):
    """Normalised grid (..., d) from pixel positions per grid coordinate (x, y[, z]), each of shape (...)."""
    return np.stack([pixel_to_normalized(p, s, align) for p, s in zip(pixels, axis_sizes(spatial))], axis=-1)


def _lattice(axes, spatial, align):
    """(1, ..., d): every combination of the per-coordinate pixel positions ``axes`` (x, y[, z])."""
    mesh = np.meshgrid(*axes[::-1], indexing="ij")[::-1]  # slowest spatial axis first, back to (x, y, z)
    return _grid(mesh, spatial, align)[None]


def _points(rng, N, spatial, out, mode, align, margin=3):
    """Random points off the kinks (:func:`stn_np.sampling.sample_points`) for an image or a volume."""
    if len(spatial) == 2:
        return sample_points(rng, N, *spatial, *out, mode, align, margin)
    return sample_points(rng, N, *spatial[1:], *out[1:], mode, align, margin, D=spatial[0], D_out=out[0])


def _identity(spatial, align):
    depth = spatial[0] if len(spatial) == 3 else None
    return identity_grid(*spatial[-2:], align, depth=depth)


def _case(rng, description, shape, grid, mode, padding, align, **kwargs):
    N, C = shape[:2]
    dtype = grid.dtype
    U = rng.standard_normal(shape).astype(dtype)
    G = rng.standard_normal((N, C) + grid.shape[1:-1]).astype(dtype)
    return Case(description, U, grid, G, mode, padding, align, **kwargs)


def _combos(options, d, modes=None):
    modes = [m for m in options["modes"] if (modes is None or m in modes) and (d == 2 or m in VOLUME_MODES)]
    return itertools.product(modes, options["padding_modes"], (False, True))


# ----------------------------------------------------------------------------- the builders
def _random(rng, options, d):
    spatial, out = ((5, 7), (4, 6)) if d == 2 else ((3, 4, 5), (2, 3, 4))
    cases = []
    for mode, padding, align in _combos(options, d):
        grid = _points(rng, 2, spatial, out, mode, align)
        cases.append(_case(rng, f"random points up to 3 pixels outside, {_size_text(spatial)} -> {_size_text(out)}",
                           (2, 3) + spatial, grid, mode, padding, align, smooth=True))
    return cases


def _identity_case(rng, options, d):
    spatial = (4, 5) if d == 2 else (3, 4, 5)
    cases = []
    for mode, padding, align in _combos(options, d):
        grid = np.repeat(_identity(spatial, align)[None], 2, axis=0)
        cases.append(_case(rng, f"identity grid (every point on a pixel centre), {_size_text(spatial)}",
                           (2, 2) + spatial, grid, mode, padding, align, kind="kinks"))
    return cases


def _translation(shift, label, smooth):
    """Every pixel centre moved by ``shift`` pixels, (dx, dy) or (dx, dy, dz): the first 2 (3) entries used."""
    def build(rng, options, d):
        spatial = (4, 6) if d == 2 else (3, 4, 6)
        cases = []
        modes = None if not smooth else ("bilinear", "bicubic")  # nearest at half pixels: the ties category
        centres = [np.arange(s, dtype=float) for s in axis_sizes(spatial)]
        for mode, padding, align in _combos(options, d, modes):
            grid = _lattice([c + s for c, s in zip(centres, shift)], spatial, align)
            text = ", ".join(f"{s:+g}" for s in shift[:d])
            cases.append(_case(rng, f"{label} ({text}) pixels, {_size_text(spatial)}", (1, 2) + spatial, grid, mode,
                               padding, align, smooth=False, kind="kinks" if not smooth else "standard"))
        return cases

    return build


def _axis_order(rng, options, d):
    spatial = (3, 6) if d == 2 else (3, 4, 6)
    # off integers and half-integers; each shift moves one coordinate most
    shifts = [(1.3, 0.2), (0.2, 1.3), (2.2, -0.7)] if d == 2 else \
        [(1.3, 0.2, -0.3), (0.2, 1.3, 0.4), (-0.3, 0.4, 1.2), (2.2, -0.7, 0.6)]
    cases = []
    centres = [np.arange(s, dtype=float) for s in axis_sizes(spatial)]
    for mode, padding, align in _combos(options, d):
        for shift in shifts:
            grid = _lattice([c + s for c, s in zip(centres, shift)], spatial, align)
            moves = " and ".join(f"{GRID_AXES[a]} by {s:g}" for a, s in enumerate(shift))
            cases.append(_case(rng, f"move {moves} pixels on a {_size_text(spatial)} image", (1, 2) + spatial, grid,
                               mode, padding, align, smooth=True))
    return cases


def _align_corners(rng, options, d):
    spatial = (4, 5) if d == 2 else (3, 4, 5)
    corners = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    cases = []
    for mode, padding, align in _combos(options, d):
        mesh = np.meshgrid(*([corners] * d), indexing="ij")[::-1]
        grid = np.stack(mesh, axis=-1)[None]
        cases.append(_case(rng, f"normalised -1, -0.5, 0, 0.5, 1 on every axis of a {_size_text(spatial)} image",
                           (1, 2) + spatial, grid, mode, padding, align, kind="kinks"))
    return cases


def _outside(distances, label, smooth=True):
    """Points ``distances`` pixels before the first and after the last pixel along each axis, the
    other coordinates inside (off kinks and ties), and three points inside."""
    def build(rng, options, d):
        spatial = (4, 5) if d == 2 else (3, 4, 5)
        sizes = axis_sizes(spatial)
        dist = np.asarray(distances, dtype=float)
        inside = (1.4, 1.3, 0.7)  # per coordinate; with 0.9 added too, off the kinks and the ties
        pixels = [[] for _ in range(d)]
        for a, size in enumerate(sizes):
            for b in range(d):
                if b == a:
                    pixels[b] += [-dist, size - 1 + dist]
                else:
                    pixels[b] += [np.full(dist.size, inside[b]), np.full(dist.size, inside[b] + 0.9)]
        inner = ([0.3, 1.7, 2.6], [0.4, 1.8, 2.7], [0.2, 1.2, 2.3])  # three points inside, per coordinate
        pixels = [np.concatenate(p + [np.array(inner[b])])[None, None] for b, p in enumerate(pixels)]
        if d == 3:
            pixels = [p[None] for p in pixels]
        off_kinks = np.all(np.abs(dist - np.round(dist)) >= 0.1) and np.all(np.abs(dist - np.round(dist) - 0.5) >= 0.1)
        cases = []
        for mode, padding, align in _combos(options, d):
            grid = _grid(pixels, spatial, align)
            cases.append(_case(rng, f"{label}, {_size_text(spatial)}", (1, 2) + spatial, grid, mode, padding, align,
                               smooth=bool(smooth and off_kinks)))
        return cases

    return build


def _ties(rng, options, d):
    if "nearest" not in options["modes"]:
        return []
    cases = []
    for padding, align in itertools.product(options["padding_modes"], (False, True)):
        # sizes whose unnormalisation is exact (S or S - 1 a power of two), so every tie
        # reaches the sampler as an exact half-integer, whatever arithmetic it uses
        spatial = ((4, 8) if not align else (5, 9)) if d == 2 else ((4, 4, 8) if not align else (3, 5, 9))
        extra = ([1.0, 2.0], [2.0], [1.0])  # a few whole pixels beside the ties of every pair of pixels
        axes = [np.r_[np.arange(size - 1) + 0.5, extra[a]] for a, size in enumerate(axis_sizes(spatial))]
        grid = _lattice(axes, spatial, align)
        cases.append(_case(rng, f"exact half-pixel ties inside a {_size_text(spatial)} image", (1, 2) + spatial, grid,
                           "nearest", padding, align, kind="ties"))
    return cases


def _kinks(rng, options, d):
    spatial = (5, 6) if d == 2 else (4, 5, 6)
    cases = []
    for mode, padding, align in _combos(options, d, ("bilinear", "bicubic")):
        grid = _lattice([np.arange(1, s - 1, dtype=float) for s in axis_sizes(spatial)], spatial, align)
        cases.append(_case(rng, f"interior integer positions (pixel centres), {_size_text(spatial)}",
                           (1, 2) + spatial, grid, mode, padding, align, kind="kinks"))
    return cases


def _edges(rng, options, d):
    spatial = (4, 5) if d == 2 else (3, 4, 5)
    cases = []
    for mode, padding, align in _combos(options, d):
        axes = [np.array([-0.5, 0.0, s - 1.0, s - 0.5, (s - 1) // 2]) for s in axis_sizes(spatial)]
        grid = _lattice(axes, spatial, align)
        cases.append(_case(rng, f"first and last pixel centres and image edges (+-0.5), {_size_text(spatial)}",
                           (1, 2) + spatial, grid, mode, padding, align, kind="kinks"))
    return cases


def _tiny(rng, options, d):
    shapes = [(1, 1), (1, 5), (4, 1)] if d == 2 else [(1, 1, 1), (1, 4, 1), (3, 1, 5)]
    cases = []
    for spatial, (mode, padding, align) in itertools.product(shapes, _combos(options, d)):
        out = (3, 4) if d == 2 else (2, 3, 2)
        grid = _points(rng, 2, spatial, out, mode, align)
        if align:  # a 1-pixel axis with align_corners maps every coordinate to its pixel: spread them
            for axis, size in enumerate(axis_sizes(spatial)):
                if size == 1:
                    grid[..., axis] = rng.uniform(-2, 2, grid.shape[:-1])
        cases.append(_case(rng, f"{_size_text(spatial)} image", (2, 2) + spatial, grid, mode, padding, align,
                           smooth=True))
    return cases


def _output_size(rng, options, d):
    shapes = [((1, 2, 3, 4), (9, 11)), ((2, 1, 6, 7), (2, 2))] if d == 2 else \
        [((1, 2, 2, 3, 4), (5, 4, 6)), ((2, 1, 5, 6, 4), (2, 2, 2))]
    cases = []
    for (shape, out), (mode, padding, align) in itertools.product(shapes, _combos(options, d)):
        grid = _points(rng, shape[0], shape[2:], out, mode, align)
        label = "larger" if out[0] > shape[2] else "smaller"
        cases.append(_case(rng, f"output {label} than the input: {_size_text(shape[2:])} -> {_size_text(out)}", shape,
                           grid, mode, padding, align, smooth=True))
    return cases


def _accumulation(rng, options, d):
    spatial = (4, 5) if d == 2 else (3, 4, 5)
    out = (6, 7) if d == 2 else (3, 4, 4)
    cases = []
    for mode, padding, align in _combos(options, d):
        # 42 (48) points per image reading the same taps: inside one pixel for nearest, inside one
        # cell between the pixel centres around it otherwise, a tenth of a pixel off the kinks
        low, high = (-0.4, 0.4) if mode == "nearest" else (0.1, 0.9)
        corner = (2, 1, 1)
        pixels = [corner[a] + rng.uniform(low, high, (2,) + out) for a in range(d)]
        pixels[0][(slice(None),) + (0,) * (d - 1) + (slice(0, 3),)] = 2.25  # and exact duplicates
        for a in range(1, d):
            pixels[a][(slice(None),) + (0,) * (d - 1) + (slice(0, 3),)] = 1.25
        pixels[0][(slice(None),) + (0,) * (d - 2) + (1,)] = 2.35  # one column, several rows
        grid = _grid(pixels, spatial, align)
        cases.append(_case(rng, f"{int(np.prod(out))} points in one pixel, exact duplicates among them",
                           (2, 3) + spatial, grid, mode, padding, align, smooth=True))
    return cases


def _nonfinite(rng, options, d):
    spatial = (4, 5) if d == 2 else (3, 4, 5)
    out = (2, 5) if d == 2 else (1, 2, 5)
    cases = []
    for mode, padding, align in _combos(options, d):
        grid = _points(rng, 1, spatial, out, mode, align)
        row = (0,) * d  # the first row of points of the first image (and slice)
        first = grid[row]
        first[0] = np.nan
        first[1, 0] = np.nan
        first[2, d - 1] = np.inf  # the last coordinate (y, or z in a volume)
        first[3, 0] = -np.inf
        grid[row[:-1] + (1, 0)] = (np.inf, -np.inf) + (np.inf,) * (d - 2)
        cases.append(_case(rng, f"NaN and +-inf points among finite ones, {_size_text(spatial)}", (1, 2) + spatial,
                           grid, mode, padding, align, kind="nonfinite"))
    return cases


def _empty(rng, options, d):
    spatial = (4, 5) if d == 2 else (3, 4, 5)
    out = (3, 2) if d == 2 else (2, 3, 2)
    shapes = [((0, 2) + spatial, (0,) + out), ((2, 0) + spatial, (2,) + out)]
    for axis in range(d):  # each output side 0 in turn
        shapes.append(((2, 2) + spatial, (2,) + out[:axis] + (0,) + out[axis + 1:]))
    cases = []
    for (shape, grid_shape), (mode, padding, align) in itertools.product(shapes, _combos(options, d)):
        grid = rng.uniform(-1.2, 1.2, grid_shape + (d,))
        cases.append(_case(rng, f"empty: input {shape}, grid {grid_shape + (d,)}", shape, grid, mode, padding, align,
                           kind="empty"))
    return cases


def _large_coordinates(rng, options, d):
    # so far out a coordinate is resolved to ~1e-6 pixel: no finite differences there
    return _outside([1e6 + 0.3, 1e10 + 0.6, 123456789.4], "1e6 to 1e10 pixels outside", smooth=False)(rng, options, d)


def _large_image(rng, options, d):
    spatial = (345, 456) if d == 2 else (29, 45, 64)
    cases = []
    for mode, padding, align in _combos(options, d):
        if d == 2:
            step = np.arange(-2, 3.5, 0.5)
            axes = [np.r_[step, np.arange(s - 3, s + 1.5, 0.5), mid]
                    for s, mid in zip(axis_sizes(spatial), (227.3, 170.6))]
        else:
            axes = [np.r_[-1.0, -0.5, 0.0, 0.5, s - 1.5, s - 1.0, s - 0.5, float(s), (s - 1) // 2 + 0.6]
                    for s in axis_sizes(spatial)]
        if mode == "nearest":  # off the ties: they have their own category
            axes = [a + 0.2 for a in axes]
        grid = _lattice(axes, spatial, align)
        cases.append(_case(rng, f"integer and half-integer positions at the edges of a {_size_text(spatial)} image",
                           (1, 1) + spatial, grid, mode, padding, align, kind="kinks"))
    return cases


def _float32(rng, options, d):
    spatial, out = ((5, 7), (4, 6)) if d == 2 else ((3, 4, 5), (2, 3, 4))
    cases = []
    for mode, padding, align in _combos(options, d):
        grid = _points(rng, 2, spatial, out, mode, align).astype(np.float32)
        cases.append(_case(rng, f"float32 input and grid, {_size_text(spatial)} -> {_size_text(out)}", (2, 3) + spatial,
                           grid, mode, padding, align, smooth=True, kind="float32"))
    return cases


# name, description, builder; each is registered for images, and for volumes as volume_<name>
_BUILDERS = [
    ("random", "random points off the kinks, up to 3 pixels outside", _random),
    ("identity", "the identity grid reproduces the input", _identity_case),
    ("translation_whole", "whole-pixel translations read the shifted (padded) image",
     _translation((2, -1, 1), "whole-pixel shift", smooth=False)),
    ("translation_half", "half-pixel translations (bilinear, bicubic)",
     _translation((0.5, -1.5, 0.5), "half-pixel shift", smooth=True)),
    ("xy_order", "the grid's last axis is (x, y) (a volume's (x, y, z)): x along the width", _axis_order),
    ("align_corners", "normalised -1, 0, 1 under both corner conventions", _align_corners),
    ("padding_near", "points just outside (0.25 to 1.5 pixels)", _outside([0.25, 0.5, 1.0, 1.5], "0.25 to 1.5 "
                                                                          "pixels outside")),
    ("padding_far", "points far outside (10 to 10^4 pixels)", _outside([10.3, 100.7, 10000.2],
                                                                       "10 to 10^4 pixels outside")),
    ("ties", "nearest at exact half-pixel ties (the rounding rule)", _ties),
    ("kinks", "gradients at integer positions (the subgradient convention)", _kinks),
    ("edges", "first/last pixel centres and the image edges", _edges),
    ("tiny_images", "1x1, 1xW and Hx1 images (volumes: 1x1x1, 1xHx1, Dx1xW)", _tiny),
    ("output_size", "output larger and smaller than the input", _output_size),
    ("accumulation", "many points in one pixel: gradients add up", _accumulation),
    ("nonfinite", "NaN and inf points do not disturb the others", _nonfinite),
    ("empty", "N = 0, C = 0, an output side 0", _empty),
    ("large_coordinates", "coordinates 1e6 to 1e10 pixels outside", _large_coordinates),
    ("large_image", "a 345x456 image (a 29x45x64 volume): rounding of the unnormalisation", _large_image),
    ("float32", "float32 against the float64 result", _float32),
]

#: The categories, in the order the report lists them: the images' first, then the volumes'.
CATEGORIES = {c.name: c for c in
              [Category(name, text, functools.partial(build, d=2)) for name, text, build in _BUILDERS]
              + [Category(f"volume_{name}", f"volumes: {text}", functools.partial(build, d=3), spatial_dims=3)
                 for name, text, build in _BUILDERS]}


def category_names(spatial_dims=(2, 3)):
    """The category names, in report order (those of the images, the volumes, or both)."""
    return [name for name, c in CATEGORIES.items() if c.spatial_dims in spatial_dims]
