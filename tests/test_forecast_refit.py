"""GABPForecaster(refit_full=True): the refit on every row, its budget and its intervals."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from gabp import GABPForecaster
from gabp.forecasting import difference, lag_matrix, refit_budget
from gabp.forecasting.forecaster import fit_lag_regressor

# difference and alpha fixed: no screening, so each fit is one small GA-BP run
FAST = dict(n_lags=4, difference=0, alpha=0.01, population_size=6, n_generations=4,
            max_epochs=40, random_state=0)


def _series(n=140, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(t / 4) + 0.01 * t + 0.15 * rng.normal(size=n)


@pytest.fixture(scope="module")
def fits():
    y = _series()
    return y, GABPForecaster(**FAST).fit(y), GABPForecaster(refit_full=True, **FAST).fit(y)


def test_refit_trains_on_every_row_with_scalers_of_every_row(fits):
    y, plain, refit = fits
    X, Y, _ = lag_matrix(difference(y, ())[-1], (4, 3, 2, 1), 1)
    val = plain.validation_regressor_
    assert val._n_train + val._n_val == X.shape[0] and val._n_val > 0
    reg = refit.regressor_
    assert reg is not refit.validation_regressor_
    assert (reg._n_train, reg._n_val) == (X.shape[0], 0)
    assert reg.validation_fraction == 0 and reg.validation_loss_curve_ is None
    np.testing.assert_allclose(reg.input_scaler_.mean_, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(reg.target_scaler_.mean_, Y.mean(axis=0), rtol=1e-12)
    # the validated model's scalers saw only its training rows
    np.testing.assert_allclose(val.input_scaler_.mean_, X[: val._n_train].mean(axis=0),
                               rtol=1e-12)
    assert not np.allclose(refit.predict(5), plain.predict(5))


def test_refit_budget_is_read_off_the_validated_fit(fits):
    _, plain, refit = fits
    val = refit.validation_regressor_
    best = np.array(val.logbook_.select("best_so_far"))
    g_star = int(np.argmax(best == best.min()))  # gens are 0, 1, ...: first best position
    epochs = max(1, int(val.result_.bp_history.best_epoch.max()) + 1)
    assert refit.refit_budget_ == {"max_epochs": epochs, "n_generations": g_star}
    assert refit_budget(val) == refit.refit_budget_
    reg = refit.regressor_
    assert (reg.n_generations, reg.max_epochs, reg.early_stopping) == (g_star, epochs, False)
    assert len(reg.logbook_) == g_star + 1 and reg.n_iter_ <= epochs
    assert plain.refit_budget_ is None


def test_refit_budget_in_mode_bp_has_no_generations():
    y = _series()
    f = GABPForecaster(refit_full=True, mode="bp", **FAST).fit(y)
    assert set(f.refit_budget_) == {"max_epochs"}
    best = f.validation_regressor_.result_.bp_history.best_epoch
    assert f.refit_budget_["max_epochs"] == max(1, int(best.max()) + 1)


def test_refit_full_false_is_the_validated_fit_unchanged(fits):
    y, plain, _ = fits
    assert plain.regressor_ is plain.validation_regressor_
    same = fit_lag_regressor(plain._regressor(random_state=plain.seed_, alpha=0.01), y, None,
                             plain.lags_, (), 1, plain.validation_start_)
    X = lag_matrix(y, plain.lags_, 1)[0]
    np.testing.assert_array_equal(plain.regressor_.predict(X), same.predict(X))


def test_same_seed_same_refit_forecast(fits):
    y, _, refit = fits
    again = GABPForecaster(refit_full=True, **FAST).fit(y)
    np.testing.assert_array_equal(again.predict(6), refit.predict(6))
    assert again.refit_budget_ == refit.refit_budget_
    back = pickle.loads(pickle.dumps(refit))
    np.testing.assert_array_equal(back.predict(6), refit.predict(6))
    np.testing.assert_array_equal(back.predict_interval(2).lower, refit.predict_interval(2).lower)


def test_intervals_after_a_refit_keep_the_validated_residuals(fits):
    _, plain, refit = fits
    assert len(refit.residuals_) == len(plain.residuals_) > 0
    for a, b in zip(refit.residuals_, plain.residuals_, strict=True):
        np.testing.assert_array_equal(a, b)
    fc = refit.predict_interval(3)
    half = fc.upper - fc.mean
    np.testing.assert_allclose(half, plain.predict_interval(3).upper
                               - plain.predict_interval(3).mean, rtol=1e-12)
    np.testing.assert_array_equal(fc.mean, refit.predict(3))
    # why: the refit model has trained on the validation rows, so its own errors there are
    # in-sample and smaller than the validated model's out-of-sample ones
    n_val = refit.y_.shape[0] - refit.validation_start_
    inside = refit._residuals(refit.regressor_, refit.validation_start_, n_val, 1)
    assert np.mean(inside[0] ** 2) < np.mean(refit.residuals_[0] ** 2)


def test_refit_with_the_direct_strategy_uses_the_straddling_rows():
    y = _series(120)
    f = GABPForecaster(refit_full=True, strategy="direct", horizon=3, **FAST).fit(y)
    X = lag_matrix(y, f.lags_, 3)[0]
    val = f.validation_regressor_
    assert val._n_train + val._n_val == X.shape[0] - 2  # 2 rows straddle the boundary
    assert f.regressor_._n_train == X.shape[0] and f.predict(3).shape == (3,)


def test_bad_refit_full_values_are_rejected_before_any_work():
    y = _series(60)
    with pytest.raises(TypeError, match=r"The 'refit_full' parameter of GABPForecaster.fit "
                       r"must be a bool \(True or False\). Got 'yes' instead."):
        GABPForecaster(refit_full="yes", **FAST).fit(y)
    with pytest.raises(ValueError, match="'refit_full' parameter of GABPForecaster.fit must be "
                       "False when validation_fraction=0"):
        GABPForecaster(refit_full=True, validation_fraction=0.0, **FAST).fit(y)
    assert GABPForecaster(refit_full=True).get_params()["refit_full"] is True
