"""What every solver shares with the training loop: the per-network progress record."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..network import Architecture, evaluate_loss

logger = logging.getLogger("gabp.trainer")


@dataclass
class Progress:
    """Per-network state of one :func:`gabp.train` call, updated by the solvers and the loop.

    Attributes
    ----------
    active : ndarray of shape (P,), bool
        Networks still training (not frozen).
    diverged : ndarray of shape (P,), bool
    reasons : list of str
        Why each network stopped (``""`` while it trains).
    passes : ndarray of shape (P,), float
        Training cost so far, in sample-passes (see :class:`gabp.trainer.History`).
    n_steps : ndarray of shape (P,), int
        Parameter updates so far (mini-batch steps, or accepted solver iterations).
    """

    active: np.ndarray
    diverged: np.ndarray
    reasons: list[str]
    passes: np.ndarray
    n_steps: np.ndarray

    @classmethod
    def start(cls, P: int) -> Progress:
        """Every network active, nothing spent."""
        return cls(np.ones(P, dtype=bool), np.zeros(P, dtype=bool), [""] * P, np.zeros(P),
                   np.zeros(P, dtype=np.int64))

    def stop(self, mask: np.ndarray, reason: str) -> None:
        """Freeze the active networks in ``mask`` and record ``reason`` for them."""
        newly = mask & self.active
        for p in np.flatnonzero(newly):
            self.reasons[p] = reason
        self.active &= ~newly

    def diverge(self, mask: np.ndarray, epoch: int) -> None:
        """Mark the networks in ``mask`` as diverged (frozen, ``+inf`` loss)."""
        newly = mask & ~self.diverged
        if newly.any():
            logger.debug("networks %s diverged at epoch %d", np.flatnonzero(newly), epoch)
            for p in np.flatnonzero(newly):
                self.reasons[p] = "diverged"
        self.diverged |= mask
        self.active &= ~mask


def training_objective(
    arch: Architecture,
    params: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    loss: str = "mse",
    alpha: float | np.ndarray = 0.0,
) -> np.ndarray:
    """The objective :func:`train` minimises, ``loss + alpha / 2 * sum(W ** 2)``: shape ``(P,)``.

    One forward pass on all of ``(X, Y)``; ``inf`` where it is not finite.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        value = evaluate_loss(arch, params, X, Y, loss=loss)
        if np.any(alpha):
            mask = arch.weight_mask()
            value = value + 0.5 * np.asarray(alpha) * np.einsum(
                "pi,pi,i->p", params, params, mask.astype(params.dtype))
    return np.where(np.isfinite(value), value, np.inf)
