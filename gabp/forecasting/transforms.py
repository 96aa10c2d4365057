"""Differencing, lag matrices and the recursive / direct forecast loop with inversion.

A differencing is a tuple of lags ``ops``: ``(1,)`` is a first difference, ``(12,)`` a
seasonal difference of period 12, ``(1, 12)`` both (applied in that order). Stage ``k + 1`` of
a series is ``s[t] - s[t - ops[k]]``; positions where it is undefined hold NaN, so every stage
keeps the positions of the original series. Every forecast is inverted stage by stage back
to the original units (``s[t] = w[t] + s[t - op]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["difference", "forecast_paths", "invert_difference", "lag_matrix"]


def difference(y: np.ndarray, ops: Sequence[int]) -> list[np.ndarray]:
    """All stages of a differencing: ``[y, diff_1(y), ...]``, each of ``y``'s shape.

    Parameters
    ----------
    y : ndarray of shape (n,) or (m, n)
        Series (rows of independent histories for 2-D input).
    ops : sequence of int
        Lag of each difference, applied in order.

    Returns
    -------
    list of ndarray
        ``len(ops) + 1`` arrays; the first ``sum(ops[:k])`` positions of stage ``k`` are NaN.
    """
    stages = [np.asarray(y, dtype=float)]
    for op in ops:
        s = stages[-1]
        nxt = np.full_like(s, np.nan)
        nxt[..., op:] = s[..., op:] - s[..., :-op]
        stages.append(nxt)
    return stages


def invert_difference(w: np.ndarray, history: np.ndarray, ops: Sequence[int]) -> np.ndarray:
    """Original-unit values of future differenced values ``w`` after a known ``history``.

    Parameters
    ----------
    w : ndarray of shape (steps,) or (m, steps)
        Values of the last stage at the positions following ``history``.
    history : ndarray of shape (n,) or (m, n)
        Known original values, ``n >= sum(ops)``.
    ops : sequence of int

    Returns
    -------
    ndarray of the shape of ``w``
        ``difference(concat(history, result), ops)[-1][..., n:] == w``.
    """
    one = np.ndim(w) == 1
    w2 = np.atleast_2d(np.asarray(w, dtype=float))
    h2 = np.atleast_2d(np.asarray(history, dtype=float))
    n, steps = h2.shape[1], w2.shape[1]
    stages = [np.concatenate([s, np.full((s.shape[0], steps), np.nan)], axis=1)
              for s in difference(h2, ops)]
    for j in range(steps):
        _invert_at(stages, ops, n + j, w2[:, j])
    out = stages[0][:, n:]
    return out[0] if one else out


def _invert_at(stages: list[np.ndarray], ops: Sequence[int], p: int, value: np.ndarray) -> None:
    """Write ``value`` into the last stage at position ``p`` and integrate it back."""
    stages[-1][:, p] = value
    for k in range(len(ops) - 1, -1, -1):
        stages[k][:, p] = stages[k + 1][:, p] + stages[k][:, p - ops[k]]


def lag_matrix(
    w: np.ndarray,
    lags: Sequence[int],
    n_out: int = 1,
    exog: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Supervised rows from a (differenced, NaN-padded) series.

    Row of origin ``o`` (the last known position): inputs ``w[o + 1 - lag]`` for each lag
    (in the order given), then ``exog[o + 1 .. o + n_out]`` flattened; targets
    ``w[o + 1 .. o + n_out]``. Only rows whose values are all defined are kept.

    Returns
    -------
    X : ndarray of shape (r, len(lags) + n_out * n_exog)
    Y : ndarray of shape (r, n_out)
    origins : ndarray of int, shape (r,)
    """
    n = w.shape[0]
    lag = np.asarray(lags, dtype=np.int64)
    origins = np.arange(int(lag.max()) - 1, n - n_out)
    X = w[origins[:, None] + 1 - lag[None, :]]
    Y = w[origins[:, None] + 1 + np.arange(n_out)[None, :]]
    if exog is not None:
        ex = exog[origins[:, None] + 1 + np.arange(n_out)[None, :]]  # (r, n_out, n_exog)
        X = np.concatenate([X, ex.reshape(len(origins), -1)], axis=1)
    keep = np.isfinite(X).all(axis=1) & np.isfinite(Y).all(axis=1)
    return X[keep], Y[keep], origins[keep]


def forecast_paths(
    predict: Callable[[np.ndarray], np.ndarray],
    history: np.ndarray,
    *,
    lags: Sequence[int],
    ops: Sequence[int],
    steps: int,
    n_out: int = 1,
    exog: np.ndarray | None = None,
) -> np.ndarray:
    """Forecast ``steps`` values after each history, in original units.

    Parameters
    ----------
    predict : callable
        ``X (m, n_features) -> (m, n_out)`` in differenced units, for rows built as in
        :func:`lag_matrix`.
    history : ndarray of shape (m, n)
        Known original values up to each forecast origin, ``n >= max(lags) + sum(ops)``.
    lags, ops : sequence of int
    steps : int
        ``n_out == 1``: recursive (predictions are fed back as lags); ``n_out > 1``: direct,
        ``steps <= n_out`` values from one call.
    exog : ndarray of shape (m, max(steps, n_out), n_exog), optional
        Exogenous values at the future positions.

    Returns
    -------
    ndarray of shape (m, steps)
    """
    hist = np.atleast_2d(np.asarray(history, dtype=float))
    m, n = hist.shape
    lag = np.asarray(lags, dtype=np.int64)
    total = max(steps, n_out)
    stages = [np.concatenate([s, np.full((m, total), np.nan)], axis=1)
              for s in difference(hist, ops)]
    last = stages[-1]
    if n_out > 1:
        X = last[:, n - lag]
        if exog is not None:
            X = np.concatenate([X, exog[:, :n_out].reshape(m, -1)], axis=1)
        W = np.asarray(predict(X), dtype=float).reshape(m, n_out)
        for j in range(steps):
            _invert_at(stages, ops, n + j, W[:, j])
    else:
        for j in range(steps):
            X = last[:, n + j - lag]
            if exog is not None:
                X = np.concatenate([X, exog[:, j]], axis=1)
            _invert_at(stages, ops, n + j, np.asarray(predict(X), dtype=float).reshape(m))
    return stages[0][:, n : n + steps]
