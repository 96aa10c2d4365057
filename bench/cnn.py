"""Digits: CNNs against MLPs at an equal sample-pass budget, and CNN throughput.

Part 1 (quality): the 8x8 digits (pixels / 16; stratified 70 / 15 / 15 split). Every
candidate architecture of :data:`CNNS` and :data:`MLPS` (ReLU, softmax output, He init,
float32) is trained with Adam (batches of 32, cross-entropy) at every learning rate of
:data:`LRS` and L2 alpha of :data:`ALPHAS`, 2 seeds each, for the same
``max_sample_passes`` per network (``--epochs`` passes over the training set; one forward +
backward of one sample through one network = 1), the weights of the best validation epoch
kept. Each kind's setting with the best mean *validation* accuracy (ties: the first in grid
order) is then trained again with ``--seeds`` fresh seeds and scored once on the test part;
the table gives validation and test accuracy (mean ± sd over those networks) and the wall
time. The test part plays no role in any choice.

Part 2 (speed): milliseconds per epoch of ``P`` = 1 / 8 / 40 CNNs trained together (float32
and float64), per network, for the chosen CNN and the small ``conv8-pool``, and the *GEMM
floor*: the time of the epoch's matrix products alone (:func:`products`: every weighted
layer's forward, weight-gradient and input-gradient products with the trainer's shapes and
batching, on one BLAS thread as in ``train``, timed back to back without anything else) and
its GFLOP/s. ``epoch / floor`` is the overhead factor; the target is at most 3. Epochs are
timed with ``restore_best=False`` (no full-data evaluations of the starting and final
weights). Run it with this checkout's gabp first on the path (``PYTHONPATH=.``).

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
from gabp._threads import one_blas_thread  # noqa: E402
from gabp.data import load_digits, stratified_split  # noqa: E402
from gabp.layers import Conv2D, Flatten, MaxPool2D  # noqa: E402

BATCH = 32
IMG = (1, 8, 8)
#: candidate architectures, chosen between on validation accuracy (never on the test set)
CNNS = {
    "conv8-pool": (IMG, Conv2D(8, 3), MaxPool2D(2), Flatten(), 10),
    "conv16p1-pool": (IMG, Conv2D(16, 3, padding=1), MaxPool2D(2), Flatten(), 10),
    "conv16p1-pool-64": (IMG, Conv2D(16, 3, padding=1), MaxPool2D(2), Flatten(), 64, 10),
    "conv16p1x2-pool": (IMG, Conv2D(16, 3, padding=1), Conv2D(16, 3, padding=1),
                        MaxPool2D(2), Flatten(), 10),
}
MLPS = {
    "mlp32": (64, 32, 10),
    "mlp64": (64, 64, 10),
    "mlp128": (64, 128, 10),
    "mlp256": (64, 256, 10),
    "mlp128-64": (64, 128, 64, 10),
}
#: Adam learning rates and L2 strengths tried for every architecture
LRS = (0.003, 0.01, 0.03)
ALPHAS = (0.0, 1e-4, 1e-3)
QUICK_LRS, QUICK_ALPHAS = (0.01,), (0.0, 1e-4)


def data(seed: int = 0):
    ds = load_digits(as_images=True)
    X, y = ds.X.reshape(len(ds.y), -1) / 16.0, np.asarray(ds.y)
    tr, va, te = stratified_split(y, val_fraction=0.15, test_fraction=0.15, seed=seed)
    Y = np.eye(10)[y]
    return (X[tr], Y[tr]), (X[va], y[va]), (X[te], y[te])


def make(layers, P: int, dtype=np.float32, seed: int = 0) -> Network:
    return Network(layers, hidden_activation="relu", output_activation="softmax",
                   n_networks=P, seed=seed, dtype=dtype, init="he_normal")


def fit_population(layers, lrs, alphas, budget: float, seed: int, parts):
    """Train one network per ``(lr, alpha)`` pair (arrays of length P) as one population.

    Returns the validation and test accuracy of each network (best validation epoch kept),
    the sample-passes used and the wall time.
    """
    (X, Y), (Xv, yv), (Xt, yt) = parts
    net = make(layers, len(lrs), seed=seed)
    Yv = np.eye(10)[yv]
    t0 = time.perf_counter()
    hist = train(net, X, Y, X_val=Xv, Y_val=Yv, loss="cross_entropy",
                 learning_rate=np.asarray(lrs), alpha=np.asarray(alphas), batch_size=BATCH,
                 epochs=10 * int(budget // X.shape[0] + 1), max_sample_passes=budget,
                 seed=seed)
    seconds = time.perf_counter() - t0
    val = np.array([np.mean(o.argmax(axis=1) == yv) for o in net.forward(Xv)])
    test = np.array([np.mean(o.argmax(axis=1) == yt) for o in net.forward(Xt)])
    return val, test, float(hist.sample_passes.mean()), seconds


def select(models: dict, budget: float, lrs, alphas, n_seeds: int, parts) -> list[dict]:
    """Validation accuracy (mean over ``n_seeds``) of every architecture x lr x alpha."""
    grid = [(lr, a) for lr in lrs for a in alphas]
    rows = []
    for name, layers in models.items():
        lr_p = np.repeat([g[0] for g in grid], n_seeds)
        al_p = np.repeat([g[1] for g in grid], n_seeds)
        val, _, _, seconds = fit_population(layers, lr_p, al_p, budget, 100, parts)
        for g, (lr, a) in enumerate(grid):
            v = val[g * n_seeds : (g + 1) * n_seeds]
            rows.append({"model": name, "lr": lr, "alpha": a, "val_accuracy": float(v.mean()),
                         "val_sd": float(v.std()), "seconds": seconds / len(grid)})
    return rows


def quality(epochs: int, seeds: int, quick: bool) -> dict:
    """Choose each kind's best setting on validation data, then test it on fresh seeds."""
    parts = data()
    budget = float(epochs * parts[0][0].shape[0])
    lrs, alphas = (QUICK_LRS, QUICK_ALPHAS) if quick else (LRS, ALPHAS)
    cnns = dict(list(CNNS.items())[:2]) if quick else CNNS
    mlps = dict(list(MLPS.items())[:2]) if quick else MLPS
    out: dict = {"budget": budget, "grid": {}, "final": []}
    for kind, models in (("CNN", cnns), ("MLP", mlps)):
        rows = select(models, budget, lrs, alphas, 2, parts)
        out["grid"][kind] = rows
        best = max(rows, key=lambda r: r["val_accuracy"])
        layers = models[best["model"]]
        val, test, used, seconds = fit_population(layers, [best["lr"]] * seeds,
                                                  [best["alpha"]] * seeds, budget, 0, parts)
        out["final"].append({"kind": kind, "model": best["model"], "lr": best["lr"],
                             "alpha": best["alpha"], "n_params": make(layers, 1).arch.n_params,
                             "val_accuracy": val.tolist(), "accuracy": test.tolist(),
                             "sample_passes": used, "seconds": seconds})
    return out


