"""Second-order solvers: speed of batched Levenberg-Marquardt, quality of lm/br/lbfgs/adam, and
the benchmark behind ``optimizer="auto"``.

Parts (``--parts``, all by default):

- ``kernels``: GFLOP/s of one LM iteration's pieces against this machine's float64 GEMM peak
  (the best of 256-, 512- and 1,000-square products, with the BLAS library's threads and
  with one) measured in the same run, on one BLAS thread as inside ``train``: the Jacobian
  assembly (the layers' inputs and backpropagated sensitivities and their outer products,
  ``n k (sum fi fo + 2 sum_{i>0} fi fo)`` flops), the normal equations ``JᵀJ``, ``Jᵀe``
  (flops of the method used: ``n k q²`` for the symmetric product of the Jacobian, ``2 n
  sum (fi+1)(fj+1) fo fm`` for the blocks), before this session's rewrite (row-major
  Jacobian, one product per network: the code is kept here as ``_old_normal_equations``)
  and now, the Cholesky factorization (``q³ / 3``) and the solve with its factor (``2 q²``),
  for Mackey-Glass 4-10-1 (n = 500), sunspots 12-8-1 (n = 209), 30-20-1 (n = 500) and digits
  64-32-10 softmax (n = 1,257, P = 1 and 8 only), P = 1, 8, 40, 100. Before / now timings
  are interleaved, best of ``--repeats``.
- ``profile``: where one LM and one BR iteration goes, per network-iteration: ``train`` with
  LM (BR) for ``--iters`` iterations, the number of damped solves per iteration (counted),
  and, timed separately, the normal equations (Jacobian assembly included), one damped
  solve (damping, Cholesky, solve), one trial forward pass and BR's ``eigvalsh`` for gamma;
  the remainder (mu updates, stopping checks, bookkeeping) is the iteration minus the
  parts. Mackey-Glass 4-10-1, sunspots 12-8-1 and digits 64-32-10 (mse on one-hot
  targets; P = 1 and 8, 3 iterations). The same for L-BFGS (mse, 20 iterations, no
  convergence stop): evaluations per iteration (line-search trials, counted) and their cost,
  the rest being the two-loop recursion, the line search's bookkeeping and the history.
- ``speed``: Mackey-Glass 4-10-1 tanh (500 training pairs). Time of ``--iters`` LM iterations
  for P = 1, 8, 40, 100 networks trained as one population, against the same networks one by
  one (``train`` with P = 1) and against ``scipy.optimize.least_squares(method="lm")``
  (MINPACK) with an analytic Jacobian (gabp's own, so only the solver differs), one network at
  a time. MINPACK does not count iterations the way trainlm does, so the comparison is per
  Jacobian evaluation (one per iteration in both): ms per network-iteration. The final
  training mse of both is shown too. Best of ``--repeats`` timings, batched and one by one
  interleaved.
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
from gabp.activations import ACTIVATIONS  # noqa: E402
from gabp.data import load_dataset, mackey_glass_benchmark, split_task  # noqa: E402
from gabp.network import forward  # noqa: E402
from gabp.solvers import (
    error_jacobian,  # noqa: E402
    levenberg,  # noqa: E402
)
from gabp.solvers.jacobian import (  # noqa: E402
    _layer_factors,
    normal_equations,
    normal_equations_method,
)
from gabp.solvers.levenberg import cholesky_solve, solve_damped  # noqa: E402

try:  # optional: the MINPACK reference
    from scipy.optimize import least_squares
except ImportError:  # pragma: no cover - depends on the environment
    least_squares = None

PARTS = ("kernels", "profile", "speed", "adam", "quality", "sunspots", "auto", "br")
NO_STOP = {"min_grad": 0.0, "goal": 0.0}


def mg_data():
    b = mackey_glass_benchmark()
    return b.X_train, b.y_train.reshape(-1, 1), b.X_test, b.y_test.reshape(-1, 1)


def rmse_per_network(net: Network, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    e = net.forward(X) - y
    return np.sqrt(np.mean(e * e, axis=(1, 2)))


# -- kernels ---------------------------------------------------------------------------------

KERNEL_NETS = {"Mackey-Glass 4-10-1": ((4, 10, 1), "identity", 500),
               "sunspots 12-8-1": ((12, 8, 1), "identity", 209),
               "30-20-1": ((30, 20, 1), "identity", 500),
               "digits 64-32-10": ((64, 32, 10), "softmax", 1257)}
BIG_P = 8  # digits: at most this many networks (one LM iteration of 2,410 parameters ~1 s)


def _gflops(flops: float, seconds: float) -> float:
    return flops / seconds / 1e9


def interleaved(fns: list, repeats: int) -> list[float]:
    """Best wall time of each function, the calls interleaved (A B A B ...)."""
    times = [[] for _ in fns]
    for _ in range(max(1, repeats)):
        for t, fn in zip(times, fns, strict=True):
            t.append(timed(fn)[1])
    return [min(t) for t in times]


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


def _old_normal_equations(arch, params, X, Y, chunk_samples):
    """The normal equations before this session's rewrite: row-major Jacobian chunks
    ``(P, n k, q)`` (one broadcast outer product along each layer's fan-out), ``JᵀJ`` by one
    product per network. Kept as the 'before' of the kernels table."""
    from numpy.lib.stride_tricks import as_strided

    P, q, k, n = params.shape[0], arch.n_params, arch.n_outputs, X.shape[0]
    JtJ, Jte, sse = np.zeros((P, q, q)), np.zeros((P, q)), np.zeros(P)
    buf = np.empty((P, min(chunk_samples, n) * k, q))
    layers = arch.views(params)
    for start in range(0, n, chunk_samples):
        Xc = X[start : start + chunk_samples]
        m = Xc.shape[0]
        acts, _ = forward(arch, params, Xc)
        a_out, eye = acts[-1], np.eye(k)
        if arch.activations[-1] == "softmax":
            D = a_out[..., :, None] * (eye - a_out[..., None, :])
        elif arch.activations[-1] == "identity":
            D = np.broadcast_to(eye, a_out.shape[:-1] + (k, k)).copy()
        else:
            D = eye * ACTIVATIONS[arch.activations[-1]].derivative(a_out)[..., None, :]
        J = buf[:, : m * k]
        J4 = J.reshape(P, m, k, q)
        for i in range(arch.n_layers - 1, -1, -1):
            w0, b0, b1 = arch.offsets[i]
            fi, fo = arch.layer_sizes[i], arch.layer_sizes[i + 1]
            a_prev = acts[i]
            a4 = a_prev[None, :, None, :, None] if a_prev.ndim == 2 else a_prev[:, :, None, :, None]
            block = J4[..., w0:b0]
            rows = as_strided(block, shape=(P, m, k, fi, fo),
                              strides=block.strides[:3] + (fo * block.itemsize, block.itemsize))
            np.multiply(a4, D[..., None, :], out=rows)
            J4[..., b0:b1] = D
            if i > 0:
                D = np.matmul(D.reshape(P, m * k, fo), layers[i][0].transpose(0, 2, 1))
                D = D.reshape(P, m, k, fi)
                D *= ACTIVATIONS[arch.activations[i - 1]].derivative(a_prev)[:, :, None, :]
        e = (a_out - Y[start : start + chunk_samples]).reshape(P, -1)
        JtJ += np.matmul(J.transpose(0, 2, 1), J)
        Jte += np.matmul(J.transpose(0, 2, 1), e[..., None])[..., 0]
        sse += np.einsum("pm,pm->p", e, e)
    return JtJ, Jte, sse


def _old_sample_chunk(arch, n: int, P: int, budget: float = 256e6) -> int:
    """The sample chunk the old plan gave (its Jacobian rows cost ``(2 k q + 4 k max(sizes))``
    float64 per sample)."""
    from gabp.solvers.memory import lm_bytes

    per_net = lm_bytes(arch, n)[0]
    per_sample = (2 * arch.n_outputs * (arch.n_params + 2 * max(arch.layer_sizes))) * 8
    if P * (per_net + n * per_sample) <= budget:
        return n
    net_chunk = max(1, min(P, int(budget // (per_net + min(n, 256) * per_sample))))
    return max(min(n, 16), min(n, int((budget / net_chunk - per_net) // per_sample)))


def _blocked_cholesky(A: np.ndarray, block: int = 256) -> np.ndarray:
    """A right-looking blocked Cholesky in NumPy (LAPACK on the diagonal blocks, an LU solve
    for the panel, one batched product for the trailing update): the scipy-free alternative
    to ``np.linalg.cholesky`` measured in the kernels table."""
    q = A.shape[-1]
    L = np.tril(A)
    for s in range(0, q, block):
        e = min(s + block, q)
        L[:, s:e, s:e] = np.linalg.cholesky(L[:, s:e, s:e])
        if e < q:
            L[:, e:, s:e] = np.linalg.solve(L[:, s:e, s:e],
                                            L[:, e:, s:e].transpose(0, 2, 1)).transpose(0, 2, 1)
            L[:, e:, e:] -= np.matmul(L[:, e:, s:e], L[:, e:, s:e].transpose(0, 2, 1))
    return np.tril(L)


def _ne_flops(arch, n: int) -> float:
    """Flops of :func:`normal_equations` with the method it uses, per network."""
    sizes, L, k = arch.layer_sizes, arch.n_layers, arch.n_outputs
    if normal_equations_method(arch) == "jacobian":
        return n * k * arch.n_params**2
    return sum(2 * n * (sizes[i] + 1) * (sizes[j] + 1) * sizes[i + 1] * sizes[j + 1]
               for i in range(L) for j in range(i, L))


def _kernel_row(name: str, sizes: tuple[int, ...], out_act: str, n: int, P: int,
                repeats: int, rng: np.random.Generator) -> dict[str, Any]:
    from gabp._threads import one_blas_thread
    from gabp.solvers.memory import plan_lm

    net = Network(sizes, hidden_activation="tanh", output_activation=out_act, n_networks=P,
                  seed=0)
    arch, w = net.arch, net.params
    X = rng.uniform(-1, 1, (n, sizes[0]))
    Y = rng.uniform(0, 1, (n, sizes[-1]))
    q, k = arch.n_params, arch.n_outputs
    pairs = [a * b for a, b in zip(arch.layer_sizes[:-1], arch.layer_sizes[1:], strict=True)]
    f_jac = P * n * k * (sum(pairs) + 2 * sum(pairs[1:]))
    chunk = plan_lm(arch, n, P, 256e6).sample_chunk  # as train() would split it
    old_chunk = _old_sample_chunk(arch, n, P)
    reps = 1 if q > 1000 else repeats
    with one_blas_thread():  # as inside train()
        JtJ = normal_equations(arch, w, X, Y, chunk_samples=chunk)[0]
        A = JtJ + 1e-3 * np.eye(q)
        L = np.linalg.cholesky(A)
        b = rng.standard_normal((P, q))
        t_jac = best_of(lambda: _layer_factors(arch, w, X), reps)
        t_old, t_new = interleaved(
            [lambda: _old_normal_equations(arch, w, X, Y, old_chunk),
             lambda: normal_equations(arch, w, X, Y, chunk_samples=chunk)], reps)
        t_chol, t_blocked = interleaved([lambda: np.linalg.cholesky(A),
                                         lambda: _blocked_cholesky(A)], reps)
        t_sub = best_of(lambda: cholesky_solve(L, b), reps)
    return {"net": name, "P": P, "n_params": q, "n": n, "method": normal_equations_method(arch),
            "jacobian_gflops": _gflops(f_jac, t_jac),
            "ne_gflops": _gflops(P * _ne_flops(arch, n), t_new),
            "cholesky_gflops": _gflops(P * q**3 / 3, t_chol),
            "solve_gflops": _gflops(2 * P * q * q, t_sub),
            "jacobian_ms": 1e3 * t_jac, "ne_old_ms": 1e3 * t_old, "ne_ms": 1e3 * t_new,
            "cholesky_ms": 1e3 * t_chol, "blocked_cholesky_ms": 1e3 * t_blocked,
            "solve_ms": 1e3 * t_sub}


def part_kernels(sizes: list[int], repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    peak = gemm_peak(repeats)
    one = peak["1 thread"]
    print(f"\n### LM kernels, GFLOP/s on one BLAS thread (float64 GEMM peak in this run: "
          f"{peak['default']:.1f} with the library's threads, {one:.1f} on one thread; "
          "% of the one-thread peak in brackets)\n")
    out = [_kernel_row(name, net, act, n, P, repeats, rng)
           for name, (net, act, n) in KERNEL_NETS.items() for P in sizes
           if not (net[0] == 64 and P > BIG_P)]

    def pct(g: float) -> str:
        return f"{g:.1f} ({100 * g / one:.0f} %)"

    rows = [[r["net"], str(r["P"]), str(r["n_params"]), r["method"],
             f"{pct(r['jacobian_gflops'])}, {r['jacobian_ms']:.2f} ms",
             f"{r['ne_old_ms']:.2f}", f"{r['ne_ms']:.2f}",
             f"**{r['ne_old_ms'] / r['ne_ms']:.2f}x**", pct(r["ne_gflops"]),
             f"{pct(r['cholesky_gflops'])}, {r['cholesky_ms']:.2f} ms",
             f"{r['blocked_cholesky_ms']:.2f}",
             f"{pct(r['solve_gflops'])}, {r['solve_ms']:.2f} ms"] for r in out]
    print(table(["network", "P", "n_params", "JᵀJ method", "Jacobian assembly GFLOP/s",
                 "normal equations before ms", "now ms", "speed-up", "now GFLOP/s",
                 "Cholesky (LAPACK) GFLOP/s", "blocked NumPy Cholesky ms",
                 "solve with the factor GFLOP/s"], rows))
    return {"peak_gflops": peak, "rows": out}


# -- profile ---------------------------------------------------------------------------------

def _profile_row(name: str, sizes: tuple[int, ...], out_act: str, X: np.ndarray,
                 Y: np.ndarray, P: int, iters: int, repeats: int) -> dict[str, Any]:
    from gabp._threads import one_blas_thread
    from gabp.solvers.memory import plan_lm

    net = Network(sizes, hidden_activation="tanh", output_activation=out_act, n_networks=P,
                  seed=5)
    arch, p0 = net.arch, net.params.copy()
    n, q = X.shape[0], arch.n_params
    res: dict[str, Any] = {"net": name, "P": P, "n_params": q, "n": n}
    for opt in ("lm", "br"):
        calls = [0]

        def counting(A, b, calls=calls):
            calls[0] += A.shape[0]  # systems solved
            return solve_damped(A, b)

        def run(opt=opt):
            train(Network(sizes, hidden_activation="tanh", output_activation=out_act,
                          params=p0.copy()), X, Y, optimizer=opt, epochs=iters,
                  restore_best=False, solver_options=NO_STOP)

        levenberg.solve_damped = counting
        try:
            run()
        finally:
            levenberg.solve_damped = solve_damped
        res[f"{opt}_ms"] = 1e3 * best_of(run, repeats) / (iters * P)
        res[f"{opt}_solves"] = calls[0] / (iters * P)
    from gabp.network import loss_and_grad
    from gabp.solvers.lbfgs import LBFGS

    evals, real_eval = [0], LBFGS._evaluate

    def counting_eval(self, rows, w, evals=evals):
        evals[0] += len(rows)
        return real_eval(self, rows, w)

    def run_lbfgs():
        train(Network(sizes, hidden_activation="tanh", output_activation=out_act,
                      params=p0.copy()), X, Y, optimizer="lbfgs", epochs=lbfgs_iters,
              restore_best=False, solver_options={"gtol": 0.0, "ftol": 0.0})

    lbfgs_iters = 20
    LBFGS._evaluate = counting_eval
    try:
        run_lbfgs()
    finally:
        LBFGS._evaluate = real_eval
    res["lbfgs_ms"] = 1e3 * best_of(run_lbfgs, repeats) / (lbfgs_iters * P)
    res["lbfgs_evals"] = (evals[0] - P) / (lbfgs_iters * P)  # the start is evaluated once
    with one_blas_thread():
        res["eval_ms"] = 1e3 * best_of(lambda: loss_and_grad(arch, p0, X, Y, loss="mse"),
                                       repeats) / P
    plan = plan_lm(arch, n, P, 256e6)  # the parts are timed on one chunk of networks, as train
    w, m = p0[: plan.net_chunk], plan.net_chunk
    reps = 1 if q > 1000 else repeats
    with one_blas_thread():
        JtJ = normal_equations(arch, w, X, Y, chunk_samples=plan.sample_chunk)[0]
        A = JtJ + 1e-3 * np.eye(q)
        b = np.ones((m, q))
        res["ne_ms"] = 1e3 * best_of(lambda: normal_equations(
            arch, w, X, Y, chunk_samples=plan.sample_chunk), reps) / m
        res["solve_ms"] = 1e3 * best_of(lambda: solve_damped(A, b), reps) / m
        res["forward_ms"] = 1e3 * best_of(lambda: forward(arch, w, X), reps) / m
        res["eig_ms"] = 1e3 * best_of(lambda: np.linalg.eigvalsh(JtJ), reps) / m
    return res


def part_profile(sizes: list[int], iters: int, repeats: int) -> dict[str, Any]:
    X, y, _, _ = mg_data()
    t = split_task(load_dataset("sunspots"), classic=True, val_fraction=0.1)
    d = split_task(load_dataset("digits"), val_fraction=0.15, test_fraction=0.2, seed=0)
    cases = [("Mackey-Glass 4-10-1", (4, 10, 1), "identity", X, y, sizes, iters),
             ("sunspots 12-8-1", (12, 8, 1), "identity", t.X_train, t.y_train, sizes, iters),
             ("digits 64-32-10", (64, 32, 10), "softmax", d.X_train, d.y_train,
              [p for p in sizes if p <= BIG_P], 3)]
    out, rows = [], []
    for name, net, act, Xs, Ys, Ps, it in cases:
        for P in Ps:
            r = _profile_row(name, net, act, Xs, Ys, P, it, 1 if net[0] == 64 else repeats)
            out.append(r)
            s = r["lm_solves"]
            rest = r["lm_ms"] - r["ne_ms"] - s * (r["solve_ms"] + r["forward_ms"])
            rows.append([name, str(P), str(r["n"]), f"{r['lm_ms']:.3f}", f"{s:.2f}",
                         f"{r['ne_ms']:.3f}", f"{s * r['solve_ms']:.3f}",
                         f"{s * r['forward_ms']:.3f}", f"{rest:.3f}", f"{r['br_ms']:.3f}",
                         f"{r['br_solves']:.2f}", f"{r['eig_ms']:.3f}"])
    print(f"\n### Where one LM / BR iteration goes, ms per network-iteration ({iters} "
          "iterations; digits 3; one BLAS thread; the parts timed alone)\n")
    print(table(["network", "P", "n", "LM iteration", "damped solves / iter",
                 "normal equations", "damping + Cholesky + solve", "trial forwards",
                 "rest (mu, checks; iteration minus parts)", "BR iteration",
                 "BR solves / iter", "BR eigvalsh"], rows))
    print("\n### L-BFGS iteration (mse, 20 iterations, gtol = ftol = 0), ms per "
          "network-iteration\n")
    print(table(["network", "P", "n_params", "L-BFGS iteration", "evaluations / iter",
                 "evaluations (loss and gradient)", "rest (two-loop recursion, line search, "
                 "history)"],
                [[r["net"], str(r["P"]), str(r["n_params"]), f"{r['lbfgs_ms']:.4f}",
                  f"{r['lbfgs_evals']:.2f}", f"{r['lbfgs_evals'] * r['eval_ms']:.4f}",
                  f"{r['lbfgs_ms'] - r['lbfgs_evals'] * r['eval_ms']:.4f}"] for r in out]))
    return {"iters": iters, "rows": out}


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

        t_b, t_a = interleaved([batched, alone], repeats)
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
            results["kernels"] = part_kernels([1, 8] if args.quick else [1, 8, 40, 100],
                                              repeats)
        if "profile" in parts:
            results["profile"] = part_profile([1, 8] if args.quick else [1, 8, 40, 100],
                                              args.iters or (3 if args.quick else 20), repeats)
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
