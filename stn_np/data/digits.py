"""The embedded default data set: synthetic handwriting-free digits rendered from matplotlib's fonts.

How a sample is made:

1. Glyph bank (built once per process, cached). Each digit 0-9 of each font in :data:`FONTS`
   is rasterised with Agg from its ``TextPath`` outline onto a ``BANK_SIZE`` square, scaled so
   its larger side is ``GLYPH_EXTENT`` pixels, at several stroke weights: the outline is also
   stroked with a line of width ``w`` (in bank pixels), in ink for ``w > 0`` (thicker strokes)
   or in background for ``w < 0`` (thinner strokes); see :data:`STROKE_WEIGHTS`. Each glyph is
   then blurred (Gaussian, sigma ``BANK_BLUR``) so that minifying it later does not alias,
   and its ink bounding box and centre of mass are recorded.
2. Per sample, a random font, weight and an affine map bank -> 28 x 28 image: the glyph is
   scaled so its larger side becomes ``size`` pixels (about MNIST's 20 x 20 box), sheared,
   stretched (aspect), rotated, and its centre of mass placed near the image centre (as
   MNIST's digits are). The map is applied with ``affine_grid`` + ``grid_sample``.
3. Per sample, a light 3 x 3 blur mixed in, an ink intensity and multiplicative noise on the
   ink (the background stays exactly 0, as in MNIST, so later distortions that place the
   digit on a larger canvas do not reveal the 28 x 28 frame).

The jitter ranges are in :data:`JITTER`. Randomness comes from ``numpy.random.SeedSequence(seed)``
with one child stream per block of ``CHUNK`` samples, so the result depends only on
``(n, seed)``, and the first ``m`` samples of ``synthetic_digits(n, seed)`` equal
``synthetic_digits(m, seed)``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from ..validation import check_int, check_memory
from .warp import rotation_matrix, theta_from_pixel_map, warp_affine

__all__ = [
    "synthetic_digits",
    "glyph_bank",
    "digit_params",
    "GlyphBank",
    "FONTS",
    "STROKE_WEIGHTS",
    "JITTER",
    "CHUNK",
]

#: Font files from ``matplotlib.get_data_path()/fonts/ttf`` whose digits look like digits.
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
    "cmb10.ttf",
    "cmti10.ttf",
)

#: Outline stroke widths in bank pixels: negative thins the glyph, positive thickens it.
STROKE_WEIGHTS = (-1.5, 0.0, 2.0, 4.0, 6.5)

BANK_SIZE = 64  # side of a bank image
GLYPH_EXTENT = 44  # larger side of an unstroked glyph in the bank
BANK_BLUR = 1.0  # anti-aliasing before a ~2.5x minification
IMAGE_SIZE = 28
CHUNK = 1000  # samples per random stream (a multiple of 10: labels come in blocks of 10)

#: Per-sample jitter: uniform ranges unless noted.
JITTER = {
    "size": (14.0, 20.0),  # larger side of the digit in output pixels
    "rotation": (-12.0, 12.0),  # degrees, counter-clockwise on screen
    "shear": (-0.2, 0.2),  # x += shear * y
    "log_aspect": (-0.12, 0.12),  # width *= exp(a), height *= exp(-a)
    "shift": (-1.0, 1.0),  # centre-of-mass offset from the image centre, pixels per axis
    "blur": (0.0, 0.8),  # weight of a 3 x 3 binomial blur mixed into the image
    "ink": (0.7, 1.0),  # peak intensity as a fraction of 255
    "noise": 0.08,  # std of the multiplicative ink noise (Gaussian)
}


@dataclass(frozen=True)
class GlyphBank:
    """Rasterised glyphs and their geometry (read-only arrays).

    Attributes
    ----------
    images : ndarray, float32, shape (fonts, 10, weights, BANK_SIZE, BANK_SIZE)
        Ink coverage in [0, 1].
    centre : ndarray, float64, shape (fonts, 10, weights, 2)
        Centre of mass (x, y) in continuous bank pixels.
    extent : ndarray, float64, shape (fonts, 10, weights)
        Larger side of the ink bounding box, in bank pixels.
    fonts : tuple of str
        The font files used, in order.
    """

    images: np.ndarray
    centre: np.ndarray
    extent: np.ndarray
    fonts: tuple


def _rasterise(path, transform, weight):
    """Ink coverage (BANK_SIZE, BANK_SIZE) of a path filled, then stroked with ``weight``."""
    from matplotlib.backends.backend_agg import RendererAgg

    renderer = RendererAgg(BANK_SIZE, BANK_SIZE, 72)  # 72 dpi: one point is one pixel
    gc = renderer.new_gc()
    gc.set_antialiased(True)
    gc.set_linewidth(0.0)
    renderer.draw_path(gc, path, transform, (1.0, 1.0, 1.0, 1.0))
    if weight != 0:
        gc.set_linewidth(abs(weight))
        gc.set_joinstyle("round")
        gc.set_foreground((1.0, 1.0, 1.0, 1.0) if weight > 0 else (0.0, 0.0, 0.0, 1.0))
        renderer.draw_path(gc, path, transform, None)
    rgba = np.asarray(renderer.buffer_rgba()).astype(np.float32) / 255
    # The canvas starts white and fully transparent: ink is white and opaque, the eraser is
    # black and opaque, so coverage is red (white vs black) times alpha (drawn vs blank).
    return rgba[..., 0] * rgba[..., 3]


@functools.lru_cache(maxsize=1)
def glyph_bank():
    """Build (once per process) the :class:`GlyphBank` of every font, digit and stroke weight.

    Fonts listed in :data:`FONTS` that this matplotlib does not ship are skipped; a
    ``RuntimeError`` is raised when none is found. Takes well under a second.
    """
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D
    from scipy.ndimage import gaussian_filter

    font_dir = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    fonts = tuple(f for f in FONTS if os.path.isfile(os.path.join(font_dir, f)))
    if not fonts:
        raise RuntimeError(f"none of the digit fonts {FONTS} found in {font_dir}")
    shape = (len(fonts), 10, len(STROKE_WEIGHTS))
    images = np.empty(shape + (BANK_SIZE, BANK_SIZE), dtype=np.float32)
    centre = np.empty(shape + (2,))
    extent = np.empty(shape)
    pixel = np.arange(BANK_SIZE) + 0.5  # pixel centres in continuous coordinates
    for f, font in enumerate(fonts):
        prop = FontProperties(fname=os.path.join(font_dir, font))
        for digit in range(10):
            path = TextPath((0, 0), str(digit), size=100, prop=prop)
            lo, hi = path.get_extents().get_points()
            scale = GLYPH_EXTENT / max(hi - lo)
            # Agg's y axis points up: centring the outline's box suffices, the flip is Agg's.
            transform = Affine2D().translate(*(-(lo + hi) / 2)).scale(scale).translate(BANK_SIZE / 2, BANK_SIZE / 2)
            for w, weight in enumerate(STROKE_WEIGHTS):
                ink = _rasterise(path, transform, weight)
                rows = np.flatnonzero(ink.max(axis=1) > 0.5)
                cols = np.flatnonzero(ink.max(axis=0) > 0.5)
                extent[f, digit, w] = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
                mass = ink.sum()
                centre[f, digit, w] = (ink.sum(axis=0) @ pixel / mass, ink.sum(axis=1) @ pixel / mass)
                images[f, digit, w] = gaussian_filter(ink, BANK_BLUR, mode="constant")
    for array in (images, centre, extent):
        array.setflags(write=False)
    return GlyphBank(images, centre, extent, fonts)


def _check_n_seed(n, seed, function):
    n = check_int(n, function, "n", minimum=0)
    # the images (n, 28, 28) uint8 and about 16 float64 parameters per sample
    check_memory((n, max(IMAGE_SIZE * IMAGE_SIZE, 16 * 8)), np.uint8, function, "n", "images and their parameters")
    return n, check_int(seed, function, "seed", minimum=0)


def _chunk_params(rng, n_fonts):
    """Draw the parameters of one full chunk of CHUNK samples (callers truncate)."""
    labels = rng.permuted(np.tile(np.arange(10), (CHUNK // 10, 1)), axis=1).ravel()
    u = lambda key, shape=(CHUNK,): rng.uniform(*JITTER[key], size=shape)  # noqa: E731
    return {
        "label": labels.astype(np.int64),
        "font": rng.integers(0, n_fonts, CHUNK),
        "weight": rng.integers(0, len(STROKE_WEIGHTS), CHUNK),
        "size": u("size"),
        "rotation": u("rotation"),
        "shear": u("shear"),
        "log_aspect": u("log_aspect"),
        "shift": u("shift", (CHUNK, 2)),
        "blur": u("blur"),
        "ink": u("ink"),
    }


def _chunks(n, seed, n_fonts):
    """Yield (start, params, rng) per chunk; rng continues the chunk's stream (for the noise).

    Every chunk draws a full CHUNK of parameters from its own child stream and is then cut
    to length, so the draws never depend on ``n``: that is what makes prefixes agree.
    """
    starts = range(0, n, CHUNK)
    for start, child in zip(starts, np.random.SeedSequence(seed).spawn(len(starts))):
        rng = np.random.default_rng(child)
        count = min(CHUNK, n - start)
        params = {k: v[:count] for k, v in _chunk_params(rng, n_fonts).items()}
        yield start, params, rng


def digit_params(n, seed=0):
    """The per-sample parameters that :func:`synthetic_digits` uses for ``(n, seed)``.

    Returns
    -------
    dict of ndarray, each of length n
        ``label``, ``font`` (index into ``glyph_bank().fonts``), ``weight`` (index into
        :data:`STROKE_WEIGHTS`), ``size``, ``rotation`` (degrees), ``shear``, ``log_aspect``,
        ``shift`` (n, 2), ``blur`` and ``ink``; ranges in :data:`JITTER`.
    """
    n, seed = _check_n_seed(n, seed, "digit_params")
    n_fonts = len(glyph_bank().fonts)
    parts = [params for _, params, _ in _chunks(n, seed, n_fonts)]
    if not parts:
        empty = _chunk_params(np.random.default_rng(0), n_fonts)
        parts = [{k: v[:0] for k, v in empty.items()}]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _pixel_maps(params, bank):
    """Output -> bank pixel maps (P, t) for every sample (see ``stn_np.data.warp``)."""
    key = (params["font"], params["label"], params["weight"])
    scale = params["size"] / bank.extent[key]
    stretch = np.exp(params["log_aspect"])
    n = len(stretch)
    # Forward map bank -> image, acting on (x, y) with y pointing down:
    # M = scale * rotation(a) @ shear @ diag(stretch, 1 / stretch), where a positive angle
    # turns the digit counter-clockwise on screen.
    rot = rotation_matrix(params["rotation"])
    shear = np.broadcast_to(np.eye(2), (n, 2, 2)).copy()
    shear[:, 0, 1] = params["shear"]
    aspect = np.zeros((n, 2, 2))
    aspect[:, 0, 0], aspect[:, 1, 1] = stretch, 1 / stretch
    forward = scale[:, None, None] * rot @ shear @ aspect
    inverse = np.linalg.inv(forward)
    target = IMAGE_SIZE / 2 + params["shift"]
    offset = bank.centre[key] - (inverse @ target[:, :, None])[:, :, 0]
    return inverse, offset


def _blur3(x):
    """3 x 3 binomial blur with zero padding, on (n, H, W)."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    rows = (p[:, :-2] + 2 * p[:, 1:-1] + p[:, 2:]) / 4
    return (rows[:, :, :-2] + 2 * rows[:, :, 1:-1] + rows[:, :, 2:]) / 4


