"""The linear part: ridge with a leave-one-out penalty, and the ridge + network hybrid of the
regressor and the forecaster (``linear=True``)."""

import numpy as np
import pytest

from gabp import GABPForecaster, GABPRegressor
from gabp.ridge import ALPHAS, fit_linear_part, fit_ridge, residual_scale

SMALL = dict(population_size=6, n_generations=3, bp_epochs=2, max_epochs=30)


def _ridge_by_hand(X, Y, alpha):
    """Ridge with an unpenalized intercept from the normal equations of the centred data."""
    xm, ym = X.mean(axis=0), Y.mean(axis=0)
    Xc = X - xm
    coef = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (Y - ym))
    return coef, ym - xm @ coef


def test_fit_ridge_matches_the_normal_equations_and_brute_force_leave_one_out(rng):
    X = rng.normal(size=(40, 5))
    Y = X @ rng.normal(size=(5, 2)) + 3.0 + rng.normal(0, 0.7, (40, 2))
    fit = fit_ridge(X, Y)
    coef, intercept = _ridge_by_hand(X, Y, fit.alpha)
    np.testing.assert_allclose(fit.coef, coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit.intercept, intercept, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit.predict(X), X @ coef + intercept, rtol=1e-9)
    for i in (0, len(ALPHAS) // 2, len(ALPHAS) - 1):  # each penalty's LOO error, refitting
        errs = []
        for j in range(X.shape[0]):
            keep = np.arange(X.shape[0]) != j
            c, b = _ridge_by_hand(X[keep], Y[keep], ALPHAS[i])
            errs.append((X[j] @ c + b - Y[j]) ** 2)
        np.testing.assert_allclose(fit.loo_mse[i], np.mean(errs), rtol=1e-9)
    assert fit.loo_mse[ALPHAS.index(fit.alpha)] == fit.loo_mse.min()


def test_fit_ridge_picks_a_large_penalty_for_noise_and_a_small_one_for_a_clean_signal(rng):
    X = rng.normal(size=(60, 8))
    clean = fit_ridge(X, X @ rng.normal(size=(8, 1)))
    noise = fit_ridge(X, rng.normal(size=(60, 1)))
    assert clean.alpha == ALPHAS[0] and noise.alpha >= 10.0
    const = fit_ridge(np.ones((10, 2)), np.arange(10.0)[:, None])  # no usable column
    np.testing.assert_allclose(const.coef, 0.0)
    np.testing.assert_allclose(const.intercept, [4.5])
    assert const.alpha == ALPHAS[-1]  # ties go to the larger penalty


def test_residual_scale_gives_the_residuals_the_targets_spread(rng):
    Y = rng.normal(0, 3.0, (50, 3))
    Y[:, 2] = 1.0  # a constant target: nothing to rescale
    R = np.column_stack([0.5 * Y[:, 0], np.zeros(50), rng.normal(size=50)])
    np.testing.assert_allclose(residual_scale(R, Y), [0.5, 1.0, 1.0])
    X = rng.normal(size=(50, 2))
    fit, scale = fit_linear_part(X, Y[:, :2])
    resid = (Y[:, :2] - fit.predict(X)) / scale
    np.testing.assert_allclose(resid.std(axis=0), Y[:, :2].std(axis=0))


def test_fit_ridge_rejects_bad_input():
    X = np.ones((5, 2))
    with pytest.raises(ValueError, match="'Y' parameter of fit_ridge must be 5 rows"):
        fit_ridge(X, np.ones((4, 1)))
    two = fit_ridge(np.array([[0.0], [1.0]]), np.array([[1.0], [3.0]]))  # no LOO choice
    assert two.alpha == max(ALPHAS) and np.isnan(two.loo_mse).all()
    np.testing.assert_allclose(two.coef, [[2.0 / (1.0 + 2 * max(ALPHAS))]])
    with pytest.raises(ValueError, match="'alphas' parameter"):
        fit_ridge(X, np.ones((5, 1)), alphas=(1.0, -1.0))
    with pytest.raises(ValueError, match="'X' parameter"):
        fit_ridge(np.full((5, 2), np.nan), np.ones((5, 1)))


def test_regressor_linear_part_learns_a_linear_target_a_small_network_misses(rng):
    X = rng.normal(size=(200, 4))
    y = X @ np.array([3.0, -2.0, 0.5, 1.0]) + 4.0
    errors = {}
    for linear in (False, True):
        reg = GABPRegressor(random_state=0, linear=linear, **SMALL).fit(X[:150], y[:150])
        errors[linear] = float(np.sqrt(np.mean((reg.predict(X[150:]) - y[150:]) ** 2)))
    assert errors[True] < 0.02 * np.std(y)  # the ridge fits it; the network adds ~nothing
    assert errors[True] < 0.2 * errors[False]


def test_regressor_prediction_is_the_ridge_plus_the_rescaled_network(rng):
    X = rng.normal(size=(120, 3))
    y = np.column_stack([X[:, 0] + np.sin(2 * X[:, 1]), X[:, 2] ** 2 - X[:, 0]])
    reg = GABPRegressor(random_state=1, linear=True, **SMALL).fit(X, y)
    assert reg.linear_.coef.shape == (3, 2) and reg.residual_scale_.shape == (2,)
    assert np.all(reg.residual_scale_ > 0)
    Xs = reg.input_scaler_.transform(X)
    scaled = reg.linear_.predict(Xs) + reg.residual_scale_ * reg.network_.forward(Xs).mean(0)
    np.testing.assert_allclose(reg.predict(X), reg.target_scaler_.inverse_transform(scaled),
                               rtol=1e-10, atol=1e-10)
    again = GABPRegressor(random_state=1, linear=True, **SMALL).fit(X, y)
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))  # deterministic
    plain = GABPRegressor(random_state=1, **SMALL).fit(X, y)
    assert plain.linear_ is None and plain.residual_scale_ is None
    assert GABPRegressor(linear=True).get_params()["linear"] is True


