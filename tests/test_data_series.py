import numpy as np
import pytest

from gabp.data import (
    Windows,
    chronological_split,
    forecast_direct,
    forecast_recursive,
    make_windows,
    walk_forward,
)

SERIES = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0])


def test_windows_one_step_exact():
    w = make_windows(SERIES, n_lags=3)
    np.testing.assert_array_equal(w.X, [[10, 11, 12], [11, 12, 13], [12, 13, 14], [13, 14, 15]])
    np.testing.assert_array_equal(w.y, [[13], [14], [15], [16]])
    np.testing.assert_array_equal(w.index, [3, 4, 5, 6])
    np.testing.assert_array_equal(w.input_start, [0, 1, 2, 3])
    np.testing.assert_array_equal(w.input_end, [2, 3, 4, 5])
    np.testing.assert_array_equal(w.target_end, [3, 4, 5, 6])


def test_windows_multi_horizon_stride_and_index():
    years = np.arange(2000, 2007)
    w = make_windows(SERIES, n_lags=2, horizon=[1, 3], stride=2, index=years)
    np.testing.assert_array_equal(w.X, [[10, 11], [12, 13]])
    np.testing.assert_array_equal(w.y, [[12, 14], [14, 16]])
    np.testing.assert_array_equal(w.index, [2002, 2004])  # first horizon's target year
    np.testing.assert_array_equal(w.target_start, [2, 4])
    np.testing.assert_array_equal(w.target_end, [4, 6])


def test_windows_horizon_lag_step():
    w = make_windows(SERIES, n_lags=2, lag_step=2, horizon=2)
    np.testing.assert_array_equal(w.X, [[10, 12], [11, 13], [12, 14]])
    np.testing.assert_array_equal(w.y, [[14], [15], [16]])
    np.testing.assert_array_equal(w.input_start, [0, 1, 2])


def test_windows_multicolumn_and_exog():
    s = np.column_stack([SERIES[:5], -SERIES[:5]])
    ex = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    w = make_windows(s, n_lags=2, exog=ex, target_columns=[0])
    np.testing.assert_array_equal(
        w.X,
        [[10, -10, 11, -11, 0.2], [11, -11, 12, -12, 0.3], [12, -12, 13, -13, 0.4]],
    )
    np.testing.assert_array_equal(w.y, [[12], [13], [14]])
    w2 = make_windows(s, n_lags=1, horizon=[1, 2])
    np.testing.assert_array_equal(w2.y[0], [11, -11, 12, -12])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_lags": 0}, "'n_lags' parameter of make_windows must be an integer >= 1"),
        ({"n_lags": 7}, "'series' parameter of make_windows must be at least 8 values"),
        ({"n_lags": 2, "horizon": [2, 1]}, "strictly increasing"),
        ({"n_lags": 2, "index": [1, 2]}, "'index' parameter of make_windows"),
    ],
)
def test_windows_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_windows(SERIES, **kwargs)


def _assert_no_leak(split):
    tr, va, te = split
    if len(va):
        assert tr.target_end.max() < va.target_start.min()
        assert tr.input_end.max() < va.target_start.min()
        assert tr.target_end.max() < split.val_start
    if len(te):
        assert tr.target_end.max() < split.test_start
        assert va.target_end.max() < split.test_start if len(va) else True
        assert te.target_start.min() >= split.test_start


def test_chronological_split_one_step_sizes_and_no_leak():
    w = make_windows(np.arange(100.0), n_lags=5)
    split = chronological_split(w, val_fraction=0.2, test_fraction=0.1)
    tr, va, te = split
    assert (len(tr), len(va), len(te)) == (66, 19, 10)  # 95 windows, round(9.5) == 10
    assert split.n_dropped == 0
    _assert_no_leak(split)
    # values identify positions: no training row contains a value at or after val start
    assert tr.X.max() < split.val_start and tr.y.max() < split.val_start


def test_chronological_split_drops_straddling_multi_horizon_windows():
    w = make_windows(np.arange(60.0), n_lags=3, horizon=[1, 4])
    split = chronological_split(w, val_size=10, test_size=10)
    _assert_no_leak(split)
    assert split.n_dropped == 6  # 3 windows straddle each boundary
    assert len(split.train) + len(split.val) + len(split.test) + 6 == len(w)
    tr = split.train
    assert tr.y.max() < split.val_start  # values equal positions


