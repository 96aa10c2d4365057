"""Figures for GA-BP runs (matplotlib).

Every plotting function takes ``ax=None`` and returns the :class:`~matplotlib.axes.Axes` it
drew on (the pymoo / scikit-optimize convention). When ``ax`` is ``None`` a new figure is
made with :func:`new_axes`, which builds a :class:`matplotlib.figure.Figure` directly (no
pyplot state, no GUI backend), so long runs never leak figures. :func:`save_figure` writes a
figure headless and atomically.

The core of :mod:`gabp` never imports this module; only reports, the CLI and users do.

Inputs are plain data: a DEAP ``Logbook`` (or the rows read back from a CSV file, or a dict
of columns), a :class:`gabp.trainer.History` (or a dict with ``"train_loss"`` /
``"val_loss"``), arrays of targets and predictions. Non-finite errors (a diverged network's
``inf``) are drawn as gaps.
"""

from __future__ import annotations

import math
import os
import sys
import uuid
import warnings
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure

from ._validation import check_choice, fail
from .metrics import confusion_matrix as _confusion_matrix
from .metrics import per_class_scores

__all__ = [
    "new_axes",
    "plot_bp_curve",
    "plot_class_scores",
    "plot_confusion_matrix",
    "plot_convergence",
    "plot_errors",
    "plot_hyperparameters",
    "plot_runs",
    "plot_series",
    "save_figure",
]

ERROR_LABEL = "error (lower is better)"
_X_CHOICES = ("gen", "evals", "time")
_X_LABELS = {"gen": "generation", "evals": "evaluations", "time": "wall time (s)"}
# Logbook columns that are statistics, not hyperparameters (skipped by plot_hyperparameters).
_LOGBOOK_COLUMNS = frozenset(
    {
        "gen",
        "nevals",
        "nfailed",
        "error_min",
        "error_mean",
        "error_std",
        "error_max",
        "best_so_far",
        "diversity",
        "n_steps",
        "elapsed",
        "n_trainings",
        "n_cache_hits",
        "fitness",
        "error",
    }
)
_REGION_COLORS = {
    "train": "tab:blue",
    "validation": "tab:orange",
    "val": "tab:orange",
    "test": "tab:green",
}


# ----------------------------------------------------------------------------- helpers


