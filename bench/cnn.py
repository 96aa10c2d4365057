"""Digits: a small CNN against the MLP at an equal sample-pass budget, and CNN throughput.

Part 1 (quality): the 8x8 digits (pixels / 16; stratified 70 / 15 / 15 split) with

- CNN: ``(1, 8, 8) -> Conv2D(8, 3x3, relu) -> MaxPool2D(2) -> Flatten -> 10 softmax``
  (810 parameters),
- MLP: ``64 -> 32 relu -> 10 softmax`` (2,410 parameters, the bp_throughput network),

each trained with Adam (learning rate 0.01, batches of 32, cross-entropy) for the same
``max_sample_passes`` per network (``--epochs`` passes over the training set; one forward +
backward of one sample through one network = 1), the weights of the best validation epoch
kept. ``--seeds`` networks of each kind are trained as one population; the table gives the
test accuracy (mean ± std over those networks) and the wall time of the run.

Part 2 (speed): milliseconds per epoch of ``P`` = 1 / 8 / 40 CNNs trained together (float64
and float32), per network, and the *GEMM floor*: the time of the epoch's matrix products
alone (the same im2col-patch x kernel products, weight-gradient and dense products, with
the same shapes and batching as the trainer uses, timed back to back without anything
else). ``epoch / floor`` is the overhead factor; the target is at most 3. Epochs are timed
with ``restore_best=False`` (no full-data evaluations of the starting and final weights).

Usage::

    python bench/cnn.py            # full run
    python bench/cnn.py --quick    # smaller, for a smoke test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of, machine, machine_line, mean_std, table, write_json  # noqa: E402

from gabp import Network, train  # noqa: E402
from gabp.data import load_digits, stratified_split  # noqa: E402
from gabp.layers import Conv2D, Flatten, MaxPool2D  # noqa: E402

BATCH = 32
CNN = ((1, 8, 8), Conv2D(8, 3, activation="relu"), MaxPool2D(2), Flatten(), 10)
MLP = (64, 32, 10)


def data(seed: int = 0):
    ds = load_digits(as_images=True)
    X, y = ds.X.reshape(len(ds.y), -1) / 16.0, np.asarray(ds.y)
    tr, va, te = stratified_split(y, val_fraction=0.15, test_fraction=0.15, seed=seed)
    Y = np.eye(10)[y]
    return (X[tr], Y[tr]), (X[va], Y[va]), (X[te], y[te])


def make(layers, P: int, dtype=np.float64, seed: int = 0) -> Network:
    return Network(layers, hidden_activation="relu", output_activation="softmax",
                   n_networks=P, seed=seed, dtype=dtype)


def quality(epochs: int, seeds: int) -> list[dict]:
    (X, Y), (Xv, Yv), (Xt, yt) = data()
    budget = float(epochs * X.shape[0])
    rows = []
    for name, layers in (("CNN", CNN), ("MLP", MLP)):
        net = make(layers, seeds, seed=1)
        t0 = time.perf_counter()
        hist = train(net, X, Y, X_val=Xv, Y_val=Yv, loss="cross_entropy", learning_rate=0.01,
                     batch_size=BATCH, epochs=10 * epochs, max_sample_passes=budget, seed=0)
        elapsed = time.perf_counter() - t0
        acc = [float(np.mean(o.argmax(axis=1) == yt)) for o in net.forward(Xt)]
        rows.append({"model": name, "n_params": net.arch.n_params, "accuracy": acc,
                     "sample_passes": float(hist.sample_passes.mean()),
                     "seconds": elapsed})
    return rows


def gemm_floor(P: int, dtype, X: np.ndarray, repeats: int) -> float:
    """Seconds of one epoch's matrix products for P CNNs (shapes as in the trainer)."""
    n = X.shape[0]
    rng = np.random.default_rng(0)
    full, last = divmod(n, BATCH)
    sizes = [BATCH] * full + ([last] if last else [])
    K, F, M_px, k = 9, 8, 36, 10  # 3x3x1 patches, 8 filters, 6x6 outputs, 10 classes
    fi = 3 * 3 * F
    bufs = {}
    for b in set(sizes):
        bufs[b] = (rng.normal(size=(b * M_px, K)).astype(dtype),  # patches (shared input)
                   rng.normal(size=(P, K, F)).astype(dtype),  # kernels
                   rng.normal(size=(P, b * M_px, F)).astype(dtype),  # conv delta
                   rng.normal(size=(P, b, fi)).astype(dtype),  # pooled, flat
                   rng.normal(size=(P, fi, k)).astype(dtype),  # dense W
                   rng.normal(size=(P, b, k)).astype(dtype))  # output delta

    def run():
        for b in sizes:
            cols, Wc, dc, a, Wd, dd = bufs[b]
            np.matmul(cols, Wc)  # conv forward
            np.matmul(a, Wd)  # dense forward
            np.matmul(a.transpose(0, 2, 1), dd)  # dense weight gradient
            np.matmul(dd, Wd.transpose(0, 2, 1))  # dense input gradient
            np.matmul(cols.T, dc)  # conv weight gradient (first layer: no input gradient)

    return best_of(run, repeats)


