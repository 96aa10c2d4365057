"""Throughput of the population-batched first-order trainer against the GEMM floor (issue 15).

Problem: digits' training part (1,257 x 64 rows, the issue's unit), a 64-32-10 relu/softmax
network, cross-entropy, Adam, mini-batches of 32. Sections (all measured in the same run):

- ``throughput``: ms per network-epoch of ``P`` networks trained together (one batched
  forward/backward per mini-batch) and one after the other, float32 and float64,
  P = 1, 8, 40, 100; scikit-learn's ``MLPClassifier`` (adam, batch 32) for P = 1; the GEMM
  floor of the same run (the weight products of one network-epoch, timed alone with the
  shapes and calls the trainer makes) and the ratio of the epoch to it;
- ``profile``: where one epoch's time goes at P = 40 (shuffle, forward, loss, backward,
  divergence checks, optimizer), each phase timed inside the real loop, and the optimizer's
  time with the compiled Adam step (``GABP_KERNELS=numba``, when numba is installed);
  ``throughput`` and ``ga`` also time ``GABP_KERNELS=numba`` with only the Adam step
  compiled and with the elementwise passes too;
- ``fused``: each elementwise pass of a mini-batch (bias add + ReLU, ReLU', bias add +
  softmax as a forward-only pass computes it, training's softmax with the cross-entropy
  loss and ``dL/dz`` (the compiled loss pass does the softmax's division), and a candidate
  bias-gradient sum), NumPy's against the compiled one of ``GABP_KERNELS=numba``,
  interleaved, P = 40;
- ``act``: the compiled sigmoid and tanh passes (bias add + sigmoid around NumPy's ``exp``,
  bias add before NumPy's ``tanh``, tanh' and sigmoid' into the delta) against NumPy's, per
  mini-batch of 32, P = 20, 40, 100, 16 and 64 hidden units and a one-unit output,
  interleaved;
- ``classic``: the classic GA-BP recipe's networks, 10-16-1 with a tanh ("tansig") or
  sigmoid ("logsig") hidden layer and an identity output, MSE, Adam, batch 32, on 2,000 and
  50,000 rows, P = 20 and 40: ms per network-epoch with the three kernel sets, interleaved;
- ``kernels``: the first layer's products as one shared-input GEMM
  ``x (n, in) @ W.transpose(1, 0, 2).reshape(in, P * out)`` against the batched matmul gabp
  uses, with one and two BLAS threads;
- ``threads``: P = 40 training with OpenBLAS on one thread (what ``train`` does) and on two;
- ``ga``: Baldwinian GA-BP on digits (40 individuals x 5 generations x 20 Adam epochs)
  against the same number of network-epochs as one-by-one scikit-learn MLP fits;
- ``compile``: what the compiled kernels cost a fresh process before its first epoch (wall
  time of its first ``train`` of 40 networks minus its second), with an empty numba cache
  (``NUMBA_CACHE_DIR`` a new temporary folder) and with that cache filled, in-process and in
  each of two fresh joblib (loky) workers; the NumPy path's for reference.

Every timing runs with ``GABP_KERNELS`` set explicitly: the columns and rows labelled numba
with ``numba``, everything else (the NumPy columns, one by one, the threads section) with
``numpy``, whatever the default ``auto`` would resolve to on this machine.

Usage (from the repository root, so that this checkout's gabp is imported)::

    PYTHONPATH=. python bench/bp_throughput.py              # every section
    PYTHONPATH=. python bench/bp_throughput.py --profile    # the step profile only
    PYTHONPATH=. python bench/bp_throughput.py --quick      # smaller, for a smoke test
    PYTHONPATH=. python bench/bp_throughput.py --parts throughput,ga

Single-threaded timings are best-of CPU times of this process (``time.process_time``: on a
shared machine they leave out the time spent waiting for a core); scikit-learn is timed on
one BLAS thread like gabp. The two-thread rows are wall times. Prints markdown tables and
writes ``bench/results/bp_throughput.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from _common import machine, machine_line, table, write_json
from threadpoolctl import threadpool_limits

import gabp._kernels as _kernels
import gabp.network as network
import gabp.optimizers as optimizers
from gabp import Network, train
from gabp.data import load_dataset, split_task
from gabp.network import Architecture
from gabp.solvers.base import Progress
from gabp.trainer import _MiniBatch

N_HIDDEN = 32
N_CLASSES = 10
BATCH = 32
PARTS = ("throughput", "profile", "fused", "act", "classic", "kernels", "threads", "ga",
         "compile")


def load_problem() -> tuple[np.ndarray, np.ndarray, Any]:
    """Digits' training part (1,257 rows, inputs in [-1, 1]) and its one-hot targets."""
    task = split_task(load_dataset("digits"), seed=0)
    return task.X_train, task.y_train, task


#: The clock of every single-threaded timing: this process's CPU time, which on a shared
#: machine leaves out the time the process waits for a core (wall time counts it). Training
#: runs on one BLAS thread; scikit-learn is timed on one BLAS thread too. Only the two-thread
#: comparisons use the wall clock (CPU time would add the threads up).
CPU = time.process_time
WALL = time.perf_counter


def best_of(fn: Callable[[], Any], repeats: int, clock: Callable[[], float] = CPU) -> float:
    """Best time of ``repeats`` calls of ``fn`` on ``clock``."""
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


#: The implementations timed: NumPy passes (the default), the compiled Adam step alone, and
#: the compiled Adam step with the compiled elementwise passes (all of ``GABP_KERNELS=numba``).
KERNEL_SETS = {"numpy": "NumPy", "numba-adam": "numba Adam",
               "numba": "numba Adam + elementwise"}


