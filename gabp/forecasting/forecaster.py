"""``GABPForecaster``: a GA-BP network forecasting a series on (differenced) lags.

The forecaster builds a :class:`~gabp.GABPRegressor` from its own parameters (composition:
the regressor does the evolution and training; by default ``linear=True``, a ridge on the
lags plus the network on its residuals) and adds the series pipeline around it:
lags, differencing chosen on its own validation part, recursive or direct multi-step
forecasts inverted to the original units, split-conformal intervals, dates and a
walk-forward backtest against the naive forecasts.
"""

from __future__ import annotations

import itertools
import logging
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._seeding import int_seed
from .._validation import check_array, check_choice, check_float, check_int, fail
from ..estimators import (
    GABPRegressor,
    _BaseEstimator,
    _not_fitted_error,
    _resolve_seed,
    _store_params,
)
from ..metrics import series_report
from .dates import check_time_index, future_index, parse_times
from .intervals import Forecast, conformal_halfwidths
from .transforms import difference, forecast_paths, lag_matrix

logger = logging.getLogger(__name__)

__all__ = ["BacktestResult", "GABPForecaster", "choose_differencing", "fit_lag_regressor",
           "refit_budget", "validation_rmse"]

STRATEGIES = ("recursive", "direct")
#: L2 strengths screened by ``alpha="auto"`` (with the differencing candidates).
AUTO_ALPHAS = (1e-4, 1e-2, 1e-1)
#: Independently started single networks averaged into each screened candidate's score.
SCREEN_STARTS = 3
#: The forecaster's default ``ensemble`` (capped at a smaller ``population_size``).
_DEFAULT_ENSEMBLE = 5
_SCREEN_KEY = 2000  # seed-sequence key of the screening's extra starts
_MAX_INTERVAL_STEPS = 12


class _ChronologicalRegressor(GABPRegressor):
    """A :class:`GABPRegressor` whose validation part is its last ``_n_val`` rows.

    Rows arrive in time order; the ``_n_train`` first rows train and the last ``_n_val``
    validate (the rows between them, whose targets straddle the boundary, are left out).
    """

    _n_train = 0
    _n_val = 0

    def _split(self, labels: Any, n: int, vf: float, seed: int):
        return np.arange(self._n_train), np.arange(n - self._n_val, n)

    @staticmethod
    def _check_split_size(X: np.ndarray, vf: float, where: str) -> None:
        return None  # the forecaster checks its own split before any work


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Walk-forward evaluation of the values after ``initial_train_size``.

    Attributes
    ----------
    predictions : ndarray of shape (n_eval,)
        Forecast of ``y[initial_train_size + i]`` (made at the origin of its block).
    y_true : ndarray of shape (n_eval,)
    index : ndarray of shape (n_eval,)
        Time of each value (dates when known, else positions).
    origins : ndarray of int, shape (n_eval,)
        Position of the last value known when each prediction was made.
    naive : dict of str -> ndarray
        ``"persistence"`` and ``"seasonal_naive"`` forecasts of the same values from the
        same origins (seasonal naive only with a ``seasonal_period``).
    metrics : dict of str -> dict
        ``metrics[name]`` for ``"gabp"`` and each naive forecast: rmse, mae, mase, rmsse
        (and the other regression metrics); MASE/RMSSE are scaled by the in-sample naive
        error of ``y[:initial_train_size]``.
    """

    predictions: np.ndarray
    y_true: np.ndarray
    index: np.ndarray
    origins: np.ndarray
    naive: dict[str, np.ndarray]
    metrics: dict[str, dict[str, float]]


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas"


def _series_input(y: Any, name: str, where: str) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Values, times (or None) and whether the input was a pandas object."""
    pandas = _is_pandas(y)
    times = None
    if pandas and hasattr(y, "columns"):  # DataFrame: a date column and one value column
        date_cols = [c for c in y.columns if y[c].dtype.kind in "MO"]
        values = [c for c in y.columns if c not in date_cols]
        if len(values) != 1 or len(date_cols) > 1:
            fail(name, where, "a Series, or a DataFrame with one value column and at most one "
                 "date column", list(y.columns))
        if date_cols:
            times = parse_times(y[date_cols[0]], name, where)
        y = y[values[0]]
    if pandas and hasattr(y, "index") and times is None:
        idx = y.index
        if hasattr(idx, "to_timestamp"):
            idx = idx.to_timestamp()
        ranged = type(idx).__name__ == "RangeIndex"
        if idx.dtype.kind == "M" or (idx.dtype.kind in "iuf" and not ranged):
            times = np.asarray(idx)
    raw = y.to_numpy() if pandas else y
    arr = np.asarray(raw)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        fail(name, where, "a 1-D series", arr)
    try:
        arr = arr.astype(float)
    except (TypeError, ValueError):
        fail(name, where, "an array of numbers", arr, exc=TypeError)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        at = f" ({times[i]})" if times is not None else ""
        fail(name, where, "a series without missing or infinite values",
             f"{arr[i]} at position {i}{at}",
             hint="Fill or interpolate the gaps (e.g. y.interpolate()) before fitting.")
    if times is not None:
        check_time_index(times, name, where)
    return arr, times, pandas


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_lags(value: Any, where: str) -> tuple[int, ...]:
    """Lags oldest first: ``n_lags=3`` -> (3, 2, 1); a list -> its sorted unique values."""
    if _is_int(value):
        k = check_int(value, "n_lags", where, low=1)
        return tuple(range(k, 0, -1))
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        fail("n_lags", where, "an integer >= 1 or a list of lags >= 1", value, exc=TypeError)
    lags = []
    for lag in value:
        if not _is_int(lag) or lag < 1:
            fail("n_lags", where, "an integer >= 1 or a list of lags >= 1", value)
        lags.append(int(lag))
    if not lags:
        fail("n_lags", where, "a non-empty list of lags", value)
    return tuple(sorted(set(lags), reverse=True))


