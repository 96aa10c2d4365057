"""Float32 against float64 populations: test accuracy / error and time (issue 15).

For each task a population of networks is trained with Adam (mini-batches of 32) once in
float64 and once in float32 from the same initial weights (the float32 run starts from the
float64 draw rounded); the test metric of every network is reported as mean ± std, next to
the wall time of the training. GA-BP (baldwinian, Adam) runs on digits for a few seeds in both
precisions.

- digits: 64-32-10 relu/softmax, cross-entropy, 40 epochs, test accuracy;
- breast cancer: 30-10-2 tanh/softmax, cross-entropy, 100 epochs, test accuracy;
- Mackey-Glass: 4-10-1 tanh/identity, mse, lr 1e-2, 300 epochs, test RMSE (original units);
  and with Levenberg-Marquardt (100 iterations), which computes in float64 inside;
- GA-BP digits: 20 individuals x 5 generations x 10 epochs, fine-tune 40 epochs, test accuracy.

Usage (from the repository root)::

    PYTHONPATH=. python bench/float32_accuracy.py            # about a minute
    PYTHONPATH=. python bench/float32_accuracy.py --quick    # seconds

Prints a markdown table and writes ``bench/results/float32_accuracy.json``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from _common import machine, machine_line, mean_std, table, write_json

from gabp import Network, train
from gabp.data import load_dataset, split_task
from gabp.evolution import BPConfig, GAConfig, evolve

TASKS = {
    "digits": dict(load=lambda: split_task(load_dataset("digits"), seed=0), hidden=32,
                   act="relu", out="softmax", loss="cross_entropy", lr=1e-3, epochs=40),
    "breast_cancer": dict(load=lambda: split_task(load_dataset("breast_cancer"), seed=0),
                          hidden=10, act="tanh", out="softmax", loss="cross_entropy", lr=1e-3,
                          epochs=100),
    "mackey_glass": dict(load=lambda: split_task(load_dataset("mackey_glass"), classic=True,
                                                 val_fraction=0.1),
                         hidden=10, act="tanh", out="identity", loss="mse", lr=1e-2,
                         epochs=300),
    # Levenberg-Marquardt computes in float64 whatever the parameters' dtype: what float32
    # storage of the genomes costs it
    "mackey_glass (lm)": dict(load=lambda: split_task(load_dataset("mackey_glass"),
                                                      classic=True, val_fraction=0.1),
                              hidden=10, act="tanh", out="identity", loss="mse", lr=1e-2,
                              epochs=100, optimizer="lm"),
}


def test_metric(task, outputs: np.ndarray) -> np.ndarray:
    """Accuracy per network (classification) or RMSE in the target's units (regression)."""
    if task.task == "classification":
        return (outputs.argmax(axis=-1) == task.y_test.argmax(axis=-1)[None]).mean(axis=1)
    pred = np.stack([task.inverse_y(o) for o in outputs])
    truth = np.asarray(task.y_test_raw, dtype=float).reshape(pred.shape[1:])
    return np.sqrt(((pred - truth) ** 2).mean(axis=(1, 2)))


def run_task(name: str, spec: dict, P: int, epoch_scale: float) -> list[dict[str, Any]]:
    task = spec["load"]()
    epochs = max(1, int(spec["epochs"] * epoch_scale))
    n_in, n_out = task.X_train.shape[1], task.y_train.shape[1]
    init = Network((n_in, spec["hidden"], n_out), hidden_activation=spec["act"],
                   output_activation=spec["out"], n_networks=P, seed=0).params
    rows = []
    for dtype in ("float64", "float32"):
        net = Network((n_in, spec["hidden"], n_out), hidden_activation=spec["act"],
                      output_activation=spec["out"], params=init.astype(dtype))
        t0 = time.perf_counter()
        train(net, task.X_train, task.y_train, X_val=task.X_val, Y_val=task.y_val,
              loss=spec["loss"], optimizer=spec.get("optimizer", "adam"),
              learning_rate=spec["lr"], epochs=epochs, batch_size=32, seed=0)
        sec = time.perf_counter() - t0
        metric = test_metric(task, net.forward(task.X_test.astype(dtype)).astype(float))
        method = spec.get("optimizer", "adam").replace("adam", "Adam").replace("lm", "LM")
        rows.append({"task": name, "method": f"{method}, P = {P}, {epochs} epochs",
                     "dtype": dtype, "metric": metric.tolist(), "seconds": sec,
                     "metric_name": "accuracy" if task.task == "classification" else "RMSE"})
    return rows


def run_ga(seeds: int, quick: bool) -> list[dict[str, Any]]:
    task = split_task(load_dataset("digits"), seed=0)
    pop, gens, bp_epochs, fine = (8, 2, 3, 5) if quick else (20, 5, 10, 40)
    rows = []
    for dtype in ("float64", "float32"):
        metric, secs = [], []
        for seed in range(seeds):
            t0 = time.perf_counter()
            res = evolve(task.X_train, task.y_train, task.X_val, task.y_val,
                         hidden_layer_sizes=(32,), hidden_activation="relu",
                         output_activation="softmax", loss="cross_entropy", mode="baldwinian",
                         ga=GAConfig(population_size=pop, n_generations=gens),
                         bp=BPConfig(optimizer="adam", learning_rate=1e-3, batch_size=32,
                                     bp_epochs=bp_epochs, max_epochs=fine, dtype=dtype),
                         n_baseline=0, n_jobs=1, seed=seed)
            secs.append(time.perf_counter() - t0)
            out = res.network.forward(task.X_test.astype(dtype)).astype(float)
            metric.append(float(test_metric(task, out)[0]))
        rows.append({"task": "digits", "method": f"GA-BP baldwinian {pop} x {gens} x "
                     f"{bp_epochs}, fine-tune {fine}, {seeds} seeds", "dtype": dtype,
                     "metric": metric, "seconds": float(np.sum(secs)),
                     "metric_name": "accuracy"})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and seeds")
    parser.add_argument("--networks", type=int, default=8, help="networks per population")
    parser.add_argument("--seeds", type=int, default=3, help="GA-BP seeds")
    parser.add_argument("--out", default=None, help="JSON output path")
    args = parser.parse_args(argv)
    info = machine()
    print(machine_line(info), "\n")
    rows = []
    for name, spec in TASKS.items():
        rows += run_task(name, spec, args.networks, 0.1 if args.quick else 1.0)
    rows += run_ga(1 if args.quick else args.seeds, args.quick)
    by_key: dict[tuple, dict] = {}
    for r in rows:
        by_key.setdefault((r["task"], r["method"]), {})[r["dtype"]] = r
    lines = []
    for (task, method), d in by_key.items():
        m64, m32 = np.mean(d["float64"]["metric"]), np.mean(d["float32"]["metric"])
        worst = np.max(np.abs(np.subtract(d["float32"]["metric"], d["float64"]["metric"])))
        lines.append([task, method, d["float64"]["metric_name"],
                      mean_std(d["float64"]["metric"]), mean_std(d["float32"]["metric"]),
                      f"{m32 - m64:+.2e}",
                      f"{worst:.2e}",
                      f"{d['float64']['seconds'] / d['float32']['seconds']:.2f}x"])
    print(table(["task", "training", "test metric", "float64", "float32",
                 "float32 - float64 (mean)", "largest difference (one network / seed)",
                 "float32 speed-up"], lines, align="lllrrrrr"))
    result = {"machine": info, "rows": rows}
    path = write_json("float32_accuracy.json", result, args.out)
    print(f"\nwrote {path}")
    return result


if __name__ == "__main__":
    main()
