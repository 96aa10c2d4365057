"""`gabp compare`: one line per run, fitness kinds kept apart, every part, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gabp import plotting  # noqa: E402
from gabp.experiment import run_experiment  # noqa: E402
from gabp.report import compare_runs  # noqa: E402

TINY = {
    "seed": 1,
    "data": {"dataset": "sunspots", "n_lags": 5},
    "network": {"hidden_layer_sizes": [3]},
    "ga": {"population_size": 4, "n_generations": 2},
    "bp": {"bp_epochs": 1, "max_epochs": 10, "patience": 5},
    "run": {"mode": "lamarckian", "n_baseline": 2, "checkpoint_every": 1, "report": False},
}


def _cfg(**sections):
    cfg = json.loads(json.dumps(TINY))
    for k, v in sections.items():
        cfg[k].update(v)
    return cfg


@pytest.fixture(scope="module")
def four_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    runs = [
        run_experiment(_cfg(), out=out, name="short", verbose=0),
        run_experiment(_cfg(ga={"n_generations": 4}), out=out, name="long", verbose=0),
        run_experiment(_cfg(run={"mode": "classic"}), out=out, name="classic", verbose=0),
        run_experiment(_cfg(run={"mode": "bp"}), out=out, name="plain", verbose=0),
    ]
    return out, [r.path for r in runs]


def _figure(monkeypatch):
    saved = {}
    real = plotting.save_figure

    def keep(fig, path, **kw):
        saved["fig"] = fig
        return real(fig, path, **kw)

    monkeypatch.setattr(plotting, "save_figure", keep)
    return saved


def test_runs_stay_apart_and_fitness_kinds_get_their_own_panel(four_runs, tmp_path,
                                                                monkeypatch):
    _, paths = four_runs
    saved = _figure(monkeypatch)
    rows, fig_path = compare_runs(paths, out=tmp_path / "c.png")
    assert os.path.isfile(fig_path)
    assert [r["mode"] for r in rows] == ["lamarckian", "lamarckian", "classic", "bp"]
    assert all(r["dataset"] == "sunspots" for r in rows)
    assert "plain BP rmse" in rows[0] and "plain BP rmse" not in rows[3]  # bp has no baseline
    assert set(rows[0]) == {"run", "dataset", "mode", "rmse", "mae", "r2", "plain BP rmse",
                            "plain BP mae", "plain BP r2"}  # the narrow table
    axes = saved["fig"].axes
    titles = [a.get_title().replace("\n", " ") for a in axes]
    trained = next(a for a, t in zip(axes, titles, strict=True) if "after 1 BP epoch" in t)
    untrained = next(a for a, t in zip(axes, titles, strict=True) if "untrained" in t)
    # The 2- and 4-generation runs are two lines with their own lengths, not one mean.
    labels = trained.get_legend_handles_labels()[1]
    assert len(labels) == 2 and all("mean" not in lab for lab in labels)
    assert sorted(len(ln.get_xdata()) for ln in trained.lines) == [3, 5]
    assert len(untrained.lines) == 1
    # The metric panel lists every run, the bp run too.
    metric = next(a for a, t in zip(axes, titles, strict=True) if "test rmse per run" in t)
    ticks = [t.get_text() for t in metric.get_yticklabels()]
    assert len(ticks) == 4 and "(bp)" in ticks[3]
    dots = [ln.get_xdata()[0] for ln in metric.lines if ln.get_marker() == "o"]
    np.testing.assert_allclose(dots, [r["rmse"] for r in rows])


def test_band_on_request_and_x_axis_choices(four_runs, tmp_path, monkeypatch):
    _, paths = four_runs
    saved = _figure(monkeypatch)
    compare_runs(paths[:2], out=tmp_path / "b.png", band="std", x="evals")
    ax = saved["fig"].axes[0]
    assert ax.get_legend_handles_labels()[1] == ["lamarckian mean (n=2)", "lamarckian ± std"]
    assert ax.get_xlabel() == "evaluations"
    compare_runs(paths[:2], out=tmp_path / "t.png", x="time")
    assert saved["fig"].axes[0].get_xlabel() == "wall time (s)"


def test_every_part_or_a_clear_error(four_runs):
    _, paths = four_runs
    for part in ("train", "val", "test"):
        rows, _ = compare_runs(paths, part=part, figure=False)
        assert all(np.isfinite(r["rmse"]) for r in rows)
    with pytest.raises(ValueError, match="'part' parameter of compare_runs must be a part "
                                         "every run has .*Got 'vall' instead"):
        compare_runs(paths, part="vall", figure=False)
    with pytest.raises(ValueError, match="'x' parameter of compare_runs"):
        compare_runs(paths, x="epochs", figure=False)


def test_cli_draws_the_figure_by_default_and_says_where(four_runs, tmp_path):
    _, paths = four_runs
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.getcwd())
    res = subprocess.run([sys.executable, "-m", "gabp", "compare", *paths, "--part", "val"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "figure: compare.png" in res.stdout and (tmp_path / "compare.png").is_file()
    header = next(line for line in res.stdout.splitlines() if line.startswith("| run"))
    assert header.startswith("| run | dataset | mode |")
    assert res.stdout.count("| sunspots |") == 4
    res = subprocess.run([sys.executable, "-m", "gabp", "compare", *paths, "--part", "nope"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Got 'nope' instead" in res.stderr


def test_mean_and_std_of_an_infinite_baseline_metric_warn_nothing():
    import warnings

    from gabp.experiment import _mean_std

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "invalid value encountered in subtract"
        mean, std = _mean_std([{"mape": float("inf"), "rmse": 1.0},
                               {"mape": float("inf"), "rmse": 2.0}])
    assert mean == {"mape": float("inf"), "rmse": 1.5}
    assert std["rmse"] == 0.5 and std["mape"] != std["mape"]  # NaN: no spread to report
