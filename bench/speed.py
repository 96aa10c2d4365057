"""Speed: gabp against what a user would write instead, measured in the same run.

1. **Classic budget** (population 40, 50 generations) on breast cancer (30-10-2, softmax,
   cross-entropy) and Mackey-Glass (4-10-1, identity, MSE), fitness = loss on the
   validation part:

   - ``gabp``: :func:`gabp.evolution.evolve` with ``GAConfig.classic()`` (``n_baseline=0``,
     final fine-tune capped at 1 epoch), ``n_jobs`` 1 and 2;
   - ``DEAP loop``: the straightforward script: ``creator`` list individuals, a toolbox
     with ``cxBlend`` / ``mutGaussian`` / ``selTournament``, ``varAnd``, 2 elites, every
     invalid individual decoded and scored one by one with a NumPy forward pass;
   - ``PyGAD``: ``pygad.GA`` with a NumPy fitness function called once per solution (rank
     selection, single-point crossover 0.7, random mutation 1 %, 2 elites), when installed.

   Mode ``lamarckian`` with 1 BP epoch per individual (Adam, batch 32) is timed the same
   way; the DEAP loop then trains each individual with a hand-written NumPy BP epoch and
   writes the weights back (PyGAD has no Lamarckian write-back: not timed).
2. **Population-batched BP** (digits, 64-32-10, :mod:`bench.bp_throughput`'s setup): one
   epoch of P networks trained at once vs P separate trainings, P = 1, 10, 40, 100.
3. **Scaling** (n_jobs): seconds per generation of ``evolve`` (lamarckian, 1 BP epoch, batch 32,
   synthetic regression with 10 inputs, 10-16-1 tanh) as the population grows (10 to 400
   individuals, 2,000 samples) and as the data grows (500 to 50,000 samples, population 40),
   for ``n_jobs`` 1 and 2, next to scoring the same individuals one by one.

4. **Parallel**: n_jobs 1 vs 2 per generation on heavy and light generations (the measured
   cost model decides; interleaved runs; the load average next to each row), and whether
   the results are identical.
5. **Resident**: the round trip of one pool task carrying the same data array every call
   against a fresh copy every call (what residency saves).

Usage::

    python bench/speed.py            # full run (about 5-8 min on 2 cores)
    python bench/speed.py --quick    # smoke run (seconds)

Prints markdown tables and writes ``bench/results/speed.json``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from functools import partial
from typing import Any

import numpy as np
from _common import best_of, machine, machine_line, table, timed, write_json
from deap import algorithms, base, creator, tools

from gabp.data import load_dataset, split_task
from gabp.evolution import BPConfig, GAConfig, evolve, problem, score_genomes
from gabp.network import Architecture, init_params

try:  # optional extra "bench"
    import pygad
except ImportError:  # pragma: no cover - depends on the environment
    pygad = None

HIDDEN = 10

# -- the problems ----------------------------------------------------------------------------


def problems(quick: bool) -> list[dict[str, Any]]:
    out = []
    cancer = split_task(load_dataset("breast_cancer"), val_fraction=0.15, test_fraction=0.2,
                        seed=0)
    out.append({"name": "breast_cancer", "task": cancer, "cls": True})
    if not quick:
        mg = split_task(load_dataset("mackey_glass"), classic=True, val_fraction=0.1)
        out.append({"name": "mackey_glass", "task": mg, "cls": False})
    return out


# -- a hand-written NumPy network, what a DEAP user writes ------------------------------------


def n_genes(n_in: int, n_out: int) -> int:
    return n_in * HIDDEN + HIDDEN + HIDDEN * n_out + n_out


def unpack(g: np.ndarray, n_in: int, n_out: int):
    i = n_in * HIDDEN
    W1 = g[:i].reshape(n_in, HIDDEN)
    b1 = g[i : i + HIDDEN]
    j = i + HIDDEN + HIDDEN * n_out
    W2 = g[i + HIDDEN : j].reshape(HIDDEN, n_out)
    return W1, b1, W2, g[j:]


def np_forward(g, X, n_out, cls):
    W1, b1, W2, b2 = unpack(g, X.shape[1], n_out)
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    if cls:
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return h, e / e.sum(axis=1, keepdims=True)
    return h, z


def np_loss(g, X, Y, cls) -> float:
    _, out = np_forward(g, X, Y.shape[1], cls)
    if cls:
        return float(-np.mean(np.sum(Y * np.log(np.clip(out, 1e-12, None)), axis=1)))
    return float(np.mean((out - Y) ** 2))


def np_train_epoch(g, X, Y, cls, rng, lr=0.01, batch=32):
    """One epoch of mini-batch Adam on one network (fresh moments), returns new genome."""
    g = np.array(g, dtype=float)
    m = np.zeros_like(g)
    v = np.zeros_like(g)
    n_in, n_out = X.shape[1], Y.shape[1]
    order = rng.permutation(X.shape[0])
    t = 0
    for s in range(0, X.shape[0], batch):
        idx = order[s : s + batch]
        xb, yb = X[idx], Y[idx]
        W1, b1, W2, b2 = unpack(g, n_in, n_out)
        h, out = np_forward(g, xb, n_out, cls)
        d = (out - yb) / len(idx) * (1.0 if cls else 2.0 / n_out)
        gW2 = h.T @ d
        gb2 = d.sum(axis=0)
        dh = (d @ W2.T) * (1 - h * h)
        gW1 = xb.T @ dh
        gb1 = dh.sum(axis=0)
        grad = np.concatenate([gW1.ravel(), gb1, gW2.ravel(), gb2])
        t += 1
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        g -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return g


if not hasattr(creator, "BenchFitnessMin"):
    creator.create("BenchFitnessMin", base.Fitness, weights=(-1.0,))
    creator.create("BenchIndividual", list, fitness=creator.BenchFitnessMin)


def deap_loop(task, cls, lamarckian: bool, n_pop: int, n_gen: int, seed: int = 0) -> dict:
    """The straightforward DEAP script: one individual at a time."""
    random.seed(seed)
    rng = np.random.default_rng(seed)
    X, Y, Xv, Yv = task.X_train, task.y_train, task.X_val, task.y_val
    n = n_genes(X.shape[1], Y.shape[1])
    tb = base.Toolbox()
    tb.register("attr", random.uniform, -0.5, 0.5)
    tb.register("individual", tools.initRepeat, creator.BenchIndividual, tb.attr, n)
    tb.register("population", tools.initRepeat, list, tb.individual)
    tb.register("mate", tools.cxBlend, alpha=0.5)
    tb.register("mutate", tools.mutGaussian, mu=0.0, sigma=0.1, indpb=0.05)
    tb.register("select", tools.selTournament, tournsize=3)
    n_evals = 0

    def evaluate(ind):
        g = np.asarray(ind, dtype=float)
        if lamarckian:
            g = np_train_epoch(g, X, Y, cls, rng)
            ind[:] = g.tolist()
        return (np_loss(g, Xv, Yv, cls),)

    pop = tb.population(n=n_pop)
    for ind in pop:
        ind.fitness.values = evaluate(ind)
        n_evals += 1
    for _ in range(n_gen):
        elite = [tb.clone(i) for i in tools.selBest(pop, 2)]
        off = algorithms.varAnd(tb.select(pop, n_pop - 2), tb, cxpb=0.7, mutpb=0.2)
        for ind in off:
            if not ind.fitness.valid:
                ind.fitness.values = evaluate(ind)
                n_evals += 1
        pop = elite + off
    best = min(ind.fitness.values[0] for ind in pop)
    return {"evaluations": n_evals, "best_val_loss": best}


def pygad_run(task, cls, n_pop: int, n_gen: int, seed: int = 0) -> dict:
    X, Y, Xv, Yv = task.X_train, task.y_train, task.X_val, task.y_val
    calls = [0]

    def fitness(ga, solution, idx):
        calls[0] += 1
        return -np_loss(np.asarray(solution, dtype=float), Xv, Yv, cls)

    ga = pygad.GA(num_generations=n_gen, num_parents_mating=n_pop // 2, fitness_func=fitness,
                  sol_per_pop=n_pop, num_genes=n_genes(X.shape[1], Y.shape[1]),
                  init_range_low=-0.5, init_range_high=0.5, parent_selection_type="rank",
                  crossover_type="single_point", crossover_probability=0.7,
                  mutation_type="random", mutation_probability=0.01,
                  random_mutation_min_val=-0.1, random_mutation_max_val=0.1, keep_elitism=2,
                  random_seed=seed, suppress_warnings=True)
    ga.run()
    return {"evaluations": calls[0], "best_val_loss": -float(ga.best_solution()[1])}


def gabp_run(task, cls, mode: str, ga: GAConfig, n_jobs: int, seed: int = 0) -> dict:
    res = evolve(task.X_train, task.y_train, task.X_val, task.y_val,
                 hidden_layer_sizes=(HIDDEN,), hidden_activation="tanh",
                 output_activation="softmax" if cls else "identity",
                 loss="cross_entropy" if cls else "mse", mode=mode, ga=ga,
                 bp=BPConfig(optimizer="adam", bp_epochs=1, max_epochs=1, learning_rate=0.01,
                             batch_size=32),
                 n_baseline=0, n_jobs=n_jobs, seed=seed)
    return {"evaluations": res.n_evaluations, "best_val_loss": res.best_fitness}


def warm_up(task) -> float:
    """Start joblib's worker processes (and import gabp in them) before any timing."""
    def run():
        evolve(task.X_train, task.y_train, task.X_val, task.y_val, hidden_layer_sizes=(4,),
               ga=GAConfig(population_size=4, n_generations=1),
               bp=BPConfig(optimizer="adam", bp_epochs=1, max_epochs=1), n_baseline=0,
               n_jobs=2, parallel_threshold=0, seed=0)

    return timed(run)[1]


