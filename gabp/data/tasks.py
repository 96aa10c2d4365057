"""``split_task``: the one way to get train / validation / test data for a task.

Training and the genetic algorithm's fitness may use only the train and validation
parts; the test part is kept in :class:`TaskData` for the final report only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_choice, fail
from ._dataset import Dataset
from .encoding import OneHotEncoder
from .scaling import MinMaxScaler, StandardScaler
from .series import Windows, chronological_split, make_windows
from .splits import _fractions, random_split, stratified_split

logger = logging.getLogger(__name__)

Scaler = MinMaxScaler | StandardScaler


@dataclass(frozen=True, eq=False)
class TaskData:
    """Model-ready train / validation / test parts of a dataset.

    ``X_*`` are scaled inputs of shape (n_part, n_inputs). ``y_*`` are the model's
    targets: scaled values of shape (n_part, k) for regression and series, one-hot rows of
    shape (n_part, n_classes) for classification (columns = ``encoder.classes_``).
    ``y_*_raw`` hold the same targets in original units (or class labels).

    **The test part must never be used by training, early stopping or the genetic
    algorithm's fitness**: select on the validation part, report on the test part once.
    Scalers were fitted on the training part only.

    Attributes
    ----------
    idx_train, idx_val, idx_test : ndarray of int
        Rows of ``dataset.X`` (or of the series windows) in each part.
    index_train, index_val, index_test : ndarray or None
        Time of each row's target (series tasks), for plotting.
    x_scaler, y_scaler : MinMaxScaler or StandardScaler or None
    encoder : OneHotEncoder or None
        Classification only.
    extra : dict
        Additional held-out parts (e.g. ``"test2"`` of the classic sunspot split), each a
        dict with ``X``, ``y``, ``y_raw`` and ``index``. Test data too: never for fitness.
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    y_train_raw: np.ndarray
    y_val_raw: np.ndarray
    y_test_raw: np.ndarray
    idx_train: np.ndarray
    idx_val: np.ndarray
    idx_test: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    x_scaler: Scaler | None = None
    y_scaler: Scaler | None = None
    encoder: OneHotEncoder | None = None
    index_train: np.ndarray | None = None
    index_val: np.ndarray | None = None
    index_test: np.ndarray | None = None
    windowing: dict[str, Any] | None = None
    extra: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        """Number of input columns."""
        return int(self.X_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """Number of output columns the network needs."""
        return int(self.y_train.shape[1])

    def inverse_y(self, y_model: Any) -> np.ndarray:
        """Network outputs (n, n_outputs) -> original units (n, k) or labels (n,)."""
        if self.encoder is not None:
            return self.encoder.inverse_transform(y_model)
        arr = np.asarray(y_model, dtype=float)
        return arr if self.y_scaler is None else self.y_scaler.inverse_transform(arr)

    def __repr__(self) -> str:
        return (
            f"TaskData(name={self.name!r}, task={self.task!r}, train={self.X_train.shape},"
            f" val={self.X_val.shape}, test={self.X_test.shape})"
        )


def _make_scaler(kind: str | None, feature_range: tuple[float, float]) -> Scaler | None:
    if kind is None:
        return None
    return MinMaxScaler(feature_range) if kind == "minmax" else StandardScaler()


def _apply(scaler: Scaler | None, arr: np.ndarray) -> np.ndarray:
    if scaler is None or arr.shape[0] == 0:
        return np.asarray(arr, dtype=float)
    return scaler.transform(arr)


def split_task(
    dataset: Dataset,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int | None = 0,
    n_lags: int | None = None,
    horizon: int | Sequence[int] | None = None,
    lag_step: int | None = None,
    scaler: str | None = "minmax",
    feature_range: tuple[float, float] = (-1.0, 1.0),
    scale_y: bool = True,
    classic: bool = False,
) -> TaskData:
    """Split a dataset into scaled train / validation / test parts.

    * classification: stratified split (:func:`stratified_split`), inputs scaled,
      targets one-hot encoded;
    * regression: random split with ``seed``, inputs and targets scaled;
    * series: windows (``n_lags`` / ``horizon`` / ``lag_step``, default the dataset's
      ``windowing``) split chronologically without leakage
      (:func:`chronological_split`); one scaler is fitted on the series values of the
      training period and applied to every lag column and target, so predictions can
      be fed back as inputs.

    Parameters
    ----------
    dataset : Dataset
    val_fraction, test_fraction : float, default 0.15
    seed : int or None, default 0
        Random and stratified splits only.
    n_lags, horizon, lag_step : int, optional
        Series windowing.
    scaler : {"minmax", "standard", None}, default "minmax"
    feature_range : (float, float), default (-1, 1)
        For ``scaler="minmax"``.
    scale_y : bool, default True
        Scale regression / series targets too.
    classic : bool, default False
        Use the literature's fixed split: sunspots (train+val targets up to 1920, test
        1921-1955, ``extra["test2"]`` 1956-1979) or Mackey-Glass (first 500 pairs
        train+val, last 500 test); ``test_fraction`` is then ignored.

    Returns
    -------
    TaskData
    """
    where = "split_task"
    if not isinstance(dataset, Dataset):
        fail("dataset", where, "a gabp.data.Dataset", dataset, exc=TypeError)
    check_choice(
        scaler if scaler is not None else "None", ("minmax", "standard", "None"), "scaler", where
    )
    vf, tf = _fractions(val_fraction, 0.0 if classic else test_fraction, where)
    if classic and dataset.name not in ("sunspots", "mackey_glass"):
        fail(
            "classic", where, "False for datasets other than 'sunspots' and 'mackey_glass'", classic
        )
    if dataset.task == "series":
        return _split_series(
            dataset, vf, tf, n_lags, horizon, lag_step, scaler, feature_range, scale_y, classic
        )
    n = dataset.n_samples
    if dataset.task == "classification":
        tr, va, te = stratified_split(dataset.y, val_fraction=vf, test_fraction=tf, seed=seed)
    else:
        tr, va, te = random_split(n, val_fraction=vf, test_fraction=tf, seed=seed)
    X = dataset.X.reshape(n, -1)  # images (n, C, H, W) as flat rows, (C, H, W) row-major
    xs = _make_scaler(scaler, feature_range)
    if xs is not None:
        xs.fit(X[tr])
    parts = {"X_train": _apply(xs, X[tr]), "X_val": _apply(xs, X[va]), "X_test": _apply(xs, X[te])}
    if dataset.task == "classification":
        names = np.asarray(dataset.target_names)
        labels = names[dataset.y]
        enc = OneHotEncoder().fit(names)
        ys = None
        for part, rows in (("train", tr), ("val", va), ("test", te)):
            parts[f"y_{part}_raw"] = labels[rows]
            parts[f"y_{part}"] = (
                enc.transform(labels[rows]) if rows.size else np.empty((0, enc.n_classes))
            )
    else:
        enc = None
        Y = dataset.y if dataset.y.ndim == 2 else dataset.y.reshape(-1, 1)
        ys = _make_scaler(scaler, feature_range) if scale_y else None
        if ys is not None:
            ys.fit(Y[tr])
        for part, rows in (("train", tr), ("val", va), ("test", te)):
            parts[f"y_{part}_raw"] = Y[rows]
            parts[f"y_{part}"] = _apply(ys, Y[rows])
    return TaskData(
        name=dataset.name,
        task=dataset.task,
        idx_train=tr,
        idx_val=va,
        idx_test=te,
        feature_names=list(dataset.feature_names),
        target_names=list(dataset.target_names),
        x_scaler=xs,
        y_scaler=ys,
        encoder=enc,
        **parts,
    )


def _split_series(
    ds: Dataset,
    vf: float,
    tf: float,
    n_lags,
    horizon,
    lag_step,
    scaler,
    feature_range,
    scale_y,
    classic,
) -> TaskData:
    if ds.series is None:
        fail("dataset", "split_task", "a series dataset with its raw 'series'", ds)
    wdef = dict(ds.windowing or {"n_lags": 1, "lag_step": 1, "horizon": 1})
    custom = any(v is not None for v in (n_lags, horizon, lag_step))
    if n_lags is not None:
        wdef["n_lags"] = n_lags
    if horizon is not None:
        wdef["horizon"] = horizon
    if lag_step is not None:
        wdef["lag_step"] = lag_step
    if custom or ds.X.shape[0] == 0:
        win = make_windows(ds.series, index=ds.series_index, exog=ds.exog, **wdef)
    else:
        win = _dataset_windows(ds, wdef)
    extra_rows: dict[str, np.ndarray] = {}
    if classic:
        if ds.name == "sunspots":
            test_start = 1921
            extra_rows["test2"] = np.flatnonzero((win.index >= 1956) & (win.index <= 1979))
        else:  # mackey_glass: the last 500 benchmark pairs are the test part
            test_start = ds.index[500]
        n_before = int(np.sum(win.index < test_start))
        split = chronological_split(win, val_size=int(round(vf * n_before)), test_start=test_start)
        test = split.test
        if ds.name == "sunspots":
            test = test.take(np.flatnonzero(test.index < 1956))
        train, val = split.train, split.val
    else:
        train, val, test = chronological_split(win, val_fraction=vf, test_fraction=tf)
    if len(train) == 0:
        fail("val_fraction", "split_task", "small enough to leave training windows", vf)
    n_lags_, n_exog = win.n_lags, win.X.shape[1] - win.n_lags * _n_cols(ds.series)
    xs = ys = None
    if scaler is not None:
        if n_exog == 0:
            period = ds.series[: int(train.target_end.max()) + 1]
            base = _make_scaler(scaler, feature_range).fit(period)
            xs = base.tile(n_lags_)
            ys = (
                base.tile(len(win.horizons))
                if scale_y and win.y.shape[1] == len(win.horizons) * _n_cols(ds.series)
                else None
            )
        else:
            xs = _make_scaler(scaler, feature_range).fit(train.X)
        if scale_y and ys is None:
            ys = _make_scaler(scaler, feature_range).fit(train.y)
    parts: dict[str, Any] = {}
    for part, w in (("train", train), ("val", val), ("test", test)):
        parts[f"X_{part}"] = _apply(xs, w.X)
        parts[f"y_{part}"] = _apply(ys, w.y)
        parts[f"y_{part}_raw"] = w.y
        parts[f"index_{part}"] = w.index
    extra = {}
    for key, rows in extra_rows.items():
        w = win.take(rows)
        extra[key] = {"X": _apply(xs, w.X), "y": _apply(ys, w.y), "y_raw": w.y, "index": w.index}
    return TaskData(
        name=ds.name,
        task="series",
        idx_train=_rows_of(win, train),
        idx_val=_rows_of(win, val),
        idx_test=_rows_of(win, test),
        feature_names=list(ds.feature_names) if not custom else _window_names(win, ds)[0],
        target_names=list(ds.target_names) if not custom else _window_names(win, ds)[1],
        x_scaler=xs,
        y_scaler=ys,
        windowing={"n_lags": win.n_lags, "lag_step": win.lag_step, "horizon": list(win.horizons)},
        extra=extra,
        **parts,
    )


def _window_names(win: Windows, ds: Dataset) -> tuple[list[str], list[str]]:
    n_cols = _n_cols(ds.series)
    # The series' own column names ("sunspots(t+1)" -> "sunspots"), else x / x0, x1, ...
    cols = list(dict.fromkeys(n.split("(")[0] for n in ds.target_names))
    if len(cols) != n_cols:
        cols = ["x"] if n_cols == 1 else [f"x{c}" for c in range(n_cols)]
    lags = [(win.n_lags - 1 - j) * win.lag_step for j in range(win.n_lags)]
    inputs = [f"{c}(t-{k})" if k else f"{c}(t)" for k in lags for c in cols]
    n_exog = win.X.shape[1] - len(inputs)
    inputs += list(ds.feature_names[-n_exog:]) if n_exog else []
    tcols = [cols[c] for c in win.meta.get("target_columns", range(n_cols))]
    return inputs, [f"{c}(t+{h})" for h in win.horizons for c in tcols]


def _n_cols(series: np.ndarray) -> int:
    return 1 if series.ndim == 1 else series.shape[1]


def _dataset_windows(ds: Dataset, wdef: dict[str, Any]) -> Windows:
    """Rebuild the Windows (with positions) matching the dataset's own X / y rows."""
    win = make_windows(ds.series, index=ds.series_index, exog=ds.exog, **wdef)
    if win.X.shape == ds.X.shape and np.array_equal(win.X, ds.X):
        return win
    # the dataset holds a subset of the windows (e.g. Mackey-Glass t = 118..1117)
    keep = np.flatnonzero(np.isin(win.index, ds.index))
    sub = win.take(keep)
    if sub.X.shape != ds.X.shape or not np.array_equal(sub.X, ds.X):
        logger.warning("dataset %r: X does not match its windowing; rebuilt from series", ds.name)
        return win
    return sub


def _rows_of(win: Windows, part: Windows) -> np.ndarray:
    return np.searchsorted(win.input_end, part.input_end).astype(np.int64)
