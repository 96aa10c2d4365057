"""GABPRegressor inside skforecast and sktime (the optional ``.[forecast]`` extra)."""

from __future__ import annotations

import numpy as np
import pytest

from gabp import GABPRegressor

SMALL = dict(population_size=6, n_generations=3, max_epochs=100, random_state=0)


def _trend(n=160):
    t = np.arange(n)
    return 10 + 0.3 * t + 2 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(
        0, 0.2, n)


def test_skforecast_forecaster_recursive_with_differentiation():
    pytest.importorskip("skforecast")
    pd = pytest.importorskip("pandas")
    from skforecast.recursive import ForecasterRecursive

    y = pd.Series(_trend(), index=pd.date_range("2000-01-01", periods=160, freq="MS"))
    f = ForecasterRecursive(estimator=GABPRegressor(**SMALL), lags=12, differentiation=1)
    f.fit(y=y.iloc[:140])
    pred = f.predict(steps=20)
    assert list(pred.index) == list(y.index[140:])
    persistence = np.sqrt(np.mean((y.iloc[140:].to_numpy() - y.iloc[139]) ** 2))
    assert np.sqrt(np.mean((pred.to_numpy() - y.iloc[140:].to_numpy()) ** 2)) < persistence


def test_sktime_make_reduction_recursive():
    pytest.importorskip("sktime")
    pd = pytest.importorskip("pandas")
    from sktime.forecasting.compose import make_reduction

    y = pd.Series(_trend() - 0.3 * np.arange(160))  # stationary seasonal series
    f = make_reduction(GABPRegressor(**SMALL), window_length=12, strategy="recursive")
    f.fit(y.iloc[:140])
    pred = f.predict(fh=np.arange(1, 21))
    assert len(pred) == 20 and pred.index[0] == 140
    persistence = np.sqrt(np.mean((y.iloc[140:].to_numpy() - y.iloc[139]) ** 2))
    assert np.sqrt(np.mean((pred.to_numpy() - y.iloc[140:].to_numpy()) ** 2)) < persistence
