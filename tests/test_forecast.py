"""GABPForecaster, differencing, dates, intervals and the naive baselines."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from gabp import GABPForecaster, GABPRegressor
from gabp.forecasting import (
    conformal_halfwidths,
    difference,
    forecast_paths,
    future_index,
    invert_difference,
    lag_matrix,
    parse_times,
)
from gabp.metrics import mase, naive_forecast, rmsse

SMALL = dict(population_size=8, n_generations=4, max_epochs=150, random_state=0)


def _ar(n, phi, seed=0, sigma=1.0):
    rng = np.random.default_rng(seed)
    e = rng.normal(0, sigma, n + 100)
    y = np.zeros(n + 100)
    for t in range(len(phi), n + 100):
        y[t] = sum(p * y[t - 1 - i] for i, p in enumerate(phi)) + e[t]
    return y[100:]


def _line(n, seed=0):
    return 10 + 0.5 * np.arange(n) + np.random.default_rng(seed).normal(0, 1, n)


def _persistence_rmse(y, start):
    return float(np.sqrt(np.mean((y[start:] - y[start - 1 : -1]) ** 2)))


# ----------------------------------------------------------------------- transforms


@pytest.mark.parametrize("ops", [(), (1,), (12,), (1, 12), (1, 1)])
def test_difference_then_invert_gives_the_series_back(ops):
    y = np.random.default_rng(1).normal(size=80).cumsum()
    w = difference(y, ops)[-1]
    assert np.isnan(w[: sum(ops)]).all() and np.isfinite(w[sum(ops) :]).all()
    k = sum(ops) + 3
    back = invert_difference(w[k:], y[:k], ops)
    np.testing.assert_allclose(back, y[k:], rtol=0, atol=1e-9)


def test_seasonal_difference_known_values():
    y = np.arange(10.0) ** 2
    w = difference(y, (3,))[-1]
    np.testing.assert_array_equal(w[3:], y[3:] - y[:-3])


def test_lag_matrix_known_rows():
    w = np.array([np.nan, 1.0, 2.0, 3.0, 4.0, 5.0])
    X, Y, origins = lag_matrix(w, (2, 1), n_out=2)
    np.testing.assert_array_equal(origins, [2, 3])  # origin 1 has w[0] = NaN as lag 2
    np.testing.assert_array_equal(X, [[1.0, 2.0], [2.0, 3.0]])
    np.testing.assert_array_equal(Y, [[3.0, 4.0], [4.0, 5.0]])


def test_forecast_paths_inverts_a_constant_difference_to_a_line():
    hist = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    out = forecast_paths(lambda X: np.full(X.shape[0], 2.0), hist, lags=(1,), ops=(1,), steps=4)
    np.testing.assert_allclose(out, [[5.0, 7.0, 9.0, 11.0], [7.0, 9.0, 11.0, 13.0]])


def test_forecast_paths_recursive_feeds_predictions_back():
    # AR(1) w[t] = 0.5 w[t-1] on levels: 8 -> 4, 2, 1
    out = forecast_paths(lambda X: 0.5 * X[:, 0], np.array([[3.0, 8.0]]), lags=(1,), ops=(),
                         steps=3)
    np.testing.assert_allclose(out, [[4.0, 2.0, 1.0]])


# ----------------------------------------------------------------------- metrics


def test_naive_forecast_and_scaled_errors_known_answers():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    np.testing.assert_array_equal(naive_forecast(y, [2], 3), [[3.0, 3.0, 3.0]])
    np.testing.assert_array_equal(naive_forecast(y, [3], 3, season=2), [[3.0, 4.0, 3.0]])
    # training naive MAE = 1, so MASE = MAE; RMSSE = RMSE
    assert mase([1.0, 2.0], [2.0, 4.0], y) == pytest.approx(1.5)
    assert rmsse([1.0, 2.0], [2.0, 4.0], y) == pytest.approx(np.sqrt(2.5))
    assert mase([1.0], [2.0], y, season=2) == pytest.approx(0.5)


# ----------------------------------------------------------------------- forecaster


def test_forecaster_params_cover_the_regressor_params_and_clone_pickle():
    from sklearn.base import clone

    f = GABPForecaster(n_lags=[1, 12], horizon=3, **SMALL)
    # every regressor parameter but the image ones (a series has no image shape)
    assert set(GABPRegressor().get_params()) - {"input_shape"} <= set(f.get_params())
    c = clone(f)
    assert c.get_params() == f.get_params() and c.n_lags == [1, 12]
    y = _ar(120, [0.6])
    f.set_params(horizon=2).fit(y)
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(f.predict(5), g.predict(5))
    assert f.lags_ == (12, 1)


def test_same_random_state_gives_the_same_forecasts():
    y = _line(150)
    a = GABPForecaster(n_lags=4, **SMALL).fit(y).predict(6)
    b = GABPForecaster(n_lags=4, **SMALL).fit(y).predict(6)
    np.testing.assert_array_equal(a, b)


def test_linear_trend_beyond_the_training_range_is_forecast_closely():
    y = _line(260)
    f = GABPForecaster(n_lags=4, **SMALL).fit(y[:200])
    assert f.difference_ == 1 and f.differencing_ == (1,)
    assert set(f.differencing_scores_) == {f"difference={d}, seasonal_difference=0, alpha={a}"
                                           for d in (0, 1) for a in ("0.0001", "0.01", "0.1")}
    best = min(f.differencing_scores_, key=f.differencing_scores_.get)
    assert best == f"difference=1, seasonal_difference=0, alpha={f.alpha_:g}"
    assert f.regressor_.alpha == f.alpha_
    pred = f.predict(20)
    truth = 10 + 0.5 * np.arange(200, 220)
    assert y[:200].max() < truth[-1] - 5  # the forecasts leave the training range
    assert np.max(np.abs(pred - truth)) < 3.0  # the noise sd is 1


def test_final_model_averages_an_ensemble_but_the_screening_fits_single_networks():
    y = _ar(150, [0.6, -0.3])
    five = GABPForecaster(n_lags=4, **SMALL).fit(y)  # ensemble=5 by default
    one = GABPForecaster(n_lags=4, ensemble=1, **SMALL).fit(y)
    assert five.regressor_.network_.n_networks == 5 and one.regressor_.network_.n_networks == 1
    # the auto screening is the same single-network fit whatever the final ensemble
    assert five.differencing_scores_ == one.differencing_scores_
    assert (five.difference_, five.alpha_) == (one.difference_, one.alpha_)
    # five distinct members (their mean is the forecast)
    out = np.asarray(five.regressor_.network_.forward(np.zeros((1, 4))))
    assert out.shape[0] == 5 and not np.allclose(out, out[:1])


def test_screening_score_is_the_mean_rmse_of_its_independent_starts():
    from gabp._seeding import int_seed
    from gabp.forecasting.forecaster import (
        _SCREEN_KEY,
        choose_differencing,
        fit_lag_regressor,
        validation_rmse,
    )

    y = _ar(140, [0.6, -0.3])
    lags, val_start, cands = (3, 2, 1), 110, [(), (1,)]
    reg = GABPRegressor(mode="bp", max_epochs=30, random_state=7)

    def one(ops, seed):
        fitted = fit_lag_regressor(reg.set_params(random_state=seed), y, None, lags, ops, 1,
                                   val_start)
        return validation_rmse(fitted, y, None, lags, ops, val_start)

    seeds = [7, int_seed(7, _SCREEN_KEY, 1), int_seed(7, _SCREEN_KEY, 2)]
    manual = np.array([[np.mean([one(ops, s) for s in seeds])] for ops in cands])
    first = np.array([[one(ops, 7)] for ops in cands])
    reg.set_params(random_state=7)
    i, j, rmse = choose_differencing(reg, y, None, lags, cands, val_start, n_starts=3)
    np.testing.assert_allclose(rmse, manual, rtol=1e-12)
    assert (i, j) == (int(np.argmin(manual[:, 0])), 0)
    _, _, rmse1 = choose_differencing(reg, y, None, lags, cands, val_start)
    np.testing.assert_allclose(rmse1, first, rtol=1e-12)  # n_starts=1: the seed's own fit
    assert not np.allclose(rmse, rmse1)
    with pytest.raises(ValueError, match="'n_starts' parameter of choose_differencing"):
        choose_differencing(reg, y, None, lags, cands, val_start, n_starts=0)


def test_default_ensemble_is_capped_at_a_smaller_population():
    y = _ar(120, [0.6])
    f = GABPForecaster(n_lags=3, difference=0, alpha=0.01, population_size=3,
                       n_generations=2, max_epochs=20, random_state=0).fit(y)
    assert f.ensemble == 5 and f.regressor_.ensemble == 3
    assert f.regressor_.network_.n_networks == 3
    with pytest.raises(ValueError, match="'ensemble' parameter"):
        GABPForecaster(n_lags=3, ensemble=0, **SMALL).fit(y)
    with pytest.raises(ValueError, match="'ensemble' parameter"):  # chosen, not capped
        GABPForecaster(n_lags=3, difference=0, alpha=0.01, population_size=3, ensemble=4,
                       n_generations=2, max_epochs=20, random_state=0).fit(y)


@pytest.mark.parametrize("kind", ["trend", "ar2"])
def test_defaults_with_only_n_lags_beat_persistence(kind):
    y = _line(300) if kind == "trend" else _ar(300, [0.6, -0.3])
    f = GABPForecaster(n_lags=6, random_state=0).fit(y[:240])
    bt = f.backtest(y, 240)
    assert bt.metrics["gabp"]["rmse"] < bt.metrics["persistence"]["rmse"]
    assert bt.metrics["persistence"]["rmse"] == pytest.approx(_persistence_rmse(y, 240))
    if kind == "trend":  # either the differencing or the ridge on the lags (the default
        # linear part) carries the trend beyond the training range
        assert f.predict(12)[-1] > y[:240].max() + 5
    else:
        assert f.difference_ == 0


def test_the_network_alone_differences_a_trend():
    y = _line(300)  # a network cannot extrapolate a level: the screen must difference
    f = GABPForecaster(n_lags=6, linear=False, **SMALL).fit(y[:240])
    assert f.difference_ == 1 and f.regressor_.linear_ is None


@pytest.mark.parametrize("steps", [1, 3])
def test_backtest_equals_a_manual_loop_of_predict(steps):
    y = _ar(160, [0.7], seed=3)
    f = GABPForecaster(n_lags=3, difference=1, **SMALL).fit(y[:120])
    bt = f.backtest(y, 120, steps=steps)
    manual = np.concatenate([f.predict(min(steps, 159 - o), y=y[: o + 1])
                             for o in range(119, 159, steps)])
    np.testing.assert_allclose(bt.predictions, manual, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(bt.y_true, y[120:])
    assert bt.predictions.shape == (40,) and bt.index[0] == 120
    assert set(bt.metrics) == {"gabp", "persistence"}
    assert {"rmse", "mae", "mase", "rmsse"} <= set(bt.metrics["gabp"])


def test_backtest_with_refit_refits_each_block():
    y = _ar(100, [0.5], seed=4)
    f = GABPForecaster(n_lags=2, difference=0, **SMALL).fit(y[:80])
    bt = f.backtest(y, 90, steps=5, refit=True)
    again = GABPForecaster(n_lags=2, difference=0, **SMALL).fit(y[:95]).predict(5)
    np.testing.assert_allclose(bt.predictions[5:], again)


def test_direct_strategy_and_seasonal_naive():
    t = np.arange(240)
    y = 5 * np.sin(2 * np.pi * t / 12) + 0.05 * t + np.random.default_rng(2).normal(0, .3, 240)
    f = GABPForecaster(n_lags=12, horizon=6, strategy="direct", seasonal_period=12,
                       difference=0, seasonal_difference=1, **SMALL).fit(y[:200])
    assert f.regressor_.n_outputs_ == 6 and f.differencing_ == (12,)
    assert f.predict().shape == (6,)
    with pytest.raises(ValueError, match="'steps' parameter .* must be an integer in"):
        f.predict(7)
    bt = f.backtest(y, 200, steps=6)
    assert set(bt.metrics) == {"gabp", "persistence", "seasonal_naive"}
    assert bt.metrics["seasonal_naive"]["rmse"] < bt.metrics["persistence"]["rmse"]
    assert bt.metrics["gabp"]["rmse"] < bt.metrics["persistence"]["rmse"]
    assert len(f.residuals_) == 6


def test_conformal_intervals_cover_their_share_on_an_ar_process():
    y = _ar(900, [0.7], seed=5)
    f = GABPForecaster(n_lags=2, difference=0, validation_fraction=0.3, coverage=0.8,
                       **SMALL).fit(y[:500])
    half = conformal_halfwidths(f.residuals_, 1, 0.8)[0]
    bt = f.backtest(y, 500)
    covered = np.mean(np.abs(bt.y_true - bt.predictions) <= half)
    assert 0.72 < covered < 0.9
    multi = f.backtest(y, 500, steps=3)  # 3-step paths: one width per step ahead
    halves = conformal_halfwidths(f.residuals_, 3, 0.8)
    h = np.arange(500, 900) - multi.origins
    covered3 = np.mean(np.abs(multi.y_true - multi.predictions) <= halves[h - 1])
    assert 0.72 < covered3 < 0.9 and halves[0] < halves[2]
    fc = f.predict_interval(4)
    assert np.all(fc.lower < fc.mean) and np.all(fc.mean < fc.upper)
    assert fc.coverage == 0.8 and fc.index is None
    wider = f.predict_interval(4, coverage=0.95)
    assert np.all(wider.upper - wider.lower >= fc.upper - fc.lower)


def test_conformal_halfwidths_known_quantile_and_extension():
    res = [np.arange(1.0, 10.0), np.arange(1.0, 10.0) * 2]
    # k = 9, rank ceil(10 * 0.8) = 8 -> the 8th smallest
    np.testing.assert_allclose(conformal_halfwidths(res, 4, 0.8),
                               [8.0, 16.0, 16 * np.sqrt(1.5), 16 * np.sqrt(2)])


def test_exogenous_input_is_used_and_checked():
    rng = np.random.default_rng(6)
    x = rng.normal(size=200)
    y = 3 * x + rng.normal(0, 0.1, 200)
    f = GABPForecaster(n_lags=1, difference=0, **SMALL).fit(y[:180], exog=x[:180])
    pred = f.predict(3, exog=x[180:183])
    assert np.max(np.abs(pred - y[180:183])) < 1.0
    with pytest.raises(ValueError, match="'exog' parameter of GABPForecaster.fit must be 180"):
        GABPForecaster(**SMALL).fit(y[:180], exog=x[:170])
    with pytest.raises(ValueError, match="'exog' parameter of GABPForecaster.predict"):
        f.predict(3)


# ----------------------------------------------------------------------- input checks


def test_minimum_length_is_exact():
    f = GABPForecaster(n_lags=12, difference=0, alpha=1e-4, validation_fraction=0.0, **SMALL)
    y = _ar(40, [0.5])
    with pytest.raises(ValueError, match="at least 14 values") as err:
        f.fit(y[:13])
    assert "Got '13 values'" in str(err.value)
    f.fit(y[:14])  # 12 lags + 2 training rows
    assert f.predict(1, y=y[:12]).shape == (1,)  # 12 values suffice to forecast
    with pytest.raises(ValueError, match="at least 12 values"):
        f.predict(1, y=y[:11])


def test_nan_gap_is_rejected_before_work():
    y = _ar(60, [0.5])
    y[30] = np.nan
    with pytest.raises(ValueError, match="without missing or infinite values.*position 30"):
        GABPForecaster(**SMALL).fit(y)


def test_bad_parameters_are_rejected():
    y = _ar(80, [0.5])
    with pytest.raises(ValueError, match="'difference' parameter .* must be 0, 1 or 'auto'"):
        GABPForecaster(difference=2).fit(y)
    with pytest.raises(ValueError, match="'strategy' parameter"):
        GABPForecaster(strategy="dirct").fit(y)
    with pytest.raises(ValueError, match="'n_lags' parameter"):
        GABPForecaster(n_lags=[0, 1]).fit(y)
    with pytest.raises(ValueError, match="'validation_fraction' parameter .* > 0 when"):
        GABPForecaster(validation_fraction=0.0).fit(y)
    with pytest.raises(ValueError, match="'population_size'"):
        GABPForecaster(population_size=0).fit(y)


# ----------------------------------------------------------------------- dates


def test_pandas_dates_are_carried_into_forecasts():
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("1958-03-01", periods=120, freq="MS")
    y = pd.Series(_line(120), index=idx)
    f = GABPForecaster(n_lags=3, **SMALL).fit(y)
    pred = f.predict(3)
    assert isinstance(pred, pd.Series)
    assert list(pred.index.strftime("%Y-%m-%d")) == ["1968-03-01", "1968-04-01", "1968-05-01"]
    fc = f.predict_interval(2)
    assert str(fc.index[0])[:10] == "1968-03-01"
    frame = pd.DataFrame({"date": idx.strftime("%Y-%m-%d"), "value": y.to_numpy()})
    g = GABPForecaster(n_lags=3, **SMALL).fit(frame)
    assert str(g.index_[0])[:10] == "1958-03-01"
    bt = f.backtest(y, 100)
    assert str(bt.index[0])[:10] == str(idx[100])[:10]


def test_duplicate_and_unordered_dates_are_rejected():
    pd = pytest.importorskip("pandas")
    idx = pd.DatetimeIndex(["2000-01-01", "2000-02-01", "2000-02-01", "2000-03-01"] * 10)
    with pytest.raises(ValueError, match="duplicate times 2000-02-01 and 2000-02-01 at rows 2"):
        GABPForecaster(**SMALL).fit(pd.Series(np.arange(40.0), index=idx))
    shuffled = pd.date_range("2000-01-01", periods=40, freq="D")[::-1]
    with pytest.raises(ValueError, match="out-of-order"):
        GABPForecaster(**SMALL).fit(pd.Series(np.arange(40.0), index=shuffled))


def test_iso_dates_without_pandas_and_future_index():
    d = parse_times(["1958-03-01", "1958-04-01", "1958-05-01"], "date", "t")
    assert d.dtype.kind == "M"
    nxt = future_index(d, 11)
    assert str(nxt[0]) == "1958-06-01" and str(nxt[-1]) == "1959-04-01"
    days = parse_times(["2020-01-01", "2020-01-08"], "date", "t")
    assert str(future_index(days, 2)[-1]) == "2020-01-22"
    assert future_index(np.array([1990, 1991]), 2).tolist() == [1992, 1993]
    with pytest.raises(ValueError, match="numbers or dates"):
        parse_times(["2020-01-01", "soon"], "date", "t")


def test_numpy_input_never_imports_pandas():
    import subprocess
    import sys

    code = ("import sys, numpy as np; from gabp import GABPForecaster; "
            "f = GABPForecaster(n_lags=2, population_size=4, n_generations=1, max_epochs=5, "
            "random_state=0).fit(np.sin(np.arange(60.0))); f.predict(2); "
            "f.predict_interval(2); f.backtest(np.sin(np.arange(70.0)), 60); "
            "assert 'pandas' not in sys.modules, 'pandas imported'")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_other_date_formats_are_parsed_by_pandas():
    pytest.importorskip("pandas")
    d = parse_times(["Mar 1958", "Apr 1958", "May 1958"], "date", "t")
    assert d.dtype.kind == "M" and str(future_index(d, 1)[0])[:10] == "1958-06-01"
    d = parse_times(["1958/03/01", "1958/04/01"], "date", "t")
    assert str(d[1])[:10] == "1958-04-01"


def test_direct_strategy_with_exog_needs_the_exog_of_every_output():
    rng = np.random.default_rng(7)
    x = rng.normal(size=150)
    y = 2 * x + rng.normal(0, 0.1, 150)
    f = GABPForecaster(n_lags=1, horizon=3, strategy="direct", difference=0, **SMALL)
    f.fit(y[:130], exog=x[:130])
    assert f.regressor_.n_features_in_ == 1 + 3  # one lag + the exog of the 3 targets
    pred = f.predict(3, exog=x[130:133])
    assert np.max(np.abs(pred - y[130:133])) < 1.0
    with pytest.raises(ValueError, match="'exog' parameter .* must be 3 rows"):
        f.predict(2, exog=x[130:132])
    bt = f.backtest(y, 130, steps=3, exog=x)
    assert bt.predictions.shape == (20,) and len(f.residuals_) == 3
