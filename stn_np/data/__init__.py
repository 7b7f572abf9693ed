"""Data: IDX files, MNIST-layout data sets, embedded synthetic digits, the paper's distortions, batching."""

from .idx import load_idx, save_idx
from .mnist import load_mnist_like

__all__ = ["load_idx", "save_idx", "load_mnist_like"]
