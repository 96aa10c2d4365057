"""Input validation shared by every public entry point.

All user-facing checks go through these helpers so that messages have one format::

    The 'learning_rate' parameter of train must be a positive number. Got -1 instead.

They raise ``ValueError`` / ``TypeError`` (never ``assert``) and run before any work.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def _fmt(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def fail(name: str, where: str, expected: str, got: Any, *, hint: str = "", exc=ValueError):
    """Raise ``exc`` with the standard message for parameter ``name`` of ``where``."""
    msg = f"The '{name}' parameter of {where} must be {expected}. Got {_fmt(got)} instead."
    if hint:
        msg += f" {hint}"
    raise exc(msg)


def check_choice(value: Any, choices: Iterable[str], name: str, where: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing the known names."""
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        fail(name, where, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_int(
    value: Any, name: str, where: str, *, low: int | None = None, high: int | None = None
) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(name, where, "an integer", value, exc=TypeError)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            expected = f"an integer >= {low}"
        elif low is None:
            expected = f"an integer <= {high}"
        else:
            expected = f"an integer in [{low}, {high}]"
        fail(name, where, expected, value)
    return value


def check_float(
    value: Any,
    name: str,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as ``float`` if it is a finite real number in the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(name, where, "a real number", value, exc=TypeError)
    value = float(value)
    lo_ok = low is None or (value > low if low_open else value >= low)
    hi_ok = high is None or (value < high if high_open else value <= high)
    if not np.isfinite(value) or not (lo_ok and hi_ok):
        lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
        if low is not None and high is not None:
            expected = f"a finite number in {lo}, {hi}"
        elif low is not None:
            expected = f"a finite number {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            expected = f"a finite number {'<' if high_open else '<='} {high:g}"
        else:
            expected = "a finite number"
        fail(name, where, expected, value)
    return value


def check_array(
    value: Any,
    name: str,
    where: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    min_rows: int = 1,
    dtype: Any = np.float64,
    allow_nan: bool = False,
) -> np.ndarray:
    """Convert ``value`` to a NumPy array and check its dimensions and finiteness.

    Returns a C-contiguous array of ``dtype`` (no copy when it already is one).
    """
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        fail(name, where, "array-like of numbers", value, exc=TypeError)
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in dims:
            want = " or ".join(f"{d}-D" for d in dims)
            fail(
                name,
                where,
                f"a {want} array",
                arr,
                hint="Reshape a single feature with X.reshape(-1, 1)." if 2 in dims else "",
            )
    if arr.ndim >= 1 and arr.shape[0] < min_rows:
        fail(name, where, f"an array with at least {min_rows} row(s)", arr)
    if not allow_nan and np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "infinity"
        fail(
            name,
            where,
            "finite (no NaN or infinity)",
            arr,
            hint=f"First {kind} at index {tuple(int(i) for i in bad)}.",
        )
    return np.ascontiguousarray(arr)


def check_same_length(a: np.ndarray, b: np.ndarray, names: tuple[str, str], where: str) -> None:
    """Raise if ``a`` and ``b`` do not have the same number of rows."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"The '{names[0]}' and '{names[1]}' parameters of {where} must have the same "
            f"number of rows. Got {a.shape[0]} and {b.shape[0]} instead."
        )
