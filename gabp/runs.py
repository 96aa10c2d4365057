"""Run folders: where a run's config, logbook, curves, metrics and model are written.

Layout (see ``runs/README.md``)::

    runs/<YYYYmmdd-HHMMSS>-<name>/
        config.toml  meta.json  logbook.csv  bp_curve.csv  metrics.json
        predictions.csv  model.npz  checkpoint.npz  *.png  report.md

Every file is written to a unique temporary name in the folder, fsynced and renamed into
place, so a crash never leaves a half-written file. A folder has one writer at a time: it
holds ``.lock`` (created with ``O_EXCL``, holding the writer's pid) while a run or resume
writes into it. Nothing here unpickles.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import re
import shlex
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._files import atomic_open, remove_temporaries
from .model import Model

logger = logging.getLogger(__name__)

CONFIG, META, LOGBOOK, BP_CURVE = "config.toml", "meta.json", "logbook.csv", "bp_curve.csv"
METRICS, PREDICTIONS, MODEL, CHECKPOINT = (
    "metrics.json", "predictions.csv", "model.npz", "checkpoint.npz")
SEARCH = "search.csv"
#: Version of the ``metrics.json`` layout (runs/README.md describes it); readers accept
#: this one and the unversioned files written before it (read as version 0).
METRICS_SCHEMA_VERSION = 1


LOCK = ".lock"


class RunExistsError(FileExistsError):
    """The run folder exists and overwriting was not asked for."""


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT/SIGTERM; its folder is marked ``"interrupted"``.

    Attributes
    ----------
    path : str
        The run folder.
    generation : int or None
        Last checkpointed generation (None: no checkpoint yet).
    """

    def __init__(self, path: str, generation: int | None) -> None:
        super().__init__(path)
        self.path, self.generation = path, generation

    def __str__(self) -> str:
        if self.generation is None:
            return (f"interrupted before the first checkpoint; run folder {self.path} "
                    "(start the run again)")
        return (f"interrupted; run folder {self.path}, last checkpoint at generation "
                f"{self.generation}; continue with: gabp resume {shlex.quote(self.path)}")


class RunLockedError(RunExistsError):
    """Another live process is writing into the run folder."""


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a unique temporary file, fsync and a rename."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as fh:
        fh.write(data)


def safe_name(name: str) -> str:
    """A run name reduced to one harmless path component.

    Every character other than letters, digits, ``.``, ``_`` and ``-`` becomes ``_``
    (so ``/``, ``..`` chains, newlines and NULs cannot escape ``--out``), leading dots
    are dropped and the result is at most 100 characters; an empty result is ``"run"``.

    Examples
    --------
    >>> safe_name("x/../../../escaped")
    'x_.._.._.._escaped'
    """
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).lstrip(".")[:100]
    return cleaned or "run"


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on Windows, where signal 0 would kill it: assume so)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # pragma: no cover
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - alive, owned by someone else
        return True
    except OSError:  # pragma: no cover - e.g. pid out of range
        return False
    return True


