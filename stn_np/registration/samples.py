"""Real test images shipped with matplotlib, and random warps of them with known answers.

Used by the tests, the benchmark and the notebooks: a registration is checked by warping a
real image with a transformation drawn at random, registering the warp back, and comparing
the recovered transformation with the drawn one.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from .pyramid import resample
from .transforms import pixel_to_theta

__all__ = ["mri_slice", "grace_hopper", "random_affine"]


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