def best_timed(fn, repeats: int):
    """``(output, best wall time)`` of ``repeats`` calls."""
    runs = [timed(fn) for _ in range(repeats)]
    return runs[-1][0], min(r[1] for r in runs)


def classic_budget(quick: bool, info_rows: list) -> str:
    n_pop, n_gen = (40, 5) if quick else (40, 50)
    repeats = 1 if quick else 3
    ga = GAConfig.classic(population_size=n_pop, n_generations=n_gen)
    rows = []
    cold = warm_up(problems(True)[0]["task"])
    for p in problems(quick):
        task, cls = p["task"], p["cls"]
        for mode in ("classic", "lamarckian"):
            r: dict[str, Any] = {"problem": p["name"], "mode": mode, "population": n_pop,
                                 "generations": n_gen, "n_train": int(task.X_train.shape[0])}
            for n_jobs in (1, 2):
                out, sec = best_timed(partial(gabp_run, task, cls, mode, ga, n_jobs), repeats)
                r[f"gabp_n_jobs_{n_jobs}_s"] = sec
                r["gabp"] = out
            out, sec = best_timed(partial(deap_loop, task, cls, mode == "lamarckian", n_pop,
                                          n_gen), repeats)
            r["deap_s"], r["deap"] = sec, out
            if pygad is not None and mode == "classic":
                out, sec = best_timed(partial(pygad_run, task, cls, n_pop, n_gen), repeats)
                r["pygad_s"], r["pygad"] = sec, out
            rows.append(r)
            print(f"classic budget {p['name']} {mode}: done", file=sys.stderr, flush=True)
    info_rows.extend(rows)
    t_rows = []
    for r in rows:
        g1, g2 = r["gabp_n_jobs_1_s"], r["gabp_n_jobs_2_s"]
        py = r.get("pygad_s")
        t_rows.append([
            f"{r['problem']} ({r['n_train']} train)", r["mode"],
            f"{g1:.2f}", f"{g2:.2f}", f"{r['deap_s']:.2f}", f"{r['deap_s'] / g1:.1f}x",
            "—" if py is None else f"{py:.2f}", "—" if py is None else f"{py / g1:.1f}x",
            f"{r['gabp']['evaluations']} / {r['deap']['evaluations']} / "
            + ("—" if py is None else str(r["pygad"]["evaluations"])),
        ])
    return (f"GA-BP at the classic budget (population {n_pop}, {n_gen} generations, one "
            f"hidden layer of {HIDDEN} tanh units; lamarckian = 1 BP epoch per individual); "
            f"wall time of the whole run, best of {repeats}\n\n"
            + _classic_table(t_rows, cold))


