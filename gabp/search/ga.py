"""The GA over hyperparameter genomes: single-objective with elitism, or NSGA-II.

Genomes live in ``[0, 1]^n_genes`` (see :mod:`gabp.search.space`) and evolve with the
population-level operators of :mod:`gabp.evolution.operators` (bounds ``(0, 1)``), registered
in a DEAP toolbox by :func:`gabp.evolution.make_toolbox`. DEAP gives ``Statistics``,
``Logbook``, ``HallOfFame`` and, in multi-objective mode, ``selNSGA2`` on (validation error,
number of parameters).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from deap import creator, tools

from ..evolution.config import GAConfig
from ..evolution.engine import (
    NSGA2,
    Checkpointing,
    ElitistGA,
    Evaluation,
    GAState,
    run_evolution,
)
from ..evolution.ga import make_toolbox
from .evaluate import Evaluator
from .space import CNN_NAMES, SearchSpace

# Seed-sequence stream keys of the search (the values keep earlier results).
_INIT, _GEN, _PYRANDOM = 1, 2, 3

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
        One record per generation: the common columns
        (:data:`gabp.evolution.engine.LOGBOOK_COLUMNS`), then ``n_trainings``,
        ``n_cache_hits`` and the best-so-far individual's hyperparameters (``n_layers``,
        ``hidden_1..``, ``activation``, ...).
    history : list of dict
        Per generation: ``gen``, ``error`` and ``params`` (best-so-far config).
    population : ndarray of shape (P, n_genes)
    errors : ndarray of shape (P,)
    hall_of_fame : list of (config, error)
    pareto_front : list of dict or None
        Multi-objective mode: non-dominated ``{"params", "error", "n_params"}`` among every
        configuration trained, by increasing ``n_params``.
    sample_passes : float
        Cost of every training of the search, in sample-passes.
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
    sample_passes: float = 0.0


def flat_params(config: dict[str, Any], max_layers: int) -> dict[str, Any]:
    """A config as flat columns: ``n_layers``, ``hidden_1..hidden_max`` (``None`` where
    absent) and the other hyperparameters (``momentum`` ``None`` when inactive; ``model``,
    ``filters``, ``kernel_size``, ``conv_layers`` for spaces with MLPs and CNNs)."""
    hidden = list(config["hidden_layer_sizes"])
    out: dict[str, Any] = {"n_layers": len(hidden)}
    for i in range(max(max_layers, len(hidden))):
        out[f"hidden_{i + 1}"] = hidden[i] if i < len(hidden) else None
    for k in ("activation", "optimizer", "learning_rate", "momentum", "alpha", "batch_size",
              "max_epochs", "patience", "n_lags"):
        if k == "n_lags" and k not in config:
            continue
        out[k] = config.get(k)
    if "model" in config:  # a space with both kinds: the CNN columns, None for an MLP
        for k in ("model", *CNN_NAMES):
            out[k] = config.get(k)
    return out


class HyperparameterProblem:
    """A genome is a point of ``[0, 1]^n_genes`` that :class:`SearchSpace` decodes to a
    configuration; its fitness is the mean validation error of that configuration's
    trainings (the :class:`~gabp.search.evaluate.Evaluator` caches them).
    """

    stream_keys = (_INIT, _GEN, _PYRANDOM)
    all_failed_message = (
        "Every configuration of the initial population failed (diverged or raised). "
        "Narrow the learning-rate range or check the data for extreme values.")

    def __init__(self, space: SearchSpace, evaluate: Evaluator) -> None:
        self.space, self.evaluate_configs = space, evaluate
        probe = flat_params(space.decode(np.full(space.n_genes, 0.5)), space.max_layers)
        self.extra_columns = ("n_trainings", "n_cache_hits", *probe)
        self.history: list[dict[str, Any]] = []
        self._seen = (0, 0)  # (n_trainings, n_cache_hits) at the last record

    def initial_population(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniform random genomes."""
        return self.space.sample(n, rng)

    def evaluate(self, genomes: np.ndarray, generation: int) -> Evaluation:
        """Errors of the decoded configurations (training only those not cached)."""
        ev = self.evaluate_configs
        configs = self.space.decode_batch(genomes) if len(genomes) else []
        before = set(ev.cache)
        failed_before = ev.n_failed
        errors = ev(configs) if configs else np.zeros(0)
        new = [k for k in ev.cache if k not in before]
        failed = np.zeros(len(genomes), dtype=bool)
        failed[: ev.n_failed - failed_before] = True  # counted once per failed config
        steps = sum(int(ev.cache[k].n_steps.sum()) for k in new)
        passes = sum(float(np.sum(ev.cache[k].sample_passes)) for k in new
                     if ev.cache[k].sample_passes is not None)
        return Evaluation(errors, genomes, failed, steps, passes)

    def key(self, genome: np.ndarray) -> Hashable:
        """Genomes are the same individual when they decode to the same configuration."""
        return self.space.key(self.space.decode(np.asarray(genome)))

    def record(self, best_genome: np.ndarray) -> dict[str, Any]:
        """Trainings and cache hits of the generation, and the best configuration so far."""
        ev = self.evaluate_configs
        best_cfg = self.space.decode(np.asarray(best_genome))
        rec = {"n_trainings": ev.n_trainings - self._seen[0],
               "n_cache_hits": ev.n_cache_hits - self._seen[1],
               **flat_params(best_cfg, self.space.max_layers)}
        self._seen = (ev.n_trainings, ev.n_cache_hits)
        self.history.append({"gen": len(self.history),
                             "error": float(ev.cache[self.space.key(best_cfg)].error),
                             "params": best_cfg})
        return rec

    def n_params(self, genomes: np.ndarray) -> np.ndarray:
        """Weights and biases of each genome's network (NSGA-II's second objective)."""
        cache = self.evaluate_configs.cache
        return np.array([cache[self.key(g)].n_params for g in genomes], dtype=float)

    def state_dict(self) -> dict[str, Any]:
        """The evaluator's cache and counters, the history and the record counters."""
        return {"evaluator": self.evaluate_configs.state_dict(), "seen": list(self._seen),
                "history": [{**h, "params": config_to_dict(h["params"])}
                            for h in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` gave."""
        self.evaluate_configs.load_state_dict(state["evaluator"])
        self._seen = tuple(state["seen"])
        self.history = [{**h, "params": {k: tuple(v) if isinstance(v, list) else v
                                         for k, v in h["params"].items()}}
                        for h in state["history"]]


def config_to_dict(config: dict[str, Any]) -> dict[str, Any]:
    """A config with lists instead of tuples (JSON / TOML)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


def run_search(
    space: SearchSpace,
    evaluate: Evaluator,
    *,
    ga: GAConfig = DEFAULT_GA,
    multi_objective: bool = False,
    entropy: int,
    callbacks: Sequence[Callable[[GAState], bool]] = (),
    logger: Any = None,
    verbose: int = 0,
    checkpoint: Checkpointing | None = None,
    config: dict[str, Any] | None = None,
    fingerprint: str = "",
) -> SearchResult:
    """Evolve hyperparameter genomes; ``evaluate(configs) -> errors`` scores them.

    ``ga.n_generations == 0`` is random search: one population of ``ga.population_size``
    uniform random genomes. The loop is :func:`gabp.evolution.engine.run_evolution`'s:
    callbacks ``cb(state: GAState) -> stop?``, the stopping rules of ``ga``, a progress
    bar (``verbose=1``) or a log line per generation (``verbose>=2``, or ``logger`` given),
    and checkpoint/resume (``checkpoint``; ``config`` and ``fingerprint`` must then match).
    """
    t0 = time.perf_counter()
    problem = HyperparameterProblem(space, evaluate)
    toolbox = make_toolbox(ga)
    strategy = (NSGA2(ga, toolbox, (0.0, 1.0), problem.n_params) if multi_objective
                else ElitistGA(ga, toolbox, (0.0, 1.0)))
    if config is None:
        config = {"space": space.to_dict(), "ga": ga.to_dict(),
                  "multi_objective": bool(multi_objective), "seed": entropy}
    state, logbook, stop = run_evolution(
        problem, strategy, ga, entropy=entropy, config=config, fingerprint=fingerprint,
        callbacks=callbacks, verbose=max(verbose, 2 if logger is not None else 0),
        checkpoint=checkpoint, desc="search")
    front = _pareto_front(evaluate) if multi_objective else None
    hof = [(space.decode(g), float(e)) for g, e in
           zip(state.hof_genomes, state.hof_errors, strict=True)]
    return SearchResult(
        best_config=hof[0][0], best_error=hof[0][1], logbook=logbook,
        history=problem.history, population=state.population, errors=state.errors,
        hall_of_fame=hof, pareto_front=front, n_trainings=evaluate.n_trainings,
        n_cache_hits=evaluate.n_cache_hits, n_failed=evaluate.n_failed,
        generations=state.generation, elapsed=time.perf_counter() - t0, seed=entropy,
        stop_reason=stop, config=config, sample_passes=state.sample_passes,
    )


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True if ``a`` is no worse than ``b`` in both objectives and better in one."""
    return a[0] <= b[0] and a[1] <= b[1] and (a[0] < b[0] or a[1] < b[1])


def _pareto_front(evaluate: Evaluator) -> list[dict[str, Any]]:
    items = [(k, t) for k, t in evaluate.cache.items() if np.isfinite(t.error)]
    inds = []
    for i, (_, t) in enumerate(items):
        ind = creator.GABPIndex2([i])
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
