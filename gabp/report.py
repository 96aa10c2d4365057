"""Figures, ``report.md`` and the console summary of a run folder, drawn only from its files.

Because the report reads what the run wrote (CSV/JSON/npz), ``gabp report RUN_DIR`` can
re-draw it any time, and :func:`compare_runs` can set several runs side by side. Every
number a figure shows comes from ``metrics.json`` or the run's CSV files, never from a
recomputation with other labels or units.
"""

from __future__ import annotations

import os
import shlex
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import runs
from ._validation import check_choice
from .config import dump_toml

FIGURES = {
    "convergence": "convergence.png",
    "bp_curve": "bp_curve.png",
    "series": "predictions.png",
    "scatter": "predicted_vs_actual.png",
    "residuals": "errors.png",
    "confusion": "confusion_matrix.png",
    "class_scores": "class_scores.png",
    "hyperparameters": "hyperparameters.png",
}
CAPTIONS = {
    "convergence": "GA fitness per generation: best, mean ± std and best so far",
    "bp_curve": "BP loss per epoch of the final model and of each plain-BP restart; "
                "stars mark the kept epochs",
    "series": "predicted and actual values over time, with the train / validation / test spans",
    "scatter": "predicted against actual values in original units, R² per part",
    "residuals": "test residuals (predicted − actual) against the prediction or the date",
    "confusion": "confusion counts on the held-out part (from metrics.json)",
    "class_scores": "per-class precision, recall and F1 on the held-out part",
    "hyperparameters": "the best-so-far individual's hyperparameters per generation, real units",
}
PARTS = ("train", "val", "test")
_MAIN = {"classification": ("accuracy", "macro_f1"), "regression": ("rmse", "mae", "r2")}
_FITNESS_NAMES = {"loss": None, "mse": "MSE", "rmse": "RMSE", "mae": "MAE",
                  "sae": "sum of absolute errors", "error_rate": "error rate"}
_LOSS_NAMES = {"mse": "MSE", "cross_entropy": "cross-entropy",
               "binary_cross_entropy": "binary cross-entropy"}


# ------------------------------------------------------------------------------- words


def main_metrics(metrics: dict[str, Any]) -> tuple[str, ...]:
    """The metrics a summary shows for the run's task (accuracy, macro F1 / RMSE, MAE, R²)."""
    return _MAIN["classification" if metrics.get("task") == "classification" else "regression"]


def model_label(metrics: dict[str, Any]) -> str:
    """How the run's model is called: ``"GA-BP"``, ``"plain BP"`` (mode bp) or the search."""
    mode = metrics.get("mode")
    label = {"bp": "plain BP", "search": "search best (refit)"}.get(mode, "GA-BP")
    return f"ridge + {label}" if metrics.get("linear") else label


def fitness_text(metrics: dict[str, Any], config: dict[str, Any]) -> str:
    """What the GA's fitness measured, e.g. ``"validation MSE loss after 5 BP epochs"``."""
    mode, fitness = metrics.get("mode"), metrics.get("fitness")
    on = "validation" if metrics.get("fitness_on", "validation") == "validation" else "training"
    held = config.get("ga", {}).get("holdout_fraction") if mode != "search" else None
    if held:  # GAConfig.holdout_fraction: the last rows choose the delivered generation
        on = f"validation (first {1 - held:.0%} of its rows)"
    if mode == "search":
        return f"{on} {_FITNESS_NAMES.get(fitness) or fitness} of each BP-trained configuration"
    name = _FITNESS_NAMES.get(fitness)
    if name is None:
        name = f"{_LOSS_NAMES.get(metrics.get('loss'), metrics.get('loss') or '')} loss".strip()
    if metrics.get("linear"):  # [network] linear: the network learns the ridge's residuals
        name += " of the linear part's residuals (rescaled)"
    elif metrics.get("task") != "classification" and fitness != "error_rate":
        name += " (scaled targets)"
    if mode == "classic":
        return f"{on} {name} of the untrained genomes"
    if mode == "bp":
        return f"{on} {name}"
    epochs = config.get("bp", {}).get("bp_epochs")
    return f"{on} {name} after {epochs} BP epoch{'s' if epochs != 1 else ''} per genome"


