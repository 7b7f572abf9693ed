"""Helpers shared by ``stn-np train`` and ``stn-np evaluate``: the runtime options.

See :mod:`stn_np.training.runtime` for the measurements behind the runtime defaults.
"""

from ..training import keep_heap, set_blas_threads
from ..validation import check_int


def add_runtime_options(parser):
    parser.add_argument("--blas-threads", type=int, default=1, metavar="N",
                        help="threads (stn_np.threads.set_blas_threads; default: 1; 2 threads take 10-22%% off a "
                             "training step on an idle 2-core machine but slow down badly when another process "
                             "is busy)")
    parser.add_argument("--no-keep-heap", action="store_true",
                        help="let glibc return freed buffers to the OS after each step (slower)")


def apply_runtime_options(args):
    set_blas_threads(check_int(args.blas_threads, "stn-np", "blas_threads", minimum=1))
    if not args.no_keep_heap:
        keep_heap()