def new_axes(figsize: tuple[float, float] = (6.0, 4.0), *, dpi: float = 100) -> Axes:
    """A fresh Axes on a new, pyplot-free figure (Agg canvas, constrained layout).

    Parameters
    ----------
    figsize : (width, height) in inches
    dpi : float

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.figure`` is a :class:`matplotlib.figure.Figure` not registered with pyplot;
        it is freed as soon as it is no longer referenced.
    """
    if (
        not isinstance(figsize, Sequence)
        or len(figsize) != 2
        or not all(isinstance(v, (int, float)) and v > 0 for v in figsize)
    ):
        fail("figsize", "new_axes", "a pair of positive numbers (width, height)", figsize)
    fig = Figure(figsize=tuple(float(v) for v in figsize), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _axes(ax: Any, where: str) -> Axes:
    if ax is None:
        return new_axes()
    if not isinstance(ax, Axes):
        fail("ax", where, "a matplotlib Axes or None", ax, exc=TypeError)
    return ax


def _root_figure(obj: Any, where: str) -> Figure:
    fig = obj.figure if isinstance(obj, Axes) else obj
    while isinstance(fig, SubFigure):
        fig = fig.figure
    if not isinstance(fig, Figure):
        fail("ax_or_fig", where, "a matplotlib Axes or Figure", obj, exc=TypeError)
    return fig


def _float(value: Any, name: str, where: str) -> float:
    """One table cell as float: numbers, numeric strings (CSV), ``None`` / ``""`` -> NaN."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        fail(name, where, "numeric values", value, exc=TypeError)


def _finite_or_nan(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a[~np.isfinite(a)] = np.nan
    return a


def _quiet(func, *args, **kwargs):
    """Call a NumPy nan-reduction without 'empty slice' / 'invalid value' warnings."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(*args, **kwargs)


def _records(data: Any, name: str, where: str) -> list[Mapping[str, Any]] | None:
    """A Logbook / list of dicts as a list of rows; ``None`` if ``data`` is a column dict."""
    if hasattr(data, "logbook") and not isinstance(data, Mapping):  # EvolutionResult
        data = data.logbook
        if data is None:
            fail(
                name,
                where,
                "a result with a logbook",
                None,
                hint="Runs in mode 'bp' have no logbook.",
            )
    if isinstance(data, Mapping):
        return None
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        fail(
            name, where, "a DEAP Logbook, a list of dicts or a dict of columns", data, exc=TypeError
        )
    if len(data) == 0:
        fail(name, where, "non-empty (at least one generation)", data)
    for row in data:
        if not isinstance(row, Mapping):
            fail(
                name,
                where,
                "a DEAP Logbook, a list of dicts or a dict of columns",
                row,
                exc=TypeError,
            )
    return list(data)


def _raw_columns(data: Any, name: str, where: str) -> dict[str, list[Any]]:
    """Columns of a Logbook / list of row dicts / dict of columns, values untouched."""
    rows = _records(data, name, where)
    if rows is None:
        cols: dict[str, list[Any]] = {}
        n = None
        for key, values in data.items():
            values = list(np.ravel(np.asarray(values, dtype=object)))
            if n is not None and len(values) != n:
                fail(
                    name,
                    where,
                    "a dict of columns of equal length",
                    data,
                    hint=f"Column {key!r} has {len(values)} values, others {n}.",
                )
            n = len(values)
            cols[str(key)] = values
        if not n:
            fail(name, where, "non-empty (at least one generation)", data)
        return cols
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    return {k: [row.get(k) for row in rows] for k in keys}


def _columns(data: Any, name: str, where: str) -> dict[str, np.ndarray]:
    """Numeric columns (float arrays) of a Logbook-like table; non-numeric columns dropped."""
    out = {}
    for key, values in _raw_columns(data, name, where).items():
        try:
            out[key] = np.array([_float(v, key, where) for v in values], dtype=float)
        except TypeError:
            continue
    return out


def _need(cols: Mapping[str, np.ndarray], key: str, name: str, where: str) -> np.ndarray:
    if key not in cols:
        fail(
            name,
            where,
            f"a table with a numeric {key!r} column",
            sorted(cols),
            hint="Columns found are listed above.",
        )
    return cols[key]


def _x_values(cols: Mapping[str, np.ndarray], x: str, name: str, where: str) -> np.ndarray:
    n = len(next(iter(cols.values())))
    if x == "gen":
        return cols["gen"] if "gen" in cols else np.arange(n, dtype=float)
    if x == "evals":
        nevals = _need(cols, "nevals", name, where)
        return np.cumsum(np.nan_to_num(nevals, nan=0.0))
    return _need(cols, "elapsed", name, where)


def _check_label(label: Any, name: str, where: str) -> str | None:
    if label is not None and not isinstance(label, str):
        fail(name, where, "a string or None", label, exc=TypeError)
    return label


def _join(prefix: str | None, text: str) -> str:
    return f"{prefix} {text}" if prefix else text


# ------------------------------------------------------------------------ convergence


def plot_convergence(
    logbook: Any,
    *,
    x: str = "gen",
    ax: Axes | None = None,
    label: str | None = None,
    log: bool = False,
) -> Axes:
    """GA convergence: best, mean (with a ±1 std band) and best-so-far error per generation.

    Parameters
    ----------
    logbook : deap.tools.Logbook, list of dict, dict of columns or EvolutionResult
        One record per generation with ``error_min`` (required) and optionally
        ``error_mean``, ``error_std``, ``error_max``, ``best_so_far``, ``gen``, ``nevals``,
        ``elapsed``. Rows read back from a CSV file (string values) are accepted; empty
        cells are gaps.
    x : {"gen", "evals", "time"}
        Horizontal axis: the generation, the cumulative number of evaluations
        (``cumsum(nevals)``) or the wall time (``elapsed``, seconds).
    ax : Axes, optional
    label : str, optional
        Prefix of the legend entries (``"<label> best"``, ...), to overlay several runs on
        one Axes. With a label, all lines of the call share one color and differ by style;
        without, each line has its own color.
    log : bool
        Log-scaled error axis.

    Returns
    -------
    matplotlib.axes.Axes
        Lines in order: ``best`` (``error_min``), ``mean`` (``error_mean``, if present),
        ``best so far`` (if present). The mean's band (``error_mean ± error_std``, clipped
        to ``[error_min, error_max]``) is a ``PolyCollection`` in ``ax.collections``.
    """
    where = "plot_convergence"
    check_choice(x, _X_CHOICES, "x", where)
    label = _check_label(label, "label", where)
    ax = _axes(ax, where)
    cols = _columns(logbook, "logbook", where)
    best = _finite_or_nan(_need(cols, "error_min", "logbook", where))
    xs = _x_values(cols, x, "logbook", where)

    if label is None:
        colors = {"best": "C0", "mean": "C1", "so_far": "C2"}
    else:
        n_prev = sum(1 for line in ax.lines if line.get_gid() == "gabp-convergence-best")
        c = f"C{n_prev % 10}"
        colors = {"best": c, "mean": c, "so_far": c}

    ax.plot(
        xs,
        best,
        color=colors["best"],
        lw=1.2,
        marker="." if len(xs) <= 60 else None,
        label=_join(label, "best"),
        gid="gabp-convergence-best",
    )
    if "error_mean" in cols:
        mean = _finite_or_nan(cols["error_mean"])
        ax.plot(
            xs,
            mean,
            color=colors["mean"],
            lw=1.2,
            ls="--",
            label=_join(label, "mean"),
            gid="gabp-convergence-mean",
        )
        if "error_std" in cols:
            std = _finite_or_nan(cols["error_std"])
            with np.errstate(invalid="ignore"):
                lo, hi = mean - std, mean + std
                lo = np.fmax(lo, best)
                if "error_max" in cols:
                    hi = np.fmin(hi, _finite_or_nan(cols["error_max"]))
            ax.fill_between(
                xs, lo, hi, color=colors["mean"], alpha=0.2, lw=0, label=_join(label, "mean ± std")
            )
    if "best_so_far" in cols:
        ax.plot(
            xs,
            _finite_or_nan(cols["best_so_far"]),
            color=colors["so_far"],
            lw=2.2,
            drawstyle="steps-post",
            label=_join(label, "best so far"),
            gid="gabp-convergence-so-far",
        )

    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel(ERROR_LABEL)
    if log:
        ax.set_yscale("log")
    ax.set_title("GA convergence")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


# ------------------------------------------------------------------------- BP curves


def _loss_matrix(value: Any, name: str, where: str) -> np.ndarray | None:
    """A loss curve as an (n_epochs, P) float array (inf -> NaN); ``None`` stays None."""
    if value is None:
        return None
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        fail(
            name,
            where,
            "an array of numbers of shape (n_epochs,) or (n_epochs, P)",
            value,
            exc=TypeError,
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        fail(name, where, "a non-empty array of shape (n_epochs,) or (n_epochs, P)", arr)
    return _finite_or_nan(arr)


def _curves(history: Any, name: str, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    if hasattr(history, "history") and not isinstance(history, Mapping):  # BaselineResult
        history = history.history
    if isinstance(history, Mapping):
        if "train_loss" not in history:
            fail(name, where, "a History or a dict with a 'train_loss' entry", sorted(history))
        train, val = history["train_loss"], history.get("val_loss")
    elif hasattr(history, "train_loss"):
        train, val = history.train_loss, getattr(history, "val_loss", None)
    else:
        fail(
            name,
            where,
            "a History or a dict with 'train_loss' / 'val_loss'",
            history,
            exc=TypeError,
        )
    train = _loss_matrix(train, f"{name}.train_loss", where)
    val = _loss_matrix(val, f"{name}.val_loss", where)
    if val is not None and val.shape[1] != train.shape[1]:
        fail(
            f"{name}.val_loss",
            where,
            f"an array with {train.shape[1]} column(s) like train_loss",
            val,
        )
    return train, val


def plot_bp_curve(
    history_or_dict: Any,
    *,
    baseline: Any = None,
    ax: Axes | None = None,
    log: bool = True,
    member: int = 0,
    label: str | None = None,
    baseline_label: str = "plain BP",
) -> Axes:
    """BP error curve: training and validation loss per epoch, optionally vs plain BP.

    Parameters
    ----------
    history_or_dict : History, dict or EvolutionResult
        ``train_loss`` of shape (n_epochs,) or (n_epochs, P) and optional ``val_loss`` of the
        same shape. With an ``EvolutionResult`` its ``bp_history`` is drawn, and its
        ``baseline`` too unless ``baseline`` is given.
    baseline : History, dict or BaselineResult, optional
        Plain BP curves, drawn dashed (``"plain BP train"`` / ``"plain BP val"``). With
        several restarts (P > 1) the mean over restarts is drawn with a min–max band;
        diverged restarts (``inf``) are left out of the mean.
    ax : Axes, optional
    log : bool
        Log-scaled loss axis (default).
    member : int
        Column of a population history (P > 1) to draw for ``history_or_dict``.
    label : str, optional
        Prefix of the main curves' legend entries; ``"GA-BP"`` when a baseline is drawn.
    baseline_label : str
        Prefix of the baseline's legend entries.

    Returns
    -------
    matplotlib.axes.Axes
        Lines in order: train, val (if any), baseline train, baseline val (if any). Each
        baseline band is a ``PolyCollection``. Epochs are numbered from 1.
    """
    where = "plot_bp_curve"
    label = _check_label(label, "label", where)
    _check_label(baseline_label, "baseline_label", where)
    if isinstance(member, bool) or not isinstance(member, (int, np.integer)):
        fail("member", where, "an integer", member, exc=TypeError)
    if hasattr(history_or_dict, "bp_history"):  # EvolutionResult
        if baseline is None and getattr(history_or_dict, "baseline", None) is not None:
            baseline = history_or_dict.baseline
        history_or_dict = history_or_dict.bp_history
    train, val = _curves(history_or_dict, "history_or_dict", where)
    if not -train.shape[1] <= member < train.shape[1]:
        fail("member", where, f"an integer in [0, {train.shape[1] - 1}]", member)
    base = None if baseline is None else _curves(baseline, "baseline", where)
    ax = _axes(ax, where)
    if label is None and base is not None:
        label = "GA-BP"

    epochs = np.arange(1, train.shape[0] + 1)
    ax.plot(epochs, train[:, member], color="C0", lw=1.6, label=_join(label, "train"))
    if val is not None:
        ax.plot(epochs, val[:, member], color="C1", lw=1.6, label=_join(label, "val"))
    if base is not None:
        for curve, color, part in ((base[0], "C0", "train"), (base[1], "C1", "val")):
            if curve is None:
                continue
            ep = np.arange(1, curve.shape[0] + 1)
            mean = _quiet(np.nanmean, curve, axis=1)
            ax.plot(
                ep,
                mean,
                color=color,
                lw=1.4,
                ls="--",
                label=_join(baseline_label, part)
                + (f" (mean of {curve.shape[1]})" if curve.shape[1] > 1 else ""),
            )
            if curve.shape[1] > 1:
                ax.fill_between(
                    ep,
                    _quiet(np.nanmin, curve, axis=1),
                    _quiet(np.nanmax, curve, axis=1),
                    color=color,
                    alpha=0.15,
                    lw=0,
                    label=_join(baseline_label, f"{part} min–max"),
                )
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (lower is better)")
    if log:
        ax.set_yscale("log")
    ax.set_title("BP training")
    ax.grid(True, alpha=0.3, which="both" if log else "major")
    ax.legend()
    return ax


# ----------------------------------------------------------------------------- series


def _series(index: Any, y_true: Any, y_pred: Any, where: str):
    t = _numeric(y_true, "y_true", where)
    p = _numeric(y_pred, "y_pred", where)
    for arr, name in ((t, "y_true"), (p, "y_pred")):
        if arr.ndim not in (1, 2) or arr.shape[0] == 0 or (arr.ndim == 2 and arr.shape[1] == 0):
            fail(name, where, "a non-empty array of shape (n,) or (n, n_outputs)", arr)
    if t.shape[0] != p.shape[0]:
        raise ValueError(
            f"The 'y_true' and 'y_pred' parameters of {where} must have the same number of "
            f"rows. Got {t.shape[0]} and {p.shape[0]} instead."
        )
    t = t.reshape(t.shape[0], -1)
    p = p.reshape(p.shape[0], -1)
    if t.shape[1] != p.shape[1]:
        fail("y_pred", where, f"an array with {t.shape[1]} output column(s) like y_true", p)
    if index is None:
        idx = np.arange(t.shape[0])
    else:
        idx = np.asarray(index)
        if idx.ndim != 1:
            fail("index", where, "a 1-D array (one position per row) or None", idx)
        if idx.shape[0] != t.shape[0]:
            raise ValueError(
                f"The 'index' and 'y_true' parameters of {where} must have the same number "
                f"of rows. Got {idx.shape[0]} and {t.shape[0]} instead."
            )
    return idx, _finite_or_nan(t), _finite_or_nan(p)


def _numeric(value: Any, name: str, where: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        fail(name, where, "an array of numbers", value, exc=TypeError)


def plot_series(
    index: Any,
    y_true: Any,
    y_pred: Any,
    *,
    regions: Mapping[str, tuple[Any, Any]] | None = None,
    baseline: Any = None,
    naive: Mapping[str, Any] | None = None,
    zoom: tuple[Any, Any] | None = None,
    name: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Predicted vs actual values over time, with the train / validation / test spans shaded.

    Parameters
    ----------
    index : array-like of shape (n,) or None
        Position of each row on the time axis (e.g. years, ``datetime64`` dates, which get
        date ticks); ``None`` for ``0 .. n-1``.
    y_true, y_pred : array-like of shape (n,) or (n, n_outputs)
        Actual and predicted values in the original units. NaN in ``y_pred`` (rows that were
        not predicted) is drawn as a gap.
    regions : dict of str -> (start, end), optional
        Spans in ``index`` units, e.g. ``{"train": (1900, 1950), "validation": (1950, 1960),
        "test": (1960, 1970)}``; each is shaded (``axvspan``) and named in the legend.
    baseline : array-like like ``y_pred``, optional
        Plain-BP predictions (first output column drawn).
    naive : dict of str -> array-like of shape (n,), optional
        Naive forecasts (``{"persistence": ..., "seasonal naive": ...}``).
    zoom : (start, end), optional
        A span of ``index`` (the test part) drawn again, larger, with the baseline and naive
        forecasts: a second panel below when ``ax`` is None, else an inset of ``ax``. The
        baseline and naive lines then appear only there, keeping a long series readable.
    name : str, optional
        Name of the series (the value axis label and the legend's ``actual``).
    ax : Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        The main panel. Lines: ``actual`` then ``predicted`` (``actual[j]`` /
        ``predicted[j]`` per output column when n_outputs > 1), then (without ``zoom``) the
        baseline and naive lines; one patch per region. The zoom panel is
        ``ax.figure.axes[1]`` (new figure) or ``ax.child_axes[0]`` (inset).
    """
    where = "plot_series"
    idx, t, p = _series(index, y_true, y_pred, where)
    _check_label(title, "title", where)
    _check_label(name, "name", where)
    extra = []
    if baseline is not None:
        _, _, b = _series(idx, y_true, baseline, where)
        extra.append(("plain BP", b[:, 0], dict(color="C0", lw=1.1, ls="-.")))
    if naive is not None:
        if not isinstance(naive, Mapping):
            fail("naive", where, "a dict of name -> predictions", naive, exc=TypeError)
        for k, (label, values) in enumerate(naive.items()):
            _, _, v = _series(idx, y_true, values, where)
            extra.append((str(label), v[:, 0], dict(color=f"C{k + 7}", lw=1.0, ls=":")))
    spans = []
    if regions is not None:
        if not isinstance(regions, Mapping):
            fail("regions", where, "a dict of name -> (start, end)", regions, exc=TypeError)
        for region, span in regions.items():
            if isinstance(span, (str, bytes)) or not isinstance(span, Sequence) or len(span) != 2:
                fail(
                    "regions",
                    where,
                    "a dict of name -> (start, end)",
                    regions,
                    hint=f"Region {region!r} is {span!r}.",
                )
            spans.append((str(region), span[0], span[1]))
    if zoom is not None and (isinstance(zoom, (str, bytes)) or not isinstance(zoom, Sequence)
                             or len(zoom) != 2):
        fail("zoom", where, "a pair (start, end) of index values", zoom)
    if ax is None and zoom is not None:
        fig = Figure(figsize=(9.0, 6.5), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        ax, zax = fig.subplots(2, 1, height_ratios=(1.0, 1.1))
    else:
        ax = _axes(ax, where)
        zax = None if zoom is None else ax.inset_axes([0.52, 0.52, 0.46, 0.44])

    for k, (region, start, end) in enumerate(spans):
        color = _REGION_COLORS.get(region.lower(), f"C{(k + 4) % 10}")
        ax.axvspan(start, end, color=color, alpha=0.12, lw=0, label=region)
    multi = t.shape[1] > 1
    actual = name or "actual"
    for j in range(t.shape[1]):
        suffix = f"[{j}]" if multi else ""
        ax.plot(
            idx, t[:, j], color="black" if not multi else f"C{j}", lw=1.3,
            label=f"{actual}{suffix}"
        )
        ax.plot(
            idx,
            p[:, j],
            color="C3" if not multi else f"C{j}",
            lw=1.3,
            ls="--",
            label=f"predicted{suffix}",
        )
    if zax is None:
        for label, values, style in extra:
            ax.plot(idx, values, label=label, **style)
    else:
        sel = (idx >= zoom[0]) & (idx <= zoom[1])
        zax.plot(idx[sel], t[sel, 0], color="black", lw=1.4, label=actual)
        zax.plot(idx[sel], p[sel, 0], color="C3", lw=1.4, ls="--", label="GA-BP")
        for label, values, style in extra:
            zax.plot(idx[sel], values[sel], label=label, **style)
        zax.set_title("test part", fontsize="medium")
        zax.grid(True, alpha=0.3)
        _date_ticks(zax, idx)
        if zax in ax.child_axes:
            zax.legend(fontsize="small", ncols=2)
        else:  # two panels: legends beside them, never over a long series
            zax.set_ylabel(name or "value")
            zax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    _date_ticks(ax, idx)
    ax.set_xlabel("date" if idx.dtype.kind == "M" else "time")
    ax.set_ylabel(name or "value")
    ax.set_title(title if title is not None else "predicted vs actual")
    ax.grid(True, alpha=0.3)
    if zax is not None and zax not in ax.child_axes:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    else:
        ax.legend(loc="upper left" if zax is not None else "best")
    return ax


def _date_ticks(ax: Axes, idx: np.ndarray) -> None:
    """Concise date ticks for a datetime axis (numbers keep the default ticks)."""
    if idx.dtype.kind != "M":
        return
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def plot_errors(
    index: Any,
    y_true: Any,
    y_pred: Any,
    *,
    ax: Axes | None = None,
    kind: str = "stem",
) -> Axes:
    """Error of each (test) sample, ``y_pred - y_true``, with a zero line.

    Parameters
    ----------
    index : array-like of shape (n,) or None
        Position of each sample (``None``: ``0 .. n-1``).
    y_true, y_pred : array-like of shape (n,) or (n, n_outputs)
        With several outputs the error is averaged over the output columns.
    ax : Axes, optional
    kind : {"stem", "bar"}

    Returns
    -------
    matplotlib.axes.Axes
        The legend entry of the errors reports RMSE and MAE; ``ax.containers[0]`` holds the
        stems or bars, whose heights are the errors. The zero line is the last line.
    """
    where = "plot_errors"
    check_choice(kind, ("stem", "bar"), "kind", where)
    idx, t, p = _series(index, y_true, y_pred, where)
    ax = _axes(ax, where)
    err = np.mean(p - t, axis=1)
    ok = np.isfinite(err)
    if ok.any():
        rmse = float(np.sqrt(np.mean(err[ok] ** 2)))
        mae = float(np.mean(np.abs(err[ok])))
        label = f"error (RMSE {rmse:.4g}, MAE {mae:.4g})"
    else:
        label = "error"
    if kind == "stem":
        ax.stem(idx, err, linefmt="C3-", markerfmt="C3o", basefmt=" ", label=label)
    else:
        ax.bar(idx, err, color="C3", alpha=0.8, label=label)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xlabel("sample")
    ax.set_ylabel("predicted − actual")
    ax.set_title("error per sample")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


# --------------------------------------------------------------------- classification


def plot_confusion_matrix(
    matrix: Any,
    labels: Sequence[Hashable],
    *,
    normalize: bool = False,
    ax: Axes | None = None,
    cmap: str = "Blues",
    colorbar: bool = True,
) -> Axes:
    """Confusion matrix as an image with each cell annotated.

    Parameters
    ----------
    matrix : array-like of shape (n_classes, n_classes)
        ``matrix[i, j]`` counts rows of true class ``labels[i]`` predicted as
        ``labels[j]`` (as :func:`gabp.metrics.confusion_matrix` returns).
    labels : sequence of length n_classes
        Class names (strings or ints) for the tick labels.
    normalize : bool
        Show each row divided by its total (the recall of each class on the diagonal);
        rows without samples stay 0. Cells are then annotated with two decimals.
    ax : Axes, optional
    cmap : str
    colorbar : bool

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.images[0]`` holds the (possibly normalized) matrix; ``ax.texts`` one annotation
        per cell, row by row.
    """
    where = "plot_confusion_matrix"
    try:
        m = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        fail("matrix", where, "a square array of counts", matrix, exc=TypeError)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        fail("matrix", where, "a non-empty square array of shape (n_classes, n_classes)", m)
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        fail("matrix", where, "finite non-negative counts", m)
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence | np.ndarray):
        fail("labels", where, "a sequence of class names", labels, exc=TypeError)
    labels = list(labels)
    if len(labels) != m.shape[0]:
        fail("labels", where, f"a sequence of {m.shape[0]} class names (one per row)", labels)
    ax = _axes(ax, where)
    if normalize:
        totals = m.sum(axis=1, keepdims=True)
        m = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    vmax = 1.0 if normalize else max(float(m.max()), 1.0)
    im = ax.imshow(m, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            v = m[i, j]
            text = f"{v:.2f}" if normalize else (f"{int(v)}" if v == int(v) else f"{v:g}")
            ax.text(
                j, i, text, ha="center", va="center", color="white" if v > 0.5 * vmax else "black"
            )
    ticks = np.arange(m.shape[0])
    names = [str(lab) for lab in labels]
    ax.set_xticks(ticks, names)
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix" + (" (normalized by row)" if normalize else ""))
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_class_scores(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Sequence[Hashable] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Grouped bars of per-class precision, recall and F1.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, n_classes)
        Labels, or one-hot / score arrays (argmax), as in :mod:`gabp.metrics`.
    labels : sequence, optional
        Classes and their order; default the sorted union of the labels seen.
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.containers`` holds three ``BarContainer`` (precision, recall, F1) of
        n_classes bars each; tick labels give each class and its support (true count).
    """
    where = "plot_class_scores"
    matrix, labs = _confusion_matrix(y_true, y_pred, labels)
    precision, recall, f1 = per_class_scores(matrix)
    support = matrix.sum(axis=1)
    ax = _axes(ax, where)
    pos = np.arange(len(labs))
    width = 0.27
    for k, (name, scores) in enumerate((("precision", precision), ("recall", recall), ("F1", f1))):
        ax.bar(pos + (k - 1) * width, scores, width, label=name, color=f"C{k}")
    ax.set_xticks(pos, [f"{lab}\n(n={int(s)})" for lab, s in zip(labs, support, strict=True)])
    ax.set_ylim(0.0, 1.18)
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.set_xlabel("class")
    ax.set_ylabel("score (higher is better)")
    ax.set_title("per-class scores")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper center", ncols=3)
    return ax


# --------------------------------------------------------------------- hyperparameters


def _is_number(v: Any) -> bool:
    if v is None or isinstance(v, bool):
        return v is None
    if isinstance(v, (int, float, np.integer, np.floating)):
        return True
    if isinstance(v, str):
        if v.strip() == "":
            return True
        try:
            float(v)
        except ValueError:
            return False
        return True
    return False


def plot_hyperparameters(
    records: Any,
    *,
    params: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The best individual's hyperparameters per generation, on one shared [0, 1] axis.

    Numeric hyperparameters are rescaled to [0, 1] over the run (linear, or log10 when all
    values are positive and span at least two decades); the legend gives the real range,
    e.g. ``"hidden_1 [4, 32]"``, ``"learning_rate (log) [0.0001, 0.1]"``. A constant one is
    drawn at 0.5. Categorical ones (strings, booleans) are coded by order of first
    appearance and spread evenly over [0, 1]; the legend gives each category's position,
    e.g. ``"activation (tanh=0, relu=1)"``.

    Parameters
    ----------
    records : list of dict, DEAP Logbook or dict of columns
        One record per generation, e.g. ``{"gen": 0, "hidden_1": 12,
        "learning_rate": 0.01, "activation": "tanh"}``; a missing value is a gap.
    params : sequence of str, optional
        Hyperparameters to draw, in order; default every column except ``gen`` and the
        logbook statistics (``nevals``, ``error_*``, ``best_so_far``, ...).
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One step line per hyperparameter, in order.
    """
    where = "plot_hyperparameters"
    cols = _raw_columns(records, "records", where)
    if params is None:
        names = [k for k in cols if k not in _LOGBOOK_COLUMNS]
        if not names:
            fail("records", where, "records with at least one hyperparameter column", sorted(cols))
    else:
        if isinstance(params, str) or not isinstance(params, Sequence):
            fail("params", where, "a sequence of column names", params, exc=TypeError)
        names = list(params)
        missing = [p for p in names if p not in cols]
        if missing or not names:
            fail("params", where, "names of columns in records (" + ", ".join(cols) + ")", params)
    n = len(next(iter(cols.values())))
    xs = (
        np.array([_float(v, "gen", where) for v in cols["gen"]])
        if "gen" in cols
        else np.arange(n, dtype=float)
    )
    ax = _axes(ax, where)

    for k, name in enumerate(names):
        values = cols[name]
        if all(_is_number(v) for v in values):
            y = np.array([_float(v, name, where) for v in values], dtype=float)
            ok = np.isfinite(y)
            if not ok.any():
                ax.plot(xs, np.full(n, np.nan), color=f"C{k % 10}", label=f"{name} (no data)")
                continue
            lo, hi = float(y[ok].min()), float(y[ok].max())
            scale = ""
            z = y
            if lo > 0 and hi / lo >= 100:
                scale, z, zlo, zhi = " (log)", np.log10(y), math.log10(lo), math.log10(hi)
            else:
                zlo, zhi = lo, hi
            norm = np.full(n, 0.5) if zhi == zlo else (z - zlo) / (zhi - zlo)
            norm[~ok] = np.nan
            text = f"{name}{scale} [{lo:.4g}, {hi:.4g}]"
        else:
            cats: list[Any] = []
            for v in values:
                if v is not None and v not in cats:
                    cats.append(v)
            # A list, not a dict: values such as hidden sizes [12, 8] are unhashable.
            pos = [i / (len(cats) - 1) if len(cats) > 1 else 0.5 for i in range(len(cats))]
            norm = np.array(
                [math.nan if v is None else pos[cats.index(v)] for v in values], dtype=float
            )
            text = (
                f"{name} ("
                + ", ".join(f"{c}={p:.2g}" for c, p in zip(cats, pos, strict=True))
                + ")"
            )
        ax.plot(
            xs,
            norm,
            color=f"C{k % 10}",
            lw=1.6,
            drawstyle="steps-post",
            marker="o" if n <= 40 else None,
            ms=3,
            label=text,
        )
    ax.set_xlabel("generation")
    ax.set_ylabel("best individual's value (rescaled to [0, 1])")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("best hyperparameters per generation")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


# ------------------------------------------------------------------------------- runs


def _align(runs: list[tuple[np.ndarray, np.ndarray]], align: str) -> tuple[np.ndarray, np.ndarray]:
    """Runs (x, y) as step functions on the union of their x values -> (grid, (R, G))."""
    grid = np.unique(np.concatenate([x[np.isfinite(x)] for x, _ in runs]))
    if align == "common":
        end = min(float(np.nanmax(x)) for x, _ in runs)
        grid = grid[grid <= end]
    out = np.full((len(runs), grid.size), np.nan)
    for r, (x, y) in enumerate(runs):
        order = np.argsort(x, kind="stable")
        xs, ys = x[order], y[order]
        pos = np.searchsorted(xs, grid, side="right") - 1
        ok = pos >= 0
        out[r, ok] = ys[pos[ok]]
    return grid, out


def plot_runs(
    logbooks: Sequence[Any] | None = None,
    *,
    key: str = "best_so_far",
    x: str = "gen",
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    band: str | None = "std",
    groups: Mapping[str, Sequence[Any]] | None = None,
    align: str = "pad",
    show_runs: bool = False,
    log: bool = False,
) -> Axes:
    """Several runs (e.g. seeds) overlaid: the mean across runs and a band.

    Alignment: each run is read as a step function of ``x`` (a value holds until the next
    record) on the union of every run's x values. With ``align="pad"`` (default) a run that
    ended earlier (early stop, fewer generations, less time) keeps its last value up to the
    end of the longest run, which is exact for ``best_so_far``; with ``align="common"``
    the curves stop where the shortest run ends. Non-finite values are left out of the
    statistics.

    Parameters
    ----------
    logbooks : sequence of Logbook / list of dict / dict of columns / EvolutionResult
        One group of runs (give either ``logbooks`` or ``groups``).
    key : str
        Column to aggregate (``best_so_far``, ``error_min``, ``error_mean``, ``diversity``...).
    x : {"gen", "evals", "time"}
        As in :func:`plot_convergence`.
    labels : sequence of str, optional
        Names of the individual runs of ``logbooks`` (e.g. ``"seed 0"``); with
        ``show_runs`` each run is drawn thin and named in the legend.
    ax : Axes, optional
    band : {"std", "minmax"} or None
        ``mean ± std`` across runs (clipped to the runs' min–max), the min–max envelope, or
        no band.
    groups : dict of str -> sequence of logbooks, optional
        Several groups (e.g. ``{"GA-BP": [...], "BP": [...]}``); one mean line and band each.
    align : {"pad", "common"}
    show_runs : bool
        Also draw every run as a thin line.
    log : bool
        Log-scaled y axis.

    Returns
    -------
    matplotlib.axes.Axes
        Per group, in order: the individual runs' lines (if ``show_runs``), then the mean
        line (labelled ``"<group> mean (n=R)"``) and its band (a ``PolyCollection``).
    """
    where = "plot_runs"
    check_choice(x, _X_CHOICES, "x", where)
    check_choice(align, ("pad", "common"), "align", where)
    if band is not None:
        check_choice(band, ("std", "minmax"), "band", where)
    if not isinstance(key, str):
        fail("key", where, "a column name", key, exc=TypeError)
    if (logbooks is None) == (groups is None):
        fail("logbooks", where, "given, or else 'groups' (exactly one of the two)", logbooks)
    if groups is None:
        groups = {"": logbooks}
    elif not isinstance(groups, Mapping) or not groups:
        fail(
            "groups",
            where,
            "a non-empty dict of name -> list of logbooks",
            groups,
            exc=TypeError if not isinstance(groups, Mapping) else ValueError,
        )
    if labels is not None and logbooks is None:
        fail("labels", where, "None when 'groups' is given", labels)

    data: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for gname, runs in groups.items():
        if isinstance(runs, Mapping) or not isinstance(runs, Sequence) or len(runs) == 0:
            fail(
                "logbooks" if gname == "" else "groups",
                where,
                "a non-empty list of logbooks (one per run)",
                runs,
            )
        if all(isinstance(row, Mapping) for row in runs) and not any(
            isinstance(v, (Sequence, np.ndarray)) and not isinstance(v, str)
            for row in runs
            for v in row.values()
        ):
            fail(
                "logbooks" if gname == "" else "groups",
                where,
                "a list of logbooks (one per run)",
                "a single logbook",
                hint="Wrap one run in a list: [logbook].",
            )
        parsed = []
        for r, lb in enumerate(runs):
            name = f"logbooks[{r}]" if gname == "" else f"groups[{gname!r}][{r}]"
            cols = _columns(lb, name, where)
            parsed.append(
                (_x_values(cols, x, name, where), _finite_or_nan(_need(cols, key, name, where)))
            )
        data[str(gname)] = parsed
    if labels is not None:
        if isinstance(labels, str) or len(labels) != len(data[""]):
            fail("labels", where, f"a sequence of {len(data[''])} names (one per run)", labels)

    ax = _axes(ax, where)
    for g, (gname, runs) in enumerate(data.items()):
        color = f"C{g % 10}"
        grid, ys = _align(runs, align)
        if show_runs:
            for r, (rx, ry) in enumerate(runs):
                if labels is not None:
                    rlabel = str(labels[r])
                else:
                    rlabel = "_nolegend_"
                ax.plot(
                    rx, ry, color=color, lw=0.7, alpha=0.35, drawstyle="steps-post", label=rlabel
                )
        mean = _quiet(np.nanmean, ys, axis=0)
        ax.plot(
            grid,
            mean,
            color=color,
            lw=2.0,
            drawstyle="steps-post",
            label=_join(gname, f"mean (n={len(runs)})"),
        )
        if band is not None:
            lo = _quiet(np.nanmin, ys, axis=0)
            hi = _quiet(np.nanmax, ys, axis=0)
            if band == "std":
                std = _quiet(np.nanstd, ys, axis=0)
                with np.errstate(invalid="ignore"):
                    lo, hi = np.fmax(mean - std, lo), np.fmin(mean + std, hi)
                text = "± std"
            else:
                text = "min–max"
            ax.fill_between(
                grid, lo, hi, color=color, alpha=0.2, lw=0, step="post", label=_join(gname, text)
            )
    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel(f"{key} — {ERROR_LABEL}" if key.startswith(("error", "best")) else key)
    if log:
        ax.set_yscale("log")
    ax.set_title("runs across seeds")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


# ------------------------------------------------------------------------------ saving


def save_figure(
    ax_or_fig: Axes | Figure,
    path: str | os.PathLike,
    *,
    dpi: float = 100,
    close: bool = True,
) -> Path:
    """Write a figure to ``path`` headless and atomically, then close it.

    The image goes to a temporary file in the same folder, renamed over ``path`` once it
    is complete, so a reader never sees a half-written file. No GUI backend is used; the
    format comes from the file extension (``.png``, ``.pdf``, ``.svg``, ...). Missing parent
    folders are created.

    Parameters
    ----------
    ax_or_fig : Axes or Figure
    path : str or PathLike
    dpi : float
    close : bool
        Release the figure afterwards (``pyplot.close`` when pyplot manages it).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    where = "save_figure"
    fig = _root_figure(ax_or_fig, where)
    if not isinstance(path, (str, os.PathLike)):
        fail("path", where, "a file path", path, exc=TypeError)
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    canvas = fig.canvas if fig.canvas is not None else FigureCanvasAgg(fig)
    supported = canvas.get_supported_filetypes()
    if fmt not in supported:
        fail(
            "path",
            where,
            "a file name ending in one of " + ", ".join(f".{k}" for k in sorted(supported)),
            str(path),
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its 0600 mode would survive the rename; open() honours umask.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "xb") as fh:
            fig.savefig(fh, format=fmt, dpi=dpi)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if close:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close(fig)
    return path
