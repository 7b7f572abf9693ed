"""Training speed: milliseconds per training step of the CNN and ST-CNN against PyTorch at equal threads.

A step is what ``stn-np train`` does per batch: forward, cross-entropy, backward, Adam update,
at batch 64 in float32 on 42 x 42 inputs (the RTS canvas), with the same architectures in
both libraries. Four configurations, each in its own worker subprocess (thread pools and
glibc's allocator settings are per process), timed in interleaved rounds
(:func:`timing.interleave`):

* stn_np as ``stn-np train`` runs it -- 1 thread, heap kept (:mod:`stn_np.training.runtime`) --
  and the same with 2 threads (``set_blas_threads(2)``: stn_np's pool on two, OpenBLAS on one);
* PyTorch (when importable) with ``torch.set_num_threads(1)`` and ``(2)``.

Printed: the median step of each, and stn_np / PyTorch at equal threads (the median over
rounds of the within-round ratio). Each block of timed steps follows ``--warmup`` untimed ones
(3 by default): training runs steps back to back, and after the pause between workers the
first steps of either library run slowly (:func:`timing.interleave`). The 2-thread figures
need an idle 2-core machine: the load average is printed beside them.

``--profile`` adds where one stn_np step goes (1 thread): each op's forward and backward
(keyed by op and first input shape), the optimizer step, the rest (graph bookkeeping, Python),
and the sampler's share (the ops of ``stn_np.sampling``: ``affine_grid`` and ``grid_sample``).
``--compare PATH`` adds the stn_np found in folder PATH (e.g. an export of the main branch) at
both thread counts, interleaved with the rest: before and after a change in one run.
``--main-job`` runs the README's main job, ``stn-np train`` with its defaults, and prints its
wall time and peak resident memory (``ru_maxrss`` of the subprocess: interpreter, libraries,
data generation and evaluation included). ``--default-malloc`` adds stn_np at 1 thread without
the kept heap, to show what that setting buys.

Usage: python benchmarks/bench_train.py [--rounds 12] [--calls 5] [--warmup 3] [--profile] [--main-job]
                                       [--default-malloc] [--compare PATH]
Run it under ``flock /tmp/stn_cpu.lock`` on the shared machine.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

from timing import Worker, interleave, load_average, serve

BATCH, SIZE = 64, 42
MODELS = ("cnn", "st-cnn")


# ---------------------------------------------------------------------------- workers (subprocesses)
def batch_arrays():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.random((BATCH, 1, SIZE, SIZE), dtype=np.float32), rng.integers(0, 10, BATCH)


def stn_parts(model_name):
    """(model, optimizer, x, y) of one stn_np configuration, seeded."""
    import stn_np
    from stn_np.nn.models import build_model
    from stn_np.optim import Adam

    stn_np.manual_seed(0)
    model = build_model(model_name, SIZE)
    return (model, Adam(model.param_groups(1e-3), lr=1e-3)) + batch_arrays()


def stn_step(model_name):
    from stn_np import functional as F

    model, optimizer, x, y = stn_parts(model_name)

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


def profile(model_name, steps):
    """Milliseconds per step of each op's forward and backward, the optimizer, the rest; the sampler's share."""
    from stn_np import functional as F
    from stn_np.autograd.function import Function

    totals = collections.defaultdict(float)
    sampling = set()  # names of the ops defined in stn_np.sampling

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    def wrap(cls):
        forward, backward = cls.forward, cls.backward

        def timed_forward(ctx, *arrays, **kwargs):
            ctx._bench_key = f"{cls.__name__} {tuple(getattr(arrays[0], 'shape', ()))}" if arrays else cls.__name__
            start = time.perf_counter()
            out = forward(ctx, *arrays, **kwargs)
            totals[ctx._bench_key, "fwd"] += time.perf_counter() - start
            return out

        def timed_backward(ctx, g):
            start = time.perf_counter()
            out = backward(ctx, g)
            totals[ctx._bench_key, "bwd"] += time.perf_counter() - start
            return out

        cls.forward, cls.backward = staticmethod(timed_forward), staticmethod(timed_backward)
        if cls.__module__.startswith("stn_np.sampling"):
            sampling.add(cls.__name__)

    model, optimizer, x, y = stn_parts(model_name)  # imports every op the step uses
    for cls in set(subclasses(Function)):
        if "forward" in cls.__dict__:
            wrap(cls)

    def step():
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        start = time.perf_counter()
        optimizer.step()
        totals["optimizer step", ""] += time.perf_counter() - start

    for _ in range(3):
        step()
    totals.clear()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    whole = 1e3 * (time.perf_counter() - start) / steps
    per_step = {key: 1e3 * seconds / steps for key, seconds in totals.items()}
    ops = sum(ms for (name, _), ms in per_step.items() if name != "optimizer step")
    sampler_ops = {name.split()[0] for name, _ in per_step} & sampling
    sampler = sum(ms for (name, _), ms in per_step.items() if name.split()[0] in sampler_ops)
    rows = sorted(((ms, f"{name} {part}".strip()) for (name, part), ms in per_step.items()), reverse=True)
    return {"step_ms": whole, "ops_ms": ops, "optimizer_ms": per_step.get(("optimizer step", ""), 0.0),
            "sampler_ms": sampler, "sampler_ops": sorted(sampler_ops), "rows": [(k, ms) for ms, k in rows]}


def worker(args):
    if args.worker == "torch":
        import torch

        torch.set_num_threads(args.threads)
        serve({model: torch_step(model) for model in MODELS})
        return
    from stn_np.training import keep_heap, set_blas_threads

    set_blas_threads(args.threads)
    if not args.default_malloc:
        keep_heap()
    if args.worker == "profile":
        print(json.dumps({model: profile(model, args.steps) for model in MODELS}))
    else:
        serve({model: stn_step(model) for model in MODELS})


# ---------------------------------------------------------------------------- driver
def command(kind, threads, default_malloc=False, steps=None):
    argv = [__file__, "--worker", kind, "--threads", str(threads)]
    argv += ["--default-malloc"] if default_malloc else []
    return argv + (["--steps", str(steps)] if steps else [])


def torch_available():
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return probe.returncode == 0


def main_job():
    """Wall seconds, ``rusage`` and stdout of ``stn-np train`` with its defaults, run as a subprocess."""
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryFile("w+") as log, \
            tempfile.TemporaryFile("w+") as errors:
        argv = [sys.executable, "-m", "stn_np.cli", "train", "--no-progress", "--out", out]
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=log, stderr=errors, cwd=out)  # cwd: import stn_np as PYTHONPATH says
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this child alone
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise RuntimeError(f"stn-np train failed:\n{errors.read()}")
        log.seek(0)
        return seconds, usage, log.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=5, help="timed steps per configuration and round")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps before each round's timed ones (training runs steps back to back)")
    parser.add_argument("--profile", action="store_true", help="also print where one stn_np step goes")
    parser.add_argument("--steps", type=int, default=30, help="steps averaged by --profile")
    parser.add_argument("--main-job", action="store_true", help="also run `stn-np train` and print its cost")
    parser.add_argument("--default-malloc", action="store_true", help="also time stn_np without the kept heap")
    parser.add_argument("--compare", metavar="PATH", help="also time the stn_np in folder PATH (e.g. main's)")
    parser.add_argument("--worker", choices=("stn", "torch", "profile"), help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    load_before = load_average()
    workers = {f"stn_np {t}": Worker(f"stn_np {t}", command("stn", t)) for t in (1, 2)}
    with_torch = torch_available()
    if with_torch:
        workers.update({f"PyTorch {t}": Worker(f"PyTorch {t}", command("torch", t)) for t in (1, 2)})
    if args.default_malloc:
        workers["stn_np 1 malloc"] = Worker("stn_np 1 malloc", command("stn", 1, default_malloc=True))
    if args.compare:
        workers.update({f"compared {t}": Worker(f"compared {t}", command("stn", t), source=args.compare)
                        for t in (1, 2)})
    pairs = [(f"{who} {t}", f"PyTorch {t}") for t in (1, 2) for who in ("stn_np", "compared")
             if with_torch and f"{who} {t}" in workers]
    medians, ratios = interleave(workers, list(MODELS), args.rounds, args.calls, pairs=pairs, warmup=args.warmup)
    for w in workers.values():
        w.close()
    load_after = load_average()

    labels = {"stn_np 1": "stn_np, 1 thread, heap kept (stn-np train)", "stn_np 2": "stn_np, 2 threads",
              "PyTorch 1": "PyTorch, 1 thread", "PyTorch 2": "PyTorch, 2 threads",
              "compared 1": f"{args.compare}, 1 thread", "compared 2": f"{args.compare}, 2 threads",
              "stn_np 1 malloc": "stn_np, 1 thread, default malloc"}
    short = {"stn_np": "stn_np", "compared": str(args.compare)}
    width = max(len(label) for name, label in labels.items() if name in workers) + 8

    def row(label, values, unit=""):
        print(f"{label:<{width}}" + "".join(f"{v:>8.2f}{unit or ' '}" for v in values))

    print(f"ms per training step (forward + backward + Adam), batch {BATCH}, float32, {SIZE}x{SIZE}; medians of "
          f"{args.rounds} interleaved rounds x {args.calls} steps, each block after {args.warmup} untimed steps")
    print(f"{'configuration':<{width}}" + "".join(f"{m:>9}" for m in MODELS))
    for threads in (1, 2):
        for who in ("stn_np", "compared", "PyTorch"):
            if f"{who} {threads}" in workers:
                row(labels[f"{who} {threads}"], [1e3 * medians[f"{who} {threads}", m] for m in MODELS])
        for a, b in pairs:
            if a.endswith(f" {threads}"):
                who = short[a.rsplit(" ", 1)[0]]
                row(f"ratio {who} / PyTorch at {threads} thread" + "s" * (threads > 1),
                    [ratios[a, b, m] for m in MODELS], "x")
    if args.default_malloc:
        row(labels["stn_np 1 malloc"], [1e3 * medians["stn_np 1 malloc", m] for m in MODELS])
    if not with_torch:
        print("(torch is not importable: no ratio)")
    print(f"load average before / after: {load_before} / {load_after} (2 cores: the 2-thread rows assume "
          "nothing else runs)")

    if args.profile:
        proc = subprocess.run([sys.executable, *command("profile", 1, steps=args.steps)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"profile worker failed:\n{proc.stderr}")
        for model, report in json.loads(proc.stdout.strip().splitlines()[-1]).items():
            step = report["step_ms"]
            rest = step - report["ops_ms"] - report["optimizer_ms"]
            print(f"\n{model}, 1 thread: {step:.2f} ms per step (mean of {args.steps}, instrumented): ops "
                  f"{report['ops_ms']:.2f}, optimizer step {report['optimizer_ms']:.2f}, rest (graph, Python) "
                  f"{rest:.2f}")
            if report["sampler_ops"]:
                print(f"  sampler ({', '.join(report['sampler_ops'])}, forward + backward): "
                      f"{report['sampler_ms']:.2f} ms = {100 * report['sampler_ms'] / step:.0f}% of the step")
            for key, ms in report["rows"]:
                if ms >= 0.05:
                    print(f"  {key:<48}{ms:>8.2f} ms")

    if args.main_job:
        seconds, usage, output = main_job()
        print(f"\nthe main job, `stn-np train` (defaults): {seconds / 60:.1f} min wall, peak RSS "
              f"{usage.ru_maxrss / 1024:.0f} MiB")
        lines = output.strip().splitlines()
        for line in lines[:1] + lines[-2:]:
            print("  " + line)


if __name__ == "__main__":
    main()
