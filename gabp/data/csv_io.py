"""Reading user CSV files (and the bundled ones) with the standard ``csv`` module."""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_choice, check_int, fail
from ._dataset import Dataset
from .series import make_windows

_MISSING = {"", "na", "nan", "null", "none", "?", "n/a"}


class _Table:
    def __init__(self, path: Any, header: list[str], rows: list[list[str]], lines: list[int]):
        self.path, self.header, self.rows, self.lines = path, header, rows, lines

    def where(self, r: int, j: int) -> str:
        return f"line {self.lines[r]} (data row {r + 1}), column '{self.header[j]}'"


def read_table(
    path: str | os.PathLike, *, delimiter: str = ","
) -> tuple[list[str], list[list[str]]]:
    """Read a CSV file (``.csv`` or ``.csv.gz``) with a header row.

    Returns the column names and the data rows as stripped strings (every row has as
    many fields as the header). Raises ``FileNotFoundError`` / ``ValueError`` naming the
    file and line.
    """
    t = _read(path, delimiter)
    return t.header, t.rows


def _read(path: str | os.PathLike, delimiter: str) -> _Table:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"CSV file not found: '{p}'.")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\r\n"':
        fail("delimiter", "load_csv", "a single character (not a quote or line break)",
             delimiter)
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rt", encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise ValueError(f"CSV file '{p}' is not UTF-8 text (undecodable byte at offset "
                         f"{exc.start}{' of the uncompressed data' if opener is gzip.open else ''}"
                         "); save it as UTF-8.") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"CSV file '{p}' ends in .gz but is not a valid gzip file ({exc}); "
                         "decompress it or rename it to .csv.") from None
    except OSError as exc:
        raise ValueError(f"CSV file '{p}' cannot be read: {exc.strerror or exc}.") from None
    if "\x00" in text:
        raise ValueError(f"CSV file '{p}' holds NUL bytes: it is not a text CSV file.")
    lines = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    numbered = [(i + 1, row) for i, row in enumerate(lines) if any(c.strip() for c in row)]
    if not numbered:
        raise ValueError(f"CSV file '{p}' is empty: expected a header row and data rows.")
    header = [c.strip() for c in numbered[0][1]]
    if len(numbered) == 1:
        raise ValueError(f"CSV file '{p}' has a header but no data rows.")
    if len(set(header)) != len(header) or any(not h for h in header):
        raise ValueError(
            f"CSV file '{p}' has empty or duplicated column names in its header: {header}."
        )
    rows = []
    for line, row in numbered[1:]:
        if len(row) != len(header):
            raise ValueError(
                f"CSV file '{p}', line {line}: {len(row)} fields, but the header has "
                f"{len(header)} columns."
            )
        rows.append([c.strip() for c in row])
    return _Table(p, header, rows, [line for line, _ in numbered[1:]])


def _numeric_column(t: _Table, j: int) -> np.ndarray:
    out = np.empty(len(t.rows))
    for r, row in enumerate(t.rows):
        cell = row[j]
        if cell.lower() in _MISSING:
            raise ValueError(
                f"CSV file '{t.path}': missing value at {t.where(r, j)}. "
                "Fill or drop incomplete rows first."
            )
        try:
            out[r] = float(cell)
        except ValueError:
            raise ValueError(
                f"CSV file '{t.path}': non-numeric value {cell!r} at {t.where(r, j)}."
            ) from None
        if not np.isfinite(out[r]):
            raise ValueError(f"CSV file '{t.path}': non-finite value {cell!r} at {t.where(r, j)}.")
    return out


def _label_column(t: _Table, j: int) -> np.ndarray:
    cells = [row[j] for row in t.rows]
    for r, cell in enumerate(cells):
        if cell.lower() in _MISSING:
            raise ValueError(f"CSV file '{t.path}': missing value at {t.where(r, j)}.")
    try:
        values = np.array([float(c) for c in cells])
    except ValueError:
        return np.array(cells)
    if np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values


def time_cells(cells: list[str]) -> np.ndarray:
    """A time column's cells as integers, floats or ISO ``datetime64`` (else the strings)."""
    if all(c.lstrip("+-").isdigit() for c in cells):
        return np.array([int(c) for c in cells], dtype=np.int64)
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        pass
    try:
        return np.array(cells, dtype="datetime64")
    except ValueError:
        return np.array(cells)


