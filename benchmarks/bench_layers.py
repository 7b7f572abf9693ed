"""Layer speed: forward and forward + backward milliseconds of the convolutions and poolings of the two models.

Workloads (float32, batch 64): every convolution and 2x2 max pooling of the CNN and the ST-CNN
on 42 x 42 inputs, with their shapes in those models, and the CNN's first linear layer. The
first convolution of each model reads the data, which needs no gradient: its backward computes
the weight and bias gradients only, as in training; every other backward also computes the
input gradient. The upstream gradient is a fixed random array.

stn_np runs as ``stn-np train`` does (threads set by ``set_blas_threads``, heap kept), and
PyTorch (when importable) with ``torch.set_num_threads``; both at 1 and at 2 threads, each
configuration in its own worker process, timed in interleaved rounds (:func:`timing.interleave`).
Printed: medians, and stn_np / PyTorch at equal threads (median over rounds of the within-round
ratio). The 2-thread figures need an idle 2-core machine (the load average is printed).

``--compare PATH`` adds the stn_np found in folder PATH (e.g. an export of the main branch),
interleaved with the rest: before and after a change in one run.

Usage: python benchmarks/bench_layers.py [--rounds 10] [--calls 5] [--threads 1 2] [--compare PATH]
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
    parser.add_argument("--compare", metavar="PATH", help="also time the stn_np in folder PATH (e.g. main's)")
    parser.add_argument("--worker", choices=("stn", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.worker_threads)

    with_torch = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0
    load_before = load_average()
    workers = {}
    for t in args.threads:
        stn_argv = [__file__, "--worker", "stn", "--worker-threads", str(t)]
        workers[f"stn {t}"] = Worker(f"stn {t}", stn_argv)
        if args.compare:
            workers[f"compared {t}"] = Worker(f"compared {t}", stn_argv, source=args.compare)
        if with_torch:
            workers[f"torch {t}"] = Worker(f"torch {t}", [__file__, "--worker", "torch", "--worker-threads", str(t)])
    keys = [f"{name} {part}" for name, *_ in WORKLOADS for part in ("fwd", "f+b")]
    ours = ("stn", "compared") if args.compare else ("stn",)
    pairs = [(f"{who} {t}", f"torch {t}") for t in args.threads for who in ours] if with_torch else []
    medians, ratios = interleave(workers, keys, args.rounds, args.calls, pairs=pairs)
    for w in workers.values():
        w.close()

    print(f"ms per call, float32, batch {BATCH}; medians of {args.rounds} interleaved rounds x {args.calls} calls; "
          "f+b = forward + backward" + (f"; 'then' = the stn_np in {args.compare}" if args.compare else ""))
    # (worker, heading, what, parts): the compared stn_np shows forward + backward only
    columns = [("stn", "", "ms", ("fwd", "f+b"))]
    columns += [("compared", "then ", "ms", ("f+b",))] if args.compare else []
    if with_torch:
        columns += [("torch", "torch ", "ms", ("fwd", "f+b")), ("stn", "ratio ", "ratio", ("fwd", "f+b"))]
        columns += [("compared", "then ratio ", "ratio", ("f+b",))] if args.compare else []
    cells = [(who, label + part, kind, part) for who, label, kind, parts in columns for part in parts]
    for t in args.threads:
        widths = [max(len(head) + 2, 8) for _, head, _, _ in cells]
        print(f"{f'{t} thread' + 's' * (t > 1):<28}" + "".join(f"{c[1]:>{w}}" for c, w in zip(cells, widths)))
        for name, *_ in WORKLOADS:
            line = f"{name:<28}"
            for who, head, kind, part in cells:
                key = f"{name} {part}"
                cell = (f"{1e3 * medians[f'{who} {t}', key]:.2f}" if kind == "ms"
                        else f"{ratios[f'{who} {t}', f'torch {t}', key]:.2f}x")
                line += f"{cell:>{max(len(head) + 2, 8)}}"
            print(line)
    if not with_torch:
        print("(torch is not importable: no ratio)")
    print(f"load average before / after: {load_before} / {load_average()} (2 cores: the 2-thread rows assume "
          "nothing else runs)")


if __name__ == "__main__":
    main()
