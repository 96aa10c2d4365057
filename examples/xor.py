"""XOR with classic GA-BP, through the Python API: the "hello world" of backpropagation.

The smallest network that can learn XOR, 2-2-1 tanh with a linear output, trained on the
4-row truth table. With two hidden units plain BP from a random start sometimes stalls in
a local minimum (one row stays wrong); the classic GA-BP recipe searches starting weights
without training them (mode ``"classic"``) and BP fine-tunes the best genome. The classic GA
takes no gradient steps, so GA-BP and every plain-BP restart get the same budget: at most
``max_epochs`` full-batch epochs (no early stopping, which would also shrink the restarts'
budget). There is no data to hold out, so the GA scores genomes on the training rows
(``fitness_on="train"``).

    python examples/xor.py            # default budget
    python examples/xor.py --quick    # tiny budget
"""

from __future__ import annotations

import argparse

import numpy as np

from gabp.data import load_xor
from gabp.evolution import BPConfig, GAConfig, evolve

BUDGETS = {
    "default": {"ga": GAConfig(population_size=20, n_generations=20),
                "bp": BPConfig(learning_rate=0.05, batch_size=4, max_epochs=300,
                               early_stopping=False),
                "n_baseline": 10},
    "tiny": {"ga": GAConfig(population_size=10, n_generations=5),
             "bp": BPConfig(learning_rate=0.05, batch_size=4, max_epochs=200,
                            early_stopping=False),
             "n_baseline": 4},
}


def main(budget: str = "default", seed: int = 0) -> dict:
    """Run the example; return GA-BP's predictions and how many plain-BP restarts solve XOR."""
    b = BUDGETS[budget]
    ds = load_xor()
    X, y = 2.0 * ds.X - 1.0, ds.y  # inputs in [-1, 1] for tanh; targets 0/1
    result = evolve(X, y, hidden_layer_sizes=(2,), hidden_activation="tanh",
                    mode="classic", fitness="mse", fitness_on="train",
                    ga=b["ga"], bp=b["bp"], n_baseline=b["n_baseline"], seed=seed)

    pred = result.network.predict(X)[:, 0]
    base = result.baseline.network.forward(X)[..., 0]  # (n_restarts, 4)
    print(f"{'x1':>3}{'x2':>4}{'xor':>5}{'GA-BP':>9}  plain BP restarts")
    for i in range(4):
        runs = " ".join(f"{v:6.3f}" for v in base[:, i])
        print(f"{ds.X[i, 0]:>3.0f}{ds.X[i, 1]:>4.0f}{y[i, 0]:>5.0f}{pred[i]:>9.3f}  {runs}")
    correct = bool(np.all(np.round(pred) == y[:, 0]))
    solved = np.all(np.round(base) == y[:, 0], axis=1)
    steps = result.baseline.history.n_steps
    print(f"GA-BP solves XOR: {correct}; plain BP restarts solving it: "
          f"{int(solved.sum())}/{base.shape[0]} (budget {result.baseline.budget_steps} steps "
          f"each, used {int(steps.min())}-{int(steps.max())})")
    return {"predictions": pred.tolist(), "correct": correct,
            "plain_bp_solved": int(solved.sum()), "n_baseline": int(base.shape[0])}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budget")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main("tiny" if args.quick else "default", seed=args.seed)
