"""Quality: does GA-BP give better models than plain backpropagation?

For each task and seed this trains

- ``bp``: plain BP (``evolve(mode="bp")``, Glorot init, at most ``max_epochs`` epochs, early
  stopping on the validation part);
- ``classic``: the MATLAB recipe (``GAConfig.classic()``: population 40, 50 generations, GA on
  untrained weights, then BP fine-tunes the best);
- ``baldwinian`` / ``lamarckian``: every individual trained ``bp_epochs`` epochs before it is
  scored (population 20, 10 generations by default);
- ``<mode> plain BP``: each GA-BP run's own baseline, plain BP from the standard initializer
  allowed the *same number of gradient steps* as that GA-BP run (``n_baseline`` restarts,
  early stopping on validation; the table shows the mean over the restarts, i.e. the
  expected result of one plain-BP run; the best restart by validation is in the JSON);
  early stopping usually ends it well before the budget, so
- ``lamarckian plain BP, all steps``: plain BP that really spends the lamarckian run's
  gradient steps (no early stopping; the weights of the best validation epoch are kept;
  its time is per restart);
- ``search``: :class:`gabp.search.EvolutionarySearch` (default space, small budget) on
  train + validation, its ``best_estimator_`` scored on test;
- ``sklearn``: scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` with default settings
  (100 relu units, adam, at most 200 epochs) on train + validation, when installed.

Test data is never seen by training, fitness or early stopping; test metrics are in
original units. Mackey-Glass: the classic 500/500 pairs, validation = the last 10 % of the
first 500; NDEI = RMSE / std of the 500 test targets. Sunspots: the classic split (train
targets up to 1920, validation = the last 10 % of those years, test 1921-1955 and
1956-1979, 12 lags); ARV = MSE / variance of that test period's targets, and ARV* = MSE /
variance of the whole 1700-1979 series (the normalization of Weigend et al.).
Classification: stratified 65/15/20 train/validation/test split, re-drawn per seed.

Usage::

    python bench/quality.py                 # full run (5 seeds, about 15 min on 2 cores)
    python bench/quality.py --quick         # smoke run (seconds)
    python bench/quality.py --seeds 3 --tasks sunspots,iris

Prints one markdown table per task family (mean ± std over seeds) and writes
``bench/results/quality.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from typing import Any

import numpy as np
from _common import machine, machine_line, mean_std, steps_str, table, timed, write_json

from gabp import Network, train
from gabp.data import load_dataset, split_task
from gabp.evolution import BPConfig, GAConfig, evolve
from gabp.metrics import accuracy, rmse
from gabp.search import EvolutionarySearch, default_space

try:  # optional
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
except ImportError:  # pragma: no cover - depends on the environment
    MLPClassifier = MLPRegressor = None

SERIES = ("mackey_glass", "sunspots")
CLASSIFICATION = ("breast_cancer", "wine", "digits", "iris")
HIDDEN = {"mackey_glass": (10,), "sunspots": (8,), "breast_cancer": (16,), "wine": (8,),
          "digits": (32,), "iris": (8,)}
GA_MODES = ("classic", "baldwinian", "lamarckian")


def budgets(quick: bool) -> dict[str, Any]:
    if quick:
        return {"classic": GAConfig.classic(population_size=10, n_generations=4),
                "hybrid": GAConfig(population_size=6, n_generations=2),
                "bp": BPConfig(learning_rate=0.01, bp_epochs=2, max_epochs=30, patience=10),
                "n_baseline": 2, "search": {"population": 4, "generations": 1,
                                            "max_epochs": 10}}
    return {"classic": GAConfig.classic(),
            "hybrid": GAConfig(population_size=20, n_generations=10),
            "bp": BPConfig(learning_rate=0.01, bp_epochs=2, max_epochs=200, patience=20),
            "n_baseline": 3, "search": {"population": 8, "generations": 3,
                                        "max_epochs": 100}}


# -- data and metrics ----------------------------------------------------------------------

def load_task(name: str, seed: int):
    ds = load_dataset(name)
    if name in SERIES:
        return split_task(ds, classic=True, val_fraction=0.1)
    return split_task(ds, val_fraction=0.15, test_fraction=0.2, seed=seed)


def sunspot_whole_variance() -> float:
    ds = load_dataset("sunspots")
    years = np.asarray(ds.series_index)
    return float(np.var(np.asarray(ds.series, dtype=float)[years <= 1979]))


def test_sets(task) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Held-out parts: name -> (scaled X, targets in original units / labels)."""
    sets = {"test": (task.X_test, task.y_test_raw)}
    for key, part in task.extra.items():
        sets[key] = (part["X"], part["y_raw"])
    return sets


