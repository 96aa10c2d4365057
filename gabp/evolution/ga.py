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
generation is scored as batches of networks by the population-batched trainer; joblib scores
the batches in parallel with one pool reused across generations. DEAP provides the toolbox
(operators are registered there and may be replaced), ``Statistics``, ``Logbook`` and
``HallOfFame``.

Randomness: one seed -> ``numpy.random.SeedSequence`` -> a stream per purpose and
generation, drawn in the parent process; Python's ``random`` (for any DEAP operator a user
registers) is reseeded from the same sequence every generation. Results do not depend on
``n_jobs``, and resuming from a checkpoint gives the same result as an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from deap import base, creator, tools
from joblib import Parallel, delayed, effective_n_jobs
from tqdm.auto import tqdm

from .._files import NpzReader, atomic_open
from .._seeding import int_seed, stream
from .._validation import check_array, check_float, check_int, check_same_length, fail
from ..layers import Layer
from ..network import Architecture, Network, check_loss, init_params
from ..optimizers import SECOND_ORDER
from ..trainer import History, as_targets, resolve_optimizer, train
from .config import GAConfig
from .operators import CROSSOVERS, MUTATIONS, SELECTIONS, make_offspring
from .problem import (
    BPConfig,
    Scores,
    check_fitness,
    check_mode,
    ensemble_error,
    fitness_errors,
    score_genomes,
)

logger = logging.getLogger(__name__)

# DEAP creator classes, defined once at import so that worker processes can unpickle them.
if not hasattr(creator, "GABPFitnessMin"):
    creator.create("GABPFitnessMin", base.Fitness, weights=(-1.0,))
if not hasattr(creator, "GABPIndividual"):
    creator.create("GABPIndividual", np.ndarray, fitness=creator.GABPFitnessMin)

# Stream keys of the seed sequence.
_INIT, _GEN, _BP, _FINAL, _BASELINE, _LAMARCK, _PYRANDOM = range(7)
CHECKPOINT_FORMAT = "gabp.checkpoint/1"


@dataclass
class GAState:
    """What a callback sees after each generation."""

    generation: int
    population: np.ndarray
    errors: np.ndarray
    best_genome: np.ndarray
    best_error: float
    logbook: tools.Logbook
    elapsed: float


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
        Its fitness (error; lower is better).
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
    kept_start : ndarray of shape (n_members,), bool
        Members whose fine-tune did not improve on its starting weights (they were kept).
    ensemble : int
        Networks averaged by the delivered model (``network.n_networks``).
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
    kept_start: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=bool))

    @property
    def ensemble(self) -> int:
        """Networks averaged by the delivered model."""
        return self.network.n_networks


@dataclass
class _GAOutcome:
    """What the evolution loop hands back to :func:`evolve`."""

    population: np.ndarray
    errors: np.ndarray | None = None
    logbook: tools.Logbook | None = None
    hof: list[Any] = field(default_factory=list)
    n_evaluations: int = 0
    n_failed: int = 0
    n_steps: int = 0
    sample_passes: float = 0.0
    generation: int = 0
    stop_reason: str = "n_generations"
    best_gen: int = 0


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


def _statistics() -> tools.Statistics:
    stats = tools.Statistics()
    stats.register("error_min", lambda e: float(np.min(e)) if len(e) else math.inf)
    stats.register("error_mean", lambda e: float(np.mean(e)) if len(e) else math.inf)
    stats.register("error_std", lambda e: float(np.std(e)) if len(e) else math.inf)
    stats.register("error_max", lambda e: float(np.max(e)) if len(e) else math.inf)
    return stats


def _diversity(pop: np.ndarray) -> float:
    """Mean over genes of the population's standard deviation."""
    return float(np.mean(np.std(pop, axis=0)))


def _hof_candidates(pop: np.ndarray, errs: np.ndarray, k: int) -> list[Any]:
    """The ``k`` best distinct finite individuals: all a ``HallOfFame(k)`` could admit.

    Wrapping every genome as a DEAP individual each generation is costly for large
    populations; nothing ranked below the ``k`` best distinct ones can enter the hall.
    """
    chosen: list[int] = []
    for i in np.argsort(errs, kind="stable"):
        if not np.isfinite(errs[i]) or len(chosen) == k:
            break
        if not any(np.array_equal(pop[i], pop[j]) for j in chosen):
            chosen.append(int(i))
    return [_as_individual(pop[i], errs[i]) for i in chosen]


