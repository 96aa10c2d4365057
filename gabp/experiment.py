"""One GA-BP experiment from a config: data -> evolution -> test metrics -> run folder.

:func:`run_experiment` is what ``gabp run`` calls; :func:`resume_experiment` is
``gabp resume``. The test part of the data is used once, after the evolution, for the
metrics in original units; it never reaches the fitness or early stopping.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import platform
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import numpy as np

from . import runs
from ._files import remove_temporaries
from ._kernels import check_kernels, selected
from ._seeding import int_seed
from ._validation import check_int, fail
from .config import (
    bp_config,
    check_memory,
    check_task,
    config_error,
    dump_toml,
    ga_config,
    load_config,
    resolve_config,
)
from .data import Dataset, TaskData, load_csv, load_dataset, make_windows, read_table, split_task
from .evolution import BPConfig, EvolutionResult, GAConfig, GAState, evolve, load_checkpoint
from .forecasting import series_runs
from .metrics import classification_report, confusion_matrix, regression_report, series_report
from .model import Model, linear_part
from .network import Network
from .ridge import fit_linear_part
from .trainer import History

logger = logging.getLogger(__name__)


def infer_task(data: dict[str, Any]) -> tuple[str, str]:
    """The task of a config's ``[data]`` table and the reason, in words, for the console.

    A built-in dataset has its own task. For a CSV file, a declared ``task`` wins; else the
    task is ``"series"`` when ``n_lags`` (or ``date_column``) is given, ``"classification"``
    when the target column is not numeric, and ``"regression"`` otherwise. A numeric
    target that looks like class codes (few distinct integers) stays regression, with a
    warning that says how to declare classes.
    """
    if data.get("dataset") is not None:
        task = load_dataset(data["dataset"]).task
        return task, f"built-in dataset {data['dataset']!r}"
    if data.get("task") is not None:
        return data["task"], "declared in [data] task"
    if data.get("n_lags") is not None:
        return "series", f"n_lags = {data['n_lags']} given"
    if data.get("date_column") is not None:
        return "series", f"date_column = {data['date_column']!r} given"
    target = data["target"]
    if isinstance(target, list):
        return "regression", "several target columns"
    header, rows = read_table(data["csv"], delimiter=data.get("delimiter", ","))
    j = header.index(target) if isinstance(target, str) and target in header else None
    if j is None and isinstance(target, int) and -len(header) <= target < len(header):
        j = target % len(header)
    if j is None:  # load_csv reports the unknown column
        return "regression", "default"
    cells = [r[j] for r in rows if r[j].strip()]
    try:
        values = np.array([float(c) for c in cells])
    except ValueError:
        return "classification", f"target column {header[j]!r} is not numeric"
    distinct = np.unique(values)
    if np.all(values == np.round(values)) and 2 <= len(distinct) <= min(20, len(values) // 5):
        logger.warning(
            "gabp: the target column %r holds only %d distinct integers (%s); it is "
            "treated as a regression target. If these are classes, set task = "
            '"classification" in [data].', header[j], len(distinct),
            ", ".join(f"{v:g}" for v in distinct[:6]) + (", ..." if len(distinct) > 6 else ""))
        return "regression", (f"target column {header[j]!r} is numeric; if its {len(distinct)} "
                              "distinct integers are classes, declare task = "
                              "\"classification\"")
    return "regression", f"target column {header[j]!r} is numeric"


def load_task(cfg: dict[str, Any]) -> tuple[Dataset, TaskData]:
    """Load the config's dataset and split it (scalers fitted on the training part)."""
    d = cfg["data"]
    if d["dataset"] is not None:
        ds = load_dataset(d["dataset"])
    else:
        kw: dict[str, Any] = {"target": d["target"], "delimiter": d["delimiter"],
                              "task": d["task"] or infer_task(d)[0]}
        for key in ("date_column", "features"):
            if d[key] is not None:
                kw[key] = d[key]
        if d["n_lags"] is not None:
            kw["n_lags"] = d["n_lags"]
        if d["horizon"] is not None:
            kw["horizon"] = d["horizon"]
        ds = load_csv(d["csv"], **kw)
    if ds.task != "series":
        return ds, _split(cfg, ds)
    ds = series_runs.check_times(ds)  # dates parsed and validated before any work
    source, diff = series_runs.differencing(cfg, ds, lambda x: _split(cfg, x))
    task = _split(cfg, source)
    windowing = {**task.windowing, "differencing": diff["ops"], "differencing_choice": diff,
                 "seasonal_period": d["seasonal_period"]}
    return ds, dataclasses.replace(task, windowing=windowing)


