"""gabp: genetic-algorithm-optimized backpropagation networks.

- :class:`Network` / :func:`train`: a NumPy BP trainer that trains a whole population of
  same-shaped networks at once (parameters in one ``(P, n_params)`` array), with mini-batch
  optimizers and full-batch solvers (Levenberg-Marquardt, Bayesian regularization, L-BFGS).
- :func:`check_gradients` / :func:`check_jacobian`: finite-difference checks of the backward
  pass.
- :func:`evolve`: a DEAP genetic algorithm over those same arrays (classic, Baldwinian,
  Lamarckian GA-BP) with a plain-BP baseline at an equal gradient-step budget.
- :class:`GABPRegressor` / :class:`GABPClassifier`: scikit-learn-style estimators.
- :class:`GABPForecaster`: series forecasting (lags, differencing, intervals, backtests;
  a ridge on the lags plus the GA-BP network on its residuals by default).
- :class:`EvolutionarySearch`: evolve hyperparameters and architecture.
- :func:`run_experiment`: a config -> a run folder with metrics, model and figures.

Plotting lives in :mod:`gabp.plotting`; importing ``gabp`` never imports matplotlib.
"""

from .estimators import GABPClassifier, GABPRegressor
from .evolution import BPConfig, EvolutionResult, GAConfig, evolve
from .experiment import resume_experiment, run_experiment
from .forecasting import GABPForecaster
from .gradcheck import check_gradients, check_jacobian
from .model import Model
from .network import Architecture, Network, init_params, load_network, save_network
from .runs import load_run
from .search import EvolutionarySearch, SearchSpace, default_space
from .trainer import History, resolve_optimizer, train

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "BPConfig",
    "EvolutionResult",
    "EvolutionarySearch",
    "GABPClassifier",
    "GABPForecaster",
    "GABPRegressor",
    "GAConfig",
    "History",
    "Model",
    "Network",
    "SearchSpace",
    "__version__",
    "check_gradients",
    "check_jacobian",
    "default_space",
    "evolve",
    "init_params",
    "load_network",
    "load_run",
    "resolve_optimizer",
    "resume_experiment",
    "run_experiment",
    "save_network",
    "train",
]
