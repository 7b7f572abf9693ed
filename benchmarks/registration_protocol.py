"""The registration protocol of issue 10: 72 random affine cases over 9 real images, and the tools run on them.

Cases. Nine images, grayscale floats in [0, 1]: matplotlib's MRI slice (256 x 256) and Grace
Hopper (the central 512 x 512 crop, luminance), always; scikit-image's bundled camera,
astronaut, brick, grass, coins, moon and coffee (luminance, native sizes 303 x 384 to
512 x 512, 400 x 600 for coffee) when ``skimage`` is importable (an optional benchmark extra,
like torch). Eight cases per image (``numpy.random.default_rng(1000 + image index)``), each a
random affine map M from fixed pixels to moving pixels (integer pixel centres, about the image
centre): rotation +-25 deg, isotropic scale 0.8 - 1.2, anisotropy 0.95 - 1.05, shear +-0.05,
translation +-12% of the width (x) and height (y), all uniform. The fixed image is the image;
the moving image is the image warped by M (``moving(M p) = fixed(p)``) with bicubic sampling
and 0 outside. Odd cases add 1% Gaussian noise (sigma 0.01) to both images.

Error. The largest distance, in moving-image pixels, between where the estimated and the
true M send the fixed image's four corner pixels and its centre.

Tools (each given the pair as float32/float64 arrays, one thread):

* stn_np: ``register(fixed, moving, transform="affine")`` with every default; M is
  ``result.pixel_matrix()``.
* SimpleITK, as its registration examples and notebooks set up an affine registration, on the
  images in 0 - 255 (as it reads 8-bit files; on [0, 1] its optimiser's default gradient-magnitude
  tolerance, 1e-4, ends the run at the first step: 18% within 1 px instead of about 60%):
  ``CenteredTransformInitializer(fixed, moving, AffineTransform(2), GEOMETRY)``, mean squares,
  regular-step gradient descent (learning rate 1, minimum step 1e-4, 200 iterations, relaxation
  0.5, scales from physical shift), linear interpolation, 3 levels (shrink 4, 2, 1; smoothing
  sigmas 2, 1, 0 pixels). M maps fixed physical points (spacing 1, origin 0 = pixel indices)
  to moving ones: ``transform.TransformPoint``.
* OpenCV ``findTransformECC`` as its documentation's example calls it (MOTION_AFFINE, identity
  start, termination COUNT | EPS, Gaussian pre-filter of size 5), with 100 iterations and
  eps 1e-6 per level on a 3-level ``pyrDown`` pyramid, coarse to fine, the warp carried
  between levels in exact pyramid coordinates (coarse pixel c is fine pixel 2c + 1/2);
  ``cv2.error`` (ECC did not converge) keeps the last warp. ECC's warp maps template (fixed)
  pixels to input (moving) pixels, as ``WARP_INVERSE_MAP`` uses it: it is M.
"""

from __future__ import annotations

import time

import numpy as np

from stn_np.registration.samples import grace_hopper, mri_slice
from stn_np.registration.transforms import pixel_to_theta
from stn_np.sampling.grid_affine import affine_grid
from stn_np.sampling.grid_sample import grid_sample

CASES_PER_IMAGE = 8
NOISE = 0.01
SKIMAGE_IMAGES = ("camera", "astronaut", "brick", "grass", "coins", "moon", "coffee")
_LUMA = np.array([0.299, 0.587, 0.114])


def images():
    """[(name, 2-D float64 image in [0, 1])]: matplotlib's two always, scikit-image's seven when importable."""
    mri = mri_slice()
    out = [("mri", mri / mri.max()), ("grace_hopper", np.tensordot(_LUMA, grace_hopper(512), axes=1))]
    try:
        import skimage.data
    except ImportError:
        return out
    for name in SKIMAGE_IMAGES:
        image = np.asarray(getattr(skimage.data, name)(), dtype=np.float64) / 255.0
        out.append((name, image[..., :3] @ _LUMA if image.ndim == 3 else image))
    return out


def random_matrix(rng, hw):
    """The protocol's random affine M (fixed pixel -> moving pixel), 2 x 3."""
    h, w = hw
    angle = np.deg2rad(rng.uniform(-25, 25))
    scale = rng.uniform(0.8, 1.2)
    aniso = rng.uniform(0.95, 1.05)
    shear = rng.uniform(-0.05, 0.05)
    shift = rng.uniform(-0.12, 0.12, 2) * np.array([w, h])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    linear = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([scale * aniso, scale / aniso])
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    return np.concatenate([linear, (centre - linear @ centre + shift)[:, None]], axis=1)


def _invert(matrix):
    linear = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear, -(linear @ matrix[:, 2:])], axis=1)


def cases():
    """Yield (image name, case index, fixed, moving, true M) for every case."""
    for index, (name, image) in enumerate(images()):
        rng = np.random.default_rng(1000 + index)
        hw = image.shape
        for k in range(CASES_PER_IMAGE):
            matrix = random_matrix(rng, hw)
            # moving(q) = fixed(M^-1 q): sample the image with the grid of M^-1 (moving pixel -> fixed pixel)
            theta = pixel_to_theta(_invert(matrix), hw)
            moving = grid_sample(image[None, None], affine_grid(theta[None], (1, 1, *hw)).data, mode="bicubic",
                                 padding_mode="zeros").data[0, 0]
            fixed = image.copy()
            if k % 2:
                fixed = fixed + rng.normal(0, NOISE, hw)
                moving = moving + rng.normal(0, NOISE, hw)
            yield name, k, fixed, moving, matrix


