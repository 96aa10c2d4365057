"""Second-order solvers: speed of batched Levenberg-Marquardt, quality of lm/br/lbfgs/adam, and
the benchmark behind ``optimizer="auto"``.

Parts (``--parts``, all by default):

- ``kernels``: GFLOP/s of one LM iteration's pieces, the Jacobian assembly (outer products
  and the backpropagated seeds, ``n k (sum fi fo + 2 sum_{i>0} fi fo)`` flops), ``JᵀJ``
  (``2 n k q²``), the Cholesky factorization (``q³ / 3``) and the solve with its factor
  (``2 q²``), for Mackey-Glass 4-10-1 (n = 500), sunspots 12-8-1 (n = 209) and a 30-20-1
  network (n = 500), P = 1, 8, 40, against this machine's float64 GEMM peak (the best of
  256-, 512- and 1,000-square products, with the BLAS library's threads and with one),
  measured in the same run. Also the solve of the damped systems before this change
  (Cholesky, then an LU solve of the same matrices) against the factor's blocked triangular
  solves, and ``np.linalg.solve`` on ``(30, 113, 113)`` with the library's threads and with one.
- ``speed``: Mackey-Glass 4-10-1 tanh (500 training pairs). Time of ``--iters`` LM iterations
  for P = 1, 8, 40, 100 networks trained as one population, against the same networks one by
  one (``train`` with P = 1) and against ``scipy.optimize.least_squares(method="lm")``
  (MINPACK) with an analytic Jacobian (gabp's own, so only the solver differs), one network at
  a time. MINPACK does not count iterations the way trainlm does, so the comparison is per
  Jacobian evaluation (one per iteration in both): ms per network-iteration. The final
  training mse of both is shown too. Best of ``--repeats`` timings.
- ``adam``: time of 300 LM iterations against 2,000 full-batch Adam epochs of the same 40
  networks.
- ``quality``: Mackey-Glass (Jang setup: 500 train / 500 test pairs, x(t+6) from 4 lags, raw
  values), 40 random 4-10-1 tanh networks, each method's median / best test RMSE: lm and br
  300 iterations, lbfgs 2,000 iterations, adam 2,000 full-batch epochs at the best of three
  learning rates (by median training loss). No validation data (as in the issue's prototype).
- ``sunspots``: the classic yearly split (train ..1920 with its last 10 % as validation, 12
  lags, min-max scaled), 40 random 12-8-1 tanh networks: median ARV on 1921-1955 and
  1956-1979 (MSE / variance of the period's targets, original units) and the ARV of the mean
  prediction of the 40. lm with validation stopping (patience 6, MATLAB's trainlm default)
  and without, br without validation (MATLAB's trainbr), lbfgs and adam (batch 32, learning
  rate 0.01) with validation stopping (patience 20); at most 300 iterations for lm/br, 1,000
  for lbfgs, 500 epochs for adam.
- ``auto``: P = 8 networks per task and method, validation data for restoring the best epoch
  and early stopping (lm/br patience 6, MATLAB's max_fail; lbfgs and adam patience 20);
  lm/br at most 300 iterations on the mse, lbfgs at most 1,000 iterations and adam (batch 32,
  learning rate 1e-3) at most 500 epochs on the task's loss. Tasks: Mackey-Glass 4-10-1,
  sunspots 12-8-1 (classic split, scaled), breast cancer 30-10-1 sigmoid (binary
  cross-entropy; LM on the mse of the same output), digits 64-32-10 softmax (cross-entropy;
  LM on the mse of the one-hot targets, 2 networks and 20 iterations only: 2,410 parameters).
- ``br``: the evidence for ``optimizer="auto"`` choosing BR: ``GABPRegressor`` at its defaults
  (lamarckian GA-BP, 10 % validation) on Mackey-Glass 4-10-1 and sunspots 12-8-1 (classic
  split) with ``optimizer="br"``, ``"lm"`` and ``"lm"`` with ``alpha=1e-4``; median test
  metric over 3 seeds (1 with ``--quick``).

gabp limits BLAS to one thread inside its solver calls for networks of up to 1,000
parameters (:mod:`gabp._threads`), so the script leaves the BLAS library at its default;
``--blas-threads=N`` sets ``OPENBLAS_NUM_THREADS`` and friends before NumPy is imported. Both
sides of every ratio run with the same setting.

Usage::

    python bench/second_order.py             # everything (a few minutes on 2 cores)
    python bench/second_order.py --quick     # smoke run
    python bench/second_order.py --parts speed,adam

Prints markdown tables and writes ``bench/results/second_order.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from functools import partial
from typing import Any

if __name__ == "__main__":  # the thread count must be set before NumPy loads OpenBLAS
    _given = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--blas-threads=")]
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if _given:
            os.environ[_var] = _given[-1]

import numpy as np  # noqa: E402
from _common import best_of, machine, machine_line, table, timed, write_json

from gabp import Network, train  # noqa: E402
from gabp.data import load_dataset, mackey_glass_benchmark, split_task  # noqa: E402
from gabp.network import forward  # noqa: E402
from gabp.solvers import error_jacobian  # noqa: E402
from gabp.solvers.jacobian import _jacobian_rows  # noqa: E402
from gabp.solvers.levenberg import cholesky_solve  # noqa: E402

try:  # optional: the MINPACK reference
    from scipy.optimize import least_squares
except ImportError:  # pragma: no cover - depends on the environment
    least_squares = None

PARTS = ("kernels", "speed", "adam", "quality", "sunspots", "auto", "br")
NO_STOP = {"min_grad": 0.0, "goal": 0.0}


def mg_data():
    b = mackey_glass_benchmark()
    return b.X_train, b.y_train.reshape(-1, 1), b.X_test, b.y_test.reshape(-1, 1)


def rmse_per_network(net: Network, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    e = net.forward(X) - y
    return np.sqrt(np.mean(e * e, axis=(1, 2)))


# -- kernels ---------------------------------------------------------------------------------

KERNEL_NETS = {"Mackey-Glass 4-10-1": ((4, 10, 1), 500), "sunspots 12-8-1": ((12, 8, 1), 209),
               "30-20-1": ((30, 20, 1), 500)}


def _gflops(flops: float, seconds: float) -> float:
    return flops / seconds / 1e9


def gemm_peak(repeats: int) -> dict[str, float]:
    """float64 GEMM GFLOP/s, best of 256-, 512- and 1,000-square products (the short ones are
    the least disturbed on a shared machine), with the library's threads and with one."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    mats = [rng.standard_normal((m, m)) for m in (256, 512, 1000)]

    def best() -> float:
        return max(_gflops(2.0 * a.shape[0] ** 3, best_of(lambda a=a: a @ a, 3 * repeats))
                   for a in mats)

    out = {"default": best()}
    with threadpool_limits(limits=1, user_api="blas"):
        out["1 thread"] = best()
    return out


