import math

import numpy as np
import pytest

from gabp.metrics import (
    accuracy,
    arv,
    classification_report,
    confusion_matrix,
    macro_f1,
    mae,
    mape,
    ndei,
    nrmse,
    r2,
    regression_report,
    rmse,
)

# y_true mean 2.5, population variance 1.25; errors (pred - true) = 1, 0, -1, 2
T = np.array([1.0, 2.0, 3.0, 4.0])
P = np.array([2.0, 2.0, 2.0, 6.0])


def test_regression_hand_computed():
    assert rmse(T, P) == pytest.approx(math.sqrt(6 / 4))
    assert mae(T, P) == pytest.approx(1.0)
    assert mape(T, P) == pytest.approx(100 * (1 / 1 + 0 + 1 / 3 + 2 / 4) / 4)
    assert r2(T, P) == pytest.approx(1 - 6 / 5)
    assert nrmse(T, P) == pytest.approx(math.sqrt(1.5) / math.sqrt(1.25))
    assert ndei(T, P) == pytest.approx(nrmse(T, P))
    assert arv(T, P) == pytest.approx(1.5 / 1.25)
    assert arv(T, P) == pytest.approx(nrmse(T, P) ** 2)


def test_mape_skips_zero_targets_and_rejects_all_zero():
    assert mape([0.0, 2.0, 4.0], [5.0, 1.0, 5.0]) == pytest.approx(100 * (0.5 + 0.25) / 2)
    with pytest.raises(ValueError, match="'y_true' parameter of mape must be not all zero"):
        mape([0.0, 0.0], [1.0, 2.0])
    assert math.isnan(regression_report([0.0, 0.0], [0.0, 1.0])["mape"])


def test_multi_output_is_column_average():
    t2 = np.column_stack([T, 2 * T])
    p2 = np.column_stack([P, 2 * T])  # second column perfect
    assert rmse(t2, p2) == pytest.approx(math.sqrt(1.5) / 2)
    assert r2(t2, p2) == pytest.approx((1 - 6 / 5 + 1) / 2)
    assert rmse(T.reshape(-1, 1), P) == pytest.approx(rmse(T, P))


def test_constant_targets_do_not_divide_by_zero():
    c = np.ones(3)
    assert nrmse(c, c) == 0.0 and arv(c, c + 1) == math.inf
    assert r2(c, c) == 1.0 and r2(c, c + 1) == 0.0


def test_regression_errors():
    with pytest.raises(ValueError, match="same shape"):
        rmse([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="'y_pred' parameter of rmse must be finite"):
        rmse([1.0], [np.nan])


def test_regression_report_is_plain_floats():
    rep = regression_report(T, P)
    assert set(rep) == {"n_samples", "rmse", "mae", "mape", "r2", "nrmse", "arv", "ndei"}
    assert all(type(v) is float for v in rep.values())


def test_against_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    t = rng.normal(5, 2, size=(40, 3))
    p = t + rng.normal(0, 0.5, size=t.shape)
    assert rmse(t, p) == pytest.approx(
        np.mean(np.sqrt(skm.mean_squared_error(t, p, multioutput="raw_values")))
    )
    assert mae(t, p) == pytest.approx(skm.mean_absolute_error(t, p))
    assert r2(t, p) == pytest.approx(skm.r2_score(t, p))
    assert mape(t, p) == pytest.approx(100 * skm.mean_absolute_percentage_error(t, p))
    yt = rng.integers(0, 4, 60)
    yp = np.where(rng.random(60) < 0.7, yt, rng.integers(0, 4, 60))
    assert accuracy(yt, yp) == pytest.approx(skm.accuracy_score(yt, yp))
    assert macro_f1(yt, yp) == pytest.approx(skm.f1_score(yt, yp, average="macro"))
    np.testing.assert_array_equal(confusion_matrix(yt, yp)[0], skm.confusion_matrix(yt, yp))


YT = ["cat", "cat", "dog", "dog", "dog", "bird"]
YP = ["cat", "dog", "dog", "dog", "cat", "cat"]


def test_confusion_matrix_hand_computed():
    m, labels = confusion_matrix(YT, YP)
    assert labels == ["bird", "cat", "dog"]
    np.testing.assert_array_equal(m, [[0, 1, 0], [0, 1, 1], [0, 1, 2]])
    m2, labels2 = confusion_matrix(YT, YP, labels=["dog", "cat"])
    np.testing.assert_array_equal(m2, [[2, 1], [1, 1]])
    assert labels2 == ["dog", "cat"]


def test_accuracy_and_macro_f1_hand_computed():
    assert accuracy(YT, YP) == pytest.approx(3 / 6)
    # bird: P=0,R=0 -> 0; cat: P=1/3, R=1/2 -> 0.4; dog: P=2/3, R=2/3 -> 2/3
    assert macro_f1(YT, YP) == pytest.approx((0 + 0.4 + 2 / 3) / 3)
    onehot_t = np.eye(3)[[0, 1, 2]]
    scores = np.array([[0.9, 0.1, 0], [0.6, 0.3, 0.1], [0, 0.2, 0.8]])
    assert accuracy(onehot_t, scores) == pytest.approx(2 / 3)


def test_classification_report():
    rep = classification_report(YT, YP)
    assert rep["accuracy"] == 0.5 and rep["n_samples"] == 6.0
    assert rep["f1[cat]"] == pytest.approx(0.4)
    assert rep["macro_recall"] == pytest.approx((0 + 0.5 + 2 / 3) / 3)
    assert all(type(v) is float for v in rep.values())
    with pytest.raises(ValueError, match="same number of rows"):
        accuracy([1, 2], [1])
