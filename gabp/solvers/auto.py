"""``optimizer="auto"``: which method to use for a given network and data size."""

from __future__ import annotations

from .._validation import check_choice, check_float, check_int, fail
from ..losses import LOSSES
from ..network import Architecture
from .memory import lm_bytes

#: LM is chosen only while one network has at most this many parameters ...
LM_MAX_PARAMS = 300
#: ... and the normal equations of the whole population use at most this share of the budget.
LM_BUDGET_SHARE = 0.5
#: L-BFGS (full batch) is chosen while ``n_samples * n_params`` is at most this; beyond it a
#: full-batch pass per step is too slow and mini-batch Adam wins.
LBFGS_MAX_WORK = 20e6


def resolve_optimizer(
    arch: Architecture,
    n_samples: int,
    loss: str,
    n_networks: int = 1,
    *,
    memory_budget: float = 256e6,
) -> str:
    """The method ``optimizer="auto"`` uses.

    Rule: "lm" for ``loss="mse"`` when a network has at most :data:`LM_MAX_PARAMS`
    parameters and the population's normal equations fit in half of ``memory_budget``;
    otherwise "lbfgs" while ``n_samples * n_params <= LBFGS_MAX_WORK``; otherwise "adam".

    Parameters
    ----------
    arch : Architecture
    n_samples : int
        Training samples.
    loss : str
    n_networks : int
        Population size trained together.
    memory_budget : float
        Bytes, as in :func:`gabp.train`.

    Returns
    -------
    str
        One of "lm", "lbfgs", "adam".
    """
    where = "resolve_optimizer"
    if not isinstance(arch, Architecture):
        fail("arch", where, "a gabp.Architecture", arch, exc=TypeError)
    n_samples = check_int(n_samples, "n_samples", where, low=1)
    check_choice(loss, LOSSES, "loss", where)
    n_networks = check_int(n_networks, "n_networks", where, low=1)
    memory_budget = check_float(memory_budget, "memory_budget", where, low=0.0, low_open=True)
    per_net, per_sample = lm_bytes(arch, n_samples)
    lm_memory = n_networks * (per_net + min(n_samples, 256) * per_sample)
    if (loss == "mse" and arch.n_params <= LM_MAX_PARAMS
            and lm_memory <= LM_BUDGET_SHARE * memory_budget):
        return "lm"
    if n_samples * arch.n_params <= LBFGS_MAX_WORK:
        return "lbfgs"
    return "adam"
