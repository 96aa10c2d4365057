"""Hyperparameter search: the GA against random search (and Optuna's TPE) at equal trainings.

Problems
- ``digits`` (1,797 x 64, 10 classes): 20 % stratified test split per seed; fitness
  ``error_rate`` (1 - accuracy) on the search's own validation split; test error = 1 - test
  accuracy of ``best_estimator_`` (refit on train + validation).
- ``sunspots`` (yearly, 309 values): the last 15 % of the years are the test period; the
  search sees only the years before (``fit_series``, ``n_lags`` a gene, fitness ``rmse`` in
  sunspot units); test error = one-step RMSE over the test years.

Methods (same number of network trainings per seed)
- ``ga``: :class:`gabp.search.EvolutionarySearch` with the default space;
- ``random``: ``n_generations=0`` with a population as large as the GA's training count;
- ``tpe``: Optuna's TPE sampler on the same genes and evaluator (only when optuna is
  installed), as many trials as the GA's trainings.

Cells are mean +- std over the seeds of the best validation error and the test error.
Usage: ``python bench/search.py [--quick] [--seeds N]``; writes bench/results/search.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import numpy as np
from deap import tools

from gabp.data import load_dataset, make_windows, stratified_split
from gabp.search import EvolutionarySearch, SearchResult, default_space
from gabp.search.ga import flat_params

try:  # optional
    import optuna
except ImportError:  # pragma: no cover - depends on the environment
    optuna = None


def tpe_runner(n_trials: int):
    """A ``runner`` for EvolutionarySearch that asks Optuna's TPE for genes in [0, 1]."""

    def run(space, evaluate, *, ga, multi_objective, entropy, logger=None) -> SearchResult:
        t0 = time.perf_counter()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=int(entropy % 2**31))
        study = optuna.create_study(sampler=sampler)
        trained = []

        def objective(trial):
            g = np.array([trial.suggest_float(n, 0.0, 1.0) for n in space.gene_names])
            cfg = space.decode(g)
            err = float(evaluate([cfg])[0])
            trained.append((cfg, err))
            return err if math.isfinite(err) else 1e9

        while evaluate.n_trainings < n_trials * evaluate.n_units and len(trained) < 4 * n_trials:
            study.optimize(objective, n_trials=1)
        best_cfg, best_err = min(trained, key=lambda t: t[1])
        lb = tools.Logbook()
        lb.record(gen=0, nevals=len(trained), error_min=best_err, best_so_far=best_err,
                  **flat_params(best_cfg, space.max_layers))
        return SearchResult(best_cfg, best_err, lb, [{"gen": 0, "error": best_err,
                                                      "params": best_cfg}],
                            np.zeros((0, space.n_genes)), np.zeros(0), [(best_cfg, best_err)],
                            None, evaluate.n_trainings, evaluate.n_cache_hits,
                            evaluate.n_failed, 0, time.perf_counter() - t0, entropy)

    return run


def make_search(method: str, task: str, space, n_trainings: int | None, budget: dict,
                seed: int, fitness: str) -> EvolutionarySearch:
    kw = dict(space=space, fitness=fitness, random_state=seed, n_jobs=budget["n_jobs"])
    if method == "ga":
        return EvolutionarySearch(task, population_size=budget["population"],
                                  n_generations=budget["generations"], **kw)
    if method == "random":
        return EvolutionarySearch(task, population_size=n_trainings, n_generations=0, **kw)

    class TPESearch(EvolutionarySearch):
        _runner = staticmethod(tpe_runner(n_trainings))

    return TPESearch(task, population_size=2, n_generations=0, **kw)


def run_digits(method, seed, space, n_trainings, budget):
    ds = load_dataset("digits")
    tr, _, te = stratified_split(ds.y, val_fraction=0.0, test_fraction=0.2, seed=seed)
    s = make_search(method, "classification", space, n_trainings, budget, seed, "error_rate")
    s.fit(ds.X[tr], ds.y[tr])
    test_err = 1.0 - s.score(ds.X[te], ds.y[te])
    return s, test_err


def run_sunspots(method, seed, space, n_trainings, budget):
    ds = load_dataset("sunspots")
    series = ds.series
    cut = int(round(0.85 * len(series)))
    s = make_search(method, "series", space, n_trainings, budget, seed, "rmse")
    s.fit_series(series[:cut])
    win = make_windows(series, n_lags=s.n_lags_)
    test = win.target_start >= cut
    pred = s.predict(win.X[test])
    test_err = float(np.sqrt(np.mean((pred - win.y[test, 0]) ** 2)))
    return s, test_err


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny budget (a smoke run)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--tasks", default="digits,sunspots",
                    help="comma-separated subset of digits,sunspots")
    args = ap.parse_args()
    budget = (dict(population=6, generations=2, max_epochs=20) if args.quick
              else dict(population=16, generations=6, max_epochs=100))
    budget["n_jobs"] = args.n_jobs
    methods = ["ga", "random"] + (["tpe"] if optuna is not None else [])
    rows = []
    tasks = [t.strip() for t in args.tasks.split(",")]
    for name, runner, task in (("digits", run_digits, "classification"),
                               ("sunspots", run_sunspots, "series")):
        if name not in tasks:
            continue
        space = default_space(task)
        space = type(space)(space.dims, {**space.fixed, "max_epochs": budget["max_epochs"]})
        per = {m: {"val": [], "test": [], "trainings": [], "time": []} for m in methods}
        for seed in range(args.seeds):
            n_tr = None
            for m in methods:
                t = time.perf_counter()
                s, test_err = runner(m, seed, space, n_tr, budget)
                if m == "ga":
                    n_tr = s.n_trainings_
                per[m]["val"].append(s.best_score_)
                per[m]["test"].append(test_err)
                per[m]["trainings"].append(s.n_trainings_)
                per[m]["time"].append(time.perf_counter() - t)
                print(f"{name} seed {seed} {m}: val {s.best_score_:.4g} test {test_err:.4g} "
                      f"trainings {s.n_trainings_} ({per[m]['time'][-1]:.1f} s)", flush=True)
        for m in methods:
            v, te = np.array(per[m]["val"]), np.array(per[m]["test"])
            rows.append({"problem": name, "method": m, "val_mean": float(v.mean()),
                         "val_std": float(v.std()), "test_mean": float(te.mean()),
                         "test_std": float(te.std()),
                         "trainings": float(np.mean(per[m]["trainings"])),
                         "seconds": float(np.mean(per[m]["time"])), "val": v.tolist(),
                         "test": te.tolist()})
    metric = {"digits": "error rate", "sunspots": "RMSE"}
    print("\n| problem | method | trainings | best val error | test error | s / run |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['problem']} ({metric[r['problem']]}) | {r['method']} | "
              f"{r['trainings']:.0f} | {r['val_mean']:.4g} +- {r['val_std']:.2g} | "
              f"{r['test_mean']:.4g} +- {r['test_std']:.2g} | {r['seconds']:.1f} |")
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out_dir, exist_ok=True)
    suffix = "" if len(tasks) == 2 else "_" + "_".join(tasks)
    with open(os.path.join(out_dir, f"search{suffix}.json"), "w") as fh:
        json.dump({"rows": rows, "budget": budget, "seeds": args.seeds, "quick": args.quick,
                   "optuna": optuna is not None and optuna.__version__,
                   "platform": platform.platform()}, fh, indent=2)


if __name__ == "__main__":
    main()
