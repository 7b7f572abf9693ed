"""``register``: align a moving image to a fixed one by gradient descent through the sampler.

The problem. Find parameters ``p`` of a transformation family such that

    grid_sample(moving, grid(p)) ~ fixed          (pull-back warping)

where ``grid(p)`` has the FIXED image's size and holds, for each fixed pixel, the normalised
point of the moving image to read (``align_corners=False``; each image spans its own
[-1, 1] square, so the two images may differ in size). The objective is

    E(p) = D(grid_sample(moving, grid(p)), fixed) + smoothness * R(p)

with D the mean squared error, ``1 - NCC`` or negative Mattes mutual information, and R the
diffusion penalty (dense flow only). D counts only the overlap: fixed pixels whose sample lies
inside the moving image, normalised by their number (``masked=False`` restores the zero-padded
objective, which rewards zooming in on photographs; ``docs/derivations.md`` section 11). Its
gradient comes from the same hand-derived backwards a spatial transformer trains with: the
loss, the sampler's grid gradient and the grid generator's parameter gradient.

The stages. (1) A global start (``init="auto"``, :mod:`stn_np.registration.initialise`):
rotation x scale x translation searched on 64-pixel copies, so the descent starts in the right
valley. (2) Coarse to fine: both images are reduced to ``levels`` resolutions by a Gaussian
low-pass and halving (:mod:`stn_np.registration.pyramid`); the parameters are fitted at
the coarsest level first, where the objective is smoother and each step is cheap, and carried
to the next finer level as its starting point (unchanged for normalised parameters; the dense
flow is resampled and rescaled to the new pixels).

The optimiser is stn_np's Adam. Its step at a level starts at ``lr * lr_per_level**k`` (k
levels above the coarsest; the factor is 0.1 for normalised parameters, whose useful step
shrinks with the pixel, and 0.5 for the dense flow, already in pixels of its level; see
``Schedule.lr_per_level``) and decays along a half cosine to a tenth of that over the level's
step budget. A level ends early when the objective has not improved by a relative ``tol`` for
``patience`` steps; a step that shrinks the overlap below ``min_overlap`` is undone.
(3) A sharp finish (``refine=True``, parametric families): at full resolution, Levenberg-
Marquardt on the overlap-masked bicubic MSE (a short bicubic Adam for ncc and mi); with it
the finest level's default Adam budget is 0.

Volumes. ``spatial_dims=3`` registers (D, H, W) or (C, D, H, W) volumes with the families that
have a volumetric form, ``affine`` (theta 3 x 4) and ``dense`` (a voxel flow (D, H, W, 3) with
the 3-D diffusion penalty); the other families are 2-D only and refused. Every stage is the
same code one axis up: the overlap mask is a box in three coordinates, the pyramid blurs and
halves every axis (``pyramid``), the global start uses centres of mass, principal axes and 3-D
FFT shifts (``initialise``), and the finish is Gauss-Newton on the *trilinear* objective,
since there is no bicubic kernel for volumes (PyTorch has none either; ``grid_sample`` refuses
it): a trilinear sample is piecewise linear between voxels, which costs the finish some
sharpness but not its convergence on smooth volumes. A 3-D input with the default
``spatial_dims=2`` still means (C, H, W): channels of an image.

Precision: float64 throughout (``DTYPE``). float32 would save about a quarter of a 256 x 256
step (the sparse sampler dominates either way), while float64 keeps the gradients summed over
~65k pixels and the tiny final steps free of rounding noise; the default affine registration
of a 256 x 256 pair takes about 0.6 s, of a 512 x 512 photograph about 1.5 s
(``benchmarks/bench_registration.py``, and its ``--protocol``).
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
from ..sampling.coords import SPATIAL_DIMS, axis_sizes
from ..sampling.grid_sample import grid_sample
from ..sampling.grid_tps import check_control_points
from ..sampling.padding import PADDING_MODES
from ..validation import check_bool, check_choice, check_int, check_number, describe, fail, values_of
from .initialise import affine_to_params, global_search, overlap_mask
from .losses import LOSSES, similarity_loss
from .schedules import TRANSFORMS, get_schedule
from .pyramid import build_pyramid, level_sizes
from .transforms import theta_to_pixel

__all__ = ["register", "RegistrationResult", "DTYPE", "MIN_LEVEL_SIZE", "DEFAULT_SMOOTHNESS", "MIN_OVERLAP",
           "REFINE_ITERATIONS", "REFINE_STEPS"]

#: The dtype registration computes in (see the module docstring).
DTYPE = np.float64
#: Smallest side, in pixels, that the coarsest pyramid level may have.
MIN_LEVEL_SIZE = 8
#: Default weight of the dense flow's diffusion penalty (objective in unit-variance intensities).
DEFAULT_SMOOTHNESS = 0.2
#: Default smallest overlap (fraction of the fixed image) a masked objective may shrink to.
MIN_OVERLAP = 0.25
#: Most objective evaluations of the final Gauss-Newton refinement (loss="mse").
REFINE_ITERATIONS = 6
#: Adam steps of the final refinement for loss="ncc" or "mi".
REFINE_STEPS = 20
#: Families whose grid is linear in the parameters (their Jacobian is computed once).
_LINEAR = ("affine", "attention", "tps")


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
        (K, 2), or the dense flow (H, W, 2) in moving-image pixels at the fixed image's size;
        for volumes theta (3, 4) or the flow (D, H, W, 3) in moving-volume voxels.
    grid : ndarray, shape (H, W, 2) or (D, H, W, 3)
        The sampling grid at the fixed image's full resolution, normalised, last axis (x, y)
        or (x, y, z): ``grid_sample(moving[None, None], grid[None])`` (``align_corners=False``,
        ``padding_mode`` below) approximates ``fixed``.
    warped : ndarray
        The moving image sampled with ``grid``, in its original intensities, at the fixed
        image's size, in the moving image's layout: (H, W) or (C, H, W); for volumes
        (D, H, W) or (C, D, H, W).
    loss_history : list of ndarray
        One array per pyramid level, coarsest first: the objective ``E`` (similarity plus
        ``smoothness`` times the penalty) evaluated at each Adam step of that level, before
        the step's update. Intensities are divided by the fixed image's standard deviation
        first, so values do not depend on the images' units.
    level_sizes : list of (tuple, tuple)
        Per level, coarsest first, the spatial shape ((H, W), or (D, H, W) for volumes) of the
        fixed and of the moving image.
    loss : str
        "mse", "ncc" or "mi".
    loss_before, loss_after : float
        The similarity term (no penalty) at full resolution for the identity parameters and
        for the fitted ones, in the same normalised units, as the final objective measures
        it (overlap-masked unless ``masked=False``; bicubic after a refinement).
    seconds : float
        Wall time of the registration.
    padding_mode : str
        What the sampler reads outside the moving image.
    moving_size : tuple
        The moving image's (H, W), or (D, H, W).
    init : str
        How the descent started: "auto" (the global search), "identity" or "array".
    start_params : ndarray
        The parameters the descent started from (the global search's estimate for "auto").
    refinement_history : ndarray
        The objective at each accepted step of the full-resolution refinement (bicubic for
        images, trilinear for volumes; empty without one).
    overlap : float
        The fraction of fixed pixels whose sample lies inside the moving image, at the end.
    masked : bool
        Whether the objective counted only the overlap.
    spatial_dims : int
        2 for images, 3 for volumes.
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
    init: str = "identity"
    start_params: np.ndarray = None
    refinement_history: np.ndarray = None
    overlap: float = 1.0
    masked: bool = True
    spatial_dims: int = 2

    @property
    def steps_run(self):
        """Adam steps taken at each level, coarsest first."""
        return [len(h) for h in self.loss_history]

    def apply(self, image, mode="bilinear"):
        """Warp any image on the moving image's frame with the fitted grid.

        ``image`` is 2-D or (C, H, W) (for a volume registration (D, H, W) or (C, D, H, W)),
        of any size (normalised coordinates: it is taken to cover the same field of view as
        the moving image), e.g. the moving image in colour or a label map with
        ``mode="nearest"``. Returns the fixed image's size, the input's layout.
        """
        batch, plain = _as_batch(image, "image", "RegistrationResult.apply", self.spatial_dims)
        with no_grad():
            out = grid_sample(batch, self.grid[None].astype(batch.dtype), mode=mode, padding_mode=self.padding_mode).data
        return out[0, 0] if plain else out[0]

    def pixel_matrix(self):
        """For ``affine``: the OpenCV pixel matrix (fixed pixel -> moving pixel, integer centres).

        ``cv2.warpAffine(moving, M, (W_fixed, H_fixed), flags=WARP_INVERSE_MAP)`` reproduces
        ``warped``; see :func:`~stn_np.registration.transforms.theta_to_pixel`. For volumes
        the 3 x 4 voxel matrix: fixed voxel (x, y, z) reads moving voxel ``M @ (x, y, z, 1)``.
        """
        if self.transform != "affine":
            fail("RegistrationResult.pixel_matrix", "transform", "'affine'", describe(self.transform))
        return theta_to_pixel(self.params, self.moving_size, self.grid.shape[:-1])


_LAYOUTS = {2: ("a non-empty 2-D (H, W) or 3-D (C, H, W) image", "a 2-D or (C, H, W) array"),
            3: ("a non-empty 3-D (D, H, W) or 4-D (C, D, H, W) volume", "a 3-D or (C, D, H, W) array")}


def _as_batch(image, name, function="register", spatial_dims=2):
    """A real image (volume) as a float64 (1, C, *spatial) array, plus whether it had no channel axis."""
    expected, kind = _LAYOUTS[spatial_dims]
    try:
        array = values_of(image)
    except (TypeError, ValueError):
        fail(function, name, kind, f"a {type(image).__name__}", TypeError)
    if array.dtype.kind not in "fiu":
        fail(function, name, "real (float or integer) values", f"dtype {array.dtype}", TypeError)
    if array.ndim not in (spatial_dims, spatial_dims + 1) or array.size == 0:
        fail(function, name, expected, f"shape {array.shape}")
    array = array.astype(DTYPE)
    if not np.all(np.isfinite(array)):
        fail(function, name, "finite values", "NaN or inf")
    plain = array.ndim == spatial_dims
    return (array[None, None] if plain else array[None]), plain


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


def _check_levels(levels, fixed_shape, moving_shape):
    levels = check_int(levels, "register", "levels", minimum=1)
    unit = "px" if len(fixed_shape) == 2 else "voxels"
    smallest = min(*fixed_shape, *moving_shape)
    coarsest = smallest // 2 ** (levels - 1)
    if coarsest < MIN_LEVEL_SIZE:
        most = max(1, int(math.floor(math.log2(smallest / MIN_LEVEL_SIZE))) + 1) if smallest >= MIN_LEVEL_SIZE else 0
        if most:
            fail("register", "levels", f"at most {most} levels (the coarsest keeps >= {MIN_LEVEL_SIZE} {unit} a side)",
                 f"{levels} levels, which shrink the smallest side ({smallest} {unit}) to {coarsest} {unit}")
        what = ("images", "pixels") if len(fixed_shape) == 2 else ("volumes", "voxels")
        least = " x ".join([str(MIN_LEVEL_SIZE)] * len(fixed_shape))
        fail("register", "fixed", f"fixed and moving {what[0]} of at least {least} {what[1]}",
             f"{' x '.join(map(str, fixed_shape))} and {' x '.join(map(str, moving_shape))}")
    return int(levels)


def _check_init(init, model, fixed_shape):
    """"auto", "identity", or the user's starting parameters (with a batch axis)."""
    if isinstance(init, str):
        return check_choice(init, ("auto", "identity"), "register", "init")
    array = values_of(init)
    expected = model.shape(fixed_shape)
    if array.dtype.kind not in "fiu" or array.shape != expected:
        fail("register", "init", f"'auto', 'identity' or a real array of shape {expected} for transform "
             f"{model.name!r}", f"{array.dtype} {array.shape}")
    if not np.all(np.isfinite(array)):
        fail("register", "init", "finite values", "NaN or inf")
    return array.astype(DTYPE)[None]


