"""Genetic algorithms around backpropagation: operators, configs, and the GA-BP driver."""

from .config import GAConfig
from .ga import (
    BaselineResult,
    EvolutionResult,
    GAState,
    evolve,
    load_checkpoint,
    make_toolbox,
)
from .problem import FITNESS_METRICS, MODES, BPConfig, fitness_errors, score_genomes

__all__ = [
    "BPConfig",
    "BaselineResult",
    "EvolutionResult",
    "FITNESS_METRICS",
    "GAConfig",
    "GAState",
    "MODES",
    "evolve",
    "fitness_errors",
    "load_checkpoint",
    "make_toolbox",
    "score_genomes",
]
