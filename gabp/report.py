"""Figures and ``report.md`` of a run folder, drawn only from the folder's files.

Because the report reads what the run wrote (CSV/JSON/npz), ``gabp report RUN_DIR`` can
re-draw it any time, and :func:`compare_runs` can overlay several runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import runs
from .config import dump_toml

FIGURES = {
    "convergence": "convergence.png",
    "bp_curve": "bp_curve.png",
    "series": "predictions.png",
    "errors": "errors.png",
    "confusion": "confusion_matrix.png",
    "class_scores": "class_scores.png",
    "hyperparameters": "hyperparameters.png",
}


def _curve_matrix(cols: dict[str, list[Any]], prefix: str) -> np.ndarray | None:
    keys = sorted((k for k in cols if k.startswith(prefix)), key=lambda k: int(k.rsplit("_", 1)[1]))
    if not keys:
        return None
    return np.array([[np.nan if v is None else v for v in cols[k]] for k in keys], dtype=float).T


def _bp_dicts(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    cols = runs.columns(rows)
    n = sum(v is not None for v in cols.get("gabp_train", []))
    gabp = {"train_loss": np.array(cols["gabp_train"][:n], dtype=float)}
    if "gabp_val" in cols:
        gabp["val_loss"] = np.array(cols["gabp_val"][:n], dtype=float)
    base_train = _curve_matrix(cols, "baseline_train_")
    if base_train is None:
        return gabp, None
    m = int(np.max(np.flatnonzero(np.isfinite(base_train).any(axis=1)))) + 1
    base = {"train_loss": base_train[:m]}
    bv = _curve_matrix(cols, "baseline_val_")
    if bv is not None:
        base["val_loss"] = bv[:m]
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
                                title=f"GA-BP: predicted vs actual {target}")


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


def write_report(run_dir: str | os.PathLike, *, dpi: int = 100) -> list[str]:
    """Draw the run's figures and write ``report.md``; returns the figure paths."""
    from . import plotting

    run = runs.load_run(run_dir)
    path = run.path
    written: list[str] = []

    def save(ax: Any, key: str) -> None:
        target = os.path.join(path, FIGURES[key])
        plotting.save_figure(ax, target, dpi=dpi)
        written.append(target)

    if run.logbook:
        ax = plotting.plot_convergence(run.logbook, log=True)
        on = "validation" if run.metrics.get("fitness_on", "validation") == "validation" \
            else "training"
        ax.set_title(f"GA convergence (fitness on {on} data)")
        save(ax, "convergence")
    if run.bp_curve:
        gabp, base = _bp_dicts(run.bp_curve)
        ax = plotting.plot_bp_curve(gabp, baseline=base, label="GA-BP")
        ax.set_title("BP error per epoch: final fine-tune vs plain BP")
        save(ax, "bp_curve")
    preds = runs.columns(run.predictions) if run.predictions else {}
    task = run.metrics.get("task")
    if preds and task in ("series", "regression"):
        parts = np.array(preds["part"])
        index = _time_axis(preds["index"])
        order = np.argsort(index, kind="stable")
        y_true = np.array(preds["y_true" if "y_true" in preds else "y_true_0"], dtype=float)
        y_pred = np.array(preds["y_pred" if "y_pred" in preds else "y_pred_0"], dtype=float)
        if task == "series":
            save(_plot_series(plotting, run, preds, index, order, y_true, y_pred), "series")
        test = parts == "test"
        if test.any():
            ax = plotting.plot_errors(index[test], y_true[test], y_pred[test])
            ax.set_title("Error per test sample (original units)")
            save(ax, "errors")
    if preds and task == "classification":
        from .metrics import confusion_matrix

        parts = np.array(preds["part"])
        test = parts == "test"
        y_true = np.array([str(v) for v in preds["y_true"]])[test]
        y_pred = np.array([str(v) for v in preds["y_pred"]])[test]
        labels = [str(c) for c in run.model.encoder.classes_]
        matrix, labs = confusion_matrix(y_true, y_pred, labels=labels)
        ax = plotting.plot_confusion_matrix(matrix, labs)
        ax.set_title("GA-BP confusion matrix (test)")
        save(ax, "confusion")
        ax = plotting.plot_class_scores(y_true, y_pred, labels=labels)
        ax.set_title("Per-class scores (test)")
        save(ax, "class_scores")
    if run.search:
        ax = plotting.plot_hyperparameters(run.search, params=_searched_params(run))
        ax.set_title("Best hyperparameters per generation")
        save(ax, "hyperparameters")
    runs.atomic_write(os.path.join(path, "report.md"), report_markdown(run, written))
    return written


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _summary_metric(key: str) -> bool:
    """Metrics shown in tables (not the sample count or the per-class F1 entries)."""
    return key != "n_samples" and not key.startswith("f1[")