@dataclass
class _Objective:
    """E(p) at one level: the images, what counts, and how they are sampled."""

    model: object
    loss: str
    moving: np.ndarray
    fixed: np.ndarray
    sizes: tuple
    smoothness: float
    padding_mode: str
    masked: bool
    ranges: tuple = None
    mode: str = "bilinear"

    def __call__(self, params):
        """(E as a Tensor, the overlap fraction); E is None when the overlap is empty."""
        grid = self.model.grid(params, *self.sizes)
        weight, padding = None, self.padding_mode
        overlap = 1.0
        if self.masked:
            # the mask decides what counts; border padding keeps the edge pixels' taps real
            weight, padding = overlap_mask(grid.data, self.sizes[1]), "border"
            overlap = float(weight.mean())
            if overlap == 0:
                return None, 0.0
        warped = grid_sample(self.moving, grid, mode=self.mode, padding_mode=padding)
        value = similarity_loss(self.loss, warped, self.fixed, weight, self.ranges)
        penalty = self.model.penalty(params)
        if penalty is not None and self.smoothness:
            value = value + penalty * self.smoothness
        return value, overlap


def _fit_level(objective, params, steps, lr, patience, tol, guard):
    """Adam on one level; returns the best parameters seen and the objective history.

    A step that leaves less than ``guard`` of the fixed image overlapping is undone (back to
    the best parameters, with a fresh Adam at half the step), so the overlap cannot collapse.
    """
    params = Tensor(params, requires_grad=True)
    optimizer = Adam([params], lr=lr)
    history = []
    best, best_params = math.inf, params.data.copy()
    reference, stalled = math.inf, 0  # the objective at the last significant improvement
    for step in range(steps):
        optimizer.zero_grad()
        value, overlap = objective(params)
        if value is None or overlap < guard:
            params.data[...] = best_params
            lr *= 0.5
            optimizer = Adam([params], lr=lr)
            history.append(best)
            stalled += 1
            if patience is not None and stalled >= patience:
                break
            continue
        value.backward()
        current = value.item()
        history.append(current)
        if current < best:
            best, best_params = current, params.data.copy()
        # E >= 0 for mse and ncc; mi is negative, so "relative" is against its magnitude
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
            last, overlap = objective(Tensor(params.data))
        if last is not None and overlap >= guard and last.item() < best:
            best_params = params.data.copy()
    return best_params, np.asarray(history, dtype=np.float64)


