"""How much memory Levenberg-Marquardt needs, and how to split the work to fit a budget.

One LM iteration of one network holds ``JᵀJ`` (``n_params²`` float64) and, inside the damping
loop, the damped copy, its factor and the product temporaries: about five ``n_params²``
arrays, plus the trial forward pass on all samples (pre-activations and activations of every
layer: ``2 * n * sum(layer sizes after the input)`` float64). The Jacobian itself is
accumulated over chunks of samples, each chunk costing about ``2 * n_out * n_params`` float64
per sample (the rows and the backpropagated seeds).
:func:`plan_lm` chooses how many networks and samples go into one chunk so that the total stays
below the budget, and refuses (a ``ValueError`` naming the sizes) when even one network with a
small chunk of samples does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import fail
from ..network import Architecture

#: ``memory_budget`` of :func:`gabp.train` (and of the "auto" rule) unless given: bytes the
#: Levenberg-Marquardt normal equations and Jacobian chunks may use at once.
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
    n_p, k = arch.n_params, arch.n_outputs
    per_net = (_SQUARE_ARRAYS * n_p * n_p + 2 * n_samples * sum(arch.layer_sizes[1:])) * _BYTES
    per_sample = (2 * k * n_p + 4 * k * max(arch.layer_sizes)) * _BYTES
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