def _old_solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The damped solve before: Cholesky for the check, then LU on the same systems."""
    np.linalg.cholesky(A)
    return np.linalg.solve(A, b[..., None])[..., 0]


def _kernel_row(name: str, sizes: tuple[int, ...], n: int, P: int, repeats: int,
                rng: np.random.Generator) -> dict[str, Any]:
    from gabp._threads import one_blas_thread

    net = Network(sizes, hidden_activation="tanh", n_networks=P, seed=0)
    arch, w = net.arch, net.params
    X = rng.uniform(-1, 1, (n, sizes[0]))
    q, k = arch.n_params, arch.n_outputs
    pairs = [a * b for a, b in zip(arch.layer_sizes[:-1], arch.layer_sizes[1:], strict=True)]
    f_jac = P * n * k * (sum(pairs) + 2 * sum(pairs[1:]))
    with one_blas_thread():  # as inside train()
        J = _jacobian_rows(arch, w, X)[1]
        A = np.matmul(J.transpose(0, 2, 1), J) + 1e-3 * np.eye(q)
        L = np.linalg.cholesky(A)
        b = rng.standard_normal((P, q))
        t_jac = best_of(lambda: _jacobian_rows(arch, w, X), repeats)
        t_jtj = best_of(lambda: np.matmul(J.transpose(0, 2, 1), J), repeats)
        t_chol = best_of(lambda: np.linalg.cholesky(A), repeats)
        t_sub = best_of(lambda: cholesky_solve(L, b), repeats)
        t_old = best_of(lambda: _old_solve(A, b), repeats)
    return {"net": name, "P": P, "n_params": q, "n": n,
            "jacobian_gflops": _gflops(f_jac, t_jac),
            "jtj_gflops": _gflops(2 * P * n * k * q * q, t_jtj),
            "cholesky_gflops": _gflops(P * q**3 / 3, t_chol),
            "solve_gflops": _gflops(2 * P * q * q, t_sub),
            "jacobian_ms": 1e3 * t_jac, "jtj_ms": 1e3 * t_jtj, "cholesky_ms": 1e3 * t_chol,
            "old_solve_ms": 1e3 * t_old, "new_solve_ms": 1e3 * (t_chol + t_sub)}


def part_kernels(sizes: list[int], repeats: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    peak = gemm_peak(repeats)
    print(f"\n### LM kernels, GFLOP/s (float64 GEMM peak here: {peak['default']:.1f} with the "
          f"library's threads, {peak['1 thread']:.1f} on one thread)\n")
    out = [_kernel_row(name, net, n, P, repeats, rng)
           for name, (net, n) in KERNEL_NETS.items() for P in sizes]
    rows = [[r["net"], str(r["P"]), str(r["n_params"]),
             f"{r['jacobian_gflops']:.2f} ({r['jacobian_ms']:.2f} ms)",
             f"{r['jtj_gflops']:.2f} ({r['jtj_ms']:.2f} ms)",
             f"{r['cholesky_gflops']:.2f} ({r['cholesky_ms']:.2f} ms)",
             f"{r['old_solve_ms']:.2f}", f"{r['new_solve_ms']:.2f}",
             f"**{r['old_solve_ms'] / r['new_solve_ms']:.2f}x**"] for r in out]
    print(table(["network", "P", "n_params", "Jacobian GFLOP/s", "JᵀJ GFLOP/s",
                 "Cholesky GFLOP/s", "solve before ms (chol + LU)",
                 "solve now ms (chol + triangular)", "speed-up"], rows))
    A = rng.standard_normal((30, 113, 113))
    A = np.matmul(A.transpose(0, 2, 1), A) + np.eye(113)
    b = rng.standard_normal((30, 113, 1))
    t_def = best_of(lambda: np.linalg.solve(A, b), repeats)
    with threadpool_limits(limits=1, user_api="blas"):
        t_one = best_of(lambda: np.linalg.solve(A, b), repeats)
    print(f"\nnp.linalg.solve on (30, 113, 113): {1e3 * t_def:.2f} ms with the library's "
          f"threads, {1e3 * t_one:.2f} ms on one thread (**{t_def / t_one:.1f}x**)")
    return {"peak_gflops": peak, "rows": out,
            "solve_30x113": {"default_ms": 1e3 * t_def, "one_thread_ms": 1e3 * t_one}}


# -- br --------------------------------------------------------------------------------------

def part_br(seeds: int) -> dict[str, Any]:
    from solvers_quality import series_metrics

    from gabp import GABPRegressor

    rows, out = [], {}
    for name, hidden in {"mackey_glass": (10,), "sunspots": (8,)}.items():
        task = split_task(load_dataset(name), classic=True, val_fraction=0.1)
        X = np.vstack([task.X_train, task.X_val])
        y = np.vstack([task.y_train, task.y_val]).ravel()
        for opt, alpha in (("br", 0.0), ("lm", 0.0), ("lm", 1e-4)):
            res, t0 = [], time.perf_counter()
            for seed in range(seeds):
                est = GABPRegressor(hidden_layer_sizes=hidden, optimizer=opt, alpha=alpha,
                                    random_state=seed).fit(X, y)
                res.append(series_metrics(name, task, lambda Xs, est=est: est.predict(
                    Xs).reshape(len(Xs), -1)))
            med = {k: float(np.median([r[k] for r in res])) for k in res[0]}
            sec = (time.perf_counter() - t0) / seeds
            out[f"{name}:{opt}:{alpha:g}"] = {**med, "seconds_per_fit": sec}
            rows.append([name, f"{opt}, alpha={alpha:g}",
                         " / ".join(f"{k} {v:.4g}" for k, v in med.items()), f"{sec:.1f}"])
    print(f"\n### BR vs LM in the estimators (lamarckian, 10 % validation), median of {seeds} "
          "seeds\n")
    print(table(["task", "optimizer", "test metric", "s / fit"], rows))
    return out


# -- speed -----------------------------------------------------------------------------------

def scipy_lm(arch, p0: np.ndarray, X: np.ndarray, y: np.ndarray, iters: int):
    """MINPACK LM on one network with gabp's analytic Jacobian; ``(params, njev)``."""
    def fun(w):
        return (forward(arch, w[None, :], X)[0][-1][0] - y).ravel()

    def jac(w):
        return error_jacobian(arch, w[None, :], X)[0]

    res = least_squares(fun, p0, jac=jac, method="lm", max_nfev=iters + 1, xtol=1e-15,
                        ftol=1e-15, gtol=1e-15)
    return res.x, max(1, int(res.njev))


