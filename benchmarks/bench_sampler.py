"""Sampler speed: ``affine_grid`` -> ``grid_sample`` forward, and forward + backward, against PyTorch and the memory floor.

The workloads of issue 16 (float32, bilinear, zeros padding, ``align_corners=False``), each a
random rotation-scale-translation ``theta`` that reaches a little outside the image; the
backward computes the gradients of the image and of ``theta``:

====  ==================================  =====================================================
name  shape                               what it stands for
====  ==================================  =====================================================
a     N=16 C=32 64x64 -> 64x64            a feature map with many channels
b     N=64 C=1 28x28 -> 28x28             a batch of MNIST digits
c     N=64 C=1 42x42 -> 28x28             the ST-CNN training step's sampler
d     N=4 C=3 256x256 -> 256x256          a few colour photographs
e     N=1 C=1 512x512 -> 512x512          one large image (registration)
v     N=2 C=4 32^3 -> 32^3, trilinear     a volume (theta 3x4)
====  ==================================  =====================================================

Targets (issue 16): forward + backward within 1.5x of PyTorch at equal threads on a-e, the
forward alone within 2x; the volume within 4x at 2 threads. "fwd" is a training forward (the
inputs require gradients, so both libraries keep what their backward needs).

Configurations, each in its own worker subprocess (thread pools and glibc's allocator settings
are per process) timed in interleaved rounds (:func:`timing.interleave`): stn_np and PyTorch
at 1 and at 2 threads (``set_blas_threads``, the one thread setting of stn_np,
:mod:`stn_np.threads` / ``torch.set_num_threads``), both with glibc's
heap kept (``keep_heap``, as ``stn-np train`` runs; ``--default-malloc`` leaves malloc alone
in both). The ratio is stn_np / PyTorch at equal threads, the median over rounds of the
within-round ratio. ``--compare PATH`` adds the stn_np found in folder PATH (e.g. an export of
the main branch): before and after a change in one run.

The memory floor is the time the bytes that must move take at the machine's copy bandwidth
(measured here: ``numpy.copyto`` of 64 MiB, best of 10, read + write bytes counted). Bytes
that must move: every array each pass has to read or write, once per pass that needs it --
forward: the grid written by ``affine_grid`` and read by the sampler, the image read, the
output written (``U + V + 2 grid``); the backward adds the upstream gradient, the image and
the grid read again, the image gradient written, the grid gradient written and read by
``affine_grid``'s backward (``f+b = 2 U + V + g + gU + 5 grid``). "x floor" is the measured
time over that floor.

``--profile`` prints where stn_np's forward + backward goes (1 thread, ``cProfile``, own time
of the busiest functions) for each workload.

Usage: python benchmarks/bench_sampler.py [--rounds 10] [--calls 5] [--warmup 0] [--threads 1 2] [--only a,b]
                                         [--compare PATH] [--profile] [--default-malloc]
Run it under ``flock /tmp/stn_cpu.lock`` on the shared machine.
"""

import argparse
import math
import subprocess
import sys
import time

from timing import Worker, interleave, load_average, serve

#: name, N, C, input spatial shape, output spatial shape, target ratio (forward + backward) at 1 and 2 threads
WORKLOADS = [
    ("a: N16 C32 64x64", 16, 32, (64, 64), (64, 64), (1.5, 1.5)),
    ("b: N64 C1 28x28", 64, 1, (28, 28), (28, 28), (1.5, 1.5)),
    ("c: N64 C1 42x42->28x28", 64, 1, (42, 42), (28, 28), (1.5, 1.5)),
    ("d: N4 C3 256x256", 4, 3, (256, 256), (256, 256), (1.5, 1.5)),
    ("e: N1 C1 512x512", 1, 1, (512, 512), (512, 512), (1.5, 1.5)),
    ("v: N2 C4 32^3 trilinear", 2, 4, (32, 32, 32), (32, 32, 32), (None, 4.0)),
]
FORWARD_TARGET = 2.0
PARTS = ("fwd", "f+b")


def selected(only):
    names = [w for w in WORKLOADS if not only or w[0].split(":")[0] in only.split(",")]
    if not names:
        raise SystemExit(f"--only {only}: no workload of {', '.join(w[0].split(':')[0] for w in WORKLOADS)}")
    return names


