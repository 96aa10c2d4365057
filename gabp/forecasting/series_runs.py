"""The series side of ``gabp run``: time axis checks, differencing, naive baselines and
interval residuals of a run (used by :mod:`gabp.experiment`)."""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from ..data import Dataset, TaskData
from ..metrics import series_report
from .dates import check_time_index, parse_times
from .forecaster import choose_differencing
from .transforms import difference, forecast_paths

logger = logging.getLogger(__name__)

_INTERVAL_STEPS = 12


def check_times(ds: Dataset) -> Dataset:
    """The dataset with its time axis parsed (dates) and validated, before any work."""
    times = ds.series_index
    if times is None:
        return ds
    where = f"the series '{ds.name}'"
    parsed = parse_times(times, "date_column", where)
    if parsed.dtype.kind == "M" and (parsed == parsed.astype("datetime64[D]")).all():
        parsed = parsed.astype("datetime64[D]")
    check_time_index(parsed, "date_column", where)
    if parsed is times:
        return ds
    lookup = {str(a): b for a, b in zip(times.tolist(), parsed, strict=True)}
    index = None if ds.index is None else np.array([lookup[str(v)] for v in ds.index.tolist()])
    return dataclasses.replace(ds, series_index=parsed, index=index)


def lags_of(windowing: dict[str, Any]) -> tuple[int, ...]:
    """Lags (oldest first) of a ``make_windows`` windowing: the order of its inputs."""
    n, step = int(windowing["n_lags"]), int(windowing.get("lag_step") or 1)
    return tuple((n - 1 - j) * step + 1 for j in range(n))


def differencing(cfg: dict[str, Any], ds: Dataset, split: Callable[[Dataset], TaskData]
                 ) -> tuple[Dataset, dict[str, Any]]:
    """Apply the config's differencing (choosing it on the validation part when "auto").

    Returns the dataset to split (the differenced series, first values dropped) and the
    record stored in the run: ``ops`` (lags of each difference), the orders used, the
    orders requested and the validation RMSE of each candidate tried.
    """
    d = cfg["data"]
    period = d["seasonal_period"]
    d_opts = [0, 1] if d["difference"] == "auto" else [int(d["difference"])]
    D_opts = ([0, 1] if d["seasonal_difference"] == "auto" else [int(d["seasonal_difference"])]
              ) if period else [0]
    candidates = list(itertools.product(d_opts, D_opts))
    info: dict[str, Any] = {"requested": {"difference": d["difference"],
                                          "seasonal_difference": d["seasonal_difference"]},
                            "seasonal_period": period, "scores": {}}
    if candidates == [(0, 0)]:
        return ds, {**info, "ops": [], "difference": 0, "seasonal_difference": 0}
    if ds.series is None or ds.series.ndim != 1:
        raise ValueError(f"[data] difference: the series '{ds.name}' must have one column.")
    windowing = dict(ds.windowing or {})
    windowing.update({k: d[k] for k in ("n_lags", "lag_step") if d[k] is not None})
    lags = lags_of(windowing)
    if len(candidates) > 1:
        base = split(ds)
        times = _times(ds)
        val_start = int(np.searchsorted(times, np.min(base.index_val)))
        end = (int(np.searchsorted(times, np.min(base.index_test)))
               if base.X_test.shape[0] else len(times))
        cand_ops = [_ops(a, b, period) for a, b in candidates]
        best, _, rmse = choose_differencing(_screen(cfg), ds.series[:end],
                                            None if ds.exog is None else ds.exog[:end], lags,
                                            cand_ops, val_start)
        info["scores"] = {f"difference={a}, seasonal_difference={b}": float(r)
                          for (a, b), r in zip(candidates, rmse[:, 0], strict=True)}
        chosen = candidates[best]
        logger.info("differencing chosen on the validation part: %s", info["scores"])
    else:
        chosen = candidates[0]
    ops = _ops(*chosen, period)
    info.update({"ops": list(ops), "difference": chosen[0], "seasonal_difference": chosen[1]})
    if not ops:
        return ds, info
    off = sum(ops)
    w = difference(ds.series, ops)[-1]
    n_y = 1 if ds.y.ndim == 1 else ds.y.shape[1]
    out = dataclasses.replace(
        ds, series=w[off:], series_index=_times(ds)[off:],
        exog=None if ds.exog is None else ds.exog[off:],
        X=np.empty((0, ds.X.shape[1])), y=np.empty((0, n_y)), index=None)
    return out, info


