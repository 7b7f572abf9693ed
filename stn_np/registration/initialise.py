r"""The global start of ``register(init="auto")``: find the basin before gradient descent.

Gradient descent only finds the minimum of the basin it starts in. On photographs whose
content fills the frame, on repetitive textures (brick, grass) and on low-contrast images
(the moon), a descent from the identity regularly lands in a wrong basin once the rotation
passes ~10 degrees or the scale ~10%. So ``register`` first searches globally, on a small
copy of both images:

1. **Search images.** Both images (channels averaged) are Gaussian-halved
   (:func:`~stn_np.registration.pyramid.downsample`) until the larger side of the fixed
   image is at most ``SEARCH_SIZE`` (64) pixels (and ``MELLIN_SIZE``, 128, for step 4).
2. **Rotation x scale, exhaustively.** For every similarity about the image centre with an
   angle in ``ANGLES`` (-36 ... 36 degrees in 6-degree steps) and an isotropic scale in
   ``SCALES`` (0.71 ... 1.40, 7 geometric steps of 12%; scale only for ``attention``, which
   cannot rotate), the moving image is resampled by the library's sampler onto the fixed
   grid, with its overlap mask.
3. **Translation, for all shifts at once.** The overlap-masked normalised cross-correlation
   between the fixed image and each resampled moving image is computed for every integer
   shift by FFT (Padfield's masked NCC: six correlations of the images, their squares and
   their masks), keeping shifts whose overlap covers at least ``MIN_SEARCH_OVERLAP`` (40%) of
   the fixed image. Each (angle, scale) contributes its best shift; around the ``FINE_CELLS``
   (6) best cells the search looks again at half the angle and scale steps.
4. **Fourier-Mellin.** The magnitude spectra of the two images (128-pixel copies, Hann
   window) ignore translation; on a log-polar raster rotation and scale become shifts, which
   phase correlation finds (:func:`fourier_mellin`). Its ``MELLIN_PEAKS`` (3) strongest
   (angle, scale) pairs, each with its best shift, join the candidates: they are precise on
   periodic textures (brick, grass) where the grid's nearest cell can score below a wrong one.
5. **Decide by descent.** The ``CANDIDATES`` (3) best-scoring grid similarities, the
   Fourier-Mellin ones and the identity are each refined by a short affine descent (masked
   objective, the requested loss) on the 64-pixel images, and the one with the lowest
   objective wins. For ``attention`` the refinement keeps its form.

Reach (what the search is built for, and what ``tests/test_registration_robust.py`` checks at
its edges; beyond it, pass a starting transform): rotations within about +-38 degrees,
isotropic scales about 0.67 - 1.5 (moving pixels per fixed pixel), any translation that leaves
40% of the fixed image overlapping, small shear and anisotropy (the refinement absorbs them).
A fixed image that is a small part of the moving one (scale far outside that range) or mirror
images are out of reach. With ``loss="mi"`` the shift search still scores by NCC, which a
non-monotonic intensity relation weakens; the candidates are then decided by the MI objective. Cost: about 0.3 s at any image size (the search runs at 64 and 128
pixels).

**Volumes** (:func:`global_search` on (1, C, D, H, W) arrays) take a shorter road, because an
exhaustive rotation search is three-dimensional (13 angles per axis would be 2197 rotations,
each an FFT of a volume) and 3-D Fourier-Mellin needs a spherical raster:

1. **Search volumes.** Halved as above until the largest side is at most ``SEARCH_SIZE_3D``
   (32) voxels.
2. **Moments.** The centre of mass ``c`` and the second central moments ``S`` of each volume
   (weights: the voxel value minus the volume's minimum), in voxels. Aligning the principal
   axes (the eigenvectors ``E`` of ``S``) maps fixed to moving by ``p_m = c_m + s R (p_f - c_f)``
   with ``R = E_m diag(signs) E_f^T``: one rotation per sign pattern with ``det R = +1`` (the
   axes' directions are unknown, so four), and the isotropic scale
   ``s = (det S_m / det S_f)^(1/6)`` clipped to 0.67 - 1.5. Together with the identity and
   the pure scaling by ``s`` these are six candidates.
3. **Translation** for each candidate by the same masked NCC over every integer shift (3-D
   FFTs), then **decide by descent** as in step 5 above: the ``CANDIDATES`` best-scoring and
   the identity are refined on the search volumes and the lowest objective wins.

Reach for volumes (checked by ``tests/test_registration_3d.py``): any translation leaving 40%
of the fixed volume overlapping; rotations of any angle when the content's principal axes are
distinct (moments of inertia differing by more than ~10%) and the content lies inside both
volumes, which is where moments are reliable; otherwise the rotations a descent from the
identity reaches (about 20 degrees on the smooth phantoms of the tests). Cost: about 1 s (the
search runs at 32 voxels a side).

The result is an affine ``theta`` (2, 3) (for volumes (3, 4)); :func:`affine_to_params`
expresses it in each family's parameters (exactly for affine, projective, TPS and the dense
flow; the rotation-free part for attention).
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import no_grad
from ..autograd.tensor import Tensor
from ..optim import Adam
from ..sampling.coords import axis_sizes, identity_grid, pixel_size
from ..sampling.grid_affine import affine_grid
from ..sampling.grid_sample import grid_sample
from ..sampling.grid_tps import tps_control_points
from .losses import similarity_loss
from .pyramid import downsample
from .transforms import compose_affine, pixel_to_theta, transform_points

__all__ = ["global_search", "affine_to_params", "overlap_mask", "SEARCH_SIZE", "SEARCH_SIZE_3D", "ANGLES", "SCALES",
           "MIN_SEARCH_OVERLAP", "CANDIDATES"]

#: Largest side (pixels) of the fixed image during the search.
SEARCH_SIZE = 64
#: Largest side (voxels) of the fixed volume during the search for volumes.
SEARCH_SIZE_3D = 32
#: Rotation angles tried, degrees.
ANGLES = tuple(float(a) for a in np.arange(-36, 37, 6))
#: Isotropic scales tried (moving pixels per fixed pixel).
SCALES = tuple(float(s) for s in 1.12 ** np.arange(-3, 4))
#: Smallest overlap (fraction of the fixed image) a translation may leave during the search.
MIN_SEARCH_OVERLAP = 0.4
#: Similarities refined by descent before the best is kept.
CANDIDATES = 3
#: Best coarse (angle, scale) cells searched again at half the steps.
FINE_CELLS = 6
#: Largest side of the images the Fourier-Mellin estimate uses (textures need the detail).
MELLIN_SIZE = 128
#: Log-polar raster of the Fourier-Mellin estimate: radii x angles, and peaks kept.
MELLIN_RADII, MELLIN_ANGLES, MELLIN_PEAKS = 96, 180, 3
#: Adam steps (and step size, normalised units) of each candidate's refinement.
REFINE_STEPS, REFINE_LR = 30, 0.01


def overlap_mask(grid, moving_size):
    """1.0 where a grid point (normalised, ``align_corners=False``) lies inside the moving image, else 0.

    "Inside" means within the box of the moving image's pixel centres, ``0 <= x <= W - 1`` and
    ``0 <= y <= H - 1`` in pixels (for a volume also ``0 <= z <= D - 1``), where linear sampling
    reads no padding. ``moving_size`` is (H, W) or (D, H, W). Returns an array of the grid's
    shape without the last axis, with a channel axis inserted: (N, 1, H_out, W_out) or
    (N, 1, D_out, H_out, W_out).
    """
    grid = np.asarray(grid)
    inside = np.ones(grid.shape[:-1], dtype=bool)
    # normalised c -> pixel ((c + 1) S - 1) / 2; the box [0, S-1] is |c| <= 1 - 1/S
    for axis, size in enumerate(axis_sizes(tuple(moving_size))):
        inside &= np.abs(grid[..., axis]) <= 1 - 1 / size
    return inside[:, None].astype(grid.dtype)


def _similarity(angle, scale, hw):
    """theta of a rotation by ``angle`` degrees and scaling by ``scale`` about the centre, in pixels of ``hw``."""
    h, w = hw
    a = np.deg2rad(angle)
    linear = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    matrix = np.concatenate([linear, (centre - linear @ centre)[:, None]], axis=1)
    return pixel_to_theta(matrix, hw)


class _MaskedNCC:
    """Masked NCC of a fixed image against many warped images, for every integer shift, by FFT.

    For a shift d the overlap holds the fixed pixels x whose partner ``x + d`` is a valid
    sample (mask V); over it, with ``g = W V``, the six sums ``N = sum V(x+d)``,
    ``S_f = sum f V(x+d)``, ``S_ff = sum f^2 V(x+d)``, ``S_g = sum g(x+d)``,
    ``S_gg = sum g^2(x+d)`` and ``S_fg = sum f g(x+d)`` are cross-correlations (zero-padded
    to twice the size, so shifts do not wrap), and
    ``NCC(d) = (S_fg - S_f S_g / N) / sqrt((S_ff - S_f^2 / N)(S_gg - S_g^2 / N))``.
    The fixed image's transforms are computed once. Images (H, W) and volumes (D, H, W) alike.
    """

    def __init__(self, fixed, min_overlap):
        self.axes = tuple(range(1, fixed.ndim + 1))
        self.shape = tuple(2 * s for s in fixed.shape)
        stack = np.stack([np.ones_like(fixed), fixed, fixed * fixed])
        self.conj = np.conj(np.fft.rfftn(stack, self.shape, axes=self.axes))  # (one, f, f^2)
        self.least = min_overlap * fixed.size

    def best_shift(self, warped, valid):
        """The shift d = (dx, dy[, dz]) maximising NCC(fixed(x), warped(x + d)) and that NCC (-inf if none)."""
        g = warped * valid
        hat = np.fft.rfftn(np.stack([valid, g, g * warped]), self.shape, axes=self.axes)  # (V, g, g^2 = W^2 V)
        one, f, ff = self.conj
        count, s_f, s_ff, s_g, s_gg, s_fg = np.fft.irfftn(
            np.stack([one * hat[0], f * hat[0], ff * hat[0], one * hat[1], one * hat[2], f * hat[1]]), self.shape,
            axes=self.axes)
        n = np.maximum(count, 1.0)
        numerator = s_fg - s_f * s_g / n
        variance = np.maximum(s_ff - s_f**2 / n, 0) * np.maximum(s_gg - s_g**2 / n, 0)
        ok = (count >= self.least) & (variance > 1e-12)
        ncc = np.where(ok, numerator / np.sqrt(np.where(ok, variance, 1.0)), -np.inf)
        index = np.unravel_index(np.argmax(ncc), ncc.shape)
        shift = [int(i) if i < s // 2 else int(i) - s for i, s in zip(index, self.shape)]
        return tuple(shift[::-1]), float(ncc[index])  # (D,) H, W order -> the grid's (x, y[, z])


def _shift_theta(shift, spatial):
    """theta of a translation by ``shift`` = (dx, dy[, dz]) pixels of an image of ``spatial`` shape: reads x + d."""
    d = len(spatial)
    theta = np.eye(d, d + 1)
    theta[:, d] = [s * pixel_size(size) for s, size in zip(shift, axis_sizes(tuple(spatial)))]
    return theta


def _search_images(fixed, moving, size=SEARCH_SIZE):
    """Both images, channels averaged, halved until the fixed image's larger side is <= ``size``."""
    fixed = fixed.mean(axis=1, keepdims=True)
    moving = moving.mean(axis=1, keepdims=True)
    while max(fixed.shape[2:]) > size and min(fixed.shape[2:]) >= 16 and min(moving.shape[2:]) >= 16:
        fixed, moving = downsample(fixed), downsample(moving)
    return fixed, moving


