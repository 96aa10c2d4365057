"""Evolve the hyperparameters and architecture of BP networks with a genetic algorithm.

Each individual is a configuration (how to build and train a network) decoded from genes
in ``[0, 1]``; it is trained by the population-batched trainer and scored on held-out data::

    from gabp.search import EvolutionarySearch
    search = EvolutionarySearch("classification", population_size=12, n_generations=5,
                                fitness="error_rate", random_state=0).fit(X, y)
    search.best_params_, search.best_score_, search.best_estimator_.predict(X_new)
"""

from .estimator import (
    EvolutionarySearch,
    config_to_dict,
    estimator_params,
    search_records,
)
from .evaluate import SEARCH_FITNESS, Evaluator, train_group
from .ga import DEFAULT_GA, SearchResult, dominates, flat_params, run_search
from .space import (
    DEFAULTS,
    Categorical,
    Dimension,
    Integer,
    Real,
    SearchSpace,
    default_space,
)

__all__ = [
    "DEFAULTS",
    "DEFAULT_GA",
    "SEARCH_FITNESS",
    "Categorical",
    "Dimension",
    "Evaluator",
    "EvolutionarySearch",
    "Integer",
    "Real",
    "SearchResult",
    "SearchSpace",
    "config_to_dict",
    "default_space",
    "dominates",
    "estimator_params",
    "flat_params",
    "run_search",
    "search_records",
    "train_group",
]
