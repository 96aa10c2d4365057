import numpy as np
import pytest

from gabp.data import (
    Dataset,
    load_dataset,
    random_split,
    split_task,
    stratified_split,
    sunspots_classic_split,
)


def _check_partition(parts, n):
    allidx = np.concatenate(parts)
    assert len(allidx) == n and len(np.unique(allidx)) == n


def test_stratified_split_proportions_within_one_sample():
    y = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 7 + ["d"] * 13)
    tr, va, te = stratified_split(y, val_fraction=0.2, test_fraction=0.25, seed=3)
    _check_partition((tr, va, te), 100)
    assert (len(tr), len(va), len(te)) == (55, 20, 25)
    for label in "abcd":
        n_c = np.sum(y == label)
        assert abs(np.sum(y[te] == label) - 0.25 * n_c) < 1
        assert abs(np.sum(y[va] == label) - 0.2 * n_c) < 1


def test_stratified_split_is_seeded():
    y = np.repeat([0, 1, 2], 20)
    a = stratified_split(y, seed=1)
    b = stratified_split(y, seed=1)
    c = stratified_split(y, seed=2)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a[2], c[2])


def test_stratified_split_errors():
    with pytest.raises(ValueError, match="'val_fraction' parameter of stratified_split"):
        stratified_split([0, 1], val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="'test_fraction' parameter of stratified_split"):
        stratified_split([0, 1], test_fraction=-0.1)


def test_random_split_sizes():
    tr, va, te = random_split(10, val_fraction=0.2, test_fraction=0.3, seed=0)
    _check_partition((tr, va, te), 10)
    assert (len(tr), len(va), len(te)) == (5, 2, 3)


def test_split_task_classification_scaled_on_train_only():
    ds = load_dataset("iris")
    task = split_task(ds, val_fraction=0.2, test_fraction=0.2, seed=0)
    assert task.X_train.shape == (90, 4) and task.X_val.shape == (30, 4)
    assert task.y_train.shape == (90, 3) and task.X_test.shape == (30, 4)
    # min-max fitted on train only: train spans exactly [-1, 1]
    np.testing.assert_allclose(task.X_train.min(0), -1)
    np.testing.assert_allclose(task.X_train.max(0), 1)
    np.testing.assert_allclose(task.x_scaler.data_min_, ds.X[task.idx_train].min(0))
    for part in ("train", "val", "test"):
        counts = np.unique(getattr(task, f"y_{part}_raw"), return_counts=True)[1]
        assert len(set(counts.tolist())) == 1  # 50/50/50 stays balanced
    assert task.inverse_y(task.y_test).tolist() == task.y_test_raw.tolist()
    assert set(task.idx_test).isdisjoint(task.idx_train)


def test_split_task_regression_round_trip():
    ds = load_dataset("function")
    task = split_task(ds, scaler="standard", seed=1)
    np.testing.assert_allclose(task.inverse_y(task.y_val), task.y_val_raw)
    np.testing.assert_allclose(task.y_train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(task.X_test, task.x_scaler.transform(ds.X[task.idx_test]))


def test_split_task_series_no_leakage():
    ds = load_dataset("sunspots")
    task = split_task(ds, val_fraction=0.15, test_fraction=0.15)
    assert task.index_train.max() < task.index_val.min()
    assert task.index_val.max() < task.index_test.min()
    # the scaler only saw the training period: its max is the max of train rows' values
    train_period = ds.series[ds.series_index <= task.index_train.max()]
    assert task.y_scaler.data_max_[0] == train_period.max()
    np.testing.assert_allclose(task.inverse_y(task.y_test), task.y_test_raw)
    # lags and target share one scaling: row r+1's last input is row r's target
    np.testing.assert_allclose(task.X_train[1:, -1], task.y_train[:-1, 0])


def test_split_task_series_multi_horizon_drops_boundary_windows():
    ds = load_dataset("sunspots")
    task = split_task(ds, n_lags=4, horizon=[1, 2, 3])
    assert task.y_train.shape[1] == 3 and task.X_train.shape[1] == 4
    # last training row's last target (t+3) is before the first validation target
    last_train_target_year = task.index_train.max() + 2
    assert last_train_target_year < task.index_val.min()


def test_sunspots_classic_split_years():
    train, test1, test2 = sunspots_classic_split(n_lags=12)
    assert (len(train), len(test1), len(test2)) == (209, 35, 24)
    assert (train.index[0], train.index[-1]) == (1712, 1920)
    assert (test1.index[0], test1.index[-1]) == (1921, 1955)
    assert (test2.index[0], test2.index[-1]) == (1956, 1979)
    assert train.target_end.max() < test1.target_start.min()


def test_split_task_classic_fixed_splits():
    sun = split_task(load_dataset("sunspots"), classic=True, val_fraction=0.15)
    assert sun.index_test.min() == 1921 and sun.index_test.max() == 1955
    assert sun.index_val.max() == 1920 and sun.index_train.min() == 1712
    assert sun.extra["test2"]["index"].tolist() == list(range(1956, 1980))
    mg = split_task(load_dataset("mackey_glass"), classic=True, val_fraction=0.1)
    assert mg.X_test.shape == (500, 4) and len(mg.X_train) + len(mg.X_val) == 500
    with pytest.raises(ValueError, match="'classic' parameter of split_task"):
        split_task(load_dataset("iris"), classic=True)


def test_split_task_rejects_non_dataset():
    with pytest.raises(TypeError, match="'dataset' parameter of split_task"):
        split_task(np.zeros((3, 2)))
    assert isinstance(load_dataset("xor"), Dataset)