def _log_polar_spectrum(image):
    """log(1 + |FFT|) of the Hann-windowed image, times the radial frequency, on a log-polar raster.

    Rows: ``MELLIN_RADII`` log-spaced frequencies from 2 cycles per image to 0.5 cycles per
    pixel; columns: ``MELLIN_ANGLES`` angles over [0, 180) degrees (the magnitude spectrum of
    a real image is symmetric). Returns (raster, log-radius step, angle step in degrees).
    """
    from scipy.ndimage import map_coordinates

    h, w = image.shape
    window = np.hanning(h)[:, None] * np.hanning(w)[None, :]
    magnitude = np.abs(np.fft.fftshift(np.fft.fft2((image - image.mean()) * window)))
    fy = np.fft.fftshift(np.fft.fftfreq(h))[:, None]
    fx = np.fft.fftshift(np.fft.fftfreq(w))[None, :]
    magnitude = magnitude * np.sqrt(fx**2 + fy**2)  # whiten the ~1/f spectrum of natural images
    log_radius = np.linspace(np.log(2.0 / min(h, w)), np.log(0.5), MELLIN_RADII)
    angle = np.linspace(0, np.pi, MELLIN_ANGLES, endpoint=False)
    radius = np.exp(log_radius)[:, None]
    x = radius * np.cos(angle)[None] * w + w // 2
    y = radius * np.sin(angle)[None] * h + h // 2
    raster = np.log1p(map_coordinates(magnitude, [y, x], order=1, mode="constant"))
    return raster, log_radius[1] - log_radius[0], 180.0 / MELLIN_ANGLES