def test_chronological_split_strict_and_gap_and_dates():
    w = make_windows(np.arange(40.0), n_lags=4, index=np.arange(1960, 2000))
    strict = chronological_split(w, val_start=1980, test_start=1990, strict=True)
    assert strict.val.input_start.min() >= strict.val_start
    assert strict.val.index.min() == 1984 and strict.test.index.min() == 1994
    gapped = chronological_split(w, val_start=1980, test_start=1990, gap=2)
    assert gapped.train.index.max() == 1977 and gapped.val.index.max() == 1987
    plain = chronological_split(w, val_start=1980, test_start=1990)
    assert plain.train.index.max() == 1979 and plain.val.index.min() == 1980


def test_chronological_split_arrays():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10.0)
    tr, va, te = chronological_split((X, y), val_size=2, test_size=3)
    np.testing.assert_array_equal(tr.y.ravel(), np.arange(5))
    np.testing.assert_array_equal(va.y.ravel(), [5, 6])
    np.testing.assert_array_equal(te.y.ravel(), [7, 8, 9])
    with pytest.raises(ValueError, match="'val_fraction' parameter of chronological_split"):
        chronological_split((X, y), val_fraction=0.6, test_fraction=0.5)


def test_walk_forward_expanding_and_errors():
    X = np.arange(10.0).reshape(-1, 1)
    y = 2 * np.arange(10.0)
    sizes = []

    def fit_predict(Xt, yt, Xb):
        sizes.append(len(Xt))
        slope = yt[-1, 0] / Xt[-1, 0] if Xt[-1, 0] else 0.0
        return Xb[:, 0] * slope + 1.0  # off by exactly 1

    res = walk_forward(fit_predict, X, y, initial=4, step=3)
    assert sizes == [4, 7]
    np.testing.assert_array_equal(res.rows, np.arange(4, 10))
    np.testing.assert_array_equal(res.block_starts, [4, 7])
    np.testing.assert_allclose(res.block_rmse, [1.0, 1.0])
    assert res.rmse == pytest.approx(1.0) and res.mae == pytest.approx(1.0)
    res2 = walk_forward(fit_predict, X, y, initial=4, step=3, max_train=2)
    np.testing.assert_array_equal(res2.train_sizes, [2, 2])


def test_walk_forward_windows_excludes_unknown_targets():
    w = make_windows(np.arange(30.0), n_lags=2, horizon=3)
    seen = []

    def fit_predict(Xt, yt, Xb):
        seen.append(yt.max())
        return Xb[:, -1] + 3

    res = walk_forward(fit_predict, w, initial=10, step=5)
    for start, top in zip(res.block_starts, seen, strict=True):
        assert top <= w.input_end[start]  # only targets known at the origin
    assert res.rmse == 0.0


def test_forecast_recursive_feeds_back_predictions():
    def predict(X):  # next = last + (last - previous)
        return X[:, -1] + (X[:, -1] - X[:, -2])

    out = forecast_recursive(predict, [1.0, 2.0, 4.0], n_lags=2, steps=3)
    np.testing.assert_array_equal(out, [6.0, 8.0, 10.0])
    batch = forecast_recursive(predict, [[1.0, 2.0], [0.0, 0.5]], n_lags=2, steps=2)
    np.testing.assert_array_equal(batch, [[3.0, 4.0], [1.0, 1.5]])
    lagged = forecast_recursive(
        lambda X: X[:, 0] * 10, np.arange(5.0), n_lags=2, lag_step=2, steps=2
    )
    np.testing.assert_array_equal(lagged, [20.0, 30.0])  # 10 * x(t-2): x2, then x3


def test_forecast_direct_uses_last_window():
    out = forecast_direct(
        lambda X: np.column_stack([X.sum(1), X.prod(1)]), [9.0, 2.0, 3.0], n_lags=2
    )
    np.testing.assert_array_equal(out, [5.0, 6.0])
    with pytest.raises(ValueError, match="'history' parameter of forecast_direct"):
        forecast_direct(lambda X: X, [1.0], n_lags=2)


def test_windows_from_arrays_and_take():
    w = Windows.from_arrays(np.ones((3, 2)), [1.0, 2.0, 3.0])
    assert w.y.shape == (3, 1) and len(w.take([0, 2])) == 2
