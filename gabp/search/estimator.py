"""``EvolutionarySearch``: evolve the hyperparameters and architecture of a BP network.

Each individual is a configuration (see :mod:`gabp.search.space`) trained by BP with early
stopping on held-out data; its fitness is the validation error. The best configuration is
then refitted on train + validation as a :class:`gabp.estimators.GABPRegressor` /
:class:`~gabp.estimators.GABPClassifier` (``mode="bp"``) for the epochs its search run needed.
"""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from joblib import Parallel

from .._kernels import check_kernels
from .._seeding import int_seed
from .._validation import check_array, check_choice, check_float, check_int, fail
from ..data.encoding import OneHotEncoder
from ..data.scaling import StandardScaler
from ..data.series import chronological_split, make_windows
from ..data.splits import random_split, stratified_split
from ..estimators import (
    GABPClassifier,
    GABPRegressor,
    _BaseEstimator,
    _check_input_shape,
    _image_rows,
    _not_fitted_error,
)
from ..evolution.config import GAConfig
from ..evolution.engine import Checkpointing, GAState, data_fingerprint
from .evaluate import Evaluator
from .ga import DEFAULT_GA, SearchResult, config_to_dict, flat_params, run_search
from .space import TASKS, SearchSpace, default_space, network_layers

logger = logging.getLogger(__name__)

_SPLIT_KEY, _REFIT_KEY = 21, 22
_REFIT_ATTEMPTS, _REFIT_RESTARTS = 3, 3
FITNESS_BY_TASK = {
    "regression": ("loss", "rmse"),
    "series": ("loss", "rmse"),
    "classification": ("loss", "error_rate"),
}
#: Where EvolutionarySearch's defaults differ from the GA-BP estimators' on a parameter
#: they share (:data:`gabp.estimators.COMMON_PARAMS`): every configuration is a BP training,
#: so the search affords fewer individuals, and it ranks them on a larger validation part.
SEARCH_DEFAULTS = {"population_size": 20, "n_generations": 10, "validation_fraction": 0.2}
# Logbook columns left out of search_records (counters and costs, not hyperparameters).
_NOT_IN_SEARCH_CSV = ("n_trainings", "n_cache_hits", "diversity", "n_steps", "sample_passes")


def _run_options(where: str, callbacks: Any, checkpoint_path: Any, checkpoint_every: Any,
                 resume: Any) -> dict[str, Any]:
    """The driver options of a fit, validated."""
    every = check_int(checkpoint_every, "checkpoint_every", where, low=1)
    if resume and checkpoint_path is None:
        fail("checkpoint_path", where, "set when resume=True", checkpoint_path)
    if not all(callable(cb) for cb in callbacks):
        fail("callbacks", where, "a sequence of callables", callbacks, exc=TypeError)
    path = None if checkpoint_path is None else os.fspath(checkpoint_path)
    return {"callbacks": tuple(callbacks),
            "checkpoint": Checkpointing(path, every, bool(resume))}


def _kfold(labels: np.ndarray | None, n: int, k: int, seed: int, stratified: bool):
    """``k`` (train, val) index pairs; stratified folds deal each class round-robin."""
    rng = np.random.default_rng(seed)
    fold = np.empty(n, dtype=np.int64)
    if stratified:
        _, codes = np.unique(labels, return_inverse=True)
        start = 0
        for c in range(codes.max() + 1):
            members = rng.permutation(np.flatnonzero(codes.ravel() == c))
            fold[members] = (start + np.arange(len(members))) % k
            start += len(members)
    else:
        fold[rng.permutation(n)] = np.arange(n) % k
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]