def fourier_mellin(fixed, moving, peaks=MELLIN_PEAKS):
    """Rotation and scale candidates from phase correlation of log-polar magnitude spectra.

    The magnitude spectrum ignores translation; a rotation by ``a`` rotates it by ``a`` and a
    scaling by ``s`` (moving pixels per fixed pixel) shrinks it by ``s``, so in (log radius,
    angle) both become shifts, found by phase correlation. Returns up to ``peaks``
    (angle in degrees, scale) pairs, strongest first, for 2-D ``fixed`` and ``moving``.
    """
    a, log_step, angle_step = _log_polar_spectrum(fixed)
    b, _, _ = _log_polar_spectrum(moving)
    cross = np.conj(np.fft.fft2(a - a.mean())) * np.fft.fft2(b - b.mean())
    surface = np.real(np.fft.ifft2(cross / (np.abs(cross) + 1e-12)))
    out = []
    for index in np.argsort(surface.ravel())[::-1][:peaks]:
        row, column = np.unravel_index(index, surface.shape)
        row = row - surface.shape[0] if row > surface.shape[0] // 2 else row
        column = column - surface.shape[1] if column > surface.shape[1] // 2 else column
        out.append((float(column * angle_step), float(np.exp(-row * log_step))))
    return out


def _refine(theta, fixed, moving, loss, ranges, rotation):
    """A short masked descent from ``theta`` on the search images; returns (theta, objective)."""
    hw, moving_hw = fixed.shape[2:], moving.shape[2:]
    if rotation:
        params = Tensor(theta[None].copy(), requires_grad=True)
        to_theta = lambda p: p  # noqa: E731
    else:
        params = Tensor(np.array([[theta[0, 0], theta[0, 2], theta[1, 2]]]), requires_grad=True)
        to_theta = lambda p: np.array([[[p[0, 0], 0, p[0, 1]], [0, p[0, 0], p[0, 2]]]])  # noqa: E731
    from ..sampling.families import get_family

    family = get_family("affine" if rotation else "attention")
    optimizer = Adam([params], lr=REFINE_LR)
    best, best_params = np.inf, params.data.copy()
    for _ in range(REFINE_STEPS + 1):
        optimizer.zero_grad()
        grid = family.grid(params, (1, 1, *hw))
        mask = overlap_mask(grid.data, moving_hw)
        if mask.mean() < MIN_SEARCH_OVERLAP / 2:
            break
        value = similarity_loss(loss, grid_sample(moving, grid, padding_mode="border"), fixed, mask, ranges)
        if value.item() < best:
            best, best_params = value.item(), params.data.copy()
        value.backward()
        optimizer.step()
    return to_theta(best_params)[0], best