def available_kernels() -> tuple[str, ...]:
    """``("numpy",)``, plus the two numba sets when numba is installed (``gabp[fast]``)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return ("numpy",)
    return tuple(KERNEL_SETS)


@contextlib.contextmanager
def kernels(name: str) -> Iterator[None]:
    """Run with the kernel set ``name`` (:data:`KERNEL_SETS`), restored afterwards.

    ``"numba-adam"`` is ``GABP_KERNELS=numba`` with the elementwise passes of
    :class:`gabp.network._Backprop` left to NumPy (the state of the previous round).
    """
    old = os.environ.get("GABP_KERNELS")
    os.environ["GABP_KERNELS"] = "numpy" if name == "numpy" else "numba"
    if name == "numba-adam":  # the dense step (gabp.network._Backprop) gets no kernels
        network.prepare = lambda dtype: None
    try:
        for dtype in (np.float32, np.float64):  # compile outside any timing
            _kernels.prepare(dtype)
        yield
    finally:
        network.prepare = _kernels.prepare
        if old is None:
            os.environ.pop("GABP_KERNELS", None)
        else:
            os.environ["GABP_KERNELS"] = old


def make_net(P: int, dtype: Any, n_in: int = 64) -> Network:
    return Network((n_in, N_HIDDEN, N_CLASSES), hidden_activation="relu",
                   output_activation="softmax", n_networks=P, seed=1, dtype=dtype)


def fit(net: Network, X: np.ndarray, Y: np.ndarray, epochs: int, threads: int | None = None):
    """``train`` as the GA calls it (Adam, batch 32), without the end-of-run objective checks.

    ``restore_best=False``: with it, ``train`` also evaluates the exact training objective of
    the start and of the kept weights, three full forward passes that a short timing would
    count as epochs. ``threads`` replaces train's one-BLAS-thread limit for the call.
    """
    kw = dict(loss="cross_entropy", optimizer="adam", epochs=epochs, batch_size=BATCH, seed=0,
              restore_best=False)
    if threads is None:
        return train(net, X, Y, **kw)
    with threadpool_limits(threads, "blas"):
        return train.__wrapped__(net, X, Y, **kw)  # the undecorated train: no limit inside


def time_batched(X, Y, P: int, dtype, epochs: int, repeats: int,
                 threads: int | None = None) -> float:
    """Seconds per epoch of ``P`` networks trained together (wall clock with ``threads``)."""
    net = make_net(P, dtype)
    init = net.params.copy()

    def run():
        net.params[...] = init
        fit(net, X, Y, epochs, threads)

    return best_of(run, repeats, CPU if threads is None else WALL) / epochs


def time_separate(X, Y, P: int, dtype, epochs: int, repeats: int) -> float:
    """Seconds per epoch of ``P`` networks trained one after the other."""
    nets = [make_net(1, dtype) for _ in range(P)]
    init = [n.params.copy() for n in nets]

    def run():
        for net, p0 in zip(nets, init, strict=True):
            net.params[...] = p0
            fit(net, X, Y, epochs)

    return best_of(run, repeats) / epochs


def sklearn_mlp(epochs: int, seed: int = 0):
    """scikit-learn's MLPClassifier with gabp's settings (None if not installed)."""
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    return MLPClassifier(hidden_layer_sizes=(N_HIDDEN,), activation="relu", solver="adam",
                         batch_size=BATCH, max_iter=epochs, tol=0.0, n_iter_no_change=10**6,
                         shuffle=True, random_state=seed)


def sklearn_fit(clf, X: np.ndarray, y: np.ndarray) -> None:
    """Fit on one BLAS thread, as gabp trains (and as CPU-time timing requires)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(), threadpool_limits(1, "blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)


def time_sklearn(X, Y, dtype, epochs: int, repeats: int) -> float | None:
    if sklearn_mlp(1) is None:
        return None
    y, Xd = Y.argmax(axis=1), X.astype(dtype)
    return best_of(lambda: sklearn_fit(sklearn_mlp(epochs), Xd, y), repeats) / epochs


# -- the GEMM floor ---------------------------------------------------------------------------


def epoch_flops(n: int, n_in: int = 64) -> float:
    """FLOPs of the weight products of one network-epoch on ``n`` rows.

    Forward ``x W`` per layer, backward ``x^T delta`` per layer and ``delta W^T`` for every
    layer but the first (the input gradient is not needed there): ``2 n (in h + h k)`` twice
    plus ``2 n h k``.
    """
    h, k = N_HIDDEN, N_CLASSES
    return 2.0 * n * (2 * (n_in * h + h * k) + h * k)


def gemm_floor(n: int, P: int, dtype, repeats: int, n_in: int = 64) -> float:
    """Seconds per network-epoch of the weight products alone, as the trainer calls them.

    Per mini-batch: ``x @ W1`` (shared input, one batched matmul), ``a1 @ W2``,
    ``a1^T @ d2``, ``d2 @ W2^T`` and ``x^T @ d1`` into the same strided gradient views, on
    one BLAS thread (what ``train`` uses).
    """
    h, k = N_HIDDEN, N_CLASSES
    rng = np.random.default_rng(0)
    arch = Architecture.build((n_in, h, k), hidden_activation="relu",
                              output_activation="softmax")
    params = rng.normal(size=(P, arch.n_params)).astype(dtype)
    grad = np.empty_like(params)
    (W1, _), (W2, _) = arch.views(params)
    (gW1, _), (gW2, _) = arch.views(grad)
    sizes = [BATCH] * (n // BATCH) + ([n % BATCH] if n % BATCH else [])
    bufs = {}
    for b in set(sizes):
        bufs[b] = (rng.normal(size=(b, n_in)).astype(dtype), np.empty((P, b, h), dtype),
                   np.empty((P, b, k), dtype), np.empty((P, b, h), dtype))

    def epoch():
        for b in sizes:
            x, a1, z2, dx = bufs[b]
            np.matmul(x, W1, out=a1)
            np.matmul(a1, W2, out=z2)
            np.matmul(a1.transpose(0, 2, 1), z2, out=gW2)
            np.matmul(z2, W2.transpose(0, 2, 1), out=dx)
            np.matmul(x.T, dx, out=gW1)

    with threadpool_limits(1, "blas"):
        return best_of(epoch, repeats) / P


# -- the step profile -------------------------------------------------------------------------


def profile_step(X, Y, P: int, dtype, epochs: int) -> dict[str, float]:
    """Seconds per network-epoch of each phase of the real mini-batch loop.

    The loop of :class:`gabp.trainer._MiniBatch` written out with a timer around each phase
    (the same engine, optimizer and buffers); each phase's time is the best over ``epochs``
    epochs, and ``"epoch (iterate)"`` is the best of the untimed ``iterate`` itself.
    """
    dtype = np.dtype(dtype)
    Xd, Yd = X.astype(dtype), Y.astype(dtype)
    net = make_net(P, dtype)
    n = Xd.shape[0]
    mb = _MiniBatch(net.arch, net.params, Xd, Yd, loss="cross_entropy", optimizer="adam",
                    learning_rate=np.full(P, 1e-3), momentum=np.full(P, 0.9),
                    alpha=np.zeros(P), batch_size=BATCH, shuffle=True,
                    rng=np.random.default_rng(0), settings={})
    bp, opt = mb.backprop, mb.opt
    phases = ("shuffle", "forward", "loss", "backward", "checks + bookkeeping", "optimizer")
    best = dict.fromkeys(phases, np.inf)
    clock = CPU
    with threadpool_limits(1, "blas"), np.errstate(all="ignore"):
        for _ in range(epochs):
            acc = dict.fromkeys(phases, 0.0)
            progress = Progress.start(P)
            t = clock()
            order = mb.rng.permutation(n)
            Xs, Ys = Xd[order], Yd[order]
            total = np.zeros(P)
            t1 = clock()
            acc["shuffle"] += t1 - t
            for start in range(0, n, BATCH):
                t0 = clock()
                Xb, Yb = Xs[start : start + BATCH], Ys[start : start + BATCH]
                bp.forward(Xb, defer_softmax=True)  # as the engine's training call does
                t1 = clock()
                value, delta = bp.loss(Yb, "cross_entropy")
                t2 = clock()
                bp.backward(delta)
                value = bp.penalty(value)
                t3 = clock()
                if not math.isfinite(np.add.reduce(value)):  # as _MiniBatch.iterate
                    finite = np.isfinite(value)
                    if not finite.all():
                        progress.diverge(~finite, 0)
                total += value * Xb.shape[0]
                t4 = clock()
                opt.step(mb.params, bp.grad, None)
                t5 = clock()
                acc["forward"] += t1 - t0
                acc["loss"] += t2 - t1
                acc["backward"] += t3 - t2
                acc["checks + bookkeeping"] += t4 - t3
                acc["optimizer"] += t5 - t4
            for k in phases:
                best[k] = min(best[k], acc[k])
        whole = best_of(lambda: mb.iterate(Progress.start(P), 0, None), epochs)
        fused = None
        if "numba" in available_kernels():
            with kernels("numba"):
                fast = optimizers.make_optimizer("adam", mb.params.shape, learning_rate=1e-3,
                                                 dtype=dtype)
                steps = -(-n // BATCH)

                def epoch_of_steps():
                    for _ in range(steps):
                        fast.step(mb.params, bp.grad, None)

                fused = best_of(epoch_of_steps, epochs)
    out = {k: v / P for k, v in best.items()}
    out["sum of the phases"] = sum(out.values())
    out["epoch (iterate)"] = whole / P
    out["GEMM floor (same products alone)"] = gemm_floor(n, P, dtype, epochs)
    if fused is not None:
        out["optimizer with GABP_KERNELS=numba (alone)"] = fused / P
    return out


# -- the sections -----------------------------------------------------------------------------


def part_throughput(X, Y, sizes, epochs: int, repeats: int) -> tuple[list[dict], str]:
    n = X.shape[0]
    rows = []
    names = available_kernels()
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        sk = time_sklearn(X, Y, dtype, max(epochs, 2), repeats)
        for P in sizes:
            tb = {}
            for _ in range(repeats):  # the kernels interleaved, best of each
                for k in names:
                    with kernels(k):
                        tb[k] = min(tb.get(k, np.inf), time_batched(X, Y, P, dtype, epochs, 1))
            p_sep = min(P, 20)  # P independent runs cost P times one: time at most 20
            ts = time_separate(X, Y, p_sep, dtype, epochs, repeats) * P / p_sep
            floor = gemm_floor(n, P, dtype, max(repeats, 5))
            rows.append({
                "dtype": name, "P": P, "ms_per_net_epoch": 1e3 * tb["numpy"] / P,
                "numba_ms_per_net_epoch":
                    1e3 * tb["numba-adam"] / P if "numba" in tb else None,
                "fused_ms_per_net_epoch": 1e3 * tb["numba"] / P if "numba" in tb else None,
                "separate_ms_per_net_epoch": 1e3 * ts / P,
                "speedup_vs_separate": ts / tb["numpy"],
                "floor_ms_per_net_epoch": 1e3 * floor,
                "gemm_gflops": epoch_flops(n) / floor / 1e9,
                "ratio_to_floor": tb["numpy"] / P / floor,
                "sklearn_ms_per_epoch": None if (sk is None or P != 1) else 1e3 * sk,
            })
    text = table(
        ["dtype", "P", "NumPy ms / network-epoch", "numba Adam", "numba Adam + elementwise",
         "one by one",
         "batched speed-up", "GEMM floor ms", "GEMM GFLOP/s", "epoch / floor",
         "sklearn ms / epoch"],
        [[r["dtype"], r["P"], f"{r['ms_per_net_epoch']:.3f}",
          "—" if r["numba_ms_per_net_epoch"] is None else f"{r['numba_ms_per_net_epoch']:.3f}",
          "—" if r["fused_ms_per_net_epoch"] is None else f"{r['fused_ms_per_net_epoch']:.3f}",
          f"{r['separate_ms_per_net_epoch']:.3f}", f"{r['speedup_vs_separate']:.1f}x",
          f"{r['floor_ms_per_net_epoch']:.3f}", f"{r['gemm_gflops']:.0f}",
          f"{r['ratio_to_floor']:.2f}x",
          "" if r["sklearn_ms_per_epoch"] is None else f"{r['sklearn_ms_per_epoch']:.2f}"]
         for r in rows])
    head = (f"Per network-epoch on {n} rows (64-{N_HIDDEN}-{N_CLASSES} relu/softmax, "
            f"cross-entropy, Adam, batch {BATCH}; best of {repeats}, {epochs} epochs; the "
            f"NumPy passes (GABP_KERNELS=numpy; one by one, the speed-up and the floor ratio "
            f"are theirs) and, interleaved, GABP_KERNELS=numba with only the Adam step "
            f"compiled and with the elementwise passes compiled too). FLOPs of the weight "
            f"products per network-epoch: {epoch_flops(n) / 1e6:.1f} M.")
    return rows, head + "\n\n" + text


def part_profile(X, Y, epochs: int, sizes=(40,)) -> tuple[dict, str]:
    res = {}
    sets = ("numpy", "numba") if "numba" in available_kernels() else ("numpy",)
    for dtype in (np.float32, np.float64):
        for P in sizes:
            for k in sets:  # the NumPy passes, and everything GABP_KERNELS=numba compiles
                with kernels(k):
                    res[f"{np.dtype(dtype).name} P={P} {KERNEL_SETS[k]}"] = profile_step(
                        X, Y, P, dtype, epochs)
    cols = list(res)
    phases = list(next(iter(res.values())))
    rows = []
    for ph in phases:
        row = [ph]
        for c in cols:
            v = res[c].get(ph, np.nan)
            share = v / res[c]["epoch (iterate)"]
            row.append(f"{1e3 * v:.3f} ({100 * share:.0f} %)")
        rows.append(row)
    text = table(["phase (ms / network-epoch, share of the epoch)", *cols], rows)
    return res, (f"Step profile on {X.shape[0]} rows, best of {epochs} epochs per phase:\n\n"
                 + text)


def first_layer_cases(P: int, dtype) -> dict[str, Callable[[], Any]]:
    """The first layer's products for one mini-batch, the ways they can be arranged."""
    n_in, h = 64, N_HIDDEN
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, n_in)).astype(dtype)
    W = rng.normal(size=(P, n_in, h)).astype(dtype)
    d = rng.normal(size=(P, BATCH, h)).astype(dtype)
    z, gW = np.empty((P, BATCH, h), dtype), np.empty((P, n_in, h), dtype)
    Wcat = np.ascontiguousarray(W.transpose(1, 0, 2).reshape(n_in, P * h))
    dcat = np.ascontiguousarray(d.transpose(1, 0, 2).reshape(BATCH, P * h))
    zcat, gcat = np.empty((BATCH, P * h), dtype), np.empty((n_in, P * h), dtype)
    return {
        "forward, batched x @ W[p] (gabp)": lambda: np.matmul(x, W, out=z),
        "forward, shared GEMM, W pre-arranged": lambda: np.matmul(x, Wcat, out=zcat),
        "forward, shared GEMM incl. W.transpose(1,0,2).reshape (a copy)":
            lambda: np.matmul(x, W.transpose(1, 0, 2).reshape(n_in, P * h)),
        "dW, batched x^T @ delta[p] (gabp)": lambda: np.matmul(x.T, d, out=gW),
        "dW, shared GEMM, delta pre-arranged": lambda: np.matmul(x.T, dcat, out=gcat),
    }


def per_call(fn: Callable[[], Any], repeats: int, clock: Callable[[], float],
             calls: int = 200) -> float:
    """Best seconds per call of ``fn`` over ``repeats`` runs of ``calls`` calls."""
    fn()

    def many():
        for _ in range(calls):
            fn()

    return best_of(many, repeats, clock) / calls


def part_kernels(P: int, repeats: int) -> tuple[list[dict], str]:
    """First layer, one mini-batch: shared-input GEMM vs the batched matmul gabp uses.

    One thread: CPU time; two threads: wall time (a thread waiting for the busy other core
    shows up there, which is the point).
    """
    rows = []
    flops = 2.0 * BATCH * 64 * N_HIDDEN * P
    for threads in (1, 2):
        for dtype in (np.float32, np.float64):
            with threadpool_limits(threads, "blas"):
                for name, fn in first_layer_cases(P, dtype).items():
                    t = per_call(fn, repeats, CPU if threads == 1 else WALL)
                    rows.append({"threads": threads, "dtype": np.dtype(dtype).name,
                                 "product": name, "us": 1e6 * t, "gflops": flops / t / 1e9})
    text = table(["BLAS threads", "dtype", f"first layer, P = {P}, batch {BATCH}", "µs",
                  "GFLOP/s"],
                 [[r["threads"], r["dtype"], r["product"], f"{r['us']:.1f}",
                   f"{r['gflops']:.0f}"] for r in rows], align="lllrr")
    return rows, text


def _bias_sums(delta, gb):  # pragma: no cover - compiled (a candidate, measured only)
    """``gb[p, 0, j] = sum_i delta[p, i, j]``, rows added in order (NumPy: ``ones @ delta``)."""
    for p in range(delta.shape[0]):
        for j in range(delta.shape[2]):
            gb[p, 0, j] = 0.0
        for i in range(delta.shape[1]):
            for j in range(delta.shape[2]):
                gb[p, 0, j] += delta[p, i, j]


def elementwise_cases(P: int, dtype) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """Each elementwise pass of one mini-batch: (NumPy, compiled), on the trainer's shapes.

    The in-place passes restore their input first; that copy is timed alone and subtracted.
    The bias-gradient sum is a candidate kernel defined here (not in gabp): it is measured
    against the ``ones @ delta`` product gabp makes.
    """
    import numba

    from gabp._kernels import compiled
    from gabp.activations import ACTIVATIONS, softmax, softmax_shifted
    from gabp.losses import LOSSES

    dtype = np.dtype(dtype)
    t = dtype.type
    rng = np.random.default_rng(0)
    n, h, k = BATCH, N_HIDDEN, N_CLASSES
    arch = Architecture.build((64, h, k), hidden_activation="relu", output_activation="softmax")
    params = rng.normal(size=(P, arch.n_params)).astype(dtype)
    (_, b1), (_, b2) = arch.views(params)
    z1_0 = rng.normal(size=(P, n, h)).astype(dtype)
    z2_0 = (3 * rng.normal(size=(P, n, k))).astype(dtype)
    z1, z2, a2 = z1_0.copy(), z2_0.copy(), np.empty((P, n, k), dtype)
    rmax, rsum, lse = (np.empty((P, n), dtype) for _ in range(3))
    a1 = np.maximum(z1_0 + b1, 0.0)
    d1 = rng.normal(size=(P, n, h)).astype(dtype)
    Y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    softmax(z2_0 + b2, a2, rowmax=rmax, rowsum=rsum)
    delta = np.empty_like(a2)
    gb, ones = np.empty((P, 1, h), dtype), np.ones((1, n), dtype)
    k_relu, k_grad = compiled("bias_relu"), compiled("relu_grad")
    k_shift, k_ce = compiled("bias_shift"), compiled("softmax_ce")
    k_sums = numba.njit(nogil=True, error_model="numpy", boundscheck=False)(_bias_sums)

    def np_bias_relu():
        np.copyto(z1, z1_0)
        z1.__iadd__(b1)
        np.maximum(z1, 0.0, out=z1)

    def nb_bias_relu():
        np.copyto(z1, z1_0)
        k_relu(z1, np.ascontiguousarray(b1[:, 0]), t(0))

    def np_bias_softmax():
        np.copyto(z2, z2_0)
        z2.__iadd__(b2)
        softmax(z2, a2, rowmax=rmax, rowsum=rsum)

    def nb_bias_softmax():
        np.copyto(z2, z2_0)
        k_shift(z2, np.ascontiguousarray(b2[:, 0]), a2, rmax)
        softmax_shifted(a2, rsum)

    def lse_pass():
        np.log(rsum, out=lse)
        lse.__iadd__(rmax)

    def np_train_softmax_loss():  # the NumPy training path: softmax, then the loss
        np_bias_softmax()
        lse_pass()
        LOSSES["cross_entropy"](z2, a2, Y, "softmax", lse=lse, out=delta)

    ones_k = np.ones(k, dtype)

    def nb_train_softmax_loss():  # training's compiled path: the loss's pass divides
        np.copyto(z2, z2_0)
        k_shift(z2, np.ascontiguousarray(b2[:, 0]), a2, rmax)
        np.exp(a2, out=a2)
        np.matmul(a2, ones_k, out=rsum)
        k_ce(z2, a2, rsum, rmax, Y, t(n), t(1.0 / n), delta, np.empty(P, dtype))

    return {
        "copy (subtracted from the in-place passes)": (lambda: np.copyto(z1, z1_0),
                                                       lambda: np.copyto(z2, z2_0)),
        f"bias add + ReLU, hidden z ({P}, {n}, {h})": (np_bias_relu, nb_bias_relu),
        f"ReLU' into the delta ({P}, {n}, {h})": (
            lambda: ACTIVATIONS["relu"].mul_derivative(d1, a1),
            lambda: k_grad(d1, a1, t(0), t(1))),
        f"bias add + softmax, output ({P}, {n}, {k}) (forward only)": (np_bias_softmax,
                                                                        nb_bias_softmax),
        "training: bias add + softmax + cross-entropy loss + dL/dz, output":
            (np_train_softmax_loss, nb_train_softmax_loss),
        f"bias-gradient sum ({P}, {n}, {h}) -> ({P}, 1, {h}) [candidate]":
            (lambda: np.matmul(ones, d1, out=gb), lambda: k_sums(d1, gb)),
    }


def part_fused(repeats: int, P: int = 40) -> tuple[list[dict], str]:
    """The compiled elementwise passes against NumPy's, per mini-batch, interleaved."""
    if "numba" not in available_kernels():
        return [], "numba is not installed: no compiled passes to time."
    rows = []
    with kernels("numba"), threadpool_limits(1, "blas"), np.errstate(all="ignore"):
        for dtype in (np.float32, np.float64):
            cases = elementwise_cases(P, dtype)
            best: dict[tuple[str, int], float] = {}
            for _ in range(max(repeats, 5)):  # NumPy and compiled interleaved, best of each
                for name, pair in cases.items():
                    for j, fn in enumerate(pair):
                        us = 1e6 * per_call(fn, 1, CPU, calls=300)
                        best[name, j] = min(best.get((name, j), np.inf), us)
            copy = dict(enumerate(best[next(iter(cases)), j] for j in range(2)))
            for name in list(cases)[1:]:
                sub = [copy[0] if "hidden" in name else copy[1] if "output" in name else 0.0
                       for _ in range(2)]
                t_np, t_nb = best[name, 0] - sub[0], best[name, 1] - sub[1]
                rows.append({"dtype": np.dtype(dtype).name, "P": P, "pass": name,
                             "numpy_us": t_np, "numba_us": t_nb, "speedup": t_np / t_nb})
    text = table(["dtype", "pass (one mini-batch of 32)", "NumPy µs", "numba µs", "NumPy / numba"],
                 [[r["dtype"], r["pass"], f"{r['numpy_us']:.1f}", f"{r['numba_us']:.1f}",
                   f"{r['speedup']:.2f}x"] for r in rows], align="llrrr")
    return rows, text


def activation_cases(P: int, k: int, dtype, output: bool = False
                     ) -> dict[str, tuple[Callable[[], Any], ...]]:
    """The sigmoid and tanh passes of one mini-batch: (NumPy, compiled, input copy).

    A hidden layer's forward pass writes the activation over ``z`` (in place: ``z`` is
    restored from a copy first); an output layer's (``output=True``) writes it into another
    array. The derivative passes multiply a restored delta. Each case's copy is timed alone
    and subtracted by :func:`part_act`.
    """
    from gabp._kernels import compiled
    from gabp.activations import ACTIVATIONS

    dtype = np.dtype(dtype)
    one = dtype.type(1)
    rng = np.random.default_rng(0)
    n = BATCH
    flat = rng.normal(size=(P, 3 * k)).astype(dtype)
    b = flat[:, k : 2 * k].reshape(P, 1, k)  # a strided genome view, as the trainer's
    z0 = (2 * rng.normal(size=(P, n, k))).astype(dtype)
    z, e, a_out = z0.copy(), np.empty_like(z0), np.empty_like(z0)
    out = a_out if output else z
    d0 = rng.normal(size=(P, n, k)).astype(dtype)
    d = d0.copy()
    a_tanh, a_sig = np.tanh(z0), ACTIVATIONS["sigmoid"].forward(z0)
    sig, tanh = ACTIVATIONS["sigmoid"], ACTIVATIONS["tanh"]
    k_add, k_pre = compiled("bias_add"), compiled("sigmoid_pre")
    k_post, k_post_to = compiled("sigmoid_post"), compiled("sigmoid_post_to")
    k_tanh, k_sig = compiled("tanh_grad"), compiled("sigmoid_grad")

    def copy_z():
        np.copyto(z, z0)

    def copy_d():
        np.copyto(d, d0)

    def np_sigmoid():
        np.copyto(z, z0)
        z.__iadd__(b)
        sig.apply(z, out, e)

    def nb_sigmoid():
        np.copyto(z, z0)
        k_pre(z, np.ascontiguousarray(b[:, 0]), e)
        np.exp(e, out=e)
        if output:
            k_post_to(z, e, out, one)
        else:
            k_post(z, e, one)

    def np_tanh():
        np.copyto(z, z0)
        z.__iadd__(b)
        np.tanh(z, out=out)

    def nb_tanh():
        np.copyto(z, z0)
        k_add(z, np.ascontiguousarray(b[:, 0]))
        np.tanh(z, out=out)

    def np_sigmoid_masked():  # NumPy's sigmoid before this round: a masked copy of e
        np.copyto(z, z0)
        z.__iadd__(b)
        neg = z < 0
        np.abs(z, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        out.fill(1.0)
        np.copyto(out, e, where=neg)
        e.__iadd__(1.0)
        np.divide(out, e, out=out)

    where = "output" if output else "hidden"
    cases = {f"bias add + sigmoid, {where}": (np_sigmoid, nb_sigmoid, copy_z),
             f"bias add + sigmoid, {where} [NumPy before: masked copy]":
                 (np_sigmoid_masked, nb_sigmoid, copy_z),
             f"bias add + tanh, {where}": (np_tanh, nb_tanh, copy_z)}
    if not output:  # an output's derivative is applied by the loss (NumPy's passes)
        cases["tanh' into the delta"] = (
            lambda: (copy_d(), tanh.mul_derivative(d, a_tanh, e)),
            lambda: (copy_d(), k_tanh(d, a_tanh, one)), copy_d)
        cases["sigmoid' into the delta"] = (
            lambda: (copy_d(), sig.mul_derivative(d, a_sig, e)),
            lambda: (copy_d(), k_sig(d, a_sig, one)), copy_d)
    return cases


def part_act(repeats: int, sizes=(20, 40, 100), units=(16, 64)) -> tuple[list[dict], str]:
    """The compiled sigmoid/tanh passes against NumPy's, per mini-batch, interleaved."""
    if "numba" not in available_kernels():
        return [], "numba is not installed: no compiled passes to time."
    rows = []
    shapes = [(k, False) for k in units] + [(1, True)]
    with kernels("numba"), threadpool_limits(1, "blas"), np.errstate(all="ignore"):
        for dtype in (np.float32, np.float64):
            for P in sizes:
                for k, output in shapes:
                    cases = activation_cases(P, k, dtype, output)
                    best: dict[tuple[str, int], float] = {}
                    for _ in range(max(repeats, 5)):  # NumPy, compiled, copy interleaved
                        for name, fns in cases.items():
                            for j, fn in enumerate(fns):
                                us = 1e6 * per_call(fn, 1, CPU, calls=300)
                                best[name, j] = min(best.get((name, j), np.inf), us)
                    for name in cases:
                        t_np = best[name, 0] - best[name, 2]
                        t_nb = best[name, 1] - best[name, 2]
                        rows.append({"dtype": np.dtype(dtype).name, "P": P, "units": k,
                                     "pass": name, "numpy_us": t_np, "numba_us": t_nb,
                                     "speedup": t_np / t_nb})
    text = table(["dtype", "P", "units", "pass (one mini-batch of 32)", "NumPy µs", "numba µs",
                  "NumPy / numba"],
                 [[r["dtype"], r["P"], r["units"], r["pass"], f"{r['numpy_us']:.1f}",
                   f"{r['numba_us']:.1f}", f"{r['speedup']:.2f}x"] for r in rows],
                 align="lrrlrrr")
    return rows, ("CPU µs per call, best of 5 interleaved rounds of 300 calls; the input copy "
                  "each in-place pass starts with is timed alone and subtracted. The rows "
                  "'[NumPy before: masked copy]' time NumPy's previous sigmoid "
                  "(np.copyto(where=) for the numerator) against the same compiled passes:"
                  "\n\n" + text)


#: The classic GA-BP recipe's network: 10 inputs, 16 hidden units, one linear output.
CLASSIC = (10, 16, 1)


def classic_problem(n: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of a smooth 10-input function, inputs and target min-max scaled to [-1, 1]."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1.0, 1.0, (n, CLASSIC[0]))
    y = np.sin(X @ rng.normal(size=CLASSIC[0])) + 0.3 * X[:, 0] * X[:, 1]
    y = 2 * (y - y.min()) / (y.max() - y.min()) - 1
    return X.astype(dtype), y[:, None].astype(dtype)


def time_classic(X, Y, act: str, P: int, dtype, epochs: int) -> float:
    """Seconds per epoch of ``P`` classic networks trained together (Adam, MSE, batch 32)."""
    net = Network(CLASSIC, hidden_activation=act, output_activation="identity", n_networks=P,
                  seed=1, dtype=dtype)
    t0 = CPU()
    train(net, X, Y, loss="mse", optimizer="adam", epochs=epochs, batch_size=BATCH, seed=0,
          restore_best=False)
    return (CPU() - t0) / epochs


def part_classic(quick: bool, repeats: int) -> tuple[list[dict], str]:
    """The classic recipe's 10-16-1 tanh / sigmoid networks, the kernel sets interleaved."""
    names = available_kernels()
    rows = []
    n_rows = (2000,) if quick else (2000, 50000)
    for n in n_rows:
        epochs = 5 if n <= 5000 else 1
        for dtype in (np.float32, np.float64):
            X, Y = classic_problem(n, dtype)
            for act in ("tanh", "sigmoid"):
                for P in (20, 40):
                    t: dict[str, float] = {}
                    for _ in range(repeats):  # the kernel sets interleaved, best of each
                        for k in names:
                            with kernels(k):
                                t[k] = min(t.get(k, np.inf),
                                           time_classic(X, Y, act, P, dtype, epochs))
                    rows.append({"rows": n, "dtype": np.dtype(dtype).name, "hidden": act,
                                 "P": P, **{f"{k}_ms": 1e3 * v / P for k, v in t.items()}})
    fast = "numba" in names

    def ms(r, k):
        return f"{r[k + '_ms']:.4f}" if k + "_ms" in r else "—"

    text = table(["rows", "dtype", "hidden", "P", "NumPy ms / network-epoch", "numba Adam",
                  "numba Adam + elementwise", "NumPy / all compiled",
                  "numba Adam / all compiled"],
                 [[f"{r['rows']:,}", r["dtype"], r["hidden"], r["P"], ms(r, "numpy"),
                   ms(r, "numba-adam"), ms(r, "numba"),
                   f"{r['numpy_ms'] / r['numba_ms']:.2f}x" if fast else "—",
                   f"{r['numba-adam_ms'] / r['numba_ms']:.2f}x" if fast else "—"]
                  for r in rows], align="lllrrrrrr")
    return rows, (f"Classic GA-BP networks {'-'.join(map(str, CLASSIC))} (identity output, MSE, "
                  f"Adam, batch {BATCH}), CPU ms per network-epoch, best of {repeats} "
                  f"interleaved rounds (5 epochs on 2,000 rows, 1 on 50,000):\n\n" + text)


def part_threads(X, Y, epochs: int, repeats: int, P: int = 40) -> tuple[list[dict], str]:
    rows = []
    for dtype in (np.float32, np.float64):
        t = {}
        for _ in range(repeats):  # interleaved, best of each
            for threads in (1, 2):
                s = time_batched(X, Y, P, dtype, epochs, 1, threads=threads)
                t[threads] = min(t.get(threads, np.inf), s)
        rows.append({"dtype": np.dtype(dtype).name, "P": P,
                     "one_thread_ms": 1e3 * t[1] / P, "two_threads_ms": 1e3 * t[2] / P})
    text = table(["dtype", "P", "1 BLAS thread ms / network-epoch", "2 threads", "2 / 1"],
                 [[r["dtype"], r["P"], f"{r['one_thread_ms']:.3f}", f"{r['two_threads_ms']:.3f}",
                   f"{r['two_threads_ms'] / r['one_thread_ms']:.2f}"] for r in rows])
    return rows, text


def ga_vs_sklearn(task, dtype: str, pop: int, gens: int, bp_epochs: int,
                  repeats: int) -> dict[str, Any]:
    """One row of the GA section: evolve's time and that of the same fits in scikit-learn."""
    from gabp.evolution import BPConfig, GAConfig, evolve

    runs = []

    def run():
        runs.append(evolve(
            task.X_train, task.y_train, task.X_val, task.y_val, hidden_layer_sizes=(N_HIDDEN,),
            hidden_activation="relu", output_activation="softmax", loss="cross_entropy",
            mode="baldwinian", ga=GAConfig(population_size=pop, n_generations=gens),
            bp=BPConfig(optimizer="adam", learning_rate=1e-3, batch_size=BATCH,
                        bp_epochs=bp_epochs, max_epochs=1, early_stopping=False, dtype=dtype),
            n_baseline=0, n_jobs=1, seed=0))

    t_ga = best_of(run, repeats)
    n_fits = runs[-1].n_evaluations  # one BP run of bp_epochs per scored individual
    k = min(n_fits, 10)  # time k fits and scale (the fits are independent)
    Xd, y = task.X_train.astype(dtype), task.y_train.argmax(axis=1)

    def fits():
        for s in range(k):
            sklearn_fit(sklearn_mlp(bp_epochs, seed=s), Xd, y)

    t_sk = best_of(fits, repeats) * n_fits / k if sklearn_mlp(1) is not None else None
    return {"dtype": dtype, "population": pop, "generations": gens, "bp_epochs": bp_epochs,
            "network_epochs": n_fits * bp_epochs, "gabp_s": t_ga, "sklearn_fits": n_fits,
            "sklearn_s": t_sk, "speedup": None if t_sk is None else t_sk / t_ga,
            "best_val_loss": float(runs[-1].best_fitness)}


def part_ga(task, quick: bool, repeats: int) -> tuple[list[dict], str]:
    """Baldwinian GA-BP vs one-by-one scikit-learn fits of the same network-epochs."""
    pop, gens, bp_epochs = (10, 2, 5) if quick else (40, 5, 20)
    rows = []
    for dtype in ("float32", "float64"):
        for k in available_kernels():
            with kernels(k):
                rows.append({"kernels": k,
                             **ga_vs_sklearn(task, dtype, pop, gens, bp_epochs, repeats)})
    text = table(["GA-BP dtype", "kernels", "individuals x generations x epochs",
                  "network-epochs", "gabp s", "sklearn fits", "sklearn s (one by one)",
                  "gabp speed-up"],
                 [[r["dtype"], KERNEL_SETS[r["kernels"]],
                   f"{r['population']} x {r['generations']} x {r['bp_epochs']}",
                   f"{r['network_epochs']:.0f}", f"{r['gabp_s']:.2f}",
                   f"{r['sklearn_fits']:.0f}",
                   "—" if r["sklearn_s"] is None else f"{r['sklearn_s']:.2f}",
                   "—" if r["speedup"] is None else f"{r['speedup']:.1f}x"] for r in rows])
    return rows, text


#: Run by :func:`part_compile` in a fresh interpreter: the wall seconds of two ``train`` calls
#: (P = 40, one epoch on 256 rows) in this process, or with argument ``workers`` in each of
#: two fresh loky workers; prints them as JSON.
_FIRST_TRAINS = """
import json, sys, time
import numpy as np
from joblib import Parallel, delayed

def trains(dtype):
    from gabp import Network, train
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (256, 64)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, 256)]
    out = []
    for _ in range(2):
        net = Network((64, 32, 10), hidden_activation="relu", output_activation="softmax",
                      n_networks=40, seed=1, dtype=dtype)
        t = time.perf_counter()
        train(net, X, Y, loss="cross_entropy", optimizer="adam", epochs=1, batch_size=32)
        out.append(time.perf_counter() - t)
    return out

if sys.argv[2] == "workers":
    with Parallel(n_jobs=2) as par:
        par(delayed(abs)(1) for _ in range(2))  # start both workers first
        print(json.dumps(par(delayed(trains)(sys.argv[1]) for _ in range(2))))
else:
    print(json.dumps([trains(sys.argv[1])]))
"""


def first_train_cost(dtype: str, where: str, kernels_: str, cache: str) -> float:
    """Seconds a fresh process (``where="process"``) or the slower of two fresh workers
    (``"workers"``) spends in its first ``train`` beyond its second."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, GABP_KERNELS=kernels_, NUMBA_CACHE_DIR=cache,
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", _FIRST_TRAINS, dtype, where], env=env,
                         capture_output=True, text=True, check=True, timeout=600).stdout
    return max(first - second for first, second in json.loads(out))


def part_compile(repeats: int) -> tuple[list[dict], str]:
    """The compiled kernels' one-off cost per fresh process, cold and warm numba cache."""
    if "numba" not in available_kernels():
        return [], "numba is not installed: nothing is compiled."
    rows = []
    for dtype in ("float32", "float64"):
        for where in ("process", "workers"):
            best: dict[str, float] = {}
            for _ in range(repeats):  # interleaved, best of each
                with tempfile.TemporaryDirectory() as cache:
                    for case, k in (("numpy", "numpy"), ("cold", "numba"), ("warm", "numba")):
                        s = first_train_cost(dtype, where, k, cache)
                        best[case] = min(best.get(case, np.inf), s)
            rows.append({"dtype": dtype, "where": where, **{f"{k}_s": v for k, v in best.items()}})
    text = table(["dtype", "fresh", "NumPy s", "numba, empty cache s", "numba, cache filled s"],
                 [[r["dtype"], "process" if r["where"] == "process" else "joblib worker (of 2)",
                   f"{r['numpy_s']:.2f}", f"{r['cold_s']:.2f}", f"{r['warm_s']:.2f}"]
                  for r in rows])
    return rows, (f"First train (P = 40) minus the second in a fresh interpreter, wall seconds, "
                  f"best of {repeats}; numba's import included:\n\n" + text)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer networks and repeats")
    parser.add_argument("--profile", action="store_true", help="only the step profile")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated sections among {', '.join(PARTS)}")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (best is kept)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per timing")
    parser.add_argument("--sizes", default=None, help="comma-separated P values")
    parser.add_argument("--out", default=None, help="JSON output path")
    args = parser.parse_args(argv)
    parts = ["profile"] if args.profile else [p.strip() for p in args.parts.split(",")]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; known: {', '.join(PARTS)}")
    if args.sizes:
        sizes = tuple(int(v) for v in args.sizes.split(","))
    else:
        sizes = (1, 8, 40) if args.quick else (1, 8, 40, 100)
    repeats = args.repeats or (2 if args.quick else 3)
    epochs = args.epochs or (1 if args.quick else 3)
    X, Y, task = load_problem()
    os.environ["GABP_KERNELS"] = "numpy"  # what no label says is numba is the NumPy path
    info = machine()
    print(machine_line(info), "\n")
    result: dict[str, Any] = {"machine": info, "config": {
        "n_rows": X.shape[0], "network": f"64-{N_HIDDEN}-{N_CLASSES} relu/softmax",
        "batch_size": BATCH, "epochs": epochs, "repeats": repeats, "quick": args.quick}}
    sections = {
        "throughput": lambda: part_throughput(X, Y, sizes, epochs, repeats),
        "profile": lambda: part_profile(X, Y, max(3, 2 * repeats)),
        "fused": lambda: part_fused(repeats),
        "act": lambda: part_act(repeats),
        "classic": lambda: part_classic(args.quick, repeats),
        "kernels": lambda: part_kernels(40, max(repeats, 3)),
        "threads": lambda: part_threads(X, Y, epochs, repeats),
        "ga": lambda: part_ga(task, args.quick, 1 if args.quick else 2),
        "compile": lambda: part_compile(1 if args.quick else 3),
    }
    for name in PARTS:
        if name in parts:
            data, text = sections[name]()
            result[name] = data
            print(f"### {name}\n\n{text}\n", flush=True)
    path = write_json("bp_throughput.json", result, args.out)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
