"""Dated series through ``gabp run`` and ``gabp predict`` (subprocesses), and the series
parts of a run folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import gabp

CONFIG = """
name = "co2"
seed = 0
[data]
csv = "co2.csv"
target = "co2"
date_column = "date"
n_lags = 12
difference = "auto"
seasonal_period = 12
[network]
hidden_layer_sizes = [6]
[ga]
population_size = 6
n_generations = 2
[bp]
bp_epochs = 1
max_epochs = 40
[run]
n_baseline = 2
"""


def _dates(n, start_year=1958, start_month=3):
    out = []
    for i in range(n):
        m = start_month - 1 + i
        out.append(f"{start_year + m // 12}-{m % 12 + 1:02d}-01")
    return out


def _write_csv(path, dates, values):
    text = "".join(f"{d},{v:.3f}\n" for d, v in zip(dates, values, strict=True))
    path.write_text("date,co2\n" + text)


def _co2(n):
    t = np.arange(n)
    return 315 + 0.1 * t + 3 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(
        0, 0.3, n)




@pytest.fixture(scope="module")
def dated_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dated")
    _write_csv(tmp / "co2.csv", _dates(240), _co2(240))
    (tmp / "cfg.toml").write_text(CONFIG)
    res = gabp("run", "cfg.toml", "--out", "out", "-q", cwd=tmp)
    assert res.returncode == 0, res.stderr
    return tmp, next((tmp / "out").iterdir()), res


def test_iso_dated_csv_runs_end_to_end_with_naive_baselines(dated_run):
    tmp, run_dir, res = dated_run
    for name in ("report.md", "predictions.png", "errors.png", "metrics.json", "model.npz"):
        assert (run_dir / name).is_file(), name
    assert "test rmse of naive forecasts: persistence" in res.stdout
    m = json.loads((run_dir / "metrics.json").read_text())
    assert set(m["naive"]) == {"persistence", "seasonal_naive"}
    assert {"mase", "rmsse"} <= set(m["gabp"]["test"]) and "mase" in m["baseline"]["mean"]["test"]
    # the differencing was chosen on validation (the lowest candidate RMSE) and recorded
    diff = m["differencing"]
    assert diff["requested"]["difference"] == "auto" and len(diff["scores"]) == 2
    best = min(diff["scores"], key=diff["scores"].get)
    assert best == f"difference={diff['difference']}, seasonal_difference=0"
    assert m["gabp"]["test"]["rmse"] < m["naive"]["persistence"]["test"]["rmse"]
    rows = (run_dir / "predictions.csv").read_text().splitlines()
    assert rows[0].split(",")[:2] == ["part", "index"] and "persistence_pred" in rows[0]
    # dates kept: the first target follows 12 lags (and one more value when differenced)
    assert rows[1].split(",")[1] == ("1959-04-01" if diff["difference"] else "1959-03-01")
    report = (run_dir / "report.md").read_text()
    assert "## Against the naive forecasts" in report and "| test | mase |" in report


def test_persistence_in_metrics_is_the_previous_value(dated_run):
    tmp, run_dir, _ = dated_run
    lines = (run_dir / "predictions.csv").read_text().splitlines()
    head = lines[0].split(",")
    rows = [dict(zip(head, line.split(","), strict=True)) for line in lines[1:]]
    test = [r for r in rows if r["part"] == "test"]
    values = {r["index"]: float(r["y_true"]) for r in rows}
    dates = sorted(values)
    for r in test:
        prev = dates[dates.index(r["index"]) - 1]
        assert float(r["persistence_pred"]) == pytest.approx(values[prev])
    err = np.array([float(r["persistence_pred"]) - float(r["y_true"]) for r in test])
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["naive"]["persistence"]["test"]["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))


def test_predict_writes_dated_forecasts_with_intervals(dated_run):
    tmp, run_dir, _ = dated_run
    res = gabp("predict", str(run_dir), "co2.csv", "--steps", "14", "-o", "fc.csv", cwd=tmp)
    assert res.returncode == 0, res.stderr
    lines = (tmp / "fc.csv").read_text().splitlines()
    assert lines[0] == "date,forecast,lower,upper" and len(lines) == 15
    assert lines[1].startswith("1978-03-01,") and lines[14].startswith("1979-04-01,")
    vals = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    assert np.all(vals[:, 1] < vals[:, 0]) and np.all(vals[:, 0] < vals[:, 2])
    assert np.all(np.abs(vals[:, 0] - _co2(254)[240:]) < 3.0)
    # 12 lags (+ 1 value when the run chose a first difference) are exactly enough
    d = json.loads((run_dir / "metrics.json").read_text())["differencing"]["difference"]
    need = 12 + d
    _write_csv(tmp / "short.csv", _dates(need), _co2(need))
    assert gabp("predict", str(run_dir), "short.csv", cwd=tmp).returncode == 0
    _write_csv(tmp / "shorter.csv", _dates(need - 1), _co2(need - 1))
    res = gabp("predict", str(run_dir), "shorter.csv", cwd=tmp)
    assert res.returncode != 0 and f"at least {need} values" in res.stderr


@pytest.mark.parametrize("problem, message", [
    ("duplicate", "duplicate times 1958-05-01 and 1958-05-01"),
    ("unordered", "out-of-order times"),
])
def test_bad_dates_fail_before_any_work(tmp_path, problem, message):
    dates = _dates(120)
    if problem == "duplicate":
        dates[3] = dates[2]
    else:
        dates[3], dates[4] = dates[4], dates[3]
    _write_csv(tmp_path / "co2.csv", dates, _co2(120))
    (tmp_path / "cfg.toml").write_text(CONFIG)
    res = gabp("run", "cfg.toml", "--out", "out", "-q", cwd=tmp_path)
    assert res.returncode != 0 and message in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()  # nothing was trained or written


def test_differencing_config_errors(tmp_path):
    from gabp.config import ConfigError, resolve_config

    base = {"data": {"dataset": "sunspots", "difference": 2}}
    with pytest.raises(ConfigError, match='difference: must be 0, 1 or "auto"'):
        resolve_config(base)
    with pytest.raises(ConfigError, match="seasonal_difference: needs 'seasonal_period'"):
        resolve_config({"data": {"dataset": "sunspots", "seasonal_difference": 1}})
    with pytest.raises(ConfigError, match="needs horizon = 1"):
        resolve_config({"data": {"dataset": "sunspots", "difference": 1, "horizon": 3}})


def test_search_and_builtin_series_runs_report_the_naive_forecasts(tmp_path):
    from gabp import run_experiment

    cfg = {"seed": 0, "data": {"dataset": "sunspots", "n_lags": 6, "seasonal_period": 11},
           "search": {"population_size": 4, "n_generations": 1}, "run": {"report": False}}
    m = run_experiment(cfg, out=tmp_path, verbose=0).metrics
    assert set(m["naive"]) == {"persistence", "seasonal_naive"}
    assert m["gabp"]["test"]["mase"] > 0
    cfg = {"seed": 0, "data": {"dataset": "mackey_glass", "classic_split": True},
           "ga": {"population_size": 4, "n_generations": 1}, "bp": {"max_epochs": 5},
           "run": {"n_baseline": 1, "report": False}}
    m = run_experiment(cfg, out=tmp_path, verbose=0).metrics
    assert list(m["naive"]) == ["persistence"] and m["naive"]["persistence"]["test"]["mase"] > 0
    assert m["differencing"]["ops"] == []
