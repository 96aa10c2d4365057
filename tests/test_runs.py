"""Run folders: config validation, files, model round trip, refusal to overwrite, resume."""

import json
import os

import numpy as np
import pytest
from helpers import full_and_resumed

from gabp.config import ConfigError, dump_toml, load_config, resolve_config
from gabp.experiment import resume_experiment, run_experiment
from gabp.model import Model
from gabp.runs import RunExistsError, load_run, read_csv

TINY = {
    "seed": 3,
    "data": {"dataset": "sunspots", "n_lags": 6},
    "network": {"hidden_layer_sizes": [4]},
    "ga": {"population_size": 6, "n_generations": 4},
    "bp": {"bp_epochs": 1, "max_epochs": 15, "patience": 5},
    "run": {"mode": "lamarckian", "n_baseline": 2, "checkpoint_every": 1, "report": False},
}


def _cfg(**sections):
    cfg = json.loads(json.dumps(TINY))
    for k, v in sections.items():
        if isinstance(v, dict):
            cfg.setdefault(k, {}).update(v)
        else:
            cfg[k] = v
    return cfg


@pytest.fixture(scope="module")
def series_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return run_experiment(_cfg(run={"report": True}), out=out, name="tiny", verbose=0)


def test_run_folder_holds_every_file(series_run):
    files = set(os.listdir(series_run.path))
    for name in ("config.toml", "meta.json", "logbook.csv", "bp_curve.csv", "metrics.json",
                 "predictions.csv", "model.npz", "checkpoint.npz", "report.md",
                 "convergence.png", "bp_curve.png", "predictions.png", "errors.png"):
        assert name in files, name
    assert not [f for f in files if f.endswith(".tmp")]
    assert series_run.name.endswith("-tiny")
    meta = series_run.meta
    assert meta["seed"] == 3 and meta["status"] == "finished"
    assert meta["versions"]["numpy"] == np.__version__
    assert len(series_run.logbook) == 5
    m = series_run.metrics
    for key in ("rmse", "mae", "nrmse", "r2"):
        assert np.isfinite(m["gabp"]["test"][key])
        assert np.isfinite(m["baseline"]["mean"]["test"][key])
    assert m["baseline"]["n_restarts"] == 2
    assert m["baseline"]["budget_steps"] >= m["gabp_total_steps"]
    report = open(os.path.join(series_run.path, "report.md")).read()
    assert "GA-BP vs plain BP" in report and "![convergence.png](convergence.png)" in report


def test_loaded_model_predicts_what_the_run_recorded(series_run):
    run = load_run(series_run.path)
    rows = [r for r in run.predictions if r["part"] == "test"]
    # rebuild the test windows from the raw series: years are the targets' times
    from gabp.data import load_dataset, make_windows

    ds = load_dataset("sunspots")
    win = make_windows(ds.series, n_lags=6, index=ds.series_index)
    by_year = {float(t): i for i, t in enumerate(win.index)}
    X = np.array([win.X[by_year[r["index"]]] for r in rows])
    pred = run.model.predict(X)[:, 0]
    np.testing.assert_allclose(pred, [r["y_pred"] for r in rows], rtol=1e-12)
    np.testing.assert_allclose([r["y_true"] for r in rows], [win.y[by_year[r["index"]], 0]
                                                            for r in rows])
    rmse = np.sqrt(np.mean((pred - np.array([r["y_true"] for r in rows])) ** 2))
    assert rmse == pytest.approx(run.metrics["gabp"]["test"]["rmse"])