def metrics(name: str, task, predict_raw, var_all: float | None) -> dict[str, float]:
    """Test metrics of a model; ``predict_raw(X_scaled)`` gives original units / labels."""
    out: dict[str, float] = {}
    for part, (X, y) in test_sets(task).items():
        pred = predict_raw(X)
        if name in CLASSIFICATION:
            out["accuracy"] = accuracy(np.asarray(y).ravel(), np.asarray(pred).ravel())
            continue
        y = np.asarray(y, dtype=float).reshape(len(y), -1)
        pred = np.asarray(pred, dtype=float).reshape(len(y), -1)
        e = rmse(y, pred)
        if name == "mackey_glass":
            out["rmse"] = e
            out["ndei"] = e / float(np.std(y))
        else:
            mse = e * e
            tag = "1" if part == "test" else "2"
            out[f"arv{tag}"] = mse / float(np.var(y))
            out[f"arv{tag}_all"] = mse / var_all
            out[f"rmse{tag}"] = e
    return out


def net_predictor(task, params_net, member: int | None = None):
    def predict(X):
        out = params_net.forward(X)[0 if member is None else member]
        return task.inverse_y(out)
    return predict


# -- methods --------------------------------------------------------------------------------

def run_gabp(name, task, seed, b, n_jobs, var_all) -> dict[str, dict[str, Any]]:
    cls = name in CLASSIFICATION
    common = dict(hidden_layer_sizes=HIDDEN[name], hidden_activation="tanh",
                  output_activation="softmax" if cls else "identity",
                  loss="cross_entropy" if cls else "mse", fitness="loss", bp=b["bp"],
                  n_jobs=n_jobs, seed=seed)
    data = (task.X_train, task.y_train, task.X_val, task.y_val)
    rows: dict[str, dict[str, Any]] = {}
    res, sec = timed(lambda: evolve(*data, mode="bp", n_baseline=0, **common))
    rows["bp"] = {**metrics(name, task, net_predictor(task, res.network), var_all),
                  "steps": res.total_steps, "seconds": sec}
    for mode in GA_MODES:
        ga = b["classic"] if mode == "classic" else b["hybrid"]
        res, sec = timed(lambda mode=mode, ga=ga: evolve(
            *data, mode=mode, ga=ga, n_baseline=b["n_baseline"], **common))
        rows[mode] = {**metrics(name, task, net_predictor(task, res.network), var_all),
                      "steps": res.total_steps, "seconds": sec,
                      "val_error": res.val_error, "evaluations": res.n_evaluations}
        base = res.baseline
        per = [metrics(name, task, net_predictor(task, base.network, r), var_all)
               for r in range(base.network.n_networks)]
        avg = {k: float(np.mean([p[k] for p in per])) for k in per[0]}
        best = per[base.best]
        rows[f"{mode}:bp"] = {
            **avg, "steps": float(np.mean(base.history.n_steps)),
            "budget_steps": base.budget_steps, "seconds": None,
            "best_restart_by_val": best, "val_errors": base.val_errors.tolist(),
            "ga_val_error": res.val_error,
        }
        if mode == "lamarckian":
            rows["lamarckian:bp_full"] = full_budget_bp(name, task, seed, b, res.total_steps,
                                                        cls, var_all)
    return rows


def full_budget_bp(name, task, seed, b, total_steps, cls, var_all) -> dict[str, Any]:
    """Plain BP that really spends ``total_steps`` gradient steps: no early stopping, the
    weights of the best validation epoch kept (``n_baseline`` restarts trained at once)."""
    bp = b["bp"]
    n = task.X_train.shape[0]
    epochs = max(1, math.ceil(total_steps / math.ceil(n / bp.batch_size)))
    net = Network((task.n_inputs, *HIDDEN[name], task.n_outputs), hidden_activation="tanh",
                  output_activation="softmax" if cls else "identity",
                  n_networks=b["n_baseline"], seed=10_000 + seed)
    _, sec = timed(lambda: train(
        net, task.X_train, task.y_train, loss="cross_entropy" if cls else "mse",
        optimizer=bp.optimizer, learning_rate=bp.learning_rate, batch_size=bp.batch_size,
        epochs=epochs, X_val=task.X_val, Y_val=task.y_val, early_stopping=False,
        restore_best=True, seed=seed))
    per = [metrics(name, task, net_predictor(task, net, r), var_all)
           for r in range(net.n_networks)]
    avg = {k: float(np.mean([p[k] for p in per])) for k in per[0]}
    return {**avg, "steps": epochs * math.ceil(n / bp.batch_size),
            "seconds": sec / net.n_networks, "epochs": epochs}