def _check_order(value: Any, name: str, where: str) -> list[int]:
    if isinstance(value, str) and value == "auto":
        return [0, 1]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value not in (0, 1):
        fail(name, where, "0, 1 or 'auto'", value)
    return [int(value)]


def fit_lag_regressor(reg: GABPRegressor, values: np.ndarray, ex: np.ndarray | None,
                      lags: Sequence[int], ops: Sequence[int], n_out: int, val_start: int
                      ) -> GABPRegressor:
    """Fit ``reg`` on the lag rows of the differenced ``values``, validating chronologically.

    Rows whose first target is at or after ``val_start`` form the validation part (the GA's
    fitness and early stopping); rows whose targets straddle it are left out. With
    ``val_start = len(values)`` every row trains (for a regressor without validation).
    """
    w = difference(values, ops)[-1]
    X, Y, origins = lag_matrix(w, lags, n_out, ex)
    val = origins + 1 >= val_start
    train = origins + n_out < val_start
    if not isinstance(reg, _ChronologicalRegressor):
        reg = _ChronologicalRegressor(**reg.get_params())
    reg._n_train, reg._n_val = int(train.sum()), int(val.sum())
    rows = np.concatenate([np.flatnonzero(train), np.flatnonzero(val)])
    return reg.fit(X[rows], Y[rows] if n_out > 1 else Y[rows, 0])


def refit_budget(reg: GABPRegressor) -> dict[str, int]:
    """The budget of a refit on every row, read off a fit validated on its last rows.

    ``max_epochs`` is the number of fine-tune epochs up to the best validation epoch of the
    longest-trained member (at least 1: the fine-tune that did not beat its start on the
    validation part gets one epoch); ``n_generations`` (GA modes only) is the generation in
    which the best genome was found (the last improvement of ``best_so_far``).

    Parameters
    ----------
    reg : GABPRegressor
        A regressor fitted with ``validation_fraction > 0``.

    Returns
    -------
    dict
        ``{"max_epochs": int}``, plus ``"n_generations"`` unless ``reg`` ran in mode ``"bp"``.
    """
    best_epoch = reg.result_.bp_history.best_epoch
    budget = {"max_epochs": max(1, int(np.max(best_epoch)) + 1)}
    if reg.logbook_ is not None:
        best = np.asarray(reg.logbook_.select("best_so_far"), dtype=float)
        gens = np.asarray(reg.logbook_.select("gen"))
        budget["n_generations"] = int(gens[np.flatnonzero(best == best[-1])[0]])
    return budget


def validation_rmse(reg: GABPRegressor, values: np.ndarray, ex: np.ndarray | None,
                    lags: Sequence[int], ops: Sequence[int], val_start: int) -> float:
    """One-step RMSE of ``reg`` on ``values[val_start:]``, in original units."""
    origins = np.arange(val_start - 1, values.shape[0] - 1)
    pred = GABPForecaster._paths(reg, values, ex, lags, ops, origins, 1, 1)
    err = pred[:, 0] - values[origins + 1]
    return float(np.sqrt(np.mean(err**2)))