def _as_individual(genome: np.ndarray, error: float) -> Any:
    ind = creator.GABPIndividual(genome.copy())
    ind.fitness.values = (float(error),)
    return ind


class _Evaluator:
    """Scores genomes in chunks through one joblib pool (kept open for the whole run).

    The first generation is scored in-process and timed; the pool is used from then on
    only if that took at least ``min_seconds`` (shipping tiny generations to worker
    processes costs more than it saves). Chunking never changes the scores, so this choice
    does not affect results.
    """

    def __init__(self, parallel: Parallel, n_chunks: int, arch: Architecture,
                 data: tuple[np.ndarray, ...], settings: dict[str, Any],
                 min_seconds: float) -> None:
        self.parallel = parallel
        self.n_chunks = max(1, n_chunks)
        self.arch_dict = arch.to_dict()
        self.data = data
        self.settings = settings
        self.min_seconds = min_seconds
        self.use_pool: bool | None = None if self.n_chunks > 1 and min_seconds > 0 else (
            self.n_chunks > 1)

    def __call__(self, genomes: np.ndarray, seed: int) -> Scores:
        k = genomes.shape[0]
        if k == 0:
            return Scores(np.zeros(0), None, np.zeros(0, dtype=np.int64),
                          np.zeros(0, dtype=bool), np.zeros(0))
        chunks = [c for c in np.array_split(np.arange(k), min(self.n_chunks, k)) if len(c)]
        if self.use_pool:
            results = self.parallel(
                delayed(score_genomes)(self.arch_dict, genomes[c], *self.data, self.settings,
                                       seed)
                for c in chunks
            )
        else:
            t0 = time.perf_counter()
            results = [score_genomes(self.arch_dict, genomes[c], *self.data, self.settings, seed)
                       for c in chunks]
            if self.use_pool is None:
                self.use_pool = time.perf_counter() - t0 >= self.min_seconds
                logger.debug("generation 0 scored in %.3f s: %s", time.perf_counter() - t0,
                             "using the worker pool" if self.use_pool else "staying in-process")
        trained = (None if results[0].trained is None
                   else np.concatenate([r.trained for r in results]))
        return Scores(
            errors=np.concatenate([r.errors for r in results]),
            trained=trained,
            n_steps=np.concatenate([r.n_steps for r in results]),
            failed=np.concatenate([r.failed for r in results]),
            sample_passes=np.concatenate([r.sample_passes for r in results]),
        )


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


def logbook_path(checkpoint_path: str | os.PathLike) -> str:
    """The file next to a checkpoint that holds its logbook, one JSON record a line."""
    return os.path.splitext(os.fspath(checkpoint_path))[0] + ".logbook.jsonl"


