"""Series forecasting: GABPForecaster at its defaults against the naive forecasts and
scikit-learn models inside skforecast, on bundled and generated series.

Series (the last 20 % is the test part; every model sees only the first 80 %):
- ``sunspots``: yearly sunspot numbers 1700-2008 (309 values, cycle about 11 years);
- ``mackey_glass``: the bundled tau=17 series, every 3rd value (375 values);
- ``co2``: monthly Mauna Loa CO2 1958-2001 (526 values, ``examples/co2_monthly.csv``);
- ``trend``: 10 + 0.5 t + N(0, 1), 300 values;
- ``seasonal``: CO2-like, 315 + 0.1 t + 3 sin(2 pi t / 12) + N(0, 0.3), 300 values;
- ``random_walk``: cumulative sum of N(0, 1), 300 values;
- ``ar2``: x(t) = 0.6 x(t-1) - 0.3 x(t-2) + N(0, 1), 300 values.

Methods, all with the same lags (12; 24 for mackey_glass): persistence; seasonal naive
(period 11 for sunspots, 12 for co2 and seasonal); ``gabp``: :class:`gabp.GABPForecaster` with only
``n_lags`` (and ``seasonal_period`` where there is one) set, everything else at its defaults
(so differencing and the L2 penalty are chosen on its validation part, and the model is a
ridge on the lags, its penalty by leave-one-out error, plus the network on its residuals),
mean ± std over ``--seeds`` seeds; ``gabp network only``: the same with ``linear=False``
(the default before the seventh session); ``gabp refit``: the same with ``refit_full=True``
(after the choice, the model is refitted on all of its 80 % at a budget fixed on its
validation part; skipped with ``--no-refit``); ``ridge`` / ``ridge d=1``: scikit-learn's Ridge in
skforecast's ForecasterRecursive without / with ``differentiation=1``; ``mlp`` / ``mlp d=1``:
scikit-learn's MLPRegressor (``max_iter=1000``, seed 0) the same way.

Scores: one-step-ahead forecasts of every test value from the true history (no refit),
RMSE and MASE (MAE over the in-sample MAE of persistence on the first 80 %; < 1 beats that
naive forecast), and the RMSE of one 12-step forecast path from the start of the test part.

Usage: ``python bench/forecast.py [--seeds N] [--series trend,ar2] [--no-refit]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, machine_line, mean_std, table, write_json  # noqa: E402

from gabp import GABPForecaster  # noqa: E402
from gabp.data import load_dataset  # noqa: E402
from gabp.metrics import mase  # noqa: E402

#: GABPForecaster variants: the defaults (a ridge on the lags plus the network on its
#: residuals), the network alone (``linear=False``), and the refit on every row
#: (``refit_full=True``)
VARIANTS = {"gabp": {}, "gabp network only": {"linear": False},
            "gabp refit": {"refit_full": True}}
GABP = tuple(VARIANTS)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def make_series() -> dict[str, tuple[np.ndarray, int | None, int]]:
    """name -> (values, seasonal period or None, n_lags)."""
    rng = np.random.default_rng(0)
    t = np.arange(300)
    ar = np.zeros(400)
    e = rng.normal(size=400)
    for i in range(2, 400):
        ar[i] = 0.6 * ar[i - 1] - 0.3 * ar[i - 2] + e[i]
    return {
        "sunspots": (np.asarray(load_dataset("sunspots").series, dtype=float), 11, 12),
        "mackey_glass": (np.asarray(load_dataset("mackey_glass").series, dtype=float)[::3],
                         None, 24),
        "co2": (np.loadtxt(EXAMPLES / "co2_monthly.csv", delimiter=",", skiprows=1,
                           usecols=1), 12, 12),
        "trend": (10 + 0.5 * t + rng.normal(0, 1, 300), None, 12),
        "seasonal": (315 + 0.1 * t + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, .3, 300),
                     12, 12),
        "random_walk": (rng.normal(size=300).cumsum(), None, 12),
        "ar2": (ar[100:], None, 12),
    }


def one_step(predict_from, y: np.ndarray, start: int) -> np.ndarray:
    return np.array([predict_from(y[:o + 1]) for o in range(start - 1, len(y) - 1)])


def score(y: np.ndarray, start: int, pred: np.ndarray, path: np.ndarray) -> dict[str, float]:
    err = pred - y[start:]
    return {"rmse": float(np.sqrt(np.mean(err**2))),
            "mase": mase(y[start:], pred, y[:start]),
            "rmse_12": float(np.sqrt(np.mean((path - y[start:start + 12]) ** 2)))}


def skforecast_models():
    try:
        import pandas as pd
        from skforecast.recursive import ForecasterRecursive
        from sklearn.linear_model import Ridge
        from sklearn.neural_network import MLPRegressor
    except ImportError as exc:
        print(f"skipping the skforecast models: {exc}")
        return None, {}
    models = {
        "ridge": lambda lags: ForecasterRecursive(estimator=Ridge(), lags=lags),
        "ridge d=1": lambda lags: ForecasterRecursive(estimator=Ridge(), lags=lags,
                                                      differentiation=1),
        "mlp": lambda lags: ForecasterRecursive(
            estimator=MLPRegressor(max_iter=1000, random_state=0), lags=lags),
        "mlp d=1": lambda lags: ForecasterRecursive(
            estimator=MLPRegressor(max_iter=1000, random_state=0), lags=lags,
            differentiation=1),
    }
    return pd, models


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="gabp seeds (default 3)")
    ap.add_argument("--series", default=None, help="comma-separated subset of the series")
    ap.add_argument("--no-refit", action="store_true", help="skip the refit_full=True column")
    ap.add_argument("--out", default=None, help="JSON output (default bench/results/)")
    args = ap.parse_args()
    info = machine()
    print(machine_line(info))
    series = make_series()
    if args.series:
        series = {k: v for k, v in series.items() if k in args.series.split(",")}
    pd, models = skforecast_models()
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    t_start = time.perf_counter()
    for name, (y, period, lags) in series.items():
        start = int(round(0.8 * len(y)))
        res: dict[str, list[dict[str, float]]] = {}
        persist = y[start - 1:-1]
        res["persistence"] = [score(y, start, persist, np.repeat(y[start - 1], 12))]
        if period:
            snaive = y[start - period:len(y) - period]
            res["seasonal naive"] = [score(y, start, snaive,
                                           np.resize(y[start - period:start], 12))]
        for label in (m for m in GABP if not (args.no_refit and m == "gabp refit")):
            res[label] = []
            for seed in range(args.seeds):  # the variants run one after the other per series
                t0 = time.perf_counter()
                f = GABPForecaster(n_lags=lags, seasonal_period=period, random_state=seed,
                                   **VARIANTS[label])
                f.fit(y[:start])
                bt = f.backtest(y, start)
                r = score(y, start, bt.predictions, f.predict(12))
                r["fit_s"] = time.perf_counter() - t0
                r["difference"] = f.difference_
                r["seasonal_difference"] = f.seasonal_difference_
                r["alpha"] = f.alpha_
                res[label].append(r)
        for label, make in models.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fc = make(lags)
                fc.fit(y=pd.Series(y[:start]))

                def predict_from(h, fc=fc, lags=lags):
                    return float(fc.predict(steps=1, last_window=pd.Series(h[-lags - 1:]))
                                 .iloc[0])

                pred = one_step(predict_from, y, start)
                path = fc.predict(steps=12).to_numpy()
            res[label] = [score(y, start, pred, path)]
        results[name] = res
        print(f"{name}: done ({time.perf_counter() - t_start:.0f} s)")
    methods = list(dict.fromkeys(m for r in results.values() for m in r))
    for key, title in (("rmse", "one-step test RMSE"), ("mase", "one-step test MASE"),
                       ("rmse_12", "RMSE of the 12-step path from the test start")):
        rows = [[name] + [mean_std([r[key] for r in res[m]]) if m in res else "—"
                          for m in methods] for name, res in results.items()]
        print(f"\n### {title}\n")
        print(table(["series"] + methods, rows))
    rows = []
    for name, res in results.items():
        g = res["gabp"]
        best = min((m for m in res if m not in GABP), key=lambda m: res[m][0]["rmse"])
        row = [name, "; ".join(sorted({f"d={r['difference']}, D={r['seasonal_difference']}"
                                       f", alpha={r['alpha']:g}" for r in g}))]
        for label in (m for m in GABP if m in res):
            row += [f"{np.mean([r['fit_s'] for r in res[label]]):.1f}",
                    f"{np.mean([r['rmse'] for r in res[label]]) / res[best][0]['rmse']:.3f}"]
        rows.append(row[:2] + [best] + row[2:])
    labels = [m for m in GABP if any(m in res for res in results.values())]
    print("\n### gabp: differencing and alpha chosen (over the seeds), fit time, ratio to the "
          "best other method\n")
    print(table(["series", "differencing chosen", "best other (one-step RMSE)"]
                + [h for m in labels for h in (f"{m}: fit s", f"{m} RMSE / best other")], rows))
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")
    path = write_json("forecast.json", {"machine": info, "results": results}, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