def metrics_table(metrics: dict[str, Any]) -> list[str]:
    """Markdown rows: each held-out part x metric, GA-BP vs plain BP (mean ± std)."""
    gabp = metrics.get("gabp", {})
    base = metrics.get("baseline")
    label = "best found (refit)" if metrics.get("mode") == "search" else "GA-BP"
    head = f"| part | metric | {label} |" + (" plain BP (mean ± std) | plain BP (best on val) |"
                                         if base else "")
    lines = [head, "|---|---|---|" + ("---|---|" if base else "")]
    for part, values in gabp.items():
        for key, v in values.items():
            if not _summary_metric(key):
                continue
            row = f"| {part} | {key} | {_fmt(v)} |"
            if base:
                mean, std = base["mean"][part][key], base["std"][part][key]
                best = base["per_restart"][base["best_by_val"]][part][key]
                row += f" {_fmt(mean)} ± {_fmt(std)} | {_fmt(best)} |"
            lines.append(row)
    return lines


def naive_table(metrics: dict[str, Any]) -> list[str]:
    """Markdown: GA-BP, plain BP and the naive forecasts on each held-out part of a series
    run (RMSE, MAE, MASE, RMSSE), and the differencing used."""
    naive, base = metrics["naive"], metrics.get("baseline")
    label = "best found (refit)" if metrics.get("mode") == "search" else "GA-BP"
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
        for key in ("rmse", "mae", "mase", "rmsse"):
            row = [values.get(key)] + ([base["mean"][part].get(key)] if base else [])
            row += [naive[n][part][key] for n in naive]
            lines.append(f"| {part} | {key} | " + " | ".join(_fmt(v) for v in row) + " |")
    return lines


def report_markdown(run: runs.Run, figures: Sequence[str]) -> str:
    """The text of ``report.md``."""
    m = run.metrics
    on_val = m.get("fitness_on", "validation") == "validation"
    where = ("computed on validation data; the test data was used only for this report"
             if on_val else "computed on the training data: nothing was held out, so the "
             "metrics below are training metrics")
    lines = [f"# gabp run `{run.name}`", ""]
    lines += [f"- task: {m.get('task')}, mode: {m.get('mode')}, fitness: {m.get('fitness')} "
              f"({where})",
              f"- generations: {m.get('generations')} (stopped by {m.get('stop_reason')}), "
              f"evaluations: {m.get('n_evaluations')}, failed: {m.get('n_failed')}",
              (f"- gradient steps, GA-BP in total: {m.get('gabp_total_steps')}"
               if "gabp_total_steps" in m else
               f"- best hyperparameters: {m.get('best_params')}, "
               f"trainings: {m.get('search', {}).get('n_trainings')}, "
               f"cache hits: {m.get('search', {}).get('n_cache_hits')}"),
              f"- seed: {run.meta.get('seed')}, n_jobs: {run.meta.get('n_jobs')}, "
              f"wall time: {_fmt(run.meta.get('elapsed_s', float('nan')))} s", ""]
    base = m.get("baseline")
    if base:
        lines += ["## GA-BP vs plain BP", "",
                  f"Plain BP: the same network trained from the standard initializer, "
                  f"{base['n_restarts']} restarts, each allowed {base['budget_steps']} gradient "
                  f"steps (the GA-BP run's total); "
                  + ("early stopping on the same validation data " if on_val else
                     "early stopping on the training loss ")
                  + f"(steps used: {', '.join(str(s) for s in base['steps'])}).", ""]
    else:
        lines += ["## Test metrics", ""]
    lines += metrics_table(m) + [""]
    if m.get("naive"):
        lines += naive_table(m) + [""]
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{os.path.basename(f)}]({os.path.basename(f)})" for f in figures] + [""]
    lines += ["## Configuration", "", "```toml", dump_toml(run.config).strip(), "```", ""]
    return "\n".join(lines)


def compare_runs(run_dirs: Sequence[str | os.PathLike], *, out: str | None = None,
                 part: str = "test") -> tuple[list[dict[str, Any]], str | None]:
    """Metrics of several runs side by side, and an overlay of their convergence.

    Returns the table rows and the path of the overlay figure (``out``, if given).
    """
    loaded = [runs.load_run(d) for d in run_dirs]
    rows = []
    for r in loaded:
        row: dict[str, Any] = {"run": r.name, "mode": r.metrics.get("mode")}
        for k, v in r.metrics.get("gabp", {}).get(part, {}).items():
            if _summary_metric(k):
                row[k] = v
        base = r.metrics.get("baseline")
        if base:
            for k, v in base["mean"].get(part, {}).items():
                if _summary_metric(k):
                    row[f"bp_{k}"] = v
        rows.append(row)
    fig_path = None
    with_logbook = [r for r in loaded if r.logbook]
    if out is not None and with_logbook:
        from . import plotting

        groups: dict[str, list[Any]] = {}
        for r in with_logbook:
            groups.setdefault(str(r.metrics.get("mode")), []).append(r.logbook)
        ax = plotting.plot_runs(groups=groups, key="best_so_far", log=True)
        ax.set_title("Best error so far (mean and band across runs)")
        plotting.save_figure(ax, out)
        fig_path = out
    return rows, fig_path
