"""Names of the training methods and the settings each accepts through ``solver_options``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._validation import check_float, check_int, fail

#: Mini-batch gradient methods (:mod:`gabp.optimizers`).
FIRST_ORDER = ("sgd", "momentum", "nesterov", "adam")
#: Full-batch solvers: Levenberg-Marquardt, Bayesian regularization, L-BFGS.
SECOND_ORDER = ("lm", "br", "lbfgs")
#: Every name :func:`gabp.train` accepts as ``optimizer`` (``"auto"`` picks one of the others).
OPTIMIZERS = FIRST_ORDER + SECOND_ORDER + ("auto",)

_LM = {"mu": 1e-3, "mu_dec": 0.1, "mu_inc": 10.0, "mu_max": 1e10, "goal": 0.0, "min_grad": 1e-7}

#: Defaults of ``solver_options`` per method. LM/BR: MATLAB trainlm/trainbr's ``mu``
#: (1e-3 / 5e-3), ``mu_dec``, ``mu_inc``, ``mu_max``, ``goal`` and ``min_grad``. L-BFGS:
#: history size ``m``, ``gtol`` (stop when the largest gradient entry is below it), ``ftol``
#: (stop when the relative decrease of the objective is below it; scipy's L-BFGS-B default
#: ``factr * eps``), ``max_ls`` (line-search trials per iteration) and ``c1`` (Armijo
#: constant). Adam: its moment constants.
SOLVER_DEFAULTS: dict[str, dict[str, float]] = {
    "sgd": {},
    "momentum": {},
    "nesterov": {},
    "adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "lm": dict(_LM),
    "br": {**_LM, "mu": 5e-3},  # trainbr's initial mu is 0.005
    "lbfgs": {"m": 10, "gtol": 1e-5, "ftol": 2.220446049250313e-09, "max_ls": 20, "c1": 1e-4},
}

# (low, low_open, high, high_open) of each setting; "m" and "max_ls" are integers
_BOUNDS: dict[str, tuple[float | None, bool, float | None, bool]] = {
    "mu": (0.0, True, None, False),
    "mu_dec": (0.0, True, 1.0, True),
    "mu_inc": (1.0, True, None, False),
    "mu_max": (0.0, True, None, False),
    "goal": (0.0, False, None, False),
    "min_grad": (0.0, False, None, False),
    "gtol": (0.0, False, None, False),
    "ftol": (0.0, False, None, False),
    "c1": (0.0, True, 1.0, True),
    "beta1": (0.0, False, 1.0, True),
    "beta2": (0.0, False, 1.0, True),
    "epsilon": (0.0, True, None, False),
}
_INTEGERS = ("m", "max_ls")


def solver_settings(
    optimizer: str, options: Mapping[str, Any] | None, where: str = "train"
) -> dict[str, float]:
    """Defaults of ``optimizer`` updated with ``options``, each checked.

    Raises
    ------
    ValueError
        For a key the method does not know (the message lists the known ones) or a value out
        of range; ``TypeError`` for a value of the wrong type.
    """
    out = dict(SOLVER_DEFAULTS[optimizer])
    if options is None:
        return out
    if not isinstance(options, Mapping):
        fail("solver_options", where, "a mapping of setting names to values", options,
             exc=TypeError)
    for key, value in options.items():
        if key not in out:
            known = ", ".join(repr(k) for k in out) or "none"
            fail("solver_options", where, f"a mapping with keys known to optimizer="
                 f"'{optimizer}' ({known})", key)
        name = f"solver_options[{key!r}]"
        if key in _INTEGERS:
            out[key] = check_int(value, name, where, low=1)
        else:
            lo, lo_open, hi, hi_open = _BOUNDS[key]
            out[key] = check_float(value, name, where, low=lo, low_open=lo_open, high=hi,
                                   high_open=hi_open)
    if optimizer in ("lm", "br") and out["mu"] > out["mu_max"]:
        fail("solver_options", where, "such that mu <= mu_max", dict(options))
    return out
