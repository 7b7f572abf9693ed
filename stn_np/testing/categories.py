"""The categories of the grid_sample conformance battery: which inputs each one tries.

A category is a function ``build(rng, options) -> list of Case`` registered in
:data:`CATEGORIES`, in the order the table prints them. A :class:`Case` is one call of the
sampler under test: an image, a grid, the options, the upstream gradient for its VJP and the
checks that apply (:mod:`stn_np.testing.conformance` runs them against stn_np's samplers).
Adding a category means adding one function here.

Images and points are built in *pixel units* and normalised with
:func:`stn_np.sampling.pixel_to_normalized`, so a category says exactly where its points are:
on a pixel centre (a kink of bilinear), on a half-pixel tie (of nearest), a tenth of a pixel
off both (where finite differences are meaningful), just or far outside the image.

Extending to 3-D: a :class:`Case` already holds N-D arrays (the runner reads the number of
spatial axes from ``grid.shape[-1]``); a volumetric category builds (N, C, D, H, W) images and
(N, D_out, H_out, W_out, 3) grids with the same helpers written for three axes, and the
oracles in :mod:`stn_np.testing.conformance` take the 3-D samplers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..sampling.coords import identity_grid, pixel_to_normalized, sample_points

__all__ = ["Case", "Category", "CATEGORIES", "category_names"]


@dataclass
class Case:
    """One call of the sampler under test and the checks that apply to it.

    Attributes
    ----------
    description : str
        What the case is, for the report ("identity 4x5", "1e6 pixels outside", ...).
    input, grid, upstream : ndarray
        (N, C, H, W), (N, H_out, W_out, 2) and (N, C, H_out, W_out), one float dtype.
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
    """A named group of cases: ``build(rng, options)`` returns them."""

    name: str
    description: str
    build: object


def _grid(px, py, H, W, align):
    """Normalised grid (N, H_out, W_out, 2) from pixel positions of shape (N, H_out, W_out)."""
    return np.stack([pixel_to_normalized(px, W, align), pixel_to_normalized(py, H, align)], axis=-1)


def _case(rng, description, shape, grid, mode, padding, align, **kwargs):
    N, C = shape[:2]
    dtype = grid.dtype
    U = rng.standard_normal(shape).astype(dtype)
    G = rng.standard_normal((N, C) + grid.shape[1:3]).astype(dtype)
    return Case(description, U, grid, G, mode, padding, align, **kwargs)


def _combos(options, modes=None):
    modes = [m for m in options["modes"] if modes is None or m in modes]
    return itertools.product(modes, options["padding_modes"], (False, True))


def _random(rng, options):
    cases = []
    for mode, padding, align in _combos(options):
        grid = sample_points(rng, 2, 5, 7, 4, 6, mode, align)
        cases.append(_case(rng, "random points up to 3 pixels outside, 5x7 -> 4x6", (2, 3, 5, 7), grid, mode,
                           padding, align, smooth=True))
    return cases


def _identity(rng, options):
    cases = []
    for mode, padding, align in _combos(options):
        grid = np.repeat(identity_grid(4, 5, align)[None], 2, axis=0)
        cases.append(_case(rng, "identity grid (every point on a pixel centre), 4x5", (2, 2, 4, 5), grid, mode,
                           padding, align, kind="kinks"))
    return cases


def _translation(shift_x, shift_y, label, smooth):
    def build(rng, options):
        cases = []
        modes = None if not smooth else ("bilinear", "bicubic")  # nearest at half pixels: the ties category
        for mode, padding, align in _combos(options, modes):
            H, W = 4, 6
            py, px = np.mgrid[0:H, 0:W].astype(float)
            grid = _grid(px + shift_x, py + shift_y, H, W, align)[None]
            cases.append(_case(rng, f"{label} ({shift_x:+g}, {shift_y:+g}) pixels, 4x6", (1, 2, H, W), grid, mode,
                               padding, align, smooth=False, kind="kinks" if not smooth else "standard"))
        return cases

    return build


def _xy_order(rng, options):
    cases = []
    for mode, padding, align in _combos(options):
        H, W = 3, 6
        for dx, dy in ((1.3, 0.2), (0.2, 1.3), (2.2, -0.7)):  # off integers and half-integers
            py, px = np.mgrid[0:H, 0:W].astype(float)
            grid = _grid(px + dx, py + dy, H, W, align)[None]
            cases.append(_case(rng, f"move x by {dx:g} and y by {dy:g} pixels on a 3x6 image", (1, 2, H, W), grid,
                               mode, padding, align, smooth=True))
    return cases


def _align_corners(rng, options):
    cases = []
    corners = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    for mode, padding, align in _combos(options):
        gx, gy = np.meshgrid(corners, corners[::-1])
        grid = np.stack([gx, gy], axis=-1)[None]
        cases.append(_case(rng, "normalised -1, -0.5, 0, 0.5, 1 on both axes of a 4x5 image", (1, 2, 4, 5), grid,
                           mode, padding, align, kind="kinks"))
    return cases