def _ops(d: int, D: int, period: int | None) -> tuple[int, ...]:
    return (1,) * d + ((period,) * D if period else ())


def _times(ds: Dataset) -> np.ndarray:
    return ds.series_index if ds.series_index is not None else np.arange(len(ds.series))


def _screen(cfg: dict[str, Any]):
    """The short plain-BP regressor that screens the differencing candidates."""
    from ..estimators import GABPRegressor

    bp = cfg["bp"]
    kw = {k: bp[k] for k in ("optimizer", "learning_rate", "momentum", "batch_size", "alpha",
                             "max_epochs", "patience") if k in bp}
    return GABPRegressor(hidden_layer_sizes=tuple(cfg["network"]["hidden_layer_sizes"]),
                         activation=cfg["network"]["activation"]
                         if isinstance(cfg["network"]["activation"], str) else "tanh",
                         mode="bp", random_state=cfg["seed"],
                         linear=cfg["network"]["linear"], **kw)


def attach_levels(parts: dict[str, dict[str, Any]], ds: Dataset, windowing: dict[str, Any]
                  ) -> None:
    """Give each series part its target positions (``pos``) and, for a differenced run,
    the targets in original units (``y_raw``) and the offset (``base``) that turns a
    one-step prediction of the difference into a prediction of the value."""
    times = _times(ds)
    ops = windowing.get("differencing") or []
    w = difference(ds.series, ops)[-1] if ops else None
    for d in parts.values():
        pos = np.searchsorted(times, d["index"])
        d["pos"] = pos
        if w is not None:
            d["base"] = (ds.series[pos] - w[pos])[:, None]
            d["y_raw"] = ds.series[pos][:, None]


def naive_metrics(parts: dict[str, dict[str, Any]], ds: Dataset, windowing: dict[str, Any],
                  held_out: list[str]) -> tuple[dict[str, Any], tuple[np.ndarray, int]]:
    """Persistence and seasonal-naive reports on the held-out parts, and the MASE scale
    ``(y_train, season)`` (the training period of the series and the season length).

    The naive forecasts of every part are stored in ``part["naive"][name]`` (for
    ``predictions.csv``): from each row's origin, the last value, or the value one season
    before the target.
    """
    y = ds.series if ds.series.ndim == 1 else ds.series[:, 0]
    hs = np.atleast_1d(np.asarray(windowing.get("horizon", 1), dtype=np.int64))
    season = int(windowing.get("seasonal_period") or 1)
    train_end = int(np.max(parts["train"]["pos"])) + int(hs[-1] - hs[0]) + 1
    scale = (y[:train_end], season)
    names = {"persistence": 1} | ({"seasonal_naive": season} if season > 1 else {})
    out: dict[str, Any] = {name: {} for name in names}
    for p, d in parts.items():
        origin = d["pos"] - hs[0]
        d["naive"] = {}
        for name, m in names.items():
            back = m * np.ceil(hs / m).astype(np.int64)
            idx = origin[:, None] + hs[None, :] - back[None, :]
            pred = np.where(idx >= 0, y[np.maximum(idx, 0)], np.nan)
            d["naive"][name] = pred
            if p in held_out:
                out[name][p] = series_report(d["y_raw"], pred, *scale)
    return out, scale


def interval_residuals(model: Any, ds: Dataset, parts: dict[str, dict[str, Any]]
                       ) -> list[list[float]]:
    """Absolute errors of the model's 1..12-step forecasts from the validation origins."""
    if "val" not in parts or ds.series.ndim != 1 or ds.exog is not None:
        return []
    y = ds.series
    origins = parts["val"]["pos"] - 1
    steps = min(_INTERVAL_STEPS, len(origins))
    try:
        lags, ops, n_out = model.forecast_plan()
    except ValueError:
        return []
    look = max(lags) + sum(ops)
    origins = origins[origins + 1 >= look]
    if not len(origins):
        return []
    steps = min(steps, n_out) if n_out > 1 else steps
    hist = y[origins[:, None] + 1 - look + np.arange(look)[None, :]]
    pred = forecast_paths(model.predict, hist, lags=lags, ops=ops, steps=steps, n_out=n_out)
    out = []
    for h in range(1, steps + 1):
        ok = origins + h < len(y)
        ok &= origins + h <= np.max(parts["val"]["pos"])
        if ok.any():
            out.append(np.abs(pred[ok, h - 1] - y[origins[ok] + h]).tolist())
    return out