def _grid_jacobian(model, params, sizes, step=1e-4):
    """d grid / d params, (points * d, P), by central differences of the family's generator.

    Exact to rounding for families whose grid is linear in the parameters; for projective an
    O(step^2) linearisation (it only has to point Gauss-Newton downhill).
    """
    flat = params.reshape(-1)
    columns = []
    with no_grad():
        for k in range(flat.size):
            delta = np.zeros_like(flat)
            delta[k] = step
            plus = model.grid(Tensor((flat + delta).reshape(params.shape)), *sizes).data
            minus = model.grid(Tensor((flat - delta).reshape(params.shape)), *sizes).data
            columns.append(((plus - minus) / (2 * step)).reshape(-1))
    return np.stack(columns, axis=1)


def _residuals(objective, params, need_jacobian):
    """Masked residuals of the finishing warp: (E, overlap, r (C, n), mask (n,), dW/dgrid (C, n, d) or None)."""
    model, (fixed_shape, moving_shape) = objective.model, objective.sizes
    with no_grad():
        grid = model.grid(Tensor(params), fixed_shape, moving_shape).data
    mask = overlap_mask(grid, moving_shape).reshape(-1)
    overlap = float(mask.mean())
    if not objective.masked:  # every pixel counts, reading the padding outside
        mask = np.ones_like(mask)
    elif overlap == 0:
        return math.inf, 0.0, None, mask, None
    grid_tensor = Tensor(grid, requires_grad=need_jacobian)
    padding = "border" if objective.masked else objective.padding_mode
    warped = grid_sample(objective.moving, grid_tensor, mode=objective.mode, padding_mode=padding)
    channels = warped.shape[1]
    r = (warped.data - objective.fixed).reshape(channels, -1)
    value = float(np.einsum("cn,cn,n->", r, r, mask) / (channels * mask.sum()))
    spatial = None
    if need_jacobian:
        spatial = []
        for c in range(channels):
            upstream = np.zeros_like(warped.data)
            upstream[:, c] = 1
            grid_tensor.zero_grad()
            warped.backward(upstream, retain_graph=c < channels - 1)
            spatial.append(grid_tensor.grad.reshape(-1, grid.shape[-1]))
        spatial = np.stack(spatial)
    return value, overlap, r, mask, spatial


