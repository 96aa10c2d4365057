"""Series forecasting around GA-BP networks: :class:`GABPForecaster`, differencing,
dates, split-conformal intervals and walk-forward backtests."""

from .dates import check_time_index, future_index, parse_times
from .forecaster import BacktestResult, GABPForecaster, refit_budget
from .intervals import Forecast, conformal_halfwidths
from .transforms import difference, forecast_paths, invert_difference, lag_matrix

__all__ = [
    "BacktestResult",
    "Forecast",
    "GABPForecaster",
    "check_time_index",
    "conformal_halfwidths",
    "difference",
    "forecast_paths",
    "future_index",
    "invert_difference",
    "lag_matrix",
    "parse_times",
    "refit_budget",
]
