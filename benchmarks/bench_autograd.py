"""Engine overhead: microseconds per op node (forward + backward), stn_np vs PyTorch eager.

Two workloads on tiny arrays, so that the time is the engine's and not the arithmetic's:

* chain: ``N_OPS`` small elementwise ops in a chain on a (4, 4) array, then backward;
  the figure is the total time divided by the number of recorded nodes;
* mlp: one training step of a 2-layer MLP (batch 32, 64 -> 128 -> 10, tanh, squared
  loss): forward, backward, and the figure is the time per step.

Prints medians of several repeats and the ratio to PyTorch (2 threads) when torch is importable,
and the cost of the engine's debugging switch ``stn_np.autograd.detect_mutation`` (a copy of
every saved array at forward, a comparison at backward).
Usage: python benchmarks/bench_autograd.py [--repeats 7]
"""

import argparse

import numpy as np

from stn_np import Tensor
from stn_np.autograd import detect_mutation
from timing import median_seconds

N_OPS = 300


def chain(make, mark):
    """Build a function running the chain workload for one library."""
    x = make(np.random.default_rng(0).standard_normal((4, 4)))

    def run():
        y = x
        for i in range(N_OPS // 3):
            y = (y * 0.5 + 0.25).tanh()
        y.sum().backward()
        mark(x)

    return run


def mlp(make, mark):
    rng = np.random.default_rng(0)
    X = make(rng.standard_normal((32, 64)), False)
    Y = make(rng.standard_normal((32, 10)), False)
    W1 = make(rng.standard_normal((64, 128)) * 0.1)
    b1 = make(np.zeros(128))
    W2 = make(rng.standard_normal((128, 10)) * 0.1)
    b2 = make(np.zeros(10))

    def run():
        h = (X @ W1 + b1).tanh()
        loss = ((h @ W2 + b2 - Y) ** 2).mean()
        loss.backward()
        for p in (W1, b1, W2, b2):
            mark(p)

    return run


def stn_np_lib():
    def make(a, grad=True):
        return Tensor(a, requires_grad=grad)

    def mark(t):
        t.grad = None

    return make, mark


def torch_lib():
    import torch

    torch.set_num_threads(2)

    def make(a, grad=True):
        return torch.tensor(a, requires_grad=grad)

    def mark(t):
        t.grad = None

    return make, mark


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    libs = {"stn_np": stn_np_lib()}
    try:
        libs["torch"] = torch_lib()
    except ImportError:
        print("torch not importable: printing stn_np figures only")
    nodes_chain = 3 * (N_OPS // 3) + 1  # mul, add, tanh per step, then sum
    results = {}

    def debugged(run):
        def wrapped():
            with detect_mutation():
                run()
        return wrapped

    for name, (make, mark) in libs.items():
        results[name] = {
            "chain": median_seconds(chain(make, mark), args.repeats, 5) / nodes_chain * 1e6,
            "mlp": median_seconds(mlp(make, mark), args.repeats, 50) * 1e6,
        }
    make, mark = libs["stn_np"]
    results["debug"] = {
        "chain": median_seconds(debugged(chain(make, mark)), args.repeats, 5) / nodes_chain * 1e6,
        "mlp": median_seconds(debugged(mlp(make, mark)), args.repeats, 50) * 1e6,
    }
    print(f"{'workload':<34}{'stn_np':>12}{'torch':>12}{'ratio':>8}{'detect_mutation':>17}")
    for key, label in (("chain", "chain: us per node (fwd+bwd)"), ("mlp", "2-layer MLP step: us")):
        ours = results["stn_np"][key]
        row = f"{label:<34}{ours:>12.2f}"
        if "torch" in results:
            theirs = results["torch"][key]
            row += f"{theirs:>12.2f}{ours / theirs:>8.2f}"
        else:
            row += f"{'':>20}"
        debug = results["debug"][key]
        row += f"{debug:>10.2f} ({debug / ours:.2f}x)"
        print(row)
    print(f"(medians of {args.repeats} repeats; an MLP step records 8 nodes: matmul, add, tanh, matmul, add, sub, pow, mean)")


if __name__ == "__main__":
    main()
