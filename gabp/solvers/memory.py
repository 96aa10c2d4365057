"""How much memory the full-batch solvers need, and how to split the work to fit a budget.

**LM / BR.** One iteration of one network holds ``JᵀJ`` (``n_params²`` float64) and, inside
the damping loop, the damped copy, its factor and the product temporaries: about five
``n_params²`` arrays (building ``JᵀJ`` needs fewer: at most ``JᵀJ``, the blocks' accumulator and one
product), plus the trial forward pass on all samples (pre-activations and activations of
every layer: ``2 * n * sum(layer sizes after the input)`` float64). ``JᵀJ`` is accumulated
over chunks of samples (:func:`gabp.solvers.jacobian.normal_equations`); a chunk costs per
sample about ``2 * n_out * n_params`` float64 with the ``"jacobian"`` method (the rows and
the backpropagated seeds), and the layers' inputs and sensitivities plus the largest
Kronecker block's rows with ``"blocks"``. :func:`plan_lm` chooses how many networks and
samples go into one chunk so that the total stays below the budget, and refuses (a
``ValueError`` naming the sizes) when even one network with a small chunk of samples does
not fit.

**L-BFGS** keeps, for every network at once, its ``m`` pairs of history vectors (``2 m
n_params`` float64) plus the iterate, gradient, direction and the line search's trial point
and gradient (``6 n_params``); a function-and-gradient evaluation on all samples adds the
activations and deltas of every layer (``3 n sum(layer sizes)``) and the two-loop
recursion its copy of the network's history (``(2 m + 4) n_params``). :func:`plan_lbfgs` refuses
(a ``ValueError``) a population whose history with one network's evaluation exceeds the
budget, and otherwise evaluates as many networks at a time as fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import fail
from ..network import Architecture
from .jacobian import normal_equations_method

#: ``memory_budget`` of :func:`gabp.train` (and of the "auto" rule) unless given: bytes the
#: Levenberg-Marquardt normal equations and Jacobian chunks, or the L-BFGS history and
#: evaluations, may use at once.
DEFAULT_MEMORY_BUDGET = 256e6
_BYTES = 8  # float64
_SQUARE_ARRAYS = 5  # JᵀJ, damped copy, Cholesky factor, matmul result, solve workspace
_MIN_SAMPLES = 16  # smallest sample chunk worth a Python-level iteration
_GOOD_SAMPLES = 256  # a chunk this large keeps the per-chunk overhead negligible


@dataclass(frozen=True)
class LMPlan:
    """Work split of one LM/BR iteration.

    Attributes
    ----------
    net_chunk : int
        Networks whose normal equations exist at the same time.
    sample_chunk : int
        Samples per Jacobian chunk.
    bytes_per_network : int
        Fixed memory of one network: its normal equations (``5 * n_params² * 8``) and one
        forward pass over all samples.
    bytes_per_sample : int
        Jacobian memory per sample per network.
    """

    net_chunk: int
    sample_chunk: int
    bytes_per_network: int
    bytes_per_sample: int

    @property
    def peak_bytes(self) -> int:
        """Estimated peak memory of one chunk."""
        return self.net_chunk * (self.bytes_per_network + self.sample_chunk * self.bytes_per_sample)


def lm_bytes(arch: Architecture, n_samples: int) -> tuple[int, int]:
    """``(bytes per network, bytes per sample per network)`` of an LM iteration."""
    n_p, k, sizes = arch.n_params, arch.n_outputs, arch.layer_sizes
    blocks = normal_equations_method(arch) == "blocks"
    per_net = (_SQUARE_ARRAYS * n_p * n_p + 2 * n_samples * sum(sizes[1:])) * _BYTES
    if blocks:  # inputs + sensitivities (and their temporaries), the largest block's rows
        L = arch.n_layers
        factors = sum(sizes[i] + 1 + k * sizes[i + 1] for i in range(L))
        pair = max((sizes[i] + 1) * (sizes[j] + 1) + 2 * sizes[i + 1] * sizes[j + 1]
                   for i in range(L) for j in range(i, L))
        per_sample = (2 * factors + pair) * _BYTES
    else:
        per_sample = (2 * k * n_p + 4 * k * max(sizes)) * _BYTES
    return per_net, per_sample


def plan_lm(
    arch: Architecture, n_samples: int, n_networks: int, memory_budget: float,
    *, optimizer: str = "lm", where: str = "train",
) -> LMPlan:
    """Split ``n_networks`` networks and ``n_samples`` samples into chunks that fit the budget.

    All networks and samples at once if they fit; else as many networks as fit with chunks of
    up to 256 samples; else one network at a time with the largest sample chunk that fits.

    Raises
    ------
    ValueError
        When one network with 16 samples per chunk needs more than ``memory_budget`` bytes.
    """
    per_net, per_sample = lm_bytes(arch, n_samples)
    n_min = min(n_samples, _MIN_SAMPLES)
    need = per_net + n_min * per_sample
    if need > memory_budget:
        n_p = arch.n_params
        fail(
            "memory_budget", where,
            f"at least {need:.3g} bytes for optimizer='{optimizer}' on this network "
            f"(n_params={n_p}: one network's JᵀJ alone is {n_p * n_p * _BYTES / 1e6:.3g} MB, "
            f"{per_net / 1e6:.3g} MB with the solve's workspace and a forward pass over the "
            f"{n_samples} samples)",
            memory_budget,
            hint="Use optimizer='lbfgs' or 'adam' for networks this large, or raise "
            "memory_budget.",
        )
    if n_networks * (per_net + n_samples * per_sample) <= memory_budget:
        return LMPlan(n_networks, n_samples, per_net, per_sample)
    n_good = min(n_samples, _GOOD_SAMPLES)
    net_chunk = int(min(n_networks, max(1, memory_budget // (per_net + n_good * per_sample))))
    rows = int((memory_budget / net_chunk - per_net) // per_sample)
    return LMPlan(net_chunk, max(n_min, min(n_samples, rows)), per_net, per_sample)


@dataclass(frozen=True)
class LBFGSPlan:
    """Work split of L-BFGS.

    Attributes
    ----------
    net_chunk : int
        Networks evaluated (direction, line search) at the same time.
    history_bytes : int
        The history and iterate arrays of all networks (kept for the whole run).
    bytes_per_network : int
        One network's function-and-gradient evaluation on all samples.
    """

    net_chunk: int
    history_bytes: int
    bytes_per_network: int

    @property
    def peak_bytes(self) -> int:
        """Estimated peak memory."""
        return self.history_bytes + self.net_chunk * self.bytes_per_network


def lbfgs_bytes(arch: Architecture, n_samples: int, m: int) -> tuple[int, int]:
    """``(history bytes per network, evaluation bytes per network)`` of L-BFGS."""
    history = (2 * m + 6) * arch.n_params * _BYTES
    evaluation = (3 * n_samples * sum(arch.layer_sizes) + (2 * m + 4) * arch.n_params) * _BYTES
    return history, evaluation


def plan_lbfgs(
    arch: Architecture, n_samples: int, n_networks: int, m: int, memory_budget: float,
    *, where: str = "train",
) -> LBFGSPlan:
    """How many networks L-BFGS evaluates at a time within ``memory_budget``.

    Raises
    ------
    ValueError
        When the history of ``n_networks`` networks and one network's evaluation need more
        than ``memory_budget`` bytes.
    """
    history, evaluation = lbfgs_bytes(arch, n_samples, m)
    need = n_networks * history + evaluation
    if need > memory_budget:
        fail(
            "memory_budget", where,
            f"at least {need:.3g} bytes for optimizer='lbfgs' on {n_networks} networks of "
            f"n_params={arch.n_params} (the m={m} history pairs of every network, "
            f"{n_networks * history / 1e6:.3g} MB, and one evaluation on the {n_samples} "
            f"samples, {evaluation / 1e6:.3g} MB)",
            memory_budget,
            hint="Train fewer networks at once, lower solver_options['m'], use "
            "optimizer='adam', or raise memory_budget.",
        )
    fit = int((memory_budget - n_networks * history) // evaluation)
    return LBFGSPlan(max(1, min(n_networks, fit)), n_networks * history, evaluation)