def _append_logbook(path: str, records: list[dict[str, Any]], fresh: bool) -> None:
    """Append ``records`` (those since the last checkpoint) to the logbook file; fsync.

    Only the new records are written, so a checkpoint costs the same at generation 10
    and at generation 10,000. ``fresh`` starts the file afresh (the records are then all
    of them).
    """
    with open(path, "w" if fresh else "a", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _save_checkpoint(path: str, state: dict[str, Any]) -> None:
    """Write the GA state atomically; the logbook goes to :func:`logbook_path` (appended).

    The ``.npz`` records how many logbook lines belong to it, so lines appended by a run
    killed before its next checkpoint are ignored on resume.
    """
    _append_logbook(logbook_path(path), state["new_records"], state["n_logbook_saved"] == 0)
    meta = {k: state[k] for k in ("format", "generation", "entropy", "n_evaluations", "n_failed",
                                  "total_steps", "sample_passes", "best_gen", "elapsed",
                                  "stall", "best_so_far", "config", "n_logbook")}
    with atomic_open(path) as fh:
        np.savez(fh, population=state["population"], errors=state["errors"],
                 hof_genomes=state["hof_genomes"], hof_errors=state["hof_errors"],
                 meta=np.array(json.dumps(meta)))


def _read_logbook(path: str, n: int) -> list[dict[str, Any]]:
    """The first ``n`` records of a checkpoint's logbook file (later lines are dropped)."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [fh.readline() for _ in range(n)]
        records = [json.loads(line) for line in lines]
    except (OSError, ValueError) as exc:
        raise ValueError(f"The checkpoint's logbook {path} is missing or damaged ({exc}); "
                         "start the run again.") from None
    if any(not isinstance(r, dict) for r in records):
        raise ValueError(f"The checkpoint's logbook {path} is damaged; start the run again.")
    return records


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`evolve` (no pickle, bounded).

    The metadata is read first; every array's header must then match the population size,
    hall-of-fame size and architecture it records before the data is read. A damaged,
    truncated or foreign file raises ``ValueError`` naming it.
    """
    path = os.fspath(path)
    with NpzReader(path, "gabp checkpoint") as npz:
        try:
            meta = json.loads(npz.read_text("meta"))
            fmt = meta.get("format")
            if fmt != CHECKPOINT_FORMAT:
                raise npz.error(f"format {fmt!r}, expected {CHECKPOINT_FORMAT!r}")
            arch = Architecture.from_dict(meta["config"]["architecture"])
            P = int(meta["config"]["ga"]["population_size"])
            n_hof = int(meta["config"]["ga"]["hall_of_fame"])
            n_logbook = int(meta["n_logbook"])
        except ValueError as exc:
            if str(exc).startswith(path):
                raise
            raise npz.error(f"bad metadata ({exc})") from None
        except (TypeError, KeyError, AttributeError, IndexError) as exc:
            raise npz.error(f"bad metadata ({type(exc).__name__}: {exc})") from None
        meta["population"] = npz.read("population", shape=(P, arch.n_params))
        meta["errors"] = npz.read("errors", shape=(P,))
        meta["hof_genomes"] = npz.read("hof_genomes", shape=(None, arch.n_params))
        meta["hof_errors"] = npz.read("hof_errors", shape=(meta["hof_genomes"].shape[0],))
        if meta["hof_genomes"].shape[0] > n_hof:
            raise npz.error("more hall-of-fame genomes than the hall holds")
    meta["logbook"] = _read_logbook(logbook_path(path), n_logbook)
    return meta


def _logbook_from_records(records: list[dict[str, Any]]) -> tools.Logbook:
    lb = tools.Logbook()
    lb.header = list(records[0].keys()) if records else []
    for r in records:
        lb.record(**r)
    return lb


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
    parallel_threshold: float = 0.1,
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
    parallel_threshold : float
        With ``n_jobs`` > 1, the first generation is scored in-process and the worker pool
        is used only if that took at least this many seconds; ``0`` always uses the pool
        (or the Dask cluster). Results are the same either way.
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
    mode = check_mode(mode, where)
    fitness = check_fitness(fitness, where)
    if fitness_on not in ("validation", "train"):
        fail("fitness_on", where, "'validation' or 'train'", fitness_on)
    if ga is not None and not isinstance(ga, GAConfig):
        fail("ga", where, "a GAConfig or None", ga, exc=TypeError,
             hint="Build one with GAConfig(population_size=..., ...).")
    if bp is not None and not isinstance(bp, BPConfig):
        fail("bp", where, "a BPConfig or None", bp, exc=TypeError,
             hint="Build one with BPConfig(learning_rate=..., ...).")
    ga = (ga or GAConfig()).validate(where)
    bp = (bp or BPConfig()).validate(where)
    if n_jobs is not None and check_int(n_jobs, "n_jobs", where, low=-1024, high=1024) == 0:
        fail("n_jobs", where, "None, a positive integer or a negative one (-1: all cores)",
             n_jobs)
    if isinstance(hidden_layer_sizes, (str, bytes)) or not isinstance(
            hidden_layer_sizes, (Sequence, np.ndarray)):
        fail("hidden_layer_sizes", where, "a sequence of positive integers, such as (10,)",
             hidden_layer_sizes, exc=TypeError)
    for size in hidden_layer_sizes:
        if not isinstance(size, (Layer, dict)):  # layer units (gabp.layers) pass through
            check_int(size, "hidden_layer_sizes", where, low=1)
    n_baseline = check_int(n_baseline, "n_baseline", where, low=0)
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", where, low=1)
    parallel_threshold = check_float(parallel_threshold, "parallel_threshold", where, low=0.0)
    ensemble = check_int(ensemble, "ensemble", where, low=1, high=ga.population_size)
    X, Y, X_val, Y_val = _validate_data(X, Y, X_val, Y_val, where)
    if (fitness_on == "validation" and X_val is None) and mode != "bp":
        fail("X_val", where, "given when fitness_on='validation'", X_val,
             hint="Pass validation data, or fitness_on='train' to score on the training data.")
    if resume and checkpoint_path is None:
        fail("checkpoint_path", where, "set when resume=True", checkpoint_path)
    hidden = tuple(hidden_layer_sizes)
    arch = Architecture.build((X.shape[1], *hidden, Y.shape[1]),
                              hidden_activation=hidden_activation,
                              output_activation=output_activation, where=where)
    check_loss(loss, arch, where)
    if fitness == "error_rate" and output_activation == "identity":
        fail("fitness", where, "a regression error when the output is 'identity'", fitness)
    X_fit, Y_fit = (X_val, Y_val) if fitness_on == "validation" and X_val is not None else (X, Y)

    entropy = int(np.random.SeedSequence(seed).entropy)
    config = {
        "architecture": arch.to_dict(), "loss": loss, "mode": mode, "fitness": fitness,
        "fitness_on": fitness_on, "ga": ga.to_dict(), "bp": bp.to_dict(),
        "n_baseline": n_baseline, "seed": entropy, "ensemble": ensemble,
    }
    t_start = time.perf_counter()
    # "auto" is resolved once, for the population the GA trains, so every BP run of this
    # evolution (individuals, fine-tune, baseline) uses the same solver.
    solver = (resolve_optimizer(arch, X.shape[0], loss, ga.population_size)
              if bp.optimizer == "auto" else bp.optimizer)
    bp_run = replace(bp, optimizer=solver)
    settings = {
        "mode": mode, "fitness": fitness, "loss": loss, "bp_epochs": bp.bp_epochs,
        "dtype": bp.dtype, "train_kwargs": bp_run.train_kwargs(),
    }
    train_kw = dict(loss=loss, early_stopping=bp.early_stopping, patience=bp.patience,
                    **bp_run.train_kwargs())
    val_kw = {"X_val": X_val, "Y_val": Y_val} if X_val is not None else {}
    data = (X, Y, X_fit, Y_fit)

    if mode == "bp":
        outcome = _GAOutcome(population=init_params(arch, ensemble, method="glorot_uniform",
                                                    rng=stream(entropy, _INIT)))
        starts = outcome.population
        best_genome, best_fitness = starts[0], math.nan
    else:
        outcome = _run_ga(
            arch, ga, mode, data, settings, entropy, n_jobs, verbose, callbacks,
            None if checkpoint_path is None else os.fspath(checkpoint_path),
            checkpoint_every, resume, config, t_start, parallel_threshold,
        )
        best_genome = np.array(outcome.hof[0])
        best_fitness = float(outcome.hof[0].fitness.values[0])
        chosen = _best_distinct(outcome.population, outcome.errors, ensemble, best_genome)
        starts, passes = _starting_weights(arch, chosen, data, settings, entropy,
                                           outcome.best_gen)
        outcome.sample_passes += passes

    final, history, kept_start = _fine_tune(arch, starts, data, bp, train_kw, val_kw,
                                            fitness, loss, entropy)
    total_steps = int(outcome.n_steps + history.n_steps.sum())
    total_passes = float(outcome.sample_passes + history.sample_passes.sum())
    val_error = ensemble_error(arch, final.params, X_fit, Y_fit, metric=fitness, loss=loss)

    baseline = None
    if n_baseline and mode != "bp":
        baseline = _baseline(arch, data, val_kw, n_baseline, total_passes, bp_run, train_kw,
                             fitness, loss, entropy)
    hof_genomes = [np.array(ind) for ind in outcome.hof]
    return EvolutionResult(
        network=final, best_genome=np.array(best_genome), best_fitness=best_fitness,
        val_error=val_error, logbook=outcome.logbook, bp_history=history, baseline=baseline,
        hall_of_fame=hof_genomes, population=None if mode == "bp" else outcome.population,
        errors=outcome.errors, n_evaluations=outcome.n_evaluations, n_failed=outcome.n_failed,
        total_steps=total_steps, generations=outcome.generation,
        stop_reason="bp" if mode == "bp" else outcome.stop_reason,
        elapsed=time.perf_counter() - t_start, seed=entropy, config=config,
        total_sample_passes=total_passes, optimizer=solver, kept_start=kept_start,
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
                      entropy: int, best_gen: int) -> tuple[np.ndarray, float]:
    """Where each fine-tune starts: the genome, or what BP made of it if that scores better.

    In the hybrid modes a genome's fitness is that of its *trained* weights (Baldwinian, or
    Lamarckian without write-back), so the genome is trained again exactly as the GA scored
    it (the generation's BP seed) and whichever of the two has the lower fitness is kept:
    the fine-tune then starts from weights whose fitness is the GA's best, never worse.
    Returns the starting weights and the sample-passes this cost.
    """
    X, Y, X_fit, Y_fit = data
    errs = fitness_errors(arch, genomes, X_fit, Y_fit, metric=settings["fitness"],
                          loss=settings["loss"])
    if settings["mode"] not in ("baldwinian", "lamarckian"):
        return genomes, 0.0
    scored = score_genomes(arch.to_dict(), genomes, X, Y, X_fit, Y_fit, settings,
                           int_seed(entropy, _BP, best_gen))
    better = scored.errors < errs
    out = np.array(genomes)
    out[better] = scored.trained[better]
    return out, float(scored.sample_passes.sum())


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


def _run_ga(arch, ga, mode, data, settings, entropy, n_jobs, verbose, callbacks,
            checkpoint_path, checkpoint_every, resume, config, t_start, parallel_threshold):
    P = ga.population_size
    bounds = None if ga.bounds is None else (float(ga.bounds[0]), float(ga.bounds[1]))
    toolbox = make_toolbox(ga)
    stats = _statistics()
    hof = tools.HallOfFame(ga.hall_of_fame, similar=np.array_equal)
    chunks = effective_n_jobs(n_jobs)

    if resume:
        ck = load_checkpoint(checkpoint_path)
        if ck["config"] != json.loads(json.dumps(config)):
            raise ValueError(
                f"The checkpoint {checkpoint_path} was written with other settings; "
                "resume with the same data, architecture, mode, GA/BP settings and seed."
            )
        pop, errs = ck["population"], ck["errors"]
        logbook = _logbook_from_records(ck["logbook"])
        for g, e in zip(ck["hof_genomes"], ck["hof_errors"], strict=True):
            hof.insert(_as_individual(g, e))
        n_evals, n_failed, evo_steps = ck["n_evaluations"], ck["n_failed"], ck["total_steps"]
        passes, best_gen = ck["sample_passes"], ck["best_gen"]
        start_gen, stall, best_so_far = ck["generation"] + 1, ck["stall"], ck["best_so_far"]
        elapsed_before = ck["elapsed"]
        logger.info("resuming from generation %d", ck["generation"])
    else:
        logbook = tools.Logbook()
        logbook.header = ["gen", "nevals", "nfailed", "error_min", "error_mean", "error_std",
                          "error_max", "best_so_far", "diversity", "n_steps", "sample_passes",
                          "elapsed"]
        pop = init_params(arch, P, method=ga.init, init_range=ga.init_range,
                          rng=stream(entropy, _INIT))
        if bounds is not None:
            np.clip(pop, *bounds, out=pop)
        errs = np.full(P, np.inf)
        n_evals = n_failed = evo_steps = best_gen = 0
        passes = 0.0
        start_gen, stall, best_so_far, elapsed_before = 0, 0, math.inf, 0.0
    n_logbook_saved = 0  # records in the checkpoint's logbook file
    if resume:  # drop lines a killed run appended after its last checkpoint
        _append_logbook(logbook_path(checkpoint_path), ck["logbook"], fresh=True)
        n_logbook_saved = len(logbook)
    t0 = time.perf_counter()
    bar = tqdm(total=ga.n_generations + 1, initial=start_gen, disable=verbose != 1,
               desc=f"GA-BP ({mode})", unit="gen")
    stop_reason = "n_generations"
    generation = start_gen - 1
    with Parallel(n_jobs=n_jobs) as parallel:
        evaluate = _Evaluator(parallel, chunks, arch, data, settings,
                              float(parallel_threshold))
        for gen in range(start_gen, ga.n_generations + 1):
            generation = gen
            random.seed(int_seed(entropy, _PYRANDOM, gen))
            if gen == 0:
                invalid = np.ones(P, dtype=bool)
            else:
                pop, errs, invalid = _breed(pop, errs, toolbox, ga, bounds,
                                            stream(entropy, _GEN, gen), gen)
            idx = np.flatnonzero(invalid)
            scores = evaluate(pop[idx], int_seed(entropy, _BP, gen))
            failed = scores.failed
            errs[idx] = scores.errors
            if mode == "lamarckian" and scores.trained is not None:
                write = stream(entropy, _LAMARCK, gen).random(len(idx)) < ga.lamarck_prob
                write &= ~failed
                pop[idx[write]] = scores.trained[write]
            n_evals += len(idx)
            n_failed += int(failed.sum())
            evo_steps += int(scores.n_steps.sum())
            passes += float(scores.sample_passes.sum())
            if gen == 0 and not np.isfinite(errs).any():
                raise RuntimeError(
                    "Every individual of the initial population failed (diverged or raised). "
                    "Check the data for extreme values, lower the learning rate, or narrow "
                    "the initial weights."
                )
            hof.update(_hof_candidates(pop, errs, ga.hall_of_fame))
            best = float(hof[0].fitness.values[0])
            stall = 0 if best < best_so_far else stall + 1
            if best < best_so_far:  # only a genome scored this generation can improve it
                best_gen = gen
            best_so_far = min(best, best_so_far)
            elapsed = elapsed_before + time.perf_counter() - t0
            finite = errs[np.isfinite(errs)]
            logbook.record(gen=gen, nevals=len(idx), nfailed=int(failed.sum()),
                           **stats.compile(finite), best_so_far=best_so_far,
                           diversity=_diversity(pop), n_steps=evo_steps, sample_passes=passes,
                           elapsed=elapsed)
            bar.update(1)
            bar.set_postfix(best=f"{best_so_far:.4g}")
            if verbose > 1:
                logger.info("generation %d: best %.6g, mean %.6g, %d evaluations, %d failed, "
                            "%.2f s", gen, best_so_far, logbook[-1]["error_mean"], len(idx),
                            int(failed.sum()), elapsed)
            if checkpoint_path is not None and (gen % checkpoint_every == 0
                                                or gen == ga.n_generations):
                _save_checkpoint(checkpoint_path, {
                    "format": CHECKPOINT_FORMAT, "generation": gen, "entropy": entropy,
                    "n_evaluations": n_evals, "n_failed": n_failed, "total_steps": evo_steps,
                    "sample_passes": passes, "best_gen": best_gen,
                    "elapsed": elapsed, "stall": stall, "best_so_far": best_so_far,
                    "config": config, "n_logbook": len(logbook),
                    "new_records": [dict(r) for r in logbook[n_logbook_saved:]],
                    "n_logbook_saved": n_logbook_saved,
                    "population": pop, "errors": errs,
                    "hof_genomes": np.array([np.asarray(i) for i in hof]),
                    "hof_errors": np.array([i.fitness.values[0] for i in hof]),
                })
                n_logbook_saved = len(logbook)
            state = GAState(gen, pop, errs, np.array(hof[0]), best, logbook, elapsed)
            if any(bool(cb(state)) for cb in callbacks):
                stop_reason = "callback"
                break
            if ga.target_error is not None and best_so_far <= ga.target_error:
                stop_reason = "target_error"
                break
            if ga.stagnation is not None and stall >= ga.stagnation:
                stop_reason = "stagnation"
                break
            if ga.max_time is not None and elapsed >= ga.max_time:
                stop_reason = "max_time"
                break
    bar.close()
    return _GAOutcome(population=pop, errors=errs, logbook=logbook, hof=list(hof),
                      n_evaluations=n_evals, n_failed=n_failed, n_steps=evo_steps,
                      sample_passes=passes, generation=generation, stop_reason=stop_reason,
                      best_gen=best_gen)


def _breed(pop, errs, toolbox, ga: GAConfig, bounds, rng: np.random.Generator, gen: int):
    """One generation of selection, crossover, mutation and elitism.

    Returns the new population, its errors (valid for unchanged individuals) and a mask of
    individuals that must be evaluated.
    """
    n_off = pop.shape[0] - ga.n_elite
    off, off_err, invalid = make_offspring(pop, errs, toolbox, n_off, ga.crossover_prob, rng,
                                           bounds, gen / max(ga.n_generations, 1))
    elite = np.argsort(errs, kind="stable")[: ga.n_elite]
    new_pop = np.concatenate([pop[elite], off])
    new_err = np.concatenate([errs[elite], off_err])
    return new_pop, new_err, np.concatenate([np.zeros(ga.n_elite, dtype=bool), invalid])
