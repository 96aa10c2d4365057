"""Run folders: where a run's config, logbook, curves, metrics and model are written.

Layout (see ``runs/README.md``)::

    runs/<YYYYmmdd-HHMMSS>-<name>/
        config.toml  meta.json  logbook.csv  bp_curve.csv  metrics.json
        predictions.csv  model.npz  checkpoint.npz  *.png  report.md

Every file is written to a temporary name and renamed into place, so a crash never leaves
a half-written file. Nothing here unpickles.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model import Model

CONFIG, META, LOGBOOK, BP_CURVE = "config.toml", "meta.json", "logbook.csv", "bp_curve.csv"
METRICS, PREDICTIONS, MODEL, CHECKPOINT = (
    "metrics.json", "predictions.csv", "model.npz", "checkpoint.npz")
SEARCH = "search.csv"


class RunExistsError(FileExistsError):
    """The run folder exists and overwriting was not asked for."""


def atomic_write(path: str, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    tmp = path + ".tmp"
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as fh:
        fh.write(data)
    os.replace(tmp, path)


def _clean(o: Any) -> Any:
    """Plain JSON data: NumPy scalars and arrays as Python values, non-finite floats as the
    strings ``"inf"``, ``"-inf"``, ``"nan"`` so the JSON stays standard."""
    if isinstance(o, np.generic):
        o = o.item()
    elif isinstance(o, np.ndarray):
        o = o.tolist()
    if isinstance(o, float) and not math.isfinite(o):
        return "nan" if math.isnan(o) else ("inf" if o > 0 else "-inf")
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def write_json(path: str, obj: Any) -> None:
    """Atomic JSON write (NumPy scalars and arrays allowed; inf/nan become strings)."""
    atomic_write(path, json.dumps(_clean(obj), indent=2, allow_nan=False) + "\n")


def read_json(path: str) -> Any:
    """Read JSON written by :func:`write_json` ("inf"/"nan" strings back to floats)."""

    def restore(o: Any) -> Any:
        if o in ("inf", "-inf", "nan"):
            return float(o)
        if isinstance(o, dict):
            return {k: restore(v) for k, v in o.items()}
        if isinstance(o, list):
            return [restore(v) for v in o]
        return o

    with open(path, encoding="utf-8") as fh:
        return restore(json.load(fh))


def write_csv(path: str, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None
              ) -> None:
    """Atomic CSV write of a list of dicts (columns: union of keys in first-seen order)."""
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    atomic_write(path, buf.getvalue())


def read_csv(path: str) -> list[dict[str, Any]]:
    """Read a CSV into dicts, converting numeric cells to float (empty cells to None)."""

    def conv(v: str) -> Any:
        if v == "":
            return None
        try:
            return float(v)
        except ValueError:
            return v

    with open(path, encoding="utf-8", newline="") as fh:
        return [{k: conv(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def columns(rows: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows -> dict of columns."""
    out: dict[str, list[Any]] = {}
    for r in rows:
        for k, v in r.items():
            out.setdefault(k, []).append(v)
    return out


def new_run_dir(out: str | os.PathLike = "runs", name: str = "run", *,
                overwrite: bool = False, path: str | os.PathLike | None = None) -> str:
    """Create ``<out>/<timestamp>-<name>`` (or exactly ``path``) and return it.

    Raises :class:`RunExistsError` if the folder exists and ``overwrite`` is False.
    """
    if path is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = os.path.join(os.fspath(out), f"{stamp}-{name}")
    path = os.fspath(path)
    if os.path.exists(path) and os.listdir(path) and not overwrite:
        raise RunExistsError(f"The run folder {path} exists already; choose another --name or "
                             "--out, or pass overwrite=True (--overwrite) to replace it.")
    os.makedirs(path, exist_ok=True)
    return path


@dataclass
class Run:
    """A run folder read back: files as plain data and the model ready to predict."""

    path: str
    config: dict[str, Any]
    meta: dict[str, Any]
    metrics: dict[str, Any]
    logbook: list[dict[str, Any]]
    bp_curve: list[dict[str, Any]]
    predictions: list[dict[str, Any]]
    model: Model
    search: list[dict[str, Any]] | None = None

    @property
    def name(self) -> str:
        """The run folder's name."""
        return os.path.basename(os.path.normpath(self.path))


def load_run(path: str | os.PathLike) -> Run:
    """Read a run folder written by :func:`gabp.experiment.run_experiment`."""
    from .config import load_config

    path = os.fspath(path)
    if not os.path.isfile(os.path.join(path, MODEL)):
        raise FileNotFoundError(f"{path} is not a finished gabp run folder (no {MODEL}).")

    def opt_csv(name: str) -> list[dict[str, Any]]:
        p = os.path.join(path, name)
        return read_csv(p) if os.path.isfile(p) else []

    search_path = os.path.join(path, SEARCH)
    return Run(
        path=path,
        config=load_config(os.path.join(path, CONFIG)),
        meta=read_json(os.path.join(path, META)),
        metrics=read_json(os.path.join(path, METRICS)),
        logbook=opt_csv(LOGBOOK),
        bp_curve=opt_csv(BP_CURVE),
        predictions=opt_csv(PREDICTIONS),
        model=Model.load(os.path.join(path, MODEL)),
        search=read_csv(search_path) if os.path.isfile(search_path) else None,
    )