def test_regressor_linear_must_be_a_bool(rng):
    X, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    with pytest.raises(TypeError, match="'linear' parameter of GABPRegressor must be a bool"):
        GABPRegressor(linear="yes", **SMALL).fit(X, y)


def test_forecaster_linear_ridge_sees_only_the_rows_before_the_validation_part():
    t = np.arange(160)
    y = np.sin(2 * np.pi * t / 16) + 0.02 * t
    other = y.copy()
    other[-30:] += 5.0  # the validation part (the last 20 %) only
    kw = dict(n_lags=8, difference=0, alpha=0.01, linear=True, random_state=0, **SMALL)
    a, b = GABPForecaster(**kw).fit(y), GABPForecaster(**kw).fit(other)
    assert a.regressor_.linear is True
    np.testing.assert_array_equal(a.regressor_.linear_.coef, b.regressor_.linear_.coef)
    np.testing.assert_array_equal(a.regressor_.linear_.intercept,
                                  b.regressor_.linear_.intercept)


def test_forecaster_linear_forecasts_a_linear_recursion_almost_exactly():
    y = np.zeros(200)
    y[:2] = 1.0, 0.5
    for i in range(2, 200):  # a damped oscillation: an exact AR(2)
        y[i] = 1.6 * y[i - 1] - 0.8 * y[i - 2] + 0.05
    y += 0.001 * np.sin(np.arange(200))  # a trace of something else
    errs = {}
    for linear in (False, True):
        fc = GABPForecaster(n_lags=2, difference=0, alpha=1e-4, linear=linear, random_state=0,
                            **SMALL).fit(y[:160])
        bt = fc.backtest(y, initial_train_size=160)
        errs[linear] = bt.metrics["gabp"]["rmse"]
    assert errs[True] < 0.01 * np.std(y[:160])
    assert errs[True] < errs[False]


# ------------------------------------------------------------- [network] linear in runs

TINY_RUN = {
    "seed": 3,
    "data": {"dataset": "sunspots", "n_lags": 6},
    "network": {"hidden_layer_sizes": [4], "linear": True},
    "ga": {"population_size": 6, "n_generations": 3},
    "bp": {"bp_epochs": 1, "max_epochs": 15, "patience": 5},
    "run": {"mode": "lamarckian", "n_baseline": 2, "report": True},
}


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory):
    from gabp.experiment import run_experiment

    return run_experiment(TINY_RUN, out=tmp_path_factory.mktemp("runs"), name="lin",
                          verbose=0)