def test_model_round_trip_without_pickle(series_run, tmp_path):
    model = series_run.model
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as data:  # no object arrays inside
        assert set(data.files) == {"params", "meta"}
    again = Model.load(path)
    X = np.random.default_rng(0).uniform(0, 150, (5, 6))
    np.testing.assert_array_equal(model.predict(X), again.predict(X))
    history = np.arange(20.0)
    fc = again.forecast(history, 3)  # recursive: each forecast becomes the newest lag
    assert fc.shape == (3,)
    assert fc[0] == pytest.approx(again.predict(history[None, -6:])[0, 0])
    assert fc[1] == pytest.approx(again.predict(np.r_[history[-5:], fc[0]][None])[0, 0])
    assert again.forecast(history[:6], 1).shape == (1,)  # 6 lags: 6 values suffice
    with pytest.raises(ValueError, match="at least 6 values"):
        again.forecast(history[:5], 1)
    with pytest.raises(ValueError, match="6 columns"):
        again.predict(X[:, :4])


def test_classification_run_and_labels(tmp_path):
    cfg = _cfg(data={"dataset": "iris", "n_lags": None},
               bp={"max_epochs": 60, "learning_rate": 0.05}, run={"report": True})
    run = run_experiment(cfg, out=tmp_path, verbose=0)
    assert run.metrics["task"] == "classification"
    assert run.metrics["gabp"]["test"]["accuracy"] > 0.6
    labels = run.model.predict(np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]))
    assert set(labels) <= {"setosa", "versicolor", "virginica"}
    assert os.path.isfile(os.path.join(run.path, "confusion_matrix.png"))
    proba = run.model.predict_proba(np.array([[5.1, 3.5, 1.4, 0.2]]))
    assert proba.shape == (1, 3) and proba.sum() == pytest.approx(1.0)


def test_existing_run_folder_is_not_overwritten(series_run):
    with pytest.raises(RunExistsError, match="exists already"):
        run_experiment(_cfg(), run_dir=series_run.path, verbose=0)


def test_resume_after_interruption_equals_uninterrupted(tmp_path):
    full, resumed = full_and_resumed(_cfg(ga={"n_generations": 5}), tmp_path)
    assert resumed.metrics["gabp"] == full.metrics["gabp"]
    assert resumed.metrics["baseline"]["mean"] == full.metrics["baseline"]["mean"]
    strip = [{k: v for k, v in r.items() if k != "elapsed"} for r in full.logbook]
    assert strip == [{k: v for k, v in r.items() if k != "elapsed"} for r in resumed.logbook]


def test_resume_without_checkpoint_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint.npz"):
        resume_experiment(tmp_path)


def test_config_round_trip(tmp_path):
    cfg = resolve_config(_cfg(ga={"bounds": [-1.0, 1.0], "stagnation": 3}))
    path = tmp_path / "c.toml"
    path.write_text(dump_toml(cfg))
    again = load_config(path)
    assert again == json.loads(json.dumps(cfg))


