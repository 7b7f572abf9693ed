"""``register``: align a moving image to a fixed one by gradient descent through the sampler.

The problem. Find parameters ``p`` of a transformation family such that

    grid_sample(moving, grid(p)) ~ fixed          (pull-back warping)

where ``grid(p)`` has the FIXED image's size and holds, for each fixed pixel, the normalised
point of the moving image to read (``align_corners=False``; each image spans its own
[-1, 1] square, so the two images may differ in size). The objective is

    E(p) = D(grid_sample(moving, grid(p)), fixed) + smoothness * R(p)

with D the mean squared error or ``1 - NCC`` and R the diffusion penalty (dense flow only).
Its gradient comes from the same hand-derived backwards a spatial transformer trains with:
the loss, the sampler's grid gradient and the grid generator's parameter gradient.

Coarse to fine. Both images are reduced to ``levels`` resolutions by repeated halving with
the library's own sampler (:mod:`stn_np.registration.pyramid`); the parameters are fitted at
the coarsest level first, where the objective is smoother and each step is cheap, and carried
to the next finer level as its starting point (unchanged for normalised parameters; the dense
flow is resampled and rescaled to the new pixels).

The optimiser is stn_np's Adam. Its step at a level starts at ``lr * lr_per_level**k`` (k
levels above the coarsest; the factor is 0.1 for normalised parameters, whose useful step
shrinks with the pixel, and 0.5 for the dense flow, already in pixels of its level; see
``Schedule.lr_per_level``) and decays along a half cosine to a tenth of that over the level's step budget. A level ends early when
the objective has not improved by a relative ``tol`` for ``patience`` steps.

Precision: float64 throughout (``DTYPE``). float32 would save about a quarter of a 256 x 256
step (the sparse sampler dominates either way), while float64 keeps the gradients summed over
~65k pixels and the tiny final steps free of rounding noise; the default affine registration
of a 256 x 256 pair takes about half a second (benchmarks/bench_registration.py).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..autograd.function import no_grad
from ..autograd.tensor import Tensor
from ..optim import Adam
from ..sampling.grid_sample import grid_sample
from ..sampling.grid_tps import check_control_points
from ..sampling.padding import PADDING_MODES
from ..validation import check_choice, check_int, check_number, describe, fail, values_of
from .losses import LOSSES, similarity_loss
from .schedules import get_schedule
from .pyramid import build_pyramid, level_sizes
from .transforms import theta_to_pixel

__all__ = ["register", "RegistrationResult", "DTYPE", "MIN_LEVEL_SIZE", "DEFAULT_SMOOTHNESS"]

#: The dtype registration computes in (see the module docstring).
DTYPE = np.float64
#: Smallest side, in pixels, that the coarsest pyramid level may have.
MIN_LEVEL_SIZE = 8
#: Default weight of the dense flow's diffusion penalty (objective in unit-variance intensities).
DEFAULT_SMOOTHNESS = 0.2


@dataclass
class RegistrationResult:
    """What :func:`register` returns.

    Attributes
    ----------
    transform : str
        The transformation family.
    params : ndarray
        The fitted parameters without a batch axis, in the family's own convention (see
        :mod:`stn_np.sampling.families`): theta (2, 3), (s, tx, ty), (h0..h7), TPS offsets
        (K, 2), or the dense flow (H, W, 2) in moving-image pixels at the fixed image's size.
    grid : ndarray, shape (H, W, 2)
        The sampling grid at the fixed image's full resolution, normalised, last axis (x, y):
        ``grid_sample(moving[None, None], grid[None])`` (``align_corners=False``,
        ``padding_mode`` below) approximates ``fixed``.
    warped : ndarray
        The moving image sampled with ``grid``, in its original intensities, at the fixed
        image's H x W: 2-D for a 2-D moving image, else (C, H, W).
    loss_history : list of ndarray
        One array per pyramid level, coarsest first: the objective ``E`` (similarity plus
        ``smoothness`` times the penalty) evaluated at each Adam step of that level, before
        the step's update. Intensities are divided by the fixed image's standard deviation
        first, so values do not depend on the images' units.
    level_sizes : list of ((int, int), (int, int))
        Per level, coarsest first, the (H, W) of the fixed and of the moving image.
    loss : str
        "mse" or "ncc".
    loss_before, loss_after : float
        The similarity term (no penalty) at full resolution for the identity parameters and
        for the fitted ones, in the same normalised units.
    seconds : float
        Wall time of the registration.
    padding_mode : str
        What the sampler reads outside the moving image.
    """

    transform: str
    params: np.ndarray
    grid: np.ndarray
    warped: np.ndarray
    loss_history: list
    level_sizes: list
    loss: str
    loss_before: float
    loss_after: float
    seconds: float
    padding_mode: str = "zeros"
    moving_size: tuple = field(default=(0, 0))

    @property
    def steps_run(self):
        """Adam steps taken at each level, coarsest first."""
        return [len(h) for h in self.loss_history]

    def apply(self, image, mode="bilinear"):
        """Warp any image on the moving image's frame with the fitted grid.

        ``image`` is 2-D or (C, H, W), of any size (normalised coordinates: it is taken to
        cover the same field of view as the moving image), e.g. the moving image in colour
        or a label map with ``mode="nearest"``. Returns the fixed image's H x W, the input's
        layout.
        """
        batch, two_d = _as_batch(image, "image", "RegistrationResult.apply")
        with no_grad():
            out = grid_sample(batch, self.grid[None].astype(batch.dtype), mode=mode, padding_mode=self.padding_mode).data
        return out[0, 0] if two_d else out[0]

    def pixel_matrix(self):
        """For ``affine``: the OpenCV pixel matrix (fixed pixel -> moving pixel, integer centres).

        ``cv2.warpAffine(moving, M, (W_fixed, H_fixed), flags=WARP_INVERSE_MAP)`` reproduces
        ``warped``; see :func:`~stn_np.registration.transforms.theta_to_pixel`.
        """
        if self.transform != "affine":
            fail("RegistrationResult.pixel_matrix", "transform", "'affine'", describe(self.transform))
        return theta_to_pixel(self.params, self.moving_size, self.grid.shape[:2])


def _as_batch(image, name, function="register"):
    """A 2-D or (C, H, W) real image as a float64 (1, C, H, W) array, plus whether it was 2-D."""
    try:
        array = values_of(image)
    except (TypeError, ValueError):
        fail(function, name, "a 2-D or (C, H, W) array", f"a {type(image).__name__}", TypeError)
    if array.dtype.kind not in "fiu":
        fail(function, name, "real (float or integer) values", f"dtype {array.dtype}", TypeError)
    if array.ndim not in (2, 3) or array.size == 0:
        fail(function, name, "a non-empty 2-D (H, W) or 3-D (C, H, W) image", f"shape {array.shape}")
    array = array.astype(DTYPE)
    if not np.all(np.isfinite(array)):
        fail(function, name, "finite values", "NaN or inf")
    two_d = array.ndim == 2
    return (array[None, None] if two_d else array[None]), two_d


def _steps_per_level(steps, model, levels):
    if steps is None:
        default = model.steps
        # fewer levels than the defaults describe use the finest entries; more repeat the coarsest
        return list(default[-levels:]) if levels <= len(default) else [default[0]] * (levels - len(default)) + list(default)
    expected = f"an int >= 0 or {levels} such ints (one per level, coarsest first)"
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        steps = [steps] * levels
    if not isinstance(steps, (list, tuple, np.ndarray)) or len(steps) != levels:
        fail("register", "steps", expected, steps)
    return [check_int(s, "register", "steps", minimum=0) for s in steps]


def _check_levels(levels, fixed_hw, moving_hw):
    levels = check_int(levels, "register", "levels", minimum=1)
    smallest = min(*fixed_hw, *moving_hw)
    coarsest = smallest // 2 ** (levels - 1)
    if coarsest < MIN_LEVEL_SIZE:
        most = max(1, int(math.floor(math.log2(smallest / MIN_LEVEL_SIZE))) + 1) if smallest >= MIN_LEVEL_SIZE else 0
        if most:
            fail("register", "levels", f"at most {most} levels (the coarsest keeps >= {MIN_LEVEL_SIZE} px a side)",
                 f"{levels} levels, which shrink the smallest side ({smallest} px) to {coarsest} px")
        fail("register", "fixed", f"fixed and moving images of at least {MIN_LEVEL_SIZE} x {MIN_LEVEL_SIZE} pixels",
             f"{fixed_hw[0]} x {fixed_hw[1]} and {moving_hw[0]} x {moving_hw[1]}")
    return int(levels)


def _check_init(init, model, fixed_hw):
    if init is None:
        return None
    array = values_of(init)
    expected = model.shape(fixed_hw)
    if array.dtype.kind not in "fiu" or array.shape != expected:
        fail("register", "init", f"a real array of shape {expected} for transform {model.name!r}",
             f"{array.dtype} {array.shape}")
    if not np.all(np.isfinite(array)):
        fail("register", "init", "finite values", "NaN or inf")
    return array.astype(DTYPE)[None]


def _objective(model, loss, params, moving, fixed, sizes, smoothness, padding_mode):
    """E(p) at one level, as a Tensor (similarity, plus the weighted penalty for dense)."""
    grid = model.grid(params, *sizes)
    warped = grid_sample(moving, grid, padding_mode=padding_mode)
    value = similarity_loss(loss, warped, fixed)
    penalty = model.penalty(params)
    if penalty is not None and smoothness:
        value = value + penalty * smoothness
    return value


def _fit_level(model, loss, params, moving, fixed, sizes, steps, lr, smoothness, padding_mode, patience, tol):
    """Adam on one level; returns the best parameters seen and the objective history."""
    params = Tensor(params, requires_grad=True)
    optimizer = Adam([params], lr=lr)
    history = []
    best, best_params = math.inf, params.data.copy()
    reference, stalled = math.inf, 0  # the objective at the last significant improvement
    for step in range(steps):
        optimizer.zero_grad()
        value = _objective(model, loss, params, moving, fixed, sizes, smoothness, padding_mode)
        value.backward()
        current = value.item()
        history.append(current)
        if current < best:
            best, best_params = current, params.data.copy()
        # E >= 0 for every loss here, so "relative" is against the value itself
        if current < reference - tol * abs(reference) or not math.isfinite(reference):
            reference, stalled = current, 0
        else:
            stalled += 1
        if patience is not None and stalled >= patience:
            break
        # a half cosine from lr to lr / 10 over the level's budget
        optimizer.param_groups[0]["lr"] = lr * (0.55 + 0.45 * math.cos(math.pi * step / max(steps - 1, 1)))
        optimizer.step()
    if steps:
        # the parameters after the last update were never evaluated; keep them if they are better
        with no_grad():
            last = _objective(model, loss, Tensor(params.data), moving, fixed, sizes, smoothness, padding_mode).item()
        if last < best:
            best_params = params.data.copy()
    return best_params, np.asarray(history, dtype=np.float64)


def register(fixed, moving, transform="affine", loss="mse", levels=3, steps=None, lr=None, smoothness=None,
             init=None, padding_mode="zeros", patience=20, tol=1e-4, control_points=(4, 4)):
    """Register ``moving`` onto ``fixed``: fit a transformation with Adam, coarse to fine.

    Parameters
    ----------
    fixed, moving : array_like
        2-D (H, W) grayscale or (C, H, W) images with real values (integers are converted);
        sizes may differ, channel counts must match. Each image's normalised frame [-1, 1]^2
        covers the whole image (``align_corners=False``).
    transform : {"affine", "attention", "projective", "tps", "dense"}
        The family (see :mod:`stn_np.sampling.families` for each parameterisation).
    loss : {"mse", "ncc"}
        Mean squared error (same intensities expected) or ``1 - NCC`` over the whole image
        (any gain and offset).
    levels : int
        Pyramid levels; the coarsest must keep at least ``MIN_LEVEL_SIZE`` (8) pixels a side.
    steps : int or sequence of int, optional
        Maximum Adam steps per level (one int for all, or one per level, coarsest first).
        Default per transform: affine/attention (150, 80, 40), projective/TPS (200, 100,
        50), dense (200, 150, 100) for 3 levels (the finest entries for fewer levels).
    lr : float, optional
        Adam's initial step at the coarsest level: normalised units for the parametric
        families (default 0.02, about 1% of the image's width), pixels of the coarsest level
        for the dense flow (default 0.2). See the module docstring for the schedule.
    smoothness : float, optional
        Weight of the diffusion penalty of the dense flow (default 0.2); only for
        ``transform="dense"``.
    init : array_like, optional
        Starting parameters (the ``params`` layout of the result; for dense, at the coarsest
        fixed level's size); default the identity.
    padding_mode : {"zeros", "border", "reflection"}
        What the sampler reads outside the moving image.
    patience, tol : int or None, float
        A level stops early after ``patience`` steps without a relative improvement of
        ``tol`` in the objective; ``patience=None`` runs every step.
    control_points : (rows, cols)
        The TPS control lattice.

    Returns
    -------
    RegistrationResult

    Raises
    ------
    ValueError
        Wrong ndim, mismatched channels, NaN/inf, a constant fixed image, images too small for
        ``levels``, unknown transform or loss, bad numbers.
    TypeError
        Non-numeric images.

    Examples
    --------
    >>> import numpy as np
    >>> from stn_np.functional import affine_grid, grid_sample
    >>> rng = np.random.default_rng(0)
    >>> y, x = np.mgrid[0:48, 0:48] / 48.0
    >>> moving = np.sin(6 * x) * np.cos(5 * y) + x
    >>> theta = np.array([[[1.05, 0.08, 0.06], [-0.06, 0.97, -0.04]]])
    >>> fixed = grid_sample(moving[None, None], affine_grid(theta, (1, 1, 48, 48))).data[0, 0]
    >>> result = register(fixed, moving, levels=2)
    >>> bool(np.abs(result.params - theta[0]).max() < 0.01)
    True
    """
    start = time.perf_counter()
    model = get_schedule(transform)
    check_choice(loss, LOSSES, "register", "loss")
    check_choice(padding_mode, PADDING_MODES, "register", "padding_mode")
    fixed_batch, _ = _as_batch(fixed, "fixed")
    moving_batch, moving_2d = _as_batch(moving, "moving")
    if fixed_batch.shape[1] != moving_batch.shape[1]:
        fail("register", "moving", f"{fixed_batch.shape[1]} channel(s), as fixed has",
             f"{moving_batch.shape[1]} channel(s)")
    fixed_hw, moving_hw = fixed_batch.shape[-2:], moving_batch.shape[-2:]
    levels = _check_levels(levels, fixed_hw, moving_hw)
    steps = _steps_per_level(steps, model, levels)
    lr = check_number(model.lr if lr is None else lr, "register", "lr", minimum=0, strict_low=True)
    if smoothness is not None and not model.regularised:
        fail("register", "smoothness", "None for a parametric transform (only 'dense' is regularised)",
             f"{smoothness!r} with transform {transform!r}")
    smoothness = check_number(DEFAULT_SMOOTHNESS if smoothness is None else smoothness, "register", "smoothness",
                              minimum=0)
    if patience is not None:
        patience = check_int(patience, "register", "patience", minimum=1)
    tol = check_number(tol, "register", "tol", minimum=0)
    model = dataclasses.replace(model, control_points=check_control_points(control_points, "register"))
    peak = float(np.abs(fixed_batch).max())  # the std of values >= 1e154 would overflow on its squares
    scale = peak * float((fixed_batch / peak).std()) if peak > 0 else 0.0
    if scale == 0:
        fail("register", "fixed", "an image with some contrast to register against", "a constant image")

    # Dividing both images by one number changes no optimum, but makes loss values and the
    # smoothness weight independent of the images' intensity units.
    fixed_pyramid = build_pyramid(fixed_batch / scale, levels)
    moving_pyramid = build_pyramid(moving_batch / scale, levels)
    sizes = list(zip(level_sizes(*fixed_hw, levels), level_sizes(*moving_hw, levels)))
    sizes = [(tuple(f), tuple(m)) for f, m in sizes]

    params = _check_init(init, model, sizes[0][0])
    if params is None:
        params = model.identity(sizes[0][0], DTYPE)
    history = []
    for k, (level_fixed, level_moving, level_size) in enumerate(zip(fixed_pyramid, moving_pyramid, sizes)):
        if k:
            params = model.carry(params, sizes[k - 1], level_size)
        params, level_history = _fit_level(
            model, loss, params, level_moving, level_fixed, level_size, steps[k],
            lr * model.lr_per_level**k, smoothness, padding_mode, patience, tol,
        )
        history.append(level_history)

    with no_grad():
        grid = model.grid(Tensor(params), fixed_hw, moving_hw).data
        identity = model.grid(Tensor(model.identity(fixed_hw, DTYPE)), fixed_hw, moving_hw).data
        full_fixed, full_moving = fixed_pyramid[-1], moving_pyramid[-1]
        warped_scaled = grid_sample(full_moving, grid, padding_mode=padding_mode)
        loss_after = similarity_loss(loss, warped_scaled, full_fixed).item()
        loss_before = similarity_loss(loss, grid_sample(full_moving, identity, padding_mode=padding_mode), full_fixed).item()
        warped = grid_sample(moving_batch, grid, padding_mode=padding_mode).data[0]
    return RegistrationResult(
        transform=model.name,
        params=params[0],
        grid=grid[0],
        warped=warped[0] if moving_2d else warped,
        loss_history=history,
        level_sizes=sizes,
        loss=loss,
        loss_before=loss_before,
        loss_after=loss_after,
        seconds=time.perf_counter() - start,
        padding_mode=padding_mode,
        moving_size=tuple(moving_hw),
    )
