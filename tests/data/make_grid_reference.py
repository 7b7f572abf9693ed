"""Regenerate ``grid_reference.npz``: PyTorch's ``affine_grid`` values and theta-gradients.

Several output sizes (1-pixel axes included), both ``align_corners``, random theta around the
identity and a random upstream gradient, all float64. Run by hand where torch is installed
(it is never a dependency):
    python tests/data/make_grid_reference.py
"""

import os
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [(2, 1, 3, 4), (1, 2, 1, 5), (3, 1, 4, 1), (1, 1, 1, 1), (2, 3, 5, 5), (1, 1, 7, 2)]


def case_name(size, align_corners):
    return f"{'x'.join(map(str, size))}_ac{int(align_corners)}"


def main():
    rng = np.random.default_rng(2015)
    arrays = {}
    for size in SIZES:
        for align_corners in (False, True):
            name = case_name(size, align_corners)
            theta = np.eye(2, 3) + 0.3 * rng.standard_normal((size[0], 2, 3))
            t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
            grid = torch.nn.functional.affine_grid(t, list(size), align_corners=align_corners)
            upstream = rng.standard_normal(tuple(grid.shape))
            grid.backward(torch.tensor(upstream))
            arrays[f"{name}/size"] = np.array(size)
            arrays[f"{name}/theta"] = theta
            arrays[f"{name}/upstream"] = upstream
            arrays[f"{name}/grid"] = grid.detach().numpy()
            arrays[f"{name}/theta_grad"] = t.grad.numpy()
    arrays["torch_version"] = np.array(torch.__version__)
    path = os.path.join(HERE, "grid_reference.npz")
    fd, tmp = tempfile.mkstemp(dir=HERE, suffix=".npz")
    os.close(fd)
    np.savez_compressed(tmp, **arrays)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    print(f"wrote {path} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