def global_search(fixed, moving, loss="mse", rotation=True, ranges=None):
    """Search rotation x scale x translation on small copies of the images; returns an affine theta (2, 3).

    ``fixed`` and ``moving`` are float (1, C, H, W) arrays (their sizes may differ);
    ``rotation=False`` searches scale and translation only. ``ranges`` are the intensity
    ranges of ``loss="mi"``. Volumes (1, C, D, H, W) get a theta (3, 4) from principal axes
    and translations (:func:`_search_volume`). See the module docstring for the method and its
    reach.
    """
    fixed, moving = np.asarray(fixed, dtype=np.float64), np.asarray(moving, dtype=np.float64)
    if fixed.ndim == 5:
        return _search_volume(fixed, moving, loss, ranges)
    mellin_fixed, mellin_moving = _search_images(fixed, moving, MELLIN_SIZE)
    fixed, moving = _search_images(mellin_fixed, mellin_moving)
    hw, moving_hw = fixed.shape[2:], moving.shape[2:]
    correlation = _MaskedNCC(fixed[0, 0], MIN_SEARCH_OVERLAP)

    def score(angle, scale):
        theta = _similarity(angle, scale, hw)
        grid = affine_grid(theta[None], (1, 1, *hw)).data
        warped = grid_sample(moving, grid, padding_mode="border").data[0, 0]
        valid = overlap_mask(grid, moving_hw)[0, 0]
        shift, value = correlation.best_shift(warped, valid)
        return value, angle, scale, compose_affine(theta, _shift_theta(shift, hw))

    def best_near(angle, scale, angle_step, scale_step):
        near = [score(angle + da * angle_step, scale * scale_step**ds)
                for da in ((-1, 0, 1) if rotation else (0,)) for ds in (-1, 0, 1)]
        return max(near, key=lambda item: item[0])

    angles = ANGLES if rotation else (0.0,)
    angle_step = ANGLES[1] - ANGLES[0]
    scale_step = SCALES[1] / SCALES[0]
    with no_grad():
        scored = [score(a, s) for a in angles for s in SCALES]
        scored = [item for item in scored if np.isfinite(item[0])]
        scored.sort(key=lambda item: -item[0])
        # a finer look around the best coarse cells: half the angle and scale steps
        scored += [best_near(angle, scale, angle_step / 2, scale_step**0.5) for _, angle, scale, _ in scored[:FINE_CELLS]]
        scored = [item for item in scored if np.isfinite(item[0])]
        scored.sort(key=lambda item: -item[0])
        # Fourier-Mellin's rotation and scale, each with its best shift (precise on periodic textures)
        mellin = [best_near(angle if rotation else 0.0, scale, 1.0, 1.02)
                  for angle, scale in fourier_mellin(mellin_fixed[0, 0], mellin_moving[0, 0])]
        mellin = [item for item in mellin if np.isfinite(item[0])]
    candidates = [item[3] for item in scored[:CANDIDATES]] + [item[3] for item in mellin]
    if not any(np.allclose(c, np.eye(2, 3)) for c in candidates):
        candidates.append(np.eye(2, 3))  # the identity competes too: it is the answer when nothing moved
    results = [_refine(theta, fixed, moving, loss, ranges, rotation) for theta in candidates]
    return min(results, key=lambda item: item[1])[0]


