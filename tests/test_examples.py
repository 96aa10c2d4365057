"""Every example runs: each TOML config through run_experiment (one through the ``gabp``
command line) and each script's ``main``, all with a tiny budget."""

from __future__ import annotations

import importlib.util
import inspect
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gabp.config import dump_toml, load_config
from gabp.data import load_dataset
from gabp.experiment import run_experiment
from gabp.runs import read_csv

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONFIGS = sorted(p.name for p in EXAMPLES.glob("*.toml"))
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))
RUN_FILES = ("config.toml", "meta.json", "metrics.json", "logbook.csv", "bp_curve.csv",
             "predictions.csv", "model.npz")


def tiny(name: str, **run: object) -> dict:
    """The example config with a tiny budget (and no report unless asked)."""
    cfg = load_config(EXAMPLES / name)
    cfg["ga"].update(population_size=4, n_generations=2)
    cfg["bp"].update(bp_epochs=1, max_epochs=15, patience=5)
    cfg["run"].update(n_baseline=2, report=False, checkpoint_every=1)
    cfg["run"].update(run)
    if "search" in cfg:  # hyperparameter-search examples
        cfg["search"].update(population_size=4, n_generations=1)
        cfg["search"].setdefault("space", {})["max_epochs"] = 10
    return cfg


def chance(dataset: str) -> float:
    """Accuracy of always predicting the most frequent class."""
    y = load_dataset(dataset).y
    return float(np.bincount(y).max() / len(y))


def test_every_example_is_here():
    expected = {"sunspots", "mackey_glass", "function", "breast_cancer", "digits", "xor"}
    assert {c.removesuffix(".toml") for c in CONFIGS} >= expected
    assert {s.removesuffix(".py") for s in SCRIPTS} >= (expected - {"function"}) | {
        "function_fitting"}
    for name in CONFIGS:  # each config says what it shows
        assert (EXAMPLES / name).read_text().startswith("#"), name


SEARCH_CONFIGS = [c for c in CONFIGS if "search" in load_config(EXAMPLES / c)]


@pytest.mark.parametrize("name", SEARCH_CONFIGS)
def test_search_config_runs_with_tiny_budget(name, tmp_path):
    cfg = tiny(name)
    run = run_experiment(cfg, out=tmp_path, verbose=0)
    for f in RUN_FILES + ("search.csv",):
        assert os.path.isfile(os.path.join(run.path, f)), f
    m = run.metrics
    assert m["mode"] == "search" and m["generations"] == 1
    assert m["search"]["n_trainings"] + m["search"]["n_cache_hits"] >= 4
    if m["task"] == "classification":
        assert m["gabp"]["test"]["accuracy"] > chance(cfg["data"]["dataset"]) + 0.05


@pytest.mark.parametrize("name", [c for c in CONFIGS if c != "xor.toml"
                                  and c not in SEARCH_CONFIGS])
def test_config_runs_with_tiny_budget(name, tmp_path):
    cfg = tiny(name)
    run = run_experiment(cfg, out=tmp_path, verbose=0)
    for f in RUN_FILES:
        assert os.path.isfile(os.path.join(run.path, f)), f
    m = run.metrics
    assert m["generations"] == 2 and m["n_failed"] == 0
    assert m["gabp_total_steps"] > 0 and m["baseline"]["n_restarts"] == 2
    assert "test" in m["gabp"]
    dataset = cfg["data"]["dataset"]
    if m["task"] == "classification":
        for part, rep in m["gabp"].items():
            assert rep["accuracy"] > chance(dataset) + 0.05, (part, rep["accuracy"])
            assert math.isfinite(m["baseline"]["mean"][part]["accuracy"])
    else:
        for part, rep in m["gabp"].items():
            assert math.isfinite(rep["rmse"]) and rep["rmse"] > 0
            assert rep["r2"] > 0.0, (part, rep["r2"])  # better than predicting the mean
            assert math.isfinite(m["baseline"]["mean"][part]["rmse"])
    if name == "mackey_glass.toml":  # the literature's split: 500 test pairs
        assert m["gabp"]["test"]["n_samples"] == 500
    if name == "function.toml":
        assert run.config["ga"]["preset"] == "classic" and m["mode"] == "classic"
    rows = read_csv(os.path.join(run.path, "predictions.csv"))
    assert {r["part"] for r in rows} >= {"train", "val", "test"}


def test_xor_config_learns_xor(tmp_path):
    """No validation or test part: fitness on the training rows; the 4 rows are learned."""
    cfg = load_config(EXAMPLES / "xor.toml")
    cfg["run"]["report"] = False
    run = run_experiment(cfg, out=tmp_path, verbose=0)
    rows = read_csv(os.path.join(run.path, "predictions.csv"))
    assert len(rows) == 4 and {r["part"] for r in rows} == {"train"}
    for r in rows:
        assert round(r["y_pred"]) == r["y_true"], r
    pred = run.model.predict(np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_array_equal(np.round(pred).ravel(), [0, 1, 1, 0])


def test_sunspots_config_through_the_command_line(tmp_path):
    config = tmp_path / "sunspots.toml"
    config.write_text(dump_toml(tiny("sunspots.toml", report=True)))
    exe = shutil.which("gabp")
    cmd = [exe] if exe else [sys.executable, "-m", "gabp.cli"]
    proc = subprocess.run(
        [*cmd, "run", str(config), "--out", str(tmp_path / "runs"), "--name", "cli", "--seed",
         "3", "-q"], capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(  # this checkout, not an install
            [str(EXAMPLES.parent), os.environ.get("PYTHONPATH", "")])))
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.endswith("-cli")
    for f in (*RUN_FILES, "report.md", "predictions.png", "convergence.png"):
        assert (run_dir / f).is_file(), f
    assert "test rmse" in proc.stdout


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name[:-3]}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the __main__ guard keeps this side-effect free
    return module


def finite_values(d: dict) -> list[float]:
    return [v for part in ("gabp", "plain_bp") for v in d[part].values()]


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_runs_with_tiny_budget(name, tmp_path, capsys):
    module = load_script(name)
    assert "if __name__ == \"__main__\":" in (EXAMPLES / name).read_text()
    assert set(module.BUDGETS) >= {"default", "tiny"}
    kwargs = {"out": str(tmp_path)} if "out" in inspect.signature(module.main).parameters else {}
    res = module.main("tiny", **kwargs)
    printed = capsys.readouterr().out
    assert "GA-BP" in printed and "plain BP" in printed
    if name == "xor.py":
        assert res["correct"] and len(res["predictions"]) == 4
        return
    assert all(math.isfinite(v) for v in finite_values(res))
    if "accuracy" in res["gabp"]:
        dataset = name[:-3].removesuffix("_cnn")  # digits_cnn.py classifies digits
        assert res["gabp"]["accuracy"] > chance(dataset) + 0.05
        assert res["plain_bp"]["accuracy"] > chance(dataset)
    for path in res.get("figures", []):
        assert Path(path).is_file() and Path(path).stat().st_size > 1000
    if name in ("sunspots.py", "function_fitting.py", "digits.py"):
        assert res["figures"], "this example saves figures"
