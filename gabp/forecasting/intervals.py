"""Split-conformal prediction intervals from validation residuals, one per step ahead.

For each step ``h`` the forecaster keeps the absolute errors of its ``h``-step forecasts
from every origin inside its validation part (never the test part). The interval of
coverage ``c`` at step ``h`` is the forecast ``±`` the ``ceil((k + 1) c) / k`` empirical
quantile of those ``k`` errors (split conformal prediction: for exchangeable errors it
covers at least ``c`` of new values). Steps beyond the ones measured reuse the last measured
width scaled by ``sqrt(h / h_last)`` (random-walk growth), an approximation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Forecast", "conformal_halfwidths"]


def conformal_halfwidths(residuals: Sequence[np.ndarray], steps: int, coverage: float
                         ) -> np.ndarray:
    """Half-widths of shape (steps,) from absolute residuals per step (see module doc)."""
    widths = []
    for r in residuals[:steps]:
        r = np.sort(np.abs(np.asarray(r, dtype=float)))
        k = r.size
        rank = min(int(np.ceil((k + 1) * coverage)), k)
        widths.append(float(r[rank - 1]))
    last = len(widths)
    for h in range(last + 1, steps + 1):
        widths.append(widths[last - 1] * float(np.sqrt(h / last)))
    return np.asarray(widths)


@dataclass(frozen=True)
class Forecast:
    """Point forecasts with intervals.

    Attributes
    ----------
    mean, lower, upper : ndarray of shape (steps,)
    index : ndarray of shape (steps,) or None
        Times of the forecasts (dates when the series had dates).
    coverage : float
        Nominal coverage of ``[lower, upper]``.
    """

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    index: np.ndarray | None
    coverage: float

    def to_frame(self) -> Any:
        """A pandas DataFrame (``forecast``, ``lower``, ``upper``) indexed by time."""
        import pandas as pd

        return pd.DataFrame({"forecast": self.mean, "lower": self.lower, "upper": self.upper},
                            index=self.index)
