"""Data: IDX files, MNIST-layout data sets, embedded synthetic digits, the paper's distortions, batching.

The training CLI calls :func:`make_dataset` for uint8 train/test arrays and :func:`batches` for
float32 mini-batches; the pieces are public for notebooks and tests.
"""

from .batching import batches, to_float
from .datasets import DATASETS, Splits, make_dataset
from .digits import digit_params, glyph_bank, synthetic_digits
from .distortions import DISTORTIONS, OUTPUT_SIZE, distort, distortion_params, similarity_theta
from .idx import load_idx, save_idx
from .mnist import load_mnist_like
from .warp import rotation_matrix, theta_from_pixel_map

__all__ = [
    "DATASETS",
    "DISTORTIONS",
    "OUTPUT_SIZE",
    "Splits",
    "batches",
    "digit_params",
    "distort",
    "distortion_params",
    "glyph_bank",
    "load_idx",
    "load_mnist_like",
    "make_dataset",
    "rotation_matrix",
    "save_idx",
    "similarity_theta",
    "synthetic_digits",
    "theta_from_pixel_map",
    "to_float",
]