def part_speed(sizes: list[int], iters: int, repeats: int) -> dict[str, Any]:
    X, y, _, _ = mg_data()
    rows, out = [], []
    for P in sizes:
        base = Network((4, 10, 1), n_networks=P, seed=P)
        p0 = base.params.copy()

        def batched(p0=p0):
            net = Network((4, 10, 1), params=p0.copy())
            train(net, X, y, optimizer="lm", epochs=iters, restore_best=False,
                  solver_options=NO_STOP)
            return net

        def alone(p0=p0):
            for p in range(p0.shape[0]):
                net = Network((4, 10, 1), params=p0[p : p + 1].copy())
                train(net, X, y, optimizer="lm", epochs=iters, restore_best=False,
                      solver_options=NO_STOP)

        t_b = best_of(batched, repeats)
        t_a = best_of(alone, repeats)
        mse_b = float(np.median(rmse_per_network(batched(), X, y) ** 2))
        row = {"P": P, "batched_s": t_b, "alone_s": t_a, "speedup_alone": t_a / t_b,
               "train_mse_median_gabp": mse_b}
        if least_squares is not None:
            n_sp = min(P, 8)  # MINPACK one by one; extrapolated per network

            def scipy_all(p0=p0, n_sp=n_sp, arch=base.arch):
                return [scipy_lm(arch, p0[p], X, y, iters) for p in range(n_sp)]

            res, t_s = timed(scipy_all)
            njev = sum(r[1] for r in res)
            ms_s = 1e3 * t_s / njev
            sp_params = np.stack([r[0] for r in res])
            mse_s = float(np.median(rmse_per_network(
                Network((4, 10, 1), params=sp_params), X, y) ** 2))
            ms_b = 1e3 * t_b / (P * iters)
            row.update({"scipy_ms_per_jacobian": ms_s, "gabp_ms_per_iteration": ms_b,
                        "speedup_scipy": ms_s / ms_b, "train_mse_median_scipy": mse_s,
                        "scipy_networks": n_sp})
        out.append(row)
        rows.append([str(P), f"{t_b:.3f}", f"{t_a:.3f}", f"**{t_a / t_b:.1f}x**",
                     f"{row.get('gabp_ms_per_iteration', 1e3 * t_b / (P * iters)):.3f}",
                     f"{row['scipy_ms_per_jacobian']:.3f}" if "speedup_scipy" in row else "—",
                     f"**{row['speedup_scipy']:.1f}x**" if "speedup_scipy" in row else "—",
                     f"{mse_b:.2e}",
                     f"{row['train_mse_median_scipy']:.2e}" if "speedup_scipy" in row else "—"])
    print(f"\n### Batched LM, {iters} iterations, Mackey-Glass 4-10-1 tanh (n = 500)\n")
    print(table(["P", "batched s", "one by one s", "speed-up", "gabp ms / net-iter",
                 "scipy lm ms / jacobian", "vs scipy", "train mse gabp", "train mse scipy"],
                rows))
    return {"iters": iters, "rows": out}


