"""Layer speed: forward and forward + backward milliseconds of the convolutions and poolings of the two models.

Workloads (float32, batch 64): every convolution and 2x2 max pooling of the CNN and the ST-CNN
on 42 x 42 inputs, with their shapes in those models, and the CNN's first linear layer. The
first convolution of each model reads the data, which needs no gradient: its backward computes
the weight and bias gradients only, as in training; every other backward also computes the
input gradient. The upstream gradient is a fixed random array.

stn_np runs as ``stn-np train`` does (BLAS threads set by ``set_blas_threads``, heap kept), and
PyTorch (when importable) with ``torch.set_num_threads``; both at 1 and at 2 threads, each
configuration in its own worker process, timed in interleaved rounds (:func:`timing.interleave`).
Printed: medians, and stn_np / PyTorch at equal threads (median over rounds of the within-round
ratio). The 2-thread figures need an idle 2-core machine (the load average is printed).

Usage: python benchmarks/bench_layers.py [--rounds 10] [--calls 5] [--threads 1 2]
Run it under ``flock /tmp/stn_cpu.lock`` on the shared machine.
"""

import argparse
import subprocess
import sys

from timing import Worker, interleave, load_average, serve

BATCH = 64
#: name, input shape, kind, options; "grad": whether the input needs a gradient (not for data)
WORKLOADS = [
    ("cnn conv1 1->10 k5 42x42", (BATCH, 1, 42, 42), "conv", dict(out=10, k=5, grad=False)),
    ("cnn conv2 10->20 k5 19x19", (BATCH, 10, 19, 19), "conv", dict(out=20, k=5, grad=True)),
    ("loc conv1 1->8 k7 42x42", (BATCH, 1, 42, 42), "conv", dict(out=8, k=7, grad=False)),
    ("loc conv2 8->10 k5 18x18", (BATCH, 8, 18, 18), "conv", dict(out=10, k=5, grad=True)),
    ("cls conv1 1->10 k5 28x28", (BATCH, 1, 28, 28), "conv", dict(out=10, k=5, grad=True)),
    ("cls conv2 10->20 k5 12x12", (BATCH, 10, 12, 12), "conv", dict(out=20, k=5, grad=True)),
    ("max_pool2d 2 10x38x38", (BATCH, 10, 38, 38), "pool", dict(grad=True)),
    ("max_pool2d 2 8x36x36", (BATCH, 8, 36, 36), "pool", dict(grad=True)),
    ("max_pool2d 2 10x24x24", (BATCH, 10, 24, 24), "pool", dict(grad=True)),
    ("max_pool2d 2 20x15x15", (BATCH, 20, 15, 15), "pool", dict(grad=True)),
    ("linear 980->50", (BATCH, 980), "linear", dict(out=50, grad=True)),
]


def arrays(shape, kind, options):
    """The workload's inputs (x, and weight and bias for conv and linear) as float32 arrays."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    if kind == "conv":
        w = rng.standard_normal((options["out"], shape[1], options["k"], options["k"])).astype(np.float32) * 0.1
        return [x, w, np.zeros(options["out"], np.float32)]
    if kind == "linear":
        return [x, rng.standard_normal((options["out"], shape[1])).astype(np.float32) * 0.1,
                np.zeros(options["out"], np.float32)]
    return [x]


def upstream(shape):
    import numpy as np

    return np.random.default_rng(1).standard_normal(shape).astype(np.float32)


def stn_workloads():
    import stn_np.functional as F
    from stn_np import Tensor

    ops = {"conv": F.conv2d, "pool": lambda x: F.max_pool2d(x, 2), "linear": F.linear}
    workloads = {}
    for name, shape, kind, options in WORKLOADS:
        inputs = [Tensor(a, requires_grad=options["grad"] or i > 0) for i, a in enumerate(arrays(shape, kind, options))]
        op = ops[kind]
        g = upstream(op(*inputs).shape)
        workloads[name + " fwd"] = lambda op=op, inputs=inputs: op(*inputs)
        workloads[name + " f+b"] = lambda op=op, inputs=inputs, g=g: op(*inputs).backward(g)
    return workloads


def torch_workloads():
    import torch

    tf = torch.nn.functional
    ops = {"conv": tf.conv2d, "pool": lambda x: tf.max_pool2d(x, 2), "linear": tf.linear}
    workloads = {}
    for name, shape, kind, options in WORKLOADS:
        inputs = [torch.tensor(a, requires_grad=options["grad"] or i > 0)
                  for i, a in enumerate(arrays(shape, kind, options))]
        op = ops[kind]
        g = torch.from_numpy(upstream(tuple(op(*inputs).shape)))
        workloads[name + " fwd"] = lambda op=op, inputs=inputs: op(*inputs)
        workloads[name + " f+b"] = lambda op=op, inputs=inputs, g=g: op(*inputs).backward(g)
    return workloads


def worker(kind, threads):
    if kind == "torch":
        import torch

        torch.set_num_threads(threads)
        serve(torch_workloads())
        return
    from stn_np.training import keep_heap, set_blas_threads

    set_blas_threads(threads)
    keep_heap()
    serve(stn_workloads())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per configuration, workload and round")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to compare")
    parser.add_argument("--worker", choices=("stn", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.worker_threads)

    with_torch = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0
    kinds = ("stn", "torch") if with_torch else ("stn",)
    load_before = load_average()
    workers = {f"{kind} {t}": Worker(f"{kind} {t}", [__file__, "--worker", kind, "--worker-threads", str(t)])
               for t in args.threads for kind in kinds}
    keys = [f"{name} {part}" for name, *_ in WORKLOADS for part in ("fwd", "f+b")]
    pairs = [(f"stn {t}", f"torch {t}") for t in args.threads] if with_torch else []
    medians, ratios = interleave(workers, keys, args.rounds, args.calls, pairs=pairs)
    for w in workers.values():
        w.close()

    print(f"ms per call, float32, batch {BATCH}; medians of {args.rounds} interleaved rounds x {args.calls} calls; "
          "f+b = forward + backward")
    for t in args.threads:
        header = f"{f'{t} thread' + 's' * (t > 1):<28}{'fwd':>8}{'f+b':>8}"
        if with_torch:
            header += f"{'torch fwd':>11}{'torch f+b':>11}{'ratio fwd':>11}{'ratio f+b':>11}"
        print(header)
        for name, *_ in WORKLOADS:
            line = f"{name:<28}" + "".join(f"{1e3 * medians[f'stn {t}', f'{name} {p}']:>8.2f}" for p in ("fwd", "f+b"))
            if with_torch:
                line += "".join(f"{1e3 * medians[f'torch {t}', f'{name} {p}']:>11.2f}" for p in ("fwd", "f+b"))
                line += "".join(f"{ratios[f'stn {t}', f'torch {t}', f'{name} {p}']:>10.2f}x" for p in ("fwd", "f+b"))
            print(line)
    if not with_torch:
        print("(torch is not importable: no ratio)")
    print(f"load average before / after: {load_before} / {load_average()} (2 cores: the 2-thread rows assume "
          "nothing else runs)")


if __name__ == "__main__":
    main()