def error(estimate, truth, hw):
    """Largest distance (moving pixels) between the two maps' images of the four corners and the centre."""
    h, w = hw
    points = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1], [(w - 1) / 2, (h - 1) / 2, 1]],
                      dtype=np.float64)
    return float(np.linalg.norm(points @ (np.asarray(estimate) - truth).T, axis=1).max())


# ------------------------------------------------------------------------------------------- tools
def run_stn_np(fixed, moving):
    from stn_np.registration import register

    return register(fixed, moving, transform="affine").pixel_matrix()


def simpleitk_available():
    try:
        import SimpleITK  # noqa: F401
    except ImportError:
        return False
    return True


def run_simpleitk(fixed, moving):
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    # intensities 0 - 255, as SimpleITK reads the 8-bit files: its optimiser's default gradient-magnitude
    # tolerance (1e-4) stops it at the first step on images scaled to [0, 1]
    f = sitk.GetImageFromArray((255 * fixed).astype(np.float32))
    m = sitk.GetImageFromArray((255 * moving).astype(np.float32))
    initial = sitk.CenteredTransformInitializer(f, m, sitk.AffineTransform(2),
                                                sitk.CenteredTransformInitializerFilter.GEOMETRY)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMeanSquares()
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-4, numberOfIterations=200,
                                                    relaxationFactor=0.5)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2, 1, 0])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(initial, inPlace=False)
    transform = method.Execute(f, m)
    h, w = fixed.shape
    origin = np.array(transform.TransformPoint((0.0, 0.0)))
    ex = np.array(transform.TransformPoint((1.0, 0.0))) - origin
    ey = np.array(transform.TransformPoint((0.0, 1.0))) - origin
    return np.stack([ex, ey, origin], axis=1)


def opencv_available():
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def run_opencv(fixed, moving, levels=3):
    import cv2

    cv2.setNumThreads(1)
    template, image = [fixed.astype(np.float32)], [moving.astype(np.float32)]
    for _ in range(levels - 1):
        template.insert(0, cv2.pyrDown(template[0]))
        image.insert(0, cv2.pyrDown(image[0]))
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    for k in range(levels):
        if k:
            # pyrDown: coarse pixel c sits at fine pixel 2 c + 1/2; conjugate the warp by that map
            linear, shift = warp[:, :2].astype(np.float64), warp[:, 2].astype(np.float64)
            shift = 2 * shift + 0.5 - linear @ np.array([0.5, 0.5])
            warp = np.concatenate([linear, shift[:, None]], axis=1).astype(np.float32)
        try:
            _, warp = cv2.findTransformECC(template[k], image[k], warp, cv2.MOTION_AFFINE, criteria, None, 5)
        except cv2.error:
            pass
    return warp.astype(np.float64)


def tools():
    """[(label, run function)] of the tools available here, stn_np first."""
    out = [("stn_np register(..., transform='affine')", run_stn_np)]
    if simpleitk_available():
        out.append(("SimpleITK (mean squares, RSGD, 3 levels, centred init)", run_simpleitk))
    if opencv_available():
        out.append(("OpenCV findTransformECC (affine, 3-level pyramid)", run_opencv))
    return out


def run_protocol(selected=None, verbose=False, limit=None):
    """Run every case through every tool; returns {label: [(image, case, error, seconds)]}."""
    chosen = [t for t in tools() if selected is None or any(s in t[0].lower() for s in selected)]
    results = {label: [] for label, _ in chosen}
    for count, (name, k, fixed, moving, truth) in enumerate(cases()):
        if limit is not None and count >= limit:
            break
        for label, run in chosen:
            start = time.perf_counter()
            try:
                estimate = run(fixed, moving)
                err = error(estimate, truth, fixed.shape)
            except Exception as exc:  # noqa: BLE001 - a tool that fails a case scores it as a failure
                if verbose:
                    print(f"  {label}: {type(exc).__name__}: {exc}")
                err = float("inf")
            seconds = time.perf_counter() - start
            results[label].append((name, k, err, seconds))
            if verbose:
                print(f"{name:>12} {k} {label[:20]:<20} error {err:8.3f} px  {seconds:6.2f} s", flush=True)
    return results


def summary(rows):
    """(rate <= 0.5, <= 1, <= 2 px, median error, 90th percentile error, median seconds) of one tool."""
    errors = np.array([r[2] for r in rows])
    seconds = np.array([r[3] for r in rows])
    finite = np.where(np.isfinite(errors), errors, 1e9)
    return (float(np.mean(errors <= 0.5)), float(np.mean(errors <= 1)), float(np.mean(errors <= 2)),
            float(np.median(finite)), float(np.percentile(finite, 90)), float(np.median(seconds)))