def products(arch, batch: int) -> list[tuple[int, int, int, bool, str]]:
    """The matrix products of one training step: ``(M, K, F, shared, what)`` each.

    Per weighted layer (dense: ``M`` = samples; conv: samples x output pixels, ``K`` = the
    patch size ``kh * kw * C``, ``F`` = filters): the forward ``(M, K) @ (K, F)``, the weight
    gradient ``(K, M) @ (M, F)`` and, except for the first weighted layer, the input
    gradient ``(M, F) @ (F, K)``. ``shared``: the first layer's input is one array for all
    ``P`` networks.
    """
    out = []
    first = True
    for layer, (in_shape, out_shape) in zip(arch.layers, arch.shapes, strict=True):
        ws = layer.weight_shape(in_shape)
        if ws is None:
            continue
        K, F = ws
        M = batch * (out_shape[0] * out_shape[1] if len(out_shape) == 3 else 1)
        out += [(M, K, F, first, "forward"), (K, M, F, first, "weight gradient")]
        if not first:
            out.append((M, F, K, False, "input gradient"))
        first = False
    return out


def gemm_floor(arch, P: int, dtype, n: int, repeats: int) -> tuple[float, float]:
    """Seconds of one epoch's matrix products for ``P`` networks, and their GFLOP.

    The products of :func:`products` for every mini-batch of an epoch over ``n`` samples,
    on random arrays of the same shapes and batching as the trainer's (a shared first
    operand for the first layer), timed back to back without anything else.
    """
    rng = np.random.default_rng(0)
    full, last = divmod(n, BATCH)
    sizes = [BATCH] * full + ([last] if last else [])
    bufs = {}
    for b in set(sizes):
        bufs[b] = [((rng.normal(size=(M, K) if shared else (P, M, K)).astype(dtype)),
                    rng.normal(size=(P, K, F)).astype(dtype))
                   for M, K, F, shared, _ in products(arch, b)]
    flops = sum(2.0 * P * M * K * F for b in sizes for M, K, F, _, _ in products(arch, b))

    def run():
        for b in sizes:
            for A, B in bufs[b]:
                np.matmul(A, B)

    with one_blas_thread():  # as in train
        return best_of(run, repeats), flops / 1e9


