"""Series prediction helpers: supervised windows, leak-free chronological splits,
walk-forward evaluation and multi-step forecasting.

Positions are integer offsets into the series (0 .. n_t - 1); the *time index*
(e.g. years) is whatever the caller passes as ``index`` and is only carried along
for plotting and for splitting at given dates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .._validation import check_array, check_float, check_int, check_same_length, fail

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Windows:
    """Supervised pairs cut from a series, with the positions needed for leak-free splits.

    Row ``r`` has its forecast origin (last input value) at position ``t = input_end[r]``.

    Attributes
    ----------
    X : ndarray of shape (n, n_lags * n_cols + n_exog)
        ``X[r, j * n_cols + c] = series[t - (n_lags - 1 - j) * lag_step, c]`` (oldest lag
        first), followed by the exogenous columns at the origin, ``exog[t, :]``.
    y : ndarray of shape (n, n_horizons * n_targets)
        ``y[r, i * n_targets + c] = series[t + horizons[i], target_columns[c]]``.
    index : ndarray of shape (n,)
        Time of each row's first-horizon target, ``series_index[t + horizons[0]]``.
    input_start, input_end : ndarray of int, shape (n,)
        Positions of the oldest and newest input value of each row.
    target_start, target_end : ndarray of int, shape (n,)
        Positions of the first and last target value of each row.
    series_index : ndarray of shape (n_t,)
        Time of every position of the series (``arange(n_t)`` when not given).
    """

    X: np.ndarray
    y: np.ndarray
    index: np.ndarray
    input_start: np.ndarray
    input_end: np.ndarray
    target_start: np.ndarray
    target_end: np.ndarray
    series_index: np.ndarray
    n_lags: int = 1
    lag_step: int = 1
    horizons: tuple[int, ...] = (1,)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def take(self, rows: Any) -> Windows:
        """A new :class:`Windows` with only ``rows`` (indices or boolean mask)."""
        rows = np.asarray(rows)
        return replace(
            self,
            X=self.X[rows],
            y=self.y[rows],
            index=self.index[rows],
            input_start=self.input_start[rows],
            input_end=self.input_end[rows],
            target_start=self.target_start[rows],
            target_end=self.target_end[rows],
        )

    @classmethod
    def from_arrays(cls, X: Any, y: Any, *, index: Any = None) -> Windows:
        """Wrap ordered one-step pairs ``X`` (n, d), ``y`` (n,) or (n, k) as windows.

        Row ``r`` is treated as occupying the single position ``r`` (inputs and target),
        so splits can only separate rows, not detect overlapping windows; pass ``gap``
        to :func:`chronological_split` to purge rows near each boundary.
        """
        where = "Windows.from_arrays"
        X = check_array(X, "X", where, ndim=2)
        y = check_array(y, "y", where, ndim=(1, 2))
        check_same_length(X, y, ("X", "y"), where)
        pos = np.arange(X.shape[0])
        idx = pos if index is None else np.asarray(index)
        if idx.shape != (X.shape[0],):
            fail("index", where, f"an array of shape ({X.shape[0]},)", idx)
        return cls(
            X=X,
            y=y if y.ndim == 2 else y.reshape(-1, 1),
            index=idx,
            input_start=pos,
            input_end=pos,
            target_start=pos,
            target_end=pos,
            series_index=idx,
            n_lags=X.shape[1],
            lag_step=1,
            horizons=(0,),
        )


def _horizons(horizon: int | Sequence[int], where: str) -> tuple[int, ...]:
    if isinstance(horizon, (int, np.integer)) and not isinstance(horizon, bool):
        return (check_int(horizon, "horizon", where, low=1),)
    try:
        hs = tuple(int(check_int(h, "horizon", where, low=1)) for h in horizon)
    except TypeError:
        fail("horizon", where, "a positive integer or a sequence of them", horizon, exc=TypeError)
    if not hs or any(b <= a for a, b in zip(hs, hs[1:], strict=False)):
        fail(
            "horizon",
            where,
            "a non-empty strictly increasing sequence of positive integers",
            horizon,
        )
    return hs


def make_windows(
    series: Any,
    *,
    n_lags: int,
    horizon: int | Sequence[int] = 1,
    stride: int = 1,
    lag_step: int = 1,
    exog: Any = None,
    index: Any = None,
    target_columns: Sequence[int] | None = None,
) -> Windows:
    """Turn a series into supervised pairs (past values -> future values).

    Parameters
    ----------
    series : array-like of shape (n_t,) or (n_t, n_cols)
        The series, oldest value first. All columns are used as lagged inputs.
    n_lags : int
        Number of past values of each column per row.
    horizon : int or sequence of int, default 1
        Steps ahead to predict (``t + h``); several strictly increasing horizons give a
        multi-output (direct) target.
    stride : int, default 1
        Distance between the origins of consecutive rows.
    lag_step : int, default 1
        Spacing between lags: ``n_lags=4, lag_step=6`` gives x(t-18), x(t-12), x(t-6), x(t).
    exog : array-like of shape (n_t,) or (n_t, n_exog), optional
        Exogenous columns, appended to the inputs at the origin time ``t`` (known when
        the forecast is made).
    index : array-like of shape (n_t,), optional
        Time of each value (years, dates...); defaults to positions ``0 .. n_t - 1``.
    target_columns : sequence of int, optional
        Columns of ``series`` to predict; default all.

    Returns
    -------
    Windows
        ``X`` of shape (n, n_lags * n_cols + n_exog), ``y`` of shape
        (n, n_horizons * n_targets), with ``index`` = time of the first horizon's target.
    """
    where = "make_windows"
    arr = check_array(series, "series", where, ndim=(1, 2))
    data = arr.reshape(-1, 1) if arr.ndim == 1 else arr
    n_t, n_cols = data.shape
    n_lags = check_int(n_lags, "n_lags", where, low=1)
    hs = _horizons(horizon, where)
    stride = check_int(stride, "stride", where, low=1)
    lag_step = check_int(lag_step, "lag_step", where, low=1)
    if target_columns is None:
        tcols = list(range(n_cols))
    else:
        tcols = [
            check_int(c, "target_columns", where, low=0, high=n_cols - 1) for c in target_columns
        ]
        if not tcols:
            fail("target_columns", where, "a non-empty sequence of column numbers", target_columns)
    if exog is not None:
        ex = check_array(exog, "exog", where, ndim=(1, 2))
        ex = ex.reshape(-1, 1) if ex.ndim == 1 else ex
        if ex.shape[0] != n_t:
            fail("exog", where, f"an array with {n_t} rows (one per series value)", ex)
    else:
        ex = np.empty((n_t, 0))
    if index is None:
        idx = np.arange(n_t)
    else:
        idx = np.asarray(index)
        if idx.shape != (n_t,):
            fail("index", where, f"an array of shape ({n_t},)", idx)

    first = (n_lags - 1) * lag_step
    last = n_t - 1 - hs[-1]
    if last < first:
        fail(
            "series",
            where,
            f"at least {first + hs[-1] + 1} values for n_lags={n_lags}, lag_step={lag_step} "
            f"and horizon up to {hs[-1]}",
            arr,
        )
    origins = np.arange(first, last + 1, stride)
    lag_offsets = -(n_lags - 1 - np.arange(n_lags)) * lag_step  # oldest first
    X_lags = data[origins[:, None] + lag_offsets[None, :]]  # (n, n_lags, n_cols)
    X = np.concatenate([X_lags.reshape(len(origins), -1), ex[origins]], axis=1)
    h = np.asarray(hs)
    Y = data[origins[:, None] + h[None, :]][:, :, tcols]  # (n, n_h, n_targets)
    y = Y.reshape(len(origins), -1)
    return Windows(
        X=np.ascontiguousarray(X),
        y=np.ascontiguousarray(y),
        index=idx[origins + hs[0]],
        input_start=origins + lag_offsets[0],
        input_end=origins.copy(),
        target_start=origins + hs[0],
        target_end=origins + hs[-1],
        series_index=idx,
        n_lags=n_lags,
        lag_step=lag_step,
        horizons=hs,
        meta={"n_cols": n_cols, "n_exog": ex.shape[1], "target_columns": tcols, "stride": stride},
    )


@dataclass(frozen=True, eq=False)
class ChronologicalSplit:
    """Train / validation / test windows from :func:`chronological_split`.

    Unpacks as ``train, val, test = split``. ``val_start`` and ``test_start`` are the
    boundary positions in the series; ``n_dropped`` counts windows that straddled one.
    """

    train: Windows
    val: Windows
    test: Windows
    val_start: int
    test_start: int
    n_dropped: int

    def __iter__(self) -> Iterator[Windows]:
        return iter((self.train, self.val, self.test))


def _count(fraction: float | None, size: int | None, n: int, name: str, where: str) -> int:
    if size is not None:
        return check_int(size, name.replace("fraction", "size"), where, low=0, high=n)
    frac = check_float(fraction, name, where, low=0.0, high=1.0, high_open=True)
    return int(round(frac * n))


def chronological_split(
    windows: Windows | tuple[Any, Any],
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    val_size: int | None = None,
    test_size: int | None = None,
    val_start: Any = None,
    test_start: Any = None,
    gap: int = 0,
    strict: bool = False,
) -> ChronologicalSplit:
    """Split windows in time order without leaking later values into earlier parts.

    The series is cut at two positions ``v <= s`` (validation and test start). A window
    goes to

    * train if ``target_end < v - gap``,
    * validation if ``target_start >= v`` and ``target_end < s - gap``,
    * test if ``target_start >= s``,

    and is dropped otherwise (a multi-horizon target straddling a boundary, or the
    ``gap`` purge). Since inputs precede targets, no value at or after ``v`` appears in
    any training row (inputs or targets), and none at or after ``s`` in a validation row.
    Validation and test inputs may reach back into earlier parts: those values are known
    at forecast time. With ``strict=True`` such rows are dropped too (``input_start`` must
    be ``>= v`` resp. ``>= s``), making each part self-contained.

    Parameters
    ----------
    windows : Windows or (X, y)
        Output of :func:`make_windows`, or ordered one-step arrays (each row then occupies
        one position; see :meth:`Windows.from_arrays`).
    val_fraction, test_fraction : float, default 0.15
        Share of the windows (counted before dropping) for validation and test, taken from
        the end. Ignored when the matching ``*_size`` or ``*_start`` is given.
    val_size, test_size : int, optional
        Number of windows instead of fractions.
    val_start, test_start : time value, optional
        Boundaries in units of the time index: a window belongs to the later part when its
        first target time is ``>= val_start`` (resp. ``test_start``).
    gap : int, default 0
        Extra positions purged before each boundary.
    strict : bool, default False
        Also drop validation / test rows whose inputs start before their part.

    Returns
    -------
    ChronologicalSplit
        ``train``, ``val``, ``test`` windows (each possibly empty) and the boundaries.
    """
    where = "chronological_split"
    if isinstance(windows, tuple) and len(windows) == 2:
        windows = Windows.from_arrays(*windows)
    if not isinstance(windows, Windows):
        fail("windows", where, "a Windows object or a tuple (X, y)", windows, exc=TypeError)
    gap = check_int(gap, "gap", where, low=0)
    n = len(windows)
    tstarts = np.sort(windows.target_start, kind="stable")
    if val_start is None and test_start is None and val_size is None and test_size is None:
        vf = check_float(val_fraction, "val_fraction", where, low=0.0, high=1.0)
        tf = check_float(test_fraction, "test_fraction", where, low=0.0, high=1.0)
        if vf + tf >= 1.0:
            fail("val_fraction", where, f"less than 1 - test_fraction = {1 - tf:g}", vf)

    if test_start is not None:
        s = int(np.searchsorted(windows.series_index, test_start, side="left"))
    else:
        n_test = _count(test_fraction, test_size, n, "test_fraction", where)
        s = int(tstarts[n - n_test]) if n_test > 0 else len(windows.series_index)
    if val_start is not None:
        v = min(int(np.searchsorted(windows.series_index, val_start, side="left")), s)
    else:
        n_val = _count(val_fraction, val_size, n, "val_fraction", where)
        n_before = int(np.sum(tstarts < s))
        if n_val > n_before:
            fail("val_size", where, f"at most {n_before} (the windows before the test part)", n_val)
        v = int(tstarts[n_before - n_val]) if n_val > 0 else s

    w = windows
    train = w.target_end < v - gap
    val = (w.target_start >= v) & (w.target_end < s - gap)
    test = w.target_start >= s
    if strict:
        val &= w.input_start >= v
        test &= w.input_start >= s
    n_dropped = int(n - train.sum() - val.sum() - test.sum())
    if n_dropped:
        logger.debug("chronological_split dropped %d straddling window(s)", n_dropped)
    return ChronologicalSplit(
        train=w.take(np.flatnonzero(train)),
        val=w.take(np.flatnonzero(val)),
        test=w.take(np.flatnonzero(test)),
        val_start=v,
        test_start=s,
        n_dropped=n_dropped,
    )


@dataclass(frozen=True, eq=False)
class WalkForwardResult:
    """Outcome of :func:`walk_forward`.

    Attributes
    ----------
    predictions : ndarray of shape (m, k)
        Predictions for every evaluated row, in order.
    y_true : ndarray of shape (m, k)
        The matching targets.
    rows : ndarray of int, shape (m,)
        Row numbers (into ``X``) of the evaluated rows.
    block_starts : ndarray of int, shape (n_blocks,)
        First row of each block.
    block_rmse, block_mae : ndarray of shape (n_blocks,)
        Errors of each block.
    train_sizes : ndarray of int, shape (n_blocks,)
        Number of training rows used for each block.
    """

    predictions: np.ndarray
    y_true: np.ndarray
    rows: np.ndarray
    block_starts: np.ndarray
    block_rmse: np.ndarray
    block_mae: np.ndarray
    train_sizes: np.ndarray

    @property
    def rmse(self) -> float:
        """RMSE over all evaluated rows."""
        return float(np.sqrt(np.mean((self.predictions - self.y_true) ** 2)))

    @property
    def mae(self) -> float:
        """MAE over all evaluated rows."""
        return float(np.mean(np.abs(self.predictions - self.y_true)))


def walk_forward(
    fit_predict: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    X: Any,
    y: Any = None,
    *,
    initial: int,
    step: int,
    max_train: int | None = None,
) -> WalkForwardResult:
    """Rolling-origin evaluation: refit on all past rows, predict the next block.

    For the block of rows ``[start, start + step)``, ``fit_predict(X_train, y_train,
    X_block)`` is called with the rows before ``start`` (the last ``max_train`` of them
    if given) and must return predictions of shape (len(block),) or (len(block), k).

    Parameters
    ----------
    fit_predict : callable
        ``(X_train (m, d), y_train (m, k), X_block (b, d)) -> y_pred (b, k)``.
    X : ndarray of shape (n, d) or Windows
        Inputs in time order. With :class:`Windows` (and ``y=None``), a training row is
        used only if its last target is known at the block's first origin
        (``target_end <= input_end[start]``), so multi-step targets never leak.
    y : ndarray of shape (n,) or (n, k)
        Targets (omit when ``X`` is a Windows).
    initial : int
        Rows in the first training window.
    step : int
        Rows per predicted block (the last block may be shorter).
    max_train : int, optional
        Use only the most recent ``max_train`` rows (a sliding instead of expanding window).

    Returns
    -------
    WalkForwardResult
    """
    where = "walk_forward"
    if isinstance(X, Windows):
        win = X
        Xa, ya = win.X, win.y
    else:
        Xa = check_array(X, "X", where, ndim=2)
        ya = check_array(y, "y", where, ndim=(1, 2))
        check_same_length(Xa, ya, ("X", "y"), where)
        win = None
    if ya.ndim == 1:
        ya = ya.reshape(-1, 1)
    n = Xa.shape[0]
    initial = check_int(initial, "initial", where, low=1, high=n - 1)
    step = check_int(step, "step", where, low=1)
    if max_train is not None:
        max_train = check_int(max_train, "max_train", where, low=1)
    preds, rows, starts, rmses, maes, sizes = [], [], [], [], [], []
    for start in range(initial, n, step):
        stop = min(start + step, n)
        train_rows = np.arange(start)
        if win is not None:
            train_rows = train_rows[win.target_end[:start] <= win.input_end[start]]
        if max_train is not None:
            train_rows = train_rows[-max_train:]
        if train_rows.size == 0:
            fail("initial", where, "large enough that every block has training rows", initial)
        pred = np.asarray(fit_predict(Xa[train_rows], ya[train_rows], Xa[start:stop]), dtype=float)
        pred = pred.reshape(stop - start, -1)
        if pred.shape != ya[start:stop].shape:
            raise ValueError(
                f"fit_predict returned predictions of shape {pred.shape}; expected "
                f"{ya[start:stop].shape} for the block starting at row {start}."
            )
        err = pred - ya[start:stop]
        preds.append(pred)
        rows.append(np.arange(start, stop))
        starts.append(start)
        rmses.append(float(np.sqrt(np.mean(err**2))))
        maes.append(float(np.mean(np.abs(err))))
        sizes.append(train_rows.size)
    P = np.concatenate(preds)
    R = np.concatenate(rows)
    return WalkForwardResult(
        predictions=P,
        y_true=ya[R],
        rows=R,
        block_starts=np.asarray(starts),
        block_rmse=np.asarray(rmses),
        block_mae=np.asarray(maes),
        train_sizes=np.asarray(sizes),
    )


def _histories(history: Any, need: int, where: str) -> tuple[np.ndarray, bool]:
    arr = check_array(history, "history", where, ndim=(1, 2))
    one = arr.ndim == 1
    arr = arr.reshape(1, -1) if one else arr
    if arr.shape[1] < need:
        fail("history", where, f"at least {need} values per history", arr)
    return arr, one


def forecast_recursive(
    predict: Callable[[np.ndarray], np.ndarray],
    history: Any,
    *,
    n_lags: int,
    steps: int,
    lag_step: int = 1,
) -> np.ndarray:
    """Multi-step forecast from a one-step model by feeding predictions back.

    Parameters
    ----------
    predict : callable
        ``X (m, n_lags) -> (m,) or (m, 1)``: the one-step model, inputs ordered oldest
        first as built by :func:`make_windows` (same ``n_lags`` and ``lag_step``).
    history : array-like of shape (n_t,) or (m, n_t)
        Known values up to the forecast origin (several independent histories in rows).
    n_lags : int
    steps : int
        Number of future values to produce.
    lag_step : int, default 1

    Returns
    -------
    ndarray of shape (steps,) or (m, steps)
        Forecasts for origin + 1 .. origin + steps.
    """
    where = "forecast_recursive"
    n_lags = check_int(n_lags, "n_lags", where, low=1)
    steps = check_int(steps, "steps", where, low=1)
    lag_step = check_int(lag_step, "lag_step", where, low=1)
    span = (n_lags - 1) * lag_step + 1
    hist, one = _histories(history, span, where)
    m = hist.shape[0]
    buf = np.concatenate([hist[:, -span:], np.empty((m, steps))], axis=1)
    for k in range(steps):
        end = span + k  # buf[:, end] is the value to predict
        cols = end - 1 - (n_lags - 1 - np.arange(n_lags)) * lag_step
        out = np.asarray(predict(buf[:, cols]), dtype=float)
        if out.size != m:
            raise ValueError(
                f"predict returned {out.size} values for {m} input row(s); a one-step model "
                "must return shape (m,) or (m, 1)."
            )
        buf[:, end] = out.reshape(m)
    out = buf[:, span:]
    return out[0] if one else out


def forecast_direct(
    predict: Callable[[np.ndarray], np.ndarray],
    history: Any,
    *,
    n_lags: int,
    lag_step: int = 1,
) -> np.ndarray:
    """Forecast several horizons at once with a multi-output (direct) model.

    Parameters
    ----------
    predict : callable
        ``X (m, n_lags) -> (m, n_horizons)``, trained on :func:`make_windows` output with
        a sequence ``horizon``.
    history : array-like of shape (n_t,) or (m, n_t)
    n_lags : int
    lag_step : int, default 1

    Returns
    -------
    ndarray of shape (n_horizons,) or (m, n_horizons)
        Forecasts at the model's horizons after the last value of each history.
    """
    where = "forecast_direct"
    n_lags = check_int(n_lags, "n_lags", where, low=1)
    lag_step = check_int(lag_step, "lag_step", where, low=1)
    span = (n_lags - 1) * lag_step + 1
    hist, one = _histories(history, span, where)
    cols = hist.shape[1] - 1 - (n_lags - 1 - np.arange(n_lags)) * lag_step
    out = np.asarray(predict(hist[:, cols]), dtype=float).reshape(hist.shape[0], -1)
    return out[0] if one else out
