"""The timing rules every benchmark script here uses: warm up, then medians; interleave what is compared.

Medians, not means: the machines are shared, and a run that another process slowed down
should not move the figure.

:func:`median_seconds` times one callable in this process. :func:`interleave` compares
configurations that must not share a process (BLAS and OpenMP thread counts are per process,
and two thread pools in one process compete): each configuration is a :class:`Worker`
subprocess that builds its workloads once, and the driver asks the workers in turn, round
after round, for short blocks of timed calls. A slow patch of the shared machine then hits
every configuration alike, and the ratio of two configurations is taken within each round
before the median over rounds is reported. Between workers the driver pauses briefly, so that
the previous worker's BLAS/OpenMP threads stop spinning before the next worker starts.
"""

import json
import os
import statistics
import subprocess
import sys
import time


def median_seconds(fn, repeats, inner=1, warmup=1):
    """Median over ``repeats`` of the mean wall time of ``inner`` back-to-back calls of ``fn``.

    ``warmup`` untimed calls come first (caches, lazily built tables, allocator state).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


# ---------------------------------------------------------------------------- interleaved workers
def serve(workloads, warmup=3):
    """Worker side: warm up every workload, then answer timing requests on stdin until it closes.

    ``workloads`` maps a key to a callable. A request is one JSON line ``{"key": k, "calls": c}``,
    optionally with ``"warmup": w``: ``w`` untimed calls first. The answer is one JSON line: the
    wall seconds of each of the ``c`` timed calls.
    """
    for fn in workloads.values():
        for _ in range(warmup):
            fn()
    print(json.dumps({"ready": sorted(workloads)}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        fn, times = workloads[request["key"]], []
        for _ in range(request.get("warmup", 0)):
            fn()
        for _ in range(request["calls"]):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        print(json.dumps(times), flush=True)


class Worker:
    """Driver side of one :func:`serve` subprocess, started with ``argv`` (a Python command line).

    ``source``: a folder to import ``stn_np`` from instead of the current one (put first on
    PYTHONPATH), e.g. an export of the main branch to time before and after a change.
    """

    def __init__(self, name, argv, source=None):
        self.name = name
        env = dict(os.environ)
        if source is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.abspath(source), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen([sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, bufsize=1, env=env)
        self.keys = self._read()["ready"]

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} failed:\n{self.process.stderr.read()}")
        return json.loads(line)

    def times(self, key, calls, warmup=0):
        """Seconds of each of ``calls`` timed calls of workload ``key``, after ``warmup`` untimed ones."""
        self.process.stdin.write(json.dumps({"key": key, "calls": calls, "warmup": warmup}) + "\n")
        return self._read()

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def interleave(workers, keys, rounds, calls, pause=0.15, pairs=(), warmup=0):
    """Time every (worker, key) in turns and return medians and within-round ratios.

    Parameters
    ----------
    workers : dict of name -> Worker
    keys : list of str
        Workloads every worker serves.
    rounds, calls : int
        ``rounds`` rounds; in each, every worker in turn times a block of ``calls`` calls of
        every key (the worker order rotates from round to round).
    pause : float
        Seconds of rest before each worker's turn (spinning thread pools of the last go idle).
    pairs : list of (name, name)
        ``(a, b)`` pairs whose ratio ``a / b`` is wanted (e.g. stn_np and PyTorch at one thread count).
    warmup : int
        Untimed calls before each block. After the pause, the first calls run slowly (on the
        development machine a training step took 1.6x its steady time first, 1.3x second, at
        two threads; 1.4x first at one): a workload that runs back to back in practice, like a
        training step, is timed after a few.

    Returns
    -------
    medians : dict of (name, key) -> seconds
        Median over every timed call of all rounds.
    ratios : dict of (a, b, key) -> float
        Median over rounds of the ratio of the two block medians of that round.
    """
    names = list(workers)
    samples = {(name, key): [] for name in names for key in keys}
    per_round = {(a, b, key): [] for a, b in pairs for key in keys}
    for r in range(rounds):
        block = {}
        for name in names[r % len(names):] + names[: r % len(names)]:
            time.sleep(pause)
            for key in keys:
                times = workers[name].times(key, calls, warmup)
                samples[name, key] += times
                block[name, key] = statistics.median(times)
        for a, b in pairs:
            for key in keys:
                per_round[a, b, key].append(block[a, key] / block[b, key])
    medians = {k: statistics.median(v) for k, v in samples.items()}
    ratios = {k: statistics.median(v) for k, v in per_round.items()}
    return medians, ratios


def load_average():
    """The 1-minute load average (how busy the shared machine was), or None where unknown."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
