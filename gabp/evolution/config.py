"""Settings of the genetic algorithm, with the classic MATLAB GA-BP preset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from .._validation import check_choice, check_float, check_int, fail
from ..network import INITIALIZERS
from .operators import CROSSOVERS, MUTATIONS, NEED_BOUNDS, SELECTIONS


@dataclass(frozen=True)
class GAConfig:
    """How the population evolves.

    Parameters
    ----------
    population_size, n_generations : int
    selection : {"tournament", "rank", "sus"}
        Tournament (``tournsize``), roulette on linear ranks (``rank_pressure``), or
        stochastic universal sampling on linear ranks.
    crossover : {"blend", "sbx", "arithmetic", "uniform"}
    crossover_prob : float
        Probability that a pair of parents is crossed.
    mutation : {"gaussian", "polynomial", "nonuniform"}
        ``polynomial`` and ``nonuniform`` need ``bounds``.
    mutation_prob : float
        Probability that a gene mutates.
    mutation_sigma : float
        Standard deviation of gaussian mutation.
    n_elite : int
        Best individuals copied unchanged into the next generation (a generation gap of
        ``1 - n_elite / population_size``).
    bounds : (float, float) or None
        Gene bounds; genomes are clipped into them.
    init, init_range : str, float
        Initializer of the first population (see :func:`gabp.init_params`).
    stagnation : int or None
        Stop after this many generations without improvement of the best error.
    target_error : float or None
        Stop once the best error is at or below this.
    max_time : float or None
        Wall-clock budget of the evolution in seconds.
    hall_of_fame : int
        Number of best distinct genomes kept.
    lamarck_prob : float
        Lamarckian mode: probability that an individual's trained weights are written back.
    holdout_fraction : float
        Fraction of the fitness (validation) rows, the last ones, held out of the fitness.
        After every generation the best genome is scored on them, and the model delivered
        starts from the best genome *on the holdout* instead of the best on the fitness: a
        long run whose selection overfits the fitness rows keeps the generation that
        generalized best (its curve is the logbook's ``holdout_error``). 0 (default): off.
        Needs validation data and mode ``"lamarckian"`` or ``"classic"``, where a genome is
        what was scored.
    holdout_patience : int or None
        With a holdout: stop after this many generations without a new best on it.
    """

    population_size: int = 40
    n_generations: int = 50
    selection: str = "tournament"
    tournsize: int = 3
    rank_pressure: float = 2.0
    crossover: str = "blend"
    crossover_prob: float = 0.7
    blend_alpha: float = 0.5
    eta: float = 15.0
    mutation: str = "gaussian"
    mutation_prob: float = 0.05
    mutation_sigma: float = 0.1
    n_elite: int = 2
    bounds: tuple[float, float] | None = None
    init: str = "glorot_uniform"
    init_range: float = 0.5
    stagnation: int | None = None
    target_error: float | None = None
    max_time: float | None = None
    hall_of_fame: int = 5
    lamarck_prob: float = 1.0
    holdout_fraction: float = 0.0
    holdout_patience: int | None = None

    @classmethod
    def classic(cls, **overrides: Any) -> GAConfig:
        """The classic MATLAB GA-BP recipe: population 40, 50 generations, rank selection,
        crossover 0.7, mutation 0.01, generation gap 0.95 (2 elites), weights in
        ``[-0.5, 0.5]`` (uniform initialization in the same range)."""
        base = cls(
            population_size=40,
            n_generations=50,
            selection="rank",
            crossover="arithmetic",
            crossover_prob=0.7,
            mutation="nonuniform",
            mutation_prob=0.01,
            n_elite=2,
            bounds=(-0.5, 0.5),
            init="uniform",
            init_range=0.5,
        )
        return replace(base, **overrides)

    @classmethod
    def from_generation_gap(cls, gap: float, **kwargs: Any) -> GAConfig:
        """Config whose elite count is ``round(population_size * (1 - gap))``."""
        gap = check_float(gap, "generation_gap", "GAConfig", low=0.0, high=1.0, low_open=True)
        pop = kwargs.get("population_size", cls.population_size)
        return cls(n_elite=int(round(pop * (1.0 - gap))), **kwargs)

    def validate(self, where: str = "GAConfig") -> GAConfig:
        """Raise ``ValueError``/``TypeError`` naming the first bad field."""
        pop = check_int(self.population_size, "population_size", where, low=2)
        check_int(self.n_generations, "n_generations", where, low=0)
        check_choice(self.selection, SELECTIONS, "selection", where)
        check_int(self.tournsize, "tournsize", where, low=1)
        check_float(self.rank_pressure, "rank_pressure", where, low=1.0, high=2.0)
        check_choice(self.crossover, CROSSOVERS, "crossover", where)
        check_float(self.crossover_prob, "crossover_prob", where, low=0.0, high=1.0)
        check_float(self.blend_alpha, "blend_alpha", where, low=0.0)
        check_float(self.eta, "eta", where, low=0.0, low_open=True)
        check_choice(self.mutation, MUTATIONS, "mutation", where)
        check_float(self.mutation_prob, "mutation_prob", where, low=0.0, high=1.0)
        check_float(self.mutation_sigma, "mutation_sigma", where, low=0.0)
        check_int(self.n_elite, "n_elite", where, low=0, high=pop - 1)
        if self.bounds is not None:
            if len(self.bounds) != 2 or not float(self.bounds[0]) < float(self.bounds[1]):
                fail("bounds", where, "None or a pair (low, high) with low < high", self.bounds)
        elif self.mutation in NEED_BOUNDS:
            fail("bounds", where, f"set when mutation is '{self.mutation}'", self.bounds,
                 hint="Give bounds=(low, high) or use mutation='gaussian'.")
        check_choice(self.init, INITIALIZERS, "init", where)
        check_float(self.init_range, "init_range", where, low=0.0, low_open=True)
        if self.stagnation is not None:
            check_int(self.stagnation, "stagnation", where, low=1)
        if self.target_error is not None:
            check_float(self.target_error, "target_error", where)
        if self.max_time is not None:
            check_float(self.max_time, "max_time", where, low=0.0, low_open=True)
        check_int(self.hall_of_fame, "hall_of_fame", where, low=1)
        check_float(self.lamarck_prob, "lamarck_prob", where, low=0.0, high=1.0)
        check_float(self.holdout_fraction, "holdout_fraction", where, low=0.0, high=0.9)
        if self.holdout_patience is not None:
            check_int(self.holdout_patience, "holdout_patience", where, low=1)
            if not self.holdout_fraction:
                fail("holdout_patience", where, "None unless holdout_fraction > 0 (it counts "
                     "generations without a new best on the holdout)", self.holdout_patience)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-able fields."""
        d = asdict(self)
        d["bounds"] = None if self.bounds is None else [float(b) for b in self.bounds]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GAConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        if d.get("bounds") is not None:
            d["bounds"] = tuple(d["bounds"])
        return cls(**d)
