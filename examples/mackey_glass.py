"""Mackey-Glass (tau = 17) prediction with GA-BP, through the Python API.

The benchmark of the neural-network literature: predict x(t+6) from x(t), x(t-6),
x(t-12), x(t-18), train on the first 500 pairs (t = 118..617) and test on the last 500.
``split_task(..., classic=True)`` builds exactly that split and carves the validation part
(the GA's fitness data) from the end of the first 500. The error is reported as NDEI
(RMSE / std of the targets), the figure the literature quotes.

    python examples/mackey_glass.py           # default budget
    python examples/mackey_glass.py --quick   # a few seconds
"""

from __future__ import annotations

import argparse

import numpy as np

from gabp.data import load_dataset, split_task
from gabp.evolution import BPConfig, GAConfig, evolve
from gabp.metrics import ndei, rmse

BUDGETS = {
    "default": {"ga": GAConfig(population_size=20, n_generations=15),
                "bp": BPConfig(bp_epochs=3, max_epochs=300, patience=30), "n_baseline": 5},
    "tiny": {"ga": GAConfig(population_size=6, n_generations=2),
             "bp": BPConfig(bp_epochs=1, max_epochs=20, patience=5), "n_baseline": 2},
}


def main(budget: str = "default", seed: int = 0) -> dict:
    """Run the example; return test RMSE and NDEI of GA-BP and of plain BP (mean)."""
    b = BUDGETS[budget]
    task = split_task(load_dataset("mackey_glass"), val_fraction=0.2, classic=True)
    print(task)  # train 400, val 100, test 500
    result = evolve(task.X_train, task.y_train, task.X_val, task.y_val,
                    hidden_layer_sizes=(10,), hidden_activation="tanh", mode="lamarckian",
                    ga=b["ga"], bp=b["bp"], n_baseline=b["n_baseline"], seed=seed)

    y = task.y_test_raw
    pred = task.inverse_y(result.network.predict(task.X_test))
    base_preds = [task.inverse_y(o) for o in result.baseline.network.forward(task.X_test)]
    out = {"gabp": {"rmse": rmse(y, pred), "ndei": ndei(y, pred)},
           "plain_bp": {"rmse": float(np.mean([rmse(y, p) for p in base_preds])),
                        "ndei": float(np.mean([ndei(y, p) for p in base_preds]))}}
    print(f"{'test (500 pairs)':<18}{'GA-BP':>10}{'plain BP (mean)':>18}")
    for name in ("rmse", "ndei"):
        print(f"{name:<18}{out['gabp'][name]:>10.4g}{out['plain_bp'][name]:>18.4g}")
    print(f"gradient steps per model: {result.total_steps}; "
          f"generations: {result.generations}, evaluations: {result.n_evaluations}")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budget (a few seconds)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main("tiny" if args.quick else "default", seed=args.seed)
