"""``optimizer="auto"``: which method to use for a given network and data size."""

from __future__ import annotations

import numpy as np

from .._validation import check_choice, check_float, check_int, fail
from ..losses import LOSSES
from ..network import Architecture
from .memory import DEFAULT_MEMORY_BUDGET, lbfgs_bytes, lm_bytes
from .options import SOLVER_DEFAULTS

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
    memory_budget: float = DEFAULT_MEMORY_BUDGET,
    alpha: float | np.ndarray = 0.0,
    has_validation: bool = False,
) -> str:
    """The method ``optimizer="auto"`` uses.

    Rule: ``"lm"`` for ``loss="mse"`` when ``n_samples * n_params² <= 1e9`` (one LM
    iteration costs at most ~40 ms per network) and the population's normal equations fit in
    half of ``memory_budget``, and ``"br"`` instead of it when there is no L2 term
    (``alpha == 0``) and validation data stops the training (``has_validation``); otherwise
    ``"lbfgs"`` while ``n_samples * n_params <= 1e6`` and the population's L-BFGS history
    fits ``memory_budget`` (:func:`.memory.plan_lbfgs`); otherwise ``"adam"``.

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
    bench/README.md; all these BR numbers predate the fix of its start below). Two
    classification sets are thin evidence for the L-BFGS/Adam boundary.

    Since BR starts from ``a = 0, beta = 1`` it no longer collapses on badly fitting starts,
    and it is chosen where it is allowed and validation data stops it: the estimators at
    their defaults (lamarckian GA-BP, 10 % validation, ``alpha=0`` unless given; median test
    metric of 3 seeds, ``bench/second_order.py --parts br``)::

        task                      br                lm                lm, alpha=1e-4
        Mackey-Glass 4-10-1 RMSE  .00261            .00260            .00386
        sunspots 12-8-1 ARV       .093 / .238       .163 / .369       .138 / .326

    A tie on Mackey-Glass, a clear win on sunspots. BR's time per fit was 0.6-4x LM's in these
    runs on a loaded machine (it also computes the eigenvalues of ``JᵀJ`` after every
    accepted step).

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
    alpha : float or ndarray of shape (n_networks,)
        L2 strength of the training; BR is only chosen without one.
    has_validation : bool
        Whether validation data stops the training (early stopping on ``X_val``).

    Returns
    -------
    str
        One of "lm", "br", "lbfgs", "adam".
    """
    where = "resolve_optimizer"
    if not isinstance(arch, Architecture):
        fail("arch", where, "a gabp.Architecture", arch, exc=TypeError)
    n_samples = check_int(n_samples, "n_samples", where, low=1)
    check_choice(loss, LOSSES, "loss", where)
    n_networks = check_int(n_networks, "n_networks", where, low=1)
    memory_budget = check_float(memory_budget, "memory_budget", where, low=0.0, low_open=True)
    if not isinstance(has_validation, (bool, np.bool_)):
        fail("has_validation", where, "a bool", has_validation, exc=TypeError)
    l2 = np.asarray(alpha, dtype=float)
    if not (np.all(np.isfinite(l2)) and np.all(l2 >= 0)):
        fail("alpha", where, "a non-negative finite number or array", alpha)
    per_net, per_sample = lm_bytes(arch, n_samples)
    lm_memory = n_networks * (per_net + min(n_samples, 256) * per_sample)
    q = arch.n_params
    if (loss == "mse" and arch.is_dense and n_samples * q * q <= LM_MAX_WORK
            and lm_memory <= LM_BUDGET_SHARE * memory_budget):  # LM/BR: dense networks only
        return "br" if has_validation and not np.any(l2) else "lm"
    history, evaluation = lbfgs_bytes(arch, n_samples, SOLVER_DEFAULTS["lbfgs"]["m"])
    if n_samples * q <= LBFGS_MAX_WORK and n_networks * history + evaluation <= memory_budget:
        return "lbfgs"
    return "adam"