def make_inputs(N, C, spatial, out, seed=0):
    """Image (or volume), theta (a rotation, scale and shift, slightly outside in places), upstream gradient."""
    import numpy as np

    rng = np.random.default_rng(seed)
    d = len(spatial)
    U = rng.standard_normal((N, C) + spatial).astype(np.float32)
    angle, scale = rng.uniform(-0.5, 0.5, N), rng.uniform(0.8, 1.2, N)
    theta = np.zeros((N, d, d + 1))
    theta[:, :d, :d] = np.eye(d)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = (np.cos(angle), -np.sin(angle), np.sin(angle),
                                                                      np.cos(angle))
    if d == 3:  # tilt the z axis too
        tilt = rng.uniform(-0.3, 0.3, N)
        theta[:, 1, 2], theta[:, 2, 1], theta[:, 2, 2] = -np.sin(tilt), np.sin(tilt), np.cos(tilt)
    theta[:, :, :d] *= scale[:, None, None]
    theta[:, :, d] = rng.uniform(-0.2, 0.2, (N, d))
    g = rng.standard_normal((N, C) + out).astype(np.float32)
    return U, theta.astype(np.float32), g


def floor_bytes(N, C, spatial, out):
    """Bytes that must move (float32): the forward's, and forward + backward's (module docstring)."""
    U, V, grid = 4 * N * C * math.prod(spatial), 4 * N * C * math.prod(out), 4 * N * len(out) * math.prod(out)
    forward = U + V + 2 * grid
    return forward, forward + V + U + U + 3 * grid  # + g, U again, gU; grid read, ggrid written and read


# ---------------------------------------------------------------------------- workers (subprocesses)
def stn_workloads(only):
    from stn_np import Tensor
    from stn_np.functional import affine_grid, grid_sample

    workloads = {}
    for name, N, C, spatial, out, _ in selected(only):
        U, theta, g = make_inputs(N, C, spatial, out)
        Ut, tt = Tensor(U, requires_grad=True), Tensor(theta, requires_grad=True)
        size = (N, C) + out

        def forward(Ut=Ut, tt=tt, size=size):
            return grid_sample(Ut, affine_grid(tt, size))

        def both(forward=forward, Ut=Ut, tt=tt, g=g):
            forward().backward(g)
            Ut.grad = tt.grad = None

        workloads[f"{name} fwd"], workloads[f"{name} f+b"] = forward, both
    return workloads


