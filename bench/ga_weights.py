"""Time per GA-BP generation: batched population scoring vs one individual at a time,
and n_jobs 1 vs 2.

Problems: breast cancer (569 x 30, 2 classes) and digits (1,797 x 64, 10 classes), one
hidden layer of 16 (cancer) / 32 (digits) tanh units, softmax + cross-entropy, population 40.

Columns
- ``separate``: the 40 genomes of a generation scored one by one (a population of 1 each,
  the way a hand-written DEAP loop evaluates individuals);
- ``batched``: the same 40 genomes scored as one population of 40;
- ``evolve n_jobs=1/2``: a whole generation of :func:`gabp.evolution.evolve` (selection,
  variation, scoring, bookkeeping), mean over the generations after the first.

Usage: ``python bench/ga_weights.py [--quick] [--generations N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from functools import partial

import numpy as np

from gabp.data import load_dataset, split_task
from gabp.evolution import BPConfig, GAConfig, evolve, score_genomes
from gabp.network import Architecture, init_params


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _separately(score, genomes):
    for i in range(genomes.shape[0]):
        score(genomes[i : i + 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer generations and repeats")
    ap.add_argument("--generations", type=int, default=None)
    args = ap.parse_args()
    gens = args.generations or (3 if args.quick else 6)
    repeats = 1 if args.quick else 3
    P = 40
    rows = []
    for name, hidden in (("breast_cancer", 16), ("digits", 32)):
        task = split_task(load_dataset(name), val_fraction=0.15, test_fraction=0.15, seed=0)
        X, Y, Xv, Yv = task.X_train, task.y_train, task.X_val, task.y_val
        arch = Architecture.build((X.shape[1], hidden, Y.shape[1]), hidden_activation="tanh",
                                  output_activation="softmax")
        genomes = init_params(arch, P, rng=0)
        for mode, bp_epochs in (("classic", 1), ("lamarckian", 1)):
            settings = {"mode": mode, "fitness": "loss", "loss": "cross_entropy",
                        "bp_epochs": bp_epochs, "dtype": "float64",
                        "train_kwargs": {"optimizer": "adam", "learning_rate": 0.01,
                                         "momentum": 0.9, "alpha": 0.0, "batch_size": 32}}
            score = partial(score_genomes, arch.to_dict(), X=X, Y=Y, X_fit=Xv, Y_fit=Yv,
                            settings=settings, seed=0)
            t_sep = best_of(partial(_separately, score, genomes), repeats)
            t_bat = best_of(partial(score, genomes), repeats)
            per_gen = {}
            for n_jobs in (1, 2):
                res = evolve(X, Y, Xv, Yv, hidden_layer_sizes=(hidden,),
                             output_activation="softmax", loss="cross_entropy", mode=mode,
                             n_jobs=n_jobs, n_baseline=0,
                             seed=0, ga=GAConfig(population_size=P, n_generations=gens),
                             bp=BPConfig(bp_epochs=bp_epochs, max_epochs=1))
                el = np.array(res.logbook.select("elapsed"))
                per_gen[n_jobs] = float(np.mean(np.diff(el)))
            rows.append({"problem": f"{name} {X.shape[0]}x{X.shape[1]}", "mode": mode,
                         "bp_epochs": bp_epochs if mode != "classic" else 0,
                         "separate_s": t_sep, "batched_s": t_bat,
                         "batched_speedup": t_sep / t_bat,
                         "gen_n_jobs_1_s": per_gen[1], "gen_n_jobs_2_s": per_gen[2],
                         "n_jobs_2_speedup": per_gen[1] / per_gen[2]})
    print(f"\nGA-BP generation time, population {P} ({platform.processor() or platform.machine()},"
          f" {os.cpu_count()} cores)\n")
    print("| problem | mode | BP epochs/individual | separate (s) | batched (s) | batched speed-up"
          " | generation n_jobs=1 (s) | generation n_jobs=2 (s) | n_jobs=2 speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['problem']} | {r['mode']} | {r['bp_epochs']} | {r['separate_s']:.3f} | "
              f"{r['batched_s']:.3f} | {r['batched_speedup']:.1f}x | {r['gen_n_jobs_1_s']:.3f} | "
              f"{r['gen_n_jobs_2_s']:.3f} | {r['n_jobs_2_speedup']:.2f}x |")
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    out = os.path.join(os.path.dirname(__file__), "results", "ga_weights.json")
    with open(out, "w") as fh:
        json.dump({"rows": rows, "population": P, "generations": gens}, fh, indent=2)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