def run_search(name, task, seed, b, n_jobs, var_all) -> dict[str, Any]:
    cls = name in CLASSIFICATION
    s = b["search"]
    space = default_space("classification" if cls else "regression")
    space = type(space)(space.dims, {**space.fixed, "max_epochs": s["max_epochs"]})
    X = np.vstack([task.X_train, task.X_val])
    if cls:
        y = np.concatenate([task.y_train_raw, task.y_val_raw])
    else:
        y = np.vstack([task.y_train, task.y_val]).ravel()
    search = EvolutionarySearch("classification" if cls else "regression", space=space,
                                population_size=s["population"],
                                n_generations=s["generations"], fitness="loss",
                                n_jobs=n_jobs, random_state=seed)
    _, sec = timed(lambda: search.fit(X, y))

    def predict(Xs):
        p = search.predict(Xs)
        return p if cls else task.inverse_y(np.asarray(p).reshape(len(Xs), -1))

    return {**metrics(name, task, predict, var_all), "steps": None, "seconds": sec,
            "trainings": search.n_trainings_, "best_params": search.best_params_}


def run_sklearn(name, task, seed, var_all) -> dict[str, Any] | None:
    if MLPClassifier is None:
        return None
    cls = name in CLASSIFICATION
    X = np.vstack([task.X_train, task.X_val])
    if cls:
        y = np.concatenate([task.y_train_raw, task.y_val_raw])
        model = MLPClassifier(random_state=seed)
    else:
        y = np.vstack([task.y_train, task.y_val]).ravel()
        model = MLPRegressor(random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, sec = timed(lambda: model.fit(X, y))

    def predict(Xs):
        p = model.predict(Xs)
        return p if cls else task.inverse_y(np.asarray(p).reshape(len(Xs), -1))

    steps = model.n_iter_ * math.ceil(len(X) / min(200, len(X)))
    return {**metrics(name, task, predict, var_all), "steps": steps, "seconds": sec,
            "epochs": model.n_iter_}


# -- tables ---------------------------------------------------------------------------------

LABELS = {
    "bp": "plain BP (mode bp)",
    "classic": "GA-BP classic",
    "classic:bp": "  plain BP, same steps as classic",
    "baldwinian": "GA-BP baldwinian",
    "baldwinian:bp": "  plain BP, same steps as baldwinian",
    "lamarckian": "GA-BP lamarckian",
    "lamarckian:bp": "  plain BP, same steps as lamarckian",
    "lamarckian:bp_full": "  plain BP, all lamarckian steps, no early stop",
    "search": "hyperparameter search (GA)",
    "sklearn": "scikit-learn MLP, defaults",
}


def _col(runs: list[dict[str, Any]], key: str, fmt: str = ".4g") -> str:
    return mean_std([r.get(key) for r in runs], fmt)


def _steps(runs) -> str:
    v = [r["steps"] for r in runs if r.get("steps") is not None]
    if not v:
        t = [r["trainings"] for r in runs if r.get("trainings") is not None]
        return f"{np.mean(t):.0f} trainings" if t else "—"
    return steps_str(float(np.mean(v)))


def _secs(runs) -> str:
    v = [r["seconds"] for r in runs if r.get("seconds") is not None]
    return f"{np.mean(v):.2f}" if v else "(in row above)"


def render(results: dict[str, dict[str, list]], seeds: int) -> str:
    out = []
    methods = [m for m in LABELS if any(m in results.get(t, {}) for t in results)]
    if "mackey_glass" in results:
        r = results["mackey_glass"]
        rows = [[LABELS[m], _col(r[m], "rmse"), _col(r[m], "ndei"), _steps(r[m]), _secs(r[m])]
                for m in methods if m in r]
        out.append(f"Mackey-Glass (tau 17, x(t-18), x(t-12), x(t-6), x(t) -> x(t+6); 450 train "
                   f"/ 50 validation / 500 test pairs), {seeds} seeds; mean ± std\n\n"
                   + table(["method", "test RMSE", "test NDEI", "gradient steps", "s / run"],
                           rows)
                   + "\n\nPublished: backpropagation MLP NDEI ≈ 0.02, ANFIS RMSE ≈ 0.0015.")
    if "sunspots" in results:
        r = results["sunspots"]
        rows = [[LABELS[m], _col(r[m], "arv1", ".3f"), _col(r[m], "arv2", ".3f"),
                 _col(r[m], "arv1_all", ".3f"), _col(r[m], "arv2_all", ".3f"), _steps(r[m]),
                 _secs(r[m])] for m in methods if m in r]
        out.append(f"Sunspots (yearly, 12 lags; train targets 1712-1920 of which the last 10 % "
                   f"validate), {seeds} seeds; mean ± std. ARV = MSE / variance of the period's "
                   "targets; ARV* = MSE / variance of the whole 1700-1979 series\n\n"
                   + table(["method", "ARV 1921-55", "ARV 1956-79", "ARV* 1921-55",
                            "ARV* 1956-79", "gradient steps", "s / run"], rows)
                   + "\n\nPublished: 12-8-1 network ARV ≈ 0.086 / 0.35, threshold "
                     "autoregressive model 0.097 / 0.28.")
    cl = [t for t in CLASSIFICATION if t in results]
    if cl:
        rows = []
        for m in methods:
            if not all(m in results[t] for t in cl):
                continue
            rows.append([LABELS[m]] + [_col(results[t][m], "accuracy", ".4f") for t in cl]
                        + [" / ".join(_steps(results[t][m]).replace(" trainings", "")
                                      for t in cl)]
                        + [" / ".join(_secs(results[t][m]).replace("(in row above)", "·")
                                      for t in cl)])
        out.append(f"Classification: test accuracy, {seeds} seeds (split re-drawn per seed); "
                   "mean ± std\n\n"
                   + table(["method", *cl, "gradient steps (" + " / ".join(cl) + ")",
                            "s / run"], rows))
    return "\n\n".join(out)


PAIRS = (("classic", "classic:bp"), ("baldwinian", "baldwinian:bp"),
         ("lamarckian", "lamarckian:bp"), ("lamarckian", "lamarckian:bp_full"),
         ("search", "bp"), ("sklearn", "bp"))
KEY = {"mackey_glass": ("ndei", -1), "sunspots": ("arv1", -1)}


def render_pairs(results: dict[str, dict[str, list]]) -> str:
    """Seeds on which the first method beat / lost to the second (same seed, same split)."""
    tasks = list(results)
    rows = []
    for a, b in PAIRS:
        cells = []
        for t in tasks:
            r = results[t]
            if a not in r or b not in r:
                cells.append("—")
                continue
            key, sign = KEY.get(t, ("accuracy", 1))
            d = [sign * (x[key] - y[key]) for x, y in zip(r[a], r[b], strict=True)]
            cells.append(f"{sum(v > 0 for v in d)} / {sum(v < 0 for v in d)}")
        rows.append([f"{LABELS[a].strip()} vs {LABELS[b].strip()}", *cells])
    names = [f"{t} ({KEY.get(t, ('accuracy',))[0]})" for t in tasks]
    return ("Paired by seed: wins / losses of the first method (ties not counted)\n\n"
            + table(["comparison", *names], rows))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets, 1 seed (about a minute)")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5)")
    ap.add_argument("--tasks", default=None,
                    help="comma-separated subset of " + ",".join(SERIES + CLASSIFICATION))
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--no-search", action="store_true", help="skip the hyperparameter search")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/quality.json)")
    ap.add_argument("--from-json", default=None, metavar="PATH",
                    help="only print the tables of an earlier run's JSON")
    args = ap.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as fh:
            old = json.load(fh)
        print(f"Machine: {machine_line(old['machine'])}.\n")
        print(render(old["results"], old["config"]["seeds"]) + "\n\n"
              + render_pairs(old["results"]))
        return old["results"]
    seeds = args.seeds or (1 if args.quick else 5)
    tasks = tuple(args.tasks.split(",")) if args.tasks else SERIES + CLASSIFICATION
    b = budgets(args.quick)
    info = machine()
    var_all = sunspot_whole_variance()
    results: dict[str, dict[str, list]] = {}
    config = {"seeds": seeds, "quick": args.quick, "n_jobs": args.n_jobs,
              "classic": b["classic"].to_dict(), "hybrid": b["hybrid"].to_dict(),
              "bp": b["bp"].to_dict(), "n_baseline": b["n_baseline"], "search": b["search"],
              "hidden": HIDDEN, "sunspots_whole_series_variance": var_all}
    t_all = time.perf_counter()
    for name in tasks:
        per: dict[str, list] = {}
        for seed in range(seeds):
            task = load_task(name, seed)
            t0 = time.perf_counter()
            rows = run_gabp(name, task, seed, b, args.n_jobs, var_all)
            if not args.no_search:
                rows["search"] = run_search(name, task, seed, b, args.n_jobs, var_all)
            sk = run_sklearn(name, task, seed, var_all)
            if sk is not None:
                rows["sklearn"] = sk
            for k, v in rows.items():
                per.setdefault(k, []).append(v)
            print(f"{name} seed {seed}: {time.perf_counter() - t0:.1f} s", file=sys.stderr,
                  flush=True)
        results[name] = per
        write_json("quality.json", {"machine": info, "config": config, "results": results,
                                    "complete": False}, args.out)
    total = time.perf_counter() - t_all
    text = render(results, seeds) + "\n\n" + render_pairs(results)
    print(f"Machine: {machine_line(info)}. Total {total:.0f} s"
          f"{' (--quick budgets)' if args.quick else ''}.\n")
    print(text)
    path = write_json("quality.json", {"machine": info, "config": config, "results": results,
                                       "seconds": total, "complete": True,
                                       "tables": text}, args.out)
    print(f"\nwrote {path}")
    return results


if __name__ == "__main__":
    main()