def _classic_table(t_rows, cold) -> str:
    return (table(["problem", "mode", "gabp n_jobs=1 (s)", "gabp n_jobs=2 (s)",
                   "DEAP loop (s)", "DEAP / gabp", "PyGAD (s)", "PyGAD / gabp",
                   "evaluations gabp / DEAP / PyGAD"], t_rows, "llrrrrrrr")
            + f"\n\nn_jobs=2 timed with warm worker processes; starting them (first "
              f"parallel evolve of the process, cold) took {cold:.2f} s.")


# -- population-batched BP --------------------------------------------------------------------


def batched_bp(quick: bool, info_rows: list) -> str:
    import bp_throughput as bt

    n = 600 if quick else 1797
    X, Y, source = bt.load_problem(n)
    sizes = (1, 10, 40) if quick else (1, 10, 40, 100)
    repeats = 1 if quick else 2
    rows = []
    for P in sizes:
        tb = bt.time_batched(X, Y, P, np.float64, 1, repeats)
        p_sep = min(P, 10)
        ts = bt.time_separate(X, Y, p_sep, np.float64, 1, repeats) * P / p_sep
        rows.append({"P": P, "batched_s": tb, "separate_s": ts, "separate_measured_P": p_sep})
    info_rows.extend(rows)
    t_rows = [[str(r["P"]), f"{1e3 * r['batched_s']:.1f}", f"{1e3 * r['batched_s'] / r['P']:.2f}",
               f"{1e3 * r['separate_s']:.1f}", f"{r['separate_s'] / r['batched_s']:.1f}x"]
              for r in rows]
    return (f"Population-batched BP: one epoch of P networks, {n} x 64 ({source}), 64-32-10 "
            "relu/softmax, Adam, batch 32, float64 (separate: at most 10 timed, scaled to P)\n\n"
            + table(["P", "batched ms/epoch", "batched ms/epoch/net", "P separate ms/epoch",
                     "batched speed-up"], t_rows))


