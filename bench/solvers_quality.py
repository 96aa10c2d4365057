"""Quality per solver: LM, BR, L-BFGS and Adam, plain and inside GA-BP, at equal budgets.

Three tables:

1. **Series, per solver.** Mackey-Glass (the classic 500/500 pairs, 4 lags, x(t+6); a
   4-10-1 tanh network) and yearly sunspots (classic split, 12 lags, a 12-8-1 network). For
   each solver: plain BP (``mode="bp"``: one network from the Glorot initializer) and GA-BP
   in modes classic / baldwinian / lamarckian, each with its own plain-BP baseline allowed
   the same budget in **sample-passes** (one forward + backward of one sample through one
   network; the solver-independent unit of :class:`gabp.evolution.BaselineResult`). The
   baseline row is the mean over its restarts (the expected single run given the whole
   budget) and ``multi-start`` is ``n_baseline`` restarts that *share* the budget, the one
   best on validation kept (the fair opponent of a GA over initial weights).
2. **Paired wins / losses** by seed of each GA-BP mode against its equal-budget multi-start.
3. **Estimator defaults vs references** (``GABPRegressor`` / ``GABPClassifier`` with only
   ``hidden_layer_sizes`` given on the series, nothing given on the UCI sets), against
   scikit-learn's ``MLPRegressor`` / ``MLPClassifier`` defaults and a ridge regression /
   logistic regression, with ``ensemble`` = 1, 5, 10.

Usage::

    python bench/solvers_quality.py                # 5 seeds
    python bench/solvers_quality.py --quick        # smoke run
    python bench/solvers_quality.py --only series  # or: defaults

Writes ``bench/results/solvers_quality.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from functools import partial
from typing import Any

import numpy as np
from _common import machine, machine_line, mean_std, table, timed, write_json

from gabp import GABPClassifier, GABPRegressor, Network, train
from gabp.data import load_dataset, split_task
from gabp.evolution import BPConfig, GAConfig, evolve
from gabp.metrics import accuracy, rmse

try:  # optional
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
except ImportError:  # pragma: no cover - depends on the environment
    MLPClassifier = None

SOLVERS = ("lm", "br", "lbfgs", "adam")
SERIES = {"mackey_glass": (10,), "sunspots": (8,)}
UCI = ("iris", "wine", "breast_cancer", "digits")
MODES = ("bp", "classic", "baldwinian", "lamarckian")


def budgets(quick: bool) -> dict[str, Any]:
    if quick:
        return {"classic": GAConfig.classic(population_size=8, n_generations=3),
                "hybrid": GAConfig(population_size=6, n_generations=2),
                "epochs": {"lm": 30, "br": 30, "lbfgs": 60, "adam": 100}, "bp_epochs": 2,
                "n_baseline": 2}
    return {"classic": GAConfig.classic(),
            "hybrid": GAConfig(population_size=20, n_generations=10),
            "epochs": {"lm": 300, "br": 300, "lbfgs": 1000, "adam": 2000},
            "bp_epochs": {"lm": 3, "br": 3, "lbfgs": 10, "adam": 20},
            "n_baseline": 5}


def _bp(solver: str, b: dict[str, Any]) -> BPConfig:
    bp_epochs = b["bp_epochs"] if isinstance(b["bp_epochs"], int) else b["bp_epochs"][solver]
    return BPConfig(optimizer=solver, learning_rate=0.01, batch_size=None if solver == "adam"
                    else 32, bp_epochs=bp_epochs, max_epochs=b["epochs"][solver],
                    patience=6 if solver in ("lm", "br") else 50)


def series_metrics(name: str, task, predict) -> dict[str, float]:
    """Test metrics in original units; ``predict(X_scaled)`` returns scaled outputs."""
    out = {}
    parts = {"test": (task.X_test, task.y_test_raw)}
    parts.update({k: (v["X"], v["y_raw"]) for k, v in task.extra.items()})
    for part, (X, y) in parts.items():
        y = np.asarray(y, dtype=float).reshape(len(y), -1)
        pred = np.asarray(task.inverse_y(predict(X)), dtype=float).reshape(len(y), -1)
        e = rmse(y, pred)
        if name == "mackey_glass":
            out["rmse"], out["ndei"] = e, e / float(np.std(y))
        else:
            tag = "1" if part == "test" else "2"
            out[f"arv{tag}"] = e * e / float(np.var(y))
    return out


def run_series(name: str, seed: int, b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    task = split_task(load_dataset(name), classic=True, val_fraction=0.1)
    data = (task.X_train, task.y_train, task.X_val, task.y_val)
    rows: dict[str, dict[str, Any]] = {}
    for solver in SOLVERS:
        for mode in MODES:
            ga = b["classic"] if mode == "classic" else b["hybrid"]
            res, sec = timed(lambda mode=mode, ga=ga, solver=solver: evolve(
                *data, hidden_layer_sizes=SERIES[name], mode=mode, ga=ga, bp=_bp(solver, b),
                n_baseline=0 if mode == "bp" else b["n_baseline"], seed=seed))
            net = res.network
            rows[f"{solver}:{mode}"] = {
                **series_metrics(name, task, lambda X, net=net: net.forward(X).mean(axis=0)),
                "passes": res.total_sample_passes, "seconds": sec, "val": res.val_error}
            if mode == "bp":
                continue
            base = res.baseline
            per = [series_metrics(name, task, lambda X, r=r, base=base: base.network.forward(X)[r])
                   for r in range(base.network.n_networks)]
            rows[f"{solver}:{mode}:bp"] = {
                **{k: float(np.mean([p[k] for p in per])) for k in per[0]},
                "passes": float(np.mean(base.history.sample_passes)), "seconds": None}
            rows[f"{solver}:{mode}:ms"] = multistart(name, task, solver, b, seed,
                                                     res.total_sample_passes)
    return rows


def multistart(name: str, task, solver: str, b: dict[str, Any], seed: int,
               budget: float) -> dict[str, Any]:
    """Plain multi-start at the GA-BP run's *total* budget: ``n_baseline`` restarts from the
    standard initializer, each allowed ``budget / n_baseline`` sample-passes, the one best on
    validation kept (the fair opponent of a GA over initial weights)."""
    k = b["n_baseline"]
    bp = _bp(solver, b)
    net = Network((task.X_train.shape[1], *SERIES[name], 1), n_networks=k, seed=50_000 + seed)
    n = task.X_train.shape[0]
    hist, sec = timed(lambda: train(
        net, task.X_train, task.y_train, loss="mse", optimizer=solver,
        learning_rate=bp.learning_rate, batch_size=bp.batch_size,
        epochs=max(1, int(np.ceil(budget / k / n))), X_val=task.X_val, Y_val=task.y_val,
        early_stopping=True, patience=bp.patience, max_sample_passes=budget / k, seed=seed))
    best = int(np.argmin(hist.final_loss))
    return {**series_metrics(name, task, lambda X: net.forward(X)[best]),
            "passes": float(np.sum(hist.sample_passes)), "seconds": sec}


def _label(key: str) -> str:
    parts = key.split(":")
    if len(parts) == 2:
        return f"{parts[0]}: " + ("plain BP" if parts[1] == "bp" else f"GA-BP {parts[1]}")
    kind = ("one restart (mean of the baseline's)" if parts[2] == "bp"
            else "multi-start sharing the budget, best by val")
    return f"{parts[0]}:   plain BP, same budget as {parts[1]}: {kind}"


def render_series(results: dict[str, dict[str, list]], seeds: int) -> str:
    out = []
    for name, r in results.items():
        cols = ["rmse", "ndei"] if name == "mackey_glass" else ["arv1", "arv2"]
        rows = [[_label(k), *[mean_std([x[c] for x in v], ".4g") for c in cols],
                 mean_std([x["passes"] for x in v], ".3g"),
                 mean_std([x["seconds"] for x in v if x["seconds"] is not None], ".3g")]
                for k, v in r.items()]
        out.append(f"{name}, {seeds} seeds, mean ± std\n\n" + table(
            ["method", *[f"test {c}" for c in cols], "sample-passes", "s / run"], rows))
    return "\n\n".join(out)


def render_pairs(results: dict[str, dict[str, list]]) -> str:
    rows = []
    for solver in SOLVERS:
        for mode in MODES[1:]:
            cells = []
            for name, r in results.items():
                key = "ndei" if name == "mackey_glass" else "arv1"
                a, m = r.get(f"{solver}:{mode}"), r.get(f"{solver}:{mode}:ms")
                if not a or not m:
                    cells.append("—")
                    continue
                d = [y[key] - x[key] for x, y in zip(a, m, strict=True)]
                cells.append(f"{sum(v > 0 for v in d)} / {sum(v < 0 for v in d)}")
            rows.append([f"{solver} GA-BP {mode} vs multi-start", *cells])
    return ("Paired by seed: wins / losses of GA-BP against plain multi-start at the same "
            "sample-pass budget\n\n" + table(["comparison", *results], rows))


def run_defaults(seed: int, ensembles: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """Estimators at their defaults against scikit-learn's defaults and a linear model."""
    rows: dict[str, dict[str, Any]] = {}
    for name, hidden in SERIES.items():
        task = split_task(load_dataset(name), classic=True, val_fraction=0.1)
        X = np.vstack([task.X_train, task.X_val])
        y = np.vstack([task.y_train, task.y_val]).ravel()
        for k in ensembles:
            est = GABPRegressor(hidden_layer_sizes=hidden, ensemble=k, random_state=seed)
            _, sec = timed(partial(est.fit, X, y))
            rows[f"{name}:gabp:k{k}"] = {**series_metrics(
                name, task, lambda Xs, est=est: est.predict(Xs).reshape(len(Xs), -1)),
                "seconds": sec, "optimizer": est.result_.optimizer}
        if MLPClassifier is not None:
            for label, model in (("sklearn MLP", MLPRegressor(random_state=seed)),
                                 ("ridge", Ridge(alpha=1e-3))):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    _, sec = timed(partial(model.fit, X, y))
                rows[f"{name}:{label}"] = {**series_metrics(
                    name, task, lambda Xs, m=model: m.predict(Xs).reshape(len(Xs), -1)),
                    "seconds": sec}
    for name in UCI:
        ds = load_dataset(name)
        task = split_task(ds, val_fraction=0.0, test_fraction=0.25, seed=seed, scaler=None)
        X, y = task.X_train, task.y_train_raw.ravel()
        Xt, yt = task.X_test, task.y_test_raw.ravel()
        for k in ensembles:
            est = GABPClassifier(ensemble=k, random_state=seed)
            _, sec = timed(partial(est.fit, X, y))
            rows[f"{name}:gabp:k{k}"] = {"accuracy": accuracy(yt, est.predict(Xt)),
                                         "seconds": sec, "optimizer": est.result_.optimizer}
        if MLPClassifier is not None:
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            for label, model in (
                    ("sklearn MLP", make_pipeline(StandardScaler(),
                                                  MLPClassifier(random_state=seed))),
                    ("logistic", make_pipeline(StandardScaler(),
                                               LogisticRegression(max_iter=2000)))):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    _, sec = timed(partial(model.fit, X, y))
                rows[f"{name}:{label}"] = {"accuracy": accuracy(yt, model.predict(Xt)),
                                           "seconds": sec}
    return rows


