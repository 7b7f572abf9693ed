"""Accuracy protocol: CNN vs ST-CNN on RTS Fashion-MNIST, as in the PyTorch reference run.

Protocol (fixed): Fashion-MNIST (the real files), 60k train / 10k test, each image rotated,
scaled and translated onto a 42 x 42 canvas (RTS, :mod:`stn_np.data.distortions`), inputs scaled
to [0, 1]; Adam, lr 1e-3, batch 64, 8 epochs; both models of :mod:`stn_np.nn.models`. The
PyTorch 2.13 CPU reference of this protocol reached 68.4% (CNN) and 75.7% (ST-CNN).

Each model trains through :func:`stn_np.training.train` into ``OUT/<model>`` (so an interrupted
benchmark continues with ``--resume``), with the command line's runtime settings (1 BLAS thread,
heap kept). Prints a table: test accuracy after each epoch, the final one, seconds per epoch.

Usage: python benchmarks/rts_fashion.py [--data-dir /usr/share/datasets/fashion-mnist]
       [--out runs/rts-fashion] [--models cnn st-cnn] [--loc-lr-mult 1] [--seed 0] [--resume]
       [--table-only]
"""

import argparse
import json
import os
import statistics

from stn_np.training import TrainConfig, keep_heap, set_blas_threads, train

REFERENCE = {"cnn": 0.684, "st-cnn": 0.757}  # PyTorch 2.13 CPU, same protocol


def table(out, models):
    rows = []
    for model in models:
        path = os.path.join(out, model, "metrics.json")
        if not os.path.exists(path):
            continue
        metrics = json.load(open(path))
        epochs = metrics["epochs"]
        rows.append((model, metrics, epochs))
    if not rows:
        print(f"no results under {out}")
        return
    n = max(len(e) for _, _, e in rows)
    header = f"{'model':<8}" + "".join(f"{'ep' + str(i + 1):>7}" for i in range(n)) + \
        f"{'final':>8}{'torch':>8}{'s/epoch':>9}  config"
    print(header)
    for model, metrics, epochs in rows:
        accs = "".join(f"{100 * r['test_accuracy']:>6.1f}%" for r in epochs) + " " * 7 * (n - len(epochs))
        seconds = statistics.median(r["seconds"] for r in epochs)
        cfg = metrics["config"]
        print(f"{model:<8}{accs}{100 * epochs[-1]['test_accuracy']:>7.2f}%{100 * REFERENCE[model]:>7.1f}%"
              f"{seconds:>9.0f}  lr {cfg['lr']:g}, loc x{cfg['loc_lr_mult']:g}, seed {cfg['seed']}"
              + ("" if metrics["status"] == "complete" else f" ({metrics['status']})"))
    finals = {model: epochs[-1]["test_accuracy"] for model, _, epochs in rows}
    if len(finals) == 2:
        print(f"ST-CNN - CNN: {100 * (finals['st-cnn'] - finals['cnn']):+.2f} points "
              f"(PyTorch reference: {100 * (REFERENCE['st-cnn'] - REFERENCE['cnn']):+.1f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", default="runs/rts-fashion")
    parser.add_argument("--models", nargs="+", default=["cnn", "st-cnn"], choices=["cnn", "st-cnn"])
    parser.add_argument("--loc-lr-mult", type=float, default=1.0, help="ST-CNN localisation lr multiplier")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=8, help="8 in the protocol")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--table-only", action="store_true", help="print the table of finished runs")
    parser.add_argument("--blas-threads", type=int, default=1)
    args = parser.parse_args()
    if not args.table_only:
        set_blas_threads(args.blas_threads)
        keep_heap()
        for model in args.models:
            config = TrainConfig(data="fashion-mnist", data_dir=args.data_dir, distortion="RTS", model=model,
                                 epochs=args.epochs, batch_size=64, optimizer="adam", lr=1e-3,
                                 loc_lr_mult=args.loc_lr_mult, seed=args.seed)
            print(f"== {model}")
            train(config, os.path.join(args.out, model), resume=args.resume, progress=False)
    table(args.out, args.models)


if __name__ == "__main__":
    main()