def speed(models: dict, sizes, repeats: int, epochs: int) -> list[dict]:
    (X, Y), _, _ = data()
    rows = []
    for name, layers in models.items():
        for dtype in (np.float32, np.float64):
            for P in sizes:
                net = make(layers, P, dtype)
                init = net.params.copy()

                def run(net=net, init=init):
                    net.params[...] = init
                    train(net, X, Y, loss="cross_entropy", epochs=epochs, batch_size=BATCH,
                          seed=0, restore_best=False)  # epochs only: no "epoch -1" passes

                ms = best_of(run, repeats) / epochs * 1e3
                floor, gflop = gemm_floor(net.arch, P, dtype, X.shape[0], repeats)
                rows.append({"model": name, "dtype": np.dtype(dtype).name, "P": P,
                             "ms_epoch": ms, "ms_epoch_net": ms / P,
                             "gemm_floor_ms": floor * 1e3, "gemm_gflops": gflop / floor,
                             "ratio": ms / (floor * 1e3)})
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
    q = quality(epochs, seeds, args.quick)
    print(f"Quality: Adam, batch {BATCH}, He init, float32, budget {epochs} training-set "
          f"passes = {q['budget']:.0f} sample-passes per network, best validation epoch kept.\n"
          "Each kind's architecture, learning rate and L2 alpha were chosen on the validation "
          "part (mean of 2 seeds per setting; grid below), then trained again with "
          f"{seeds} fresh seeds and scored once on the test part.\n")
    print(table(["kind", "chosen on validation", "lr", "alpha", "params", "val accuracy",
                 "test accuracy (mean ± sd)", "seconds (all networks)"],
                [[r["kind"], r["model"], f"{r['lr']:g}", f"{r['alpha']:g}", str(r["n_params"]),
                  mean_std(r["val_accuracy"]), mean_std(r["accuracy"]),
                  f"{r['seconds']:.2f}"] for r in q["final"]]))
    for kind, rows in q["grid"].items():
        print(f"\n{kind} grid (validation accuracy, mean of 2 seeds):\n")
        print(table(["model", "lr", "alpha", "val accuracy"],
                    [[r["model"], f"{r['lr']:g}", f"{r['alpha']:g}",
                      f"{r['val_accuracy']:.4f}"] for r in rows]))
    chosen = next(r["model"] for r in q["final"] if r["kind"] == "CNN")
    models = {name: CNNS[name] for name in dict.fromkeys(("conv8-pool", chosen))}
    s = speed(models, (1, 8) if args.quick else (1, 8, 40), 2 if args.quick else 3,
              1 if args.quick else 2)
    print("\nSpeed: CNN epoch (1257 samples, batch 32, Adam) against its GEMM floor (the "
          "epoch's matrix products alone, same shapes, same run)\n")
    print(table(["model", "dtype", "P", "ms/epoch", "ms/epoch/net", "GEMM floor ms",
                 "GEMM GFLOP/s", "epoch / floor"],
                [[r["model"], r["dtype"], str(r["P"]), f"{r['ms_epoch']:.1f}",
                  f"{r['ms_epoch_net']:.2f}", f"{r['gemm_floor_ms']:.2f}",
                  f"{r['gemm_gflops']:.1f}", f"{r['ratio']:.1f}x"] for r in s]))
    res = {"machine": info, "quality": q, "speed": s, "epochs": epochs, "seeds": seeds}
    path = write_json("cnn.json", res, args.out)
    print(f"\nwrote {path}")
    return res


if __name__ == "__main__":
    main()
