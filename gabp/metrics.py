"""Error and accuracy metrics, computed with NumPy only.

Regression metrics accept ``y_true`` and ``y_pred`` of shape (n,) or (n, k). For
(n, k) each metric is computed per output column and the columns are averaged with equal
weights (scikit-learn's ``"uniform_average"``).

Definitions (per column, ``e = y_pred - y_true``):

* ``rmse = sqrt(mean(e**2))``, ``mae = mean(|e|)``
* ``mape = 100 * mean(|e| / |y_true|)`` over the rows with ``y_true != 0`` (a
  percentage; zero targets are skipped, ``ValueError`` if every target is zero)
* ``r2 = 1 - sum(e**2) / sum((y_true - mean(y_true))**2)``
* ``nrmse = rmse / std(y_true)``, ``ndei = rmse / std(y_true)`` (the non-dimensional
  error index of the Mackey-Glass literature; identical to ``nrmse``)
* ``arv = mean(e**2) / var(y_true)`` (average relative variance; ``arv == nrmse**2``)
* ``mase = mae / mean(|y_train[t] - y_train[t - m]|)`` and
  ``rmsse = rmse / sqrt(mean((y_train[t] - y_train[t - m])**2))``: errors relative to the
  in-sample one-step (seasonal, period ``m``) naive forecast of the training series
  (Hyndman & Koehler 2006). Below 1 means better than that naive forecast.

``std`` / ``var`` are the population statistics (``ddof=0``) of the true targets of the
evaluated set. With a constant ``y_true`` the normalized errors are 0 for a perfect
prediction and ``inf`` otherwise, and ``r2`` is 1.0 or 0.0 (as scikit-learn).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from ._validation import check_array, fail

__all__ = [
    "accuracy",
    "arv",
    "classification_report",
    "confusion_matrix",
    "macro_f1",
    "mae",
    "mape",
    "mase",
    "naive_forecast",
    "ndei",
    "nrmse",
    "r2",
    "regression_report",
    "rmse",
    "rmsse",
    "series_report",
]


def _pair(y_true: Any, y_pred: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    t = check_array(y_true, "y_true", where, ndim=(1, 2))
    p = check_array(y_pred, "y_pred", where, ndim=(1, 2))
    t2 = t.reshape(t.shape[0], -1)
    p2 = p.reshape(p.shape[0], -1)
    if t2.shape != p2.shape:
        raise ValueError(
            f"The 'y_true' and 'y_pred' parameters of {where} must have the same shape. "
            f"Got {t.shape} and {p.shape} instead."
        )
    return t2, p2


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den per column; 0 where both are 0, inf where only den is 0."""
    safe = np.where(den > 0, den, 1.0)
    return np.where(den > 0, num / safe, np.where(num > 0, np.inf, 0.0))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error (column average for (n, k) inputs)."""
    t, p = _pair(y_true, y_pred, "rmse")
    return float(np.mean(np.sqrt(np.mean((p - t) ** 2, axis=0))))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error (column average for (n, k) inputs)."""
    t, p = _pair(y_true, y_pred, "mae")
    return float(np.mean(np.mean(np.abs(p - t), axis=0)))


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error in percent, skipping rows where ``y_true == 0``.

    Raises ``ValueError`` if every target is zero (in a column).
    """
    t, p = _pair(y_true, y_pred, "mape")
    nonzero = t != 0
    if not np.all(nonzero.any(axis=0)):
        fail(
            "y_true",
            "mape",
            "not all zero (MAPE divides by the targets)",
            y_true,
            hint="Use mae or rmse instead.",
        )
    rel = np.abs(p - t) / np.where(nonzero, np.abs(t), 1.0)
    per_col = np.sum(np.where(nonzero, rel, 0.0), axis=0) / nonzero.sum(axis=0)
    return float(100.0 * np.mean(per_col))


def r2(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination (column average for (n, k) inputs)."""
    t, p = _pair(y_true, y_pred, "r2")
    ss_res = np.sum((p - t) ** 2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    safe = np.where(ss_tot > 0, ss_tot, 1.0)
    score = np.where(ss_tot > 0, 1.0 - ss_res / safe, np.where(ss_res > 0, 0.0, 1.0))
    return float(np.mean(score))


def nrmse(y_true: Any, y_pred: Any) -> float:
    """RMSE divided by the population standard deviation of ``y_true``."""
    t, p = _pair(y_true, y_pred, "nrmse")
    return float(np.mean(_ratio(np.sqrt(np.mean((p - t) ** 2, axis=0)), t.std(axis=0))))


def ndei(y_true: Any, y_pred: Any) -> float:
    """Non-dimensional error index: RMSE / std(y_true) (same value as :func:`nrmse`)."""
    t, p = _pair(y_true, y_pred, "ndei")
    return float(np.mean(_ratio(np.sqrt(np.mean((p - t) ** 2, axis=0)), t.std(axis=0))))


def arv(y_true: Any, y_pred: Any) -> float:
    """Average relative variance: MSE / population variance of ``y_true``."""
    t, p = _pair(y_true, y_pred, "arv")
    return float(np.mean(_ratio(np.mean((p - t) ** 2, axis=0), t.var(axis=0))))


def regression_report(y_true: Any, y_pred: Any) -> dict[str, float]:
    """All regression metrics in a plain dict (``mape`` is NaN if every target is 0)."""
    t, p = _pair(y_true, y_pred, "regression_report")
    report = {"n_samples": float(t.shape[0])}
    for name, fn in (
        ("rmse", rmse),
        ("mae", mae),
        ("r2", r2),
        ("nrmse", nrmse),
        ("arv", arv),
        ("ndei", ndei),
    ):
        report[name] = fn(t, p)
    try:
        report["mape"] = mape(t, p)
    except ValueError:
        report["mape"] = float("nan")
    return report


# ---------------------------------------------------------------- series baselines


def _naive_scale(y_train: Any, season: int, where: str) -> np.ndarray:
    y = check_array(y_train, "y_train", where, ndim=1)
    if not isinstance(season, (int, np.integer)) or season < 1:
        fail("season", where, "an integer >= 1", season)
    if y.shape[0] <= season:
        fail("y_train", where, f"more than season={season} values", y)
    return y[season:] - y[:-season]


def mase(y_true: Any, y_pred: Any, y_train: Any, season: int = 1) -> float:
    """Mean absolute scaled error: MAE / in-sample MAE of the (seasonal) naive forecast."""
    d = _naive_scale(y_train, season, "mase")
    return float(_ratio(np.array([mae(y_true, y_pred)]), np.array([np.mean(np.abs(d))]))[0])


def rmsse(y_true: Any, y_pred: Any, y_train: Any, season: int = 1) -> float:
    """Root mean squared scaled error: RMSE / in-sample RMSE of the (seasonal) naive
    forecast."""
    d = _naive_scale(y_train, season, "rmsse")
    return float(_ratio(np.array([rmse(y_true, y_pred)]), np.array([np.sqrt(np.mean(d**2))]))[0])


def naive_forecast(y: Any, origins: Any, steps: int, season: int = 1) -> np.ndarray:
    """Persistence (``season=1``) or seasonal-naive forecasts from each origin.

    The forecast ``h`` steps after origin ``o`` is ``y[o + h - season * ceil(h / season)]``:
    the last value (persistence), or the value one season before the target, taken from the
    last full season known at the origin.

    Parameters
    ----------
    y : array-like of shape (n,)
    origins : array-like of int, shape (m,)
        Positions of the last known value, each ``>= season - 1``.
    steps : int
    season : int, default 1

    Returns
    -------
    ndarray of shape (m, steps)
    """
    where = "naive_forecast"
    arr = check_array(y, "y", where, ndim=1)
    o = np.asarray(origins, dtype=np.int64).reshape(-1)
    if o.size and (o.min() < season - 1 or o.max() >= arr.shape[0]):
        fail("origins", where, f"positions in [{season - 1}, {arr.shape[0] - 1}]", o)
    h = np.arange(1, steps + 1)
    back = season * np.ceil(h / season).astype(np.int64)
    return arr[o[:, None] + h[None, :] - back[None, :]]


def series_report(y_true: Any, y_pred: Any, y_train: Any, season: int = 1) -> dict[str, float]:
    """:func:`regression_report` plus ``mase`` and ``rmsse`` against ``y_train``'s naive
    forecast of period ``season`` (1: persistence)."""
    report = regression_report(y_true, y_pred)
    report["mase"] = mase(y_true, y_pred, y_train, season)
    report["rmsse"] = rmsse(y_true, y_pred, y_train, season)
    return report


# ---------------------------------------------------------------- classification


def _labels_pair(y_true: Any, y_pred: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.ndim == 2 and p.ndim == 2:  # one-hot rows or class scores
        if t.shape != p.shape:
            fail("y_pred", where, f"an array of shape {t.shape} like y_true", p)
        t, p = np.argmax(t, axis=1), np.argmax(p, axis=1)
    if t.ndim != 1 or p.ndim != 1:
        fail("y_true", where, "1-D labels (or both 2-D one-hot / score arrays)", t)
    if t.shape[0] != p.shape[0]:
        raise ValueError(
            f"The 'y_true' and 'y_pred' parameters of {where} must have the same number of "
            f"rows. Got {t.shape[0]} and {p.shape[0]} instead."
        )
    if t.shape[0] == 0:
        fail("y_true", where, "non-empty", t)
    return t, p


def _sorted_labels(*arrays: np.ndarray) -> list[Hashable]:
    values = set()
    for a in arrays:
        values.update(a.tolist())
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=lambda v: (type(v).__name__, repr(v)))


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of rows whose predicted label equals the true one.

    Labels of shape (n,), or one-hot / score arrays of shape (n, n_classes) (argmax).
    """
    t, p = _labels_pair(y_true, y_pred, "accuracy")
    return float(np.mean([a == b for a, b in zip(t.tolist(), p.tolist(), strict=True)]))


def confusion_matrix(
    y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None
) -> tuple[np.ndarray, list[Hashable]]:
    """Counts ``matrix[i, j]`` of rows with true label ``labels[i]`` predicted ``labels[j]``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, n_classes)
    labels : sequence, optional
        Row / column order; default the sorted union of the labels seen.

    Returns
    -------
    matrix : ndarray of int, shape (n_labels, n_labels)
    labels : list
    """
    t, p = _labels_pair(y_true, y_pred, "confusion_matrix")
    labs = _sorted_labels(t, p) if labels is None else list(labels)
    if len(labs) == 0:
        fail("labels", "confusion_matrix", "a non-empty sequence", labels)
    pos = {lab: i for i, lab in enumerate(labs)}
    m = np.zeros((len(labs), len(labs)), dtype=np.int64)
    for a, b in zip(t.tolist(), p.tolist(), strict=True):
        if a in pos and b in pos:
            m[pos[a], pos[b]] += 1
    return m, labs


def per_class_scores(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 from a confusion matrix (rows true, columns
    predicted); 0 where a class was never predicted / never present. Each of shape (k,)."""
    tp = np.diag(m).astype(float)
    pred = m.sum(axis=0).astype(float)
    true = m.sum(axis=1).astype(float)
    precision = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def macro_f1(y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None) -> float:
    """Unweighted mean of the per-class F1 scores.

    Classes are ``labels`` or the union of true and predicted labels; a class with no true
    and no predicted rows (or zero precision and recall) scores 0.
    """
    m, _ = confusion_matrix(y_true, y_pred, labels)
    return float(np.mean(per_class_scores(m)[2]))


def classification_report(
    y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None
) -> dict[str, float]:
    """Accuracy, macro precision / recall / F1 and per-class F1 in a plain dict.

    Per-class entries are keyed ``"f1[<label>]"``.
    """
    m, labs = confusion_matrix(y_true, y_pred, labels)
    precision, recall, f1 = per_class_scores(m)
    report = {
        "n_samples": float(np.asarray(y_true).shape[0]),
        "accuracy": accuracy(y_true, y_pred),
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
    }
    for lab, score in zip(labs, f1, strict=True):
        report[f"f1[{lab}]"] = float(score)
    return report
