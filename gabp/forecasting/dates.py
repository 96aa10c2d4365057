"""The time axis of a series: parse, validate, extend into the future.

Times are numbers (years, positions) or ``numpy.datetime64`` values. ISO date strings are
parsed with NumPy; other date formats with pandas when it is installed (pandas is imported
only for them). Validation happens before any work: a time axis must be strictly increasing
(no duplicate or out-of-order dates) and have no missing values.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._validation import fail
from ..data.csv_io import time_cells

__all__ = ["check_time_index", "future_index", "parse_times"]


def parse_times(values: Any, name: str, where: str) -> np.ndarray:
    """Numbers or dates from ``values`` (strings, numbers, datetimes, a pandas index).

    Raises
    ------
    ValueError
        A value that is neither a number nor a date (the message names it).
    """
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf" or arr.dtype.kind == "M":
        return arr
    if arr.dtype.kind == "O" and arr.size and all(hasattr(v, "year") for v in arr.ravel()):
        return arr.astype("datetime64[ns]")
    cells = [str(v).strip() for v in arr.ravel()]
    parsed = time_cells(cells)  # integers, numbers or ISO dates, as a CSV time column
    if parsed.dtype.kind in "iufM":
        return parsed
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        try:
            with warnings.catch_warnings():  # element-wise parsing is fine for a time axis
                warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
                return pd.to_datetime(pd.Series(cells)).to_numpy()
        except (ValueError, TypeError):
            pass
    bad = next((c for c in cells if not _is_iso(c)), cells[0])
    fail(name, where, "numbers or dates (ISO 8601 like 1958-03-01, or any format pandas "
         "parses when pandas is installed)", bad)


def _is_iso(cell: str) -> bool:
    try:
        np.datetime64(cell)
    except ValueError:
        return False
    return True


def check_time_index(index: np.ndarray, name: str, where: str) -> None:
    """Raise ``ValueError`` unless ``index`` is strictly increasing with no missing value."""
    idx = np.asarray(index)
    missing = np.isnat(idx) if idx.dtype.kind == "M" else (
        ~np.isfinite(idx) if idx.dtype.kind == "f" else np.zeros(idx.shape, bool))
    if missing.any():
        fail(name, where, "a time axis without missing values",
             f"a missing time at row {int(np.flatnonzero(missing)[0]) + 1}")
    if idx.size < 2:
        return
    d = idx[1:] > idx[:-1]
    if d.all():
        return
    i = int(np.flatnonzero(~d)[0])
    kind = "duplicate" if idx[i + 1] == idx[i] else "out-of-order"
    fail(name, where, "strictly increasing (one value per time, oldest first)",
         f"{kind} times {_show(idx[i])} and {_show(idx[i + 1])} at rows {i + 1} and {i + 2}",
         hint="Sort the rows by time and drop or aggregate repeated times.")


def _show(v: Any) -> str:
    return str(np.datetime_as_string(v, unit="D")) if isinstance(v, np.datetime64) else str(v)


def future_index(index: np.ndarray, steps: int) -> np.ndarray:
    """The ``steps`` times after ``index`` at its own regular spacing.

    Dates on the same day of the month at a constant number of months apart (monthly,
    quarterly, yearly data) advance by calendar months; other dates and numbers by their
    median spacing.
    """
    idx = np.asarray(index)
    k = np.arange(1, steps + 1)
    if idx.size < 2:
        return idx[-1:] + k if idx.dtype.kind != "M" else idx[-1:] + k.astype("timedelta64[D]")
    if idx.dtype.kind == "M":
        days = idx.astype("datetime64[D]")
        months = days.astype("datetime64[M]")
        offset = days - months.astype("datetime64[D]")
        gaps = np.diff(months.astype(np.int64))
        exact_time = (idx == days.astype(idx.dtype)).all()
        if exact_time and (offset == offset[0]).all() and (gaps == gaps[0]).all() and gaps[0] > 0:
            future = months[-1] + k * int(gaps[0])
            return (future.astype("datetime64[D]") + offset[0]).astype(idx.dtype)
    step = np.median(np.diff(idx).astype(np.int64) if idx.dtype.kind == "M" else np.diff(idx))
    if idx.dtype.kind == "M":
        return idx[-1] + (k * int(step)).astype(np.diff(idx).dtype)
    if idx.dtype.kind in "iu":
        return idx[-1] + k * int(step)
    return idx[-1] + k * float(step)