# -- scaling ---------------------------------------------------------------------------------


def synthetic(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 10))
    w = rng.normal(size=(10, 1))
    y = np.tanh(X @ w) + 0.3 * np.sin(3 * X[:, :1]) + 0.05 * rng.normal(size=(n, 1))
    return X, y


def per_generation(X, Y, Xv, Yv, P, n_gen, n_jobs) -> float:
    res = evolve(X, Y, Xv, Yv, hidden_layer_sizes=(16,), mode="lamarckian",
                 ga=GAConfig(population_size=P, n_generations=n_gen),
                 bp=BPConfig(optimizer="adam", bp_epochs=1, max_epochs=1, learning_rate=0.01,
                             batch_size=32),
                 n_baseline=0, n_jobs=n_jobs, seed=0)
    el = np.asarray(res.logbook.select("elapsed"))
    return float(np.mean(np.diff(el)))


def one_by_one(X, Y, Xv, Yv, P, repeats) -> float:
    """Seconds to score P genomes (1 BP epoch + validation loss) one call each."""
    arch = Architecture.build((X.shape[1], 16, 1), hidden_activation="tanh",
                              output_activation="identity")
    k = min(P, 10)
    genomes = init_params(arch, k, rng=0)
    settings = {"mode": "lamarckian", "fitness": "loss", "loss": "mse", "bp_epochs": 1,
                "dtype": "float64", "train_kwargs": BPConfig(learning_rate=0.01).train_kwargs()}

    def run():
        for i in range(k):
            score_genomes(arch.to_dict(), genomes[i : i + 1], X, Y, Xv, Yv, settings, 0)

    return best_of(run, repeats) * P / k