class RunLock:
    """Exclusive write lock on a run folder: ``<folder>/.lock`` holding ``pid host``.

    ``acquire`` creates the file with ``O_CREAT | O_EXCL``; a lock whose process is gone
    (same host) is stale and taken over. Use as a context manager, or call
    :meth:`acquire` / :meth:`release`.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, LOCK)
        self.held = False

    def _holder(self) -> tuple[int, str]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                parts = fh.read().split()
            return int(parts[0]), parts[1] if len(parts) > 1 else ""
        except (OSError, ValueError, IndexError):
            return -1, ""

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`RunLockedError` naming the holder."""
        me = f"{os.getpid()} {socket.gethostname()}\n"
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid, host = self._holder()
                if pid == -1:  # being written right now, or garbage: look again
                    time.sleep(0.05)
                    pid, host = self._holder()
                if host in ("", socket.gethostname()) and not _pid_alive(pid):
                    # Re-read just before removing: another process may have taken the
                    # stale lock over in between (a remaining window of microseconds).
                    if self._holder() == (pid, host):
                        logger.info("removing the stale lock of process %d in %s", pid,
                                    self.folder)
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(self.path)
                    continue
                raise RunLockedError(
                    f"The run folder {self.folder} is in use by process {pid}"
                    f"{' on ' + host if host else ''} (lock file {self.path}); wait for it to "
                    "end, or delete the lock file if that process is gone.") from None
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(me)
            self.held = True
            return self
        raise RunLockedError(f"Could not lock the run folder {self.folder} (lock file "
                             f"{self.path} keeps reappearing).")

    def release(self) -> None:
        """Remove the lock file if this process holds it."""
        if self.held and self._holder()[0] == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


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

    try:
        with open(path, encoding="utf-8") as fh:
            return restore(json.load(fh))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}).") from None


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

    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return [{k: conv(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path} is not a readable UTF-8 CSV file ({exc}).") from None


def columns(rows: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows -> dict of columns."""
    out: dict[str, list[Any]] = {}
    for r in rows:
        for k, v in r.items():
            out.setdefault(k, []).append(v)
    return out


#: Files a run writes; ``--overwrite`` removes them first so two runs never mix.
RUN_FILES = (CONFIG, META, LOGBOOK, BP_CURVE, METRICS, PREDICTIONS, MODEL, CHECKPOINT,
             "checkpoint.logbook.jsonl", SEARCH, "report.md")


def new_run_dir(out: str | os.PathLike = "runs", name: str = "run", *,
                overwrite: bool = False, path: str | os.PathLike | None = None,
                resume: bool = False) -> tuple[str, RunLock]:
    """Create and lock ``<out>/<timestamp>-<safe name>`` (or exactly ``path``).

    Returns ``(path, lock)``; the caller releases the lock when done. ``name`` goes
    through :func:`safe_name`, so the folder is always directly inside ``out``. With
    ``overwrite`` (and not ``resume``) the files of an earlier run are removed after the
    lock is taken.

    Raises :class:`RunExistsError` if the folder is not empty and neither ``overwrite`` nor
    ``resume`` is set, :class:`RunLockedError` if another process writes into it.
    """
    if path is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = os.path.join(os.fspath(out), f"{stamp}-{safe_name(name)}")
    path = os.fspath(path)
    if os.path.isdir(path) and os.listdir(path) and not (overwrite or resume):
        raise RunExistsError(f"The run folder {path} exists already; choose another --name or "
                             "--out, or pass overwrite=True (--overwrite) to replace it.")
    os.makedirs(path, exist_ok=True)
    lock = RunLock(path).acquire()
    try:
        remove_temporaries(path)
        if overwrite and not resume:
            for name_ in os.listdir(path):
                if name_ in RUN_FILES or name_.endswith(".png"):
                    os.unlink(os.path.join(path, name_))
    except BaseException:
        lock.release()
        raise
    return path, lock


def update_meta(path: str | os.PathLike, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the run folder's ``meta.json`` (atomic); returns the result."""
    p = os.path.join(os.fspath(path), META)
    meta = read_json(p) if os.path.isfile(p) else {}
    meta.update(fields)
    write_json(p, meta)
    return meta


def _unfinished_reason(path: str) -> str:
    """Why a run folder has no model, from its meta.json and lock ("" if unknown)."""
    try:
        meta = read_json(os.path.join(path, META))
    except (OSError, ValueError):
        return ""
    status = meta.get("status") if isinstance(meta, dict) else None
    resume = f"; continue it with: gabp resume {shlex.quote(path)}" if os.path.isfile(
        os.path.join(path, CHECKPOINT)) else ""
    if status == "running":
        pid = RunLock(path)._holder()[0]
        if pid > 0 and pid != os.getpid() and _pid_alive(pid):
            return f": it is still running (process {pid})"
        return f": its process was killed{resume}"
    if status in ("interrupted", "failed"):
        why = f" ({meta['error']})" if status == "failed" and meta.get("error") else ""
        return f": it {status}{why}{resume}"
    return ""


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


def write_metrics(path: str, metrics: dict[str, Any]) -> None:
    """The one writer of ``metrics.json``: ``metrics`` with ``schema_version`` first."""
    write_json(path, {"schema_version": METRICS_SCHEMA_VERSION,
                      **{k: v for k, v in metrics.items() if k != "schema_version"}})


def read_metrics(path: str) -> dict[str, Any]:
    """Read ``metrics.json``; refuse a layout newer than this gabp knows."""
    metrics = read_json(path)
    if not isinstance(metrics, dict):
        raise ValueError(f"{path} is not a gabp metrics file (not a JSON object).")
    version = metrics.setdefault("schema_version", 0)
    if not isinstance(version, int) or version > METRICS_SCHEMA_VERSION:
        raise ValueError(f"{path} has schema_version {version!r}, written by a newer gabp "
                         f"(this one reads up to {METRICS_SCHEMA_VERSION}); upgrade gabp.")
    return metrics


def read_written_config(path: str) -> dict[str, Any]:
    """A run folder's ``config.toml`` as written, with every default filled in.

    The file was validated when the run started; reading it back checks nothing that
    lives outside the folder (a moved folder, or a source CSV deleted since, still reads).
    """
    import tomllib

    from .config import SCHEMA

    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path} is not a readable config ({exc}).") from None
    out: dict[str, Any] = {k: raw.get(k, d) for k, (_, d) in SCHEMA[""].items()}
    for section, fields in SCHEMA.items():
        if section:
            out[section] = {**{k: d for k, (_, d) in fields.items()}, **raw.get(section, {})}
    if "search" in raw:
        out["search"] = dict(raw["search"])
    return out


def load_run(path: str | os.PathLike) -> Run:
    """Read a run folder written by :func:`gabp.experiment.run_experiment`.

    Only the folder is read: the config as written, the model (with its scalers and
    encoder), metrics and curves; the source data is never needed.
    """
    path = os.fspath(path)
    if not os.path.isfile(os.path.join(path, MODEL)):
        raise FileNotFoundError(f"{path} is not a finished gabp run folder (no {MODEL})"
                                f"{_unfinished_reason(path)}.")

    def opt_csv(name: str) -> list[dict[str, Any]]:
        p = os.path.join(path, name)
        return read_csv(p) if os.path.isfile(p) else []

    search_path = os.path.join(path, SEARCH)
    return Run(
        path=path,
        config=read_written_config(os.path.join(path, CONFIG)),
        meta=read_json(os.path.join(path, META)),
        metrics=read_metrics(os.path.join(path, METRICS)),
        logbook=opt_csv(LOGBOOK),
        bp_curve=opt_csv(BP_CURVE),
        predictions=opt_csv(PREDICTIONS),
        model=Model.load(os.path.join(path, MODEL)),
        search=read_csv(search_path) if os.path.isfile(search_path) else None,
    )
