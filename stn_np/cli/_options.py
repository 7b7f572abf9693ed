"""Helpers shared by ``stn-np train`` and ``stn-np evaluate``: the runtime options.

See :mod:`stn_np.training.runtime` for the measurements behind the runtime defaults.
"""

from ..training import keep_heap, set_blas_threads


def add_runtime_options(parser):
    parser.add_argument("--blas-threads", type=int, default=1, metavar="N",
                        help="OpenBLAS threads (default: 1; 2 threads gain ~15%% on an idle 2-core machine but "
                             "slow down badly when another process is busy)")
    parser.add_argument("--no-keep-heap", action="store_true",
                        help="let glibc return freed buffers to the OS after each step (slower)")


def apply_runtime_options(args):
    if args.blas_threads < 1:
        raise ValueError(f"blas_threads: expected an int >= 1, got {args.blas_threads}")
    set_blas_threads(args.blas_threads)
    if not args.no_keep_heap:
        keep_heap()