def choose_differencing(reg: GABPRegressor, values: np.ndarray, ex: np.ndarray | None,
                        lags: Sequence[int], candidates: Sequence[tuple[int, ...]],
                        val_start: int, params: Sequence[dict[str, Any]] = ({},),
                        n_starts: int = 1) -> tuple[int, int, np.ndarray]:
    """Screen differencings (and regressor settings) on the validation part.

    For each differencing ``ops`` in ``candidates`` and each override dict in ``params``
    (e.g. ``{"alpha": 0.1}``), ``n_starts`` copies of the screening regressor ``reg`` are
    fitted on the values before ``val_start``, each scored by its one-step RMSE on the
    values from ``val_start`` on, in original units; the candidate's score is their mean.
    The first copy keeps ``reg``'s integer ``random_state``, the others draw theirs from it,
    so a start that fails by bad luck does not decide the choice alone.

    Returns
    -------
    i, j : int
        Indices of the best differencing and of the best override.
    rmse : ndarray of shape (len(candidates), len(params))
    """
    n_starts = check_int(n_starts, "n_starts", "choose_differencing", low=1)
    base = reg.get_params()
    seed = _resolve_seed(base["random_state"], "choose_differencing")
    seeds = [seed] + [int_seed(seed, _SCREEN_KEY, r) for r in range(1, n_starts)]
    rmse = np.empty((len(candidates), len(params)))
    for i, ops in enumerate(candidates):
        for j, over in enumerate(params):
            scores = []
            for start_seed in seeds:
                screen = _ChronologicalRegressor(**{**base, **over, "random_state": start_seed})
                fitted = fit_lag_regressor(screen, values, ex, lags, ops, 1, val_start)
                scores.append(validation_rmse(fitted, values, ex, lags, ops, val_start))
            rmse[i, j] = np.mean(scores)
    i, j = np.unravel_index(int(np.argmin(rmse)), rmse.shape)
    return int(i), int(j), rmse