def part_adam(P: int, repeats: int, lm_iters: int = 300, adam_epochs: int = 2000):
    X, y, _, _ = mg_data()
    p0 = Network((4, 10, 1), n_networks=P, seed=7).params

    def lm():
        train(Network((4, 10, 1), params=p0.copy()), X, y, optimizer="lm", epochs=lm_iters,
              restore_best=False, solver_options=NO_STOP)

    def adam():
        train(Network((4, 10, 1), params=p0.copy()), X, y, optimizer="adam",
              learning_rate=0.01, batch_size=None, epochs=adam_epochs, restore_best=False)

    t_lm, t_adam = best_of(lm, repeats), best_of(adam, repeats)
    print(f"\n### {lm_iters} LM iterations vs {adam_epochs} full-batch Adam epochs, P = {P}\n")
    print(table(["method", "seconds", "ratio to Adam"],
                [[f"lm x {lm_iters}", f"{t_lm:.2f}", f"**{t_lm / t_adam:.2f}x**"],
                 [f"adam x {adam_epochs}", f"{t_adam:.2f}", "1"]]))
    return {"P": P, "lm_s": t_lm, "adam_s": t_adam, "ratio": t_lm / t_adam}


# -- quality ---------------------------------------------------------------------------------

def part_quality(P: int, lm_iters: int, long_iters: int) -> dict[str, Any]:
    X, y, Xt, yt = mg_data()
    p0 = Network((4, 10, 1), n_networks=P, seed=2024).params
    runs = {"lm": {"optimizer": "lm", "epochs": lm_iters},
            "br": {"optimizer": "br", "epochs": lm_iters},
            "lbfgs": {"optimizer": "lbfgs", "epochs": long_iters}}
    for lr in (0.003, 0.01, 0.03):
        runs[f"adam lr={lr}"] = {"optimizer": "adam", "epochs": long_iters, "batch_size": None,
                                 "learning_rate": lr}
    out, rows = {}, []
    for name, kw in runs.items():
        net = Network((4, 10, 1), params=p0.copy())
        hist, sec = timed(lambda net=net, kw=kw: train(net, X, y, **kw))
        r = rmse_per_network(net, Xt, yt)
        out[name] = {"median": float(np.median(r)), "best": float(r.min()), "seconds": sec,
                     "sample_passes": float(np.median(hist.sample_passes)),
                     "train_mse": float(np.median(hist.best_loss)),
                     "stop": {s: hist.stop_reason.count(s) for s in set(hist.stop_reason)}}
    adams = [k for k in out if k.startswith("adam")]
    best_adam = min(adams, key=lambda k: out[k]["train_mse"])
    for name, r in out.items():
        if name.startswith("adam") and name != best_adam:
            continue
        extra = " (best of 3 rates by training loss)" if name == best_adam else ""
        rows.append([name + extra, f"{r['median']:.5f}", f"{r['best']:.5f}",
                     f"{r['sample_passes'] / 1e3:.0f}k", f"{r['seconds']:.2f}",
                     ", ".join(f"{k} {v}" for k, v in sorted(r["stop"].items()))])
    print(f"\n### Mackey-Glass test RMSE, {P} random 4-10-1 tanh networks\n")
    print(table(["method", "median RMSE", "best RMSE", "sample-passes / net", "seconds",
                 "stop reasons"], rows))
    return out