def _moments(volume):
    """Centre of mass (x, y, z) and second central moments (3 x 3), in voxels, weights = value - min."""
    weights = volume - volume.min()
    total = weights.sum()
    if not total > 0:
        return None
    k, i, j = np.indices(volume.shape, dtype=np.float64)
    points = np.stack([j.ravel(), i.ravel(), k.ravel()], axis=1)  # (x, y, z) = (j, i, k)
    w = weights.ravel() / total
    centre = w @ points
    offsets = points - centre
    return centre, (offsets * w[:, None]).T @ offsets


def _moment_candidates(fixed, moving):
    """Voxel maps fixed -> moving (3 x 4) from centres of mass and principal axes (see the module docstring)."""
    a, b = _moments(fixed), _moments(moving)
    if a is None or b is None:
        return []
    (centre_f, cov_f), (centre_m, cov_m) = a, b
    values_f, axes_f = np.linalg.eigh(cov_f)
    values_m, axes_m = np.linalg.eigh(cov_m)
    if values_f.min() <= 0 or values_m.min() <= 0:
        return []
    scale = float(np.clip((np.prod(values_m) / np.prod(values_f)) ** (1 / 6), 1 / 1.5, 1.5))
    handed = np.sign(np.linalg.det(axes_f) * np.linalg.det(axes_m))  # signs with det R = +1
    linears = [scale * np.eye(3)]
    for signs in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
        linears.append(scale * axes_m @ np.diag(handed * np.array(signs, dtype=np.float64)) @ axes_f.T)
    return [np.concatenate([m, (centre_m - m @ centre_f)[:, None]], axis=1) for m in linears]


