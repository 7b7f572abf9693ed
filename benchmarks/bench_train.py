"""Training speed and memory: milliseconds per training step of the CNN and ST-CNN, and an epoch's peak RSS.

A step is what ``stn-np train`` does per batch: forward, cross-entropy, backward, Adam update,
at batch 64 in float32 on 42 x 42 inputs (the RTS canvas). Each configuration runs in its own
subprocess (the BLAS thread count and glibc's allocator settings are process-wide, and torch's
thread pool must not compete with NumPy's), times ``--steps`` steps after a warm-up and prints
the median. Configurations:

* stn_np as ``stn-np train`` runs it: 1 BLAS thread, heap kept (:mod:`stn_np.training.runtime`);
* stn_np with 2 BLAS threads, and with the default allocator, to show what each setting buys;
* PyTorch, the same architectures, ``torch.set_num_threads(2)``, when torch is importable
  (the ratio is stn_np's default over PyTorch's).

Memory: the peak resident set size (``ru_maxrss`` from ``os.wait4``) of a subprocess running
``stn-np train --train-size 60000 --test-size 10000 --epochs 1`` — one full 60k-image epoch of
the ST-CNN on RTS digits, data generation and evaluation included, interpreter and libraries
included. ``--profile`` prints where the time of one stn_np step goes, op by op.

Usage: python benchmarks/bench_train.py [--steps 30] [--skip-memory] [--profile]

Timings from a shared machine vary: 2-thread figures in particular depend on what else runs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from timing import median_seconds

BATCH, SIZE = 64, 42
MODELS = ("cnn", "st-cnn")


# ---------------------------------------------------------------------------- workers (subprocesses)
def batch_arrays():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.random((BATCH, 1, SIZE, SIZE), dtype=np.float32), rng.integers(0, 10, BATCH)


def stn_step(model_name):
    import stn_np
    from stn_np import functional as F
    from stn_np.nn.models import build_model
    from stn_np.optim import Adam

    stn_np.manual_seed(0)
    model = build_model(model_name, SIZE)
    optimizer = Adam(model.param_groups(1e-3), lr=1e-3)
    x, y = batch_arrays()

    def step():
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def torch_step(model_name):
    import torch
    import torch.nn as tnn
    import torch.nn.functional as tf

    torch.set_num_threads(2)
    torch.manual_seed(0)

    class Classifier(tnn.Module):
        def __init__(self, size):
            super().__init__()
            self.conv1, self.conv2 = tnn.Conv2d(1, 10, 5), tnn.Conv2d(10, 20, 5)
            self.conv2_drop = tnn.Dropout2d(0.5)
            side = ((size - 4) // 2 - 4) // 2
            self.fc1, self.fc2 = tnn.Linear(20 * side * side, 50), tnn.Linear(50, 10)

        def forward(self, x):
            x = tf.relu(tf.max_pool2d(self.conv1(x), 2))
            x = tf.relu(tf.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = tf.dropout(tf.relu(self.fc1(x.flatten(1))), 0.5, self.training)
            return self.fc2(x)

    class STCNN(tnn.Module):
        def __init__(self):
            super().__init__()
            self.localization = tnn.Sequential(tnn.Conv2d(1, 8, 7), tnn.MaxPool2d(2), tnn.ReLU(),
                                               tnn.Conv2d(8, 10, 5), tnn.MaxPool2d(2), tnn.ReLU(), tnn.Flatten(),
                                               tnn.Linear(490, 32), tnn.ReLU(), tnn.Linear(32, 6))
            with torch.no_grad():
                self.localization[-1].weight.zero_()
                self.localization[-1].bias.copy_(torch.tensor([1.0, 0, 0, 0, 1, 0]))
            self.classifier = Classifier(28)

        def forward(self, x):
            theta = self.localization(x).view(-1, 2, 3)
            grid = tf.affine_grid(theta, (x.shape[0], 1, 28, 28), align_corners=False)
            return self.classifier(tf.grid_sample(x, grid, align_corners=False))

    model = Classifier(SIZE) if model_name == "cnn" else STCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = (torch.from_numpy(a) for a in batch_arrays())

    def step():
        loss = tf.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def profile_step(model_name, steps):
    """Per-op forward and backward milliseconds of one stn_np step, keyed by op and input shapes."""
    import collections

    from stn_np.autograd.function import Function

    totals = collections.defaultdict(float)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    def wrap(cls):
        forward, backward = cls.forward, cls.backward

        def timed_forward(ctx, *arrays, **kwargs):
            ctx._bench_key = f"{cls.__name__} {' '.join(str(getattr(a, 'shape', '')) for a in arrays[:1])}"
            start = time.perf_counter()
            out = forward(ctx, *arrays, **kwargs)
            totals[ctx._bench_key + " fwd"] += time.perf_counter() - start
            return out

        def timed_backward(ctx, g):
            start = time.perf_counter()
            out = backward(ctx, g)
            totals[ctx._bench_key + " bwd"] += time.perf_counter() - start
            return out

        cls.forward, cls.backward = staticmethod(timed_forward), staticmethod(timed_backward)

    step = stn_step(model_name)  # imports every op
    for cls in set(subclasses(Function)):
        if "forward" in cls.__dict__:
            wrap(cls)
    for _ in range(3):
        step()
    totals.clear()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    whole = 1e3 * (time.perf_counter() - start) / steps
    rows = sorted(((1e3 * v / steps, k) for k, v in totals.items()), reverse=True)
    return {"step_ms": whole, "ops": [(k, round(ms, 3)) for ms, k in rows if ms >= 0.05]}


def worker(args):
    from stn_np.training import keep_heap, set_blas_threads

    if args.worker == "torch":
        import torch

        result = {model: 1e3 * median_seconds(torch_step(model), args.steps, warmup=5) for model in MODELS}
        result["version"] = torch.__version__
    else:
        set_blas_threads(args.threads)
        if args.heap:
            keep_heap()
        if args.worker == "profile":
            result = {model: profile_step(model, args.steps) for model in MODELS}
        else:
            result = {model: 1e3 * median_seconds(stn_step(model), args.steps, warmup=5) for model in MODELS}
    print(json.dumps(result))


# ---------------------------------------------------------------------------- driver
def run_worker(kind, steps, threads=1, heap=True):
    command = [sys.executable, __file__, "--worker", kind, "--steps", str(steps), "--threads", str(threads)]
    if heap:
        command.append("--heap")
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        if kind == "torch" and "No module named 'torch'" in proc.stderr:
            return None
        raise RuntimeError(f"worker {kind} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def epoch_peak_memory():
    """Peak RSS (MiB) and seconds of ``stn-np train`` over one 60k-image epoch, in a subprocess."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "stn_np.cli", "train", "--train-size", "60000", "--test-size", "10000",
                   "--epochs", "1", "--no-progress", "--out", out]
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        output = proc.stdout.read().decode()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"stn-np train failed:\n{proc.stderr.read().decode()}")
    return usage.ru_maxrss / 1024, seconds, output  # ru_maxrss is in KiB on Linux


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per configuration (after 5 warm-up)")
    parser.add_argument("--skip-memory", action="store_true", help="do not run the 60k-image epoch")
    parser.add_argument("--profile", action="store_true", help="also print per-op times of one step")
    parser.add_argument("--worker", choices=("stn", "torch", "profile"), help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--heap", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    configs = [("stn_np, 1 BLAS thread, heap kept (stn-np train)", dict(threads=1, heap=True)),
               ("stn_np, 2 BLAS threads, heap kept", dict(threads=2, heap=True)),
               ("stn_np, 1 BLAS thread, default malloc", dict(threads=1, heap=False))]
    results = [(name, run_worker("stn", args.steps, **options)) for name, options in configs]
    torch = run_worker("torch", args.steps)
    print(f"ms per training step (forward + backward + Adam), batch {BATCH}, float32, {SIZE}x{SIZE}, "
          f"median of {args.steps}")
    print(f"{'configuration':<52}{'cnn':>9}{'st-cnn':>9}")
    for name, result in results:
        print(f"{name:<52}{result['cnn']:>9.2f}{result['st-cnn']:>9.2f}")
    if torch:
        print(f"{'PyTorch ' + torch['version'] + ', 2 threads':<52}"
              f"{torch['cnn']:>9.2f}{torch['st-cnn']:>9.2f}")
        default = results[0][1]
        print(f"{'ratio stn_np (stn-np train settings) / PyTorch':<52}"
              f"{default['cnn'] / torch['cnn']:>8.2f}x{default['st-cnn'] / torch['st-cnn']:>8.2f}x")
    else:
        print("(torch is not importable: no ratio)")
    if args.profile:
        for model, report in run_worker("profile", args.steps).items():
            print(f"\n{model}: {report['step_ms']:.2f} ms per step (mean, instrumented); ops >= 0.05 ms:")
            for key, ms in report["ops"]:
                print(f"  {key:<44}{ms:>8.2f} ms")
    if not args.skip_memory:
        peak, seconds, output = epoch_peak_memory()
        print(f"\none 60k-image epoch of `stn-np train` (ST-CNN, RTS digits, data generation and evaluation "
              f"included): peak RSS {peak:.0f} MiB, {seconds:.0f} s")
        for line in output.splitlines()[:2]:
            print("  " + line)


if __name__ == "__main__":
    main()
