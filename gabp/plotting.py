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
import textwrap
import uuid
import warnings
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from ._validation import check_choice, fail
from .metrics import confusion_matrix as _confusion_matrix
from .metrics import per_class_scores

__all__ = [
    "new_axes",
    "new_figure",
    "plot_bp_curve",
    "plot_class_scores",
    "plot_confusion_matrix",
    "plot_conv_filters",
    "plot_convergence",
    "plot_errors",
    "plot_feature_maps",
    "plot_hyperparameters",
    "plot_predicted_vs_actual",
    "plot_residuals",
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
_RUN_STYLES = ("-", "--", ":", "-.")
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
    return _figure(figsize, dpi, "new_axes").add_subplot()


def _figure(figsize: Any, dpi: float, where: str) -> Figure:
    if (
        not isinstance(figsize, Sequence)
        or len(figsize) != 2
        or not all(isinstance(v, (int, float)) and v > 0 for v in figsize)
    ):
        fail("figsize", where, "a pair of positive numbers (width, height)", figsize)
    fig = Figure(figsize=tuple(float(v) for v in figsize), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _axes(ax: Any, where: str) -> Axes:
    if ax is None:
        return new_axes()
    if not isinstance(ax, Axes):
        fail("ax", where, "a matplotlib Axes or None", ax, exc=TypeError)
    return ax


def fit_title(ax: Axes, head: str, detail: str, **kwargs: Any) -> Text:
    """Set ``head`` over ``detail`` as the title of ``ax``, ``detail`` wrapped onto as many
    lines as it takes to stay within the axes' share of the figure width.

    A long description (a fitness with its units and BP budget, say) would otherwise run
    past the figure's edges and be cut off in the saved image. ``kwargs`` go to
    ``Axes.set_title``.
    """
    fig = ax.get_figure()
    title = ax.set_title(f"{head}\n{detail}", **kwargs)
    fig.draw_without_rendering()  # the layout engine places the axes (and so the title)
    renderer = fig.canvas.get_renderer()
    width = fig.get_window_extent(renderer).width
    box = ax.get_position()  # the title is centred on the axes: keep it inside the figure
    center = 0.5 * (box.x0 + box.x1)
    budget = 0.92 * width * 2.0 * min(center, 1.0 - center, 0.5 * box.width + 0.075)
    n = len(detail)
    while n > 20 and title.get_window_extent(renderer).width > budget:
        n = int(n * 0.85)
        title.set_text(f"{head}\n{textwrap.fill(detail, n, break_long_words=False)}")
    return title


def new_figure(figsize: tuple[float, float] = (6.0, 4.0), *, dpi: float = 100) -> Figure:
    """A fresh, empty pyplot-free figure (Agg canvas, constrained layout) for panels.

    Parameters
    ----------
    figsize : (width, height) in inches
    dpi : float

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _figure(figsize, dpi, "new_figure")


def _root_figure(obj: Any, where: str) -> Figure:
    if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], Axes):
        obj = obj[0]  # the panels of one figure (plot_hyperparameters)
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
    metric: str | None = None,
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
        Prefix of the legend entries (``"<label> best of generation"``, ...), to overlay runs on
        one Axes. With a label, all lines of the call share one color and differ by style;
        without, each line has its own color.
    log : bool
        Log-scaled error axis.
    metric : str, optional
        What the fitness measures, shown under the title, e.g. ``"validation MSE loss
        after 5 BP epochs per genome"``; default a generic "error" axis.

    Returns
    -------
    matplotlib.axes.Axes
        Lines in order: ``best of generation`` (``error_min``), ``mean`` (``error_mean``),
        ``best so far`` (if present), then, for a run with a holdout
        (``GAConfig.holdout_fraction``), the best genome's ``holdout_error`` and a star at
        its minimum (the genome the run delivers). The mean's band
        (``error_mean ± error_std``, clipped to ``[error_min, error_max]``) is a
        ``PolyCollection`` in ``ax.collections``.
    """
    where = "plot_convergence"
    check_choice(x, _X_CHOICES, "x", where)
    label = _check_label(label, "label", where)
    metric = _check_label(metric, "metric", where)
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
        label=_join(label, "best of generation"),
        gid="gabp-convergence-best",
        zorder=3,  # above the wider best-so-far line, which it equals under elitism
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
        so_far = _finite_or_nan(cols["best_so_far"])
        # with elitism the two lines coincide: say so, or the legend lists a line one cannot see
        same = len(xs) > 1 and np.array_equal(so_far, best, equal_nan=True)
        ax.plot(
            xs,
            so_far,
            color=colors["so_far"],
            lw=2.2,
            drawstyle="steps-post",
            label=_join(label, "best so far" + (" (= best of generation)" if same else "")),
            gid="gabp-convergence-so-far",
        )

    if "holdout_error" in cols:  # GAConfig.holdout_fraction: rows the fitness never saw
        held = _finite_or_nan(cols["holdout_error"])
        color = "C3" if label is None else colors["best"]
        ax.plot(xs, held, color=color, lw=1.2, ls=":",
                label=_join(label, "best genome on the holdout"),
                gid="gabp-convergence-holdout")
        if np.isfinite(held).any():
            i = int(np.nanargmin(held))  # the first minimum: the genome the run delivers
            ax.plot([xs[i]], [held[i]], ls="none", marker="*", ms=11, mfc="none", color=color,
                    label=_join(label, "delivered (best on the holdout)"),
                    gid="gabp-convergence-delivered")

    ax.set_xlabel(_X_LABELS[x])
    if x in ("gen", "evals"):  # counts: no ticks at 0.5 generations
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("fitness (lower is better)" if metric else ERROR_LABEL)
    if log:
        ax.set_yscale("log")
    if metric:
        fit_title(ax, "GA convergence", f"fitness: {metric}", fontsize="medium")
    else:
        ax.set_title("GA convergence")
    ax.grid(True, alpha=0.3)
    if "holdout_error" in cols:  # six entries over curves that span the axes: beside them
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0)
    else:
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


def _curves(
    history: Any, name: str, where: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(train, val, best_epoch) of a History / BaselineResult / dict; best_epoch 0-based.

    A History's networks stopped early (``stopped_epoch``) end there: the population keeps
    evaluating them until every network has stopped, but those rows are not training.
    """
    if hasattr(history, "history") and not isinstance(history, Mapping):  # BaselineResult
        history = history.history
    if isinstance(history, Mapping):
        if "train_loss" not in history:
            fail(name, where, "a History or a dict with a 'train_loss' entry", sorted(history))
        train, val = history["train_loss"], history.get("val_loss")
        best = history.get("best_epoch")
    elif hasattr(history, "train_loss"):
        train, val = history.train_loss, getattr(history, "val_loss", None)
        best = getattr(history, "best_epoch", None)
        stopped = np.asarray(getattr(history, "stopped_epoch", []), dtype=int)
        if stopped.size and np.any(stopped >= 0):  # frozen networks' losses are not epochs
            keep = np.where(stopped >= 0, stopped + 1, np.iinfo(int).max)
            rows = np.arange(np.shape(train)[0])[:, None]
            train = np.where(rows < keep, train, np.nan)
            if val is not None:
                val = np.where(rows < keep, val, np.nan)
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
    if best is not None:
        best = np.atleast_1d(np.asarray(best, dtype=int))
        if best.shape != (train.shape[1],):
            fail(f"{name}.best_epoch", where, f"{train.shape[1]} epoch number(s)", best)
    return train, val, best


def _last_epoch(curve: np.ndarray) -> int:
    """Number of epochs with a value (trailing NaN rows are epochs never run)."""
    rows = np.flatnonzero(np.isfinite(curve))
    return int(rows[-1]) + 1 if rows.size else 0


def _mark_kept(ax: Axes, curve: np.ndarray, best: int, color: str, label: str) -> None:
    """A marker on ``curve`` at the kept (0-based) epoch ``best``, if it was run; ``-1``
    (the starting weights were kept: no epoch improved on them) is said in the legend, as
    an entry without a line (a note in a corner could sit under the legend)."""
    if best < 0 and color != "white":
        who = label.split(" kept epoch")[0]
        ax.plot([], [], ls="none", gid="gabp-kept-start",
                label=f"{who}: the starting weights were kept\n(no epoch improved on them)")
    if 0 <= best < curve.shape[0] and np.isfinite(curve[best]):
        ax.plot([best + 1], [curve[best]], ls="none", marker="*", ms=11, color=color,
                markeredgecolor="black", markeredgewidth=0.6, zorder=5, clip_on=False,
                label=f"{label} (loss {curve[best]:.3g})", gid="gabp-kept-epoch")


LOSS_NAMES = {
    "mse": "MSE",
    "cross_entropy": "cross-entropy",
    "binary_cross_entropy": "binary cross-entropy",
}


def plot_bp_curve(
    history_or_dict: Any,
    *,
    baseline: Any = None,
    ax: Axes | None = None,
    log: bool = True,
    member: int = 0,
    label: str | None = None,
    baseline_label: str = "plain BP",
    baseline_best: int | None = None,
    loss: str | None = None,
    floor: float = 1e-8,
) -> Axes:
    """BP loss per epoch: training and validation, the kept epoch marked, and plain BP.

    Every curve stops at the last epoch its network really trained (early stopping or
    divergence end it; trailing NaN or ``inf`` values are not drawn). A star marks the
    epoch whose weights were kept (the best monitored epoch, ``History.best_epoch``).

    Parameters
    ----------
    history_or_dict : History, dict or EvolutionResult
        ``train_loss`` of shape (n_epochs,) or (n_epochs, P), optional ``val_loss`` of the
        same shape and optional ``best_epoch`` (0-based, one per column). With an
        ``EvolutionResult`` its ``bp_history`` is drawn, its ``baseline`` too unless
        ``baseline`` is given, and its loss names the axis.
    baseline : History, dict or BaselineResult, optional
        Plain BP restarts, drawn dashed: each restart thin, the restart ``baseline_best``
        (a BaselineResult's ``best``) thicker, with its kept epoch marked.
    ax : Axes, optional
    log : bool
        Log-scaled loss axis (default).
    member : int
        Column of a population history (P > 1) to draw for ``history_or_dict``.
    label : str, optional
        Prefix of the main curves' legend entries; ``"GA-BP"`` when a baseline is drawn.
    baseline_label : str
        Prefix of the baseline's legend entries.
    baseline_best : int, optional
        The restart to highlight (default: a BaselineResult's ``best``, else none).
    loss : str, optional
        Name of the loss (``"mse"``, ``"cross_entropy"``, ...) for the y axis label.
    floor : float
        On a log axis, the y range stops ``floor`` times below the largest loss, so a
        loss that reaches round-off (1e-32 on XOR) does not flatten the curves; clipped
        values are said in a note in the corner.

    Returns
    -------
    matplotlib.axes.Axes
        Lines in order: train, val (if any), then the kept-epoch star(s), then the
        baseline restarts (train, then val, per restart). Epochs are numbered from 1.
    """
    where = "plot_bp_curve"
    label = _check_label(label, "label", where)
    _check_label(baseline_label, "baseline_label", where)
    _check_label(loss, "loss", where)
    if isinstance(member, bool) or not isinstance(member, (int, np.integer)):
        fail("member", where, "an integer", member, exc=TypeError)
    if not isinstance(floor, (int, float)) or not 0 < floor < 1:
        fail("floor", where, "a number in (0, 1)", floor)
    if hasattr(history_or_dict, "bp_history"):  # EvolutionResult
        if baseline is None and getattr(history_or_dict, "baseline", None) is not None:
            baseline = history_or_dict.baseline
        if loss is None:
            loss = getattr(history_or_dict, "config", {}).get("loss")
        history_or_dict = history_or_dict.bp_history
    if baseline_best is None and hasattr(baseline, "best"):
        baseline_best = int(baseline.best)
    train, val, best = _curves(history_or_dict, "history_or_dict", where)
    if not -train.shape[1] <= member < train.shape[1]:
        fail("member", where, f"an integer in [0, {train.shape[1] - 1}]", member)
    base = None if baseline is None else _curves(baseline, "baseline", where)
    if base is not None and baseline_best is not None:
        if not 0 <= baseline_best < base[0].shape[1]:
            fail("baseline_best", where, f"a restart in [0, {base[0].shape[1] - 1}]",
                 baseline_best)
    ax = _axes(ax, where)
    if label is None and base is not None:
        label = "GA-BP"

    main = (train[:, member], None if val is None else val[:, member])
    n = max(_last_epoch(c) for c in main if c is not None)
    epochs = np.arange(1, n + 1)
    ax.plot(epochs, main[0][:n], color="C0", lw=1.6, label=_join(label, "train"))
    if main[1] is not None:
        ax.plot(epochs, main[1][:n], color="C1", lw=1.6, label=_join(label, "val"))
    if best is not None:
        monitored = main[1] if main[1] is not None else main[0]
        _mark_kept(ax, monitored, int(best[member]), "C1" if main[1] is not None else "C0",
                   _join(label, f"kept epoch {int(best[member]) + 1}"))
    if base is not None:
        b_train, b_val, b_best = base
        for r in range(b_train.shape[1]):
            hi = r == baseline_best
            for curve, color, part in ((b_train, "C0", "train"), (b_val, "C1", "val")):
                if curve is None:
                    continue
                m = _last_epoch(curve[:, r])
                on = "val" if b_val is not None else "train"
                name = (f"{baseline_label} {part} (restart {r}, best on {on})" if hi
                        else f"{baseline_label} {part} ({b_train.shape[1]} restarts)"
                        if r == (1 if baseline_best == 0 else 0) else "_nolegend_")
                ax.plot(np.arange(1, m + 1), curve[:m, r], color=color,
                        lw=1.5 if hi else 0.8, ls="--", alpha=1.0 if hi else 0.45,
                        label=name, gid="gabp-baseline")
            if hi and b_best is not None:
                monitored = b_val if b_val is not None else b_train
                _mark_kept(ax, monitored[:, r], int(b_best[r]), "white",
                           f"{baseline_label} kept epoch {int(b_best[r]) + 1}")
    ax.set_xlabel("epoch")
    what = f"{LOSS_NAMES.get(loss, loss)} loss" if loss else "loss"
    ylabel = f"{what} (lower is better)"
    if log:
        ax.set_yscale("log")
        values = np.concatenate([np.asarray(ln.get_ydata(), dtype=float)
                                 for ln in ax.get_lines()])
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            top, low = float(values.max()), float(values.min())
            if low < top * floor:
                bottom = top * floor
                ax.set_ylim(bottom, top * 2.0)
                ax.text(0.01, 0.01, f"losses below {bottom:.1g} not shown", fontsize="x-small",
                        color="0.35", transform=ax.transAxes, va="bottom")
                for ln in ax.get_lines():  # kept epochs below the range sit on its edge
                    if ln.get_gid() == "gabp-kept-epoch":
                        ln.set_ydata(np.fmax(np.asarray(ln.get_ydata(), dtype=float), bottom))
    ax.set_ylabel(ylabel)
    ax.set_title("BP training")
    ax.grid(True, alpha=0.3, which="both" if log else "major")
    n_entries = sum(not ln.get_label().startswith("_") for ln in ax.get_lines())
    if n_entries > 4:  # with the baseline's curves the legend would cover some of them
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0)
    else:
        ax.legend(fontsize="small")
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
    label: str = "GA-BP",
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
    label : str, default "GA-BP"
        The model's name in the zoomed panel's legend (``"ridge + GA-BP"``, ``"plain BP"``).

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
    _check_label(label, "label", where)
    extra = []
    if baseline is not None:
        _, _, b = _series(idx, y_true, baseline, where)
        extra.append(("plain BP", b[:, 0], dict(color="C0", lw=1.1, ls="-.")))
    if naive is not None:
        if not isinstance(naive, Mapping):
            fail("naive", where, "a dict of name -> predictions", naive, exc=TypeError)
        for k, (naive_name, values) in enumerate(naive.items()):
            _, _, v = _series(idx, y_true, values, where)
            extra.append((str(naive_name), v[:, 0], dict(color=f"C{k + 7}", lw=1.0, ls=":")))
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
        for other, values, style in extra:
            ax.plot(idx, values, label=other, **style)
    else:
        sel = (idx >= zoom[0]) & (idx <= zoom[1])
        zax.plot(idx[sel], t[sel, 0], color="black", lw=1.4, label=actual)
        zax.plot(idx[sel], p[sel, 0], color="C3", lw=1.4, ls="--", label=label)
        for other, values, style in extra:
            zax.plot(idx[sel], values[sel], label=other, **style)
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
    _date_ticks(ax, idx)
    ax.set_xlabel("date" if idx.dtype.kind == "M" else "sample")
    ax.set_ylabel("predicted − actual")
    ax.set_title("error per sample")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def _part_groups(parts: Any, n: int, where: str) -> list[tuple[str, np.ndarray]]:
    """(name, row mask) per part in first-seen order; one unnamed group when ``parts`` is None."""
    if parts is None:
        return [("", np.ones(n, dtype=bool))]
    names = np.asarray(parts).astype(str)
    if names.shape != (n,):
        fail("parts", where, f"one part name per row ({n} names)", names)
    return [(name, names == name) for name in dict.fromkeys(names.tolist())]


def _r2(t: np.ndarray, p: np.ndarray) -> float:
    ok = np.isfinite(t) & np.isfinite(p)
    t, p = t[ok], p[ok]
    if t.size < 2:
        return math.nan
    ss = float(np.sum((t - t.mean()) ** 2))
    return math.nan if ss == 0 else 1.0 - float(np.sum((t - p) ** 2)) / ss


def plot_predicted_vs_actual(
    y_true: Any,
    y_pred: Any,
    *,
    parts: Any = None,
    name: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Predicted against actual values (one dot per row) with the identity line and R².

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, n_outputs)
        Actual and predicted values in the original units; several outputs are pooled.
    parts : array-like of str of shape (n,), optional
        Part of each row (``"train"``, ``"val"``, ``"test"``...); each part gets its own
        color and its R² in the legend. The test part is drawn last, on top.
    name : str, optional
        Name (and unit) of the target, for the axis labels, e.g. ``"sunspots"``.
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One ``PathCollection`` per part in ``ax.collections`` (offsets = (actual,
        predicted)); the identity line is ``ax.lines[0]``. Legend entries read
        ``"<part> (n=…, R² …)"``.
    """
    where = "plot_predicted_vs_actual"
    _check_label(name, "name", where)
    _, t, p = _series(None, y_true, y_pred, where)
    groups = _part_groups(parts, t.shape[0], where)
    groups.sort(key=lambda g: g[0] == "test")
    ax = _axes(ax, where)
    both = np.concatenate([t.ravel(), p.ravel()])
    both = both[np.isfinite(both)]
    lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    pad = 0.04 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="black", lw=0.9, ls="--",
            label="identity (perfect prediction)")
    small = t.shape[0] <= 300
    for k, (part, mask) in enumerate(groups):
        tt, pp = t[mask].ravel(), p[mask].ravel()
        color = _REGION_COLORS.get(part.lower(), f"C{k}") if part else "C0"
        text = f"{part} " if part else ""
        ax.scatter(tt, pp, s=14 if small else 6, alpha=0.8 if part == "test" or small else 0.35,
                   color=color, lw=0, label=f"{text}(n={int(mask.sum())}, R² {_r2(tt, pp):.3f})")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal", adjustable="box")
    target = name or "target"
    ax.set_xlabel(f"actual {target}")
    ax.set_ylabel(f"predicted {target}")
    ax.set_title("predicted vs actual")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    return ax


def plot_residuals(
    y_true: Any,
    y_pred: Any,
    *,
    x: Any = None,
    xlabel: str | None = None,
    name: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Residuals ``predicted − actual`` against the prediction (or a date), with ±RMSE lines.

    A trend or a funnel in this plot is what a single error number hides: a model that
    is biased at high values, or errors that grow with the level.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, n_outputs)
        Several outputs are averaged per row.
    x : array-like of shape (n,), optional
        Horizontal position of each row, e.g. the dates of a series; default the
        prediction itself.
    xlabel : str, optional
        Label of ``x`` (default ``"predicted <name>"``).
    name : str, optional
        Name (and unit) of the target, for the labels.
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.collections[0]`` holds the residuals (offsets = (x, residual)); the lines are
        the zero line and the ±RMSE lines, in that order.
    """
    where = "plot_residuals"
    _check_label(xlabel, "xlabel", where)
    _check_label(name, "name", where)
    _, t, p = _series(None, y_true, y_pred, where)
    res = np.mean(p - t, axis=1)
    pos = np.mean(p, axis=1) if x is None else np.asarray(x)
    if pos.shape != res.shape:
        fail("x", where, f"one position per row ({res.shape[0]} values)", pos)
    ax = _axes(ax, where)
    ok = np.isfinite(res)
    rmse = float(np.sqrt(np.mean(res[ok] ** 2))) if ok.any() else math.nan
    mean = float(np.mean(res[ok])) if ok.any() else math.nan
    ax.scatter(pos, res, s=14 if res.size <= 300 else 6, color="C3", lw=0, alpha=0.8,
               label=f"residual (RMSE {rmse:.4g}, mean {mean:+.3g})")
    ax.axhline(0.0, color="black", lw=0.8)
    if math.isfinite(rmse):
        for sign in (1, -1):
            ax.axhline(sign * rmse, color="C3", lw=0.8, ls=":",
                       label="± RMSE" if sign > 0 else "_nolegend_")
    _date_ticks(ax, pos)  # dates against time: concise ticks that do not overlap
    target = name or "target"
    ax.set_xlabel(xlabel or f"predicted {target}")
    ax.set_ylabel(f"predicted − actual {target}")
    ax.set_title("residuals")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


# --------------------------------------------------------------------- classification


def _counts(matrix: Any, where: str) -> np.ndarray:
    """A confusion matrix as a float (k, k) array of finite non-negative counts."""
    try:
        m = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        fail("matrix", where, "a square array of counts", matrix, exc=TypeError)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        fail("matrix", where, "a non-empty square array of shape (n_classes, n_classes)", m)
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        fail("matrix", where, "finite non-negative counts", m)
    return m


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
    m = _counts(matrix, where)
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
    y_true: Any = None,
    y_pred: Any = None,
    *,
    labels: Sequence[Hashable] | None = None,
    matrix: Any = None,
    ax: Axes | None = None,
) -> Axes:
    """Grouped bars of per-class precision, recall and F1.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, n_classes), optional
        Labels, or one-hot / score arrays (argmax), as in :mod:`gabp.metrics`.
    labels : sequence, optional
        Classes and their order; default the sorted union of the labels seen. Required
        with ``matrix``.
    matrix : array-like of shape (n_classes, n_classes), optional
        Confusion counts (rows true, columns predicted) instead of ``y_true`` / ``y_pred``,
        e.g. a run's ``metrics.json`` ``confusion_matrix["counts"]``.
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.containers`` holds three ``BarContainer`` (precision, recall, F1) of
        n_classes bars each; tick labels give each class and its support (true count).
    """
    where = "plot_class_scores"
    if matrix is None:
        if y_true is None or y_pred is None:
            fail("y_true", where, "given with y_pred, or else 'matrix'", y_true)
        matrix, labs = _confusion_matrix(y_true, y_pred, labels)
    else:
        if y_true is not None or y_pred is not None:
            fail("matrix", where, "None when y_true / y_pred are given", "a matrix")
        matrix = _counts(matrix, where)
        if labels is None or len(labels) != matrix.shape[0]:
            fail("labels", where, f"{matrix.shape[0]} class names (one per row of matrix)",
                 labels)
        labs = list(labels)
    precision, recall, f1 = per_class_scores(matrix)
    support = matrix.sum(axis=1)
    # Wide enough that every class's "(n=…)" tick stays readable.
    ax = _axes(ax, where) if ax is not None else new_axes((max(6.0, 0.75 * len(labs) + 1.5),
                                                           4.0))
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


def _space_of(name: str, space: Mapping[str, Any] | None) -> Any:
    """The search-space entry of a record column (``hidden_2`` -> ``units``)."""
    if space is None:
        return None
    if name in space:
        return space[name]
    if name.startswith("hidden_") and "units" in space:
        return space["units"]
    return None


def _same(a: Any, b: Any) -> bool:
    """Category equality across CSV round trips (``16.0`` equals ``16``)."""
    if _is_number(a) and _is_number(b) and a is not None and b is not None:
        try:
            return float(a) == float(b)
        except (TypeError, ValueError):
            return False
    return str(a) == str(b)


def _category_panel(ax: Axes, xs: np.ndarray, values: list[Any], choices: list[Any] | None,
                    color: str) -> None:
    cats: list[Any] = list(choices) if choices else []
    for v in values:  # values outside the declared choices are shown too
        if v is not None and not any(_same(v, c) for c in cats):
            cats.append(v)
    y = [math.nan if v is None else next(i for i, c in enumerate(cats) if _same(v, c))
         for v in values]
    ax.plot(xs, y, color=color, lw=1.6, drawstyle="steps-post", marker="o", ms=3)
    ax.set_yticks(range(len(cats)), [str(c) for c in cats])
    ax.set_ylim(-0.5, len(cats) - 0.5)


def _numeric_panel(ax: Axes, xs: np.ndarray, y: np.ndarray, dim: Any, color: str) -> str:
    """Draw one numeric dimension in its real units; returns the range text."""
    ax.plot(xs, y, color=color, lw=1.6, drawstyle="steps-post", marker="o", ms=3)
    ok = np.isfinite(y)
    if isinstance(dim, Mapping) and "low" in dim and "high" in dim:
        lo, hi, log = float(dim["low"]), float(dim["high"]), bool(dim.get("log", False))
        text = f"searched [{lo:.4g}, {hi:.4g}]" + (", log scale" if log else "")
    elif ok.any():
        lo, hi = float(y[ok].min()), float(y[ok].max())
        log = lo > 0 and hi / lo >= 100
        text = f"seen [{lo:.4g}, {hi:.4g}]"
    else:
        return "not used"
    if log and lo > 0:
        ax.set_yscale("log")
        ax.set_ylim(lo / 1.3, hi * 1.3)
    else:
        pad = 0.06 * (hi - lo) if hi > lo else max(abs(lo) * 0.1, 0.5)
        ax.set_ylim(lo - pad, hi + pad)
    if (isinstance(dim, Mapping) and dim.get("type") == "int") or (
        ok.any() and np.all(y[ok] == np.round(y[ok])) and not log
    ):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    return text


def plot_hyperparameters(
    records: Any,
    *,
    params: Sequence[str] | None = None,
    space: Mapping[str, Any] | None = None,
    fig: Figure | None = None,
) -> list[Axes]:
    """The best individual's hyperparameters per generation, one small panel each, in real units.

    Each panel's y axis spans the dimension's searched range (from ``space``; else the
    values seen), log-scaled where the dimension is log-scaled; categorical dimensions
    show their categories as tick labels. So a value pinned at the edge of its range is
    visible at a glance.

    Parameters
    ----------
    records : list of dict, DEAP Logbook or dict of columns
        One record per generation, e.g. ``{"gen": 0, "hidden_1": 12,
        "learning_rate": 0.01, "activation": "tanh"}``; a missing value is a gap.
    params : sequence of str, optional
        Hyperparameters to draw, in order; default every column except ``gen`` and the
        logbook statistics (``nevals``, ``error_*``, ``best_so_far``, ...).
    space : dict, optional
        The search space as :meth:`gabp.search.SearchSpace.to_dict` / ``metrics.json``
        store it: ``{"learning_rate": {"low": 1e-4, "high": 0.1, "log": true},
        "units": {"low": 8, "high": 64, "type": "int"}, "activation": ["tanh", "relu"]}``.
        ``units`` applies to ``hidden_1``, ``hidden_2``, ...
    fig : Figure, optional
        Figure to draw on (default a new pyplot-free one sized for the panels).

    Returns
    -------
    list of matplotlib.axes.Axes
        One Axes per hyperparameter, in order, titled with its name; pass any of them to
        :func:`save_figure`.
    """
    where = "plot_hyperparameters"
    cols = _raw_columns(records, "records", where)
    if space is not None and not isinstance(space, Mapping):
        fail("space", where, "a dict of dimension name -> definition", space, exc=TypeError)
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
    if fig is not None and not isinstance(fig, Figure):
        fail("fig", where, "a matplotlib Figure or None", fig, exc=TypeError)
    n = len(next(iter(cols.values())))
    xs = (
        np.array([_float(v, "gen", where) for v in cols["gen"]])
        if "gen" in cols
        else np.arange(n, dtype=float)
    )
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    if fig is None:
        fig = new_figure((3.3 * ncols, 2.4 * nrows + 0.5))
    axes = list(np.ravel(fig.subplots(nrows, ncols, squeeze=False)))
    for extra in axes[len(names):]:
        fig.delaxes(extra)
    axes = axes[: len(names)]
    span = (float(np.nanmin(xs)), float(np.nanmax(xs))) if n else (0.0, 1.0)
    pad = 0.04 * (span[1] - span[0] or 1.0)
    for k, (name, ax) in enumerate(zip(names, axes, strict=True)):
        values = [None if (isinstance(v, str) and not v.strip()) else v for v in cols[name]]
        dim = _space_of(name, space)
        color = f"C{k % 10}"
        if isinstance(dim, (list, tuple)) or not all(_is_number(v) for v in values):
            _category_panel(ax, xs, values, list(dim) if isinstance(dim, (list, tuple))
                            else None, color)
            text = "categories"
        else:
            y = np.array([_float(v, name, where) for v in values], dtype=float)
            text = _numeric_panel(ax, xs, y, dim, color)
            if not np.isfinite(y).any():
                ax.text(0.5, 0.5, "not used by the best individual", ha="center",
                        va="center", transform=ax.transAxes, fontsize="small", color="0.4")
        ax.set_title(f"{name}\n({text})", fontsize="medium")
        ax.set_xlim(span[0] - pad, span[1] + pad)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if k + ncols >= len(names):  # the lowest panel of its column
            ax.set_xlabel("generation")
    fig.suptitle("hyperparameters of the best individual so far, per generation")
    return axes


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
    band: str | None = None,
    groups: Mapping[str, Sequence[Any]] | None = None,
    align: str = "pad",
    show_runs: bool = False,
    log: bool = False,
) -> Axes:
    """Several runs overlaid: one line per run, or (``band``) the mean of each group.

    By default every run is its own line, named by ``labels`` (or ``"<group> [i]"``), so
    runs of different lengths or settings are never averaged away. With ``band`` the runs
    of each group are summarized instead: their mean and a band.

    Alignment (for the mean): each run is read as a step function of ``x`` (a value holds
    until the next record) on the union of every run's x values. With ``align="pad"``
    (default) a run that ended earlier (early stop, fewer generations, less time) keeps its
    last value up to the end of the longest run, which is exact for ``best_so_far``; with
    ``align="common"`` the curves stop where the shortest run ends. Non-finite values are
    left out of the statistics.

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
        None (default): one line per run. Else one mean line per group with a ``mean ±
        std`` band (clipped to the runs' min–max) or the min–max envelope.
    groups : dict of str -> sequence of logbooks, optional
        Several groups (e.g. ``{"GA-BP": [...], "BP": [...]}``); one mean line and band each.
    align : {"pad", "common"}
    show_runs : bool
        With ``band``, also draw every run as a thin line.
    log : bool
        Log-scaled y axis.

    Returns
    -------
    matplotlib.axes.Axes
        Without ``band``: one line per run, in order. With ``band``, per group: the runs'
        thin lines (if ``show_runs``), the mean line (labelled ``"<group> mean (n=R)"``)
        and its band (a ``PolyCollection``).
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
    if band is None:
        k = 0
        for gname, runs in data.items():
            for r, (rx, ry) in enumerate(runs):
                if labels is not None:
                    rlabel = str(labels[r])
                else:
                    rlabel = f"{gname} [{r}]" if gname else f"run {r}"
                # Line styles differ too, so runs that share a stretch stay visible.
                ax.plot(rx, ry, color=f"C{k % 10}", lw=1.8, ls=_RUN_STYLES[k % 4],
                        drawstyle="steps-post", label=rlabel, gid="gabp-run")
                k += 1
    for g, (gname, runs) in enumerate(data.items() if band is not None else ()):
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
    ax.set_title("runs compared" if band is None else "runs: mean and band per group")
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


def _mosaic(tiles: np.ndarray, n_cols: int) -> np.ndarray:
    """Tiles ``(k, h, w)`` in a grid with one-pixel NaN gutters (drawn as background)."""
    k, h, w = tiles.shape
    n_rows = -(-k // n_cols)
    out = np.full((n_rows * (h + 1) - 1, n_cols * (w + 1) - 1), np.nan)
    for t in range(k):  # a handful of tiles: one slice assignment each
        r, c = divmod(t, n_cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = tiles[t]
    return out


def _conv_index(net: Any, layer: int | None, where: str) -> int:
    from .layers import Conv2D

    convs = [i for i, u in enumerate(getattr(getattr(net, "arch", None), "layers", ()))
             if isinstance(u, Conv2D)]
    if not convs:
        fail("net", where, "a gabp.Network with a Conv2D layer", net, exc=TypeError)
    if layer is None:
        return convs[0]
    if layer not in convs:
        fail("layer", where, f"the index of a Conv2D layer (one of {convs})", layer)
    return layer


def plot_conv_filters(net: Any, *, layer: int | None = None, member: int = 0,
                      ax: Axes | None = None) -> Axes:
    """The learned kernels of a convolution layer as a mosaic of small images.

    Parameters
    ----------
    net : gabp.Network
    layer : int, optional
        Index in ``net.arch.layers`` of the Conv2D layer (default: the first one).
    member : int
        Network of the population.
    ax : Axes, optional

    Returns
    -------
    Axes
        One tile per (input channel, filter): rows are input channels, columns filters; a
        diverging colour map centred on 0 (red positive, blue negative weights).
    """
    where = "plot_conv_filters"
    i = _conv_index(net, layer, where)
    ax = _axes(ax, where)
    unit = net.arch.layers[i]
    (kh, kw), F = unit.kernel_size, unit.filters
    C = net.arch.shapes[i][0][2]
    W = net.layers[i][0][member]  # (kh * kw * C, F), rows ordered (i, j, c)
    tiles = W.reshape(kh, kw, C, F).transpose(2, 3, 0, 1).reshape(C * F, kh, kw)
    lim = float(np.max(np.abs(tiles))) or 1.0
    im = ax.imshow(_mosaic(tiles, F), cmap="RdBu_r", vmin=-lim, vmax=lim,
                   interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="weight")
    ax.set_xticks([(kw + 1) * f + (kw - 1) / 2 for f in range(F)],
                  [str(f) for f in range(F)])
    ax.set_yticks([(kh + 1) * c + (kh - 1) / 2 for c in range(C)],
                  [str(c) for c in range(C)])
    ax.set_xlabel("filter")
    ax.set_ylabel("input channel")
    ax.set_title(f"layer {i} ({unit.kind}): {F} filters of {kh}x{kw}")
    return ax


def plot_feature_maps(net: Any, x: Any, *, layer: int | None = None, member: int = 0,
                      n_cols: int | None = None, ax: Axes | None = None) -> Axes:
    """One input image and the feature maps a layer computes from it.

    Parameters
    ----------
    net : gabp.Network
        A network with image input.
    x : array-like of shape (C, H, W) or (C * H * W,)
        One sample.
    layer : int, optional
        Index in ``net.arch.layers`` of an image-shaped layer (default: the first Conv2D).
    member : int
    n_cols : int, optional
        Tiles per row (default: all in one row).
    ax : Axes, optional

    Returns
    -------
    Axes
        Tile 0 is the input (its first channel, rescaled to the maps' range); tile ``1 + f``
        is feature map ``f`` after the layer's activation.
    """
    where = "plot_feature_maps"
    if not hasattr(net, "layer_outputs"):
        fail("net", where, "a gabp.Network", net, exc=TypeError)
    i = _conv_index(net, layer, where) if layer is None else layer
    shapes = net.arch.shapes
    if not isinstance(i, int) or not 0 <= i < len(shapes) or len(shapes[i][1]) != 3:
        fail("layer", where, "the index of a layer with image output", layer)
    ax = _axes(ax, where)
    sample = np.asarray(x, dtype=float).reshape(1, -1)
    maps = net.layer_outputs(sample, member=member)[i][0]  # (F, Ho, Wo)
    image = sample.reshape(net.arch.input_shape)[0]
    lo, hi = float(np.min(maps)), float(np.max(maps))
    span = np.ptp(image) or 1.0
    shown = lo + (image - image.min()) / span * (hi - lo)
    F, Ho, Wo = maps.shape
    H, Wd = image.shape
    tiles = np.full((F + 1, max(H, Ho), max(Wd, Wo)), np.nan)
    tiles[0, :H, :Wd] = shown
    tiles[1:, :Ho, :Wo] = maps
    cols = F + 1 if n_cols is None else int(n_cols)
    im = ax.imshow(_mosaic(tiles, cols), cmap="viridis", vmin=lo, vmax=hi,
                   interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="activation")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"input and the {F} feature maps of layer {i} ({net.arch.layers[i].kind})")
    return ax