class GABPForecaster(_BaseEstimator):
    """Forecast a series with a GA-BP network on its lags (see :mod:`gabp.forecasting`).

    The model predicts the (differenced) series from its lags; every forecast is inverted
    back to the original units. The last ``validation_fraction`` of the series is the
    validation part: the GA's fitness, early stopping, the automatic choice of differencing
    and the interval widths all use it, so a test part held back by the caller is never
    seen.

    Parameters
    ----------
    n_lags : int or list of int, default 12
        ``k`` for the lags ``1 .. k``, or the lags themselves (``[1, 2, 12]``).
    horizon : int, default 1
        Default number of steps of :meth:`predict`. With ``strategy="direct"`` the network
        has ``horizon`` outputs (one per step) and forecasts at most ``horizon`` steps.
    strategy : {"recursive", "direct"}, default "recursive"
        ``recursive``: a one-step network whose forecasts are fed back as lags.
    difference : {0, 1, "auto"}, default "auto"
        First differencing of the series. ``"auto"`` fits ``SCREEN_STARTS`` (3)
        independently started short plain-BP networks (mode ``"bp"``, same architecture and
        trainer) for each candidate and keeps the one with the lowest mean one-step RMSE on
        the validation part, in original units.
    seasonal_period : int or None, default None
        Season length (12 for monthly data with a yearly cycle); enables seasonal
        differencing and the seasonal-naive baseline of :meth:`backtest`.
    seasonal_difference : {0, 1, "auto"}, default "auto"
        Seasonal differencing at ``seasonal_period`` (ignored without a period); chosen
        together with ``difference`` when ``"auto"``.
    coverage : float in (0, 1), default 0.9
        Nominal coverage of :meth:`predict_interval`.
    refit_full : bool, default False
        After the choice (differencing, ``alpha``) and the validated fit, refit the model on
        every row of the series (the validation part included) from scratch, at a budget
        fixed on the validation part (:func:`refit_budget`: the GA's best generation and
        the fine-tune's best epoch count; no early stopping, since no rows are held out).
        The GA's fitness is then computed on the training rows. The interval widths stay
        those of the validated model (``validation_regressor_``): the refit model has
        trained on the validation rows, so its own errors there are in-sample (usually
        smaller) and no honest calibration. Off by default: measured with the network
        alone (``linear=False``) it helped the smooth or trending series of
        ``bench/forecast.py`` (Mackey-Glass 2x, CO2 and trend about 1 %) but made sunspots
        worse (one-step RMSE 21.8 -> 23.7), where the GA's selection on the validation part
        is what keeps the network from overfitting.
        Needs ``validation_fraction > 0``.
    linear : bool, default True
        A ridge regression on the lags plus a GA-BP network on its residuals (as
        :class:`~gabp.GABPRegressor`'s ``linear``, whose default is ``False``): the ridge
        is fitted on the rows before the validation part (its penalty by leave-one-out error
        on them), the network learns what it leaves. The differencing screen, the intervals
        and ``refit_full`` use the same hybrid. On by default: in ``bench/forecast.py`` it
        lowers the one-step test RMSE on sunspots (21.8 -> 19.4), trend, AR(2) and the
        random walk, ties on CO2, and shrinks the seed spread; it costs Mackey-Glass, a
        purely nonlinear series (0.0026 -> 0.0040, still 7x below every other method), and
        one seed of the seasonal series. ``False``: the network alone.
    alpha : float or "auto", default "auto"
        L2 penalty of the network. ``"auto"`` screens 1e-4, 1e-2 and 0.1 together with the
        differencing (each pair by short plain-BP fits, the lowest validation RMSE wins):
        noisy series need about 0.1, smooth deterministic ones (Mackey-Glass) 1e-4.
    ensemble : int, default 5
        Networks the final model averages: the best genome and the next best distinct ones
        of the final population, each fine-tuned (as :class:`~gabp.GABPRegressor`, whose
        default is 1). The ``"auto"`` screening of differencing and ``alpha`` scores single
        networks whatever this is (an averaged screen favoured too little L2). Averaging
        five halves the one-step test RMSE on Mackey-Glass and shrinks the seed spread
        elsewhere (``bench/forecast.py``), for about 15 % more fit time. The default is
        capped at a smaller ``population_size``; another value must not exceed it.
    hidden_layer_sizes ... verbose
        As :class:`~gabp.GABPRegressor` (same meaning and defaults, except
        ``validation_fraction=0.2``, taken chronologically from the end, and ``ensemble``).

    Attributes
    ----------
    regressor_ : GABPRegressor
        The fitted network on the differenced lags (the refit one with ``refit_full``).
    validation_regressor_ : GABPRegressor
        The network fitted on the rows before the validation part, which the choice, the
        refit budget and the intervals come from (``regressor_`` itself unless
        ``refit_full``).
    refit_budget_ : dict or None
        :func:`refit_budget` of ``validation_regressor_`` when ``refit_full`` (else ``None``).
    lags_ : tuple of int
        Lags, oldest first (the order of the network's inputs).
    difference_, seasonal_difference_ : int
        The differencing used (chosen when ``"auto"``).
    differencing_scores_ : dict of str -> float
        Validation RMSE of each candidate tried by ``"auto"`` (empty otherwise).
    alpha_ : float
        The L2 penalty used (chosen when ``alpha="auto"``).
    y_ : ndarray of shape (n,)
        The fitted series; ``index_`` its times (or ``None``).
    validation_start_ : int
        Position of the first value of the validation part.
    residuals_ : list of ndarray
        ``residuals_[h - 1]``: absolute ``h``-step errors from the validation origins.
    n_exog_ : int
    """

    def __init__(
        self,
        *,
        n_lags: int | Sequence[int] = 12,
        horizon: int = 1,
        strategy: str = "recursive",
        difference: int | str = "auto",
        seasonal_period: int | None = None,
        seasonal_difference: int | str = "auto",
        coverage: float = 0.9,
        refit_full: bool = False,
        linear: bool = True,
        hidden_layer_sizes: int | Sequence[int] = (10,),
        activation: str = "tanh",
        mode: str = "lamarckian",
        population_size: int = 40,
        n_generations: int = 50,
        bp_epochs: int = 5,
        max_epochs: int = 200,
        optimizer: str = "auto",
        learning_rate: float = 0.01,
        momentum: float = 0.9,
        batch_size: int | None = 32,
        alpha: float | str = "auto",
        validation_fraction: float = 0.2,
        early_stopping: bool = True,
        patience: int = 20,
        scale_inputs: bool = True,
        scale_targets: bool = True,
        fitness: str = "loss",
        crossover_prob: float = 0.7,
        mutation_prob: float = 0.05,
        mutation_sigma: float = 0.1,
        n_elite: int = 2,
        selection: str = "tournament",
        crossover: str = "blend",
        mutation: str = "gaussian",
        bounds: tuple[float, float] | None = None,
        dtype: str = "auto",
        n_baseline: int = 0,
        ensemble: int = _DEFAULT_ENSEMBLE,
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        _store_params(self, locals())

    # -- parameters -------------------------------------------------------------------

    def _regressor(self, **overrides: Any) -> _ChronologicalRegressor:
        """The regressor built from this forecaster's own parameters."""
        names = set(GABPRegressor._get_param_names()) & set(self._get_param_names())
        params = {name: getattr(self, name) for name in names}
        ens, pop = params["ensemble"], params["population_size"]
        if ens == _DEFAULT_ENSEMBLE and _is_int(pop) and ens > pop >= 1:
            params["ensemble"] = pop  # the default must not reject a smaller population;
            # a value the user chose is validated by the regressor as given
        params.update(overrides)
        return _ChronologicalRegressor(**params)

    def _settings(self, where: str) -> dict[str, Any]:
        lags = _check_lags(self.n_lags, where)
        horizon = check_int(self.horizon, "horizon", where, low=1)
        strategy = check_choice(self.strategy, STRATEGIES, "strategy", where)
        d_opts = _check_order(self.difference, "difference", where)
        period = self.seasonal_period
        if period is not None:
            period = check_int(period, "seasonal_period", where, low=2)
            D_opts = _check_order(self.seasonal_difference, "seasonal_difference", where)
        else:
            D_opts = [0]
        coverage = check_float(self.coverage, "coverage", where, low=0.0, high=1.0,
                               low_open=True, high_open=True)
        vf = check_float(self.validation_fraction, "validation_fraction", where, low=0.0,
                         high=1.0, high_open=True)
        candidates = list(itertools.product(d_opts, D_opts))
        if isinstance(self.alpha, str) and self.alpha == "auto":
            alphas = list(AUTO_ALPHAS)
        else:
            alphas = [check_float(self.alpha, "alpha", where, low=0.0)]
        if len(candidates) * len(alphas) > 1 and vf == 0:
            fail("validation_fraction", where, "> 0 when difference, seasonal_difference or "
                 "alpha is 'auto' (the choice is made on the validation part)", vf)
        if not isinstance(self.refit_full, (bool, np.bool_)):
            fail("refit_full", where, "a bool (True or False)", self.refit_full, exc=TypeError)
        if self.refit_full and vf == 0:
            fail("refit_full", where, "False when validation_fraction=0 (the model already "
                 "trains on every row, and the refit's budget comes from the validation part)",
                 self.refit_full)
        self._regressor(alpha=alphas[0])._validate_params(type(self).__name__)
        return {"lags": lags, "horizon": horizon, "n_out": horizon if strategy == "direct"
                else 1, "period": period, "candidates": candidates, "coverage": coverage,
                "vf": vf, "alphas": alphas, "refit_full": bool(self.refit_full)}

    @staticmethod
    def _ops(d: int, D: int, period: int | None) -> tuple[int, ...]:
        return (1,) * d + ((period,) * D if period else ())

    # -- fitting ----------------------------------------------------------------------

    def fit(self, y: Any, exog: Any = None) -> GABPForecaster:
        """Fit the forecaster to the series ``y`` (oldest value first); returns ``self``.

        Parameters
        ----------
        y : array-like of shape (n,), pandas Series or DataFrame
            The series. A pandas ``DatetimeIndex`` (or a date column of a two-column
            DataFrame) is kept as the time axis and carried into forecasts.
        exog : array-like of shape (n,) or (n, n_exog), optional
            Exogenous values known in advance; the value at each target's time is an input.
        """
        where = type(self).__name__ + ".fit"
        s = self._settings(where)
        values, times, pandas = _series_input(y, "y", where)
        ex = self._check_exog(exog, values.shape[0], where, "y")
        lags, n_out = s["lags"], s["n_out"]
        offsets = [sum(self._ops(d, D, s["period"])) for d, D in s["candidates"]]
        n = values.shape[0]
        need = self._min_length(max(lags), max(offsets), n_out, s["vf"])
        if n < need:
            fail("y", where, f"a series of at least {need} values for lags up to {max(lags)}, "
                 f"differencing of order {max(offsets)}, {n_out} output(s) and "
                 f"validation_fraction={s['vf']:g}", f"{n} values")
        # All checks passed: from here on, work.
        seed = _resolve_seed(self.random_state, where)
        n_val = self._n_val(n, max(lags), max(offsets), s["vf"])
        val_start = n - n_val - n_out + 1 if n_val else n
        scores: dict[str, float] = {}
        alphas = s["alphas"]
        if len(s["candidates"]) * len(alphas) > 1:
            cand_ops = [self._ops(d, D, s["period"]) for d, D in s["candidates"]]
            screen = self._regressor(random_state=seed, mode="bp", n_baseline=0, verbose=0,
                                     alpha=alphas[0], ensemble=1)
            i, j, rmse = choose_differencing(screen, values, ex, lags, cand_ops, val_start,
                                             [{"alpha": a} for a in alphas], SCREEN_STARTS)
            scores = {f"difference={d}, seasonal_difference={D}"
                      + (f", alpha={a:g}" if len(alphas) > 1 else ""): float(rmse[k, m])
                      for k, (d, D) in enumerate(s["candidates"])
                      for m, a in enumerate(alphas)}
            (d, D), alpha = s["candidates"][i], alphas[j]
            logger.info("GABPForecaster: chosen on validation: difference=%d, "
                        "seasonal_difference=%d, alpha=%g (%s)", d, D, alpha, scores)
        else:
            (d, D), alpha = s["candidates"][0], alphas[0]
        ops = self._ops(d, D, s["period"])
        reg = self._fit_regressor(values, ex, lags, ops, n_out, val_start, seed, alpha=alpha)
        self.alpha_ = alpha
        self.lags_ = lags
        self.difference_, self.seasonal_difference_ = d, D
        self.differencing_ = ops
        self.differencing_scores_ = scores
        self.y_, self.index_, self.exog_ = values, times, ex
        self.n_exog_ = 0 if ex is None else int(ex.shape[1])
        self._pandas = pandas
        self.validation_start_ = int(val_start) if n_val else n
        self.seed_ = seed
        # the intervals come from the validated model: a refit one has seen these rows
        self.residuals_ = self._residuals(reg, val_start, n_val, s["horizon"]) if n_val else []
        self.validation_regressor_ = self.regressor_ = reg
        self.refit_budget_ = None
        if s["refit_full"]:
            self.refit_budget_ = refit_budget(reg)
            logger.info("GABPForecaster: refit on all %d values with %s", n, self.refit_budget_)
            self.regressor_ = self._fit_regressor(
                values, ex, lags, ops, n_out, n, seed, alpha=alpha, validation_fraction=0.0,
                early_stopping=False, **self.refit_budget_)
        return self

    @staticmethod
    def _n_val(n: int, max_lag: int, offset: int, vf: float) -> int:
        return int(round(vf * (n - max_lag - offset)))

    def _min_length(self, max_lag: int, offset: int, n_out: int, vf: float) -> int:
        """Shortest series giving >= 2 training rows (and >= 1 validation row if vf > 0)."""
        for n in range(max_lag + offset + n_out, 10**7):
            n_val = self._n_val(n, max_lag, offset, vf)
            n_rows = n - max_lag - offset - n_out + 1
            n_train = n_rows - (n_val + n_out - 1 if n_val else 0)
            if n_train >= 2 and (vf == 0 or n_val >= 1):
                return n
        return 10**7  # pragma: no cover

    @staticmethod
    def _check_exog(exog: Any, n: int, where: str, against: str) -> np.ndarray | None:
        if exog is None:
            return None
        ex = check_array(np.asarray(exog.to_numpy() if _is_pandas(exog) else exog, dtype=float),
                         "exog", where, ndim=(1, 2))
        ex = ex.reshape(-1, 1) if ex.ndim == 1 else ex
        if ex.shape[0] != n:
            fail("exog", where, f"{n} rows (one per value of {against})", f"{ex.shape[0]} rows")
        return ex

    def _fit_regressor(self, values, ex, lags, ops, n_out, val_start, seed, **overrides):
        return fit_lag_regressor(self._regressor(random_state=seed, **overrides), values, ex,
                                 lags, ops, n_out, val_start)

    @staticmethod
    def _paths(reg, values, ex, lags, ops, origins, steps, n_out, ex_future=None):
        """Forecasts (len(origins), steps) from each origin of ``values``."""
        look = max(lags) + sum(ops)
        origins = np.asarray(origins, dtype=np.int64)
        hist = values[origins[:, None] + 1 - look + np.arange(look)[None, :]]
        exf = None
        if ex is not None or ex_future is not None:
            width = max(steps, n_out)
            if ex_future is not None:
                exf = ex_future
            else:
                pos = np.minimum(origins[:, None] + 1 + np.arange(width)[None, :],
                                 ex.shape[0] - 1)
                exf = ex[pos]
        return forecast_paths(reg.predict, hist, lags=lags, ops=ops, steps=steps, n_out=n_out,
                              exog=exf)

    def _residuals(self, reg: GABPRegressor, val_start: int, n_val: int, horizon: int
                   ) -> list[np.ndarray]:
        """Absolute errors of ``reg`` per step ahead from the validation origins."""
        n_out = reg.n_outputs_
        n_steps = n_out if n_out > 1 else min(max(horizon, _MAX_INTERVAL_STEPS), n_val)
        last = self.y_.shape[0] - 1
        # a direct model with exog needs the exog of all its outputs: full windows only
        origins = np.arange(val_start - 1, last - (n_out - 1 if self.exog_ is not None else 0))
        if origins.size == 0:
            return []
        steps = min(n_steps, last - origins[0])
        pred = self._paths(reg, self.y_, self.exog_, self.lags_, self.differencing_, origins,
                           steps, n_out)
        out = []
        for h in range(1, steps + 1):
            ok = origins + h <= self.y_.shape[0] - 1
            out.append(np.abs(pred[ok, h - 1] - self.y_[origins[ok] + h]))
        return out

    # -- forecasting ------------------------------------------------------------------

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "regressor_")

    def _check_is_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise _not_fitted_error(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator.")

    def _history(self, y: Any, exog: Any, steps: Any, where: str):
        self._check_is_fitted()
        n_out = self.regressor_.n_outputs_
        steps = self.horizon if steps is None else steps
        steps = check_int(steps, "steps", where, low=1,
                          high=n_out if n_out > 1 else None)
        if y is None:
            values, times, pandas = self.y_, self.index_, self._pandas
        else:
            values, times, pandas = _series_input(y, "y", where)
        look = max(self.lags_) + sum(self.differencing_)
        if values.shape[0] < look:
            fail("y", where, f"a history of at least {look} values (lags up to "
                 f"{max(self.lags_)} plus differencing of order {sum(self.differencing_)})",
                 f"{values.shape[0]} values")
        exf = None
        if self.n_exog_:
            if exog is None:
                fail("exog", where, f"future exogenous values of shape ({max(steps, n_out)}, "
                     f"{self.n_exog_})", None, hint="The model was fitted with exog.")
            exf = self._check_exog(exog, max(steps, n_out), where, "the forecast steps")
            if exf.shape[1] != self.n_exog_:
                fail("exog", where, f"{self.n_exog_} column(s) as in fit",
                     f"{exf.shape[1]} columns")
            exf = exf[None]
        elif exog is not None:
            fail("exog", where, "None (the model was fitted without exog)", "an array")
        return values, times, pandas, steps, exf

    def predict(self, steps: int | None = None, y: Any = None, exog: Any = None) -> Any:
        """Forecast ``steps`` values after the fitted series, or after a history ``y``.

        Parameters
        ----------
        steps : int, optional
            Default ``horizon``; at most ``horizon`` with ``strategy="direct"``.
        y : array-like or pandas Series, optional
            A history to forecast from instead of the fitted series (no refit): e.g. the
            fitted series followed by newer values.
        exog : array-like of shape (steps, n_exog), optional
            Future exogenous values (required when fitted with exog).

        Returns
        -------
        ndarray of shape (steps,), or a pandas Series indexed by the forecast dates when the
        input was a pandas object.
        """
        values, times, pandas, steps, exf = self._history(y, exog, steps,
                                                          type(self).__name__ + ".predict")
        mean = self._forecast(values, steps, exf)
        index = None if times is None else future_index(times, steps)
        if pandas:
            import pandas as pd

            if index is None:  # a RangeIndex continues
                index = pd.RangeIndex(values.shape[0], values.shape[0] + steps)
            return pd.Series(mean, index=index, name="forecast")
        return mean

    def _forecast(self, values: np.ndarray, steps: int, exf: np.ndarray | None) -> np.ndarray:
        return self._paths(self.regressor_, values, None, self.lags_, self.differencing_,
                           [values.shape[0] - 1], steps, self.regressor_.n_outputs_,
                           ex_future=exf)[0]

    def predict_interval(self, steps: int | None = None, y: Any = None, exog: Any = None,
                         coverage: float | None = None) -> Forecast:
        """Point forecasts with split-conformal intervals (see :mod:`gabp.forecasting.intervals`).

        Parameters are those of :meth:`predict`, plus ``coverage`` (default the
        ``coverage`` parameter). Returns a :class:`~gabp.forecasting.Forecast`
        (``.to_frame()`` gives a pandas DataFrame).
        """
        where = type(self).__name__ + ".predict_interval"
        values, times, _, steps, exf = self._history(y, exog, steps, where)
        cov = self.coverage if coverage is None else coverage
        cov = check_float(cov, "coverage", where, low=0.0, high=1.0, low_open=True,
                          high_open=True)
        if not self.residuals_:
            fail("validation_fraction", where, "> 0 at fit time (intervals come from the "
                 "validation residuals)", self.validation_fraction)
        mean = self._forecast(values, steps, exf)
        half = conformal_halfwidths(self.residuals_, steps, cov)
        index = None if times is None else future_index(times, steps)
        return Forecast(mean=mean, lower=mean - half, upper=mean + half, index=index,
                        coverage=cov)

    def backtest(self, y: Any, initial_train_size: int, steps: int = 1, refit: bool = False,
                 exog: Any = None) -> BacktestResult:
        """Walk-forward evaluation of ``y[initial_train_size:]``.

        From origins ``initial_train_size - 1``, ``+ steps``, ... the next ``steps`` values
        are forecast (the last block may be shorter) with the fitted model, or with a copy of
        this forecaster refitted on ``y[:origin + 1]`` for each block (``refit=True``).
        Persistence and seasonal-naive forecasts from the same origins are scored too.

        Parameters
        ----------
        y : array-like or pandas Series
            The whole series (typically the fitted part followed by the test part).
        initial_train_size : int
        steps : int, default 1
        refit : bool, default False
        exog : array-like of shape (len(y), n_exog), optional
            With ``strategy="direct"``, a block whose outputs reach past the end of ``y``
            repeats the last exog row for the missing future values.

        Returns
        -------
        BacktestResult
        """
        where = type(self).__name__ + ".backtest"
        self._check_is_fitted()
        values, times, _ = _series_input(y, "y", where)
        n = values.shape[0]
        look = max(self.lags_) + sum(self.differencing_)
        season = self.seasonal_period or 1
        low = max(look, season + 1, 2)
        start = check_int(initial_train_size, "initial_train_size", where, low=low, high=n - 1)
        n_out = self.regressor_.n_outputs_
        steps = check_int(steps, "steps", where, low=1, high=n_out if n_out > 1 else None)
        if not isinstance(refit, (bool, np.bool_)):
            fail("refit", where, "a bool (True or False)", refit, exc=TypeError)
        ex = self._check_exog(exog, n, where, "y")
        if (ex is None) != (self.n_exog_ == 0):
            fail("exog", where, "given exactly when the model was fitted with exog",
                 "None" if ex is None else "an array")
        block_origins = np.arange(start - 1, n - 1, steps)
        preds, origins = [], []
        for o in block_origins:
            k = min(steps, n - 1 - o)
            if refit:
                est = type(self)(**self.get_params(deep=False))
                est.fit(values[: o + 1], None if ex is None else ex[: o + 1])
                p = est._paths(est.regressor_, values, ex, est.lags_, est.differencing_, [o],
                               max(k, n_out) if n_out > 1 else k, n_out)[0][:k]
            else:
                p = self._paths(self.regressor_, values, ex, self.lags_, self.differencing_,
                                [o], max(k, n_out) if n_out > 1 else k, n_out)[0][:k]
            preds.append(p)
            origins.append(np.full(k, o))
        pred = np.concatenate(preds)
        orig = np.concatenate(origins)
        target = np.arange(start, n)
        y_true = values[start:]
        h = target - orig
        naive = {"persistence": values[orig]}
        if self.seasonal_period:
            back = season * np.ceil(h / season).astype(np.int64)
            naive["seasonal_naive"] = values[target - back]
        train = values[:start]
        metrics = {"gabp": series_report(y_true, pred, train, season)}
        for name, p in naive.items():
            metrics[name] = series_report(y_true, p, train, season)
        index = target if times is None else times[start:]
        return BacktestResult(predictions=pred, y_true=y_true, index=index, origins=orig,
                              naive=naive, metrics=metrics)
