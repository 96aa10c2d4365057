"""The GA-BP driver: evolve network weights with DEAP, refine with backpropagation.

One loop serves every mode:

- ``classic``: fitness is the error of the decoded weights with no training; when the
  evolution ends, BP fine-tunes the best individual (the MATLAB GA-BP recipe).
- ``baldwinian``: each new individual is trained by BP for ``bp.bp_epochs`` epochs before it
  is scored; the genome keeps its untrained weights.
- ``lamarckian``: as baldwinian, and the trained weights are written back into the genome
  (each individual with probability ``ga.lamarck_prob``).
- ``bp``: no evolution; one network trained by BP from the standard initializer.

The population is a ``(P, n_params)`` array whose rows are network parameter vectors, so a
generation is scored as batches of networks by the population-batched trainer; with
``n_jobs`` > 1 a measured cost model (:mod:`gabp._parallel`) shares the generations that pay
with one joblib pool, opened on first use and reused across generations. DEAP provides the toolbox
(operators are registered there and may be replaced), ``Statistics``, ``Logbook`` and
``HallOfFame``.

Randomness: one seed -> ``numpy.random.SeedSequence`` -> a stream per purpose and
generation, drawn in the parent process; Python's ``random`` (for any DEAP operator a user
registers) is reseeded from the same sequence every generation. Results do not depend on
``n_jobs``, and resuming from a checkpoint gives the same result as an uninterrupted run.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from deap import base, tools
from joblib import effective_n_jobs

from .._kernels import check_kernels, prepare
from .._parallel import LazyParallel
from .._seeding import int_seed, stream
from .._validation import check_array, check_float, check_int, check_same_length, fail
from ..layers import Layer
from ..network import Architecture, Network, check_loss, init_params
from ..optimizers import SECOND_ORDER
from ..trainer import History, as_targets, resolve_optimizer, train
from .config import GAConfig
from .engine import (
    CHECKPOINT_FORMAT,
    Checkpointing,
    ElitistGA,
    EngineState,
    GAState,
    data_fingerprint,
    load_checkpoint,
    logbook_path,
    run_evolution,
)
from .operators import CROSSOVERS, MUTATIONS, SELECTIONS
from .problem import (
    _BASELINE,
    _BP,
    _FINAL,
    _INIT,
    BPConfig,
    ChunkedScorer,
    Holdout,
    WeightsProblem,
    check_fitness,
    check_mode,
    ensemble_error,
    fitness_errors,
    resolve_dtype,
    score_genomes,
)

logger = logging.getLogger(__name__)

__all__ = ["CHECKPOINT_FORMAT", "BaselineResult", "EvolutionResult", "GAState", "evolve",
           "load_checkpoint", "logbook_path", "make_toolbox"]


@dataclass
class BaselineResult:
    """Plain BP from the standard initializer, at the GA-BP run's budget.

    The budget is counted in sample-passes (one forward + backward of one sample through
    one network), a unit every solver shares: each restart may spend as many as the whole
    GA-BP run did (evolution, fitness evaluations and fine-tune together).

    Attributes
    ----------
    network : Network
        The ``n_restarts`` trained networks (one population).
    history : History
    val_errors : ndarray of shape (n_restarts,)
        Fitness metric on the validation data.
    budget_steps : int
        Gradient steps (mini-batches) the budget amounts to for a first-order optimizer;
        for the full-batch solvers, the iteration cap.
    budget_sample_passes : float
        Sample-passes allowed to each restart (the GA-BP run's total).
    """

    network: Network
    history: History
    val_errors: np.ndarray
    budget_steps: int
    budget_sample_passes: float = math.nan

    @property
    def best(self) -> int:
        """Index of the restart with the lowest validation error."""
        return int(np.argmin(self.val_errors))


@dataclass
class EvolutionResult:
    """Everything a GA-BP run produced; plain data that reports and files read.

    Attributes
    ----------
    network : Network
        The final model (one network): the best individual after BP fine-tuning.
    best_genome : ndarray of shape (n_params,)
        The best genome the evolution found (before the final fine-tune).
    best_fitness : float
        Its fitness (error; lower is better), in float64: a float32 population is scored and
        ranked in float32 (its logbook's fitness), and the best's fitness is taken again in
        float64, the precision of ``val_error``.
    val_error : float
        The final model's fitness metric on the validation (fitness) data.
    logbook : deap.tools.Logbook or None
        One record per generation (``None`` in mode ``"bp"``).
    bp_history : History
        Per-epoch curves of the final fine-tune.
    baseline : BaselineResult or None
    n_evaluations, n_failed : int
    total_steps : int
        Gradient steps (solver iterations) of the whole run (evolution + fine-tune).
    total_sample_passes : float
        Cost of the whole run in sample-passes: BP training of the individuals and of the
        fine-tune, plus the forward passes of the fitness evaluations.
    optimizer : str
        The BP optimizer used (``"auto"`` resolved).
    dtype : str
        Precision of the BP training (``"auto"`` resolved: float32 for the mini-batch
        optimizers, float64 for the full-batch solvers).
    kept_start : ndarray of shape (n_members,), bool
        Members whose fine-tune did not improve on its starting weights (they were kept).
    ensemble : int
        Networks averaged by the delivered model (``network.n_networks``).
    pool_generations : int
        Generations (of those this call scored) shared with the worker pool; 0 with
        ``n_jobs=1`` or when the cost model kept every generation in-process.
    holdout_generation : int or None
        With ``GAConfig.holdout_fraction``: the generation whose best genome (the best on
        the holdout) the model was fine-tuned from.
    """

    network: Network
    best_genome: np.ndarray
    best_fitness: float
    val_error: float
    logbook: tools.Logbook | None
    bp_history: History
    baseline: BaselineResult | None
    hall_of_fame: list[np.ndarray]
    population: np.ndarray | None
    errors: np.ndarray | None
    n_evaluations: int
    n_failed: int
    total_steps: int
    generations: int
    stop_reason: str
    elapsed: float
    seed: int
    config: dict[str, Any] = field(default_factory=dict)
    total_sample_passes: float = 0.0
    optimizer: str = ""
    dtype: str = ""
    kept_start: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=bool))
    pool_generations: int = 0
    holdout_generation: int | None = None

    @property
    def ensemble(self) -> int:
        """Networks averaged by the delivered model."""
        return self.network.n_networks



def make_toolbox(ga: GAConfig) -> base.Toolbox:
    """DEAP toolbox with ``select``, ``mate`` and ``mutate`` registered from ``ga``.

    The registered functions follow :mod:`gabp.evolution.operators`' population-level
    signatures; replace them with ``toolbox.register`` to plug in other operators.
    """
    tb = base.Toolbox()
    sel_kw: dict[str, Any] = {}
    if ga.selection == "tournament":
        sel_kw["tournsize"] = ga.tournsize
    else:
        sel_kw["pressure"] = ga.rank_pressure
    tb.register("select", SELECTIONS[ga.selection], **sel_kw)
    cx_kw: dict[str, Any] = {}
    if ga.crossover == "blend":
        cx_kw["alpha"] = ga.blend_alpha
    elif ga.crossover == "sbx":
        cx_kw["eta"] = ga.eta
    tb.register("mate", CROSSOVERS[ga.crossover], **cx_kw)
    mut_kw: dict[str, Any] = {"indpb": ga.mutation_prob}
    if ga.mutation == "gaussian":
        mut_kw["sigma"] = ga.mutation_sigma
    elif ga.mutation == "polynomial":
        mut_kw["eta"] = ga.eta
    tb.register("mutate", MUTATIONS[ga.mutation], **mut_kw)
    return tb


def _validate_data(X, Y, X_val, Y_val, where: str):
    X = check_array(X, "X", where, ndim=2)
    Y = check_array(Y, "Y", where, ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    check_same_length(X, Y, ("X", "Y"), where)
    if X_val is None and Y_val is None:
        return X, Y, None, None
    if X_val is None or Y_val is None:
        fail("X_val", where, "given together with Y_val", X_val)
    X_val = check_array(X_val, "X_val", where, ndim=2)
    if X_val.shape[1] != X.shape[1]:
        fail("X_val", where, f"an array with {X.shape[1]} columns (as X)", X_val)
    Y_val = as_targets(Y_val, Y.shape[1], "Y_val", where)
    check_same_length(X_val, Y_val, ("X_val", "Y_val"), where)
    return X, Y, X_val, Y_val


def evolve(
    X: Any,
    Y: Any,
    X_val: Any = None,
    Y_val: Any = None,
    *,
    hidden_layer_sizes: Sequence[int] = (10,),
    hidden_activation: str | Sequence[str] = "tanh",
    output_activation: str = "identity",
    loss: str = "mse",
    mode: str = "lamarckian",
    fitness: str = "loss",
    fitness_on: str = "validation",
    ga: GAConfig | None = None,
    bp: BPConfig | None = None,
    n_baseline: int = 5,
    n_jobs: int | None = None,
    seed: int | None = None,
    verbose: int = 0,
    callbacks: Sequence[Callable[[GAState], bool]] = (),
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    parallel_threshold: float | None = None,
    ensemble: int = 1,
) -> EvolutionResult:
    """Optimize a network's weights with a genetic algorithm and backpropagation.

    Parameters
    ----------
    X, Y : array-like of shape (n, n_in) and (n, n_out) or (n,)
        Training data (already scaled; targets one-hot for cross-entropy).
    X_val, Y_val : array-like, optional
        Validation data: the fitness is computed on it (``fitness_on="validation"``) and the
        final fine-tune and baseline stop early on it. Never pass test data here.
    hidden_layer_sizes, hidden_activation, output_activation
        The network: ``(n_in, *hidden_layer_sizes, n_out)``. Entries are dense widths or
        layer units of :mod:`gabp.layers` (e.g. ``[Reshape((1, 8, 8)), Conv2D(8, 3),
        MaxPool2D(2), Flatten()]`` for flat 8x8 image rows), see :meth:`Architecture.build`.
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
    mode : {"classic", "baldwinian", "lamarckian", "bp"}
    fitness : {"loss", "mse", "rmse", "mae", "sae", "error_rate"}
        Error minimized by the GA.
    fitness_on : {"validation", "train"}
    ga, bp : GAConfig, BPConfig
        Evolution and backpropagation settings (defaults if None).
    n_baseline : int
        Restarts of the plain-BP baseline trained at the same gradient-step budget
        (0 to skip).
    n_jobs : int or None
        joblib's meaning; the backend comes from ``joblib.parallel_config``.
    seed : int or None
        One seed for everything; the result records the seed used.
    callbacks : sequence of callables
        ``cb(state: GAState) -> stop?`` after every generation.
    checkpoint_path : path, optional
        Write a checkpoint every ``checkpoint_every`` generations (atomic rename).
    resume : bool
        Continue from ``checkpoint_path`` (same data and settings required).
    parallel_threshold : float or None
        With ``n_jobs`` > 1, whether a generation is shared with the worker pool. ``None``
        (the default): a cost model measured during the run decides (the in-process time
        per individual, the pool's overhead per task and per byte, its start-up cost
        against the generations left; see :mod:`gabp._parallel`). ``0``: every generation
        uses the pool (or the Dask cluster). ``t > 0``: generations predicted to take less
        than ``t`` seconds in-process stay there, the cost model decides the others.
        Results are the same either way.
    ensemble : int
        Networks the delivered model averages: the best genome and the next ``k - 1`` best
        distinct ones of the final population (in mode ``"bp"``, ``k`` restarts), each
        fine-tuned (as one batch) and never worse than its start. Regression outputs and
        class probabilities are averaged.

    Returns
    -------
    EvolutionResult
    """
    where = "evolve"
    mode, fitness, ga, bp = _check_settings(where, mode, fitness, fitness_on, ga, bp, n_jobs)
    n_baseline = check_int(n_baseline, "n_baseline", where, low=0)
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", where, low=1)
    if parallel_threshold is not None:
        parallel_threshold = float(check_float(parallel_threshold, "parallel_threshold", where,
                                               low=0.0))
    ensemble = check_int(ensemble, "ensemble", where, low=1, high=ga.population_size)
    X, Y, X_val, Y_val = _validate_data(X, Y, X_val, Y_val, where)
    if (fitness_on == "validation" and X_val is None) and mode != "bp":
        fail("X_val", where, "given when fitness_on='validation'", X_val,
             hint="Pass validation data, or fitness_on='train' to score on the training data.")
    if resume and checkpoint_path is None:
        fail("checkpoint_path", where, "set when resume=True", checkpoint_path)
    arch = _architecture(where, X, Y, hidden_layer_sizes, hidden_activation, output_activation,
                         loss, fitness)
    t_start = time.perf_counter()
    run = _setup(arch, X, Y, X_val, Y_val, mode=mode, fitness=fitness, fitness_on=fitness_on,
                 loss=loss, ga=ga, bp=bp, n_baseline=n_baseline, seed=seed, ensemble=ensemble)
    ck = Checkpointing(None if checkpoint_path is None else os.fspath(checkpoint_path),
                       checkpoint_every, resume)
    return _run(run, ensemble, n_jobs, parallel_threshold, verbose, callbacks, ck, t_start)


@dataclass
class _Setup:
    """What one :func:`evolve` call has settled before any BP runs."""

    arch: Architecture
    mode: str
    fitness: str
    loss: str
    ga: GAConfig
    bp_run: BPConfig  # the caller's ``bp`` with "auto" (optimizer, dtype) resolved
    n_baseline: int
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # X, Y, X_fit, Y_fit
    holdout: tuple[np.ndarray, np.ndarray] | None  # fitness rows held out (GAConfig)
    val_kw: dict[str, Any]
    settings: dict[str, Any]
    train_kw: dict[str, Any]
    entropy: int
    config: dict[str, Any]
    fingerprint: str


def _check_settings(where: str, mode: str, fitness: str, fitness_on: str, ga: Any, bp: Any,
                    n_jobs: Any) -> tuple[str, str, GAConfig, BPConfig]:
    mode = check_mode(mode, where)
    fitness = check_fitness(fitness, where)
    check_kernels()  # a bad GABP_KERNELS would otherwise fail every individual
    if fitness_on not in ("validation", "train"):
        fail("fitness_on", where, "'validation' or 'train'", fitness_on)
    if ga is not None and not isinstance(ga, GAConfig):
        fail("ga", where, "a GAConfig or None", ga, exc=TypeError,
             hint="Build one with GAConfig(population_size=..., ...).")
    if bp is not None and not isinstance(bp, BPConfig):
        fail("bp", where, "a BPConfig or None", bp, exc=TypeError,
             hint="Build one with BPConfig(learning_rate=..., ...).")
    if n_jobs is not None and check_int(n_jobs, "n_jobs", where, low=-1024, high=1024) == 0:
        fail("n_jobs", where, "None, a positive integer or a negative one (-1: all cores)",
             n_jobs)
    return mode, fitness, (ga or GAConfig()).validate(where), (bp or BPConfig()).validate(where)


def _architecture(where: str, X: np.ndarray, Y: np.ndarray, hidden_layer_sizes: Any,
                  hidden_activation: Any, output_activation: str, loss: str,
                  fitness: str) -> Architecture:
    """The validated network ``(n_in, *hidden_layer_sizes, n_out)`` for ``loss``/``fitness``."""
    if isinstance(hidden_layer_sizes, (str, bytes)) or not isinstance(
            hidden_layer_sizes, (Sequence, np.ndarray)):
        fail("hidden_layer_sizes", where, "a sequence of positive integers, such as (10,)",
             hidden_layer_sizes, exc=TypeError)
    for size in hidden_layer_sizes:
        if not isinstance(size, (Layer, dict)):  # layer units (gabp.layers) pass through
            check_int(size, "hidden_layer_sizes", where, low=1)
    arch = Architecture.build((X.shape[1], *tuple(hidden_layer_sizes), Y.shape[1]),
                              hidden_activation=hidden_activation,
                              output_activation=output_activation, where=where)
    check_loss(loss, arch, where)
    if fitness == "error_rate" and output_activation == "identity":
        fail("fitness", where, "a regression error when the output is 'identity'", fitness)
    return arch


def _setup(arch: Architecture, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray | None,
           Y_val: np.ndarray | None, *, mode: str, fitness: str, fitness_on: str, loss: str,
           ga: GAConfig, bp: BPConfig, n_baseline: int, seed: int | None,
           ensemble: int) -> _Setup:
    X_fit, Y_fit = (X_val, Y_val) if fitness_on == "validation" and X_val is not None else (X, Y)
    holdout = None
    if ga.holdout_fraction:
        X_fit, Y_fit, holdout = _split_holdout(X_fit, Y_fit, ga.holdout_fraction, mode,
                                               fitness_on == "validation" and X_val is not None)
    entropy = int(np.random.SeedSequence(seed).entropy)
    config = {
        "architecture": arch.to_dict(), "loss": loss, "mode": mode, "fitness": fitness,
        "fitness_on": fitness_on, "ga": ga.to_dict(), "bp": bp.to_dict(),
        "n_baseline": n_baseline, "seed": entropy, "ensemble": ensemble,
    }
    # "auto" is resolved once, for the population the GA trains, so every BP run of this
    # evolution (individuals, fine-tune, baseline) uses the same solver.
    solver = (resolve_optimizer(arch, X.shape[0], loss, ga.population_size, alpha=bp.alpha,
                                has_validation=X_val is not None and bp.early_stopping)
              if bp.optimizer == "auto" else bp.optimizer)
    bp_run = replace(bp, optimizer=solver, dtype=resolve_dtype(bp.dtype, solver))
    settings = {
        "mode": mode, "fitness": fitness, "loss": loss, "bp_epochs": bp.bp_epochs,
        "dtype": bp_run.dtype, "train_kwargs": bp_run.train_kwargs(),
    }
    train_kw = dict(loss=loss, early_stopping=bp.early_stopping, patience=bp.patience,
                    **bp_run.train_kwargs())
    val_kw = {"X_val": X_val, "Y_val": Y_val} if X_val is not None else {}
    return _Setup(arch, mode, fitness, loss, ga, bp_run, n_baseline,
                  (X, Y, X_fit, Y_fit), holdout, val_kw, settings, train_kw, entropy, config,
                  data_fingerprint(X, Y, X_val, Y_val))


def _split_holdout(X_fit: np.ndarray, Y_fit: np.ndarray, fraction: float, mode: str,
                   on_validation: bool) -> tuple[np.ndarray, np.ndarray,
                                                 tuple[np.ndarray, np.ndarray]]:
    """The fitness rows without their last ``fraction``, and those rows (the holdout)."""
    where = "evolve"
    if not on_validation:
        fail("ga", where, "holdout_fraction = 0 without validation data (the holdout is cut "
             "from the validation rows the fitness uses)", f"holdout_fraction={fraction}",
             hint="Pass X_val / y_val with fitness_on='validation'.")
    if mode not in ("lamarckian", "classic"):
        fail("ga", where, "holdout_fraction = 0 in mode "
             f"{mode!r}: a Baldwinian genome is scored after training it, which scoring it on "
             "the holdout would have to repeat", f"holdout_fraction={fraction}",
             hint="Use mode='lamarckian' (or 'classic') with a holdout.")
    n = X_fit.shape[0]
    n_hold = int(round(fraction * n))
    if n_hold < 1 or n - n_hold < 1:
        fail("ga", where, "a holdout_fraction that leaves at least one validation row on each "
             f"side ({n} rows)", f"holdout_fraction={fraction}")
    return X_fit[: n - n_hold], Y_fit[: n - n_hold], (X_fit[n - n_hold :], Y_fit[n - n_hold :])


def _run(run: _Setup, ensemble: int, n_jobs: int | None, parallel_threshold: float | None,
         verbose: int, callbacks: Sequence[Callable[[GAState], bool]], ck: Checkpointing,
         t_start: float) -> EvolutionResult:
    """Evolve (or, in mode ``"bp"``, draw) the starting weights, then deliver."""
    arch = run.arch
    if run.mode == "bp":
        starts = init_params(arch, ensemble, method="glorot_uniform",
                             rng=stream(run.entropy, _INIT))
        state, logbook, stop = None, None, "bp"
        best_genome, best_fitness, evo_steps, evo_passes = starts[0], math.nan, 0, 0.0
        pooled, held = 0, None
    else:
        prepare(run.bp_run.dtype)  # compiled kernels: now, not in the first timed generation
        with LazyParallel(n_jobs) as parallel:
            scorer = ChunkedScorer(parallel, effective_n_jobs(n_jobs), arch, run.data,
                                   run.settings, min_seconds=parallel_threshold,
                                   n_generations=run.ga.n_generations)
            state, logbook, stop, holdout = _evolve_weights(run, scorer, verbose, callbacks,
                                                            ck)
        pooled = sum(scorer.pooled)
        best_genome, best_fitness = state.best_genome.copy(), state.best_error
        best_gen, held = state.best_gen, None
        if holdout is not None and holdout.best_genome is not None:  # the best on the holdout
            best_genome, best_gen = holdout.best_genome.copy(), holdout.best_generation
            held = best_gen
            best_fitness = float(fitness_errors(arch, best_genome[None], run.data[2],
                                                run.data[3], metric=run.fitness,
                                                loss=run.loss)[0])
        chosen = _best_distinct(state.population, state.errors, ensemble, best_genome)
        starts, passes, errs = _starting_weights(arch, chosen, run.data, run.settings,
                                                 run.entropy, best_gen)
        if errs is not None and held is None:
            best_fitness = _fitness_in_float64(run.mode, errs, best_fitness)
        evo_steps, evo_passes = state.n_steps, state.sample_passes + passes
    result = _deliver(run, starts, state, logbook, stop, best_genome, best_fitness, evo_steps,
                      evo_passes, t_start)
    result.pool_generations, result.holdout_generation = pooled, held
    return result


def _evolve_weights(run: _Setup, scorer: ChunkedScorer, verbose: int,
                    callbacks: Sequence[Callable[[GAState], bool]], ck: Checkpointing):
    """The weights GA: :class:`WeightsProblem` under the shared driver."""
    ga = run.ga
    bounds = None if ga.bounds is None else (float(ga.bounds[0]), float(ga.bounds[1]))
    holdout = None if run.holdout is None else Holdout(
        *run.holdout, metric=run.fitness, loss=run.loss, patience=ga.holdout_patience)
    problem = WeightsProblem(run.arch, scorer, entropy=run.entropy, mode=run.mode,
                             init=ga.init, init_range=ga.init_range, bounds=bounds,
                             lamarck_prob=ga.lamarck_prob, holdout=holdout)
    strategy = ElitistGA(ga, make_toolbox(ga), bounds)
    state, logbook, stop = run_evolution(problem, strategy, ga, entropy=run.entropy,
                                         config=run.config, fingerprint=run.fingerprint,
                                         callbacks=callbacks, verbose=verbose, checkpoint=ck,
                                         desc=f"GA-BP ({run.mode})")
    return state, logbook, stop, holdout


def _deliver(run: _Setup, starts: np.ndarray, state: EngineState | None, logbook: Any,
             stop: str, best_genome: np.ndarray, best_fitness: float, evo_steps: int,
             evo_passes: float, t_start: float) -> EvolutionResult:
    """Fine-tune the starting weights, train the baseline, assemble the result."""
    arch, X_fit, Y_fit = run.arch, run.data[2], run.data[3]
    final, history, kept_start = _fine_tune(arch, starts, run.data, run.bp_run, run.train_kw,
                                            run.val_kw, run.fitness, run.loss, run.entropy)
    total_steps = int(evo_steps + history.n_steps.sum())
    total_passes = float(evo_passes + history.sample_passes.sum())
    val_error = ensemble_error(arch, final.params, X_fit, Y_fit, metric=run.fitness,
                               loss=run.loss)
    baseline = None
    if run.n_baseline and run.mode != "bp":
        baseline = _baseline(arch, run.data, run.val_kw, run.n_baseline, total_passes,
                             run.bp_run, run.train_kw, run.fitness, run.loss, run.entropy)
    return EvolutionResult(
        network=final, best_genome=np.array(best_genome), best_fitness=best_fitness,
        val_error=val_error, logbook=logbook, bp_history=history, baseline=baseline,
        hall_of_fame=[] if state is None else [np.array(g) for g in state.hof_genomes],
        population=None if state is None else state.population,
        errors=None if state is None else state.errors,
        n_evaluations=0 if state is None else state.n_evaluations,
        n_failed=0 if state is None else state.n_failed,
        total_steps=total_steps, generations=0 if state is None else state.generation,
        stop_reason=stop, elapsed=time.perf_counter() - t_start, seed=run.entropy,
        config=run.config, total_sample_passes=total_passes, optimizer=run.bp_run.optimizer,
        dtype=run.bp_run.dtype, kept_start=kept_start,
    )


def _best_distinct(pop: np.ndarray, errs: np.ndarray, k: int, best: np.ndarray) -> np.ndarray:
    """The best genome ever found, then the next best distinct finite ones of ``pop``."""
    chosen = [best]
    for i in np.argsort(errs, kind="stable"):
        if len(chosen) == k or not np.isfinite(errs[i]):
            break
        if not any(np.array_equal(pop[i], c) for c in chosen):
            chosen.append(pop[i])
    return np.array(chosen)


def _starting_weights(arch: Architecture, genomes: np.ndarray, data: tuple, settings: dict,
                      entropy: int, best_gen: int
                      ) -> tuple[np.ndarray, float, tuple[np.ndarray, np.ndarray] | None]:
    """Where each fine-tune starts: the genome, or what BP made of it if that scores better.

    In the hybrid modes a genome's fitness is that of its *trained* weights (Baldwinian, or
    Lamarckian without write-back), so the genome is trained again exactly as the GA scored
    it (the generation's BP seed) and whichever of the two has the lower fitness is kept:
    the fine-tune then starts from weights whose fitness is the GA's best, never worse.
    Both fitnesses are taken in float64 (:func:`score_genomes` ranks a float32 population in
    float32). Returns the starting weights, the sample-passes this cost and the two float64
    fitnesses, ``(of each genome, of its retrained weights)``; ``None`` in other modes.
    """
    if settings["mode"] not in ("baldwinian", "lamarckian"):
        return genomes, 0.0, None
    X, Y, X_fit, Y_fit = data
    errs = fitness_errors(arch, genomes, X_fit, Y_fit, metric=settings["fitness"],
                          loss=settings["loss"])
    scored = score_genomes(arch.to_dict(), genomes, X, Y, X_fit, Y_fit, settings,
                           int_seed(entropy, _BP, best_gen))
    trained = fitness_errors(arch, scored.trained, X_fit, Y_fit, metric=settings["fitness"],
                             loss=settings["loss"])
    trained = np.where(np.isfinite(scored.errors), trained, np.inf)  # diverged: never kept
    better = trained < errs
    out = np.array(genomes)
    out[better] = scored.trained[better]
    return out, float(scored.sample_passes.sum()), (errs, trained)


def _fitness_in_float64(mode: str, errs: tuple[np.ndarray, np.ndarray], score: float) -> float:
    """The best genome's GA fitness ``score`` again in float64, the precision of val_error.

    The GA scored a genome's trained weights: in mode "baldwinian" those are retrained
    exactly (``errs[1]``); a Lamarckian genome written back *is* its trained weights
    (``errs[0]``), one not written back (``lamarck_prob < 1``) is retrained like a Baldwinian
    one. The score itself (float32 for a float32 population) tells the two apart: they
    differ by a BP run, it and its float64 value by rounding.
    """
    genome, trained = float(errs[0][0]), float(errs[1][0])
    if mode == "baldwinian" or abs(trained - score) < abs(genome - score):
        return trained
    return genome


def _fine_tune(arch: Architecture, starts: np.ndarray, data: tuple, bp: BPConfig,
               train_kw: dict, val_kw: dict, fitness: str, loss: str,
               entropy: int) -> tuple[Network, History, np.ndarray]:
    """BP fine-tune of every starting point; a member never ends worse than its start.

    The trainer already counts the start as epoch -1 of its best-epoch restore; the
    fitness (which may be another metric than the loss) is checked here as well, and a
    member whose fine-tune did not improve it, or blew up, keeps its starting weights.
    """
    X, Y, X_fit, Y_fit = data
    net = Network.from_architecture(arch, np.array(starts, dtype=bp.dtype))
    history = train(net, X, Y, epochs=bp.max_epochs, seed=int_seed(entropy, _FINAL),
                    **train_kw, **val_kw)
    params = net.params.astype(np.float64)
    before = fitness_errors(arch, np.asarray(starts, dtype=np.float64), X_fit, Y_fit,
                            metric=fitness, loss=loss)
    after = fitness_errors(arch, params, X_fit, Y_fit, metric=fitness, loss=loss)
    worse = ~(after <= before) & np.isfinite(before)  # NaN/inf after a finite start too
    params[worse] = starts[worse]
    kept = worse | (history.best_epoch < 0)  # the trainer itself restored the start
    if kept.any():
        # Not improving on the GA's best is normal (it was chosen on the same validation
        # data); a fine-tune that diverged or blew up is worth a warning.
        bad = history.diverged | ~np.isfinite(after) | (after > 10 * before)
        logger.log(
            logging.WARNING if bad[kept].any() else logging.INFO,
            "the BP fine-tune did not improve %d of %d network(s) (fitness before -> after: "
            "%s%s); their starting weights were kept", int(kept.sum()), len(kept),
            ", ".join(f"{b:.4g} -> {a:.4g}" for b, a in zip(before[kept], after[kept],
                                                           strict=True)),
            "; the fine-tune diverged or blew up" if bad[kept].any() else "")
    return Network.from_architecture(arch, params), history, kept


def _baseline(arch, data, val_kw, n_restarts, budget_passes, bp, train_kw, fitness, loss,
              entropy) -> BaselineResult:
    """Plain BP restarts, each allowed the GA-BP run's whole cost in sample-passes."""
    X, Y, X_fit, Y_fit = data
    n = X.shape[0]
    bs = n if bp.batch_size is None else min(bp.batch_size, n)
    steps_per_epoch = math.ceil(n / bs)
    # every epoch (or full-batch iteration) costs at least n sample-passes, so this many
    # can never be too few; the sample-pass budget is what stops each restart
    epochs = max(1, math.ceil(budget_passes / n))
    net = Network.from_architecture(
        arch, init_params(arch, n_restarts, rng=stream(entropy, _BASELINE), dtype=bp.dtype))
    hist = train(net, X, Y, epochs=epochs, seed=int_seed(entropy, _BASELINE, 1),
                 max_sample_passes=budget_passes, **train_kw, **val_kw)
    params = net.params.astype(np.float64)
    errors = fitness_errors(arch, params, X_fit, Y_fit, metric=fitness, loss=loss)
    first_order = bp.optimizer not in SECOND_ORDER
    return BaselineResult(Network.from_architecture(arch, params), hist, errors,
                          epochs * steps_per_epoch if first_order else epochs,
                          float(budget_passes))