def _resolve(spec: Any, header: list[str], name: str, path: Any) -> list[int]:
    specs = [spec] if isinstance(spec, (str, int, np.integer)) else list(spec)
    if not specs:
        fail(name, "load_csv", "a column name or index, or a non-empty list of them", spec)
    out = []
    for s in specs:
        if isinstance(s, str):
            if s not in header:
                raise ValueError(
                    f"The '{name}' parameter of load_csv must name a column of '{path}'. "
                    f"Got {s!r} instead. Columns: {', '.join(header)}."
                )
            out.append(header.index(s))
        else:
            j = check_int(s, name, "load_csv", low=-len(header), high=len(header) - 1)
            out.append(j % len(header))
    return out


def load_csv(
    path: str | os.PathLike,
    *,
    target: str | int | Sequence[str | int],
    date_column: str | int | None = None,
    features: Sequence[str | int] | None = None,
    task: str | None = None,
    n_lags: int = 1,
    horizon: int | Sequence[int] = 1,
    delimiter: str = ",",
    name: str | None = None,
) -> Dataset:
    """Load a user CSV file (header row required) as a :class:`Dataset`.

    Parameters
    ----------
    path : str or PathLike
        A ``.csv`` or ``.csv.gz`` file.
    target : str, int or sequence of them
        Target column(s) by name or 0-based index.
    date_column : str or int, optional
        Time column of a series; it is parsed as integers, floats, ISO dates
        (``datetime64``) or kept as strings, and never used as an input.
    features : sequence of str or int, optional
        Input columns; default every column except the target(s) and the date column.
    task : {"regression", "classification", "series"}, optional
        Default ``"series"`` when ``date_column`` is given, else ``"regression"``.
        Classification targets may be strings; they are coded 0 .. k-1 in sorted order.
    n_lags, horizon : int
        Series only: the windows built for ``X`` / ``y`` (the feature columns become
        exogenous inputs at the origin).
    delimiter : str, default ","
    name : str, optional
        Dataset name; default the file name without extension.

    Returns
    -------
    Dataset

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Empty file, unknown column, non-numeric cell or missing value (the message gives
        the line and column).
    """
    t = _read(path, delimiter)
    header, rows = t.header, t.rows
    tcols = _resolve(target, header, "target", path)
    dcol = None if date_column is None else _resolve(date_column, header, "date_column", path)[0]
    if task is None:
        task = "series" if dcol is not None else "regression"
    task = check_choice(task, ("regression", "classification", "series"), "task", "load_csv")
    if features is None:
        fcols = [j for j in range(len(header)) if j not in tcols and j != dcol]
    elif len(features) == 0:
        fcols = []
    else:
        fcols = _resolve(features, header, "features", path)
    overlap = set(fcols) & (set(tcols) | {dcol})
    if overlap and task != "series":
        fail(
            "features",
            "load_csv",
            "columns other than the target and date columns",
            [header[j] for j in sorted(overlap)],
        )
    if task != "series" and not fcols:
        raise ValueError(f"CSV file '{path}' has no input columns besides the target.")
    X = (
        np.column_stack([_numeric_column(t, j) for j in fcols])
        if fcols
        else np.empty((len(rows), 0))
    )
    stem = Path(path).name.split(".")[0]
    base = dict(
        name=name or stem,
        feature_names=[header[j] for j in fcols],
        description=f"Loaded from {Path(path).name}.",
    )
    if task == "classification":
        if len(tcols) != 1:
            fail("target", "load_csv", "a single column for classification", target)
        labels = _label_column(t, tcols[0])
        classes, codes = np.unique(labels, return_inverse=True)
        return Dataset(
            X=X,
            y=codes.ravel().astype(np.int64),
            task=task,
            target_names=[str(c) for c in classes.tolist()],
            **base,
        )
    Y = np.column_stack([_numeric_column(t, j) for j in tcols])
    tnames = [header[j] for j in tcols]
    if task == "regression":
        return Dataset(X=X, y=Y, task=task, target_names=tnames, **base)
    times = np.arange(len(rows)) if dcol is None else time_cells([r[dcol] for r in rows])
    series = Y[:, 0] if Y.shape[1] == 1 else Y
    win = make_windows(
        series, n_lags=n_lags, horizon=horizon, exog=X if X.shape[1] else None, index=times
    )
    lag_names = [
        f"{c}(t-{(n_lags - 1 - i)})" if i < n_lags - 1 else f"{c}(t)"
        for i in range(n_lags)
        for c in tnames
    ]
    base["feature_names"] = lag_names + base["feature_names"]
    hnames = [f"{c}(t+{h})" for h in win.horizons for c in tnames]
    return Dataset(
        X=win.X,
        y=win.y,
        task="series",
        target_names=hnames,
        index=win.index,
        series=series,
        series_index=times,
        exog=X if X.shape[1] else None,
        windowing={
            "n_lags": n_lags,
            "lag_step": 1,
            "horizon": win.horizons[0] if len(win.horizons) == 1 else list(win.horizons),
        },
        **base,
    )
