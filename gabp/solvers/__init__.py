"""Full-batch second-order solvers behind :func:`gabp.train`.

- :mod:`.levenberg`: Levenberg-Marquardt (``"lm"``) and Bayesian regularization (``"br"``),
  MATLAB's trainlm / trainbr batched over the population.
- :mod:`.lbfgs`: L-BFGS with a per-network backtracking line search (``"lbfgs"``).
- :mod:`.jacobian`: per-sample Jacobians of the errors by backpropagation.
- :mod:`.memory`: the memory estimate and chunking of LM/BR.
- :mod:`.auto`: :func:`resolve_optimizer`, what ``optimizer="auto"`` picks.
"""

from .auto import resolve_optimizer
from .jacobian import error_jacobian, normal_equations
from .memory import LMPlan, plan_lm
from .options import FIRST_ORDER, OPTIMIZERS, SECOND_ORDER, SOLVER_DEFAULTS, solver_settings

__all__ = [
    "FIRST_ORDER",
    "OPTIMIZERS",
    "SECOND_ORDER",
    "SOLVER_DEFAULTS",
    "LMPlan",
    "error_jacobian",
    "normal_equations",
    "plan_lm",
    "resolve_optimizer",
    "solver_settings",
]