def _outside(distances, label, smooth=True):
    def build(rng, options):
        cases = []
        for mode, padding, align in _combos(options):
            H, W = 4, 5
            d = np.asarray(distances, dtype=float)
            inner = np.array([0.3, 1.7, 2.6])
            px = np.concatenate([-d, W - 1 + d, np.full(d.size, 1.4), np.full(d.size, 2.3)])
            py = np.concatenate([np.full(d.size, 1.3), np.full(d.size, 2.6), -d, H - 1 + d])
            px = np.concatenate([px, inner])[None, None]
            py = np.concatenate([py, inner + 0.1])[None, None]
            grid = _grid(px, py, H, W, align)
            off_kinks = np.all(np.abs(d - np.round(d)) >= 0.1) and np.all(np.abs(d - np.round(d) - 0.5) >= 0.1)
            cases.append(_case(rng, f"{label}, 4x5", (1, 2, H, W), grid, mode, padding, align,
                               smooth=bool(smooth and off_kinks)))
        return cases

    return build


def _ties(rng, options):
    if "nearest" not in options["modes"]:
        return []
    cases = []
    for padding, align in itertools.product(options["padding_modes"], (False, True)):
        # sizes whose unnormalisation is exact (S or S - 1 a power of two), so every tie
        # reaches the sampler as an exact half-integer, whatever arithmetic it uses
        H, W = (4, 8) if not align else (5, 9)
        xs = np.r_[np.arange(W - 1) + 0.5, 1.0, 2.0]  # every tie between two pixels of a row
        ys = np.r_[np.arange(H - 1) + 0.5, 2.0]
        px, py = np.meshgrid(xs, ys)
        grid = _grid(px, py, H, W, align)[None]
        cases.append(_case(rng, f"exact half-pixel ties inside a {H}x{W} image", (1, 2, H, W), grid, "nearest",
                           padding, align, kind="ties"))
    return cases


def _kinks(rng, options):
    cases = []
    for mode, padding, align in _combos(options, ("bilinear", "bicubic")):
        H, W = 5, 6
        px, py = np.meshgrid(np.arange(1, W - 1, dtype=float), np.arange(1, H - 1, dtype=float))
        grid = _grid(px, py, H, W, align)[None]
        cases.append(_case(rng, "interior integer positions (pixel centres), 5x6", (1, 2, H, W), grid, mode, padding,
                           align, kind="kinks"))
    return cases


def _edges(rng, options):
    cases = []
    for mode, padding, align in _combos(options):
        H, W = 4, 5
        xs = np.array([-0.5, 0.0, W - 1.0, W - 0.5])
        ys = np.array([-0.5, 0.0, H - 1.0, H - 0.5])
        px, py = np.meshgrid(np.r_[xs, 2.0], np.r_[ys, 1.0])
        grid = _grid(px, py, H, W, align)[None]
        cases.append(_case(rng, "first and last pixel centres and image edges (+-0.5), 4x5", (1, 2, H, W), grid,
                           mode, padding, align, kind="kinks"))
    return cases


def _tiny(rng, options):
    cases = []
    for (H, W), (mode, padding, align) in itertools.product([(1, 1), (1, 5), (4, 1)], _combos(options)):
        grid = sample_points(rng, 2, H, W, 3, 4, mode, align)
        if align:  # a 1-pixel axis with align_corners maps every coordinate to its pixel: spread them
            for axis, size in ((0, W), (1, H)):
                if size == 1:
                    grid[..., axis] = rng.uniform(-2, 2, grid.shape[:3])
        cases.append(_case(rng, f"{H}x{W} image", (2, 2, H, W), grid, mode, padding, align, smooth=True))
    return cases


def _output_size(rng, options):
    cases = []
    for (shape, out), (mode, padding, align) in itertools.product([((1, 2, 3, 4), (9, 11)), ((2, 1, 6, 7), (2, 2))],
                                                                  _combos(options)):
        grid = sample_points(rng, shape[0], shape[2], shape[3], out[0], out[1], mode, align)
        label = "larger" if out[0] > shape[2] else "smaller"
        cases.append(_case(rng, f"output {label} than the input: {shape[2]}x{shape[3]} -> {out[0]}x{out[1]}", shape,
                           grid, mode, padding, align, smooth=True))
    return cases


def _accumulation(rng, options):
    cases = []
    for mode, padding, align in _combos(options):
        H, W = 4, 5
        # 42 points per image reading the same taps: inside one pixel for nearest, inside one
        # cell between four pixel centres otherwise, a tenth of a pixel off the kinks
        low, high = (-0.4, 0.4) if mode == "nearest" else (0.1, 0.9)
        px = 2 + rng.uniform(low, high, (2, 6, 7))
        py = 1 + rng.uniform(low, high, (2, 6, 7))
        px[:, 0, :3] = 2.25  # and exact duplicates
        py[:, 0, :3] = 1.25
        px[:, 1, :] = 2.35  # one column, several rows
        grid = _grid(px, py, H, W, align)
        cases.append(_case(rng, "42 points in one pixel, exact duplicates among them", (2, 3, H, W), grid, mode,
                           padding, align, smooth=True))
    return cases