def _search_volume(fixed, moving, loss, ranges):
    """The global start for (1, C, D, H, W) volumes: moments, shifts by FFT, descent decides; theta (3, 4)."""
    fixed, moving = _search_images(fixed, moving, SEARCH_SIZE_3D)
    shape, moving_shape = fixed.shape[2:], moving.shape[2:]
    correlation = _MaskedNCC(fixed[0, 0], MIN_SEARCH_OVERLAP)
    thetas = [np.eye(3, 4)] + [pixel_to_theta(m, moving_shape, shape)
                               for m in _moment_candidates(fixed[0, 0], moving[0, 0])]
    scored = []
    with no_grad():
        for theta in thetas:
            grid = affine_grid(theta[None], (1, 1, *shape)).data
            warped = grid_sample(moving, grid, padding_mode="border").data[0, 0]
            shift, value = correlation.best_shift(warped, overlap_mask(grid, moving_shape)[0, 0])
            if np.isfinite(value):
                scored.append((value, compose_affine(theta, _shift_theta(shift, shape))))
    scored.sort(key=lambda item: -item[0])
    candidates = [theta for _, theta in scored[:CANDIDATES]]
    if not any(np.allclose(c, np.eye(3, 4)) for c in candidates):
        candidates.append(np.eye(3, 4))
    results = [_refine(theta, fixed, moving, loss, ranges, True) for theta in candidates]
    return min(results, key=lambda item: item[1])[0]


def affine_to_params(theta, family, fixed_size, moving_size, control_points=(4, 4)):
    """The parameters (with a batch axis of 1) of ``family`` closest to the affine ``theta`` (2, 3) or (3, 4).

    Exact for affine, projective (h6 = h7 = 0), TPS (offsets that move each control point
    where theta sends it: a thin plate spline reproduces an affine map) and the dense flow
    (theta's displacement at every fixed pixel or voxel, in moving pixels, at ``fixed_size``,
    the spatial shape (H, W) or (D, H, W)); for attention, the mean of the diagonal as the
    scale and theta's translation. Volumes: affine and dense.
    """
    theta = np.asarray(theta, dtype=np.float64)
    if family == "affine":
        return theta[None].copy()
    if family == "attention":
        return np.array([[(theta[0, 0] + theta[1, 1]) / 2, theta[0, 2], theta[1, 2]]])
    if family == "projective":
        return np.concatenate([theta.reshape(-1), [0.0, 0.0]])[None]
    if family == "tps":
        points = tps_control_points(control_points)
        return (transform_points(theta, points) - points)[None]
    fixed_size = tuple(fixed_size)
    grid = affine_grid(theta[None], (1, 1, *fixed_size)).data[0]
    identity = identity_grid(*fixed_size[-2:], depth=fixed_size[0] if len(fixed_size) == 3 else None)
    flow = (grid - identity) / np.array([pixel_size(s) for s in axis_sizes(tuple(moving_size))])
    return flow[None]
