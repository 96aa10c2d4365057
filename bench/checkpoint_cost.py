"""Checkpoint cost against the generation number (issue 13).

A long classic-mode run (cheap generations, so the checkpoint's share is visible) with
``checkpoint_every = 1`` and without checkpoints. Prints ms per generation over the first
and the last 100 generations, from the logbook's elapsed column, and the overhead.

Run from the repository root::

    PYTHONPATH=. python bench/checkpoint_cost.py [--generations 1500]

Point ``PYTHONPATH`` at another checkout to measure it the same way.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import gabp
from gabp.data import load_dataset, split_task
from gabp.evolution import GAConfig, evolve


def _ms_per_gen(logbook, lo: int, hi: int) -> float:
    elapsed = [r["elapsed"] for r in logbook]
    return 1000.0 * (elapsed[hi] - elapsed[lo]) / (hi - lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generations", type=int, default=1500)
    args = ap.parse_args()
    task = split_task(load_dataset("sunspots"), n_lags=6)
    ga = GAConfig(population_size=20, n_generations=args.generations)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, ck in (("no checkpoint", None),
                          ("checkpoint_every = 1", os.path.join(tmp, "ck.npz"))):
            res = evolve(task.X_train, task.y_train, task.X_val, task.y_val,
                         hidden_layer_sizes=(6,), mode="classic", ga=ga, n_baseline=0,
                         seed=0, checkpoint_path=ck, checkpoint_every=1)
            n = len(res.logbook) - 1
            rows.append((label, _ms_per_gen(res.logbook, 1, 101),
                         _ms_per_gen(res.logbook, n - 100, n)))
    print(f"gabp from {os.path.dirname(gabp.__file__)}; {args.generations} generations, "
          "population 20, sunspots 6-6-1, classic mode\n")
    print("| run | ms/gen, generations 1-100 | ms/gen, last 100 |")
    print("|---|---|---|")
    for label, first, last in rows:
        print(f"| {label} | {first:.2f} | {last:.2f} |")
    base, ck = rows
    print(f"\ncheckpoint overhead: first 100 {ck[1] / base[1]:.2f}x, last 100 "
          f"{ck[2] / base[2]:.2f}x; checkpointed run, last / first: {ck[2] / ck[1]:.2f}x")


if __name__ == "__main__":
    main()