def test_a_linear_run_predicts_the_ridge_plus_the_network_everywhere(linear_run, tmp_path):
    from gabp.data import load_dataset, make_windows
    from gabp.model import Model
    from gabp.runs import load_run

    run = load_run(linear_run.path)
    lin = run.model.linear
    assert lin is not None and lin["coef"].shape == (6, 1)
    assert run.metrics["linear"]["alpha"] == lin["alpha"]
    ds = load_dataset("sunspots")
    win = make_windows(ds.series, n_lags=6, index=ds.series_index)
    by_year = {float(t): i for i, t in enumerate(win.index)}
    rows = [r for r in run.predictions if r["part"] == "test"]
    X = np.array([win.X[by_year[r["index"]]] for r in rows])
    pred = run.model.predict(X)[:, 0]
    np.testing.assert_allclose(pred, [r["y_pred"] for r in rows], rtol=1e-12)  # recorded
    Xs = run.model.x_scaler.transform(X)  # the sum, by hand
    out = Xs @ lin["coef"] + lin["intercept"] + lin["scale"] * run.model.network.forward(
        Xs).mean(0)
    np.testing.assert_allclose(pred, run.model.y_scaler.inverse_transform(out)[:, 0],
                               rtol=1e-12)
    without = Model(network=run.model.network, task="series", x_scaler=run.model.x_scaler,
                    y_scaler=run.model.y_scaler, windowing=run.model.windowing)
    assert not np.allclose(without.predict(X), run.model.predict(X))  # the part matters
    rmse = np.sqrt(np.mean((pred - np.array([r["y_true"] for r in rows])) ** 2))
    assert rmse == pytest.approx(run.metrics["gabp"]["test"]["rmse"])
    path = tmp_path / "m.npz"  # the part survives a save and a load, bit for bit
    run.model.save(path)
    np.testing.assert_array_equal(Model.load(path).predict(X), run.model.predict(X))
    report = open(f"{linear_run.path}/report.md", encoding="utf-8").read()
    assert "ridge + GA-BP" in report and "linear part" in report


def test_model_from_a_linear_regressor_keeps_the_linear_part(rng, tmp_path):
    from gabp.model import Model

    X = rng.normal(size=(80, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + np.sin(X[:, 0])
    reg = GABPRegressor(random_state=0, linear=True, **SMALL).fit(X, y)
    model = Model.from_estimator(reg)
    np.testing.assert_allclose(model.predict(X)[:, 0], reg.predict(X), rtol=1e-12)
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(Model.load(tmp_path / "m.npz").predict(X), model.predict(X))
    bad = dict(model.linear, coef=np.zeros((2, 1)))
    with pytest.raises(ValueError, match="'linear' must have coef \\(3, 1\\)"):
        Model(network=model.network, task="regression", linear=bad)


def test_linear_config_needs_a_regression_or_series_task_and_no_search(tmp_path):
    from gabp.config import ConfigError
    from gabp.experiment import run_experiment

    cfg = {**TINY_RUN, "data": {"dataset": "iris"}}
    with pytest.raises(ConfigError, match=r"\[network\] linear.*regression or series task"):
        run_experiment(cfg, out=tmp_path, verbose=0)
    with pytest.raises(ConfigError, match="linear"):
        run_experiment({**TINY_RUN, "network": {"linear": "yes"}}, out=tmp_path, verbose=0)
    search = {"seed": 0, "data": {"dataset": "sunspots", "n_lags": 6},
              "network": {"linear": True}, "run": {"report": False},
              "search": {"population_size": 4, "n_generations": 2,
                         "space": {"n_layers": 1, "units": [3, 8], "max_epochs": 15}}}
    with pytest.raises(ConfigError, match=r"\[network\] linear.*\[search\]"):
        run_experiment(search, out=tmp_path, verbose=0)
    assert not any(tmp_path.iterdir())  # refused before any run folder


def test_a_linear_run_resumed_after_an_interruption_equals_the_uninterrupted_run(tmp_path):
    from helpers import full_and_resumed

    cfg = {**TINY_RUN, "ga": {"population_size": 6, "n_generations": 4},
           "run": {**TINY_RUN["run"], "report": False, "checkpoint_every": 1}}
    full, resumed = full_and_resumed(cfg, tmp_path)  # the ridge is refitted, identically
    assert resumed.metrics["gabp"] == full.metrics["gabp"]
    assert resumed.metrics["linear"] == full.metrics["linear"]
    np.testing.assert_array_equal(resumed.model.linear["coef"], full.model.linear["coef"])
