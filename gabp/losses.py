"""Loss functions over a population of networks, keyed by name.

Each loss takes the output layer's pre-activation ``z`` and activation ``a`` (both of shape
``(P, n, n_out)``) and the targets ``Y`` (``(n, n_out)``, shared by the population) and
returns the per-network loss of shape ``(P,)`` and ``dL/dz`` of shape ``(P, n, n_out)``.
``"cross_entropy"`` also takes the forward pass's ``lse = log sum exp(z)`` (shape ``(P, n)``)
and an ``out`` buffer for ``dL/dz``, which the network's training loop passes.

- ``"mse"``: ``mean((a - Y) ** 2)`` over samples and outputs; any output activation.
- ``"cross_entropy"``: ``-mean_i sum_k Y_ik log softmax(z)_ik``; needs a softmax output.
  Computed with log-softmax, so it never takes ``log(0)``.
- ``"binary_cross_entropy"``: ``mean_i sum_k [max(z,0) - z Y + log(1 + exp(-|z|))]``, the
  logistic loss written on logits; needs a sigmoid output.

The L2 penalty is added by the network (it concerns weights, not outputs).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .activations import ACTIVATIONS, log_softmax

LossFn = Callable[[np.ndarray, np.ndarray, np.ndarray, str], tuple[np.ndarray, np.ndarray]]


def _mse(z: np.ndarray, a: np.ndarray, Y: np.ndarray, out_act: str):
    diff = a - Y
    n_el = diff.shape[-2] * diff.shape[-1]
    loss = np.einsum("pij,pij->p", diff, diff) / n_el
    g = diff
    g *= 2.0 / n_el  # dL/da, in place
    if out_act == "softmax":  # Jacobian-vector product of softmax
        delta = a * (g - np.sum(g * a, axis=-1, keepdims=True))
    elif out_act == "identity":
        delta = g
    else:
        delta = ACTIVATIONS[out_act].mul_derivative(g, a)
    return loss, delta


def _cross_entropy(z: np.ndarray, a: np.ndarray, Y: np.ndarray, out_act: str,
                   lse: np.ndarray | None = None, out: np.ndarray | None = None):
    # log softmax(z)_k = z_k - lse with lse = log sum_j exp(z_j). The softmax ``a`` was
    # computed as exp(z - max z) / S, whose largest entry is exactly 1 / S, so
    # lse = max z - log(max a) reuses the forward pass's exp instead of recomputing it, and
    # max a >= 1 / n_out keeps the log finite (rows of a diverged network are NaN, quietly).
    # The network's forward pass knows ``max z + log S`` already and passes it as ``lse``.
    n = z.shape[-2]
    if out_act == "softmax":
        if lse is None:
            lse = z.max(axis=-1)
            lse -= np.log(a.max(axis=-1))
        # loss_p = (sum_i lse_pi * sum_k Y_ik - sum_ik z_pik Y_ik) / n, each network's sums
        # in an order that does not depend on how many networks are in the batch (a BLAS
        # matrix-vector product rounds rows differently by their position in blocks of
        # rows, so scoring a population in chunks, as n_jobs > 1 does, changed the result)
        zy = np.einsum("pik,ik->p", z, Y)
        loss = (np.einsum("pi,i->p", lse, Y.sum(axis=-1)) - zy) / n
    else:  # pragma: no cover - check_loss requires a softmax output
        loss = -np.einsum("pij,ij->p", log_softmax(z), Y) / n
    delta = np.subtract(a, Y, out=out)
    delta *= 1.0 / n
    return loss, delta


def _binary_cross_entropy(z: np.ndarray, a: np.ndarray, Y: np.ndarray, out_act: str):
    n = z.shape[-2]
    per = np.maximum(z, 0.0) - z * Y + np.log1p(np.exp(-np.abs(z)))
    return per.sum(axis=(-2, -1)) / n, (a - Y) / n


LOSSES: dict[str, LossFn] = {
    "mse": _mse,
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
}

#: The output activation a loss requires (``None``: any output activation).
LOSS_OUTPUT: dict[str, str | None] = {
    "mse": None,
    "cross_entropy": "softmax",
    "binary_cross_entropy": "sigmoid",
}