def render_defaults(rows: dict[str, list], seeds: int) -> str:
    out = []
    names = [*SERIES, *UCI]
    for name in names:
        keys = [k for k in rows if k.startswith(name + ":")]
        if not keys:
            continue
        cols = (["rmse", "ndei"] if name == "mackey_glass" else ["arv1", "arv2"]
                if name == "sunspots" else ["accuracy"])
        body = [[k.split(":", 1)[1], *[mean_std([x[c] for x in rows[k]], ".4g") for c in cols],
                 mean_std([x["seconds"] for x in rows[k]], ".3g"),
                 ", ".join(sorted({x.get("optimizer", "") for x in rows[k]} - {""})) or "—"]
                for k in keys]
        out.append(f"{name}, estimator defaults, {seeds} seeds\n\n" + table(
            ["method", *[f"test {c}" for c in cols], "s / fit", "solver"], body))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--only", choices=("series", "defaults"), default=None)
    ap.add_argument("--ensembles", default="1,5,10")
    args = ap.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 5)
    b = budgets(args.quick)
    info = machine()
    t0 = time.perf_counter()
    text = []
    out: dict[str, Any] = {"machine": info, "seeds": seeds, "quick": args.quick}
    if args.only in (None, "series"):
        results: dict[str, dict[str, list]] = {}
        for name in SERIES:
            per: dict[str, list] = {}
            for seed in range(seeds):
                for k, v in run_series(name, seed, b).items():
                    per.setdefault(k, []).append(v)
                print(f"{name} seed {seed} done ({time.perf_counter() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
            results[name] = per
        out["series"] = results
        text += [render_series(results, seeds), render_pairs(results)]
    if args.only in (None, "defaults"):
        ensembles = tuple(int(k) for k in args.ensembles.split(","))
        rows: dict[str, list] = {}
        for seed in range(seeds):
            for k, v in run_defaults(seed, ensembles).items():
                rows.setdefault(k, []).append(v)
            print(f"defaults seed {seed} done ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
        out["defaults"] = rows
        text.append(render_defaults(rows, seeds))
    total = time.perf_counter() - t0
    print(f"Machine: {machine_line(info)}. Total {total:.0f} s.\n")
    print("\n\n".join(text))
    out["tables"] = "\n\n".join(text)
    print(f"\nwrote {write_json('solvers_quality.json', out)}")


if __name__ == "__main__":
    main()