def _refine_gauss_newton(objective, params, guard, iterations=REFINE_ITERATIONS):
    """Levenberg-Marquardt on the masked bicubic (volumes: trilinear) MSE at full resolution; returns (params, history).

    With residuals ``r_i = W(grid_i(p)) - F_i`` on the overlap, the step solves
    ``(J^T M J + lambda diag(J^T M J)) dp = -J^T M r`` with ``J = dW/dgrid . dgrid/dp``: the
    sampler's own position gradient (its backward with an upstream of ones, per channel) times
    the grid generator's Jacobian. A step is kept only if it lowers the objective.
    """
    history = []
    value, _, r, mask, spatial = _residuals(objective, params, True)
    history.append(value)
    jacobian = None
    damping = 1e-3
    evaluations = 1
    _, moving_shape = objective.sizes
    d = len(moving_shape)
    to_pixels = np.array(axis_sizes(tuple(moving_shape))) / 2
    while evaluations < iterations:
        if jacobian is None or objective.model.name not in _LINEAR:
            jacobian = _grid_jacobian(objective.model, params, objective.sizes).reshape(-1, d, params.size)
        # J_c (n, P) for each channel: sum over the grid's (x, y[, z]) of dW_c/dgrid * dgrid/dp
        normal = np.zeros((params.size, params.size))
        gradient = np.zeros(params.size)
        for c in range(spatial.shape[0]):
            j = np.einsum("nx,nxp->np", spatial[c], jacobian)
            weighted = j * mask[:, None]
            normal += weighted.T @ j
            gradient += weighted.T @ r[c]
        while evaluations < iterations:
            try:
                step = -np.linalg.solve(normal + damping * np.diag(np.diag(normal)), gradient)
            except np.linalg.LinAlgError:
                return params, history
            candidate = params + step.reshape(params.shape)
            new = _residuals(objective, candidate, True)
            evaluations += 1
            if new[0] < value and new[1] >= guard:
                moved = np.abs(jacobian @ step).reshape(-1, d) * to_pixels
                params, (value, _, r, mask, spatial) = candidate, new
                history.append(value)
                damping = max(damping / 10, 1e-7)
                if moved.max() < 0.005:  # the grid moved less than 1/200 pixel anywhere
                    return params, history
                break
            damping *= 10
        else:
            break
    return params, history


