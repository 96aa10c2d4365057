"""Full-batch second-order solvers behind :func:`gabp.train`.

- :mod:`.levenberg`: Levenberg-Marquardt (``"lm"``) and Bayesian regularization (``"br"``),
  MATLAB's trainlm / trainbr batched over the population.
- :mod:`.lbfgs`: L-BFGS with a per-network backtracking line search (``"lbfgs"``).
- :mod:`.jacobian`: per-sample Jacobians of the errors by backpropagation, and LM's normal
  equations (from the Jacobian, or from per-layer blocks for multi-output networks).
- :mod:`.memory`: the memory estimates and chunking of LM/BR and L-BFGS.
- :mod:`.auto`: :func:`resolve_optimizer`, what ``optimizer="auto"`` picks.
"""

from .auto import resolve_optimizer
from .jacobian import error_jacobian, normal_equations, normal_equations_method
from .memory import LBFGSPlan, LMPlan, plan_lbfgs, plan_lm
from .options import FIRST_ORDER, OPTIMIZERS, SECOND_ORDER, SOLVER_DEFAULTS, solver_settings

__all__ = [
    "FIRST_ORDER",
    "OPTIMIZERS",
    "SECOND_ORDER",
    "SOLVER_DEFAULTS",
    "LBFGSPlan",
    "LMPlan",
    "error_jacobian",
    "normal_equations",
    "normal_equations_method",
    "plan_lbfgs",
    "plan_lm",
    "resolve_optimizer",
    "solver_settings",
]