def _render(params, bank, rng):
    key = (params["font"], params["label"], params["weight"])
    inverse, offset = _pixel_maps(params, bank)
    theta = theta_from_pixel_map(inverse, offset, (BANK_SIZE, BANK_SIZE), (IMAGE_SIZE, IMAGE_SIZE))
    glyphs = bank.images[key]  # (n, BANK_SIZE, BANK_SIZE) float32
    x = warp_affine(glyphs, theta, (IMAGE_SIZE, IMAGE_SIZE))
    b = params["blur"].astype(np.float32)[:, None, None]
    x = (1 - b) * x + b * _blur3(x)
    x /= np.maximum(x.max(axis=(1, 2), keepdims=True), 1e-6)  # peak 1 before the ink level
    noise = rng.standard_normal((CHUNK,) + x.shape[1:], dtype=np.float32)[: len(x)]
    x *= params["ink"].astype(np.float32)[:, None, None] * (1 + JITTER["noise"] * noise)
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def synthetic_digits(n, seed=0):
    """Render ``n`` synthetic digit images, like MNIST in format and layout.

    Parameters
    ----------
    n : int
        Number of samples (0 allowed).
    seed : int
        Non-negative; the result depends only on ``(n, seed)``, and a smaller ``n`` gives a
        prefix of a larger one.

    Returns
    -------
    images : ndarray, uint8, shape (n, 28, 28)
        White digit on a black background (0 exactly), the digit's larger side about 14-20
        pixels, its centre of mass within a pixel of the image centre.
    labels : ndarray, int64, shape (n,)
        Balanced: every block of 10 consecutive samples holds each digit once.

    Examples
    --------
    >>> images, labels = synthetic_digits(20, seed=0)
    >>> images.shape, images.dtype, labels.dtype, sorted(labels[:10].tolist()) == list(range(10))
    ((20, 28, 28), dtype('uint8'), dtype('int64'), True)
    """
    n, seed = _check_n_seed(n, seed, "synthetic_digits")
    bank = glyph_bank()
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    labels = np.empty(n, dtype=np.int64)
    for start, params, rng in _chunks(n, seed, len(bank.fonts)):
        images[start : start + CHUNK] = _render(params, bank, rng)
        labels[start : start + CHUNK] = params["label"]
    return images, labels