def _split(cfg: dict[str, Any], ds: Dataset) -> TaskData:
    d = cfg["data"]
    return split_task(
        ds,
        val_fraction=d["val_fraction"],
        test_fraction=d["test_fraction"],
        seed=d["split_seed"],
        n_lags=d["n_lags"] if ds.task == "series" else None,
        horizon=d["horizon"] if ds.task == "series" else None,
        lag_step=d["lag_step"] if ds.task == "series" else None,
        scaler=None if d["scaler"] == "none" else d["scaler"],
        feature_range=tuple(d["feature_range"]),
        classic=d["classic_split"],
    )


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("gabp", "numpy", "deap", "joblib", "matplotlib", "tqdm"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _parts(task: TaskData, ds: Dataset | None = None) -> dict[str, dict[str, Any]]:
    """Every held-out and training part: X (scaled), raw targets, time index (series:
    also the target positions, and for a differenced run the targets in original units)."""
    parts = {}
    for name in ("train", "val", "test"):
        X = getattr(task, f"X_{name}")
        if X.shape[0]:
            index = getattr(task, f"index_{name}")
            parts[name] = {"X": X, "y_raw": getattr(task, f"y_{name}_raw"),
                           "index": index if index is not None else getattr(task, f"idx_{name}")}
    for name, extra in task.extra.items():
        parts[name] = {"X": extra["X"], "y_raw": extra["y_raw"], "index": extra.get("index")}
    if task.task == "series" and ds is not None:
        series_runs.attach_levels(parts, ds, task.windowing)
    return parts


def _report(task: TaskData, y_raw: np.ndarray, pred: np.ndarray,
            scale: tuple[np.ndarray, int] | None = None) -> dict[str, Any]:
    """Metrics of one part; classification adds ``confusion_matrix`` = labels + counts.

    The counts come from the labels as the model saw them (the encoder's classes, strings
    or integers), so they sum to the part's size and their diagonal is the accuracy. Series
    parts with ``scale`` add MASE / RMSSE against the training period's naive error.
    """
    if task.task != "classification":
        if scale is not None:
            return series_report(y_raw, pred, *scale)
        return regression_report(y_raw, pred)
    labels = list(task.encoder.classes_)
    report: dict[str, Any] = classification_report(y_raw, pred, labels=labels)
    counts, _ = confusion_matrix(y_raw, pred, labels=labels)
    report["confusion_matrix"] = {"labels": [_scalar(v) for v in labels],
                                  "counts": counts.tolist()}
    return report


def _model(task: TaskData, net: Network, linear: dict[str, Any] | None = None) -> Model:
    return Model(network=net, task=task.task, x_scaler=task.x_scaler, y_scaler=task.y_scaler,
                 encoder=task.encoder, windowing=task.windowing,
                 feature_names=list(task.feature_names), target_names=list(task.target_names),
                 linear=linear)


def _predict(model: Model, X_scaled: np.ndarray, part: dict[str, Any] | None = None
             ) -> np.ndarray:
    """Predictions in original units (or labels) from already-scaled inputs; a differenced
    series part adds its ``base`` (the known past) back."""
    pred = model.output_to_target(model.predict_scaled(X_scaled))
    return pred if part is None or "base" not in part else pred + part["base"]


def _mean_std(reports: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    keys = [k for k, v in reports[0].items() if isinstance(v, (int, float))]
    arr = {k: np.array([r[k] for r in reports], dtype=float) for k in keys}
    # a metric that is infinite in some restarts (MAPE of zero targets) has an infinite
    # mean and no spread to report: its std is NaN, without NumPy's warning
    with np.errstate(invalid="ignore"):
        return ({k: float(np.mean(v)) for k, v in arr.items()},
                {k: float(np.std(v)) for k, v in arr.items()})


def _epochs_run(h: History) -> np.ndarray:
    """Epochs each network of a history really trained (early stop or divergence ends it)."""
    finite = np.isfinite(h.train_loss).sum(axis=0)
    stopped = np.asarray(h.stopped_epoch) if len(h.stopped_epoch) else np.full(len(finite), -1)
    return np.where(stopped >= 0, stopped + 1, finite).astype(int)


def _training(h: History, bp: dict[str, Any], has_val: bool) -> dict[str, Any]:
    """How a BP training went: epochs run, the epoch whose weights were kept (1-based)."""
    return {"epochs": _epochs_run(h).tolist(), "kept_epochs": (h.best_epoch + 1).tolist(),
            "steps": h.n_steps.tolist(), "max_epochs": bp["max_epochs"],
            "early_stopping": bool(bp["early_stopping"]), "patience": bp["patience"],
            "monitor": "validation loss" if has_val else "training loss"}


def _metrics(task: TaskData, result: EvolutionResult, parts: dict[str, dict[str, Any]],
             task_reason: str = "", ds: Dataset | None = None,
             linear: dict[str, Any] | None = None) -> dict[str, Any]:
    model = _model(task, result.network, linear)
    held_out = _held_out(parts)
    has_val = result.config["fitness_on"] == "validation"
    naive, scale = ({}, None)
    if task.task == "series" and ds is not None and "train" in parts:
        naive, scale = series_runs.naive_metrics(parts, ds, task.windowing, held_out)
    out: dict[str, Any] = {
        "task": task.task,
        "task_reason": task_reason,
        "mode": result.config["mode"],
        "fitness": result.config["fitness"],
        "fitness_on": result.config["fitness_on"],
        "loss": result.config["loss"],
        "held_out": held_out,
        "gabp": {p: _report(task, parts[p]["y_raw"], _predict(model, parts[p]["X"], parts[p]),
                            scale) for p in parts},
        "final_bp": _training(result.bp_history, result.config["bp"], has_val),
        "gabp_val_error": result.val_error,
        "gabp_best_fitness": result.best_fitness,
        "gabp_total_steps": result.total_steps,
        "gabp_total_sample_passes": result.total_sample_passes,
        "optimizer": result.optimizer,
        "dtype": result.dtype,
        "kernels": selected(),  # GABP_KERNELS resolved: "numpy" or "numba"
        "pool_generations": result.pool_generations,  # shared with the worker pool
        "holdout_generation": result.holdout_generation,  # GAConfig.holdout_fraction
        "ensemble": result.ensemble,
        "fine_tune_kept_start": result.kept_start.tolist(),
        "n_evaluations": result.n_evaluations,
        "n_failed": result.n_failed,
        "generations": result.generations,
        "stop_reason": result.stop_reason,
    }
    base = result.baseline
    if base is not None:
        per_restart = []
        for i in range(base.network.n_networks):
            m = _model(task, Network.from_architecture(base.network.arch,
                                                       base.network.params[i : i + 1]), linear)
            per_restart.append({p: _report(task, parts[p]["y_raw"],
                                           _predict(m, parts[p]["X"], parts[p]), scale)
                                for p in parts})
        out["baseline"] = {
            "n_restarts": base.network.n_networks,
            "budget_steps": base.budget_steps,
            "budget_sample_passes": base.budget_sample_passes,
            "steps": base.history.n_steps.tolist(),
            "sample_passes": base.history.sample_passes.tolist(),
            **{k: v for k, v in _training(base.history, result.config["bp"], has_val).items()
               if k != "steps"},
            "val_errors": base.val_errors.tolist(),
            "best_by_val": base.best,
            "mean": {}, "std": {},
            "per_restart": per_restart,
        }
        for p in parts:
            mean, std = _mean_std([r[p] for r in per_restart])
            out["baseline"]["mean"][p], out["baseline"]["std"][p] = mean, std
    if naive:
        out["naive"] = naive
        out["differencing"] = task.windowing.get("differencing_choice")
    return out


def _prediction_rows(task: TaskData, result: EvolutionResult, parts,
                     linear: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    model = _model(task, result.network, linear)
    base_model = None
    if result.baseline is not None:
        b = result.baseline
        base_model = _model(task, Network.from_architecture(
            b.network.arch, b.network.params[b.best : b.best + 1]), linear)
    rows = []
    for part, d in parts.items():
        bpred = None if base_model is None else _predict(base_model, d["X"], d)
        rows += _part_rows(task, part, d, _predict(model, d["X"], d), bpred)
    return rows


def _part_rows(task: TaskData, part: str, d: dict[str, Any], pred: np.ndarray,
               bpred: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Rows of ``predictions.csv`` for one part: index, actual, predicted (and baseline)."""
    y = np.asarray(d["y_raw"])
    index = d["index"] if d["index"] is not None else np.arange(len(y))
    rows = []
    for i in range(len(y)):
        row: dict[str, Any] = {"part": part, "index": _scalar(index[i])}
        if task.task == "classification":
            row["y_true"], row["y_pred"] = _scalar(y[i]), _scalar(pred[i])
            if bpred is not None:
                row["baseline_pred"] = _scalar(bpred[i])
        else:
            yt, yp = np.atleast_1d(y[i]), np.atleast_1d(pred[i])
            for j in range(len(yt)):
                sfx = "" if len(yt) == 1 else f"_{j}"
                row[f"y_true{sfx}"], row[f"y_pred{sfx}"] = float(yt[j]), float(yp[j])
                if bpred is not None:
                    row[f"baseline_pred{sfx}"] = float(np.atleast_1d(bpred[i])[j])
                for name, npred in d.get("naive", {}).items():
                    row[f"{name}_pred{sfx}"] = float(npred[i, j])
        rows.append(row)
    return rows


def _held_out(parts: dict[str, Any]) -> list[str]:
    """Parts reported as held out; the training part when nothing was held out (XOR)."""
    return [p for p in parts if p not in ("train", "val")] or ["train"]


def _scalar(v: Any) -> Any:
    if isinstance(v, np.datetime64):
        return str(v)
    return v.item() if isinstance(v, np.generic) else (str(v) if isinstance(v, np.ndarray) else v)


def _bp_curve_rows(result: EvolutionResult) -> list[dict[str, Any]]:
    h = result.bp_history
    n = h.n_epochs
    b = result.baseline
    if b is not None:
        n = max(n, b.history.n_epochs)
    rows = []
    for e in range(n):
        row: dict[str, Any] = {"epoch": e + 1}
        if e < h.n_epochs:
            row["gabp_train"] = float(h.train_loss[e, 0])
            if h.val_loss is not None:
                row["gabp_val"] = float(h.val_loss[e, 0])
        if b is not None and e < b.history.n_epochs:
            for i in range(b.history.train_loss.shape[1]):
                row[f"baseline_train_{i}"] = float(b.history.train_loss[e, i])
                if b.history.val_loss is not None:
                    row[f"baseline_val_{i}"] = float(b.history.val_loss[e, i])
        rows.append(row)
    return rows


def run_experiment(
    config: dict[str, Any] | str | os.PathLike,
    *,
    out: str | os.PathLike = "runs",
    name: str | None = None,
    seed: int | None = None,
    n_jobs: int | None = None,
    overwrite: bool = False,
    run_dir: str | os.PathLike | None = None,
    resume: bool = False,
    verbose: int = 1,
    callbacks: Sequence[Callable[[GAState], bool]] = (),
) -> runs.Run:
    """Run a GA-BP experiment described by a config and write its run folder.

    Parameters
    ----------
    config : dict or path
        A TOML file or an equivalent dict (validated first; see :mod:`gabp.config`).
    out : path
        Parent folder of the run folder ``<timestamp>-<name>``.
    name, seed, n_jobs : optional
        Override the config's values.
    overwrite : bool
        Allow writing into an existing, non-empty run folder.
    run_dir : path, optional
        Exact run folder to use instead of a new timestamped one.
    resume : bool
        Continue from the run folder's checkpoint.
    verbose : int
        0 silent, 1 progress bar, 2 a log line per generation instead of the bar.
    callbacks : sequence of callables
        ``cb(state) -> stop?`` after every generation (see :func:`gabp.evolution.evolve`).

    Returns
    -------
    gabp.runs.Run
        The run folder read back (metrics, logbook, model ready to predict).
    """
    if isinstance(config, (str, os.PathLike)):
        source = os.fspath(config)
        cfg = load_config(config)
    else:
        source = "<config>"
        cfg = resolve_config(config)
    if name is not None:
        cfg["name"] = str(name)
    if n_jobs is not None:
        if check_int(n_jobs, "n_jobs", "run_experiment", low=-1024, high=1024) == 0:
            fail("n_jobs", "run_experiment", "a positive or negative integer (-1: all cores)",
                 n_jobs)
        cfg["n_jobs"] = n_jobs
    if seed is not None:
        cfg["seed"] = check_int(seed, "seed", "run_experiment", low=0)
    if cfg["seed"] is None:
        cfg["seed"] = int(np.random.SeedSequence().entropy % (2**63))
    cfg["name"] = cfg["name"] or (cfg["data"]["dataset"] or os.path.splitext(
        os.path.basename(cfg["data"]["csv"]))[0])
    ga, bp = ga_config(cfg), bp_config(cfg)
    # Everything below up to new_run_dir checks data and memory: no folder exists yet.
    check_kernels()  # the environment's GABP_KERNELS (not the config's fault: no file name)
    try:
        task_name, task_reason = infer_task(cfg["data"])
        if cfg["data"]["csv"] is not None:
            cfg["data"]["task"] = task_name  # config.toml records the task the run used
        ds, task = load_task(cfg)
    except (ValueError, TypeError, OSError, EOFError) as exc:
        key = "csv" if cfg["data"]["csv"] is not None else "dataset"
        raise config_error(source, "data", key, str(exc)) from None
    check_task(cfg, task, source=source)
    search = _make_search(cfg, task, source) if "search" in cfg else None
    if search is None:
        n_val = task.X_val.shape[0]
        check_memory(cfg, n_inputs=task.X_train.shape[1], n_outputs=task.y_train.shape[1],
                     n_train=task.X_train.shape[0], n_fit=n_val or task.X_train.shape[0],
                     source=source)
    toml_text = dump_toml(cfg)
    path, lock = runs.new_run_dir(out, cfg["name"], overwrite=overwrite, resume=resume,
                                  path=run_dir)
    try:
        with _signals_as_interrupt():
            return _run_in(path, cfg, toml_text, ds, task, search, ga, bp, resume, verbose,
                           callbacks, task_reason)
    except KeyboardInterrupt:
        generation = _checkpointed_generation(path)
        runs.update_meta(path, status="interrupted", last_checkpoint_generation=generation,
                         stopped=time.strftime("%Y-%m-%dT%H:%M:%S"))
        raise runs.RunInterrupted(path, generation) from None
    except BaseException as exc:
        runs.update_meta(path, status="failed", error=f"{type(exc).__name__}: {exc}",
                         last_checkpoint_generation=_checkpointed_generation(path),
                         stopped=time.strftime("%Y-%m-%dT%H:%M:%S"))
        with contextlib.suppress(AttributeError, TypeError):
            exc.gabp_run_dir = path  # the CLI names the folder in its one-line message
        raise
    finally:
        remove_temporaries(path)  # before the release: later temporaries are another writer's
        lock.release()


@contextlib.contextmanager
def _signals_as_interrupt():
    """SIGTERM raises KeyboardInterrupt (as SIGINT does) while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _checkpointed_generation(path: str) -> int | None:
    """Generation of the run folder's checkpoint, or None if there is none (or unreadable)."""
    ck = os.path.join(path, runs.CHECKPOINT)
    if not os.path.isfile(ck):
        return None
    try:
        return int(load_checkpoint(ck)["generation"])
    except (ValueError, OSError):
        return None


def _run_in(path: str, cfg: dict[str, Any], toml_text: str, ds: Dataset, task: TaskData,
            search: Any, ga: GAConfig, bp: BPConfig, resume: bool, verbose: int,
            callbacks: Sequence[Callable[[GAState], bool]], task_reason: str = "") -> runs.Run:
    """The work of :func:`run_experiment` inside its locked run folder."""
    runs.atomic_write(os.path.join(path, runs.CONFIG), toml_text)
    started = time.time()
    meta = {"versions": _versions(), "seed": cfg["seed"], "n_jobs": cfg["n_jobs"],
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
            "platform": platform.platform(), "cpu_count": os.cpu_count(), "status": "running",
            "pid": os.getpid()}
    runs.write_json(os.path.join(path, runs.META), meta)

    if search is not None:
        search.set_params(verbose=verbose)
        fit_kw = {"callbacks": tuple(callbacks), "resume": resume,
                  "checkpoint_path": os.path.join(path, runs.CHECKPOINT),
                  "checkpoint_every": cfg["run"]["checkpoint_every"]}
        _search_run(cfg, ds, task, search, path, task_reason, fit_kw)
        return _finish(path, cfg, meta, started, resume)
    classification = task.task == "classification"
    run = cfg["run"]
    has_val = task.X_val.shape[0] > 0
    linear, y_train, y_val = None, task.y_train, task.y_val
    if cfg["network"]["linear"]:  # GA-BP and the plain-BP baseline learn a ridge's residuals
        fit, scale = fit_linear_part(task.X_train, task.y_train)
        y_train = (y_train - fit.predict(task.X_train)) / scale
        y_val = (y_val - fit.predict(task.X_val)) / scale if has_val else y_val
        linear = linear_part(fit.coef, fit.intercept, scale, fit.alpha)
    result = evolve(
        task.X_train, y_train, task.X_val if has_val else None, y_val if has_val else None,
        hidden_layer_sizes=tuple(cfg["network"]["hidden_layer_sizes"]),
        hidden_activation=cfg["network"]["activation"],
        output_activation="softmax" if classification else "identity",
        loss="cross_entropy" if classification else "mse",
        mode=run["mode"], fitness=run["fitness"],
        fitness_on="validation" if has_val else "train",
        ga=ga, bp=bp, n_baseline=run["n_baseline"], n_jobs=cfg["n_jobs"], seed=cfg["seed"],
        verbose=verbose, checkpoint_path=os.path.join(path, runs.CHECKPOINT),
        checkpoint_every=run["checkpoint_every"], resume=resume, callbacks=callbacks,
        ensemble=run["ensemble"],
    )
    parts = _parts(task, ds)
    if result.logbook is not None:
        runs.write_csv(os.path.join(path, runs.LOGBOOK), [dict(r) for r in result.logbook])
    runs.write_csv(os.path.join(path, runs.BP_CURVE), _bp_curve_rows(result))
    metrics = _metrics(task, result, parts, task_reason, ds, linear)  # + naive forecasts
    if linear is not None:
        metrics["linear"] = {"alpha": linear["alpha"], "residual_scale": linear["scale"].tolist()}
    runs.write_csv(os.path.join(path, runs.PREDICTIONS),
                   _prediction_rows(task, result, parts, linear))
    runs.write_metrics(os.path.join(path, runs.METRICS), metrics)
    model = _model(task, result.network, linear)
    if task.task == "series":
        model.windowing = {**model.windowing,
                           "residuals": series_runs.interval_residuals(model, ds, parts)}
    model.save(os.path.join(path, runs.MODEL))
    meta["evolution_elapsed_s"] = result.elapsed
    return _finish(path, cfg, meta, started, resume)


def _finish(path: str, cfg: dict[str, Any], meta: dict[str, Any], started: float,
            resume: bool) -> runs.Run:
    meta.update({"status": "finished", "elapsed_s": time.time() - started,
                 "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "resumed": resume})
    runs.write_json(os.path.join(path, runs.META), meta)
    if cfg["run"]["report"]:
        from .report import write_report

        write_report(path)
    return runs.load_run(path)


def _make_search(cfg: dict[str, Any], task: TaskData, source: str = "<config>"):
    """The validated :class:`~gabp.search.EvolutionarySearch` of a ``[search]`` table."""
    from .config import SEARCH_STOP_KEYS
    from .search import EvolutionarySearch
    from .search.ga import DEFAULT_GA

    kw = {k: v for k, v in cfg["search"].items()}
    stops = {k: kw.pop(k) for k in SEARCH_STOP_KEYS if k in kw}  # the search GA's own rules
    try:
        if stops:
            kw["ga"] = dataclasses.replace(DEFAULT_GA, **stops)
        search = EvolutionarySearch(task.task, n_jobs=cfg["n_jobs"], random_state=cfg["seed"],
                                    verbose=0, **kw)
        s = search._validate("[search]")
        search.check_images(s["space"], task.X_train.shape[1], s["input_shape"], "[search]")
    except (ValueError, TypeError) as exc:
        m = re.search(r"The '([^']+)' parameter", str(exc))
        key = m.group(1) if m and m.group(1) in cfg["search"] else None
        raise config_error(source, "search", key, str(exc)) from None
    return search


def _search_run(cfg: dict[str, Any], ds: Dataset, task: TaskData, search, path: str,
                task_reason: str = "", fit_kw: dict[str, Any] | None = None) -> None:
    """Hyperparameter search on the train + validation parts; test metrics of the refit."""
    from .search import config_to_dict, search_records

    parts: dict[str, dict[str, Any]] = {}
    if task.task == "series":
        test_start = np.min(task.index_test) if task.X_test.shape[0] else np.inf
        times = ds.series_index if ds.series_index is not None else np.arange(len(ds.series))
        horizon = cfg["data"]["horizon"] or (ds.windowing or {}).get("horizon", 1)
        seen_series = ds.series[times < test_start]
        search.fit_series(seen_series, horizon=horizon, **(fit_kw or {}))
        lags = int(search.n_lags_)
        seen_win = make_windows(seen_series, n_lags=lags, horizon=horizon)
        refit_data = (seen_win.X, seen_win.y if seen_win.y.shape[1] > 1 else seen_win.y[:, 0])
        win = make_windows(ds.series, n_lags=lags, horizon=horizon, index=times)
        windowing = {"n_lags": lags, "lag_step": 1, "horizon": horizon}
        named = {"train": task.index_train, "val": task.index_val, "test": task.index_test,
                 **{k: v.get("index") for k, v in task.extra.items()}}
        for name, index in named.items():
            rows = np.flatnonzero(np.isin(win.index, index)) if index is not None else []
            if len(rows):
                parts[name] = {"X": win.X[rows], "y_raw": win.y[rows], "index": win.index[rows]}
        features = [f"x(t-{lags - 1 - i})" for i in range(lags)]
    else:
        windowing, features = None, list(task.feature_names)
        seen = np.concatenate([task.idx_train, task.idx_val])
        labels = np.concatenate([task.y_train_raw, task.y_val_raw])
        search.fit(ds.X[seen], labels, **(fit_kw or {}))
        refit_data = (ds.X[seen], labels)
        for name in ("train", "val", "test"):
            idx = getattr(task, f"idx_{name}")
            if len(idx):
                parts[name] = {"X": ds.X[idx], "y_raw": getattr(task, f"y_{name}_raw"),
                               "index": idx}
    est = search.best_estimator_
    model = Model.from_estimator(est, task=task.task, windowing=windowing,
                                 feature_names=features, target_names=list(task.target_names))
    held_out = _held_out(parts)
    naive, scale = ({}, None)
    if task.task == "series" and "train" in parts:
        windowing["seasonal_period"] = cfg["data"]["seasonal_period"]
        series_runs.attach_levels(parts, ds, windowing)
        naive, scale = series_runs.naive_metrics(parts, ds, windowing, held_out)
    baseline, base_model = ({}, None)
    if cfg["run"]["n_baseline"]:
        baseline, base_model = _search_baseline(search, *refit_data, cfg["run"]["n_baseline"],
                                                task, parts, scale, windowing, features)
    report = {}
    rows: list[dict[str, Any]] = []
    for name, d in parts.items():
        pred = model.predict(d["X"])
        report[name] = _report(task, d["y_raw"], pred, scale)
        bpred = None if base_model is None else base_model.predict(d["X"])
        rows += _part_rows(task, name, d, pred, bpred)
    summary = search.to_dict()
    metrics = {"task": task.task, "task_reason": task_reason, "mode": "search",
               "fitness": search.fitness, "fitness_on": "validation", "held_out": held_out,
               "gabp": report, "search": summary,
               "generations": search.result_.generations,
               "n_evaluations": search.n_trainings_, "n_failed": search.n_failed_,
               "stop_reason": search.result_.stop_reason,
               "best_params": config_to_dict(search.best_params_)}
    if baseline:
        metrics["baseline"] = baseline
        metrics["optimizer"] = search.best_params_["optimizer"]
        metrics["gabp_total_sample_passes"] = baseline["budget_sample_passes"]
    if naive:
        metrics["naive"] = naive
    runs.write_csv(os.path.join(path, runs.LOGBOOK), [dict(r) for r in search.logbook_])
    runs.write_csv(os.path.join(path, runs.SEARCH), search_records(search))
    runs.write_csv(os.path.join(path, runs.BP_CURVE),
                   [{"epoch": e + 1, "gabp_train": v} for e, v in enumerate(est.loss_curve_)])
    runs.write_csv(os.path.join(path, runs.PREDICTIONS), rows)
    runs.write_metrics(os.path.join(path, runs.METRICS), metrics)
    model.save(os.path.join(path, runs.MODEL))


def _search_baseline(search: Any, X: np.ndarray, y: Any, n_restarts: int, task: TaskData,
                     parts: dict[str, dict[str, Any]], scale: Any, windowing: Any,
                     features: list[str]) -> tuple[dict[str, Any], Model]:
    """Plain BP of the refit configuration at the search's whole cost in sample-passes.

    The budget is what the search spent (every training of every generation) plus the
    refit; each restart starts from the standard initializer, holds out 10 % of the data
    the refit used for early stopping (the refit's patience) and may run as many epochs as
    the budget pays for. Returns the ``metrics.json`` entry and the model of the restart
    with the lowest validation loss.
    """
    from .search import config_to_dict, estimator_params
    from .search.estimator import _REFIT_KEY

    est = search.best_estimator_
    budget = float(search.result_.sample_passes
                   + est.result_.total_sample_passes * len(search.refit_losses_))
    n_fit = max(1, int(round(0.9 * len(X))))
    epochs = max(1, int(budget // n_fit))
    params = {**estimator_params(search.best_params_, epochs, search.input_shape_),
              "early_stopping": True,
              "validation_fraction": 0.1, "patience": search.best_params_["patience"]}
    fits = [type(est)(**params, random_state=int_seed(search.seed_, _REFIT_KEY, 99, i))
            .fit(X, y) for i in range(n_restarts)]
    models = [Model.from_estimator(f, task=task.task, windowing=windowing,
                                   feature_names=features,
                                   target_names=list(task.target_names)) for f in fits]
    per_restart = [{p: _report(task, d["y_raw"], m.predict(d["X"]), scale)
                    for p, d in parts.items()} for m in models]
    hist = [f.result_.bp_history for f in fits]
    val = [float(np.nanmin(f.validation_loss_curve_)) for f in fits]
    bs = params["batch_size"] or n_fit
    out: dict[str, Any] = {
        "n_restarts": n_restarts, "budget_sample_passes": budget,
        "budget_steps": epochs * int(np.ceil(n_fit / bs)),
        "steps": [int(h.n_steps.sum()) for h in hist],
        "sample_passes": [float(f.result_.total_sample_passes) for f in fits],
        "epochs": [int(_epochs_run(h)[0]) for h in hist],
        "kept_epochs": [int(h.best_epoch[0]) + 1 for h in hist],
        "max_epochs": epochs, "early_stopping": True, "patience": params["patience"],
        "monitor": "validation loss", "val_errors": val, "best_by_val": int(np.argmin(val)),
        "configuration": config_to_dict(search.best_params_),
        "mean": {}, "std": {}, "per_restart": per_restart,
    }
    for p in parts:
        out["mean"][p], out["std"][p] = _mean_std([r[p] for r in per_restart])
    return out, models[out["best_by_val"]]


def resume_experiment(run_dir: str | os.PathLike, *, n_jobs: int | None = None,
                      verbose: int = 1) -> runs.Run:
    """Continue an interrupted run from its checkpoint; gives the uninterrupted result."""
    run_dir = os.fspath(run_dir)
    ck = os.path.join(run_dir, runs.CHECKPOINT)
    if not os.path.isfile(ck):
        raise FileNotFoundError(f"{run_dir} has no {runs.CHECKPOINT} to resume from.")
    load_checkpoint(ck)  # a damaged checkpoint is refused before the folder is touched
    return run_experiment(os.path.join(run_dir, runs.CONFIG), run_dir=run_dir, resume=True,
                          n_jobs=n_jobs, verbose=verbose)