def torch_workloads(only):
    import torch

    tf = torch.nn.functional
    workloads = {}
    for name, N, C, spatial, out, _ in selected(only):
        U, theta, g = make_inputs(N, C, spatial, out)
        Ut, tt, gt = torch.tensor(U, requires_grad=True), torch.tensor(theta, requires_grad=True), torch.tensor(g)
        size = (N, C) + out

        def forward(Ut=Ut, tt=tt, size=size):
            grid = tf.affine_grid(tt, size, align_corners=False)
            return tf.grid_sample(Ut, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

        def both(forward=forward, Ut=Ut, tt=tt, gt=gt):
            forward().backward(gt)
            Ut.grad = tt.grad = None

        workloads[f"{name} fwd"], workloads[f"{name} f+b"] = forward, both
    return workloads


def profile(only, calls=20, top=12):
    """Print, per workload, the busiest functions of stn_np's forward + backward (own time, ms per call)."""
    import cProfile
    import pstats

    for key, fn in stn_workloads(only).items():
        if not key.endswith("f+b"):
            continue
        for _ in range(3):
            fn()
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for _ in range(calls):
            fn()
        profiler.disable()
        whole = 1e3 * (time.perf_counter() - start) / calls
        stats = pstats.Stats(profiler).stats  # (file, line, function) -> (calls, ..., own time, cumulative, ...)
        rows = sorted(((own, where) for where, (_, _, own, _, _) in stats.items()), reverse=True)[:top]
        print(f"\n{key}, 1 thread: {whole:.2f} ms per call under cProfile; own time per call:")
        for own, (path, line, function) in rows:
            place = function if path == "~" else f"{path.split('stn_np/')[-1]}:{line} {function}"
            print(f"  {1e3 * own / calls:>7.3f} ms  {place}")


def worker(kind, threads, only, default_malloc):
    from stn_np.training import keep_heap

    if not default_malloc:
        keep_heap()  # glibc's setting: the same for both libraries
    if kind == "torch":
        import torch

        torch.set_num_threads(threads)
        serve(torch_workloads(only))
        return
    from stn_np.training import set_blas_threads

    set_blas_threads(threads)
    if kind == "profile":
        profile(only)
    else:
        serve(stn_workloads(only))


# ---------------------------------------------------------------------------- driver
def copy_bandwidth(megabytes=64, repeats=10):
    """Bytes per second of ``numpy.copyto`` between two large arrays (read + write counted), best of ``repeats``."""
    import numpy as np

    src = np.ones(megabytes << 18, dtype=np.float32)
    dst = np.empty_like(src)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.nbytes / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per configuration, workload and round")
    parser.add_argument("--warmup", type=int, default=0,
                        help="untimed calls before each block of timed ones (0: the first calls after the pause "
                             "between workers are timed too)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to compare")
    parser.add_argument("--only", default="", help="comma-separated workload names (a, b, c, d, e, v)")
    parser.add_argument("--compare", metavar="PATH", help="also time the stn_np in folder PATH (e.g. main's)")
    parser.add_argument("--profile", action="store_true", help="also print where stn_np's time goes (1 thread)")
    parser.add_argument("--default-malloc", action="store_true", help="leave glibc's malloc settings alone")
    parser.add_argument("--worker", choices=("stn", "torch", "profile"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.worker_threads, args.only, args.default_malloc)

    workloads = selected(args.only)
    with_torch = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0
    bandwidth = copy_bandwidth()
    load_before = load_average()

    def argv(kind, threads):
        return ([__file__, "--worker", kind, "--worker-threads", str(threads), "--only", args.only]
                + (["--default-malloc"] if args.default_malloc else []))

    workers = {}
    for t in args.threads:
        workers[f"stn {t}"] = Worker(f"stn {t}", argv("stn", t))
        if args.compare:
            workers[f"then {t}"] = Worker(f"then {t}", argv("stn", t), source=args.compare)
        if with_torch:
            workers[f"torch {t}"] = Worker(f"torch {t}", argv("torch", t))
    keys = [f"{w[0]} {part}" for w in workloads for part in PARTS]
    ours = ("stn", "then") if args.compare else ("stn",)
    pairs = [(f"{who} {t}", f"torch {t}") for t in args.threads for who in ours] if with_torch else []
    medians, ratios = interleave(workers, keys, args.rounds, args.calls, pairs=pairs, warmup=args.warmup)
    for w in workers.values():
        w.close()

    print(f"affine_grid -> grid_sample, float32, ms per call; medians of {args.rounds} interleaved rounds x "
          f"{args.calls} calls after {args.warmup} untimed; fwd = forward, f+b = forward + backward "
          "(image and theta gradients)")
    print(f"copy bandwidth {bandwidth / 1e9:.1f} GB/s (numpy.copyto, 1 thread, read + write); floor = bytes that "
          "must move / that bandwidth" + (f"; 'then' = the stn_np in {args.compare}" if args.compare else ""))
    # (heading, worker, part, kind): kind "ms", "ratio" (to torch at equal threads)
    cells = [("fwd", "stn", "fwd", "ms")]
    cells += [("torch", "torch", "fwd", "ms"), ("ratio", "stn", "fwd", "ratio")] if with_torch else []
    cells += [("then", "then", "fwd", "ratio" if with_torch else "ms")] if args.compare else []
    cells += [("f+b", "stn", "f+b", "ms")]
    cells += [("torch", "torch", "f+b", "ms"), ("ratio", "stn", "f+b", "ratio")] if with_torch else []
    cells += [("then", "then", "f+b", "ratio" if with_torch else "ms")] if args.compare else []
    cells += [("floor", None, "f+b", "floor"), ("x floor", "stn", "f+b", "x floor")]
    name_width = max(len(w[0]) for w in workloads) + 2
    for t in args.threads:
        print(f"\n{f'{t} thread' + 's' * (t > 1):<{name_width}}" + "".join(f"{c[0]:>9}" for c in cells)
              + "   target f+b / fwd: verdict")
        for name, N, C, spatial, out, targets in workloads:
            floor = floor_bytes(N, C, spatial, out)[1] / bandwidth
            line = f"{name:<{name_width}}"
            for _, who, part, kind in cells:
                key = f"{name} {part}"
                if kind == "ms":
                    cell = f"{1e3 * medians[f'{who} {t}', key]:.2f}"
                elif kind == "ratio":
                    cell = f"{ratios[f'{who} {t}', f'torch {t}', key]:.2f}x"
                elif kind == "floor":
                    cell = f"{1e3 * floor:.2f}"
                else:
                    cell = f"{medians[f'{who} {t}', key] / floor:.0f}x"
                line += f"{cell:>9}"
            target = targets[t - 1] if t in (1, 2) else None
            if target is None:
                line += "   info"
            else:
                line += f"   <= {target:g}x" + (f" / {FORWARD_TARGET:g}x" if name[0] != "v" else "")
                if with_torch:  # the verdict: each ratio against its target
                    verdicts = [("f+b", target)] + ([("fwd", FORWARD_TARGET)] if name[0] != "v" else [])
                    line += ": " + ", ".join(
                        f"{part} {'met' if ratios[f'stn {t}', f'torch {t}', f'{name} {part}'] <= bound else 'MISSED'}"
                        for part, bound in verdicts)
            print(line)
    if not with_torch:
        print("(torch is not importable: no ratio)")
    print(f"\nload average before / after: {load_before} / {load_average()} (2 cores: the 2-thread rows assume "
          "nothing else runs)")

    if args.profile:
        proc = subprocess.run([sys.executable, *argv("profile", 1)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"profile worker failed:\n{proc.stderr}")
        print(proc.stdout, end="")


if __name__ == "__main__":
    main()