def _range(values: Sequence[Any]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"


def baseline_text(metrics: dict[str, Any]) -> str:
    """What the plain-BP baseline got and used, e.g. ``"plain BP (adam): 5 restarts,
    budget 2.1e+05 sample-passes (20,874 steps), used 252-966 steps with early stopping"``;
    ``""`` without a baseline.

    The budget is in sample-passes (one forward + backward of one sample through one
    network), the unit every solver shares; first-order runs also show it in gradient steps.
    """
    base = metrics.get("baseline")
    if not base:
        return ""
    opt = metrics.get("optimizer", "")
    second_order = opt in ("lm", "br", "lbfgs")
    steps = [int(s) for s in base["steps"]]
    if "budget_sample_passes" in base and "sample_passes" in base:
        budget = f"budget {float(base['budget_sample_passes']):,.0f} sample-passes"
        if not second_order:
            budget += f" ({int(base['budget_steps']):,} steps)"
        used_values = [int(round(p)) for p in base["sample_passes"]]
        unit = "sample-passes"
        exhausted = min(used_values) >= 0.999 * float(base["budget_sample_passes"])
    else:  # run folders written before sample-passes existed
        budget = f"budget {int(base['budget_steps']):,} steps"
        used_values, unit = steps, "steps"
        exhausted = min(steps) >= int(base["budget_steps"])
    name = f"plain BP ({opt})" if opt else "plain BP"
    text = f"{name}: {base['n_restarts']} restarts, {budget}"
    if base.get("early_stopping", True) and exhausted:
        used = f"used all {_range(used_values)} {unit} (early stopping on, never triggered)"
    elif base.get("early_stopping", True):
        used = f"used {_range(used_values)} {unit} with early stopping"
        if "patience" in base:
            used += f" (patience {base['patience']}, on the {base.get('monitor', 'loss')})"
    else:
        used = f"used {_range(used_values)} {unit} (no early stopping)"
    return f"{text}, {used}"


def _validation_text(metrics: dict[str, Any]) -> str:
    if metrics.get("fitness_on", "validation") == "validation":
        return ""
    return ("no validation data: the fitness and the kept epochs use the training data, "
            "and the metrics are training metrics")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _summary_metric(key: str, value: Any = 0.0) -> bool:
    """Metrics shown in tables (not the sample count, per-class F1 or the confusion counts)."""
    return (key != "n_samples" and not key.startswith("f1[")
            and isinstance(value, (int, float)))


def _held_out(metrics: dict[str, Any]) -> list[str]:
    """The parts a run reports as unseen (older runs: every part in ``gabp``)."""
    return list(metrics.get("held_out") or metrics.get("gabp", {}))


def console_summary(run: runs.Run) -> str:
    """The lines ``gabp run`` prints: folder, task, what was compared and the held-out metrics."""
    m = run.metrics
    lines = [f"run folder: {run.path}"]
    task = f"task: {m.get('task')}"
    if m.get("task_reason"):
        task += f" ({m['task_reason']})"
    lines.append(f"  {task}; model: {model_label(m)} (mode {m.get('mode')})")
    if m.get("mode") == "search":
        lines.append(f"  best hyperparameters: {m.get('best_params')}")
    if _validation_text(m):
        lines.append(f"  {_validation_text(m)}")
    base = m.get("baseline")
    if base:
        lines.append(f"  {baseline_text(m)}")
    label = model_label(m)
    for part in _held_out(m):
        values = m["gabp"][part]
        for k in main_metrics(m):
            if k not in values:
                continue
            text = f"  {part} {k}: {label} {values[k]:.4g}"
            if base and part in base.get("mean", {}):
                text += (f" | plain BP {base['mean'][part][k]:.4g} ± "
                         f"{base['std'][part][k]:.2g} (mean ± std of {base['n_restarts']})")
            lines.append(text)
    for part in _held_out(m) if m.get("naive") else ():
        values = m["gabp"][part]
        naive = " | ".join(f"{name.replace('_', ' ')} {m['naive'][name][part]['rmse']:.4g} "
                           f"(MASE {m['naive'][name][part]['mase']:.3g})" for name in m["naive"]
                           if part in m["naive"][name])
        lines.append(f"  {part} rmse of naive forecasts: {naive}; {label} MASE "
                     f"{values['mase']:.3g} (< 1: better than the training period's naive "
                     "forecast)")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- figures


def _curve_matrix(cols: dict[str, list[Any]], prefix: str) -> np.ndarray | None:
    keys = sorted((k for k in cols if k.startswith(prefix)), key=lambda k: int(k.rsplit("_", 1)[1]))
    if not keys:
        return None
    return np.array([[np.nan if v is None else v for v in cols[k]] for k in keys], dtype=float).T


def _bp_dicts(run: runs.Run) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The BP curves of ``bp_curve.csv`` with the kept epochs of ``metrics.json``."""
    cols = runs.columns(run.bp_curve)
    n = sum(v is not None for v in cols.get("gabp_train", []))
    gabp: dict[str, Any] = {"train_loss": np.array(cols["gabp_train"][:n], dtype=float)}
    if "gabp_val" in cols:
        gabp["val_loss"] = np.array([np.nan if v is None else v for v in cols["gabp_val"][:n]],
                                    dtype=float)
    final = run.metrics.get("final_bp")
    if final:
        gabp["best_epoch"] = [k - 1 for k in final["kept_epochs"]]
    base_train = _curve_matrix(cols, "baseline_train_")
    if base_train is None:
        return gabp, None
    bv = _curve_matrix(cols, "baseline_val_")
    epochs = run.metrics.get("baseline", {}).get("epochs")
    if epochs:  # a restart stopped early is still evaluated until all stop: cut it there
        rows = np.arange(base_train.shape[0])[:, None]
        base_train = np.where(rows < np.asarray(epochs), base_train, np.nan)
        bv = None if bv is None else np.where(rows < np.asarray(epochs), bv, np.nan)
    base: dict[str, Any] = {"train_loss": base_train}
    if bv is not None:
        base["val_loss"] = bv
    kept = run.metrics.get("baseline", {}).get("kept_epochs")
    if kept:
        base["best_epoch"] = [k - 1 for k in kept]
    return gabp, base


def _regions(preds: dict[str, list[Any]]) -> dict[str, tuple[float, float]]:
    out = {}
    names = {"train": "train", "val": "validation", "test": "test"}
    parts = np.array(preds["part"])
    index = _time_axis(preds["index"])
    for part in dict.fromkeys(preds["part"]):
        sel = index[parts == part]
        out[names.get(part, part)] = (sel.min(), sel.max())
    return out


def _time_axis(values: list[Any]) -> np.ndarray:
    """The ``index`` column of ``predictions.csv``: numbers, or dates (``datetime64``)."""
    try:
        return np.array(values, dtype=float)
    except ValueError:
        from .forecasting.dates import parse_times

        return parse_times([str(v) for v in values], "index", "predictions.csv")


def _plot_series(plotting: Any, run: runs.Run, preds: dict[str, list[Any]], index: np.ndarray,
                 order: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> Any:
    """The series figure: GA-BP over the whole series, the test part zoomed with the
    plain-BP and naive forecasts, the series name and dates on the axes."""
    def col(key: str) -> np.ndarray | None:
        key = key if key in preds else f"{key}_0"
        return None if key not in preds else np.array(
            [np.nan if v is None else v for v in preds[key]], dtype=float)[order]

    names = {"persistence": "persistence", "seasonal_naive": "seasonal naive"}
    naive = {label: col(f"{key}_pred") for key, label in names.items()
             if col(f"{key}_pred") is not None}
    regions = _regions(preds)
    target = run.config.get("data", {}).get("target")
    if not isinstance(target, str):
        target = (run.model.target_names or ["value"])[0].split("(")[0]
    return plotting.plot_series(index[order], y_true[order], y_pred[order], regions=regions,
                                baseline=col("baseline_pred"), naive=naive or None,
                                zoom=regions.get("test"), name=target,
                                title=f"{model_label(run.metrics)}: predicted vs actual {target}",
                                label=model_label(run.metrics))


def _searched_params(run: runs.Run) -> list[str] | None:
    """Columns of ``search.csv`` that the search varied (fixed settings are left out)."""
    space = run.metrics.get("search", {}).get("space")
    if not space or not run.search:
        return None
    searched = {k for k, v in space.items() if isinstance(v, (dict, list))}
    cols = [c for c in run.search[0] if c in searched
            or (c.startswith("hidden_") and "units" in searched)
            or (c == "momentum" and "momentum" in searched)]
    return cols or None


def _target_name(run: runs.Run) -> str:
    """The target's own name: ``sunspots`` for the window target ``sunspots(t+1)``."""
    names = run.model.target_names
    if not names or run.metrics.get("task") == "classification":
        return "target"
    return names[0].split("(")[0] if len({n.split("(")[0] for n in names}) == 1 else "targets"


def _time_name(run: runs.Run) -> str:
    date = run.config.get("data", {}).get("date_column")
    if isinstance(date, str):
        return date
    return "year" if run.config.get("data", {}).get("dataset") == "sunspots" else "time"


def _values(preds: dict[str, list[Any]], key: str) -> np.ndarray:
    col = key if key in preds else f"{key}_0"
    return np.array([np.nan if v is None else v for v in preds[col]], dtype=float)


def _confusion(metrics: dict[str, Any], part: str, baseline: bool = False
               ) -> dict[str, Any] | None:
    if baseline:
        base = metrics.get("baseline")
        if not base:
            return None
        return base["per_restart"][base["best_by_val"]].get(part, {}).get("confusion_matrix")
    return metrics.get("gabp", {}).get(part, {}).get("confusion_matrix")


def _as_class(value: Any, classes: list[Any]) -> Any:
    """A label read back from ``predictions.csv`` (``0.0`` for class ``"0"``) as its class."""
    for c in classes:
        if str(value) == str(c):
            return c
        try:
            if float(value) == float(c):
                return c
        except (TypeError, ValueError):
            continue
    return value


def _fill_confusion(run: runs.Run) -> None:
    """Runs written before confusion counts were stored: count them from predictions.csv
    (in memory only), matching the labels read back as numbers to the model's classes."""
    m = run.metrics
    if m.get("task") != "classification" or not run.predictions or run.model.encoder is None:
        return
    from .metrics import confusion_matrix

    classes = run.model.encoder.classes_.tolist()
    for part, values in m.get("gabp", {}).items():
        rows = [r for r in run.predictions if str(r["part"]) == part]
        if "confusion_matrix" in values or not rows:
            continue
        for key, target in (("y_pred", values),) + (
                (("baseline_pred", m["baseline"]["per_restart"][m["baseline"]["best_by_val"]]
                  .get(part)),) if m.get("baseline") and "baseline_pred" in rows[0] else ()):
            if target is None:
                continue
            truth = [_as_class(r["y_true"], classes) for r in rows]
            pred = [_as_class(r[key], classes) for r in rows]
            counts, _ = confusion_matrix(truth, pred, labels=classes)
            target["confusion_matrix"] = {"labels": classes, "counts": counts.tolist()}


def _confusion_figure(plotting: Any, m: dict[str, Any], part: str) -> Any:
    """GA-BP's confusion counts, beside the best plain-BP restart's when there is one."""
    cm, bcm = _confusion(m, part), _confusion(m, part, baseline=True)
    panels = [(model_label(m), cm)] + ([("plain BP (restart best on val)", bcm)] if bcm else [])
    titles = []
    for name, c in panels:
        counts = np.asarray(c["counts"])
        titles.append(f"{name}, {part}: {int(np.trace(counts))} of {int(counts.sum())} correct")
    k = len(cm["labels"])
    side = max(3.6, 0.42 * k + 1.6)
    # a panel is as wide as its title and its row labels need (about 0.08 inch a character
    # at the default font size), so neither is cut at the figure's edge
    label_w = 0.08 * max(len(str(v)) for v in cm["labels"])
    width = max(side, 0.08 * max(len(t) for t in titles)) + label_w
    fig = plotting.new_figure((width * len(panels) + 0.6, side))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for a, (_, c), title in zip(axes, panels, titles, strict=True):
        plotting.plot_confusion_matrix(c["counts"], c["labels"], ax=a,
                                       colorbar=len(panels) == 1)
        a.set_title(title, fontsize="medium")
    return axes[0]


def write_report(run_dir: str | os.PathLike, *, dpi: int = 100) -> list[str]:
    """Draw the run's figures and write ``report.md``; returns the figure paths.

    Parameters
    ----------
    run_dir : path
        A finished run folder.
    dpi : int
        Resolution of the PNG files.

    Returns
    -------
    list of str
        The figures written, in the order ``report.md`` shows them.
    """
    from . import plotting

    run = runs.load_run(run_dir)
    _fill_confusion(run)
    path = run.path
    m = run.metrics
    written: list[str] = []

    def save(ax: Any, key: str) -> None:
        target = os.path.join(path, FIGURES[key])
        plotting.save_figure(ax, target, dpi=dpi)
        written.append(target)

    if run.logbook:
        held = "holdout_error" in run.logbook[0]  # its legend goes beside the axes: wider
        ax = plotting.plot_convergence(run.logbook, log=True,
                                       metric=fitness_text(m, run.config),
                                       ax=plotting.new_axes((9.0, 4.2), dpi=dpi) if held
                                       else None)
        save(ax, "convergence")
    if run.bp_curve:
        gabp, base = _bp_dicts(run)
        loss = m.get("loss") or ("cross_entropy" if m.get("task") == "classification" else "mse")
        # with the baseline's curves the legend goes beside the axes: a wider figure
        ax = plotting.plot_bp_curve(gabp, baseline=base, label=model_label(m), loss=loss,
                                    baseline_best=(m.get("baseline") or {}).get("best_by_val"),
                                    ax=plotting.new_axes((9.0, 4.2) if base is not None
                                                         else (6.0, 4.0), dpi=dpi))
        final = m.get("final_bp")
        title = "BP training of the final model"
        if final:
            title += f": {final['epochs'][0]} of max {final['max_epochs']} epochs"
        if base is not None:
            title += "\nvs plain BP at the same budget (sample-passes)"
        ax.set_title(title, fontsize="medium")
        save(ax, "bp_curve")
    preds = runs.columns(run.predictions) if run.predictions else {}
    task = m.get("task")
    if preds and task in ("series", "regression"):
        parts = np.array([str(p) for p in preds["part"]])
        index = _time_axis(preds["index"])
        y_true, y_pred = _values(preds, "y_true"), _values(preds, "y_pred")
        target = _target_name(run)
        if task == "series":
            order = np.argsort(index, kind="stable")
            ax = _plot_series(plotting, run, preds, index, order, y_true, y_pred)
            ax.set_xlabel(_time_name(run))
            save(ax, "series")
        ax = plotting.plot_predicted_vs_actual(y_true, y_pred, parts=parts, name=target)
        ax.set_title(f"{model_label(m)}: predicted vs actual {target}")
        save(ax, "scatter")
        held = np.isin(parts, _held_out(m))
        if held.any():
            if task == "series":
                ax = plotting.plot_residuals(y_true[held], y_pred[held], x=index[held],
                                             xlabel=_time_name(run), name=target)
            else:
                ax = plotting.plot_residuals(y_true[held], y_pred[held], name=target)
            ax.set_title(f"{model_label(m)}: residuals on {', '.join(_held_out(m))}")
            save(ax, "residuals")
    if task == "classification":
        part = next((p for p in _held_out(m) if _confusion(m, p)), None)
        if part is not None:
            save(_confusion_figure(plotting, m, part), "confusion")
            cm = _confusion(m, part)
            ax = plotting.plot_class_scores(matrix=cm["counts"], labels=cm["labels"])
            ax.set_title(f"{model_label(m)}: per-class scores ({part})")
            save(ax, "class_scores")
    if run.search:
        axes = plotting.plot_hyperparameters(run.search, params=_searched_params(run),
                                             space=m.get("search", {}).get("space"))
        save(axes, "hyperparameters")
    runs.atomic_write(os.path.join(path, "report.md"), report_markdown(run, written))
    return written


# ---------------------------------------------------------------------------- report.md


def metrics_table(metrics: dict[str, Any]) -> list[str]:
    """Markdown rows: each part x metric, the run's model vs plain BP (mean ± std, best)."""
    gabp = metrics.get("gabp", {})
    base = metrics.get("baseline")
    held = set(_held_out(metrics))
    on = "val" if metrics.get("fitness_on", "validation") == "validation" else "train"
    head = f"| part | metric | {model_label(metrics)} |" + (
        f" plain BP (mean ± std) | plain BP (best on {on}) |" if base else "")
    lines = [head, "|---|---|---|" + ("---|---|" if base else "")]
    order = [p for p in PARTS if p in gabp] + [p for p in gabp if p not in PARTS]
    for part in order:
        name = part + (" (held out)" if part in held and part != "train" else
                       " (refit trained on it)" if part == "val"
                       and metrics.get("mode") == "search" else "")
        for key, v in gabp[part].items():
            if not _summary_metric(key, v):
                continue
            row = f"| {name} | {key} | {_fmt(v)} |"
            if base and part in base.get("mean", {}):
                mean, std = base["mean"][part][key], base["std"][part][key]
                best = base["per_restart"][base["best_by_val"]][part][key]
                row += f" {_fmt(mean)} ± {_fmt(std)} | {_fmt(best)} |"
            lines.append(row)
    return lines


def naive_table(metrics: dict[str, Any]) -> list[str]:
    """Markdown: GA-BP, plain BP and the naive forecasts on each held-out part of a series
    run (RMSE, MAE, MASE, RMSSE), and the differencing used."""
    naive, base = metrics["naive"], metrics.get("baseline")
    label = "best found (refit)" if metrics.get("mode") == "search" else model_label(metrics)
    cols = [label] + (["plain BP (mean)"] if base else []) + [
        n.replace("_", " ") for n in naive]
    diff = metrics.get("differencing") or {}
    lines = ["## Against the naive forecasts", "",
             "Persistence repeats the last known value; seasonal naive the value one season "
             "earlier. MASE and RMSSE divide the errors by the training period's in-sample "
             "naive error: below 1 is better than that naive forecast.", ""]
    if diff:
        lines += [f"Differencing: difference = {diff.get('difference')}, seasonal difference "
                  f"= {diff.get('seasonal_difference')} (requested: {diff.get('requested')}; "
                  f"validation RMSE of the candidates: {diff.get('scores') or 'not screened'}"
                  ").", ""]
    lines += ["| part | metric | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for part, values in metrics.get("gabp", {}).items():
        if not all(part in naive[n] for n in naive):  # naive forecasts of held-out parts
            continue
        for key in ("rmse", "mae", "mase", "rmsse"):
            row = [values.get(key)] + ([base["mean"][part].get(key)] if base else [])
            row += [naive[n][part][key] for n in naive]
            lines.append(f"| {part} | {key} | " + " | ".join(_fmt(v) for v in row) + " |")
    return lines


def confusion_table(cm: dict[str, Any]) -> list[str]:
    """A confusion matrix as markdown: rows true labels, columns predicted labels."""
    labels = [str(v) for v in cm["labels"]]
    lines = ["| true \\ predicted | " + " | ".join(labels) + " | total |",
             "|---|" + "---|" * (len(labels) + 1)]
    for lab, row in zip(labels, cm["counts"], strict=True):
        lines.append(f"| **{lab}** | " + " | ".join(str(int(c)) for c in row)
                     + f" | {int(sum(row))} |")
    return lines


def _overview(run: runs.Run) -> list[str]:
    m = run.metrics
    task = f"{m.get('task')}" + (f" ({m['task_reason']})" if m.get("task_reason") else "")
    sizes = ", ".join(f"{p} {int(v['n_samples'])}" for p, v in m.get("gabp", {}).items()
                      if "n_samples" in v)
    lines = [f"# gabp run `{run.name}`", "",
             f"- task: {task}; data: {_dataset(run)} ({sizes} rows)",
             f"- model: {model_label(m)} (mode `{m.get('mode')}`); "
             f"GA fitness: {fitness_text(m, run.config)}"]
    if m.get("linear"):
        lines.append(f"- linear part (`[network] linear`): a ridge on the scaled inputs, "
                     f"alpha {m['linear']['alpha']:.3g} by leave-one-out error on the training "
                     "rows; GA-BP's networks and the plain-BP restarts learn its residuals "
                     "(rescaled to the targets' spread), and every prediction below is the sum")
    if m.get("mode") != "bp":
        held = m.get("holdout_generation")
        lines.append(f"- generations: {m.get('generations')} (stopped by "
                     f"{m.get('stop_reason')}), evaluations: {m.get('n_evaluations')}, "
                     f"failed: {m.get('n_failed')}"
                     + ("" if held is None else f"; delivered: the best genome of generation "
                        f"{held}, the best on the rows held out of the fitness"))
    if "gabp_total_steps" in m:
        cost = f"- gradient steps, {model_label(m)} in total: {int(m['gabp_total_steps']):,}"
        if "gabp_total_sample_passes" in m:
            how = ", ".join(filter(None, (m.get("dtype"),
                                          m.get("kernels") and f"{m['kernels']} kernels")))
            cost += (f"; cost {float(m['gabp_total_sample_passes']):,.0f} sample-passes; "
                     f"BP solver: {m.get('optimizer')}" + (f" ({how})" if how else ""))
        if int(m.get("ensemble", 1)) > 1:
            cost += f"; the model averages {m['ensemble']} networks"
        lines.append(cost)
    else:
        lines.append(f"- best hyperparameters: {m.get('best_params')}, trainings: "
                     f"{m.get('search', {}).get('n_trainings')}, cache hits: "
                     f"{m.get('search', {}).get('n_cache_hits')}")
    final = m.get("final_bp")
    if final:
        stop = ("early stopping on the " + final["monitor"] if final["early_stopping"]
                else "no early stopping")
        kept = int(final["kept_epochs"][0])
        kept_text = (f"weights kept from epoch {kept} (best {final['monitor']})" if kept > 0
                     else f"the starting weights were kept (no epoch improved the "
                     f"{final['monitor']} on them)")
        lines.append(f"- final BP training: {final['epochs'][0]} of max {final['max_epochs']} "
                     f"epochs ({stop}); {kept_text}")
    if _validation_text(m):
        lines.append(f"- **{_validation_text(m)}**")
    lines += [f"- seed: {run.meta.get('seed')}, n_jobs: {run.meta.get('n_jobs')}"
              f"{_pool_text(m, run.meta.get('n_jobs'))}, "
              f"wall time: {_fmt(run.meta.get('elapsed_s', float('nan')))} s", ""]
    return lines


def _pool_text(m: dict[str, Any], n_jobs: Any) -> str:
    """How much of the run the worker pool took, for an ``n_jobs`` other than 1."""
    if n_jobs in (None, 1) or "pool_generations" not in m or m.get("mode") == "bp":
        return ""
    k = int(m["pool_generations"])
    if k == 0:
        return (" (every generation was scored in-process: the cost model found that the "
                "worker pool would not pay for itself in this run)")
    return f" (the worker pool shared {k} generation{'s' if k != 1 else ''})"


def _metrics_section(run: runs.Run) -> list[str]:
    m = run.metrics
    base = m.get("baseline")
    if base:
        lines = ["## GA-BP vs plain BP", "",
                 f"{baseline_text(m)[0].upper()}{baseline_text(m)[1:]}: the same network "
                 "trained from the standard initializer; each restart may spend as much "
                 "as the GA-BP run did in total (its BP training, fitness evaluations and "
                 "final training, counted in sample-passes: one forward and backward pass "
                 "of one sample through one network), which can be more epochs than "
                 "`max_epochs`. "
                 f"Steps used per restart: {', '.join(f'{int(s):,}' for s in base['steps'])}; "
                 f"epochs: {', '.join(str(e) for e in base.get('epochs', []))}.", ""]
        part, key = _held_out(m)[0], main_metrics(m)[0]
        each = [r[part][key] for r in base["per_restart"] if part in r]
        if each:
            lines += [f"Each restart's {part} {key}: {', '.join(_fmt(v) for v in each)} "
                      f"({model_label(m)}: {_fmt(m['gabp'][part][key])}).", ""]
    else:
        lines = ["## Metrics", ""]
    return lines + ["Metrics in original units (regression) or on the labels "
                    "(classification).", ""] + metrics_table(m) + [""]


def _confusion_section(run: runs.Run) -> list[str]:
    m = run.metrics
    if m.get("task") != "classification":
        return []
    lines: list[str] = []
    for part in _held_out(m):
        for baseline, name in ((False, model_label(m)), (True, "plain BP, restart best on val")):
            cm = _confusion(m, part, baseline)
            if cm is None:
                continue
            counts = np.asarray(cm["counts"])
            lines += [f"### Confusion counts, {part}: {name}", "",
                      f"{int(np.trace(counts))} of {int(counts.sum())} correct.", ""]
            lines += confusion_table(cm) + [""]
    return (["## Confusion matrices", ""] + lines) if lines else []


def _figures_section(run: runs.Run, figures: Sequence[str]) -> list[str]:
    if not figures:
        return []
    keys = {v: k for k, v in FIGURES.items()}
    lines = ["## Figures", ""]
    for f in figures:
        name = os.path.basename(f)
        lines += [f"**{name}**: {CAPTIONS.get(keys.get(name, ''), '')}", "",
                  f"![{name}]({name})", ""]
    return lines


def _reproduce_section(run: runs.Run) -> list[str]:
    config = os.path.join(run.path, runs.CONFIG)
    parent = os.path.dirname(os.path.normpath(run.path)) or "."
    cmd = f"gabp run {shlex.quote(config)} --out {shlex.quote(parent)}"
    return ["## Reproduce", "",
            "The resolved configuration below holds every setting and the seed "
            f"({run.meta.get('seed')}); this command repeats the run into a new folder:", "",
            "```bash", cmd, "```", ""]


def _config_section(run: runs.Run) -> list[str]:
    return ["## Configuration", "", "```toml", dump_toml(run.config).strip(), "```", ""]


# The sections of report.md, in order; each takes the run and the figure paths.
SECTIONS: list[Callable[[runs.Run, Sequence[str]], list[str]]] = [
    lambda run, figures: _overview(run),
    lambda run, figures: _metrics_section(run),
    lambda run, figures: _confusion_section(run),
    lambda run, figures: (naive_table(run.metrics) + [""]) if run.metrics.get("naive") else [],
    _figures_section,
    lambda run, figures: _reproduce_section(run),
    lambda run, figures: _config_section(run),
]


def report_markdown(run: runs.Run, figures: Sequence[str]) -> str:
    """The text of ``report.md``: overview, metrics, confusion counts, figures, command."""
    lines: list[str] = []
    for section in SECTIONS:
        lines += section(run, figures)
    return "\n".join(lines)


# ------------------------------------------------------------------------------ compare


def _dataset(run: runs.Run) -> str:
    data = run.config.get("data", {})
    if data.get("dataset"):
        return str(data["dataset"])
    return os.path.basename(str(data.get("csv") or "?"))


def _fitness_key(run: runs.Run) -> str:
    """Runs whose GA fitness measures the same thing share a panel."""
    return f"{_dataset(run)}: {fitness_text(run.metrics, run.config)}"


def compare_runs(
    run_dirs: Sequence[str | os.PathLike],
    *,
    out: str | os.PathLike | None = None,
    part: str = "test",
    x: str = "gen",
    band: str | None = None,
    figure: bool = True,
) -> tuple[list[dict[str, Any]], str | None]:
    """Several runs side by side: a table row and a figure line per run.

    Parameters
    ----------
    run_dirs : sequence of paths
        Finished run folders.
    out : path, optional
        Figure file; default ``compare.png`` in the current folder.
    part : str
        The part whose metrics are compared: ``"train"``, ``"val"``, ``"test"`` (or an
        extra held-out part such as ``"test2"``); every run must have it.
    x : {"gen", "evals", "time"}
        Horizontal axis of the convergence panels: generation, cumulative evaluations or
        wall time.
    band : {"std", "minmax"} or None
        None: one line per run. Else runs of the same mode are summarized as a mean line
        and a band (only within one fitness panel).
    figure : bool
        Draw the figure (convergence panels, one per kind of fitness, and the chosen
        part's main metric per run).

    Returns
    -------
    rows : list of dict
        One per run: ``run``, ``dataset``, ``mode``, the main metrics of the run's model
        and, with a baseline, ``"plain BP <metric>"`` as ``"mean ± std"`` text.
    figure_path : str or None
    """
    where = "compare_runs"
    check_choice(x, ("gen", "evals", "time"), "x", where)
    if band is not None:
        check_choice(band, ("std", "minmax"), "band", where)
    if not run_dirs:
        raise ValueError(f"The 'run_dirs' parameter of {where} must be at least one run "
                         "folder. Got none instead.")
    loaded = [runs.load_run(d) for d in run_dirs]
    for r in loaded:
        have = list(r.metrics.get("gabp", {}))
        if part not in have:
            raise ValueError(f"The 'part' parameter of {where} must be a part every run "
                             f"has ({', '.join(have)} for {r.name}). Got {part!r} instead.")
    rows = []
    for r in loaded:
        m = r.metrics
        row: dict[str, Any] = {"run": r.name, "dataset": _dataset(r), "mode": m.get("mode")}
        values = m["gabp"][part]
        base = m.get("baseline")
        for k in main_metrics(m):
            row[k] = values.get(k)
            if base and part in base.get("mean", {}):
                row[f"plain BP {k}"] = (f"{base['mean'][part][k]:.4g} ± "
                                        f"{base['std'][part][k]:.2g}")
        rows.append(row)
    if not figure:
        return rows, None
    if out is None:  # not beside the runs, where `gabp compare runs/*` would pick it up
        out = "compare.png"
    _compare_figure(loaded, os.fspath(out), part=part, x=x, band=band)
    return rows, os.fspath(out)


def _compare_figure(loaded: list[runs.Run], out: str, *, part: str, x: str,
                    band: str | None) -> None:
    from . import plotting

    panels: dict[str, list[runs.Run]] = {}
    for r in loaded:
        if r.logbook:
            panels.setdefault(_fitness_key(r), []).append(r)
    datasets = list(dict.fromkeys(_dataset(r) for r in loaded))
    n = len(panels) + len(datasets)
    ncols = min(2, n)
    nrows = -(-n // ncols)
    fig = plotting.new_figure((6.2 * ncols, 4.2 * nrows))
    axes = list(np.ravel(fig.subplots(nrows, ncols, squeeze=False)))
    for extra in axes[n:]:
        fig.delaxes(extra)
    for ax, (key, group) in zip(axes, panels.items(), strict=False):
        if band is None:
            plotting.plot_runs([g.logbook for g in group], key="best_so_far", x=x, ax=ax,
                               labels=[f"{g.name} ({g.metrics.get('mode')})" for g in group],
                               log=True)
        else:
            groups: dict[str, list[Any]] = {}
            for g in group:
                groups.setdefault(str(g.metrics.get("mode")), []).append(g.logbook)
            plotting.plot_runs(groups=groups, key="best_so_far", x=x, ax=ax, band=band,
                               log=True)
        ax.set_ylabel("best so far (lower is better)")
        ax.set_title(textwrap.fill(key, 60), fontsize="medium")
        ax.legend(fontsize="x-small")
    for ax, dataset in zip(axes[len(panels):], datasets, strict=False):
        _metric_panel(ax, [r for r in loaded if _dataset(r) == dataset], part, dataset)
    fig.suptitle(f"{len(loaded)} runs compared")
    plotting.save_figure(fig, out)


def _metric_panel(ax: Any, group: list[runs.Run], part: str, dataset: str) -> None:
    """The main metric of each run on ``part``: the model as a dot, plain BP as mean ± std."""
    key = main_metrics(group[0].metrics)[0]
    ys = np.arange(len(group))
    named: set[str] = set()

    def once(text: str) -> str:
        if text in named:
            return "_nolegend_"
        named.add(text)
        return text

    for i, r in enumerate(group):
        m = r.metrics
        color = {"bp": "C2", "search": "C4"}.get(m.get("mode"), "C0")
        ax.plot([m["gabp"][part][key]], [i], "o", color=color, label=once(model_label(m)))
        base = m.get("baseline")
        if base and part in base.get("mean", {}):
            ax.errorbar([base["mean"][part][key]], [i + 0.18], xerr=[base["std"][part][key]],
                        fmt="D", color="C1", ms=4, capsize=3,
                        label=once("plain BP mean ± std"))
    ax.set_yticks(ys, [f"{r.name}\n({r.metrics.get('mode')})" for r in group],
                  fontsize="x-small")
    ax.set_ylim(len(group) - 0.5, -0.5)  # first run on top, each run one row high
    better = "higher" if key in ("accuracy", "macro_f1", "r2") else "lower"
    ax.set_xlabel(f"{part} {key} ({better} is better)")
    ax.set_title(f"{dataset}: {part} {key} per run", fontsize="medium")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize="x-small")