def _fit_or_refine(objective, params, loss, lr, guard, patience, tol):
    """The full-resolution finish: Gauss-Newton for mse, a short Adam otherwise (bicubic; volumes: trilinear)."""
    if loss == "mse":
        return _refine_gauss_newton(objective, params, guard)
    params, history = _fit_level(objective, params, REFINE_STEPS, lr, patience, tol, guard)
    return params, list(history)


def register(fixed, moving, transform="affine", loss="mse", levels=3, steps=None, lr=None, smoothness=None,
             init="auto", padding_mode="zeros", patience=20, tol=1e-4, control_points=(4, 4), masked=True,
             min_overlap=MIN_OVERLAP, refine=True, spatial_dims=2):
    """Register ``moving`` onto ``fixed``: a global start, Adam coarse to fine, a bicubic finish.

    Parameters
    ----------
    fixed, moving : array_like
        2-D (H, W) grayscale or (C, H, W) images with real values (integers are converted);
        sizes may differ, channel counts must match. Each image's normalised frame [-1, 1]^2
        covers the whole image (``align_corners=False``). With ``spatial_dims=3``: (D, H, W)
        or (C, D, H, W) volumes, the frame [-1, 1]^3.
    transform : {"affine", "attention", "projective", "tps", "dense"}
        The family (see :mod:`stn_np.sampling.families` for each parameterisation); volumes
        take "affine" or "dense".
    loss : {"mse", "ncc", "mi"}
        Mean squared error (same intensities expected), ``1 - NCC`` (any gain and offset) or
        negative Mattes mutual information (any intensity relation, e.g. two modalities).
    levels : int
        Pyramid levels (Gaussian low-pass before each halving, see
        :mod:`~stn_np.registration.pyramid`); the coarsest must keep at least
        ``MIN_LEVEL_SIZE`` (8) pixels a side.
    steps : int or sequence of int, optional
        Maximum Adam steps per level (one int for all, or one per level, coarsest first).
        Default per transform: affine/attention (150, 40, 40), projective/TPS (200, 100,
        50), dense (200, 150, 100) for 3 levels (the finest entries for fewer levels); with
        the refinement (parametric families, ``refine=True``) the default for the finest
        level is 0: the refinement fits the full resolution instead of Adam.
    lr : float, optional
        Adam's initial step at the coarsest level: normalised units for the parametric
        families (default 0.02, about 1% of the image's width), pixels of the coarsest level
        for the dense flow (default 0.2). See the module docstring for the schedule.
    smoothness : float, optional
        Weight of the diffusion penalty of the dense flow (default 0.2); only for
        ``transform="dense"``.
    init : "auto", "identity" or array_like
        Where the descent starts. "auto" (default): a global search over rotation x scale x
        translation on a 64-pixel copy of the images (:mod:`~stn_np.registration.initialise`;
        reach about +-38 degrees, scale 0.67 - 1.5, any shift leaving 40% overlap), expressed
        in the family's parameters. "identity": the identity. An array: starting parameters
        in the ``params`` layout of the result (for dense, at the coarsest fixed level's size).
    padding_mode : {"zeros", "border", "reflection"}
        What the sampler reads outside the moving image for ``result.warped`` and ``apply``,
        and, with ``masked=False``, inside the objective.
    patience, tol : int or None, float
        A level stops early after ``patience`` steps without a relative improvement of
        ``tol`` in the objective; ``patience=None`` runs every step.
    control_points : (rows, cols)
        The TPS control lattice.
    masked : bool
        True (default): only fixed pixels whose sample lies inside the moving image count,
        and each similarity is normalised by their number (the overlap). False: every fixed
        pixel counts and pixels outside read ``padding_mode`` (the biased objective of
        earlier versions; with zeros it rewards zooming in).
    min_overlap : float in (0, 1]
        The overlap guard: a step that leaves less than this fraction of the fixed image
        overlapping (or half the starting overlap, if that is smaller) is undone.
    refine : bool
        After the pyramid, refine at full resolution with bicubic sampling (trilinear for
        volumes): Gauss-Newton (Levenberg-Marquardt, at most ``REFINE_ITERATIONS``
        evaluations) for ``mse``, ``REFINE_STEPS`` Adam steps for ``ncc``/``mi``. Parametric
        families only (the dense flow's last level is already at full resolution).
    spatial_dims : {2, 3}
        2 (default): images, and a 3-D array is (C, H, W). 3: volumes, and a 3-D array is
        (D, H, W), a 4-D one (C, D, H, W). See the module docstring for what changes.

    Returns
    -------
    RegistrationResult

    Raises
    ------
    ValueError
        Wrong ndim, mismatched channels, NaN/inf, a constant fixed image, images too small for
        ``levels``, unknown transform or loss, a 2-D-only transform with ``spatial_dims=3``,
        bad numbers, a starting transform under which no fixed pixel samples the moving image.
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

    A volume, a small shift and rotation about the depth axis:

    >>> z, y, x = np.mgrid[0:24, 0:24, 0:24] / 24.0
    >>> volume = np.sin(5 * x) * np.cos(4 * y) + np.cos(3 * z) + x * z
    >>> a = 0.1
    >>> theta = np.array([[[np.cos(a), -np.sin(a), 0, 0.05], [np.sin(a), np.cos(a), 0, -0.04], [0, 0, 1, 0.03]]])
    >>> fixed = grid_sample(volume[None, None], affine_grid(theta, (1, 1, 24, 24, 24))).data[0, 0]
    >>> result = register(fixed, volume, levels=2, spatial_dims=3)
    >>> result.params.shape, bool(np.abs(result.params - theta[0]).max() < 0.01)
    ((3, 4), True)
    """
    start = time.perf_counter()
    spatial_dims = check_choice(check_int(spatial_dims, "register", "spatial_dims"), SPATIAL_DIMS, "register",
                                "spatial_dims")
    model = get_schedule(transform)
    if spatial_dims not in model.family.spatial_dims:
        volumetric = " or ".join(repr(name) for name in TRANSFORMS if 3 in get_schedule(name).family.spatial_dims)
        fail("register", "transform", f"{volumetric} with spatial_dims=3 (the {model.name} family is 2-D only)",
             describe(transform))
    check_choice(loss, LOSSES, "register", "loss")
    check_choice(padding_mode, PADDING_MODES, "register", "padding_mode")
    masked = check_bool(masked, "register", "masked")
    refine = check_bool(refine, "register", "refine")
    min_overlap = check_number(min_overlap, "register", "min_overlap", minimum=0, maximum=1, strict_low=True)
    fixed_batch, _ = _as_batch(fixed, "fixed", spatial_dims=spatial_dims)
    moving_batch, moving_plain = _as_batch(moving, "moving", spatial_dims=spatial_dims)
    if fixed_batch.shape[1] != moving_batch.shape[1]:
        fail("register", "moving", f"{fixed_batch.shape[1]} channel(s), as fixed has",
             f"{moving_batch.shape[1]} channel(s)")
    fixed_shape, moving_shape = fixed_batch.shape[2:], moving_batch.shape[2:]
    levels = _check_levels(levels, fixed_shape, moving_shape)
    refine = refine and model.family.parametric
    explicit_steps = steps is not None
    steps = _steps_per_level(steps, model, levels)
    if refine and not explicit_steps and levels > 1:
        steps[-1] = 0  # the full-resolution level is the refinement's (Gauss-Newton is faster and sharper there)
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
    if loss == "mi" and float(moving_batch.std()) == 0:
        fail("register", "moving", "an image with some contrast for loss 'mi'", "a constant image")
    sizes = list(zip(level_sizes(fixed_shape, levels), level_sizes(moving_shape, levels)))
    params = _check_init(init, model, sizes[0][0])

    # Dividing both images by one number changes no optimum, but makes loss values and the
    # smoothness weight independent of the images' intensity units.
    fixed_scaled, moving_scaled = fixed_batch / scale, moving_batch / scale
    fixed_pyramid = build_pyramid(fixed_scaled, levels)
    moving_pyramid = build_pyramid(moving_scaled, levels)
    # mutual information bins each image over its whole range, the same at every level
    ranges = ((float(moving_scaled.min()), float(moving_scaled.max())),
              (float(fixed_scaled.min()), float(fixed_scaled.max()))) if loss == "mi" else None

    started = params if isinstance(params, str) else "array"
    if started == "identity":
        params = model.identity(sizes[0][0], DTYPE)
    elif started == "auto":
        theta = global_search(fixed_scaled, moving_scaled, loss, rotation=model.name != "attention", ranges=ranges)
        params = affine_to_params(theta, model.name, *sizes[0], control_points=model.control_points)
    start_params = params[0].copy()

    objectives = [_Objective(model, loss, m, f, size, smoothness, padding_mode, masked, ranges)
                  for f, m, size in zip(fixed_pyramid, moving_pyramid, sizes)]
    guard = 0.0
    if masked:
        with no_grad():
            _, overlap = objectives[0](Tensor(params))
        if overlap == 0:
            fail("register", "init", "a start under which the images overlap (some fixed pixel sampling the "
                 "moving image)", "none: every fixed pixel maps outside the moving image")
        guard = min(min_overlap, 0.5 * overlap)

    history = []
    for k, objective in enumerate(objectives):
        if k:
            params = model.carry(params, sizes[k - 1], sizes[k])
        params, level_history = _fit_level(objective, params, steps[k], lr * model.lr_per_level**k, patience, tol,
                                           guard)
        history.append(level_history)

    # bicubic where there is one: images (volumes have no bicubic kernel; trilinear it is)
    final = dataclasses.replace(objectives[-1], mode="bicubic" if refine and spatial_dims == 2 else "bilinear")
    refinement = []
    if refine:
        params, refinement = _fit_or_refine(final, params, loss, lr * model.lr_per_level**levels, guard, patience, tol)

    with no_grad():
        grid = model.grid(Tensor(params), fixed_shape, moving_shape).data
        value, overlap = final(Tensor(params))
        loss_after = _similarity_only(final, Tensor(params))
        loss_before = _similarity_only(final, Tensor(model.identity(fixed_shape, DTYPE)))
        warped = grid_sample(moving_batch, grid, padding_mode=padding_mode).data[0]
    return RegistrationResult(
        transform=model.name,
        params=params[0],
        grid=grid[0],
        warped=warped[0] if moving_plain else warped,
        loss_history=history,
        level_sizes=sizes,
        loss=loss,
        loss_before=loss_before,
        loss_after=loss_after,
        seconds=time.perf_counter() - start,
        padding_mode=padding_mode,
        moving_size=tuple(moving_shape),
        init=started,
        start_params=start_params,
        refinement_history=np.asarray(refinement, dtype=np.float64),
        overlap=overlap,
        masked=masked,
        spatial_dims=spatial_dims,
    )


def _similarity_only(objective, params):
    """The similarity term (no penalty) of ``objective`` at ``params``; inf when nothing overlaps."""
    value, _ = dataclasses.replace(objective, smoothness=0.0)(params)
    return math.inf if value is None else value.item()