@pytest.mark.parametrize(
    "text, match",
    [
        ('[data]\ndataset = "sunspots"\n[ga]\npopulaton_size = 3\n',
         r"line 4: \[ga\] populaton_size: unknown key; did you mean 'population_size'"),
        ('[data]\ndataset = "sunspots"\n\n[bp]\nlearning_rate = "fast"\n',
         r"line 5: \[bp\] learning_rate: must be an integer or a number, got 'fast'"),
        ('[data]\ncsv = "missing.csv"\ntarget = "y"\n', r"line 2: \[data\] csv: file not found"),
        ('[data]\ndataset = "sunspot"\n', r"line 2: \[data\] dataset: unknown dataset 'sunspot'"),
        ('[data]\ndataset = "iris"\n[run]\nmode = "genetic"\n', r"line 4: \[run\] mode: must be"),
        ('[data]\ndataset = "iris"\n[ga]\nn_elite = 99\n', r"line 4: \[ga\] n_elite: .*\[0, 39\]"),
        ('[data]\ndataset = "iris"\n[netwrok]\n', r"line 3: \[netwrok\]: unknown table"),
        ('seed = 1.5\n[data]\ndataset = "iris"\n', r"line 1: seed: must be an integer"),
        ('[data]\n', r"give exactly one of 'dataset'"),
        ('[data\n', r"not valid TOML"),
    ],
)
def test_bad_configs_name_key_and_line(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_csv_dataset_run(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (80, 2))
    y = X[:, 0] - 2 * X[:, 1]
    lines = ["a,b,target"] + [f"{u},{v},{t}" for (u, v), t in zip(X, y, strict=True)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "c.toml").write_text(
        '[data]\ncsv = "d.csv"\ntarget = "target"\n[network]\nhidden_layer_sizes = [3]\n'
        '[ga]\npopulation_size = 4\nn_generations = 1\n[bp]\nmax_epochs = 20\n'
        '[run]\nn_baseline = 0\nreport = false\n')
    run = run_experiment(tmp_path / "c.toml", out=tmp_path / "runs", verbose=0)
    assert run.model.feature_names == ["a", "b"]
    assert "baseline" not in run.metrics
    rows = read_csv(os.path.join(run.path, "predictions.csv"))
    assert {r["part"] for r in rows} == {"train", "val", "test"}


def test_search_run_writes_hyperparameter_records(tmp_path):
    cfg = {"seed": 0, "data": {"dataset": "iris"},
           "search": {"population_size": 4, "n_generations": 1, "fitness": "error_rate",
                      "space": {"n_layers": 1, "units": [3, 8], "max_epochs": 20,
                                "activation": ["tanh", "relu"]}}}
    run = run_experiment(cfg, out=tmp_path, verbose=0)
    assert run.metrics["mode"] == "search"
    assert run.metrics["gabp"]["test"]["accuracy"] > 0.5
    assert run.search and "hidden_1" in run.search[0] and "activation" in run.search[0]
    assert os.path.isfile(os.path.join(run.path, "hyperparameters.png"))
    pred = run.model.predict(np.array([[5.1, 3.5, 1.4, 0.2]]))
    assert pred[0] in {"setosa", "versicolor", "virginica"}


def test_search_series_run_uses_the_best_lags(tmp_path):
    cfg = {"seed": 0, "data": {"dataset": "sunspots"},
           "search": {"population_size": 4, "n_generations": 1,
                      "space": {"n_lags": [3, 8], "n_layers": 1, "units": [3, 6],
                                "max_epochs": 20}}}
    run = run_experiment(cfg, out=tmp_path, verbose=0)
    lags = run.metrics["best_params"]["n_lags"]
    assert 3 <= lags <= 8 and run.model.windowing["n_lags"] == lags
    assert np.isfinite(run.metrics["gabp"]["test"]["rmse"])
    test_years = [r["index"] for r in run.predictions if r["part"] == "test"]
    train_years = [r["index"] for r in run.predictions if r["part"] == "train"]
    assert min(test_years) > max(train_years)


def test_bad_search_table(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[data]\ndataset = "iris"\n[search]\npopulation = 4\n')
    with pytest.raises(ConfigError, match=r"line 4: \[search\] population: unknown key; did "
                                          r"you mean 'population_size'"):
        load_config(path)
    path.write_text('[data]\ndataset = "iris"\n[search.space]\nactivation = ["tanhh"]\n')
    with pytest.raises(ConfigError, match=r"line 3: \[search.space\]"):
        load_config(path)


def test_a_season_longer_than_the_training_part_is_refused_before_the_folder(tmp_path):
    # found by the config-mutation property test: the run trained, then failed in MASE
    cfg = _cfg(data={"dataset": "sunspots", "n_lags": 6, "seasonal_period": 10**12})
    with pytest.raises(ConfigError, match=r"seasonal_period.*not below the training part"):
        run_experiment(cfg, out=tmp_path, verbose=0)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("ensemble", [0, 7])
def test_an_ensemble_outside_the_population_is_refused_when_the_config_loads(ensemble):
    # found by the slow config-mutation test: evolve refused it, after the folder existed
    with pytest.raises(ConfigError, match=r"\[run\].*ensemble.*\[1, 6\]"):
        resolve_config(_cfg(run={"ensemble": ensemble}))
    assert resolve_config(_cfg(run={"ensemble": 6}))["run"]["ensemble"] == 6
