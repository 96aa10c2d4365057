"""``optimizer="auto"``: which method to use for a given network and data size."""

from __future__ import annotations

from .._validation import check_choice, check_float, check_int, fail
from ..losses import LOSSES
from ..network import Architecture
from .memory import lm_bytes

#: LM is chosen while one iteration's ``JᵀJ`` costs at most this many multiply-adds per
#: network (``n_samples * n_params²``; about 40 ms at the ~25 GFLOP/s measured here) ...
LM_MAX_WORK = 1e9
#: ... and the normal equations of the whole population use at most this share of the budget.
LM_BUDGET_SHARE = 0.5
#: L-BFGS (full batch) is chosen while ``n_samples * n_params`` is at most this; beyond it
#: mini-batch Adam won in the benchmark.
LBFGS_MAX_WORK = 1e6


def resolve_optimizer(
    arch: Architecture,
    n_samples: int,
    loss: str,
    n_networks: int = 1,
    *,
    memory_budget: float = 256e6,
) -> str:
    """The method ``optimizer="auto"`` uses.

    Rule: ``"lm"`` for ``loss="mse"`` when ``n_samples * n_params² <= 1e9`` (one LM
    iteration costs at most ~40 ms per network) and the population's normal equations fit in
    half of ``memory_budget``; otherwise ``"lbfgs"`` while ``n_samples * n_params <= 1e6``;
    otherwise ``"adam"``.

    Derived from ``bench/second_order.py`` (part "auto": 8 networks per task, validation data
    for early stopping and restoring, tanh hidden units; median test metric, seconds per
    network, 2 cores)::

        task (n_params, n * q)        lm            br            lbfgs         adam
        Mackey-Glass 4-10-1 (61, 2.7e4)  RMSE .00563  .0106         .0229         .0714
        sunspots 12-8-1 (113, 2.4e4)     RMSE .189    .173          .204          .183
        breast cancer 30-10-1 (321, 1.2e5)
                                  acc .978 0.07s  .974 0.25s    .982 0.01s    .978 0.05s
        digits 64-32-10 (2410, 2.8e6)
                                  acc .944 29s*   .965 69s*     .939 0.02s    .967 0.15s

    (* 2 networks, 20 iterations: one LM iteration of a 2,410-parameter network takes about
    1.5 s.) Without early stopping, 300 LM iterations of 40 Mackey-Glass networks reach a
    median test RMSE of 0.0034 (br 0.0034, 2,000 L-BFGS iterations 0.0064, 2,000 full-batch
    Adam epochs at the best of three learning rates 0.018). So: LM (or BR) wherever the
    sum of squares is the loss and the Jacobian work is small; L-BFGS for the small
    classification set (best and fastest on breast cancer); Adam for the larger one (digits).
    BR is mixed (better than LM on the sunspots RMSE, worse on Mackey-Glass with validation
    stopping, sensitive to its initial ``mu``; without validation data it did worse on
    sunspots than validation-stopped LM, ARV 0.16 / 0.49 against 0.13 / 0.32,
    bench/README.md) and needs ``alpha=0``, so "auto" picks LM, which works with any
    ``alpha``. Two classification sets are thin evidence for the L-BFGS/Adam boundary.

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
    q = arch.n_params
    if (loss == "mse" and n_samples * q * q <= LM_MAX_WORK
            and lm_memory <= LM_BUDGET_SHARE * memory_budget):
        return "lm"
    if n_samples * q <= LBFGS_MAX_WORK:
        return "lbfgs"
    return "adam"
