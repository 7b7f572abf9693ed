"""Regenerate ``torch_autograd_reference.npz``: PyTorch's values and gradients of the shared
compositions in ``tests/reference_compositions.py``, with random inputs and upstream gradients.

Run by hand where torch is installed (it is never a dependency):
    python tests/data/make_torch_reference.py
"""

import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from reference_compositions import COMPOSITIONS  # noqa: E402


def main():
    rng = np.random.default_rng(2015)
    arrays = {}
    for name, shapes, fn in COMPOSITIONS:
        inputs = [rng.standard_normal(s) for s in shapes]
        tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
        out = fn(*tensors)
        upstream = rng.standard_normal(tuple(out.shape))
        out.backward(torch.tensor(upstream))
        arrays[f"{name}/upstream"] = upstream
        arrays[f"{name}/output"] = out.detach().numpy()
        for i, (x, t) in enumerate(zip(inputs, tensors)):
            arrays[f"{name}/input{i}"] = x
            arrays[f"{name}/grad{i}"] = t.grad.numpy()
    arrays["torch_version"] = np.array(torch.__version__)
    path = os.path.join(HERE, "torch_autograd_reference.npz")
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
