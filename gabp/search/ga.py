"""The GA over hyperparameter genomes: single-objective with elitism, or NSGA-II.

Genomes live in ``[0, 1]^n_genes`` (see :mod:`gabp.search.space`) and evolve with the
population-level operators of :mod:`gabp.evolution.operators` (bounds ``(0, 1)``), registered
in a DEAP toolbox by :func:`gabp.evolution.make_toolbox`. DEAP gives ``Statistics``,
``Logbook``, ``HallOfFame`` and, in multi-objective mode, ``selNSGA2`` on (validation error,
number of parameters).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from deap import base, creator, tools

from .._seeding import int_seed, stream
from ..evolution.config import GAConfig
from ..evolution.ga import make_toolbox
from ..evolution.operators import make_offspring
from .evaluate import Evaluator
from .space import SearchSpace

# DEAP creator classes, created once at import (unique names; picklable by workers).
if not hasattr(creator, "GABPSearchFitness"):
    creator.create("GABPSearchFitness", base.Fitness, weights=(-1.0,))
if not hasattr(creator, "GABPSearchFitness2"):
    creator.create("GABPSearchFitness2", base.Fitness, weights=(-1.0, -1.0))
if not hasattr(creator, "GABPSearchIndividual"):
    creator.create("GABPSearchIndividual", list, fitness=creator.GABPSearchFitness)
if not hasattr(creator, "GABPSearchIndividual2"):
    creator.create("GABPSearchIndividual2", list, fitness=creator.GABPSearchFitness2)

_INIT, _GEN, _PYRANDOM = 1, 2, 3
_BIG = 1e300  # stands for +inf in NSGA-II's sorting and crowding arithmetic

#: GA settings of the search when the user gives none.
DEFAULT_GA = GAConfig(
    population_size=20, n_generations=10, selection="tournament", tournsize=3,
    crossover="uniform", crossover_prob=0.7, mutation="gaussian", mutation_prob=0.2,
    mutation_sigma=0.2, n_elite=2, bounds=(0.0, 1.0), hall_of_fame=5,
)


@dataclass
class SearchResult:
    """Plain outcome of :func:`run_search`.

    Attributes
    ----------
    best_config : dict
        Lowest mean validation error seen.
    best_error : float
    logbook : deap.tools.Logbook
        One record per generation: ``gen``, ``nevals``, ``n_trainings``, ``n_cache_hits``,
        ``nfailed``, ``error_min/mean/std/max`` (finite errors of the population),
        ``best_so_far``, ``elapsed`` and the best-so-far individual's hyperparameters
        (``n_layers``, ``hidden_1..``, ``activation``, ...).
    history : list of dict
        Per generation: ``gen``, ``error`` and ``params`` (best-so-far config).
    population : ndarray of shape (P, n_genes)
    errors : ndarray of shape (P,)
    hall_of_fame : list of (config, error)
    pareto_front : list of dict or None
        Multi-objective mode: non-dominated ``{"params", "error", "n_params"}`` among every
        configuration trained, by increasing ``n_params``.
    """

    best_config: dict[str, Any]
    best_error: float
    logbook: tools.Logbook
    history: list[dict[str, Any]]
    population: np.ndarray
    errors: np.ndarray
    hall_of_fame: list[tuple[dict[str, Any], float]]
    pareto_front: list[dict[str, Any]] | None
    n_trainings: int
    n_cache_hits: int
    n_failed: int
    generations: int
    elapsed: float
    seed: int
    stop_reason: str = "n_generations"
    config: dict[str, Any] = field(default_factory=dict)


def flat_params(config: dict[str, Any], max_layers: int) -> dict[str, Any]:
    """A config as flat columns: ``n_layers``, ``hidden_1..hidden_max`` (``None`` where
    absent) and the other hyperparameters (``momentum`` ``None`` when inactive)."""
    hidden = list(config["hidden_layer_sizes"])
    out: dict[str, Any] = {"n_layers": len(hidden)}
    for i in range(max(max_layers, len(hidden))):
        out[f"hidden_{i + 1}"] = hidden[i] if i < len(hidden) else None
    for k in ("activation", "optimizer", "learning_rate", "momentum", "alpha", "batch_size",
              "max_epochs", "patience", "n_lags"):
        if k == "n_lags" and k not in config:
            continue
        out[k] = config.get(k)
    return out


def _statistics() -> tools.Statistics:
    stats = tools.Statistics()
    for name, fn in (("error_min", np.min), ("error_mean", np.mean), ("error_std", np.std),
                     ("error_max", np.max)):
        stats.register(name, lambda e, fn=fn: float(fn(e)) if len(e) else math.inf)
    return stats


def run_search(
    space: SearchSpace,
    evaluate: Evaluator,
    *,
    ga: GAConfig = DEFAULT_GA,
    multi_objective: bool = False,
    entropy: int,
    callbacks: tuple[Callable[[dict[str, Any]], bool], ...] = (),
    logger: Any = None,
) -> SearchResult:
    """Evolve hyperparameter genomes; ``evaluate(configs) -> errors`` scores them.

    ``ga.n_generations == 0`` is random search: one population of ``ga.population_size``
    uniform random genomes. Callbacks get each generation's logbook record and may return
    True to stop.
    """
    t0 = time.perf_counter()
    P = ga.population_size
    toolbox = make_toolbox(ga)
    stats = _statistics()
    hof = tools.HallOfFame(ga.hall_of_fame, similar=lambda a, b: a.key == b.key)
    logbook = tools.Logbook()
    stat_cols = ["gen", "nevals", "n_trainings", "n_cache_hits", "nfailed", "error_min",
                 "error_mean", "error_std", "error_max", "best_so_far", "elapsed"]
    history: list[dict[str, Any]] = []
    best_so_far = math.inf
    stop_reason = "n_generations"

    def score(genomes: np.ndarray) -> np.ndarray:
        return evaluate(space.decode_batch(genomes)) if len(genomes) else np.zeros(0)

    def individual(genome: np.ndarray, err: float) -> Any:
        ind = creator.GABPSearchIndividual(genome.tolist())
        ind.fitness.values = (float(err),)
        ind.key = space.key(space.decode(genome))
        return ind

    pop = space.sample(P, stream(entropy, _INIT))
    rank = np.zeros(P)  # NSGA-II order (lower is better), used by tournament selection
    generation = 0
    for gen in range(ga.n_generations + 1):
        generation = gen
        random.seed(int_seed(entropy, _PYRANDOM, gen))
        t_before, h_before, f_before = (evaluate.n_trainings, evaluate.n_cache_hits,
                                        evaluate.n_failed)
        if gen == 0:
            errs = score(pop)
            nevals = P
            if multi_objective:
                pop, errs, rank = _nsga2_select(space, evaluate, pop, errs, P)
        else:
            rng = stream(entropy, _GEN, gen)
            progress = gen / max(ga.n_generations, 1)
            if multi_objective:
                off, _, changed = make_offspring(pop, rank, toolbox, P, ga.crossover_prob, rng,
                                                 (0.0, 1.0), progress)
                off_err = np.empty(P)
                off_err[changed] = score(off[changed])
                off_err[~changed] = evaluate.lookup(space.decode_batch(off[~changed]))
                nevals = int(changed.sum())
                pop, errs, rank = _nsga2_select(space, evaluate, np.concatenate([pop, off]),
                                                np.concatenate([errs, off_err]), P)
            else:
                off, off_err, changed = make_offspring(pop, errs, toolbox, P - ga.n_elite,
                                                       ga.crossover_prob, rng, (0.0, 1.0),
                                                       progress)
                elite = np.argsort(errs, kind="stable")[: ga.n_elite]
                off_err[changed] = score(off[changed])
                nevals = int(changed.sum())
                pop = np.concatenate([pop[elite], off])
                errs = np.concatenate([errs[elite], off_err])
        if gen == 0 and not np.isfinite(errs).any():
            raise RuntimeError(
                "Every configuration of the initial population failed (diverged or raised). "
                "Narrow the learning-rate range or check the data for extreme values."
            )
        hof.update([individual(g, e) for g, e in zip(pop, errs, strict=True)])
        best = hof[0]
        best_cfg = space.decode(np.asarray(best))
        best_so_far = min(best_so_far, float(best.fitness.values[0]))
        finite = errs[np.isfinite(errs)]
        record = {"gen": gen, "nevals": nevals,
                  "n_trainings": evaluate.n_trainings - t_before,
                  "n_cache_hits": evaluate.n_cache_hits - h_before,
                  "nfailed": evaluate.n_failed - f_before, **stats.compile(finite),
                  "best_so_far": best_so_far, "elapsed": time.perf_counter() - t0}
        params = flat_params(best_cfg, space.max_layers)
        if gen == 0:
            logbook.header = stat_cols + list(params)
        logbook.record(**record, **params)
        history.append({"gen": gen, "error": best_so_far, "params": best_cfg})
        if logger is not None:
            logger.info(logbook.stream)
        if any(bool(cb(dict(logbook[-1]))) for cb in callbacks):
            stop_reason = "callback"
            break

    front = _pareto_front(evaluate) if multi_objective else None
    best = hof[0]
    return SearchResult(
        best_config=space.decode(np.asarray(best)), best_error=float(best.fitness.values[0]),
        logbook=logbook, history=history, population=pop, errors=errs,
        hall_of_fame=[(space.decode(np.asarray(i)), float(i.fitness.values[0])) for i in hof],
        pareto_front=front, n_trainings=evaluate.n_trainings,
        n_cache_hits=evaluate.n_cache_hits, n_failed=evaluate.n_failed,
        generations=generation, elapsed=time.perf_counter() - t0, seed=entropy,
        stop_reason=stop_reason,
    )


def _objectives(evaluate: Evaluator, space: SearchSpace, genomes: np.ndarray,
                errs: np.ndarray) -> list[tuple[float, float]]:
    out = []
    for g, e in zip(genomes, errs, strict=True):
        n = evaluate.cache[space.key(space.decode(g))].n_params
        out.append((float(e) if np.isfinite(e) else _BIG, float(n)))
    return out


def _nsga2_select(space: SearchSpace, evaluate: Evaluator, pop: np.ndarray, errs: np.ndarray,
                  k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NSGA-II environmental selection of ``k`` genomes; returns them in NSGA-II order
    (fronts, then crowding), their errors and their rank positions ``0..k-1``."""
    inds = []
    for i, obj in enumerate(_objectives(evaluate, space, pop, errs)):
        ind = creator.GABPSearchIndividual2([i])
        ind.fitness.values = obj
        inds.append(ind)
    chosen = tools.selNSGA2(inds, k)
    idx = np.array([ind[0] for ind in chosen], dtype=int)
    return pop[idx].copy(), errs[idx].copy(), np.arange(k, dtype=float)


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True if ``a`` is no worse than ``b`` in both objectives and better in one."""
    return a[0] <= b[0] and a[1] <= b[1] and (a[0] < b[0] or a[1] < b[1])


def _pareto_front(evaluate: Evaluator) -> list[dict[str, Any]]:
    items = [(k, t) for k, t in evaluate.cache.items() if np.isfinite(t.error)]
    inds = []
    for i, (_, t) in enumerate(items):
        ind = creator.GABPSearchIndividual2([i])
        ind.fitness.values = (t.error, float(t.n_params))
        inds.append(ind)
    if not inds:
        return []
    first = tools.sortNondominated(inds, len(inds), first_front_only=True)[0]
    front = [{"params": evaluate.configs[items[ind[0]][0]], "error": items[ind[0]][1].error,
              "n_params": items[ind[0]][1].n_params} for ind in first]
    front.sort(key=lambda d: (d["n_params"], d["error"]))
    # sortNondominated keeps exact duplicates of objectives; keep one config per point
    out, seen = [], set()
    for d in front:
        point = (d["error"], d["n_params"])
        if point not in seen:
            seen.add(point)
            out.append(d)
    return out
