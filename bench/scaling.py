"""Scaling: time and peak memory of one GA generation as population, data and network grow.

One *generation* is what the weights GA does to each of its ``P`` individuals in the hybrid
modes: :func:`gabp.evolution.score_genomes` with ``bp_epochs=1`` (one epoch of Adam with
batch 32, or one iteration of a full-batch solver: ``lm``, ``br``, ``lbfgs``) on ``n``
training rows, then the fitness forward pass on ``n / 4`` validation rows; ``forward`` is
the classic mode (the fitness forward pass alone, no BP). Synthetic regression (tanh teacher,
identity output, MSE), float64, one BLAS thread (as gabp scores), ``n_jobs=1``.

Three sweeps around a base cell (P = 40, n = 1,000, network 10-16-1), for every solver:
population 10 - 1,000, training rows 1,000 - 200,000, networks 10-16-1, 64-64-10,
256-128-10 (inputs-hidden-outputs). Each cell runs in a fresh subprocess: time is the best
of three calls (two from 0.5 s, one from 5 s), peak memory is ``tracemalloc``'s peak of
NumPy's allocations during one call (cells under 5 s; the data itself excluded) and, for
slower cells, the process's peak RSS (``resource.getrusage``) less its RSS just before the
first call (the data excluded too). LM/BR cells whose normal
equations do not fit gabp's default memory budget (256 MB) are reported as refused, as
``gabp.train`` refuses them; cells slower than ``--cap`` seconds are stopped and reported.
Next to each time, ``e`` is the growth exponent from the previous row of the sweep
(``log(t2 / t1) / log(x2 / x1)``: 1 = linear, above 1 = faster than linear).

Usage::

    python bench/scaling.py            # full run (about 5-10 min on 2 cores)
    python bench/scaling.py --quick    # smoke run (under a minute)

Prints markdown tables and writes ``bench/results/scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine, machine_line, table, timed, write_json

SOLVERS = ("forward", "adam", "lbfgs", "lm", "br")
BASE = {"P": 40, "n": 1000, "net": (10, 16, 1)}
FULL = {"P": (10, 40, 100, 400, 1000), "n": (1000, 10_000, 50_000, 200_000),
        "net": ((10, 16, 1), (64, 64, 10), (256, 128, 10))}
QUICK = {"P": (10, 40), "n": (1000, 10_000), "net": ((10, 16, 1), (64, 64, 10))}
ROOT = Path(__file__).resolve().parent.parent


def _data(n: int, n_in: int, n_out: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, n_in))
    W = rng.normal(size=(n_in, n_out)) / math.sqrt(n_in)
    return X, np.tanh(X @ W) + 0.05 * rng.normal(size=(n, n_out))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _rss_mb() -> float:
    """Current resident set size (Linux ``/proc/self/statm``; the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return _peak_rss_mb()


def run_cell(spec: dict[str, Any]) -> dict[str, Any]:
    """One cell, in this process: ``{"seconds", "numpy_peak_mb", "rss_growth_mb"}``."""
    sys.path.insert(0, str(ROOT))
    from gabp.evolution import BPConfig, score_genomes
    from gabp.network import Architecture, init_params
    from gabp.solvers.memory import DEFAULT_MEMORY_BUDGET, plan_lm

    solver, P, n, sizes = spec["solver"], spec["P"], spec["n"], tuple(spec["net"])
    arch = Architecture.build(sizes, hidden_activation="tanh", output_activation="identity")
    if solver in ("lm", "br"):
        try:
            plan_lm(arch, n, P, DEFAULT_MEMORY_BUDGET, optimizer=solver)
        except ValueError:
            need = 5 * arch.n_params ** 2 * 8 / 1e6
            return {"refused": f"refused: JᵀJ etc. {need:,.0f} MB > 256 MB"}
    X, Y = _data(n + n // 4, sizes[0], sizes[-1])
    X, Y, Xv, Yv = X[:n], Y[:n], X[n:], Y[n:]
    genomes = init_params(arch, P, rng=0)
    bp = BPConfig(optimizer="adam" if solver == "forward" else solver, learning_rate=0.01,
                  batch_size=32)
    settings = {"mode": "classic" if solver == "forward" else "baldwinian", "fitness": "loss",
                "loss": "mse", "bp_epochs": 1, "dtype": "float64",
                "train_kwargs": bp.train_kwargs()}

    def score():
        return score_genomes(arch.to_dict(), genomes, X, Y, Xv, Yv, settings, 0)

    rss0 = _rss_mb()
    out, first = timed(score)
    if not np.all(np.isfinite(out.errors)):
        return {"refused": "failed (non-finite errors)"}
    repeats = 0 if first >= 5 else 1 if first >= 0.5 else 2
    seconds = min([first] + [timed(score)[1] for _ in range(repeats)])
    peak = None
    if first < 5:
        tracemalloc.start()
        score()
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return {"seconds": seconds, "numpy_peak_mb": peak, "rss_growth_mb": _peak_rss_mb() - rss0,
            "n_params": arch.n_params}


def cells(grid: dict[str, tuple]) -> list[dict[str, Any]]:
    """Every (sweep, value, solver) cell; the base cell is shared by the three sweeps."""
    out, seen = [], set()
    for sweep, values in grid.items():
        for v in values:
            spec = {**BASE, sweep: v}
            for solver in SOLVERS:
                key = (solver, spec["P"], spec["n"], tuple(spec["net"]))
                if key not in seen:
                    seen.add(key)
                    out.append({"solver": solver, "P": spec["P"], "n": spec["n"],
                                "net": list(spec["net"])})
    return out


def run_subprocess(spec: dict[str, Any], cap: float) -> dict[str, Any]:
    """:func:`run_cell` in a fresh interpreter, stopped after ``cap`` seconds."""
    cmd = [sys.executable, __file__, "--cell", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=cap + 30)
    except subprocess.TimeoutExpired:
        return {"refused": f"capped (> {cap:.0f} s)"}
    if proc.returncode != 0:
        return {"refused": "error: " + proc.stderr.strip().splitlines()[-1][:80]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if res.get("seconds", 0) > cap:
        res = {**res, "note": f"over the {cap:.0f} s cap"}
    return res


def _key(spec: dict[str, Any]) -> tuple:
    return spec["solver"], spec["P"], spec["n"], tuple(spec["net"])


def _fmt(res: dict[str, Any], prev: dict[str, Any] | None, x: float, x_prev: float) -> str:
    if "refused" in res:
        return res["refused"]
    mem = res["numpy_peak_mb"] if res["numpy_peak_mb"] is not None else res["rss_growth_mb"]
    text = f"{res['seconds']:.3g} s, {mem:,.0f} MB" + ("" if res["numpy_peak_mb"] is not None
                                                       else " (RSS)")
    if prev is not None and "seconds" in prev and x != x_prev:
        e = math.log(res["seconds"] / prev["seconds"]) / math.log(x / x_prev)
        text += f", e={e:.2f}"
    return text


def tables(grid: dict[str, tuple], results: dict[tuple, dict]) -> str:
    """One markdown table per sweep: rows = the swept value, columns = solvers."""
    out = []
    names = {"P": "population P (n = 1,000, 10-16-1)", "n": "training rows n (P = 40, 10-16-1)",
             "net": "network (P = 40, n = 1,000)"}
    for sweep, values in grid.items():
        rows = []
        for i, v in enumerate(values):
            spec = {**BASE, sweep: v}
            x = v if sweep != "net" else None
            row = ["-".join(map(str, v)) if sweep == "net" else f"{v:,}"]
            for solver in SOLVERS:
                res = results[_key({**spec, "solver": solver})]
                prev = x_prev = None
                if i and sweep != "net":
                    x_prev = values[i - 1]
                    prev = results[_key({**BASE, sweep: x_prev, "solver": solver})]
                elif i:  # networks: growth against the parameter count
                    pspec = {**BASE, "net": values[i - 1], "solver": solver}
                    prev = results[_key(pspec)]
                    if "n_params" in res and "n_params" in prev:
                        x, x_prev = res["n_params"], prev["n_params"]
                row.append(_fmt(res, prev, x or 1, x_prev or 1))
            rows.append(row)
        out.append(f"Scaling with {names[sweep]}: seconds per generation, peak NumPy memory"
                   + (" (e against n_params)" if sweep == "net" else "") + "\n\n"
                   + table([sweep if sweep != "net" else "network", *SOLVERS], rows,
                           "l" + "r" * len(SOLVERS)))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few small cells (under a minute)")
    ap.add_argument("--cap", type=float, default=60.0, help="seconds per cell before stopping")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/scaling.json)")
    ap.add_argument("--cell", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cell is not None:
        print(json.dumps(run_cell(json.loads(args.cell))))
        return {}
    grid = QUICK if args.quick else FULL
    cap = 20.0 if args.quick else args.cap
    info = machine()
    t0 = time.perf_counter()
    results: dict[tuple, dict] = {}
    rows = []
    for spec in cells(grid):
        res = run_subprocess(spec, cap)
        results[_key(spec)] = res
        rows.append({**spec, **res})
        print(f"{spec}: {res}", file=sys.stderr, flush=True)
    text = tables(grid, results)
    total = time.perf_counter() - t0
    data = {"machine": info, "quick": args.quick, "cells": rows, "seconds": total,
            "load_at_end": list(os.getloadavg()), "tables": text}
    print(f"Machine: {machine_line(info)}; load at end {os.getloadavg()[0]:.2f}. "
          f"Total {total:.0f} s{' (--quick)' if args.quick else ''}.\n")
    print(text)
    path = write_json("scaling.json", data, args.out)
    print(f"\nwrote {path}")
    return data


if __name__ == "__main__":
    main()