def part_sunspots(P: int, quick: bool) -> dict[str, Any]:
    t = split_task(load_dataset("sunspots"), classic=True, val_fraction=0.1)
    periods = {"1921-1955": (t.X_test, t.y_test_raw),
               "1956-1979": (t.extra["test2"]["X"], t.extra["test2"]["y_raw"])}
    val = {"X_val": t.X_val, "Y_val": t.y_val, "early_stopping": True}
    runs = {
        "lm, validation stop": {"optimizer": "lm", "epochs": 300, "patience": 6, **val},
        "lm, no validation": {"optimizer": "lm", "epochs": 300},
        "br, no validation": {"optimizer": "br", "epochs": 300},
        "lbfgs, validation stop": {"optimizer": "lbfgs", "epochs": 1000, "patience": 20,
                                   **val},
        "adam, validation stop": {"optimizer": "adam", "epochs": 500, "patience": 20,
                                  "learning_rate": 0.01, "batch_size": 32, "seed": 0, **val},
    }
    p0 = Network((12, 8, 1), n_networks=P, seed=1921).params
    out, rows = {}, []
    for name, kw in runs.items():
        if quick:
            kw = {**kw, "epochs": 10}
        net = Network((12, 8, 1), params=p0.copy())
        _, sec = timed(partial(train, net, t.X_train, t.y_train, **kw))
        res: dict[str, Any] = {"seconds": sec}
        for period, (Xp, yp) in periods.items():
            yp = np.asarray(yp, dtype=float).reshape(-1, 1)
            pred = np.stack([t.inverse_y(o) for o in net.forward(Xp)])  # (P, n, 1)
            arv = np.mean((pred - yp) ** 2, axis=(1, 2)) / np.var(yp)
            mean_arv = float(np.mean((pred.mean(axis=0) - yp) ** 2) / np.var(yp))
            res[period] = {"median": float(np.median(arv)), "mean_prediction": mean_arv}
        out[name] = res
        a, b = res["1921-1955"], res["1956-1979"]
        rows.append([name, f"{a['median']:.3f} / {b['median']:.3f}",
                     f"{a['mean_prediction']:.3f} / {b['mean_prediction']:.3f}", f"{sec:.2f}"])
    print(f"\n### Sunspots ARV (1921-1955 / 1956-1979), {P} random 12-8-1 tanh networks\n")
    print(table(["method", "median ARV", f"ARV of the mean of {P}", "seconds"], rows))
    return out