class EvolutionarySearch(_BaseEstimator):
    """Search hyperparameters and architecture of a BP network with a genetic algorithm.

    Parameters
    ----------
    task : {"regression", "classification", "series"}
        ``"series"`` is fitted with :meth:`fit_series` (the raw series; ``n_lags`` may be a
        gene), the others with :meth:`fit`.
    space : SearchSpace, dict or None
        The search space; a dict is parsed by :meth:`SearchSpace.from_dict`; ``None`` uses
        :func:`default_space` for the task.
    population_size, n_generations : int
        ``n_generations=0`` is random search over ``population_size`` configurations.
    fitness : {"loss", "rmse", "error_rate"}
        Validation error minimized: the training loss without L2 (MSE of the standardized
        targets, or cross-entropy), RMSE in the targets' units (regression and series), or
        ``1 - accuracy`` (classification).
    validation_fraction : float
        Held-out share of the data given to ``fit`` (stratified for classification, random
        for regression, the end of the series for series tasks).
    cv : int or None
        ``k``-fold cross-validation instead of one split (not for series tasks).
    n_repeats : int
        Trainings per configuration and fold with different initial weights; the fitness is
        their mean.
    multi_objective : bool
        NSGA-II on (validation error, number of parameters); ``pareto_front_`` holds the
        non-dominated configurations.
    ga : GAConfig or None
        Operator settings (selection, crossover, mutation, elitism); its population size
        and generations are replaced by ``population_size`` and ``n_generations`` and its
        bounds by ``(0, 1)``. Default: tournament of 3, uniform crossover (0.7), gaussian
        mutation (sigma 0.2, per-gene probability 0.2), 2 elites.
    refit : bool
        Refit the best configuration on train + validation as ``best_estimator_``.
    n_jobs : int or None
        joblib's meaning; groups of configurations are trained in parallel. The result does
        not depend on ``n_jobs``.
    random_state : int or None
    verbose : int
        1 shows a progress bar, ``>= 2`` logs one line per generation (logger
        ``gabp.evolution.engine``).
    input_shape : (int, int, int) or None
        Image shape ``(C, H, W)`` of flat-row inputs; not needed when ``X`` is given as
        images ``(n, C, H, W)``. A space that can choose ``model = "cnn"`` needs one of the
        two (``fit`` refuses it otherwise); MLPs see the images as flat rows.

    Attributes
    ----------
    best_params_ : dict
        The best configuration (``hidden_layer_sizes``, ``activation``, ``optimizer``,
        ``learning_rate``, [``momentum``], ``alpha``, ``batch_size``, ``max_epochs``,
        ``patience``, [``n_lags``], [``model``, ``filters``, ``kernel_size``,
        ``conv_layers``]).
    input_shape_ : tuple of int or None
        The image shape the search used (from ``X`` or ``input_shape``).
    best_score_ : float
        Its mean validation error (lower is better; named as in scikit-learn's searches).
    best_estimator_ : GABPRegressor or GABPClassifier
        Refitted on all data given to ``fit`` (``refit=True``).
    refit_epochs_ : int
        Epochs of that refit: the mean best epoch of the search's trainings, plus one.
    logbook_ : deap.tools.Logbook
        One record per generation (see :class:`gabp.search.ga.SearchResult`).
    history_ : list of dict
        ``{"gen", "error", "params"}``: the best-so-far configuration per generation.
    pareto_front_ : list of dict or None
        ``{"params", "error", "n_params"}`` (multi-objective mode).
    n_trainings_, n_cache_hits_, n_failed_ : int
    space_ : SearchSpace
    result_ : SearchResult
    seed_ : int
    """

    #: ``runner(space, evaluator, *, ga, multi_objective, entropy, logger) -> SearchResult``;
    #: a subclass may replace it with another strategy (e.g. a benchmark's TPE sampler).
    _runner = staticmethod(run_search)

    def __init__(
        self,
        task: str = "regression",
        space: SearchSpace | dict | None = None,
        *,
        population_size: int = 20,
        n_generations: int = 10,
        fitness: str = "loss",
        validation_fraction: float = 0.2,
        cv: int | None = None,
        n_repeats: int = 1,
        multi_objective: bool = False,
        ga: GAConfig | None = None,
        refit: bool = True,
        n_jobs: int | None = None,
        random_state: int | None = None,
        verbose: int = 0,
        input_shape: tuple[int, int, int] | None = None,
    ) -> None:
        self.task = task
        self.space = space
        self.population_size = population_size
        self.n_generations = n_generations
        self.fitness = fitness
        self.validation_fraction = validation_fraction
        self.cv = cv
        self.n_repeats = n_repeats
        self.multi_objective = multi_objective
        self.ga = ga
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.input_shape = input_shape

    @property
    def _estimator_type(self) -> str:  # type: ignore[override]
        return "classifier" if self.task == "classification" else "regressor"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "best_params_")

    # -- validation ------------------------------------------------------------------------

    def _validate(self, where: str) -> dict[str, Any]:
        check_choice(self.task, TASKS, "task", where)
        check_kernels()  # a bad GABP_KERNELS would otherwise fail every configuration
        if self.space is None:
            space = default_space(self.task)
        elif isinstance(self.space, SearchSpace):
            space = self.space
        elif isinstance(self.space, dict):
            space = SearchSpace.from_dict(self.space)
        else:
            fail("space", where, "None, a SearchSpace or a dict", self.space, exc=TypeError)
        if self.task != "series" and ("n_lags" in space.dims or "n_lags" in space.fixed):
            fail("space", where, "free of 'n_lags' unless task='series'", space)
        pop = check_int(self.population_size, "population_size", where, low=2)
        n_gen = check_int(self.n_generations, "n_generations", where, low=0)
        check_choice(self.fitness, FITNESS_BY_TASK[self.task], "fitness", where)
        vf = check_float(self.validation_fraction, "validation_fraction", where, low=0.0,
                         high=1.0, low_open=True, high_open=True)
        cv = None
        if self.cv is not None:
            cv = check_int(self.cv, "cv", where, low=2)
            if self.task == "series":
                fail("cv", where, "None for series tasks", self.cv,
                     hint="Use n_repeats to average noisy fitness on a series.")
        n_rep = check_int(self.n_repeats, "n_repeats", where, low=1)
        for name in ("multi_objective", "refit"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                fail(name, where, "a bool (True or False)", getattr(self, name), exc=TypeError)
        if self.ga is not None and not isinstance(self.ga, GAConfig):
            fail("ga", where, "None or a gabp.evolution.GAConfig", self.ga, exc=TypeError)
        if self.ga is not None and (self.ga.holdout_fraction or self.ga.holdout_patience):
            fail("ga", where, "a GAConfig without holdout_fraction / holdout_patience (they "
                 "concern the weights GA of evolve; a search scores configurations on its "
                 "validation part or folds)", self.ga)
        base = self.ga or DEFAULT_GA
        n_elite = 0 if self.multi_objective else min(base.n_elite, pop - 1)
        ga = GAConfig(**{**base.to_dict(), "population_size": pop, "n_generations": n_gen,
                         "bounds": (0.0, 1.0), "n_elite": n_elite}).validate(where)
        if self.n_jobs is not None:
            check_int(self.n_jobs, "n_jobs", where)
            if self.n_jobs == 0:
                fail("n_jobs", where, "None or a non-zero integer", self.n_jobs)
        verbose = check_int(int(self.verbose), "verbose", where, low=0)
        rs = self.random_state
        if rs is not None and (isinstance(rs, bool) or not isinstance(rs, numbers.Integral)
                               or rs < 0):
            fail("random_state", where, "None or an integer >= 0", rs, exc=TypeError)
        entropy = int(np.random.SeedSequence(rs).entropy)
        return {"space": space, "ga": ga, "vf": vf, "cv": cv, "n_repeats": n_rep,
                "verbose": verbose, "entropy": entropy,
                "input_shape": _check_input_shape(self.input_shape, where)}

    # -- fitting -----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, *, callbacks: Sequence[Callable[[GAState], bool]] = (),
            checkpoint_path: str | os.PathLike | None = None, checkpoint_every: int = 1,
            resume: bool = False) -> EvolutionarySearch:
        """Search on ``X`` of shape (n, n_features) and ``y`` of shape (n,) (class labels
        or values) or (n, k) (regression); returns ``self``.

        ``callbacks`` (``cb(state: GAState) -> stop?``), ``checkpoint_path``,
        ``checkpoint_every`` and ``resume`` mean what they mean for
        :func:`gabp.evolution.evolve`; a resume refuses other data or settings.
        """
        where = "EvolutionarySearch.fit"
        s = self._validate(where)
        s["run"] = _run_options(where, callbacks, checkpoint_path, checkpoint_every, resume)
        if self.task == "series":
            fail("task", where, "'regression' or 'classification' in fit", self.task,
                 hint="Call fit_series(series, horizon=...) for a series task.")
        X, image_shape = self._inputs(X, s, where)
        s["fingerprint"] = data_fingerprint(X, np.asarray(y))
        if self.task == "classification":
            labels = np.asarray(y)
            if labels.ndim != 1 or labels.shape[0] != X.shape[0]:
                fail("y", where, f"a 1-D array of {X.shape[0]} class labels", labels)
            enc = OneHotEncoder().fit(labels)
            if enc.n_classes < 2:
                fail("y", where, "labels of at least 2 classes", labels)
            Y = enc.transform(labels)
            if enc.n_classes == 2:  # the rule of GABPClassifier, so the refit has this head
                Y = Y[:, 1:]
                settings = {"output_activation": "sigmoid", "loss": "binary_cross_entropy"}
            else:
                settings = {"output_activation": "softmax", "loss": "cross_entropy"}
        else:
            y_arr = check_array(y, "y", where, ndim=(1, 2))
            Y = y_arr.reshape(y_arr.shape[0], -1)
            labels = None
            settings = {"output_activation": "identity", "loss": "mse"}
        if Y.shape[0] != X.shape[0]:
            fail("y", where, f"an array with {X.shape[0]} rows (as X)", Y)
        n = X.shape[0]
        split_seed = int_seed(s["entropy"], _SPLIT_KEY)
        strat = self.task == "classification"
        if s["cv"] is not None:
            if n < s["cv"] * 2:
                fail("cv", where, f"at most {n // 2} for {n} samples", s["cv"])
            folds = _kfold(labels, n, s["cv"], split_seed, strat)
        else:
            if round(n * s["vf"]) < 1 or n - round(n * s["vf"]) < 2:
                fail("X", where, f"enough samples for validation_fraction={s['vf']:g}", X)
            if strat:
                tr, va, _ = stratified_split(labels, val_fraction=s["vf"], test_fraction=0.0,
                                             seed=split_seed)
            else:
                tr, va, _ = random_split(n, val_fraction=s["vf"], test_fraction=0.0,
                                         seed=split_seed)
            folds = [(tr, va)]
        parts = []
        for tr, va in folds:
            xs = StandardScaler().fit(X[tr])
            if strat:
                Ys, unscale = Y, np.ones(Y.shape[1])
            else:
                ys = StandardScaler().fit(Y[tr])
                Ys, unscale = ys.transform(Y), np.asarray(ys.scale_, dtype=float)
            parts.append((xs.transform(X[tr]), Ys[tr], xs.transform(X[va]), Ys[va], unscale))

        def data(n_lags: int | None, fold: int):
            return parts[fold]

        if image_shape is not None:
            settings["input_shape"] = list(image_shape)
        self._search(s, data, settings, len(folds))
        self.n_features_in_ = int(X.shape[1])
        self.input_shape_ = image_shape
        if strat:
            self.classes_ = enc.classes_
        if self.refit:
            self.best_estimator_ = self._refit(X, y, s)
        return self

    def _inputs(self, X: Any, s: dict[str, Any], where: str
                ) -> tuple[np.ndarray, tuple[int, ...] | None]:
        """``X`` as flat rows and its image shape (images or ``input_shape``), if any."""
        X, shape = _image_rows(X, s["input_shape"], where)
        X = check_array(X, "X", where, ndim=2)
        s["image_shape"] = self.check_images(s["space"], X.shape[1], shape, where)
        return X, shape

    @staticmethod
    def check_images(space: SearchSpace, n_columns: int, shape: tuple[int, ...] | None,
                     where: str) -> tuple[int, ...] | None:
        """Refuse an image shape that does not match the inputs, and a space that can
        choose a CNN for inputs that are not images (before any work); returns ``shape``."""
        if shape is not None and int(np.prod(shape)) != n_columns:
            fail("input_shape", where, f"of {n_columns} values (X's columns)", shape)
        if shape is None and space.can_build_cnn:
            fail("space", where, "free of model 'cnn' for inputs that are not images", "a "
                 "space with model 'cnn'", hint="Give X as images (n, C, H, W), or flat rows "
                 "with input_shape=(C, H, W), or search model 'mlp' only.")
        return shape

    def fit_series(self, series: Any, *, horizon: int = 1,
                   callbacks: Sequence[Callable[[GAState], bool]] = (),
                   checkpoint_path: str | os.PathLike | None = None, checkpoint_every: int = 1,
                   resume: bool = False) -> EvolutionarySearch:
        """Search on a raw series of shape (n_t,) or (n_t, n_cols), oldest value first.

        For every ``n_lags`` the windows are rebuilt with :func:`gabp.data.make_windows`
        and split chronologically at one fixed time: validation targets are the last
        ``validation_fraction`` of the series for every ``n_lags``, no training row holds a
        value from that period, and the series is standardized with the training period's
        mean and scale. ``best_estimator_`` is a :class:`GABPRegressor` on windows of
        ``best_params_["n_lags"]`` lags (``X`` of shape (n, n_lags * n_cols)). The other
        options are those of :meth:`fit`.
        """
        where = "EvolutionarySearch.fit_series"
        s = self._validate(where)
        s["run"] = _run_options(where, callbacks, checkpoint_path, checkpoint_every, resume)
        if self.task != "series":
            fail("task", where, "'series' in fit_series", self.task)
        self.check_images(s["space"], 0, None, where)  # a series has no images
        arr = check_array(series, "series", where, ndim=(1, 2))
        horizon = check_int(horizon, "horizon", where, low=1)
        s["fingerprint"] = data_fingerprint(arr, np.array([horizon]))
        space: SearchSpace = s["space"]
        dim = space.dims.get("n_lags")
        max_lags = (getattr(dim, "high", None) or max(getattr(dim, "choices", [1]))) if dim \
            else int(space.fixed.get("n_lags", 12))
        n_t = arr.shape[0]
        v = n_t - max(1, int(round(s["vf"] * n_t)))
        if v - horizon - max_lags + 1 < 2:
            fail("series", where, f"longer than {n_t} values for n_lags up to {max_lags} and "
                 f"validation_fraction={s['vf']:g}", arr)
        data2 = arr.reshape(n_t, -1)
        sc = StandardScaler().fit(data2[:v])
        scaled = sc.transform(data2).reshape(arr.shape)
        unscale = np.tile(np.asarray(sc.scale_, dtype=float), 1)
        cache: dict[int, tuple] = {}

        def data(n_lags: int | None, fold: int):
            n_lags = int(n_lags if n_lags is not None else space.fixed.get("n_lags", 12))
            if n_lags not in cache:
                win = make_windows(scaled, n_lags=n_lags, horizon=horizon)
                tr, va, _ = chronological_split(win, val_start=v, test_fraction=0.0)
                cache[n_lags] = (tr.X, tr.y, va.X, va.y, unscale)
            return cache[n_lags]

        self._search(s, data, {"output_activation": "identity", "loss": "mse"}, 1,
                     series_lags=True)
        self.horizon_ = horizon
        self.input_shape_ = None
        self.n_lags_ = int(self.best_params_.get("n_lags", space.fixed.get("n_lags", 12)))
        if self.refit:
            win = make_windows(arr, n_lags=self.n_lags_, horizon=horizon)
            self.best_estimator_ = self._refit(win.X, win.y if win.y.shape[1] > 1
                                               else win.y[:, 0], s)
        self.n_features_in_ = int(self.n_lags_ * data2.shape[1])
        return self

    def _search(self, s: dict[str, Any], data, settings: dict[str, Any], n_folds: int,
                series_lags: bool = False) -> SearchResult:
        space: SearchSpace = s["space"]
        settings = {**settings, "fitness": self.fitness}
        run_kw: dict[str, Any] = {}
        if type(self)._runner is run_search:  # a replaced runner gets the original arguments
            run_kw = {**s["run"], "verbose": s["verbose"], "fingerprint": s["fingerprint"],
                      "config": self._run_config(s, settings)}
        with Parallel(n_jobs=self.n_jobs) as parallel:
            evaluator = Evaluator(data, settings, n_folds=n_folds, n_repeats=s["n_repeats"],
                                  entropy=s["entropy"], parallel=parallel, key=space.key)
            result = self._runner(space, evaluator, ga=s["ga"],
                                  multi_objective=bool(self.multi_objective),
                                  entropy=s["entropy"], **run_kw)
        self._evaluator = evaluator
        best_key = space.key(result.best_config)
        trained = evaluator.cache[best_key]
        self.space_ = space
        self.result_ = result
        self.seed_ = s["entropy"]
        self.best_params_ = dict(result.best_config)
        self.best_score_ = float(result.best_error)
        self.best_n_params_ = int(trained.n_params)
        self.refit_epochs_ = int(max(1, round(float(np.mean(trained.best_epoch)) + 1)))
        self.logbook_ = result.logbook
        self.history_ = result.history
        self.pareto_front_ = result.pareto_front
        self.n_trainings_ = result.n_trainings
        self.n_cache_hits_ = result.n_cache_hits
        self.n_failed_ = result.n_failed
        return result

    def _run_config(self, s: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        """Everything a checkpoint must agree on to be resumed (JSON-ready)."""
        return {"task": self.task, "space": s["space"].to_dict(), "ga": s["ga"].to_dict(),
                "fitness": self.fitness, "validation_fraction": s["vf"], "cv": s["cv"],
                "n_repeats": s["n_repeats"], "multi_objective": bool(self.multi_objective),
                "settings": settings, "seed": s["entropy"]}

    def _refit(self, X: np.ndarray, y: Any, s: dict[str, Any]):
        """Refit the best configuration on all the data given to ``fit``.

        A single refit from new initial weights can fail where the search's training did not:
        a large learning rate is on the edge of stability (divergence), or ReLU units die and
        the network predicts a constant. So the configuration is refit from
        ``_REFIT_RESTARTS`` initial weights and the one with the lowest final training loss is
        kept; if every restart diverges, the learning rate is halved (up to
        ``_REFIT_ATTEMPTS`` times). ``refit_learning_rate_`` and ``refit_losses_`` record
        what happened.
        """
        cls = GABPClassifier if self.task == "classification" else GABPRegressor
        params = estimator_params(self.best_params_, self.refit_epochs_,
                                  s.get("image_shape"))
        best, losses = None, []
        for attempt in range(_REFIT_ATTEMPTS):
            for restart in range(_REFIT_RESTARTS):
                keys = (_REFIT_KEY, attempt, restart) if attempt or restart else (_REFIT_KEY,)
                est = cls(**params, random_state=int_seed(s["entropy"], *keys)).fit(X, y)
                loss = (np.inf if est.result_.bp_history.diverged.any()
                        else float(est.loss_curve_[-1]))
                losses.append(loss)
                if np.isfinite(loss) and (best is None or loss < best[0]):
                    best = (loss, est)
            if best is not None:
                break
            logger.warning("every refit of the best configuration diverged with learning "
                           "rate %g; retrying with %g", params["learning_rate"],
                           params["learning_rate"] / 2)
            if attempt < _REFIT_ATTEMPTS - 1:
                params["learning_rate"] /= 2
        self.refit_learning_rate_ = float(params["learning_rate"])
        self.refit_losses_ = losses
        return est if best is None else best[1]

    # -- prediction -------------------------------------------------------------------------

    def _fitted_estimator(self, method: str):
        if not hasattr(self, "best_estimator_"):
            raise _not_fitted_error(
                f"This EvolutionarySearch instance has no best_estimator_ to {method} with. "
                "Call 'fit' (with refit=True) first."
            )
        return self.best_estimator_

    def predict(self, X: Any) -> np.ndarray:
        """Predictions of ``best_estimator_``."""
        return self._fitted_estimator("predict").predict(X)

    def score(self, X: Any, y: Any) -> float:
        """``best_estimator_.score``: R^2 (regression, series) or accuracy (classification)."""
        return self._fitted_estimator("score").score(X, y)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: best params, score, counters, seed, space, Pareto front."""
        self._check_is_fitted()
        return {
            "best_params": config_to_dict(self.best_params_),
            "best_score": self.best_score_,
            "fitness": self.fitness,
            "best_n_params": self.best_n_params_,
            "refit_epochs": self.refit_epochs_,
            "n_trainings": self.n_trainings_,
            "n_cache_hits": self.n_cache_hits_,
            "n_failed": self.n_failed_,
            "seed": self.seed_,
            "space": self.space_.to_dict(),
            "pareto_front": None if self.pareto_front_ is None else [
                {**d, "params": config_to_dict(d["params"])} for d in self.pareto_front_],
        }


def estimator_params(config: dict[str, Any], max_epochs: int,
                     input_shape: Sequence[int] | None = None) -> dict[str, Any]:
    """Keyword arguments of ``GABPRegressor`` / ``GABPClassifier`` (mode ``"bp"``, no
    validation split, no early stopping, ``max_epochs`` epochs) for a config.

    A CNN configuration (``model == "cnn"``) needs the image shape ``input_shape``; its
    ``hidden_layer_sizes`` are then layer units (:func:`gabp.search.space.network_layers`).
    """
    out = {
        "hidden_layer_sizes": network_layers(config, input_shape),
        "activation": config["activation"],
        "mode": "bp",
        "optimizer": config["optimizer"],
        "learning_rate": config["learning_rate"],
        "alpha": config["alpha"],
        "batch_size": config["batch_size"],
        "max_epochs": int(max_epochs),
        "early_stopping": False,
        "validation_fraction": 0.0,
    }
    if "momentum" in config:
        out["momentum"] = config["momentum"]
    if config.get("model") == "cnn":
        out["input_shape"] = tuple(int(v) for v in input_shape)  # type: ignore[union-attr]
    return out


def search_records(search: EvolutionarySearch | SearchResult) -> list[dict[str, Any]]:
    """Per-generation plain records for the run folder and :func:`gabp.plotting.
    plot_hyperparameters`: ``gen``, ``nevals``, ``nfailed``, ``error_min/mean/std/max``,
    ``best_so_far``, ``elapsed`` and the best-so-far hyperparameters (``n_layers``,
    ``hidden_1..``, ``activation``, ...)."""
    logbook = search.logbook if isinstance(search, SearchResult) else search.logbook_
    return [{k: v for k, v in rec.items() if k not in _NOT_IN_SEARCH_CSV} for rec in logbook]


__all__ = ["EvolutionarySearch", "config_to_dict", "estimator_params", "flat_params",
           "search_records"]