def scaling(quick: bool, info_rows: list) -> str:
    n_gen = 2 if quick else 5
    pops = (10, 40) if quick else (10, 40, 100, 400)
    sizes = (500, 2000) if quick else (500, 5000, 50000)
    cases = [(P, 2000) for P in pops] + [(40, n) for n in sizes if n != 2000]
    rows = []
    for P, n in cases:
        X, Y = synthetic(n + max(200, n // 4))
        X, Y, Xv, Yv = X[:n], Y[:n], X[n:], Y[n:]
        t1 = per_generation(X, Y, Xv, Yv, P, n_gen, 1)
        t2 = per_generation(X, Y, Xv, Yv, P, n_gen, 2)
        sep = one_by_one(X, Y, Xv, Yv, P, 1 if quick else 2)
        rows.append({"population": P, "n_samples": n, "n_val": int(Xv.shape[0]),
                     "gen_n_jobs_1_s": t1, "gen_n_jobs_2_s": t2, "one_by_one_s": sep,
                     "steps_per_individual": math.ceil(n / 32)})
        print(f"scaling P={P} n={n}: done", file=sys.stderr, flush=True)
    info_rows.extend(rows)
    t_rows = [[str(r["population"]), f"{r['n_samples']:,}",
               f"{r['gen_n_jobs_1_s']:.3f}", f"{r['gen_n_jobs_2_s']:.3f}",
               f"{r['gen_n_jobs_1_s'] / r['gen_n_jobs_2_s']:.2f}x",
               f"{r['one_by_one_s']:.3f}", f"{r['one_by_one_s'] / r['gen_n_jobs_1_s']:.1f}x"]
              for r in rows]
    return ("Scaling: seconds per generation of evolve (lamarckian, 1 BP epoch of Adam, batch "
            f"32, 10-16-1 tanh, synthetic regression; mean of generations 1-{n_gen}); "
            "one by one = the same individuals scored one score_genomes call each, n_jobs=1 "
            "(at most 10 timed, scaled)\n\n"
            + table(["population", "train samples", "n_jobs=1 s/gen", "n_jobs=2 s/gen",
                     "n_jobs=2 speed-up", "one by one s/gen", "batched speed-up"], t_rows))


# -- n_jobs = 1 vs 2 on heavy and light generations ------------------------------------------

PARALLEL_CASES = (
    ("heavy", "lamarckian, P = 400, n = 2,000, Adam 1 epoch", 400, 2000, "adam", "lamarckian"),
    ("heavy", "lamarckian, P = 40, n = 50,000, Adam 1 epoch", 40, 50000, "adam", "lamarckian"),
    ("heavy", "baldwinian, P = 100, n = 2,000, LM 1 iteration", 100, 2000, "lm", "baldwinian"),
    ("mid", "lamarckian, P = 100, n = 2,000, Adam 1 epoch", 100, 2000, "adam", "lamarckian"),
    ("light", "lamarckian, P = 40, n = 500, Adam 1 epoch", 40, 500, "adam", "lamarckian"),
    ("light", "classic, P = 40, n = 500 (forward only)", 40, 500, "adam", "classic"),
)


def _parallel_run(X, Y, Xv, Yv, P, optimizer, mode, n_gen, n_jobs,
                  threshold=None) -> dict[str, Any]:
    # pool generations are counted where they start their tasks: a debug-log handler
    # would cost every in-process generation ~50 us (5 % of a light one)
    pooled = []
    original = problem.start_tasks

    def counting(*args):
        pooled.append(1)
        return original(*args)

    problem.start_tasks = counting
    try:
        res, wall = timed(lambda: evolve(
            X, Y, Xv, Yv, hidden_layer_sizes=(16,), mode=mode,
            ga=GAConfig(population_size=P, n_generations=n_gen),
            bp=BPConfig(optimizer=optimizer, bp_epochs=1, max_epochs=1, learning_rate=0.01,
                        batch_size=32),
            n_baseline=0, n_jobs=n_jobs, seed=0, parallel_threshold=threshold))
    finally:
        problem.start_tasks = original
    el = np.asarray(res.logbook.select("elapsed"))
    # the median generation: the steady state of a long run (the pool's one-off costs, a
    # probe and warm-up generations, are in the whole-run column)
    return {"per_gen_s": float(np.median(np.diff(el))), "run_s": wall,
            "pool_generations": len(pooled), "params": res.network.params}


def parallel(quick: bool, info_rows: list) -> str:
    n_gen = 3 if quick else 8
    repeats = 1 if quick else 5
    cases = PARALLEL_CASES[::3] if quick else PARALLEL_CASES
    cold = warm_up(problems(True)[0]["task"])
    rows = []
    for kind, label, P, n, optimizer, mode in cases:
        P = min(P, 100) if quick else P
        X, Y = synthetic(n + n // 4)
        X, Y, Xv, Yv = X[:n], Y[:n], X[n:], Y[n:]
        runs: dict[Any, list[dict]] = {1: [], 2: [], "forced": [], "half": []}
        for _ in range(repeats):  # interleaved A/B/C/D
            for n_jobs in (1, 2, "forced", "half"):
                if n_jobs == "half":  # the best two processes can do: each scores P / 2
                    runs["half"].append(_parallel_run(X, Y, Xv, Yv, -(-P // 2), optimizer,
                                                      mode, n_gen, 1))
                    continue
                runs[n_jobs].append(_parallel_run(
                    X, Y, Xv, Yv, P, optimizer, mode, n_gen, 2 if n_jobs == "forced" else n_jobs,
                    0.0 if n_jobs == "forced" else None))
        same = all(np.array_equal(r["params"], runs[1][0]["params"])
                   for r in runs[2] + runs["forced"])
        r = {"kind": kind, "case": label, "population": P, "n_samples": n,
             "load": os.getloadavg()[0], "identical": same,
             "pool_generations": runs[2][-1]["pool_generations"], "generations": n_gen}
        r["gen_forced_pool_s"] = min(x["per_gen_s"] for x in runs["forced"])
        r["gen_half_population_s"] = min(x["per_gen_s"] for x in runs["half"])
        for n_jobs in (1, 2):
            r[f"gen_n_jobs_{n_jobs}_s"] = min(x["per_gen_s"] for x in runs[n_jobs])
            r[f"run_n_jobs_{n_jobs}_s"] = min(x["run_s"] for x in runs[n_jobs])
        rows.append(r)
        print(f"parallel {label}: done", file=sys.stderr, flush=True)
    info_rows.extend(rows)
    t_rows = [[r["kind"], r["case"], f"{r['gen_n_jobs_1_s']:.4f}", f"{r['gen_n_jobs_2_s']:.4f}",
               f"{r['gen_n_jobs_1_s'] / r['gen_n_jobs_2_s']:.2f}x",
               f"{r['run_n_jobs_1_s'] / r['run_n_jobs_2_s']:.2f}x",
               f"{r['pool_generations']} / {r['generations']}",
               f"{r['gen_n_jobs_1_s'] / r['gen_forced_pool_s']:.2f}x",
               f"{r['gen_n_jobs_1_s'] / r['gen_half_population_s']:.2f}x",
               "yes" if r["identical"] else "NO", f"{r['load']:.2f}"] for r in rows]
    return ("n_jobs = 1 vs 2: seconds per generation of evolve (median of generations 1-"
            f"{n_gen}, best of {repeats} interleaved runs; 10-16-1 tanh, synthetic regression, "
            "batch 32); the cost model decides (default parallel_threshold=None); forced pool = "
            "n_jobs=2 with parallel_threshold=0 (every generation shared); ceiling = n_jobs=1 "
            "time of the population over that of half the population (what each of two "
            "processes scores: a batched population's step has a fixed cost, so halving it "
            "does not halve the time); warm worker "
            f"processes (starting them took {cold:.2f} s)\n\n"
            + table(["kind", "case", "n_jobs=1 s/gen", "n_jobs=2 s/gen", "speed-up per gen",
                     "speed-up whole run", "generations on the pool",
                     "forced pool speed-up per gen", "ceiling", "identical result", "load"],
                    t_rows, "llrrrrrrrrr"))


def _echo(*args: Any) -> int:
    return 0


def resident(quick: bool, info_rows: list) -> str:
    """Round trip of one task carrying a data array: joblib's Parallel with the same object
    or a fresh copy, and gabp's dispatch (a future of the loky executor, the data resident)."""
    from joblib import Parallel, delayed

    from gabp._parallel import LazyParallel, start_tasks

    sizes = (0.1, 16) if quick else (0.1, 1, 16, 64)
    repeats = 5 if quick else 15
    rows = []
    with Parallel(n_jobs=2) as par, LazyParallel(2) as lazy:
        par(delayed(_echo)() for _ in range(2))
        start_tasks(lazy, _echo, [()])()
        for mb in sizes:
            X = np.random.default_rng(0).random(int(mb * 1e6 / 8))
            same = [timed(partial(par, [delayed(_echo)(X)]))[1] for _ in range(repeats)]
            fresh = [timed(partial(par, [delayed(_echo)(X.copy())]))[1] for _ in range(repeats)]
            (rX,) = lazy.resident((X,))
            ours = [timed(lambda a=rX: start_tasks(lazy, _echo, [(a,)])())[1]
                    for _ in range(repeats)]
            rows.append({"mb": mb, "same_ms": 1e3 * min(same), "fresh_ms": 1e3 * min(fresh),
                         "gabp_ms": 1e3 * min(ours)})
    info_rows.extend(rows)
    t_rows = [[f"{r['mb']:g}", f"{r['same_ms']:.1f}", f"{r['fresh_ms']:.1f}",
               f"{r['gabp_ms']:.2f}"] for r in rows]
    return ("Data residency: one pool task carrying a data array (n_jobs=2, loky, best of "
            f"{repeats}): through joblib's Parallel with the same array object every call "
            "(joblib memory-maps arrays above 1 MB once per `with Parallel`; smaller ones are "
            "pickled each time) or a fresh copy every call (dumped again each time), and as "
            "gabp sends it: over its link to the worker (gabp._links, a Unix socket), the array "
            "resident in a file written once (LazyParallel.resident) and sent as its name\n\n"
            + table(["data MB", "Parallel, same object ms/call", "Parallel, fresh copy ms/call",
                     "gabp ms/call"], t_rows))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets (seconds)")
    ap.add_argument("--parts", default="classic,batched,scaling,parallel,resident",
                    help="comma-separated subset of classic,batched,scaling,parallel,resident")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/speed.json)")
    args = ap.parse_args(argv)
    info = machine()
    parts = args.parts.split(",")
    data: dict[str, Any] = {"machine": info, "quick": args.quick}
    texts = []
    t0 = time.perf_counter()
    for name, fn in (("classic", classic_budget), ("batched", batched_bp),
                     ("scaling", scaling), ("parallel", parallel), ("resident", resident)):
        if name in parts:
            rows: list = []
            texts.append(fn(args.quick, rows))
            data[name] = rows
            write_json("speed.json", data, args.out)
    total = time.perf_counter() - t0
    data["seconds"] = total
    data["tables"] = "\n\n".join(texts)
    print(f"Machine: {machine_line(info)}. Total {total:.0f} s"
          f"{' (--quick budgets)' if args.quick else ''}.\n")
    print(data["tables"])
    path = write_json("speed.json", data, args.out)
    print(f"\nwrote {path}")
    return data


if __name__ == "__main__":
    main()