# -- auto ------------------------------------------------------------------------------------

def auto_tasks():
    X, y, Xt, yt = mg_data()
    n_val = 50  # the last 10 % of the training pairs
    yield ("mackey_glass", (10,), "identity", "mse",
           (X[:-n_val], y[:-n_val], X[-n_val:], y[-n_val:], Xt, yt), None)
    t = split_task(load_dataset("sunspots"), classic=True, val_fraction=0.1)
    yield ("sunspots", (8,), "identity", "mse",
           (t.X_train, t.y_train, t.X_val, t.y_val, t.X_test, t.y_test), None)
    t = split_task(load_dataset("breast_cancer"), val_fraction=0.15, test_fraction=0.2, seed=0)
    to01 = (t.y_train[:, 1:], t.y_val[:, 1:], t.y_test[:, 1:])  # one sigmoid unit
    yield ("breast_cancer", (10,), "sigmoid", "binary_cross_entropy",
           (t.X_train, to01[0], t.X_val, to01[1], t.X_test, to01[2]), "binary")
    t = split_task(load_dataset("digits"), val_fraction=0.15, test_fraction=0.2, seed=0)
    yield ("digits", (32,), "softmax", "cross_entropy",
           (t.X_train, t.y_train, t.X_val, t.y_val, t.X_test, t.y_test), "multi")


def score(net: Network, X: np.ndarray, Y: np.ndarray, kind: str | None) -> np.ndarray:
    out = net.forward(X)
    if kind is None:
        return np.sqrt(np.mean((out - Y) ** 2, axis=(1, 2)))
    if kind == "binary":
        return np.mean((out[..., 0] > 0.5) == (Y[:, 0] > 0.5), axis=1)
    return np.mean(out.argmax(axis=2) == Y.argmax(axis=1), axis=1)


