"""Sunspot prediction with GA-BP, through the Python API.

Twelve past yearly sunspot numbers predict the next year. The literature's split
(Weigend et al.) is used: training targets up to 1920 (the last 15 % of them validate),
test 1921-1955 and a second test period 1956-1979. The GA evolves the weights of a
12-8-1 tanh network, every individual gets a few epochs of BP (lamarckian mode), and the
best one is fine-tuned; plain BP from random starts gets the same number of gradient
steps. Errors are reported in sunspot numbers, and three figures are saved.

    python examples/sunspots.py                     # default budget, figures in ./figures
    python examples/sunspots.py --quick --out /tmp  # a few seconds
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from gabp.data import load_dataset, split_task
from gabp.evolution import BPConfig, GAConfig, evolve
from gabp.metrics import nrmse, rmse

BUDGETS = {
    "default": {"ga": GAConfig(population_size=30, n_generations=20),
                "bp": BPConfig(bp_epochs=5, max_epochs=300, patience=30), "n_baseline": 5},
    "tiny": {"ga": GAConfig(population_size=6, n_generations=2),
             "bp": BPConfig(bp_epochs=1, max_epochs=20, patience=5), "n_baseline": 2},
}


def main(budget: str = "default", out: str | None = None, seed: int = 0) -> dict:
    """Run the example; return the test errors of GA-BP and plain BP (sunspot numbers).

    ``out``: folder for the figures (``None``: no figures).
    """
    b = BUDGETS[budget]
    task = split_task(load_dataset("sunspots"), n_lags=12, val_fraction=0.15, classic=True)
    result = evolve(task.X_train, task.y_train, task.X_val, task.y_val,
                    hidden_layer_sizes=(8,), hidden_activation="tanh", mode="lamarckian",
                    ga=b["ga"], bp=b["bp"], n_baseline=b["n_baseline"], seed=seed)

    # Held-out parts in original units: predictions are scaled back with task.inverse_y.
    parts = {"test 1921-1955": (task.X_test, task.y_test_raw),
             "test 1956-1979": (task.extra["test2"]["X"], task.extra["test2"]["y_raw"])}
    base = result.baseline
    out_metrics: dict = {"gabp": {}, "plain_bp": {}}
    print(f"{'part':<16}{'metric':<8}{'GA-BP':>10}{'plain BP (mean ± std)':>26}")
    for part, (X, y) in parts.items():
        pred = task.inverse_y(result.network.predict(X))
        base_preds = [task.inverse_y(o) for o in base.network.forward(X)]
        for name, fn in (("rmse", rmse), ("nrmse", nrmse)):
            g = fn(y, pred)
            p = np.array([fn(y, bp) for bp in base_preds])
            out_metrics["gabp"][f"{part} {name}"] = g
            out_metrics["plain_bp"][f"{part} {name}"] = float(p.mean())
            print(f"{part:<16}{name:<8}{g:>10.4g}{p.mean():>17.4g} ± {p.std():.2g}")
    print(f"gradient steps: GA-BP {result.total_steps}, each plain BP run {base.budget_steps}")

    if out is not None:
        out_metrics["figures"] = save_figures(task, result, out)
    return out_metrics


def save_figures(task, result, out: str) -> list[str]:
    """Convergence, BP curves (GA-BP vs plain BP) and predictions over all the years."""
    from gabp.plotting import new_axes, plot_bp_curve, plot_convergence, plot_series, save_figure

    os.makedirs(out, exist_ok=True)
    paths = [save_figure(plot_convergence(result.logbook, log=True),
                         os.path.join(out, "sunspots_convergence.png")),
             save_figure(plot_bp_curve(result), os.path.join(out, "sunspots_bp_curve.png"))]
    test2 = task.extra["test2"]
    X = np.vstack([task.X_train, task.X_val, task.X_test, test2["X"]])
    years = np.concatenate([task.index_train, task.index_val, task.index_test, test2["index"]])
    y = np.vstack([task.y_train_raw, task.y_val_raw, task.y_test_raw, test2["y_raw"]])
    regions = {"train": (years[0], task.index_train[-1]),
               "validation": (task.index_val[0], task.index_val[-1]),
               "test": (task.index_test[0], years[-1])}
    ax = plot_series(years, y, task.inverse_y(result.network.predict(X)), regions=regions,
                     ax=new_axes((7.0, 3.2), dpi=80), title="Sunspots: GA-BP, 12 lags -> next year")
    ax.set_xlabel("year")
    ax.set_ylabel("sunspot number")
    ax.set_ylim(top=1.3 * y.max())
    ax.legend(loc="upper center", ncol=5, fontsize=8, frameon=False)
    paths.append(save_figure(ax, os.path.join(out, "sunspots_predictions.png"), dpi=80))
    return [str(p) for p in paths]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budget (a few seconds)")
    parser.add_argument("--out", default="figures", help="folder for the PNG figures")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main("tiny" if args.quick else "default", out=args.out, seed=args.seed)
