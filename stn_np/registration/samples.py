"""Test images: real ones shipped with matplotlib, a synthetic volume, and random warps with known answers.

Used by the tests, the benchmark and the notebooks: a registration is checked by warping a
real image (or the phantom volume) with a transformation drawn at random, registering the
warp back, and comparing the recovered transformation with the drawn one.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from .pyramid import blur, resample
from .transforms import pixel_to_theta

__all__ = ["mri_slice", "grace_hopper", "random_affine", "random_affine_3d", "ellipsoid_phantom", "smooth_flow",
           "spline_warp", "PHANTOM_ELLIPSOIDS"]

#: The phantom's ellipsoids: (value added inside, centre (x, y, z), semi-axes (x, y, z), rotation about z in
#: degrees), in the normalised cube [-1, 1]^3 (z along the depth). An outer head with a shell, two tilted
#: "ventricles" of different sizes and a few small lesions placed off every symmetry plane, so that no
#: rotation or mirror maps the phantom onto itself and its principal axes are distinct (semi-axes
#: 0.70, 0.86, 0.78).
PHANTOM_ELLIPSOIDS = (
    (1.0, (0.0, 0.0, 0.0), (0.70, 0.86, 0.78), 0.0),
    (-0.7, (0.0, -0.02, 0.0), (0.62, 0.78, 0.70), 0.0),
    (0.45, (0.20, 0.08, 0.05), (0.12, 0.30, 0.22), -18.0),
    (0.30, (-0.22, 0.02, -0.08), (0.16, 0.38, 0.26), 22.0),
    (0.60, (0.05, 0.45, 0.30), (0.18, 0.12, 0.16), 0.0),
    (0.50, (-0.30, -0.42, 0.28), (0.10, 0.14, 0.12), 35.0),
    (0.70, (0.32, -0.30, -0.35), (0.09, 0.09, 0.15), 0.0),
    (-0.25, (0.02, -0.55, -0.05), (0.20, 0.08, 0.10), 10.0),
)


def _sample_data(name):
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "sample_data", name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"matplotlib's sample data has no {name} (looked in {path})")
    return path


def mri_slice():
    """The 256 x 256 MRI slice of matplotlib's sample data (``s1045.ima.gz``), float64.

    The file is raw big-endian 16-bit pixels, gzip-compressed, no header.
    """
    with gzip.open(_sample_data("s1045.ima.gz")) as f:
        raw = f.read()
    return np.frombuffer(raw, ">u2").reshape(256, 256).astype(np.float64)


def grace_hopper(size=256):
    """Matplotlib's ``grace_hopper.jpg`` as a (3, size, size) float64 RGB image in [0, 1].

    The 600 x 512 photograph is cropped to its central 512 x 512 square and resized with the
    library's sampler (for ``size=256``, each output pixel is the mean of a 2 x 2 block).
    """
    from matplotlib import image as mpimg

    photo = np.asarray(mpimg.imread(_sample_data("grace_hopper.jpg")), dtype=np.float64) / 255.0
    h, w = photo.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = np.ascontiguousarray(photo[top:top + side, left:left + side].transpose(2, 0, 1))
    return resample(square[None], (size, size))[0] if size != side else square


def random_affine(rng, size, max_rotation=20.0, scale=(0.85, 1.15), max_shift=0.1):
    """A random affine warp as ``theta`` (2, 3) for an image of ``size`` = (H, W) (same in and out).

    In pixels (integer centres, y down) the fixed -> moving map is a rotation by an angle in
    ``[-max_rotation, max_rotation]`` degrees and an isotropic scaling in ``scale``, both
    about the image centre, followed by a shift of up to ``max_shift`` times the width in
    each direction (uniform draws).
    """
    h, w = size
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    s = rng.uniform(*scale)
    shift = rng.uniform(-max_shift, max_shift, 2) * w
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    linear = s * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = np.concatenate([linear, (centre - linear @ centre + shift)[:, None]], axis=1)
    return pixel_to_theta(matrix, size)


def random_affine_3d(rng, size, max_rotation=20.0, scale=(0.9, 1.1), max_shift=0.1):
    """A random affine warp of a volume as ``theta`` (3, 4) for ``size`` = (D, H, W) (same in and out).

    In voxels (integer centres, (x, y, z) along (W, H, D)) the fixed -> moving map is a
    rotation by an angle in ``[-max_rotation, max_rotation]`` degrees about an axis drawn
    uniformly on the sphere and an isotropic scaling in ``scale``, both about the volume's
    centre, followed by a shift of up to ``max_shift`` times each side along each axis.
    """
    sides = np.array(size[::-1], dtype=np.float64)  # (W, H, D): the voxel axes x, y, z
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross  # Rodrigues
    linear = rng.uniform(*scale) * rotation
    shift = rng.uniform(-max_shift, max_shift, 3) * sides
    centre = (sides - 1) / 2
    matrix = np.concatenate([linear, (centre - linear @ centre + shift)[:, None]], axis=1)
    return pixel_to_theta(matrix, tuple(size))


def ellipsoid_phantom(size=32, smooth=1.0):
    """A Shepp-Logan-style head phantom of ellipsoids, (size, size, size) float64, smoothed.

    The design follows Shepp and Logan's head phantom (1974) and its 3-D form in Kak and
    Slaney's *Principles of Computerized Tomographic Imaging* (1988): ellipsoids, each adding a
    constant inside, a bright shell around a darker interior with smaller structures. The
    ellipsoids here are this library's own (:data:`PHANTOM_ELLIPSOIDS`), chosen for
    registration: no symmetry, distinct principal axes and contrast at several scales.
    Voxel (k, i, j) sits at the normalised centre of its cell (``align_corners=False``), so
    the phantom covers the same cube at every size. ``smooth`` is the standard deviation, in
    voxels, of a Gaussian blur (:func:`~stn_np.registration.pyramid.blur`) that turns the
    ellipsoids' steps into smooth edges; 0 keeps the steps. Values lie in about [0, 1].

    Examples
    --------
    >>> volume = ellipsoid_phantom(16)
    >>> volume.shape, round(float(volume.max()), 1) <= 1.0
    ((16, 16, 16), True)
    """
    from ..sampling.coords import identity_grid

    grid = identity_grid(size, size, depth=size)  # (D, H, W, 3), last axis (x, y, z)
    volume = np.zeros((size, size, size))
    for value, centre, semi_axes, degrees in PHANTOM_ELLIPSOIDS:
        a = np.deg2rad(degrees)
        p = grid - np.array(centre)
        x = np.cos(a) * p[..., 0] + np.sin(a) * p[..., 1]  # the point in the ellipsoid's own axes
        y = -np.sin(a) * p[..., 0] + np.cos(a) * p[..., 1]
        inside = (x / semi_axes[0]) ** 2 + (y / semi_axes[1]) ** 2 + (p[..., 2] / semi_axes[2]) ** 2 <= 1
        volume += value * inside
    return blur(volume[None, None], smooth)[0, 0] if smooth > 0 else volume


def smooth_flow(rng, shape, amplitude):
    """A smooth random displacement field on ``shape`` ((H, W) or (D, H, W)), in pixels (voxels).

    Each component is a sum of three products of sines and cosines of 0.5 - 2 periods per
    side, multiplied by a sine envelope that is 0 at the border (nothing is pushed in or out
    of the frame), then scaled so that the largest component anywhere is ``amplitude`` pixels.
    Returns (*shape, d), the last axis (dx, dy[, dz]).
    """
    d = len(shape)
    coordinates = np.meshgrid(*[(np.arange(s) + 0.5) / s for s in shape], indexing="ij")[::-1]  # x, y[, z]
    flow = np.zeros(tuple(shape) + (d,))
    for k in range(d):
        for _ in range(3):
            frequencies = rng.uniform(0.5, 2, d)
            phases = rng.uniform(0, 1, d)
            term = rng.uniform(1, 2) * np.ones(shape)
            for axis, (c, f, phase) in enumerate(zip(coordinates, frequencies, phases)):
                term = term * (np.sin if axis == k else np.cos)(2 * np.pi * (f * c + phase))
            flow[..., k] += term
    flow *= np.prod([np.sin(np.pi * c) for c in coordinates], axis=0)[..., None]
    return flow * (amplitude / np.abs(flow).max())


def spline_warp(image, grid, order=3):
    """Sample a 2-D image or (D, H, W) volume at a normalised grid with ``scipy.ndimage``'s cubic B-spline, 0 outside.

    An interpolator independent of the library's sampler, to make fixed images whose
    registration is not an "inverse crime" (the same interpolator making and undoing a warp).
    ``grid`` is (H_out, W_out, 2) or (D_out, H_out, W_out, 3), ``align_corners=False``.
    """
    from scipy.ndimage import map_coordinates

    from ..sampling.coords import axis_sizes, normalized_to_pixel

    image = np.asarray(image, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    pixels = [normalized_to_pixel(grid[..., a], size) for a, size in enumerate(axis_sizes(image.shape))]
    return map_coordinates(image, pixels[::-1], order=order, mode="constant", cval=0.0)  # index order: (z,) y, x