def part_auto(P: int, quick: bool) -> dict[str, Any]:
    out, rows = {}, []
    for name, hidden, out_act, loss, data, kind in auto_tasks():
        X, Y, Xv, Yv, Xt, Yt = data
        sizes = (X.shape[1], *hidden, Y.shape[1])
        methods = {
            "lm": {"optimizer": "lm", "loss": "mse", "epochs": 300, "patience": 6},
            "br": {"optimizer": "br", "loss": "mse", "epochs": 300, "patience": 6},
            "lbfgs": {"optimizer": "lbfgs", "loss": loss, "epochs": 1000, "patience": 20},
            "adam": {"optimizer": "adam", "loss": loss, "epochs": 500, "patience": 20,
                     "batch_size": 32},
        }
        for method, kw in methods.items():
            n_nets = P
            kw = dict(kw)
            if name == "digits" and method in ("lm", "br"):
                n_nets, kw["epochs"] = 2, 20
            if quick:
                kw["epochs"] = max(2, kw["epochs"] // 20)
            net = Network(sizes, hidden_activation="tanh", output_activation=out_act,
                          n_networks=n_nets, seed=11)
            hist, sec = timed(partial(train, net, X, Y, X_val=Xv, Y_val=Yv,
                                      early_stopping=True, seed=0, **kw))
            s = score(net, Xt, Yt, kind)
            res = {"median": float(np.median(s)), "seconds_per_net": sec / n_nets,
                   "iterations": float(np.median(hist.n_steps)), "n_networks": n_nets,
                   "n_params": net.arch.n_params,
                   "sample_passes": float(np.median(hist.sample_passes))}
            out[f"{name}:{method}"] = res
            metric = "RMSE" if kind is None else "accuracy"
            fmt = ".5f" if name == "mackey_glass" else ".4f"
            rows.append([name, str(net.arch.n_params), method, loss if method in (
                "lbfgs", "adam") else "mse", f"{metric} {res['median']:{fmt}}",
                f"{res['seconds_per_net']:.2f}", f"{res['sample_passes'] / 1e3:.0f}k"])
    print(f"\n### Which solver: median test metric of {P} networks (digits lm/br: 2 networks, "
          "20 iterations)\n")
    print(table(["task", "n_params", "method", "loss", "test (median)", "s / network",
                 "sample-passes / net"], rows, align="lrllrrr"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--iters", type=int, default=None, help="LM iterations in 'speed'")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--blas-threads", default=None,
                    help="BLAS threads (give it as --blas-threads=N; default: the library's)")
    args = ap.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    for p in parts:
        if p not in PARTS:
            ap.error(f"unknown part {p!r}; known: {', '.join(PARTS)}")
    info = machine()
    print(f"Machine: {machine_line(info)}; BLAS threads: "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")
    if least_squares is None:
        print("scipy is not installed: the MINPACK column is skipped")
    repeats = args.repeats or (1 if args.quick else 2)
    results: dict[str, Any] = {"machine": info, "quick": args.quick}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if "kernels" in parts:
            results["kernels"] = part_kernels([1, 8] if args.quick else [1, 8, 40], repeats)
        if "speed" in parts:
            sizes = [1, 8] if args.quick else [1, 8, 40, 100]
            results["speed"] = part_speed(sizes, args.iters or (5 if args.quick else 50),
                                          repeats)
        if "adam" in parts:
            results["adam"] = (part_adam(8, 1, 10, 60) if args.quick
                               else part_adam(40, repeats))
        if "quality" in parts:
            results["quality"] = (part_quality(8, 10, 60) if args.quick
                                  else part_quality(40, 300, 2000))
        if "sunspots" in parts:
            results["sunspots"] = part_sunspots(8 if args.quick else 40, args.quick)
        if "auto" in parts:
            results["auto"] = part_auto(2 if args.quick else 8, args.quick)
        if "br" in parts:
            results["br"] = part_br(1 if args.quick else 3)
    results["seconds"] = time.perf_counter() - t0
    print(f"\nTotal {results['seconds']:.0f} s")
    path = write_json("second_order.json", results, args.out)
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
