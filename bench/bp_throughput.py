"""Throughput of the population-batched BP trainer.

For a digits-sized problem (about 1,800 x 64 inputs, one 32-unit hidden layer, 10 softmax
outputs, mini-batches of 32) this measures the time per epoch of

- ``P`` networks trained together (one batched forward/backward pass per mini-batch),
- the same ``P`` networks trained one after the other (``P`` separate ``train`` calls),
- scikit-learn's ``MLPClassifier`` (adam, batch 32, one network) when it is installed,

for float64 and float32 parameters, and prints a markdown table with the ratios measured in
the same run. Results are also written as JSON to ``bench/results/bp_throughput.json``.

Usage::

    python bench/bp_throughput.py            # full run (P = 1, 8, 40, 100)
    python bench/bp_throughput.py --quick    # smaller, for a smoke test
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

import gabp
from gabp import Network, train

N_HIDDEN = 32
N_CLASSES = 10
BATCH = 32


def load_problem(n_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Digits if :func:`gabp.data.load_digits` exists, else random data of the same size."""
    try:
        from gabp.data import load_digits  # type: ignore[attr-defined]

        ds = load_digits()
        X = np.asarray(ds.X, dtype=float)[:n_samples]
        y = np.asarray(ds.y).astype(int)[:n_samples]
        X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)
        source = "gabp.data.load_digits"
    except Exception:  # noqa: BLE001 - any failure: fall back to synthetic data
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(n_samples, 64))
        w = rng.normal(size=(64, N_CLASSES))
        y = np.argmax(X @ w + rng.normal(scale=2.0, size=(n_samples, N_CLASSES)), axis=1)
        source = "random (seed 0)"
    Y = np.eye(N_CLASSES)[y]
    return X, Y, source


def best_of(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def make_net(P: int, dtype) -> Network:
    return Network(
        (64, N_HIDDEN, N_CLASSES),
        hidden_activation="relu",
        output_activation="softmax",
        n_networks=P,
        seed=1,
        dtype=dtype,
    )


def time_batched(X, Y, P: int, dtype, epochs: int, repeats: int) -> float:
    net = make_net(P, dtype)  # built outside the timing, as in time_separate
    init = net.params.copy()

    def run():
        net.params[...] = init
        # restore_best=False: the epochs alone (with it, train also evaluates the training
        # objective of the start and of the kept weights on all the data, three extra
        # forward passes that a 3-epoch timing would count as a third more per epoch)
        train(net, X, Y, loss="cross_entropy", optimizer="adam", epochs=epochs,
              batch_size=BATCH, seed=0, restore_best=False)

    return best_of(run, repeats) / epochs


def time_separate(X, Y, P: int, dtype, epochs: int, repeats: int) -> float:
    nets = [make_net(1, dtype) for _ in range(P)]
    init = [n.params.copy() for n in nets]

    def run():
        for net, p0 in zip(nets, init, strict=True):
            net.params[...] = p0
            train(net, X, Y, loss="cross_entropy", optimizer="adam", epochs=epochs,
                  batch_size=BATCH, seed=0, restore_best=False)

    return best_of(run, repeats) / epochs


def time_sklearn(X, Y, dtype, epochs: int, repeats: int) -> float | None:
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    y = Y.argmax(axis=1)
    Xd = X.astype(dtype)

    def run():
        clf = MLPClassifier(
            hidden_layer_sizes=(N_HIDDEN,), activation="relu", solver="adam",
            batch_size=BATCH, max_iter=epochs, tol=0.0, n_iter_no_change=10**6,
            shuffle=True, random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xd, y)

    return best_of(run, repeats) / epochs


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer networks and repeats")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (best is kept)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per timing")
    parser.add_argument("--sizes", default=None, help="comma-separated P values")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                              "bp_throughput.json"))
    args = parser.parse_args(argv)

    if args.sizes:
        sizes = tuple(int(v) for v in args.sizes.split(","))
    else:
        sizes = (1, 8, 40) if args.quick else (1, 8, 40, 100)
    repeats = args.repeats or (2 if args.quick else 3)
    epochs = args.epochs or (1 if args.quick else 3)
    n_samples = 600 if args.quick else 1797
    X, Y, source = load_problem(n_samples)

    rows = []
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        sk = time_sklearn(X, Y, dtype, max(epochs, 2), repeats)
        for P in sizes:
            tb = time_batched(X, Y, P, dtype, epochs, repeats)
            # separate runs: time at most 20 networks one after the other and scale (the cost
            # of P independent runs is linear in P)
            p_sep = min(P, 20)
            ts = time_separate(X, Y, p_sep, dtype, epochs, repeats) * P / p_sep
            rows.append({
                "dtype": name, "P": P, "batched_s_per_epoch": tb,
                "separate_s_per_epoch": ts, "separate_measured_P": p_sep,
                "speedup_vs_separate": ts / tb,
                "sklearn_s_per_epoch": sk if P == 1 else None,
                "batched_vs_sklearn": (sk / tb) if (P == 1 and sk) else None,
            })

    lines = [
        f"BP throughput: {n_samples} x 64 inputs ({source}), 64-{N_HIDDEN}-{N_CLASSES} relu/"
        f"softmax, cross-entropy, adam, batch {BATCH}; best of {repeats}, {epochs} epoch(s)",
        "",
        "| dtype | P | batched ms/epoch | batched ms/epoch/net | separate ms/epoch "
        "| speed-up vs separate | sklearn ms/epoch | sklearn / gabp |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        sk = r["sklearn_s_per_epoch"]
        sk_ms = "" if sk is None else f"{1e3 * sk:.2f}"
        sk_ratio = "" if sk is None else f"{r['batched_vs_sklearn']:.2f}x"
        lines.append(
            f"| {r['dtype']} | {r['P']} | {1e3 * r['batched_s_per_epoch']:.2f} "
            f"| {1e3 * r['batched_s_per_epoch'] / r['P']:.3f} "
            f"| {1e3 * r['separate_s_per_epoch']:.2f} "
            f"| {r['speedup_vs_separate']:.1f}x "
            f"| {sk_ms} | {sk_ratio} |"
        )
    print("\n".join(lines))
    result = {
        "config": {"n_samples": n_samples, "n_inputs": 64, "hidden": N_HIDDEN,
                   "n_outputs": N_CLASSES, "batch_size": BATCH, "epochs": epochs,
                   "repeats": repeats, "data": source, "quick": args.quick},
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "gabp": gabp.__version__, "processor": platform.processor()},
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