def _nonfinite(rng, options):
    cases = []
    for mode, padding, align in _combos(options):
        grid = sample_points(rng, 1, 4, 5, 2, 5, mode, align)
        grid[0, 0, 0] = np.nan
        grid[0, 0, 1, 0] = np.nan
        grid[0, 0, 2, 1] = np.inf
        grid[0, 0, 3, 0] = -np.inf
        grid[0, 1, 0] = (np.inf, -np.inf)
        cases.append(_case(rng, "NaN and +-inf points among finite ones, 4x5", (1, 2, 4, 5), grid, mode, padding,
                           align, kind="nonfinite"))
    return cases


def _empty(rng, options):
    cases = []
    shapes = [((0, 2, 4, 5), (0, 3, 2)), ((2, 0, 4, 5), (2, 3, 2)), ((2, 2, 4, 5), (2, 0, 3)), ((2, 2, 4, 5), (2, 3, 0))]
    for (shape, out), (mode, padding, align) in itertools.product(shapes, _combos(options)):
        grid = rng.uniform(-1.2, 1.2, out + (2,))
        cases.append(_case(rng, f"empty: input {shape}, grid {out + (2,)}", shape, grid, mode, padding, align,
                           kind="empty"))
    return cases


def _large_coordinates(rng, options):
    # so far out a coordinate is resolved to ~1e-6 pixel: no finite differences there
    return _outside([1e6 + 0.3, 1e10 + 0.6, 123456789.4], "1e6 to 1e10 pixels outside", smooth=False)(rng, options)


def _large_image(rng, options):
    cases = []
    H, W = 345, 456
    for mode, padding, align in _combos(options):
        xs = np.r_[np.arange(-2, 3.5, 0.5), np.arange(W - 3, W + 1.5, 0.5), 227.3]
        ys = np.r_[np.arange(-2, 3.5, 0.5), np.arange(H - 3, H + 1.5, 0.5), 170.6]
        if mode == "nearest":  # off the ties: they have their own category
            xs, ys = xs + 0.2, ys + 0.2
        px, py = np.meshgrid(xs, ys)
        grid = _grid(px, py, H, W, align)[None]
        cases.append(_case(rng, "integer and half-integer positions at the edges of a 345x456 image",
                           (1, 1, H, W), grid, mode, padding, align, kind="kinks"))
    return cases


def _float32(rng, options):
    cases = []
    for mode, padding, align in _combos(options):
        grid = sample_points(rng, 2, 5, 7, 4, 6, mode, align).astype(np.float32)
        cases.append(_case(rng, "float32 input and grid, 5x7 -> 4x6", (2, 3, 5, 7), grid, mode, padding, align,
                           smooth=True, kind="float32"))
    return cases


#: The categories, in the order the report lists them.
CATEGORIES = {c.name: c for c in (
    Category("random", "random points off the kinks, up to 3 pixels outside", _random),
    Category("identity", "the identity grid reproduces the input", _identity),
    Category("translation_whole", "whole-pixel translations read the shifted (padded) image",
             _translation(2, -1, "whole-pixel shift", smooth=False)),
    Category("translation_half", "half-pixel translations (bilinear, bicubic)",
             _translation(0.5, -1.5, "half-pixel shift", smooth=True)),
    Category("xy_order", "the grid's last axis is (x, y): x along the width", _xy_order),
    Category("align_corners", "normalised -1, 0, 1 under both corner conventions", _align_corners),
    Category("padding_near", "points just outside (0.25 to 1.5 pixels)", _outside([0.25, 0.5, 1.0, 1.5], "0.25 to 1.5 "
                                                                                  "pixels outside")),
    Category("padding_far", "points far outside (10 to 10^4 pixels)", _outside([10.3, 100.7, 10000.2],
                                                                               "10 to 10^4 pixels outside")),
    Category("ties", "nearest at exact half-pixel ties (the rounding rule)", _ties),
    Category("kinks", "gradients at integer positions (the subgradient convention)", _kinks),
    Category("edges", "first/last pixel centres and the image edges", _edges),
    Category("tiny_images", "1x1, 1xW and Hx1 images", _tiny),
    Category("output_size", "output larger and smaller than the input", _output_size),
    Category("accumulation", "many points in one pixel: gradients add up", _accumulation),
    Category("nonfinite", "NaN and inf points do not disturb the others", _nonfinite),
    Category("empty", "N = 0, C = 0, H_out = 0, W_out = 0", _empty),
    Category("large_coordinates", "coordinates 1e6 to 1e10 pixels outside", _large_coordinates),
    Category("large_image", "a 345x456 image: rounding of the unnormalisation", _large_image),
    Category("float32", "float32 against the float64 result", _float32),
)}


def category_names():
    """The category names, in report order."""
    return list(CATEGORIES)