def speed(sizes, repeats: int, epochs: int) -> list[dict]:
    (X, Y), _, _ = data()
    rows = []
    for dtype in (np.float64, np.float32):
        for P in sizes:
            net = make(CNN, P, dtype)
            init = net.params.copy()

            def run(net=net, init=init):
                net.params[...] = init
                train(net, X, Y, loss="cross_entropy", epochs=epochs, batch_size=BATCH, seed=0,
                      restore_best=False)  # epochs only: no full-data "epoch -1" passes

            ms = best_of(run, repeats) / epochs * 1e3
            floor = gemm_floor(P, dtype, X, repeats) * 1e3
            rows.append({"dtype": np.dtype(dtype).name, "P": P, "ms_epoch": ms,
                         "ms_epoch_net": ms / P, "gemm_floor_ms": floor, "ratio": ms / floor})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, seeds and repeats")
    parser.add_argument("--epochs", type=int, default=None, help="budget in training-set passes")
    parser.add_argument("--seeds", type=int, default=None, help="networks of each kind")
    parser.add_argument("--out", default=None, help="JSON output (default bench/results/)")
    args = parser.parse_args(argv)
    epochs = args.epochs or (5 if args.quick else 30)
    seeds = args.seeds or (3 if args.quick else 5)
    info = machine()
    print(f"Digits CNN vs MLP; {machine_line(info)}\n")
    q = quality(epochs, seeds)
    print(f"Quality: Adam lr 0.01, batch {BATCH}, budget {epochs} training-set passes per "
          f"network ({q[0]['sample_passes']:.0f} sample-passes used), best validation epoch "
          f"kept, {seeds} networks each\n")
    print(table(["model", "params", "test accuracy (mean ± std)", "seconds (all networks)"],
                [[r["model"], str(r["n_params"]), mean_std(r["accuracy"]),
                  f"{r['seconds']:.2f}"] for r in q]))
    s = speed((1, 8) if args.quick else (1, 8, 40), 2 if args.quick else 3, 2)
    print("\nSpeed: CNN epoch (1257 samples, batch 32, Adam) against its GEMM floor\n")
    print(table(["dtype", "P", "ms/epoch", "ms/epoch/net", "GEMM floor ms", "epoch / floor"],
                [[r["dtype"], str(r["P"]), f"{r['ms_epoch']:.1f}", f"{r['ms_epoch_net']:.2f}",
                  f"{r['gemm_floor_ms']:.2f}", f"{r['ratio']:.1f}x"] for r in s]))
    res = {"machine": info, "quality": q, "speed": s, "epochs": epochs, "seeds": seeds}
    path = write_json("cnn.json", res, args.out)
    print(f"\nwrote {path}")
    return res


if __name__ == "__main__":
    main()
