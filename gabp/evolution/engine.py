"""One evolution engine: an ask/tell strategy, an explicit state, one driver.

Both the weights GA (:func:`gabp.evolution.evolve`) and the hyperparameter search
(:func:`gabp.search.run_search`) run here; they differ only in their *problem*, the object
that knows what a genome means:

- a **problem** gives the initial population and scores a batch of genomes
  (:meth:`Problem.evaluate` returns an :class:`Evaluation`: the errors and the genomes to
  tell, which are the *trained* genomes where Lamarckian write-back applies);
- a **strategy** (:class:`ElitistGA`, :class:`NSGA2`) proposes genomes with ``ask`` and
  takes them back, evaluated, with ``tell``; it holds no state of its own: everything
  lives in an :class:`EngineState`, so a checkpoint is that state written to a file;
- the **driver** :func:`run_evolution` runs the loop once for every problem: seeding per
  generation, failure handling, hall of fame, logbook, progress bar, per-generation log
  lines, callbacks, stopping rules and checkpoint/resume.

What gabp does differently from DEAP's ``eaSimple``-style per-individual loops: the
population is one ``(P, n_genes)`` array, operators act on the whole array at once, and a
problem scores the whole batch of changed genomes in one call (a population of networks
trained together, or groups of configurations trained as populations). DEAP still provides
the toolbox, ``Statistics``, ``Logbook``, ``HallOfFame`` and ``selNSGA2``.

Randomness: one entropy -> ``numpy.random.SeedSequence`` streams keyed by
``problem.stream_keys`` (initial population, generation operators, Python's ``random``) and
the generation number, so results do not depend on ``n_jobs`` and a resumed run equals an
uninterrupted one bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from deap import base, creator, tools
from tqdm.auto import tqdm

from .._files import NpzReader, atomic_open
from .._seeding import int_seed, stream
from .config import GAConfig
from .operators import make_offspring

logger = logging.getLogger(__name__)

# DEAP creator classes, defined once at import so that worker processes can unpickle them.
if not hasattr(creator, "GABPFitnessMin"):
    creator.create("GABPFitnessMin", base.Fitness, weights=(-1.0,))
if not hasattr(creator, "GABPIndividual"):
    creator.create("GABPIndividual", np.ndarray, fitness=creator.GABPFitnessMin)
if not hasattr(creator, "GABPFitness2"):
    creator.create("GABPFitness2", base.Fitness, weights=(-1.0, -1.0))
if not hasattr(creator, "GABPIndex2"):
    creator.create("GABPIndex2", list, fitness=creator.GABPFitness2)

#: The logbook columns every run records, in this order (documented in runs/README.md);
#: a problem may append its own (:attr:`Problem.extra_columns`).
LOGBOOK_COLUMNS = ("gen", "nevals", "nfailed", "error_min", "error_mean", "error_std",
                   "error_max", "best_so_far", "diversity", "n_steps", "sample_passes",
                   "elapsed")
CHECKPOINT_FORMAT = "gabp.checkpoint/2"
_BIG = 1e300  # stands for +inf in NSGA-II's sorting and crowding arithmetic


@dataclass
class Evaluation:
    """What a problem returns for a batch of ``k`` genomes.

    Attributes
    ----------
    errors : ndarray of shape (k,)
        Fitness (an error, lower is better); ``inf`` where scoring failed.
    genomes : ndarray of shape (k, n_genes)
        The genomes to tell: the trained ones where Lamarckian write-back applies,
        otherwise the genomes asked.
    failed : ndarray of shape (k,), bool
    n_steps : int
        Gradient steps (solver iterations) spent on the batch.
    sample_passes : float
        Cost of the batch in sample-passes (see :class:`gabp.evolution.BaselineResult`).
    """

    errors: np.ndarray
    genomes: np.ndarray
    failed: np.ndarray
    n_steps: int = 0
    sample_passes: float = 0.0


class Problem(Protocol):
    """What the driver needs from a problem (weights, hyperparameters).

    A problem may also define ``stop_reason() -> str | None``, asked after every generation
    (the weights GA's holdout patience); a string ends the run with that reason.
    """

    #: Seed-sequence keys of (initial population, generation operators, Python's random).
    stream_keys: tuple[int, int, int]
    #: Logbook columns after :data:`LOGBOOK_COLUMNS`.
    extra_columns: tuple[str, ...]
    #: Message when every individual of the first generation fails.
    all_failed_message: str

    def initial_population(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def evaluate(self, genomes: np.ndarray, generation: int) -> Evaluation: ...

    def key(self, genome: np.ndarray) -> Hashable: ...

    def record(self, best_genome: np.ndarray) -> dict[str, Any]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class EngineState:
    """Everything a run carries from one generation to the next (and into a checkpoint).

    ``population`` / ``errors`` are the current generation; ``rank`` is the NSGA-II order
    used by selection (equal to ``errors`` for the single-objective GA); the hall of fame
    holds the best distinct genomes ever scored, best first.
    """

    population: np.ndarray
    errors: np.ndarray
    rank: np.ndarray
    hof_genomes: np.ndarray
    hof_errors: np.ndarray
    generation: int = -1
    best_so_far: float = math.inf
    best_gen: int = 0
    stall: int = 0
    n_evaluations: int = 0
    n_failed: int = 0
    n_steps: int = 0
    sample_passes: float = 0.0
    elapsed: float = 0.0
    logbook: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best_genome(self) -> np.ndarray:
        """The best genome ever scored."""
        return self.hof_genomes[0]

    @property
    def best_error(self) -> float:
        """Its error."""
        return float(self.hof_errors[0])


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

    @property
    def record(self) -> dict[str, Any]:
        """The generation's logbook record."""
        return dict(self.logbook[-1])

    def __getitem__(self, key: str) -> Any:
        """Deprecated: search callbacks used to get the record dict; use ``state.record``."""
        warnings.warn("search callbacks now receive a GAState; state[key] (the logbook "
                      "record) is deprecated and will be removed in the next release: use "
                      "state.record[key]", DeprecationWarning, stacklevel=2)
        return self.record[key]


@dataclass
class Proposal:
    """Genomes a strategy asks to have scored: ``genomes[changed]`` need evaluating, the
    others carry their parents' ``errors``."""

    genomes: np.ndarray
    errors: np.ndarray
    changed: np.ndarray


class ElitistGA:
    """Generational GA with elitism: ``n_elite`` best survive, the rest are offspring."""

    def __init__(self, ga: GAConfig, toolbox: base.Toolbox, bounds: tuple[float, float] | None
                 ) -> None:
        self.ga, self.toolbox, self.bounds = ga, toolbox, bounds

    def _offspring(self, state: EngineState, n_off: int, rng: np.random.Generator) -> Proposal:
        progress = (state.generation + 1) / max(self.ga.n_generations, 1)
        off, off_err, changed = make_offspring(
            state.population, state.rank, self.toolbox, n_off, self.ga.crossover_prob, rng,
            self.bounds, progress, carry=state.errors)
        return Proposal(off, off_err, changed)

    def ask(self, state: EngineState, rng: np.random.Generator) -> Proposal:
        """Offspring of the current population (selection, crossover, mutation) + elite."""
        n_elite = self.ga.n_elite
        p = self._offspring(state, state.population.shape[0] - n_elite, rng)
        elite = np.argsort(state.errors, kind="stable")[:n_elite]
        return Proposal(np.concatenate([state.population[elite], p.genomes]),
                        np.concatenate([state.errors[elite], p.errors]),
                        np.concatenate([np.zeros(n_elite, dtype=bool), p.changed]))

    def tell(self, state: EngineState, genomes: np.ndarray, errors: np.ndarray) -> None:
        """The evaluated (possibly trained) proposal becomes the population."""
        state.population, state.errors, state.rank = genomes, errors, errors


class NSGA2(ElitistGA):
    """NSGA-II on (error, ``objective(genomes)``): offspring compete with their parents.

    Tournament selection uses the NSGA-II order (fronts, then crowding distance).
    """

    def __init__(self, ga: GAConfig, toolbox: base.Toolbox, bounds: tuple[float, float] | None,
                 objective: Callable[[np.ndarray], np.ndarray]) -> None:
        super().__init__(ga, toolbox, bounds)
        self.objective = objective

    def ask(self, state: EngineState, rng: np.random.Generator) -> Proposal:
        """As many offspring as the population, all of them candidates."""
        return self._offspring(state, state.population.shape[0], rng)

    def tell(self, state: EngineState, genomes: np.ndarray, errors: np.ndarray) -> None:
        """Environmental selection among the parents and the new genomes."""
        if state.generation > 0:
            genomes = np.concatenate([state.population, genomes])
            errors = np.concatenate([state.errors, errors])
        k = state.population.shape[0]
        second = self.objective(genomes)
        inds = []
        for i, (e, s) in enumerate(zip(errors, second, strict=True)):
            ind = creator.GABPIndex2([i])
            ind.fitness.values = (float(e) if np.isfinite(e) else _BIG, float(s))
            inds.append(ind)
        idx = np.array([ind[0] for ind in tools.selNSGA2(inds, k)], dtype=int)
        state.population, state.errors = genomes[idx].copy(), errors[idx].copy()
        state.rank = np.arange(k, dtype=float)


def _statistics() -> tools.Statistics:
    stats = tools.Statistics()
    for name, fn in (("error_min", np.min), ("error_mean", np.mean), ("error_std", np.std),
                     ("error_max", np.max)):
        stats.register(name, lambda e, fn=fn: float(fn(e)) if len(e) else math.inf)
    return stats


def _hall_of_fame(state: EngineState, problem: Problem, size: int) -> tools.HallOfFame:
    """A DEAP hall of fame holding the state's, distinct by ``problem.key``."""
    hof = tools.HallOfFame(size, similar=lambda a, b: a.key == b.key)
    # DEAP inserts an individual ahead of those with an equal fitness: insert the worst
    # first so that ties keep their order (a resumed run must rank them as the original)
    for g, e in zip(state.hof_genomes[::-1], state.hof_errors[::-1], strict=True):
        hof.insert(_individual(g, e, problem))
    return hof


def _individual(genome: np.ndarray, error: float, problem: Problem) -> Any:
    ind = creator.GABPIndividual(np.array(genome, dtype=float))
    ind.fitness.values = (float(error),)
    ind.key = problem.key(genome)
    return ind


def _hof_update(hof: tools.HallOfFame, state: EngineState, problem: Problem) -> None:
    """Offer the hall the ``k`` best distinct finite individuals: all it could admit.

    Wrapping every genome as a DEAP individual each generation is costly for large
    populations; nothing ranked below the ``k`` best distinct ones can enter the hall.
    """
    chosen: list[Any] = []
    seen: set = set()
    for i in np.argsort(state.errors, kind="stable"):
        if not np.isfinite(state.errors[i]) or len(chosen) == hof.maxsize:
            break
        key = problem.key(state.population[i])
        if key not in seen:
            seen.add(key)
            ind = creator.GABPIndividual(state.population[i].copy())
            ind.fitness.values = (float(state.errors[i]),)
            ind.key = key
            chosen.append(ind)
    hof.update(chosen)
    state.hof_genomes = np.array([np.asarray(i) for i in hof])
    state.hof_errors = np.array([i.fitness.values[0] for i in hof])


def _diversity(pop: np.ndarray) -> float:
    """Mean over genes of the population's standard deviation."""
    return float(np.mean(np.std(pop, axis=0)))


def data_fingerprint(*arrays: np.ndarray | None) -> str:
    """SHA-256 of the arrays' shapes, dtypes and bytes (``None`` counts as absent)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none;")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- checkpoints


def logbook_path(checkpoint_path: str | os.PathLike) -> str:
    """The file next to a checkpoint that holds its logbook, one JSON record a line."""
    return os.path.splitext(os.fspath(checkpoint_path))[0] + ".logbook.jsonl"


def _append_logbook(path: str, records: list[dict[str, Any]], fresh: bool) -> None:
    """Append ``records`` to the logbook file and fsync (``fresh``: start it afresh).

    Only the records since the last checkpoint are written, so a checkpoint costs the same
    at generation 10 and at generation 10,000.
    """
    with open(path, "w" if fresh else "a", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


_META_FIELDS = ("generation", "best_so_far", "best_gen", "stall", "n_evaluations", "n_failed",
                "n_steps", "sample_passes", "elapsed")


def save_checkpoint(path: str, state: EngineState, *, n_saved: int, config: dict[str, Any],
                    fingerprint: str, entropy: int, problem_state: dict[str, Any]) -> None:
    """Write ``state`` atomically; its logbook goes to :func:`logbook_path` (appended).

    The ``.npz`` records how many logbook lines belong to it, so lines appended by a run
    killed before its next checkpoint are ignored on resume.
    """
    _append_logbook(logbook_path(path), state.logbook[n_saved:], n_saved == 0)
    meta = {"format": CHECKPOINT_FORMAT, "entropy": entropy, "config": config,
            "fingerprint": fingerprint, "n_logbook": len(state.logbook),
            "population_size": int(state.population.shape[0]),
            "n_genes": int(state.population.shape[1]), "problem": problem_state,
            **{k: getattr(state, k) for k in _META_FIELDS}}
    with atomic_open(path) as fh:
        np.savez(fh, population=state.population, errors=state.errors, rank=state.rank,
                 hof_genomes=state.hof_genomes, hof_errors=state.hof_errors,
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
    """Read a checkpoint written by :func:`run_evolution` (no pickle, bounded).

    The metadata is read first; every array's header must then match the population size,
    gene count and hall-of-fame size it records before the data is read. A damaged,
    truncated or foreign file raises ``ValueError`` naming it.
    """
    path = os.fspath(path)
    with NpzReader(path, "gabp checkpoint") as npz:
        try:
            meta = json.loads(npz.read_text("meta"))
            fmt = meta.get("format")
            if fmt != CHECKPOINT_FORMAT:
                raise npz.error(f"format {fmt!r}, expected {CHECKPOINT_FORMAT!r}")
            P, n = int(meta["population_size"]), int(meta["n_genes"])
            n_hof = int(meta["config"]["ga"]["hall_of_fame"])
            n_logbook = int(meta["n_logbook"])
        except ValueError as exc:
            if str(exc).startswith(path):
                raise
            raise npz.error(f"bad metadata ({exc})") from None
        except (TypeError, KeyError, AttributeError, IndexError) as exc:
            raise npz.error(f"bad metadata ({type(exc).__name__}: {exc})") from None
        for name in ("population",):
            meta[name] = npz.read(name, shape=(P, n))
        for name in ("errors", "rank"):
            meta[name] = npz.read(name, shape=(P,))
        meta["hof_genomes"] = npz.read("hof_genomes", shape=(None, n))
        meta["hof_errors"] = npz.read("hof_errors", shape=(meta["hof_genomes"].shape[0],))
        if meta["hof_genomes"].shape[0] > n_hof:
            raise npz.error("more hall-of-fame genomes than the hall holds")
    meta["logbook"] = _read_logbook(logbook_path(path), n_logbook)
    return meta


def _resume_state(path: str, config: dict[str, Any], fingerprint: str,
                  problem: Problem) -> EngineState:
    ck = load_checkpoint(path)
    if ck["fingerprint"] != fingerprint:
        raise ValueError(
            f"The checkpoint {path} was written for other data (fingerprint "
            f"{ck['fingerprint'][:12]}, these data {fingerprint[:12]}); resume with the "
            "data the run started with, or start a new run.")
    if ck["config"] != json.loads(json.dumps(config)):
        raise ValueError(
            f"The checkpoint {path} was written with other settings; resume with the same "
            "data, architecture, mode, GA/BP settings and seed.")
    problem.load_state_dict(ck["problem"])
    state = EngineState(ck["population"], ck["errors"], ck["rank"], ck["hof_genomes"],
                        ck["hof_errors"], logbook=ck["logbook"],
                        **{k: ck[k] for k in _META_FIELDS})
    # drop lines a killed run appended after its last checkpoint
    _append_logbook(logbook_path(path), state.logbook, fresh=True)
    logger.info("resuming from generation %d", state.generation)
    return state


# --------------------------------------------------------------------------------- driver


@dataclass
class Checkpointing:
    """Where and how often :func:`run_evolution` writes checkpoints."""

    path: str | None = None
    every: int = 1
    resume: bool = False


def _stop_reason(state: EngineState, ga: GAConfig, callbacks: Sequence[Callable[..., bool]],
                 cb_state: GAState, problem: Problem) -> str | None:
    if any(bool(cb(cb_state)) for cb in callbacks):
        return "callback"
    own = getattr(problem, "stop_reason", None)  # optional (see Problem)
    reason = own() if own is not None else None
    if reason is not None:
        return reason
    if ga.target_error is not None and state.best_so_far <= ga.target_error:
        return "target_error"
    if ga.stagnation is not None and state.stall >= ga.stagnation:
        return "stagnation"
    if ga.max_time is not None and state.elapsed >= ga.max_time:
        return "max_time"
    return None


def _step(state: EngineState, strategy: ElitistGA, problem: Problem, entropy: int,
          gen: int) -> tuple[int, int]:
    """One generation: ask, evaluate the changed genomes, tell.

    Returns the number of evaluations and of failures.
    """
    _, k_gen, k_py = problem.stream_keys
    random.seed(int_seed(entropy, k_py, gen))
    if gen == 0:
        P = state.population.shape[0]
        prop = Proposal(state.population, np.full(P, np.inf), np.ones(P, dtype=bool))
    else:
        prop = strategy.ask(state, stream(entropy, k_gen, gen))
    idx = np.flatnonzero(prop.changed)
    ev = problem.evaluate(prop.genomes[idx], gen)
    genomes, errors = prop.genomes.copy(), prop.errors.copy()
    genomes[idx], errors[idx] = ev.genomes, ev.errors
    state.generation = gen
    strategy.tell(state, genomes, errors)
    state.n_evaluations += len(idx)
    state.n_failed += int(np.sum(ev.failed))
    state.n_steps += int(ev.n_steps)
    state.sample_passes += float(ev.sample_passes)
    if gen == 0 and not np.isfinite(state.errors).any():
        raise RuntimeError(problem.all_failed_message)
    return len(idx), int(np.sum(ev.failed))


def _record(state: EngineState, problem: Problem, stats: tools.Statistics, nevals: int,
            nfailed: int) -> dict[str, Any]:
    best = state.best_error
    if best < state.best_so_far:  # only a genome scored this generation can improve it
        state.best_gen, state.stall = state.generation, 0
    else:
        state.stall += 1
    state.best_so_far = min(best, state.best_so_far)
    finite = state.errors[np.isfinite(state.errors)]
    rec = {"gen": state.generation, "nevals": nevals, "nfailed": nfailed,
           **stats.compile(finite), "best_so_far": state.best_so_far,
           "diversity": _diversity(state.population), "n_steps": state.n_steps,
           "sample_passes": state.sample_passes, "elapsed": state.elapsed}
    rec.update(problem.record(state.best_genome))
    state.logbook.append(rec)
    return rec


def run_evolution(problem: Problem, strategy: ElitistGA, ga: GAConfig, *, entropy: int,
                  config: dict[str, Any], fingerprint: str = "",
                  callbacks: Sequence[Callable[[GAState], bool]] = (), verbose: int = 0,
                  checkpoint: Checkpointing | None = None, desc: str = "GA"
                  ) -> tuple[EngineState, tools.Logbook, str]:
    """Run ``strategy`` on ``problem`` for ``ga.n_generations`` (or until a stop rule).

    Parameters
    ----------
    problem, strategy : Problem, ElitistGA or NSGA2
    ga : GAConfig
        Population size, generations, hall-of-fame size and stopping rules.
    entropy : int
        The run's seed.
    config : dict
        JSON-ready settings; a resume requires the checkpoint's to be equal.
    fingerprint : str
        Hash of the data (:func:`data_fingerprint`); a resume refuses other data.
    callbacks : sequence of callables
        ``cb(state: GAState) -> stop?`` after every generation.
    verbose : int
        1 a progress bar, 2 and more a log line per generation.
    checkpoint : Checkpointing, optional
    desc : str
        Label of the progress bar.

    Returns
    -------
    state : EngineState
    logbook : deap.tools.Logbook
        Columns :data:`LOGBOOK_COLUMNS` then ``problem.extra_columns``.
    stop_reason : str
        ``"n_generations"``, ``"callback"``, ``"target_error"``, ``"stagnation"``,
        ``"max_time"`` or the problem's own (``"holdout_patience"``).
    """
    ck = checkpoint or Checkpointing()
    if ck.resume:
        state = _resume_state(ck.path, config, fingerprint, problem)
    else:
        pop = problem.initial_population(ga.population_size,
                                         stream(entropy, problem.stream_keys[0]))
        P = pop.shape[0]
        state = EngineState(pop, np.full(P, np.inf), np.full(P, np.inf),
                            np.zeros((0, pop.shape[1])), np.zeros(0))
    n_saved = len(state.logbook)
    hof = _hall_of_fame(state, problem, ga.hall_of_fame)
    stats = _statistics()
    elapsed_before, t0 = state.elapsed, time.perf_counter()
    bar = tqdm(total=ga.n_generations + 1, initial=state.generation + 1,
               disable=verbose != 1, desc=desc, unit="gen")
    stop = "n_generations"
    logbook = _as_logbook(state.logbook, problem)
    try:
        for gen in range(state.generation + 1, ga.n_generations + 1):
            nevals, nfailed = _step(state, strategy, problem, entropy, gen)
            _hof_update(hof, state, problem)
            state.elapsed = elapsed_before + time.perf_counter() - t0
            logbook.record(**_record(state, problem, stats, nevals, nfailed))
            bar.update(1)
            bar.set_postfix(best=f"{state.best_so_far:.4g}")
            if verbose > 1:
                logger.info("generation %d: best %.6g, mean %.6g, %d evaluations, %d failed, "
                            "%.2f s", gen, state.best_so_far, logbook[-1]["error_mean"],
                            nevals, nfailed, state.elapsed)
            if ck.path is not None and (gen % ck.every == 0 or gen == ga.n_generations):
                save_checkpoint(ck.path, state, n_saved=n_saved, config=config,
                                fingerprint=fingerprint, entropy=entropy,
                                problem_state=problem.state_dict())
                n_saved = len(state.logbook)
            cb_state = GAState(gen, state.population, state.errors, state.best_genome.copy(),
                               state.best_error, logbook, state.elapsed)
            reason = _stop_reason(state, ga, callbacks, cb_state, problem)
            if reason is not None:
                stop = reason
                break
    finally:
        bar.close()
    return state, logbook, stop


def _as_logbook(records: list[dict[str, Any]], problem: Problem) -> tools.Logbook:
    lb = tools.Logbook()
    lb.header = list(LOGBOOK_COLUMNS) + list(problem.extra_columns)
    for r in records:
        lb.record(**r)
    return lb
